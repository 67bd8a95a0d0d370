//! The report as text (in the style of `iotedge check`: sections, `√`/`‼`/`×`, summary counts)
//! and as JSON (a stable schema, documented in the README and pinned by a snapshot test).

use super::{Report, Section, Status};

/// The JSON schema's version; bumped only when a field changes meaning or goes away.
pub const JSON_SCHEMA: &str = "edgeprep-check/1";

/// The report as JSON:
/// `{"schema", "results": [{"id", "section", "title", "status", "reason", "details", "fix":
/// {"text", "answers_key"} | null}], "summary": {"ok", "warning", "error", "skipped", "info"}}`.
pub fn render_json(report: &Report) -> serde_json::Value {
    serde_json::json!({
        "schema": JSON_SCHEMA,
        "results": report.results,
        "summary": report.summary,
    })
}

pub fn symbol(status: Status) -> &'static str {
    match status {
        Status::Ok => "√",
        Status::Warning => "‼",
        Status::Error => "×",
        Status::Skipped => "-",
        Status::Info => "i",
    }
}

fn word(status: Status) -> &'static str {
    match status {
        Status::Ok => "OK",
        Status::Warning => "Warning",
        Status::Error => "Error",
        Status::Skipped => "Skipped",
        Status::Info => "Info",
    }
}

/// ANSI colour of a status (green, yellow, red, dim, cyan).
fn colour(status: Status) -> &'static str {
    match status {
        Status::Ok => "\x1b[32m",
        Status::Warning => "\x1b[33m",
        Status::Error => "\x1b[31m",
        Status::Skipped => "\x1b[2m",
        Status::Info => "\x1b[36m",
    }
}

const RESET: &str = "\x1b[0m";

/// The report as text; `colour` only when writing to a terminal without NO_COLOR.
pub fn render_text(report: &Report, use_colour: bool) -> String {
    let paint = |status: Status, text: &str| {
        if use_colour { format!("{}{text}{RESET}", colour(status)) } else { text.to_string() }
    };
    let mut out = String::new();
    let mut section: Option<Section> = None;
    for r in &report.results {
        if section != Some(r.section) {
            if section.is_some() {
                out.push('\n');
            }
            let heading = r.section.heading();
            out.push_str(&format!("{heading}\n{}\n", "-".repeat(heading.chars().count())));
            section = Some(r.section);
        }
        out.push_str(&paint(r.status, &format!("{} {} - {}", symbol(r.status), r.title, word(r.status))));
        out.push_str(&format!(" [{}]\n", r.id));
        if let Some(reason) = &r.reason {
            out.push_str(&format!("    {reason}\n"));
        }
        let show_details = !matches!(r.status, Status::Ok) || r.details.len() > 1;
        if show_details {
            for d in &r.details {
                out.push_str(&format!("    {d}\n"));
            }
        }
        if let Some(fix) = &r.fix {
            let key = fix.answers_key.as_deref().map(|k| format!(" (answers: {k})")).unwrap_or_default();
            out.push_str(&format!("    fix: {}{key}\n", fix.text));
        }
    }
    let s = report.summary;
    out.push_str(&format!("\n{}\n", paint(Status::Ok, &format!("{} check(s) succeeded.", s.ok))));
    for (n, status, text) in [
        (s.warning, Status::Warning, "raised warnings"),
        (s.error, Status::Error, "raised errors"),
        (s.skipped, Status::Skipped, "were skipped"),
        (s.info, Status::Info, "gave information"),
    ] {
        if n > 0 {
            out.push_str(&paint(status, &format!("{n} check(s) {text}.")));
            out.push('\n');
        }
    }
    out
}
