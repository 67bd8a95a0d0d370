//! edgeprep-firstboot.service when systemd stops it (its start timeout, or a shutdown during
//! the first boot): the apply rolls back on SIGTERM, and that rollback (restoring files, then
//! `iotedge config apply` and service restarts) must have time to finish before SIGKILL.

use std::path::Path;

/// `[Service] key=` of the unit, the last one set.
fn service_value(unit: &str, key: &str) -> Option<String> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/systemd").join(unit))
            .unwrap();
    let mut section = "";
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name;
        } else if section == "Service"
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            found = Some(v.trim().to_string());
        }
    }
    found
}

/// Seconds of a systemd time span written as `Nmin` or `Ns`/`N`.
fn seconds(span: &str) -> u64 {
    if let Some(min) = span.strip_suffix("min") {
        min.parse::<u64>().unwrap() * 60
    } else {
        span.trim_end_matches('s').parse().unwrap()
    }
}

#[test]
fn a_stopped_firstboot_has_minutes_to_roll_back_before_sigkill() {
    // systemd's default is 90 s, less than restarting docker and IoT Edge's daemons can take.
    let stop = service_value("edgeprep-firstboot.service", "TimeoutStopSec")
        .expect("TimeoutStopSec missing: systemd's 90 s default would SIGKILL a rollback midway");
    assert!(seconds(&stop) >= 5 * 60, "TimeoutStopSec={stop}");
}
