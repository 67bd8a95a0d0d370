//! The fake `iotedge` the other tests put on PATH rejects what IoT Edge 1.4's
//! `iotedge config apply` would reject, reading the file under the test's device root; if it
//! accepted anything, a test could pass on a config.toml a real device refuses.

mod common;

use common::Device;

const CONFIG: &str = "/etc/aziot/config.toml";

const VALID: &str = r#"hostname = "edge-01"

[provisioning]
source = "manual"
connection_string = "HostName=h.azure-devices.net;DeviceId=edge-01;SharedAccessKey=YWJj"
"#;

/// `iotedge config apply -c CONFIG` on `text`: (exit code, stderr).
fn apply(text: &str) -> (i32, String) {
    let device = Device::new();
    device.write(CONFIG, text);
    device.iotedge(&["config", "apply", "-c", CONFIG])
}

fn assert_rejected(text: &str, message: &str) {
    let (code, stderr) = apply(text);
    assert_eq!(code, 1, "accepted:\n{text}");
    assert!(stderr.contains(message), "expected {message:?} in: {stderr}");
}

#[test]
fn accepts_a_minimal_manual_config_and_logs_the_call() {
    let device = Device::new();
    device.write(CONFIG, VALID);
    let (code, stderr) = device.iotedge(&["config", "apply", "-c", CONFIG]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(device.calls(), ["iotedge config apply -c /etc/aziot/config.toml"]);
}

#[test]
fn accepts_our_bench_config_and_a_complete_agent() {
    let (code, stderr) = apply(&common::fixture("bench-config.toml"));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn reads_the_file_under_the_test_root_not_this_machine() {
    let device = Device::new();
    let (code, stderr) = device.iotedge(&["config", "apply", "-c", CONFIG]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("could not read config file /etc/aziot/config.toml: No such file or directory"),
        "{stderr}"
    );
}

#[test]
fn rejects_a_file_that_is_not_utf8() {
    let device = Device::new();
    device.write(CONFIG, b"hostname = \"\xff\"\n".as_slice());
    let (code, stderr) = device.iotedge(&["config", "apply", "-c", CONFIG]);
    assert_eq!(code, 1);
    assert!(stderr.contains("error parsing config"), "{stderr}");
}

#[test]
fn rejects_toml_that_does_not_parse() {
    assert_rejected("hostname = \"a\"\n[agent\n", "could not parse config file");
}

#[test]
fn rejects_a_config_without_provisioning() {
    assert_rejected("hostname = \"edge-01\"\n", "missing field `provisioning`");
}

#[test]
fn rejects_a_connection_string_without_its_key_or_with_a_key_that_is_not_base64() {
    assert_rejected(
        "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h;DeviceId=d\"\n",
        "required parameter \"SharedAccessKey\" is missing",
    );
    assert_rejected(
        "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h;DeviceId=d;SharedAccessKey=!!\"\n",
        "could not be decoded from base64",
    );
}

#[test]
fn rejects_edge_ca_with_cert_and_no_pk_and_an_empty_edge_ca() {
    assert_rejected(
        &format!("{VALID}\n[edge_ca]\ncert = \"file:///var/aziot/certs/ca.pem\"\n"),
        "untagged enum EdgeCa",
    );
    assert_rejected(&format!("{VALID}\n[edge_ca]\n"), "untagged enum EdgeCa");
    let (code, stderr) = apply(&format!(
        "{VALID}\n[edge_ca]\ncert = \"file:///var/aziot/certs/ca.pem\"\npk = \"file:///var/aziot/secrets/ca.key.pem\"\n"
    ));
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn rejects_an_auto_renew_table_missing_a_key() {
    assert_rejected(
        &format!(
            "{VALID}\n[edge_ca]\nauto_generated_edge_ca_expiry_days = 90\n\n[edge_ca.auto_renew]\nrotate_key = true\nthreshold = \"80%\"\n"
        ),
        "missing field `retry`",
    );
}

#[test]
fn rejects_a_partial_agent() {
    assert_rejected(
        &format!("{VALID}\n[agent.env]\nUpstreamProtocol = \"AmqpWs\"\n"),
        "missing field `name`",
    );
    assert_rejected(
        &format!("{VALID}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n"),
        "missing field `config`",
    );
    assert_rejected(
        &format!("{VALID}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = \"\"\n"),
        "image cannot be empty",
    );
}

#[test]
fn rejects_a_top_level_key_written_after_a_table() {
    assert_rejected(
        &format!("{VALID}cloud_timeout_sec = 80\n"),
        "top-level key `cloud_timeout_sec` is inside [provisioning]",
    );
    assert_rejected(
        "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h;DeviceId=d;SharedAccessKey=YWJj\"\nhostname = \"edge-01\"\n",
        "top-level key `hostname` is inside [provisioning]",
    );
}

#[test]
fn rejects_an_unknown_top_level_key() {
    assert_rejected(&format!("hostnme = \"edge-01\"\n{VALID}"), "unknown top-level key `hostnme`");
}

#[test]
fn rejects_garbage_collection_values_iot_edge_refuses() {
    for (gc, message) in [
        ("cleanup_recurrence = \"36h\"", "multiple of days"),
        ("cleanup_time = \"24:00\"", "cleanup_time"),
        ("cleanup_time = 0", "invalid type"),
        ("image_age_cleanup_threshold = \"7 parsecs\"", "expected a duration"),
    ] {
        assert_rejected(&format!("{VALID}\n[image_garbage_collection]\n{gc}\n"), message);
    }
}

#[test]
fn rejects_a_cloud_timeout_below_70_seconds_and_non_string_env() {
    assert_rejected(&format!("cloud_timeout_sec = 10\n{VALID}"), "at least 70 seconds");
    assert_rejected(
        &format!(
            "{VALID}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = \"i\"\n[agent.env]\nRuntimeLogLevel = 3\n"
        ),
        "invalid type",
    );
}

#[test]
fn other_subcommands_are_only_logged() {
    let device = Device::new();
    let (code, _) = device.iotedge(&["system", "restart"]);
    assert_eq!(code, 0);
    assert_eq!(device.calls(), ["iotedge system restart"]);
}
