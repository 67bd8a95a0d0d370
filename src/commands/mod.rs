//! The command handlers behind the CLI. Each one turns arguments into calls on the pipeline
//! and prints the outcome; none of them holds logic the wizard would need again.

pub mod answers;
pub mod apply;
pub mod cert;
pub mod check;
pub mod completions;
pub mod confirm;
pub mod context;
pub mod firstboot;
pub mod manifest;
pub mod plan;
pub mod rollback;

use std::io::Write;

use anyhow::Result;

use crate::cli::{CertCommand, Cli, Command};
use context::Context;

/// Run the parsed command line; returns the exit code.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<i32> {
    if cli.command.is_some() {
        crate::wizard::refuse_before_a_command(&cli.wizard)?;
    }
    match cli.command.unwrap_or(Command::Wizard(cli.wizard)) {
        Command::Wizard(args) => crate::wizard::run(&Context::from_args(&cli.global)?, &args, out),
        Command::Completions(args) => completions::run(&args, out),
        Command::Firstboot => firstboot::run(&Context::from_args(&cli.global)?, out),
        Command::Answers(cmd) => answers::run(&cli.global, &cmd, out),
        Command::Plan(args) => plan::run(&Context::from_args(&cli.global)?, &args, out),
        Command::Apply(args) => apply::run(&Context::from_args(&cli.global)?, &args, out),
        Command::Check(args) => check::run(&Context::from_args(&cli.global)?, &args, out),
        Command::Manifest(cmd) => manifest::run(&cli.global, &cmd, out),
        Command::Confirm(args) => confirm::run(&Context::from_args(&cli.global)?, &args, out),
        Command::Rollback(args) => rollback::run(&Context::from_args(&cli.global)?, &args, out),
        Command::Cert(cmd) => match cmd {
            CertCommand::Inspect(args) => cert::inspect(&args, out),
            CertCommand::Generate(args) => cert::generate(&args, out),
            CertCommand::Csr(args) => cert::csr(&args, out),
            CertCommand::Status(args) => cert::status(&args, &Context::from_args(&cli.global)?.root, out),
        },
    }
}
