//! The command handlers behind the CLI.
