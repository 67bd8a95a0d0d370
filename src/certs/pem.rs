//! Reading certificates (PEM or DER) and private keys (PEM) from bytes.
//!
//! Technicians bring certificates from many PKIs: a PEM chain, a single DER `.cer`, keys in
//! PKCS#8, SEC1 or PKCS#1 form. Everything is turned into DER blobs here so the rest of
//! `certs` never cares about the encoding. Encrypted keys are recognised rather than failing
//! as "garbage", because keyd cannot read them and the fix is one openssl command.

use anyhow::Result;
use base64::Engine as _;

use super::key::{self, PrivateKey};
use crate::error::input_error;

/// One `-----BEGIN LABEL-----` block: its label, whether it carried RFC 1421 headers such as
/// `Proc-Type: 4,ENCRYPTED`, and the decoded contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemBlock {
    pub label: String,
    pub headers: Vec<String>,
    pub der: Vec<u8>,
}

/// Split `text` into its PEM blocks. Text outside blocks (openssl's `Bag Attributes`, comments)
/// is ignored; a block that does not end or does not decode is an error describing it.
pub fn parse_blocks(text: &str) -> std::result::Result<Vec<PemBlock>, String> {
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|rest| rest.strip_suffix("-----")) else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut headers = Vec::new();
        let mut body = String::new();
        let mut ended = false;
        for inner in lines.by_ref() {
            let inner = inner.trim();
            if inner == end {
                ended = true;
                break;
            }
            if inner.contains(':') {
                headers.push(inner.to_string());
            } else {
                body.push_str(inner);
            }
        }
        if !ended {
            return Err(format!("the PEM block \"{label}\" has no END line"));
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|e| format!("the PEM block \"{label}\" is not valid base64 ({e})"))?;
        blocks.push(PemBlock { label: label.to_string(), headers, der });
    }
    Ok(blocks)
}

/// The certificates in `bytes` (read from `source`, named in errors): every `CERTIFICATE`
/// block of a PEM file in order, or the one certificate of a DER file.
pub fn load_certificates(bytes: &[u8], source: &str) -> Result<Vec<Vec<u8>>> {
    let expected = "a PEM certificate (chain) or a DER certificate";
    if looks_like_pem(bytes) {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| input_error(format!("{source}: not valid text; expected {expected}")))?;
        let blocks = parse_blocks(text).map_err(|e| input_error(format!("{source}: {e}")))?;
        let ders: Vec<Vec<u8>> = blocks
            .into_iter()
            .filter(|b| b.label == "CERTIFICATE" || b.label == "X509 CERTIFICATE")
            .map(|b| b.der)
            .collect();
        if ders.is_empty() {
            return Err(input_error(format!(
                "{source}: contains no \"BEGIN CERTIFICATE\" block; expected {expected}"
            )));
        }
        for (i, der) in ders.iter().enumerate() {
            check_certificate_der(der).map_err(|e| {
                input_error(format!("{source}: certificate {} is not valid X.509 ({e})", i + 1))
            })?;
        }
        Ok(ders)
    } else {
        check_certificate_der(bytes).map_err(|e| input_error(format!("{source}: not {expected} ({e})")))?;
        Ok(vec![bytes.to_vec()])
    }
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

fn check_certificate_der(der: &[u8]) -> std::result::Result<(), String> {
    match x509_parser::parse_x509_certificate(der) {
        Ok(([], _)) => Ok(()),
        Ok(_) => Err("trailing data after the certificate".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// A private key as read from a file: usable, or encrypted (which IoT Edge cannot use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    Unencrypted(PrivateKey),
    Encrypted { source: String },
}

impl KeyMaterial {
    /// The key, or the error telling the user how to decrypt it: for callers (the planner)
    /// that cannot go on with an encrypted key.
    pub fn require_unencrypted(&self) -> Result<&PrivateKey> {
        match self {
            KeyMaterial::Unencrypted(key) => Ok(key),
            KeyMaterial::Encrypted { source } => {
                Err(input_error(format!("{}\n{}", encrypted_key_message(source), encrypted_key_fix(source))))
            }
        }
    }
}

/// Why an encrypted key is a problem; keyd reads keys without prompting for a passphrase.
pub fn encrypted_key_message(source: &str) -> String {
    format!("{source}: the private key is encrypted; IoT Edge needs an unencrypted key")
}

/// The command that writes an unencrypted copy of `source`.
pub fn encrypted_key_fix(source: &str) -> String {
    format!(
        "decrypt it: openssl pkey -in {source} -out edge-ca.key.pem (you will be prompted for the passphrase), then keep edge-ca.key.pem mode 0600"
    )
}

/// The private key in the PEM text `bytes` (read from `source`): PKCS#8 `PRIVATE KEY`, SEC1
/// `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`. Encrypted keys come back as
/// [`KeyMaterial::Encrypted`]; anything else unreadable is an input error.
pub fn load_private_key(bytes: &[u8], source: &str) -> Result<KeyMaterial> {
    let expected = "an unencrypted PEM private key (PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)";
    let text = std::str::from_utf8(bytes)
        .map_err(|_| input_error(format!("{source}: not a PEM file; expected {expected}")))?;
    let blocks = parse_blocks(text).map_err(|e| input_error(format!("{source}: {e}")))?;
    for block in &blocks {
        let encrypted = block.label == "ENCRYPTED PRIVATE KEY"
            || block.headers.iter().any(|h| h.replace(' ', "").eq_ignore_ascii_case("Proc-Type:4,ENCRYPTED"));
        if encrypted {
            return Ok(KeyMaterial::Encrypted { source: source.to_string() });
        }
        let parsed = match block.label.as_str() {
            "PRIVATE KEY" => key::parse_pkcs8(&block.der),
            "EC PRIVATE KEY" => key::parse_sec1(&block.der, None),
            "RSA PRIVATE KEY" => key::parse_pkcs1(&block.der),
            _ => continue,
        };
        return parsed.map(KeyMaterial::Unencrypted).map_err(|e| {
            input_error(format!(
                "{source}: the {} block is not readable ({e}); expected {expected}",
                block.label
            ))
        });
    }
    Err(input_error(format!("{source}: contains no private key; expected {expected}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_keep_labels_and_headers() {
        let text = "junk\n-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAAEC\n-----END RSA PRIVATE KEY-----\n";
        let blocks = parse_blocks(text).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "RSA PRIVATE KEY");
        assert_eq!(blocks[0].headers.len(), 2);
        assert_eq!(blocks[0].der, vec![0, 1, 2]);
    }

    #[test]
    fn unterminated_pem_block_is_reported() {
        assert!(parse_blocks("-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
    }

    #[test]
    fn garbage_certificate_file_is_an_input_error_naming_the_file() {
        let err = load_certificates(b"hello world", "/tmp/x.pem").unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), 2);
        assert!(err.to_string().contains("/tmp/x.pem"), "{err}");
        assert!(err.to_string().contains("DER certificate"), "{err}");
    }

    #[test]
    fn pem_without_certificates_is_an_input_error() {
        let text = b"-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n";
        let err = load_certificates(text, "k.pem").unwrap_err();
        assert!(err.to_string().contains("no \"BEGIN CERTIFICATE\""), "{err}");
    }

    #[test]
    fn encrypted_pkcs8_and_legacy_keys_are_recognised() {
        let p8 = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAEC\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert!(matches!(load_private_key(p8, "k").unwrap(), KeyMaterial::Encrypted { .. }));
        let legacy = b"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAEC\n-----END EC PRIVATE KEY-----\n";
        let key = load_private_key(legacy, "k").unwrap();
        let err = key.require_unencrypted().unwrap_err().to_string();
        assert!(err.contains("openssl pkey -in k -out edge-ca.key.pem"), "{err}");
    }

    #[test]
    fn garbage_key_is_an_input_error() {
        let err = load_private_key(b"nope", "key.pem").unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), 2);
        assert!(err.to_string().contains("key.pem"));
    }
}

/// Certificates as one PEM text, in order: what IoT Edge reads for `[edge_ca] cert`, whatever
/// form (DER, PEM with extra text) they arrived in.
pub fn encode_certificates(ders: &[Vec<u8>]) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    for der in ders {
        let encoded = base64::engine::general_purpose::STANDARD.encode(der);
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for chunk in encoded.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

#[cfg(test)]
mod encode_tests {
    use super::*;

    #[test]
    fn encoded_certificates_load_back_identically() {
        let ders = vec![vec![0x30, 0x03, 0x02, 0x01, 0x05]; 2];
        let text = encode_certificates(&ders);
        let blocks = parse_blocks(&text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert!(text.starts_with("-----BEGIN CERTIFICATE-----\nMAMCAQU=\n"));
    }
}
