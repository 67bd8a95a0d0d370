//! A read-only-rootfs image where `/var` is a link to writable storage (`/var -> /data/var`,
//! inside the root): the Edge CA is installed through it, while a link at or below the
//! service accounts' directories is still refused.

mod common;

use std::os::unix::fs::{MetadataExt, symlink};
use std::path::PathBuf;
use std::time::Duration;

use common::{Device, provisioned_config};
use edgeprep::certs::generate::{GenerateOptions, generate_chain};
use edgeprep::cli::KeyType;
use edgeprep::error::EXIT_BAD_INPUT;
use predicates::prelude::*;

const CERTS_UID: u32 = 993;
const KEYS_UID: u32 = 994;

/// A device whose `/var` is `/data/var`, with aziotcs/aziotks and answers installing a fresh
/// Edge CA.
fn device_with_var_link() -> (Device, PathBuf) {
    let device = Device::new();
    device.write("/etc/passwd", format!("root:x:0:0::/root:/bin/sh\naziotks:x:{KEYS_UID}:{KEYS_UID}::/:/bin/false\naziotcs:x:{CERTS_UID}:{CERTS_UID}::/:/bin/false\n"));
    device.write("/etc/group", format!("root:x:0:\naziotks:x:{KEYS_UID}:\naziotcs:x:{CERTS_UID}:\n"));
    device.write("/etc/aziot/config.toml", provisioned_config("edge-01"));
    std::fs::create_dir_all(device.path("/data/var/lib")).unwrap();
    symlink("/data/var", device.path("/var")).unwrap();
    let chain = generate_chain(&GenerateOptions {
        common_name: "contoso edge ca".to_string(),
        days: 365,
        key_type: KeyType::EcP256,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    let usb = device.dir.path().join("usb");
    std::fs::create_dir_all(&usb).unwrap();
    std::fs::write(usb.join("edge-ca.pem"), &chain.edge_chain_pem).unwrap();
    std::fs::write(usb.join("edge-ca.key.pem"), &chain.edge_key_pem).unwrap();
    let answers = device.answers(&format!(
        "[edge_ca]\ncert = \"{0}/edge-ca.pem\"\nkey = \"{0}/edge-ca.key.pem\"\n",
        usb.display()
    ));
    (device, answers)
}

#[test]
#[cfg_attr(not(running_as_root), ignore = "needs root (the Edge CA files belong to aziotcs and aziotks)")]
fn an_edge_ca_is_installed_through_a_var_linked_inside_the_root() {
    let (device, answers) = device_with_var_link();
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    let key = std::fs::metadata(device.path("/data/var/aziot/secrets/edge-ca.key.pem")).unwrap();
    assert_eq!((key.uid(), key.mode() & 0o777), (KEYS_UID, 0o600));
    assert!(device.path("/data/var/aziot/certs/edge-ca.pem").is_file());
    assert!(
        std::fs::symlink_metadata(device.path("/var")).unwrap().file_type().is_symlink(),
        "/var replaced"
    );
    // Planning again: the device matches.
    device
        .edgeprep(&["plan", "--answers", answers.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("No changes"));
}

#[test]
fn a_certd_dir_linked_to_etc_below_a_var_link_is_still_refused() {
    let (device, answers) = device_with_var_link();
    std::fs::create_dir_all(device.path("/data/var/lib/aziot/certd")).unwrap();
    symlink("/etc", device.path("/data/var/lib/aziot/certd/certs")).unwrap();
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(EXIT_BAD_INPUT)
        .stderr(
            predicate::str::contains("/var/lib/aziot/certd/certs")
                .and(predicate::str::contains("symbolic link")),
        );
    assert!(!device.exists("/data/var/aziot/certs/edge-ca.pem"));
}
