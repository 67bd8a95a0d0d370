//! The left rail: every step with its state, the current one marked.

use ratatui::prelude::*;
use ratatui::widgets::{Block, Paragraph};

use super::theme::Theme;
use crate::wizard::questions::SECTIONS;
use crate::wizard::tui::model::{Model, Screen};

/// Width of the rail, border included.
pub const WIDTH: u16 = 22;

/// A step's state as the rail shows it: marker and words for the help.
fn marker(model: &Model, key: &str, on_path: bool, has_error: bool) -> char {
    if !on_path {
        '.'
    } else if model.draft.is_set(key) && has_error && model.visited.contains(&key) {
        '!'
    } else if !model.draft.is_set(key) {
        '-'
    } else if model.visited.contains(&key) {
        '*'
    } else {
        ' '
    }
}

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let checked = model.checked();
    let mut lines = Vec::new();
    let mut item = |label: &str, mark: char, current: bool, style: Style| {
        let pointer = if current { '>' } else { ' ' };
        let text = format!("{pointer}{mark} {label}");
        lines.push(Line::styled(text, if current { theme.selected } else { style }));
    };
    item("Overview", ' ', model.screen == Screen::Overview, Style::new());
    for (i, section) in SECTIONS.iter().enumerate() {
        let on_path = model.path.includes(section);
        let mark = marker(model, section.key, on_path, checked.section_has_error(section.key));
        let style = match mark {
            '.' => theme.dim,
            '!' => theme.error,
            _ => Style::new(),
        };
        item(section.title, mark, model.screen == Screen::Step(i), style);
    }
    item("Review", ' ', model.screen == Screen::Review, Style::new());
    item("Apply", ' ', model.screen == Screen::Apply, Style::new());
    item("Done", ' ', model.screen == Screen::Done, Style::new());
    lines.push(Line::default());
    lines.push(Line::styled("* set  - keep", theme.dim));
    lines.push(Line::styled("! fix  . not needed", theme.dim));
    frame.render_widget(Paragraph::new(lines).block(Block::bordered().title(" Steps ")), area);
}
