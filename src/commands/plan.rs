//! `edgeprep plan`: what applying the answers would change. Writes nothing.

use std::io::Write;

use anyhow::Result;

use super::context::Context;
use crate::cli::PlanArgs;
use crate::device::DeviceState;
use crate::error::EXIT_OK;
use crate::plan::{Inputs, Plan, build_plan, render_json, render_text};

/// Read the device and answers and build the plan; shared by plan and apply.
pub fn make_plan(ctx: &Context, answers: Option<&std::path::Path>) -> Result<Plan> {
    let answers = ctx.answers(answers)?;
    let state = DeviceState::read(&ctx.root)?;
    let inputs = Inputs::gather(&answers, time::OffsetDateTime::now_utc())?;
    build_plan(&state, &answers, &inputs)
}

pub fn run(ctx: &Context, args: &PlanArgs, out: &mut dyn Write) -> Result<i32> {
    let plan = match make_plan(ctx, args.answers.as_deref()) {
        Ok(plan) => plan,
        Err(err) if args.json => return super::apply::json_error(err, out),
        Err(err) => return Err(err),
    };
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&render_json(&plan))?)?;
    } else {
        write!(out, "{}", render_text(&plan))?;
        if !plan.is_empty() && !ctx.runner().executes() {
            writeln!(out, "\n(--root is not /: apply would list these commands to run on the device.)")?;
        }
    }
    Ok(EXIT_OK)
}
