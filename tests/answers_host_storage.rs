//! `[agent] host_storage`: edgeAgent's state in a host directory, through plan, apply,
//! re-apply and rollback on a temporary device root with fake commands.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::{Device, PROVISIONING, template_text};
use predicates::prelude::*;

const HOST: &str = "/data/edge-agent";

fn answers_text(host: &str) -> String {
    format!(
        "[agent]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"\nhost_storage = \"{host}\"\n\n{PROVISIONING}"
    )
}

fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device
}

fn apply(device: &Device, answers: &str) -> assert_cmd::assert::Assert {
    let path = device.answers(answers);
    device.edgeprep(&["apply", "--yes", "--answers", path.to_str().unwrap()]).assert()
}

fn agent(device: &Device) -> toml::Value {
    device.read("/etc/aziot/config.toml").parse::<toml::Table>().unwrap()["agent"].clone()
}

#[test]
fn apply_creates_the_directory_root_owned_0755_binds_it_and_sets_storage_folder() {
    let device = device();
    assert!(!device.exists("/data"));
    apply(&device, &answers_text(HOST)).success();
    let meta = std::fs::metadata(device.path(HOST)).unwrap();
    assert!(meta.is_dir());
    assert_eq!((meta.mode() & 0o7777, meta.uid(), meta.gid()), (0o755, 0, 0));
    let agent = agent(&device);
    assert_eq!(
        agent["config"]["createOptions"]["HostConfig"]["Binds"].as_array().unwrap(),
        &[toml::Value::from("/data/edge-agent:/iotedge/storage")]
    );
    assert_eq!(agent["env"]["storageFolder"].as_str(), Some("/iotedge/storage"));
    // `config apply` leaves a running edgeAgent alone: it is recreated to use the new storage.
    let calls = device.calls();
    let apply_at = calls.iter().position(|c| c.starts_with("iotedge config apply")).unwrap();
    let rm_at = calls.iter().position(|c| c == "docker rm -f edgeAgent").unwrap();
    assert!(apply_at < rm_at, "{calls:?}");
}

#[test]
fn the_plan_names_the_directory_and_why_its_owner_is_root() {
    let device = device();
    let path = device.answers(&answers_text(HOST));
    device
        .edgeprep(&["plan", "--answers", path.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("edgeAgent host storage"))
        .stdout(predicate::str::contains("/data/edge-agent is created root:root 0755"))
        .stdout(predicate::str::contains("UID 13622"))
        .stdout(predicate::str::contains("docker rm -f edgeAgent"));
    assert!(!device.exists("/data"), "plan wrote something");
    let output = device
        .edgeprep(&["plan", "--json", "--answers", path.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(
        plan["dirs"],
        serde_json::json!([{ "path": "/data/edge-agent", "mode": "0755", "uid": 0, "gid": 0 }]),
        "{plan:#}"
    );
}

#[test]
fn the_diff_shows_the_bind_and_still_masks_the_registry_password() {
    let device = device();
    let answers = format!(
        "{}\n[agent.auth]\nserver = \"mcr.microsoft.com\"\nusername = \"pull\"\npassword = \"Registry-Pa55word\"\n",
        answers_text(HOST)
    );
    let path = device.answers(&answers);
    let output = device
        .edgeprep(&["plan", "--answers", path.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(output).unwrap();
    assert!(
        text.contains(
            "+createOptions = { HostConfig = { Binds = [\"/data/edge-agent:/iotedge/storage\"] } }"
        ),
        "{text}"
    );
    assert!(!text.contains("Registry-Pa55word"), "{text}");
}

#[test]
fn a_second_apply_has_nothing_to_do_and_runs_no_command() {
    let device = device();
    apply(&device, &answers_text(HOST)).success();
    let calls = device.calls().len();
    let before: Vec<_> =
        device.snapshot().into_iter().filter(|(p, ..)| p != "var/log/edgeprep.log").collect();
    apply(&device, &answers_text(HOST)).success().stdout(predicate::str::contains("No changes"));
    let after: Vec<_> = device.snapshot().into_iter().filter(|(p, ..)| p != "var/log/edgeprep.log").collect();
    assert_eq!(after, before);
    assert_eq!(device.calls().len(), calls, "{:?}", device.calls());
}

#[test]
fn an_existing_directory_is_never_emptied_chowned_or_chmodded() {
    let device = device();
    device.write(&format!("{HOST}/edgeAgent/backup.json"), "{\"state\": 1}\n");
    let dir = device.path(HOST);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    std::os::unix::fs::chown(&dir, Some(13622), Some(13622)).unwrap();
    apply(&device, &answers_text(HOST)).success();
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.uid(), meta.gid()), (0o711, 13622, 13622));
    assert_eq!(device.read(&format!("{HOST}/edgeAgent/backup.json")), "{\"state\": 1}\n");
    assert_eq!(agent(&device)["env"]["storageFolder"].as_str(), Some("/iotedge/storage"));
}

/// A device whose config.toml exists, so the rollback's `config apply` has a file to read.
fn configured_device() -> Device {
    let device = device();
    device.write("/etc/aziot/config.toml", PROVISIONING);
    device
}

#[test]
fn rollback_removes_the_directory_apply_created_while_it_is_empty() {
    let device = configured_device();
    apply(&device, &answers_text(HOST)).success();
    assert!(device.exists(HOST));
    device.edgeprep(&["rollback", "--yes"]).assert().success();
    assert!(!device.exists(HOST) && !device.exists("/data"), "created directories stay");
    assert_eq!(device.read("/etc/aziot/config.toml"), PROVISIONING);
}

#[test]
fn rollback_keeps_the_directory_once_the_agent_wrote_into_it() {
    let device = configured_device();
    apply(&device, &answers_text(HOST)).success();
    device.write(&format!("{HOST}/edgeAgent/backup.json"), "{}\n");
    device.edgeprep(&["rollback", "--yes"]).assert().success();
    assert_eq!(device.read(&format!("{HOST}/edgeAgent/backup.json")), "{}\n");
    assert_eq!(device.read("/etc/aziot/config.toml"), PROVISIONING);
}

#[test]
fn rollback_keeps_a_directory_that_was_there_before() {
    let device = configured_device();
    std::fs::create_dir_all(device.path(HOST)).unwrap();
    apply(&device, &answers_text(HOST)).success();
    device.edgeprep(&["rollback", "--yes"]).assert().success();
    assert!(device.path(HOST).is_dir());
}

#[test]
fn a_path_iot_edge_cannot_keep_state_in_is_refused_with_file_line_and_fix() {
    let device = device();
    let before = device.snapshot();
    apply(&device, &answers_text("/tmp/edge-agent")).code(2).stderr(predicate::str::contains(
        "answers.toml: line 3: [agent] host_storage = \"/tmp/edge-agent\": lies under /tmp, which is emptied at every boot",
    ));
    apply(&device, &answers_text("data/edge-agent")).code(2).stderr(predicate::str::contains(
        "line 3: [agent] host_storage = \"data/edge-agent\": must be an absolute path",
    ));
    apply(&device, &answers_text("/data//edge-agent/"))
        .code(2)
        .stderr(predicate::str::contains("write \"/data/edge-agent\""));
    assert_eq!(device.snapshot(), before);
}

#[test]
fn a_file_where_the_directory_goes_is_refused_before_anything_is_written() {
    let device = device();
    device.write(HOST, "not a directory\n");
    let before = device.snapshot();
    apply(&device, &answers_text(HOST))
        .code(2)
        .stderr(predicate::str::contains("[agent] host_storage = \"/data/edge-agent\""))
        .stderr(predicate::str::contains("not a directory"));
    assert_eq!(device.snapshot(), before);
    assert!(device.calls().is_empty(), "{:?}", device.calls());
}

#[test]
fn a_create_options_table_on_the_device_keeps_its_other_settings() {
    let device = device();
    let config = format!(
        "{PROVISIONING}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"\n\n[agent.config.createOptions]\n# site label\nLabels = {{ site = \"plant-7\" }}\n\n[agent.config.createOptions.HostConfig]\nBinds = [\"/srv/certs:/certs:ro\", \"/old/storage:/iotedge/storage\"]\n\n[agent.env]\nStorageFolder = \"/iotedge/storage\"\n"
    );
    device.write("/etc/aziot/config.toml", &config);
    apply(&device, &answers_text(HOST)).success();
    let text = device.read("/etc/aziot/config.toml");
    assert!(text.contains("# site label\nLabels = { site = \"plant-7\" }\n"), "{text}");
    assert!(
        text.contains("Binds = [\"/srv/certs:/certs:ro\", \"/data/edge-agent:/iotedge/storage\"]\n"),
        "{text}"
    );
    assert!(
        text.contains("StorageFolder = \"/iotedge/storage\"\n") && !text.contains("storageFolder"),
        "{text}"
    );
    // Only the bind line changed.
    let changed: Vec<(&str, &str)> = config.lines().zip(text.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
}

#[test]
fn check_passes_host_storage_after_apply() {
    let device = device();
    apply(&device, &answers_text(HOST)).success();
    let output =
        device.edgeprep(&["check", "--json", "--only", "host-storage"]).assert().get_output().stdout.clone();
    let report: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(report["results"][0]["status"], "ok", "{report:#}");
    assert!(report["results"][0]["details"][0].as_str().unwrap().contains("/data/edge-agent"), "{report:#}");
}

#[test]
fn check_without_host_storage_points_at_the_answer() {
    let device = device();
    device.write("/etc/aziot/config.toml", PROVISIONING);
    let output =
        device.edgeprep(&["check", "--json", "--only", "host-storage"]).assert().get_output().stdout.clone();
    let report: serde_json::Value = serde_json::from_slice(&output).unwrap();
    let result = &report["results"][0];
    assert_eq!(result["status"], "warning", "{report:#}");
    assert_eq!(result["fix"]["answers_key"], "agent.host_storage", "{report:#}");
}
