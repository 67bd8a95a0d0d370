//! After a crash, a power cut or a `kill -9`: finding the apply or rollback that did not
//! finish (its backup set's journal stops short of `completed`), finishing it, and rolling
//! back (which is itself journaled, so a rollback killed half-way is finished by running
//! `edgeprep rollback` again).
//!
//! Without this, files written before the crash look like the wanted state to the next
//! `plan` ("No changes") while the services still run the old configuration.

use anyhow::{Context, Result};

use super::audit::{AuditEntry, AuditLog};
use super::backup::{self, BackupSet, Journal, JournalCommand, Stage};
use super::{
    Actor, ApplyLog, ApplyReport, CommandRecord, Steps, atomic, audit, lock, roll_back, set_stage,
    skip_after_rollback,
};
use crate::error::{NotRestored, input_error};
use crate::plan::commands::{Changes, commands_for};
use crate::root::DeviceRoot;
use crate::runner::{CommandRunner, PlannedCommand};
use crate::secrets::mask;

/// An apply or rollback that a crash interrupted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    /// Its backup set.
    pub id: String,
    /// `apply` or `rollback`.
    pub action: String,
    pub stage: Stage,
    /// For a rollback: the set it was restoring.
    pub restores: Option<String>,
    /// Device paths it writes.
    pub files: Vec<String>,
    /// Command lines (masked) not run yet.
    pub pending_commands: Vec<String>,
}

impl Pending {
    /// One sentence: what was interrupted and what is left.
    pub fn describe(&self) -> String {
        let left = if self.pending_commands.is_empty() {
            String::new()
        } else {
            format!("; not run yet: {}", self.pending_commands.join(", "))
        };
        match (self.action.as_str(), self.stage) {
            ("rollback", _) => format!(
                "an earlier rollback (backup set {}, restoring set {}) was interrupted{left}",
                self.id,
                self.restores.as_deref().unwrap_or("?")
            ),
            (_, Stage::RollingBack) => {
                format!(
                    "an earlier apply (backup set {}) was interrupted while it was being rolled back",
                    self.id
                )
            }
            (_, Stage::BackedUp) => format!(
                "an earlier apply (backup set {}) was interrupted while writing its files ({})",
                self.id,
                self.files.join(", ")
            ),
            _ => format!(
                "an earlier apply (backup set {}) was interrupted after writing its files{left}",
                self.id
            ),
        }
    }

    /// What to run to deal with it.
    pub fn next_step(&self) -> String {
        if self.action == "rollback" {
            "Run `edgeprep rollback` to finish it.".to_string()
        } else {
            format!("Run `edgeprep apply` to finish it, or `edgeprep rollback {}` to undo it.", self.id)
        }
    }
}

/// The latest interrupted apply or rollback, if any (one that a later rollback undid is not).
pub fn pending(root: &DeviceRoot) -> Result<Option<Pending>> {
    let found = backup::scan(root)?;
    for f in found.iter().rev() {
        let Some((set, journal)) = f.usable() else { continue };
        let stage = backup::stage_of(journal);
        if !matches!(stage, Stage::BackedUp | Stage::FilesWritten | Stage::RollingBack)
            || backup::rolled_back_by(&found, &set.id).is_some()
        {
            continue;
        }
        let pending_commands = journal
            .map(|j| j.commands[j.commands_done..].iter().map(|c| c.planned().display()).collect())
            .unwrap_or_default();
        return Ok(Some(Pending {
            id: set.id.clone(),
            action: set.manifest.action.clone(),
            stage,
            restores: set.manifest.restores.clone(),
            files: set.manifest.files.iter().map(|r| r.path.clone()).collect(),
            pending_commands,
        }));
    }
    Ok(None)
}

/// How finishing an interrupted apply ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finished {
    /// The interrupted apply's backup set.
    pub id: String,
    /// `completed` (the pending commands ran) or `restored` (it had not finished writing its
    /// files, so they were put back; no command had run).
    pub outcome: String,
    pub report: ApplyReport,
}

/// Finish the interrupted apply: run its pending commands (on a failure, restore and run
/// again as [`super::apply`] does), or, when it stopped while writing files, put them back.
/// `Ok(None)` when nothing is pending. An interrupted rollback is refused: `edgeprep
/// rollback` finishes it.
pub fn finish(root: &DeviceRoot, runner: &mut dyn CommandRunner, actor: &Actor) -> Result<Option<Finished>> {
    let _lock = lock::DeviceLock::acquire(root)?;
    let Some(pending) = pending(root)? else { return Ok(None) };
    atomic::remove_stale_temp_files(root, &atomic::written_dirs())?;
    if pending.action != "apply" {
        return Err(input_error(format!(
            "{}; nothing was changed. {}",
            pending.describe(),
            pending.next_step()
        )));
    }
    let mut audit_log = AuditLog::open(root)?;
    let set = backup::select_for_rollback(root, Some(&pending.id))?;
    let journal = read_journal_of(&set)?;
    let lines: Vec<String> = journal.commands.iter().map(|c| c.planned().display()).collect();
    let log = ApplyLog { user: &actor.user, files: &pending.files, commands: &lines, secrets: &[] };

    if matches!(journal.stage, Stage::BackedUp | Stage::RollingBack) {
        // Stopped while writing the files (no command ran yet) or while putting them back:
        // either way the way forward is the files of the set, then the commands that had run.
        let mut journal = journal;
        roll_back(root, &set).map_err(|e| {
            anyhow::Error::new(NotRestored { backup: set.id.clone(), reason: format!("{e:#}") })
                .context("could not put back the files of the interrupted apply")
        })?;
        let rerun: Vec<PlannedCommand> = journal.commands[..journal.rerun.min(journal.commands.len())]
            .iter()
            .map(JournalCommand::planned)
            .collect();
        let (records, failures) = super::rerun_after_restore(&rerun, &set, &[], runner);
        set_stage(&set, &mut journal, Stage::RolledBack)?;
        let error = (!failures.is_empty()).then(|| format!("running again failed: {}", failures.join(", ")));
        let mut warnings = super::audit_warning(
            audit_log.append(&log.entry("restored after an interruption", Some(&set.id), error)),
            None,
        );
        warnings
            .extend(failures.iter().map(|f| format!("`{f}` failed when run again on the restored files")));
        let report = ApplyReport {
            changed: true,
            files: pending.files,
            commands: records,
            backup: Some(set.id.clone()),
            warnings,
        };
        return Ok(Some(Finished { id: set.id, outcome: "restored".to_string(), report }));
    }

    if let Some(c) = journal.commands[journal.commands_done..].iter().find(|c| !c.resumable) {
        return Err(input_error(format!(
            "{}; `{}` held a secret and cannot be run again from the journal. Undo it with `edgeprep rollback {}`",
            pending.describe(),
            c.planned().display(),
            set.id
        )));
    }
    let commands: Vec<PlannedCommand> = journal.commands.iter().map(JournalCommand::planned).collect();
    let mut steps = Steps { root, set: &set, journal, secrets: &[], log: &log, audit: &mut audit_log };
    let (records, mut warnings) = steps.run(&commands, runner)?;
    let result = if runner.executes() { "finished after an interruption" } else { "listed" };
    warnings.extend(super::audit_warning(
        audit_log.append(&log.entry(result, Some(&set.id), None)),
        Some(&set.id),
    ));
    let report = ApplyReport {
        changed: true,
        files: pending.files,
        commands: records,
        backup: Some(set.id.clone()),
        warnings,
    };
    Ok(Some(Finished { id: set.id, outcome: "completed".to_string(), report }))
}

fn read_journal_of(set: &BackupSet) -> Result<Journal> {
    backup::scan_journal(set)?.with_context(|| format!("backup set {} has no journal", set.id))
}

/// What a rollback did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackReport {
    /// The set whose files were restored.
    pub restored_from: String,
    /// Device paths now as they were in that set.
    pub files: Vec<String>,
    /// The set holding the state just before the rollback: restore it to undo the rollback.
    pub backup: String,
    /// The commands that make the services read the restored files.
    pub commands: Vec<CommandRecord>,
    /// Command lines that failed (the files stay restored).
    pub failed: Vec<String>,
    /// True when this finished a rollback that had been interrupted.
    pub resumed: bool,
    pub warnings: Vec<String>,
}

/// Restore the set `id` (default: finish an interrupted rollback, else the latest apply not
/// rolled back yet) and run the commands that make the services read the restored files.
///
/// Stop signals do not stop it: a rollback in progress finishes (the caller holds a shield).
/// A failing command does not undo the restore; it is reported in `failed`.
pub fn rollback(
    root: &DeviceRoot,
    id: Option<&str>,
    runner: &mut dyn CommandRunner,
    actor: &Actor,
) -> Result<RollbackReport> {
    let lock = lock::DeviceLock::acquire(root)?;
    rollback_locked(root, id, runner, actor, &lock)
}

/// [`rollback`] for a caller that already holds the device lock (`apply --confirm` reverting
/// an unconfirmed apply under the lock it applied with).
pub fn rollback_locked(
    root: &DeviceRoot,
    id: Option<&str>,
    runner: &mut dyn CommandRunner,
    actor: &Actor,
    _lock: &lock::DeviceLock,
) -> Result<RollbackReport> {
    let mut audit_log = AuditLog::open(root)?;

    let interrupted = match id {
        None => pending(root)?.filter(|p| p.action == "rollback"),
        Some(_) => None,
    };
    let resumed = interrupted.is_some();
    let mut skipped = Vec::new();
    let (report, before, journal) = match interrupted {
        Some(p) => {
            let before = backup::select_for_rollback(root, Some(&p.id))?;
            let target_id = before.manifest.restores.clone().unwrap_or_default();
            let target = backup::select_for_rollback(root, Some(&target_id))?;
            let mut journal = read_journal_of(&before)?;
            if journal.stage == Stage::BackedUp {
                roll_back(root, &target).map_err(|e| {
                    anyhow::Error::new(NotRestored { backup: before.id.clone(), reason: format!("{e:#}") })
                        .context(format!("could not finish restoring backup set {}", target.id))
                })?;
                set_stage(&before, &mut journal, Stage::FilesWritten)?;
            }
            let files = target.manifest.files.iter().map(|f| f.path.clone()).collect();
            let report =
                backup::RestoreReport { restored_from: target.id.clone(), files, backup: before.id.clone() };
            (report, before, journal)
        }
        None => {
            let target = backup::select_for_rollback(root, id)?;
            let files: Vec<String> = target.manifest.files.iter().map(|f| f.path.clone()).collect();
            // A command reading a file the apply created has nothing to read once the rollback
            // removed it (`iotedge config apply` on a device that had only the template): it is
            // reported as skipped, as the automatic rollback inside apply does, not run to fail.
            let mut commands = Vec::new();
            for command in commands_for(&Changes::from_paths(&files)) {
                match skip_after_rollback(&command, &target) {
                    Some(why) => skipped.push(CommandRecord {
                        command: command.display(),
                        reason: why,
                        ran: false,
                        exit_code: None,
                    }),
                    None => commands.push(JournalCommand::record(&command, &[])),
                }
            }
            let (report, before) = backup::restore_files(root, &target, &actor.user, &commands)?;
            let journal = Journal { stage: Stage::FilesWritten, commands, commands_done: 0, rerun: 0 };
            (report, before, journal)
        }
    };
    let mut journal = journal;
    let mut records = skipped;
    let mut failed = Vec::new();
    let executes = runner.executes();
    for index in journal.commands_done..journal.commands.len() {
        let command = journal.commands[index].planned();
        let line = command.display();
        let output = runner.run(&command);
        let ok = output.as_ref().is_ok_and(|o| command.succeeded(o));
        if ok {
            journal.commands_done = index + 1;
            let _ = backup::write_journal(&before.dir, &journal);
        } else {
            let why = match &output {
                Ok(o) => o.stderr.trim().to_string(),
                Err(e) => format!("{e:#}"),
            };
            failed.push(format!("{line} ({})", mask(&why, &[])));
        }
        records.push(CommandRecord {
            command: line,
            reason: command.reason.clone(),
            ran: executes,
            exit_code: output.ok().and_then(|o| o.code),
        });
    }
    set_stage(&before, &mut journal, Stage::Completed)?;
    let entry = AuditEntry {
        time: audit::now_rfc3339(),
        user: actor.user.clone(),
        action: "rollback".to_string(),
        files: report.files.clone(),
        commands: journal.commands.iter().map(|c| c.planned().display()).collect(),
        result: if failed.is_empty() { "restored" } else { "restored, commands failed" }.to_string(),
        backup: Some(report.backup.clone()),
        error: (!failed.is_empty()).then(|| format!("failed: {}", failed.join(", "))),
    };
    let warnings = match audit_log.append(&entry) {
        Ok(()) => Vec::new(),
        Err(e) => vec![format!("the files were restored, but the audit log could not be written: {e:#}")],
    };
    Ok(RollbackReport {
        restored_from: report.restored_from,
        files: report.files,
        backup: report.backup,
        commands: records,
        failed,
        resumed,
        warnings,
    })
}
