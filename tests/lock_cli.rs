//! The device lock through the CLI: while another process holds `/run/edgeprep/lock`, apply
//! (even one with nothing to do) and rollback refuse with exit 2 and change nothing; the lock
//! directory must be a real directory of ours.

mod common;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use common::{Device, template_text};
use predicates::prelude::*;
use rustix::fs::{FlockOperation, flock};

const ANSWERS: &str = "[dns]\nservers = [\"10.0.0.2\"]\n";

fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/docker/daemon.json", "{}\n");
    device
}

/// Hold the lock as another edgeprep would.
fn hold_lock(device: &Device) -> File {
    let dir = device.path("/run/edgeprep");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join("lock"))
        .unwrap();
    flock(&file, FlockOperation::NonBlockingLockExclusive).unwrap();
    file
}

#[test]
fn apply_and_rollback_refuse_while_another_edgeprep_holds_the_lock() {
    let device = device();
    let answers = device.answers(ANSWERS);
    let answers = answers.to_str().unwrap();
    device.edgeprep(&["apply", "--yes", "--answers", answers]).assert().success();
    let calls = device.calls().len();
    std::fs::write(device.dir.path().join("answers2.toml"), "[dns]\nservers = [\"10.0.0.3\"]\n").unwrap();
    let other = device.dir.path().join("answers2.toml");

    let lock = hold_lock(&device);
    let before = device.snapshot();
    for args in [
        vec!["apply", "--yes", "--answers", other.to_str().unwrap()],
        // Nothing to do must not report success while another apply runs.
        vec!["apply", "--yes", "--answers", answers],
        vec!["rollback", "--yes"],
    ] {
        device
            .edgeprep(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("another edgeprep is changing this device"))
            .stderr(predicate::str::contains("/run/edgeprep/lock"));
    }
    assert_eq!(device.snapshot(), before, "nothing changed, not even the audit log");
    assert_eq!(device.calls().len(), calls, "no command ran");

    drop(lock);
    device.edgeprep(&["rollback", "--yes"]).assert().success();
}

#[test]
fn a_symlinked_lock_directory_is_refused_and_its_target_untouched() {
    let device = device();
    let before = device.device_snapshot();
    let elsewhere = device.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::create_dir_all(device.path("/run")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, device.path("/run/edgeprep")).unwrap();
    let answers = device.answers(ANSWERS);
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/run/edgeprep is a symlink"));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    // (The snapshot would follow the symlink; take it away first.)
    std::fs::remove_file(device.path("/run/edgeprep")).unwrap();
    assert_eq!(device.device_snapshot(), before);
    assert!(device.calls().is_empty());
}
