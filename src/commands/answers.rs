//! `edgeprep answers check`: validate an answers file without a device.

use std::io::Write;

use anyhow::Result;

use crate::answers::read_answers;
use crate::answers::validate::validate;
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
                file.display(),
                if warnings.is_empty() { "." } else { ", with warnings:" }
            )?;
            for warning in warnings {
                writeln!(out, "  - {}", mask(&warning.to_string(), &secrets))?;
            }
            Ok(EXIT_OK)
        }
    }
}
