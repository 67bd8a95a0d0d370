//! `edgeprep check`: the production checklist on the device (live or an offline `--root`).
//! Reads only; the exit code says whether anything needs fixing. With `--network` it also
//! connects to the device's targets (never for the demo device).

use std::io::{IsTerminal, Write};

use anyhow::Result;

use super::context::Context;
use crate::checks::network::{self, Scope};
use crate::checks::{Facts, Selection, names_network_check, render, run as run_checks};
use crate::cli::CheckArgs;
use crate::error::input_error;

pub fn run(ctx: &Context, args: &CheckArgs, out: &mut dyn Write) -> Result<i32> {
    let selection = Selection { only: args.only.clone(), skip: args.skip.clone() };
    selection.validate().map_err(input_error)?;
    let live = ctx.root.is_host() && !ctx.is_demo();
    let mut facts = Facts::gather(&ctx.root, live, time::OffsetDateTime::now_utc())?;
    if args.network || names_network_check(&args.only) {
        let scope = if ctx.is_demo() {
            Scope::Demo
        } else if ctx.root.is_host() {
            Scope::Device
        } else {
            Scope::Image(ctx.root.base())
        };
        let selected = |id: &str| selection.includes(id);
        let probed = network::gather(&facts, scope, &selected, std::time::Duration::from_secs(args.timeout));
        facts.probe.network = Some(probed);
    }
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
