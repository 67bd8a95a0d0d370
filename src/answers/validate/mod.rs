//! The rules an answers file must pass, mirroring what IoT Edge 1.4 itself accepts, so that a
//! file that passes here is not refused later by `iotedge config apply` or flagged by
//! `iotedge check`.
//!
//! [`validate`] is a pure function: it looks only at the [`Answers`] value (no files, no
//! network), and reports every problem it finds rather than stopping at the first, because a
//! technician fixing a file on a bench wants one list, not one round trip per mistake.
//!
//! Messages name the key as `[section] key` (or just `key` at the top level), say what is wrong
//! and what a valid value looks like. They never contain a secret value: connection strings,
//! symmetric keys, registry passwords and proxy passwords are described, never echoed.
//!
//! Each section has its own module and `validate_<section>` function, so a wizard step can
//! check just its fields; `control` checks every string of the answers for control characters,
//! whatever section it is in. [`validate`] runs them all.

use std::fmt;

use super::Answers;

mod agent;
mod control;
mod dns;
mod edge_ca;
mod gc;
mod host_storage;
mod hostname;
mod logging;
mod provisioning;
mod proxy;

pub use agent::{ImageRef, parse_image_ref, validate_agent};
pub use control::{control_character_problem, describe_character, is_forbidden, validate_control_characters};
pub use dns::validate_dns;
pub use edge_ca::validate_edge_ca;
pub use gc::validate_image_gc;
pub use host_storage::{DEFAULT_HOST_STORAGE, host_storage_problem};
pub use hostname::validate_hostname;
pub use logging::validate_logging;
pub use provisioning::validate_provisioning;
pub use proxy::{validate_proxy, validate_proxy_protocol};

use proxy::mask_proxy_url;

/// One problem or note about one answers key, with its parts kept apart so a front-end can
/// place them (the wizard shows the problem under the field, the CLI prints [`Display`]).
///
/// [`Display`]: fmt::Display
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Dotted path of the key the finding is about, e.g. `image_garbage_collection.cleanup_time`
    /// (or a table such as `edge_ca`). Lets the parser point at the line in the file.
    pub key: String,
    /// For a list (`[dns] servers`), which element the finding is about.
    pub item: Option<usize>,
    /// The value as it may be shown: quoted with control characters escaped, and masked (or
    /// absent) when it is or holds a secret.
    pub value: Option<String>,
    /// What is wrong and how to fix it; never holds a secret.
    pub problem: String,
    /// The parts joined as the CLI prints them, `[section] key = "value": problem`; safe to
    /// print. Set when the finding is made.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Everything [`validate`] found. Errors make the answers unusable; warnings are notes the
/// caller shows but that do not stop anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

impl Findings {
    /// True when there is nothing that stops the answers from being used.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// Add the findings of one section's validator.
    pub fn extend(&mut self, other: Findings) {
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
    }

    pub(crate) fn error(&mut self, key: &str, value: Option<&str>, problem: impl Into<String>) {
        self.errors.push(finding(key, value, problem.into()));
    }

    pub(crate) fn warning(&mut self, key: &str, value: Option<&str>, problem: impl Into<String>) {
        self.warnings.push(finding(key, value, problem.into()));
    }

    /// An error about element `item` of the list at `key`.
    pub(crate) fn error_in_list(&mut self, key: &str, item: usize, problem: impl Into<String>) {
        let mut finding = finding(key, None, problem.into());
        finding.item = Some(item);
        self.errors.push(finding);
    }
}

fn finding(key: &str, value: Option<&str>, problem: String) -> Finding {
    let message = match value {
        Some(value) => format!("{} = {value}: {problem}", key_label(key)),
        None => format!("{}: {problem}", key_label(key)),
    };
    Finding { key: key.to_string(), item: None, value: value.map(str::to_string), problem, message }
}

/// How a dotted key path is shown to people: `hostname`, `[agent.auth] server`, `[edge_ca]`.
pub fn key_label(path: &str) -> String {
    match path.rsplit_once('.') {
        _ if TABLES.contains(&path) => format!("[{path}]"),
        Some((table, key)) => format!("[{table}] {key}"),
        None => path.to_string(),
    }
}

/// Keys that are tables, so a finding about the whole table reads `[edge_ca]`, `[agent.auth]`.
const TABLES: &[&str] = &[
    "provisioning",
    "upstream",
    "proxy",
    "agent",
    "agent.auth",
    "image_garbage_collection",
    "logging",
    "dns",
    "edge_ca",
    "edge_ca.generate",
];

/// A value quoted the way it was written in the TOML file (control characters escaped).
pub(crate) fn quoted(value: &str) -> String {
    format!("\"{}\"", value.escape_debug())
}

/// Check every rule on `answers`: control characters in any string first, then each section's
/// validator in file order. Pure: the same answers always give the same findings.
pub fn validate(answers: &Answers) -> Findings {
    let (mut f, mut broken_keys) = validate_control_characters(answers);
    // A placeholder an export left for a secret: the file is refused until it is filled in.
    let (unfilled, placeholder_keys) = crate::export::placeholder::unfilled_placeholders(answers);
    f.extend(unfilled);
    broken_keys.extend(placeholder_keys);
    let mut sections = Findings::default();
    if let Some(hostname) = &answers.hostname {
        sections.extend(validate_hostname(hostname));
    }
    if let Some(p) = &answers.provisioning {
        sections.extend(validate_provisioning(p));
    }
    if let Some(proxy) = &answers.proxy {
        sections.extend(validate_proxy(proxy));
        if let Some(upstream) = &answers.upstream {
            sections.extend(validate_proxy_protocol(upstream.protocol));
        }
    }
    if let Some(agent) = &answers.agent {
        sections.extend(validate_agent(agent));
    }
    if let Some(gc) = &answers.image_garbage_collection {
        sections.extend(validate_image_gc(gc));
    }
    if let Some(logging) = &answers.logging {
        sections.extend(validate_logging(logging));
    }
    if let Some(dns) = &answers.dns {
        sections.extend(validate_dns(dns));
    }
    if let Some(ca) = &answers.edge_ca {
        sections.extend(validate_edge_ca(ca));
    }
    // A value with a control character is wrong whatever else is said about it; one finding
    // per key reads better than the same value refused three ways.
    sections.errors.retain(|finding| !broken_keys.contains(&finding.key));
    sections.warnings.retain(|finding| !broken_keys.contains(&finding.key));
    f.extend(sections);
    f
}

/// Builders and assertions the sections' tests share.
#[cfg(test)]
mod test_support {
    pub use super::{Finding, Findings, key_label, validate};
    pub use crate::answers::*;

    pub(super) const SAS: &str = "c2VjcmV0LWRldmljZS1rZXktZm9yLXRlc3Rz";

    pub(super) fn manual(cs: &str) -> Provisioning {
        Provisioning {
            source: ProvisioningSource::Manual,
            connection_string: Some(cs.to_string()),
            global_endpoint: None,
            id_scope: None,
            attestation: None,
            registration_id: None,
            symmetric_key: None,
            identity_cert: None,
            identity_pk: None,
        }
    }

    pub(super) fn dps(attestation: Attestation) -> Provisioning {
        Provisioning {
            source: ProvisioningSource::Dps,
            connection_string: None,
            global_endpoint: Some("https://global.azure-devices-provisioning.net".into()),
            id_scope: Some("0ne00ABCDEF".into()),
            attestation: Some(attestation),
            registration_id: None,
            symmetric_key: None,
            identity_cert: None,
            identity_pk: None,
        }
    }

    pub(super) fn good_cs() -> String {
        format!("HostName=hub.azure-devices.net;DeviceId=gw1;SharedAccessKey={SAS}")
    }

    pub(super) fn with_hostname(h: &str) -> Answers {
        Answers { hostname: Some(h.into()), ..Answers::default() }
    }
    pub(super) fn with_provisioning(p: Provisioning) -> Answers {
        Answers { provisioning: Some(p), ..Answers::default() }
    }
    pub(super) fn with_proxy(url: &str, no_proxy: Option<&str>) -> Answers {
        Answers {
            proxy: Some(Proxy { url: url.into(), no_proxy: no_proxy.map(Into::into) }),
            ..Answers::default()
        }
    }
    pub(super) fn with_image(image: &str) -> Answers {
        Answers {
            agent: Some(Agent { image: Some(image.into()), auth: None, host_storage: None }),
            ..Answers::default()
        }
    }
    pub(super) fn with_auth(image: Option<&str>, auth: RegistryAuth) -> Answers {
        Answers {
            agent: Some(Agent { image: image.map(Into::into), auth: Some(auth), host_storage: None }),
            ..Answers::default()
        }
    }
    pub(super) fn auth(server: &str, password: Option<&str>, password_file: Option<&str>) -> RegistryAuth {
        RegistryAuth {
            server: server.into(),
            username: "puller".into(),
            password: password.map(Into::into),
            password_file: password_file.map(Into::into),
        }
    }
    pub(super) fn gc(recurrence: Option<&str>, threshold: Option<&str>, time: Option<&str>) -> Answers {
        Answers {
            image_garbage_collection: Some(ImageGarbageCollection {
                enabled: Some(true),
                cleanup_recurrence: recurrence.map(Into::into),
                image_age_cleanup_threshold: threshold.map(Into::into),
                cleanup_time: time.map(Into::into),
            }),
            ..Answers::default()
        }
    }
    pub(super) fn logging(driver: LogDriver, max_size: Option<&str>, max_files: Option<u32>) -> Answers {
        Answers {
            logging: Some(Logging { driver, max_size: max_size.map(Into::into), max_files }),
            ..Answers::default()
        }
    }
    pub(super) fn dns(servers: &[&str]) -> Answers {
        Answers {
            dns: Some(Dns { servers: servers.iter().map(|s| s.to_string()).collect() }),
            ..Answers::default()
        }
    }
    pub(super) fn edge_ca(
        cert: Option<&str>,
        key: Option<&str>,
        generate: Option<GenerateEdgeCa>,
    ) -> Answers {
        Answers {
            edge_ca: Some(EdgeCa {
                cert: cert.map(Into::into),
                key: key.map(Into::into),
                trust_bundle: None,
                os_trust_store: None,
                generate,
            }),
            ..Answers::default()
        }
    }

    pub(super) fn errors(a: &Answers) -> Vec<String> {
        validate(a).errors.into_iter().map(|f| f.message).collect()
    }
    pub(super) fn warnings(a: &Answers) -> Vec<String> {
        validate(a).warnings.into_iter().map(|f| f.message).collect()
    }
    #[track_caller]
    pub(super) fn assert_valid(a: &Answers) {
        let e = errors(a);
        assert!(e.is_empty(), "unexpected errors: {e:#?}");
    }
    #[track_caller]
    pub(super) fn assert_one_error(a: &Answers, expected: &[&str]) -> String {
        let e = errors(a);
        assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
        for part in expected {
            assert!(e[0].contains(part), "{:?} does not contain {part:?}", e[0]);
        }
        e[0].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;

    #[test]
    fn empty_answers_are_valid_and_mean_no_change() {
        assert_eq!(validate(&Answers::default()), Findings::default());
    }

    #[test]
    fn findings_keep_key_value_and_problem_apart() {
        let f: Vec<Finding> = validate(&with_hostname("edge_gw")).errors;
        assert_eq!(f[0].key, "hostname");
        assert_eq!(f[0].value.as_deref(), Some("\"edge_gw\""));
        assert!(f[0].problem.starts_with("contains \"_\""), "{}", f[0].problem);
        assert_eq!(f[0].to_string(), format!("hostname = \"edge_gw\": {}", f[0].problem));
        // A secret's value is left out; a proxy URL's password is masked in it.
        let f = validate(&with_provisioning(manual("DeviceId=d"))).errors;
        assert_eq!((f[0].key.as_str(), f[0].value.as_deref()), ("provisioning.connection_string", None));
        let f = validate(&with_proxy("ftp://bob:hunter2@proxy:1", None)).errors;
        assert_eq!(f[0].value, Some(format!("\"ftp://bob:{}@proxy:1\"", crate::secrets::MASK)));
        // Each section's validator gives the same findings as the whole.
        assert_eq!(super::validate_hostname("edge_gw").errors, validate(&with_hostname("edge_gw")).errors);
    }

    #[test]
    fn key_labels_name_the_table_and_key() {
        assert_eq!(key_label("hostname"), "hostname");
        assert_eq!(key_label("edge_ca"), "[edge_ca]");
        assert_eq!(key_label("agent.auth.server"), "[agent.auth] server");
    }
}
