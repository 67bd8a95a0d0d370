//! The deployment items of the production checklist as lint rules over a [`Manifest`]. Each
//! rule is a pure function; [`lint`] turns them into the same [`Report`] `edgeprep check`
//! prints, so both commands read alike and share their JSON shape.
//!
//! Severity follows issue 7: a protocol that is missing or disagrees (a deployment overriding
//! the device can cut it off), `.debug` images and an over-size `$edgeAgent` twin are errors;
//! the rest are warnings, and the two tuning suggestions are information.

use serde_json::Value;

use super::{DeviceFacts, Manifest, env_value};
use crate::answers::UpstreamProtocol;
use crate::checks::{CheckResult, Fix, Outcome, Report, Section, Status, Summary};

/// IoT Hub's limit on a module twin's desired properties; `$edgeAgent` carries the whole
/// deployment.
pub const TWIN_DESIRED_LIMIT: usize = 32 * 1024;
/// IoT Edge splits a longer `createOptions` into `createOptions01`.. chunks of this size.
pub const CREATE_OPTIONS_CHUNK: usize = 512;
/// Ports debuggers listen on: debugpy/ptvsd, Node's inspector, Java's JDWP, Delve, and the
/// Visual Studio remote debugger.
const DEBUGGER_PORTS: &[u16] = &[5678, 9229, 5005, 2345, 4020, 4022, 4024, 4026];
/// Registries that need no credentials for the images a deployment normally pulls from them.
const PUBLIC_REGISTRIES: &[&str] =
    &["mcr.microsoft.com", "docker.io", "registry-1.docker.io", "index.docker.io"];

/// A lint rule in the catalogue.
pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub run: fn(&Manifest, &DeviceFacts) -> Outcome,
}

/// Every rule, in report order.
pub const RULES: &[Rule] = &[
    Rule {
        id: "upstream-protocol",
        title: "edgeAgent and edgeHub set the device's UpstreamProtocol",
        run: upstream_protocol,
    },
    Rule { id: "https-proxy", title: "edgeAgent and edgeHub get the device's proxy", run: https_proxy },
    Rule { id: "image-tags", title: "images are pinned to a version", run: image_tags },
    Rule { id: "debug-images", title: "no .debug images", run: debug_images },
    Rule { id: "debugger-ports", title: "no debugger ports published", run: debugger_ports },
    Rule {
        id: "host-storage",
        title: "edgeAgent and edgeHub keep their storage on the host",
        run: host_storage,
    },
    Rule { id: "resource-limits", title: "custom modules have memory and CPU limits", run: resource_limits },
    Rule { id: "log-config", title: "module logs are rotated", run: log_config },
    Rule {
        id: "store-and-forward-ttl",
        title: "edgeHub's store-and-forward time to live is set",
        run: store_and_forward_ttl,
    },
    Rule {
        id: "optimize-for-performance",
        title: "edgeHub OptimizeForPerformance=false on constrained devices",
        run: optimize_for_performance,
    },
    Rule {
        id: "module-update-mode",
        title: "edgeAgent ModuleUpdateMode=WaitForAllPulls",
        run: module_update_mode,
    },
    Rule {
        id: "twin-size",
        title: "$edgeAgent desired properties fit IoT Hub's 32 KB twin limit",
        run: twin_size,
    },
    Rule {
        id: "create-options-length",
        title: "createOptions fit in one 512-character chunk",
        run: create_options_length,
    },
    Rule {
        id: "registry-credentials",
        title: "every private registry has credentials",
        run: registry_credentials,
    },
];

/// Lint `manifest` against `device`. Pure.
pub fn lint(manifest: &Manifest, device: &DeviceFacts) -> Report {
    let mut summary = Summary::default();
    let results = RULES
        .iter()
        .map(|rule| {
            let outcome = (rule.run)(manifest, device);
            match outcome.status {
                Status::Ok => summary.ok += 1,
                Status::Warning => summary.warning += 1,
                Status::Error => summary.error += 1,
                Status::Skipped => summary.skipped += 1,
                Status::Info => summary.info += 1,
            }
            CheckResult {
                id: rule.id,
                section: Section::Deployment,
                title: rule.title,
                status: outcome.status,
                reason: outcome.reason,
                details: outcome.details.iter().map(|d| crate::secrets::mask_known_secrets(d)).collect(),
                fix: outcome.fix,
            }
        })
        .collect();
    Report { results, summary }
}

/// A suggestion: information with the fix kept ([`Outcome::fix`] keeps it only for problems).
fn suggestion(detail: String, fix: &str) -> Outcome {
    Outcome {
        status: Status::Info,
        reason: None,
        details: vec![detail],
        fix: Some(Fix { text: fix.to_string(), answers_key: None }),
    }
}

fn upstream_protocol(m: &Manifest, device: &DeviceFacts) -> Outcome {
    const FIX: &str = "set env UpstreamProtocol on edgeAgent and edgeHub to the device's protocol (edgeprep manifest lint --fix does)";
    let mut findings = Vec::new();
    let mut seen = Vec::new();
    for name in ["edgeAgent", "edgeHub"] {
        let value = m.system_module(name).and_then(|module| env_value(module, "UpstreamProtocol"));
        match value {
            None => findings.push((
                Status::Error,
                format!(
                    "{name} has no UpstreamProtocol: it falls back to Amqp, which may not be the protocol the device's network allows"
                ),
            )),
            Some(v) => match UpstreamProtocol::parse(&v) {
                None => findings
                    .push((Status::Error, format!("{name} UpstreamProtocol \"{v}\" is not Amqp, AmqpWs, Mqtt or MqttWs"))),
                Some(p) => seen.push((name, p)),
            },
        }
    }
    if let [(_, a), (_, h)] = seen.as_slice()
        && a != h
    {
        findings.push((
            Status::Error,
            format!(
                "edgeAgent uses {} but edgeHub uses {}: set the same protocol on both",
                a.as_str(),
                h.as_str()
            ),
        ));
    }
    if let Some(dev) = device.protocol {
        let source = device.protocol_source.as_deref().unwrap_or("the device");
        for (name, p) in &seen {
            if *p != dev {
                findings.push((
                    Status::Error,
                    format!(
                        "{name} uses {} but the device uses {} ({source}): the deployment overrides the device, which can lose its connection",
                        p.as_str(),
                        dev.as_str()
                    ),
                ));
            }
        }
    }
    let ok = match (seen.first(), device.protocol) {
        (Some((_, p)), Some(_)) => format!("both use {}, as the device does", p.as_str()),
        (Some((_, p)), None) => {
            format!(
                "both use {} (the device's protocol is unknown: give --device-protocol or --root)",
                p.as_str()
            )
        }
        (None, _) => String::new(),
    };
    Outcome::from_findings(findings, ok).fix(FIX, None)
}

fn https_proxy(m: &Manifest, device: &DeviceFacts) -> Outcome {
    let Some(proxy) = &device.proxy else {
        return if device.device_known {
            Outcome::ok("the device uses no proxy")
        } else {
            Outcome::skipped("the device is unknown: give --root with the device's config.toml")
        };
    };
    let mut findings = Vec::new();
    for name in ["edgeAgent", "edgeHub"] {
        match m.system_module(name).and_then(|module| env_value(module, "https_proxy")) {
            None => findings.push((
                Status::Warning,
                format!(
                    "{name} has no https_proxy but the device uses the proxy {proxy}: it cannot reach IoT Hub"
                ),
            )),
            Some(v) if v != *proxy => findings
                .push((Status::Warning, format!("{name} has https_proxy {v} but the device uses {proxy}"))),
            Some(_) => {}
        }
    }
    Outcome::from_findings(findings, format!("both use the device's proxy {proxy}"))
        .fix("set env https_proxy on edgeAgent and edgeHub to the device's proxy (edgeprep manifest lint --fix does)", None)
}

/// A module's image (`settings.image`).
fn image(module: &Value) -> Option<&str> {
    module.get("settings")?.get("image")?.as_str()
}

/// The registry host and the tag of an image reference (`None` tag: untagged, i.e. `latest`).
fn split_image(image: &str) -> (Option<&str>, Option<&str>) {
    let without_digest = image.split('@').next().unwrap_or(image);
    let (registry, rest) = match without_digest.split_once('/') {
        Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, without_digest),
    };
    let tag = rest.rsplit_once(':').map(|(_, t)| t);
    (registry, tag)
}

/// A `$schema-template` placeholder (`${MODULES.filter}`): the real image is only known after
/// `iotedge dev build`, so its tag and registry cannot be judged here.
fn is_placeholder(image: &str) -> bool {
    image.contains("${")
}

/// Tags that move: `latest`, none, or a major or major.minor version (`1`, `1.4`), also with a
/// platform suffix (`1.4-linux-arm32v7`).
fn is_rolling(tag: Option<&str>) -> bool {
    match tag {
        None => true,
        Some(t) => {
            let version = t.split('-').next().unwrap_or(t);
            let parts: Vec<&str> = version.split('.').collect();
            t == "latest"
                || (parts.len() <= 2
                    && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
        }
    }
}

fn image_tags(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let findings = m
        .all_modules()
        .into_iter()
        .filter_map(|(name, module)| {
            let image = image(module)?;
            if image.contains('@') || is_placeholder(image) {
                return None;
            }
            let (_, tag) = split_image(image);
            is_rolling(tag).then(|| {
                (
                    Status::Warning,
                    format!(
                        "{name}: {image} is a rolling tag that changes under the device; pin a specific version"
                    ),
                )
            })
        })
        .collect();
    Outcome::from_findings(findings, "every image is pinned")
        .fix("use a specific version tag (or a digest) for every image", None)
}

fn debug_images(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let findings = m
        .all_modules()
        .into_iter()
        .filter_map(|(name, module)| {
            let image = image(module)?;
            let (_, tag) = split_image(image);
            // a template's `${MODULES.filter.debug}` becomes the module's debug image
            let debug = if is_placeholder(image) {
                image.contains(".debug}")
            } else {
                tag.is_some_and(|t| t.ends_with(".debug") || t.contains(".debug-") || t == "debug")
            };
            debug.then(|| {
                (Status::Error, format!("{name}: {image} is a debug image (debugger, no optimisation)"))
            })
        })
        .collect();
    Outcome::from_findings(findings, "no debug images").fix("build and deploy the release image", None)
}

/// A module's `createOptions` as an object: IoT Hub stores a JSON string (chunked into
/// `createOptions01`..), a `$schema-template` manifest may give the object itself.
fn create_options(module: &Value) -> Option<Value> {
    let settings = module.get("settings")?.as_object()?;
    match settings.get("createOptions")? {
        Value::String(first) => {
            let mut text = first.clone();
            for i in 1..100 {
                match settings.get(&format!("createOptions{i:02}")).and_then(Value::as_str) {
                    Some(chunk) => text.push_str(chunk),
                    None => break,
                }
            }
            serde_json::from_str(&text).ok()
        }
        obj @ Value::Object(_) => Some(obj.clone()),
        _ => None,
    }
}

/// `createOptions` as the twin holds it: its length in characters.
fn create_options_len(module: &Value) -> Option<usize> {
    let settings = module.get("settings")?.as_object()?;
    match settings.get("createOptions")? {
        Value::String(first) => Some(
            first.chars().count()
                + (1..100)
                    .map_while(|i| settings.get(&format!("createOptions{i:02}")).and_then(Value::as_str))
                    .map(|c| c.chars().count())
                    .sum::<usize>(),
        ),
        other => Some(other.to_string().chars().count()),
    }
}

/// Container ports a module publishes (`ExposedPorts` and `HostConfig.PortBindings` keys).
fn published_ports(options: &Value) -> Vec<u16> {
    let mut keys: Vec<&String> = Vec::new();
    if let Some(exposed) = options.get("ExposedPorts").and_then(Value::as_object) {
        keys.extend(exposed.keys());
    }
    if let Some(bound) =
        options.get("HostConfig").and_then(|h| h.get("PortBindings")).and_then(Value::as_object)
    {
        keys.extend(bound.keys());
    }
    let mut ports: Vec<u16> =
        keys.iter().filter_map(|k| k.split('/').next().and_then(|p| p.trim().parse().ok())).collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

fn debugger_ports(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let findings = m
        .all_modules()
        .into_iter()
        .flat_map(|(name, module)| {
            let ports = create_options(module).map(|o| published_ports(&o)).unwrap_or_default();
            ports
                .into_iter()
                .filter(|p| DEBUGGER_PORTS.contains(p))
                .map(move |p| (Status::Warning, format!("{name} publishes port {p}, a debugger's port")))
                .collect::<Vec<_>>()
        })
        .collect();
    Outcome::from_findings(findings, "no debugger ports published")
        .fix("remove the debugger's ExposedPorts and PortBindings from createOptions", None)
}

/// Container paths bound from the host (`HostConfig.Binds`, `host:container[:mode]`, and
/// `HostConfig.Mounts` targets).
fn bound_paths(options: &Value) -> Vec<String> {
    let host = options.get("HostConfig");
    let mut paths: Vec<String> = host
        .and_then(|h| h.get("Binds"))
        .and_then(Value::as_array)
        .map(|binds| {
            binds
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|b| b.split(':').nth(1).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(mounts) = host.and_then(|h| h.get("Mounts")).and_then(Value::as_array) {
        paths.extend(mounts.iter().filter_map(|m| m.get("Target")?.as_str().map(str::to_string)));
    }
    paths
}

fn is_inside(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

fn host_storage(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let mut findings = Vec::new();
    for name in ["edgeAgent", "edgeHub"] {
        let Some(module) = m.system_module(name) else {
            findings.push((Status::Warning, format!("{name} is missing from systemModules")));
            continue;
        };
        let binds = create_options(module).map(|o| bound_paths(&o)).unwrap_or_default();
        match env_value(module, "storageFolder") {
            None => findings.push((
                Status::Warning,
                format!("{name} has no storageFolder: it keeps its state in the container's /tmp, lost when the container is recreated"),
            )),
            Some(folder) if !binds.iter().any(|b| is_inside(&folder, b)) => findings.push((
                Status::Warning,
                format!("{name}'s storageFolder {folder} is not inside a directory bound from the host (HostConfig.Binds)"),
            )),
            Some(_) => {}
        }
    }
    Outcome::from_findings(findings, "edgeAgent and edgeHub keep their storage in a host directory").fix(
        "bind a host directory (HostConfig.Binds \"/var/lib/edge/NAME:/iotedge/storage\") and set env storageFolder to the container path",
        None,
    )
}

fn resource_limits(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let findings = m
        .custom_modules()
        .into_iter()
        .filter_map(|(name, module)| {
            let options = create_options(module);
            let host = options.as_ref().and_then(|o| o.get("HostConfig"));
            let has = |keys: &[&str]| {
                host.is_some_and(|h| {
                    keys.iter().any(|k| h.get(*k).and_then(Value::as_i64).is_some_and(|n| n > 0))
                })
            };
            let missing: Vec<&str> = [
                (!has(&["Memory"])).then_some("memory (HostConfig.Memory)"),
                (!has(&["NanoCpus", "CpuQuota", "CpuShares"])).then_some("CPU (HostConfig.NanoCpus)"),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!missing.is_empty())
                .then(|| (Status::Warning, format!("{name} has no {} limit", missing.join(" or "))))
        })
        .collect();
    Outcome::from_findings(findings, "every custom module has memory and CPU limits").fix(
        "set HostConfig.Memory (bytes) and HostConfig.NanoCpus (1000000000 = 1 CPU) in createOptions",
        None,
    )
}

fn log_config(m: &Manifest, device: &DeviceFacts) -> Outcome {
    if device.engine_logs == Some(true) {
        return Outcome::ok("the device's container engine has a log-driver in daemon.json");
    }
    let runtime_logging = m
        .agent_desired()
        .and_then(|d| d.get("runtime")?.get("settings")?.get("loggingOptions")?.as_str())
        .is_some_and(|s| !s.trim().is_empty());
    if runtime_logging {
        return Outcome::ok("runtime.settings.loggingOptions is set");
    }
    let engine = match device.engine_logs {
        Some(_) => "the device's daemon.json has no log-driver",
        None => "the device's daemon.json is unknown",
    };
    let findings = m
        .all_modules()
        .into_iter()
        .filter(|(_, module)| {
            create_options(module).and_then(|o| o.get("HostConfig")?.get("LogConfig").cloned()).is_none()
        })
        .map(|(name, _)| {
            (
                Status::Warning,
                format!("{name} has no HostConfig.LogConfig and {engine}: its logs grow without limit"),
            )
        })
        .collect();
    Outcome::from_findings(findings, "every module has a LogConfig").fix(
        "answer [logging] on the device (daemon.json log-driver), or set HostConfig.LogConfig with max-size and max-file",
        Some("logging"),
    )
}

fn store_and_forward_ttl(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let ttl =
        m.hub_desired().and_then(|d| d.get("storeAndForwardConfiguration")?.get("timeToLiveSecs")?.as_u64());
    match ttl {
        Some(secs) => Outcome::ok(format!("timeToLiveSecs = {secs}")),
        None => Outcome::warning(
            "$edgeHub has no storeAndForwardConfiguration.timeToLiveSecs: messages are kept only 7200 s (2 h) while offline",
        )
        .fix("set storeAndForwardConfiguration.timeToLiveSecs to how long the device may be offline", None),
    }
}

fn optimize_for_performance(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let value = m.system_module("edgeHub").and_then(|h| env_value(h, "OptimizeForPerformance"));
    match value {
        Some(v) if v.eq_ignore_ascii_case("false") => Outcome::ok("OptimizeForPerformance = false"),
        _ => suggestion(
            format!(
                "edgeHub OptimizeForPerformance is {}: on a constrained device (little memory or CPU), false makes edgeHub use less",
                value.as_deref().unwrap_or("not set (true)")
            ),
            "set env OptimizeForPerformance = \"false\" on edgeHub for constrained devices",
        ),
    }
}

fn module_update_mode(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let value = m.system_module("edgeAgent").and_then(|a| env_value(a, "ModuleUpdateMode"));
    match value {
        Some(v) if v.eq_ignore_ascii_case("WaitForAllPulls") => {
            Outcome::ok("ModuleUpdateMode = WaitForAllPulls")
        }
        _ => suggestion(
            format!(
                "edgeAgent ModuleUpdateMode is {}: modules restart one by one as their images arrive",
                value.as_deref().unwrap_or("not set (NonBlocking)")
            ),
            "set env ModuleUpdateMode = \"WaitForAllPulls\" on edgeAgent to pull every image before restarting modules",
        ),
    }
}

fn twin_size(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let Some(desired) = m.agent_desired() else {
        return Outcome::error("$edgeAgent has no \"properties.desired\"");
    };
    let size = as_deployed(desired).to_string().len();
    let percent = size * 100 / TWIN_DESIRED_LIMIT;
    let detail = format!("$edgeAgent desired properties: {size} of {TWIN_DESIRED_LIMIT} bytes ({percent}%)");
    let fix = "keep module configuration in each module's own twin, or point modules to external storage";
    if size > TWIN_DESIRED_LIMIT {
        Outcome::error(format!("{detail}: IoT Hub refuses the deployment")).fix(fix, None)
    } else if percent >= 80 {
        Outcome::warning(format!("{detail}: little room left for more modules")).fix(fix, None)
    } else {
        Outcome::ok(detail)
    }
}

/// Desired properties as IoT Hub stores them: a template's `createOptions` objects become JSON
/// strings (escaped, so longer), which is what counts against the limit.
fn as_deployed(desired: &Value) -> Value {
    let mut out = desired.clone();
    for group in ["systemModules", "modules"] {
        let Some(modules) = out.get_mut(group).and_then(Value::as_object_mut) else { continue };
        for module in modules.values_mut() {
            if let Some(options) = module.get_mut("settings").and_then(|s| s.get_mut("createOptions"))
                && options.is_object()
            {
                *options = Value::String(options.to_string());
            }
        }
    }
    out
}

fn create_options_length(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let findings = m
        .all_modules()
        .into_iter()
        .filter_map(|(name, module)| {
            let len = create_options_len(module)?;
            (len > CREATE_OPTIONS_CHUNK).then(|| {
                (
                    Status::Warning,
                    format!(
                        "{name}: createOptions is {len} characters, more than {CREATE_OPTIONS_CHUNK}: it is split into createOptions01.. chunks, easy to break when edited by hand in the portal"
                    ),
                )
            })
        })
        .collect();
    Outcome::from_findings(
        findings,
        format!("every createOptions is at most {CREATE_OPTIONS_CHUNK} characters"),
    )
    .fix("shorten createOptions (move configuration to the module twin or env)", None)
}

fn registry_credentials(m: &Manifest, _: &DeviceFacts) -> Outcome {
    let addresses: Vec<String> = m
        .agent_desired()
        .and_then(|d| d.get("runtime")?.get("settings")?.get("registryCredentials")?.as_object())
        .map(|creds| {
            creds
                .values()
                .filter_map(|c| c.get("address")?.as_str())
                .map(|a| a.trim_start_matches("https://").trim_end_matches('/').to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let mut missing: Vec<String> = Vec::new();
    for (name, module) in m.all_modules() {
        let Some(image) = image(module).filter(|i| !is_placeholder(i)) else { continue };
        let (Some(registry), _) = split_image(image) else { continue };
        let registry = registry.to_ascii_lowercase();
        if PUBLIC_REGISTRIES.contains(&registry.as_str()) || addresses.contains(&registry) {
            continue;
        }
        missing.push(format!(
            "{name} pulls from {registry}, which has no entry in runtime.settings.registryCredentials"
        ));
    }
    missing.dedup();
    Outcome::from_findings(
        missing.into_iter().map(|d| (Status::Warning, d)).collect(),
        "every private registry has credentials",
    )
    .fix(
        "add runtime.settings.registryCredentials.NAME = {username, password, address} for the registry",
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_registry_and_tag() {
        assert_eq!(
            split_image("mcr.microsoft.com/azureiotedge-agent:1.4"),
            (Some("mcr.microsoft.com"), Some("1.4"))
        );
        assert_eq!(split_image("localhost:5000/m"), (Some("localhost:5000"), None));
        assert_eq!(split_image("library/redis:7.2.4"), (None, Some("7.2.4")));
        assert!(is_rolling(Some("1.4")) && is_rolling(Some("latest")) && is_rolling(None));
        assert!(!is_rolling(Some("1.4.43")) && !is_rolling(Some("1.0.2-amd64")));
        assert!(is_rolling(Some("1.4-linux-arm32v7")) && !is_rolling(Some("1.4.10-linux-arm32v7")));
    }

    fn manifest_with_module_image(image: &str) -> Manifest {
        let text = serde_json::json!({"modulesContent": {
            "$edgeAgent": {"properties.desired": {"systemModules": {}, "modules": {"m": {"settings": {"image": image}}}}},
            "$edgeHub": {"properties.desired": {}}
        }})
        .to_string();
        Manifest::parse(&text, "m.json").unwrap()
    }

    #[test]
    fn twin_size_counts_template_create_options_as_the_strings_iot_hub_stores() {
        let options = serde_json::json!({"HostConfig": {"Binds": ["/a:/b"]}});
        let desired = serde_json::json!({"modules": {"m": {"settings": {"createOptions": options}}}});
        let deployed = as_deployed(&desired);
        assert_eq!(deployed["modules"]["m"]["settings"]["createOptions"], options.to_string());
        assert!(deployed.to_string().len() > desired.to_string().len());
    }

    #[test]
    fn template_placeholders_are_not_judged_as_tags_but_debug_ones_are_errors() {
        let device = DeviceFacts::default();
        let release = manifest_with_module_image("${MODULES.filter}");
        assert_eq!(image_tags(&release, &device).status, Status::Ok);
        assert_eq!(registry_credentials(&release, &device).status, Status::Ok);
        assert_eq!(debug_images(&release, &device).status, Status::Ok);
        let debug = manifest_with_module_image("${MODULES.filter.debug}");
        assert_eq!(debug_images(&debug, &device).status, Status::Error);
        let rolling = manifest_with_module_image(
            "mcr.microsoft.com/azureiotedge-simulated-temperature-sensor:1.4-linux-arm32v7",
        );
        assert_eq!(image_tags(&rolling, &device).status, Status::Warning);
    }

    #[test]
    fn storage_folder_must_lie_in_a_bound_directory() {
        assert!(is_inside("/iotedge/storage", "/iotedge/storage/"));
        assert!(is_inside("/iotedge/storage/x", "/iotedge/storage"));
        assert!(!is_inside("/iotedge/storagex", "/iotedge/storage"));
    }
}
