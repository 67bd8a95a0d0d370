//! The command handlers behind the CLI.
pub mod cert;
