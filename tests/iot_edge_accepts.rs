//! Every config.toml edgeprep writes is one `iotedge config apply` accepts: the plan's
//! config.toml for each answers section (and all of them together), on a bench config, on our
//! template and on IoT Edge's real one, goes through the strict fake `iotedge`, which rejects
//! what IoT Edge 1.4 rejects (tests/common/fake_iotedge.py).

mod common;

use common::Device;
use edgeprep::answers::parse_answers;
use edgeprep::device::DeviceState;
use edgeprep::plan::{FileAction, Inputs, build_plan};

const CONFIG: &str = "/etc/aziot/config.toml";

const MANUAL: &str = "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=hub.azure-devices.net;DeviceId=edge-01;SharedAccessKey=c2VjcmV0LWtleQ==\"\n";

/// One answers file per section, each a case of its own.
const SECTIONS: &[&str] = &[
    "hostname = \"edge-01\"\n",
    MANUAL,
    "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\nid_scope = \"0ne00000A0A\"\nattestation = \"symmetric_key\"\nregistration_id = \"edge-01\"\nsymmetric_key = \"c3ltbWV0cmljLWtleQ==\"\n",
    "[upstream]\nprotocol = \"AmqpWs\"\n",
    "[proxy]\nurl = \"http://proxy.local:3128\"\nno_proxy = \"localhost\"\n",
    "[agent]\nimage = \"contoso.azurecr.io/azureiotedge-agent:1.4.43\"\n\n[agent.auth]\nserver = \"contoso.azurecr.io\"\nusername = \"pull\"\npassword = \"Registry-Pa55word\"\n",
    "[image_garbage_collection]\nenabled = true\ncleanup_recurrence = \"2d\"\nimage_age_cleanup_threshold = \"7d\"\ncleanup_time = \"03:30\"\n",
];

/// The sections a provisioned device may get, one at a time and all together.
fn cases() -> Vec<String> {
    let mut cases: Vec<String> = SECTIONS.iter().map(|s| s.to_string()).collect();
    // All together (one provisioning only).
    cases.push(SECTIONS.iter().filter(|s| !s.contains("dps")).copied().collect());
    cases
}

/// The config.toml edgeprep plans for `answers` on a device whose config.toml is `base`.
fn planned_config(base: &str, answers: &str) -> Option<String> {
    let answers = parse_answers(answers, "answers.toml").unwrap();
    let state = DeviceState::default().with_file(CONFIG, base);
    let plan = build_plan(&state, &answers, &Inputs::at(time::OffsetDateTime::now_utc())).unwrap();
    plan.files.iter().find(|f| f.path == CONFIG).and_then(|f| match &f.action {
        FileAction::Write(bytes) => Some(String::from_utf8(bytes.clone()).unwrap()),
        FileAction::MoveToBackup => None,
    })
}

/// Run every case on `base` (with `prefix` answers added to each) through the fake
/// `iotedge config apply`; every written config.toml must be accepted.
fn every_case_is_accepted(base: &str, prefix: &str) {
    let device = Device::new();
    let mut checked = 0;
    for case in cases() {
        let answers =
            if case.contains("[provisioning]") { case.clone() } else { format!("{case}\n{prefix}") };
        let Some(config) = planned_config(base, &answers) else {
            panic!("answers that change config.toml wrote none:\n{answers}");
        };
        device.write(CONFIG, &config);
        let (code, stderr) = device.iotedge(&["config", "apply", "-c", CONFIG]);
        assert_eq!(
            code, 0,
            "IoT Edge would reject this config.toml:\n{stderr}\nanswers:\n{answers}\n{config}"
        );
        checked += 1;
    }
    assert_eq!(checked, cases().len());
}

#[test]
fn every_section_on_a_provisioned_bench_config_gives_a_config_iot_edge_accepts() {
    every_case_is_accepted(&common::fixture("bench-config.toml"), "");
}

#[test]
fn every_section_on_our_full_dps_config_gives_a_config_iot_edge_accepts() {
    every_case_is_accepted(&common::fixture("super-config-dps-x509.toml"), "");
}

#[test]
fn every_section_with_provisioning_on_our_template_gives_a_config_iot_edge_accepts() {
    every_case_is_accepted(&common::template_text(), MANUAL);
}

#[test]
#[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
fn every_section_with_provisioning_on_iot_edges_template_gives_a_config_iot_edge_accepts() {
    every_case_is_accepted(&common::upstream_template_text(), MANUAL);
}

/// Answers without [provisioning] on a device with only the template would give a config.toml
/// `config apply` refuses ("missing field `provisioning`"): the plan refuses it up front
/// (exit 2), says how to fix the answers, and nothing is written or run.
#[test]
fn template_without_provisioning_is_refused_by_the_plan_before_anything_is_written() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", common::template_text());
    let before = device.device_snapshot();
    let answers = device.answers("hostname = \"edge-01\"\n[upstream]\nprotocol = \"Mqtt\"\n");
    let output =
        device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().code(2);
    let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
    assert!(stderr.contains("no [provisioning] section"), "{stderr}");
    assert!(stderr.contains("Add a [provisioning] section to the answers file"), "{stderr}");
    assert!(stderr.contains("source = \"manual\""), "the fix shows an example: {stderr}");
    assert_eq!(device.device_snapshot(), before, "something was written");
    assert!(device.calls().is_empty(), "commands ran: {:?}", device.calls());
}
