//! Secrets in a failing command's output never reach stdout, stderr, `--json`, the audit log
//! or the backup manifests and journals: the fake echoes the real registry password, SAS key
//! and proxy password and exits 1.

mod common;

use common::{Device, template_text};

const SAS_KEY: &str = "c2VjcmV0LXNhcy1rZXktZm9yLXRlc3Rz";
const PASSWORD: &str = "Registry-Pa55word";
const PROXY_PASSWORD: &str = "Pr0xy-S3cret";

fn answers() -> String {
    format!(
        r#"
hostname = "edge-01"

[provisioning]
source = "manual"
connection_string = "HostName=contoso.azure-devices.net;DeviceId=edge-01;SharedAccessKey={SAS_KEY}"

[proxy]
url = "http://edge:{PROXY_PASSWORD}@proxy.contoso.local:3128"

[agent]
image = "contoso.azurecr.io/azureiotedge-agent:1.4.43"

[agent.auth]
server = "contoso.azurecr.io"
username = "edge-pull"
password = "{PASSWORD}"
"#
    )
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_failing_command_that_prints_the_secrets_leaks_them_nowhere() {
    for json in [false, true] {
        let device = Device::new();
        device.write("/etc/aziot/config.toml.edge.template", template_text());
        device.write("/etc/aziot/config.toml", common::provisioned_config("old"));
        let noisy = format!(
            "echo 'using {SAS_KEY} and {PASSWORD}'; echo 'proxy http://edge:{PROXY_PASSWORD}@proxy failed; password {PASSWORD}' >&2; exit 1"
        );
        device.fake("iotedge", &noisy);
        let answers = device.answers(&answers());
        let mut args = vec!["apply", "--yes", "--answers", answers.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        let output = device.edgeprep(&args).assert().code(1);
        let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
        if json {
            let value: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
            assert!(value["output"].as_str().unwrap().contains("********"), "{value}");
        } else {
            assert!(stdout.contains("FAILED: `iotedge config apply"), "{stdout}");
        }
        let log = device.read("/var/log/edgeprep.log");
        assert!(log.contains("rolled back"), "{log}");
        let mut places = vec![("stdout", stdout), ("stderr", stderr), ("audit log", log)];
        for file in walk(&device.path("/var/lib/edgeprep/backups")) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name == "manifest.json" || name == "journal.json" {
                places.push(("backup set", std::fs::read_to_string(&file).unwrap()));
            }
        }
        assert!(places.len() >= 5, "no manifest or journal found");
        for (place, text) in &places {
            for secret in [SAS_KEY, PASSWORD, PROXY_PASSWORD] {
                assert!(!text.contains(secret), "json={json}: {secret} leaked in {place}:\n{text}");
            }
        }
    }
}
