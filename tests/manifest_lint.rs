//! `edgeprep manifest lint`: every rule on a fixture that passes it and one that fails it, the
//! device's protocol, proxy and log settings taken from `--root`, the `--json` schema (pinned by
//! a snapshot) and the exit codes.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::Device;

const AGENT_ENV_PROXY: &str = "http://tech:proxy-pass-77@proxy.local:3128";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifest").join(name)
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// Write `text` as a manifest beside (not inside) the device root.
fn manifest(device: &Device, text: &str) -> PathBuf {
    let path = device.dir.path().join("deployment.json");
    std::fs::write(&path, text).unwrap();
    path
}

/// A device whose config.toml sets `[agent.env]` (extra lines appended there).
fn device_with_env(env: &str) -> Device {
    let device = Device::new();
    device.write(
        "/etc/aziot/config.toml",
        format!(
            "{}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"\n\n[agent.env]\n{env}",
            common::provisioned_config("edge-01")
        ),
    );
    device
}

/// Run `manifest lint` and return (exit code, stdout, stderr).
fn lint(device: &Device, file: &Path, args: &[&str]) -> (i32, String, String) {
    let output =
        device.edgeprep(&["manifest", "lint"]).arg(file).args(args).env_remove("NO_COLOR").output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// Status of every rule, from `--json`.
fn statuses(
    device: &Device,
    file: &Path,
    args: &[&str],
) -> (i32, BTreeMap<String, String>, serde_json::Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (code, out, err) = lint(device, file, &all);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let map = value["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string()))
        .collect();
    (code, map, value)
}

fn details(value: &serde_json::Value, id: &str) -> String {
    let result = value["results"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap();
    result["details"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect::<Vec<_>>().join("\n")
}

#[test]
fn production_manifest_passes_every_rule_and_exits_0() {
    let device = Device::new();
    let (code, map, _) = statuses(&device, &fixture("good.json"), &["--device-protocol", "AmqpWs"]);
    assert_eq!(code, 0);
    for (id, status) in &map {
        // no device config.toml: whether the device uses a proxy is unknown
        let expected = if id == "https-proxy" { "skipped" } else { "ok" };
        assert_eq!(status, expected, "rule {id}");
    }
    assert_eq!(map.len(), 14);
}

#[test]
fn development_manifest_fails_each_rule_it_breaks_and_exits_1() {
    let device = Device::new();
    let (code, map, value) = statuses(&device, &fixture("dev-template.json"), &[]);
    assert_eq!(code, 1);
    let expected = [
        ("upstream-protocol", "error"),
        ("https-proxy", "skipped"),
        ("image-tags", "warning"),
        ("debug-images", "error"),
        ("debugger-ports", "warning"),
        ("host-storage", "warning"),
        ("resource-limits", "warning"),
        ("log-config", "warning"),
        ("store-and-forward-ttl", "warning"),
        ("optimize-for-performance", "info"),
        ("module-update-mode", "info"),
        ("twin-size", "ok"),
        ("create-options-length", "ok"),
        ("registry-credentials", "warning"),
    ];
    for (id, status) in expected {
        assert_eq!(map[id], status, "rule {id}: {}", details(&value, id));
    }
    assert!(details(&value, "upstream-protocol").contains("edgeHub has no UpstreamProtocol"));
    let tags = details(&value, "image-tags");
    assert!(tags.contains("azureiotedge-agent:1.4 ") && tags.contains("redis:latest"), "{tags}");
    assert!(details(&value, "debug-images").contains("filter: myacr.azurecr.io/filter:0.0.1-amd64.debug"));
    assert!(details(&value, "debugger-ports").contains("filter publishes port 5678"));
    assert!(!details(&value, "debugger-ports").contains("5671"));
    assert!(details(&value, "registry-credentials").contains("myacr.azurecr.io"));
    assert!(!details(&value, "registry-credentials").contains("mcr.microsoft.com"));
    let limits = details(&value, "resource-limits");
    assert!(limits.contains("filter") && limits.contains("cache") && !limits.contains("edgeHub"), "{limits}");
}

#[test]
fn protocol_different_from_the_device_is_an_error() {
    let device = Device::new();
    let (code, map, value) = statuses(&device, &fixture("good.json"), &["--device-protocol", "mqtt"]);
    assert_eq!((code, map["upstream-protocol"].as_str()), (1, "error"));
    let found = details(&value, "upstream-protocol");
    assert!(found.contains("edgeAgent uses AmqpWs but the device uses Mqtt (--device-protocol)"), "{found}");

    // without the flag, the device's own config.toml decides
    let device = device_with_env("UpstreamProtocol = \"MqttWs\"\n");
    let (code, map, value) = statuses(&device, &fixture("good.json"), &[]);
    assert_eq!((code, map["upstream-protocol"].as_str()), (1, "error"));
    assert!(
        details(&value, "upstream-protocol").contains("the device uses MqttWs (the device's [agent.env])")
    );

    let device = device_with_env("UpstreamProtocol = \"AmqpWs\"\n");
    let (code, map, _) = statuses(&device, &fixture("good.json"), &[]);
    assert_eq!((code, map["upstream-protocol"].as_str()), (0, "ok"));
}

#[test]
fn agent_and_hub_with_different_protocols_is_an_error() {
    let device = Device::new();
    let text = fixture_text("good.json");
    let at = text.rfind("\"AmqpWs\"").unwrap();
    let text = format!("{}\"MqttWs\"{}", &text[..at], &text[at + "\"AmqpWs\"".len()..]);
    let (code, map, value) = statuses(&device, &manifest(&device, &text), &[]);
    assert_eq!((code, map["upstream-protocol"].as_str()), (1, "error"));
    assert!(details(&value, "upstream-protocol").contains("edgeAgent uses AmqpWs but edgeHub uses MqttWs"));
}

#[test]
fn proxy_of_the_device_is_required_on_both_runtime_modules_and_never_shown() {
    let device =
        device_with_env(&format!("UpstreamProtocol = \"AmqpWs\"\nhttps_proxy = \"{AGENT_ENV_PROXY}\"\n"));
    let (code, map, value) = statuses(&device, &fixture("good.json"), &[]);
    assert_eq!((code, map["https-proxy"].as_str()), (0, "warning"));
    let found = details(&value, "https-proxy");
    assert!(
        found.contains("edgeAgent has no https_proxy") && found.contains("edgeHub has no https_proxy"),
        "{found}"
    );
    let (_, out, _) = lint(&device, &fixture("good.json"), &[]);
    assert!(!out.contains("proxy-pass-77") && !value.to_string().contains("proxy-pass-77"), "{out}");

    // with the proxy on both, the rule passes
    let env = format!(
        "\"https_proxy\": {{ \"value\": \"{AGENT_ENV_PROXY}\" }},\n              \"UpstreamProtocol\""
    );
    let text = fixture_text("good.json").replace("\"UpstreamProtocol\"", &env);
    let (code, map, _) = statuses(&device, &manifest(&device, &text), &[]);
    assert_eq!((code, map["https-proxy"].as_str()), (0, "ok"));

    // a device without a proxy needs none
    let device = device_with_env("UpstreamProtocol = \"AmqpWs\"\n");
    let (_, map, _) = statuses(&device, &fixture("good.json"), &[]);
    assert_eq!(map["https-proxy"], "ok");
}

#[test]
fn engine_log_driver_on_the_device_satisfies_the_log_rule() {
    let device = Device::new();
    device.write("/etc/docker/daemon.json", "{\"log-driver\": \"local\"}\n");
    let (_, map, _) = statuses(&device, &fixture("dev-template.json"), &[]);
    assert_eq!(map["log-config"], "ok");
    device.write("/etc/docker/daemon.json", "{\"dns\": [\"1.1.1.1\"]}\n");
    let (_, map, value) = statuses(&device, &fixture("dev-template.json"), &[]);
    assert_eq!(map["log-config"], "warning");
    assert!(details(&value, "log-config").contains("daemon.json has no log-driver"));
}

#[test]
fn edge_agent_twin_over_32_kb_is_an_error_and_the_percentage_is_shown() {
    let device = Device::new();
    let (_, _, value) = statuses(&device, &fixture("good.json"), &[]);
    let size = details(&value, "twin-size");
    assert!(size.contains("of 32768 bytes (") && size.contains("%)"), "{size}");

    let big = "x".repeat(33 * 1024);
    let text = fixture_text("good.json").replace(
        "\"version\": \"1.0\",",
        &format!("\"version\": \"1.0\",\n            \"env\": {{ \"BLOB\": {{ \"value\": \"{big}\" }} }},"),
    );
    let (code, map, value) = statuses(&device, &manifest(&device, &text), &["--device-protocol", "AmqpWs"]);
    assert_eq!((code, map["twin-size"].as_str()), (1, "error"));
    assert!(details(&value, "twin-size").contains("IoT Hub refuses the deployment"));
}

#[test]
fn create_options_longer_than_512_characters_is_a_warning() {
    let device = Device::new();
    let long_env = (0..40).map(|i| format!("\\\"VAR{i}=some-value\\\"")).collect::<Vec<_>>().join(",");
    let text = fixture_text("good.json").replace(
        "\"{\\\"HostConfig\\\":{\\\"Memory\\\"",
        &format!("\"{{\\\"Env\\\":[{long_env}],\\\"HostConfig\\\":{{\\\"Memory\\\""),
    );
    assert_ne!(text, fixture_text("good.json"));
    let (code, map, value) = statuses(&device, &manifest(&device, &text), &["--device-protocol", "AmqpWs"]);
    assert_eq!((code, map["create-options-length"].as_str()), (0, "warning"));
    assert!(details(&value, "create-options-length").contains("sensor: createOptions is"));
    // the long createOptions is still read: the limits in it count
    assert_eq!(map["resource-limits"], "ok");
}

#[test]
fn json_report_has_the_documented_schema() {
    let device = Device::new();
    let (code, out, _) =
        lint(&device, &fixture("dev-template.json"), &["--json", "--device-protocol", "AmqpWs"]);
    assert_eq!(code, 1);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["schema"], "edgeprep-manifest-lint/1");
    assert!(value["fixed"].is_null());
    insta::assert_snapshot!("dev_template_lint_json", out);
}

#[test]
fn text_report_has_symbols_fixes_and_summary_without_colour_when_piped() {
    let device = Device::new();
    let (code, out, _) = lint(&device, &fixture("dev-template.json"), &["--device-protocol", "AmqpWs"]);
    assert_eq!(code, 1);
    for expected in [
        "Deployment manifest checks\n--------------------------\n",
        "× no .debug images - Error [debug-images]",
        "‼ images are pinned to a version - Warning [image-tags]",
        "√ createOptions fit in one 512-character chunk - OK [create-options-length]",
        "i edgeHub OptimizeForPerformance=false on constrained devices - Info [optimize-for-performance]",
        "fix: set env ModuleUpdateMode = \"WaitForAllPulls\"",
        "2 check(s) raised errors.",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in\n{out}");
    }
    assert!(!out.contains('\x1b'), "colour escape in piped output");
}

#[test]
fn registry_passwords_never_appear_in_the_report() {
    let device = Device::new();
    let (_, out, _) = lint(&device, &fixture("good.json"), &["--device-protocol", "AmqpWs"]);
    let (_, json, _) = lint(&device, &fixture("good.json"), &["--json", "--device-protocol", "AmqpWs"]);
    assert!(!out.contains("registry-secret-123") && !json.contains("registry-secret-123"));
}

#[test]
fn invalid_json_exits_2_with_line_and_column() {
    let device = Device::new();
    let (code, out, err) = lint(&device, &fixture("bad-syntax.json"), &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("bad-syntax.json: line 4, column 30: invalid JSON"), "{err}");
    assert!(out.is_empty());
}

#[test]
fn bad_usage_exits_2() {
    let device = Device::new();
    let not_a_manifest = manifest(&device, "{\"routes\": {}}\n");
    let (code, _, err) = lint(&device, &not_a_manifest, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("no modulesContent with $edgeAgent and $edgeHub"), "{err}");

    let (code, _, err) = lint(&device, &fixture("good.json"), &["--device-protocol", "Http"]);
    assert_eq!(code, 2);
    assert!(err.contains("--device-protocol \"Http\""), "{err}");

    let (code, _, err) = lint(&device, &device.dir.path().join("missing.json"), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.json: no such file"), "{err}");
}

#[test]
fn deployment_as_az_prints_it_is_read_under_content() {
    let device = Device::new();
    let text = format!("{{\"id\": \"prod\", \"content\": {}}}", fixture_text("good.json"));
    let (code, map, _) = statuses(&device, &manifest(&device, &text), &["--device-protocol", "AmqpWs"]);
    assert_eq!(code, 0);
    assert_eq!(map["upstream-protocol"], "ok");
}

#[test]
fn duplicate_keys_exit_2_naming_both_lines() {
    let device = Device::new();
    let text = fixture_text("good.json").replacen(
        "\"timeToLiveSecs\": 86400",
        "\"timeToLiveSecs\": 86400,\n          \"timeToLiveSecs\": 60",
        1,
    );
    let (code, out, err) = lint(&device, &manifest(&device, &text), &["--device-protocol", "AmqpWs"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("line 69, column 11: duplicate key \"timeToLiveSecs\" (first on line 68)"), "{err}");
    assert!(!err.contains("dockerd"), "{err}");
}
