//! The proxy drop-ins: the same `https_proxy` for docker, aziot-edged and aziot-identityd.

use super::{FileAction, FileChange, Plan, Visibility};
use crate::answers::Answers;
use crate::device::DeviceState;
use crate::edit::dropin::proxy_dropin;
use crate::paths;

/// Which drop-ins change.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DropinOutcome {
    pub docker: bool,
    pub aziot: bool,
}

pub fn plan_proxy_dropins(state: &DeviceState, answers: &Answers, plan: &mut Plan) -> DropinOutcome {
    let mut outcome = DropinOutcome::default();
    let Some(proxy) = &answers.proxy else {
        return outcome;
    };
    let has_password = url::Url::parse(&proxy.url).is_ok_and(|u| u.password().is_some());
    for unit in [paths::DOCKER_UNIT, paths::EDGED_UNIT, paths::IDENTITYD_UNIT] {
        let path = paths::proxy_dropin(unit);
        let desired = proxy_dropin(unit, proxy);
        let before = state.file(&path);
        if before == Some(desired.as_bytes()) {
            continue;
        }
        plan.files.push(FileChange {
            path,
            before: before.map(<[u8]>::to_vec),
            action: FileAction::Write(desired.into_bytes()),
            ownership: None,
            holds_secrets: has_password,
            visibility: Visibility::Diff,
            reason: format!(
                "The proxy for the {unit} service, identical to edgeAgent's so `iotedge check` agrees."
            ),
        });
        if unit == paths::DOCKER_UNIT {
            outcome.docker = true;
        } else {
            outcome.aziot = true;
        }
    }
    outcome
}
