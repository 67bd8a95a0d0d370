//! What the device has now, as the wizard shows it: the production checklist as the checks
//! engine judges it (the same results `edgeprep check` prints, so the two cannot disagree),
//! and the current value beside each field. Read from facts already gathered, so tests build
//! it by hand. Secrets are masked here, before any text can reach a screen.

use std::collections::BTreeMap;

use crate::certs::status::{EdgeCaKind, EdgeCaStatus};
use crate::checks::{self, CheckResult, Selection, Status};
use crate::device::DeviceState;
use crate::paths;
use crate::secrets::mask_known_secrets;

/// A Edge CA from files with fewer days left than this preselects "Rotate the Edge CA".
pub const ROTATE_WITHIN_DAYS: i64 = 30;

/// The device as the wizard describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// How the device is named in the title: its hostname, or the root it lives under.
    pub device: String,
    /// Field key → the device's value, secrets masked.
    pub current: BTreeMap<&'static str, String>,
    pub provisioned: bool,
    /// The Edge CA in one line (quickstart, from files with days left, issued, none).
    pub edge_ca: String,
    /// The device's own Edge CA (from files) expires within [`ROTATE_WITHIN_DAYS`].
    pub edge_ca_due: bool,
    /// The device keeps its own Edge CA from files that are not due: no need to change it.
    pub edge_ca_from_files: bool,
    /// The checks engine's results, in `edgeprep check`'s order.
    pub checks: Vec<CheckResult>,
}

impl Facts {
    pub fn read(state: &DeviceState, edge_ca: Option<&EdgeCaStatus>, device: &str) -> Self {
        let config: toml::Table =
            text(state, paths::CONFIG_TOML).and_then(|t| t.parse().ok()).unwrap_or_default();
        let daemon: serde_json::Value =
            text(state, paths::DAEMON_JSON).and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
        let mut current = BTreeMap::new();
        let mut put = |key: &'static str, value: Option<String>| {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                current.insert(key, mask_known_secrets(&v));
            }
        };
        let get = |path: &[&str]| -> Option<String> {
            let mut node = config.get(path[0])?;
            for part in &path[1..] {
                node = node.get(part)?;
            }
            Some(match node {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        put("hostname", get(&["hostname"]).or_else(|| state.os_hostname.clone()));
        put("provisioning.source", get(&["provisioning", "source"]));
        put("provisioning.connection_string", get(&["provisioning", "connection_string"]));
        put("provisioning.id_scope", get(&["provisioning", "id_scope"]));
        put("provisioning.global_endpoint", get(&["provisioning", "global_endpoint"]));
        put("upstream.protocol", get(&["agent", "env", "UpstreamProtocol"]));
        let agent_proxy =
            ["https_proxy", "HTTPS_PROXY", "Https_Proxy"].iter().find_map(|k| get(&["agent", "env", k]));
        put("proxy.url", agent_proxy.clone());
        put("agent.image", get(&["agent", "config", "image"]));
        put("agent.auth.server", get(&["agent", "config", "auth", "serveraddress"]));
        put("agent.auth.username", get(&["agent", "config", "auth", "username"]));
        put("agent.host_storage", host_storage(&config));
        put("allow_elevated_docker_permissions", get(&["allow_elevated_docker_permissions"]));
        for key in ["enabled", "cleanup_recurrence", "image_age_cleanup_threshold", "cleanup_time"] {
            let field: &'static str = match key {
                "enabled" => "image_garbage_collection.enabled",
                "cleanup_recurrence" => "image_garbage_collection.cleanup_recurrence",
                "image_age_cleanup_threshold" => "image_garbage_collection.image_age_cleanup_threshold",
                _ => "image_garbage_collection.cleanup_time",
            };
            put(field, get(&["image_garbage_collection", key]));
        }
        let json_text = |v: Option<&serde_json::Value>| {
            v.map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        };
        put("logging.driver", json_text(daemon.get("log-driver")));
        put("logging.max_size", json_text(daemon.get("log-opts").and_then(|o| o.get("max-size"))));
        put("logging.max_files", json_text(daemon.get("log-opts").and_then(|o| o.get("max-file"))));
        let dns = daemon
            .get("dns")
            .and_then(|d| d.as_array())
            .map(|servers| servers.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(", "));
        put("dns.servers", dns);
        put("edge_ca.cert", get(&["edge_ca", "cert"]));

        let (edge_ca, edge_ca_due, edge_ca_from_files) = match edge_ca {
            None => ("unknown (config.toml could not be read)".to_string(), false, false),
            Some(status) => {
                let due = status.kind == EdgeCaKind::File
                    && status.days_left.is_some_and(|d| d <= ROTATE_WITHIN_DAYS);
                let line = match (status.kind, status.days_left) {
                    (EdgeCaKind::File, Some(days)) => format!("from files, {days} days left"),
                    (EdgeCaKind::File, None) => "from files (certificate unreadable)".to_string(),
                    (EdgeCaKind::Quickstart, _) => "quickstart (90 days, not for production)".to_string(),
                    (EdgeCaKind::Issued, _) => "issued and renewed by IoT Edge".to_string(),
                    (EdgeCaKind::None, _) => "none: IoT Edge is not configured".to_string(),
                };
                (line, due, status.kind == EdgeCaKind::File && !due)
            }
        };
        current.insert("edge_ca.generate", edge_ca.clone());
        Self {
            device: device.to_string(),
            provisioned: config.get("provisioning").is_some(),
            current,
            edge_ca,
            edge_ca_due,
            edge_ca_from_files,
            checks: Vec::new(),
        }
    }

    /// The device as the checks engine sees it: the same facts `edgeprep check` gathers (once,
    /// by the caller), judged by the same checks, plus the current value of every field.
    pub fn judged(gathered: &checks::Facts, edge_ca: Option<&EdgeCaStatus>, device: &str) -> Self {
        let mut facts = Self::read(&gathered.state, edge_ca, device);
        facts.checks = checks::run(gathered, &Selection::default()).results;
        facts
    }

    /// The device's value for a field, if it has one.
    pub fn current(&self, key: &str) -> Option<&str> {
        self.current.get(key).map(String::as_str)
    }

    /// The checks that judge the device (skipped ones and mere information left out): what
    /// the Overview lists.
    pub fn checklist(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| matches!(c.status, Status::Ok | Status::Warning | Status::Error))
    }
}

pub use crate::checks::render::symbol;

/// The host directory that keeps edgeAgent's state, by the rule `edgeprep check` and the plan
/// use.
fn host_storage(config: &toml::Table) -> Option<String> {
    use crate::plan::host_storage::{is_storage_folder_key, persisted_by};
    let agent = config.get("agent")?;
    let folder = agent
        .get("env")
        .and_then(toml::Value::as_table)
        .and_then(|env| env.iter().find(|(k, _)| is_storage_folder_key(k)))
        .and_then(|(_, v)| v.as_str());
    let binds: Vec<String> = agent
        .get("config")
        .and_then(|c| c.get("createOptions"))
        .and_then(|c| c.get("HostConfig"))
        .and_then(|h| h.get("Binds"))
        .and_then(toml::Value::as_array)
        .map(|b| b.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    persisted_by(folder, &binds).1.map(|(host, _)| host.to_string())
}

fn text<'a>(state: &'a DeviceState, path: &str) -> Option<&'a str> {
    state.text(path).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "hostname = \"gw\"\n[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=hub.azure-devices.net;DeviceId=gw;SharedAccessKey=c2VjcmV0\"\n[agent.env]\nhttps_proxy = \"http://u:topsecret@proxy:3128\"\n";

    #[test]
    fn connection_strings_show_hub_and_device_but_never_the_key() {
        let state = DeviceState::default().with_file(paths::CONFIG_TOML, CONFIG);
        let facts = Facts::read(&state, None, "gw");
        let shown = facts.current("provisioning.connection_string").unwrap();
        assert!(shown.contains("HostName=hub.azure-devices.net") && shown.contains("DeviceId=gw"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(!facts.current("proxy.url").unwrap().contains("topsecret"));
    }

    fn judged(config: &str) -> Facts {
        let state = DeviceState::default().with_file(paths::CONFIG_TOML, config);
        let gathered =
            checks::Facts::new(state, checks::probe::Probe::default(), time::OffsetDateTime::UNIX_EPOCH);
        Facts::judged(&gathered, None, "gw")
    }

    #[test]
    fn the_checklist_is_the_check_engines_verdict_without_skipped_or_information() {
        let facts = judged(CONFIG);
        let gathered = checks::Facts::new(
            DeviceState::default().with_file(paths::CONFIG_TOML, CONFIG),
            checks::probe::Probe::default(),
            time::OffsetDateTime::UNIX_EPOCH,
        );
        let report = checks::run(&gathered, &Selection::default());
        let listed: Vec<(&str, Status)> = facts.checklist().map(|c| (c.id, c.status)).collect();
        let judged: Vec<(&str, Status)> = report
            .results
            .iter()
            .filter(|r| !matches!(r.status, Status::Skipped | Status::Info))
            .map(|r| (r.id, r.status))
            .collect();
        assert_eq!(listed, judged);
        assert!(listed.contains(&("upstream-protocol", Status::Warning)), "{listed:?}");
        assert!(facts.checklist().all(|c| c.details.iter().all(|d| !d.contains("topsecret"))));
        assert!(facts.provisioned);
    }

    #[test]
    fn the_storage_and_privileges_steps_show_what_the_device_has_by_the_checks_rule() {
        let config = "allow_elevated_docker_permissions = false\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = \"i\"\ncreateOptions = { HostConfig = { Binds = [\"/srv/a:/a\", \"/data/agent:/iotedge/storage\"] } }\n[agent.env]\nSTORAGEFOLDER = \"/iotedge/storage\"\n";
        let facts = Facts::read(&DeviceState::default().with_file(paths::CONFIG_TOML, config), None, "gw");
        assert_eq!(facts.current("agent.host_storage"), Some("/data/agent"));
        assert_eq!(facts.current("allow_elevated_docker_permissions"), Some("false"));
        // A bind without storageFolder pointing into it keeps nothing: not set.
        let facts = Facts::read(&DeviceState::default().with_file(paths::CONFIG_TOML, CONFIG), None, "gw");
        assert_eq!(facts.current("agent.host_storage"), None);
    }

    #[test]
    fn an_unconfigured_device_is_not_provisioned_and_the_checks_say_so() {
        let facts = Facts::judged(
            &checks::Facts::new(
                DeviceState::default(),
                checks::probe::Probe::default(),
                time::OffsetDateTime::UNIX_EPOCH,
            ),
            None,
            "x",
        );
        assert!(!facts.provisioned);
        let well_formed = facts.checks.iter().find(|c| c.id == "config-well-formed").unwrap();
        assert_eq!(well_formed.status, Status::Error);
    }
}
