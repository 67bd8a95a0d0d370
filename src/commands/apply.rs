//! `edgeprep apply`: show the plan, confirm, apply it, report.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use super::context::{Context, confirm, interactive};
use super::plan::make_plan;
use crate::apply::interrupt::Shield;
use crate::apply::{Actor, ApplyReport, INTERRUPTED, StepFailed, apply};
use crate::cli::ApplyArgs;
use crate::error::{EXIT_FAILED, EXIT_OK, input_error};
use crate::plan::{NO_CHANGES, render_text};

pub fn run(ctx: &Context, args: &ApplyArgs, out: &mut dyn Write) -> Result<i32> {
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
                writeln!(out, "{}", serde_json::to_string_pretty(&report_json(&report))?)?;
            } else {
                write_report(&report, out)?;
            }
            Ok(EXIT_OK)
        }
        Err(err) => match err.downcast_ref::<StepFailed>() {
            Some(failed) => {
                if args.json {
                    let value = json!({
                        "changed": false,
                        "failed": failed.command.display(),
                        "exit_code": failed.output.code,
                        "output": format!("{}{}", failed.output.stdout, failed.output.stderr),
                        "backup": failed.backup,
                        "reapplied": failed.reapplied,
                    });
                    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
                } else {
                    write_failure(failed, out)?;
                }
                Ok(EXIT_FAILED)
            }
            None => Err(err),
        },
    }
}

/// For `--json` callers, bad input is JSON on stdout too (and the message on stderr).
pub fn json_error(err: anyhow::Error, out: &mut dyn Write) -> Result<i32> {
    let value = json!({ "changed": false, "error": format!("{err:#}") });
    writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    Err(err)
}

fn report_json(report: &ApplyReport) -> serde_json::Value {
    json!({
        "changed": report.changed,
        "files": report.files,
        "commands": report.commands,
        "backup": report.backup,
    })
}

fn write_report(report: &ApplyReport, out: &mut dyn Write) -> Result<()> {
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
    writeln!(out, "Done.")?;
    Ok(())
}

fn write_failure(failed: &StepFailed, out: &mut dyn Write) -> Result<()> {
    if failed.output.stderr == INTERRUPTED {
        writeln!(out, "STOPPED before `{}`: edgeprep was interrupted.", failed.command.display())?;
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
    writeln!(out, "Every file was restored from backup {}.", failed.backup)?;
    for record in &failed.reapplied {
        writeln!(out, "Ran again on the restored files: {} ({})", record.command, record.reason)?;
    }
    let next = if failed.output.stderr == INTERRUPTED {
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
