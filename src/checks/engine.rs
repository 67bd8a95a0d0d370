//! Container engine checks: daemon.json's log rotation and DNS (evaluated exactly as
//! `iotedge check` 1.4 does, iotedge-1.4.md §3.4 and §6), the engine package, unused volumes.

use super::probe::Parsed;
use super::{Facts, Outcome, Status};
use crate::paths::DAEMON_JSON;

/// `container-engine-logrotate`'s rule: journald, or any driver with explicit `max-size` and
/// `max-file` strings.
pub fn logs_policy(facts: &Facts) -> Outcome {
    let fix = |o: Outcome| {
        o.fix(
            "answer [logging] (driver = \"local\", max_size, max_files) and run edgeprep apply",
            Some("logging"),
        )
    };
    let daemon = match &facts.daemon {
        Parsed::Missing => {
            return fix(Outcome::warning(format!(
                "{DAEMON_JSON} does not exist: module logs are never rotated and can fill the disk"
            )));
        }
        Parsed::Invalid(message) => {
            return fix(Outcome::error(format!("{message}: dockerd does not start with it")));
        }
        Parsed::Ok(value) => value,
    };
    let driver = daemon.get("log-driver").and_then(|v| v.as_str());
    let opts = daemon.get("log-opts");
    let opt = |name: &str| opts.and_then(|o| o.get(name));
    let numeric: Vec<&str> =
        ["max-size", "max-file"].into_iter().filter(|n| opt(n).is_some_and(|v| !v.is_string())).collect();
    if !numeric.is_empty() {
        return fix(Outcome::error(format!(
            "log-opts {} must be strings (\"3\", not 3): dockerd and iotedge check refuse numbers",
            numeric.join(" and ")
        )));
    }
    match driver {
        Some("journald") => Outcome::ok("log-driver \"journald\": journald rotates module logs"),
        None => fix(Outcome::warning("no log-driver: docker's json-file default never rotates module logs")),
        Some(driver) => match (opt("max-size"), opt("max-file")) {
            (Some(size), Some(files)) => {
                Outcome::ok(format!("log-driver \"{driver}\", max-size {size}, max-file {files}"))
            }
            _ => fix(Outcome::warning(format!(
                "log-driver \"{driver}\" without both log-opts max-size and max-file: iotedge check warns, and json-file never rotates"
            ))),
        },
    }
}

/// `container-engine-dns`: daemon.json names DNS servers for containers.
pub fn dns(facts: &Facts) -> Outcome {
    let fix = |o: Outcome| {
        o.fix("answer [dns] servers (the site's DNS servers) and run edgeprep apply", Some("dns.servers"))
    };
    match &facts.daemon {
        Parsed::Missing => fix(Outcome::warning(format!(
            "{DAEMON_JSON} does not exist, so containers use docker's default DNS, which site firewalls often block"
        ))),
        Parsed::Invalid(message) => fix(Outcome::error(format!("{message}: dockerd does not start with it"))),
        Parsed::Ok(value) => {
            let servers: Vec<&str> = value
                .get("dns")
                .and_then(|d| d.as_array())
                .map(|a| a.iter().filter_map(|s| s.as_str()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            if servers.is_empty() {
                fix(Outcome::warning(
                    "daemon.json sets no dns servers: containers may not resolve IoT Hub behind a site firewall",
                ))
            } else {
                Outcome::ok(format!("containers use {}", servers.join(", ")))
            }
        }
    }
}

/// Microsoft supports IoT Edge in production on its Moby engine (`moby-engine`), not on
/// Docker CE or the distribution's docker.io.
pub fn container_engine_moby(facts: &Facts) -> Outcome {
    let Some(packages) = &facts.probe.packages else {
        return Outcome::skipped(
            "no package database (/var/lib/dpkg/status) under the root to tell the engine",
        );
    };
    if let Some(version) = packages.get("moby-engine") {
        return Outcome::ok(format!("moby-engine {version}"));
    }
    let others: Vec<String> = ["docker-ce", "docker.io", "docker-engine"]
        .iter()
        .filter_map(|p| packages.get(*p).map(|v| format!("{p} {v}")))
        .collect();
    if others.is_empty() {
        return Outcome::from_findings(
            vec![(Status::Error, "no container engine package is installed (moby-engine expected)".into())],
            "",
        )
        .fix("install Microsoft's engine: sudo apt-get install moby-engine", None);
    }
    Outcome::warning(format!(
        "{} is installed: Microsoft supports production IoT Edge on moby-engine",
        others.join(", ")
    ))
    .fix("replace it with Microsoft's engine: sudo apt-get install moby-engine", None)
}

/// Volumes no container uses fill the disk (IoT Edge's garbage collection removes images only).
pub fn unused_volumes(facts: &Facts) -> Outcome {
    match &facts.probe.dangling_volumes {
        None => {
            Outcome::skipped("needs the live device's container engine (not measured with --root or --demo)")
        }
        Some(Err(why)) => Outcome::skipped(why.clone()),
        Some(Ok(volumes)) if volumes.is_empty() => Outcome::ok("no dangling volumes"),
        Some(Ok(volumes)) => Outcome::warning(format!(
            "{} volume(s) no container uses: {}",
            volumes.len(),
            volumes.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ))
        .fix("remove them after checking they hold nothing needed: sudo docker volume prune", None),
    }
}
