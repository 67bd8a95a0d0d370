//! `edgeprep answers export`: from a configured device to the answers for the next ones, on
//! temporary roots with fake iotedge, systemctl and docker.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Device, provisioned_config};
use predicates::prelude::*;

const REGISTRY_PASSWORD: &str = "example-registry-pa55word";
const PROXY_PASSWORD: &str = "pr0xy-s3cret";
const SAS_KEY: &str = "bm90LWEtcmVhbC1rZXktanVzdC1hLWZpeHR1cmU=";
const HOSTNAME: &str = "edge-gw-01.plant.contoso.com";

/// Every answer: the fleet-wide ones (as in tests/fixtures/answers/full.toml, the proxy with a
/// password) and the per-device ones, the Edge CA generated on the device.
fn full_answers() -> String {
    format!(
        "hostname = \"{HOSTNAME}\"\nallow_elevated_docker_permissions = false\n\n\
         [provisioning]\nsource = \"manual\"\n\
         connection_string = \"HostName=contoso-hub.azure-devices.net;DeviceId=edge-gw-01;SharedAccessKey={SAS_KEY}\"\n\n\
         [upstream]\nprotocol = \"AmqpWs\"\n\n\
         [proxy]\nurl = \"http://edge:{PROXY_PASSWORD}@proxy.plant.contoso.com:3128\"\n\
         no_proxy = \"localhost,127.0.0.1,.plant.contoso.com\"\n\n\
         [agent]\nimage = \"contoso.azurecr.io/azureiotedge-agent:1.4.43\"\nhost_storage = \"/var/lib/edgeprep/edge-agent\"\n\n\
         [agent.auth]\nserver = \"contoso.azurecr.io\"\nusername = \"contoso-edge-pull\"\npassword = \"{REGISTRY_PASSWORD}\"\n\n\
         [image_garbage_collection]\nenabled = true\ncleanup_recurrence = \"1d\"\nimage_age_cleanup_threshold = \"7d\"\ncleanup_time = \"02:30\"\n\n\
         [logging]\ndriver = \"local\"\nmax_size = \"10m\"\nmax_files = 3\n\n\
         [dns]\nservers = [\"10.20.0.2\", \"10.20.0.3\"]\n\n\
         [edge_ca.generate]\ncommon_name = \"Plant Edge CA\"\n"
    )
}

/// A device with IoT Edge's service users, provisioned, hostname `host`.
fn device(host: &str) -> Device {
    let device = Device::new();
    device.write("/etc/hostname", format!("{}\n", host.split('.').next().unwrap()));
    device.write(
        "/etc/passwd",
        "root:x:0:0::/root:/bin/sh\naziotks:x:994:994::/:/bin/false\naziotcs:x:993:993::/:/bin/false\n",
    );
    device.write("/etc/group", "root:x:0:\naziotks:x:994:\naziotcs:x:993:\n");
    device.write("/etc/aziot/config.toml", provisioned_config(host));
    device
}

/// The golden device: every answer applied.
fn golden() -> Device {
    let device = device("edge-gw-01");
    let answers = device.answers(&full_answers());
    device.edgeprep(&["apply", "--answers", answers.to_str().unwrap(), "--yes"]).assert().success();
    device
}

/// `answers export` of `device` with `extra` arguments: (exit code, stdout, stderr).
fn export(device: &Device, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["answers", "export"];
    args.extend(extra);
    let output = device.edgeprep(&args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Export `device` with its secrets into a file beside it.
fn export_with_secrets(device: &Device, name: &str) -> PathBuf {
    let path = device.dir.path().join(name);
    let (code, _, stderr) = export(device, &["--with-secrets", "-o", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    path
}

fn plan(device: &Device, answers: &Path) -> (i32, String, String) {
    let output = device.edgeprep(&["plan", "--answers", answers.to_str().unwrap()]).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `plan --json` of `answers` on `device`: (files, commands) it would write and run.
fn planned(device: &Device, answers: &Path) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let output =
        device.edgeprep(&["plan", "--json", "--answers", answers.to_str().unwrap()]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let list = |key: &str| plan[key].as_array().cloned().unwrap_or_else(|| panic!("no {key} in {plan}"));
    (list("files"), list("commands"))
}

/// The answers in an export, without its header comment (which names the root and the time).
fn body(text: &str) -> String {
    text.lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n").trim().to_string()
}

fn sections(text: &str) -> Vec<String> {
    let table: toml::Table = text.parse().unwrap();
    table.keys().cloned().collect()
}

#[test]
fn an_export_with_secrets_applied_to_the_same_device_plans_nothing() {
    let device = golden();
    let file = export_with_secrets(&device, "fleet.toml");
    let table: toml::Table = std::fs::read_to_string(&file).unwrap().parse().unwrap();
    assert_eq!(table["allow_elevated_docker_permissions"].as_bool(), Some(false));
    assert_eq!(table["agent"]["host_storage"].as_str(), Some("/var/lib/edgeprep/edge-agent"));
    let (files, commands) = planned(&device, &file);
    assert!(files.is_empty() && commands.is_empty(), "files {files:#?}\ncommands {commands:#?}");
    let (code, stdout, _) = plan(&device, &file);
    assert_eq!(code, 0);
    assert!(stdout.contains("No changes: the device already matches the answers."), "{stdout}");
}

#[test]
fn an_export_applied_to_a_fresh_device_gives_the_same_fleet_wide_settings() {
    let golden = golden();
    let first = export_with_secrets(&golden, "fleet.toml");
    let fresh = device("edge-gw-02");
    fresh.edgeprep(&["apply", "--answers", first.to_str().unwrap(), "--yes"]).assert().success();
    let second = export_with_secrets(&fresh, "again.toml");
    let (first, second) = (std::fs::read_to_string(first).unwrap(), std::fs::read_to_string(second).unwrap());
    assert_eq!(body(&first), body(&second));
    assert_eq!(
        sections(&second),
        [
            "agent",
            "allow_elevated_docker_permissions",
            "dns",
            "image_garbage_collection",
            "logging",
            "proxy",
            "upstream"
        ]
    );
    // The fresh device kept its own identity.
    assert!(fresh.read("/etc/aziot/config.toml").contains("hostname = \"edge-gw-02\""));
}

#[test]
fn per_device_settings_are_never_exported_even_when_set() {
    let device = golden();
    assert!(device.exists("/var/aziot/secrets/edge-ca.key.pem"), "the golden device has an Edge CA");
    let file = export_with_secrets(&device, "fleet.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let table: toml::Table = text.parse().unwrap();
    for per_device in ["hostname", "provisioning", "edge_ca"] {
        assert!(!table.contains_key(per_device), "{per_device} exported:\n{text}");
    }
    for value in [HOSTNAME, "edge-gw-01", SAS_KEY, "contoso-hub", "Plant Edge CA", "BEGIN", "edge-ca"] {
        assert!(!text.contains(value), "{value} exported:\n{text}");
    }
}

#[test]
fn without_secrets_the_export_holds_none_and_check_names_each_one_to_fill_in() {
    let device = golden();
    let (code, stdout, stderr) = export(&device, &[]);
    assert_eq!(code, 0, "{stderr}");
    for secret in [REGISTRY_PASSWORD, PROXY_PASSWORD] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} leaked:\n{stdout}\n{stderr}");
    }
    assert!(
        stdout.contains("url = \"http://edge:<FILL IN: proxy password>@proxy.plant.contoso.com:3128\""),
        "{stdout}"
    );
    assert!(stdout.contains("password = \"<FILL IN: registry password>\""), "{stdout}");
    assert!(stderr.contains("fill in [proxy] url and [agent.auth] password"), "{stderr}");
    let file = device.dir.path().join("half.toml");
    std::fs::write(&file, &stdout).unwrap();

    let check = device.edgeprep(&["answers", "check", file.to_str().unwrap()]).output().unwrap();
    let message = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(2), "{message}");
    assert!(message.contains("2 problems"), "{message}");
    assert!(
        message.contains("[proxy] url: still holds the placeholder")
            && message.contains("replace it with the proxy password in the URL, percent-encoded"),
        "{message}"
    );
    assert!(
        message.contains("[agent.auth] password: still holds the placeholder")
            && message.contains("replace it with the registry password"),
        "{message}"
    );

    // Plan and apply refuse it the same way, and nothing is written.
    let before = device.device_snapshot();
    let (code, _, stderr) = plan(&device, &file);
    assert_eq!(code, 2);
    assert!(stderr.contains("[agent.auth] password: still holds the placeholder"), "{stderr}");
    device
        .edgeprep(&["apply", "--answers", file.to_str().unwrap(), "--yes"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("[proxy] url: still holds the placeholder"));
    assert_eq!(device.device_snapshot(), before);

    // Filled in, it is the same as an export with the secrets.
    let filled = stdout
        .replace("<FILL IN: proxy password>", PROXY_PASSWORD)
        .replace("<FILL IN: registry password>", REGISTRY_PASSWORD);
    std::fs::write(&file, &filled).unwrap();
    device.edgeprep(&["answers", "check", file.to_str().unwrap()]).assert().success();
    let (files, commands) = planned(&device, &file);
    assert!(files.is_empty() && commands.is_empty(), "{files:#?} {commands:#?}");
}

#[test]
fn with_secrets_the_file_is_0600_and_stdout_is_refused() {
    let device = golden();
    let file = export_with_secrets(&device, "fleet.toml");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(REGISTRY_PASSWORD) && text.contains(PROXY_PASSWORD));
    assert!(text.contains("This file holds secrets"), "{text}");

    let (code, stdout, stderr) = export(&device, &["--with-secrets"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty() && stderr.contains("--output"), "{stderr}");

    let plain = device.dir.path().join("plain.toml");
    let (code, _, stderr) = export(&device, &["-o", plain.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::metadata(&plain).unwrap().permissions().mode() & 0o777, 0o644);
}

#[test]
fn an_existing_output_file_is_replaced_only_with_force() {
    let device = golden();
    let path = device.dir.path().join("fleet.toml");
    std::fs::write(&path, "keep me\n").unwrap();
    let (code, _, stderr) = export(&device, &["-o", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("exists") && stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me\n");
    let (code, _, stderr) = export(&device, &["-o", path.to_str().unwrap(), "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(std::fs::read_to_string(&path).unwrap().contains("[upstream]"));
    // No temporary file is left beside it.
    let names: Vec<String> = std::fs::read_dir(device.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".edgeprep-export"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn a_device_with_nothing_configured_exports_a_file_that_changes_nothing() {
    let device = Device::new();
    let (code, stdout, stderr) = export(&device, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(body(&stdout), "", "{stdout}");
    assert!(stdout.starts_with("# edgeprep answers exported from the device under --root"), "{stdout}");
    let file = device.answers(&stdout);
    device.edgeprep(&["answers", "check", file.to_str().unwrap()]).assert().success();
    let (files, commands) = planned(&device, &file);
    assert!(files.is_empty() && commands.is_empty());

    // Provisioned only: still nothing fleet-wide.
    let device = self::device("edge-01");
    let (_, stdout, _) = export(&device, &[]);
    assert_eq!(body(&stdout), "");
    let (files, commands) = planned(&device, &device.answers(&stdout));
    assert!(files.is_empty() && commands.is_empty());
}

#[test]
fn the_demo_device_exports() {
    let output = assert_cmd::Command::cargo_bin("edgeprep")
        .unwrap()
        .args(["--demo", "answers", "export"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("# edgeprep answers exported from the demo device"), "{stdout}");
    assert_eq!(sections(&stdout), ["logging"]);
    assert!(!stdout.contains("edge-demo-01") && !stdout.contains("SharedAccessKey"), "{stdout}");
}

#[test]
fn device_values_an_answers_file_would_refuse_are_named_by_file_and_key() {
    let device = device("edge-01");
    device.write(
        "/etc/aziot/config.toml",
        format!(
            "{}\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\nimage = \"mcr.microsoft.com/AzureIoTEdge-Agent:1.4.43\"\n\n[agent.env]\nUpstreamProtocol = \"Websockets\"\n\n[image_garbage_collection]\ncleanup_time = \"25:00\"\n",
            provisioned_config("edge-01")
        ),
    );
    device.write("/etc/docker/daemon.json", "{\"log-driver\": \"syslog\", \"dns\": [\"dns.google\"]}\n");
    let out = device.dir.path().join("fleet.toml");
    let (code, stdout, stderr) = export(&device, &["-o", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(!out.exists(), "nothing is written");
    for expected in [
        "5 values an answers file would refuse",
        "/etc/aziot/config.toml [agent.config] image = \"mcr.microsoft.com/AzureIoTEdge-Agent:1.4.43\": repository",
        "/etc/aziot/config.toml [agent.env] UpstreamProtocol = \"Websockets\": is not a protocol",
        "/etc/aziot/config.toml [image_garbage_collection] cleanup_time = \"25:00\"",
        "/etc/docker/daemon.json \"log-driver\" = \"syslog\"",
        "/etc/docker/daemon.json \"dns\"",
        "\"dns.google\" is not an IP address",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
}

#[test]
fn a_service_proxy_that_differs_from_edge_agents_is_named_without_its_password() {
    let device = golden();
    device.write(
        "/etc/systemd/system/docker.service.d/http-proxy.conf",
        "[Service]\nEnvironment=\"HTTPS_PROXY=http://old:0ld-pa55@old-proxy:8080\"\n",
    );
    let (code, stdout, stderr) = export(&device, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("/etc/systemd/system/docker.service.d/http-proxy.conf:2: HTTPS_PROXY for the docker service differs from edgeAgent's"),
        "{stderr}"
    );
    assert!(!stderr.contains("0ld-pa55") && !stderr.contains(PROXY_PASSWORD), "{stderr}");
}

#[test]
fn a_proxy_without_credentials_and_journald_logs_round_trip_with_no_change() {
    let device = device("edge-01");
    let answers = device.answers(
        "[upstream]\nprotocol = \"MqttWs\"\n\n[proxy]\nurl = \"http://proxy.contoso.local:3128\"\n\n\
         [logging]\ndriver = \"journald\"\n\n[image_garbage_collection]\nenabled = false\n",
    );
    device.edgeprep(&["apply", "--answers", answers.to_str().unwrap(), "--yes"]).assert().success();
    let (code, stdout, stderr) = export(&device, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("# This device's settings hold no secret."), "{stdout}");
    // The [agent] apply completed for the protocol is the device's too: its image is exported,
    // with a note that the tag is a rolling one.
    assert_eq!(sections(&stdout), ["agent", "image_garbage_collection", "logging", "proxy", "upstream"]);
    assert!(stdout.contains("[agent]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4\"\n"), "{stdout}");
    assert!(
        stderr.contains("note: /etc/aziot/config.toml [agent.config] image = \"mcr.microsoft.com/azureiotedge-agent:1.4\": :1.4 is a rolling tag"),
        "{stderr}"
    );
    let (files, commands) = planned(&device, &device.answers(&stdout));
    assert!(files.is_empty() && commands.is_empty(), "{files:#?} {commands:#?}");
}
