//! The daemon.json part of the plan: the Moby log driver with explicit rotation, DNS, and no
//! `"proxies"` entry that contradicts the answered proxy (dockerd prefers daemon.json's proxy
//! over its environment, and `iotedge check` cannot see it).

use anyhow::Result;
use serde_json::{Value, json};

use super::{FileAction, FileChange, Plan, Visibility};
use crate::answers::{Answers, LogDriver, Proxy};
use crate::device::DeviceState;
use crate::edit::DaemonJson;
use crate::paths;
use crate::plan::secret_files::url_passwords;

/// daemon.json's proxy keys and the environment variable each stands for.
const PROXY_KEYS: [(&str, &str); 3] =
    [("http-proxy", "http_proxy"), ("https-proxy", "https_proxy"), ("no-proxy", "no_proxy")];

/// Rotation defaults written when the answers name a driver but no sizes: `iotedge check`
/// warns unless both are explicit, even for `local` which rotates on its own.
pub const DEFAULT_MAX_SIZE: &str = "10m";
pub const DEFAULT_MAX_FILES: u32 = 3;

/// Plan the daemon.json edits; returns whether the file changes.
pub fn plan_daemon_json(state: &DeviceState, answers: &Answers, plan: &mut Plan) -> Result<bool> {
    if answers.logging.is_none() && answers.dns.is_none() && answers.proxy.is_none() {
        return Ok(false);
    }
    // With only a proxy answered, daemon.json matters only if it has a "proxies" entry: a
    // file edgeprep would not otherwise touch is not an error for this plan.
    let only_proxy = answers.logging.is_none() && answers.dns.is_none();
    let existing = match state.text(paths::DAEMON_JSON) {
        Err(_) if only_proxy => return Ok(false),
        other => other?,
    };
    let mut doc = match existing {
        Some(text) => match DaemonJson::parse(text, paths::DAEMON_JSON) {
            Err(_) if only_proxy => return Ok(false),
            parsed => parsed?,
        },
        None if only_proxy => return Ok(false),
        None => DaemonJson::empty(),
    };
    let mut topics = Vec::new();
    if let Some(logging) = &answers.logging {
        topics.push("container log driver and rotation");
        doc.set(&["log-driver"], json!(logging.driver.as_str()));
        match logging.driver {
            LogDriver::Local | LogDriver::JsonFile => {
                let size = logging.max_size.as_deref().unwrap_or(DEFAULT_MAX_SIZE);
                let files = logging.max_files.unwrap_or(DEFAULT_MAX_FILES);
                // Strings, not numbers: dockerd refuses to start on `"max-file": 3`.
                doc.set(&["log-opts", "max-size"], json!(size));
                doc.set(&["log-opts", "max-file"], json!(files.to_string()));
            }
            LogDriver::Journald => {
                // journald rejects the file drivers' options, and dockerd would not start.
                for option in ["max-size", "max-file", "compress"] {
                    doc.remove(&["log-opts", option]);
                }
                if doc.get(&["log-opts"]).is_some_and(|opts| opts.as_object().is_some_and(|o| o.is_empty())) {
                    doc.remove(&["log-opts"]);
                }
            }
        }
    }
    if let Some(dns) = &answers.dns {
        topics.push("DNS servers for containers");
        let servers: Vec<Value> = dns.servers.iter().map(|s| json!(s)).collect();
        doc.set(&["dns"], Value::Array(servers));
    }
    if let Some(proxy) = &answers.proxy {
        let removed = remove_conflicting_proxies(&mut doc, proxy, plan);
        if !removed.is_empty() {
            topics.push("a \"proxies\" entry that overrides the answered proxy is taken out");
            plan.notes.push(format!(
                "{} set {} to something other than the answered proxy, and dockerd prefers it to the environment; \
                 edgeprep takes it out so docker uses the proxy of its drop-in.",
                paths::DAEMON_JSON,
                removed.iter().map(|k| format!("\"proxies\".\"{k}\"")).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if topics.is_empty() {
        return Ok(false);
    }
    let after = doc.render();
    if existing == Some(after.as_str()) {
        return Ok(false);
    }
    plan.files.push(FileChange {
        path: paths::DAEMON_JSON.to_string(),
        before: existing.map(|t| t.as_bytes().to_vec()),
        action: FileAction::Write(after.into_bytes()),
        ownership: None,
        holds_secrets: existing.is_some_and(|t| !url_passwords(t).is_empty()),
        visibility: Visibility::Diff,
        reason: format!("The container engine's settings: {}.", topics.join(", ")),
    });
    Ok(true)
}

/// Take out the `"proxies"` keys that differ from the answers (the whole object when nothing
/// is left in it); returns the keys removed. Their old passwords join the plan's secrets so the
/// diff masks them.
fn remove_conflicting_proxies(doc: &mut DaemonJson, proxy: &Proxy, plan: &mut Plan) -> Vec<&'static str> {
    let mut removed = Vec::new();
    for (key, variable) in PROXY_KEYS {
        let Some(current) = doc.get(&["proxies", key]) else { continue };
        let want = super::proxy::expected(paths::DOCKER_UNIT, variable, proxy);
        if want.is_none() || current.as_str() == want {
            continue;
        }
        if let Some(old) = current.as_str() {
            plan.secrets.extend(url_passwords(old));
        }
        doc.remove(&["proxies", key]);
        removed.push(key);
    }
    if !removed.is_empty()
        && doc.get(&["proxies"]).is_some_and(|p| p.as_object().is_some_and(|o| o.is_empty()))
    {
        doc.remove(&["proxies"]);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(url: &str, no_proxy: Option<&str>) -> Answers {
        Answers {
            proxy: Some(Proxy { url: url.into(), no_proxy: no_proxy.map(Into::into) }),
            ..Answers::default()
        }
    }

    fn plan_for(daemon_json: &str, answers: &Answers) -> Plan {
        let state = DeviceState::default().with_file(paths::DAEMON_JSON, daemon_json);
        let mut plan = Plan::default();
        plan_daemon_json(&state, answers, &mut plan).unwrap();
        plan
    }

    #[test]
    fn conflicting_proxies_are_taken_out_and_old_passwords_masked() {
        let text = "{\n  \"log-driver\": \"local\",\n  \"proxies\": {\n    \"https-proxy\": \"http://bob:old-pass@old:1\",\n    \"no-proxy\": \"localhost\"\n  }\n}\n";
        let plan = plan_for(text, &answers("http://new:3128", Some("localhost")));
        let FileAction::Write(after) = &plan.files[0].action else { panic!("expected a write") };
        let after: Value = serde_json::from_slice(after).unwrap();
        assert_eq!(after["proxies"], json!({ "no-proxy": "localhost" }), "a matching key stays");
        assert_eq!(after["log-driver"], "local");
        assert!(plan.secrets.contains(&"old-pass".to_string()));
        assert!(plan.files[0].holds_secrets);
        assert!(plan.notes[0].contains("\"proxies\".\"https-proxy\""));
    }

    #[test]
    fn an_emptied_proxies_object_goes_and_matching_ones_stay_untouched() {
        let text = "{\"proxies\": {\"http-proxy\": \"http://old:1\"}}\n";
        let plan = plan_for(text, &answers("http://new:3128", None));
        let FileAction::Write(after) = &plan.files[0].action else { panic!("expected a write") };
        let after: Value = serde_json::from_slice(after).unwrap();
        assert_eq!(after.get("proxies"), None);

        let same = "{\"proxies\": {\"http-proxy\": \"http://new:3128\", \"no-proxy\": \"other\"}}\n";
        assert!(plan_for(same, &answers("http://new:3128", None)).files.is_empty());
    }

    #[test]
    fn a_proxy_alone_creates_no_daemon_json() {
        let mut plan = Plan::default();
        plan_daemon_json(&DeviceState::default(), &answers("http://p:1", None), &mut plan).unwrap();
        assert!(plan.files.is_empty());
    }
}
