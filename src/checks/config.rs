//! Checks of `/etc/aziot/config.toml`: that IoT Edge reads what the file seems to say
//! (well-formed, applied, hostname), and the production choices it holds (upstream protocol,
//! agent image, image garbage collection, elevated permissions, host storage).

use std::time::SystemTime;

use super::probe::Parsed;
use super::{Facts, Outcome, Status};
use crate::answers::validate::{host_storage_problem, parse_image_ref, validate};
use crate::answers::{Answers, ImageGarbageCollection, UpstreamProtocol};
use crate::config_schema::{TOP_LEVEL_KEYS, known_keys};
use crate::paths::CONFIG_TOML;
pub use crate::plan::config_toml::ELEVATED;
pub use crate::plan::host_storage::split_bind;
use crate::plan::host_storage::{is_storage_folder_key, persisted_by};

/// `[a.b] key` for messages.
fn label(path: &[String], key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("[{}] {key}", path.join(".")) }
}

/// The line (1-based) where `key` is assigned under the header `[path]`, found by scanning the
/// text: good enough for messages, `None` for dotted or inline keys.
fn line_of(text: &str, path: &[String], key: &str) -> Option<usize> {
    let mut current: Vec<String> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let name = header.split(']').next().unwrap_or_default();
            current = name.split('.').map(|p| p.trim().trim_matches('"').to_string()).collect();
            // A table is "assigned" by its own header line.
            if current.len() == path.len() + 1 && current[..path.len()] == *path && current[path.len()] == key
            {
                return Some(index + 1);
            }
            continue;
        }
        if let Some((lhs, _)) = trimmed.split_once('=')
            && lhs.trim().trim_matches('"') == key
            && current == path
        {
            return Some(index + 1);
        }
    }
    None
}

/// The known key closest to `key` (a different case, or at most two edits away).
fn closest<'a>(key: &str, known: &'a [&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(&key.to_ascii_lowercase(), &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = current;
        }
    }
    row[b.len()]
}

/// Unknown and misplaced keys in `table` (at `path`) and the tables below it.
fn walk(table: &toml::Table, path: &mut Vec<String>, text: &str, out: &mut Vec<(Status, String)>) {
    let refs: Vec<&str> = path.iter().map(String::as_str).collect();
    let known = known_keys(&refs);
    for (key, value) in table {
        let at = line_of(text, path, key).map(|l| format!("line {l}: ")).unwrap_or_default();
        if !path.is_empty()
            && TOP_LEVEL_KEYS.contains(&key.as_str())
            && !known.is_some_and(|k| k.contains(&key.as_str()))
        {
            out.push((
                Status::Error,
                format!(
                    "{at}{} is inside [{}] because it comes after that table's header: IoT Edge ignores it as a top-level setting; move it above the first [table]",
                    key,
                    path.join(".")
                ),
            ));
            continue;
        }
        if let Some(known) = known
            && !known.contains(&key.as_str())
        {
            let hint = closest(key, known).map(|k| format!(" (did you mean {k}?)")).unwrap_or_default();
            out.push((
                Status::Warning,
                format!("{at}{} is not a key IoT Edge knows{hint}; it is silently ignored", label(path, key)),
            ));
            continue;
        }
        if known.is_some()
            && let toml::Value::Table(inner) = value
        {
            path.push(key.clone());
            walk(inner, path, text, out);
            path.pop();
        }
    }
}

/// config.toml parses the way `iotedge config apply` parses it: valid TOML, the required and
/// all-or-nothing tables complete, no key IoT Edge would silently ignore.
pub fn well_formed(facts: &Facts) -> Outcome {
    const FIX: &str = "edit /etc/aziot/config.toml at the lines named (edgeprep plan shows a corrected file for the keys it manages)";
    let table = match &facts.config {
        Parsed::Missing => {
            return Outcome::error(format!("{CONFIG_TOML} does not exist: IoT Edge is not configured"))
                .fix("answer [provisioning] and run edgeprep apply", Some("provisioning"));
        }
        Parsed::Invalid(message) => {
            return Outcome::error(format!("{message}; iotedge config apply refuses this file"))
                .fix(FIX, None);
        }
        Parsed::Ok(table) => table,
    };
    let text = facts.config_text.as_deref().unwrap_or_default();
    let mut findings = Vec::new();
    match table.get("provisioning").and_then(toml::Value::as_table) {
        None => findings.push((Status::Error, "[provisioning] is missing; IoT Edge requires it".to_string())),
        Some(p) => match p.get("source").and_then(toml::Value::as_str) {
            Some("manual" | "dps" | "none") => {}
            Some(other) => findings.push((
                Status::Error,
                format!("[provisioning] source = \"{other}\": must be \"manual\", \"dps\" or \"none\""),
            )),
            None => findings.push((Status::Error, "[provisioning] source is missing".to_string())),
        },
    }
    if let Some(agent) = table.get("agent").and_then(toml::Value::as_table) {
        let mut missing: Vec<&str> =
            ["name", "type"].into_iter().filter(|k| !agent.contains_key(*k)).collect();
        if facts.config_str(&["agent", "config"], "image").is_none() {
            missing.push("config.image");
        }
        if !missing.is_empty() {
            findings.push((
                Status::Error,
                format!(
                    "[agent] is incomplete (missing {}): IoT Edge cannot parse a partial [agent]; add name = \"edgeAgent\", type = \"docker\" and [agent.config] image",
                    missing.join(", ")
                ),
            ));
        }
        if let Some(env) = facts.config_table(&["agent", "env"]) {
            for (key, value) in env.iter().filter(|(_, v)| !v.is_str()) {
                findings.push((
                    Status::Error,
                    format!(
                        "[agent.env] {key} = {value}: must be a string (quote it); IoT Edge cannot parse it"
                    ),
                ));
            }
        }
    }
    if let Some(edge_ca) = table.get("edge_ca").and_then(toml::Value::as_table) {
        if edge_ca.is_empty() {
            findings.push((
                Status::Error,
                "[edge_ca] is empty: IoT Edge cannot parse it; remove the table or fill it in".to_string(),
            ));
        }
        if let Some(renew) = facts.config_table(&["edge_ca", "auto_renew"]) {
            let missing: Vec<&str> = ["rotate_key", "threshold", "retry"]
                .into_iter()
                .filter(|k| !renew.contains_key(*k))
                .collect();
            if !missing.is_empty() {
                findings.push((
                    Status::Error,
                    format!(
                        "[edge_ca.auto_renew] needs all of rotate_key, threshold and retry (missing {})",
                        missing.join(", ")
                    ),
                ));
            }
        }
    }
    if let Some(timeout) = table.get("cloud_timeout_sec").and_then(toml::Value::as_integer)
        && timeout < 70
    {
        findings.push((
            Status::Error,
            format!("cloud_timeout_sec = {timeout}: the identity service requires at least 70"),
        ));
    }
    let gc = gc_answers(facts);
    if let Some(gc) = gc {
        let found = validate(&Answers { image_garbage_collection: Some(gc), ..Answers::default() });
        findings.extend(found.errors.into_iter().map(|f| (Status::Error, f.message)));
    }
    walk(table, &mut Vec::new(), text, &mut findings);
    Outcome::from_findings(
        findings,
        format!("{CONFIG_TOML} parses as IoT Edge 1.4 parses it; every key is known"),
    )
    .fix(FIX, None)
}

/// `[image_garbage_collection]` read into the answers' model, so the same rules judge both.
fn gc_answers(facts: &Facts) -> Option<ImageGarbageCollection> {
    let t = facts.config_table(&["image_garbage_collection"])?;
    let s = |k: &str| t.get(k).and_then(toml::Value::as_str).map(str::to_string);
    Some(ImageGarbageCollection {
        enabled: t.get("enabled").and_then(toml::Value::as_bool),
        cleanup_recurrence: s("cleanup_recurrence"),
        image_age_cleanup_threshold: s("image_age_cleanup_threshold"),
        cleanup_time: s("cleanup_time"),
    })
}

/// config.toml is not newer than what `iotedge config apply` last wrote for each service.
pub fn applied(facts: &Facts) -> Outcome {
    let Some(config_time) = facts.probe.config_mtime else {
        return Outcome::skipped(format!("{CONFIG_TOML} does not exist"));
    };
    if facts.probe.applied.iter().all(|(_, time)| time.is_none()) {
        return Outcome::warning(
            "no /etc/aziot/*/config.d/00-super.toml exists: config.toml was never applied, IoT Edge's services do not use it",
        )
        .fix("run: sudo iotedge config apply (edgeprep apply runs it for you)", None);
    }
    let mut findings = Vec::new();
    for (service, time) in &facts.probe.applied {
        let output = format!("/etc/aziot/{service}/config.d/00-super.toml");
        match time {
            None => findings
                .push((Status::Warning, format!("{output} does not exist: config.toml was never applied"))),
            Some(t) if *t < config_time => findings.push((
                Status::Warning,
                format!("{CONFIG_TOML} was changed {} after {output} was written", ago(config_time, *t)),
            )),
            Some(_) => {}
        }
    }
    Outcome::from_findings(findings, "every service's configuration is newer than config.toml")
        .fix("run: sudo iotedge config apply (edgeprep apply runs it for you)", None)
}

fn ago(later: SystemTime, earlier: SystemTime) -> String {
    let secs = later.duration_since(earlier).map(|d| d.as_secs()).unwrap_or(0);
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", (secs + 30) / 60),
        7200..=172_799 => format!("{} h", (secs + 1800) / 3600),
        _ => format!("{} days", (secs + 43_200) / 86_400),
    }
}

/// `hostname` equals the OS hostname, or is an FQDN whose first label is it (or an IP): the
/// rule of `iotedge check`'s `hostname` check, plus the answers' format rules.
pub fn hostname(facts: &Facts) -> Outcome {
    if !matches!(facts.config, Parsed::Ok(_)) {
        return Outcome::skipped("config.toml is missing or does not parse (see config-well-formed)");
    }
    let os = facts.state.os_hostname.as_deref();
    let Some(configured) = facts.config_str(&[], "hostname") else {
        return match os {
            Some(os) => Outcome::ok(format!("not set: IoT Edge uses the OS hostname \"{os}\"")),
            None => Outcome::skipped("neither config.toml nor /etc/hostname sets a hostname"),
        };
    };
    let mut findings: Vec<(Status, String)> =
        validate(&Answers { hostname: Some(configured.to_string()), ..Answers::default() })
            .errors
            .into_iter()
            .map(|f| (Status::Error, f.message))
            .collect();
    match os {
        Some(os) if !hostname_matches(configured, os) => findings.push((
            Status::Error,
            format!("hostname \"{configured}\" is not the OS hostname \"{os}\" nor an FQDN starting with \"{os}.\"; iotedge check reports an error"),
        )),
        None => findings.push((Status::Warning, "/etc/hostname is missing: cannot compare with the OS hostname".into())),
        Some(_) => {}
    }
    Outcome::from_findings(findings, format!("hostname \"{configured}\" matches the OS hostname")).fix(
        "answer hostname (and set the OS hostname with hostnamectl if it is the one that is wrong)",
        Some("hostname"),
    )
}

fn hostname_matches(configured: &str, os: &str) -> bool {
    configured.parse::<std::net::IpAddr>().is_ok()
        || configured.eq_ignore_ascii_case(os)
        || configured.to_ascii_lowercase().starts_with(&format!("{}.", os.to_ascii_lowercase()))
}

/// The protocol as written in `[agent.env] UpstreamProtocol`, and its parsed value.
pub fn upstream(facts: &Facts) -> Option<(String, Option<UpstreamProtocol>)> {
    let env = facts.agent_env();
    let written = env.get("UpstreamProtocol")?.clone();
    let parsed = UpstreamProtocol::parse(&written);
    Some((written, parsed))
}

/// `[agent.env] UpstreamProtocol` is set, valid and spelled as `iotedge check` reads it.
pub fn upstream_protocol(facts: &Facts) -> Outcome {
    const FIX: &str = "answer [upstream] protocol (AmqpWs or MqttWs when only port 443 is open)";
    let key = Some("upstream.protocol");
    match upstream(facts) {
        None => Outcome::warning(
            "[agent.env] UpstreamProtocol is not set: edgeAgent tries Amqp (port 5671) and falls back to AmqpWs slowly; choose the protocol the site's firewall allows",
        )
        .fix(FIX, key),
        Some((written, None)) => Outcome::error(format!(
            "[agent.env] UpstreamProtocol = \"{written}\" is not Amqp, AmqpWs, Mqtt or MqttWs"
        ))
        .fix(FIX, key),
        Some((written, Some(p))) if written != p.as_str() => Outcome::warning(format!(
            "[agent.env] UpstreamProtocol = \"{written}\": the runtime accepts it, but iotedge check only understands \"{}\"",
            p.as_str()
        ))
        .fix(FIX, key),
        Some((_, Some(p))) => Outcome::ok(format!("UpstreamProtocol = \"{}\"", p.as_str())),
    }
}

/// Tags that move with every release (`1`, `1.4`).
fn is_rolling_tag(tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('.').collect();
    parts.len() <= 2 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The bootstrap edgeAgent image is a pinned version, not `.debug`, and a private registry has
/// credentials.
pub fn agent_image(facts: &Facts) -> Outcome {
    if !matches!(facts.config, Parsed::Ok(_)) {
        return Outcome::skipped("config.toml is missing or does not parse (see config-well-formed)");
    }
    let image = facts
        .config_str(&["agent", "config"], "image")
        .unwrap_or(crate::plan::config_toml::DEFAULT_AGENT_IMAGE)
        .to_string();
    let mut findings = Vec::new();
    let r = match parse_image_ref(&image) {
        Ok(r) => r,
        Err(problem) => {
            return Outcome::error(format!("[agent.config] image = \"{image}\" {problem}"))
                .fix("answer [agent] image with a pinned version", Some("agent.image"));
        }
    };
    let tag = r.tag.unwrap_or("latest");
    if r.repository.ends_with(".debug") || tag.contains("debug") {
        findings.push((Status::Error, format!("\"{image}\" is a debug image: not for production")));
    }
    if r.digest.is_none() && (tag == "latest" || is_rolling_tag(tag)) {
        findings.push((
            Status::Warning,
            format!("\"{image}\": :{tag} is a rolling tag that changes with every release; pin a version such as 1.4.43"),
        ));
    }
    let registry = r.registry.unwrap_or("docker.io");
    let public = registry.eq_ignore_ascii_case("mcr.microsoft.com");
    if !public {
        let auth = facts.config_table(&["agent", "config", "auth"]);
        let field =
            |k: &str| auth.and_then(|a| a.get(k)).and_then(toml::Value::as_str).filter(|v| !v.is_empty());
        match (field("serveraddress"), field("username"), field("password")) {
            (Some(server), Some(_), Some(_)) if !server.eq_ignore_ascii_case(registry) => findings.push((
                Status::Warning,
                format!("[agent.config.auth] serveraddress \"{server}\" is not the image's registry \"{registry}\""),
            )),
            (Some(_), Some(_), Some(_)) => {}
            _ => findings.push((
                Status::Warning,
                format!("the image comes from \"{registry}\" but [agent.config.auth] lacks serveraddress, username or password: the pull fails unless the registry is public"),
            )),
        }
    }
    let ok = if public {
        format!("\"{image}\" is pinned (Microsoft's public registry)")
    } else {
        format!("\"{image}\" is pinned, with credentials for {registry}")
    };
    Outcome::from_findings(findings, ok).fix(
        "answer [agent] image (a pinned 1.4.x) and [agent.auth] for a private registry",
        Some("agent.image"),
    )
}

/// `[image_garbage_collection]` is valid and enabled (IoT Edge 1.4 removes unused images).
pub fn image_garbage_collection(facts: &Facts) -> Outcome {
    let fix = |o: Outcome| o.fix("answer [image_garbage_collection]", Some("image_garbage_collection"));
    if !matches!(facts.config, Parsed::Ok(_)) {
        return Outcome::skipped("config.toml is missing or does not parse (see config-well-formed)");
    }
    let Some(gc) = gc_answers(facts) else {
        return Outcome::ok(
            "not configured: IoT Edge's defaults apply (daily at 00:00, images unused for 7 days)",
        );
    };
    let found = validate(&Answers { image_garbage_collection: Some(gc.clone()), ..Answers::default() });
    let mut findings: Vec<(Status, String)> =
        found.errors.into_iter().map(|f| (Status::Error, f.message)).collect();
    findings.extend(found.warnings.into_iter().map(|f| (Status::Warning, f.message)));
    if gc.enabled == Some(false) {
        findings.push((
            Status::Warning,
            "[image_garbage_collection] enabled = false: unused images pile up until the disk is full".into(),
        ));
    }
    fix(Outcome::from_findings(
        findings,
        format!(
            "enabled, every {} at {}, images unused for {}",
            gc.cleanup_recurrence.as_deref().unwrap_or("1d"),
            gc.cleanup_time.as_deref().unwrap_or("00:00"),
            gc.image_age_cleanup_threshold.as_deref().unwrap_or("7d")
        ),
    ))
}

/// `allow_elevated_docker_permissions = false`, so a deployment cannot start a privileged
/// module or add capabilities. The key and value are the ones the plan writes for the answer.
pub fn elevated_docker_permissions(facts: &Facts) -> Outcome {
    let Parsed::Ok(table) = &facts.config else {
        return Outcome::skipped("config.toml is missing or does not parse (see config-well-formed)");
    };
    match table.get(ELEVATED).and_then(toml::Value::as_bool) {
        Some(false) => Outcome::ok(format!("{ELEVATED} = false")),
        value => Outcome::warning(format!(
            "{ELEVATED} is {}: a deployment can start privileged modules or add capabilities",
            if value.is_some() { "true" } else { "not set (default true)" }
        ))
        .fix(
            format!("answer {ELEVATED} = false (edgeprep writes it at the top of config.toml), unless a module needs privileges"),
            Some(ELEVATED),
        ),
    }
}

/// `[agent.config] createOptions.HostConfig.Binds` as strings.
pub fn agent_binds(facts: &Facts) -> Vec<String> {
    facts
        .config_table(&["agent", "config", "createOptions", "HostConfig"])
        .and_then(|h| h.get("Binds"))
        .and_then(toml::Value::as_array)
        .map(|binds| binds.iter().filter_map(|b| b.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// edgeAgent's `storageFolder` lies inside a bind mount from the host, by IoT Edge's own rule
/// (shared with the plan: [`persisted_by`]), and the host directory exists and can hold it
/// (the answers' rule for `[agent] host_storage`).
pub fn host_storage(facts: &Facts) -> Outcome {
    const FIX: &str = "answer [agent] host_storage = \"/var/lib/edgeprep/edge-agent\": edgeprep binds it into edgeAgent at /iotedge/storage and sets [agent.env] storageFolder";
    let key = Some("agent.host_storage");
    if !matches!(facts.config, Parsed::Ok(_)) {
        return Outcome::skipped("config.toml is missing or does not parse (see config-well-formed)");
    }
    let env = facts.agent_env();
    let folder = env.iter().find(|(k, _)| is_storage_folder_key(k)).map(|(_, v)| v.clone());
    let binds = agent_binds(facts);
    let (storage, found) = persisted_by(folder.as_deref(), &binds);
    let Some((host, container)) = found else {
        let why = match &folder {
            None => "[agent.env] storageFolder is not set, so edgeAgent keeps its state in /tmp/edgeAgent inside the container".to_string(),
            Some(f) => format!("storageFolder \"{f}\" is not inside any bind mount from the host"),
        };
        return Outcome::warning(format!("{why}: it is lost whenever the container is recreated"))
            .fix(FIX, key);
    };
    if !host.starts_with('/') {
        return Outcome::ok(format!("{storage} is persisted in the docker volume \"{host}\""));
    }
    if let Some(problem) = host_storage_problem(host) {
        return Outcome::warning(format!("the host directory \"{host}\" bound to {container} {problem}"))
            .fix(FIX, key);
    }
    if facts.probe.bind_sources.get(host) == Some(&false) {
        return Outcome::error(format!(
            "the host directory \"{host}\" bound to {container} does not exist: docker cannot create edgeAgent"
        ))
        .fix(
            format!("create it: sudo mkdir -p {host} (edgeAgent 1.4 sets the owner of its subdirectory itself), or answer [agent] host_storage"),
            key,
        );
    }
    Outcome::ok(format!("{storage} is persisted in {host} on the host"))
}
