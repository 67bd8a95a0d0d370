//! Host checks (clock, disk) and the device inventory a device-management plan tracks.

use super::{Facts, Outcome, Status};

/// A device without a real-time clock starts at a wrong time until it synchronises; TLS to IoT
/// Hub fails until then, so time synchronisation must be configured.
pub fn clock_sync(facts: &Facts) -> Outcome {
    let services = &facts.probe.time_sync;
    match facts.probe.has_rtc {
        None if services.is_empty() => {
            Outcome::skipped("whether the device has a real-time clock is known only on the live device")
        }
        None => Outcome::ok(format!("time synchronisation configured: {}", services.join(", "))),
        Some(rtc) if !services.is_empty() => Outcome::ok(format!(
            "time synchronisation configured: {}{}",
            services.join(", "),
            if rtc { "" } else { " (no real-time clock)" }
        )),
        Some(true) => Outcome::warning("no time synchronisation service is enabled; the real-time clock drifts")
            .fix("enable one: sudo timedatectl set-ntp true", None),
        Some(false) => Outcome::error(
            "no real-time clock and no time synchronisation service: after a reboot the clock is wrong and TLS to IoT Hub fails",
        )
        .fix("enable one: sudo timedatectl set-ntp true (or install chrony)", None),
    }
}

const GIB: u64 = 1024 * 1024 * 1024;

/// Free space where docker keeps images, logs and volumes.
pub fn disk_space(facts: &Facts) -> Outcome {
    let Some(disk) = facts.probe.disk else {
        return Outcome::skipped("measured only on the live device (not with --root or --demo)");
    };
    let free_gib = disk.available as f64 / GIB as f64;
    let percent = if disk.total == 0 { 0.0 } else { disk.available as f64 * 100.0 / disk.total as f64 };
    let detail = format!("{free_gib:.1} GiB free ({percent:.0}%) for /var/lib/docker");
    let status = if disk.available < GIB / 4 {
        Status::Error
    } else if disk.available < GIB || percent < 10.0 {
        Status::Warning
    } else {
        Status::Ok
    };
    Outcome::from_findings(if status == Status::Ok { vec![] } else { vec![(status, detail.clone())] }, detail)
        .fix(
            "free space: unused images and volumes (docker image prune, docker volume prune), old logs",
            Some("logging"),
        )
}

/// What a device-management plan tracks, for the record.
pub fn device_inventory(facts: &Facts) -> Outcome {
    let unknown = |v: Option<&String>, why: &str| v.cloned().unwrap_or_else(|| format!("unknown ({why})"));
    let package = |names: &[&str]| {
        let packages = facts.probe.packages.as_ref()?;
        names.iter().find_map(|n| packages.get(*n).map(|v| format!("{n} {v}")))
    };
    let live_only = "only measured on the live device";
    let no_db = "no package database under the root";
    let mut lines = vec![
        format!("OS: {}", unknown(facts.probe.os_name.as_ref(), "no /etc/os-release")),
        format!("kernel: {}", unknown(facts.probe.kernel.as_ref(), live_only)),
        format!("architecture: {}", unknown(facts.probe.arch.as_ref(), live_only)),
        format!(
            "container engine: {}",
            unknown(package(&["moby-engine", "docker-ce", "docker.io"]).as_ref(), no_db)
        ),
        format!("IoT Edge: {}", unknown(package(&["aziot-edge"]).as_ref(), no_db)),
        format!("identity service: {}", unknown(package(&["aziot-identity-service"]).as_ref(), no_db)),
    ];
    lines.push(format!("Edge CA expires: {}", edge_ca_expiry(facts)));
    lines.push(format!(
        "last edgeprep apply: {}",
        facts.probe.last_apply.clone().unwrap_or_else(|| "never (no entry in /var/log/edgeprep.log)".into())
    ));
    Outcome::info(lines)
}

fn edge_ca_expiry(facts: &Facts) -> String {
    let Some(cert) = &facts.probe.edge_ca_cert else {
        return "quickstart or issued CA (not from files)".into();
    };
    let Ok(bytes) = &cert.contents else { return format!("unknown ({} unreadable)", cert.path) };
    let Ok(ders) = crate::certs::pem::load_certificates(bytes, &cert.path) else {
        return format!("unknown ({} holds no certificate)", cert.path);
    };
    ders.first()
        .and_then(|der| x509_parser::parse_x509_certificate(der).ok())
        .map(|(_, c)| crate::timestamp::rfc3339(c.validity().not_after.to_datetime()))
        .unwrap_or_else(|| format!("unknown ({} holds no certificate)", cert.path))
}
