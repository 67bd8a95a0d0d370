//! Nothing escapes the root: symlinks, FIFOs, huge files and planted links under `--root` are
//! resolved inside it (with openat2 and with the user-space fallback), refused where service
//! accounts own the directory, and never redirect a read or a write to the host.

mod common;

use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Device, provisioned_config};
use edgeprep::apply::atomic;
use edgeprep::certs::generate::{GenerateOptions, generate_chain};
use edgeprep::cli::KeyType;
use edgeprep::device::DeviceState;
use edgeprep::error::{EXIT_BAD_INPUT, exit_code_for};
use edgeprep::input_file::MAX_CONFIG_BYTES;
use edgeprep::root::DeviceRoot;
use predicates::prelude::*;

/// The same root resolved with openat2 and with the fallback walk: every resolution test runs
/// on both.
fn both(root: &Path) -> [(&'static str, DeviceRoot); 2] {
    [("openat2", DeviceRoot::new(root)), ("walk", DeviceRoot::new(root).resolving_by_walk())]
}

fn put(root: &Path, device_path: &str, contents: &str) -> PathBuf {
    let host = root.join(device_path.trim_start_matches('/'));
    std::fs::create_dir_all(host.parent().unwrap()).unwrap();
    std::fs::write(&host, contents).unwrap();
    host
}

fn link(root: &Path, device_path: &str, target: &str) {
    let host = root.join(device_path.trim_start_matches('/'));
    std::fs::create_dir_all(host.parent().unwrap()).unwrap();
    symlink(target, host).unwrap();
}

fn read(root: &DeviceRoot, device_path: &str) -> Option<String> {
    root.read(device_path, MAX_CONFIG_BYTES)
        .unwrap_or_else(|e| panic!("{device_path}: {e}"))
        .map(|(bytes, _)| String::from_utf8(bytes).unwrap())
}

#[test]
fn absolute_symlinks_resolve_inside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "/etc/aziot/config.toml.real", "in the image\n");
    link(dir.path(), "/etc/aziot/config.toml", "/etc/aziot/config.toml.real");
    // A link to a host file that exists on every machine: must read the root's copy.
    put(dir.path(), "/etc/hostname", "image-hostname\n");
    link(dir.path(), "/etc/aziot/host.toml", "/etc/hostname");
    for (how, root) in both(dir.path()) {
        assert_eq!(read(&root, "/etc/aziot/config.toml").as_deref(), Some("in the image\n"), "{how}");
        assert_eq!(read(&root, "/etc/aziot/host.toml").as_deref(), Some("image-hostname\n"), "{how}");
        assert_eq!(
            root.canonical("/etc/aziot/config.toml").unwrap(),
            PathBuf::from("/etc/aziot/config.toml.real"),
            "{how}"
        );
    }
}

#[test]
fn a_link_to_a_host_file_missing_in_the_root_is_not_found_not_the_host_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    // /etc/passwd exists on this machine, not in the root.
    link(dir.path(), "/etc/aziot/config.toml", "/etc/passwd");
    for (how, root) in both(dir.path()) {
        assert_eq!(read(&root, "/etc/aziot/config.toml"), None, "{how}");
    }
}

#[test]
fn dotdot_never_climbs_above_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root_dir = dir.path().join("root");
    put(&root_dir, "/secret", "inside the root\n");
    // A file beside the root that a `..` escape would reach.
    std::fs::write(dir.path().join("secret"), "outside the root\n").unwrap();
    link(&root_dir, "/etc/aziot/config.toml", "../../../../../../secret");
    link(&root_dir, "/etc/docker/daemon.json", "/../../secret");
    for (how, root) in both(&root_dir) {
        assert_eq!(read(&root, "/etc/aziot/config.toml").as_deref(), Some("inside the root\n"), "{how}");
        assert_eq!(read(&root, "/etc/docker/daemon.json").as_deref(), Some("inside the root\n"), "{how}");
        assert_eq!(read(&root, "/../../secret").as_deref(), Some("inside the root\n"), "{how}");
    }
}

#[test]
fn symlink_loops_are_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    link(dir.path(), "/etc/a", "/etc/b");
    link(dir.path(), "/etc/b", "a");
    for (how, root) in both(dir.path()) {
        let err = root.open("/etc/a", rustix::fs::OFlags::RDONLY).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(rustix::io::Errno::LOOP.raw_os_error()), "{how}: {err}");
        let message = root.refusal("/etc/a", &err).to_string();
        assert!(message.contains("/etc/a") && message.contains("symbolic links"), "{how}: {message}");
    }
}

#[test]
fn service_dirs_refuse_symlinks_at_every_component() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "/etc/aziot/real-certs/x.pem", "x");
    // The directory itself, a file in a real directory, and a parent of it.
    link(dir.path(), "/var/lib/aziot/certd/certs", "/etc/aziot/real-certs");
    std::fs::create_dir_all(dir.path().join("var/aziot/secrets")).unwrap();
    link(dir.path(), "/var/aziot/secrets/edge-ca.key.pem", "/etc/aziot/real-certs/x.pem");
    std::fs::create_dir_all(dir.path().join("var/lib/aziot/elsewhere/keys")).unwrap();
    link(dir.path(), "/var/lib/aziot/keyd", "elsewhere");
    for (how, root) in both(dir.path()) {
        for path in
            ["/var/lib/aziot/certd/certs", "/var/aziot/secrets/edge-ca.key.pem", "/var/lib/aziot/keyd/keys"]
        {
            let err = root.metadata(path).unwrap_err();
            assert_eq!(
                err.raw_os_error(),
                Some(rustix::io::Errno::LOOP.raw_os_error()),
                "{how} {path}: {err}"
            );
            let message = root.refusal(path, &err).to_string();
            assert!(message.contains(path) && message.contains("service account"), "{how}: {message}");
        }
        // Outside the service directories the same kind of link is followed.
        assert!(root.metadata("/var/lib/aziot/keyd").unwrap().unwrap().is_dir(), "{how}");
    }
}

#[test]
fn device_state_reads_a_symlinked_config_from_its_target_inside_the_root() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "/etc/aziot/config.toml.real", "hostname = \"image\"\n");
    link(dir.path(), "/etc/aziot/config.toml", "config.toml.real");
    for (how, root) in both(dir.path()) {
        let state = DeviceState::read(&root).unwrap();
        assert_eq!(state.text("/etc/aziot/config.toml").unwrap(), Some("hostname = \"image\"\n"), "{how}");
    }
}

#[test]
fn oversized_or_special_device_files_are_input_errors_naming_the_device_path() {
    let dir = tempfile::tempdir().unwrap();
    let big = put(dir.path(), "/etc/docker/daemon.json", "");
    std::fs::File::options().write(true).open(&big).unwrap().set_len(MAX_CONFIG_BYTES + 1).unwrap();
    let root = DeviceRoot::new(dir.path());
    let err = DeviceState::read(&root).unwrap_err();
    assert_eq!(exit_code_for(&err), EXIT_BAD_INPUT);
    assert!(
        err.to_string().contains("/etc/docker/daemon.json") && err.to_string().contains("bytes"),
        "{err}"
    );

    std::fs::remove_file(&big).unwrap();
    // A link to the host's /dev/zero names <root>/dev/zero, which does not exist: absent.
    link(dir.path(), "/etc/systemd/system/docker.service.d/edgeprep-proxy.conf", "/dev/zero");
    let state = DeviceState::read(&root).unwrap();
    assert_eq!(state.file("/etc/systemd/system/docker.service.d/edgeprep-proxy.conf"), None);

    // A directory where a certificate should be.
    std::fs::create_dir_all(dir.path().join("var/aziot/certs/edge-ca.pem")).unwrap();
    let err = DeviceState::read(&root).unwrap_err();
    assert_eq!(exit_code_for(&err), EXIT_BAD_INPUT);
    let message = err.to_string();
    assert!(message.starts_with("/var/aziot/certs/edge-ca.pem (under "), "{message}");
    assert!(message.contains("is a directory, not a regular file"), "{message}");
}

#[test]
fn a_fifo_at_config_toml_is_an_input_error_without_hanging_and_nothing_is_written() {
    let device = Device::new();
    let fifo = device.path("/etc/aziot/config.toml");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
    let answers = device.answers("hostname = \"edge-02\"\n");
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(EXIT_BAD_INPUT)
        .stderr(predicate::str::contains("/etc/aziot/config.toml").and(predicate::str::contains("FIFO")));
    assert!(!device.exists("/var/lib/edgeprep/backups"));
    assert!(device.calls().is_empty());
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
}

#[test]
fn a_symlinked_config_is_edited_at_its_target_and_rollback_restores_link_and_target() {
    for (name, text) in [("relative", "../../opt/image/config.toml"), ("absolute", "/opt/image/config.toml")]
    {
        let device = Device::new();
        device.write("/opt/image/config.toml", provisioned_config("edge-01"));
        std::fs::create_dir_all(device.path("/etc/aziot")).unwrap();
        symlink(text, device.path("/etc/aziot/config.toml")).unwrap();
        let answers = device.answers("hostname = \"edge-02\"\n");
        device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();

        let link = device.path("/etc/aziot/config.toml");
        assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from(text), "{name}: still the same link");
        assert_eq!(device.read("/opt/image/config.toml"), provisioned_config("edge-02"), "{name}");

        // Someone replaces the link with a copy; rollback puts the link back and the old bytes
        // into its target.
        std::fs::remove_file(&link).unwrap();
        std::fs::write(&link, provisioned_config("copy")).unwrap();
        device.edgeprep(&["rollback", "--yes"]).assert().success();
        assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from(text), "{name}: link restored");
        assert_eq!(
            device.read("/opt/image/config.toml"),
            provisioned_config("edge-01"),
            "{name}: target restored"
        );
    }
}

#[test]
fn writes_through_a_planted_parent_link_stay_inside_the_root() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // /etc/docker -> <a host directory>: in the root that names <root>/<that path>.
    link(dir.path(), "/etc/docker", outside.path().to_str().unwrap());
    for (how, root) in both(dir.path()) {
        atomic::write_in_root(&root, "/etc/docker/daemon.json", b"{}\n", 0o644, None).unwrap();
        assert!(!outside.path().join("daemon.json").exists(), "{how}: wrote outside the root");
        let inside = dir.path().join(outside.path().strip_prefix("/").unwrap()).join("daemon.json");
        assert_eq!(std::fs::read(&inside).unwrap(), b"{}\n", "{how}");
        // Parents the writer created are 0755.
        assert_eq!(std::fs::metadata(inside.parent().unwrap()).unwrap().mode() & 0o7777, 0o755, "{how}");
        std::fs::remove_file(&inside).unwrap();
    }
}

#[test]
fn the_writer_refuses_a_service_dir_that_is_a_symlink_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::create_dir_all(dir.path().join("var/aziot")).unwrap();
    link(dir.path(), "/var/aziot/certs", "/etc");
    for (how, root) in both(dir.path()) {
        let err =
            atomic::write_in_root(&root, "/var/aziot/certs/edge-ca.pem", b"x", 0o644, None).unwrap_err();
        assert!(format!("{err:#}").contains("/var/aziot/certs"), "{how}: {err:#}");
        assert_eq!(std::fs::read_dir(dir.path().join("etc")).unwrap().count(), 0, "{how}");
    }
}

#[test]
fn atomic_replacement_swaps_the_inode_and_an_open_reader_keeps_the_old_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let host = put(dir.path(), "/etc/aziot/config.toml", "old\n");
    let root = DeviceRoot::new(dir.path());
    let before = std::fs::metadata(&host).unwrap().ino();
    let reader = std::fs::File::open(&host).unwrap();
    atomic::write_in_root(&root, "/etc/aziot/config.toml", b"new\n", 0o640, None).unwrap();
    assert_ne!(std::fs::metadata(&host).unwrap().ino(), before);
    assert_eq!(std::fs::read(&host).unwrap(), b"new\n");
    assert_eq!(std::fs::metadata(&host).unwrap().mode() & 0o7777, 0o640);
    assert_eq!(std::io::read_to_string(reader).unwrap(), "old\n");
    let names: Vec<_> =
        std::fs::read_dir(host.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("config.toml")], "temporary file left behind");
}

#[test]
fn stale_temp_files_are_removed_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "/etc/aziot/.edgeprep-tmp-Ab12Cd", "half a secret");
    put(dir.path(), "/etc/aziot/config.toml", "keep");
    put(dir.path(), "/etc/aziot/.edgeprep-tmp-notes/keep", "a directory is not ours");
    let root = DeviceRoot::new(dir.path());
    let removed = atomic::remove_stale_temp_files(&root, &atomic::written_dirs()).unwrap();
    assert_eq!(removed, vec!["/etc/aziot/.edgeprep-tmp-Ab12Cd".to_string()]);
    assert!(!dir.path().join("etc/aziot/.edgeprep-tmp-Ab12Cd").exists());
    assert!(dir.path().join("etc/aziot/config.toml").exists());
    assert!(dir.path().join("etc/aziot/.edgeprep-tmp-notes/keep").exists());
}

const CERTS_UID: u32 = 993;
const KEYS_UID: u32 = 994;

/// A device with aziotcs/aziotks and an answers file installing a freshly generated Edge CA.
fn edge_ca_device() -> (Device, PathBuf) {
    let device = Device::new();
    device.write("/etc/passwd", format!("root:x:0:0::/root:/bin/sh\naziotks:x:{KEYS_UID}:{KEYS_UID}::/:/bin/false\naziotcs:x:{CERTS_UID}:{CERTS_UID}::/:/bin/false\n"));
    device.write("/etc/group", format!("root:x:0:\naziotks:x:{KEYS_UID}:\naziotcs:x:{CERTS_UID}:\n"));
    device.write("/etc/aziot/config.toml", provisioned_config("edge-01"));
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

/// The quickstart CA certd would have made, as PEM.
fn quickstart_ca() -> String {
    generate_chain(&GenerateOptions {
        common_name: "iotedged workload ca".to_string(),
        days: 90,
        key_type: KeyType::EcP256,
        now: time::OffsetDateTime::now_utc(),
    })
    .unwrap()
    .edge_cert_pem
}

#[test]
fn a_certd_certs_dir_symlinked_to_etc_moves_nothing_and_is_refused() {
    let (device, answers) = edge_ca_device();
    device.write("/etc/aziot-edged-ca-3f2a.cer", quickstart_ca());
    std::fs::create_dir_all(device.path("/var/lib/aziot/certd")).unwrap();
    symlink("/etc", device.path("/var/lib/aziot/certd/certs")).unwrap();
    let before = device.read("/etc/aziot-edged-ca-3f2a.cer");
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .timeout(Duration::from_secs(60))
        .assert()
        .code(EXIT_BAD_INPUT)
        .stderr(
            predicate::str::contains("/var/lib/aziot/certd/certs")
                .and(predicate::str::contains("symbolic link")),
        );
    assert_eq!(device.read("/etc/aziot-edged-ca-3f2a.cer"), before);
    assert!(!device.exists("/var/aziot/certs/edge-ca.pem"));
    assert!(!device.exists("/var/lib/edgeprep/backups"));
}

#[test]
fn only_certificates_of_the_previous_ca_leave_certds_directory() {
    let (device, answers) = edge_ca_device();
    device.write("/var/lib/aziot/certd/certs/aziot-edged-ca-3f2a.cer", quickstart_ca());
    device.write("/var/lib/aziot/certd/certs/notes.cer", "not a certificate at all\n");
    // A certificate, but from a CA that never was this device's Edge CA.
    device.write("/var/lib/aziot/certd/certs/other.cer", quickstart_ca());
    device.write("/var/lib/aziot/keyd/keys/device-id.key", "device identity key");
    device
        .edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()])
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    assert!(!device.exists("/var/lib/aziot/certd/certs/aziot-edged-ca-3f2a.cer"));
    assert_eq!(device.read("/var/lib/aziot/certd/certs/notes.cer"), "not a certificate at all\n");
    assert!(device.exists("/var/lib/aziot/certd/certs/other.cer"));
    assert!(device.exists("/var/lib/aziot/keyd/keys/device-id.key"));
}

#[test]
fn an_apply_removes_a_killed_runs_temp_file_beside_what_it_writes() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml", provisioned_config("edge-01"));
    device.write("/etc/aziot/.edgeprep-tmp-k1LLed", "hostname = \"half");
    let answers = device.answers("hostname = \"edge-02\"\n");
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    assert!(!device.exists("/etc/aziot/.edgeprep-tmp-k1LLed"));
    assert_eq!(device.read("/etc/aziot/config.toml"), provisioned_config("edge-02"));
    let names: Vec<_> =
        std::fs::read_dir(device.path("/etc/aziot")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("config.toml")]);
}

#[test]
fn creating_through_a_planted_dangling_link_creates_inside_the_root() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("edgeprep.log");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("var/log")).unwrap();
    link(dir.path(), "/var/log/edgeprep.log", target.to_str().unwrap());
    let inside = dir.path().join(target.strip_prefix("/").unwrap());
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    for (how, root) in both(dir.path()) {
        let flags = rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::APPEND | rustix::fs::OFlags::CREATE;
        let fd = root
            .open_with_mode("/var/log/edgeprep.log", flags, rustix::fs::Mode::from_raw_mode(0o600))
            .unwrap();
        rustix::io::write(&fd, b"line\n").unwrap();
        assert!(!target.exists(), "{how}: appended outside the root");
        assert_eq!(std::fs::read(&inside).unwrap(), b"line\n", "{how}");
        std::fs::remove_file(&inside).unwrap();
    }
}

#[test]
fn a_symlinked_daemon_json_is_edited_at_its_target_and_stays_a_link() {
    let device = Device::new();
    device.write("/etc/aziot/config.toml", provisioned_config("edge-01"));
    device.write("/data/docker/daemon.json", "{\n    \"storage-driver\": \"overlay2\"\n}\n");
    std::fs::create_dir_all(device.path("/etc/docker")).unwrap();
    symlink("/data/docker/daemon.json", device.path("/etc/docker/daemon.json")).unwrap();
    let answers = device.answers("[logging]\ndriver = \"local\"\nmax_size = \"10m\"\nmax_files = 3\n");
    device.edgeprep(&["apply", "--yes", "--answers", answers.to_str().unwrap()]).assert().success();
    let link = device.path("/etc/docker/daemon.json");
    assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from("/data/docker/daemon.json"));
    let edited = device.read("/data/docker/daemon.json");
    assert!(edited.contains("\"log-driver\": \"local\"") && edited.contains("overlay2"), "{edited}");
    device.edgeprep(&["rollback", "--yes"]).assert().success();
    assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from("/data/docker/daemon.json"));
    assert_eq!(device.read("/data/docker/daemon.json"), "{\n    \"storage-driver\": \"overlay2\"\n}\n");
}
