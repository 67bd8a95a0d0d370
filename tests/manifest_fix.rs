//! `edgeprep manifest lint --fix`: the safe fixes (UpstreamProtocol and https_proxy of both
//! runtime modules set to the device's) land in place with the file's formatting kept, after a
//! diff with secrets masked, with a backup beside the file that is never overwritten.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::Device;

/// A proxy with a password: never written into a manifest.
const PROXY: &str = "http://tech:proxy-pass-77@proxy.local:3128";
/// A proxy without credentials: --fix writes it.
const PLAIN_PROXY: &str = "http://proxy.local:3128";

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifest").join(name))
        .unwrap()
}

/// A device using `protocol` (and the proxy when `proxy`), and a copy of the fixture `name`
/// beside its root.
fn setup(protocol: &str, proxy: Option<&str>, name: &str) -> (Device, PathBuf) {
    let device = Device::new();
    let proxy_line = proxy.map_or_else(String::new, |url| format!("https_proxy = \"{url}\"\n"));
    device.write(
        "/etc/aziot/config.toml",
        format!(
            "{}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"\n\n[agent.env]\nUpstreamProtocol = \"{protocol}\"\n{proxy_line}",
            common::provisioned_config("edge-01")
        ),
    );
    let file = device.dir.path().join("deployment.json");
    std::fs::write(&file, fixture_text(name)).unwrap();
    (device, file)
}

fn run(device: &Device, file: &Path, args: &[&str]) -> (i32, String, String) {
    let output = device.edgeprep(&["manifest", "lint"]).arg(file).args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn env_of(file: &Path, module: &str, var: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    value["modulesContent"]["$edgeAgent"]["properties.desired"]["systemModules"][module]["env"][var]["value"]
        .as_str()
        .map(str::to_string)
}

#[test]
fn fix_pins_the_devices_protocol_and_proxy_on_both_runtime_modules_and_then_passes() {
    let (device, file) = setup("MqttWs", Some(PLAIN_PROXY), "good.json");
    let original = std::fs::read_to_string(&file).unwrap();
    let (code, out, err) = run(&device, &file, &["--fix"]);
    assert_eq!(code, 0, "{out}{err}");
    for module in ["edgeAgent", "edgeHub"] {
        assert_eq!(env_of(&file, module, "UpstreamProtocol").as_deref(), Some("MqttWs"), "{module}");
        assert_eq!(env_of(&file, module, "https_proxy").as_deref(), Some(PLAIN_PROXY), "{module}");
    }
    assert!(out.contains("√ edgeAgent and edgeHub set the device's UpstreamProtocol - OK"), "{out}");
    assert!(out.contains("√ edgeAgent and edgeHub get the device's proxy - OK"), "{out}");
    // the diff came first and shows exactly the change, with the proxy password masked
    let diff_at = out.find("-              \"UpstreamProtocol\": { \"value\": \"AmqpWs\" },").unwrap();
    assert!(diff_at < out.find("Deployment manifest checks").unwrap());
    assert!(out.contains("+              \"https_proxy\": {"), "{out}");
    assert!(!out.contains("proxy-pass-77") && !out.contains("registry-secret-123"), "{out}");
    // the backup is the original, byte for byte
    let backup = device.dir.path().join("deployment.json.bak");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), original);
    assert!(out.contains(&format!("the original is in {}", backup.display())));
}

#[test]
fn fix_keeps_formatting_and_every_other_line() {
    let (device, file) = setup("MqttWs", None, "good.json");
    let original = std::fs::read_to_string(&file).unwrap();
    let (code, _, err) = run(&device, &file, &["--fix"]);
    assert_eq!(code, 0, "{err}");
    let fixed = std::fs::read_to_string(&file).unwrap();
    assert_eq!(fixed, original.replace("\"value\": \"AmqpWs\"", "\"value\": \"MqttWs\""));
}

#[test]
fn fix_adds_a_missing_protocol_in_the_files_own_indentation_and_keeps_the_mode() {
    let (device, file) = setup("AmqpWs", None, "dev-template.json");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let (code, out, err) = run(&device, &file, &["--fix"]);
    // the debug image is not a safe fix: still an error
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(env_of(&file, "edgeHub", "UpstreamProtocol").as_deref(), Some("AmqpWs"));
    assert!(out.contains("√ edgeAgent and edgeHub set the device's UpstreamProtocol - OK"), "{out}");
    let fixed = std::fs::read_to_string(&file).unwrap();
    assert!(
        fixed.contains("\n            },\n            \"env\": {\n              \"UpstreamProtocol\": {"),
        "{fixed}"
    );
    assert!(fixed.contains("\"$schema-template\": \"4.0.0\""));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o640);
}

#[test]
fn a_second_fix_never_overwrites_the_first_backup() {
    let (device, file) = setup("MqttWs", None, "good.json");
    let original = std::fs::read_to_string(&file).unwrap();
    assert_eq!(run(&device, &file, &["--fix"]).0, 0);
    let after_first = std::fs::read_to_string(&file).unwrap();
    assert_eq!(run(&device, &file, &["--fix", "--device-protocol", "Amqp"]).0, 0);
    let dir = device.dir.path();
    assert_eq!(std::fs::read_to_string(dir.join("deployment.json.bak")).unwrap(), original);
    assert_eq!(std::fs::read_to_string(dir.join("deployment.json.bak.1")).unwrap(), after_first);
    assert_eq!(env_of(&file, "edgeHub", "UpstreamProtocol").as_deref(), Some("Amqp"));
}

#[test]
fn nothing_to_fix_writes_nothing_and_keeps_no_backup() {
    let (device, file) = setup("AmqpWs", None, "good.json");
    let (code, out, _) = run(&device, &file, &["--fix"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Nothing to fix safely in"), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), fixture_text("good.json"));
    let leftovers: Vec<_> = std::fs::read_dir(device.dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.starts_with("deployment.json") && n != "deployment.json" || n.starts_with(".edgeprep-tmp-")
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn fix_with_json_reports_the_backup_and_masked_diff() {
    let (device, file) = setup("MqttWs", Some(PROXY), "good.json");
    let (code, out, _) = run(&device, &file, &["--fix", "--json"]);
    assert_eq!(code, 0);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(value["fixed"]["backup"].as_str().unwrap().ends_with("deployment.json.bak"));
    let diff = value["fixed"]["diff"].as_str().unwrap();
    assert!(diff.contains("+") && diff.contains("MqttWs") && !diff.contains("proxy-pass-77"), "{diff}");
}

#[test]
fn invalid_json_is_not_touched_by_fix() {
    let (device, file) = setup("MqttWs", None, "bad-syntax.json");
    let (code, _, err) = run(&device, &file, &["--fix"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), fixture_text("bad-syntax.json"));
    assert!(!device.dir.path().join("deployment.json.bak").exists());
}

#[test]
fn fix_without_a_known_device_says_what_is_missing_and_changes_nothing() {
    let device = Device::new();
    let file = device.dir.path().join("deployment.json");
    std::fs::write(&file, fixture_text("dev-template.json")).unwrap();
    let (code, out, _) = run(&device, &file, &["--fix"]);
    assert_eq!(code, 1);
    assert!(out.contains("the device's protocol and proxy are unknown (give --device-protocol"), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), fixture_text("dev-template.json"));
}

#[test]
fn a_proxy_with_credentials_is_not_written_into_the_manifest() {
    let (device, file) = setup("MqttWs", Some(PROXY), "good.json");
    let (_, out, err) = run(&device, &file, &["--fix"]);
    for module in ["edgeAgent", "edgeHub"] {
        assert_eq!(env_of(&file, module, "UpstreamProtocol").as_deref(), Some("MqttWs"), "{module}");
        assert_ne!(env_of(&file, module, "https_proxy").as_deref(), Some(PROXY), "{module}");
    }
    assert!(!std::fs::read_to_string(&file).unwrap().contains("proxy-pass-77"));
    assert!(out.contains("does not write it into the manifest"), "{out}{err}");
    assert!(!out.contains("proxy-pass-77") && !err.contains("proxy-pass-77"));
}
