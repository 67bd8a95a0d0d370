//! A device prepared by `edgeprep apply` with a full answers file passes every check that needs
//! no running runtime: no warning is left, so a new one shows up here.

mod common;

use common::{Device, template_text};
use edgeprep::certs::generate::{GenerateOptions, generate_chain};
use edgeprep::cli::KeyType;

const DPKG: &str = include_str!("fixtures/check/dpkg-moby.status");

/// Checks measured only on the live device.
const LIVE_ONLY: &[&str] = &["unused-volumes", "clock-sync", "disk-space"];

fn prepared_device() -> Device {
    let device = Device::new();
    device.write("/etc/hostname", "edge-gw-01\n");
    device.write(
        "/etc/passwd",
        "root:x:0:0::/root:/bin/sh\naziotks:x:994:994::/:/bin/false\naziotcs:x:993:993::/:/bin/false\n",
    );
    device.write("/etc/group", "root:x:0:\naziotks:x:994:\naziotcs:x:993:\n");
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device.write("/var/lib/dpkg/status", DPKG);
    // `iotedge config apply` writes each service's configuration; the fake does too, under the root.
    let root = device.root();
    device.fake(
        "iotedge",
        &format!(
            "for s in keyd certd identityd tpmd edged; do /bin/mkdir -p '{0}'/etc/aziot/$s/config.d; echo '# generated' > '{0}'/etc/aziot/$s/config.d/00-super.toml; done",
            root.display()
        ),
    );
    let chain = generate_chain(&GenerateOptions {
        common_name: "contoso edge ca".into(),
        days: 365,
        key_type: KeyType::EcP256,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    let usb = device.dir.path().join("certs");
    std::fs::create_dir_all(&usb).unwrap();
    std::fs::write(usb.join("edge-ca-full-chain.pem"), &chain.edge_chain_pem).unwrap();
    std::fs::write(usb.join("edge-ca.key.pem"), &chain.edge_key_pem).unwrap();
    std::fs::write(usb.join("contoso-root-ca.pem"), &chain.root_cert_pem).unwrap();
    let full =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/answers/full.toml"))
            .unwrap();
    let answers = device.answers(&full);
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    device
}

#[test]
fn a_device_prepared_with_full_answers_passes_every_offline_check() {
    let device = prepared_device();
    let output = device.edgeprep(&["check", "--json"]).assert().code(0).get_output().stdout.clone();
    let report: serde_json::Value = serde_json::from_slice(&output).unwrap();
    let mut warned = Vec::new();
    for result in report["results"].as_array().unwrap() {
        let id = result["id"].as_str().unwrap();
        let status = result["status"].as_str().unwrap();
        match status {
            "ok" => assert!(!LIVE_ONLY.contains(&id), "{id} unexpectedly ok"),
            "info" => assert_eq!(id, "device-inventory"),
            "skipped" => assert!(LIVE_ONLY.contains(&id), "{id} skipped: {result}"),
            "warning" => warned.push(id.to_string()),
            other => panic!("{id}: {other}: {result}"),
        }
    }
    assert!(warned.is_empty(), "warnings left: {warned:?}\n{report:#}");
    for id in ["host-storage", "elevated-docker-permissions"] {
        let result = report["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap();
        assert_eq!(result["status"], "ok", "{result}");
    }
    let inventory =
        report["results"].as_array().unwrap().iter().find(|r| r["id"] == "device-inventory").unwrap();
    let text = inventory["details"].to_string();
    assert!(
        text.contains("moby-engine 20.10.25+azure-1") && !text.contains("last edgeprep apply: never"),
        "{text}"
    );
}

#[test]
fn the_prepared_device_report_holds_no_secret() {
    let device = prepared_device();
    let output = device.edgeprep(&["check", "--json"]).assert().code(0).get_output().stdout.clone();
    let text = String::from_utf8(output).unwrap();
    for secret in ["example-registry-password", "bm90LWEtcmVhbC1rZXktanVzdC1hLWZpeHR1cmU="] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
}
