//! The wizard's own options (`--answers`, `--plain`) given before a command: a usage error
//! naming where they belong, never silently ignored.

use assert_cmd::Command;
use predicates::prelude::*;

fn edgeprep(args: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("edgeprep").unwrap().env("PATH", "").args(args).assert()
}

#[test]
fn answers_before_a_command_is_a_usage_error_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let answers = dir.path().join("answers.toml");
    std::fs::write(&answers, "[upstream]\nprotocol = \"MqttWs\"\n").unwrap();
    edgeprep(&["--demo", "--answers", answers.to_str().unwrap(), "plan"])
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(
            predicate::str::contains("--answers before a command")
                .and(predicate::str::contains("edgeprep plan --answers FILE")),
        );
}

#[test]
fn plain_before_a_command_is_a_usage_error() {
    edgeprep(&["--plain", "--demo", "check"]).code(2).stderr(predicate::str::contains("--plain"));
    edgeprep(&["--plain", "--demo", "wizard"])
        .code(2)
        .stderr(predicate::str::contains("edgeprep wizard --plain"));
}

#[test]
fn global_options_before_a_command_still_work() {
    edgeprep(&["--demo", "check", "--only", "dns"]).code(0).stdout(predicate::str::contains("[dns]"));
}
