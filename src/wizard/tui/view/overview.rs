//! The Overview: the device against the production checklist, and the three paths.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Clear, Paragraph};

use super::theme::Theme;
use crate::wizard::questions::{Path, section};
use crate::wizard::tui::model::{Model, shown_value};

use crate::checks::{CheckResult, Status};
use crate::wizard::facts::symbol;
use crate::wizard::saved::Saved;

/// From this inner width on, the Overview shows the proposal beside each item.
const WIDE: usize = 80;
/// Width kept for the proposal column on wide terminals.
const PROPOSAL: usize = 36;
/// Lines under the checklist: a blank, "What to do:", and two per path.
const BELOW: usize = 2 + 2 * Path::ALL.len();

/// The answers key a check is about, when an answer covers it: the check's own fix names it
/// on a finding; a passing check has no fix, so the same keys are listed here.
fn answers_key(check: &CheckResult) -> Option<&str> {
    if let Some(key) = check.fix.as_ref().and_then(|f| f.answers_key.as_deref()) {
        return Some(key);
    }
    Some(match check.id {
        "hostname" => "hostname",
        "upstream-protocol" | "proxy-protocol" => "upstream.protocol",
        "agent-image" => "agent.image",
        "host-storage" => "agent.host_storage",
        "elevated-docker-permissions" => "allow_elevated_docker_permissions",
        "image-garbage-collection" => "image_garbage_collection",
        "production-certificates" => "edge_ca",
        "proxy-settings" => "proxy",
        "dns" => "dns.servers",
        "logs-policy" => "logging",
        _ => return None,
    })
}

/// What the chosen path would do about a check: "keep", the values it would set (secrets as
/// stars), or nothing when no answer covers it.
fn proposal(model: &Model, check: &CheckResult) -> String {
    let Some(key) = answers_key(check) else { return String::new() };
    let section_key = crate::wizard::draft::section_of(key);
    let Some(section) = section(section_key) else { return String::new() };
    if !model.path.includes(section) || !model.draft.is_set(section_key) {
        return "keep".to_string();
    }
    let fields = model.draft.visible_fields(section);
    let only = fields.iter().any(|f| f.key == key).then_some(key);
    let values: Vec<String> = fields
        .into_iter()
        .filter(|f| only.is_none_or(|key| f.key == key))
        .map(|f| shown_value(f, model.draft.value(f.key)))
        .filter(|v| !v.is_empty() && v != "(not set)")
        .collect();
    if values.is_empty() { "keep".to_string() } else { values.join(", ") }
}

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let width = usize::from(area.width.saturating_sub(2));
    // Wide terminals also show what the chosen path would make of each item.
    let wide = width >= WIDE;
    // The proposal needs a few words; the titles get the rest.
    let left = if wide { (width / 2).max(width.saturating_sub(PROPOSAL)) } else { width };
    let mut lines = vec![if wide {
        Line::styled(format!("{:<left$}edgeprep proposes", "This device now (edgeprep check):"), theme.title)
    } else {
        Line::styled("This device now (edgeprep check):", theme.title)
    }];
    let room = usize::from(area.height.saturating_sub(2)).saturating_sub(1 + BELOW);
    let checks: Vec<&CheckResult> = model.facts.checklist().collect();
    let problems = checks.iter().filter(|c| c.status != Status::Ok).count();
    let details = checks.iter().filter(|c| c.status != Status::Ok && !c.details.is_empty()).count();
    // Everything when it fits; else the problems first, with the passing checks counted in one
    // line; a finding's first detail under it only when there is room for all of them.
    let fold = checks.len() > room;
    let with_details = !fold && checks.len() + details <= room;
    let shown: Vec<&CheckResult> = if fold {
        checks.iter().filter(|c| c.status != Status::Ok).take(room.saturating_sub(1)).copied().collect()
    } else {
        checks.clone()
    };
    let hidden_problems = problems - shown.len().min(problems);
    for check in &shown {
        let style = match check.status {
            Status::Error => theme.error,
            Status::Warning => theme.warning,
            _ => theme.good,
        };
        let mut spans = vec![
            Span::styled(symbol(check.status), style),
            Span::raw(format!(
                " {:<w$}",
                fit(check.title, left.saturating_sub(3)),
                w = left.saturating_sub(2)
            )),
        ];
        if wide {
            spans.push(Span::styled(fit(&proposal(model, check), width - left), theme.good));
        }
        lines.push(Line::from(spans));
        if let Some(detail) = check.details.first().filter(|_| with_details && check.status != Status::Ok) {
            lines.push(Line::styled(fit(&format!("    {detail}"), width), theme.dim));
        }
    }
    if fold {
        let passing = checks.len() - problems;
        let (status, text) = if hidden_problems > 0 {
            (
                Status::Warning,
                format!(" {hidden_problems} more finding(s), {passing} passing: see edgeprep check"),
            )
        } else {
            (Status::Ok, format!(" {passing} more check(s) pass (edgeprep check lists them)"))
        };
        lines.push(Line::from(vec![Span::styled(symbol(status), theme.good), Span::raw(text)]));
    }
    lines.push(Line::default());
    lines.push(Line::styled("What to do:", theme.title));
    // Only the marker moves with the cursor, so an arrow key costs a few bytes on a slow link.
    for (i, path) in Path::ALL.iter().enumerate() {
        let current = i == model.path_cursor;
        let pointer =
            Span::styled(if current { ">" } else { " " }, Style::new().add_modifier(Modifier::BOLD));
        let note = if *path == model.preselected { " (suggested)" } else { "" };
        lines.push(Line::from(vec![
            pointer,
            Span::styled(format!(" {}. {}{note}", i + 1, path.title()), theme.title),
        ]));
        lines.push(Line::styled(fit(&format!("     {}", path.summary()), width), theme.dim));
    }
    let title = format!(" {} ", model.facts.device);
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(title)), area);
    if let Some(saved) = &model.resume {
        draw_resume(frame, area, saved, theme);
    }
}

/// The question before the Overview, over it: resume the draft an earlier run left?
fn draw_resume(frame: &mut Frame, area: Rect, saved: &Saved, theme: &Theme) {
    let width = area.width.saturating_sub(4).min(60);
    let popup =
        Rect { x: area.x + (area.width - width) / 2, y: area.y + 3, width, height: 7.min(area.height) };
    let inner = usize::from(width.saturating_sub(2));
    let steps = saved.visited.len();
    let lines = vec![
        Line::raw(fit("An earlier run here was cut off; its choices:", inner)),
        Line::raw(fit(&format!("{}, {steps} step(s) reached.", saved.path.title()), inner)),
        Line::raw(fit("Passwords and keys are asked again.", inner)),
        Line::default(),
        Line::from(vec![
            Span::styled("y", theme.key),
            Span::raw(" or Enter: resume   "),
            Span::styled("n", theme.key),
            Span::raw(" or Esc: start afresh"),
        ]),
    ];
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(Span::styled(" Resume? ", theme.title))),
        popup,
    );
}

/// `text` cut to `width` characters, with `~` where it was cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('~');
    cut
}
