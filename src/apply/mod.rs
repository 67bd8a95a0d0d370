//! Carrying out a [`Plan`]: back up, write atomically, run commands, roll back on failure,
//! and append one line to the audit log.
//!
//! Order of operations, each step only after the previous one succeeded:
//!
//! 1. Preflight, under the device lock ([`lock`]): no interrupted change is pending
//!    ([`recover`]), the audit log can be written ([`audit`]), every file is still as the plan
//!    saw it, and the ownership the plan asks for can be given. Nothing is written when this
//!    fails (exit 2).
//! 2. A complete backup set of every file and directory about to change ([`backup`]), with a
//!    journal saying how far the apply got, flushed to disk at every step.
//! 3. Directories, then files (atomic writes, [`atomic`]), in plan order.
//! 4. Commands, in plan order, through the [`CommandRunner`].
//! 5. One audit log line ([`audit`]); failing to write it now is only a warning.
//!
//! A failed write or command, or a stop signal ([`interrupt`]), puts every file and directory
//! back from the set and then runs again every command up to and including the one that
//! failed, so the services read the restored files: a failed `systemctl restart docker` must
//! not leave docker stopped. A crash or power cut leaves the journal behind: the next `plan`
//! or `apply` reports it, and `apply` finishes it ([`recover`]).

pub mod atomic;
pub mod audit;
pub mod backup;
pub mod confirm;
pub mod interrupt;
pub mod lock;
pub mod recover;
pub mod render;

use anyhow::{Context, Result};

use crate::error::{ChangedSincePlan, NeedsRoot, NotRestored, input_error};
use crate::plan::{FileAction, FileChange, Plan};
use crate::root::DeviceRoot;
use crate::runner::{CommandOutput, CommandRunner, PlannedCommand};
use crate::secrets::mask;

use audit::{AuditEntry, AuditLog};
use backup::{BackupSet, FileRecord, Journal, JournalCommand, NewSet, Stage};

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

/// One command that ran (or was listed to run on the device, or was skipped).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CommandRecord {
    pub command: String,
    /// Why it runs; for a command run again after a rollback: `ok`, `failed` or why it was
    /// skipped.
    pub reason: String,
    /// False when the command was only listed ("to run on the device") or skipped.
    pub ran: bool,
    pub exit_code: Option<i32>,
}

/// What an apply did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ApplyReport {
    pub changed: bool,
    /// Device paths written, created or moved to the backup.
    pub files: Vec<String>,
    pub commands: Vec<CommandRecord>,
    /// The backup set id (`None` when nothing was changed).
    pub backup: Option<String>,
    /// Things that went wrong without undoing the apply (the audit log could not be written).
    pub warnings: Vec<String>,
}

/// A command failed, or a stop signal arrived; every file was restored. Maps to exit code 1.
#[derive(Debug)]
pub struct StepFailed {
    /// Masked.
    pub command: PlannedCommand,
    /// Masked.
    pub output: CommandOutput,
    /// A stop signal, not the command, ended the apply (the command may have run; see
    /// `output`).
    pub interrupted: bool,
    pub backup: String,
    /// False when restoring the files failed too (the error also carries
    /// [`NotRestored`], exit code 3).
    pub restored: bool,
    /// The commands run again after the files were restored, up to and including the one
    /// that failed, so the services read the restored files (e.g. `iotedge config apply` with
    /// the old config.toml). A device is never left running a configuration its files no
    /// longer say.
    pub reapplied: Vec<CommandRecord>,
}

impl std::fmt::Display for StepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.interrupted {
            write!(f, "interrupted at `{}`", self.command.display())
        } else {
            write!(f, "`{}` failed", self.command.display())
        }
    }
}

impl std::error::Error for StepFailed {}

/// Apply `plan` under `root`. See the module docs for the order of operations.
///
/// Returns [`StepFailed`] (inside `anyhow`) when a command fails or a stop signal arrives,
/// after every file was restored; [`ChangedSincePlan`] or [`NeedsRoot`] (exit 2) from
/// preflight; [`NotRestored`] (exit 3) when restoring failed too; any other error after a
/// failed write, also after restoring.
pub fn apply(
    plan: &Plan,
    root: &DeviceRoot,
    runner: &mut dyn CommandRunner,
    actor: &Actor,
) -> Result<ApplyReport> {
    // Held to the end, also when there is nothing to do: a concurrent apply must not be told
    // "no changes" while another is halfway through.
    let lock = lock::DeviceLock::acquire(root)?;
    apply_locked(plan, root, runner, actor, &lock)
}

/// [`apply`] for a caller that already holds the device lock and keeps holding it after:
/// `apply --confirm` waits for the confirmation (and reverts) under the same lock, so no
/// other change can slip in between.
pub fn apply_locked(
    plan: &Plan,
    root: &DeviceRoot,
    runner: &mut dyn CommandRunner,
    actor: &Actor,
    _lock: &lock::DeviceLock,
) -> Result<ApplyReport> {
    let secrets = &plan.secrets;
    let files: Vec<String> = plan.files.iter().map(|f| f.path.clone()).collect();
    let command_lines: Vec<String> = plan.commands.iter().map(|c| mask(&c.display(), secrets)).collect();
    let log = ApplyLog { user: &actor.user, files: &files, commands: &command_lines, secrets };

    if let Some(pending) = recover::pending(root)? {
        return Err(input_error(format!(
            "{}; nothing was changed. {}",
            pending.describe(),
            pending.next_step()
        )));
    }
    if plan.is_empty() {
        let mut audit_log = AuditLog::open(root)?;
        let warnings = audit_warning(audit_log.append(&log.entry("unchanged", None, None)), None);
        return Ok(ApplyReport { warnings, ..ApplyReport::default() });
    }

    let me = Process::current();
    preflight(plan, root, me)?;
    let mut audit_log = AuditLog::open(root)?;
    // A run killed mid-write leaves its temp file (perhaps holding a secret) beside the target.
    atomic::remove_stale_temp_files(root, &atomic::written_dirs())?;

    let journal_commands: Vec<JournalCommand> =
        plan.commands.iter().map(|c| JournalCommand::record(c, secrets)).collect();
    let set = backup::create_set(
        root,
        &NewSet {
            user: &actor.user,
            action: "apply",
            restores: None,
            commands: &command_lines,
            journal: &journal_commands,
            files: &files,
            dirs: &dirs_to_record(plan, root),
        },
    )?;
    let mut journal =
        Journal { stage: Stage::BackedUp, commands: journal_commands, commands_done: 0, rerun: 0 };

    let written =
        change_files(plan, root, &set, me).and_then(|()| set_stage(&set, &mut journal, Stage::FilesWritten));
    if let Err(err) = written {
        // No command ran: nothing to run again after restoring.
        let _ = set_stage(&set, &mut journal, Stage::RollingBack);
        let (result, err) = match roll_back(root, &set) {
            Ok(()) => {
                let _ = set_stage(&set, &mut journal, Stage::RolledBack);
                (
                    "rolled back",
                    err.context(format!(
                        "apply stopped and every file was restored from backup set {}",
                        set.id
                    )),
                )
            }
            Err(rollback_err) => (
                "rollback failed",
                err.context(NotRestored { backup: set.id.clone(), reason: format!("{rollback_err:#}") }),
            ),
        };
        let line = log.entry(result, Some(&set.id), Some(limit(&format!("{err:#}"))));
        return Err(with_audit(err, audit_log.append(&line)));
    }

    let mut steps = Steps { root, set: &set, journal, secrets, log: &log, audit: &mut audit_log };
    let (records, mut warnings) = steps.run(&plan.commands, runner)?;

    let result = if !runner.executes() && !plan.commands.is_empty() { "listed" } else { "applied" };
    warnings.extend(audit_warning(audit_log.append(&log.entry(result, Some(&set.id), None)), Some(&set.id)));
    Ok(ApplyReport { changed: true, files, commands: records, backup: Some(set.id), warnings })
}

/// A failed audit log write after the device was changed as asked: a warning, not a failure
/// (the exit code says whether the device is as asked, and it is).
fn audit_warning(logged: Result<()>, backup: Option<&str>) -> Vec<String> {
    match logged {
        Ok(()) => Vec::new(),
        Err(e) => vec![match backup {
            Some(id) => format!(
                "the changes were applied (backup set {id}), but the audit log could not be written: {e:#}"
            ),
            None => format!("the audit log could not be written: {e:#}"),
        }],
    }
}

/// Record `stage` in the set's journal.
fn set_stage(set: &BackupSet, journal: &mut Journal, stage: Stage) -> Result<()> {
    journal.stage = stage;
    backup::write_journal(&set.dir, journal)
}

/// What every audit line of one apply shares.
pub(crate) struct ApplyLog<'a> {
    pub user: &'a str,
    pub files: &'a [String],
    /// Already masked.
    pub commands: &'a [String],
    pub secrets: &'a [String],
}

impl ApplyLog<'_> {
    pub fn entry(&self, result: &str, backup: Option<&str>, error: Option<String>) -> AuditEntry {
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

/// Running the commands of an apply whose files are written, journaling each success; on a
/// failure or a stop signal, restoring and re-running.
pub(crate) struct Steps<'a> {
    pub root: &'a DeviceRoot,
    pub set: &'a BackupSet,
    pub journal: Journal,
    pub secrets: &'a [String],
    pub log: &'a ApplyLog<'a>,
    pub audit: &'a mut AuditLog,
}

impl Steps<'_> {
    /// Run `commands[journal.commands_done..]`, then mark the set completed. A stop signal
    /// is checked before each command and after the last one. Returns what ran and warnings
    /// (the set could not be marked completed: the device is as asked all the same).
    pub fn run(
        &mut self,
        commands: &[PlannedCommand],
        runner: &mut dyn CommandRunner,
    ) -> Result<(Vec<CommandRecord>, Vec<String>)> {
        let executes = runner.executes();
        let mut records = Vec::with_capacity(commands.len());
        for (index, command) in commands.iter().enumerate().skip(self.journal.commands_done) {
            if interrupt::requested() {
                let output =
                    CommandOutput { code: None, stdout: String::new(), stderr: INTERRUPTED.to_string() };
                return Err(self.failed(commands, index, output, true, runner));
            }
            let output = run(runner, command);
            if !command.succeeded(&output) {
                return Err(self.failed(commands, index, output, false, runner));
            }
            self.journal.commands_done = index + 1;
            // A journal that cannot be written is not worth undoing a working apply for; the
            // next run would only repeat commands that are safe to repeat.
            let _ = backup::write_journal(&self.set.dir, &self.journal);
            records.push(CommandRecord {
                command: mask(&command.display(), self.secrets),
                reason: mask(&command.reason, self.secrets),
                ran: executes,
                exit_code: if executes { output.code } else { None },
            });
            if index + 1 == commands.len() && interrupt::requested() {
                // The signal came during the last command: it finished, but the technician
                // asked to stop, and stopping means rolling back.
                return Err(self.failed(commands, index, output, true, runner));
            }
        }
        let warnings = match set_stage(self.set, &mut self.journal, Stage::Completed) {
            Ok(()) => Vec::new(),
            Err(e) => vec![format!(
                "the changes were applied, but backup set {} could not be marked completed ({e:#}); the next apply will offer to run its commands again",
                self.set.id
            )],
        };
        Ok((records, warnings))
    }

    /// Restore, run again the commands up to and including `index` (only those before it
    /// when it never started), log, and build the [`StepFailed`] error with masked output.
    fn failed(
        &mut self,
        commands: &[PlannedCommand],
        index: usize,
        output: CommandOutput,
        interrupted: bool,
        runner: &mut dyn CommandRunner,
    ) -> anyhow::Error {
        let secrets = self.secrets;
        let command = &commands[index];
        let started = output.stderr != INTERRUPTED;
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
        let mut summary = if interrupted {
            format!("interrupted at `{}`", masked_command.display())
        } else {
            let exit = output.code.map_or_else(|| "no exit code".to_string(), |c| format!("exit code {c}"));
            format!("`{}` failed ({exit})", masked_command.display())
        };
        let detail =
            if output.stderr.trim().is_empty() { output.stdout.trim() } else { output.stderr.trim() };
        if !interrupted && !detail.is_empty() {
            summary.push_str(": ");
            summary.push_str(detail);
        }

        // Journaled first, so a crash while restoring is finished by restoring again.
        self.journal.rerun = if started { index + 1 } else { index };
        let _ = set_stage(self.set, &mut self.journal, Stage::RollingBack);
        let rollback = roll_back(self.root, self.set);
        let mut reapplied = Vec::new();
        if rollback.is_ok() {
            let (records, failures) =
                rerun_after_restore(&commands[..self.journal.rerun], self.set, secrets, runner);
            for line in failures {
                summary.push_str(&format!("; running `{line}` again on the restored files failed too"));
            }
            reapplied = records;
            let _ = set_stage(self.set, &mut self.journal, Stage::RolledBack);
        }
        let (result, summary) = match &rollback {
            Ok(()) => ("rolled back", summary),
            Err(e) => ("rollback failed", format!("{summary}; rolling back also failed: {e:#}")),
        };
        let logged = self.audit.append(&self.log.entry(result, Some(&self.set.id), Some(limit(&summary))));

        let err = anyhow::Error::new(StepFailed {
            command: masked_command,
            output,
            interrupted,
            backup: self.set.id.clone(),
            restored: rollback.is_ok(),
            reapplied,
        });
        let err = match rollback {
            Ok(()) => err,
            Err(e) => err.context(NotRestored {
                backup: self.set.id.clone(),
                reason: mask(&format!("{e:#}"), secrets),
            }),
        };
        with_audit(err, logged)
    }
}

/// Run `commands` again after `set` was restored, so the services read the restored files;
/// skips what [`skip_after_rollback`] says. Returns the records and the (masked) lines that
/// failed.
pub(crate) fn rerun_after_restore(
    commands: &[PlannedCommand],
    set: &BackupSet,
    secrets: &[String],
    runner: &mut dyn CommandRunner,
) -> (Vec<CommandRecord>, Vec<String>) {
    let mut records = Vec::new();
    let mut failures = Vec::new();
    for earlier in commands {
        let line = mask(&earlier.display(), secrets);
        if let Some(why) = skip_after_rollback(earlier, set) {
            records.push(CommandRecord { command: line, reason: why, ran: false, exit_code: None });
            continue;
        }
        let again = run(runner, earlier);
        let ok = earlier.succeeded(&again);
        if !ok {
            failures.push(line.clone());
        }
        records.push(CommandRecord {
            command: line,
            reason: if ok { "ok" } else { "failed" }.to_string(),
            ran: runner.executes(),
            exit_code: again.code,
        });
    }
    (records, failures)
}

/// Why `command` must not run again after `set` was restored, if it must not: it names a
/// file the apply created, which the rollback removed (`iotedge config apply -c
/// /etc/aziot/config.toml` on a device that had no config.toml would fail or, worse, apply
/// defaults).
pub(crate) fn skip_after_rollback(command: &PlannedCommand, set: &BackupSet) -> Option<String> {
    let created = set.manifest.files.iter().find(|f| !f.existed && command.args.contains(&f.path))?;
    Some(format!(
        "skipped: {} did not exist before this apply, so the rollback removed it and there is nothing for it to read",
        created.path
    ))
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
        let current = match root.read(&change.path, crate::input_file::MAX_CONFIG_BYTES) {
            Ok(found) => found,
            Err(e) => return Err(root.read_refusal(&change.path, &e)),
        };
        let current_owner = current.as_ref().map(|(_, meta)| (meta.uid, meta.gid));
        let current = current.map(|(bytes, _)| bytes);
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
                (None, _) => current_owner,
            };
            if let Some((uid, gid)) = owner.filter(|&(uid, gid)| !me.can_own_as(uid, gid)) {
                return Err(needs_root(&change.path, uid, gid));
            }
        }
    }
    for dir in &plan.dirs {
        let (uid, gid) = (dir.ownership.uid, dir.ownership.gid);
        match root.metadata(&dir.path).map_err(|e| root.refusal(&dir.path, &e))? {
            Some(meta) if !meta.is_dir() => {
                return Err(input_error(format!(
                    "{} exists but is not a directory; move it away and re-run edgeprep",
                    dir.path
                )));
            }
            Some(meta) if (meta.uid, meta.gid) == (uid, gid) => {}
            _ if !me.can_own_as(uid, gid) => return Err(needs_root(&dir.path, uid, gid)),
            _ => {}
        }
    }
    Ok(())
}

fn changed_since_plan(device_path: &str, what: &str) -> anyhow::Error {
    anyhow::Error::new(ChangedSincePlan { path: device_path.to_string(), what: what.to_string() })
}

fn needs_root(device_path: &str, uid: u32, gid: u32) -> anyhow::Error {
    anyhow::Error::new(NeedsRoot { path: device_path.to_string(), uid, gid })
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
        // Resolved inside the root, created with mkdirat, owner and mode set on the descriptor.
        let (fd, _) =
            atomic::create_dir_all_in_root(root, std::path::Path::new(&dir.path), atomic::PARENT_DIR_MODE)?;
        let o = dir.ownership;
        atomic::set_owner_mode(std::os::fd::AsFd::as_fd(&fd), o.mode, o.uid, o.gid)
            .with_context(|| format!("could not set up directory {}", dir.path))?;
    }
    for (change, record) in plan.files.iter().zip(&set.manifest.files) {
        match &change.action {
            FileAction::Write(bytes) => {
                let (mode, owner) = target_mode_owner(change, record, me);
                atomic::write_in_root(root, &change.path, bytes, mode, Some(owner))
                    .with_context(|| format!("could not write {}", change.path))?;
            }
            // The copy is already in the backup set: taking the file away is all that is left.
            FileAction::MoveToBackup => atomic::remove_in_root(root, &change.path)
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
    use std::fs;
    use std::os::unix::fs::MetadataExt;
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
        // The lock is taken even with nothing to do, so a concurrent apply cannot report
        // success while another is halfway through.
        assert_eq!(
            found,
            vec![
                root.path("/run"),
                root.path("/run/edgeprep"),
                root.path(lock::LOCK_FILE),
                root.path("/var"),
                root.path("/var/log"),
                root.path(AUDIT_LOG)
            ]
        );
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
        // Commands stop at the failure; every command up to and including the failed one runs
        // again on the restored files, so docker is not left stopped.
        assert_eq!(
            runner.calls,
            vec![
                "iotedge config apply",
                "systemctl restart docker",
                "iotedge config apply",
                "systemctl restart docker"
            ]
        );
        let again: Vec<_> = step.reapplied.iter().map(|r| (r.command.as_str(), r.reason.as_str())).collect();
        assert_eq!(again, vec![("iotedge config apply", "ok"), ("systemctl restart docker", "ok")]);

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
            files: vec![write("/etc/edgeprep/new.conf", None, b"x")],
            commands: vec![cmd("no-such-program", &[])],
            ..Plan::default()
        };
        let mut runner = FakeRunner::failing_at(0, Err("could not start `no-such-program`".into()));
        let err = apply(&plan, &root, &mut runner, &actor()).unwrap_err();
        let step = err.downcast_ref::<StepFailed>().unwrap_or_else(|| panic!("{err:#}"));
        assert_eq!(step.output.code, None);
        assert!(step.output.stderr.contains("could not start"));
        assert!(!root.path("/etc/edgeprep/new.conf").exists());
    }

    #[test]
    fn write_failure_midway_restores_what_was_already_written() {
        let (_dir, root) = device();
        put(&root, "/etc/edgeprep/keep.conf", b"keep", 0o644, me());
        // The second write makes /etc/blocker a file, so the third cannot create a file in it.
        let plan = Plan {
            files: vec![
                write("/etc/edgeprep/keep.conf", Some(b"keep"), b"changed"),
                write("/etc/edgeprep/blocker", None, b"i am a file"),
                write("/etc/edgeprep/blocker/inside.conf", None, b"x"),
            ],
            commands: vec![cmd("true", &[])],
            ..Plan::default()
        };
        let mut runner = FakeRunner::default();
        let err = apply(&plan, &root, &mut runner, &actor()).unwrap_err();
        assert!(format!("{err:#}").contains("/etc/edgeprep/blocker/inside.conf"), "{err:#}");
        assert!(err.downcast_ref::<StepFailed>().is_none());
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_FAILED);
        assert!(runner.calls.is_empty(), "no command runs after a failed write");
        assert_eq!(fs::read(root.path("/etc/edgeprep/keep.conf")).unwrap(), b"keep");
        assert!(!root.path("/etc/edgeprep/blocker").exists());
        assert_eq!(audit::read_all(&root).unwrap()[0].result, "rolled back");
    }

    #[test]
    fn preflight_refuses_a_file_changed_since_the_plan_and_writes_nothing() {
        let (_dir, root) = device();
        put(&root, "/etc/aziot/config.toml", b"edited by someone else", 0o644, me());
        let plan = Plan {
            files: vec![
                write("/etc/edgeprep/other.conf", None, b"x"),
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
        assert!(!root.path("/etc/edgeprep/other.conf").exists());
        assert!(!root.path("/var").exists(), "no backup, no audit log");
    }

    #[test]
    fn preflight_refuses_a_file_created_or_removed_since_the_plan() {
        let (_dir, root) = device();
        put(&root, "/etc/edgeprep/appeared.conf", b"surprise", 0o644, me());
        let created =
            Plan { files: vec![write("/etc/edgeprep/appeared.conf", None, b"x")], ..Plan::default() };
        let err = apply(&created, &root, &mut FakeRunner::default(), &actor()).unwrap_err();
        assert!(format!("{err}").contains("was created since the plan"), "{err}");

        let removed = Plan {
            files: vec![write("/etc/edgeprep/gone.conf", Some(b"was here"), b"x")],
            ..Plan::default()
        };
        let err = apply(&removed, &root, &mut FakeRunner::default(), &actor()).unwrap_err();
        assert!(format!("{err}").contains("was removed since the plan"), "{err}");
        assert!(!root.path("/etc/edgeprep/gone.conf").exists());
    }

    #[test]
    fn preflight_refuses_ownership_only_root_can_give_when_not_root() {
        let (_dir, root) = device();
        put(&root, "/etc/edgeprep/mine.conf", b"m", 0o644, me());
        let not_root = Process { uid: 1000, gid: 1000 };
        let mut change = write("/etc/edgeprep/x.conf", None, b"x");
        change.ownership = Some(Ownership { mode: 0o644, uid: 0, gid: 0 });
        let plan = Plan { files: vec![change], ..Plan::default() };
        let err = preflight(&plan, &root, not_root).unwrap_err();
        assert!(format!("{err}").contains("sudo"), "{err}");
        // Keeping an existing file's owner that is not ours is just as impossible.
        let keep =
            Plan { files: vec![write("/etc/edgeprep/mine.conf", Some(b"m"), b"n")], ..Plan::default() };
        assert!(preflight(&keep, &root, not_root).is_err());
        // Our own uid/gid is fine.
        let mut ours = write("/etc/edgeprep/y.conf", None, b"y");
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
    fn restore_of_the_latest_apply_undoes_it_and_can_itself_be_undone_by_id() {
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
        // Without an id, a rollback picks the latest apply not rolled back yet: none is left.
        assert!(backup::restore(&root, None).is_err());
        let again = backup::restore(&root, Some(&report.backup)).unwrap();
        assert_eq!(again.restored_from, report.backup);
        assert_eq!(fs::read(&config).unwrap(), b"v2");
        assert_eq!(fs::read(&dropin).unwrap(), b"[Service]\n");
    }

    #[test]
    fn restore_by_id_picks_that_set_and_an_unknown_id_lists_the_available_ones() {
        let (_dir, root) = device();
        put(&root, "/etc/edgeprep/a.conf", b"1", 0o644, me());
        let first = apply(
            &Plan { files: vec![write("/etc/edgeprep/a.conf", Some(b"1"), b"2")], ..Plan::default() },
            &root,
            &mut FakeRunner::default(),
            &actor(),
        )
        .unwrap();
        apply(
            &Plan { files: vec![write("/etc/edgeprep/a.conf", Some(b"2"), b"3")], ..Plan::default() },
            &root,
            &mut FakeRunner::default(),
            &actor(),
        )
        .unwrap();
        let first_id = first.backup.unwrap();
        backup::restore(&root, Some(&first_id)).unwrap();
        assert_eq!(fs::read(root.path("/etc/edgeprep/a.conf")).unwrap(), b"1");

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
        put(&root, "/etc/edgeprep/a.conf", b"1", 0o644, me());
        let report = apply(
            &Plan { files: vec![write("/etc/edgeprep/a.conf", Some(b"1"), b"2")], ..Plan::default() },
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
        assert_eq!(fs::read(root.path("/etc/edgeprep/a.conf")).unwrap(), b"2");
    }

    #[test]
    fn list_shows_complete_sets_oldest_first_with_user_and_files() {
        let (_dir, root) = device();
        for n in 0..3 {
            let plan = Plan {
                files: vec![write(&format!("/etc/edgeprep/f{n}.conf"), None, b"x")],
                ..Plan::default()
            };
            apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap();
        }
        // An interrupted set without a manifest is not offered.
        fs::create_dir_all(root.path(BACKUPS_DIR).join("29991231T235959Z")).unwrap();
        let sets = backup::list(&root).unwrap();
        assert_eq!(sets.len(), 3);
        let files: Vec<_> = sets.iter().map(|s| s.files.clone()).collect();
        assert_eq!(
            files,
            vec![vec!["/etc/edgeprep/f0.conf"], vec!["/etc/edgeprep/f1.conf"], vec!["/etc/edgeprep/f2.conf"]]
        );
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
            files: vec![write("/etc/edgeprep/x.conf", None, b"x")],
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
            files: vec![write("/etc/edgeprep/x.conf", None, b"x")],
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
        assert_eq!(log[0].files, vec!["/etc/edgeprep/x.conf"]);
        assert_eq!(log[0].commands, vec!["systemctl restart aziot-edged"]);
        assert_eq!(log[0].backup, report.backup);
        assert_eq!(log[0].error, None);
        let (_, manifest) = manifest_of(&root, report.backup.as_deref().unwrap());
        assert_eq!(manifest.commands, vec!["systemctl restart aziot-edged"]);
    }

    fn journal_of(root: &DeviceRoot, id: &str) -> backup::Journal {
        let text = fs::read_to_string(root.path(BACKUPS_DIR).join(id).join(backup::JOURNAL)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn config_apply_is_not_run_again_against_a_config_toml_the_rollback_removed() {
        let (_dir, root) = device();
        let plan = Plan {
            files: vec![write("/etc/aziot/config.toml", None, b"hostname = \"x\"\n")],
            commands: vec![
                cmd("iotedge", &["config", "apply", "-c", "/etc/aziot/config.toml"]),
                cmd("docker", &["rm", "-f", "edgeAgent"]),
            ],
            ..Plan::default()
        };
        let mut runner = FakeRunner::failing_at(1, failure(1, "Cannot connect to the Docker daemon"));
        let err = apply(&plan, &root, &mut runner, &actor()).unwrap_err();
        let step = err.downcast_ref::<StepFailed>().unwrap();
        assert!(!root.path("/etc/aziot/config.toml").exists());
        assert_eq!(
            runner.calls,
            vec![
                "iotedge config apply -c /etc/aziot/config.toml",
                "docker rm -f edgeAgent",
                "docker rm -f edgeAgent"
            ]
        );
        assert!(!step.reapplied[0].ran);
        assert!(
            step.reapplied[0].reason.starts_with("skipped: /etc/aziot/config.toml did not exist"),
            "{:?}",
            step.reapplied
        );
        assert_eq!(step.reapplied[1].reason, "ok");
        assert_eq!(journal_of(&root, &step.backup).stage, backup::Stage::RolledBack);
    }

    #[test]
    fn journal_records_each_command_and_ends_completed() {
        let (_dir, root) = device();
        let plan = Plan {
            files: vec![write("/etc/edgeprep/x.conf", None, b"x")],
            commands: vec![cmd("systemctl", &["daemon-reload"]), cmd("systemctl", &["restart", "docker"])],
            ..Plan::default()
        };
        let report = apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap();
        let journal = journal_of(&root, report.backup.as_deref().unwrap());
        assert_eq!(journal.stage, backup::Stage::Completed);
        assert_eq!(journal.commands_done, 2);
        assert_eq!(journal.commands[1].planned().display(), "systemctl restart docker");
        assert!(recover::pending(&root).unwrap().is_none());
    }

    #[test]
    fn an_apply_is_refused_while_an_interrupted_one_is_pending() {
        let (_dir, root) = device();
        let plan = Plan {
            files: vec![write("/etc/edgeprep/x.conf", None, b"x")],
            commands: vec![cmd("systemctl", &["daemon-reload"]), cmd("systemctl", &["restart", "docker"])],
            ..Plan::default()
        };
        let report = apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap();
        let id = report.backup.unwrap();
        // As if the power went out after the first command.
        let set_dir = root.path(BACKUPS_DIR).join(&id);
        let mut journal = journal_of(&root, &id);
        journal.stage = backup::Stage::FilesWritten;
        journal.commands_done = 1;
        backup::write_journal(&set_dir, &journal).unwrap();

        let pending = recover::pending(&root).unwrap().expect("pending");
        assert_eq!(pending.id, id);
        assert_eq!(pending.pending_commands, vec!["systemctl restart docker"]);
        let next = Plan { files: vec![write("/etc/edgeprep/y.conf", None, b"y")], ..Plan::default() };
        let err = apply(&next, &root, &mut FakeRunner::default(), &actor()).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT);
        assert!(format!("{err}").contains("interrupted"), "{err}");
        assert!(!root.path("/etc/edgeprep/y.conf").exists());

        let mut runner = FakeRunner::default();
        let finished = recover::finish(&root, &mut runner, &actor()).unwrap().unwrap();
        assert_eq!(finished.outcome, "completed");
        assert_eq!(runner.calls, vec!["systemctl restart docker"]);
        assert_eq!(journal_of(&root, &id).stage, backup::Stage::Completed);
        assert!(recover::pending(&root).unwrap().is_none());
    }

    #[test]
    fn an_apply_interrupted_while_writing_files_is_finished_by_putting_them_back() {
        let (_dir, root) = device();
        put(&root, "/etc/edgeprep/a.conf", b"1", 0o644, me());
        let plan = Plan {
            files: vec![write("/etc/edgeprep/a.conf", Some(b"1"), b"2")],
            commands: vec![cmd("systemctl", &["restart", "docker"])],
            ..Plan::default()
        };
        let id = apply(&plan, &root, &mut FakeRunner::default(), &actor()).unwrap().backup.unwrap();
        let mut journal = journal_of(&root, &id);
        journal.stage = backup::Stage::BackedUp;
        journal.commands_done = 0;
        backup::write_journal(&root.path(BACKUPS_DIR).join(&id), &journal).unwrap();

        let mut runner = FakeRunner::default();
        let finished = recover::finish(&root, &mut runner, &actor()).unwrap().unwrap();
        assert_eq!(finished.outcome, "restored");
        assert!(runner.calls.is_empty(), "no command had run, none runs now");
        assert_eq!(fs::read(root.path("/etc/edgeprep/a.conf")).unwrap(), b"1");
        assert_eq!(journal_of(&root, &id).stage, backup::Stage::RolledBack);
    }

    #[test]
    fn rollback_without_id_follows_the_sequence_number_not_the_clock() {
        let (_dir, root) = device();
        put(&root, "/etc/edgeprep/a.conf", b"1", 0o644, me());
        let first = Plan { files: vec![write("/etc/edgeprep/a.conf", Some(b"1"), b"2")], ..Plan::default() };
        apply(&first, &root, &mut FakeRunner::default(), &actor()).unwrap();
        let second = Plan { files: vec![write("/etc/edgeprep/a.conf", Some(b"2"), b"3")], ..Plan::default() };
        let id = apply(&second, &root, &mut FakeRunner::default(), &actor()).unwrap().backup.unwrap();
        // The clock went back to 1970 before the second apply (no RTC): its id sorts first.
        let epoch = "19700101T000000Z";
        let backups = root.path(BACKUPS_DIR);
        fs::rename(backups.join(&id), backups.join(epoch)).unwrap();
        let manifest_path = backups.join(epoch).join(backup::MANIFEST);
        let text = fs::read_to_string(&manifest_path).unwrap().replace(&id, epoch);
        fs::write(&manifest_path, text).unwrap();

        let report = backup::restore(&root, None).unwrap();
        assert_eq!(report.restored_from, epoch);
        assert_eq!(fs::read(root.path("/etc/edgeprep/a.conf")).unwrap(), b"2");
        let listed = backup::list(&root).unwrap();
        let last = listed.last().unwrap();
        assert_eq!((last.action.as_str(), last.restores.as_deref()), ("rollback", Some(epoch)));
        assert!(last.seq > listed[0].seq);
        let undone = listed.iter().find(|s| s.id == epoch).unwrap();
        assert_eq!(undone.status, "rolled back");
        assert_eq!(undone.rolled_back_by.as_deref(), Some(last.id.as_str()));
        // The next rollback without id goes one further back.
        let report = backup::restore(&root, None).unwrap();
        assert_ne!(report.restored_from, epoch);
        assert_eq!(fs::read(root.path("/etc/edgeprep/a.conf")).unwrap(), b"1");
    }

    #[test]
    fn an_automatic_rollback_is_marked_in_the_list_and_not_picked_again() {
        let (_dir, root) = device();
        let plan = Plan {
            files: vec![write("/etc/edgeprep/x.conf", None, b"x")],
            commands: vec![cmd("systemctl", &["restart", "docker"])],
            ..Plan::default()
        };
        let mut runner = FakeRunner::failing_at(0, failure(1, "nope"));
        apply(&plan, &root, &mut runner, &actor()).unwrap_err();
        let listed = backup::list(&root).unwrap();
        assert_eq!(listed[0].status, "rolled back automatically");
        assert!(backup::restore(&root, None).is_err(), "an apply already rolled back is not picked");
    }

    #[test]
    fn a_tampered_manifest_is_listed_as_damaged_refused_and_blocks_nothing_else() {
        let (dir, root) = device();
        put(&root, "/etc/edgeprep/a.conf", b"1", 0o644, me());
        let one = Plan { files: vec![write("/etc/edgeprep/a.conf", Some(b"1"), b"2")], ..Plan::default() };
        let first = apply(&one, &root, &mut FakeRunner::default(), &actor()).unwrap().backup.unwrap();
        let two = Plan { files: vec![write("/etc/edgeprep/a.conf", Some(b"2"), b"3")], ..Plan::default() };
        let second = apply(&two, &root, &mut FakeRunner::default(), &actor()).unwrap().backup.unwrap();

        // Someone rewrites the newest set to drop a setuid shell outside the root.
        let manifest_path = root.path(BACKUPS_DIR).join(&second).join(backup::MANIFEST);
        let text = fs::read_to_string(&manifest_path)
            .unwrap()
            .replace("\"/etc/edgeprep/a.conf\"", "\"/etc/aziot/../../../../tmp/evil\"")
            .replace("\"0644\"", "\"4755\"");
        fs::write(&manifest_path, text).unwrap();

        let listed = backup::list(&root).unwrap();
        let damaged = listed.iter().find(|s| s.id == second).unwrap();
        assert_eq!(damaged.status, "damaged");
        assert!(damaged.damaged.as_deref().unwrap().contains(".."), "{damaged:?}");
        let err = backup::restore(&root, Some(&second)).unwrap_err();
        assert!(format!("{err}").contains("damaged"), "{err}");
        assert!(!dir.path().join("tmp/evil").exists());
        // The good set still restores, with or without its id.
        let report = backup::restore(&root, None).unwrap();
        assert_eq!(report.restored_from, first);
        assert_eq!(fs::read(root.path("/etc/edgeprep/a.conf")).unwrap(), b"1");
    }

    #[test]
    fn an_apply_killed_while_rolling_back_is_finished_by_restoring_and_running_again() {
        let (_dir, root) = device();
        put(&root, "/etc/edgeprep/a.conf", b"1", 0o644, me());
        let plan = Plan {
            files: vec![write("/etc/edgeprep/a.conf", Some(b"1"), b"2")],
            commands: vec![cmd("systemctl", &["daemon-reload"]), cmd("systemctl", &["restart", "docker"])],
            ..Plan::default()
        };
        let mut runner = FakeRunner::failing_at(1, failure(1, "docker failed"));
        let err = apply(&plan, &root, &mut runner, &actor()).unwrap_err();
        let id = err.downcast_ref::<StepFailed>().unwrap().backup.clone();
        let journal = journal_of(&root, &id);
        assert_eq!((journal.stage, journal.rerun), (backup::Stage::RolledBack, 2));
        // As if the power went out just after the journal said "rolling back".
        backup::write_journal(
            &root.path(BACKUPS_DIR).join(&id),
            &backup::Journal { stage: backup::Stage::RollingBack, ..journal },
        )
        .unwrap();
        fs::write(root.path("/etc/edgeprep/a.conf"), b"2").unwrap();
        assert_eq!(recover::pending(&root).unwrap().unwrap().stage, backup::Stage::RollingBack);

        let mut runner = FakeRunner::default();
        let finished = recover::finish(&root, &mut runner, &actor()).unwrap().unwrap();
        assert_eq!(finished.outcome, "restored");
        assert_eq!(fs::read(root.path("/etc/edgeprep/a.conf")).unwrap(), b"1");
        assert_eq!(runner.calls, vec!["systemctl daemon-reload", "systemctl restart docker"]);
        assert_eq!(journal_of(&root, &id).stage, backup::Stage::RolledBack);
        assert!(recover::pending(&root).unwrap().is_none());
    }
}
