//! A crash (here `kill -9` from a fake command) between writing the files and running the
//! commands is visible to the next `plan`/`apply` and recoverable: `apply` finishes the pending
//! commands, or `rollback` restores the files; a killed rollback is finished by running it
//! again. Also: what a failed command leaves running (every command up to and including it
//! runs again on the restored files).

mod common;

use common::{Device, template_text};
use predicates::prelude::*;

/// Changes hostname and DNS: apply runs `systemctl restart docker`, then `iotedge config
/// apply`.
const ANSWERS: &str = "hostname = \"edge-01\"\n[dns]\nservers = [\"10.0.0.2\"]\n";

fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/aziot/config.toml", common::provisioned_config("old"));
    device.write("/etc/docker/daemon.json", "{}\n");
    device
}

/// A fake that kills edgeprep with SIGKILL the first time it runs (a power cut, an OOM kill).
fn crash_once(device: &Device, program: &str) {
    let marker = device.dir.path().join(format!("{program}.crashed"));
    device.fake(program, &format!("if [ ! -e '{0}' ]; then : > '{0}'; kill -9 $PPID; fi", marker.display()));
}

fn apply(device: &Device, answers: &std::path::Path) -> assert_cmd::assert::Assert {
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert()
}

#[test]
fn an_apply_killed_mid_commands_is_reported_by_plan_and_finished_by_apply() {
    let device = device();
    crash_once(&device, "iotedge");
    let answers = device.answers(ANSWERS);
    let killed = apply(&device, &answers).get_output().status.code();
    assert_eq!(killed, None, "edgeprep should have died by SIGKILL");
    assert!(device.read("/etc/aziot/config.toml").contains("edge-01"), "files were written");
    assert_eq!(
        device.calls(),
        ["systemctl restart docker", "iotedge config apply -c /etc/aziot/config.toml"]
    );

    // Today's bug: the written files look like the wanted state and plan says "No changes".
    let plan = device.edgeprep(&["plan", "--answers", answers.to_str().unwrap()]).assert().success();
    let stdout = String::from_utf8_lossy(&plan.get_output().stdout).into_owned();
    assert!(stdout.contains("INTERRUPTED"), "{stdout}");
    assert!(stdout.contains("not run yet: iotedge config apply -c /etc/aziot/config.toml."), "{stdout}");
    let json =
        device.edgeprep(&["plan", "--json", "--answers", answers.to_str().unwrap()]).assert().success();
    let value: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    assert_eq!(value["interrupted"]["action"], "apply");
    assert_eq!(value["interrupted"]["stage"], "files-written");

    // Without --yes and without a terminal, apply refuses and changes nothing.
    let before = device.snapshot();
    device
        .edgeprep(&["apply", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("interrupted"));
    assert_eq!(device.snapshot(), before);

    apply(&device, &answers)
        .success()
        .stdout(predicate::str::contains("The interrupted apply is complete"))
        .stdout(predicate::str::contains("No changes"));
    assert_eq!(
        device.calls(),
        [
            "systemctl restart docker",
            "iotedge config apply -c /etc/aziot/config.toml",
            // Finishing: the command that was running when it died (and any after it).
            "iotedge config apply -c /etc/aziot/config.toml",
        ]
    );
    device
        .edgeprep(&["plan", "--answers", answers.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("INTERRUPTED").not());
    device
        .edgeprep(&["rollback", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("apply, completed"));
}

#[test]
fn an_apply_killed_mid_commands_can_be_rolled_back_instead() {
    let device = device();
    let before = device.device_snapshot();
    crash_once(&device, "iotedge");
    let answers = device.answers(ANSWERS);
    assert_eq!(apply(&device, &answers).get_output().status.code(), None);
    device
        .edgeprep(&["rollback", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("apply, interrupted"));

    device.edgeprep(&["rollback", "--yes"]).assert().success();
    assert_eq!(device.device_snapshot(), before, "files restored");
    // The services read the restored files again.
    let calls = device.calls();
    assert_eq!(
        &calls[2..],
        [
            "systemctl restart docker",
            "iotedge config apply -c /etc/aziot/config.toml",
            "docker rm -f edgeAgent"
        ]
    );
    device
        .edgeprep(&["plan", "--answers", answers.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("INTERRUPTED").not());
}

#[test]
fn a_rollback_killed_half_way_is_finished_by_running_rollback_again() {
    let device = device();
    let before = device.device_snapshot();
    let answers = device.answers(ANSWERS);
    apply(&device, &answers).success();
    let applied = device.calls().len();
    crash_once(&device, "systemctl");
    let killed = device.edgeprep(&["rollback", "--yes"]).assert().get_output().status.code();
    assert_eq!(killed, None, "rollback should have died by SIGKILL");

    device
        .edgeprep(&["rollback", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("interrupted"));
    // A new apply must not start on top of it.
    apply(&device, &answers).code(2).stderr(predicate::str::contains("edgeprep rollback"));

    device
        .edgeprep(&["rollback", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Finishing the interrupted rollback"));
    assert_eq!(device.device_snapshot(), before);
    assert_eq!(
        &device.calls()[applied..],
        [
            "systemctl restart docker",
            "systemctl restart docker",
            "iotedge config apply -c /etc/aziot/config.toml",
            "docker rm -f edgeAgent"
        ]
    );
    let list = device.edgeprep(&["rollback", "--list", "--json"]).assert().success();
    let value: serde_json::Value = serde_json::from_slice(&list.get_output().stdout).unwrap();
    let sets = value["sets"].as_array().unwrap();
    assert_eq!(sets.len(), 2);
    assert_eq!(sets[0]["status"], "rolled back");
    assert_eq!(sets[1]["action"], "rollback");
    assert_eq!(sets[1]["restores"], sets[0]["id"]);
    assert_eq!(sets[1]["status"], "completed");
}

#[test]
fn a_failed_docker_restart_runs_it_again_after_restoring_so_docker_is_not_left_stopped() {
    let device = device();
    let before = device.device_snapshot();
    let marker = device.dir.path().join("docker-restarted");
    // The first restart fails (daemon.json rejected); on the restored file it works.
    device.fake(
        "systemctl",
        &format!(
            "if [ ! -e '{0}' ]; then : > '{0}'; echo 'Job for docker.service failed' >&2; exit 1; fi",
            marker.display()
        ),
    );
    let answers = device.answers(ANSWERS);
    apply(&device, &answers)
        .code(1)
        .stdout(predicate::str::contains("Ran again on the restored files: systemctl restart docker (ok)"));
    assert_eq!(device.device_snapshot(), before);
    assert_eq!(device.calls(), ["systemctl restart docker", "systemctl restart docker"]);
}

#[test]
fn config_apply_is_skipped_after_a_rollback_removed_the_config_toml_apply_created() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.fake("docker", "echo 'Cannot connect to the Docker daemon' >&2; exit 1");
    let answers = device.answers(&format!("[upstream]\nprotocol = \"AmqpWs\"\n{}", common::PROVISIONING));
    let output = apply(&device, &answers).code(1);
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert!(!device.exists("/etc/aziot/config.toml"));
    assert!(stdout.contains("Ran again on the restored files: iotedge config apply -c /etc/aziot/config.toml (skipped: /etc/aziot/config.toml did not exist"), "{stdout}");
    assert_eq!(
        device.calls(),
        [
            "iotedge config apply -c /etc/aziot/config.toml",
            "docker rm -f edgeAgent",
            "docker rm -f edgeAgent"
        ]
    );
}

#[test]
fn when_restoring_fails_too_the_exit_code_is_3_and_names_the_backup_set() {
    let device = device();
    let mv = ["/bin/mv", "/usr/bin/mv"].into_iter().find(|p| std::path::Path::new(p).exists()).unwrap();
    std::os::unix::fs::symlink(mv, device.bin().join("mv")).unwrap();
    // The failing restart also leaves a file where /etc/docker was: nothing can go back there.
    let docker_dir = device.path("/etc/docker");
    device.fake(
        "systemctl",
        &format!(
            "mv '{0}' '{1}'; : > '{0}'; echo 'docker broke' >&2; exit 1",
            docker_dir.display(),
            device.dir.path().join("moved-away").display()
        ),
    );
    let answers = device.answers(ANSWERS);
    let output = apply(&device, &answers).code(3);
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
    assert!(stdout.contains("FAILED: `systemctl restart docker`"), "{stdout}");
    assert!(!stdout.contains("Every file was restored"), "{stdout}");
    assert!(stdout.contains("FAILED too"), "{stdout}");
    assert!(stderr.contains("rolling back failed"), "{stderr}");
    let log = device.read("/var/log/edgeprep.log");
    let entry: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(entry["result"], "rollback failed");
    let id = entry["backup"].as_str().unwrap();
    assert!(stderr.contains(&format!("edgeprep rollback {id}")), "{stderr}");
}
