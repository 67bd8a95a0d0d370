//! One step: why it matters, keep or set, then each field with the device's value, the
//! recommendation, and the problem under it when there is one.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::overview::fit;
use super::theme::Theme;
use crate::wizard::questions::Section;
use crate::wizard::tui::model::{Model, shown_value};

/// Width of the label column.
const LABEL: usize = 18;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, section: &'static Section, theme: &Theme) {
    let block = Block::bordered().title(format!(" {} ", section.title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let why = Paragraph::new(section.why).wrap(Wrap { trim: true });
    let why_height = u16::try_from(wrapped_height(section.why, usize::from(inner.width)))
        .unwrap_or(u16::MAX)
        .min(inner.height / 3);
    let [why_area, _, body] =
        Layout::vertical([Constraint::Length(why_height), Constraint::Length(1), Constraint::Min(0)])
            .areas(inner);
    frame.render_widget(why.style(theme.dim), why_area);

    let set = model.draft.is_set(section.key);
    let checked = model.checked();
    let mut lines: Vec<Line> = Vec::new();
    // (line index of each focusable row, its text start column) for scrolling and the cursor.
    let mut rows: Vec<usize> = Vec::new();
    let choice = if set { "< set these values >" } else { "< keep what the device has >" };
    rows.push(lines.len());
    lines.push(row_line(model.focus == 0, "Change", choice, theme));
    for problem in checked.for_section_only(&model.draft, section) {
        lines.push(problem_line(&problem.message, problem.error, theme));
    }
    if section.key == "proxy" {
        let device_protocol = model.facts.current("upstream.protocol");
        // Wrapped, not cut: the fix (the WebSocket protocol to pick) is at its end.
        let width = usize::from(body.width).saturating_sub(4).max(20);
        for warning in model.draft.proxy_protocol_warnings(model.path, device_protocol) {
            for (i, part) in wrap(&warning, width).into_iter().enumerate() {
                let mark = if i == 0 { "! " } else { "  " };
                lines.push(Line::styled(format!("  {mark}{part}"), theme.warning));
            }
        }
    }
    for (i, field) in model.draft.visible_fields(section).into_iter().enumerate() {
        let focused = set && model.focus == i + 1;
        let text = model.draft.value(field.key);
        let room = usize::from(body.width).saturating_sub(LABEL + 3).max(1);
        let shown = match field.kind.options() {
            Some(_) => format!("< {} >", shown_value(field, text)),
            // The focused field scrolls to keep the cursor in view; others show their start.
            None if focused => {
                shown_value(field, text).chars().skip(model.cursor.saturating_sub(room)).collect()
            }
            None => fit(&shown_value(field, text), room),
        };
        rows.push(lines.len());
        let mut line = row_line(focused, field.label, &shown, theme);
        if !set {
            line = line.style(theme.dim);
        }
        lines.push(line);
        let problems: Vec<_> = if set { checked.for_field(field.key).collect() } else { Vec::new() };
        if problems.is_empty() {
            let width = usize::from(body.width).saturating_sub(LABEL + 2);
            let pad = " ".repeat(LABEL + 2);
            if focused {
                lines.push(Line::styled(format!("{pad}{}", fit(field.hint, width)), theme.dim));
            } else {
                let now = format!("now: {}", model.facts.current(field.key).unwrap_or("not set"));
                let rec = field.recommended.map(|r| format!("recommended: {}", shown_value(field, r)));
                match rec {
                    Some(rec) if now.chars().count() + 2 + rec.chars().count() <= width => {
                        lines.push(Line::styled(format!("{pad}{now}  {rec}"), theme.dim));
                    }
                    Some(rec) => {
                        lines.push(Line::styled(format!("{pad}{}", fit(&now, width)), theme.dim));
                        lines.push(Line::styled(format!("{pad}{}", fit(&rec, width)), theme.dim));
                    }
                    None => lines.push(Line::styled(format!("{pad}{}", fit(&now, width)), theme.dim)),
                }
            }
        }
        for problem in problems {
            lines.push(problem_line(&problem.message, problem.error, theme));
        }
        if let (true, "edge_ca.cert", Some((cert, _, verdict))) = (set, field.key, &model.cert_verdict)
            && cert == text
        {
            // The live `cert inspect` verdict, full width: it names the CA and its days left.
            let (mark, style) =
                if verdict.starts_with("usable") { ("+ ", theme.good) } else { ("x ", theme.error) };
            let width = usize::from(body.width).saturating_sub(4);
            lines.push(Line::styled(format!("  {mark}{}", fit(verdict, width)), style));
        }
    }
    // Keep the focused row on screen.
    let focus_line = rows.get(model.focus).copied().unwrap_or(0);
    let height = usize::from(body.height);
    let scroll = (focus_line + 2).saturating_sub(height);
    let scroll_u16 = u16::try_from(scroll).unwrap_or(0);
    frame.render_widget(Paragraph::new(lines).scroll((scroll_u16, 0)), body);

    if set && model.typing() {
        let room = usize::from(body.width).saturating_sub(LABEL + 3).max(1);
        let col = LABEL + 2 + model.cursor.min(room);
        let x = body.x.saturating_add(u16::try_from(col).unwrap_or(u16::MAX));
        let y = body.y.saturating_add(u16::try_from(focus_line - scroll).unwrap_or(0));
        if x < body.right() && y < body.bottom() {
            frame.set_cursor_position((x, y));
        }
    }
}

fn row_line<'a>(focused: bool, label: &str, value: &str, theme: &Theme) -> Line<'a> {
    let pointer = if focused { '>' } else { ' ' };
    let label = format!("{pointer} {label:<w$}", w = LABEL);
    let value_style = if focused { theme.selected } else { Style::new() };
    Line::from(vec![
        Span::styled(label, if focused { theme.title } else { Style::new() }),
        Span::styled(value.to_string(), value_style),
    ])
}

fn problem_line<'a>(message: &str, error: bool, theme: &Theme) -> Line<'a> {
    let (mark, style) = if error { ("x ", theme.error) } else { ("! ", theme.warning) };
    Line::styled(format!("{:w$}{mark}{message}", "", w = 2), style)
}

/// `text` word-wrapped at `width` characters (a word longer than that stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Lines `text` takes when word-wrapped at `width` (as the Paragraph wraps it, near enough).
fn wrapped_height(text: &str, width: usize) -> usize {
    let mut lines = 1;
    let mut used = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if used > 0 && used + 1 + len > width {
            lines += 1;
            used = 0;
        }
        used += if used > 0 { len + 1 } else { len };
    }
    lines
}
