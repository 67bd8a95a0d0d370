//! From device state and answers to a [`Plan`].

use anyhow::Result;

use super::Plan;
use crate::answers::Answers;
use crate::device::DeviceState;

pub fn build_plan(state: &DeviceState, answers: &Answers) -> Result<Plan> {
    let _ = (state, answers);
    todo!()
}
