//! `apply` and `rollback` at a real terminal (a pty): the plan is shown and a person answers.

mod common;

use std::process::Command;
use std::time::Duration;

use common::Device;
use expectrl::session::OsSession;
use expectrl::{Eof, Expect, Session};

fn at_terminal(device: &Device, args: &[&str]) -> OsSession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgeprep"));
    cmd.env("PATH", device.bin())
        .env("USER", "tester")
        .env("TERM", "dumb")
        .env("EDGEPREP_TEST_ROOT", device.root());
    cmd.arg("--root").arg(device.root()).arg("--run-commands").args(args);
    let mut session = Session::spawn(cmd).expect("spawning edgeprep in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session
}

#[test]
fn apply_at_a_terminal_shows_the_plan_and_no_changes_nothing() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml", common::provisioned_config("old"));
    let answers = device.answers("hostname = \"edge-01\"\n");
    let before = device.snapshot();
    let mut session = at_terminal(&device, &["apply", "--answers", answers.to_str().unwrap()]);
    session.expect("+hostname = \"edge-01\"").unwrap();
    session.expect("Apply these changes? [y/N]").unwrap();
    session.send_line("n").unwrap();
    session.expect("Nothing was changed.").unwrap();
    session.expect(Eof).unwrap();
    assert_eq!(device.snapshot(), before);
    assert!(device.calls().is_empty());
}

#[test]
fn apply_at_a_terminal_applies_after_yes() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml", common::provisioned_config("old"));
    let answers = device.answers("hostname = \"edge-01\"\n");
    let mut session = at_terminal(&device, &["apply", "--answers", answers.to_str().unwrap()]);
    session.expect("Apply these changes? [y/N]").unwrap();
    session.send_line("y").unwrap();
    session.expect("Done.").unwrap();
    session.expect(Eof).unwrap();
    assert_eq!(device.read("/etc/aziot/config.toml"), common::provisioned_config("edge-01"));
    assert_eq!(device.calls(), ["iotedge config apply -c /etc/aziot/config.toml"]);
}
