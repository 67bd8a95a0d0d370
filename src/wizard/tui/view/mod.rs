//! Drawing the model: header, rail, the current screen, footer; or, below the minimum size, a
//! line saying which size is needed. One file per screen region.

mod footer;
pub mod overview;
mod rail;
mod review;
mod step;
pub mod theme;

use ratatui::prelude::*;
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::model::{MIN_HEIGHT, MIN_WIDTH, Model, Screen};
use theme::Theme;

pub fn draw(frame: &mut Frame, model: &Model) {
    let theme = Theme::new(model.mono);
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "edgeprep needs a terminal of at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is {}x{}. Enlarge it, or run `edgeprep --plain`.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, body, footer_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let title = format!("edgeprep: {}  |  {}", model.facts.device, model.path.title());
    frame.render_widget(Paragraph::new(Line::styled(title, theme.title)), header);
    let [rail_area, main] =
        Layout::horizontal([Constraint::Length(rail::WIDTH), Constraint::Min(0)]).areas(body);
    rail::draw(frame, rail_area, model, &theme);
    match model.screen {
        Screen::Overview => overview::draw(frame, main, model, &theme),
        Screen::Step(_) => {
            if let Some(section) = model.section() {
                step::draw(frame, main, model, section, &theme);
            }
        }
        Screen::Review => review::draw_review(frame, main, model, &theme),
        Screen::Apply => review::draw_apply(frame, main, model, &theme),
        Screen::Done => review::draw_done(frame, main, model, &theme),
    }
    footer::draw(frame, footer_area, model, &theme);
    if model.help {
        draw_help(frame, main, model, &theme);
    }
}

fn draw_help(frame: &mut Frame, area: Rect, model: &Model, theme: &Theme) {
    let mut lines = vec![];
    if let Some(section) = model.section() {
        lines.push(Line::styled(section.title.to_string(), theme.title));
        lines.push(Line::raw(section.why));
        lines.push(Line::default());
        if let Some(field) = model.focused_field() {
            lines.push(Line::raw(format!("{}: {}", field.label, field.hint)));
            lines.push(Line::default());
        }
    }
    lines.extend(
        [
            "Enter      accept and go on",
            "Esc        back one step",
            "Tab, Up/Dn move between fields",
            "Left/Right change a choice, move in text",
            "q, Ctrl-C  quit (asks when you chose something)",
            "",
            "Keep leaves that part of the device as it is.",
            "Nothing is written before you confirm on Review.",
            "",
            "Any key closes this help.",
        ]
        .map(Line::raw),
    );
    let popup = area.inner(Margin { horizontal: 2, vertical: 1 });
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Help ").style(Style::new())),
        popup,
    );
}
