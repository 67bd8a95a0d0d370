//! The answers file as a technician hands it over: a real file on disk, a password kept in a
//! separate file, certificate paths relative to the answers file.

use std::fs;
use std::path::{Path, PathBuf};

use edgeprep::answers::{
    LogDriver, ProvisioningSource, UpstreamProtocol, parse_answers, read_answers, validate,
};
use edgeprep::error::{EXIT_BAD_INPUT, exit_code_for};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/answers").join(name)
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, text).unwrap();
    path
}

const WITH_PASSWORD_FILE: &str = r#"
[agent]
image = "contoso.azurecr.io/azureiotedge-agent:1.4.43"

[agent.auth]
server = "contoso.azurecr.io"
username = "contoso-edge-pull"
password_file = "secrets/registry-password.txt"
"#;

#[test]
fn full_example_parses_with_every_section_and_no_warnings() {
    let path = fixture("full.toml");
    let text = fs::read_to_string(&path).unwrap();
    let answers = parse_answers(&text, "full.toml").unwrap();
    assert_eq!(answers.hostname.as_deref(), Some("edge-gw-01.plant.contoso.com"));
    assert_eq!(answers.provisioning.as_ref().unwrap().source, ProvisioningSource::Manual);
    assert_eq!(answers.upstream.as_ref().unwrap().protocol, UpstreamProtocol::AmqpWs);
    assert_eq!(answers.logging.as_ref().unwrap().driver, LogDriver::Local);
    assert_eq!(answers.dns.as_ref().unwrap().servers.len(), 2);
    assert!(answers.proxy.is_some() && answers.agent.is_some() && answers.image_garbage_collection.is_some());
    let findings = validate::validate(&answers);
    assert!(findings.is_valid(), "{findings:#?}");
    assert!(findings.warnings.is_empty(), "{:#?}", findings.warnings);
}

#[test]
fn read_answers_makes_edge_ca_paths_absolute_from_the_answers_directory() {
    let answers = read_answers(&fixture("full.toml")).unwrap();
    let ca = answers.edge_ca.unwrap();
    let dir = fixture("");
    assert_eq!(PathBuf::from(ca.cert.unwrap()), dir.join("certs/edge-ca-full-chain.pem"));
    assert_eq!(PathBuf::from(ca.key.unwrap()), dir.join("certs/edge-ca.key.pem"));
    assert_eq!(PathBuf::from(ca.trust_bundle.unwrap()), dir.join("certs/contoso-root-ca.pem"));
}

#[test]
fn absolute_edge_ca_paths_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path =
        write(dir.path(), "a.toml", "[edge_ca]\ncert = \"/etc/pki/ca.pem\"\nkey = \"/etc/pki/ca.key\"\n");
    let ca = read_answers(&path).unwrap().edge_ca.unwrap();
    assert_eq!(ca.cert.as_deref(), Some("/etc/pki/ca.pem"));
    assert_eq!(ca.key.as_deref(), Some("/etc/pki/ca.key"));
}

#[test]
fn password_file_first_line_becomes_the_password() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "secrets/registry-password.txt", "p@ss word!\nsecond line ignored\n");
    let path = write(dir.path(), "answers.toml", WITH_PASSWORD_FILE);
    let auth = read_answers(&path).unwrap().agent.unwrap().auth.unwrap();
    assert_eq!(auth.password.as_deref(), Some("p@ss word!"));
    assert_eq!(auth.password_file, None);
}

#[test]
fn password_file_with_windows_line_ending_or_no_newline_is_read() {
    for contents in ["hunter2\r\n", "hunter2"] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "secrets/registry-password.txt", contents);
        let path = write(dir.path(), "answers.toml", WITH_PASSWORD_FILE);
        let auth = read_answers(&path).unwrap().agent.unwrap().auth.unwrap();
        assert_eq!(auth.password.as_deref(), Some("hunter2"));
    }
}

#[test]
fn missing_password_file_names_the_key_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "answers.toml", WITH_PASSWORD_FILE);
    let err = read_answers(&path).unwrap_err();
    assert_eq!(exit_code_for(&err), EXIT_BAD_INPUT);
    let msg = format!("{err:#}");
    assert!(msg.contains("[agent.auth] password_file = \"secrets/registry-password.txt\""), "{msg}");
    assert!(msg.contains(&dir.path().join("secrets/registry-password.txt").display().to_string()), "{msg}");
    assert!(msg.contains("no such file"), "{msg}");
}

#[test]
fn empty_password_file_is_refused_without_showing_other_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "secrets/registry-password.txt", "\nsecret-on-line-two\n");
    let path = write(dir.path(), "answers.toml", WITH_PASSWORD_FILE);
    let msg = format!("{:#}", read_answers(&path).unwrap_err());
    assert!(msg.contains("first line") && msg.contains("is empty"), "{msg}");
    assert!(!msg.contains("secret-on-line-two"), "{msg}");
}

#[test]
fn missing_answers_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nope.toml");
    let err = read_answers(&path).unwrap_err();
    assert_eq!(exit_code_for(&err), EXIT_BAD_INPUT);
    let msg = format!("{err:#}");
    assert!(msg.contains(&path.display().to_string()) && msg.contains("no such file"), "{msg}");
}

#[test]
fn non_utf8_answers_file_asks_for_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    fs::write(&path, b"hostname = \"caf\xe9\"\n").unwrap();
    let msg = format!("{:#}", read_answers(&path).unwrap_err());
    assert!(msg.contains("UTF-8"), "{msg}");
}

#[test]
fn file_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "answers.toml", "\n[upstream]\nprotocl = \"amqpws\"\n");
    let msg = format!("{:#}", read_answers(&path).unwrap_err());
    assert_eq!(
        msg,
        format!(
            "{}: line 3, column 1: unknown key \"protocl\" in [upstream]; did you mean \"protocol\"?",
            path.display()
        )
    );
}

#[test]
fn secrets_in_a_rejected_file_are_not_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let key = "c2VjcmV0LWRldmljZS1rZXktZm9yLXRlc3Rz";
    let text = format!(
        "[provisioning]\nsource = \"dps\"\nconnection_string = \"HostName=h;DeviceId=d;SharedAccessKey={key}\"\n\n[proxy]\nurl = \"http://bob:proxy-pass@proxy\"\n\n[agent.auth]\nserver = \"r.io\"\nusername = \"u\"\npassword = \"registry-pass\"\npassword_file = \"x\"\n"
    );
    let path = write(dir.path(), "answers.toml", &text);
    let msg = format!("{:#}", read_answers(&path).unwrap_err());
    assert!(msg.contains("problems"), "{msg}");
    for secret in [key, "proxy-pass", "registry-pass"] {
        assert!(!msg.contains(secret), "{secret} leaked: {msg}");
    }
}
