//! Backup manifests are checked before use: a tampered one (a `..` path out of the root, a
//! setuid mode) is listed as damaged, refused, and does not block rolling back another set.

mod common;

use common::Device;
use predicates::prelude::*;

#[test]
fn a_manifest_escaping_the_root_with_a_setuid_file_is_refused_and_others_still_work() {
    let device = Device::new();
    device.write("/etc/docker/daemon.json", "{}\n");
    let first = device.answers("[dns]\nservers = [\"10.0.0.2\"]\n");
    device.edgeprep(&["apply", "--yes", "--answers", first.to_str().unwrap()]).assert().success();
    let second = device.answers("[dns]\nservers = [\"10.0.0.3\"]\n");
    device.edgeprep(&["apply", "--yes", "--answers", second.to_str().unwrap()]).assert().success();

    let list = device.edgeprep(&["rollback", "--list", "--json"]).assert().success();
    let value: serde_json::Value = serde_json::from_slice(&list.get_output().stdout).unwrap();
    let newest = value["sets"][1]["id"].as_str().unwrap().to_string();
    let manifest = device.path(&format!("/var/lib/edgeprep/backups/{newest}/manifest.json"));
    // Three levels up from <root>/etc/docker is the test's temp dir, outside the root.
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("\"/etc/docker/daemon.json\"", "\"/etc/docker/../../../evil\"")
        .replace("\"0644\"", "\"4755\"");
    std::fs::write(&manifest, text).unwrap();
    let evil = device.dir.path().join("evil");

    device
        .edgeprep(&["rollback", "--list"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("{newest}  DAMAGED")))
        .stdout(predicate::str::contains("apply, completed"));
    device
        .edgeprep(&["rollback", "--yes", &newest])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("damaged"));
    assert!(!evil.exists(), "the tampered manifest wrote outside the root");
    assert!(device.read("/etc/docker/daemon.json").contains("10.0.0.3"));

    // The other set rolls back as usual.
    device.edgeprep(&["rollback", "--yes"]).assert().success();
    assert_eq!(device.read("/etc/docker/daemon.json"), "{}\n");
    assert!(!evil.exists());
}
