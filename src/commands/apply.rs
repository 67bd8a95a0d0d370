//! `edgeprep apply`: finish an interrupted apply, show the plan, confirm, apply it, report.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::context::{Context, confirm, interactive};
use super::plan::make_plan;
use crate::apply::interrupt::Shield;
use crate::apply::recover::{self, Finished};
use crate::apply::render::{
    failure_json, report_json, write_failure, write_finished, write_pending, write_report,
};
use crate::apply::{Actor, StepFailed, apply};
use crate::cli::ApplyArgs;
use crate::error::{EXIT_FAILED, EXIT_OK, input_error};
use crate::plan::render_text;

pub fn run(ctx: &Context, args: &ApplyArgs, out: &mut dyn Write) -> Result<i32> {
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
                writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            } else {
                write_report(&report, out)?;
            }
            Ok(EXIT_OK)
        }
        Err(err) => failed(err, args.json, out),
    }
}

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
