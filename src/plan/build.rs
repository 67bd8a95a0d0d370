//! From device state and answers to a [`Plan`]: each file's part, then the commands.

use anyhow::Result;

use super::Plan;
use super::commands::{Changes, commands_for};
use super::config_toml::{ConfigEdit, plan_config};
use super::daemon_json::plan_daemon_json;
use super::edge_ca::plan_edge_ca;
use super::inputs::Inputs;
use super::proxy::plan_proxy;
use crate::answers::Answers;
use crate::answers::validate::validate;
use crate::device::DeviceState;

/// The plan that brings the device in `state` to `answers`. Pure: it reads nothing but its
/// arguments, so the same state, answers and inputs give the same plan, and applying a plan
/// then planning again gives an empty one.
pub fn build_plan(state: &DeviceState, answers: &Answers, inputs: &Inputs) -> Result<Plan> {
    // Every secret of the answers in every form it can be written in, so the review, the JSON
    // plan and the logs mask it whatever escaping the file it lands in uses.
    let mut plan = Plan { secrets: answers.secrets(), ..Plan::default() };
    // Warnings about the answers themselves (an https:// proxy, an unpinned image) come first.
    plan.notes.extend(validate(answers).warnings.iter().map(|w| w.message.clone()));
    let edge_ca = plan_edge_ca(state, answers, inputs, &mut plan)?;
    let extra = edge_ca.config.as_ref().map(|c| c as &dyn ConfigEdit);
    let config = plan_config(state, answers, extra, &mut plan)?;
    if let Some(host) = answers.agent.as_ref().and_then(|a| a.host_storage.as_deref()) {
        super::host_storage::plan_dir(state, host, &mut plan)?;
    }
    let daemon_json = plan_daemon_json(state, answers, &mut plan)?;
    let proxy = plan_proxy(state, answers, &mut plan)?;
    let changes = Changes {
        config_toml: config.changed,
        agent: config.agent_changed,
        daemon_json,
        docker_dropin: proxy.docker_units,
        docker_env: proxy.docker_env,
        aziot_dropins: proxy.aziot_units,
        aziot_env: proxy.aziot_env,
        edge_ca: edge_ca.ca_changed,
        os_trust_store: edge_ca.os_store_changed,
    };
    if changes.restarts_docker() {
        plan.notes.push(
            "Restarting docker stops the running modules; IoT Edge starts them again within about a minute. \
             New log settings apply only to containers created from now on."
                .to_string(),
        );
    }
    plan.commands = commands_for(&changes);
    Ok(plan)
}
