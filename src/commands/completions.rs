//! `edgeprep completions SHELL`: shell completion scripts from the CLI definition.

use std::io::Write;

use anyhow::Result;

use crate::cli::{CompletionsArgs, command};
use crate::error::EXIT_OK;

pub fn run(args: &CompletionsArgs, out: &mut dyn Write) -> Result<i32> {
    clap_complete::generate(args.shell, &mut command(), "edgeprep", out);
    Ok(EXIT_OK)
}
