//! The plan never writes a config.toml `iotedge config apply` would refuse: what would only
//! fail (and roll back, exit 1) at apply time is refused while planning, as bad input (exit 2)
//! naming the fix. Each case is also run through the strict fake `iotedge`, so the test
//! fails if the refusal guards something IoT Edge accepts.

mod common;

use common::Device;
use edgeprep::answers::parse_answers;
use edgeprep::device::DeviceState;
use edgeprep::error::InputError;
use edgeprep::plan::{Inputs, build_plan};

const CONFIG: &str = "/etc/aziot/config.toml";
const TEMPLATE: &str = "/etc/aziot/config.toml.edge.template";

const MANUAL: &str = "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=hub.azure-devices.net;DeviceId=edge-01;SharedAccessKey=c2VjcmV0LWtleQ==\"\n";

fn plan_error(state: &DeviceState, answers: &str) -> String {
    let answers = parse_answers(answers, "answers.toml").unwrap();
    let err = build_plan(state, &answers, &Inputs::at(time::OffsetDateTime::now_utc()))
        .expect_err("the plan should refuse this config.toml");
    assert!(err.chain().any(|c| c.is::<InputError>()), "not an input error (exit 2): {err:#}");
    format!("{err:#}")
}

/// The strict fake `iotedge config apply` rejects `base`: the plan refusing it guards a real failure.
fn fake_rejects(base: &str) -> String {
    let device = Device::new();
    device.write(CONFIG, base);
    let (code, stderr) = device.iotedge(&["config", "apply", "-c", CONFIG]);
    assert_eq!(code, 1, "the fake accepts this config.toml, so the plan should too:\n{base}");
    stderr
}

#[test]
fn answers_without_provisioning_on_a_template_only_device_are_refused_with_an_example() {
    let state = DeviceState::default().with_file(TEMPLATE, common::template_text());
    let message = plan_error(&state, "hostname = \"edge-01\"\n");
    assert!(message.contains("Add a [provisioning] section to the answers file"), "{message}");
    assert!(message.contains("example:\n    [provisioning]\n    source = \"manual\"\n"), "{message}");
    // With a [provisioning] section the same device plans fine.
    let answers = parse_answers(&format!("hostname = \"edge-01\"\n{MANUAL}"), "answers.toml").unwrap();
    assert!(build_plan(&state, &answers, &Inputs::at(time::OffsetDateTime::now_utc())).is_ok());
}

#[test]
fn answers_without_provisioning_on_a_config_without_one_are_refused() {
    let base = "hostname = \"old\"\n\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4\"\n";
    assert!(fake_rejects(base).contains("missing field `provisioning`"));
    let state = DeviceState::default().with_file(CONFIG, base);
    let message = plan_error(&state, "hostname = \"edge-01\"\n");
    assert!(message.contains("/etc/aziot/config.toml has no [provisioning] section"), "{message}");
}

#[test]
fn a_partial_agent_the_answers_do_not_touch_is_refused_naming_what_is_missing() {
    let base = format!("{MANUAL}\n[agent]\nname = \"edgeAgent\"\n");
    assert!(fake_rejects(&base).contains("missing field `type`"));
    let state = DeviceState::default().with_file(CONFIG, base);
    let message = plan_error(&state, "hostname = \"edge-01\"\n");
    assert!(message.contains("[agent] in /etc/aziot/config.toml lacks type, config.image"), "{message}");
    // Answers that touch [agent] complete it instead.
    let answers =
        parse_answers("hostname = \"edge-01\"\n[upstream]\nprotocol = \"Mqtt\"\n", "a.toml").unwrap();
    let state =
        DeviceState::default().with_file(CONFIG, format!("{MANUAL}\n[agent]\nname = \"edgeAgent\"\n"));
    assert!(build_plan(&state, &answers, &Inputs::at(time::OffsetDateTime::now_utc())).is_ok());
}

#[test]
fn an_edge_ca_with_a_cert_and_no_key_is_refused() {
    let base = format!("{MANUAL}\n[edge_ca]\ncert = \"file:///var/aziot/certs/edge-ca.pem\"\n");
    assert!(fake_rejects(&base).contains("untagged enum EdgeCa"));
    let message = plan_error(&DeviceState::default().with_file(CONFIG, base), "hostname = \"edge-01\"\n");
    assert!(message.contains("[edge_ca] in /etc/aziot/config.toml has cert but no pk"), "{message}");
}

#[test]
fn an_empty_edge_ca_is_refused() {
    let base = format!("{MANUAL}\n[edge_ca]\n");
    assert!(fake_rejects(&base).contains("untagged enum EdgeCa"));
    let message = plan_error(&DeviceState::default().with_file(CONFIG, base), "hostname = \"edge-01\"\n");
    assert!(message.contains("[edge_ca] in /etc/aziot/config.toml names no certificate source"), "{message}");
}

#[test]
fn a_top_level_key_inside_a_table_is_refused() {
    let base = format!("{MANUAL}trust_bundle_cert = \"file:///etc/aziot/trust-bundle.pem\"\n");
    assert!(fake_rejects(&base).contains("top-level key `trust_bundle_cert` is inside [provisioning]"));
    let message = plan_error(&DeviceState::default().with_file(CONFIG, base), "hostname = \"edge-01\"\n");
    assert!(message.contains("`trust_bundle_cert` is inside [provisioning]"), "{message}");
    assert!(message.contains("Move it above the first table header"), "{message}");
}

#[test]
fn a_hostname_key_in_agent_env_is_an_environment_variable_and_is_accepted() {
    let base = format!(
        "{MANUAL}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4\"\n\n[agent.env]\nhostname = \"x\"\n"
    );
    let answers = parse_answers("hostname = \"edge-01\"\n", "answers.toml").unwrap();
    let state = DeviceState::default().with_file(CONFIG, base);
    let plan = build_plan(&state, &answers, &Inputs::at(time::OffsetDateTime::now_utc())).unwrap();
    assert_eq!(plan.files.len(), 1);
}
