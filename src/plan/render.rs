//! Showing a plan: unified diffs with secrets masked, then the commands with their reasons.
//! Plain text that fits 80 columns and needs no colour, for SSH sessions and logs.

use serde_json::json;
use similar::TextDiff;

use super::{FileAction, FileChange, Plan, Visibility};
use crate::secrets::mask;

/// What the text says when there is nothing to do.
pub const NO_CHANGES: &str = "No changes: the device already matches the answers.";

/// The plan as a technician reads it: each file with its reason and diff, the commands in
/// order with their reasons, then notes.
pub fn render_text(plan: &Plan) -> String {
    if plan.is_empty() {
        let mut out = format!("{NO_CHANGES}\n");
        for note in &plan.notes {
            out.push_str(&format!("Note: {note}\n"));
        }
        return out;
    }
    let mut out = String::new();
    for dir in &plan.dirs {
        out.push_str(&format!(
            "Directory {} (mode {:04o}, uid {} gid {})\n",
            dir.path, dir.ownership.mode, dir.ownership.uid, dir.ownership.gid
        ));
    }
    for file in &plan.files {
        out.push_str(&render_file(file, &plan.secrets));
        out.push('\n');
    }
    if !plan.commands.is_empty() {
        out.push_str("Commands, in order:\n");
        for (i, command) in plan.commands.iter().enumerate() {
            out.push_str(&format!("  {}. {}\n{}", i + 1, command.display(), wrap(&command.reason, "     ")));
        }
    }
    if !plan.notes.is_empty() {
        out.push_str("\nNotes:\n");
        for note in &plan.notes {
            let text = wrap(&mask(note, &plan.secrets), "    ");
            out.push_str(&format!("  - {}", text.trim_start()));
        }
    }
    out
}

fn render_file(file: &FileChange, secrets: &[String]) -> String {
    let verb = match (&file.action, &file.before) {
        (FileAction::MoveToBackup, _) => "move into the backup",
        (FileAction::Write(_), None) => "create",
        (FileAction::Write(_), Some(_)) => "change",
    };
    let mut out = format!("== {} ({verb})\n{}", file.path, wrap(&file.reason, "   "));
    if let Some(own) = file.ownership {
        out.push_str(&format!("   mode {:04o}, uid {} gid {}\n", own.mode, own.uid, own.gid));
    }
    match (&file.visibility, &file.action) {
        (_, FileAction::MoveToBackup) => {}
        (Visibility::Secret, _) => out.push_str("   (private key: contents not shown)\n"),
        (Visibility::Summary(summary), _) => out.push_str(&format!("   {summary}\n")),
        (Visibility::Diff, FileAction::Write(after)) => out.push_str(&diff(file, after, secrets)),
    }
    out
}

/// `text` wrapped to fit 80 columns, each line starting with `indent`.
fn wrap(text: &str, indent: &str) -> String {
    const WIDTH: usize = 80;
    let mut out = String::new();
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        if line.len() > indent.len() && line.len() + 1 + word.len() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// A unified diff of one file, secrets masked line by line.
fn diff(file: &FileChange, after: &[u8], secrets: &[String]) -> String {
    let before = visible_endings(&String::from_utf8_lossy(file.before.as_deref().unwrap_or_default()));
    let after = visible_endings(&String::from_utf8_lossy(after));
    let old_name = if file.before.is_some() { file.path.clone() } else { "/dev/null".to_string() };
    let text = TextDiff::from_lines(before.as_str(), after.as_str())
        .unified_diff()
        .context_radius(3)
        .header(&old_name, &file.path)
        .to_string();
    let mut text = mask(&text, secrets);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// A CR at a line end and a byte-order mark are invisible on a terminal (or, raw, move the
/// cursor), yet they are what a CRLF-to-LF line differs by: they are shown as `␍` and `<BOM>`.
fn visible_endings(text: &str) -> String {
    let text = match text.strip_prefix('\u{FEFF}') {
        Some(rest) => format!("<BOM>{rest}"),
        None => text.to_string(),
    };
    let mut out = text.replace("\r\n", "␍\n");
    if out.ends_with('\r') {
        out.pop();
        out.push('␍');
    }
    out
}

/// The plan for machines: `{"changed", "dirs": [{path, mode, uid, gid}], "files": [{path,
/// action, reason, diff}], "commands", "notes"}`, secrets masked. `mode` is octal text, as
/// `ls` and `chmod` write it.
pub fn render_json(plan: &Plan) -> serde_json::Value {
    let files: Vec<_> = plan
        .files
        .iter()
        .map(|file| {
            let action = match (&file.action, &file.before) {
                (FileAction::MoveToBackup, _) => "move_to_backup",
                (FileAction::Write(_), None) => "create",
                (FileAction::Write(_), Some(_)) => "modify",
            };
            let diff = match (&file.visibility, &file.action) {
                (Visibility::Diff, FileAction::Write(after)) => Some(diff(file, after, &plan.secrets)),
                _ => None,
            };
            json!({ "path": file.path, "action": action, "reason": file.reason, "diff": diff })
        })
        .collect();
    let commands: Vec<_> =
        plan.commands.iter().map(|c| json!({ "command": c.display(), "reason": c.reason })).collect();
    let notes: Vec<_> = plan.notes.iter().map(|n| mask(n, &plan.secrets)).collect();
    let dirs: Vec<_> = plan
        .dirs
        .iter()
        .map(|d| {
            let o = d.ownership;
            json!({ "path": d.path, "mode": format!("{:04o}", o.mode), "uid": o.uid, "gid": o.gid })
        })
        .collect();
    json!({ "changed": !plan.is_empty(), "dirs": dirs, "files": files, "commands": commands, "notes": notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(before: &[u8], after: &[u8]) -> FileChange {
        FileChange {
            path: "/etc/aziot/config.toml".into(),
            before: Some(before.to_vec()),
            action: FileAction::Write(after.to_vec()),
            ownership: None,
            holds_secrets: false,
            visibility: Visibility::Diff,
            reason: "test".into(),
        }
    }

    #[test]
    fn a_cr_at_line_end_and_a_bom_are_shown_visibly_in_the_diff() {
        let before = "\u{FEFF}hostname = \"a\"\r\n[agent]\r\n".as_bytes();
        let after = "\u{FEFF}hostname = \"b\"\r\n[agent]\r\n".as_bytes();
        let file = change(before, after);
        let text = diff(&file, after, &[]);
        assert!(!text.contains('\r') && !text.contains('\u{FEFF}'), "{text:?}");
        assert!(text.contains("-<BOM>hostname = \"a\"␍\n+<BOM>hostname = \"b\"␍\n"), "{text}");
        assert!(text.contains(" [agent]␍\n"), "{text}");
    }

    #[test]
    fn a_line_that_only_loses_its_cr_shows_as_changed() {
        let file = change(b"a\r\nb\r", b"a\nb");
        let text = diff(&file, b"a\nb", &[]);
        assert!(text.contains("-a␍\n-b␍\n") && text.contains("+a\n+b"), "{text}");
    }
}
