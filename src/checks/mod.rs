//! The production checklist as one engine: every check is a pure function from [`Facts`] (the
//! device state plus the few live-only facts the [`probe`] gathers) to a [`CheckResult`].
//! `edgeprep check` and the wizard's Overview both call [`run`], so they cannot disagree.
//!
//! A result never carries a secret: details that quote a device value (a proxy URL) are masked
//! with [`crate::secrets`] before they leave the check.

pub mod certificates;
pub mod config;
pub mod engine;
pub mod host;
pub mod network;
pub mod probe;
pub mod proxy;
pub mod render;

use serde::Serialize;

pub use probe::Facts;

/// The outcome of one check. Ordered from best to worst for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Facts for the record (the device inventory); never a problem.
    Info,
    /// The check could not be evaluated here; `reason` says why.
    Skipped,
    Warning,
    Error,
}

/// Where a check is listed; the text report prints one heading per section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Section {
    Configuration,
    Certificates,
    Proxy,
    ContainerEngine,
    Host,
    DeviceManagement,
    /// `check --network`: the hosts and ports the device must reach.
    Network,
    /// `edgeprep manifest lint`: a deployment manifest rather than the device.
    Deployment,
}

impl Section {
    pub fn heading(self) -> &'static str {
        match self {
            Section::Configuration => "Configuration checks",
            Section::Certificates => "Certificate checks",
            Section::Proxy => "Proxy and network checks",
            Section::ContainerEngine => "Container engine checks",
            Section::Host => "Host checks",
            Section::DeviceManagement => "Device management",
            Section::Network => "Network checks",
            Section::Deployment => "Deployment manifest checks",
        }
    }
}

/// How to fix a finding: what to do, and the answers key (the wizard step that owns that key)
/// which makes edgeprep do it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub text: String,
    /// The answers file key, e.g. `upstream.protocol`; `None` when no answer covers it yet.
    pub answers_key: Option<String>,
}

/// One check's result, as shown in the text report and serialised in `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// Stable identifier, for `--only`/`--skip` and scripts.
    pub id: &'static str,
    pub section: Section,
    /// One line, the same whatever the outcome.
    pub title: &'static str,
    pub status: Status,
    /// Why the check was skipped (only for `skipped`).
    pub reason: Option<String>,
    /// What was found, one finding per line.
    pub details: Vec<String>,
    pub fix: Option<Fix>,
}

/// What a check function returns; [`run`] adds the id, section and title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub reason: Option<String>,
    pub details: Vec<String>,
    pub fix: Option<Fix>,
}

impl Outcome {
    pub fn ok(detail: impl Into<String>) -> Self {
        Self { status: Status::Ok, reason: None, details: vec![detail.into()], fix: None }
    }

    pub fn info(details: Vec<String>) -> Self {
        Self { status: Status::Info, reason: None, details, fix: None }
    }

    pub fn skipped(reason: impl Into<String>) -> Self {
        Self { status: Status::Skipped, reason: Some(reason.into()), details: Vec::new(), fix: None }
    }

    pub fn warning(detail: impl Into<String>) -> Self {
        Self { status: Status::Warning, reason: None, details: vec![detail.into()], fix: None }
    }

    pub fn error(detail: impl Into<String>) -> Self {
        Self { status: Status::Error, reason: None, details: vec![detail.into()], fix: None }
    }

    /// Several findings at once: the worst one decides the status; none means OK with `ok`.
    pub fn from_findings(findings: Vec<(Status, String)>, ok: impl Into<String>) -> Self {
        match findings.iter().map(|(s, _)| *s).max() {
            None => Self::ok(ok),
            Some(status) => Self {
                status,
                reason: None,
                details: findings.into_iter().map(|(_, d)| d).collect(),
                fix: None,
            },
        }
    }

    /// Attach the fix (kept only when there is something to fix).
    pub fn fix(mut self, text: impl Into<String>, answers_key: Option<&str>) -> Self {
        if matches!(self.status, Status::Warning | Status::Error) {
            self.fix = Some(Fix { text: text.into(), answers_key: answers_key.map(str::to_string) });
        }
        self
    }
}

/// A check in the catalogue.
pub struct Check {
    pub id: &'static str,
    pub section: Section,
    pub title: &'static str,
    pub run: fn(&Facts) -> Outcome,
}

/// Every check, in report order (grouped by section).
pub const CATALOGUE: &[Check] = &[
    Check {
        id: "config-well-formed",
        section: Section::Configuration,
        title: "config.toml is well-formed",
        run: config::well_formed,
    },
    Check {
        id: "config-applied",
        section: Section::Configuration,
        title: "config.toml changes are applied (iotedge config apply)",
        run: config::applied,
    },
    Check {
        id: "hostname",
        section: Section::Configuration,
        title: "config.toml hostname matches the OS hostname",
        run: config::hostname,
    },
    Check {
        id: "upstream-protocol",
        section: Section::Configuration,
        title: "upstream protocol is set explicitly",
        run: config::upstream_protocol,
    },
    Check {
        id: "agent-image",
        section: Section::Configuration,
        title: "production readiness: edgeAgent image is pinned and can be pulled",
        run: config::agent_image,
    },
    Check {
        id: "image-garbage-collection",
        section: Section::Configuration,
        title: "production readiness: image garbage collection",
        run: config::image_garbage_collection,
    },
    Check {
        id: "elevated-docker-permissions",
        section: Section::Configuration,
        title: "production readiness: modules cannot get elevated Docker permissions",
        run: config::elevated_docker_permissions,
    },
    Check {
        id: "host-storage",
        section: Section::Configuration,
        title: "production readiness: edgeAgent's storage is persisted on the host",
        run: config::host_storage,
    },
    Check {
        id: "production-certificates",
        section: Section::Certificates,
        title: "production readiness: Edge CA certificate",
        run: certificates::production_certificates,
    },
    Check {
        id: "proxy-settings",
        section: Section::Proxy,
        title: "proxy settings are identical in config.toml and the docker, aziot-edged and aziot-identityd units",
        run: proxy::proxy_settings,
    },
    Check {
        id: "proxy-protocol",
        section: Section::Proxy,
        title: "upstream protocol can pass the proxy",
        run: proxy::proxy_protocol,
    },
    Check { id: "dns", section: Section::Proxy, title: "container engine DNS servers", run: engine::dns },
    Check {
        id: "container-engine-moby",
        section: Section::ContainerEngine,
        title: "production readiness: container engine is Moby",
        run: engine::container_engine_moby,
    },
    Check {
        id: "logs-policy",
        section: Section::ContainerEngine,
        title: "production readiness: logs policy",
        run: engine::logs_policy,
    },
    Check {
        id: "unused-volumes",
        section: Section::ContainerEngine,
        title: "no unused container volumes",
        run: engine::unused_volumes,
    },
    Check {
        id: "clock-sync",
        section: Section::Host,
        title: "host clock is kept in sync",
        run: host::clock_sync,
    },
    Check { id: "disk-space", section: Section::Host, title: "free disk space", run: host::disk_space },
    Check {
        id: "device-inventory",
        section: Section::DeviceManagement,
        title: "device inventory",
        run: host::device_inventory,
    },
    // Listed only when `--network` gathered [`Probe::network`] (see [`run`]).
    Check {
        id: "network-iot-hub",
        section: Section::Network,
        title: "IoT Hub (or the parent device) is reachable on the upstream protocol's port",
        run: network::iot_hub,
    },
    Check {
        id: "network-dps",
        section: Section::Network,
        title: "Device Provisioning Service is reachable on port 443",
        run: network::dps,
    },
    Check {
        id: "network-registry",
        section: Section::Network,
        title: "the agent image's registry is reachable",
        run: network::registry,
    },
    Check {
        id: "network-mcr",
        section: Section::Network,
        title: "mcr.microsoft.com is reachable on port 443",
        run: network::mcr,
    },
];

/// Whether `--only` names a network check, which asks for the network as `--network` does.
pub fn names_network_check(ids: &[String]) -> bool {
    ids.iter().any(|id| CATALOGUE.iter().any(|c| c.id == id.as_str() && c.section == Section::Network))
}

/// Which checks to run: `--only` (when not empty) then minus `--skip`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub only: Vec<String>,
    pub skip: Vec<String>,
}

impl Selection {
    /// Unknown ids are bad usage: the message lists the valid ones.
    pub fn validate(&self) -> Result<(), String> {
        let unknown: Vec<&String> = self
            .only
            .iter()
            .chain(&self.skip)
            .filter(|id| !CATALOGUE.iter().any(|c| c.id == id.as_str()))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let names = unknown.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
        let valid = CATALOGUE.iter().map(|c| c.id).collect::<Vec<_>>().join(", ");
        Err(format!("unknown check id {names}; the checks are: {valid}"))
    }

    pub fn includes(&self, id: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|o| o == id)) && !self.skip.iter().any(|s| s == id)
    }
}

/// Counts per status, for the summary line and the exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub ok: usize,
    pub warning: usize,
    pub error: usize,
    pub skipped: usize,
    pub info: usize,
}

/// All results of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub results: Vec<CheckResult>,
    pub summary: Summary,
}

impl Report {
    /// Exit code: 1 with errors, or with warnings when `warnings_as_errors`; else 0.
    pub fn exit_code(&self, warnings_as_errors: bool) -> i32 {
        if self.summary.error > 0 || (warnings_as_errors && self.summary.warning > 0) {
            crate::error::EXIT_FAILED
        } else {
            crate::error::EXIT_OK
        }
    }

    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }
}

/// Run the selected checks over `facts`. Pure: the same facts give the same report. The network
/// checks are left out unless the facts hold what `--network` gathered.
pub fn run(facts: &Facts, selection: &Selection) -> Report {
    let mut results = Vec::new();
    let mut summary = Summary::default();
    let network = facts.probe.network.is_some();
    for check in
        CATALOGUE.iter().filter(|c| selection.includes(c.id) && (network || c.section != Section::Network))
    {
        let outcome = (check.run)(facts);
        match outcome.status {
            Status::Ok => summary.ok += 1,
            Status::Warning => summary.warning += 1,
            Status::Error => summary.error += 1,
            Status::Skipped => summary.skipped += 1,
            Status::Info => summary.info += 1,
        }
        let details = outcome.details.iter().map(|d| crate::secrets::mask_known_secrets(d)).collect();
        results.push(CheckResult {
            id: check.id,
            section: check.section,
            title: check.title,
            status: outcome.status,
            reason: outcome.reason,
            details,
            fix: outcome.fix,
        });
    }
    Report { results, summary }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_ids_are_unique_and_kebab_case() {
        let mut ids: Vec<&str> = CATALOGUE.iter().map(|c| c.id).collect();
        assert!(ids.iter().all(|id| id.chars().all(|c| c.is_ascii_lowercase() || c == '-')));
        let before = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), before);
    }

    #[test]
    fn selection_rejects_unknown_ids_and_names_the_valid_ones() {
        let sel = Selection { only: vec!["dsn".into()], skip: vec![] };
        let err = sel.validate().unwrap_err();
        assert!(err.contains("\"dsn\"") && err.contains("dns"), "{err}");
        let sel = Selection { only: vec!["dns".into(), "hostname".into()], skip: vec!["hostname".into()] };
        assert!(sel.validate().is_ok());
        assert!(sel.includes("dns") && !sel.includes("hostname") && !sel.includes("logs-policy"));
    }

    #[test]
    fn worst_finding_decides_the_status() {
        let o =
            Outcome::from_findings(vec![(Status::Warning, "a".into()), (Status::Error, "b".into())], "fine");
        assert_eq!(o.status, Status::Error);
        assert_eq!(o.details, ["a", "b"]);
        assert_eq!(Outcome::from_findings(vec![], "fine").status, Status::Ok);
    }
}
