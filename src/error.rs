//! The two kinds of failure edgeprep reports, and the exit codes they map to.
//!
//! Bad input (an invalid answer, a broken config.toml, an unusable certificate) is the user's to
//! fix and is detected before anything is written: exit 2. Anything that goes wrong while
//! applying (a command fails, a write fails) is exit 1, after the files were rolled back.

use std::fmt;

/// Exit code: success, or nothing to do.
pub const EXIT_OK: i32 = 0;
/// Exit code: a step failed at run time (files were rolled back).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad input or usage; nothing was written.
pub const EXIT_BAD_INPUT: i32 = 2;

/// A problem with what the user gave edgeprep. Its message names the file (and line and
/// column) or the answers key, says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Shorthand for an [`InputError`] wrapped in `anyhow`.
pub fn input_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(message.into()))
}

/// The exit code an error ends the program with: 2 when anything in its chain is an
/// [`InputError`], else 1.
pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    if err.chain().any(|cause| cause.is::<InputError>()) { EXIT_BAD_INPUT } else { EXIT_FAILED }
}

/// 1-based line and column of a byte offset in `text`, for messages that point into a file.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_anywhere_in_the_chain_exit_2() {
        let err = input_error("bad").context("reading answers");
        assert_eq!(exit_code_for(&err), EXIT_BAD_INPUT);
        assert_eq!(exit_code_for(&anyhow::anyhow!("disk full")), EXIT_FAILED);
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab\ncd", 99), (2, 3));
    }
}
