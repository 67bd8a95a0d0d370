//! The smaller commands: the demo device, completions, answers check, unreadable files.

mod common;

use assert_cmd::Command;
use common::Device;
use predicates::prelude::*;

fn edgeprep() -> Command {
    let mut cmd = Command::cargo_bin("edgeprep").unwrap();
    // Nothing on PATH: the demo lists commands and must never run one.
    cmd.env("PATH", "/nonexistent");
    cmd
}

#[test]
fn demo_apply_works_without_iot_edge_and_lists_commands() {
    edgeprep()
        .args(["--demo", "apply", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("To run on the device"))
        .stdout(predicate::str::contains("iotedge config apply"))
        .stdout(predicate::str::contains("demo-registry-password").not());
}

#[test]
fn demo_plan_shows_the_diff() {
    edgeprep().args(["--demo", "plan"]).assert().success().stdout(
        predicate::str::contains("+\"UpstreamProtocol\" = \"AmqpWs\"")
            .or(predicate::str::contains("+UpstreamProtocol = \"AmqpWs\"")),
    );
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        edgeprep()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains("rollback"));
    }
}

#[test]
fn answers_check_accepts_the_demo_answers_and_rejects_typos() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, include_str!("../assets/demo/answers.toml")).unwrap();
    edgeprep()
        .args(["answers", "check"])
        .arg(&good)
        .assert()
        .success()
        .stdout(predicate::str::contains("valid"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[upstream]\nprotocl = \"Mqtt\"\n").unwrap();
    edgeprep()
        .args(["answers", "check"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("did you mean \"protocol\""))
        .stderr(predicate::str::contains("line 2"));
}

#[test]
fn unreadable_config_is_bad_input_and_nothing_is_written() {
    let device = Device::new();
    // A directory where config.toml should be: reading it fails.
    std::fs::create_dir_all(device.path("/etc/aziot/config.toml")).unwrap();
    let before = device.snapshot();
    let answers = device.answers("hostname = \"edge-01\"\n");
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/etc/aziot/config.toml"));
    assert_eq!(device.snapshot(), before);
}

#[test]
fn missing_root_is_bad_input() {
    edgeprep()
        .args(["--root", "/nonexistent/device", "plan", "--answers", "x.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--root"));
}

#[test]
fn answers_check_prints_warnings_without_failing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.toml");
    std::fs::write(&file, "[agent]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4\"\n").unwrap();
    edgeprep()
        .args(["answers", "check"])
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::contains("with warnings"))
        .stdout(predicate::str::contains("rolling tag"));
}
