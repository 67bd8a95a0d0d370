//! A key and certificate signing request for an Edge CA issued by an external PKI.
//!
//! With a CSR the Edge CA key is created on the device and never leaves it; only the request
//! travels to the CA. The request asks for the Edge CA extensions so that a CA honouring
//! requested extensions issues a certificate IoT Edge accepts.

use anyhow::{Context, Result};

use super::generate::{edge_ca_params, generate_key};
use crate::cli::KeyType;

/// A new key of `key_type` and a CSR for `common_name`, as `(key_pem, csr_pem)`.
pub fn generate_csr(common_name: &str, key_type: KeyType) -> Result<(String, String)> {
    let key = generate_key(key_type)?;
    let csr = edge_ca_params(common_name)
        .serialize_request(&key)
        .context("creating the certificate signing request")?;
    let csr_pem = csr.pem().context("encoding the certificate signing request as PEM")?;
    Ok((key.serialize_pem(), csr_pem))
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::extensions::ParsedExtension;
    use x509_parser::prelude::FromDer;

    #[test]
    fn csr_requests_the_edge_ca_extensions_and_is_self_signed() {
        let (key_pem, csr_pem) = generate_csr("line-3 Edge CA", KeyType::EcP256).unwrap();
        assert!(key_pem.contains("BEGIN PRIVATE KEY"));
        let blocks = crate::certs::pem::parse_blocks(&csr_pem).unwrap();
        assert_eq!(blocks[0].label, "CERTIFICATE REQUEST");
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&blocks[0].der).unwrap();
        csr.verify_signature().unwrap();
        let exts: Vec<_> = csr.requested_extensions().unwrap().collect();
        assert!(exts.iter().any(|e| matches!(e,
            ParsedExtension::BasicConstraints(bc) if bc.ca && bc.path_len_constraint == Some(0))));
        assert!(exts.iter().any(|e| matches!(e,
            ParsedExtension::KeyUsage(ku) if ku.key_cert_sign() && ku.digital_signature())));
    }
}
