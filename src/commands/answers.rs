//! `edgeprep answers check`: validate an answers file without a device.

use std::io::Write;

use anyhow::Result;

use crate::answers::read_answers;
use crate::cli::AnswersCommand;
use crate::error::EXIT_OK;

pub fn run(cmd: &AnswersCommand, out: &mut dyn Write) -> Result<i32> {
    match cmd {
        AnswersCommand::Check { file } => {
            read_answers(file)?;
            writeln!(out, "{}: valid.", file.display())?;
            Ok(EXIT_OK)
        }
    }
}
