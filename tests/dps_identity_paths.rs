//! DPS X.509 identity files are device paths: kept as written (never resolved against the
//! answers file's directory, as the README says), written to config.toml as file:// URIs.

mod common;

use common::{Device, template_text};

fn x509(cert: &str, pk: &str) -> String {
    format!(
        "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\nid_scope = \"0ne00000A0A\"\nattestation = \"x509\"\nregistration_id = \"edge-01\"\nidentity_cert = \"{cert}\"\nidentity_pk = \"{pk}\"\n"
    )
}

#[test]
fn identity_paths_stay_device_paths_and_become_file_uris() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    let answers =
        device.answers(&x509("/var/aziot/certs/device-id.pem", "/var/aziot/secrets/device-id.key.pem"));
    let read = edgeprep::answers::read_answers(&answers).unwrap();
    let p = read.provisioning.unwrap();
    assert_eq!(p.identity_cert.as_deref(), Some("/var/aziot/certs/device-id.pem"));
    assert_eq!(p.identity_pk.as_deref(), Some("/var/aziot/secrets/device-id.key.pem"));

    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    let config: toml::Table = device.read("/etc/aziot/config.toml").parse().unwrap();
    let attestation = &config["provisioning"]["attestation"];
    assert_eq!(attestation["identity_cert"].as_str(), Some("file:///var/aziot/certs/device-id.pem"));
    assert_eq!(attestation["identity_pk"].as_str(), Some("file:///var/aziot/secrets/device-id.key.pem"));
}

#[test]
fn a_relative_identity_path_is_refused_saying_it_is_a_device_path() {
    let device = Device::new();
    let answers = device.answers(&x509("certs/device-id.pem", "/var/aziot/secrets/device-id.key.pem"));
    let output = device.edgeprep(&["answers", "check", answers.to_str().unwrap()]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 7: [provisioning] identity_cert = \"certs/device-id.pem\""), "{stderr}");
    assert!(
        stderr.contains("absolute path on the device") && stderr.contains("does not copy it"),
        "{stderr}"
    );
}
