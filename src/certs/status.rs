//! Which Edge CA the device uses and whether it needs attention.
//!
//! A file-based Edge CA is never renewed by IoT Edge, so its expiry silently breaks every
//! module's TLS on a date nobody wrote down. The quickstart CA renews itself but is the
//! device's own self-generated CA, which production deployments should not trust. This module
//! tells the two (and the issued kinds) apart from config.toml and the files it points at.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::input_error;
use crate::input_file::{MAX_CERT_BYTES, ReadError, read_regular};
use crate::paths::{CERTD_CERTS_DIR, CONFIG_TOML};
use crate::root::DeviceRoot;
use crate::timestamp::rfc3339;

/// Exit code: the quickstart CA is in use (or nothing is configured): not production-ready.
pub const EXIT_QUICKSTART: i32 = 3;
/// Quickstart CA lifetime when config.toml does not set one (IoT Edge 1.4 default).
pub const QUICKSTART_DEFAULT_DAYS: i64 = 90;
/// File names certd gives the quickstart Edge CA under [`CERTD_CERTS_DIR`].
const QUICKSTART_CERT_PREFIX: &str = "aziot-edged-ca";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeCaKind {
    /// `[edge_ca] cert/pk`: files installed by the operator, never renewed by IoT Edge.
    File,
    /// The device's self-generated CA (no `[edge_ca]`, or `auto_generated_edge_ca_expiry_days`).
    Quickstart,
    /// `method = "est" | "local_ca" | "self_signed"`: issued and renewed by IoT Edge.
    Issued,
    /// No config.toml: IoT Edge is not configured.
    None,
}

/// The device's Edge CA, serialised as the `--json` output of `cert status`.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeCaStatus {
    pub kind: EdgeCaKind,
    /// Device path of the certificate looked at, if any.
    pub cert: Option<String>,
    pub subject: Option<String>,
    pub not_after: Option<String>,
    pub days_left: Option<i64>,
    pub rotation_due: bool,
    pub exit_code: i32,
    /// One line for people: what was found and what to do.
    pub message: String,
}

/// The certificate facts status needs.
struct CertFacts {
    subject: String,
    not_after: OffsetDateTime,
}

/// Read `<root>/etc/aziot/config.toml` and the Edge CA it configures. Only a config.toml that
/// cannot be parsed (or an `[edge_ca]` of the wrong shape) is an error; a missing or unreadable
/// certificate is a status with exit code 1.
pub fn edge_ca_status(root: &DeviceRoot, warn_days: u32, now: OffsetDateTime) -> Result<EdgeCaStatus> {
    let config_path = root.path(CONFIG_TOML);
    let text = match std::fs::read_to_string(&config_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(EdgeCaStatus {
                kind: EdgeCaKind::None,
                cert: None,
                subject: None,
                not_after: None,
                days_left: None,
                rotation_due: false,
                exit_code: EXIT_QUICKSTART,
                message: format!("not configured: {CONFIG_TOML} does not exist"),
            });
        }
        Err(e) => {
            return Err(input_error(format!("{}: cannot read it ({e})", config_path.display())));
        }
    };
    let config: toml::Table =
        text.parse().map_err(|e| input_error(format!("{}: not valid TOML ({e})", config_path.display())))?;

    let edge_ca = match config.get("edge_ca") {
        None => None,
        Some(toml::Value::Table(t)) => Some(t),
        Some(_) => {
            return Err(input_error(format!("{}: edge_ca must be a table", config_path.display())));
        }
    };
    match edge_ca {
        Some(t) if t.contains_key("method") => Ok(issued(t)),
        Some(t) if t.contains_key("cert") => file_based(root, t, warn_days, now, &config_path),
        Some(t) => quickstart(root, Some(t), now, &config_path),
        None => quickstart(root, None, now, &config_path),
    }
}

fn issued(table: &toml::Table) -> EdgeCaStatus {
    let method = table.get("method").and_then(|v| v.as_str()).unwrap_or("?");
    EdgeCaStatus {
        kind: EdgeCaKind::Issued,
        cert: None,
        subject: None,
        not_after: None,
        days_left: None,
        rotation_due: false,
        exit_code: crate::error::EXIT_OK,
        message: format!("issued (method = \"{method}\"): IoT Edge renews it automatically"),
    }
}

fn file_based(
    root: &DeviceRoot,
    table: &toml::Table,
    warn_days: u32,
    now: OffsetDateTime,
    config_path: &Path,
) -> Result<EdgeCaStatus> {
    let uri = table
        .get("cert")
        .and_then(|v| v.as_str())
        .ok_or_else(|| input_error(format!("{}: edge_ca.cert must be a string", config_path.display())))?;
    let device_path = file_uri_path(uri).ok_or_else(|| {
        input_error(format!(
            "{}: edge_ca.cert = \"{uri}\" is not a file:// URI (certd only reads file:// certificates)",
            config_path.display()
        ))
    })?;
    let shown = device_path.display().to_string();
    let mut status = EdgeCaStatus {
        kind: EdgeCaKind::File,
        cert: Some(shown.clone()),
        subject: None,
        not_after: None,
        days_left: None,
        rotation_due: false,
        exit_code: crate::error::EXIT_FAILED,
        message: String::new(),
    };
    let facts = match read_cert(&root.path(&device_path)) {
        Ok(facts) => facts,
        Err(reason) => {
            status.message =
                format!("the Edge CA certificate {shown} {reason}; IoT Edge cannot start its CA");
            return Ok(status);
        }
    };
    let days_left = (facts.not_after - now).whole_days();
    status.subject = Some(facts.subject);
    status.not_after = Some(rfc3339(facts.not_after));
    status.days_left = Some(days_left);
    status.rotation_due = now > facts.not_after || days_left < i64::from(warn_days);
    if now > facts.not_after {
        status.message = format!(
            "the file-based Edge CA expired on {}: replace it now (edgeprep cert generate or your PKI, then edgeprep apply)",
            rfc3339(facts.not_after)
        );
    } else if status.rotation_due {
        status.message = format!(
            "rotation due: the file-based Edge CA expires in {days_left} days and IoT Edge will not renew it"
        );
    } else {
        status.exit_code = crate::error::EXIT_OK;
        status.message = format!(
            "file-based Edge CA, {days_left} days left (IoT Edge does not renew it: rotate before it expires)"
        );
    }
    Ok(status)
}

fn quickstart(
    root: &DeviceRoot,
    table: Option<&toml::Table>,
    now: OffsetDateTime,
    config_path: &Path,
) -> Result<EdgeCaStatus> {
    let days = match table.and_then(|t| t.get("auto_generated_edge_ca_expiry_days")) {
        None => QUICKSTART_DEFAULT_DAYS,
        Some(v) => v.as_integer().filter(|d| *d > 0).ok_or_else(|| {
            input_error(format!(
                "{}: edge_ca.auto_generated_edge_ca_expiry_days must be a positive integer",
                config_path.display()
            ))
        })?,
    };
    let mut status = EdgeCaStatus {
        kind: EdgeCaKind::Quickstart,
        cert: None,
        subject: None,
        not_after: None,
        days_left: None,
        rotation_due: false,
        exit_code: EXIT_QUICKSTART,
        message: format!(
            "quickstart Edge CA ({days} days, renewed automatically): not for production, it is the device's self-generated CA; replace it with edgeprep cert generate or a CA from your PKI"
        ),
    };
    if let Some((path, facts)) = newest_quickstart_cert(root) {
        status.cert = Some(path.display().to_string());
        status.subject = Some(facts.subject);
        status.not_after = Some(rfc3339(facts.not_after));
        status.days_left = Some((facts.not_after - now).whole_days());
    }
    Ok(status)
}

/// The quickstart CA certd stored, if any: of several, the one that expires last.
fn newest_quickstart_cert(root: &DeviceRoot) -> Option<(PathBuf, CertFacts)> {
    let entries = std::fs::read_dir(root.path(CERTD_CERTS_DIR)).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(QUICKSTART_CERT_PREFIX))
        .filter_map(|e| {
            let facts = read_cert(&e.path()).ok()?;
            Some((Path::new(CERTD_CERTS_DIR).join(e.file_name()), facts))
        })
        .max_by_key(|(_, facts)| facts.not_after)
}

/// The first certificate of a PEM/DER file, or why it could not be read (as a phrase that
/// follows the file name).
fn read_cert(path: &Path) -> std::result::Result<CertFacts, String> {
    // A device file: another account may have put a FIFO or a huge file there.
    let bytes = read_regular(path, MAX_CERT_BYTES).map_err(|e| match e {
        ReadError::NotFound => "does not exist".to_string(),
        other => other.to_string(),
    })?;
    let ders = super::pem::load_certificates(&bytes, &path.display().to_string())
        .map_err(|e| format!("is not a certificate ({e})"))?;
    let der = ders.first().ok_or("holds no certificate")?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| format!("is not a certificate ({e})"))?;
    Ok(CertFacts { subject: cert.subject().to_string(), not_after: cert.validity().not_after.to_datetime() })
}

/// The path of a `file://` URI (percent-decoded), or `None` for any other scheme.
pub fn file_uri_path(uri: &str) -> Option<PathBuf> {
    let url = url::Url::parse(uri).ok()?;
    if url.scheme() != "file" {
        return None;
    }
    url.to_file_path().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_become_device_paths() {
        assert_eq!(
            file_uri_path("file:///var/aziot/certs/edge%20ca.pem"),
            Some(PathBuf::from("/var/aziot/certs/edge ca.pem"))
        );
        assert_eq!(file_uri_path("pkcs11:object=edge"), None);
        assert_eq!(file_uri_path("/var/aziot/certs/x.pem"), None);
    }
}
