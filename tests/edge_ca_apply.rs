//! Installing and rotating the Edge CA through the answers file, on a temporary root with
//! aziotcs/aziotks declared in its passwd and fake iotedge, systemctl and docker.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use common::Device;
use edgeprep::certs::generate::{GenerateOptions, GeneratedChain, generate_chain};
use edgeprep::cli::KeyType;
use predicates::prelude::*;

const CERTS_UID: u32 = 993;
const KEYS_UID: u32 = 994;

fn chain(cn: &str) -> GeneratedChain {
    generate_chain(&GenerateOptions {
        common_name: cn.to_string(),
        days: 365,
        key_type: KeyType::EcP256,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap()
}

/// A certificate for `cn` signed by the CA `ca_cert_pem` / `ca_key_pem`, as certd issues them.
fn issued_by(ca_cert_pem: &str, ca_key_pem: &str, cn: &str) -> String {
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(ca_cert_pem, rcgen::KeyPair::from_pem(ca_key_pem).unwrap()).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![cn.to_string()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    params.signed_by(&rcgen::KeyPair::generate().unwrap(), &issuer).unwrap().pem()
}

/// A device on the quickstart CA: config.toml with quickstart keys, certd's quickstart CA and
/// the server certificate it issued, keyd's keys.
fn quickstart_device() -> Device {
    let device = Device::new();
    device.write("/etc/passwd", format!("root:x:0:0::/root:/bin/sh\naziotks:x:{KEYS_UID}:{KEYS_UID}::/:/bin/false\naziotcs:x:{CERTS_UID}:{CERTS_UID}::/:/bin/false\n"));
    device.write("/etc/group", format!("root:x:0:\naziotks:x:{KEYS_UID}:\naziotcs:x:{CERTS_UID}:\n"));
    device.write(
        "/etc/aziot/config.toml",
        "hostname = \"edge-01\"\n\n[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h.azure-devices.net;DeviceId=edge-01;SharedAccessKey=YWJj\"\n\n# Quickstart CA for the bench\n[edge_ca]\nauto_generated_edge_ca_expiry_days = 90\n\n[edge_ca.auto_renew]\nrotate_key = true\nthreshold = \"80%\"\nretry = \"4%\"\n",
    );
    let quickstart = chain("iotedged workload ca");
    device.write("/var/lib/aziot/certd/certs/aziot-edged-ca-3f2a.cer", &quickstart.edge_cert_pem);
    device.write(
        "/var/lib/aziot/certd/certs/edgehub-server-77aa.cer",
        issued_by(&quickstart.edge_cert_pem, &quickstart.edge_key_pem, "edge-01"),
    );
    device.write("/var/lib/aziot/keyd/keys/aziot-edged-ca-3f2a.key", "quickstart ca key");
    device.write("/var/lib/aziot/keyd/keys/device-id.key", "device identity key");
    device
}

/// Write a chain's files next to the answers file, as a USB stick would hold them.
fn usb(device: &Device, chain: &GeneratedChain, name: &str) -> PathBuf {
    let dir = device.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("edge-ca.pem"), &chain.edge_chain_pem).unwrap();
    std::fs::write(dir.join("edge-ca.key.pem"), &chain.edge_key_pem).unwrap();
    std::fs::write(dir.join("root-ca.pem"), &chain.root_cert_pem).unwrap();
    dir
}

fn answers_for(device: &Device, usb: &Path) -> PathBuf {
    device.answers(&format!(
        "[edge_ca]\ncert = \"{0}/edge-ca.pem\"\nkey = \"{0}/edge-ca.key.pem\"\ntrust_bundle = \"{0}/root-ca.pem\"\n",
        usb.display()
    ))
}

fn owner_mode(device: &Device, path: &str) -> (u32, u32, u32) {
    let meta = std::fs::metadata(device.path(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    (meta.mode() & 0o7777, meta.uid(), meta.gid())
}

fn apply(device: &Device, answers: &Path) -> assert_cmd::assert::Assert {
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert()
}

#[test]
#[cfg_attr(
    not(running_as_root),
    ignore = "needs root (edgeprep creates files owned by root or IoT Edge's users)"
)]
fn installs_edge_ca_with_owners_modes_and_config() {
    let device = quickstart_device();
    let chain = chain("contoso edge ca");
    let answers = answers_for(&device, &usb(&device, &chain, "usb"));
    apply(&device, &answers).success();

    assert_eq!(device.read("/var/aziot/certs/edge-ca.pem"), chain.edge_chain_pem);
    assert_eq!(device.read("/var/aziot/secrets/edge-ca.key.pem"), chain.edge_key_pem);
    assert_eq!(device.read("/var/aziot/certs/trust-bundle.pem"), chain.root_cert_pem);
    assert_eq!(owner_mode(&device, "/var/aziot"), (0o755, 0, 0));
    assert_eq!(owner_mode(&device, "/var/aziot/certs"), (0o755, CERTS_UID, CERTS_UID));
    assert_eq!(owner_mode(&device, "/var/aziot/secrets"), (0o700, KEYS_UID, KEYS_UID));
    assert_eq!(owner_mode(&device, "/var/aziot/certs/edge-ca.pem"), (0o644, CERTS_UID, CERTS_UID));
    assert_eq!(owner_mode(&device, "/var/aziot/secrets/edge-ca.key.pem"), (0o600, KEYS_UID, KEYS_UID));
    assert_eq!(owner_mode(&device, "/var/aziot/certs/trust-bundle.pem"), (0o644, CERTS_UID, CERTS_UID));

    let config = device.read("/etc/aziot/config.toml");
    let parsed: toml::Table = config.parse().unwrap();
    let edge_ca = parsed["edge_ca"].as_table().unwrap();
    assert_eq!(edge_ca["cert"].as_str(), Some("file:///var/aziot/certs/edge-ca.pem"));
    assert_eq!(edge_ca["pk"].as_str(), Some("file:///var/aziot/secrets/edge-ca.key.pem"));
    assert_eq!(edge_ca.len(), 2, "quickstart keys left in [edge_ca]:\n{config}");
    assert_eq!(parsed["trust_bundle_cert"].as_str(), Some("file:///var/aziot/certs/trust-bundle.pem"));
    assert!(config.find("trust_bundle_cert").unwrap() < config.find("[provisioning]").unwrap());
    assert!(config.contains("# Quickstart CA for the bench"), "comment above [edge_ca] lost:\n{config}");

    // The quickstart CA's issued certificates and key went into the backup; the identity key stayed.
    assert!(!device.exists("/var/lib/aziot/certd/certs/aziot-edged-ca-3f2a.cer"));
    assert!(!device.exists("/var/lib/aziot/certd/certs/edgehub-server-77aa.cer"));
    assert!(!device.exists("/var/lib/aziot/keyd/keys/aziot-edged-ca-3f2a.key"));
    assert!(device.exists("/var/lib/aziot/keyd/keys/device-id.key"));

    assert_eq!(
        device.calls(),
        [
            "update-ca-certificates",
            "iotedge config apply -c /etc/aziot/config.toml",
            "iotedge system restart"
        ]
    );
}

#[test]
#[cfg_attr(
    not(running_as_root),
    ignore = "needs root (edgeprep creates files owned by root or IoT Edge's users)"
)]
fn reapplying_the_same_edge_ca_is_a_no_op() {
    let device = quickstart_device();
    let answers = answers_for(&device, &usb(&device, &chain("contoso edge ca"), "usb"));
    apply(&device, &answers).success();
    let calls = device.calls().len();
    apply(&device, &answers).success().stdout(predicate::str::contains("No changes"));
    assert_eq!(device.calls().len(), calls);
}

#[test]
#[cfg_attr(
    not(running_as_root),
    ignore = "needs root (edgeprep creates files owned by root or IoT Edge's users)"
)]
fn failing_config_apply_rolls_the_certificate_files_back_too() {
    let device = quickstart_device();
    let before = device.device_snapshot();
    device.fake("iotedge", "echo 'Command failed' >&2; exit 1");
    let answers = answers_for(&device, &usb(&device, &chain("contoso edge ca"), "usb"));
    apply(&device, &answers).code(1);
    assert_eq!(device.device_snapshot(), before);
    assert!(!device.exists("/var/aziot/certs/edge-ca.pem"));
}

#[test]
#[cfg_attr(
    not(running_as_root),
    ignore = "needs root (edgeprep creates files owned by root or IoT Edge's users)"
)]
fn rotation_backs_up_the_old_ca_and_rollback_restores_it() {
    let device = quickstart_device();
    let first = chain("contoso edge ca");
    apply(&device, &answers_for(&device, &usb(&device, &first, "usb1"))).success();
    let second = chain("contoso edge ca 2027");
    device.write(
        "/var/lib/aziot/certd/certs/edgehub-server-new.cer",
        issued_by(&first.edge_cert_pem, &first.edge_key_pem, "edge-01"),
    );
    apply(&device, &answers_for(&device, &usb(&device, &second, "usb2"))).success();
    assert_eq!(device.read("/var/aziot/certs/edge-ca.pem"), second.edge_chain_pem);
    assert!(!device.exists("/var/lib/aziot/certd/certs/edgehub-server-new.cer"));
    // config.toml is unchanged by a rotation (same paths); IoT Edge restarts for the new CA.
    assert_eq!(device.calls().last().map(String::as_str), Some("iotedge system restart"));

    device.edgeprep(&["rollback", "--yes"]).assert().success();
    assert_eq!(device.read("/var/aziot/certs/edge-ca.pem"), first.edge_chain_pem);
    assert_eq!(device.read("/var/aziot/secrets/edge-ca.key.pem"), first.edge_key_pem);
    assert!(device.exists("/var/lib/aziot/certd/certs/edgehub-server-new.cer"));
}

#[test]
fn unusable_certificate_is_refused_with_reasons_and_nothing_written() {
    let device = quickstart_device();
    let good = chain("contoso edge ca");
    let other = chain("someone else");
    let dir = usb(&device, &good, "usb");
    // The key of another chain does not match.
    std::fs::write(dir.join("edge-ca.key.pem"), &other.edge_key_pem).unwrap();
    let before = device.snapshot();
    apply(&device, &answers_for(&device, &dir))
        .code(2)
        .stderr(predicate::str::contains("cannot be this device's Edge CA"))
        .stderr(predicate::str::contains("does not belong"));
    assert_eq!(device.snapshot(), before);
    assert!(device.calls().is_empty());
}

#[test]
fn edge_ca_named_like_the_device_is_refused() {
    let device = quickstart_device();
    let answers = answers_for(&device, &usb(&device, &chain("edge-01"), "usb"));
    apply(&device, &answers).code(2).stderr(predicate::str::contains("edge-01"));
}

#[test]
#[cfg_attr(
    not(running_as_root),
    ignore = "needs root (edgeprep creates files owned by root or IoT Edge's users)"
)]
fn missing_service_users_keep_root_ownership_and_say_so() {
    let device = quickstart_device();
    device.write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    let answers = answers_for(&device, &usb(&device, &chain("contoso edge ca"), "usb"));
    apply(&device, &answers).success().stdout(predicate::str::contains("aziotcs does not exist"));
    assert_eq!(owner_mode(&device, "/var/aziot/secrets/edge-ca.key.pem"), (0o600, 0, 0));
}

#[test]
#[cfg_attr(
    not(running_as_root),
    ignore = "needs root (edgeprep creates files owned by root or IoT Edge's users)"
)]
fn generated_edge_ca_is_installed_once_and_its_root_key_set_aside() {
    let device = quickstart_device();
    let answers = device.answers("[edge_ca]\ngenerate = { common_name = \"contoso edge ca\", days = 365 }\n");
    apply(&device, &answers).success().stdout(predicate::str::contains("off the device"));
    assert_eq!(owner_mode(&device, "/var/lib/edgeprep/root-ca.key.pem"), (0o600, 0, 0));
    let installed = device.read("/var/aziot/certs/edge-ca.pem");
    device
        .edgeprep(&[
            "cert",
            "inspect",
            device.path("/var/aziot/certs/edge-ca.pem").to_str().unwrap(),
            "--key",
        ])
        .arg(device.path("/var/aziot/secrets/edge-ca.key.pem"))
        .assert()
        .success();
    let calls = device.calls().len();
    apply(&device, &answers).success().stdout(predicate::str::contains("No changes"));
    assert_eq!(device.read("/var/aziot/certs/edge-ca.pem"), installed);
    assert_eq!(device.calls().len(), calls);
}

#[test]
#[cfg_attr(
    not(running_as_root),
    ignore = "needs root (edgeprep creates files owned by root or IoT Edge's users)"
)]
fn cert_status_reports_the_installed_edge_ca() {
    let device = quickstart_device();
    device.edgeprep(&["cert", "status"]).assert().code(3);
    let answers = answers_for(&device, &usb(&device, &chain("contoso edge ca"), "usb"));
    apply(&device, &answers).success();
    device
        .edgeprep(&["cert", "status", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("\"kind\": \"file\""));
}
