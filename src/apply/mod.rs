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
    let command_lines: Vec<String> = plan
        .commands
        .iter()
        .map(|c| mask(&c.display(), secrets))
        .collect();
    let log = ApplyLog {
        user: &actor.user,
        files: &files,
        commands: &command_lines,
        secrets,
    };

    if plan.is_empty() {
        audit::append(root, &log.entry("unchanged", None, None))?;
        return Ok(ApplyReport {
            changed: false,
            files: Vec::new(),
            commands: Vec::new(),
            backup: None,
        });
    }

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
            Ok(()) => ("rolled back", err.context(format!("every file was restored from backup set {}", set.id))),
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
    for command in &plan.commands {
        let output = runner
            .run(command)
            .unwrap_or_else(|spawn_err| CommandOutput {
                code: None,
                stdout: String::new(),
                stderr: format!("{spawn_err:#}"),
            });
        if !output.success() {
            return Err(command_failed(plan, root, &set, command, output, &log));
        }
        records.push(CommandRecord {
            command: mask(&command.display(), secrets),
            reason: mask(&command.reason, secrets),
            ran: executes,
            exit_code: if executes { output.code } else { None },
        });
    }

    let result = if !executes && !plan.commands.is_empty() {
        "listed"
    } else {
        "applied"
    };
    audit::append(root, &log.entry(result, Some(&set.id), None)).with_context(|| {
        format!(
            "the changes were applied (backup set {}), but the audit log could not be written",
            set.id
        )
    })?;
    Ok(ApplyReport {
        changed: true,
        files,
        commands: records,
        backup: Some(set.id),
    })
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

/// A command failed: restore, log, and build the [`StepFailed`] error with masked output.
fn command_failed(
    plan: &Plan,
    root: &DeviceRoot,
    set: &BackupSet,
    command: &PlannedCommand,
    output: CommandOutput,
    log: &ApplyLog<'_>,
) -> anyhow::Error {
    let secrets = &plan.secrets;
    let masked_command = PlannedCommand {
        program: mask(&command.program, secrets),
        args: command.args.iter().map(|a| mask(a, secrets)).collect(),
        reason: mask(&command.reason, secrets),
    };
    let output = CommandOutput {
        code: output.code,
        stdout: mask(&output.stdout, secrets),
        stderr: mask(&output.stderr, secrets),
    };
    let exit = output
        .code
        .map_or_else(|| "no exit code".to_string(), |c| format!("exit code {c}"));
    let mut summary = format!("`{}` failed ({exit})", masked_command.display());
    let detail = if output.stderr.trim().is_empty() {
        output.stdout.trim()
    } else {
        output.stderr.trim()
    };
    if !detail.is_empty() {
        summary.push_str(": ");
        summary.push_str(detail);
    }

    let rollback = roll_back(root, set);
    let (result, summary) = match &rollback {
        Ok(()) => ("rolled back", summary),
        Err(e) => (
            "rollback failed",
            format!("{summary}; rolling back also failed: {e:#}"),
        ),
    };
    let logged = audit::append(
        root,
        &log.entry(result, Some(&set.id), Some(limit(&summary))),
    );

    let err = anyhow::Error::new(StepFailed {
        command: masked_command,
        output,
        backup: set.id.clone(),
    });
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
        Err(log_err) => err.context(format!(
            "(the audit log could not be written either: {log_err:#})"
        )),
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
        Self {
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
        }
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
        if let Some(parent) = std::path::Path::new(&file.path)
            .parent()
            .and_then(|p| p.to_str())
        {
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
    if let (true, Some(mode), Some(uid), Some(gid)) =
        (record.existed, record.mode, record.uid, record.gid)
    {
        return (mode, (uid, gid));
    }
    let mode = if change.holds_secrets {
        NEW_SECRET_FILE_MODE
    } else {
        NEW_FILE_MODE
    };
    (mode, (me.uid, me.gid))
}
