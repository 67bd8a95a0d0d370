//! Public keys, from a certificate or derived from a private key, in one comparable form.
//!
//! The key-match check and the "can keyd use this key" check both need the algorithm, the
//! curve or size, and the public value. Private keys are parsed here with a small DER walk
//! (not a crypto library) so that keys IoT Edge would reject, like RSA-1024 or P-384, are
//! still understood and reported instead of failing to load.

use serde::Serialize;
use x509_parser::der_parser::ber::BerObjectContent;
use x509_parser::der_parser::der::{DerObject, parse_der};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

/// A public key reduced to what identifies it: equal values mean the same key pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKeyId {
    /// Modulus and exponent without leading zero bytes.
    Rsa { modulus: Vec<u8>, exponent: Vec<u8> },
    /// Curve OID and the encoded point.
    Ec { curve_oid: String, point: Vec<u8> },
    /// Any other algorithm (Ed25519, DSA...): the algorithm OID and the raw key bits.
    Other { algorithm_oid: String, key: Vec<u8> },
}

/// What a key is, for people and for the keyd checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyDescription {
    /// `EC`, `RSA`, or the algorithm OID.
    pub algorithm: String,
    /// Modulus size for RSA, field size for EC; 0 when unknown.
    pub bits: usize,
    /// `P-256`, `P-384`, `P-521`, or the curve OID (EC only).
    pub curve: Option<String>,
}

impl std::fmt::Display for KeyDescription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.curve {
            Some(curve) => write!(f, "{} {curve}", self.algorithm),
            None => write!(f, "{} {}", self.algorithm, self.bits),
        }
    }
}

/// A private key as far as edgeprep needs it: its public half. The secret is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateKey {
    pub public: PublicKeyId,
}

impl PublicKeyId {
    /// The key in a certificate's SubjectPublicKeyInfo.
    pub fn from_spki(spki: &SubjectPublicKeyInfo<'_>) -> Self {
        let algorithm_oid = spki.algorithm.algorithm.to_id_string();
        match spki.parsed() {
            Ok(PublicKey::RSA(rsa)) => {
                PublicKeyId::Rsa { modulus: strip_zeros(rsa.modulus), exponent: strip_zeros(rsa.exponent) }
            }
            Ok(PublicKey::EC(point)) => PublicKeyId::Ec {
                curve_oid: spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|oid| oid.to_id_string())
                    .unwrap_or_default(),
                point: point.data().to_vec(),
            },
            _ => PublicKeyId::Other { algorithm_oid, key: spki.subject_public_key.data.to_vec() },
        }
    }

    pub fn describe(&self) -> KeyDescription {
        match self {
            PublicKeyId::Rsa { modulus, .. } => {
                KeyDescription { algorithm: "RSA".to_string(), bits: bit_length(modulus), curve: None }
            }
            PublicKeyId::Ec { curve_oid, point } => {
                let (name, bits) = match curve_oid.as_str() {
                    OID_P256 => ("P-256".to_string(), 256),
                    OID_P384 => ("P-384".to_string(), 384),
                    OID_P521 => ("P-521".to_string(), 521),
                    other => (other.to_string(), point.len().saturating_sub(1) / 2 * 8),
                };
                KeyDescription { algorithm: "EC".to_string(), bits, curve: Some(name) }
            }
            PublicKeyId::Other { algorithm_oid, key } => {
                KeyDescription { algorithm: algorithm_name(algorithm_oid), bits: key.len() * 8, curve: None }
            }
        }
    }

    /// Why keyd cannot use this key, if it cannot: its OpenSSL engine only knows P-256 for EC,
    /// and `iotedge check` flags RSA below 2048 bits.
    pub fn keyd_problem(&self) -> Option<String> {
        match self {
            PublicKeyId::Ec { curve_oid, .. } if curve_oid != OID_P256 => Some(format!(
                "the key is EC {}; IoT Edge's key service only supports the P-256 curve",
                self.describe().curve.unwrap_or_default()
            )),
            PublicKeyId::Rsa { modulus, .. } if bit_length(modulus) < 2048 => {
                Some(format!("the key is RSA {} bits; IoT Edge needs at least 2048", bit_length(modulus)))
            }
            PublicKeyId::Other { algorithm_oid, .. } => Some(format!(
                "the key algorithm {} is not supported by IoT Edge (use EC P-256 or RSA 2048+)",
                algorithm_name(algorithm_oid)
            )),
            _ => None,
        }
    }
}

fn algorithm_name(oid: &str) -> String {
    match oid {
        "1.3.101.112" => "Ed25519".to_string(),
        "1.3.101.113" => "Ed448".to_string(),
        "1.2.840.10040.4.1" => "DSA".to_string(),
        other => other.to_string(),
    }
}

fn strip_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

fn bit_length(unsigned: &[u8]) -> usize {
    let trimmed = strip_zeros(unsigned);
    match trimmed.first() {
        Some(first) => trimmed.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

type ParseResult<T> = Result<T, String>;

fn parse_one(der: &[u8]) -> ParseResult<DerObject<'_>> {
    parse_der(der).map(|(_, obj)| obj).map_err(|e| format!("invalid DER: {e}"))
}

fn sequence<'a, 'b>(obj: &'b DerObject<'a>, what: &str) -> ParseResult<&'b Vec<DerObject<'a>>> {
    obj.as_sequence().map_err(|_| format!("{what} is not a DER SEQUENCE"))
}

fn bytes_of<'a>(obj: &DerObject<'a>, what: &str) -> ParseResult<&'a [u8]> {
    obj.as_slice().map_err(|_| format!("{what} has an unexpected type"))
}

/// The content of an EXPLICIT context tag, whichever way der-parser represented it.
fn explicit_inner<'a>(obj: &DerObject<'a>) -> Option<DerObject<'a>> {
    match &obj.content {
        BerObjectContent::Tagged(_, _, inner) => Some((**inner).clone()),
        BerObjectContent::Unknown(any) => parse_der(any.data).ok().map(|(_, o)| o),
        _ => None,
    }
}

/// PKCS#1 `RSAPrivateKey`: version, modulus, publicExponent, ...
pub fn parse_pkcs1(der: &[u8]) -> ParseResult<PrivateKey> {
    let obj = parse_one(der)?;
    let items = sequence(&obj, "RSAPrivateKey")?;
    if items.len() < 3 {
        return Err("RSAPrivateKey is too short".to_string());
    }
    Ok(PrivateKey {
        public: PublicKeyId::Rsa {
            modulus: strip_zeros(bytes_of(&items[1], "the modulus")?),
            exponent: strip_zeros(bytes_of(&items[2], "the exponent")?),
        },
    })
}

/// SEC1 `ECPrivateKey`: version, privateKey, [0] curve, [1] publicKey. Inside PKCS#8 the curve
/// comes from the outer algorithm identifier instead (`curve_hint`).
pub fn parse_sec1(der: &[u8], curve_hint: Option<String>) -> ParseResult<PrivateKey> {
    let obj = parse_one(der)?;
    let items = sequence(&obj, "ECPrivateKey")?;
    let mut curve_oid = curve_hint;
    let mut point = None;
    for item in items.iter().skip(2) {
        let tag = item.header.tag().0;
        let Some(inner) = explicit_inner(item) else {
            continue;
        };
        match tag {
            0 => {
                if let Ok(oid) = inner.as_oid() {
                    curve_oid = Some(oid.to_id_string());
                }
            }
            1 => point = Some(bytes_of(&inner, "the EC public key")?.to_vec()),
            _ => {}
        }
    }
    let curve_oid = curve_oid.ok_or("the EC key does not name its curve")?;
    let point = match point {
        Some(point) => point,
        None => public_point_from_private(der)?,
    };
    Ok(PrivateKey { public: PublicKeyId::Ec { curve_oid, point } })
}

/// A SEC1 key without its public point (rare; openssl always writes it): let the crypto
/// library derive the point.
fn public_point_from_private(sec1: &[u8]) -> ParseResult<Vec<u8>> {
    rcgen::KeyPair::try_from(sec1)
        .map(|kp| kp.public_key_raw().to_vec())
        .map_err(|e| format!("the EC key has no public point and cannot be read ({e})"))
}

/// PKCS#8 `PrivateKeyInfo`: version, algorithm identifier, the inner key as an OCTET STRING.
pub fn parse_pkcs8(der: &[u8]) -> ParseResult<PrivateKey> {
    let obj = parse_one(der)?;
    let items = sequence(&obj, "PrivateKeyInfo")?;
    if items.len() < 3 {
        return Err("PrivateKeyInfo is too short".to_string());
    }
    let alg = sequence(&items[1], "the key algorithm")?;
    let alg_oid = alg
        .first()
        .and_then(|o| o.as_oid().ok())
        .map(|o| o.to_id_string())
        .ok_or("the key algorithm has no OID")?;
    let inner = bytes_of(&items[2], "the inner private key")?;
    match alg_oid.as_str() {
        OID_RSA => parse_pkcs1(inner),
        OID_EC => {
            let curve = alg.get(1).and_then(|o| o.as_oid().ok()).map(|o| o.to_id_string());
            parse_sec1(inner, curve)
        }
        _ => Ok(PrivateKey { public: PublicKeyId::Other { algorithm_oid: alg_oid, key: Vec::new() } }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_p256_key_matches_its_certificate() {
        let kp = rcgen::KeyPair::generate().unwrap();
        let key = parse_pkcs8(kp.serialized_der()).unwrap();
        let cert = rcgen::CertificateParams::default().self_signed(&kp).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
        assert_eq!(key.public, PublicKeyId::from_spki(parsed.public_key()));
        assert_eq!(key.public.describe().to_string(), "EC P-256");
        assert_eq!(key.public.keyd_problem(), None);
    }

    #[test]
    fn rsa_bit_length_ignores_leading_zero_byte() {
        let mut modulus = vec![0u8, 0x80];
        modulus.extend(vec![0u8; 255]);
        assert_eq!(bit_length(&modulus), 2048);
        assert_eq!(bit_length(&[0x01, 0x00]), 9);
    }

    #[test]
    fn small_rsa_and_other_curves_are_keyd_problems() {
        let rsa = PublicKeyId::Rsa { modulus: vec![0xff; 128], exponent: vec![1, 0, 1] };
        assert!(rsa.keyd_problem().unwrap().contains("1024"));
        let p384 = PublicKeyId::Ec { curve_oid: OID_P384.to_string(), point: vec![4; 97] };
        assert!(p384.keyd_problem().unwrap().contains("P-384"));
    }
}
