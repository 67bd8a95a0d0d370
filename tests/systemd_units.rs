//! The systemd units in assets/systemd: every one passes `systemd-analyze verify`, carries the
//! keys issue 8 requires, and is packaged by Cargo.toml's `[package.metadata.deb]`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn units_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/systemd")
}

/// Every unit file in assets/systemd (another change may add more: all are checked).
fn unit_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(units_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(p.extension().and_then(|e| e.to_str()), Some("service" | "timer" | "socket" | "path"))
        })
        .collect();
    files.sort();
    files
}

/// A unit file as section -> key -> values (a key may repeat), comments and blank lines dropped.
fn parse(path: &Path) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sections: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut current = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{}:{}: not key=value: {line}", path.display(), n + 1));
        assert!(!current.is_empty(), "{}:{}: key outside a section", path.display(), n + 1);
        sections
            .entry(current.clone())
            .or_default()
            .entry(key.trim().into())
            .or_default()
            .push(value.trim().into());
    }
    sections
}

fn unit(name: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    parse(&units_dir().join(name))
}

fn values<'a>(
    unit: &'a BTreeMap<String, BTreeMap<String, Vec<String>>>,
    section: &str,
    key: &str,
) -> Vec<&'a str> {
    unit.get(section)
        .and_then(|s| s.get(key))
        .map(|v| v.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

/// Run `systemd-analyze verify` on copies of `files` whose ExecStart names the built edgeprep
/// (verify refuses a unit whose binary does not exist). Returns the complaints about our units:
/// verify exits 0 on unknown keys and bad values, and only says so on stderr.
fn verify(files: &[PathBuf]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut copies = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .unwrap()
            .replace("/usr/bin/edgeprep", env!("CARGO_BIN_EXE_edgeprep"));
        let copy = dir.path().join(file.file_name().unwrap());
        std::fs::write(&copy, text).unwrap();
        copies.push(copy);
    }
    let output = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&copies)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let names: Vec<String> =
        files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let mut complaints: Vec<String> =
        stderr.lines().filter(|l| names.iter().any(|n| l.contains(n.as_str()))).map(str::to_string).collect();
    if !output.status.success() {
        complaints.push(format!("systemd-analyze verify exited with {}: {stderr}", output.status));
    }
    complaints
}

#[test]
#[cfg_attr(not(has_systemd_analyze), ignore = "needs systemd-analyze (apt-get install systemd)")]
fn every_unit_passes_systemd_analyze_verify() {
    let files = unit_files();
    for required in [
        "edgeprep-firstboot.service",
        "edgeprep-cert-status.service",
        "edgeprep-cert-status.timer",
        "edgeprep-revert-unconfirmed.service",
    ] {
        assert!(files.iter().any(|f| f.ends_with(required)), "{required} missing from assets/systemd");
    }
    let complaints = verify(&files);
    assert!(complaints.is_empty(), "systemd-analyze verify:\n{}", complaints.join("\n"));
}

#[test]
#[cfg_attr(not(has_systemd_analyze), ignore = "needs systemd-analyze (apt-get install systemd)")]
fn verify_reports_an_unknown_key_and_a_bad_value() {
    // The check above passes only if verify would have said something: prove it does.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("edgeprep-broken.service");
    std::fs::write(&bad, "[Unit]\nDescription=x\n\n[Service]\nType=oneshoot\nExecStartt=/usr/bin/edgeprep\nExecStart=/usr/bin/edgeprep check\n").unwrap();
    let complaints = verify(&[bad]);
    assert!(complaints.iter().any(|c| c.contains("oneshoot")), "{complaints:?}");
    assert!(complaints.iter().any(|c| c.contains("ExecStartt")), "{complaints:?}");
}

#[test]
fn firstboot_unit_runs_once_after_network_and_docker_and_not_before_aziot_edged() {
    let u = unit("edgeprep-firstboot.service");
    assert_eq!(values(&u, "Service", "Type"), ["oneshot"]);
    assert_eq!(values(&u, "Service", "ExecStart"), ["/usr/bin/edgeprep firstboot"]);
    let conditions = values(&u, "Unit", "ConditionPathExists");
    for path in edgeprep::firstboot::CANDIDATES {
        assert!(
            conditions.contains(&format!("|{path}").as_str()),
            "no ConditionPathExists=|{path}: {conditions:?}"
        );
    }
    assert_eq!(conditions.len(), edgeprep::firstboot::CANDIDATES.len(), "{conditions:?}");
    let after: Vec<&str> = values(&u, "Unit", "After").iter().flat_map(|v| v.split_whitespace()).collect();
    assert!(after.contains(&"network-online.target") && after.contains(&"docker.service"), "{after:?}");
    let wants: Vec<&str> = values(&u, "Unit", "Wants").iter().flat_map(|v| v.split_whitespace()).collect();
    assert!(wants.contains(&"network-online.target"), "{wants:?}");
    // iotedge config apply starts aziot-edged and waits for it: ordering this unit before it
    // would deadlock until the timeout.
    let before: Vec<&str> = values(&u, "Unit", "Before").iter().flat_map(|v| v.split_whitespace()).collect();
    assert!(!before.iter().any(|b| b.starts_with("aziot-edged")), "{before:?}");
    let text = std::fs::read_to_string(units_dir().join("edgeprep-firstboot.service")).unwrap();
    assert!(text.contains("NOT Before=aziot-edged.service"), "the comment saying why is missing");
    let timeout = values(&u, "Service", "TimeoutStartSec");
    assert_eq!(timeout.len(), 1, "TimeoutStartSec missing");
    assert!(!matches!(timeout[0], "0" | "infinity"), "TimeoutStartSec={}", timeout[0]);
    assert_eq!(values(&u, "Install", "WantedBy"), ["multi-user.target"]);
}

#[test]
fn cert_status_runs_daily_with_catch_up_and_a_randomized_delay_of_an_hour_or_more() {
    let service = unit("edgeprep-cert-status.service");
    assert_eq!(values(&service, "Service", "Type"), ["oneshot"]);
    assert_eq!(values(&service, "Service", "ExecStart"), ["/usr/bin/edgeprep cert status --json"]);
    let timer = unit("edgeprep-cert-status.timer");
    assert_eq!(values(&timer, "Timer", "OnCalendar"), ["daily"]);
    assert_eq!(values(&timer, "Timer", "Persistent"), ["true"]);
    let delay = values(&timer, "Timer", "RandomizedDelaySec");
    assert_eq!(delay.len(), 1, "RandomizedDelaySec missing");
    let seconds =
        humantime::parse_duration(delay[0]).map(|d| d.as_secs()).or_else(|_| delay[0].parse::<u64>());
    assert!(seconds.is_ok_and(|s| s >= 3600), "RandomizedDelaySec={} is under an hour", delay[0]);
    assert_eq!(values(&timer, "Install", "WantedBy"), ["timers.target"]);
}

#[test]
fn every_unit_in_assets_systemd_is_packaged_into_usr_lib_systemd_system() {
    let manifest: toml::Table =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
    let assets = manifest["package"]["metadata"]["deb"]["assets"].as_array().expect("deb assets");
    let packaged = |name: &str| {
        assets.iter().filter_map(|a| a.as_array()).any(|a| {
            let (source, dest) = (a[0].as_str().unwrap(), a[1].as_str().unwrap());
            (source == "assets/systemd/*" || source == format!("assets/systemd/{name}"))
                && dest.trim_start_matches('/').starts_with("usr/lib/systemd/system/")
        })
    };
    for file in unit_files() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(packaged(&name), "{name} is not among [package.metadata.deb] assets");
    }
}
