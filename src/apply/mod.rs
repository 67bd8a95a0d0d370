//! Carrying out a [`Plan`]: back up, write atomically, run commands, roll back on failure,
//! and append one line to the audit log.
//!
//! Order of operations, each step only after the previous one succeeded:
//!
//! 1. Preflight: every file is still as the plan saw it, and the ownership the plan asks for
//!    can be given. Nothing is written when this fails (an [`InputError`](crate::error::InputError)).
//! 2. A complete backup set of every file and directory about to change ([`backup`]).
//! 3. Directories, then files (atomic writes, [`atomic`]), in plan order.
//! 4. Commands, in plan order, through the [`CommandRunner`].
//! 5. One audit log line ([`audit`]).
//!
//! A failed write or command puts every file and directory back from the set before returning,
//! so the device is never left half-configured. Commands are not re-run on rollback: the
//! caller tells the technician what happened and what to restart.

pub mod atomic;
pub mod audit;
pub mod backup;
pub mod interrupt;
pub mod lock;

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;

use anyhow::{Context, Result};

use crate::error::input_error;
use crate::plan::{FileAction, FileChange, Plan};
use crate::root::DeviceRoot;
use crate::runner::{CommandOutput, CommandRunner, PlannedCommand};
use crate::secrets::mask;

use audit::AuditEntry;
use backup::{BackupSet, FileRecord, NewSet};

/// Mode of a new file the plan gives no ownership for.
pub const NEW_FILE_MODE: u32 = 0o644;
/// Mode of a new file that holds a secret.
pub const NEW_SECRET_FILE_MODE: u32 = 0o600;
/// At most this much of a failed command's output goes into the audit log line.
const AUDIT_ERROR_LIMIT: usize = 4000;

/// Who is applying, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `SUDO_USER` when set, else the user name.
    pub user: String,
}

impl Actor {
    /// The person behind this process: `SUDO_USER` (who ran sudo), else `USER`, else
    /// `LOGNAME`, else `uid <n>`.
    pub fn from_env() -> Self {
        let user = ["SUDO_USER", "USER", "LOGNAME"]
            .iter()
            .filter_map(|var| std::env::var(var).ok())
            .find(|name| !name.trim().is_empty())
            .unwrap_or_else(|| format!("uid {}", rustix::process::geteuid().as_raw()));
        Self { user }
    }
}

/// One command that ran (or was listed to run on the device).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CommandRecord {
    pub command: String,
    pub reason: String,
    /// False when the command was only listed ("to run on the device").
    pub ran: bool,
    pub exit_code: Option<i32>,
}

/// What an apply did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyReport {
    pub changed: bool,
    /// Device paths written, created or moved to the backup.
    pub files: Vec<String>,
    pub commands: Vec<CommandRecord>,
    /// The backup set id (`None` when nothing was changed).
    pub backup: Option<String>,
}

/// A command failed; every file was restored. Maps to exit code 1.
#[derive(Debug)]
pub struct StepFailed {
    pub command: PlannedCommand,
    pub output: CommandOutput,
    pub backup: String,
    /// The commands that had already succeeded, run again after the files were restored so
    /// the services read the restored files (e.g. `iotedge config apply` with the old
    /// config.toml). A device is never left running a configuration its files no longer say.
    pub reapplied: Vec<CommandRecord>,
}

impl std::fmt::Display for StepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` failed", self.command.display())
    }
}

impl std::error::Error for StepFailed {}

/// Apply `plan` under `root`. See the module docs for the order of operations.
///
/// Returns [`StepFailed`] (inside `anyhow`) when a command fails, after every file was restored;
/// an [`InputError`](crate::error::InputError) when the device changed since the plan was made
/// or the plan needs root; any other error after a failed write, also after restoring.
pub fn apply(
    plan: &Plan,
    root: &DeviceRoot,
    runner: &mut dyn CommandRunner,
    actor: &Actor,
) -> Result<ApplyReport> {
    let secrets = &plan.secrets;
    let files: Vec<String> = plan.files.iter().map(|f| f.path.clone()).collect();
    let command_lines: Vec<String> = plan.commands.iter().map(|c| mask(&c.display(), secrets)).collect();
    let log = ApplyLog { user: &actor.user, files: &files, commands: &command_lines, secrets };

    if plan.is_empty() {
        audit::append(root, &log.entry("unchanged", None, None))?;
        return Ok(ApplyReport { changed: false, files: Vec::new(), commands: Vec::new(), backup: None });
    }

    // Held to the end; preflight then proves nobody changed the files since the plan was made.
    let _lock = lock::DeviceLock::acquire(root)?;
    let me = Process::current();
    preflight(plan, root, me)?;

    let set = backup::create_set(
        root,
        &NewSet {
            user: &actor.user,
            action: "apply",
            commands: &command_lines,
            files: &files,
            dirs: &dirs_to_record(plan, root),
        },
    )?;

    if let Err(err) = change_files(plan, root, &set, me) {
        let (result, err) = match roll_back(root, &set) {
            Ok(()) => (
                "rolled back",
                err.context(format!("apply stopped and every file was restored from backup set {}", set.id)),
            ),
            Err(rollback_err) => (
                "rollback failed",
                err.context(format!(
                    "rolling back also failed ({rollback_err:#}); the original files are in backup set {}",
                    set.id
                )),
            ),
        };
        let line = log.entry(result, Some(&set.id), Some(limit(&format!("{err:#}"))));
        return Err(with_audit(err, audit::append(root, &line)));
    }

    let mut records = Vec::with_capacity(plan.commands.len());
    let executes = runner.executes();
    for (index, command) in plan.commands.iter().enumerate() {
        let output = if interrupt::requested() {
            CommandOutput { code: None, stdout: String::new(), stderr: INTERRUPTED.to_string() }
        } else {
            run(runner, command)
        };
        if !command.succeeded(&output) {
            let done = &plan.commands[..index];
            return Err(command_failed(plan, root, &set, (command, output), done, runner, &log));
        }
        records.push(CommandRecord {
            command: mask(&command.display(), secrets),
            reason: mask(&command.reason, secrets),
            ran: executes,
            exit_code: if executes { output.code } else { None },
        });
    }

    let result = if !executes && !plan.commands.is_empty() { "listed" } else { "applied" };
    audit::append(root, &log.entry(result, Some(&set.id), None)).with_context(|| {
        format!("the changes were applied (backup set {}), but the audit log could not be written", set.id)
    })?;
    Ok(ApplyReport { changed: true, files, commands: records, backup: Some(set.id) })
}

/// What every audit line of one apply shares.
struct ApplyLog<'a> {
    user: &'a str,
    files: &'a [String],
    /// Already masked.
    commands: &'a [String],
    secrets: &'a [String],
}

impl ApplyLog<'_> {
    fn entry(&self, result: &str, backup: Option<&str>, error: Option<String>) -> AuditEntry {
        AuditEntry {
            time: audit::now_rfc3339(),
            user: self.user.to_string(),
            action: "apply".to_string(),
            files: self.files.to_vec(),
            commands: self.commands.to_vec(),
            result: result.to_string(),
            backup: backup.map(str::to_string),
            error,
        }
        .masked(self.secrets)
    }
}

/// What a step that was not started because of Ctrl-C, a hang-up or SIGTERM reports.
pub const INTERRUPTED: &str =
    "not started: edgeprep was interrupted (Ctrl-C, hang-up or termination), so it rolled back";

/// Run one command; a command that cannot start counts as failed, with the reason as output.
fn run(runner: &mut dyn CommandRunner, command: &PlannedCommand) -> CommandOutput {
    runner.run(command).unwrap_or_else(|spawn_err| CommandOutput {
        code: None,
        stdout: String::new(),
        stderr: format!("{spawn_err:#}"),
    })
}

/// A command failed: restore, run the commands that had already succeeded again (so the
/// services read the restored files), log, and build the [`StepFailed`] error with masked
/// output.
fn command_failed(
    plan: &Plan,
    root: &DeviceRoot,
    set: &BackupSet,
    (command, output): (&PlannedCommand, CommandOutput),
    done: &[PlannedCommand],
    runner: &mut dyn CommandRunner,
    log: &ApplyLog<'_>,
) -> anyhow::Error {
    let secrets = &plan.secrets;
    let masked_command = PlannedCommand {
        program: mask(&command.program, secrets),
        args: command.args.iter().map(|a| mask(a, secrets)).collect(),
        reason: mask(&command.reason, secrets),
        harmless_failure: command.harmless_failure.clone(),
    };
    let output = CommandOutput {
        code: output.code,
        stdout: mask(&output.stdout, secrets),
        stderr: mask(&output.stderr, secrets),
    };
    let exit = output.code.map_or_else(|| "no exit code".to_string(), |c| format!("exit code {c}"));
    let mut summary = format!("`{}` failed ({exit})", masked_command.display());
    let detail = if output.stderr.trim().is_empty() { output.stdout.trim() } else { output.stderr.trim() };
    if !detail.is_empty() {
        summary.push_str(": ");
        summary.push_str(detail);
    }

    let rollback = roll_back(root, set);
    let mut reapplied = Vec::new();
    if rollback.is_ok() {
        for earlier in done {
            let again = run(runner, earlier);
            let ok = earlier.succeeded(&again);
            reapplied.push(CommandRecord {
                command: mask(&earlier.display(), secrets),
                reason: if ok { "ok" } else { "failed" }.to_string(),
                ran: runner.executes(),
                exit_code: again.code,
            });
            if !ok {
                summary.push_str(&format!(
                    "; running `{}` again on the restored files failed too",
                    earlier.display()
                ));
            }
        }
    }
    let (result, summary) = match &rollback {
        Ok(()) => ("rolled back", summary),
        Err(e) => ("rollback failed", format!("{summary}; rolling back also failed: {e:#}")),
    };
    let logged = audit::append(root, &log.entry(result, Some(&set.id), Some(limit(&summary))));

    let err =
        anyhow::Error::new(StepFailed { command: masked_command, output, backup: set.id.clone(), reapplied });
    let err = match rollback {
        Ok(()) => err,
        Err(e) => err.context(format!(
            "rolling back also failed ({}); the original files are in backup set {}",
            mask(&format!("{e:#}"), secrets),
            set.id
        )),
    };
    with_audit(err, logged)
}

/// Attach a failure to write the audit log to `err` without hiding `err`.
fn with_audit(err: anyhow::Error, logged: Result<()>) -> anyhow::Error {
    match logged {
        Ok(()) => err,
        Err(log_err) => err.context(format!("(the audit log could not be written either: {log_err:#})")),
    }
}

/// Restore every file and directory of `set` (files already as they were are left alone).
fn roll_back(root: &DeviceRoot, set: &BackupSet) -> Result<()> {
    let contents = backup::load_stored(set)?;
    backup::restore_contents(root, &set.manifest, &contents)
}

/// Keep an audit line readable when a command printed pages of output.
fn limit(text: &str) -> String {
    if text.len() <= AUDIT_ERROR_LIMIT {
        return text.to_string();
    }
    let mut end = AUDIT_ERROR_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// Who this process is, for ownership decisions.
#[derive(Debug, Clone, Copy)]
struct Process {
    uid: u32,
    gid: u32,
}

impl Process {
    fn current() -> Self {
        Self { uid: rustix::process::geteuid().as_raw(), gid: rustix::process::getegid().as_raw() }
    }

    fn is_root(self) -> bool {
        self.uid == 0
    }

    /// Can this process make a file or directory owned by `uid:gid`?
    fn can_own_as(self, uid: u32, gid: u32) -> bool {
        self.is_root() || (uid == self.uid && gid == self.gid)
    }
}

/// Refuse, before anything is written, a plan the device no longer matches or that this
/// process cannot carry out for lack of privileges.
fn preflight(plan: &Plan, root: &DeviceRoot, me: Process) -> Result<()> {
    for change in &plan.files {
        let host = root.path(&change.path);
        let current = match fs::read(&host) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("could not read {}", host.display())),
        };
        match (&change.before, &current) {
            (Some(before), Some(now)) if before == now => {}
            (None, None) => {}
            (Some(_), Some(_)) => return Err(changed_since_plan(&change.path, "was changed")),
            (Some(_), None) => return Err(changed_since_plan(&change.path, "was removed")),
            (None, Some(_)) => return Err(changed_since_plan(&change.path, "was created")),
        }
        if let FileAction::Write(_) = change.action {
            let owner = match (change.ownership, current.is_some()) {
                (Some(o), _) => Some((o.uid, o.gid)),
                (None, true) => {
                    let meta = fs::metadata(&host)
                        .with_context(|| format!("could not inspect {}", host.display()))?;
                    Some((meta.uid(), meta.gid()))
                }
                (None, false) => None,
            };
            if let Some((uid, gid)) = owner.filter(|&(uid, gid)| !me.can_own_as(uid, gid)) {
                return Err(needs_root(&change.path, uid, gid));
            }
        }
    }
    for dir in &plan.dirs {
        let host = root.path(&dir.path);
        let (uid, gid) = (dir.ownership.uid, dir.ownership.gid);
        match fs::metadata(&host) {
            Ok(meta) if !meta.is_dir() => {
                return Err(input_error(format!(
                    "{} exists but is not a directory; move it away and re-run edgeprep",
                    dir.path
                )));
            }
            Ok(meta) if (meta.uid(), meta.gid()) == (uid, gid) => {}
            _ if !me.can_own_as(uid, gid) => return Err(needs_root(&dir.path, uid, gid)),
            _ => {}
        }
    }
    Ok(())
}

fn changed_since_plan(device_path: &str, what: &str) -> anyhow::Error {
    input_error(format!(
        "{device_path} {what} since the plan was made; nothing was written. Re-run edgeprep to make a new plan from the current state"
    ))
}

fn needs_root(device_path: &str, uid: u32, gid: u32) -> anyhow::Error {
    input_error(format!(
        "{device_path} must be owned by {uid}:{gid}, which only root can arrange; nothing was written. Run edgeprep with sudo"
    ))
}

/// The directories whose state the backup must record: every planned directory, and every
/// directory that does not exist yet but will be created as a parent.
fn dirs_to_record(plan: &Plan, root: &DeviceRoot) -> Vec<String> {
    let mut dirs = Vec::new();
    for dir in &plan.dirs {
        dirs.extend(backup::missing_device_dirs(root, &dir.path));
        dirs.push(dir.path.clone());
    }
    for file in &plan.files {
        if let Some(parent) = std::path::Path::new(&file.path).parent().and_then(|p| p.to_str()) {
            dirs.extend(backup::missing_device_dirs(root, parent));
        }
    }
    backup::dedup(dirs)
}

/// Directories, then files, in plan order.
fn change_files(plan: &Plan, root: &DeviceRoot, set: &BackupSet, me: Process) -> Result<()> {
    for dir in &plan.dirs {
        let host = root.path(&dir.path);
        if let Some(parent) = host.parent() {
            atomic::create_dir_all(parent, atomic::PARENT_DIR_MODE)?;
        }
        match fs::create_dir(&host) {
            Ok(()) => {
                if let Some(parent) = host.parent() {
                    atomic::sync_dir(parent)?;
                }
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("could not create directory {}", dir.path));
            }
        }
        let o = dir.ownership;
        backup::set_dir_owner_mode(&host, o.mode, o.uid, o.gid)
            .with_context(|| format!("could not set up directory {}", dir.path))?;
    }
    for (change, record) in plan.files.iter().zip(&set.manifest.files) {
        let host = root.path(&change.path);
        match &change.action {
            FileAction::Write(bytes) => {
                let (mode, owner) = target_mode_owner(change, record, me);
                atomic::write_file(&host, bytes, mode, Some(owner))
                    .with_context(|| format!("could not write {}", change.path))?;
            }
            // The copy is already in the backup set: taking the file away is all that is left.
            FileAction::MoveToBackup => atomic::remove_file(&host)
                .with_context(|| format!("could not move {} to the backup", change.path))?,
        }
    }
    Ok(())
}

/// The plan's ownership; else the existing file's; else 0644 (0600 for secrets) owned by this
/// process.
fn target_mode_owner(change: &FileChange, record: &FileRecord, me: Process) -> (u32, (u32, u32)) {
    if let Some(o) = change.ownership {
        return (o.mode, (o.uid, o.gid));
    }
    if let (true, Some(mode), Some(uid), Some(gid)) = (record.existed, record.mode, record.uid, record.gid) {
        return (mode, (uid, gid));
    }
    let mode = if change.holds_secrets { NEW_SECRET_FILE_MODE } else { NEW_FILE_MODE };
    (mode, (me.uid, me.gid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::{AUDIT_LOG, BACKUPS_DIR};
    use crate::plan::{DirChange, Ownership, Visibility};
    use crate::runner::ListingRunner;
    use std::path::Path;
    use tempfile::TempDir;

    /// Records every call; fails the `fail_at`-th command (0-based) with `failure`.
    #[derive(Default)]
    struct FakeRunner {
        calls: Vec<String>,
        fail_at: Option<usize>,
        failure: Option<Result<CommandOutput, String>>,
    }

    impl FakeRunner {
        fn failing_at(n: usize, failure: Result<CommandOutput, String>) -> Self {
            Self { calls: Vec::new(), fail_at: Some(n), failure: Some(failure) }
        }
    }

    impl CommandRunner for FakeRunner {
        fn run(&mut self, command: &PlannedCommand) -> Result<CommandOutput> {
            let n = self.calls.len();
            self.calls.push(command.display());
            match (&self.failure, self.fail_at == Some(n)) {
                (Some(Ok(output)), true) => Ok(output.clone()),
                (Some(Err(message)), true) => Err(anyhow::anyhow!(message.clone())),
                _ => Ok(CommandOutput { code: Some(0), stdout: "ok".into(), stderr: String::new() }),
            }
        }

        fn executes(&self) -> bool {
            true
        }
    }

    fn device() -> (TempDir, DeviceRoot) {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        (dir, root)
    }

    fn actor() -> Actor {
        Actor { user: "tech".into() }
    }

    fn put(root: &DeviceRoot, device_path: &str, bytes: &[u8], mode: u32, owner: (u32, u32)) {
        let host = root.path(device_path);
        fs::create_dir_all(host.parent().unwrap()).unwrap();
        fs::write(&host, bytes).unwrap();
        std::os::unix::fs::chown(&host, Some(owner.0), Some(owner.1)).unwrap();
        fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }

    fn write(path: &str, before: Option<&[u8]>, after: &[u8]) -> FileChange {
        FileChange {
            path: path.into(),
            before: before.map(<[u8]>::to_vec),
            action: FileAction::Write(after.to_vec()),
            ownership: None,
            holds_secrets: false,
            visibility: Visibility::Diff,
            reason: "test".into(),
        }
    }

    fn cmd(program: &str, args: &[&str]) -> PlannedCommand {
        PlannedCommand::new(program, args, "test")
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    fn owner(path: &Path) -> (u32, u32) {
        let meta = fs::metadata(path).unwrap();
        (meta.uid(), meta.gid())
    }

    fn me() -> (u32, u32) {
        let p = Process::current();
        (p.uid, p.gid)
    }

    fn manifest_of(root: &DeviceRoot, id: &str) -> (String, backup::Manifest) {
        let text = fs::read_to_string(root.path(BACKUPS_DIR).join(id).join(backup::MANIFEST)).unwrap();
        let manifest = serde_json::from_str(&text).unwrap();
        (text, manifest)
    }

    fn failure(code: i32, stderr: &str) -> Result<CommandOutput, String> {
        Ok(CommandOutput { code: Some(code), stdout: String::new(), stderr: stderr.into() })
    }

    #[test]
    fn empty_plan_writes_only_an_unchanged_audit_line_and_runs_nothing() {
        let (dir, root) = device();
        let mut runner = FakeRunner::default();
        let report = apply(&Plan::default(), &root, &mut runner, &actor()).unwrap();
        assert!(!report.changed);
        assert!(report.files.is_empty() && report.commands.is_empty() && report.backup.is_none());
        assert!(runner.calls.is_empty());
        assert!(!root.path(BACKUPS_DIR).exists());
        // The audit log (and its parents) is the only thing on disk.
        let mut found: Vec<_> = walk(dir.path());
        found.sort();
        assert_eq!(found, vec![root.path("/var"), root.path("/var/log"), root.path(AUDIT_LOG)]);
        let log = audit::read_all(&root).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].result, "unchanged");
        assert_eq!(log[0].backup, None);
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            }
            out.push(path);
        }
        out
    }

    #[test]
    #[cfg_attr(not(running_as_root), ignore = "needs root (chown)")]
    fn existing_file_is_backed_up_with_mode_and_owner_and_keeps_them_after_write() {
        let (_dir, root) = device();
        put(&root, "/etc/aziot/config.toml", b"old = 1\n", 0o640, (1234, 1234));
        let plan = Plan {
            files: vec![write("/etc/aziot/config.toml", Some(b"old = 1\n"), b"new = 2\n")],
            ..Plan::default()
        };
        let report = apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap();
        assert!(report.changed);
        assert_eq!(report.files, vec!["/etc/aziot/config.toml"]);

        let host = root.path("/etc/aziot/config.toml");
        assert_eq!(fs::read(&host).unwrap(), b"new = 2\n");
        assert_eq!(mode(&host), 0o640);
        assert_eq!(owner(&host), (1234, 1234));

        let id = report.backup.unwrap();
        let set = root.path(BACKUPS_DIR).join(&id);
        assert_eq!(mode(&set), 0o700);
        let (_, manifest) = manifest_of(&root, &id);
        assert_eq!(manifest.user, "tech");
        assert_eq!(manifest.action, "apply");
        let record = &manifest.files[0];
        assert_eq!(record.path, "/etc/aziot/config.toml");
        assert!(record.existed);
        assert_eq!((record.mode, record.uid, record.gid), (Some(0o640), Some(1234), Some(1234)));
        let stored = set.join(record.stored.as_ref().unwrap());
        assert_eq!(fs::read(&stored).unwrap(), b"old = 1\n");
        assert_eq!(mode(&stored), 0o600);
        assert_eq!(mode(&set.join(backup::MANIFEST)), 0o600);
        assert_eq!(
            record.sha256.as_deref(),
            Some(format!("{:x}", sha2::Sha256::digest(b"old = 1\n")).as_str())
        );
    }

    use sha2::Digest;

    #[test]
    fn new_file_gets_0644_or_0600_when_it_holds_secrets_and_is_owned_by_this_process() {
        let (_dir, root) = device();
        let mut secret = write("/etc/aziot/secret.key", None, b"k");
        secret.holds_secrets = true;
        let plan =
            Plan { files: vec![write("/etc/aziot/plain.toml", None, b"p"), secret], ..Plan::default() };
        let report = apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap();
        let plain = root.path("/etc/aziot/plain.toml");
        let key = root.path("/etc/aziot/secret.key");
        assert_eq!((mode(&plain), owner(&plain)), (0o644, me()));
        assert_eq!((mode(&key), owner(&key)), (0o600, me()));
        assert_eq!(mode(&root.path("/etc/aziot")), 0o755);
        let (_, manifest) = manifest_of(&root, &report.backup.unwrap());
        assert!(manifest.files.iter().all(|f| !f.existed && f.stored.is_none()));
        // The parents the write creates are recorded, so a rollback can remove them.
        assert!(manifest.dirs.iter().any(|d| d.path == "/etc/aziot" && !d.existed));
    }

    #[test]
    #[cfg_attr(not(running_as_root), ignore = "needs root (chown)")]
    fn explicit_ownership_is_applied_to_new_and_existing_files() {
        let (_dir, root) = device();
        put(&root, "/var/aziot/certs/ca.pem", b"old", 0o600, (0, 0));
        let own = Ownership { mode: 0o444, uid: 2001, gid: 2002 };
        let mut existing = write("/var/aziot/certs/ca.pem", Some(b"old"), b"new");
        existing.ownership = Some(own);
        let mut fresh = write("/var/aziot/certs/chain.pem", None, b"chain");
        fresh.ownership = Some(own);
        let plan = Plan { files: vec![existing, fresh], ..Plan::default() };
        apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap();
        for p in ["/var/aziot/certs/ca.pem", "/var/aziot/certs/chain.pem"] {
            let host = root.path(p);
            assert_eq!((mode(&host), owner(&host)), (0o444, (2001, 2002)), "{p}");
        }
    }

    #[test]
    #[cfg_attr(not(running_as_root), ignore = "needs root (chown)")]
    fn planned_dir_is_created_with_its_mode_and_owner_and_missing_parents_get_0755() {
        let (_dir, root) = device();
        let plan = Plan {
            dirs: vec![DirChange {
                path: "/var/aziot/secrets".into(),
                ownership: Ownership { mode: 0o700, uid: 3001, gid: 3002 },
            }],
            ..Plan::default()
        };
        let report = apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap();
        assert!(report.changed);
        let host = root.path("/var/aziot/secrets");
        assert_eq!((mode(&host), owner(&host)), (0o700, (3001, 3002)));
        assert_eq!(mode(&root.path("/var/aziot")), 0o755);
    }

    /// A device with one existing file (0640, 1234:1234), one existing dir (0755), and a plan
    /// that rewrites the file, creates a file in a new dir, tightens the dir and runs 3 commands.
    fn busy_plan(root: &DeviceRoot) -> Plan {
        put(root, "/etc/aziot/config.toml", b"original\n", 0o640, (1234, 1234));
        let certs = root.path("/var/aziot/certs");
        fs::create_dir_all(&certs).unwrap();
        fs::set_permissions(&certs, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Plan {
            dirs: vec![
                DirChange {
                    path: "/var/aziot/certs".into(),
                    ownership: Ownership { mode: 0o750, uid: 0, gid: 0 },
                },
                DirChange {
                    path: "/var/aziot/secrets".into(),
                    ownership: Ownership { mode: 0o700, uid: 0, gid: 0 },
                },
            ],
            files: vec![
                write("/etc/aziot/config.toml", Some(b"original\n"), b"changed\n"),
                write("/etc/docker/daemon.json", None, b"{}"),
                write("/var/aziot/secrets/key.pem", None, b"KEY"),
            ],
            commands: vec![
                cmd("iotedge", &["config", "apply"]),
                cmd("systemctl", &["restart", "docker"]),
                cmd("true", &[]),
            ],
            ..Plan::default()
        }
    }

    #[test]
    #[cfg_attr(not(running_as_root), ignore = "needs root (chown)")]
    fn failing_command_restores_every_file_byte_identical_and_removes_what_it_created() {
        let (_dir, root) = device();
        let plan = busy_plan(&root);
        let mut runner = FakeRunner::failing_at(1, failure(3, "docker: unit not found"));
        let err = apply(&plan, &root, &mut runner, &actor()).unwrap_err();

        let step = err.downcast_ref::<StepFailed>().expect("a StepFailed error");
        assert_eq!(step.command.display(), "systemctl restart docker");
        assert_eq!(step.output.code, Some(3));
        assert_eq!(step.output.stderr, "docker: unit not found");
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_FAILED);
        // Commands stop at the failure; the one that had succeeded runs again on the restored files.
        assert_eq!(
            runner.calls,
            vec!["iotedge config apply", "systemctl restart docker", "iotedge config apply"]
        );
        assert_eq!(step.reapplied.len(), 1);
        assert_eq!(step.reapplied[0].reason, "ok");

        let config = root.path("/etc/aziot/config.toml");
        assert_eq!(fs::read(&config).unwrap(), b"original\n");
        assert_eq!((mode(&config), owner(&config)), (0o640, (1234, 1234)));
        assert!(!root.path("/etc/docker/daemon.json").exists());
        assert!(!root.path("/etc/docker").exists(), "created parent dir removed");
        assert!(!root.path("/var/aziot/secrets").exists(), "created planned dir removed");
        assert_eq!(mode(&root.path("/var/aziot/certs")), 0o755, "dir mode restored");

        let log = audit::read_all(&root).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].result, "rolled back");
        assert_eq!(log[0].backup.as_deref(), Some(step.backup.as_str()));
        assert!(log[0].error.as_deref().unwrap().contains("systemctl restart docker"));
        // The backup set stays, for the record.
        assert_eq!(backup::list(&root).unwrap().len(), 1);
    }

    #[test]
    fn command_that_cannot_start_is_a_step_failure_without_exit_code() {
        let (_dir, root) = device();
        let plan = Plan {
            files: vec![write("/etc/new.conf", None, b"x")],
            commands: vec![cmd("no-such-program", &[])],
            ..Plan::default()
        };
        let mut runner = FakeRunner::failing_at(0, Err("could not start `no-such-program`".into()));
        let err = apply(&plan, &root, &mut runner, &actor()).unwrap_err();
        let step = err.downcast_ref::<StepFailed>().unwrap();
        assert_eq!(step.output.code, None);
        assert!(step.output.stderr.contains("could not start"));
        assert!(!root.path("/etc/new.conf").exists());
    }

    #[test]
    fn write_failure_midway_restores_what_was_already_written() {
        let (_dir, root) = device();
        put(&root, "/etc/keep.conf", b"keep", 0o644, me());
        // The second write makes /etc/blocker a file, so the third cannot create a file in it.
        let plan = Plan {
            files: vec![
                write("/etc/keep.conf", Some(b"keep"), b"changed"),
                write("/etc/blocker", None, b"i am a file"),
                write("/etc/blocker/inside.conf", None, b"x"),
            ],
            commands: vec![cmd("true", &[])],
            ..Plan::default()
        };
        let mut runner = FakeRunner::default();
        let err = apply(&plan, &root, &mut runner, &actor()).unwrap_err();
        assert!(format!("{err:#}").contains("/etc/blocker/inside.conf"), "{err:#}");
        assert!(err.downcast_ref::<StepFailed>().is_none());
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_FAILED);
        assert!(runner.calls.is_empty(), "no command runs after a failed write");
        assert_eq!(fs::read(root.path("/etc/keep.conf")).unwrap(), b"keep");
        assert!(!root.path("/etc/blocker").exists());
        assert_eq!(audit::read_all(&root).unwrap()[0].result, "rolled back");
    }

    #[test]
    fn preflight_refuses_a_file_changed_since_the_plan_and_writes_nothing() {
        let (_dir, root) = device();
        put(&root, "/etc/aziot/config.toml", b"edited by someone else", 0o644, me());
        let plan = Plan {
            files: vec![
                write("/etc/other.conf", None, b"x"),
                write("/etc/aziot/config.toml", Some(b"what the plan saw"), b"new"),
            ],
            ..Plan::default()
        };
        let mut runner = FakeRunner::default();
        let err = apply(&plan, &root, &mut runner, &actor()).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT);
        let message = format!("{err:#}");
        assert!(
            message.contains("/etc/aziot/config.toml") && message.contains("since the plan"),
            "{message}"
        );
        assert_eq!(fs::read(root.path("/etc/aziot/config.toml")).unwrap(), b"edited by someone else");
        assert!(!root.path("/etc/other.conf").exists());
        assert!(!root.path("/var").exists(), "no backup, no audit log");
    }

    #[test]
    fn preflight_refuses_a_file_created_or_removed_since_the_plan() {
        let (_dir, root) = device();
        put(&root, "/etc/appeared.conf", b"surprise", 0o644, me());
        let created = Plan { files: vec![write("/etc/appeared.conf", None, b"x")], ..Plan::default() };
        let err = apply(&created, &root, &mut FakeRunner::default(), &actor()).unwrap_err();
        assert!(format!("{err}").contains("was created since the plan"), "{err}");

        let removed =
            Plan { files: vec![write("/etc/gone.conf", Some(b"was here"), b"x")], ..Plan::default() };
        let err = apply(&removed, &root, &mut FakeRunner::default(), &actor()).unwrap_err();
        assert!(format!("{err}").contains("was removed since the plan"), "{err}");
        assert!(!root.path("/etc/gone.conf").exists());
    }

    #[test]
    fn preflight_refuses_ownership_only_root_can_give_when_not_root() {
        let (_dir, root) = device();
        put(&root, "/etc/mine.conf", b"m", 0o644, me());
        let not_root = Process { uid: 1000, gid: 1000 };
        let mut change = write("/etc/x.conf", None, b"x");
        change.ownership = Some(Ownership { mode: 0o644, uid: 0, gid: 0 });
        let plan = Plan { files: vec![change], ..Plan::default() };
        let err = preflight(&plan, &root, not_root).unwrap_err();
        assert!(format!("{err}").contains("sudo"), "{err}");
        // Keeping an existing file's owner that is not ours is just as impossible.
        let keep = Plan { files: vec![write("/etc/mine.conf", Some(b"m"), b"n")], ..Plan::default() };
        assert!(preflight(&keep, &root, not_root).is_err());
        // Our own uid/gid is fine.
        let mut ours = write("/etc/y.conf", None, b"y");
        ours.ownership = Some(Ownership { mode: 0o600, uid: 1000, gid: 1000 });
        assert!(preflight(&Plan { files: vec![ours], ..Plan::default() }, &root, not_root).is_ok());
    }

    #[test]
    #[cfg_attr(not(running_as_root), ignore = "needs root (chown)")]
    fn move_to_backup_takes_the_file_away_and_restore_puts_it_back() {
        let (_dir, root) = device();
        put(&root, "/var/lib/aziot/certd/certs/old.cer", b"CERT", 0o640, (1234, 1234));
        let plan = Plan {
            files: vec![FileChange {
                action: FileAction::MoveToBackup,
                ..write("/var/lib/aziot/certd/certs/old.cer", Some(b"CERT"), b"")
            }],
            ..Plan::default()
        };
        let report = apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap();
        let host = root.path("/var/lib/aziot/certd/certs/old.cer");
        assert!(!host.exists());
        let id = report.backup.unwrap();
        let restored = backup::restore(&root, Some(&id)).unwrap();
        assert_eq!(restored.files, vec!["/var/lib/aziot/certd/certs/old.cer"]);
        assert_eq!(fs::read(&host).unwrap(), b"CERT");
        assert_eq!((mode(&host), owner(&host)), (0o640, (1234, 1234)));
    }

    #[test]
    #[cfg_attr(not(running_as_root), ignore = "needs root (chown)")]
    fn restore_of_the_latest_set_undoes_the_last_apply_and_can_itself_be_undone() {
        let (_dir, root) = device();
        put(&root, "/etc/aziot/config.toml", b"v1", 0o640, (1234, 1234));
        let plan = Plan {
            files: vec![
                write("/etc/aziot/config.toml", Some(b"v1"), b"v2"),
                write("/etc/systemd/system/docker.service.d/edgeprep-proxy.conf", None, b"[Service]\n"),
            ],
            ..Plan::default()
        };
        let applied = apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap();
        let dropin = root.path("/etc/systemd/system/docker.service.d/edgeprep-proxy.conf");
        assert!(dropin.exists());

        let report = backup::restore(&root, None).unwrap();
        assert_eq!(report.restored_from, applied.backup.clone().unwrap());
        let config = root.path("/etc/aziot/config.toml");
        assert_eq!(fs::read(&config).unwrap(), b"v1");
        assert_eq!((mode(&config), owner(&config)), (0o640, (1234, 1234)));
        assert!(!dropin.exists());
        assert!(!root.path("/etc/systemd").exists(), "dirs the apply created are gone");

        // The restore made its own set first; restoring that one re-applies the change.
        assert_ne!(report.backup, report.restored_from);
        let (_, undo) = manifest_of(&root, &report.backup);
        assert_eq!(undo.action, "rollback");
        let again = backup::restore(&root, None).unwrap();
        assert_eq!(again.restored_from, report.backup);
        assert_eq!(fs::read(&config).unwrap(), b"v2");
        assert_eq!(fs::read(&dropin).unwrap(), b"[Service]\n");
    }

    #[test]
    fn restore_by_id_picks_that_set_and_an_unknown_id_lists_the_available_ones() {
        let (_dir, root) = device();
        put(&root, "/etc/a.conf", b"1", 0o644, me());
        let first = apply(
            &Plan { files: vec![write("/etc/a.conf", Some(b"1"), b"2")], ..Plan::default() },
            &root,
            &mut FakeRunner::default(),
            &actor(),
        )
        .unwrap();
        apply(
            &Plan { files: vec![write("/etc/a.conf", Some(b"2"), b"3")], ..Plan::default() },
            &root,
            &mut FakeRunner::default(),
            &actor(),
        )
        .unwrap();
        let first_id = first.backup.unwrap();
        backup::restore(&root, Some(&first_id)).unwrap();
        assert_eq!(fs::read(root.path("/etc/a.conf")).unwrap(), b"1");

        let err = backup::restore(&root, Some("19990101T000000Z")).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT);
        assert!(format!("{err}").contains(&first_id), "{err}");
    }

    #[test]
    fn restore_without_any_backup_is_an_input_error() {
        let (_dir, root) = device();
        let err = backup::restore(&root, None).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT);
    }

    #[test]
    fn restore_refuses_a_damaged_backup_copy() {
        let (_dir, root) = device();
        put(&root, "/etc/a.conf", b"1", 0o644, me());
        let report = apply(
            &Plan { files: vec![write("/etc/a.conf", Some(b"1"), b"2")], ..Plan::default() },
            &root,
            &mut FakeRunner::default(),
            &actor(),
        )
        .unwrap();
        let id = report.backup.unwrap();
        let (_, manifest) = manifest_of(&root, &id);
        let stored = root.path(BACKUPS_DIR).join(&id).join(manifest.files[0].stored.as_ref().unwrap());
        fs::write(stored, b"tampered").unwrap();
        let err = backup::restore(&root, Some(&id)).unwrap_err();
        assert!(format!("{err:#}").contains("SHA-256"), "{err:#}");
        assert_eq!(fs::read(root.path("/etc/a.conf")).unwrap(), b"2");
    }

    #[test]
    fn list_shows_complete_sets_oldest_first_with_user_and_files() {
        let (_dir, root) = device();
        for n in 0..3 {
            let plan = Plan { files: vec![write(&format!("/etc/f{n}.conf"), None, b"x")], ..Plan::default() };
            apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap();
        }
        // An interrupted set without a manifest is not offered.
        fs::create_dir_all(root.path(BACKUPS_DIR).join("29991231T235959Z")).unwrap();
        let sets = backup::list(&root).unwrap();
        assert_eq!(sets.len(), 3);
        let files: Vec<_> = sets.iter().map(|s| s.files.clone()).collect();
        assert_eq!(files, vec![vec!["/etc/f0.conf"], vec!["/etc/f1.conf"], vec!["/etc/f2.conf"]]);
        assert!(sets.iter().all(|s| s.user == "tech" && s.time.ends_with('Z')));
        let mut ids: Vec<_> = sets.iter().map(|s| s.id.clone()).collect();
        ids.dedup();
        assert_eq!(ids.len(), 3, "every apply gets its own set");
    }

    #[test]
    fn secrets_never_reach_the_audit_log_the_manifest_or_the_error() {
        let (_dir, root) = device();
        let secret = "Sup3r-S3cret".to_string();
        let plan = Plan {
            files: vec![write("/etc/docker/daemon.json", None, b"{}")],
            commands: vec![cmd("docker", &["login", "-p", &secret, "registry.local"])],
            secrets: vec![secret.clone()],
            ..Plan::default()
        };
        let mut runner =
            FakeRunner::failing_at(0, failure(1, &format!("login failed for password {secret}")));
        let err = apply(&plan, &root, &mut runner, &actor()).unwrap_err();
        let step = err.downcast_ref::<StepFailed>().unwrap();
        assert!(!step.output.stderr.contains(&secret));
        assert!(!step.command.display().contains(&secret));
        assert!(!format!("{err:#}").contains(&secret));

        let log = fs::read_to_string(root.path(AUDIT_LOG)).unwrap();
        assert!(log.contains("rolled back") && log.contains(crate::secrets::MASK), "{log}");
        assert!(!log.contains(&secret), "{log}");
        let (text, _) = manifest_of(&root, &step.backup);
        assert!(!text.contains(&secret), "{text}");
    }

    #[test]
    fn listing_runner_records_commands_as_not_run_and_the_log_says_listed() {
        let (_dir, root) = device();
        let plan = Plan {
            files: vec![write("/etc/x.conf", None, b"x")],
            commands: vec![cmd("iotedge", &["config", "apply"])],
            ..Plan::default()
        };
        let mut runner = ListingRunner::default();
        let report = apply(&plan, &root, &mut runner, &actor()).unwrap();
        assert_eq!(runner.listed.len(), 1);
        assert_eq!(report.commands.len(), 1);
        assert!(!report.commands[0].ran);
        assert_eq!(report.commands[0].command, "iotedge config apply");
        assert_eq!(audit::read_all(&root).unwrap()[0].result, "listed");
    }

    #[test]
    fn successful_apply_logs_applied_with_files_commands_and_backup() {
        let (_dir, root) = device();
        let plan = Plan {
            files: vec![write("/etc/x.conf", None, b"x")],
            commands: vec![cmd("systemctl", &["restart", "aziot-edged"])],
            ..Plan::default()
        };
        let mut runner = FakeRunner::default();
        let report = apply(&plan, &root, &mut runner, &actor()).unwrap();
        assert_eq!(runner.calls, vec!["systemctl restart aziot-edged"]);
        assert!(report.commands[0].ran);
        assert_eq!(report.commands[0].exit_code, Some(0));
        let log = audit::read_all(&root).unwrap();
        assert_eq!(log[0].result, "applied");
        assert_eq!(log[0].action, "apply");
        assert_eq!(log[0].user, "tech");
        assert_eq!(log[0].files, vec!["/etc/x.conf"]);
        assert_eq!(log[0].commands, vec!["systemctl restart aziot-edged"]);
        assert_eq!(log[0].backup, report.backup);
        assert_eq!(log[0].error, None);
        let (_, manifest) = manifest_of(&root, report.backup.as_deref().unwrap());
        assert_eq!(manifest.commands, vec!["systemctl restart aziot-edged"]);
    }
}
