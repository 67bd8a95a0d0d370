//! `edgeprep rollback` of an apply that created config.toml (the device had only IoT Edge's
//! template): the rollback removes the file, so `iotedge config apply` has nothing to read and
//! is reported as skipped instead of run to fail, as apply's own automatic rollback does.

mod common;

use common::{Device, template_text};

#[test]
fn rolling_back_an_apply_that_created_config_toml_skips_config_apply_and_succeeds() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    let answers = device.answers(&format!("[upstream]\nprotocol = \"AmqpWs\"\n{}", common::PROVISIONING));
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    assert!(device.exists("/etc/aziot/config.toml"));
    let calls_after_apply = device.calls().len();

    let output = device.edgeprep(&["rollback", "--yes", "--json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(!device.exists("/etc/aziot/config.toml"), "the rollback removes the file the apply created");

    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let commands = report["commands"].as_array().unwrap();
    let config_apply = commands
        .iter()
        .find(|c| c["command"].as_str().is_some_and(|c| c.starts_with("iotedge config apply")))
        .unwrap_or_else(|| panic!("config apply is reported: {stdout}"));
    assert_eq!(config_apply["ran"], false, "{stdout}");
    assert!(
        config_apply["reason"].as_str().unwrap().starts_with("skipped: /etc/aziot/config.toml did not exist")
    );
    let after: Vec<String> = device.calls()[calls_after_apply..].to_vec();
    assert!(
        !after.iter().any(|c| c.starts_with("iotedge config apply")),
        "ran after the rollback: {after:?}"
    );
}
