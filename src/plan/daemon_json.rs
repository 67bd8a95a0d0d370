//! The daemon.json part of the plan: the Moby log driver with explicit rotation, and DNS.

use anyhow::Result;
use serde_json::{Value, json};

use super::{FileAction, FileChange, Plan, Visibility};
use crate::answers::{Answers, LogDriver};
use crate::device::DeviceState;
use crate::edit::DaemonJson;
use crate::paths;

/// Rotation defaults written when the answers name a driver but no sizes: `iotedge check`
/// warns unless both are explicit, even for `local` which rotates on its own.
pub const DEFAULT_MAX_SIZE: &str = "10m";
pub const DEFAULT_MAX_FILES: u32 = 3;

/// Plan the daemon.json edits; returns whether the file changes.
pub fn plan_daemon_json(state: &DeviceState, answers: &Answers, plan: &mut Plan) -> Result<bool> {
    if answers.logging.is_none() && answers.dns.is_none() {
        return Ok(false);
    }
    let existing = state.text(paths::DAEMON_JSON)?;
    let mut doc = match existing {
        Some(text) => DaemonJson::parse(text, paths::DAEMON_JSON)?,
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
    let after = doc.render();
    if existing == Some(after.as_str()) {
        return Ok(false);
    }
    plan.files.push(FileChange {
        path: paths::DAEMON_JSON.to_string(),
        before: existing.map(|t| t.as_bytes().to_vec()),
        action: FileAction::Write(after.into_bytes()),
        ownership: None,
        holds_secrets: false,
        visibility: Visibility::Diff,
        reason: format!("The container engine's settings: {}.", topics.join(", ")),
    });
    Ok(true)
}
