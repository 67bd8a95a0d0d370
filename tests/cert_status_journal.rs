//! `edgeprep cert status` under systemd (edgeprep-cert-status.timer): when its output goes to
//! the journal (JOURNAL_STREAM set) and the Edge CA is within the warning window, a
//! `<4>`-prefixed warning line with the rotation commands goes to stderr.

mod common;

use common::Device;
use edgeprep::certs::generate::{GenerateOptions, generate_chain};
use edgeprep::cli::KeyType;

/// A device whose config.toml names a file-based Edge CA valid for `days` more days.
fn device_with_edge_ca(days: u32) -> Device {
    let chain = generate_chain(&GenerateOptions {
        common_name: "contoso edge ca".into(),
        days,
        key_type: KeyType::EcP256,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    let device = Device::new();
    device.write(
        "/etc/aziot/config.toml",
        format!(
            "{}\n[edge_ca]\ncert = \"file:///var/aziot/certs/edge-ca.pem\"\npk = \"file:///var/aziot/secrets/edge-ca.key.pem\"\n",
            common::provisioned_config("edge-01")
        ),
    );
    device.write("/var/aziot/certs/edge-ca.pem", &chain.edge_chain_pem);
    device
}

fn status(device: &Device, journal: bool) -> (i32, String, String) {
    let mut cmd = device.edgeprep(&["cert", "status", "--json"]);
    if journal {
        cmd.env("JOURNAL_STREAM", "8:12345");
    } else {
        cmd.env_remove("JOURNAL_STREAM");
    }
    let output = cmd.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn rotation_due_under_the_journal_logs_a_warning_level_line_with_the_rotation_command() {
    let device = device_with_edge_ca(10);
    let (code, stdout, stderr) = status(&device, true);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}"));
    assert_eq!(json["rotation_due"], true);
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.starts_with("<4>")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    let warning = warnings[0];
    assert!(warning.contains("/var/aziot/certs/edge-ca.pem"), "{warning}");
    assert!(warning.contains("expires in 9 days") || warning.contains("expires in 10 days"), "{warning}");
    assert!(warning.contains("edgeprep cert generate") && warning.contains("edgeprep apply"), "{warning}");
}

#[test]
fn rotation_due_outside_the_journal_prints_no_level_prefix() {
    let device = device_with_edge_ca(10);
    let (code, _, stderr) = status(&device, false);
    assert_eq!(code, 1);
    assert!(!stderr.contains("<4>"), "{stderr}");
}

#[test]
fn an_edge_ca_outside_the_warning_window_logs_no_warning_under_the_journal() {
    let device = device_with_edge_ca(200);
    let (code, stdout, stderr) = status(&device, true);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stderr.contains("<4>"), "{stderr}");
}
