//! The plan: every file edit and command needed to bring the device to the answers, computed
//! purely from the device state. Nothing here touches the filesystem or runs anything; the
//! review screen and `edgeprep plan` show a plan, `edgeprep apply` carries it out.

mod build;
pub mod commands;
pub mod config_toml;
mod daemon_json;
pub mod edge_ca;
pub mod host_storage;
pub mod inputs;
mod proxy;
mod render;
pub mod secret_files;
pub mod unit_env;

pub use build::build_plan;
pub use inputs::Inputs;
pub use render::{NO_CHANGES, render_json, render_text};

use crate::runner::PlannedCommand;

/// How a file's contents may be shown in a review.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// A text file: shown as a unified diff, secrets masked.
    Diff,
    /// A certificate: shown as this summary (subject, expiry, fingerprint) instead of PEM.
    Summary(String),
    /// A private key or other secret: contents never shown.
    Secret,
}

pub use crate::device::Ownership;

/// What happens to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    /// Write these bytes (creating the file when it does not exist).
    Write(Vec<u8>),
    /// Take the file away: it is moved into the backup set, never deleted outright.
    MoveToBackup,
}

/// One file the plan changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Device path, e.g. `/etc/aziot/config.toml`.
    pub path: String,
    /// Contents now; `None` when the file does not exist yet.
    pub before: Option<Vec<u8>>,
    pub action: FileAction,
    /// Mode and owner to set. `None` keeps those of the existing file (or, for a new file,
    /// 0644 root:root, or 0600 when `holds_secrets`).
    pub ownership: Option<Ownership>,
    /// The file holds a secret (password, SAS key, private key): backups of it are 0600.
    pub holds_secrets: bool,
    pub visibility: Visibility,
    /// One sentence for the technician: why this file changes.
    pub reason: String,
}

/// A directory the plan needs, created (or corrected) before any file is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirChange {
    pub path: String,
    pub ownership: Ownership,
}

/// Everything `apply` will do, in order: directories, files, then commands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub dirs: Vec<DirChange>,
    pub files: Vec<FileChange>,
    pub commands: Vec<PlannedCommand>,
    /// Things the technician should know (warnings, what restarts imply). Never secrets.
    pub notes: Vec<String>,
    /// Secret strings from the answers, masked wherever the plan is shown or logged.
    pub secrets: Vec<String>,
}

impl Plan {
    /// Nothing to write and nothing to run: the device already matches the answers.
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty() && self.files.is_empty() && self.commands.is_empty()
    }
}
