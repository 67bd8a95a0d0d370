//! Checks that read files beyond DeviceState (the Edge CA files and their owners, the
//! `config apply` outputs and their times, the host storage directory), on a temporary root.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use edgeprep::certs::generate::{GenerateOptions, generate_chain};
use edgeprep::checks::{CheckResult, Facts, Selection, Status, run};
use edgeprep::cli::KeyType;
use edgeprep::root::DeviceRoot;

const CERTS_UID: u32 = 993;
const KEYS_UID: u32 = 994;

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Self {
        let root = Root { dir: tempfile::tempdir().unwrap() };
        root.write("/etc/hostname", "edge-01\n");
        root.write(
            "/etc/passwd",
            &format!("root:x:0:0::/root:/bin/sh\naziotks:x:{KEYS_UID}:{KEYS_UID}::/:/bin/false\naziotcs:x:{CERTS_UID}:{CERTS_UID}::/:/bin/false\n"),
        );
        root.write("/etc/group", &format!("root:x:0:\naziotks:x:{KEYS_UID}:\naziotcs:x:{CERTS_UID}:\n"));
        let config = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check/production.toml"),
        )
        .unwrap();
        root.write("/etc/aziot/config.toml", &config);
        root
    }

    fn path(&self, device_path: &str) -> PathBuf {
        self.dir.path().join(device_path.trim_start_matches('/'))
    }

    fn write(&self, device_path: &str, text: &str) {
        let path = self.path(device_path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn own(&self, device_path: &str, uid: u32, mode: u32) {
        let path = self.path(device_path);
        std::os::unix::fs::chown(&path, Some(uid), Some(uid)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// An Edge CA installed the way IoT Edge's docs and edgeprep lay it out.
    fn install_edge_ca(&self, days: u32) {
        let chain = generate_chain(&GenerateOptions {
            common_name: "contoso edge ca".into(),
            days,
            key_type: KeyType::EcP256,
            now: time::OffsetDateTime::now_utc(),
        })
        .unwrap();
        self.write("/var/aziot/certs/edge-ca.pem", &chain.edge_chain_pem);
        self.write("/var/aziot/secrets/edge-ca.key.pem", &chain.edge_key_pem);
        self.own("/var/aziot", 0, 0o755);
        self.own("/var/aziot/certs", CERTS_UID, 0o755);
        self.own("/var/aziot/certs/edge-ca.pem", CERTS_UID, 0o644);
        self.own("/var/aziot/secrets", KEYS_UID, 0o700);
        self.own("/var/aziot/secrets/edge-ca.key.pem", KEYS_UID, 0o600);
    }

    fn check(&self, id: &str) -> CheckResult {
        let facts =
            Facts::gather(&DeviceRoot::new(self.dir.path()), false, time::OffsetDateTime::now_utc()).unwrap();
        let report = run(&facts, &Selection { only: vec![id.into()], skip: vec![] });
        report.results[0].clone()
    }
}

fn details(r: &CheckResult) -> String {
    r.details.join("\n")
}

#[test]
fn edge_ca_from_files_with_the_documented_owners_passes() {
    let root = Root::new();
    root.install_edge_ca(365);
    let result = root.check("production-certificates");
    assert_eq!(result.status, Status::Ok, "{result:#?}");
    assert!(details(&result).contains("\"contoso edge ca\""), "{}", details(&result));
    assert!(details(&result).contains("key matches"));
}

#[test]
fn edge_ca_near_expiry_is_a_warning() {
    let root = Root::new();
    root.install_edge_ca(10);
    let result = root.check("production-certificates");
    assert_eq!(result.status, Status::Warning, "{result:#?}");
}

#[test]
fn edge_ca_key_readable_by_others_is_an_error() {
    let root = Root::new();
    root.install_edge_ca(365);
    root.own("/var/aziot/secrets/edge-ca.key.pem", KEYS_UID, 0o644);
    let result = root.check("production-certificates");
    assert_eq!(result.status, Status::Error, "{result:#?}");
    assert!(details(&result).contains("mode 0644: readable by others"), "{}", details(&result));
}

#[test]
fn edge_ca_in_a_directory_aziotcs_cannot_enter_is_an_error() {
    let root = Root::new();
    root.install_edge_ca(365);
    root.own("/var/aziot", 0, 0o750);
    let result = root.check("production-certificates");
    assert_eq!(result.status, Status::Error, "{result:#?}");
    assert!(
        details(&result).contains("/var/aziot is not traversable by user aziotcs"),
        "{}",
        details(&result)
    );
}

#[test]
fn edge_ca_with_a_key_that_does_not_match_is_an_error() {
    let root = Root::new();
    root.install_edge_ca(365);
    let other = generate_chain(&GenerateOptions {
        common_name: "other".into(),
        days: 365,
        key_type: KeyType::EcP256,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap();
    root.write("/var/aziot/secrets/edge-ca.key.pem", &other.edge_key_pem);
    let result = root.check("production-certificates");
    assert_eq!(result.status, Status::Error, "{result:#?}");
}

#[test]
fn edge_ca_file_missing_is_an_error_naming_it() {
    let root = Root::new();
    let result = root.check("production-certificates");
    assert_eq!(result.status, Status::Error);
    assert!(details(&result).contains("/var/aziot/certs/edge-ca.pem"), "{}", details(&result));
}

fn write_applied(root: &Root) {
    for svc in ["keyd", "certd", "identityd", "tpmd", "edged"] {
        root.write(&format!("/etc/aziot/{svc}/config.d/00-super.toml"), "# generated\n");
    }
}

fn set_mtime(root: &Root, device_path: &str, time: SystemTime) {
    let file = std::fs::File::options().write(true).open(root.path(device_path)).unwrap();
    file.set_modified(time).unwrap();
}

#[test]
fn config_applied_passes_when_outputs_are_newer() {
    let root = Root::new();
    set_mtime(&root, "/etc/aziot/config.toml", SystemTime::now() - Duration::from_secs(600));
    write_applied(&root);
    assert_eq!(root.check("config-applied").status, Status::Ok);
}

#[test]
fn config_applied_warns_about_an_edit_waiting_for_config_apply() {
    let root = Root::new();
    write_applied(&root);
    set_mtime(
        &root,
        "/etc/aziot/edged/config.d/00-super.toml",
        SystemTime::now() - Duration::from_secs(3 * 3600),
    );
    let result = root.check("config-applied");
    assert_eq!(result.status, Status::Warning, "{result:#?}");
    assert!(
        details(&result).contains("changed 3 h after /etc/aziot/edged/config.d/00-super.toml"),
        "{}",
        details(&result)
    );
    assert!(result.fix.unwrap().text.contains("iotedge config apply"));
}

#[test]
fn config_applied_warns_when_never_applied() {
    let root = Root::new();
    let result = root.check("config-applied");
    assert_eq!(result.status, Status::Warning);
    assert!(details(&result).contains("never applied"));
}

#[test]
fn host_storage_checks_the_host_directory_under_the_root() {
    let root = Root::new();
    assert_eq!(root.check("host-storage").status, Status::Error);
    std::fs::create_dir_all(root.path("/var/lib/edgeprep/edgeAgent")).unwrap();
    assert_eq!(root.check("host-storage").status, Status::Ok);
}
