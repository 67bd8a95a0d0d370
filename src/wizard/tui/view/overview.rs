//! The Overview: the device against the production checklist, and the three paths.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Paragraph};

use super::theme::Theme;
use crate::wizard::questions::{Path, section};
use crate::wizard::tui::model::{Model, shown_value};

/// Width of the checklist's item column.
const ITEM: usize = 18;
/// From this inner width on, the Overview shows the proposal beside each item.
const WIDE: usize = 80;

/// What the chosen path would do to a checklist item: "keep", or the values it would set
/// (secrets as stars).
fn proposal(model: &Model, item: &str) -> String {
    let (section_key, only): (&str, Option<&str>) = match item {
        "Provisioned" => ("provisioning", None),
        "Edge CA" => ("edge_ca", None),
        "Upstream protocol" => ("upstream", None),
        "Proxy" => ("proxy", None),
        "Image cleanup" => ("image_garbage_collection", None),
        "Container logs" => ("logging", None),
        "DNS" => ("dns", None),
        "Agent image" => ("agent", Some("agent.image")),
        "Registry" => ("agent", Some("agent.auth.server")),
        _ => return String::new(),
    };
    let Some(section) = section(section_key) else { return String::new() };
    if !model.path.includes(section) || !model.draft.is_set(section_key) {
        return "keep".to_string();
    }
    let values: Vec<String> = model
        .draft
        .visible_fields(section)
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
    let now_width = if wide { (width - ITEM - 1) / 2 } else { width - ITEM - 1 };
    let mut lines = vec![if wide {
        Line::styled(
            format!("{:<w$}edgeprep proposes", "This device now:", w = ITEM + 1 + now_width),
            theme.title,
        )
    } else {
        Line::styled("This device now:", theme.title)
    }];
    for (item, now) in model.facts.checklist() {
        let left = fit(&format!(" {item:<ITEM$}{now}"), ITEM + 1 + now_width);
        if wide {
            let proposed = fit(&proposal(model, item), width - ITEM - 1 - now_width);
            lines.push(Line::from(vec![
                Span::raw(format!("{left:<w$}", w = ITEM + 1 + now_width)),
                Span::styled(proposed, theme.good),
            ]));
        } else {
            lines.push(Line::raw(left));
        }
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
