//! `edgeprep rollback`: list backup sets, or restore one.

use std::io::Write;

use anyhow::Result;

use super::context::{Context, confirm, interactive};
use crate::apply::audit::{self, AuditEntry};
use crate::apply::interrupt::Shield;
use crate::apply::lock::DeviceLock;
use crate::apply::{Actor, backup};
use crate::cli::RollbackArgs;
use crate::error::{EXIT_FAILED, EXIT_OK, input_error};
use crate::plan::commands::{Changes, commands_for};

pub fn run(ctx: &Context, args: &RollbackArgs, out: &mut dyn Write) -> Result<i32> {
    let sets = backup::list(&ctx.root)?;
    if args.list {
        if sets.is_empty() {
            writeln!(out, "No backup sets yet.")?;
        }
        for set in &sets {
            writeln!(out, "{}  by {}  {}", set.id, set.user, set.files.join(", "))?;
        }
        return Ok(EXIT_OK);
    }
    let Some(latest) = sets.last() else {
        return Err(input_error(
            "there is no backup set to roll back to (apply has not changed anything yet)",
        ));
    };
    let id = args.id.clone().unwrap_or_else(|| latest.id.clone());
    if !args.yes {
        if !interactive() {
            return Err(input_error("refusing to roll back without --yes when no one is at a terminal"));
        }
        if !confirm(&format!("Restore the files of backup set {id}?"))? {
            writeln!(out, "Nothing was changed.")?;
            return Ok(EXIT_OK);
        }
    }
    let _lock = DeviceLock::acquire(&ctx.root)?;
    let shield = Shield::raise()?;
    let report = backup::restore(&ctx.root, Some(&id));
    drop(shield);
    let report = report?;
    let commands = commands_for(&Changes::from_paths(&report.files));
    for path in &report.files {
        writeln!(out, "Restored {path}")?;
    }
    writeln!(
        out,
        "The state before this rollback is saved as {} (edgeprep rollback {0} undoes it).",
        report.backup
    )?;
    let mut runner = ctx.runner();
    let mut failed = Vec::new();
    for command in &commands {
        if !runner.executes() {
            writeln!(out, "To run on the device: sudo {}", command.display())?;
            continue;
        }
        let output = runner.run(command)?;
        if command.succeeded(&output) {
            writeln!(out, "Ran {}", command.display())?;
        } else {
            writeln!(out, "FAILED: {} ({})", command.display(), output.stderr.trim())?;
            failed.push(command.display());
        }
    }
    audit::append(
        &ctx.root,
        &AuditEntry {
            time: audit::now_rfc3339(),
            user: Actor::from_env().user,
            action: "rollback".to_string(),
            files: report.files.clone(),
            commands: commands.iter().map(|c| c.display()).collect(),
            result: if failed.is_empty() { "restored" } else { "restored, commands failed" }.to_string(),
            backup: Some(report.backup.clone()),
            error: (!failed.is_empty()).then(|| format!("failed: {}", failed.join(", "))),
        },
    )?;
    Ok(if failed.is_empty() { EXIT_OK } else { EXIT_FAILED })
}
