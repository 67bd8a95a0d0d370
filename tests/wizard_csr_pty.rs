//! The real binary's plain wizard in a pty, on a temp --root with fake commands: "create a
//! CSR" on the Edge CA step writes the request after the confirmation, changes the device
//! exactly as the answers file alone does, and says the next step.

mod common;

use std::os::unix::fs::MetadataExt as _;
use std::process::Command;
use std::time::Duration;

use common::Device;
use expectrl::{Eof, Expect, Session};

const CONFIG: &str = include_str!("../assets/demo/etc/aziot/config.toml");
const DAEMON: &str = include_str!("../assets/demo/etc/docker/daemon.json");
const ANSWERS: &str = include_str!("../assets/demo/answers.toml");
const KEY: &str = "/var/lib/edgeprep/edge-ca-request/edge-ca.key.pem";
const CSR: &str = "/var/lib/edgeprep/edge-ca-request/edge-ca.csr.pem";

fn demo_device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml", CONFIG);
    device.write("/etc/docker/daemon.json", DAEMON);
    device
}

#[test]
fn plain_csr_writes_the_request_changes_nothing_else_and_says_the_next_step() {
    let device = demo_device();
    let answers = device.answers(ANSWERS);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgeprep"));
    cmd.env("PATH", device.bin()).env("USER", "tester").env_remove("SUDO_USER").env("TERM", "xterm");
    // Over SSH the wizard would keep the changes only if confirmed (and wait for it).
    cmd.env_remove("SSH_CONNECTION");
    cmd.env("EDGEPREP_TEST_ROOT", device.root()).env_remove("NO_COLOR");
    cmd.arg("--root").arg(device.root()).arg("--run-commands");
    cmd.args(["--plain", "--answers", answers.to_str().unwrap()]);
    let mut session = Session::spawn(cmd).expect("spawning edgeprep in a pty");
    session.get_process_mut().set_window_size(80, 24).unwrap();
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    let down = "\x1b[B";

    session.expect("What to do?").unwrap();
    session.send("\r").unwrap();
    session.expect("Edge CA:").unwrap();
    session.send(format!("{down}\r")).unwrap(); // set it now
    session.expect("Source:").unwrap();
    session.send(format!("{down}\r")).unwrap(); // generate here → create a CSR
    session.expect("Common name:").unwrap();
    session.send("\r").unwrap(); // the recommended name
    // The steps the file leaves out are asked too; Enter keeps the device as it is.
    for step in ["Agent storage:", "Privileges:"] {
        session.expect(step).unwrap();
        session.send("\r").unwrap();
    }
    session.expect("certificate request (common name \"edgeprep Edge CA\")").unwrap();
    assert!(!device.exists(KEY), "nothing is written before the confirmation");
    session.expect("Apply these changes?").unwrap();
    session.send("\r").unwrap();
    session.expect("Done.").unwrap();
    session.expect("Certificate request written").unwrap();
    session.expect("edgeprep apply --answers FILE").unwrap();
    session.expect(Eof).unwrap();
    let status = format!("{:?}", session.get_process().wait().unwrap());
    assert!(status.contains(", 0)"), "{status}");

    assert_eq!(std::fs::metadata(device.path(KEY)).unwrap().mode() & 0o777, 0o600);
    assert!(device.read(CSR).contains("BEGIN CERTIFICATE REQUEST"));
    let cli = demo_device();
    let file = cli.answers(ANSWERS);
    cli.edgeprep(&["apply", "--answers", file.to_str().unwrap(), "--yes"]).assert().success();
    assert_eq!(device.device_snapshot(), cli.device_snapshot(), "the Edge CA stays as it is");
}
