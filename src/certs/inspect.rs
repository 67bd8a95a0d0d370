//! Judging a certificate chain (and optionally its key) as an IoT Edge 1.4 Edge CA.
//!
//! IoT Edge itself only finds out that an Edge CA is unusable when edgeHub fails to get a
//! server certificate, often days after installation. Every rule here is one that breaks a
//! real device (or that the docs require); each problem comes with the fix, so a technician
//! can act on the report without knowing X.509.

use anyhow::Result;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;

use super::key::{KeyDescription, PublicKeyId};
use super::pem::{KeyMaterial, encrypted_key_fix, encrypted_key_message};
use crate::error::input_error;
use crate::timestamp::rfc3339;

/// What the chain is judged against.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    pub now: OffsetDateTime,
    /// Certificates expiring within this many days get a warning.
    pub warn_days: u32,
    /// The device hostname; an Edge CA with this CN breaks TLS to edgeHub.
    pub hostname: Option<String>,
    /// The device id; same reason as the hostname.
    pub device_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding: what is wrong and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub message: String,
    pub fix: String,
}

/// One certificate, described the way `openssl x509 -text` would, minus the noise.
#[derive(Debug, Clone, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    /// Upper-case hex, no separators (as `openssl x509 -serial`).
    pub serial: String,
    /// RFC 3339, UTC.
    pub not_before: String,
    pub not_after: String,
    /// Whole days until `not_after`; negative once expired.
    pub days_left: i64,
    pub key: KeyDescription,
    pub is_ca: bool,
    pub path_len: Option<u32>,
    pub key_usage: Vec<String>,
    pub subject_key_id: Option<String>,
    pub authority_key_id: Option<String>,
    /// SHA-256 of the DER, `AA:BB:...`.
    pub sha256_fingerprint: String,
    pub self_signed: bool,
}

/// The check of certificate `subject` against the next one, `issuer` (itself when self-signed).
#[derive(Debug, Clone, Serialize)]
pub struct ChainLink {
    pub subject: usize,
    pub issuer: usize,
    /// The certificate's issuer name equals the next certificate's subject.
    pub names_match: bool,
    /// The signature verifies with the issuer's public key.
    pub signature_valid: bool,
}

/// The result of inspecting a chain; serialised as the `--json` output.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub certificates: Vec<CertInfo>,
    pub chain: Vec<ChainLink>,
    /// Whether the key matches the first certificate; `None` without a (readable) key.
    pub key_matches: Option<bool>,
    pub problems: Vec<Problem>,
    pub usable: bool,
}

impl Report {
    /// No errors: IoT Edge can use this chain (and key, if one was given) as its Edge CA.
    pub fn usable(&self) -> bool {
        !self.problems.iter().any(|p| p.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.severity == Severity::Error)
    }
}

struct Findings(Vec<Problem>);

impl Findings {
    fn error(&mut self, message: impl Into<String>, fix: impl Into<String>) {
        self.push(Severity::Error, message, fix);
    }
    fn warning(&mut self, message: impl Into<String>, fix: impl Into<String>) {
        self.push(Severity::Warning, message, fix);
    }
    fn push(&mut self, severity: Severity, message: impl Into<String>, fix: impl Into<String>) {
        self.0.push(Problem { severity, message: message.into(), fix: fix.into() });
    }
}

/// Inspect certificates given as PEM/DER bytes, with an optional PEM key: the entry point for
/// callers that hold file contents (the planner). `source` and `key_source` name the files.
pub fn inspect_bytes(
    cert_bytes: &[u8],
    source: &str,
    key: Option<(&[u8], &str)>,
    opts: &InspectOptions,
) -> Result<Report> {
    let ders = super::pem::load_certificates(cert_bytes, source)?;
    let key = match key {
        Some((bytes, key_source)) => Some(super::pem::load_private_key(bytes, key_source)?),
        None => None,
    };
    inspect_chain(&ders, key.as_ref(), opts)
}

/// Inspect a chain (Edge CA first, then each issuer) and optionally the Edge CA's key.
pub fn inspect_chain(ders: &[Vec<u8>], key: Option<&KeyMaterial>, opts: &InspectOptions) -> Result<Report> {
    let mut certs = Vec::with_capacity(ders.len());
    for (i, der) in ders.iter().enumerate() {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| input_error(format!("certificate {} is not valid X.509 ({e})", i + 1)))?;
        certs.push(cert);
    }
    let Some(first) = certs.first() else {
        return Err(input_error("no certificate to inspect"));
    };

    let mut findings = Findings(Vec::new());
    let infos: Vec<CertInfo> = certs.iter().zip(ders).map(|(c, der)| describe(c, der, opts.now)).collect();

    check_validity(&certs, &infos, opts, &mut findings);
    check_edge_ca_extensions(first, &infos[0], &mut findings);
    check_names(&infos[0], opts, &mut findings);
    let chain = check_chain(&certs, &mut findings);
    if infos[0].self_signed && certs.len() == 1 {
        findings.warning(
            "the certificate is self-signed: it would be used directly as the Edge CA and also be its own root",
            "use an Edge CA issued by a root (or intermediate) CA you keep offline: edgeprep cert generate, or edgeprep cert csr for your PKI",
        );
    } else if infos[0].self_signed {
        findings.warning(
            "the first certificate is self-signed (a root CA), so the root itself would be the Edge CA",
            "put the Edge CA certificate first and its issuers after it",
        );
    }
    let key_matches = check_key(first, key, &mut findings);

    let mut report = Report { certificates: infos, chain, key_matches, problems: findings.0, usable: false };
    report.usable = report.usable();
    Ok(report)
}

fn describe(cert: &X509Certificate<'_>, der: &[u8], now: OffsetDateTime) -> CertInfo {
    let not_after = cert.validity().not_after.to_datetime();
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => subject_key_id = Some(hex(id.0, ":")),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|id| hex(id.0, ":"));
            }
            _ => {}
        }
    }
    let (is_ca, path_len) = match cert.basic_constraints() {
        Ok(Some(bc)) => (bc.value.ca, bc.value.path_len_constraint),
        _ => (false, None),
    };
    CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        common_name: common_name(cert),
        serial: hex(cert.raw_serial(), ""),
        not_before: rfc3339(cert.validity().not_before.to_datetime()),
        not_after: rfc3339(not_after),
        days_left: (not_after - now).whole_days(),
        key: PublicKeyId::from_spki(cert.public_key()).describe(),
        is_ca,
        path_len,
        key_usage: key_usage_names(cert),
        subject_key_id,
        authority_key_id,
        sha256_fingerprint: hex(&Sha256::digest(der), ":"),
        self_signed: cert.subject().as_raw() == cert.issuer().as_raw(),
    }
}

fn common_name(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_string)
}

fn key_usage_names(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(ku)) = cert.key_usage() else {
        return Vec::new();
    };
    let ku = ku.value;
    [
        (ku.digital_signature(), "digitalSignature"),
        (ku.non_repudiation(), "nonRepudiation"),
        (ku.key_encipherment(), "keyEncipherment"),
        (ku.data_encipherment(), "dataEncipherment"),
        (ku.key_agreement(), "keyAgreement"),
        (ku.key_cert_sign(), "keyCertSign"),
        (ku.crl_sign(), "cRLSign"),
        (ku.encipher_only(), "encipherOnly"),
        (ku.decipher_only(), "decipherOnly"),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| name.to_string())
    .collect()
}

/// `sep`-separated upper-case hex.
pub fn hex(bytes: &[u8], sep: &str) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(sep)
}

fn label(index: usize, info: &CertInfo) -> String {
    let name = info.common_name.as_deref().unwrap_or(&info.subject);
    if index == 0 {
        format!("the Edge CA \"{name}\"")
    } else {
        format!("chain certificate {} \"{name}\"", index + 1)
    }
}

fn check_validity(
    certs: &[X509Certificate<'_>],
    infos: &[CertInfo],
    opts: &InspectOptions,
    findings: &mut Findings,
) {
    for (i, (cert, info)) in certs.iter().zip(infos).enumerate() {
        let who = label(i, info);
        let not_before = cert.validity().not_before.to_datetime();
        let not_after = cert.validity().not_after.to_datetime();
        if opts.now > not_after {
            findings.error(
                format!("{who} expired on {}", info.not_after),
                "issue a new certificate (edgeprep cert generate or edgeprep cert csr) and install it",
            );
        } else if opts.now < not_before {
            findings.error(
                format!("{who} is not valid until {}", info.not_before),
                "check the device clock (timedatectl) or issue a certificate valid from today",
            );
        } else if info.days_left < i64::from(opts.warn_days) {
            findings.warning(
                format!("{who} expires in {} days ({})", info.days_left, info.not_after),
                "plan the rotation now: IoT Edge never renews a file-based Edge CA by itself",
            );
        }
    }
}

fn check_edge_ca_extensions(cert: &X509Certificate<'_>, info: &CertInfo, findings: &mut Findings) {
    let ext_fix = "issue the Edge CA with: basicConstraints = critical, CA:TRUE, pathlen:0 and keyUsage = critical, digitalSignature, keyCertSign";
    if !info.is_ca {
        findings.error(
            "the first certificate is not a CA (basicConstraints CA:TRUE missing), so IoT Edge cannot issue module certificates with it",
            ext_fix,
        );
    } else if info.path_len != Some(0) {
        let found = info.path_len.map_or("no path length limit".to_string(), |n| format!("pathlen:{n}"));
        findings.warning(format!("the Edge CA has {found}; IoT Edge docs require pathlen:0"), ext_fix);
    }
    if !info.key_usage.iter().any(|u| u == "keyCertSign") {
        findings.error("the Edge CA's key usage does not include keyCertSign (Certificate Sign)", ext_fix);
    }
    if let Some(problem) = PublicKeyId::from_spki(cert.public_key()).keyd_problem() {
        findings.error(
            format!("{problem}, so the key service (keyd) cannot use it"),
            "issue the Edge CA for an EC P-256 or RSA 2048/4096 key (edgeprep cert csr --key-type ec-p256)",
        );
    }
    if info.subject_key_id.is_none() {
        findings.warning(
            "the Edge CA has no subjectKeyIdentifier, which the IoT Edge docs require",
            "issue it with subjectKeyIdentifier = hash",
        );
    }
    if info.authority_key_id.is_none() && !info.self_signed {
        findings.warning(
            "the Edge CA has no authorityKeyIdentifier, which the IoT Edge docs require",
            "issue it with authorityKeyIdentifier = keyid:always",
        );
    }
}

fn check_names(info: &CertInfo, opts: &InspectOptions, findings: &mut Findings) {
    let Some(cn) = &info.common_name else {
        return;
    };
    for (what, value) in [("hostname", &opts.hostname), ("device id", &opts.device_id)] {
        if let Some(value) = value
            && cn.eq_ignore_ascii_case(value)
        {
            findings.error(
                format!("the Edge CA's common name \"{cn}\" equals the device {what}; edgeHub's server certificate would then clash with it"),
                "issue the Edge CA with a different CN, e.g. \"<device id> Edge CA\"",
            );
        }
    }
}

fn check_chain(certs: &[X509Certificate<'_>], findings: &mut Findings) -> Vec<ChainLink> {
    let mut links = Vec::new();
    let mut reported_order = false;
    for (i, cert) in certs.iter().enumerate() {
        let issuer_index = if i + 1 < certs.len() {
            i + 1
        } else if cert.subject().as_raw() == cert.issuer().as_raw() {
            i
        } else {
            // The file ends before the root; nothing to check this certificate against.
            continue;
        };
        let issuer = &certs[issuer_index];
        let names_match = cert.issuer().as_raw() == issuer.subject().as_raw();
        let signature_valid = cert.verify_signature(Some(issuer.public_key())).is_ok();
        if !names_match && !reported_order {
            reported_order = true;
            findings.error(
                format!(
                    "the chain is out of order: certificate {} was not issued by certificate {}",
                    i + 1,
                    issuer_index + 1
                ),
                "order the file Edge CA first, then its issuer, and so on up to the root (cat edge-ca.pem intermediate.pem root.pem > full-chain.pem)",
            );
        } else if names_match && !signature_valid {
            findings.error(
                format!(
                    "the signature of certificate {} does not verify with the key of certificate {}",
                    i + 1,
                    issuer_index + 1
                ),
                "the chain mixes certificates from different CAs (or a re-keyed CA): get the issuer certificate that actually signed it",
            );
        }
        links.push(ChainLink { subject: i, issuer: issuer_index, names_match, signature_valid });
    }
    links
}

fn check_key(
    first: &X509Certificate<'_>,
    key: Option<&KeyMaterial>,
    findings: &mut Findings,
) -> Option<bool> {
    match key? {
        KeyMaterial::Encrypted { source } => {
            findings.error(encrypted_key_message(source), encrypted_key_fix(source));
            None
        }
        KeyMaterial::Unencrypted(private) => {
            let matches = private.public == PublicKeyId::from_spki(first.public_key());
            if !matches {
                findings.error(
                    format!(
                        "the private key ({}) does not belong to the Edge CA certificate",
                        private.public.describe()
                    ),
                    "use the key the certificate was issued for (compare: openssl x509 -noout -pubkey -in CERT; openssl pkey -pubout -in KEY)",
                );
            }
            Some(matches)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_rfc3339_formats() {
        assert_eq!(hex(&[0xab, 0x01], ":"), "AB:01");
        let t = OffsetDateTime::from_unix_timestamp(1893553445).unwrap();
        assert_eq!(rfc3339(t), "2030-01-02T03:04:05Z");
    }
}
