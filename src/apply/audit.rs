//! The audit log: one JSON line per apply or rollback in `/var/log/edgeprep.log`.
//!
//! Field devices are touched by many hands; the log answers "who changed what, when, and did it
//! stick" long after the terminal is gone. One self-contained JSON object per line keeps it
//! greppable and parseable, and appending (never rewriting) keeps earlier lines intact.

use std::fs::{File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::{Context, Result};
use rustix::fs::{FileType, Mode, OFlags, fstat, open};
use rustix::io::Errno;

use crate::error::input_error;

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

/// The audit log, open for appending. Opened before apply changes anything, so a log that
/// cannot be written stops the apply with nothing changed instead of after the fact.
#[derive(Debug)]
pub struct AuditLog {
    file: File,
    path: PathBuf,
}

impl AuditLog {
    /// Open (creating 0600, parents 0755) `<root>/var/log/edgeprep.log` for appending.
    ///
    /// The log sits in a directory other users may write to (group `syslog` on Ubuntu), so it
    /// is opened without following a symlink and must be a regular file owned by the user
    /// edgeprep runs as; otherwise root would append to whatever the link points at (say
    /// /etc/sudoers). Every refusal is bad input (exit 2) naming the file.
    pub fn open(root: &DeviceRoot) -> Result<Self> {
        let path = audit_log_path(root);
        let refuse = |why: String| {
            input_error(format!(
                "the audit log {} {why}; nothing was changed. Fix it (or remove it: edgeprep creates a new one) and try again",
                path.display()
            ))
        };
        if let Some(parent) = path.parent() {
            super::atomic::create_dir_all(parent, super::atomic::PARENT_DIR_MODE)
                .map_err(|e| refuse(format!("cannot be created ({e:#})")))?;
        }
        let fd = open(
            &path,
            OFlags::CREATE | OFlags::WRONLY | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(AUDIT_LOG_MODE),
        )
        .map_err(|e| match e {
            Errno::LOOP => refuse("is a symlink, which edgeprep does not follow".to_string()),
            e => refuse(format!("cannot be opened for writing ({})", std::io::Error::from(e))),
        })?;
        let stat =
            fstat(&fd).map_err(|e| refuse(format!("cannot be inspected ({})", std::io::Error::from(e))))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(refuse("is not a regular file".to_string()));
        }
        let euid = rustix::process::geteuid().as_raw();
        if stat.st_uid != euid {
            return Err(refuse(format!(
                "is owned by uid {}, not by uid {euid} that edgeprep runs as",
                stat.st_uid
            )));
        }
        let file = File::from(fd);
        // A new file gets exactly 0600 whatever the umask; an existing log keeps the mode its
        // administrator chose.
        if stat.st_size == 0 {
            file.set_permissions(Permissions::from_mode(AUDIT_LOG_MODE))
                .map_err(|e| refuse(format!("cannot be given mode 0600 ({e})")))?;
        }
        Ok(Self { file, path })
    }

    /// Append `entry` as one JSON line and flush it to disk.
    ///
    /// Strings are passed through [`secrets::mask_known_secrets`] as a last net; callers
    /// holding the plan's secrets mask with those first ([`AuditEntry::masked`]).
    pub fn append(&mut self, entry: &AuditEntry) -> Result<()> {
        let mut entry = entry.clone();
        entry.mask_with(&[]);
        let mut line = serde_json::to_string(&entry).context("could not encode the audit log line")?;
        line.push('\n');
        // One write on an O_APPEND file: concurrent writers cannot interleave inside the line.
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("could not append to the audit log {}", self.path.display()))
    }
}

/// Open the log ([`AuditLog::open`]) and append `entry`.
pub fn append(root: &DeviceRoot, entry: &AuditEntry) -> Result<()> {
    AuditLog::open(root)?.append(entry)
}

/// The host path of [`AUDIT_LOG`], `/var/log` resolved inside the root.
fn audit_log_path(root: &DeviceRoot) -> std::path::PathBuf {
    let (dir, name) = AUDIT_LOG.rsplit_once('/').unwrap_or(("/", AUDIT_LOG));
    root.own_state_path(dir, name)
}

/// Now, as RFC 3339 UTC (`2026-11-26T12:03:01Z`).
pub fn now_rfc3339() -> String {
    crate::timestamp::rfc3339(time::OffsetDateTime::now_utc())
}

/// Read every line of the audit log under `root` (for tests and `edgeprep` diagnostics).
pub fn read_all(root: &DeviceRoot) -> Result<Vec<AuditEntry>> {
    let path = audit_log_path(root);
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
    fn a_symlink_at_the_log_path_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        let target = dir.path().join("sudoers");
        std::fs::write(&target, b"root ALL=(ALL) ALL\n").unwrap();
        std::fs::create_dir_all(root.path("/var/log")).unwrap();
        std::os::unix::fs::symlink(&target, root.path(AUDIT_LOG)).unwrap();
        let err = AuditLog::open(&root).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT);
        assert!(format!("{err}").contains("edgeprep.log") && format!("{err}").contains("symlink"), "{err}");
        assert!(append(&root, &entry("applied")).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"root ALL=(ALL) ALL\n");
    }

    #[test]
    fn a_log_that_is_not_a_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        std::fs::create_dir_all(root.path(AUDIT_LOG)).unwrap();
        let err = AuditLog::open(&root).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT);
    }

    #[test]
    #[cfg_attr(not(running_as_root), ignore = "needs root (chown)")]
    fn a_log_owned_by_someone_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        append(&root, &entry("applied")).unwrap();
        std::os::unix::fs::chown(root.path(AUDIT_LOG), Some(104), Some(4)).unwrap();
        let err = AuditLog::open(&root).unwrap_err();
        assert!(format!("{err}").contains("owned by uid 104"), "{err}");
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
