//! The Edge CA part of the plan: install (or rotate) the certificate chain, its key and the
//! trust bundle with the owners and modes IoT Edge's services need, point config.toml at
//! them, and move the certificates issued by the previous CA into the backup.

use anyhow::Result;
use toml_edit::Value;

use super::config_toml::{ConfigEdit, file_uri};
use super::inputs::{EdgeCaMaterial, Inputs};
use super::{DirChange, FileAction, FileChange, Ownership, Plan, Visibility};
use crate::answers::Answers;
use crate::certs::inspect::{InspectOptions, Report, Severity, inspect_bytes};
use crate::certs::pem::{encode_certificates, load_certificates};
use crate::device::DeviceState;
use crate::edit::ConfigToml;
use crate::error::input_error;
use crate::paths;

/// Edge CAs with fewer days left than this get a warning in the plan.
pub const WARN_DAYS: u32 = 30;

/// What the Edge CA part changes.
#[derive(Debug, Default)]
pub struct EdgeCaOutcome {
    /// The CA's certificate, key or trust bundle changed: IoT Edge must restart so modules get
    /// server certificates from it.
    pub ca_changed: bool,
    /// The OS trust store copy changed: `update-ca-certificates`.
    pub os_store_changed: bool,
    /// The config.toml edits, applied with the other answers.
    pub config: Option<EdgeCaConfig>,
}

/// `[edge_ca] cert/pk` and `trust_bundle_cert` for config.toml.
#[derive(Debug, Clone)]
pub struct EdgeCaConfig {
    files: bool,
    trust_bundle: bool,
}

impl ConfigEdit for EdgeCaConfig {
    fn edit(&self, doc: &mut ConfigToml) -> Result<()> {
        if self.trust_bundle {
            doc.set(&[], "trust_bundle_cert", file_uri(Some(paths::TRUST_BUNDLE)).as_str());
        }
        if self.files {
            let cert = file_uri(Some(paths::EDGE_CA_CERT));
            let pk = file_uri(Some(paths::EDGE_CA_KEY));
            let table = ["edge_ca"];
            if !doc.has_table(&table) {
                // Nothing to keep (absent, or not even a table): a fresh table.
                doc.replace_table(&table, &[(&[], "cert", Value::from(cert)), (&[], "pk", Value::from(pk))]);
                return Ok(());
            }
            // Edited key by key, so the user's comments in the table and its header stay.
            // Quickstart or issuance keys beside cert/pk would make IoT Edge pick another
            // variant of [edge_ca]: they go, with the comments that describe them.
            for key in doc.keys(&table) {
                if key != "cert" && key != "pk" {
                    doc.remove_with_comments(&table, &key);
                }
            }
            doc.set(&table, "cert", cert.as_str());
            doc.set(&table, "pk", pk.as_str());
        }
        Ok(())
    }
}

/// Plan the Edge CA files; refuses (bad input) a chain or key `cert inspect` would reject.
pub fn plan_edge_ca(
    state: &DeviceState,
    answers: &Answers,
    inputs: &Inputs,
    plan: &mut Plan,
) -> Result<EdgeCaOutcome> {
    let mut outcome = EdgeCaOutcome::default();
    let Some(material) = &inputs.edge_ca else {
        return Ok(outcome);
    };
    let owners = Owners::resolve(state, plan);
    let mut ca_files_changed = false;

    if let (Some((chain, chain_source)), Some((key, key_source))) = (&material.chain, &material.key) {
        let (chain, key) = match keep_installed(state, material, inputs)? {
            Some(installed) => installed,
            None => (chain.clone(), key.clone()),
        };
        let report = judge(state, answers, inputs, &chain, chain_source, &key, key_source)?;
        for warning in report.problems.iter().filter(|p| p.severity == Severity::Warning) {
            plan.notes.push(format!("Edge CA: {}. {}", warning.message, warning.fix));
        }
        let pem = encode_certificates(&load_certificates(&chain, chain_source)?).into_bytes();
        plan_dirs(state, &owners, plan);
        ca_files_changed |= put(
            state,
            plan,
            paths::EDGE_CA_CERT,
            pem,
            owners.cert_file(),
            Visibility::Summary(summary(&report)),
            "The Edge CA certificate chain, readable by aziotcs (certd).",
        );
        ca_files_changed |= put(
            state,
            plan,
            paths::EDGE_CA_KEY,
            key,
            owners.key_file(),
            Visibility::Secret,
            "The Edge CA private key, readable only by aziotks (keyd).",
        );
        if let Some(generated) = material.generated.as_ref().filter(|_| ca_files_changed) {
            put(
                state,
                plan,
                paths::GENERATED_ROOT_KEY,
                generated.root_key.clone(),
                Ownership { mode: 0o600, uid: 0, gid: 0 },
                Visibility::Secret,
                "The private key of the root CA that signed the new Edge CA.",
            );
            plan.notes.push(format!(
                "Copy {} off the device and delete it: whoever holds it can issue certificates this device \
                 and its leaf devices trust. Keep it offline to sign this device's next Edge CA.",
                paths::GENERATED_ROOT_KEY
            ));
        }
        outcome.config = Some(EdgeCaConfig { files: true, trust_bundle: false });
    }

    if let Some((bundle, source)) = &material.trust_bundle {
        let pem = encode_certificates(&load_certificates(bundle, source)?).into_bytes();
        let keep_generated =
            material.generated.is_some() && !ca_files_changed && state.file(paths::TRUST_BUNDLE).is_some();
        if !keep_generated {
            plan_dirs(state, &owners, plan);
            ca_files_changed |= put(
                state,
                plan,
                paths::TRUST_BUNDLE,
                pem.clone(),
                owners.cert_file(),
                Visibility::Summary(format!("Trust bundle from {source}")),
                "The CA certificates modules and leaf devices trust (trust_bundle_cert).",
            );
            let to_os_store = answers.edge_ca.as_ref().and_then(|e| e.os_trust_store).unwrap_or(true);
            if to_os_store {
                outcome.os_store_changed = put(
                    state,
                    plan,
                    paths::OS_TRUST_STORE_CERT,
                    pem,
                    Ownership { mode: 0o644, uid: 0, gid: 0 },
                    Visibility::Summary(format!("Trust bundle from {source}")),
                    "The same trust bundle in the OS trust store, for docker and other host programs.",
                );
            }
        }
        let config = outcome.config.get_or_insert(EdgeCaConfig { files: false, trust_bundle: false });
        config.trust_bundle = true;
    }

    if ca_files_changed && material.chain.is_some() {
        move_issued_certs(state, plan);
    }
    outcome.ca_changed = ca_files_changed;
    Ok(outcome)
}

/// For `generate`: keep the Edge CA edgeprep installed before when it has the CN asked for,
/// still works and is not about to expire, so applying the same answers twice is a no-op.
fn keep_installed(
    state: &DeviceState,
    material: &EdgeCaMaterial,
    inputs: &Inputs,
) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    let Some(generated) = &material.generated else { return Ok(None) };
    let (Some(cert), Some(key)) = (state.file(paths::EDGE_CA_CERT), state.file(paths::EDGE_CA_KEY)) else {
        return Ok(None);
    };
    let opts = InspectOptions { now: inputs.now, warn_days: WARN_DAYS, hostname: None, device_id: None };
    let Ok(report) = inspect_bytes(cert, paths::EDGE_CA_CERT, Some((key, paths::EDGE_CA_KEY)), &opts) else {
        return Ok(None);
    };
    let same_name = report.certificates.first().and_then(|c| c.common_name.as_deref())
        == Some(generated.common_name.as_str());
    let fresh = report.certificates.first().is_some_and(|c| c.days_left > i64::from(WARN_DAYS));
    Ok((same_name && fresh && report.usable()).then(|| (cert.to_vec(), key.to_vec())))
}

/// Inspect the chain and key as `cert inspect` would; errors refuse the plan.
fn judge(
    state: &DeviceState,
    answers: &Answers,
    inputs: &Inputs,
    chain: &[u8],
    chain_source: &str,
    key: &[u8],
    key_source: &str,
) -> Result<Report> {
    let config = state.text(paths::CONFIG_TOML).ok().flatten().and_then(|t| t.parse::<toml::Table>().ok());
    let hostname = answers
        .hostname
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.get("hostname")?.as_str().map(str::to_string)))
        .or_else(|| state.os_hostname.clone());
    let opts = InspectOptions {
        now: inputs.now,
        warn_days: WARN_DAYS,
        hostname,
        device_id: device_id(answers, config.as_ref()),
    };
    let report = inspect_bytes(chain, chain_source, Some((key, key_source)), &opts)?;
    if !report.usable() {
        let reasons: Vec<String> =
            report.errors().map(|p| format!("  - {}\n    fix: {}", p.message, p.fix)).collect();
        return Err(input_error(format!(
            "{chain_source} cannot be this device's Edge CA:\n{}\n(see `edgeprep cert inspect {chain_source} --key {key_source}`)",
            reasons.join("\n")
        )));
    }
    Ok(report)
}

/// The device id, from the answers' or config.toml's provisioning.
fn device_id(answers: &Answers, config: Option<&toml::Table>) -> Option<String> {
    let from_cs = |cs: &str| {
        cs.split(';')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == "DeviceId")
            .map(|(_, v)| v.to_string())
    };
    if let Some(p) = &answers.provisioning {
        return p.connection_string.as_deref().and_then(from_cs).or_else(|| p.registration_id.clone());
    }
    let provisioning = config?.get("provisioning")?.as_table()?;
    provisioning
        .get("connection_string")
        .and_then(|v| v.as_str())
        .and_then(from_cs)
        .or_else(|| provisioning.get("device_id").and_then(|v| v.as_str()).map(str::to_string))
}

fn summary(report: &Report) -> String {
    match report.certificates.first() {
        Some(c) => format!(
            "Edge CA \"{}\", valid until {} ({} days), SHA-256 {}; {} certificate(s) in the chain",
            c.common_name.as_deref().unwrap_or(&c.subject),
            c.not_after,
            c.days_left,
            c.sha256_fingerprint,
            report.certificates.len()
        ),
        None => "Edge CA chain".to_string(),
    }
}

/// The service users owning certificates and keys, from the device's passwd and group.
struct Owners {
    certs: (u32, u32),
    keys: (u32, u32),
}

impl Owners {
    fn resolve(state: &DeviceState, plan: &mut Plan) -> Self {
        let mut find = |user: &str| {
            state.users.owner(user).unwrap_or_else(|| {
                plan.notes.push(format!(
                    "User {user} does not exist on this device (is aziot-identity-service installed?): its files stay \
                     owned by root until you chown them."
                ));
                (0, 0)
            })
        };
        Owners { certs: find("aziotcs"), keys: find("aziotks") }
    }

    fn cert_file(&self) -> Ownership {
        Ownership { mode: 0o644, uid: self.certs.0, gid: self.certs.1 }
    }

    fn key_file(&self) -> Ownership {
        Ownership { mode: 0o600, uid: self.keys.0, gid: self.keys.1 }
    }
}

/// `/var/aziot` traversable by everyone, `certs` 0755 aziotcs, `secrets` 0700 aziotks.
fn plan_dirs(state: &DeviceState, owners: &Owners, plan: &mut Plan) {
    let wanted = [
        (paths::AZIOT_DIR, Ownership { mode: 0o755, uid: 0, gid: 0 }),
        (paths::CERTS_DIR, Ownership { mode: 0o755, uid: owners.certs.0, gid: owners.certs.1 }),
        (paths::SECRETS_DIR, Ownership { mode: 0o700, uid: owners.keys.0, gid: owners.keys.1 }),
    ];
    for (path, ownership) in wanted {
        let fine = match (path, state.ownership(path)) {
            // /var/aziot may belong to anyone as long as every service can traverse it.
            (paths::AZIOT_DIR, Some(current)) => current.mode & 0o005 == 0o005,
            (_, current) => current == Some(ownership),
        };
        if !fine && !plan.dirs.iter().any(|d| d.path == path) {
            plan.dirs.push(DirChange { path: path.to_string(), ownership });
        }
    }
}

/// Add a write of `contents` to `path` unless the file already has them and the ownership.
/// Returns whether the contents change.
fn put(
    state: &DeviceState,
    plan: &mut Plan,
    path: &str,
    contents: Vec<u8>,
    ownership: Ownership,
    visibility: Visibility,
    reason: &str,
) -> bool {
    let before = state.file(path);
    let contents_change = before != Some(contents.as_slice());
    if !contents_change && state.ownership(path) == Some(ownership) {
        return false;
    }
    plan.files.push(FileChange {
        path: path.to_string(),
        before: before.map(<[u8]>::to_vec),
        action: FileAction::Write(contents),
        ownership: Some(ownership),
        holds_secrets: matches!(visibility, Visibility::Secret),
        visibility,
        reason: if contents_change {
            reason.to_string()
        } else {
            format!("{reason} (owner and mode corrected)")
        },
    });
    contents_change
}

/// Certificates certd issued from the previous Edge CA (the quickstart CA, or the CA being
/// rotated out) and their keys go into the backup, so IoT Edge issues fresh ones from the new
/// CA. Other keys (the device identity) stay.
///
/// certd's directory belongs to aziotcs, so it may hold anything: only regular files (the
/// device state lists nothing else) that parse as certificates and are either the quickstart
/// CA itself (certd's `aziot-edged-ca` naming) or issued by the previous CA (their issuer is
/// the installed Edge CA's or the quickstart CA's subject) are moved; anything else stays.
fn move_issued_certs(state: &DeviceState, plan: &mut Plan) {
    let certs: Vec<(&str, Names)> = state
        .dir_entries(paths::CERTD_CERTS_DIR)
        .iter()
        .filter_map(|name| {
            let bytes = state.file(&format!("{}/{name}", paths::CERTD_CERTS_DIR))?;
            Some((name.as_str(), names_of(bytes)?))
        })
        .collect();
    let is_quickstart = |name: &str| name.starts_with(QUICKSTART_CA) || name.starts_with("aziot_edged_ca");
    let mut previous_cas: Vec<Vec<u8>> =
        state.file(paths::EDGE_CA_CERT).and_then(names_of).map(|n| n.subject).into_iter().collect();
    previous_cas.extend(certs.iter().filter(|(name, _)| is_quickstart(name)).map(|(_, n)| n.subject.clone()));
    let moved: Vec<&str> = certs
        .iter()
        .filter(|(name, n)| is_quickstart(name) || previous_cas.contains(&n.issuer))
        .map(|(name, _)| *name)
        .collect();
    let stem = |name: &str| name.rsplit_once('.').map_or(name, |(s, _)| s).to_string();
    let stems: Vec<String> = moved.iter().map(|name| stem(name)).collect();
    let keys = state
        .dir_entries(paths::KEYD_KEYS_DIR)
        .iter()
        .filter(|name| stems.contains(&stem(name)) || is_quickstart(name));
    let moves = moved
        .iter()
        .map(|name| format!("{}/{name}", paths::CERTD_CERTS_DIR))
        .chain(keys.map(|name| format!("{}/{name}", paths::KEYD_KEYS_DIR)));
    for path in moves {
        let Some(before) = state.file(&path) else { continue };
        plan.files.push(FileChange {
            path,
            before: Some(before.to_vec()),
            action: FileAction::MoveToBackup,
            ownership: None,
            holds_secrets: true,
            visibility: Visibility::Secret,
            reason: "Issued by the previous Edge CA; moved into the backup so IoT Edge issues a new one."
                .to_string(),
        });
    }
}

/// The file name prefix certd gives the quickstart Edge CA.
const QUICKSTART_CA: &str = "aziot-edged-ca";

/// Subject and issuer (DER) of the first certificate in a PEM file.
struct Names {
    subject: Vec<u8>,
    issuer: Vec<u8>,
}

fn names_of(pem: &[u8]) -> Option<Names> {
    let ders = load_certificates(pem, "certd certificate").ok()?;
    let (_, cert) = x509_parser::parse_x509_certificate(ders.first()?).ok()?;
    Some(Names { subject: cert.subject().as_raw().to_vec(), issuer: cert.issuer().as_raw().to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../tests/fixtures/config-template.toml");

    fn edited(text: &str) -> String {
        let mut doc = ConfigToml::parse(text, "config.toml").unwrap();
        EdgeCaConfig { files: true, trust_bundle: false }.edit(&mut doc).unwrap();
        doc.render()
    }

    #[test]
    fn the_templates_commented_edge_ca_block_keeps_its_comments_when_its_header_is_uncommented() {
        let block = "# [edge_ca]\n# cert = \"file:///var/aziot/certs/edge-ca.pem\"\n";
        assert!(TEMPLATE.contains(block), "the fixture's [edge_ca] block changed");
        let text = TEMPLATE.replace("# [edge_ca]\n", "[edge_ca]\n");
        let after = edited(&text);
        let start = after.find("[edge_ca]\n").unwrap();
        let table = &after[start..];
        assert!(
            table.starts_with(
                "[edge_ca]\ncert = \"file:///var/aziot/certs/edge-ca.pem\"\npk = \"file:///var/aziot/secrets/edge-ca.key.pem\"\n"
            ),
            "{table}"
        );
        for comment in [
            "# cert = \"file:///var/aziot/certs/edge-ca.pem\"",
            "# pk = \"file:///var/aziot/secrets/edge-ca.key.pem\"",
        ] {
            assert!(table.contains(comment), "{comment} lost:\n{table}");
        }
        // Everything outside the table is untouched: only lines were inserted.
        let added: Vec<&str> = diff_lines(&text, &after);
        assert_eq!(
            added,
            [
                "cert = \"file:///var/aziot/certs/edge-ca.pem\"",
                "pk = \"file:///var/aziot/secrets/edge-ca.key.pem\""
            ]
        );
    }

    #[test]
    fn quickstart_keys_go_with_their_comments_and_the_users_other_comments_stay() {
        let text = "\
[provisioning]
source = \"manual\"
connection_string = \"HostName=h;DeviceId=d;SharedAccessKey=a2V5\"

# Edge CA: from Contoso's PKI since 2024.
[edge_ca]
# Renew yearly; ticket OPS-123.
cert = \"file:///old/edge-ca.pem\"   # installed by hand

# Quickstart lifetime, for the bench.
auto_generated_edge_ca_expiry_days = 90
";
        let after = edited(text);
        assert_eq!(
            after,
            "\
[provisioning]
source = \"manual\"
connection_string = \"HostName=h;DeviceId=d;SharedAccessKey=a2V5\"

# Edge CA: from Contoso's PKI since 2024.
[edge_ca]
# Renew yearly; ticket OPS-123.
cert = \"file:///var/aziot/certs/edge-ca.pem\"   # installed by hand
pk = \"file:///var/aziot/secrets/edge-ca.key.pem\"
"
        );
        assert_eq!(edited(&after), after, "a second edit changes nothing");
    }

    /// Lines of `after` that are not in `before` (a multiset difference, enough for edits that
    /// only insert).
    fn diff_lines<'a>(before: &str, after: &'a str) -> Vec<&'a str> {
        let mut old: Vec<&str> = before.lines().collect();
        after
            .lines()
            .filter(|line| match old.iter().position(|o| o == line) {
                Some(i) => {
                    old.remove(i);
                    false
                }
                None => true,
            })
            .collect()
    }
}
