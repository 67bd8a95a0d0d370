//! The `edgeprep` binary: parse the command line, run the command, map errors to exit codes.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use clap::Parser;
use edgeprep::cli::Cli;
use edgeprep::error::exit_code_for;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let code = match edgeprep::commands::run(cli, &mut stdout) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("edgeprep: {}", render_error(&err));
            exit_code_for(&err)
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The error and its causes on one line each, most general first.
fn render_error(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    text
}
