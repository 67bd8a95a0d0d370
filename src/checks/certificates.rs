//! `production-certificates`: the Edge CA comes from files (the quickstart CA is the device's
//! own self-generated CA, not for production), is valid and not near expiry, matches its key,
//! and its files have the modes and owners aziotcs and aziotks need (iotedge-1.4.md §5).

use super::probe::{FileFact, Parsed};
use super::{Facts, Outcome, Status};
use crate::certs::inspect::{InspectOptions, Severity, inspect_bytes};

/// Warn this many days before the Edge CA expires (IoT Edge never renews a CA from files).
pub const WARN_DAYS: u32 = 30;

const FIX: &str = "answer [edge_ca] with a CA from your PKI (or generate = {...}) and run edgeprep apply";
const KEY: Option<&str> = Some("edge_ca");

pub fn production_certificates(facts: &Facts) -> Outcome {
    if !matches!(facts.config, Parsed::Ok(_)) {
        return Outcome::skipped("config.toml is missing or does not parse (see config-well-formed)");
    }
    let Some(edge_ca) = facts.config_table(&["edge_ca"]) else {
        return Outcome::error("no [edge_ca]: IoT Edge uses its quickstart CA, which expires in 90 days and is not for production")
            .fix(FIX, KEY);
    };
    if let Some(method) = edge_ca.get("method").and_then(toml::Value::as_str) {
        return match method {
            "self_signed" => Outcome::error(
                "[edge_ca] method = \"self_signed\": the device signs its own CA, which nothing else trusts; not for production",
            )
            .fix(FIX, KEY),
            other => Outcome::ok(format!("issued (method = \"{other}\") and renewed by IoT Edge")),
        };
    }
    if !edge_ca.contains_key("cert") {
        return Outcome::error(
            "[edge_ca] sets no cert: IoT Edge uses its quickstart CA, which is not for production",
        )
        .fix(FIX, KEY);
    }
    let Some(cert) = &facts.probe.edge_ca_cert else {
        return Outcome::error("[edge_ca] cert is not a file:// URI: certd reads only file:// certificates")
            .fix(FIX, KEY);
    };
    let cert_bytes = match &cert.contents {
        Ok(bytes) => bytes,
        Err(why) => {
            return Outcome::error(format!("the Edge CA certificate {}: {why}", cert.path)).fix(FIX, KEY);
        }
    };
    let mut findings = Vec::new();
    let key = match &facts.probe.edge_ca_key {
        Some(FileFact { contents: Ok(bytes), path, .. }) => Some((bytes.as_slice(), path.as_str())),
        Some(FileFact { contents: Err(why), path, .. }) => {
            findings.push((Status::Error, format!("the Edge CA key {path}: {why}")));
            None
        }
        None => {
            findings.push((
                Status::Info,
                "[edge_ca] pk is not a file:// URI (an HSM?): the key match was not checked".into(),
            ));
            None
        }
    };
    let opts = InspectOptions {
        now: facts.now,
        warn_days: WARN_DAYS,
        hostname: facts
            .config_str(&[], "hostname")
            .map(str::to_string)
            .or_else(|| facts.state.os_hostname.clone()),
        device_id: device_id(facts),
    };
    let mut ok = String::new();
    match inspect_bytes(cert_bytes, &cert.path, key, &opts) {
        Err(e) => findings.push((Status::Error, format!("{e:#}"))),
        Ok(report) => {
            for p in &report.problems {
                let status = if p.severity == Severity::Error { Status::Error } else { Status::Warning };
                findings.push((status, format!("{} ({})", p.message, p.fix)));
            }
            if let Some(first) = report.certificates.first() {
                ok = format!(
                    "Edge CA \"{}\" from {}: valid until {} ({} days left), key matches",
                    first.common_name.as_deref().unwrap_or(&first.subject),
                    cert.path,
                    first.not_after,
                    first.days_left
                );
            }
        }
    }
    findings.extend(permission_findings(facts, cert, "aziotcs", "certificate"));
    if let Some(key) = &facts.probe.edge_ca_key {
        findings.extend(permission_findings(facts, key, "aziotks", "private key"));
        if let Some((_, Some(own))) = key.chain.last()
            && own.mode & 0o077 != 0
        {
            findings.push((
                Status::Error,
                format!(
                    "the private key {} is mode {:04o}: readable by others than its owner; it must be 0600",
                    key.path, own.mode
                ),
            ));
        }
    }
    // An informational note alone does not make the check less than OK.
    let notes: Vec<String> =
        findings.iter().filter(|(s, _)| *s == Status::Info).map(|(_, d)| d.clone()).collect();
    let problems: Vec<(Status, String)> = findings.into_iter().filter(|(s, _)| *s != Status::Info).collect();
    let mut outcome = Outcome::from_findings(problems, ok).fix(FIX, KEY);
    outcome.details.extend(notes);
    outcome
}

/// The device id IoT Edge registers with, when config.toml says.
fn device_id(facts: &Facts) -> Option<String> {
    let p = facts.config_table(&["provisioning"])?;
    if let Some(cs) = p.get("connection_string").and_then(toml::Value::as_str) {
        return cs.split(';').find_map(|part| part.trim().strip_prefix("DeviceId=").map(str::to_string));
    }
    p.get("device_id")
        .or_else(|| {
            facts.config_table(&["provisioning", "attestation"]).and_then(|a| a.get("registration_id"))
        })
        .and_then(toml::Value::as_str)
        .map(str::to_string)
}

/// Can `user` read `file` the way `iotedge check` tests it: every directory above it readable
/// and searchable, the file readable, by world, by the user's primary group, or as owner.
fn permission_findings(facts: &Facts, file: &FileFact, user: &str, what: &str) -> Vec<(Status, String)> {
    let Some((uid, gid)) = facts.state.users.user(user) else {
        return vec![(
            Status::Warning,
            format!(
                "user {user} is not in /etc/passwd: cannot tell whether it can read the {what} (is aziot-identity-service installed?)"
            ),
        )];
    };
    let last = file.chain.len().saturating_sub(1);
    for (index, (path, own)) in file.chain.iter().enumerate() {
        let Some(own) = own else { continue };
        let need = if index == last { 0o4 } else { 0o5 };
        let bits = if own.uid == uid {
            (own.mode >> 6) & 0o7
        } else if own.gid == gid {
            (own.mode >> 3) & 0o7
        } else {
            own.mode & 0o7
        };
        if bits & need != need {
            return vec![(
                Status::Error,
                format!(
                    "{path} is not {} by user {user} (uid {uid}, gid {gid}; mode {:04o}, owner {}:{}), so IoT Edge cannot read the {what} {}",
                    if index == last { "readable" } else { "traversable" },
                    own.mode,
                    own.uid,
                    own.gid,
                    file.path
                ),
            )];
        }
    }
    Vec::new()
}
