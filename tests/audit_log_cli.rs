//! The audit log through the CLI: it is opened before anything changes, never through a
//! symlink, and a failure to write it after a successful apply is a warning, not a failure.

mod common;

use common::{Device, template_text};
use predicates::prelude::*;

const ANSWERS: &str = "[dns]\nservers = [\"10.0.0.2\"]\n";

fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/docker/daemon.json", "{}\n");
    device
}

#[test]
fn a_symlink_at_the_audit_log_refuses_the_apply_and_leaves_the_target_untouched() {
    let device = device();
    let target = device.dir.path().join("sudoers");
    std::fs::write(&target, "root ALL=(ALL) ALL\n").unwrap();
    std::fs::create_dir_all(device.path("/var/log")).unwrap();
    std::os::unix::fs::symlink(&target, device.path("/var/log/edgeprep.log")).unwrap();
    let answers = device.answers(ANSWERS);
    let before = device.device_snapshot();
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("edgeprep.log"))
        .stderr(predicate::str::contains("symlink"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "root ALL=(ALL) ALL\n");
    assert_eq!(device.device_snapshot(), before, "nothing changed");
    assert!(!device.exists("/var/lib/edgeprep/backups"), "no backup set was made");
    assert!(device.calls().is_empty());
    device.edgeprep(&["rollback", "--yes"]).assert().code(2);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "root ALL=(ALL) ALL\n");
}

#[test]
fn an_audit_log_that_fills_up_after_a_successful_apply_is_a_warning_with_exit_0() {
    let device = device();
    // The log is already at the file size limit the apply runs under, so opening it works
    // but appending fails (EFBIG; SIGXFSZ is ignored).
    let limit_kib = 64;
    let line = "{\"note\":\"filler\"}\n";
    let filler = line.repeat(limit_kib * 1024 / line.len() + 1);
    device.write("/var/log/edgeprep.log", &filler[..limit_kib * 1024]);
    let answers = device.answers(ANSWERS);
    let edgeprep = assert_cmd::cargo::cargo_bin("edgeprep");
    let script = format!(
        "trap '' XFSZ; ulimit -f {}; exec '{}' --root '{}' --run-commands apply --yes --json --answers '{}'",
        limit_kib * 2, // dash counts 512-byte blocks
        edgeprep.display(),
        device.root().display(),
        answers.display()
    );
    let output =
        assert_cmd::Command::new("/bin/sh").arg("-c").arg(script).env("PATH", device.bin()).assert().code(0);
    let value: serde_json::Value = serde_json::from_slice(&output.get_output().stdout).unwrap();
    assert_eq!(value["changed"], true);
    let warnings = value["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{value}");
    assert!(warnings[0].as_str().unwrap().contains("audit log could not be written"), "{value}");
    assert!(device.read("/etc/docker/daemon.json").contains("10.0.0.2"), "the apply stands");
    assert_eq!(device.calls(), ["systemctl restart docker"]);
}
