//! The audit log: one JSON line per apply or rollback in `/var/log/edgeprep.log`.
//!
//! Field devices are touched by many hands; the log answers "who changed what, when, and did it
//! stick" long after the terminal is gone. One self-contained JSON object per line keeps it
//! greppable and parseable, and appending (never rewriting) keeps earlier lines intact.

use std::fs::{OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use anyhow::{Context, Result};

use crate::paths::AUDIT_LOG;
use crate::root::DeviceRoot;
use crate::secrets;

/// Mode of a new audit log: it names users and commands, so only root reads it.
pub const AUDIT_LOG_MODE: u32 = 0o600;

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditEntry {
    /// RFC 3339, UTC.
    pub time: String,
    pub user: String,
    /// `apply` or `rollback`.
    pub action: String,
    /// Device paths the action wrote, created, moved or restored.
    pub files: Vec<String>,
    /// Command lines as a technician would type them.
    pub commands: Vec<String>,
    /// `applied`, `unchanged`, `rolled back`, `listed` (files written, commands only listed),
    /// or for a rollback `restored`.
    pub result: String,
    /// The backup set the action made.
    pub backup: Option<String>,
    pub error: Option<String>,
}

impl AuditEntry {
    /// Mask every string with the plan's secrets, so no secret reaches the log.
    pub fn masked(mut self, secrets: &[String]) -> Self {
        self.mask_with(secrets);
        self
    }

    fn mask_with(&mut self, secret_list: &[String]) {
        let m = |s: &mut String| *s = secrets::mask(s, secret_list);
        m(&mut self.time);
        m(&mut self.user);
        m(&mut self.action);
        self.files.iter_mut().for_each(m);
        self.commands.iter_mut().for_each(m);
        m(&mut self.result);
        self.backup.iter_mut().for_each(m);
        self.error.iter_mut().for_each(m);
    }
}

/// Append `entry` as one JSON line to `<root>/var/log/edgeprep.log`, creating the log (0600)
/// and its parents (0755) when missing.
///
/// Strings are passed through [`secrets::mask_known_secrets`] as a last net; callers holding
/// the plan's secrets mask with those first ([`AuditEntry::masked`]).
pub fn append(root: &DeviceRoot, entry: &AuditEntry) -> Result<()> {
    let mut entry = entry.clone();
    entry.mask_with(&[]);
    let mut line = serde_json::to_string(&entry).context("could not encode the audit log line")?;
    line.push('\n');

    let path = root.path(AUDIT_LOG);
    if let Some(parent) = path.parent() {
        super::atomic::create_dir_all(parent, super::atomic::PARENT_DIR_MODE)?;
    }
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(AUDIT_LOG_MODE)
        .open(&path)
        .with_context(|| format!("could not open the audit log {}", path.display()))?;
    // A new file gets exactly 0600 whatever the umask; an existing log keeps the mode its
    // administrator chose.
    if file.metadata().map(|m| m.len() == 0).unwrap_or(false) {
        file.set_permissions(Permissions::from_mode(AUDIT_LOG_MODE))
            .with_context(|| format!("could not set the mode of {}", path.display()))?;
    }
    // One write on an O_APPEND file: concurrent writers cannot interleave inside the line.
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_data())
        .with_context(|| format!("could not append to the audit log {}", path.display()))
}

/// Now, as RFC 3339 UTC (`2026-11-26T12:03:01Z`).
pub fn now_rfc3339() -> String {
    crate::timestamp::rfc3339(time::OffsetDateTime::now_utc())
}

/// Read every line of the audit log under `root` (for tests and `edgeprep` diagnostics).
pub fn read_all(root: &DeviceRoot) -> Result<Vec<AuditEntry>> {
    let path = root.path(AUDIT_LOG);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e).with_context(|| format!("could not read the audit log {}", path.display()));
        }
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}: line {} is not an audit entry", path.display(), i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn entry(result: &str) -> AuditEntry {
        AuditEntry {
            time: now_rfc3339(),
            user: "tech".into(),
            action: "apply".into(),
            files: vec!["/etc/aziot/config.toml".into()],
            commands: vec!["iotedge config apply".into()],
            result: result.into(),
            backup: Some("20261126T120301Z".into()),
            error: None,
        }
    }

    #[test]
    fn append_creates_a_0600_log_and_adds_one_line_per_call() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        append(&root, &entry("applied")).unwrap();
        append(&root, &entry("unchanged")).unwrap();
        let path = root.path(AUDIT_LOG);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
        let entries = read_all(&root).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].result, "applied");
        assert_eq!(entries[1].result, "unchanged");
    }

    #[test]
    fn masked_entries_hide_secrets_everywhere() {
        let secrets = vec!["hunter2".to_string()];
        let mut e = entry("rolled back");
        e.commands = vec!["docker login -p hunter2".into()];
        e.error = Some("denied for hunter2".into());
        let e = e.masked(&secrets);
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
    }
}
