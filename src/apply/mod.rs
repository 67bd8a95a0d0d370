//! Carrying out a [`Plan`]: back up, write atomically, run commands, roll back on failure,
//! and append one line to the audit log.

pub mod atomic;
pub mod audit;
pub mod backup;

use anyhow::Result;

use crate::plan::Plan;
use crate::root::DeviceRoot;
use crate::runner::{CommandOutput, CommandRunner, PlannedCommand};

/// Who is applying, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `SUDO_USER` when set, else the user name.
    pub user: String,
}

/// One command that ran (or was listed to run on the device).
#[derive(Debug, Clone, serde::Serialize)]
pub struct CommandRecord {
    pub command: String,
    pub reason: String,
    /// False when the command was only listed ("to run on the device").
    pub ran: bool,
    pub exit_code: Option<i32>,
}

/// What an apply did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyReport {
    pub changed: bool,
    /// Device paths written, created or moved to the backup.
    pub files: Vec<String>,
    pub commands: Vec<CommandRecord>,
    /// The backup set id (`None` when nothing was changed).
    pub backup: Option<String>,
}

/// A command failed; every file was restored. Maps to exit code 1.
#[derive(Debug)]
pub struct StepFailed {
    pub command: PlannedCommand,
    pub output: CommandOutput,
    pub backup: String,
}

impl std::fmt::Display for StepFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` failed", self.command.display())
    }
}

impl std::error::Error for StepFailed {}

/// Apply `plan` under `root`. See the module docs for the order of operations.
pub fn apply(
    plan: &Plan,
    root: &DeviceRoot,
    runner: &mut dyn CommandRunner,
    actor: &Actor,
) -> Result<ApplyReport> {
    let _ = (plan, root, runner, actor);
    todo!()
}
