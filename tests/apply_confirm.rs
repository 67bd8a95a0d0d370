//! `apply --confirm SECONDS` and `edgeprep confirm` through the real binary: kept when
//! confirmed (from another process, or Enter at a terminal), reverted byte for byte on a
//! timeout or Ctrl-C, not ended by a hang-up, and an apply whose waiter was killed is
//! reverted by the next run (apply, rollback, the boot command) and reported by `plan`.
//!
//! The wait is shortened with EDGEPREP_TEST_CONFIRM_SECONDS (a few seconds of real time).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Device, provisioned_config, template_text};
use predicates::prelude::*;

/// apply runs `systemctl restart docker`, then `iotedge config apply`.
const ANSWERS: &str = "hostname = \"edge-01\"\n[dns]\nservers = [\"10.0.0.2\"]\n";
const PENDING: &str = "/var/lib/edgeprep/confirm/pending";

fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/aziot/config.toml", provisioned_config("old"));
    device.write("/etc/docker/daemon.json", "{\"log-driver\": \"local\"}\n");
    device
}

/// `edgeprep apply --yes --confirm 10 ARGS`, waiting `seconds` of real time, in the background
/// (stdin not a terminal: only `edgeprep confirm` can keep it).
fn spawn_apply(device: &Device, seconds: &str, extra: &[&str]) -> Child {
    let answers = device.answers(ANSWERS);
    Command::new(env!("CARGO_BIN_EXE_edgeprep"))
        .env("PATH", device.bin())
        .env_remove("SUDO_USER")
        .env("USER", "tester")
        .env("EDGEPREP_TEST_ROOT", device.root())
        .env("EDGEPREP_TEST_CONFIRM_SECONDS", seconds)
        .arg("--root")
        .arg(device.root())
        .arg("--run-commands")
        .args(["apply", "--yes", "--confirm", "10", "--answers", answers.to_str().unwrap()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Wait until the apply is done and waits for its confirmation.
fn wait_for_pending(device: &Device, child: &mut Child) {
    let start = Instant::now();
    while !device.exists(PENDING) {
        assert!(child.try_wait().unwrap().is_none(), "apply ended before it waited");
        assert!(start.elapsed() < Duration::from_secs(60), "apply never started waiting");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn finish(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn signal(child: &Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, sig).unwrap();
}

/// The fakes' calls without the health probes of the wait.
fn commands(device: &Device) -> Vec<String> {
    device
        .calls()
        .into_iter()
        .filter(|c| !c.starts_with("systemctl is-active") && !c.starts_with("docker inspect"))
        .collect()
}

fn audit(device: &Device) -> Vec<serde_json::Value> {
    device.read("/var/log/edgeprep.log").lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const APPLIED: [&str; 2] = ["systemctl restart docker", "iotedge config apply -c /etc/aziot/config.toml"];

#[test]
fn confirm_from_another_process_keeps_the_changes() {
    let device = device();
    let mut child = spawn_apply(&device, "60", &["--json"]);
    wait_for_pending(&device, &mut child);
    device.edgeprep(&["confirm"]).assert().success().stdout(predicate::str::contains("Kept"));
    let (code, stdout, _) = finish(child);
    assert_eq!(code, 0, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["confirmation"], "kept");
    assert!(device.read("/etc/docker/daemon.json").contains("10.0.0.2"));
    assert_eq!(commands(&device), APPLIED, "nothing ran again");
    let last = audit(&device).pop().unwrap();
    assert_eq!((last["action"].as_str(), last["result"].as_str()), (Some("confirm"), Some("kept")));
    assert_eq!(last["backup"], json["backup"]);
    // A second confirm says so, and still exits 0.
    device.edgeprep(&["confirm"]).assert().success().stdout(predicate::str::contains("Already kept"));
}

#[test]
fn no_confirmation_in_time_restores_every_file_and_runs_the_commands_again() {
    let device = device();
    let before = device.device_snapshot();
    let child = spawn_apply(&device, "1.5", &["--json"]);
    let (code, stdout, _) = finish(child);
    assert_eq!(code, 1, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["confirmation"], "reverted");
    assert!(json["revert"]["files"].as_array().unwrap().iter().any(|f| f == "/etc/docker/daemon.json"));
    assert_eq!(device.device_snapshot(), before, "files restored byte for byte");
    let calls = commands(&device);
    assert_eq!(calls[..2], APPLIED);
    assert!(
        calls[2..].contains(&"systemctl restart docker".to_string()),
        "docker restarted on the old files: {calls:?}"
    );
    assert!(
        device.calls().iter().any(|c| c == "systemctl is-active aziot-edged"),
        "health was polled during the wait"
    );
    let last = audit(&device).pop().unwrap();
    assert_eq!(last["action"], "confirm");
    assert_eq!(last["result"], "reverted: not confirmed in time");
    assert_eq!(last["backup"], json["backup"]);
    // Confirming now is too late.
    device.edgeprep(&["confirm"]).assert().code(1).stdout(predicate::str::contains("Too late"));
}

#[test]
fn a_revert_that_cannot_restore_exits_3_and_stays_to_be_retried() {
    let device = device();
    let mut child = spawn_apply(&device, "2", &["--json"]);
    wait_for_pending(&device, &mut child);
    // The backup set is damaged while the apply waits.
    let backups = device.path("/var/lib/edgeprep/backups");
    for set in std::fs::read_dir(&backups).unwrap() {
        std::fs::write(set.unwrap().path().join("manifest.json"), "{ not json").unwrap();
    }
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 3, "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["confirmation"], "revert-failed");
    assert!(stderr.contains("the next edgeprep run tries again"), "{stderr}");
    assert!(device.exists("/var/lib/edgeprep/confirm/reverting"), "left for the next run");
    assert_eq!(audit(&device).pop().unwrap()["result"], "revert failed");
    device.edgeprep(&["confirm"]).assert().code(1).stdout(predicate::str::contains("being reverted"));
}

#[test]
fn a_hung_health_probe_does_not_hold_up_the_revert() {
    let device = device();
    let before = device.device_snapshot();
    let sleep =
        ["/bin/sleep", "/usr/bin/sleep"].into_iter().find(|p| std::path::Path::new(p).exists()).unwrap();
    std::os::unix::fs::symlink(sleep, device.bin().join("sleep")).unwrap();
    device.fake("systemctl", "case \"$1\" in is-active) sleep 40;; esac");
    let start = Instant::now();
    let (code, stdout, _) = finish(spawn_apply(&device, "1.5", &[]));
    assert!(start.elapsed() < Duration::from_secs(35), "the revert waited for the hung probe");
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(device.device_snapshot(), before);
}

#[test]
fn a_hang_up_does_not_end_the_wait_and_confirm_still_keeps() {
    let device = device();
    let mut child = spawn_apply(&device, "60", &[]);
    wait_for_pending(&device, &mut child);
    signal(&child, rustix::process::Signal::HUP);
    std::thread::sleep(Duration::from_millis(700));
    assert!(child.try_wait().unwrap().is_none(), "SIGHUP ended the wait");
    assert!(device.exists(PENDING), "SIGHUP decided something");
    device.edgeprep(&["confirm"]).assert().success();
    let (code, stdout, stderr) = finish(child);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("Kept: the changes stay"), "{stdout}");
    assert!(device.read("/etc/docker/daemon.json").contains("10.0.0.2"));
}

#[test]
fn after_a_hang_up_the_deadline_still_reverts() {
    let device = device();
    let before = device.device_snapshot();
    let mut child = spawn_apply(&device, "2", &[]);
    wait_for_pending(&device, &mut child);
    signal(&child, rustix::process::Signal::HUP);
    let (code, stdout, _) = finish(child);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("Not confirmed in time: reverting."), "{stdout}");
    assert!(stdout.contains("REVERTED"), "{stdout}");
    assert_eq!(device.device_snapshot(), before);
}

#[test]
fn ctrl_c_during_the_wait_reverts_at_once() {
    let device = device();
    let before = device.device_snapshot();
    let mut child = spawn_apply(&device, "60", &["--json"]);
    wait_for_pending(&device, &mut child);
    let start = Instant::now();
    signal(&child, rustix::process::Signal::INT);
    let (code, stdout, _) = finish(child);
    assert!(start.elapsed() < Duration::from_secs(30), "did not revert at once");
    assert_eq!(code, 1, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["confirmation"], "reverted-after-interrupt");
    assert_eq!(device.device_snapshot(), before);
    assert_eq!(audit(&device).pop().unwrap()["result"], "reverted after an interruption");
}

/// An apply waiting for confirmation, then killed with SIGKILL (and reaped).
fn killed_while_waiting(device: &Device) {
    let mut child = spawn_apply(device, "60", &[]);
    wait_for_pending(device, &mut child);
    signal(&child, rustix::process::Signal::KILL);
    child.wait().unwrap();
    assert!(device.exists(PENDING), "the record stays after SIGKILL");
}

#[test]
fn after_a_kill_plan_reports_the_unconfirmed_apply_and_the_boot_command_reverts_it() {
    let device = device();
    let before = device.device_snapshot();
    killed_while_waiting(&device);
    let answers = device.answers(ANSWERS);
    device
        .edgeprep(&["plan", "--answers", answers.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("UNCONFIRMED").and(predicate::str::contains("never confirmed")));
    let plan = device.edgeprep(&["plan", "--json", "--answers", answers.to_str().unwrap()]).output().unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(plan["unconfirmed"]["status"], "abandoned");

    device
        .edgeprep(&["confirm", "--revert-unconfirmed"])
        .assert()
        .success()
        .stdout(predicate::str::contains("REVERTED the unconfirmed changes"));
    assert_eq!(device.device_snapshot(), before);
    assert_eq!(audit(&device).pop().unwrap()["result"], "reverted: never confirmed (edgeprep was stopped)");
    // Run again (the next boot): nothing left.
    device
        .edgeprep(&["confirm", "--revert-unconfirmed"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Nothing is left unconfirmed"));
}

#[test]
fn after_a_kill_the_next_rollback_reverts_the_unconfirmed_apply() {
    let device = device();
    let before = device.device_snapshot();
    killed_while_waiting(&device);
    device
        .edgeprep(&["rollback", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("never confirmed"));
    assert_eq!(device.device_snapshot(), before);
    // The revert was the rollback: the list shows the apply rolled back once.
    device.edgeprep(&["confirm"]).assert().code(1).stdout(predicate::str::contains("Too late"));
}

#[test]
fn after_a_kill_the_next_apply_reverts_first_then_applies() {
    let device = device();
    killed_while_waiting(&device);
    let applied = commands(&device).len();
    let answers = device.answers(ANSWERS);
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success().stdout(
        predicate::str::contains("REVERTED the unconfirmed changes").and(predicate::str::contains("Done.")),
    );
    let results: Vec<String> =
        audit(&device).iter().map(|e| e["result"].as_str().unwrap().to_string()).collect();
    assert!(results.contains(&"reverted: never confirmed (edgeprep was stopped)".to_string()), "{results:?}");
    assert_eq!(results.last().unwrap(), "applied");
    let calls = commands(&device);
    assert!(calls.len() > applied + 2, "the revert and the new apply both ran commands: {calls:?}");
    assert!(device.read("/etc/docker/daemon.json").contains("10.0.0.2"));
}

#[test]
fn after_a_kill_the_next_apply_json_names_the_apply_it_reverted() {
    let device = device();
    killed_while_waiting(&device);
    let answers = device.answers(ANSWERS);
    let out = device
        .edgeprep(&["apply", "--yes", "--json", "--answers", answers.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reverted = json["reverted_unconfirmed"].as_str().expect("reverted_unconfirmed");
    assert_ne!(Some(reverted), json["backup"].as_str());
    let confirm_line = audit(&device)
        .into_iter()
        .find(|e| e["action"] == "confirm")
        .expect("a confirm line in the audit log");
    assert_eq!(confirm_line["backup"].as_str(), Some(reverted));
}

#[test]
fn a_second_apply_is_refused_while_one_waits() {
    let device = device();
    let mut child = spawn_apply(&device, "60", &[]);
    wait_for_pending(&device, &mut child);
    let answers = device.answers(ANSWERS);
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("waits for confirmation"));
    device.edgeprep(&["confirm"]).assert().success();
    assert_eq!(finish(child).0, 0);
}

#[test]
fn confirm_with_nothing_waiting_exits_2() {
    let device = device();
    device.edgeprep(&["confirm"]).assert().code(2).stderr(predicate::str::contains("nothing waits"));
}

#[test]
fn confirm_seconds_out_of_bounds_are_refused_before_anything_changes() {
    let device = device();
    let before = device.snapshot();
    let answers = device.answers(ANSWERS);
    for seconds in ["0", "9", "3601", "soon"] {
        device
            .edgeprep(&["apply", "--yes", "--confirm", seconds, "--answers", answers.to_str().unwrap()])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--confirm"));
    }
    assert_eq!(device.snapshot(), before);
    assert!(device.calls().is_empty());
}
