//! Everything that can happen to the wizard, as values: keys already mapped to what they mean,
//! terminal changes, and the results of effects the loop ran. [`super::update::update`] is the
//! only reader.

use super::model::{Outcome, ReviewText};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Enter: accept this screen and go on.
    Accept,
    /// Esc: back one screen (or cancel a question).
    Back,
    /// Tab or Down: the next field (or scroll down on Review).
    NextField,
    /// Shift-Tab or Up: the previous field (or scroll up on Review).
    PrevField,
    /// Left: the previous choice, or the cursor one character left.
    Left,
    /// Right: the next choice, or the cursor one character right.
    Right,
    /// Home: the cursor to the start of the field.
    Home,
    /// End: the cursor to the end of the field.
    End,
    /// A character typed into the focused field (or a key meaning "yes" in a question).
    Char(char),
    /// Backspace: delete before the cursor.
    DeleteBack,
    /// Delete: delete under the cursor.
    DeleteForward,
    /// PageUp on Review.
    PageUp,
    /// PageDown on Review.
    PageDown,
    /// `?` or F1: show or hide the help for this screen.
    Help,
    /// `q` or Ctrl-C: quit, asking first when there are unsaved choices.
    Quit,
    /// The terminal is now this many columns and rows.
    Resize(u16, u16),
    /// The plan was built (its masked text), or why it could not be.
    Planned(Result<ReviewText, String>),
    /// Apply finished, one way or the other.
    Applied(Outcome),
    /// The verdict on the Edge CA files at these paths (certificate, key, verdict).
    CertChecked(String, String, String),
    /// The Edge CA request was written, or why not.
    CsrWritten(Result<(), String>),
    /// The answers were saved at this path, or why not.
    Saved(Result<String, String>),
}
