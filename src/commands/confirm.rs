//! `edgeprep confirm`: keep what an `apply --confirm` waits on, from any shell; and, for the
//! boot unit, `--revert-unconfirmed`: revert an apply whose waiting edgeprep is gone.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::context::Context;
use crate::apply::confirm::{self, Decided, Phase, Record, State};
use crate::apply::interrupt::Shield;
use crate::apply::recover::RollbackReport;
use crate::apply::render::write_rollback;
use crate::apply::{Actor, lock::DeviceLock};
use crate::cli::ConfirmArgs;
use crate::error::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, input_error};

pub fn run(ctx: &Context, args: &ConfirmArgs, out: &mut dyn Write) -> Result<i32> {
    let state = confirm::read(&ctx.root)?;
    let boot = confirm::current_boot_id(&ctx.root);
    if args.revert_unconfirmed {
        return match state {
            Some(State { phase: Phase::Pending, record })
                if confirm::waiter_alive(&record, boot.as_deref()) =>
            {
                say(
                    out,
                    args.json,
                    "waiting",
                    &record,
                    "An apply waits for confirmation and its edgeprep is running; left alone.",
                )?;
                Ok(EXIT_OK)
            }
            Some(State { phase: Phase::Pending | Phase::Reverting, .. }) => {
                // Reverted as the technician asked by choosing --confirm: exit 0, the boot
                // unit did its job; the journal and the audit log say what happened.
                revert_now(ctx, args.json, out).map(|_| EXIT_OK)
            }
            _ => {
                if args.json {
                    writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "confirmation": null }))?)?;
                } else {
                    writeln!(out, "Nothing is left unconfirmed.")?;
                }
                Ok(EXIT_OK)
            }
        };
    }
    match state {
        None => nothing_waits(args.json, out),
        Some(State { phase: Phase::Pending, record }) if confirm::waiter_alive(&record, boot.as_deref()) => {
            match confirm::decide(&ctx.root, Phase::Confirmed)? {
                Decided::Won(record) => {
                    let _ = confirm::audit_line(&ctx.root, &Actor::from_env(), "kept", &record.backup, None);
                    say(
                        out,
                        args.json,
                        "kept",
                        &record,
                        &format!("Kept: the changes of backup set {} stay.", record.backup),
                    )?;
                    Ok(EXIT_OK)
                }
                Decided::Lost(Some(state)) => decided_already(&state, args.json, out),
                Decided::Lost(None) => nothing_waits(args.json, out),
            }
        }
        Some(State { phase: Phase::Pending, record }) => {
            // Its waiter was killed (or this is a new boot the unit has not seen yet): the
            // change was never confirmed, and every edgeprep run reverts such a change.
            if !args.json {
                writeln!(
                    out,
                    "Too late: the edgeprep that waited for this confirmation (pid {}) is gone, so the changes of backup set {} were never confirmed. Reverting them now.",
                    record.pid, record.backup
                )?;
            }
            revert_now(ctx, args.json, out).map(|_| EXIT_FAILED)
        }
        Some(state) => decided_already(&state, args.json, out),
    }
}

fn nothing_waits(json: bool, out: &mut dyn Write) -> Result<i32> {
    let message = "nothing waits for confirmation (no `edgeprep apply --confirm` is waiting; if one is starting, try again in a moment)";
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({ "confirmation": null, "error": message }))?
        )?;
        eprintln!("edgeprep: {message}");
        return Ok(EXIT_BAD_INPUT);
    }
    Err(input_error(message))
}

fn decided_already(state: &State, json: bool, out: &mut dyn Write) -> Result<i32> {
    let id = &state.record.backup;
    let (what, text, code) = match state.phase {
        Phase::Confirmed => ("kept", format!("Already kept: the changes of backup set {id} stay."), EXIT_OK),
        Phase::Reverting => (
            "too-late",
            format!("Too late: the wait ended and the changes of backup set {id} are being reverted."),
            EXIT_FAILED,
        ),
        Phase::Reverted | Phase::Pending => (
            "too-late",
            format!("Too late: the wait ended and the changes of backup set {id} were reverted."),
            EXIT_FAILED,
        ),
    };
    say(out, json, what, &state.record, &text)?;
    Ok(code)
}

fn say(out: &mut dyn Write, json: bool, what: &str, record: &Record, text: &str) -> Result<()> {
    if json {
        let value = json!({ "confirmation": what, "backup": record.backup, "deadline": record.deadline });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        writeln!(out, "{text}")?;
    }
    Ok(())
}

/// Revert an abandoned record under the lock (the waiter, when alive, holds it; taking it
/// here proves it is gone).
fn revert_now(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<()> {
    let lock = DeviceLock::acquire(&ctx.root)?;
    let mut runner = ctx.runner();
    let shield = Shield::raise()?;
    let settled = confirm::settle(&ctx.root, runner.as_mut(), &Actor::from_env(), &lock);
    drop(shield);
    match settled? {
        Some(abandoned) => {
            if json {
                let value = json!({
                    "confirmation": "reverted",
                    "backup": abandoned.record.backup,
                    "revert": abandoned.report,
                });
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                write_reverted(&abandoned.record.backup, abandoned.report.as_ref(), out)?;
            }
        }
        None if json => writeln!(out, "{}", serde_json::to_string_pretty(&json!({ "confirmation": null }))?)?,
        None => writeln!(out, "Nothing is left unconfirmed.")?,
    }
    Ok(())
}

/// What a revert did, in the words of `edgeprep rollback`.
pub fn write_reverted(backup: &str, report: Option<&RollbackReport>, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "REVERTED the unconfirmed changes of backup set {backup}:")?;
    match report {
        Some(report) => write_rollback(report, out),
        None => {
            writeln!(out, "Its files had already been restored.")?;
            Ok(())
        }
    }
}

/// For `plan`: one sentence about an apply waiting for (or missing) its confirmation, and the
/// JSON for it; `None` when nothing is pending or being reverted.
pub fn unconfirmed_note(root: &crate::root::DeviceRoot) -> Result<Option<(String, serde_json::Value)>> {
    let Some(State { phase, record }) = confirm::read(root)? else { return Ok(None) };
    let alive = confirm::waiter_alive(&record, confirm::current_boot_id(root).as_deref());
    let (status, text) = match phase {
        Phase::Pending if alive => (
            "waiting",
            format!(
                "UNCONFIRMED: the apply of backup set {} waits for confirmation until {} (`edgeprep confirm` keeps it); this plan is against its files.",
                record.backup, record.deadline
            ),
        ),
        Phase::Pending | Phase::Reverting => (
            "abandoned",
            format!(
                "UNCONFIRMED: the apply of backup set {} was never confirmed (its edgeprep was stopped); the next apply, rollback or boot reverts it, so this plan is against files that will change.",
                record.backup
            ),
        ),
        Phase::Confirmed | Phase::Reverted => return Ok(None),
    };
    let value = json!({ "status": status, "backup": record.backup, "deadline": record.deadline });
    Ok(Some((text, value)))
}
