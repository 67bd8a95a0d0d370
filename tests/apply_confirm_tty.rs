//! `apply --confirm` at a real terminal (a pty): the countdown with the device's health is
//! shown, and Enter keeps the changes.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Device, provisioned_config, template_text};
use expectrl::{Eof, Expect, Session};

#[test]
fn enter_at_the_terminal_keeps_the_changes() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/aziot/config.toml", provisioned_config("old"));
    device.write("/etc/docker/daemon.json", "{}\n");
    // The fake docker says edgeAgent runs, as it would once the restarted services are up.
    device.fake("docker", "case \"$1\" in inspect) echo true;; esac");
    let answers = device.answers("hostname = \"edge-01\"\n[dns]\nservers = [\"10.0.0.2\"]\n");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgeprep"));
    cmd.env("PATH", device.bin())
        .env("USER", "tester")
        .env("TERM", "dumb")
        .env("EDGEPREP_TEST_ROOT", device.root())
        .env("EDGEPREP_TEST_CONFIRM_SECONDS", "60");
    cmd.arg("--root").arg(device.root()).arg("--run-commands");
    cmd.args(["apply", "--yes", "--confirm", "60", "--answers", answers.to_str().unwrap()]);
    let mut session = Session::spawn(cmd).expect("spawning edgeprep in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session.expect("press Enter here, or run `sudo edgeprep confirm`").unwrap();
    session.expect("s left to confirm").unwrap();
    session.expect("aziot-edged active, docker active, edgeAgent running").unwrap();
    session.send_line("").unwrap();
    session.expect("Kept: the changes stay").unwrap();
    session.expect(Eof).unwrap();
    let status = format!("{:?}", session.get_process().wait().expect("waiting for edgeprep"));
    assert!(status.ends_with(", 0)"), "kept exits 0: {status}");
    assert!(device.read("/etc/docker/daemon.json").contains("10.0.0.2"));
    let log = device.read("/var/log/edgeprep.log");
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!((last["action"].as_str(), last["result"].as_str()), (Some("confirm"), Some("kept")));
}

#[test]
fn an_enter_typed_before_the_countdown_does_not_confirm() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/aziot/config.toml", provisioned_config("old"));
    device.write("/etc/docker/daemon.json", "{}\n");
    let answers = device.answers("hostname = \"edge-01\"\n[dns]\nservers = [\"10.0.0.2\"]\n");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgeprep"));
    cmd.env("PATH", device.bin())
        .env("USER", "tester")
        .env("TERM", "dumb")
        .env("EDGEPREP_TEST_ROOT", device.root())
        .env("EDGEPREP_TEST_CONFIRM_SECONDS", "60");
    cmd.arg("--root").arg(device.root()).arg("--run-commands");
    cmd.args(["apply", "--confirm", "60", "--answers", answers.to_str().unwrap()]);
    let mut session = Session::spawn(cmd).expect("spawning edgeprep in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session.expect("Apply these changes? [y/N]").unwrap();
    // "y", then an Enter too many, typed ahead while the commands run.
    session.send("y\n\n").unwrap();
    session.expect("s left to confirm").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(device.exists("/var/lib/edgeprep/confirm/pending"), "the Enter typed ahead confirmed");
    session.send_line("").unwrap();
    session.expect("Kept: the changes stay").unwrap();
    session.expect(Eof).unwrap();
}
