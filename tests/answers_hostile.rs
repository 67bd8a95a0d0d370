//! Hostile input through the CLI: control characters in answers, FIFOs and devices where a file
//! is expected. Each is refused with exit 2, promptly, naming the file or the answers key, and
//! nothing on the device changes.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Device, template_text};

/// Long enough for a slow, shared machine; far shorter than "hangs forever".
const PROMPTLY: Duration = Duration::from_secs(20);

fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device
}

fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    rustix::fs::mkfifoat(rustix::fs::CWD, &path, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
    path
}

/// Run edgeprep, expect exit 2, and return stderr.
#[track_caller]
fn refused(device: &Device, args: &[&str]) -> String {
    let output = device.edgeprep(args).timeout(PROMPTLY).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{args:?}: stderr:\n{stderr}");
    stderr
}

#[test]
fn a_newline_in_the_proxy_url_is_refused_and_no_drop_in_is_written() {
    let device = device();
    let answers = device.answers("[proxy]\nurl = \"http://proxy:3128\\nExecStartPre=/bin/sh -c id\"\n");
    let before = device.snapshot();
    let stderr = refused(&device, &["apply", "--yes", "--answers", answers.to_str().unwrap()]);
    assert!(stderr.contains("line 2: [proxy] url = \"http://proxy:3128\\nExecStartPre"), "{stderr}");
    assert!(stderr.contains("contains a line break (\\n)"), "{stderr}");
    assert_eq!(device.snapshot(), before);
    assert!(device.calls().is_empty(), "{:?}", device.calls());
}

#[test]
fn esc_and_nul_in_no_proxy_are_refused_without_reaching_the_terminal() {
    let device = device();
    let answers = device
        .answers("[proxy]\nurl = \"http://proxy:3128\"\nno_proxy = \"localhost,\\u001b]2;owned\\u0007\"\n");
    let stderr = refused(&device, &["plan", "--answers", answers.to_str().unwrap()]);
    assert!(stderr.contains("line 3: [proxy] no_proxy") && stderr.contains("U+001B (ESC)"), "{stderr}");
    assert!(!stderr.contains('\u{1b}') && !stderr.contains('\u{7}'), "raw control characters: {stderr:?}");
    let answers = device.answers("[proxy]\nurl = \"http://proxy:3128\"\nno_proxy = \"a\\u0000b\"\n");
    let stderr = refused(&device, &["answers", "check", answers.to_str().unwrap()]);
    assert!(stderr.contains("[proxy] no_proxy") && stderr.contains("NUL"), "{stderr}");
    assert!(!stderr.contains('\0'), "{stderr:?}");
}

#[test]
fn a_control_character_in_the_connection_string_is_refused_without_showing_it() {
    let device = device();
    let key = "c2VjcmV0LXNhcy1rZXktZm9yLXRlc3Rz";
    let answers = device.answers(&format!(
        "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h.azure-devices.net;DeviceId=d;\\r\\nSharedAccessKey={key}\"\n"
    ));
    let stderr = refused(&device, &["answers", "check", answers.to_str().unwrap()]);
    assert!(
        stderr.contains("line 3: [provisioning] connection_string: contains a carriage return"),
        "{stderr}"
    );
    assert!(!stderr.contains(key), "{stderr}");
}

#[test]
fn a_password_file_with_a_control_character_is_refused_without_showing_it() {
    let device = device();
    std::fs::write(device.dir.path().join("pw.txt"), "hunter\u{1b}[8m2\n").unwrap();
    let answers = device
        .answers("[agent.auth]\nserver = \"r.example.com\"\nusername = \"u\"\npassword_file = \"pw.txt\"\n");
    let stderr = refused(&device, &["answers", "check", answers.to_str().unwrap()]);
    assert!(stderr.contains("password_file = \"pw.txt\"") && stderr.contains("U+001B (ESC)"), "{stderr}");
    assert!(!stderr.contains("hunter"), "{stderr}");
}

#[test]
fn an_answers_file_that_is_a_fifo_or_dev_zero_is_refused_promptly() {
    let device = device();
    let pipe = fifo(device.dir.path(), "answers.fifo");
    for (path, what) in [(pipe.as_path(), "is a FIFO"), (Path::new("/dev/zero"), "is a character device")] {
        for args in [
            vec!["answers", "check", path.to_str().unwrap()],
            vec!["plan", "--answers", path.to_str().unwrap()],
        ] {
            let stderr = refused(&device, &args);
            assert!(stderr.contains(&format!("the answers file {}: {what}", path.display())), "{stderr}");
        }
    }
}

#[test]
fn a_password_file_that_is_a_fifo_is_refused_promptly() {
    let device = device();
    let pipe = fifo(device.dir.path(), "pw.fifo");
    let answers = device
        .answers("[agent.auth]\nserver = \"r.example.com\"\nusername = \"u\"\npassword_file = \"pw.fifo\"\n");
    let stderr = refused(&device, &["answers", "check", answers.to_str().unwrap()]);
    assert!(stderr.contains(&format!("{}: is a FIFO", pipe.display())), "{stderr}");
    let answers = device.answers(
        "[agent.auth]\nserver = \"r.example.com\"\nusername = \"u\"\npassword_file = \"/dev/zero\"\n",
    );
    let stderr = refused(&device, &["answers", "check", answers.to_str().unwrap()]);
    assert!(stderr.contains("/dev/zero: is a character device"), "{stderr}");
}

#[test]
fn edge_ca_files_that_are_fifos_or_devices_are_refused_promptly() {
    let device = device();
    let pipe = fifo(device.dir.path(), "ca.fifo");
    let before = device.snapshot();
    for (cert, key) in [(pipe.to_str().unwrap(), "/dev/zero"), ("/dev/zero", pipe.to_str().unwrap())] {
        let answers = device.answers(&format!("[edge_ca]\ncert = \"{cert}\"\nkey = \"{key}\"\n"));
        let stderr = refused(&device, &["apply", "--yes", "--answers", answers.to_str().unwrap()]);
        assert!(stderr.contains(&format!("[edge_ca] cert = \"{cert}\": is a")), "{stderr}");
    }
    assert_eq!(device.snapshot(), before);
}

#[test]
fn cert_inspect_refuses_a_fifo_and_dev_zero_promptly() {
    let device = device();
    let pipe = fifo(device.dir.path(), "cert.fifo");
    let stderr = refused(&device, &["cert", "inspect", pipe.to_str().unwrap()]);
    assert!(
        stderr.contains(&format!("{}: cannot read the certificate: is a FIFO", pipe.display())),
        "{stderr}"
    );
    let stderr = refused(&device, &["cert", "inspect", "/dev/zero"]);
    assert!(stderr.contains("/dev/zero: cannot read the certificate: is a character device"), "{stderr}");
}

#[test]
fn cert_status_reports_a_fifo_in_place_of_the_edge_ca_promptly() {
    let device = device();
    device.write(
        "/etc/aziot/config.toml",
        "[edge_ca]\ncert = \"file:///var/aziot/certs/edge-ca.pem\"\npk = \"file:///var/aziot/secrets/edge-ca.key.pem\"\n",
    );
    std::fs::create_dir_all(device.path("/var/aziot/certs")).unwrap();
    fifo(&device.path("/var/aziot/certs"), "edge-ca.pem");
    let output = device.edgeprep(&["cert", "status", "--json"]).timeout(PROMPTLY).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let message = json["message"].as_str().unwrap();
    assert!(message.contains("/var/aziot/certs/edge-ca.pem is a FIFO, not a regular file"), "{message}");
}
