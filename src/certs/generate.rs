//! Generating a root CA and an Edge CA signed by it, with the extensions IoT Edge documents.
//!
//! This replaces certGen.sh for small fleets: no hard-coded passwords, the `pathlen:0` that
//! certGen.sh leaves out, and a root whose key is meant to leave the device. Key types are the
//! ones keyd supports (ec-p256, rsa-2048, rsa-4096).

use std::io::Read;

use anyhow::{Context, Result, anyhow};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::cli::KeyType;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// CN of the Edge CA; the root gets "<common_name> root".
    pub common_name: String,
    /// Edge CA validity in days; the root gets twice as long so the Edge CA can be renewed
    /// under the same root.
    pub days: u32,
    pub key_type: KeyType,
    /// Start of validity (tests pass a fixed time).
    pub now: OffsetDateTime,
}

/// The generated PEM texts.
#[derive(Debug, Clone)]
pub struct GeneratedChain {
    pub root_cert_pem: String,
    pub root_key_pem: String,
    pub edge_cert_pem: String,
    pub edge_key_pem: String,
    /// Edge CA then root: what `[edge_ca] cert` should point at.
    pub edge_chain_pem: String,
}

/// A new key of `key_type`. RSA keys take a noticeable fraction of a second (4096: longer).
pub fn generate_key(key_type: KeyType) -> Result<KeyPair> {
    let key = match key_type {
        KeyType::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048),
        KeyType::Rsa4096 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_4096),
    };
    key.map_err(|e| anyhow!("generating a {key_type:?} key failed: {e}"))
}

/// The Edge CA extensions IoT Edge documents (and uses in its own CSRs):
/// basicConstraints critical CA:TRUE pathlen:0, keyUsage critical digitalSignature+keyCertSign.
/// rcgen writes both as critical and adds the subjectKeyIdentifier for CAs.
pub fn edge_ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign];
    params
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// A random positive 16-byte serial: serials must be unique per issuer, and a re-run with the
/// same key must not reuse one.
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for a certificate serial number")?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

/// A root CA (self-signed, pathlen:1) and an Edge CA signed by it.
pub fn generate_chain(opts: &GenerateOptions) -> Result<GeneratedChain> {
    let days = i64::from(opts.days.max(1));
    // Backdate a little so a device whose clock lags by a few minutes accepts the chain.
    let not_before = opts.now - Duration::minutes(5);

    let root_key = generate_key(opts.key_type)?;
    let mut root_params = CertificateParams::default();
    root_params.distinguished_name = name(&format!("{} root", opts.common_name));
    root_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    root_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    root_params.not_before = not_before;
    root_params.not_after = opts.now + Duration::days(2 * days);
    root_params.serial_number = Some(random_serial()?);
    let root_cert = root_params.self_signed(&root_key).context("signing the root CA certificate")?;

    let edge_key = generate_key(opts.key_type)?;
    let mut edge_params = edge_ca_params(&opts.common_name);
    edge_params.not_before = not_before;
    edge_params.not_after = opts.now + Duration::days(days);
    edge_params.serial_number = Some(random_serial()?);
    edge_params.use_authority_key_identifier_extension = true;
    let issuer = Issuer::from_params(&root_params, &root_key);
    let edge_cert = edge_params.signed_by(&edge_key, &issuer).context("signing the Edge CA certificate")?;

    let root_cert_pem = root_cert.pem();
    let edge_cert_pem = edge_cert.pem();
    Ok(GeneratedChain {
        edge_chain_pem: format!("{edge_cert_pem}{root_cert_pem}"),
        root_cert_pem,
        root_key_pem: root_key.serialize_pem(),
        edge_cert_pem,
        edge_key_pem: edge_key.serialize_pem(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::inspect::{InspectOptions, Severity, inspect_bytes};

    fn opts(key_type: KeyType) -> GenerateOptions {
        GenerateOptions {
            common_name: "line-3 Edge CA".to_string(),
            days: 365,
            key_type,
            now: OffsetDateTime::now_utc(),
        }
    }

    fn inspect_opts() -> InspectOptions {
        InspectOptions {
            now: OffsetDateTime::now_utc(),
            warn_days: 30,
            hostname: Some("line-3".to_string()),
            device_id: Some("line-3-dev".to_string()),
        }
    }

    #[test]
    fn generated_ec_chain_passes_inspection_without_problems() {
        let chain = generate_chain(&opts(KeyType::EcP256)).unwrap();
        let report = inspect_bytes(
            chain.edge_chain_pem.as_bytes(),
            "edge-ca.pem",
            Some((chain.edge_key_pem.as_bytes(), "edge-ca.key.pem")),
            &inspect_opts(),
        )
        .unwrap();
        assert!(report.problems.is_empty(), "{:#?}", report.problems);
        assert_eq!(report.key_matches, Some(true));
        let edge = &report.certificates[0];
        assert_eq!(edge.path_len, Some(0));
        assert_eq!(edge.key_usage, ["digitalSignature", "keyCertSign"]);
        assert!(edge.authority_key_id.is_some() && edge.subject_key_id.is_some());
        assert_eq!(edge.authority_key_id, report.certificates[1].subject_key_id);
        assert_eq!(edge.days_left, 364);
        assert_eq!(report.certificates[1].common_name.as_deref(), Some("line-3 Edge CA root"));
    }

    #[test]
    fn generated_rsa_2048_chain_passes_inspection() {
        let chain = generate_chain(&opts(KeyType::Rsa2048)).unwrap();
        let report = inspect_bytes(
            chain.edge_chain_pem.as_bytes(),
            "edge-ca.pem",
            Some((chain.edge_key_pem.as_bytes(), "edge-ca.key.pem")),
            &inspect_opts(),
        )
        .unwrap();
        assert!(!report.problems.iter().any(|p| p.severity == Severity::Error), "{:#?}", report.problems);
        assert_eq!(report.certificates[0].key.to_string(), "RSA 2048");
        assert_eq!(report.key_matches, Some(true));
    }

    #[test]
    fn root_key_does_not_match_the_edge_ca() {
        let chain = generate_chain(&opts(KeyType::EcP256)).unwrap();
        let report = inspect_bytes(
            chain.edge_chain_pem.as_bytes(),
            "edge-ca.pem",
            Some((chain.root_key_pem.as_bytes(), "root-ca.key.pem")),
            &inspect_opts(),
        )
        .unwrap();
        assert_eq!(report.key_matches, Some(false));
        assert!(!report.usable());
    }

    #[test]
    fn serials_are_random_and_positive() {
        let a = random_serial().unwrap().to_bytes();
        let b = random_serial().unwrap().to_bytes();
        assert_ne!(a, b);
        assert!(a[0] < 0x80 && a[0] > 0);
    }
}
