//! The bottom line: the keys that work on this screen, or the question being asked.

use ratatui::prelude::*;
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use crate::wizard::tui::model::{Model, Screen};

pub fn draw(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    if model.quit_asked {
        let line = Line::from(vec![
            Span::styled("Quit without applying? ", theme.error),
            Span::styled("y", theme.key),
            Span::raw(" quit, any other key stays"),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let keys: &[(&str, &str)] = match model.screen {
        Screen::Overview if model.resume.is_some() => {
            &[("y/Enter", "resume"), ("n/Esc", "start afresh"), ("q", "quit")]
        }
        Screen::Overview => &[("Enter", "start"), ("Up/Down", "path"), ("?", "help"), ("q", "quit")],
        Screen::Step(_) if model.typing() => {
            &[("Enter", "next"), ("Esc", "back"), ("Tab", "field"), ("F1", "help"), ("Ctrl-C", "quit")]
        }
        Screen::Step(_) => &[
            ("Enter", "next"),
            ("Esc", "back"),
            ("Tab", "field"),
            ("Left/Right", "change"),
            ("?", "help"),
            ("q", "quit"),
        ],
        Screen::Review if model.confirming => {
            &[("Enter", "apply now"), ("c", "keep only if confirmed: on/off"), ("Esc", "not yet")]
        }
        Screen::Review => {
            &[("Enter", "apply"), ("Esc", "back"), ("Up/Down PgUp/PgDn", "scroll"), ("q", "quit")]
        }
        Screen::Apply if model.waiting.is_some() => {
            &[("Enter", "keep the changes"), ("Ctrl-C", "revert now")]
        }
        Screen::Apply => &[("", "applying: keys wait until it finishes")],
        Screen::Done if crate::wizard::tui::update::replan_offered(model) => {
            &[("r", "new plan"), ("Enter", "leave")]
        }
        Screen::Done if model.answers.is_some() && model.saved.is_none() => {
            &[("Enter", "leave"), ("s", "save answers"), ("S", "with secrets")]
        }
        Screen::Done => &[("Enter", "leave")],
    };
    let mut spans = Vec::new();
    for (key, what) in keys {
        if !key.is_empty() {
            spans.push(Span::styled(*key, theme.key));
            spans.push(Span::raw(" "));
        }
        spans.push(Span::raw(*what));
        spans.push(Span::raw("  "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
