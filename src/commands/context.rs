//! What every device command needs: the root, how to run commands, and the demo device.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::answers::{Answers, read_answers};
use crate::cli::GlobalArgs;
use crate::demo;
use crate::error::input_error;
use crate::root::DeviceRoot;
use crate::runner::{CommandRunner, ListingRunner, SystemRunner};

/// The device a command works on.
pub struct Context {
    pub root: DeviceRoot,
    run_commands: bool,
    /// Keeps the demo device's temporary directory alive until the command ends.
    demo_dir: Option<tempfile::TempDir>,
}

impl Context {
    pub fn from_args(global: &GlobalArgs) -> Result<Self> {
        if global.demo {
            let dir = demo::install().context("setting up the demo device")?;
            eprintln!("Demo device: a temporary copy in {} (removed on exit).", dir.path().display());
            return Ok(Self { root: DeviceRoot::new(dir.path()), run_commands: false, demo_dir: Some(dir) });
        }
        if !global.root.is_dir() {
            return Err(input_error(format!(
                "--root {}: no such directory; give the directory that stands for the device's /",
                global.root.display()
            )));
        }
        Ok(Self { root: DeviceRoot::new(&global.root), run_commands: global.run_commands, demo_dir: None })
    }

    pub fn is_demo(&self) -> bool {
        self.demo_dir.is_some()
    }

    /// Real processes on the device itself (or with --run-commands); otherwise only listed.
    pub fn runner(&self) -> Box<dyn CommandRunner> {
        if self.run_commands || (self.root.is_host() && !self.is_demo()) {
            Box::new(SystemRunner)
        } else {
            Box::new(ListingRunner::default())
        }
    }

    /// The answers for a command: the file given, or the demo's built-in answers.
    pub fn answers(&self, file: Option<&Path>) -> Result<Answers> {
        match file {
            Some(path) => read_answers(path),
            None if self.is_demo() => read_answers(&self.root.path(demo::ANSWERS_PATH)),
            None => Err(input_error("--answers FILE is required (or use --demo to try the built-in demo)")),
        }
    }
}

/// Ask a yes/no question on the terminal; anything but y/yes is no.
pub fn confirm(question: &str) -> Result<bool> {
    use std::io::Write as _;
    let mut stderr = std::io::stderr();
    write!(stderr, "{question} [y/N] ")?;
    stderr.flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the answer from the terminal")?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// Whether a person can be asked: stdin and stderr are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}
