//! `edgeprep answers check` on a file whose name holds control characters: the success line
//! quotes the name escaped, so a name cannot drive the terminal.

use assert_cmd::Command;

#[test]
fn answers_check_success_line_escapes_control_characters_in_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site\u{1b}[2J\rnamed.toml");
    std::fs::write(&path, "hostname = \"edge-01\"\n").unwrap();
    let output =
        Command::cargo_bin("edgeprep").unwrap().args(["answers", "check"]).arg(&path).assert().success();
    let stdout = String::from_utf8_lossy(&output.get_output().stdout).into_owned();
    assert!(stdout.contains("site\\u{1b}[2J\\rnamed.toml: valid"), "{stdout:?}");
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\r'), "raw control character in {stdout:?}");
}
