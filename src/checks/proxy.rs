//! Proxy checks: the same `https_proxy` everywhere `iotedge check` compares it (edgeAgent's
//! environment in config.toml and the environment the docker, aziot-edged and aziot-identityd
//! units really get, evaluated from every drop-in and environment file by
//! [`crate::plan::unit_env`]), and an upstream protocol that can pass the proxy.

use super::config::upstream;
use super::probe::Parsed;
use super::{Facts, Outcome, Status};
use crate::answers::UpstreamProtocol;
use crate::paths::PROXY_UNITS;
use crate::plan::unit_env;

const FIX: &str = "answer [proxy] url and run edgeprep apply: it writes the same value everywhere";

fn shown(value: &str) -> String {
    if value.is_empty() { "(none)".to_string() } else { format!("\"{value}\"") }
}

pub fn proxy_settings(facts: &Facts) -> Outcome {
    let key = Some("proxy.url");
    let env = facts.agent_env();
    let agent = env.get("https_proxy").cloned().unwrap_or_default();
    let mut findings = Vec::new();
    if agent.is_empty() && env.keys().any(|k| k.eq_ignore_ascii_case("https_proxy")) {
        findings.push((
            Status::Warning,
            "[agent.env] spells the proxy variable in upper or mixed case: iotedge check only sees \"https_proxy\"".to_string(),
        ));
    }
    let mut values = vec![("[agent.env] https_proxy".to_string(), agent.clone())];
    // `systemctl show --property=Environment` does not show variables from environment files
    // (where edgeprep puts a proxy with a password), so those units cannot be compared live.
    let mut from_env_file = Vec::new();
    for unit in PROXY_UNITS {
        let evaluated = unit_env::evaluate(&facts.state, unit);
        for missing in &evaluated.missing_env_files {
            findings.push((
                Status::Error,
                format!(
                    "{unit}: EnvironmentFile={missing} does not exist, so systemd refuses to start the unit"
                ),
            ));
        }
        let value = evaluated.get("https_proxy").unwrap_or_default().to_string();
        if value.is_empty()
            && let Some(upper) = evaluated.get("HTTPS_PROXY")
        {
            findings.push((
                Status::Warning,
                format!("{unit} gets HTTPS_PROXY={} but no lowercase https_proxy, which is the one iotedge check compares", shown(upper)),
            ));
        }
        if evaluated
            .vars
            .get("https_proxy")
            .is_some_and(|s| matches!(s.assigned, unit_env::Assigned::EnvironmentFile { .. }))
        {
            from_env_file.push(unit);
        }
        values.push((format!("{unit} unit"), value));
    }
    let all_same = values.iter().all(|(_, v)| *v == agent);
    if !all_same {
        let listing =
            values.iter().map(|(who, v)| format!("{who}: {}", shown(v))).collect::<Vec<_>>().join("; ");
        findings.push((Status::Warning, format!("the proxy differs: {listing}")));
    }
    for (unit, running) in facts.probe.running_proxy.iter().filter(|(unit, _)| !from_env_file.contains(unit))
    {
        let on_disk = values.iter().find(|(who, _)| *who == format!("{unit} unit")).map(|(_, v)| v.as_str());
        match running {
            Ok(now) if Some(now.as_str()) != on_disk => findings.push((
                Status::Warning,
                format!(
                    "systemd still runs {unit} with https_proxy {} while its files say {}: run sudo systemctl daemon-reload and restart {unit}",
                    shown(now),
                    shown(on_disk.unwrap_or_default())
                ),
            )),
            Ok(_) => {}
            Err(why) => findings.push((Status::Info, format!("{unit}: systemd could not be asked ({why})"))),
        }
    }
    let ok = if agent.is_empty() {
        "no proxy is set anywhere".to_string()
    } else {
        format!(
            "https_proxy {} in [agent.env] and in the docker, aziot-edged and aziot-identityd units",
            shown(&agent)
        )
    };
    let notes: Vec<String> =
        findings.iter().filter(|(s, _)| *s == Status::Info).map(|(_, d)| d.clone()).collect();
    let problems = findings.into_iter().filter(|(s, _)| *s != Status::Info).collect();
    let mut outcome = Outcome::from_findings(problems, ok).fix(FIX, key);
    outcome.details.extend(notes);
    outcome
}

/// A proxy carries only HTTPS and WebSocket traffic: Amqp (5671) and Mqtt (8883) cannot pass it.
pub fn proxy_protocol(facts: &Facts) -> Outcome {
    if !matches!(facts.config, Parsed::Ok(_)) {
        return Outcome::skipped("config.toml is missing or does not parse (see config-well-formed)");
    }
    let env = facts.agent_env();
    let Some(proxy) = env.iter().find(|(k, _)| k.eq_ignore_ascii_case("https_proxy")).map(|(_, v)| v) else {
        return Outcome::ok("no proxy in [agent.env]: any protocol can be used");
    };
    let fix = "answer [upstream] protocol = \"AmqpWs\" (or \"MqttWs\")";
    let key = Some("upstream.protocol");
    match upstream(facts) {
        None => Outcome::warning(format!(
            "a proxy ({}) is set but UpstreamProtocol is not: edgeAgent tries Amqp on port 5671 first, which a proxy does not carry",
            shown(proxy)
        ))
        .fix(fix, key),
        Some((written, Some(p @ (UpstreamProtocol::Amqp | UpstreamProtocol::Mqtt)))) => Outcome::warning(format!(
            "UpstreamProtocol = \"{written}\" with a proxy: the proxy carries only HTTPS and WebSocket traffic; use {}Ws",
            p.as_str()
        ))
        .fix(fix, key),
        Some((written, Some(_))) => Outcome::ok(format!("UpstreamProtocol = \"{written}\" goes through the proxy on port 443")),
        Some((written, None)) => {
            Outcome::error(format!("UpstreamProtocol = \"{written}\" is not a protocol IoT Edge knows")).fix(fix, key)
        }
    }
}
