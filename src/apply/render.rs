//! How the outcome of an apply, a rollback or a recovery is told to the technician, as text and
//! as JSON: one place, so the CLI and the wizard print the same thing. Everything here is
//! already masked by the engine.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::recover::{Finished, Pending, RollbackReport};
use super::{ApplyReport, StepFailed};
use crate::plan::NO_CHANGES;

/// The JSON of a successful apply: `{"changed", "files", "commands", "backup", "warnings"}`.
pub fn report_json(report: &ApplyReport) -> serde_json::Value {
    json!({
        "changed": report.changed,
        "files": report.files,
        "commands": report.commands,
        "backup": report.backup,
        "warnings": report.warnings,
    })
}

/// The JSON of an apply that failed and was rolled back.
pub fn failure_json(failed: &StepFailed) -> serde_json::Value {
    json!({
        "changed": false,
        "failed": failed.command.display(),
        "interrupted": failed.interrupted,
        "exit_code": failed.output.code,
        "output": format!("{}{}", failed.output.stdout, failed.output.stderr),
        "backup": failed.backup,
        "restored": failed.restored,
        "reapplied": failed.reapplied,
    })
}

/// What a successful apply did.
pub fn write_report(report: &ApplyReport, out: &mut dyn Write) -> Result<()> {
    write_warnings(&report.warnings, out)?;
    if !report.changed {
        writeln!(out, "{NO_CHANGES}")?;
        return Ok(());
    }
    if let Some(id) = &report.backup {
        writeln!(out, "Backed up the originals as {id} (undo with: edgeprep rollback {id})")?;
    }
    for file in &report.files {
        writeln!(out, "Wrote {file}")?;
    }
    write_commands(report, out)?;
    writeln!(out, "Done.")?;
    Ok(())
}

fn write_commands(report: &ApplyReport, out: &mut dyn Write) -> Result<()> {
    let listed: Vec<_> = report.commands.iter().filter(|c| !c.ran).collect();
    for command in report.commands.iter().filter(|c| c.ran) {
        writeln!(out, "Ran {}", command.command)?;
    }
    if !listed.is_empty() {
        writeln!(out, "To run on the device, in order (--root is not /):")?;
        for command in listed {
            writeln!(out, "  sudo {}", command.command)?;
        }
    }
    Ok(())
}

fn write_warnings(warnings: &[String], out: &mut dyn Write) -> Result<()> {
    for warning in warnings {
        writeln!(out, "WARNING: {warning}")?;
    }
    Ok(())
}

/// What a failed (or interrupted) apply did: the failure, the restore, what ran again.
pub fn write_failure(failed: &StepFailed, out: &mut dyn Write) -> Result<()> {
    if failed.interrupted {
        writeln!(
            out,
            "STOPPED at `{}`: edgeprep was interrupted (Ctrl-C, hang-up or termination).",
            failed.command.display()
        )?;
    } else {
        writeln!(
            out,
            "FAILED: `{}` exited with {}.",
            failed.command.display(),
            exit_text(failed.output.code)
        )?;
        for line in failed.output.stdout.lines().chain(failed.output.stderr.lines()) {
            writeln!(out, "  | {line}")?;
        }
    }
    if !failed.restored {
        writeln!(
            out,
            "Restoring the files from backup {} FAILED too: the device may be half-configured (see below).",
            failed.backup
        )?;
        return Ok(());
    }
    writeln!(out, "Every file was restored from backup {}.", failed.backup)?;
    for record in &failed.reapplied {
        writeln!(out, "Ran again on the restored files: {} ({})", record.command, record.reason)?;
    }
    let next = if failed.interrupted {
        "Run apply again when ready."
    } else {
        "Fix the cause above and run apply again."
    };
    writeln!(out, "{next}")?;
    Ok(())
}

fn exit_text(code: Option<i32>) -> String {
    code.map_or_else(|| "a signal".to_string(), |c| format!("code {c}"))
}

/// The notice that an earlier apply or rollback did not finish.
pub fn write_pending(pending: &Pending, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "INTERRUPTED: {}.", capitalize(&pending.describe()))?;
    writeln!(out, "{}", pending.next_step())?;
    Ok(())
}

/// How finishing an interrupted apply went.
pub fn write_finished(finished: &Finished, out: &mut dyn Write) -> Result<()> {
    write_warnings(&finished.report.warnings, out)?;
    if finished.outcome == "restored" {
        writeln!(
            out,
            "The interrupted apply (backup set {}) had not finished writing (or rolling back) its files; they were restored.",
            finished.id
        )?;
        for record in &finished.report.commands {
            writeln!(out, "Ran again on the restored files: {} ({})", record.command, record.reason)?;
        }
        return Ok(());
    }
    writeln!(out, "Finishing the interrupted apply (backup set {}):", finished.id)?;
    write_commands(&finished.report, out)?;
    writeln!(out, "The interrupted apply is complete.")?;
    Ok(())
}

/// What a rollback did.
pub fn write_rollback(report: &RollbackReport, out: &mut dyn Write) -> Result<()> {
    write_warnings(&report.warnings, out)?;
    if report.resumed {
        writeln!(out, "Finishing the interrupted rollback of backup set {}.", report.restored_from)?;
    }
    for path in &report.files {
        writeln!(out, "Restored {path}")?;
    }
    writeln!(
        out,
        "The state before this rollback is saved as {} (edgeprep rollback {0} undoes it).",
        report.backup
    )?;
    for command in &report.commands {
        let line = &command.command;
        if !command.ran {
            writeln!(out, "To run on the device: sudo {line}")?;
        } else if let Some(failure) = report.failed.iter().find(|f| f.starts_with(line.as_str())) {
            writeln!(out, "FAILED: {failure}")?;
        } else {
            writeln!(out, "Ran {line}")?;
        }
    }
    Ok(())
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}
