//! `edgeprep check` as a technician runs it: exit codes, `--only`/`--skip`, the `--json`
//! schema (pinned by a snapshot of the demo device), and colour only at a terminal.

mod common;

use std::process::Command as StdCommand;
use std::time::Duration;

use assert_cmd::Command;
use common::Device;
use expectrl::{Eof, Expect, Session};
use predicates::prelude::*;

fn demo(args: &[&str]) -> Command {
    let mut cmd = Command::cargo_bin("edgeprep").unwrap();
    // No fakes needed: check runs no command on a non-live device. An empty PATH proves it.
    cmd.env("PATH", "").env_remove("NO_COLOR").arg("--demo").arg("check").args(args);
    cmd
}

#[test]
fn demo_json_report_has_the_documented_schema() {
    let output = demo(&["--json"]).assert().code(1).get_output().stdout.clone();
    let text = String::from_utf8(output).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema"], "edgeprep-check/1");
    insta::assert_snapshot!("demo_check_json", text);
}

#[test]
fn demo_report_has_sections_symbols_and_summary_without_colour_when_piped() {
    let output = demo(&[]).assert().code(1).get_output().stdout.clone();
    let text = String::from_utf8(output).unwrap();
    for expected in [
        "Configuration checks\n--------------------\n",
        "√ config.toml is well-formed - OK [config-well-formed]",
        "× production readiness: Edge CA certificate - Error [production-certificates]",
        "‼ production readiness: logs policy - Warning [logs-policy]",
        "fix: answer [logging] (driver = \"local\", max_size, max_files) and run edgeprep apply (answers: logging)",
        "check(s) succeeded.",
        "1 check(s) raised errors.",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains('\x1b'), "colour escape in piped output");
    // The demo's connection string key is never shown.
    assert!(!text.contains("ZGVtby1rZXkt"));
}

#[test]
fn exit_code_is_0_for_warnings_and_1_with_warnings_as_errors() {
    demo(&["--only", "dns"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("‼ container engine DNS servers"));
    demo(&["--only", "dns", "--warnings-as-errors"]).assert().code(1);
    demo(&["--only", "config-well-formed", "--warnings-as-errors"]).assert().code(0);
}

#[test]
fn skip_leaves_out_the_named_checks() {
    let output = demo(&["--skip", "production-certificates", "device-inventory", "--json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let value: serde_json::Value = serde_json::from_slice(&output).unwrap();
    let ids: Vec<&str> =
        value["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&"production-certificates") && !ids.contains(&"device-inventory"), "{ids:?}");
    assert!(ids.contains(&"dns"));
    assert_eq!(value["summary"]["error"], 0);
}

#[test]
fn unknown_check_id_is_bad_usage_listing_the_valid_ones() {
    demo(&["--only", "dsn"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown check id \"dsn\"").and(predicate::str::contains("dns")));
    demo(&["--only"]).assert().code(2);
}

#[test]
fn help_documents_the_exit_codes() {
    let mut cmd = Command::cargo_bin("edgeprep").unwrap();
    cmd.args(["check", "--help"]).assert().success().stdout(
        predicate::str::contains("Exit codes:")
            .and(predicate::str::contains("1  a check raised an error"))
            .and(predicate::str::contains("2  bad usage")),
    );
}

#[test]
fn check_on_a_root_runs_no_command_and_changes_nothing() {
    let device = Device::new();
    device
        .write("/etc/aziot/config.toml", "[provisioning]\nsource = \"manual\"\nconnection_string = \"x\"\n");
    let before = device.snapshot();
    device.edgeprep(&["check"]).assert().code(1);
    assert_eq!(device.snapshot(), before);
    assert!(device.calls().is_empty(), "{:?}", device.calls());
}

fn at_terminal(no_color: Option<&str>) -> String {
    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_edgeprep"));
    cmd.env("PATH", "").env("TERM", "xterm").env_remove("NO_COLOR");
    if let Some(value) = no_color {
        cmd.env("NO_COLOR", value);
    }
    cmd.args(["--demo", "check", "--only", "dns", "config-well-formed"]);
    let mut session = Session::spawn(cmd).expect("spawning edgeprep in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    let captured = session.expect("check(s) succeeded.").expect("the summary");
    let text = String::from_utf8_lossy(captured.before()).into_owned();
    session.expect(Eof).expect("edgeprep ends");
    text
}

#[test]
fn colour_at_a_terminal_but_not_with_no_color() {
    let coloured = at_terminal(None);
    assert!(coloured.contains("\x1b[33m‼ container engine DNS servers"), "{coloured:?}");
    assert!(coloured.contains("\x1b[32m√ config.toml is well-formed"), "{coloured:?}");
    let plain = at_terminal(Some("1"));
    assert!(plain.contains("‼ container engine DNS servers"), "{plain:?}");
    assert!(!plain.contains("\x1b["), "{plain:?}");
}
