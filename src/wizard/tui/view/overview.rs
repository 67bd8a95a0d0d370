//! The Overview: the device against the production checklist, and the three paths.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Paragraph};

use super::theme::Theme;
use crate::wizard::questions::Path;
use crate::wizard::tui::model::Model;

/// Width of the checklist's item column.
const ITEM: usize = 18;

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines = vec![Line::styled("This device now:", theme.title)];
    for (item, now) in model.facts.checklist() {
        lines.push(Line::raw(fit(&format!(" {item:<ITEM$}{now}"), width)));
    }
    lines.push(Line::default());
    lines.push(Line::styled("What to do:", theme.title));
    for (i, path) in Path::ALL.iter().enumerate() {
        let current = i == model.path_cursor;
        let pointer = if current { '>' } else { ' ' };
        let note = if *path == model.preselected { " (suggested)" } else { "" };
        let style = if current { theme.selected } else { Style::new() };
        lines.push(Line::styled(format!("{pointer} {}. {}{note}", i + 1, path.title()), style));
    }
    let chosen = Path::ALL.get(model.path_cursor).copied().unwrap_or(Path::Production);
    lines.push(Line::styled(fit(&format!("  {}", chosen.summary()), width), theme.dim));
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
