//! Key bindings: a key press becomes a [`Msg`]. While a text field has the focus, printable
//! keys are text (so `q` and `?` can be typed); Ctrl-C always quits.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::message::Msg;

/// What a key means; `None` for keys the wizard ignores (and key releases).
pub fn map(key: KeyEvent, typing: bool) -> Option<Msg> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') if ctrl => Msg::Quit,
        KeyCode::Char(_) if ctrl => return None,
        KeyCode::Enter => Msg::Accept,
        KeyCode::Esc => Msg::Back,
        KeyCode::Tab | KeyCode::Down => Msg::NextField,
        KeyCode::BackTab | KeyCode::Up => Msg::PrevField,
        KeyCode::Left => Msg::Left,
        KeyCode::Right => Msg::Right,
        KeyCode::Home => Msg::Home,
        KeyCode::End => Msg::End,
        KeyCode::Backspace => Msg::DeleteBack,
        KeyCode::Delete => Msg::DeleteForward,
        KeyCode::PageUp => Msg::PageUp,
        KeyCode::PageDown => Msg::PageDown,
        KeyCode::F(1) => Msg::Help,
        KeyCode::Char('q') if !typing => Msg::Quit,
        KeyCode::Char('?') if !typing => Msg::Help,
        KeyCode::Char(c) => Msg::Char(c),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn q_quits_on_a_menu_but_is_text_in_a_field() {
        assert_eq!(map(press(KeyCode::Char('q')), false), Some(Msg::Quit));
        assert_eq!(map(press(KeyCode::Char('q')), true), Some(Msg::Char('q')));
        assert_eq!(map(press(KeyCode::Char('?')), true), Some(Msg::Char('?')));
    }

    #[test]
    fn ctrl_c_quits_even_while_typing() {
        let key = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map(key, true), Some(Msg::Quit));
    }
}
