//! Colours, or their monochrome stand-ins: with NO_COLOR (or a terminal without colour) every
//! distinction a colour makes is also made by bold, reverse video or a marker character.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub title: Style,
    pub dim: Style,
    /// The selected item of a list or the focused row.
    pub selected: Style,
    pub error: Style,
    pub warning: Style,
    pub good: Style,
    pub key: Style,
}

impl Theme {
    pub fn new(mono: bool) -> Self {
        if mono {
            Self {
                title: Style::new().add_modifier(Modifier::BOLD),
                dim: Style::new(),
                selected: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
                error: Style::new().add_modifier(Modifier::BOLD),
                warning: Style::new().add_modifier(Modifier::UNDERLINED),
                good: Style::new(),
                key: Style::new().add_modifier(Modifier::BOLD),
            }
        } else {
            Self {
                title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                dim: Style::new().fg(Color::DarkGray),
                selected: Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD),
                error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                warning: Style::new().fg(Color::Yellow),
                good: Style::new().fg(Color::Green),
                key: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            }
        }
    }
}
