//! edgeprep's own state directories under `--root` are not followed through a link: an image
//! whose `var/lib/edgeprep` points at another tree (the host's `/var/lib/edgeprep`, say) must
//! not get its backup sets written there, nor have that tree's sets listed or restored.

mod common;

use common::Device;

fn device_with_linked_state_dir() -> (Device, tempfile::TempDir) {
    let device = Device::new();
    device.write("/etc/aziot/config.toml", common::provisioned_config("edge-gw-01"));
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(device.path("/var/lib")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), device.path("/var/lib/edgeprep")).unwrap();
    (device, elsewhere)
}

#[test]
fn an_apply_under_a_linked_state_directory_is_refused_and_writes_nothing_there() {
    let (device, elsewhere) = device_with_linked_state_dir();
    let before = device.read("/etc/aziot/config.toml");
    let answers = device.answers("[upstream]\nprotocol = \"AmqpWs\"\n");
    let output =
        device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/var/lib/edgeprep") && stderr.contains("not a symlink"), "{stderr}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "nothing written through the link");
    assert_eq!(device.read("/etc/aziot/config.toml"), before, "the device is unchanged");
    assert!(device.calls().is_empty(), "no command ran: {:?}", device.calls());
}

#[test]
fn rollback_list_under_a_linked_state_directory_is_refused() {
    let (device, elsewhere) = device_with_linked_state_dir();
    std::fs::create_dir_all(elsewhere.path().join("backups/20260101T000000Z")).unwrap();
    let output = device.edgeprep(&["rollback", "--list"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a symlink"), "{stderr}");
}
