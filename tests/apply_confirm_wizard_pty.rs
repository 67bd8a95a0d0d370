//! The wizard over SSH (SSH_CONNECTION set) in a pty, full screen and plain: the apply waits
//! for its confirmation with the countdown, and Enter keeps the changes.

mod common;

use std::process::Command;
use std::time::Duration;

use common::Device;
use expectrl::session::OsSession;
use expectrl::{Eof, Expect, Session};

const CONFIG: &str = include_str!("../assets/demo/etc/aziot/config.toml");
const DAEMON: &str = include_str!("../assets/demo/etc/docker/daemon.json");
const ANSWERS: &str = include_str!("../assets/demo/answers.toml");

fn demo_device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml", CONFIG);
    device.write("/etc/docker/daemon.json", DAEMON);
    device
}

fn over_ssh(device: &Device, args: &[&str]) -> OsSession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgeprep"));
    cmd.env("PATH", device.bin())
        .env("USER", "tester")
        .env_remove("SUDO_USER")
        .env("TERM", "xterm")
        .env("SSH_CONNECTION", "10.0.0.9 50000 10.0.0.2 22")
        .env("EDGEPREP_TEST_ROOT", device.root())
        .env_remove("NO_COLOR");
    cmd.arg("--root").arg(device.root()).arg("--run-commands").args(args);
    let mut session = Session::spawn(cmd).expect("spawning edgeprep in a pty");
    session.get_process_mut().set_window_size(80, 24).expect("setting the pty size");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session
}

/// Until the wait has asked the device's health once (through the fakes).
fn wait_for_health(device: &Device) {
    let start = std::time::Instant::now();
    while !device.calls().iter().any(|c| c == "docker inspect -f {{.State.Running}} edgeAgent") {
        assert!(start.elapsed() < Duration::from_secs(30), "health never polled: {:?}", device.calls());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_kept(device: &Device, session: &OsSession) {
    let status = format!("{:?}", session.get_process().wait().expect("waiting for edgeprep"));
    assert!(status.ends_with(", 0)"), "{status}");
    assert!(device.exists("/var/lib/edgeprep/confirm/confirmed"));
    assert_ne!(device.read("/etc/docker/daemon.json"), DAEMON, "the changes stay");
    let log = device.read("/var/log/edgeprep.log");
    let last: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!((last["action"].as_str(), last["result"].as_str()), (Some("confirm"), Some("kept")));
}

#[test]
fn over_ssh_the_full_screen_wizard_waits_for_enter_and_keeps_the_changes() {
    let device = demo_device();
    let answers = device.answers(ANSWERS);
    let mut session = over_ssh(&device, &["--answers", answers.to_str().unwrap()]);
    session.expect("What to do:").unwrap();
    // Overview, nine steps, Review and its confirmation: then the apply runs and waits.
    for _ in 0..12 {
        session.send("\r").unwrap();
    }
    session.expect("Enter keeps them").unwrap();
    assert!(device.exists("/var/lib/edgeprep/confirm/pending"), "the apply waits for its confirmation");
    wait_for_health(&device);
    // Enter keeps; Enter on Done leaves.
    session.send("\r").unwrap();
    session.send("\r").unwrap();
    session.expect("Kept: the changes stay").unwrap();
    session.expect(Eof).unwrap();
    assert_kept(&device, &session);
}

#[test]
fn over_ssh_the_plain_wizard_asks_then_waits_for_enter_and_keeps_the_changes() {
    let device = demo_device();
    let answers = device.answers(ANSWERS);
    let mut session = over_ssh(&device, &["--plain", "--answers", answers.to_str().unwrap()]);
    session.expect("What to do?").unwrap();
    session.send("\r").unwrap();
    for step in ["Edge CA:", "Agent storage:", "Privileges:"] {
        session.expect(step).unwrap();
        session.send("\r").unwrap();
    }
    session.expect("Apply these changes?").unwrap();
    session.send("\r").unwrap();
    session.expect("Keep them only if confirmed within 120 s").unwrap();
    session.send("\r").unwrap();
    session.expect("Press Enter here, or run `sudo edgeprep confirm`").unwrap();
    session.expect("s left to confirm").unwrap();
    wait_for_health(&device);
    session.send("\r").unwrap();
    session.expect("Kept: the changes stay").unwrap();
    session.expect("Done.").unwrap();
    session.expect(Eof).unwrap();
    assert_kept(&device, &session);
}
