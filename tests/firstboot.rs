//! `edgeprep firstboot` on a temporary root with fake iotedge, systemctl and docker: the
//! answers file on the boot partition is applied once, its secrets leave the partition (and
//! their root-only copies go once installed), and a failure leaves the device as it was with
//! a `.failed` note.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Device, provisioned_config, template_text};
use edgeprep::certs::generate::{GenerateOptions, generate_chain};
use edgeprep::cli::KeyType;

const SAS_KEY: &str = "c2VjcmV0LXNhcy1rZXktZm9yLWZpcnN0Ym9vdA==";
const PASSWORD: &str = "Firstboot-Registry-Pa55";
const BOOT: &str = "/boot/firmware";

fn answers() -> String {
    format!(
        r#"# Written by the imaging station for edge-01.
hostname = "edge-01"

[provisioning]
source = "manual"
connection_string = "HostName=contoso.azure-devices.net;DeviceId=edge-01;SharedAccessKey={SAS_KEY}"

[agent]
image = "contoso.azurecr.io/azureiotedge-agent:1.4.43"

[agent.auth]
server = "contoso.azurecr.io"
username = "edge-pull"
password_file = "registry-password.txt" # beside this file

[edge_ca]
cert = "edge-ca.pem"
key = "edge-ca.key.pem"
trust_bundle = "root-ca.pem"
"#
    )
}

/// A device from our template with an answers file, an Edge CA and a password file on the
/// boot partition, as an imaging station leaves them.
fn device_with_boot_files() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/docker/daemon.json", "{\n    \"storage-driver\": \"overlay2\"\n}\n");
    let chain = generate_chain(&GenerateOptions {
        common_name: "contoso edge ca".into(),
        days: 365,
        key_type: KeyType::EcP256,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    device.write(&format!("{BOOT}/edgeprep.toml"), answers());
    device.write(&format!("{BOOT}/edge-ca.pem"), &chain.edge_chain_pem);
    device.write(&format!("{BOOT}/edge-ca.key.pem"), &chain.edge_key_pem);
    device.write(&format!("{BOOT}/root-ca.pem"), &chain.root_cert_pem);
    device.write(&format!("{BOOT}/registry-password.txt"), format!("{PASSWORD}\n"));
    device
}

fn mode(device: &Device, device_path: &str) -> u32 {
    std::fs::metadata(device.path(device_path)).unwrap().permissions().mode() & 0o7777
}

fn run(device: &Device) -> (i32, String, String) {
    let output = device.edgeprep(&["firstboot"]).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn firstboot_applies_once_and_takes_the_secrets_off_the_boot_partition() {
    let device = device_with_boot_files();
    let (code, stdout, stderr) = run(&device);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");

    // The JSON of `apply --json` on stdout (the journal), without secrets.
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    assert_eq!(json["changed"], true, "{stdout}");
    assert!(!stdout.contains(SAS_KEY) && !stdout.contains(PASSWORD), "secret in the JSON:\n{stdout}");
    assert!(!stderr.contains(SAS_KEY) && !stderr.contains(PASSWORD), "secret on stderr:\n{stderr}");

    // Applied: the connection string, registry password and Edge CA reached the device.
    let config = device.read("/etc/aziot/config.toml");
    assert!(config.contains("hostname = \"edge-01\""), "{config}");
    assert!(config.contains(PASSWORD), "registry password from the password file missing:\n{config}");
    assert!(config.contains("file:///var/aziot/secrets/edge-ca.key.pem"), "{config}");
    assert!(device.exists("/var/aziot/secrets/edge-ca.key.pem"));
    let audit = device.read("/var/log/edgeprep.log");
    assert!(audit.contains("\"action\":\"apply\"") && audit.contains("\"result\":\"applied\""), "{audit}");

    // The answers file and the secret files are gone from the boot partition; public
    // certificates may stay.
    for gone in ["edgeprep.toml", "edge-ca.key.pem", "registry-password.txt"] {
        assert!(!device.exists(&format!("{BOOT}/{gone}")), "{gone} still on the boot partition");
    }
    assert!(device.exists(&format!("{BOOT}/edge-ca.pem")));
    assert!(!device.exists(&format!("{BOOT}/edgeprep.toml.failed")));

    // The copies live root-only, and the copy's paths point at them. The key's and the
    // password's copies are gone once the apply installed them: no stale duplicate secrets.
    let dir = "/var/lib/edgeprep/firstboot";
    assert_eq!(mode(&device, dir), 0o700);
    for copy in ["answers.toml", "edge-ca.pem", "root-ca.pem"] {
        assert_eq!(mode(&device, &format!("{dir}/{copy}")), 0o600, "{copy}");
    }
    for gone in ["edge-ca.key.pem", "registry-password.txt"] {
        assert!(!device.exists(&format!("{dir}/{gone}")), "the copy {gone} was left behind");
    }
    let copy = device.read(&format!("{dir}/answers.toml"));
    let key_copy = device.path(&format!("{dir}/edge-ca.key.pem"));
    assert!(copy.contains(&format!("key = \"{}\"", key_copy.display())), "{copy}");
    let password_copy = device.path(&format!("{dir}/registry-password.txt"));
    assert!(copy.contains(&format!("password_file = \"{}\"", password_copy.display())), "{copy}");
    assert!(!copy.contains("\"edge-ca.pem\""), "a path still points at the boot partition:\n{copy}");
    assert!(copy.contains("# Written by the imaging station for edge-01."), "comment lost:\n{copy}");
    assert!(copy.contains("\" # beside this file"), "inline comment lost:\n{copy}");

    // A second run (the unit's condition would not even start it) finds nothing to do.
    let calls = device.calls().len();
    let before = device.snapshot();
    let (code, stdout, stderr) = run(&device);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("nothing to do"), "{stderr}");
    assert_eq!(device.snapshot(), before, "a second run changed files");
    assert_eq!(device.calls().len(), calls, "a second run ran commands");
}

#[test]
fn failed_apply_leaves_the_device_and_the_boot_file_with_a_note_without_secrets() {
    let device = device_with_boot_files();
    device.write("/etc/aziot/config.toml", provisioned_config("bench-01"));
    device.fake("iotedge", "echo 'could not parse config file' >&2; exit 1");
    let before = device.device_snapshot();

    let (code, stdout, stderr) = run(&device);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    assert_eq!(json["changed"], false, "{stdout}");

    let note_path = format!("{BOOT}/edgeprep.toml.failed");
    let note = device.read(&note_path);
    assert!(note.contains("iotedge config apply"), "the note does not say what failed:\n{note}");
    assert!(note.contains("could not parse config file"), "{note}");
    assert!(!note.contains(SAS_KEY) && !note.contains(PASSWORD), "secret in the note:\n{note}");

    // Everything but the note is as it was: config restored, boot files in place, no copies.
    let after: Vec<_> = device
        .device_snapshot()
        .into_iter()
        .filter(|(p, ..)| p != note_path.trim_start_matches('/'))
        .collect();
    assert_eq!(after, before, "the device changed");
    assert!(!device.exists("/var/lib/edgeprep/firstboot/answers.toml"));
    assert!(!device.exists("/var/lib/edgeprep/firstboot/registry-password.txt"));
}

#[test]
fn a_failed_note_blocks_firstboot_until_a_technician_removes_it() {
    let device = device_with_boot_files();
    device.write(&format!("{BOOT}/edgeprep.toml.failed"), "earlier failure\n");
    let before = device.snapshot();
    let (code, stdout, stderr) = run(&device);
    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(stderr.contains("a technician must read the note"), "{stderr}");
    assert_eq!(device.snapshot(), before, "files changed despite the note");
    assert!(device.calls().is_empty(), "commands ran: {:?}", device.calls());
}

#[test]
fn invalid_answers_leave_everything_and_write_a_masked_note() {
    let device = device_with_boot_files();
    let broken = answers().replace("hostname = \"edge-01\"", "hostname = \"edge_01!\"");
    device.write(&format!("{BOOT}/edgeprep.toml"), &broken);
    let before = device.device_snapshot();
    let (code, _, stderr) = run(&device);
    assert_eq!(code, 2, "{stderr}");
    let note_path = format!("{BOOT}/edgeprep.toml.failed");
    let note = device.read(&note_path);
    assert!(note.contains("hostname"), "{note}");
    assert!(!note.contains(SAS_KEY), "secret in the note:\n{note}");
    let after: Vec<_> = device
        .device_snapshot()
        .into_iter()
        .filter(|(p, ..)| p != note_path.trim_start_matches('/'))
        .collect();
    assert_eq!(after, before);
    assert!(device.calls().is_empty(), "commands ran: {:?}", device.calls());
}

#[test]
fn boot_firmware_is_preferred_over_boot_and_etc() {
    let device = device_with_boot_files();
    // Invalid files at the later places: were they read, the run would fail.
    device.write("/boot/edgeprep.toml", "not toml [");
    device.write("/etc/edgeprep/firstboot.toml", "not toml [");
    let (code, stdout, stderr) = run(&device);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("applying /boot/firmware/edgeprep.toml"), "{stderr}");
    assert!(device.exists("/boot/edgeprep.toml") && device.exists("/etc/edgeprep/firstboot.toml"));
}

#[test]
fn etc_edgeprep_firstboot_toml_is_used_when_there_is_no_boot_file() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/etc/aziot/config.toml", provisioned_config("bench-01"));
    device.write("/etc/edgeprep/firstboot.toml", "hostname = \"edge-07\"\n");
    let (code, stdout, stderr) = run(&device);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(device.read("/etc/aziot/config.toml").contains("hostname = \"edge-07\""));
    assert!(!device.exists("/etc/edgeprep/firstboot.toml"));
}

#[test]
fn no_answers_file_is_nothing_to_do() {
    let device = Device::new();
    let before = device.snapshot();
    let (code, stdout, stderr) = run(&device);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("nothing to do") && stderr.contains("/boot/firmware/edgeprep.toml"), "{stderr}");
    assert_eq!(device.snapshot(), before);
}

#[test]
fn an_identity_key_on_the_boot_partition_is_refused() {
    let device = device_with_boot_files();
    device.write(
        &format!("{BOOT}/edgeprep.toml"),
        "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\nid_scope = \"0ne00000000\"\nattestation = \"x509\"\nregistration_id = \"edge-01\"\nidentity_cert = \"/var/aziot/certs/id.pem\"\nidentity_pk = \"/boot/firmware/id.key.pem\"\n",
    );
    let (code, _, stderr) = run(&device);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is on the boot partition"), "{stderr}");
    assert!(device.exists(&format!("{BOOT}/edgeprep.toml.failed")));
}
