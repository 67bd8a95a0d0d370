//! The device's firewall table: which hosts and ports it must reach, and through which proxy, as
//! a pure function of the facts (config.toml, daemon.json, the units' environment). Nothing here
//! touches the network, so the table is unit-tested on its own and [`super::connect`] only
//! executes it.

use super::super::Facts;
use super::super::config::upstream;
use super::super::probe::Parsed;
use crate::answers::UpstreamProtocol;
use crate::answers::validate::parse_image_ref;
use crate::paths::{DOCKER_UNIT, IDENTITYD_UNIT};
use crate::plan::unit_env;

pub const IOT_HUB: &str = "network-iot-hub";
pub const DPS: &str = "network-dps";
pub const REGISTRY: &str = "network-registry";
pub const MCR: &str = "network-mcr";

/// Microsoft's registry, where IoT Edge's runtime images (edgeAgent, edgeHub) come from.
pub const MCR_HOST: &str = "mcr.microsoft.com";
/// Where `docker pull` goes for an image without a registry (Docker Hub).
pub const DOCKER_HUB_HOST: &str = "registry-1.docker.io";

/// A proxy URL and where the device keeps it. The URL may hold a user and password, so `Debug`
/// masks it and messages use [`Proxy::shown`].
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub url: String,
    /// Where the traffic takes the proxy from, e.g. `[agent.env] https_proxy`.
    pub source: String,
}

impl Proxy {
    /// The URL with any password masked.
    ///
    /// The password is found as the answers and the probe find it (at the last `@`, then the
    /// first `:`), not only by the generic masker: a device's URL may hold a raw `/`, `#`, `?`
    /// or space in its password, which ends the authority for that masker, so it showed the
    /// whole password.
    pub fn shown(&self) -> String {
        let (scheme, rest) = match self.url.find("://") {
            Some(at) => self.url.split_at(at + 3),
            None => ("", self.url.as_str()),
        };
        let structural = match rest.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}{user}:{}@{host}", crate::secrets::MASK),
                None => self.url.clone(),
            },
            None => self.url.clone(),
        };
        crate::secrets::mask_known_secrets(&structural)
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy").field("url", &self.shown()).field("source", &self.source).finish()
    }
}

/// One host and port the device must reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// Who connects there and why, e.g. `IoT Hub over AmqpWs`.
    pub purpose: String,
    /// The proxy that traffic goes through; `None`: it connects directly.
    pub proxy: Option<Proxy>,
}

impl Endpoint {
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// What one network check will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Reach these endpoints; the notes explain choices the technician may not expect.
    Probe { endpoints: Vec<Endpoint>, notes: Vec<String> },
    /// Nothing to reach, and why.
    Skip(String),
    /// config.toml names a target that cannot be reached as written.
    Invalid { problem: String, fix: String, answers_key: Option<&'static str> },
}

/// A check id with its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: &'static str,
    pub plan: Plan,
}

/// The port a protocol uses: the WebSocket ones go over HTTPS.
pub fn port_of(protocol: UpstreamProtocol) -> u16 {
    match protocol {
        UpstreamProtocol::Amqp => 5671,
        UpstreamProtocol::Mqtt => 8883,
        UpstreamProtocol::AmqpWs | UpstreamProtocol::MqttWs => 443,
    }
}

/// The firewall table, one row per network check in report order. A host:port already probed
/// by an earlier `selected` row is not probed again (the later row says where to look).
pub fn table(facts: &Facts, selected: &dyn Fn(&str) -> bool) -> Vec<Row> {
    let mut rows = vec![
        Row { id: IOT_HUB, plan: iot_hub(facts) },
        Row { id: DPS, plan: dps(facts) },
        Row { id: REGISTRY, plan: registry(facts) },
        Row { id: MCR, plan: mcr(facts) },
    ];
    let mut seen: Vec<(String, u16, &'static str)> = Vec::new();
    for row in rows.iter_mut().filter(|row| selected(row.id)) {
        let Plan::Probe { endpoints, notes } = &mut row.plan else { continue };
        endpoints.retain(|e| {
            let key = e.host.to_ascii_lowercase();
            match seen.iter().find(|(h, p, _)| *h == key && *p == e.port) {
                Some((_, _, by)) => {
                    notes.push(format!("{} is probed by {by}", e.host_port()));
                    false
                }
                None => {
                    seen.push((key, e.port, row.id));
                    true
                }
            }
        });
        if endpoints.is_empty() {
            row.plan = Plan::Skip(notes.join("; "));
        }
    }
    rows
}

const NO_CONFIG: &str = "config.toml is missing or does not parse (see config-well-formed)";

/// A host name as DNS and an HTTP request line accept it; anything else (spaces, line breaks,
/// a URL) is refused before it reaches a socket or a proxy.
pub fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !host.starts_with(['.', '-'])
}

/// `host` or `host:port`, with the port when one is written.
fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host.to_string(), port.parse().ok().filter(|p| *p != 0)?)),
        None => Some((authority.to_string(), default_port)),
    }
}

fn provisioning_source(facts: &Facts) -> Option<&str> {
    facts.config_str(&["provisioning"], "source")
}

/// `parent_hostname` of a nested (lower-layer) device: its upstream is the parent, not IoT Hub.
fn parent_hostname(facts: &Facts) -> Option<&str> {
    facts.config_str(&[], "parent_hostname").filter(|p| !p.is_empty())
}

fn hub_host(facts: &Facts) -> Result<String, String> {
    if let Some(cs) = facts.config_str(&["provisioning"], "connection_string") {
        return cs
            .split(';')
            .filter_map(|part| part.split_once('='))
            .find(|(k, _)| k.trim() == "HostName")
            .map(|(_, v)| v.trim().to_string())
            .ok_or_else(|| "[provisioning] connection_string has no HostName=".to_string());
    }
    facts
        .config_str(&["provisioning"], "iothub_hostname")
        .map(str::to_string)
        .ok_or_else(|| "[provisioning] has neither connection_string nor iothub_hostname".to_string())
}

fn iot_hub(facts: &Facts) -> Plan {
    if !matches!(facts.config, Parsed::Ok(_)) {
        return Plan::Skip(NO_CONFIG.into());
    }
    match provisioning_source(facts) {
        Some("manual") => {}
        Some("dps") => {
            return Plan::Skip(
                "provisioning is dps: the IoT Hub is assigned at provisioning, so its host is not in config.toml (network-dps checks the provisioning service)"
                    .into(),
            );
        }
        Some(other) => {
            return Plan::Skip(format!("[provisioning] source = \"{other}\": no IoT Hub to reach"));
        }
        None => return Plan::Skip("config.toml has no [provisioning] source: no IoT Hub to reach".into()),
    }
    let (host, who) = match parent_hostname(facts) {
        Some(parent) => (parent.to_string(), "parent device (nested edge)"),
        None => match hub_host(facts) {
            Ok(host) => (host, "IoT Hub"),
            Err(problem) => {
                return Plan::Invalid {
                    problem,
                    fix: "answer [provisioning] connection_string and run edgeprep apply".into(),
                    answers_key: Some("provisioning"),
                };
            }
        },
    };
    if !valid_host(&host) {
        return Plan::Invalid {
            problem: format!("{host:?} is not a host name"),
            fix: "answer [provisioning] connection_string with the hub's HostName".into(),
            answers_key: Some("provisioning"),
        };
    }
    let mut notes = Vec::new();
    let protocol = match upstream(facts) {
        Some((_, Some(p))) => p,
        Some((written, None)) => {
            notes.push(format!(
                "UpstreamProtocol = \"{written}\" is not a protocol IoT Edge knows: it uses its default, Amqp on port 5671"
            ));
            UpstreamProtocol::Amqp
        }
        None => {
            notes.push(
                "UpstreamProtocol is not set: IoT Edge's default is Amqp on port 5671 (edgeAgent falls back to AmqpWs on 443)"
                    .into(),
            );
            UpstreamProtocol::Amqp
        }
    };
    let agent_proxy = agent_proxy(facts);
    let proxy = match (protocol, agent_proxy) {
        (UpstreamProtocol::AmqpWs | UpstreamProtocol::MqttWs, proxy) => proxy,
        (p, Some(_)) => {
            notes.push(format!(
                "the proxy carries only HTTPS and WebSocket traffic: {} connects directly (see proxy-protocol)",
                p.as_str()
            ));
            None
        }
        (_, None) => None,
    };
    let endpoint = Endpoint {
        port: port_of(protocol),
        host,
        purpose: format!("{who} over {}", protocol.as_str()),
        proxy,
    };
    Plan::Probe { endpoints: vec![endpoint], notes }
}

/// edgeAgent's proxy: `[agent.env] https_proxy` (the lowercase spelling first, as the checks read it).
fn agent_proxy(facts: &Facts) -> Option<Proxy> {
    let env = facts.agent_env();
    let (name, url) = env
        .get_key_value("https_proxy")
        .or_else(|| env.iter().find(|(k, _)| k.eq_ignore_ascii_case("https_proxy")))?;
    (!url.is_empty()).then(|| Proxy { url: url.clone(), source: format!("[agent.env] {name}") })
}

/// The proxy a unit's own HTTP client uses: `HTTPS_PROXY`, then `https_proxy`, as identityd's
/// and Go's (dockerd's) proxy lookup both do.
fn unit_proxy(facts: &Facts, unit: &str) -> Option<Proxy> {
    let env = unit_env::evaluate(&facts.state, unit);
    ["HTTPS_PROXY", "https_proxy"].iter().find_map(|name| {
        let url = env.get(name).filter(|v| !v.is_empty())?;
        Some(Proxy { url: url.to_string(), source: format!("the {unit} unit's {name}") })
    })
}

/// dockerd's proxy for `host:port`: daemon.json `proxies` win over its environment (Docker ≥ 23),
/// and a host its no-proxy list names is reached directly (the note says so).
fn docker_route(facts: &Facts, host: &str, port: u16) -> (Option<Proxy>, Option<String>) {
    let daemon = match &facts.daemon {
        Parsed::Ok(daemon) => Some(daemon),
        _ => None,
    };
    let from_daemon = |key: &str| {
        daemon
            .and_then(|d| d.pointer(&format!("/proxies/{key}")))
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let (proxy, no_proxy) = match from_daemon("https-proxy") {
        Some(url) => (
            Some(Proxy { url: url.to_string(), source: "daemon.json proxies.https-proxy".into() }),
            from_daemon("no-proxy")
                .map(|list| (list.to_string(), "daemon.json proxies.no-proxy".to_string())),
        ),
        None => {
            let env = unit_env::evaluate(&facts.state, DOCKER_UNIT);
            let no_proxy = ["NO_PROXY", "no_proxy"].iter().find_map(|name| {
                let list = env.get(name).filter(|v| !v.is_empty())?;
                Some((list.to_string(), format!("the {DOCKER_UNIT} unit's {name}")))
            });
            (unit_proxy(facts, DOCKER_UNIT), no_proxy)
        }
    };
    match (proxy, no_proxy) {
        (Some(_), Some((list, source))) if no_proxy_matches(&list, host, port) => {
            (None, Some(format!("{host} is in {source}: dockerd reaches it directly")))
        }
        (proxy, _) => (proxy, None),
    }
}

/// Whether a no-proxy list (`a.com,.b.com,*.c.com,host:5000,10.0.0.1,*`) names `host:port`,
/// as Go's proxy lookup (dockerd's) reads it. Networks in CIDR form are not evaluated.
pub fn no_proxy_matches(list: &str, host: &str, port: u16) -> bool {
    let host = host.to_ascii_lowercase();
    list.split(',').map(str::trim).filter(|e| !e.is_empty()).any(|entry| {
        if entry == "*" {
            return true;
        }
        let entry = entry.to_ascii_lowercase();
        let (name, entry_port) = match entry.rsplit_once(':') {
            Some((name, p)) if p.chars().all(|c| c.is_ascii_digit()) => {
                (name.to_string(), p.parse::<u16>().ok())
            }
            _ => (entry.clone(), None),
        };
        if entry_port.is_some_and(|p| p != port) {
            return false;
        }
        let name = name.strip_prefix('*').unwrap_or(&name);
        match name.strip_prefix('.') {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => host == name || host.ends_with(&format!(".{name}")),
        }
    })
}

fn dps(facts: &Facts) -> Plan {
    if !matches!(facts.config, Parsed::Ok(_)) {
        return Plan::Skip(NO_CONFIG.into());
    }
    if provisioning_source(facts) != Some("dps") {
        return Plan::Skip(
            "provisioning is not dps: the device does not use the provisioning service".into(),
        );
    }
    let invalid = |problem: String| Plan::Invalid {
        problem,
        fix: "answer [provisioning] global_endpoint (https://global.azure-devices-provisioning.net)".into(),
        answers_key: Some("provisioning"),
    };
    let Some(endpoint) = facts.config_str(&["provisioning"], "global_endpoint") else {
        return invalid("[provisioning] global_endpoint is missing".into());
    };
    let parsed = url::Url::parse(endpoint).ok();
    let host = parsed.as_ref().and_then(|u| u.host_str()).map(str::to_string);
    let port = parsed.as_ref().and_then(url::Url::port_or_known_default);
    match (host, port) {
        (Some(host), Some(port)) if valid_host(&host) => Plan::Probe {
            endpoints: vec![Endpoint {
                host,
                port,
                purpose: "Device Provisioning Service, used by aziot-identityd".into(),
                proxy: unit_proxy(facts, IDENTITYD_UNIT),
            }],
            notes: Vec::new(),
        },
        _ => invalid(format!(
            "[provisioning] global_endpoint \"{endpoint}\" is not an https:// URL with a host"
        )),
    }
}

/// The registry host of `[agent.config.auth] serveraddress` (written with or without a scheme).
fn server_address_host(server: &str) -> &str {
    let server = server.trim();
    let server = server.split_once("://").map_or(server, |(_, rest)| rest);
    server.split('/').next().unwrap_or_default()
}

fn registry(facts: &Facts) -> Plan {
    if !matches!(facts.config, Parsed::Ok(_)) {
        return Plan::Skip(NO_CONFIG.into());
    }
    let written = facts
        .config_str(&["agent", "config"], "image")
        .unwrap_or(crate::plan::config_toml::DEFAULT_AGENT_IMAGE)
        .to_string();
    // Nested devices write `$upstream` for the parent's registry; IoT Edge substitutes it.
    let image = match parent_hostname(facts) {
        Some(parent) => written.replace("$upstream", parent),
        None => written.clone(),
    };
    let invalid = |problem: String| Plan::Invalid {
        problem,
        fix: "answer [agent] image (registry/repository:tag)".into(),
        answers_key: Some("agent.image"),
    };
    let registry = match parse_image_ref(&image) {
        Ok(r) => r.registry.unwrap_or("docker.io").to_string(),
        Err(problem) => return invalid(format!("[agent.config] image = \"{written}\" {problem}")),
    };
    let mut authorities = vec![registry];
    if let Some(server) = facts.config_str(&["agent", "config", "auth"], "serveraddress") {
        let server = match parent_hostname(facts) {
            Some(parent) => server.replace("$upstream", parent),
            None => server.to_string(),
        };
        let host = server_address_host(&server);
        if !host.is_empty() && !authorities.iter().any(|a| a.eq_ignore_ascii_case(host)) {
            authorities.push(host.to_string());
        }
    }
    let mut endpoints = Vec::new();
    let mut notes = Vec::new();
    for authority in authorities {
        if authority.eq_ignore_ascii_case(MCR_HOST) {
            notes.push(format!("the agent image comes from {MCR_HOST}, which network-mcr probes"));
            continue;
        }
        let authority = if authority == "docker.io" || authority == "index.docker.io" {
            DOCKER_HUB_HOST.to_string()
        } else {
            authority
        };
        match split_host_port(&authority, 443) {
            Some((host, port)) if valid_host(&host) => {
                let (proxy, note) = docker_route(facts, &host, port);
                notes.extend(note);
                endpoints.push(Endpoint {
                    host,
                    port,
                    purpose: "agent image registry, pulled by dockerd".into(),
                    proxy,
                });
            }
            _ => return invalid(format!("{authority:?} is not a registry host")),
        }
    }
    if endpoints.is_empty() {
        return Plan::Skip(notes.join("; "));
    }
    Plan::Probe { endpoints, notes }
}

fn mcr(facts: &Facts) -> Plan {
    let (proxy, note) = docker_route(facts, MCR_HOST, 443);
    Plan::Probe {
        endpoints: vec![Endpoint {
            host: MCR_HOST.into(),
            port: 443,
            purpose: "Microsoft Container Registry, pulled by dockerd".into(),
            proxy,
        }],
        notes: note.into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_proxy_password_with_a_raw_slash_hash_or_space_is_masked_whole() {
        for url in [
            "http://bob:pa/ss@proxy:3128",
            "http://bob:pa#ss@proxy:3128",
            "http://bob:pa ss@proxy:3128",
            "http://bob:pa?ss@proxy:3128",
        ] {
            let proxy = Proxy { url: url.into(), source: "test".into() };
            let shown = proxy.shown();
            assert!(!shown.contains("pa") && !shown.contains("ss@"), "{url} shown as {shown}");
            assert!(shown.contains("bob:") && shown.contains("@proxy:3128"), "{shown}");
            assert!(!format!("{proxy:?}").contains("pa"), "{proxy:?}");
        }
    }
    use super::*;
    use crate::checks::probe::Probe;
    use crate::device::DeviceState;
    use crate::paths;

    const HUB: &str = "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=hub.azure-devices.net;DeviceId=d;SharedAccessKey=YWJj\"\n";

    fn facts_with(config: &str, extra: &[(&str, &str)]) -> Facts {
        let mut state = DeviceState::default().with_file(paths::CONFIG_TOML, config);
        for (path, text) in extra {
            state = state.with_file(path, *text);
            if let Some((dir, name)) = path.rsplit_once('/')
                && dir.ends_with(".service.d")
            {
                state = state.with_dir(dir, &[name]);
            }
        }
        Facts::new(state, Probe::default(), time::OffsetDateTime::UNIX_EPOCH)
    }

    fn all(facts: &Facts) -> Vec<Row> {
        table(facts, &|_| true)
    }

    fn plan<'a>(rows: &'a [Row], id: &str) -> &'a Plan {
        &rows.iter().find(|r| r.id == id).unwrap().plan
    }

    fn endpoints<'a>(rows: &'a [Row], id: &str) -> &'a [Endpoint] {
        match plan(rows, id) {
            Plan::Probe { endpoints, .. } => endpoints,
            other => panic!("{id}: {other:?}"),
        }
    }

    fn hub_with_protocol(protocol: &str) -> String {
        format!(
            "{HUB}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"\n[agent.env]\nUpstreamProtocol = \"{protocol}\"\n"
        )
    }

    #[test]
    fn hub_port_follows_the_upstream_protocol_in_any_case() {
        for (protocol, port) in
            [("AmqpWs", 443), ("mqttws", 443), ("Amqp", 5671), ("AMQP", 5671), ("Mqtt", 8883), ("MQTT", 8883)]
        {
            let rows = all(&facts_with(&hub_with_protocol(protocol), &[]));
            let hub = &endpoints(&rows, IOT_HUB)[0];
            assert_eq!((hub.host.as_str(), hub.port), ("hub.azure-devices.net", port), "{protocol}");
            assert!(hub.proxy.is_none());
        }
    }

    #[test]
    fn unset_protocol_probes_amqp_and_says_it_is_the_default() {
        let rows = all(&facts_with(HUB, &[]));
        let Plan::Probe { endpoints, notes } = plan(&rows, IOT_HUB) else { panic!() };
        assert_eq!(endpoints[0].port, 5671);
        assert!(notes[0].contains("not set: IoT Edge's default is Amqp"), "{notes:?}");
    }

    #[test]
    fn explicit_manual_provisioning_uses_iothub_hostname() {
        let config = "[provisioning]\nsource = \"manual\"\niothub_hostname = \"x.azure-devices.net\"\ndevice_id = \"d\"\n";
        let rows = all(&facts_with(config, &[]));
        assert_eq!(endpoints(&rows, IOT_HUB)[0].host, "x.azure-devices.net");
    }

    #[test]
    fn dps_skips_the_hub_and_probes_the_global_endpoint_on_443() {
        let config = "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net/\"\nid_scope = \"0ne\"\n";
        let rows = all(&facts_with(config, &[]));
        let Plan::Skip(reason) = plan(&rows, IOT_HUB) else { panic!() };
        assert!(reason.contains("assigned at provisioning"), "{reason}");
        let dps = &endpoints(&rows, DPS)[0];
        assert_eq!((dps.host.as_str(), dps.port), ("global.azure-devices-provisioning.net", 443));
        assert!(matches!(plan(&all(&facts_with(HUB, &[])), DPS), Plan::Skip(_)));
    }

    #[test]
    fn websocket_protocols_take_the_agent_proxy_and_raw_ones_connect_directly() {
        let with_proxy =
            |p: &str| format!("{}https_proxy = \"http://u:pw@proxy:3128\"\n", hub_with_protocol(p));
        let rows = all(&facts_with(&with_proxy("AmqpWs"), &[]));
        let proxy = endpoints(&rows, IOT_HUB)[0].proxy.clone().unwrap();
        assert_eq!(proxy.source, "[agent.env] https_proxy");
        assert!(!format!("{proxy:?}").contains("pw"), "Debug shows the password");
        let rows = all(&facts_with(&with_proxy("Mqtt"), &[]));
        let Plan::Probe { endpoints, notes } = plan(&rows, IOT_HUB) else { panic!() };
        assert!(endpoints[0].proxy.is_none());
        assert!(notes.iter().any(|n| n.contains("Mqtt connects directly")), "{notes:?}");
    }

    #[test]
    fn registries_take_dockers_proxy_from_daemon_json_before_its_unit() {
        let config = format!(
            "{HUB}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = \"contoso.azurecr.io/edge-agent:1.4.43\"\n[agent.config.auth]\nserveraddress = \"https://mirror.example.com/v2\"\nusername = \"u\"\npassword = \"p\"\n"
        );
        let dropin = "[Service]\nEnvironment=\"HTTPS_PROXY=http://unit-proxy:3128\"\n";
        let dropin_path = "/etc/systemd/system/docker.service.d/http-proxy.conf";
        let rows = all(&facts_with(&config, &[(dropin_path, dropin)]));
        let registries = endpoints(&rows, REGISTRY);
        let hosts: Vec<String> = registries.iter().map(Endpoint::host_port).collect();
        assert_eq!(hosts, ["contoso.azurecr.io:443", "mirror.example.com:443"]);
        assert_eq!(registries[0].proxy.as_ref().unwrap().source, "the docker unit's HTTPS_PROXY");
        let daemon = r#"{"proxies": {"https-proxy": "http://daemon-proxy:3128"}}"#;
        let rows = all(&facts_with(&config, &[(dropin_path, dropin), (paths::DAEMON_JSON, daemon)]));
        let proxy = endpoints(&rows, MCR)[0].proxy.clone().unwrap();
        assert_eq!(
            (proxy.url.as_str(), proxy.source.as_str()),
            ("http://daemon-proxy:3128", "daemon.json proxies.https-proxy")
        );
    }

    #[test]
    fn a_registry_in_dockers_no_proxy_is_reached_directly() {
        let config = format!(
            "{HUB}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = \"registry.corp:5000/agent:1.4.43\"\n"
        );
        let dropin = "[Service]\nEnvironment=\"HTTPS_PROXY=http://p:3128\" \"NO_PROXY=localhost,.corp\"\n";
        let rows = all(&facts_with(&config, &[("/etc/systemd/system/docker.service.d/proxy.conf", dropin)]));
        let Plan::Probe { endpoints: registry, notes } = plan(&rows, REGISTRY) else { panic!() };
        assert!(registry[0].proxy.is_none());
        assert_eq!(notes, &["registry.corp is in the docker unit's NO_PROXY: dockerd reaches it directly"]);
        assert!(endpoints(&rows, MCR)[0].proxy.is_some());
    }

    #[test]
    fn no_proxy_lists_match_like_gos_proxy_lookup() {
        for (list, host, port, expected) in [
            ("*", "mcr.microsoft.com", 443, true),
            ("microsoft.com", "mcr.microsoft.com", 443, true),
            (".microsoft.com", "microsoft.com", 443, false),
            ("*.microsoft.com", "mcr.microsoft.com", 443, true),
            ("crosoft.com", "mcr.microsoft.com", 443, false),
            ("reg.local:5000", "reg.local", 5000, true),
            ("reg.local:5000", "reg.local", 443, false),
            (" 10.0.0.5 , other", "10.0.0.5", 443, true),
            ("", "a", 443, false),
        ] {
            assert_eq!(no_proxy_matches(list, host, port), expected, "{list} / {host}:{port}");
        }
    }

    #[test]
    fn an_mcr_agent_image_is_probed_once_under_network_mcr() {
        let rows = all(&facts_with(&hub_with_protocol("AmqpWs"), &[]));
        let Plan::Skip(reason) = plan(&rows, REGISTRY) else { panic!() };
        assert!(reason.contains("network-mcr"), "{reason}");
        assert_eq!(endpoints(&rows, MCR)[0].host_port(), "mcr.microsoft.com:443");
    }

    #[test]
    fn same_host_and_port_is_probed_by_the_first_row_only() {
        let config = format!(
            "{HUB}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = \"hub.azure-devices.net/agent:1.4.43\"\n[agent.env]\nUpstreamProtocol = \"AmqpWs\"\n"
        );
        let rows = all(&facts_with(&config, &[]));
        let Plan::Skip(reason) = plan(&rows, REGISTRY) else { panic!() };
        assert_eq!(reason, "hub.azure-devices.net:443 is probed by network-iot-hub");
        let rows = table(&facts_with(&config, &[]), &|id| id != IOT_HUB);
        assert_eq!(endpoints(&rows, REGISTRY)[0].host_port(), "hub.azure-devices.net:443");
    }

    #[test]
    fn registry_ports_and_docker_hub_are_understood() {
        let image = |i: &str| {
            format!(
                "{HUB}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n[agent.config]\nimage = \"{i}\"\n"
            )
        };
        let rows = all(&facts_with(&image("registry.local:5000/agent:1.4.43"), &[]));
        assert_eq!(endpoints(&rows, REGISTRY)[0].host_port(), "registry.local:5000");
        let rows = all(&facts_with(&image("library/agent:1.4.43"), &[]));
        assert_eq!(endpoints(&rows, REGISTRY)[0].host_port(), "registry-1.docker.io:443");
    }

    #[test]
    fn a_host_that_could_smuggle_a_header_is_refused() {
        let config = "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=evil\\r\\nX: y;DeviceId=d;SharedAccessKey=YWJj\"\n";
        let rows = all(&facts_with(config, &[]));
        let Plan::Invalid { problem, .. } = plan(&rows, IOT_HUB) else {
            panic!("{:?}", plan(&rows, IOT_HUB))
        };
        assert_eq!(problem, r#""evil\r\nX: y" is not a host name"#);
        assert!(!valid_host("a b") && !valid_host("") && !valid_host("-x") && valid_host("a-b.c_d"));
    }

    #[test]
    fn a_nested_device_reaches_its_parent() {
        let config = format!("parent_hostname = \"gateway.local\"\n{}", hub_with_protocol("MqttWs"));
        let rows = all(&facts_with(&config, &[]));
        let hub = &endpoints(&rows, IOT_HUB)[0];
        assert_eq!(hub.host_port(), "gateway.local:443");
        assert!(hub.purpose.starts_with("parent device"), "{}", hub.purpose);
    }

    #[test]
    fn without_config_only_mcr_is_probed() {
        let facts = Facts::new(DeviceState::default(), Probe::default(), time::OffsetDateTime::UNIX_EPOCH);
        let rows = all(&facts);
        for id in [IOT_HUB, DPS, REGISTRY] {
            assert!(matches!(plan(&rows, id), Plan::Skip(r) if r.contains("config-well-formed")), "{id}");
        }
        assert_eq!(endpoints(&rows, MCR).len(), 1);
    }
}
