//! `edgeprep rollback`: list backup sets, or restore one (finishing an interrupted rollback
//! first).

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::context::{Context, confirm, interactive};
use crate::apply::interrupt::Shield;
use crate::apply::render::write_rollback;
use crate::apply::{Actor, backup, recover};
use crate::cli::RollbackArgs;
use crate::error::{EXIT_FAILED, EXIT_OK, input_error};

pub fn run(ctx: &Context, args: &RollbackArgs, out: &mut dyn Write) -> Result<i32> {
    if args.list {
        let sets = backup::list(&ctx.root)?;
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "sets": sets }))?)?;
            return Ok(EXIT_OK);
        }
        if sets.is_empty() {
            writeln!(out, "No backup sets yet.")?;
        }
        for set in &sets {
            writeln!(out, "{}", list_line(set))?;
        }
        return Ok(EXIT_OK);
    }
    // An `apply --confirm` nobody confirmed is reverted first, without asking: that is what
    // --confirm promised. Without an id, that revert is the rollback.
    if reverted_unconfirmed(ctx, args.json, out)? && args.id.is_none() {
        return Ok(EXIT_OK);
    }
    let what = match (&args.id, recover::pending(&ctx.root)?) {
        (Some(id), _) => format!("Restore the files of backup set {id}?"),
        (None, Some(p)) if p.action == "rollback" => format!("Finish the interrupted rollback ({})?", p.id),
        (None, _) => "Restore the files of the latest apply that was not rolled back?".to_string(),
    };
    if !args.yes {
        if !interactive() {
            return Err(input_error("refusing to roll back without --yes when no one is at a terminal"));
        }
        if !confirm(&what)? {
            writeln!(out, "Nothing was changed.")?;
            return Ok(EXIT_OK);
        }
    }
    let mut runner = ctx.runner();
    // Held through the commands too: a rollback in progress finishes before edgeprep exits.
    let shield = Shield::raise()?;
    let report = recover::rollback(&ctx.root, args.id.as_deref(), runner.as_mut(), &Actor::from_env());
    drop(shield);
    let report = report?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write_rollback(&report, out)?;
    }
    Ok(if report.failed.is_empty() { EXIT_OK } else { EXIT_FAILED })
}

/// Revert an abandoned `apply --confirm` (see [`crate::apply::confirm::settle`]); refuse
/// while one still waits. True when one was reverted.
fn reverted_unconfirmed(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<bool> {
    use crate::apply::confirm::{self, Phase, State};
    confirm::refuse_while_waiting(&ctx.root)?;
    if !matches!(confirm::read(&ctx.root)?, Some(State { phase: Phase::Pending | Phase::Reverting, .. })) {
        return Ok(false);
    }
    let lock = crate::apply::lock::DeviceLock::acquire(&ctx.root)?;
    let mut runner = ctx.runner();
    let shield = Shield::raise()?;
    let settled = confirm::settle(&ctx.root, runner.as_mut(), &Actor::from_env(), &lock);
    drop(shield);
    let Some(abandoned) = settled? else { return Ok(false) };
    if json {
        let value = json!({ "confirmation": "reverted", "backup": abandoned.record.backup, "revert": abandoned.report });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        writeln!(out, "An earlier `apply --confirm` was never confirmed (its edgeprep was stopped).")?;
        super::confirm::write_reverted(&abandoned.record.backup, abandoned.report.as_ref(), out)?;
    }
    Ok(true)
}

fn list_line(set: &backup::BackupInfo) -> String {
    if let Some(why) = &set.damaged {
        return format!("{}  DAMAGED: {why}", set.id);
    }
    let what = match (&set.restores, set.action.as_str()) {
        (Some(target), _) => format!("rollback of {target}"),
        (None, action) => action.to_string(),
    };
    let status = match &set.rolled_back_by {
        Some(by) => format!("rolled back by {by}"),
        None => set.status.clone(),
    };
    format!("{}  #{}  {what}, {status}  by {}  {}", set.id, set.seq, set.user, set.files.join(", "))
}
