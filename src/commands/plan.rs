//! `edgeprep plan`: what applying the answers would change. Writes nothing.

use std::io::Write;

use anyhow::Result;

use super::context::Context;
use crate::answers::Answers;
use crate::apply::recover;
use crate::apply::render::write_pending;
use crate::cli::PlanArgs;
use crate::device::DeviceState;
use crate::error::EXIT_OK;
use crate::plan::{Inputs, Plan, build_plan, render_json, render_text};
use crate::root::DeviceRoot;

/// Read the device and answers and build the plan; shared by plan and apply.
pub fn make_plan(ctx: &Context, answers: Option<&std::path::Path>) -> Result<Plan> {
    let answers = ctx.answers(answers)?;
    make_plan_for(&ctx.root, &answers)
}

/// The plan that brings the device under `root` to `answers`: for a front-end (the wizard)
/// that holds the answers in memory rather than in a file.
pub fn make_plan_for(root: &DeviceRoot, answers: &Answers) -> Result<Plan> {
    let mut state = DeviceState::read(root)?;
    state.read_answer_dirs(root, answers)?;
    let inputs = Inputs::gather(answers, time::OffsetDateTime::now_utc())?;
    build_plan(&state, answers, &inputs)
}

pub fn run(ctx: &Context, args: &PlanArgs, out: &mut dyn Write) -> Result<i32> {
    // The files of an interrupted apply look like the wanted state: say so before the plan.
    let pending = match recover::pending(&ctx.root) {
        Ok(pending) => pending,
        Err(err) if args.json => return super::apply::json_error(err, out),
        Err(err) => return Err(err),
    };
    let unconfirmed = match super::confirm::unconfirmed_note(&ctx.root) {
        Ok(note) => note,
        Err(err) if args.json => return super::apply::json_error(err, out),
        Err(err) => return Err(err),
    };
    let plan = match make_plan(ctx, args.answers.as_deref()) {
        Ok(plan) => plan,
        Err(err) if args.json => return super::apply::json_error(err, out),
        Err(err) => return Err(err),
    };
    if args.json {
        let mut value = render_json(&plan);
        if let Some(pending) = &pending {
            value["interrupted"] = serde_json::json!(pending);
        }
        if let Some((_, note)) = &unconfirmed {
            value["unconfirmed"] = note.clone();
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        if let Some(pending) = &pending {
            write_pending(pending, out)?;
            writeln!(out)?;
        }
        if let Some((note, _)) = &unconfirmed {
            writeln!(out, "{note}\n")?;
        }
        write!(out, "{}", render_text(&plan))?;
        if !plan.is_empty() && !ctx.runner().executes() {
            writeln!(out, "\n(--root is not /: apply would list these commands to run on the device.)")?;
        }
    }
    Ok(EXIT_OK)
}
