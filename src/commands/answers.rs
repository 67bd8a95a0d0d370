//! `edgeprep answers check`: validate an answers file without a device.

use std::io::Write;

use anyhow::Result;

use crate::answers::read_answers;
use crate::answers::validate::{is_forbidden, validate};
use crate::cli::AnswersCommand;
use crate::error::EXIT_OK;
use crate::secrets::mask;

pub fn run(cmd: &AnswersCommand, out: &mut dyn Write) -> Result<i32> {
    match cmd {
        AnswersCommand::Check { file } => {
            let answers = read_answers(file)?;
            let warnings = validate(&answers).warnings;
            // Findings never hold a secret by construction; masking again costs nothing and
            // keeps a future message from leaking one.
            let secrets = answers.secrets();
            writeln!(
                out,
                "{}: valid{}",
                printable(&file.display().to_string()),
                if warnings.is_empty() { "." } else { ", with warnings:" }
            )?;
            for warning in warnings {
                writeln!(out, "  - {}", mask(&warning.to_string(), &secrets))?;
            }
            Ok(EXIT_OK)
        }
    }
}

/// `text` with control characters escaped (`\u{1b}`): a file name is the user's to choose and
/// must not reach the terminal raw.
fn printable(text: &str) -> String {
    text.chars().map(|c| if is_forbidden(c) { c.escape_debug().to_string() } else { c.to_string() }).collect()
}
