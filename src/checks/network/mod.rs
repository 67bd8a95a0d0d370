//! `check --network`: can the device reach what it needs (IoT Hub or its parent on the upstream
//! protocol's port, DPS, the agent image's registry, mcr.microsoft.com), directly or through the
//! proxy its traffic really takes?
//!
//! Three parts: [`targets`] derives the firewall table from the facts (pure), [`connect`]
//! executes it, and the check functions here judge the recorded [`NetworkFacts`] the way every
//! other check judges its facts, so [`super::run`] stays pure. Without `--network` nothing is
//! gathered and the network checks are left out of the report rather than listed as skipped:
//! a report (and the wizard's Overview, which never connects anywhere) reads as before.

pub mod connect;
pub mod targets;

use std::path::Path;
use std::time::Duration;

use self::connect::{Attempt, Failure};
use self::targets::{Endpoint, Plan, Row};
use super::{Facts, Outcome, Status};

/// How long one target may take, resolution included, unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What `--network` found; kept in [`super::probe::Probe::network`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFacts {
    /// No connection was made at all, and why (the demo device).
    pub not_probed: Option<String>,
    /// Said under every probed target (an offline image is probed from this machine).
    pub context: Option<String>,
    pub timeout: Duration,
    pub table: Vec<Row>,
    pub attempts: Vec<Attempt>,
}

/// Which device the table describes, which decides whether edgeprep may connect for it.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// The device edgeprep runs on.
    Device,
    /// The built-in demo: made up, so nothing is probed.
    Demo,
    /// An offline image under `--root`: its targets, reached from this machine.
    Image(&'a Path),
}

/// Build the table and probe the rows `selected` keeps (none for the demo).
pub fn gather(
    facts: &Facts,
    scope: Scope<'_>,
    selected: &dyn Fn(&str) -> bool,
    timeout: Duration,
) -> NetworkFacts {
    let mut network =
        NetworkFacts { not_probed: None, context: None, timeout, table: Vec::new(), attempts: Vec::new() };
    if let Scope::Demo = scope {
        network.not_probed = Some(
            "the demo device is made up: edgeprep makes no network connection for it (run check --network on the device)"
                .into(),
        );
        return network;
    }
    if let Scope::Image(root) = scope {
        network.context = Some(format!(
            "targets from the configuration under {}, reached from this machine rather than from the device",
            root.display()
        ));
    }
    network.table = targets::table(facts, selected);
    let endpoints: Vec<Endpoint> = network
        .table
        .iter()
        .filter(|row| selected(row.id))
        .filter_map(|row| match &row.plan {
            Plan::Probe { endpoints, .. } => Some(endpoints.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    network.attempts = connect::probe_all(&endpoints, timeout);
    network
}

pub fn iot_hub(facts: &Facts) -> Outcome {
    judge(facts, targets::IOT_HUB)
}

pub fn dps(facts: &Facts) -> Outcome {
    judge(facts, targets::DPS)
}

pub fn registry(facts: &Facts) -> Outcome {
    judge(facts, targets::REGISTRY)
}

pub fn mcr(facts: &Facts) -> Outcome {
    judge(facts, targets::MCR)
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{} s", d.as_secs()) } else { format!("{} ms", d.as_millis()) }
}

fn route(endpoint: &Endpoint) -> String {
    match &endpoint.proxy {
        None => "directly".into(),
        Some(proxy) => format!("via proxy {} ({})", proxy.shown(), proxy.source),
    }
}

/// One line for one endpoint, and the fix when it failed.
fn line(
    attempt: &Attempt,
    timeout: Duration,
    is_hub: bool,
) -> (Status, String, Option<(String, Option<&'static str>)>) {
    let e = &attempt.endpoint;
    let head = format!("{} ({}) {}", e.host_port(), e.purpose, route(e));
    let at = attempt.address.map(|a| format!(" at {a}")).unwrap_or_default();
    let ms = attempt.elapsed_ms;
    let failure = match &attempt.result {
        Ok(()) if e.proxy.is_some() => {
            return (Status::Ok, format!("{head}{at}: CONNECT answered 200 in {ms} ms"), None);
        }
        Ok(()) => return (Status::Ok, format!("{head}: reached{at} in {ms} ms"), None),
        Err(failure) => failure,
    };
    let hp = e.host_port();
    let proxy_fix = |text: String| Some((text, Some("proxy.url")));
    // The host resolves names with /etc/resolv.conf; only edgeAgent (a container) reaches the
    // hub with the container engine's DNS servers, which an answer sets.
    let resolve_fix = |host: &str| {
        let container = if is_hub { ", and containers with [dns] servers" } else { "" };
        Some((
            format!("make the device resolve {host}: the host uses /etc/resolv.conf{container}"),
            is_hub.then_some("dns.servers"),
        ))
    };
    let unreachable_fix = if let Some(proxy) = &e.proxy {
        proxy_fix(format!(
            "make sure the proxy {} is running and reachable, or answer [proxy] url with the right one",
            proxy.shown()
        ))
    } else if is_hub && e.port != 443 {
        Some((
            format!(
                "allow outbound TCP to {hp} in the site's firewall, or answer [upstream] protocol = \"AmqpWs\" (or \"MqttWs\") to use port 443"
            ),
            Some("upstream.protocol"),
        ))
    } else {
        proxy_fix(format!(
            "allow outbound TCP to {hp} in the site's firewall, or answer [proxy] url when the site requires a proxy"
        ))
    };
    let (text, fix) = match failure {
        Failure::BadProxy(why) => (
            format!("{head}: the proxy cannot be used: {why}"),
            proxy_fix("answer [proxy] url as http://host:port (with user:password@ when the proxy needs them)".into()),
        ),
        Failure::Resolve { host, message } if e.proxy.is_some() => (
            format!("{head}: the proxy's host {host} does not resolve ({message})"),
            proxy_fix("answer [proxy] url with a proxy host the device can resolve".into()),
        ),
        Failure::Resolve { host, message } => {
            (format!("{head}: {host} does not resolve ({message})"), resolve_fix(host))
        }
        Failure::Timeout { doing } => {
            let fix = if e.proxy.is_none() && doing.starts_with("resolving") {
                resolve_fix(&e.host)
            } else {
                unreachable_fix
            };
            (format!("{head}{at}: nothing within {} while {doing}", seconds(timeout)), fix)
        }
        Failure::Connect { to, message } => (format!("{head}: connecting to {to} failed: {message}"), unreachable_fix),
        Failure::ProxyAuth { sent_credentials: true } => (
            format!("{head}{at}: the proxy refused the user and password of its URL (407)"),
            proxy_fix("answer [proxy] url with a user and password the proxy accepts (http://user:password@host:port)".into()),
        ),
        Failure::ProxyAuth { sent_credentials: false } => (
            format!("{head}{at}: the proxy requires a user and password (407) and its URL has none"),
            proxy_fix("answer [proxy] url with the proxy's user and password (http://user:password@host:port)".into()),
        ),
        Failure::ProxyRefused { status } => (
            format!("{head}{at}: the proxy refused CONNECT {hp}: \"{status}\""),
            proxy_fix(format!("ask the proxy's administrator to allow CONNECT to {hp}, or answer [proxy] url with a proxy that does")),
        ),
        Failure::ProxyGarbled(why) => (
            format!("{head}{at}: {why}"),
            proxy_fix("answer [proxy] url with the site's HTTP proxy (http://host:port)".into()),
        ),
    };
    (Status::Error, text, fix)
}

fn judge(facts: &Facts, id: &str) -> Outcome {
    let Some(network) = &facts.probe.network else {
        return Outcome::skipped("run edgeprep check --network to probe it");
    };
    if let Some(why) = &network.not_probed {
        return Outcome::skipped(why.clone());
    }
    let Some(row) = network.table.iter().find(|r| r.id == id) else {
        return Outcome::skipped("not in this device's firewall table");
    };
    let (endpoints, notes) = match &row.plan {
        Plan::Skip(reason) => return Outcome::skipped(reason.clone()),
        Plan::Invalid { problem, fix, answers_key } => {
            return Outcome::error(problem.clone()).fix(fix.clone(), *answers_key);
        }
        Plan::Probe { endpoints, notes } => (endpoints, notes),
    };
    let mut status = Status::Ok;
    let mut details = Vec::new();
    let mut first_fix = None;
    for endpoint in endpoints {
        let (s, text, fix) = match network.attempts.iter().find(|a| a.endpoint == *endpoint) {
            Some(attempt) => line(attempt, network.timeout, id == targets::IOT_HUB),
            None => (Status::Error, format!("{} was not probed", endpoint.host_port()), None),
        };
        status = status.max(s);
        details.push(text);
        if first_fix.is_none() {
            first_fix = fix;
        }
    }
    details.extend(notes.iter().cloned());
    details.extend(network.context.iter().cloned());
    let outcome = Outcome { status, reason: None, details, fix: None };
    match first_fix {
        Some((text, key)) => outcome.fix(text, key),
        None => outcome,
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::targets::Proxy;
    use super::*;
    use crate::checks::probe::Probe;
    use crate::device::DeviceState;

    fn facts(network: Option<NetworkFacts>) -> Facts {
        let probe = Probe { network, ..Probe::default() };
        Facts::new(DeviceState::default(), probe, time::OffsetDateTime::UNIX_EPOCH)
    }

    fn hub(proxy: Option<&str>, port: u16) -> Endpoint {
        Endpoint {
            host: "hub.azure-devices.net".into(),
            port,
            purpose: "IoT Hub over Mqtt".into(),
            proxy: proxy.map(|url| Proxy { url: url.into(), source: "[agent.env] https_proxy".into() }),
        }
    }

    fn probed(endpoint: Endpoint, result: Result<(), Failure>) -> NetworkFacts {
        let attempt = Attempt {
            endpoint: endpoint.clone(),
            address: Some(SocketAddr::from(([10, 0, 0, 1], 3128))),
            elapsed_ms: 7,
            result,
        };
        NetworkFacts {
            not_probed: None,
            context: None,
            timeout: DEFAULT_TIMEOUT,
            table: vec![Row {
                id: targets::IOT_HUB,
                plan: Plan::Probe { endpoints: vec![endpoint], notes: vec![] },
            }],
            attempts: vec![attempt],
        }
    }

    #[test]
    fn without_network_facts_the_checks_ask_for_the_flag() {
        let o = iot_hub(&facts(None));
        assert_eq!(
            (o.status, o.reason.as_deref()),
            (Status::Skipped, Some("run edgeprep check --network to probe it"))
        );
    }

    #[test]
    fn an_unreachable_raw_protocol_port_points_at_the_websocket_protocols() {
        let failure = Failure::Connect { to: "hub:8883".into(), message: "Connection refused".into() };
        let o = iot_hub(&facts(Some(probed(hub(None, 8883), Err(failure)))));
        assert_eq!(o.status, Status::Error);
        let fix = o.fix.unwrap();
        assert_eq!(fix.answers_key.as_deref(), Some("upstream.protocol"));
        assert!(fix.text.contains("outbound TCP to hub.azure-devices.net:8883"), "{}", fix.text);
    }

    #[test]
    fn a_refused_password_is_named_without_showing_it() {
        let endpoint = hub(Some("http://bob:hunter2@proxy:3128"), 443);
        let o = iot_hub(&facts(Some(probed(endpoint, Err(Failure::ProxyAuth { sent_credentials: true })))));
        assert_eq!(o.status, Status::Error);
        assert!(o.details[0].contains("refused the user and password of its URL (407)"), "{:?}", o.details);
        assert!(o.details[0].contains("http://bob:********@proxy:3128"), "{:?}", o.details);
        assert!(!format!("{o:?}").contains("hunter2"));
        assert_eq!(o.fix.unwrap().answers_key.as_deref(), Some("proxy.url"));
    }

    #[test]
    fn a_reached_target_says_how_where_and_how_long() {
        let o = iot_hub(&facts(Some(probed(hub(Some("http://proxy:3128"), 443), Ok(())))));
        assert_eq!(o.status, Status::Ok);
        assert_eq!(
            o.details,
            [
                "hub.azure-devices.net:443 (IoT Hub over Mqtt) via proxy http://proxy:3128 ([agent.env] https_proxy) at 10.0.0.1:3128: CONNECT answered 200 in 7 ms"
            ]
        );
        assert!(o.fix.is_none());
    }

    #[test]
    fn a_name_that_does_not_resolve_points_at_the_resolver_not_the_firewall() {
        let failure =
            Failure::Resolve { host: "hub.azure-devices.net".into(), message: "no such host".into() };
        let o = iot_hub(&facts(Some(probed(hub(None, 443), Err(failure)))));
        let fix = o.fix.unwrap();
        assert_eq!(fix.answers_key.as_deref(), Some("dns.servers"));
        assert!(
            fix.text
                .starts_with("make the device resolve hub.azure-devices.net: the host uses /etc/resolv.conf")
        );
        let timeout = Failure::Timeout { doing: "resolving hub.azure-devices.net".into() };
        let o = iot_hub(&facts(Some(probed(hub(None, 443), Err(timeout)))));
        assert!(
            o.details[0].ends_with("nothing within 5 s while resolving hub.azure-devices.net"),
            "{:?}",
            o.details
        );
        assert!(o.fix.unwrap().text.contains("/etc/resolv.conf"));
    }

    #[test]
    fn the_report_lists_network_checks_only_when_the_network_was_gathered() {
        use crate::checks::{Section, Selection, names_network_check, run};
        let sections =
            |f: &Facts| run(f, &Selection::default()).results.iter().map(|r| r.section).collect::<Vec<_>>();
        assert!(!sections(&facts(None)).contains(&Section::Network));
        let demo = gather(&facts(None), Scope::Demo, &|_| true, DEFAULT_TIMEOUT);
        let with = sections(&facts(Some(demo)));
        assert_eq!(with.iter().filter(|s| **s == Section::Network).count(), 4);
        assert!(names_network_check(&["dns".into(), "network-dps".into()]));
        assert!(!names_network_check(&["dns".into(), "network".into()]));
    }

    #[test]
    fn the_demo_is_never_probed() {
        let f = facts(None);
        let network = gather(&f, Scope::Demo, &|_| true, DEFAULT_TIMEOUT);
        assert!(network.attempts.is_empty() && network.table.is_empty());
        let o = mcr(&facts(Some(network)));
        assert_eq!(o.status, Status::Skipped);
        assert!(o.reason.unwrap().contains("no network connection"));
    }
}
