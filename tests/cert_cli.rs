//! The `cert` handlers, called directly with a `Vec<u8>` for output (main is not wired yet).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use edgeprep::certs::generate::{GenerateOptions, generate_chain};
use edgeprep::cli::{CertCsrArgs, CertGenerateArgs, CertInspectArgs, CertStatusArgs, KeyType};
use edgeprep::commands::cert;
use edgeprep::error::exit_code_for;
use edgeprep::root::DeviceRoot;
use time::{Duration, OffsetDateTime};

fn gen_args(dir: &Path) -> CertGenerateArgs {
    CertGenerateArgs {
        out: dir.to_path_buf(),
        common_name: "line-3 Edge CA".to_string(),
        days: 365,
        key_type: KeyType::EcP256,
        force: false,
    }
}

fn inspect_args(file: &Path, key: Option<&Path>) -> CertInspectArgs {
    CertInspectArgs {
        file: file.to_path_buf(),
        key: key.map(Path::to_path_buf),
        warn_days: 30,
        hostname: None,
        device_id: None,
        json: false,
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn text(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap()
}

#[test]
fn generate_writes_four_files_with_key_modes_0600_and_warns_about_the_root_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new/sub");
    let mut out = Vec::new();
    assert_eq!(cert::generate(&gen_args(&dir), &mut out).unwrap(), 0);
    let out = text(out);
    for name in ["root-ca.pem", "root-ca.key.pem", "edge-ca.pem", "edge-ca.key.pem"] {
        assert!(dir.join(name).exists(), "{name}");
        assert!(out.contains(&dir.join(name).display().to_string()), "{out}");
    }
    assert_eq!(mode(&dir.join("root-ca.key.pem")), 0o600);
    assert_eq!(mode(&dir.join("edge-ca.key.pem")), 0o600);
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("off the device and keep it offline"), "{out}");
    assert!(out.contains("[edge_ca]") && out.contains("edgeprep apply"), "{out}");
    for line in out.lines() {
        assert!(line.len() <= 100, "{line}");
    }
}

#[test]
fn generated_edge_ca_passes_inspect_with_exit_0() {
    let tmp = tempfile::tempdir().unwrap();
    cert::generate(&gen_args(tmp.path()), &mut Vec::new()).unwrap();
    let mut out = Vec::new();
    let args = inspect_args(&tmp.path().join("edge-ca.pem"), Some(&tmp.path().join("edge-ca.key.pem")));
    assert_eq!(cert::inspect(&args, &mut out).unwrap(), 0);
    let out = text(out);
    assert!(out.contains("Verdict: OK"), "{out}");
    assert!(!out.contains("WARNING") && !out.contains("ERROR"), "{out}");
    assert!(out.contains("yes, pathlen:0"), "{out}");
    for line in out.lines() {
        assert!(line.len() <= 80, "too wide: {line}");
    }
}

#[test]
fn generate_refuses_existing_files_without_force_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("edge-ca.pem"), "keep me").unwrap();
    let err = cert::generate(&gen_args(tmp.path()), &mut Vec::new()).unwrap_err();
    assert_eq!(exit_code_for(&err), 2);
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(std::fs::read_to_string(tmp.path().join("edge-ca.pem")).unwrap(), "keep me");
    assert!(!tmp.path().join("root-ca.key.pem").exists());

    let mut args = gen_args(tmp.path());
    args.force = true;
    std::fs::write(tmp.path().join("edge-ca.key.pem"), "old").unwrap();
    std::fs::set_permissions(tmp.path().join("edge-ca.key.pem"), std::fs::Permissions::from_mode(0o644))
        .unwrap();
    assert_eq!(cert::generate(&args, &mut Vec::new()).unwrap(), 0);
    assert_eq!(mode(&tmp.path().join("edge-ca.key.pem")), 0o600);
}

#[test]
fn inspect_json_has_problems_and_usable_fields() {
    let tmp = tempfile::tempdir().unwrap();
    cert::generate(&gen_args(tmp.path()), &mut Vec::new()).unwrap();
    let mut args = inspect_args(&tmp.path().join("edge-ca.pem"), None);
    args.json = true;
    args.hostname = Some("LINE-3 edge ca".to_string());
    let mut out = Vec::new();
    assert_eq!(cert::inspect(&args, &mut out).unwrap(), 1);
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["usable"], false);
    assert_eq!(json["certificates"][0]["path_len"], 0);
    assert_eq!(json["problems"][0]["severity"], "error");
    assert!(json["problems"][0]["message"].as_str().unwrap().contains("hostname"));
    assert!(json["certificates"][0]["sha256_fingerprint"].as_str().unwrap().len() == 95);
}

#[test]
fn inspect_of_a_missing_or_garbage_file_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.pem");
    let err = cert::inspect(&inspect_args(&missing, None), &mut Vec::new()).unwrap_err();
    assert_eq!(exit_code_for(&err), 2);
    assert!(err.to_string().contains("nope.pem"));
    let garbage = tmp.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let err = cert::inspect(&inspect_args(&garbage, None), &mut Vec::new()).unwrap_err();
    assert_eq!(exit_code_for(&err), 2);
}

#[test]
fn csr_writes_key_0600_and_request_and_explains_next_step() {
    let tmp = tempfile::tempdir().unwrap();
    let args = CertCsrArgs {
        common_name: "line-3 Edge CA".to_string(),
        out: tmp.path().join("csr"),
        key_type: KeyType::EcP256,
        force: false,
    };
    let mut out = Vec::new();
    assert_eq!(cert::csr(&args, &mut out).unwrap(), 0);
    let out = text(out);
    let key = tmp.path().join("csr/edge-ca.key.pem");
    assert_eq!(mode(&key), 0o600);
    assert!(
        std::fs::read_to_string(tmp.path().join("csr/edge-ca.csr.pem"))
            .unwrap()
            .contains("CERTIFICATE REQUEST")
    );
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("never leaves this device"), "{out}");
    assert!(
        out.contains(&format!("edgeprep cert inspect <returned chain> --key {}", key.display())),
        "{out}"
    );
    let err = cert::csr(&args, &mut Vec::new()).unwrap_err();
    assert_eq!(exit_code_for(&err), 2);
}

// ---- status ----

fn device_with_config(config: Option<&str>) -> (tempfile::TempDir, DeviceRoot) {
    let tmp = tempfile::tempdir().unwrap();
    let root = DeviceRoot::new(tmp.path());
    if let Some(config) = config {
        std::fs::create_dir_all(root.path("/etc/aziot")).unwrap();
        std::fs::write(root.path("/etc/aziot/config.toml"), config).unwrap();
    }
    (tmp, root)
}

fn install_edge_ca(root: &DeviceRoot, days: u32, device_path: &str) {
    let chain = generate_chain(&GenerateOptions {
        common_name: "line-3 Edge CA".to_string(),
        days,
        key_type: KeyType::EcP256,
        now: OffsetDateTime::now_utc(),
    })
    .unwrap();
    let path = root.path(device_path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, chain.edge_chain_pem).unwrap();
}

fn status_json(root: &DeviceRoot, warn_days: u32) -> (i32, serde_json::Value) {
    let mut out = Vec::new();
    let args = CertStatusArgs { warn_days, json: true };
    let code = cert::status(&args, root, &mut out).unwrap();
    (code, serde_json::from_slice(&out).unwrap())
}

const FILE_CONFIG: &str = "[edge_ca]\ncert = \"file:///var/aziot/certs/edge-ca.pem\"\npk = \"file:///var/aziot/secrets/edge-ca.key.pem\"\n";

#[test]
fn status_of_a_file_edge_ca_with_time_left_exits_0() {
    let (_tmp, root) = device_with_config(Some(FILE_CONFIG));
    install_edge_ca(&root, 365, "/var/aziot/certs/edge-ca.pem");
    let (code, json) = status_json(&root, 30);
    assert_eq!(code, 0);
    assert_eq!(json["kind"], "file");
    assert_eq!(json["cert"], "/var/aziot/certs/edge-ca.pem");
    assert_eq!(json["subject"], "CN=line-3 Edge CA");
    assert_eq!(json["days_left"], 364);
    assert_eq!(json["rotation_due"], false);
    assert_eq!(json["exit_code"], 0);
}

#[test]
fn status_reports_rotation_due_within_warn_days_with_exit_1() {
    let (_tmp, root) = device_with_config(Some(FILE_CONFIG));
    install_edge_ca(&root, 10, "/var/aziot/certs/edge-ca.pem");
    let (code, json) = status_json(&root, 30);
    assert_eq!(code, 1);
    assert_eq!(json["rotation_due"], true);
    let mut out = Vec::new();
    cert::status(&CertStatusArgs { warn_days: 30, json: false }, &root, &mut out).unwrap();
    assert!(text(out).contains("rotation due"));
}

#[test]
fn status_with_missing_cert_file_exits_1() {
    let (_tmp, root) = device_with_config(Some(FILE_CONFIG));
    let (code, json) = status_json(&root, 30);
    assert_eq!(code, 1);
    assert!(json["message"].as_str().unwrap().contains("does not exist"));
}

#[test]
fn status_without_edge_ca_is_quickstart_exit_3_and_reports_certd_cert() {
    let (_tmp, root) = device_with_config(Some("hostname = \"line-3\"\n"));
    let (code, json) = status_json(&root, 30);
    assert_eq!(code, 3);
    assert_eq!(json["kind"], "quickstart");
    assert!(json["message"].as_str().unwrap().contains("90 days"));
    assert!(json["message"].as_str().unwrap().contains("not for production"));
    assert_eq!(json["days_left"], serde_json::Value::Null);

    install_edge_ca(&root, 90, "/var/lib/aziot/certd/certs/aziot-edged-ca-3f2a.cer");
    let (code, json) = status_json(&root, 30);
    assert_eq!(code, 3);
    assert_eq!(json["cert"], "/var/lib/aziot/certd/certs/aziot-edged-ca-3f2a.cer");
    assert_eq!(json["days_left"], 89);
}

#[test]
fn status_reads_quickstart_expiry_days_from_config() {
    let (_tmp, root) = device_with_config(Some("[edge_ca]\nauto_generated_edge_ca_expiry_days = 30\n"));
    let (code, json) = status_json(&root, 30);
    assert_eq!(code, 3);
    assert!(json["message"].as_str().unwrap().contains("30 days"));
}

#[test]
fn status_of_an_issued_edge_ca_exits_0() {
    let (_tmp, root) = device_with_config(Some("[edge_ca]\nmethod = \"est\"\n"));
    let (code, json) = status_json(&root, 30);
    assert_eq!(code, 0);
    assert_eq!(json["kind"], "issued");
}

#[test]
fn status_without_config_is_not_configured() {
    let (_tmp, root) = device_with_config(None);
    let (code, json) = status_json(&root, 30);
    assert_eq!(json["kind"], "none");
    assert_eq!(code, 3);
    assert!(json["message"].as_str().unwrap().contains("not configured"));
}

#[test]
fn status_with_unparseable_config_exits_2() {
    let (_tmp, root) = device_with_config(Some("[edge_ca\n"));
    let err =
        cert::status(&CertStatusArgs { warn_days: 30, json: false }, &root, &mut Vec::new()).unwrap_err();
    assert_eq!(exit_code_for(&err), 2);
    assert!(err.to_string().contains("config.toml"));
}

#[test]
fn expired_generated_chain_is_reported_in_status() {
    let (_tmp, root) = device_with_config(Some(FILE_CONFIG));
    let chain = generate_chain(&GenerateOptions {
        common_name: "old".to_string(),
        days: 10,
        key_type: KeyType::EcP256,
        now: OffsetDateTime::now_utc() - Duration::days(40),
    })
    .unwrap();
    let path = root.path("/var/aziot/certs/edge-ca.pem");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, chain.edge_chain_pem).unwrap();
    let (code, json) = status_json(&root, 30);
    assert_eq!(code, 1);
    assert_eq!(json["rotation_due"], true);
    assert!(json["message"].as_str().unwrap().contains("expired"));
}
