//! `apply --confirm` and `edgeprep confirm` against a hostile record directory and a nonsense
//! test wait, through the real binary.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Device, provisioned_config, template_text};
use predicates::prelude::*;

const ANSWERS: &str = "hostname = \"edge-01\"\n[dns]\nservers = [\"10.0.0.2\"]\n";
const PENDING: &str = "/var/lib/edgeprep/confirm/pending";

fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/aziot/config.toml", provisioned_config("old"));
    device.write("/etc/docker/daemon.json", "{\"log-driver\": \"local\"}\n");
    device
}

/// A record whose waiter (this test process) is alive, so `edgeprep confirm` would keep it.
fn live_record(backup: &str) -> String {
    format!(
        "{{\"backup\":\"{backup}\",\"user\":\"tech\",\"deadline\":\"2026-01-01T00:00:00Z\",\"seconds\":60,\"boot_id\":null,\"pid\":{},\"pid_start\":null}}",
        std::process::id()
    )
}

#[test]
fn confirm_under_a_root_whose_record_directory_links_elsewhere_refuses_and_decides_nothing() {
    // Another device's (or the host's) state, and an image linking its own state to it.
    let other = Device::new();
    other.write(PENDING, live_record("OTHER"));
    let image = device();
    std::fs::create_dir_all(image.root().join("var/lib")).unwrap();
    std::os::unix::fs::symlink(other.root().join("var/lib/edgeprep"), image.root().join("var/lib/edgeprep"))
        .unwrap();
    image
        .edgeprep(&["confirm"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a symlink").and(predicate::str::contains("Remove it")));
    assert!(other.exists(PENDING), "the other record must stay pending");
    assert!(!other.exists("/var/lib/edgeprep/confirm/confirmed"));
    // Nor does an apply there touch it, or change the image.
    let before = (image.read("/etc/aziot/config.toml"), image.read("/etc/docker/daemon.json"));
    let answers = image.answers(ANSWERS);
    image
        .edgeprep(&["apply", "--yes", "--confirm", "10", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(2);
    assert_eq!(
        (image.read("/etc/aziot/config.toml"), image.read("/etc/docker/daemon.json")),
        before,
        "nothing is applied before the record can be kept"
    );
    assert!(other.exists(PENDING));
}

#[test]
fn a_nonsense_test_wait_is_ignored_instead_of_panicking() {
    let device = device();
    let answers = device.answers(ANSWERS);
    let mut child = Command::new(env!("CARGO_BIN_EXE_edgeprep"))
        .env("PATH", device.bin())
        .env_remove("SUDO_USER")
        .env("USER", "tester")
        .env("EDGEPREP_TEST_ROOT", device.root())
        .env("EDGEPREP_TEST_CONFIRM_SECONDS", "-1")
        .arg("--root")
        .arg(device.root())
        .arg("--run-commands")
        .args(["apply", "--yes", "--confirm", "10", "--answers", answers.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !device.exists(PENDING) {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!("apply ended ({status}) before it waited: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(start.elapsed() < Duration::from_secs(60), "apply never started waiting");
        std::thread::sleep(Duration::from_millis(50));
    }
    device.edgeprep(&["confirm"]).assert().success().stdout(predicate::str::contains("Kept"));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
