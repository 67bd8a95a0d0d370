//! `edgeprep apply`: revert an apply nobody confirmed, finish an interrupted one, show the
//! plan, confirm, apply it, report; with `--confirm`, keep it only if confirmed in time.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::confirm::write_reverted;
use super::context::{Context, confirm, interactive};
use super::plan::make_plan;
use crate::apply::confirm;
use crate::apply::interrupt::Shield;
use crate::apply::lock::DeviceLock;
use crate::apply::recover::{self, Finished};
use crate::apply::render::{
    failure_json, report_json, write_failure, write_finished, write_pending, write_report,
};
use crate::apply::{Actor, StepFailed, apply, apply_locked};
use crate::cli::ApplyArgs;
use crate::error::{EXIT_FAILED, EXIT_OK, input_error};
use crate::plan::render_text;

pub fn run(ctx: &Context, args: &ApplyArgs, out: &mut dyn Write) -> Result<i32> {
    let reverted_unconfirmed = match settle_unconfirmed(ctx, args.json, out) {
        Ok(reverted) => reverted,
        Err(err) if args.json => return json_error(err, out),
        Err(err) => return Err(err),
    };
    let recovered = match finish_interrupted(ctx, args, out) {
        Ok(Recovery::Done(finished)) => finished,
        Ok(Recovery::Declined) => return Ok(EXIT_OK),
        Ok(Recovery::Failed(code)) => return Ok(code),
        Err(err) if args.json => return json_error(err, out),
        Err(err) => return Err(err),
    };
    let plan = match make_plan(ctx, args.answers.as_deref()) {
        Ok(plan) => plan,
        Err(err) if args.json => return json_error(err, out),
        Err(err) => return Err(err),
    };
    if !args.yes && !plan.is_empty() && !interactive() {
        return Err(input_error(
            "refusing to apply without --yes when no one is at a terminal; review with `edgeprep plan` first",
        ));
    }
    if !args.json && !plan.is_empty() {
        // Shown even with --yes, so a log of the run says what changed and why.
        writeln!(out, "{}", render_text(&plan))?;
        out.flush()?;
    }
    if !args.yes && !plan.is_empty() && !confirm("Apply these changes?")? {
        writeln!(out, "Nothing was changed.")?;
        return Ok(EXIT_OK);
    }
    if let Some(seconds) = args.confirm {
        let earlier =
            Earlier { recovered: recovered.as_ref(), reverted_unconfirmed: reverted_unconfirmed.as_deref() };
        return apply_confirmed(ctx, args, &plan, seconds, &earlier, out);
    }
    let mut runner = ctx.runner();
    let shield = Shield::raise()?;
    let outcome = apply(&plan, &ctx.root, runner.as_mut(), &Actor::from_env());
    drop(shield);
    match outcome {
        Ok(report) => {
            if args.json {
                let mut value = report_json(&report);
                if let Some(finished) = &recovered {
                    value["recovered"] = json!(finished);
                }
                if let Some(id) = &reverted_unconfirmed {
                    value["reverted_unconfirmed"] = json!(id);
                }
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                write_report(&report, out)?;
            }
            Ok(EXIT_OK)
        }
        Err(err) => failed(err, args.json, out),
    }
}

/// An `apply --confirm` whose edgeprep was killed (or whose device lost power) left its
/// change unconfirmed: revert it before anything new is planned, as `--confirm` promised. One
/// still waiting refuses the new apply (it holds the lock anyway; this says why).
/// Returns the backup set id of the apply it reverted (`"reverted_unconfirmed"` in JSON).
fn settle_unconfirmed(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Option<String>> {
    confirm::refuse_while_waiting(&ctx.root)?;
    if !matches!(
        confirm::read(&ctx.root)?,
        Some(confirm::State { phase: confirm::Phase::Pending | confirm::Phase::Reverting, .. })
    ) {
        return Ok(None);
    }
    let lock = DeviceLock::acquire(&ctx.root)?;
    let mut runner = ctx.runner();
    let shield = Shield::raise()?;
    let settled = confirm::settle(&ctx.root, runner.as_mut(), &Actor::from_env(), &lock);
    drop(shield);
    let Some(abandoned) = settled? else { return Ok(None) };
    if !json {
        writeln!(out, "An earlier `apply --confirm` was never confirmed (its edgeprep was stopped).")?;
        write_reverted(&abandoned.record.backup, abandoned.report.as_ref(), out)?;
        writeln!(out)?;
    }
    Ok(Some(abandoned.record.backup))
}

/// What this run did before its own apply, for the JSON.
struct Earlier<'a> {
    recovered: Option<&'a Finished>,
    reverted_unconfirmed: Option<&'a str>,
}

/// Apply, then keep the change only if it is confirmed within `seconds` (see
/// [`crate::apply::confirm`]). The lock is held from before the apply to after the revert.
fn apply_confirmed(
    ctx: &Context,
    args: &ApplyArgs,
    plan: &crate::plan::Plan,
    seconds: u64,
    earlier: &Earlier<'_>,
    out: &mut dyn Write,
) -> Result<i32> {
    let root = &ctx.root;
    let actor = Actor::from_env();
    let lock = DeviceLock::acquire(root)?;
    let mut runner = ctx.runner();
    let shield = Shield::raise()?;
    let outcome = confirm::clear_end_states(root)
        .and_then(|()| apply_locked(plan, root, runner.as_mut(), &actor, &lock));
    let report = match outcome {
        Ok(report) => report,
        Err(err) => return failed(err, args.json, out),
    };
    let with_recovered = |mut value: serde_json::Value| {
        if let Some(finished) = earlier.recovered {
            value["recovered"] = json!(finished);
        }
        if let Some(id) = earlier.reverted_unconfirmed {
            value["reverted_unconfirmed"] = json!(id);
        }
        value
    };
    let Some(backup) = report.backup.clone().filter(|_| report.changed) else {
        // Nothing changed: nothing to confirm.
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&with_recovered(report_json(&report)))?)?;
        } else {
            write_report(&report, out)?;
        }
        return Ok(EXIT_OK);
    };
    let wait_for = std::env::var(TEST_SECONDS_VAR)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        // `try_`: `from_secs_f64` panics on a negative, NaN or endless value.
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(Duration::from_secs(seconds));
    let record = confirm::Record::new(root, &backup, &actor.user, seconds, wait_for);
    // A failure to write the record means nobody could confirm: revert at once.
    let begun = confirm::begin(root, &record);
    let read_enter = std::io::stdin().is_terminal();
    if !args.json {
        // Not "Done." yet: that depends on the confirmation.
        let mut text = Vec::new();
        write_report(&report, &mut text)?;
        let text = String::from_utf8_lossy(&text);
        write!(out, "{}", text.strip_suffix("Done.\n").unwrap_or(&text))?;
        let how = if read_enter { "press Enter here, or run" } else { "run" };
        writeln!(
            out,
            "Keep these changes? To keep them, {how} `sudo edgeprep confirm` within {} s; otherwise they are reverted.",
            wait_for.as_secs_f64().ceil()
        )?;
        out.flush()?;
    }
    let concluded = match begun {
        Ok(()) => {
            let stderr_tty = std::io::stderr().is_terminal();
            let progress = match (stderr_tty, args.json) {
                (true, _) => confirm::Progress::Terminal(Box::new(std::io::stderr())),
                (false, false) => confirm::Progress::Log(Box::new(std::io::stderr())),
                (false, true) => confirm::Progress::Silent,
            };
            let health = runner.executes();
            confirm::wait(root, confirm::Wait { seconds: wait_for, read_enter, progress, health })
                .and_then(|end| confirm::conclude(root, end, runner.as_mut(), &actor, &lock))
        }
        // Nobody could confirm a change without a record: revert it at once.
        Err(err) => {
            eprintln!("edgeprep: {err:#}; reverting the changes now");
            confirm::revert_unrecorded(root, &backup, runner.as_mut(), &actor, &lock)
        }
    };
    drop(shield);
    drop(lock);
    let concluded = match concluded {
        Ok(concluded) => concluded,
        Err(err) => {
            if args.json {
                let mut value = with_recovered(report_json(&report));
                value["confirmation"] = json!("revert-failed");
                value["error"] = json!(format!("{err:#}"));
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            }
            return Err(err);
        }
    };
    let confirmation = concluded.confirmation;
    if args.json {
        let mut value = with_recovered(report_json(&report));
        value["confirmation"] = json!(confirmation.as_str());
        if let Some(revert) = &concluded.revert {
            value["revert"] = json!(revert);
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else if confirmation == confirm::Confirmation::Kept {
        writeln!(out, "Kept: the changes stay (undo later with: edgeprep rollback {backup}).")?;
    } else {
        let why = match confirmation {
            confirm::Confirmation::RevertedAfterInterrupt => {
                "Interrupted (Ctrl-C or SIGTERM) before anyone confirmed: reverting now."
            }
            _ => "Not confirmed in time: reverting.",
        };
        writeln!(out, "{why}")?;
        write_reverted(&backup, concluded.revert.as_ref(), out)?;
    }
    Ok(if confirmation == confirm::Confirmation::Kept { EXIT_OK } else { EXIT_FAILED })
}

/// Tests only: wait this many (fractional) seconds instead of `--confirm`'s, which must still
/// be given and valid. Shortening the wait harms nobody but the one who sets it.
const TEST_SECONDS_VAR: &str = "EDGEPREP_TEST_CONFIRM_SECONDS";

enum Recovery {
    Done(Option<Finished>),
    Declined,
    Failed(i32),
}

/// An apply a crash interrupted is finished (or its half-written files put back) before
/// anything new is planned: a plan made from its files would say "No changes" while the
/// services still run the old configuration.
fn finish_interrupted(ctx: &Context, args: &ApplyArgs, out: &mut dyn Write) -> Result<Recovery> {
    let Some(pending) = recover::pending(&ctx.root)? else {
        return Ok(Recovery::Done(None));
    };
    if !args.json {
        write_pending(&pending, out)?;
        out.flush()?;
    }
    if pending.action != "apply" {
        return Err(input_error(format!(
            "{}; nothing was changed. {}",
            pending.describe(),
            pending.next_step()
        )));
    }
    if !args.yes {
        if !interactive() {
            return Err(input_error(format!(
                "{}; run `edgeprep apply --yes` to finish it, or `edgeprep rollback {}` to undo it",
                pending.describe(),
                pending.id
            )));
        }
        if !confirm("Finish the interrupted apply now?")? {
            writeln!(out, "Nothing was changed.")?;
            return Ok(Recovery::Declined);
        }
    }
    let mut runner = ctx.runner();
    let shield = Shield::raise()?;
    let outcome = recover::finish(&ctx.root, runner.as_mut(), &Actor::from_env());
    drop(shield);
    match outcome {
        Ok(finished) => {
            if let (false, Some(finished)) = (args.json, &finished) {
                write_finished(finished, out)?;
            }
            Ok(Recovery::Done(finished))
        }
        Err(err) => failed(err, args.json, out).map(Recovery::Failed),
    }
}

/// A step failed: report it. Exit 1 when the files were restored; when restoring failed too,
/// the error (exit 3) follows the report.
fn failed(err: anyhow::Error, json: bool, out: &mut dyn Write) -> Result<i32> {
    let Some(step) = err.downcast_ref::<StepFailed>() else {
        return if json { json_error(err, out) } else { Err(err) };
    };
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&failure_json(step))?)?;
    } else {
        write_failure(step, out)?;
    }
    if step.restored && crate::error::exit_code_for(&err) == EXIT_FAILED { Ok(EXIT_FAILED) } else { Err(err) }
}

/// For `--json` callers, bad input is JSON on stdout too (and the message on stderr).
pub fn json_error(err: anyhow::Error, out: &mut dyn Write) -> Result<i32> {
    let value = json!({ "changed": false, "error": format!("{err:#}") });
    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    Err(err)
}
