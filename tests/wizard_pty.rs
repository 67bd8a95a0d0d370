//! The real binary's wizard in a pty, on a temp --root with fake commands: the Enter contract
//! (full screen and plain) compared file by file with `apply --answers FILE --yes`, and a
//! SIGHUP in the middle of the wizard.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::Device;
use expectrl::session::OsSession;
use expectrl::{Eof, Expect, Session};

const CONFIG: &str = include_str!("../assets/demo/etc/aziot/config.toml");
const DAEMON: &str = include_str!("../assets/demo/etc/docker/daemon.json");
const ANSWERS: &str = include_str!("../assets/demo/answers.toml");

fn demo_device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml", CONFIG);
    device.write("/etc/docker/daemon.json", DAEMON);
    device
}

fn wizard(device: &Device, args: &[&str]) -> OsSession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgeprep"));
    cmd.env("PATH", device.bin()).env("USER", "tester").env_remove("SUDO_USER").env("TERM", "xterm");
    // Over SSH the wizard would keep the changes only if confirmed (and wait for it).
    cmd.env_remove("SSH_CONNECTION");
    cmd.env("EDGEPREP_TEST_ROOT", device.root());
    cmd.env_remove("NO_COLOR");
    cmd.arg("--root").arg(device.root()).arg("--run-commands").args(args);
    let mut session = Session::spawn(cmd).expect("spawning edgeprep in a pty");
    session.get_process_mut().set_window_size(80, 24).expect("setting the pty size");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session
}

/// The same device and answers through `apply --answers FILE --yes`.
fn applied_by_the_cli() -> Device {
    let device = demo_device();
    let answers = device.answers(ANSWERS);
    device.edgeprep(&["apply", "--answers", answers.to_str().unwrap(), "--yes"]).assert().success();
    device
}

fn exit_status(session: &OsSession) -> String {
    format!("{:?}", session.get_process().wait().expect("waiting for edgeprep"))
}

#[test]
fn full_screen_enter_on_every_screen_applies_exactly_what_apply_does() {
    let device = demo_device();
    let answers = device.answers(ANSWERS);
    let mut session = wizard(&device, &["--answers", answers.to_str().unwrap()]);
    session.expect("What to do:").unwrap();
    // Overview, nine steps, Review, its confirmation, Done: every key is handled in order, and
    // planning and applying run before the next key is read.
    for _ in 0..13 {
        session.send("\r").unwrap();
    }
    session.expect("Backed up the originals as ").unwrap();
    session.expect(Eof).unwrap();
    assert!(exit_status(&session).contains(", 0)"), "{}", exit_status(&session));
    let cli = applied_by_the_cli();
    assert_eq!(device.device_snapshot(), cli.device_snapshot());
    assert_eq!(device.calls(), cli.calls());
    assert!(!device.calls().is_empty());
}

#[test]
fn plain_enter_on_every_prompt_applies_exactly_what_apply_does() {
    let device = demo_device();
    let answers = device.answers(ANSWERS);
    let mut session = wizard(&device, &["--plain", "--answers", answers.to_str().unwrap()]);
    session.expect("What to do?").unwrap();
    session.send("\r").unwrap();
    // The file leaves out the Edge CA, the agent's storage and privileges: Enter keeps each as
    // the device has it.
    for step in ["Edge CA:", "Agent storage:", "Privileges:"] {
        session.expect(step).unwrap();
        session.send("\r").unwrap();
    }
    session.expect("Apply these changes?").unwrap();
    session.send("\r").unwrap();
    session.expect("Done.").unwrap();
    session.expect(Eof).unwrap();
    let cli = applied_by_the_cli();
    assert_eq!(device.device_snapshot(), cli.device_snapshot());
    assert_eq!(device.calls(), cli.calls());
}

#[test]
fn sighup_in_the_middle_of_the_wizard_ends_it_promptly_changes_nothing_and_keeps_the_draft() {
    let device = demo_device();
    let before = device.device_snapshot();
    let mut session = wizard(&device, &[]);
    session.expect("What to do:").unwrap();
    session.send("\r").unwrap(); // Overview: prepare for production
    session.send("\r").unwrap(); // Edge CA accepted: the draft is kept
    session.expect("Upstream protocol").unwrap();
    session.send("\x1b[C").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let pid = session.get_process().pid().to_string();
    let status = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(status.success());
    let start = Instant::now();
    let status = loop {
        let status = format!("{:?}", session.get_process().status().expect("edgeprep's status"));
        if !status.contains("StillAlive") {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "edgeprep still running 10 s after SIGHUP");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.contains("129"), "exit status {status}");
    assert_eq!(device.device_snapshot(), before, "no device file changed");
    assert!(device.calls().is_empty());

    use std::os::unix::fs::PermissionsExt;
    let draft = device.path("/var/lib/edgeprep/wizard/draft.toml");
    let mode = std::fs::metadata(&draft).expect("the draft is kept after the hangup").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(draft.parent().unwrap()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    assert!(device.read("/var/lib/edgeprep/wizard/draft.toml").contains("edge_ca"));

    // The next start on the device offers it back; declining removes it.
    let mut session = wizard(&device, &[]);
    session.expect("Resume?").unwrap();
    session.send("n").unwrap();
    let start = Instant::now();
    while draft.exists() {
        assert!(start.elapsed() < Duration::from_secs(10), "declined, yet the draft is still there");
        std::thread::sleep(Duration::from_millis(50));
    }
    session.send("q").unwrap();
    session.expect(Eof).unwrap();
}

#[test]
fn without_a_terminal_the_wizard_points_at_apply() {
    let device = demo_device();
    device.edgeprep(&[]).assert().code(2).stderr(predicates::str::contains("edgeprep apply --answers FILE"));
}

#[test]
fn typing_a_protocol_proxy_cleanup_time_and_log_size_writes_them() {
    let device = demo_device();
    let mut session = wizard(&device, &[]);
    session.expect("What to do:").unwrap();
    let right = "\x1b[C";
    let end = "\x1b[F";
    let backspace = "\x7f";
    let keys = [
        "\r".to_string(),                                       // Overview: prepare for production
        format!("{right}\r"),                                   // Edge CA: keep
        format!("\t{right}{right}\r"),                          // Upstream: AmqpWs → Mqtt → MqttWs
        format!("{right}\thttp://proxy.site:3128\r"),           // Proxy: set, type the URL
        "\r".to_string(),                                       // Runtime image: keep
        "\r".to_string(),                                       // Agent storage: the default
        "\r".to_string(),                                       // Privileges: false
        format!("\t\t\t\t{end}{}02:15\r", backspace.repeat(5)), // Image cleanup at 02:15
        format!("\t\t{end}{}50m\r", backspace.repeat(3)),       // Logs: 50m per file
        "\r".to_string(),                                       // DNS: keep
        "\r\r".to_string(),                                     // Review and its confirmation
        "\r".to_string(),                                       // Done
    ];
    for key in keys {
        session.send(key).unwrap();
    }
    session.expect("Backed up the originals as ").unwrap();
    session.expect(Eof).unwrap();
    let config = device.read("/etc/aziot/config.toml");
    assert!(config.contains("UpstreamProtocol = \"MqttWs\""), "{config}");
    assert!(config.contains("https_proxy = \"http://proxy.site:3128\""), "{config}");
    assert!(config.contains("cleanup_time = \"02:15\""), "{config}");
    // The safe defaults of the two steps accepted with Enter.
    assert!(config.contains("allow_elevated_docker_permissions = false"), "{config}");
    assert!(config.contains("\"/var/lib/edgeprep/edge-agent:/iotedge/storage\""), "{config}");
    assert!(device.path("/var/lib/edgeprep/edge-agent").is_dir());
    assert!(!config.contains("\n[edge_ca]"), "the Edge CA was kept: {config}");
    let daemon: serde_json::Value = serde_json::from_str(&device.read("/etc/docker/daemon.json")).unwrap();
    assert_eq!(daemon["log-driver"], "local");
    assert_eq!(daemon["log-opts"]["max-size"], "50m");
    assert!(
        device.read("/etc/systemd/system/docker.service.d/edgeprep-proxy.conf").contains("proxy.site:3128")
    );
}

#[test]
fn no_color_keeps_reverse_video_for_the_selection() {
    let device = demo_device();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgeprep"));
    cmd.env("PATH", device.bin()).env("TERM", "xterm").env("NO_COLOR", "1");
    cmd.arg("--root").arg(device.root());
    let mut session = Session::spawn(cmd).expect("spawning edgeprep in a pty");
    session.get_process_mut().set_window_size(80, 24).unwrap();
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    // crossterm alone would turn this into a bare reset under NO_COLOR (rust-stack.md).
    session.expect("\x1b[7m").unwrap();
    session.send("q").unwrap();
    session.expect(Eof).unwrap();
}

#[test]
fn sighup_during_apply_rolls_every_file_back_and_exits() {
    let device = demo_device();
    // The first command (systemctl daemon-reload) takes a while, so the hangup arrives while
    // apply runs; apply finishes that command, stops before the next and restores every file.
    device.fake("systemctl", "/bin/sleep 1");
    let before = device.device_snapshot();
    let answers = device.answers(ANSWERS);
    let mut session = wizard(&device, &["--answers", answers.to_str().unwrap()]);
    session.expect("What to do:").unwrap();
    for _ in 0..12 {
        session.send("\r").unwrap();
    }
    let start = Instant::now();
    while device.calls().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "apply never ran a command");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = session.get_process().pid().to_string();
    assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    let status = loop {
        let status = format!("{:?}", session.get_process().status().expect("edgeprep's status"));
        if !status.contains("StillAlive") {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "edgeprep still running after SIGHUP");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.contains("129"), "exit status {status}");
    let after = device.device_snapshot();
    let cli = applied_by_the_cli();
    assert_ne!(before, cli.device_snapshot(), "the answers change files");
    assert_eq!(after, before, "every file is back as it was; calls: {:?}", device.calls());
}

#[test]
fn term_dumb_starts_the_plain_prompts() {
    let device = demo_device();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_edgeprep"));
    cmd.env("PATH", device.bin()).env("TERM", "dumb").env("USER", "tester");
    cmd.arg("--root").arg(device.root());
    let mut session = Session::spawn(cmd).expect("spawning edgeprep in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session.expect("What to do?").unwrap();
    // Esc stops the prompts: nothing changed.
    session.send("\x1b").unwrap();
    session.expect("Stopped: nothing was changed.").unwrap();
    session.expect(Eof).unwrap();
    assert!(device.calls().is_empty());
}
