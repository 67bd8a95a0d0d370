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
    let before = String::from_utf8_lossy(file.before.as_deref().unwrap_or_default());
    let after = String::from_utf8_lossy(after);
    let old_name = if file.before.is_some() { file.path.clone() } else { "/dev/null".to_string() };
    let text = TextDiff::from_lines(before.as_ref(), after.as_ref())
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

/// The plan for machines: `{"changed", "files": [{path, action, reason, diff}], "commands",
/// "notes"}`, secrets masked.
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
    json!({ "changed": !plan.is_empty(), "files": files, "commands": commands, "notes": notes })
}
