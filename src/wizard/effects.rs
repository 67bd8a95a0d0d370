//! The effects the full-screen wizard asks for, as plain functions the loop calls and tests
//! can call too: build the plan from answers, turn it into Review text, and describe what apply
//! did. The apply report's text belongs next to `plan/render.rs` (issue 6); until the engine
//! has it, the wizard words it here.

use anyhow::Result;

use super::tui::model::{Outcome, ReviewText};
use crate::answers::Answers;
use crate::apply::{ApplyReport, INTERRUPTED, StepFailed};
use crate::device::DeviceState;
use crate::plan::{Inputs, Plan, build_plan, render_text};
use crate::root::DeviceRoot;

/// The plan for `answers` on the device as it is now (read again: time has passed since the
/// wizard started).
pub fn plan_for(root: &DeviceRoot, answers: &Answers) -> Result<Plan> {
    let state = DeviceState::read(root)?;
    let inputs = Inputs::gather(answers, time::OffsetDateTime::now_utc())?;
    build_plan(&state, answers, &inputs)
}

/// The plan as Review shows it: the same masked text `edgeprep plan` prints.
pub fn review_text(plan: &Plan) -> ReviewText {
    ReviewText { lines: render_text(plan).lines().map(str::to_string).collect(), empty: plan.is_empty() }
}

/// What apply did, for the Done screen: backup and rollback command first.
pub fn outcome(result: &Result<ApplyReport>) -> Outcome {
    match result {
        Ok(report) => {
            let mut lines = Vec::new();
            if !report.changed {
                lines.push(crate::plan::NO_CHANGES.to_string());
            }
            if let Some(id) = &report.backup {
                lines.push(format!("Backup: {id}"));
                lines.push(format!("Undo with: sudo edgeprep rollback {id}"));
            }
            lines.extend(report.files.iter().map(|f| format!("Wrote {f}")));
            lines.extend(report.commands.iter().filter(|c| c.ran).map(|c| format!("Ran {}", c.command)));
            let listed: Vec<_> = report.commands.iter().filter(|c| !c.ran).collect();
            if !listed.is_empty() {
                lines.push("To run on the device, in order (--root is not /):".to_string());
                lines.extend(listed.iter().map(|c| format!("  sudo {}", c.command)));
            }
            Outcome { ok: true, lines }
        }
        Err(err) => match err.downcast_ref::<StepFailed>() {
            Some(failed) => {
                let mut lines = vec![if failed.output.stderr == INTERRUPTED {
                    format!("Stopped before `{}`: edgeprep was interrupted.", failed.command.display())
                } else {
                    format!("`{}` failed.", failed.command.display())
                }];
                lines.extend(
                    failed
                        .output
                        .stdout
                        .lines()
                        .chain(failed.output.stderr.lines())
                        .map(|l| format!("  | {l}")),
                );
                lines.push(format!("Every file was restored from backup {}.", failed.backup));
                lines.extend(
                    failed
                        .reapplied
                        .iter()
                        .map(|r| format!("Ran again on the restored files: {}", r.command)),
                );
                Outcome { ok: false, lines }
            }
            None => Outcome {
                ok: false,
                lines: vec![
                    format!("{err:#}"),
                    "No file was left changed: apply puts back what it wrote.".to_string(),
                ],
            },
        },
    }
}
