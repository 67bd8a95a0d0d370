//! The one door to external commands (`iotedge`, `systemctl`, `docker`), so tests can put fakes
//! on PATH and a `--root` other than `/` can list commands instead of running them.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// A command the plan wants run on the device, with the reason shown to the technician.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedCommand {
    pub program: String,
    pub args: Vec<String>,
    pub reason: String,
    /// Text in the output that means "nothing to do" rather than failure, e.g. `No such
    /// container` for `docker rm -f edgeAgent` before the agent was ever created.
    #[serde(skip)]
    pub harmless_failure: Option<String>,
}

impl PlannedCommand {
    pub fn new(program: &str, args: &[&str], reason: impl Into<String>) -> Self {
        Self {
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            reason: reason.into(),
            harmless_failure: None,
        }
    }

    /// Treat a failure whose output contains `text` as success.
    pub fn harmless_when(mut self, text: &str) -> Self {
        self.harmless_failure = Some(text.to_string());
        self
    }

    /// Whether `output` counts as success for this command.
    pub fn succeeded(&self, output: &CommandOutput) -> bool {
        output.success()
            || self.harmless_failure.as_deref().is_some_and(|text| {
                output.code.is_some() && (output.stderr.contains(text) || output.stdout.contains(text))
            })
    }

    /// The command line as a technician would type it.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a finished command left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CommandOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs planned commands. Implementations: [`SystemRunner`] (real processes found on PATH) and
/// [`ListingRunner`] (runs nothing; records what would run).
pub trait CommandRunner {
    fn run(&mut self, command: &PlannedCommand) -> Result<CommandOutput>;
    /// False when commands are only listed "to run on the device".
    fn executes(&self) -> bool;
}

/// Runs commands as child processes, looking programs up on PATH.
///
/// Each command runs in its own process group, so a Ctrl-C at the terminal (sent to the
/// foreground group) reaches edgeprep only: `systemctl restart docker` is never cut off
/// halfway, and edgeprep rolls back once it has finished. stdin is closed, since a command
/// outside the foreground group that read the terminal would be stopped.
#[derive(Debug, Default)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&mut self, command: &PlannedCommand) -> Result<CommandOutput> {
        let output = Command::new(&command.program)
            .args(&command.args)
            .stdin(Stdio::null())
            .process_group(0)
            .output()
            .with_context(|| {
                format!("could not start `{}` (is it installed and on PATH?)", command.display())
            })?;
        Ok(CommandOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    fn executes(&self) -> bool {
        true
    }
}

/// Runs nothing: used with a `--root` other than `/` (an offline image, the demo), where the
/// commands are printed as "to run on the device".
#[derive(Debug, Default)]
pub struct ListingRunner {
    pub listed: Vec<PlannedCommand>,
}

impl CommandRunner for ListingRunner {
    fn run(&mut self, command: &PlannedCommand) -> Result<CommandOutput> {
        self.listed.push(command.clone());
        Ok(CommandOutput { code: Some(0), stdout: String::new(), stderr: String::new() })
    }

    fn executes(&self) -> bool {
        false
    }
}
