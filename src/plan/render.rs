//! Showing a plan: unified diffs with secrets masked, then the commands with their reasons.

use super::Plan;

pub fn render_text(plan: &Plan) -> String {
    let _ = plan;
    todo!()
}

pub fn render_json(plan: &Plan) -> serde_json::Value {
    let _ = plan;
    todo!()
}
