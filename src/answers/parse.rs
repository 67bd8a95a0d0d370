//! Reading an answers file: TOML syntax, unknown keys (with the closest valid one), then
//! [`super::validate`].

use std::path::Path;

use anyhow::Result;

use super::Answers;

/// Parse and validate answers from `text`; `source` names the file in messages.
pub fn parse_answers(text: &str, source: &str) -> Result<Answers> {
    let _ = (text, source);
    todo!()
}

/// Read, parse and validate the answers file at `path`. A `password_file` is read here and
/// its first line becomes `password`; relative paths are taken from the file's directory.
pub fn read_answers(path: &Path) -> Result<Answers> {
    let _ = path;
    todo!()
}
