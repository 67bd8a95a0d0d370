//! `edgeprep check`: the production checklist on the device (live or an offline `--root`).
//! Reads only; the exit code says whether anything needs fixing.

use std::io::{IsTerminal, Write};

use anyhow::Result;

use super::context::Context;
use crate::checks::{Facts, Selection, render, run as run_checks};
use crate::cli::CheckArgs;
use crate::error::input_error;

pub fn run(ctx: &Context, args: &CheckArgs, out: &mut dyn Write) -> Result<i32> {
    let selection = Selection { only: args.only.clone(), skip: args.skip.clone() };
    selection.validate().map_err(input_error)?;
    let live = ctx.root.is_host() && !ctx.is_demo();
    let facts = Facts::gather(&ctx.root, live, time::OffsetDateTime::now_utc())?;
    let report = run_checks(&facts, &selection);
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&render::render_json(&report))?)?;
    } else {
        write!(out, "{}", render::render_text(&report, use_colour()))?;
    }
    Ok(report.exit_code(args.warnings_as_errors))
}

/// Colour only on a terminal, and never with NO_COLOR set to anything non-empty.
fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
