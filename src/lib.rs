//! edgeprep: take an Azure IoT Edge 1.4 device from "works on my bench" to production-ready.
//!
//! One pipeline serves every front-end:
//! `device state → Answers → Plan (pure) → review (masked diff) → Apply (backup, atomic writes,
//! commands, rollback)`. Read the modules in that order:
//!
//! - [`root`] and [`paths`]: where device files live, always under one `--root` prefix.
//! - [`input_file`]: reading a file someone else controls (regular files only, bounded size).
//! - [`device`]: what is on the device now (config.toml, daemon.json, drop-ins, users).
//! - [`answers`]: what the technician chose, parsed and validated like IoT Edge would.
//! - [`export`]: the answers a configured device's fleet-wide settings amount to.
//! - [`plan`]: the pure function from state + answers to file edits and commands.
//! - [`edit`]: the format-preserving editors the plan uses.
//! - [`config_schema`]: the keys IoT Edge's config.toml may hold (plan and `check` share it).
//! - [`secrets`]: masking, so no secret reaches a terminal, diff or log.
//! - [`apply`]: backups, atomic writes, commands through a [`runner`], rollback, audit log.
//! - [`certs`]: inspecting, generating and requesting Edge CA certificates.
//! - [`checks`]: the production checklist, one engine for `edgeprep check` and the wizard.
//! - [`manifest`]: linting (and safely fixing) deployment manifests before they reach IoT Hub.
//! - [`cli`] and [`commands`]: the command-line front-end.
//! - [`firstboot`]: applying an answers file left on the boot partition, once, at first boot.
//! - [`wizard`]: the interactive front-end (full screen, or plain prompts).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod answers;
pub mod apply;
pub mod certs;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod config_schema;
pub mod demo;
pub mod device;
pub mod edit;
pub mod error;
pub mod export;
pub mod firstboot;
pub mod input_file;
pub mod manifest;
pub mod manpage;
pub mod paths;
pub mod plan;
pub mod root;
pub mod runner;
pub mod secrets;
pub mod timestamp;
pub mod users;
pub mod wizard;
