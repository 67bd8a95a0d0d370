//! The facts the checks judge, gathered once: the [`DeviceState`] the plan uses, config.toml and
//! daemon.json parsed, and the few facts DeviceState does not read (file times, the Edge CA
//! files config.toml names, the package database, and live-only facts such as free disk space).
//!
//! Everything here reads; nothing changes the device. Files someone else controls go through
//! [`crate::input_file`]. Live-only facts are gathered only for the real device (`live`), so an
//! offline `--root` or the demo never measures the machine edgeprep happens to run on.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Result;
use time::OffsetDateTime;

use crate::device::{DeviceState, Ownership};
use crate::input_file::{self, MAX_CERT_BYTES, MAX_CONFIG_BYTES};
use crate::paths;
use crate::root::DeviceRoot;

/// The services `iotedge config apply` writes a `config.d/00-super.toml` for.
pub const APPLIED_SERVICES: [&str; 5] = ["keyd", "certd", "identityd", "tpmd", "edged"];

/// The package database (Debian/Ubuntu), for engine and IoT Edge versions.
pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";
pub const OS_RELEASE: &str = "/etc/os-release";

/// A parsed file, or why it is not.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<T> {
    Missing,
    /// The message says where and what (line and column when known).
    Invalid(String),
    Ok(T),
}

/// A file the probe read, with the mode and owner of it and of every directory above it (for
/// "readable by aziotcs" rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFact {
    /// Device path.
    pub path: String,
    /// The contents, or why they could not be read.
    pub contents: Result<Vec<u8>, String>,
    /// `(device path, ownership)` from `/` down to the file itself; `None` where it is missing.
    pub chain: Vec<(String, Option<Ownership>)>,
}

/// Free space of the filesystem holding the container engine's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskFree {
    pub available: u64,
    pub total: u64,
}

/// Facts that need the live device (or files DeviceState does not read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// The real device (root `/`, not the demo): live-only facts were measured.
    pub live: bool,
    pub config_mtime: Option<SystemTime>,
    /// Service → modification time of its `config.d/00-super.toml` (`None`: missing).
    pub applied: Vec<(&'static str, Option<SystemTime>)>,
    /// The files `[edge_ca] cert` and `pk` name (when they are `file://` URIs).
    pub edge_ca_cert: Option<FileFact>,
    pub edge_ca_key: Option<FileFact>,
    /// Host directory of each bind in edgeAgent's createOptions → it exists as a directory.
    pub bind_sources: BTreeMap<String, bool>,
    /// Installed package → version, from the package database; `None` when there is none.
    pub packages: Option<BTreeMap<String, String>>,
    /// `PRETTY_NAME` of `/etc/os-release`.
    pub os_name: Option<String>,
    pub kernel: Option<String>,
    pub arch: Option<String>,
    /// Whether the kernel sees a real-time clock (live only).
    pub has_rtc: Option<bool>,
    /// Time synchronisation configured on the device (`chrony`, `systemd-timesyncd`, `ntp`).
    pub time_sync: Vec<String>,
    pub disk: Option<DiskFree>,
    /// Dangling volume names, or why they could not be listed (live only).
    pub dangling_volumes: Option<Result<Vec<String>, String>>,
    /// Unit → the `https_proxy` systemd reports for it now (`systemctl show`, live only; empty
    /// when unset), or why it could not be asked.
    pub running_proxy: Vec<(&'static str, Result<String, String>)>,
    /// Time of the last edgeprep apply that changed the device, from the audit log.
    pub last_apply: Option<String>,
    /// What `check --network` found; `None` without `--network` (the network checks are then
    /// left out of the report).
    pub network: Option<super::network::NetworkFacts>,
}

/// Everything a check looks at.
#[derive(Debug, Clone)]
pub struct Facts {
    pub state: DeviceState,
    pub config: Parsed<toml::Table>,
    /// config.toml's text (for line numbers in messages).
    pub config_text: Option<String>,
    pub daemon: Parsed<serde_json::Value>,
    pub probe: Probe,
    pub now: OffsetDateTime,
}

impl Facts {
    /// Facts from a state and probe built by hand (tests, the wizard's preview).
    pub fn new(state: DeviceState, probe: Probe, now: OffsetDateTime) -> Self {
        let config_text = state.text(paths::CONFIG_TOML).ok().flatten().map(str::to_string);
        let config = match (state.file(paths::CONFIG_TOML), &config_text) {
            (None, _) => Parsed::Missing,
            (Some(_), None) => Parsed::Invalid(format!("{} is not valid UTF-8", paths::CONFIG_TOML)),
            (Some(_), Some(text)) => match text.parse::<toml::Table>() {
                Ok(table) => Parsed::Ok(table),
                Err(e) => Parsed::Invalid(toml_error(text, &e)),
            },
        };
        let daemon = match state.file(paths::DAEMON_JSON) {
            None => Parsed::Missing,
            Some(bytes) => match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(value) => Parsed::Ok(value),
                Err(e) => Parsed::Invalid(format!(
                    "{}: line {}, column {}: {e}",
                    paths::DAEMON_JSON,
                    e.line(),
                    e.column()
                )),
            },
        };
        Self { state, config, config_text, daemon, probe, now }
    }

    /// Read the device under `root` and probe it. `live`: the real device, whose live-only
    /// facts (clock, disk, container volumes) may be measured.
    pub fn gather(root: &DeviceRoot, live: bool, now: OffsetDateTime) -> Result<Self> {
        let state = DeviceState::read(root)?;
        let mut facts = Self::new(state, Probe::default(), now);
        facts.probe = Probe::gather(root, &facts, live);
        Ok(facts)
    }

    /// config.toml's table at `path`, if it is one.
    pub fn config_table(&self, path: &[&str]) -> Option<&toml::Table> {
        let Parsed::Ok(root) = &self.config else { return None };
        let mut table = root;
        for key in path {
            table = table.get(*key)?.as_table()?;
        }
        Some(table)
    }

    /// A string in config.toml.
    pub fn config_str(&self, path: &[&str], key: &str) -> Option<&str> {
        self.config_table(path)?.get(key)?.as_str()
    }

    /// `[agent.env]` as name → value (only string values, as IoT Edge requires).
    pub fn agent_env(&self) -> BTreeMap<String, String> {
        self.config_table(&["agent", "env"])
            .map(|env| env.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default()
    }
}

/// toml's message on one line, with its line and column up front.
fn toml_error(text: &str, err: &toml::de::Error) -> String {
    let (line, column) = err.span().map_or((1, 1), |s| crate::error::line_col(text, s.start));
    let what = err.message().split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{}: line {line}, column {column}: {what}", paths::CONFIG_TOML)
}

impl Probe {
    pub fn gather(root: &DeviceRoot, facts: &Facts, live: bool) -> Self {
        let mut probe = Probe { live, ..Probe::default() };
        probe.config_mtime = mtime(root, paths::CONFIG_TOML);
        probe.applied = APPLIED_SERVICES
            .iter()
            .map(|svc| (*svc, mtime(root, &format!("/etc/aziot/{svc}/config.d/00-super.toml"))))
            .collect();
        if let Some(cert) = facts.config_str(&["edge_ca"], "cert").and_then(device_path_of) {
            probe.edge_ca_cert = Some(file_fact(root, &cert, MAX_CERT_BYTES));
        }
        if let Some(pk) = facts.config_str(&["edge_ca"], "pk").and_then(device_path_of) {
            probe.edge_ca_key = Some(file_fact(root, &pk, MAX_CERT_BYTES));
        }
        for bind in config::agent_binds(facts) {
            if let Some((host, _)) = config::split_bind(&bind) {
                let is_dir = std::fs::metadata(root.path(host)).is_ok_and(|m| m.is_dir());
                probe.bind_sources.insert(host.to_string(), is_dir);
            }
        }
        probe.packages = read_text(root, DPKG_STATUS).map(|text| installed_packages(&text));
        probe.os_name = read_text(root, OS_RELEASE).and_then(|text| os_pretty_name(&text));
        probe.time_sync = time_sync_configs(root);
        probe.last_apply = crate::apply::audit::read_all(root)
            .ok()
            .and_then(|entries| {
                entries
                    .into_iter()
                    .rev()
                    .find(|e| e.action == "apply" && matches!(e.result.as_str(), "applied" | "listed"))
            })
            .map(|e| match e.result.as_str() {
                "listed" => format!("{} (files written, commands listed to run on the device)", e.time),
                _ => e.time,
            });
        if live {
            probe.kernel = read_text(root, "/proc/sys/kernel/osrelease").map(|k| k.trim().to_string());
            probe.arch = Some(std::env::consts::ARCH.to_string());
            probe.has_rtc = Some(std::fs::read_dir("/sys/class/rtc").is_ok_and(|mut d| d.next().is_some()));
            probe.disk = disk_free(root);
            probe.dangling_volumes = Some(
                run_bounded("docker", &["volume", "ls", "--quiet", "--filter", "dangling=true"])
                    .map(|out| out.lines().map(str::to_string).filter(|l| !l.is_empty()).collect()),
            );
            probe.running_proxy = paths::PROXY_UNITS
                .iter()
                .map(|unit| {
                    let shown = run_bounded("systemctl", &["show", "--property=Environment", unit]);
                    (*unit, shown.map(|out| https_proxy_of_show(&out)))
                })
                .collect();
        }
        probe
    }
}

use super::config;

/// The device path of a `file://` URI.
fn device_path_of(uri: &str) -> Option<String> {
    crate::certs::status::file_uri_path(uri).map(|p| p.display().to_string())
}

fn mtime(root: &DeviceRoot, device_path: &str) -> Option<SystemTime> {
    std::fs::metadata(root.path(device_path)).ok()?.modified().ok()
}

fn read_text(root: &DeviceRoot, device_path: &str) -> Option<String> {
    let bytes = input_file::read_regular_optional(&root.path(device_path), MAX_CONFIG_BYTES).ok()??;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn file_fact(root: &DeviceRoot, device_path: &str, limit: u64) -> FileFact {
    let contents = input_file::read_regular(&root.path(device_path), limit).map_err(|e| e.to_string());
    let mut chain = Vec::new();
    let mut current = String::new();
    chain.push(("/".to_string(), ownership(&root.path("/"))));
    for part in Path::new(device_path).components().skip(1) {
        current.push('/');
        current.push_str(&part.as_os_str().to_string_lossy());
        chain.push((current.clone(), ownership(&root.path(&current))));
    }
    FileFact { path: device_path.to_string(), contents, chain }
}

fn ownership(path: &Path) -> Option<Ownership> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Ownership { mode: meta.mode() & 0o7777, uid: meta.uid(), gid: meta.gid() })
}

/// Installed packages and their versions from a dpkg status file.
pub fn installed_packages(status: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stanza in status.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(str::trim))
        };
        if let (Some(package), Some(version), Some(state)) =
            (field("Package"), field("Version"), field("Status"))
            && state.ends_with(" installed")
        {
            out.insert(package.to_string(), version.to_string());
        }
    }
    out
}

fn os_pretty_name(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// Time synchronisation services configured on the device, by the files they leave.
fn time_sync_configs(root: &DeviceRoot) -> Vec<String> {
    const KNOWN: &[(&str, &str)] = &[
        ("/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service", "systemd-timesyncd (enabled)"),
        ("/etc/systemd/system/multi-user.target.wants/chrony.service", "chrony (enabled)"),
        ("/etc/systemd/system/multi-user.target.wants/chronyd.service", "chronyd (enabled)"),
        ("/etc/systemd/system/multi-user.target.wants/ntp.service", "ntp (enabled)"),
        ("/etc/systemd/system/multi-user.target.wants/ntpsec.service", "ntpsec (enabled)"),
    ];
    KNOWN
        .iter()
        .filter(|(path, _)| std::fs::symlink_metadata(root.path(path)).is_ok())
        .map(|(_, name)| name.to_string())
        .collect()
}

/// Free space where the container engine keeps images, volumes and logs.
fn disk_free(root: &DeviceRoot) -> Option<DiskFree> {
    let path = ["/var/lib/docker", "/var/lib", "/"].iter().map(|p| root.path(p)).find(|p| p.is_dir())?;
    let stat = rustix::fs::statvfs(&path).ok()?;
    Some(DiskFree { available: stat.f_bavail * stat.f_frsize, total: stat.f_blocks * stat.f_frsize })
}

/// `https_proxy` in `systemctl show --property=Environment` output, read the way
/// `iotedge check` reads it: words split on spaces, only the exact lowercase name.
pub fn https_proxy_of_show(output: &str) -> String {
    output
        .trim()
        .trim_start_matches("Environment=")
        .split(' ')
        .find_map(|word| word.strip_prefix("https_proxy="))
        .unwrap_or_default()
        .to_string()
}

/// Run `program args` and return its standard output, bounded in time: a hung engine or
/// systemd must not hang the report.
fn run_bounded(program: &str, args: &[&str]) -> Result<String, String> {
    let shown = format!("{program} {}", args.join(" "));
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{program} could not be run ({e})"))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{shown} did not answer within 5 seconds"));
            }
            Err(e) => return Err(format!("waiting for {program} failed ({e})")),
        }
    }
    let output = child.wait_with_output().map_err(|e| format!("reading {program}'s output failed ({e})"))?;
    if !output.status.success() {
        return Err(format!("{shown} failed ({})", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_https_proxy_from_systemctl_show_like_iotedge_check() {
        let out = "Environment=HTTPS_PROXY=http://a:1 https_proxy=http://b:2 no_proxy=localhost\n";
        assert_eq!(https_proxy_of_show(out), "http://b:2");
        assert_eq!(https_proxy_of_show("Environment=\n"), "");
    }

    #[test]
    fn reads_installed_packages_only() {
        let status = "Package: moby-engine\nStatus: install ok installed\nVersion: 20.10.25+azure-1\n\n\
                      Package: docker-ce\nStatus: deinstall ok config-files\nVersion: 5:24.0.0\n";
        let packages = installed_packages(status);
        assert_eq!(packages.get("moby-engine").map(String::as_str), Some("20.10.25+azure-1"));
        assert!(!packages.contains_key("docker-ce"));
    }

    #[test]
    fn config_syntax_errors_name_line_and_column() {
        let state = DeviceState::default().with_file(paths::CONFIG_TOML, "hostname = \"a\"\n[agent\n");
        let facts = Facts::new(state, Probe::default(), OffsetDateTime::UNIX_EPOCH);
        let Parsed::Invalid(message) = &facts.config else { panic!("{:?}", facts.config) };
        assert!(message.starts_with("/etc/aziot/config.toml: line 2, column"), "{message}");
    }
}
