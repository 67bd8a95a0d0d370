//! Secrets with spaces, quotes, percent-escapes, backslashes and semicolons never reach the
//! output of `plan`, `plan --json` or `answers check`, in any form they are written in (raw,
//! percent-decoded or -encoded, escaped for TOML/JSON or for systemd).

mod common;

use common::{Device, template_text};

/// Registry password as the technician typed it (TOML escapes in the file below).
const REGISTRY_PASSWORD: &str = "pa ss\"w\\o%41rd;x=1";
/// Proxy password as written in the URL (percent-encoded, as the validator requires) and
/// decoded.
const PROXY_PASSWORD: &str = "pr%20x%22y%5Cz%41;q";
const PROXY_PASSWORD_DECODED: &str = "pr x\"y\\zA;q";
/// Base64 with `+`, `/` and `=`, which percent-encoding changes.
const SAS_KEY: &str = "+//+c2VjcmV0LXNhcy1rZXn77w==";
const SYMMETRIC_KEY: &str = "/+/+c3ltbWV0cmljLWtleS1mb3ItdGVzdHM=";

fn manual_answers() -> String {
    format!(
        r#"
[provisioning]
source = "manual"
connection_string = "HostName=contoso.azure-devices.net;DeviceId=edge-01;SharedAccessKey={SAS_KEY}"

[upstream]
protocol = "Amqp"

[proxy]
url = "https://bob:{PROXY_PASSWORD}@proxy.contoso.local:3128"

[agent]
image = "contoso.azurecr.io/azureiotedge-agent:1.4.43"

[agent.auth]
server = "contoso.azurecr.io"
username = "edge-pull"
password = "pa ss\"w\\o%41rd;x=1"
"#
    )
}

fn dps_answers() -> String {
    format!(
        r#"
[provisioning]
source = "dps"
global_endpoint = "https://global.azure-devices-provisioning.net"
id_scope = "0ne00000A0A"
attestation = "symmetric_key"
registration_id = "edge-01"
symmetric_key = "{SYMMETRIC_KEY}"
"#
    )
}

/// Every spelling a secret can have in a file edgeprep writes or a line it prints.
fn spellings(secret: &str) -> Vec<String> {
    let escaped = secret.replace('\\', "\\\\").replace('"', "\\\"");
    let json = serde_json::to_string(secret).unwrap();
    let percent: String = secret
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect();
    vec![
        secret.to_string(),
        escaped.clone(),
        escaped.replace('%', "%%"),
        json[1..json.len() - 1].to_string(),
        json.replace('%', "%%"),
        percent,
    ]
}

#[track_caller]
fn assert_no_secret(output: &str, secrets: &[&str]) {
    for secret in secrets {
        for spelling in spellings(secret) {
            assert!(!output.contains(&spelling), "{secret:?} appears as {spelling:?} in:\n{output}");
        }
    }
}

fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device
}

fn run(device: &Device, args: &[&str]) -> String {
    let output = device.edgeprep(args).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap() + &String::from_utf8(output.stderr).unwrap()
}

const MANUAL_SECRETS: &[&str] = &[REGISTRY_PASSWORD, PROXY_PASSWORD, PROXY_PASSWORD_DECODED, SAS_KEY];

#[test]
fn plan_text_shows_no_form_of_any_secret() {
    let device = device();
    let answers = device.answers(&manual_answers());
    let out = run(&device, &["plan", "--answers", answers.to_str().unwrap()]);
    // The plan did show the places the secrets go, masked.
    assert!(out.contains("https_proxy") && out.contains("password") && out.contains("********"), "{out}");
    assert_no_secret(&out, MANUAL_SECRETS);
}

#[test]
fn plan_json_shows_no_form_of_any_secret() {
    let device = device();
    let answers = device.answers(&manual_answers());
    let out = run(&device, &["plan", "--json", "--answers", answers.to_str().unwrap()]);
    assert!(out.contains("https_proxy") && out.contains("********"), "{out}");
    assert_no_secret(&out, MANUAL_SECRETS);
}

#[test]
fn answers_check_warnings_show_no_form_of_any_secret() {
    let device = device();
    let answers = device.answers(&manual_answers());
    let out = run(&device, &["answers", "check", answers.to_str().unwrap()]);
    // Warnings about the https proxy (which quotes the URL) and about Amqp through a proxy.
    assert!(out.contains("[proxy] url = \"https://bob:********@proxy.contoso.local:3128\""), "{out}");
    assert!(out.contains("[upstream] protocol = \"Amqp\"") && out.contains("AmqpWs"), "{out}");
    assert_no_secret(&out, MANUAL_SECRETS);
}

#[test]
fn dps_symmetric_key_is_masked_in_plan_and_json() {
    let device = device();
    let answers = device.answers(&dps_answers());
    let text = run(&device, &["plan", "--answers", answers.to_str().unwrap()]);
    let json = run(&device, &["plan", "--json", "--answers", answers.to_str().unwrap()]);
    for out in [&text, &json] {
        assert!(out.contains("symmetric_key") && out.contains("********"), "{out}");
        assert_no_secret(out, &[SYMMETRIC_KEY]);
    }
}

#[test]
fn plan_secrets_hold_every_form_of_every_secret() {
    let device = device();
    let answers = edgeprep::answers::read_answers(&device.answers(&manual_answers())).unwrap();
    let secrets = answers.secrets();
    for expected in [
        REGISTRY_PASSWORD,
        "pa ss\\\"w\\\\o%41rd;x=1",  // TOML/JSON
        "pa ss\\\"w\\\\o%%41rd;x=1", // systemd
        PROXY_PASSWORD,
        "pr%%20x%%22y%%5Cz%%41;q", // systemd drop-in
        PROXY_PASSWORD_DECODED,
        "pr x\\\"y\\\\zA;q", // decoded, escaped
        SAS_KEY,
        "%2B%2F%2F%2Bc2VjcmV0LXNhcy1rZXn77w%3D%3D",
    ] {
        assert!(secrets.iter().any(|s| s == expected), "{expected:?} missing from {secrets:?}");
    }
}
