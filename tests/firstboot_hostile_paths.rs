//! `edgeprep firstboot` against a hostile boot partition: a symlink (at the answers file, at
//! a file it names, or at a directory on the way to one), a FIFO, or a `..` must never make
//! firstboot read, copy or delete a file outside the boot partition, and the `.failed` note is
//! root-only and never written through something already there.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};

use common::{Device, provisioned_config, template_text};

const BOOT: &str = "/boot/firmware";
/// A file of another account that a link on the boot partition points at.
const VICTIM: &str = "/home/alice/notes.txt";
const VICTIM_TEXT: &str = "alice-private-line\n";

/// A device with our template, and another account's file.
fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/docker/daemon.json", "{\n    \"storage-driver\": \"overlay2\"\n}\n");
    device.write(VICTIM, VICTIM_TEXT);
    device
}

/// Answers whose registry password file is `password_file` (as written, relative to the
/// answers file's directory).
fn answers(password_file: &str) -> String {
    format!(
        "hostname = \"edge-01\"\n\n[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=contoso.azure-devices.net;DeviceId=edge-01;SharedAccessKey=c2VjcmV0\"\n\n[agent]\nimage = \"contoso.azurecr.io/azureiotedge-agent:1.4.43\"\n\n[agent.auth]\nserver = \"contoso.azurecr.io\"\nusername = \"edge-pull\"\npassword_file = \"{password_file}\"\n"
    )
}

fn run(device: &Device) -> (i32, String) {
    let output = device.edgeprep(&["firstboot"]).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    )
}

/// Nothing of the victim reached the device's config or firstboot's copies, and it is still there.
fn assert_victim_untouched(device: &Device, output: &str) {
    assert!(device.exists(VICTIM), "firstboot deleted {VICTIM}:\n{output}");
    assert_eq!(device.read(VICTIM), VICTIM_TEXT);
    if device.exists("/etc/aziot/config.toml") {
        let config = device.read("/etc/aziot/config.toml");
        assert!(!config.contains("alice-private-line"), "{VICTIM} was read into config.toml:\n{config}");
    }
    assert!(!output.contains("alice-private-line"), "{output}");
    let copies = device.path("/var/lib/edgeprep/firstboot");
    if let Ok(entries) = std::fs::read_dir(&copies) {
        for entry in entries {
            let text = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!String::from_utf8_lossy(&text).contains("alice-private-line"), "{VICTIM} was copied");
        }
    }
}

#[test]
fn a_password_file_reached_through_a_linked_directory_is_neither_read_nor_deleted() {
    let device = device();
    device.write(&format!("{BOOT}/edgeprep.toml"), answers("secrets/notes.txt"));
    symlink("/home/alice", device.path(&format!("{BOOT}/secrets"))).unwrap();

    let (code, output) = run(&device);
    assert_victim_untouched(&device, &output);
    assert_eq!(code, 2, "{output}");
    let note = device.read(&format!("{BOOT}/edgeprep.toml.failed"));
    assert!(note.contains("symbolic link"), "the note does not say why:\n{note}");
    assert!(device.exists(&format!("{BOOT}/edgeprep.toml")));
}

#[test]
fn a_password_file_that_is_a_symlink_is_not_followed() {
    let device = device();
    device.write(&format!("{BOOT}/edgeprep.toml"), answers("registry-password.txt"));
    symlink(VICTIM, device.path(&format!("{BOOT}/registry-password.txt"))).unwrap();

    let (code, output) = run(&device);
    assert_victim_untouched(&device, &output);
    assert_eq!(code, 2, "{output}");
    assert!(device.read(&format!("{BOOT}/edgeprep.toml.failed")).contains("symbolic link"));
}

#[test]
fn an_answers_file_that_is_a_symlink_is_not_followed() {
    let device = device();
    device.write("/etc/aziot/config.toml", provisioned_config("bench-01"));
    device.write("/home/alice/answers.toml", "hostname = \"alice-box\"\n");
    device.write(&format!("{BOOT}/keep"), "");
    symlink("/home/alice/answers.toml", device.path(&format!("{BOOT}/edgeprep.toml"))).unwrap();

    let (code, output) = run(&device);
    let config = device.read("/etc/aziot/config.toml");
    assert!(!config.contains("alice-box"), "a linked answers file was applied:\n{output}");
    assert_eq!(code, 2, "{output}");
    assert!(device.exists("/home/alice/answers.toml"));
    let note = device.read(&format!("{BOOT}/edgeprep.toml.failed"));
    assert!(note.contains("symbolic link"), "{note}");
}

#[test]
fn a_dot_dot_path_off_the_boot_partition_is_never_deleted() {
    let device = device();
    // Named by `..`, the file is a device path off the boot partition: the apply reads it as
    // `apply --answers` would, and firstboot neither copies nor removes it.
    device.write(&format!("{BOOT}/edgeprep.toml"), answers("../../home/alice/notes.txt"));
    let (code, output) = run(&device);
    assert_eq!(code, 0, "{output}");
    assert!(device.exists(VICTIM), "firstboot deleted a file off the boot partition:\n{output}");
    assert!(!device.exists(&format!("{BOOT}/edgeprep.toml")));
    assert!(!device.exists("/var/lib/edgeprep/firstboot/notes.txt"));
}

#[test]
fn a_fifo_named_as_the_password_file_is_refused_without_hanging() {
    let device = device();
    device.write(&format!("{BOOT}/edgeprep.toml"), answers("registry-password.txt"));
    let fifo = device.path(&format!("{BOOT}/registry-password.txt"));
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();

    let (code, output) = run(&device);
    assert_eq!(code, 2, "{output}");
    assert!(device.read(&format!("{BOOT}/edgeprep.toml.failed")).contains("FIFO"), "{output}");
}

#[test]
fn the_failed_note_is_readable_by_root_only() {
    let device = device();
    device.write(&format!("{BOOT}/edgeprep.toml"), "hostname = \"edge_01!\"\n");
    let (code, output) = run(&device);
    assert_eq!(code, 2, "{output}");
    let note = device.path(&format!("{BOOT}/edgeprep.toml.failed"));
    let mode = std::fs::metadata(&note).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the note quotes the answers file and must not be world-readable");
}

#[test]
fn a_link_planted_among_the_copies_is_replaced_not_written_through() {
    let device = device();
    device.write("/etc/aziot/config.toml", provisioned_config("bench-01"));
    device.write(&format!("{BOOT}/edgeprep.toml"), "hostname = \"edge-07\"\n");
    device.write("/etc/shadow", "root:hash:1:0:99999:7:::\n");
    std::fs::create_dir_all(device.path("/var/lib/edgeprep/firstboot")).unwrap();
    symlink("/etc/shadow", device.path("/var/lib/edgeprep/firstboot/answers.toml")).unwrap();

    let (code, output) = run(&device);
    assert_eq!(
        device.read("/etc/shadow"),
        "root:hash:1:0:99999:7:::\n",
        "written through the link:\n{output}"
    );
    assert_eq!(code, 0, "{output}");
    assert!(device.read("/etc/aziot/config.toml").contains("hostname = \"edge-07\""));
}

#[test]
fn a_copy_directory_another_account_owns_is_refused() {
    let device = device();
    device.write("/etc/aziot/config.toml", provisioned_config("bench-01"));
    device.write(&format!("{BOOT}/edgeprep.toml"), answers("registry-password.txt"));
    device.write(&format!("{BOOT}/registry-password.txt"), "Pa55\n");
    let dir = device.path("/var/lib/edgeprep/firstboot");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(1000), Some(1000)).unwrap();

    let (code, output) = run(&device);
    assert_ne!(code, 0, "{output}");
    assert!(output.contains("uid 1000"), "the refusal does not say who owns it:\n{output}");
    assert!(
        !device.read("/etc/aziot/config.toml").contains("hostname = \"edge-01\""),
        "applied anyway:\n{output}"
    );
    assert!(!dir.join("registry-password.txt").exists(), "a secret was copied into it");
}

#[test]
fn files_whose_copies_would_share_a_name_are_refused() {
    let device = device();
    device.write("/etc/aziot/config.toml", provisioned_config("bench-01"));
    // Named like the answers' copy: the password would silently be the answers' first line.
    device.write(&format!("{BOOT}/edgeprep.toml"), answers("answers.toml"));
    device.write(&format!("{BOOT}/answers.toml"), "Pa55-word\n");
    let (code, output) = run(&device);
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("rename the file"), "{output}");
    assert!(!device.read("/etc/aziot/config.toml").contains("hostname = \"edge-01\""), "applied anyway");
}
