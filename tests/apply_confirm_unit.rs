//! The boot unit that reverts an unconfirmed `apply --confirm`: it runs the command this
//! binary understands, only when a record is left where the code writes it, and is ordered
//! after the daemons its revert restarts (before them, the restarts would wait on it).

use std::path::Path;

use clap::Parser;
use edgeprep::apply::confirm::{CONFIRM_DIR, Phase};

fn unit() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/systemd/edgeprep-revert-unconfirmed.service");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every value of `key` in `section`, comments skipped.
fn values(text: &str, section: &str, key: &str) -> Vec<String> {
    let mut current = String::new();
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
        } else if let Some((k, v)) = line.split_once('=')
            && current == section
            && k.trim() == key
        {
            found.push(v.trim().to_string());
        }
    }
    found
}

#[test]
fn the_boot_unit_runs_a_command_this_binary_accepts() {
    let text = unit();
    assert_eq!(values(&text, "Service", "Type"), ["oneshot"]);
    let exec = values(&text, "Service", "ExecStart");
    assert_eq!(exec, ["/usr/bin/edgeprep confirm --revert-unconfirmed --json"]);
    let argv: Vec<&str> = exec[0].split_whitespace().collect();
    let cli = edgeprep::cli::Cli::try_parse_from(&argv).unwrap();
    match cli.command {
        Some(edgeprep::cli::Command::Confirm(args)) => assert!(args.revert_unconfirmed && args.json),
        other => panic!("not the confirm command: {other:?}"),
    }
    assert_eq!(values(&text, "Install", "WantedBy"), ["multi-user.target"]);
}

#[test]
fn the_boot_unit_starts_only_when_a_record_is_left_where_apply_writes_it() {
    let text = unit();
    let conditions = values(&text, "Unit", "ConditionPathExists");
    let expected: Vec<String> = [Phase::Pending, Phase::Reverting]
        .iter()
        .map(|p| format!("|{CONFIRM_DIR}/{}", p.file_name()))
        .collect();
    assert_eq!(conditions, expected);
}

#[test]
fn the_boot_unit_is_ordered_after_the_daemons_its_revert_restarts() {
    let text = unit();
    let after: Vec<String> = values(&text, "Unit", "After")
        .iter()
        .flat_map(|v| v.split_whitespace().map(str::to_string))
        .collect();
    for daemon in ["docker.service", "aziot-identityd.service", "aziot-edged.service", "local-fs.target"] {
        assert!(after.iter().any(|a| a == daemon), "not After={daemon}: {after:?}");
    }
    let before = values(&text, "Unit", "Before").join(" ");
    assert!(!before.contains("aziot") && !before.contains("docker"), "Before={before} would deadlock");
}
