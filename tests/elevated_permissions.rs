//! `allow_elevated_docker_permissions`: the top-level answer, through plan, apply and re-apply.

mod common;

use common::{Device, PROVISIONING, template_text};
use predicates::prelude::*;

fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml.edge.template", template_text());
    device
}

fn apply(device: &Device, answers: &str) -> assert_cmd::assert::Assert {
    let path = device.answers(answers);
    device.edgeprep(&["apply", "--yes", "--answers", path.to_str().unwrap()]).assert()
}

fn denied() -> String {
    format!("allow_elevated_docker_permissions = false\n\n{PROVISIONING}")
}

/// The line of the first key assignment or table header starting with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines().position(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} in {text}"))
}

#[test]
fn false_lands_at_the_top_level_before_the_first_table() {
    let device = device();
    apply(&device, &denied()).success();
    let text = device.read("/etc/aziot/config.toml");
    let table: toml::Table = text.parse().unwrap();
    assert_eq!(table["allow_elevated_docker_permissions"].as_bool(), Some(false));
    assert!(line_of(&text, "allow_elevated_docker_permissions") < line_of(&text, "["), "{text}");
}

#[test]
fn the_plan_says_what_privileged_modules_lose() {
    let device = device();
    let path = device.answers(&denied());
    let output = device
        .edgeprep(&["plan", "--json", "--answers", path.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert!(plan["files"][0]["reason"].as_str().unwrap().contains("elevated Docker permissions"), "{plan:#}");
    let notes = plan["notes"].to_string();
    for part in ["without Privileged", "CapAdd", "CHOWN and SETUID"] {
        assert!(notes.contains(part), "{part}: {notes}");
    }
    // Once the device has it, nothing more is said.
    apply(&device, &denied()).success();
    let output = device
        .edgeprep(&["plan", "--json", "--answers", path.to_str().unwrap()])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let plan: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(plan["changed"], false, "{plan:#}");
    assert!(!plan["notes"].to_string().contains("CapAdd"), "{plan:#}");
}

#[test]
fn true_on_the_device_is_turned_off_in_place_keeping_its_comment() {
    let device = device();
    let config =
        format!("hostname = \"edge-01\"\nallow_elevated_docker_permissions = true # bench\n\n{PROVISIONING}");
    device.write("/etc/aziot/config.toml", &config);
    apply(&device, &denied()).success();
    let text = device.read("/etc/aziot/config.toml");
    assert_eq!(text, config.replace("= true # bench", "= false # bench"));
}

#[test]
fn without_the_answer_the_device_setting_is_left_alone() {
    let device = device();
    let config = format!("allow_elevated_docker_permissions = true\n\n{PROVISIONING}");
    device.write("/etc/aziot/config.toml", &config);
    apply(&device, "[upstream]\nprotocol = \"AmqpWs\"\n").success();
    let table: toml::Table = device.read("/etc/aziot/config.toml").parse().unwrap();
    assert_eq!(table["allow_elevated_docker_permissions"].as_bool(), Some(true));
}

#[test]
fn a_second_apply_has_nothing_to_do_and_runs_no_command() {
    let device = device();
    apply(&device, &denied()).success();
    let calls = device.calls().len();
    apply(&device, &denied()).success().stdout(predicate::str::contains("No changes"));
    assert_eq!(device.calls().len(), calls, "{:?}", device.calls());
}

#[test]
fn check_passes_elevated_docker_permissions_after_apply() {
    let device = device();
    apply(&device, &denied()).success();
    let output = device
        .edgeprep(&["check", "--json", "--only", "elevated-docker-permissions"])
        .assert()
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(report["results"][0]["status"], "ok", "{report:#}");
}

#[test]
fn check_on_a_device_that_allows_them_points_at_the_answer() {
    let device = device();
    device.write("/etc/aziot/config.toml", PROVISIONING);
    let output = device
        .edgeprep(&["check", "--json", "--only", "elevated-docker-permissions"])
        .assert()
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(report["results"][0]["status"], "warning", "{report:#}");
    assert_eq!(report["results"][0]["fix"]["answers_key"], "allow_elevated_docker_permissions");
}

#[test]
fn a_value_that_is_not_a_boolean_is_refused_with_its_line() {
    let device = device();
    apply(&device, "hostname = \"edge-01\"\nallow_elevated_docker_permissions = \"no\"\n").code(2).stderr(
        predicate::str::contains(
            "answers.toml: line 2, column 37: allow_elevated_docker_permissions: invalid type",
        )
        .and(predicate::str::contains("write true or false")),
    );
}
