//! Deployment manifests (`edgeprep manifest lint`): parsing one as IoT Hub takes it, the lint
//! rules of the production checklist's deployment items ([`rules`]), and the safe in-place fixes
//! ([`fix`]).
//!
//! A manifest lives on a technician's laptop, not on the device, so its path is a plain host
//! path; only what the manifest is judged against (the device's upstream protocol, proxy and
//! container-engine log settings) comes from the device under `--root`.

pub mod fix;
pub mod rules;

use anyhow::Result;
use serde_json::{Map, Value};

use crate::answers::UpstreamProtocol;
use crate::checks::Facts;
use crate::checks::probe::Parsed;
use crate::error::input_error;

/// A manifest can hold a deployment's whole desired state; real ones are a few kilobytes and
/// IoT Hub caps the `$edgeAgent` twin at 32 KB.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// A parsed manifest: its text (kept for `--fix`) and where `modulesContent` sits in it.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub text: String,
    pub value: Value,
    /// Keys from the document's top to `modulesContent` (empty when the document is it).
    pub prefix: Vec<String>,
}

impl Manifest {
    /// Parse `text`. Invalid JSON is an input error (exit 2) naming `path_for_errors`, the line
    /// and column; so is a document without `$edgeAgent` and `$edgeHub`, which IoT Hub would
    /// refuse as a deployment.
    pub fn parse(text: &str, path_for_errors: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            let full = e.to_string();
            let what = full.rsplit_once(" at line ").map_or(full.as_str(), |(what, _)| what);
            input_error(format!(
                "{path_for_errors}: line {}, column {}: invalid JSON ({what}); fix the syntax, IoT Hub refuses such a deployment",
                e.line(),
                e.column()
            ))
        })?;
        // serde_json keeps the last of duplicate keys silently; the CST editor names them.
        // After serde_json accepted the text, a duplicate is all it can still refuse.
        if let Err(err) = crate::edit::json::DaemonJson::parse(text, path_for_errors) {
            let msg = err.to_string();
            let msg = match msg.split_once("; keep only one of them") {
                Some((head, _)) => {
                    format!("{head}; keep only one of them: which one a deployment would get is not defined")
                }
                None => msg,
            };
            return Err(input_error(msg));
        }
        let prefix = find_modules_content(&value).ok_or_else(|| {
            input_error(format!(
                "{path_for_errors}: no modulesContent with $edgeAgent and $edgeHub found; give a deployment manifest \
                 ({{\"modulesContent\": {{\"$edgeAgent\": ..., \"$edgeHub\": ...}}}}, with or without $schema-template)"
            ))
        })?;
        Ok(Self { text: text.to_string(), value, prefix })
    }

    /// `modulesContent`.
    pub fn modules_content(&self) -> &Map<String, Value> {
        let mut v = &self.value;
        for key in &self.prefix {
            v = &v[key.as_str()];
        }
        // find_modules_content only returns prefixes that lead to an object
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        v.as_object().unwrap_or_else(|| EMPTY.get_or_init(Map::new))
    }

    /// `$edgeAgent`'s desired properties (the whole deployment of modules).
    pub fn agent_desired(&self) -> Option<&Value> {
        self.modules_content().get("$edgeAgent")?.get("properties.desired")
    }

    /// `$edgeHub`'s desired properties (routes, store and forward).
    pub fn hub_desired(&self) -> Option<&Value> {
        self.modules_content().get("$edgeHub")?.get("properties.desired")
    }

    /// The runtime module `edgeAgent` or `edgeHub`.
    pub fn system_module(&self, name: &str) -> Option<&Value> {
        self.agent_desired()?.get("systemModules")?.get(name)
    }

    /// Custom modules, by name, in the manifest's order.
    pub fn custom_modules(&self) -> Vec<(&str, &Value)> {
        self.agent_desired()
            .and_then(|d| d.get("modules"))
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
            .unwrap_or_default()
    }

    /// Every module, runtime modules first.
    pub fn all_modules(&self) -> Vec<(&str, &Value)> {
        let mut all: Vec<(&str, &Value)> =
            ["edgeAgent", "edgeHub"].into_iter().filter_map(|n| Some((n, self.system_module(n)?))).collect();
        all.extend(self.custom_modules());
        all
    }

    /// The key path from the document's top to a runtime module's `env`.
    pub fn env_path(&self, module: &str) -> Vec<String> {
        let mut path = self.prefix.clone();
        path.extend(
            ["$edgeAgent", "properties.desired", "systemModules", module, "env"]
                .iter()
                .map(|s| s.to_string()),
        );
        path
    }
}

/// Where `modulesContent` is: the top (`{"modulesContent": ...}`, the `$schema-template` form),
/// under `content` (what `az iot edge deployment show` prints), or the document itself.
fn find_modules_content(value: &Value) -> Option<Vec<String>> {
    let is_modules_content =
        |v: &Value| v.as_object().is_some_and(|m| m.contains_key("$edgeAgent") && m.contains_key("$edgeHub"));
    if value.get("modulesContent").is_some_and(is_modules_content) {
        return Some(vec!["modulesContent".into()]);
    }
    if value.get("content").and_then(|c| c.get("modulesContent")).is_some_and(is_modules_content) {
        return Some(vec!["content".into(), "modulesContent".into()]);
    }
    is_modules_content(value).then(Vec::new)
}

/// A module's environment variable (`"env": {"NAME": {"value": ...}}`), found in any case as
/// .NET's configuration does; numbers and booleans are returned as text.
pub fn env_value(module: &Value, name: &str) -> Option<String> {
    let env = module.get("env")?.as_object()?;
    let (_, entry) = env.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))?;
    match entry.get("value")? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// What the manifest is judged against: the device's choices, when known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceFacts {
    /// The upstream protocol the device uses (`--device-protocol`, else `[agent.env]`).
    pub protocol: Option<UpstreamProtocol>,
    /// Where `protocol` came from, for messages.
    pub protocol_source: Option<String>,
    /// The device's `https_proxy` (`[agent.env]`), when it uses one.
    pub proxy: Option<String>,
    /// Whether the device's container engine has a log configuration (a `log-driver` in
    /// daemon.json); `None` when daemon.json is not known.
    pub engine_logs: Option<bool>,
    /// Whether a device was read at all (its config.toml exists).
    pub device_known: bool,
}

impl DeviceFacts {
    /// Facts from the device's files (see [`Facts`]) and the `--device-protocol` override.
    pub fn from_device(facts: Option<&Facts>, protocol_override: Option<UpstreamProtocol>) -> Self {
        let mut out = Self::default();
        if let Some(facts) = facts {
            if let Parsed::Ok(_) = &facts.config {
                out.device_known = true;
                let env = facts.agent_env();
                if let Some(p) = env.get("UpstreamProtocol").and_then(|p| UpstreamProtocol::parse(p)) {
                    out.protocol = Some(p);
                    out.protocol_source = Some("the device's [agent.env]".into());
                }
                out.proxy = env
                    .iter()
                    .find(|(k, v)| k.eq_ignore_ascii_case("https_proxy") && !v.trim().is_empty())
                    .map(|(_, v)| v.clone());
            }
            out.engine_logs = match &facts.daemon {
                Parsed::Ok(d) => Some(d.get("log-driver").is_some()),
                _ => None,
            };
        }
        if let Some(p) = protocol_override {
            out.protocol = Some(p);
            out.protocol_source = Some("--device-protocol".into());
        }
        out
    }
}
