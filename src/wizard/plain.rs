//! Plain prompts (placeholder until the inquire front-end lands).

use std::io::Write;

use anyhow::Result;

use super::facts::Facts;
use crate::answers::Answers;
use crate::commands::context::Context;

pub fn run(_ctx: &Context, _facts: Facts, _answers: Option<&Answers>, _out: &mut dyn Write) -> Result<i32> {
    Err(crate::error::input_error("--plain is not built yet; use `edgeprep apply --answers FILE`"))
}
