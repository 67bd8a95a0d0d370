//! End-to-end tests of `edgeprep plan` and `edgeprep apply` on a temporary device root with
//! fake iotedge, systemctl and docker.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::{Device, provisioned_config, template_text};
use predicates::prelude::*;

const FULL_ANSWERS: &str = r#"
hostname = "edge-01"

[provisioning]
source = "manual"
connection_string = "HostName=contoso.azure-devices.net;DeviceId=edge-01;SharedAccessKey=c2VjcmV0LXNhcy1rZXktZm9yLXRlc3Rz"

[upstream]
protocol = "amqpws"

[proxy]
url = "http://proxy.contoso.local:3128"
no_proxy = "localhost,127.0.0.1"

[agent]
image = "contoso.azurecr.io/azureiotedge-agent:1.4.43"

[agent.auth]
server = "contoso.azurecr.io"
username = "edge-pull"
password = "Registry-Pa55word"

[image_garbage_collection]
enabled = true
cleanup_recurrence = "1d"
image_age_cleanup_threshold = "7d"
cleanup_time = "00:00"

[logging]
driver = "local"
max_size = "10m"
max_files = 3

[dns]
servers = ["10.0.0.2"]
"#;

const SAS_KEY: &str = "c2VjcmV0LXNhcy1rZXktZm9yLXRlc3Rz";
const PASSWORD: &str = "Registry-Pa55word";

fn device_from_template() -> Device {
    device_from(&template_text())
}

fn device_from(template: &str) -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template);
    device.write("/etc/docker/daemon.json", "{\n    \"storage-driver\": \"overlay2\"\n}\n");
    device
}

#[test]
fn plan_writes_nothing_and_masks_secrets() {
    let device = device_from_template();
    let answers = device.answers(FULL_ANSWERS);
    let before = device.snapshot();
    let output = device.edgeprep(&["plan", "--answers", answers.to_str().unwrap()]).assert().success();
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert!(stdout.contains("/etc/aziot/config.toml"), "{stdout}");
    assert!(
        stdout.contains("+\"UpstreamProtocol\" = \"AmqpWs\"")
            || stdout.contains("+UpstreamProtocol = \"AmqpWs\""),
        "{stdout}"
    );
    assert!(stdout.contains("iotedge config apply -c /etc/aziot/config.toml"));
    assert!(!stdout.contains(SAS_KEY), "SAS key leaked:\n{stdout}");
    assert!(!stdout.contains(PASSWORD), "password leaked:\n{stdout}");
    assert!(stdout.contains("********"));
    assert_eq!(device.snapshot(), before, "plan must not write");
    assert!(device.calls().is_empty(), "plan must not run commands: {:?}", device.calls());
}

#[test]
#[cfg_attr(
    not(running_as_root),
    ignore = "needs root (edgeprep creates files owned by root or IoT Edge's users)"
)]
fn apply_creates_config_from_template_and_runs_commands_in_order() {
    creates_config_from_template_and_runs_commands_in_order(&template_text());
}

#[test]
#[cfg_attr(
    not(all(running_as_root, shared_fixtures)),
    ignore = "needs root and ../shared/fixtures (IoT Edge's template); CI has both"
)]
fn apply_creates_config_from_iot_edges_real_template_and_runs_commands_in_order() {
    creates_config_from_template_and_runs_commands_in_order(&common::upstream_template_text());
}

fn creates_config_from_template_and_runs_commands_in_order(template: &str) {
    let device = device_from(template);
    let answers = device.answers(FULL_ANSWERS);
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();

    let config = device.read("/etc/aziot/config.toml");
    // Every line of the template survives, in order: the edit only inserts.
    let diff = similar::TextDiff::from_lines(template, config.as_str());
    assert!(
        diff.iter_all_changes().all(|c| c.tag() != similar::ChangeTag::Delete),
        "template lines were lost"
    );
    let parsed: toml::Table = config.parse().expect("config.toml parses");
    assert_eq!(parsed["hostname"].as_str(), Some("edge-01"));
    assert_eq!(parsed["agent"]["name"].as_str(), Some("edgeAgent"));
    assert_eq!(parsed["agent"]["type"].as_str(), Some("docker"));
    assert_eq!(
        parsed["agent"]["config"]["image"].as_str(),
        Some("contoso.azurecr.io/azureiotedge-agent:1.4.43")
    );
    assert_eq!(parsed["agent"]["config"]["auth"]["password"].as_str(), Some(PASSWORD));
    assert_eq!(parsed["agent"]["env"]["UpstreamProtocol"].as_str(), Some("AmqpWs"));
    assert_eq!(parsed["agent"]["env"]["https_proxy"].as_str(), Some("http://proxy.contoso.local:3128"));
    assert_eq!(parsed["image_garbage_collection"]["cleanup_time"].as_str(), Some("00:00"));
    assert_eq!(parsed["provisioning"]["source"].as_str(), Some("manual"));
    // hostname is a top-level key: it must come before the first table header.
    let hostname_at = config.find("\nhostname = ").expect("hostname line");
    let first_table = config.lines().position(|l| l.starts_with('[')).unwrap();
    assert!(config[..hostname_at].lines().count() < first_table);
    // New config.toml holds secrets: 0600.
    assert_eq!(std::fs::metadata(device.path("/etc/aziot/config.toml")).unwrap().mode() & 0o777, 0o600);

    let daemon: serde_json::Value = serde_json::from_str(&device.read("/etc/docker/daemon.json")).unwrap();
    assert_eq!(daemon["log-driver"], "local");
    assert_eq!(daemon["log-opts"]["max-size"], "10m");
    assert_eq!(daemon["log-opts"]["max-file"], "3");
    assert_eq!(daemon["dns"], serde_json::json!(["10.0.0.2"]));
    assert_eq!(daemon["storage-driver"], "overlay2");

    for unit in ["docker", "aziot-edged", "aziot-identityd"] {
        let dropin = device.read(&format!("/etc/systemd/system/{unit}.service.d/edgeprep-proxy.conf"));
        assert!(
            dropin.contains("Environment=\"https_proxy=http://proxy.contoso.local:3128\""),
            "{unit}: {dropin}"
        );
    }
    assert_eq!(
        device.calls(),
        [
            "systemctl daemon-reload",
            "systemctl restart docker",
            "iotedge config apply -c /etc/aziot/config.toml",
            "docker rm -f edgeAgent"
        ]
    );
}

#[test]
#[cfg_attr(
    not(running_as_root),
    ignore = "needs root (edgeprep creates files owned by root or IoT Edge's users)"
)]
fn applying_the_same_answers_twice_changes_and_restarts_nothing() {
    let device = device_from_template();
    let answers = device.answers(FULL_ANSWERS);
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    let after_first = device.snapshot();
    let calls_after_first = device.calls().len();

    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("No changes"));
    let after_second = device.snapshot();
    // Only the audit log grows.
    let without_log = |s: Vec<(String, Vec<u8>, u32, u32, u32)>| -> Vec<_> {
        s.into_iter().filter(|(p, ..)| p != "var/log/edgeprep.log").collect()
    };
    assert_eq!(without_log(after_second), without_log(after_first));
    // The first apply changed daemon.json, so it made exactly one backup; the second none.
    assert_eq!(backup_count(&device), 1, "second apply made a backup (or the first made none)");
    assert_eq!(device.calls().len(), calls_after_first, "second apply ran commands: {:?}", device.calls());
}

#[test]
fn failing_config_apply_rolls_every_file_back() {
    let device = device_from_template();
    device.write("/etc/aziot/config.toml", "# bench config\nhostname = \"old\"\n\n[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=YWJj\"\n");
    let before = device.device_snapshot();
    device.fake("iotedge", "echo 'could not parse config file' >&2; exit 1");
    let answers = device.answers(FULL_ANSWERS);
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("could not parse config file"))
        .stdout(predicate::str::contains("restored"));
    let after = device.device_snapshot();
    assert_eq!(after, before, "files must be byte-identical after rollback, created files removed");
    // Every command up to and including the failed one runs again on the restored files.
    let run = [
        "systemctl daemon-reload",
        "systemctl restart docker",
        "iotedge config apply -c /etc/aziot/config.toml",
    ];
    assert_eq!(device.calls(), [run, run].concat());
}

#[test]
#[cfg_attr(not(running_as_root), ignore = "needs root (chown)")]
fn existing_files_keep_mode_and_owner() {
    let device = device_from_template();
    device.write("/etc/aziot/config.toml", provisioned_config("old"));
    let path = device.path("/etc/aziot/config.toml");
    // 0400, not 0640: the file holds a SAS key, and a group-readable one would be tightened.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    std::os::unix::fs::chown(&path, Some(1234), Some(4321)).unwrap();
    let answers = device.answers("hostname = \"edge-01\"\n");
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!((meta.mode() & 0o777, meta.uid(), meta.gid()), (0o400, 1234, 4321));
    assert_eq!(device.read("/etc/aziot/config.toml"), provisioned_config("edge-01"));
}

#[test]
fn broken_config_toml_is_bad_input_naming_file_and_line() {
    let device = device_from_template();
    device.write("/etc/aziot/config.toml", "hostname = \"a\"\n\n[agent\nname = \"edgeAgent\"\n");
    let before = device.snapshot();
    let answers = device.answers(FULL_ANSWERS);
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/etc/aziot/config.toml"))
        .stderr(predicate::str::contains("line 3"));
    assert_eq!(device.snapshot(), before);
    assert!(device.calls().is_empty());
}

#[test]
fn daemon_json_with_comment_is_bad_input_naming_line() {
    let device = device_from_template();
    device.write("/etc/docker/daemon.json", "{\n  // keep logs small\n  \"log-driver\": \"local\"\n}\n");
    let before = device.snapshot();
    let answers = device.answers("[logging]\ndriver = \"local\"\n");
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/etc/docker/daemon.json"))
        .stderr(predicate::str::contains("line 2"));
    assert_eq!(device.snapshot(), before);
}

#[test]
fn invalid_answer_is_bad_input_and_writes_nothing() {
    let device = device_from_template();
    let before = device.snapshot();
    let answers = device.answers("[image_garbage_collection]\ncleanup_recurrence = \"36h\"\n");
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cleanup_recurrence"));
    assert_eq!(device.snapshot(), before);
}

#[test]
fn apply_without_yes_and_without_terminal_refuses() {
    let device = device_from_template();
    let before = device.snapshot();
    let answers = device.answers(&format!("hostname = \"edge-01\"\n{}", common::PROVISIONING));
    device
        .edgeprep(&["apply", "--answers", answers.to_str().unwrap()])
        .write_stdin("y\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    assert_eq!(device.snapshot(), before);
}

#[test]
fn apply_json_reports_files_commands_and_backup() {
    let device = device_from_template();
    let answers = device.answers("[dns]\nservers = [\"10.0.0.2\"]\n");
    let output = device
        .edgeprep(&["apply", "--yes", "--json", "--answers", answers.to_str().unwrap()])
        .assert()
        .success();
    let value: serde_json::Value =
        serde_json::from_slice(&output.get_output().stdout).expect("JSON on stdout");
    assert_eq!(value["changed"], true);
    assert_eq!(value["files"], serde_json::json!(["/etc/docker/daemon.json"]));
    assert_eq!(value["commands"][0]["command"], "systemctl restart docker");
    let backup = value["backup"].as_str().expect("backup id");
    assert!(device.path(&format!("/var/lib/edgeprep/backups/{backup}")).is_dir());
}

#[test]
fn secrets_stay_out_of_stdout_audit_log_and_readable_backups() {
    let device = device_from_template();
    device.write("/etc/aziot/config.toml", common::provisioned_config("old"));
    let answers = device.answers(FULL_ANSWERS);
    let output =
        device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
    let log = device.read("/var/log/edgeprep.log");
    for text in [&stdout, &stderr, &log] {
        assert!(!text.contains(SAS_KEY) && !text.contains(PASSWORD), "secret leaked in:\n{text}");
    }
    let entry: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(entry["user"], "tester");
    // Apply again with a new password so the backup holds the old one: it must be 0600.
    let second = FULL_ANSWERS.replace(PASSWORD, "Another-Pa55word");
    let answers = device.answers(&second);
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    let files: Vec<_> =
        walk(&device.path("/var/lib/edgeprep/backups")).into_iter().filter(|p| p.is_file()).collect();
    assert!(
        files.iter().any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains(PASSWORD))),
        "no backup holds the old config.toml with its password: {files:?}"
    );
    for entry in files {
        let mode = std::fs::metadata(&entry).unwrap().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is readable by others ({mode:o})", entry.display());
    }
}

#[test]
fn rollback_restores_the_latest_backup() {
    let device = device_from_template();
    device.write("/etc/aziot/config.toml", provisioned_config("old"));
    let answers = device.answers("hostname = \"edge-01\"\n");
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    assert_eq!(device.read("/etc/aziot/config.toml"), provisioned_config("edge-01"));
    device
        .edgeprep(&["rollback", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("/etc/aziot/config.toml"));
    let calls_before_rollback = device.calls().len();
    device.edgeprep(&["rollback", "--yes"]).assert().success();
    assert_eq!(device.read("/etc/aziot/config.toml"), provisioned_config("old"));
    // The apply ran `config apply` too: only what the rollback ran counts here.
    let rollback_calls = device.calls()[calls_before_rollback..].to_vec();
    assert!(
        rollback_calls.contains(&"iotedge config apply -c /etc/aziot/config.toml".to_string()),
        "rollback must apply the restored config.toml: {rollback_calls:?}"
    );
}

#[test]
fn commands_are_listed_not_run_when_root_is_not_slash() {
    let device = device_from_template();
    let answers = device.answers("[dns]\nservers = [\"10.0.0.2\"]\n");
    let mut cmd = assert_cmd::Command::cargo_bin("edgeprep").unwrap();
    cmd.env("PATH", device.bin());
    cmd.arg("--root").arg(device.root()).args(["apply", "--yes", "--answers", answers.to_str().unwrap()]);
    cmd.assert()
        .success()
        .stdout(predicate::str::contains("To run on the device"))
        .stdout(predicate::str::contains("systemctl restart docker"));
    assert!(device.calls().is_empty());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            }
            out.push(path);
        }
    }
    out
}

#[test]
fn commands_that_ran_before_a_failure_run_again_on_the_restored_files() {
    let device = device_from_template();
    device.write("/etc/aziot/config.toml", provisioned_config("old"));
    // docker restarts fine, config apply works, but removing edgeAgent fails for real.
    device.fake("docker", "echo 'Cannot connect to the Docker daemon' >&2; exit 1");
    let answers = device.answers("[upstream]\nprotocol = \"AmqpWs\"\n");
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("Ran again on the restored files: iotedge config apply"));
    assert_eq!(device.read("/etc/aziot/config.toml"), provisioned_config("old"));
    assert_eq!(
        device.calls(),
        [
            "iotedge config apply -c /etc/aziot/config.toml",
            "docker rm -f edgeAgent",
            "iotedge config apply -c /etc/aziot/config.toml",
            "docker rm -f edgeAgent"
        ]
    );
}

fn backup_count(device: &Device) -> usize {
    std::fs::read_dir(device.path("/var/lib/edgeprep/backups")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn json_callers_get_bad_input_as_json_too() {
    let device = device_from_template();
    let answers = device.answers("[dns]\nservers = [\"not-an-ip\"]\n");
    let output = device
        .edgeprep(&["apply", "--yes", "--json", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(2);
    let value: serde_json::Value =
        serde_json::from_slice(&output.get_output().stdout).expect("JSON on stdout");
    assert_eq!(value["changed"], false);
    assert!(value["error"].as_str().unwrap().contains("[dns] servers"), "{value}");
}

#[test]
fn interrupt_during_apply_rolls_back_instead_of_stopping_halfway() {
    for signal in ["INT", "HUP", "TERM"] {
        let device = device_from_template();
        device.write("/etc/aziot/config.toml", provisioned_config("old"));
        let before = device.device_snapshot();
        // The technician presses Ctrl-C (or the SSH link drops) while docker restarts.
        device.fake("systemctl", &format!("kill -{signal} $PPID"));
        let answers = device.answers("hostname = \"edge-01\"\n[dns]\nservers = [\"10.0.0.2\"]\n");
        device
            .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
            .assert()
            .code(1)
            .stdout(predicate::str::contains("interrupted"));
        assert_eq!(device.device_snapshot(), before, "SIG{signal}: files not restored");
        assert!(
            !device.calls().iter().any(|c| c.starts_with("iotedge")),
            "SIG{signal}: kept going after the interrupt: {:?}",
            device.calls()
        );
    }
}
