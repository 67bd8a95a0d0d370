//! `apply --confirm SECONDS` (keep the change only if a person confirms it in time) and
//! `edgeprep confirm`: the confirmation record, the one rename that decides keep or revert,
//! the wait with its health line, and reverting an apply nobody confirmed.
//!
//! The record lives in a root-only directory under /var/lib (it must survive a reboot: a
//! device that lost power during the wait comes back with the change unconfirmed, and the
//! boot unit reverts it). Its file name is its state:
//!
//! - `pending`: an apply waits for confirmation. The waiting edgeprep holds the device lock
//!   for the whole wait, so no other change slips in between the apply and its revert.
//! - `confirmed`: kept (end state; stays until the next `apply --confirm`, so a second
//!   `edgeprep confirm` can say "already kept" instead of "nothing to confirm").
//! - `reverting`: the revert began; a crash now leaves this, and the next run finishes it.
//! - `reverted`: the revert finished (end state, like `confirmed`).
//!
//! Keep or revert is decided by ONE rename of `pending` (to `confirmed` or `reverting`):
//! rename(2) is atomic, and once `pending` is gone the loser's rename fails with ENOENT, so
//! `edgeprep confirm` and the timeout can never both win. Whoever wins writes the audit line.
//!
//! The record is written once the apply's commands succeeded (its backup set id is known only
//! then): a crash in the instant between the apply's journal saying "completed" and the record
//! reaching the disk leaves the change applied as without `--confirm`.

use std::fs::{self, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::audit::{self, AuditEntry};
use super::recover::{self, RollbackReport};
use super::{Actor, atomic, backup, lock};
use crate::error::input_error;
use crate::root::DeviceRoot;
use crate::runner::{CommandRunner, PlannedCommand};

/// Device path of the directory holding the record (0700: it is root's business alone).
pub const CONFIRM_DIR: &str = "/var/lib/edgeprep/confirm";
/// Mode of [`CONFIRM_DIR`].
pub const CONFIRM_DIR_MODE: u32 = 0o700;
/// Mode of the record.
pub const RECORD_MODE: u32 = 0o600;
/// Bounds of `--confirm SECONDS`: under 10 s nobody can read the health line and press Enter;
/// over an hour the device sits with the lock held and an unconfirmed change for too long.
pub const MIN_SECONDS: u64 = 10;
pub const MAX_SECONDS: u64 = 3600;
/// How often the device's health is polled during the wait.
pub const HEALTH_EVERY: Duration = Duration::from_secs(3);
/// A record bigger than this is not ours.
const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// What `apply --confirm` left for `edgeprep confirm`, the boot unit and the next run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// The backup set of the apply waiting for confirmation: the revert restores it.
    pub backup: String,
    /// Who applied, for messages.
    pub user: String,
    /// Wall clock (RFC 3339, UTC), for messages only: the waiter counts on the monotonic
    /// clock, since a device without an RTC jumps years when NTP syncs.
    pub deadline: String,
    pub seconds: u64,
    /// The kernel's boot id when applied on the real device (`--root /`): a record from an
    /// earlier boot has no waiter, whatever its pid says.
    pub boot_id: Option<String>,
    /// The waiting edgeprep.
    pub pid: u32,
    /// Its start time (clock ticks after boot, /proc/PID/stat field 22), so a pid reused by
    /// another process after a `kill -9` is not taken for the waiter.
    pub pid_start: Option<u64>,
}

impl Record {
    /// The record for this process waiting `wait_for` (`seconds` as asked) on `backup`.
    pub fn new(root: &DeviceRoot, backup: &str, user: &str, seconds: u64, wait_for: Duration) -> Self {
        let (pid, pid_start) = me();
        Self {
            backup: backup.to_string(),
            user: user.to_string(),
            deadline: crate::timestamp::rfc3339(time::OffsetDateTime::now_utc() + wait_for),
            seconds,
            boot_id: current_boot_id(root),
            pid,
            pid_start,
        }
    }
}

/// The record's state, which is its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Confirmed,
    Reverting,
    Reverted,
}

impl Phase {
    pub fn file_name(self) -> &'static str {
        match self {
            Phase::Pending => "pending",
            Phase::Confirmed => "confirmed",
            Phase::Reverting => "reverting",
            Phase::Reverted => "reverted",
        }
    }
}

/// The record and its phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub phase: Phase,
    pub record: Record,
}

/// How a confirmed-or-not apply ended, as `--json` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    Kept,
    Reverted,
    /// Ctrl-C or SIGTERM during the wait: reverted at once.
    RevertedAfterInterrupt,
}

impl Confirmation {
    pub fn as_str(self) -> &'static str {
        match self {
            Confirmation::Kept => "kept",
            Confirmation::Reverted => "reverted",
            Confirmation::RevertedAfterInterrupt => "reverted-after-interrupt",
        }
    }
}

/// Host path of [`CONFIRM_DIR`], with `/var/lib` resolved inside the root (as backups are).
pub fn confirm_dir(root: &DeviceRoot) -> PathBuf {
    root.own_state_path("/var/lib", "edgeprep/confirm")
}

fn file_of(root: &DeviceRoot, phase: Phase) -> PathBuf {
    confirm_dir(root).join(phase.file_name())
}

/// [`confirm_dir`], refused unless `edgeprep` and `edgeprep/confirm` below `/var/lib` are each
/// missing or a real directory owned by root or this user and writable by its owner alone
/// (root's, so a `plan` run without sudo can still say nothing waits).
///
/// Only `/var/lib` is resolved inside the root; the two names below it are used as host paths
/// (rename, unlink, create). On a hostile image `var/lib/edgeprep -> /var/lib/edgeprep` would
/// otherwise make `edgeprep confirm --root IMAGE` decide (or `apply --confirm` clear) the
/// host's own record, and a directory another user owns could be swapped for such a link.
/// A directory only this user can change cannot be swapped by anyone else.
fn checked_dir(root: &DeviceRoot) -> Result<PathBuf> {
    root.own_state_dir("/var/lib", "edgeprep/confirm")
}

/// The record, if any: a revert in progress first, then one waiting, then the end states.
pub fn read(root: &DeviceRoot) -> Result<Option<State>> {
    checked_dir(root)?;
    for phase in [Phase::Reverting, Phase::Pending, Phase::Confirmed, Phase::Reverted] {
        if let Some(record) = read_phase(root, phase)? {
            return Ok(Some(State { phase, record }));
        }
    }
    Ok(None)
}

fn read_phase(root: &DeviceRoot, phase: Phase) -> Result<Option<Record>> {
    let path = checked_dir(root)?.join(phase.file_name());
    // Not through a link planted at the record's name: the record is edgeprep's own file.
    let opened = fs::OpenOptions::new()
        .read(true)
        .custom_flags(
            (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY | rustix::fs::OFlags::NOFOLLOW).bits()
                as i32,
        )
        .open(&path);
    let read = match opened {
        Ok(file) => crate::input_file::read_opened(file, MAX_RECORD_BYTES),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(input_error(format!(
                "{} is a symlink, not a confirmation record edgeprep wrote; remove it if nothing waits",
                path.display()
            )));
        }
        Err(e) => Err(e.into()),
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) => return Err(anyhow::anyhow!("could not read {}: {e}", path.display())),
    };
    let record = serde_json::from_slice(&bytes).with_context(|| {
        format!("{} is not a confirmation record edgeprep wrote; remove it if nothing waits", path.display())
    })?;
    Ok(Some(record))
}

/// Make the record directory (0700, owned by this user, not a link) if needed.
fn ensure_dir(root: &DeviceRoot) -> Result<PathBuf> {
    // Refused before anything is created: `create_dir` would follow a link at `edgeprep`.
    let dir = checked_dir(root)?;
    if let Some(parent) = dir.parent() {
        atomic::create_dir_all(parent, atomic::PARENT_DIR_MODE)?;
    }
    match fs::create_dir(&dir) {
        Ok(()) => fs::set_permissions(&dir, Permissions::from_mode(CONFIRM_DIR_MODE))
            .with_context(|| format!("could not set the mode of {}", dir.display()))?,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("could not create {}", dir.display())),
    }
    checked_dir(root)
}

/// Forget the end state of an earlier `apply --confirm`, before a new apply starts: a script
/// that runs `edgeprep confirm` too early must be told "nothing waits" (and retry), not "kept"
/// from last time.
pub fn clear_end_states(root: &DeviceRoot) -> Result<()> {
    let dir = checked_dir(root)?;
    for phase in [Phase::Confirmed, Phase::Reverted] {
        atomic::remove_file(&dir.join(phase.file_name()))?;
    }
    Ok(())
}

/// Write the `pending` record (atomically, 0600 in the 0700 directory).
///
/// Ctrl-C/SIGTERM are watched from here on, not only from when the wait starts: a person who
/// presses Ctrl-C as soon as the record exists (between this and [`wait_with`]) gets the
/// revert at once, not after the whole deadline.
pub fn begin(root: &DeviceRoot, record: &Record) -> Result<()> {
    stop_flag()?.store(false, Ordering::SeqCst);
    let dir = ensure_dir(root)?;
    clear_end_states(root)?;
    let text = serde_json::to_vec_pretty(record)?;
    atomic::write_file(&dir.join(Phase::Pending.file_name()), &text, RECORD_MODE, None)
        .context("could not write the confirmation record")
}

/// What [`decide`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// The rename was ours: `pending` is now `to`.
    Won(Record),
    /// `pending` was gone already: the other side decided. What is there now.
    Lost(Option<State>),
}

/// THE decision: rename `pending` to `to` (`Confirmed` or `Reverting`). Exactly one caller
/// ever wins for one record.
pub fn decide(root: &DeviceRoot, to: Phase) -> Result<Decided> {
    let record = read_phase(root, Phase::Pending)?;
    let dir = checked_dir(root)?;
    match fs::rename(dir.join(Phase::Pending.file_name()), dir.join(to.file_name())) {
        Ok(()) => {
            atomic::sync_dir(&dir)?;
            // Read before the rename; if a new record replaced it in between (it cannot: the
            // waiter holds the lock), the file we renamed is still the one now under `to`.
            match read_phase(root, to)?.or(record) {
                Some(record) => Ok(Decided::Won(record)),
                None => Err(anyhow::anyhow!("the confirmation record vanished while being renamed")),
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Decided::Lost(read(root)?)),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Err(input_error(format!(
            "cannot change {} (permission denied); run edgeprep with sudo",
            dir.display()
        ))),
        Err(e) => Err(e).with_context(|| format!("could not rename the record in {}", dir.display())),
    }
}

/// The kernel's boot id, only for the real device: under another root the record is not
/// about this machine's boots.
pub fn current_boot_id(root: &DeviceRoot) -> Option<String> {
    if !root.is_host() {
        return None;
    }
    fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

/// Start time of process `pid` and whether it is a zombie (already dead), from /proc.
fn process_start(pid: u32) -> Option<(u64, bool)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let zombie = matches!(fields.first(), Some(&"Z") | Some(&"X"));
    // Field 3 (state) is fields[0], so field 22 (starttime) is fields[19].
    Some((fields.get(19)?.parse().ok()?, zombie))
}

/// This process's record fields (pid, start time).
pub fn me() -> (u32, Option<u64>) {
    let pid = std::process::id();
    (pid, process_start(pid).map(|(start, _)| start))
}

/// Whether the edgeprep that wrote `record` still waits: same boot, same process alive.
pub fn waiter_alive(record: &Record, current_boot: Option<&str>) -> bool {
    if let (Some(then), Some(now)) = (record.boot_id.as_deref(), current_boot)
        && then != now
    {
        return false;
    }
    let Some(pid) = i32::try_from(record.pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    if rustix::process::test_kill_process(pid).is_err_and(|e| e == rustix::io::Errno::SRCH) {
        return false;
    }
    match (process_start(record.pid), record.pid_start) {
        (Some((_, true)), _) => false,
        (Some((start, false)), Some(recorded)) => start == recorded,
        // No /proc to tell: the pid answered, take it for alive.
        _ => true,
    }
}

/// One audit line for the decision, written by whoever won the rename.
pub fn audit_line(
    root: &DeviceRoot,
    actor: &Actor,
    result: &str,
    backup: &str,
    error: Option<String>,
) -> Result<()> {
    audit::append(
        root,
        &AuditEntry {
            time: audit::now_rfc3339(),
            user: actor.user.clone(),
            action: "confirm".to_string(),
            files: Vec::new(),
            commands: Vec::new(),
            result: result.to_string(),
            backup: Some(backup.to_string()),
            error,
        },
    )
}

/// Revert the apply of `record`, whose `pending` is already renamed to `reverting` (by us, or
/// by a run that crashed): restore its backup set through the rollback path (files, then the
/// commands that make the services read them), then `reverting` becomes `reverted`. Safe to
/// run again after a crash at any point: an interrupted rollback is finished, a finished one
/// is not repeated. `result` is the audit line's result. Returns the rollback, if one ran now.
pub fn revert(
    root: &DeviceRoot,
    record: &Record,
    runner: &mut dyn CommandRunner,
    actor: &Actor,
    lock: &lock::DeviceLock,
    result: &str,
) -> Result<Option<RollbackReport>> {
    let interrupted = recover::pending(root)?.filter(|p| p.action == "rollback");
    let done_by = backup::rolled_back_by(&backup::scan(root)?, &record.backup);
    let rolled = match (interrupted, done_by) {
        (Some(p), _) if p.restores.as_deref() == Some(record.backup.as_str()) => {
            Some(recover::rollback_locked(root, None, runner, actor, lock))
        }
        (_, Some(_)) => None,
        _ => Some(recover::rollback_locked(root, Some(&record.backup), runner, actor, lock)),
    };
    let report = match rolled.transpose() {
        Ok(report) => report,
        Err(err) => {
            let _ = audit_line(root, actor, "revert failed", &record.backup, Some(format!("{err:#}")));
            // Whatever stopped it (a damaged set is bad input elsewhere), the unconfirmed
            // change is still on the device: exit 3, never 2's "nothing was written".
            let reason = format!("{err:#}");
            let err = if crate::error::exit_code_for(&err) == crate::error::EXIT_NOT_RESTORED {
                err
            } else {
                err.context(crate::error::NotRestored { backup: record.backup.clone(), reason })
            };
            return Err(err.context(format!(
                "reverting the unconfirmed apply (backup set {}) failed; the next edgeprep run tries again",
                record.backup
            )));
        }
    };
    let dir = checked_dir(root)?;
    fs::rename(dir.join(Phase::Reverting.file_name()), dir.join(Phase::Reverted.file_name()))
        .with_context(|| format!("could not mark the revert finished in {}", dir.display()))?;
    atomic::sync_dir(&dir)?;
    let failed = report.as_ref().filter(|r| !r.failed.is_empty()).map(|r| r.failed.join(", "));
    let _ = audit_line(root, actor, result, &record.backup, failed.map(|f| format!("failed: {f}")));
    Ok(report)
}

/// An unconfirmed apply whose waiter is gone, reverted by [`settle`].
#[derive(Debug)]
pub struct Abandoned {
    pub record: Record,
    pub report: Option<RollbackReport>,
}

/// Under the device lock: an apply left `pending` (its waiter was killed, or the power went)
/// or `reverting` (a revert was cut off) is reverted now. The waiter holds the lock for its
/// whole wait, so a record seen under our lock has no waiter left.
pub fn settle(
    root: &DeviceRoot,
    runner: &mut dyn CommandRunner,
    actor: &Actor,
    lock: &lock::DeviceLock,
) -> Result<Option<Abandoned>> {
    let record = match read(root)? {
        Some(State { phase: Phase::Reverting, record }) => record,
        Some(State { phase: Phase::Pending, .. }) => match decide(root, Phase::Reverting)? {
            Decided::Won(record) => record,
            Decided::Lost(_) => return Ok(None),
        },
        _ => return Ok(None),
    };
    let report =
        revert(root, &record, runner, actor, lock, "reverted: never confirmed (edgeprep was stopped)")?;
    Ok(Some(Abandoned { record, report }))
}

/// Refuse a new change while an apply waits for its confirmation, naming what to do.
pub fn refuse_while_waiting(root: &DeviceRoot) -> Result<()> {
    if let Some(State { phase: Phase::Pending, record }) = read(root)?
        && waiter_alive(&record, current_boot_id(root).as_deref())
    {
        return Err(input_error(format!(
            "an apply (backup set {}) waits for confirmation until {}; nothing was changed. Confirm it with `edgeprep confirm` or let it revert, then try again",
            record.backup, record.deadline
        )));
    }
    Ok(())
}

/// The device's health during the wait: what the technician is about to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// (unit, `systemctl is-active` answer).
    pub services: Vec<(String, String)>,
    /// `running`, `not running` or `unknown`.
    pub edge_agent: String,
}

/// The services IoT Edge needs, in start order.
pub const HEALTH_UNITS: [&str; 3] = ["aziot-identityd", "aziot-edged", "docker"];

/// Ask the device (through `runner`) how its services and edgeAgent are doing.
pub fn probe(runner: &mut dyn CommandRunner) -> Health {
    let services = HEALTH_UNITS
        .iter()
        .map(|unit| {
            let command = PlannedCommand::new("systemctl", &["is-active", unit], "health");
            let state = match runner.run(&command) {
                Ok(out) => match out.stdout.trim() {
                    "" if out.success() => "active".to_string(),
                    "" => "inactive".to_string(),
                    said => said.lines().next().unwrap_or(said).to_string(),
                },
                Err(_) => "unknown".to_string(),
            };
            (unit.to_string(), state)
        })
        .collect();
    let inspect =
        PlannedCommand::new("docker", &["inspect", "-f", "{{.State.Running}}", "edgeAgent"], "health");
    let edge_agent = match runner.run(&inspect) {
        Ok(out) if out.stdout.trim() == "true" => "running",
        Ok(out) if out.stdout.trim() == "false" || out.code.is_some_and(|c| c != 0) => "not running",
        _ => "unknown",
    }
    .to_string();
    Health { services, edge_agent }
}

/// The countdown line, redrawn at most once a second.
pub fn countdown_line(seconds_left: u64, health: Option<&Health>, enter: bool) -> String {
    let how = if enter { "Enter or `edgeprep confirm` keeps" } else { "`edgeprep confirm` keeps" };
    let health = match health {
        None => "health: checking".to_string(),
        Some(h) => {
            let mut parts: Vec<String> =
                h.services.iter().map(|(unit, state)| format!("{unit} {state}")).collect();
            parts.push(format!("edgeAgent {}", h.edge_agent));
            parts.join(", ")
        }
    };
    format!("{seconds_left:>4} s left to confirm | {health} | {how}")
}

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    /// Enter at the terminal.
    Enter,
    /// `pending` disappeared: `edgeprep confirm` from another shell won the rename.
    ConfirmedElsewhere,
    Timeout,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// Where the wait's progress goes.
pub enum Progress {
    /// A terminal: the countdown is redrawn in place (carriage return) once a second.
    Terminal(Box<dyn Write + Send>),
    /// A log: the health line is written when it changes, nothing else.
    Log(Box<dyn Write + Send>),
    Silent,
}

/// How to wait at the command line.
pub struct Wait {
    pub seconds: Duration,
    /// Read Enter from stdin (only when stdin is a terminal).
    pub read_enter: bool,
    pub progress: Progress,
    /// Probe health with real commands (false: commands are only listed under --root).
    pub health: bool,
}

/// A front-end's side of the wait: its input and its countdown.
pub trait Watch {
    /// Wait up to `at_most` for the person: `Some` ends the wait (Enter keeps, a stop key
    /// reverts).
    fn input(&mut self, at_most: Duration) -> Option<WaitEnd>;
    /// The seconds left changed (once a second), with the latest health; `new_health` when it
    /// changed since the last call.
    fn show(&mut self, seconds_left: u64, health: Option<&Health>, new_health: bool);
}

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// A flag raised by SIGINT or SIGTERM only: during the wait a hang-up (SIGHUP, a dropped SSH
/// link) must not end it, while the apply's shield (up all along) keeps every stop signal from
/// killing the process.
fn stop_flag() -> Result<Arc<AtomicBool>> {
    if let Some(flag) = STOP.get() {
        return Ok(flag.clone());
    }
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, flag.clone()).context("installing a signal handler")?;
    }
    Ok(STOP.get_or_init(|| flag).clone())
}

/// The command line's [`Watch`]: Enter on stdin (read by a thread), the countdown on stderr.
struct Console {
    enter: Option<mpsc::Receiver<()>>,
    progress: Progress,
    read_enter: bool,
    width: usize,
}

impl Watch for Console {
    fn input(&mut self, at_most: Duration) -> Option<WaitEnd> {
        std::thread::sleep(at_most);
        self.enter.as_ref().and_then(|rx| rx.try_recv().ok()).map(|()| WaitEnd::Enter)
    }

    fn show(&mut self, seconds_left: u64, health: Option<&Health>, new_health: bool) {
        let line = countdown_line(seconds_left, health, self.read_enter);
        // A terminal that went away (EIO, EPIPE) must not end the wait: writes are best effort.
        match &mut self.progress {
            Progress::Terminal(out) => {
                let pad = self.width.saturating_sub(line.chars().count());
                self.width = line.chars().count();
                let _ = write!(out, "\r{line}{}", " ".repeat(pad));
                let _ = out.flush();
            }
            Progress::Log(out) if new_health => {
                let _ = writeln!(out, "{line}");
            }
            _ => {}
        }
    }
}

/// Forget what was typed before the countdown was on screen (a second Enter at the apply
/// question, keys pressed while the commands ran): only an Enter that comes after the
/// technician could see the health confirms. Best effort: stdin may not be a terminal.
pub fn discard_typeahead() {
    let _ = rustix::termios::tcflush(std::io::stdin(), rustix::termios::QueueSelector::IFlush);
}

/// Wait at the command line (see [`wait_with`]); Enter is read only when `read_enter`.
pub fn wait(root: &DeviceRoot, options: Wait) -> Result<WaitEnd> {
    if options.read_enter {
        discard_typeahead();
    }
    let enter = options.read_enter.then(|| {
        let (tx, rx) = mpsc::channel::<()>();
        // Left blocked in read after the wait when no line comes; the process ends soon after.
        std::thread::spawn(move || {
            let mut line = String::new();
            // EOF or an error (the terminal hung up) is not a confirmation: only a line is.
            if let Ok(n) = std::io::stdin().read_line(&mut line)
                && n > 0
                && line.ends_with('\n')
            {
                let _ = tx.send(());
            }
        });
        rx
    });
    let mut console = Console { enter, progress: options.progress, read_enter: options.read_enter, width: 0 };
    let end = wait_with(root, options.seconds, options.health, &mut console);
    if let Progress::Terminal(out) = &mut console.progress {
        let _ = writeln!(out);
    }
    end
}

/// Wait for the confirmation of `root`'s pending record: the person (`watch`), `edgeprep
/// confirm` (seen as `pending` vanishing), the deadline, or Ctrl-C/SIGTERM. Health is probed
/// every [`HEALTH_EVERY`] on a thread of its own, so a hung `systemctl` cannot hold up the
/// deadline. The caller must hold the stop-signal shield ([`super::interrupt::Shield`]), so
/// SIGHUP is only recorded.
pub fn wait_with(
    root: &DeviceRoot,
    seconds: Duration,
    health: bool,
    watch: &mut dyn Watch,
) -> Result<WaitEnd> {
    // Reset by `begin`, not here: a stop between the two must not be forgotten.
    let stop = stop_flag()?;
    let deadline = Instant::now() + seconds;
    let pending = file_of(root, Phase::Pending);

    let probing = Arc::new(AtomicBool::new(health));
    let (health_tx, health_rx) = mpsc::channel::<Health>();
    let prober = health.then(|| {
        let probing = probing.clone();
        std::thread::spawn(move || {
            let mut runner = crate::runner::SystemRunner;
            while probing.load(Ordering::SeqCst) {
                if health_tx.send(probe(&mut runner)).is_err() {
                    break;
                }
                let next = Instant::now() + HEALTH_EVERY;
                while probing.load(Ordering::SeqCst) && Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    });

    let mut latest: Option<Health> = None;
    let mut shown: Option<u64> = None;
    let mut new_health = false;
    let end = loop {
        if stop.load(Ordering::SeqCst) {
            break WaitEnd::Interrupted;
        }
        if !pending.exists() {
            break WaitEnd::ConfirmedElsewhere;
        }
        let now = Instant::now();
        if now >= deadline {
            break WaitEnd::Timeout;
        }
        let secs = left(deadline, now);
        while let Ok(h) = health_rx.try_recv() {
            new_health |= latest.as_ref() != Some(&h);
            latest = Some(h);
        }
        // At most once a second; new health waits for the next second.
        if shown != Some(secs) {
            shown = Some(secs);
            watch.show(secs, latest.as_ref(), new_health);
            new_health = false;
        }
        if let Some(end) = watch.input(Duration::from_millis(100)) {
            break end;
        }
    };
    probing.store(false, Ordering::SeqCst);
    if let Some(prober) = prober {
        // Its probe in flight finishes first, so no health command runs during a revert; but
        // a hung `systemctl` or `docker` must not hold up the revert: after a few seconds it is
        // left behind (the probes only read).
        let given_up = Instant::now() + Duration::from_secs(5);
        while !prober.is_finished() && Instant::now() < given_up {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(end)
}

fn left(deadline: Instant, now: Instant) -> u64 {
    deadline.saturating_duration_since(now).as_millis().div_ceil(1000) as u64
}

/// What the waiter concluded.
#[derive(Debug)]
pub struct Concluded {
    pub confirmation: Confirmation,
    /// The rollback, when reverted.
    pub revert: Option<RollbackReport>,
}

/// After the wait: make the decision (the rename) and carry it out. Enter keeps; the
/// deadline or a stop reverts, unless `edgeprep confirm` won the rename first.
pub fn conclude(
    root: &DeviceRoot,
    end: WaitEnd,
    runner: &mut dyn CommandRunner,
    actor: &Actor,
    lock: &lock::DeviceLock,
) -> Result<Concluded> {
    let kept = Concluded { confirmation: Confirmation::Kept, revert: None };
    let to = match end {
        WaitEnd::ConfirmedElsewhere => return Ok(kept),
        WaitEnd::Enter => Phase::Confirmed,
        WaitEnd::Timeout | WaitEnd::Interrupted => Phase::Reverting,
    };
    match decide(root, to)? {
        Decided::Won(record) if to == Phase::Confirmed => {
            let _ = audit_line(root, actor, "kept", &record.backup, None);
            Ok(kept)
        }
        Decided::Won(record) => {
            let (confirmation, result) = match end {
                WaitEnd::Interrupted => {
                    (Confirmation::RevertedAfterInterrupt, "reverted after an interruption")
                }
                _ => (Confirmation::Reverted, "reverted: not confirmed in time"),
            };
            let revert = revert(root, &record, runner, actor, lock, result)?;
            Ok(Concluded { confirmation, revert })
        }
        // `pending` is gone and we did not take it: `edgeprep confirm` did (only the waiter,
        // which is us, or a run holding our lock renames to `reverting`).
        Decided::Lost(_) => Ok(kept),
    }
}

/// The record could not be written, so nobody could have confirmed: revert straight away.
pub fn revert_unrecorded(
    root: &DeviceRoot,
    backup: &str,
    runner: &mut dyn CommandRunner,
    actor: &Actor,
    lock: &lock::DeviceLock,
) -> Result<Concluded> {
    let report = recover::rollback_locked(root, Some(backup), runner, actor, lock)?;
    let _ = audit_line(root, actor, "reverted: the confirmation record could not be written", backup, None);
    Ok(Concluded { confirmation: Confirmation::Reverted, revert: Some(report) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(backup: &str) -> Record {
        let (pid, pid_start) = me();
        Record {
            backup: backup.to_string(),
            user: "tech".into(),
            deadline: "2026-01-01T00:00:00Z".into(),
            seconds: 60,
            boot_id: None,
            pid,
            pid_start,
        }
    }

    #[test]
    fn the_first_rename_wins_and_the_other_side_sees_what_it_decided() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        begin(&root, &record("A")).unwrap();
        assert_eq!(read(&root).unwrap().unwrap().phase, Phase::Pending);
        // `edgeprep confirm` first, then the waiter's deadline.
        assert_eq!(decide(&root, Phase::Confirmed).unwrap(), Decided::Won(record("A")));
        match decide(&root, Phase::Reverting).unwrap() {
            Decided::Lost(Some(State { phase: Phase::Confirmed, .. })) => {}
            other => panic!("the timeout must lose to the confirmation: {other:?}"),
        }
        // And the other way round, with a new record.
        begin(&root, &record("B")).unwrap();
        assert!(!file_of(&root, Phase::Confirmed).exists(), "a new apply forgets the old end state");
        assert!(matches!(decide(&root, Phase::Reverting).unwrap(), Decided::Won(_)));
        match decide(&root, Phase::Confirmed).unwrap() {
            Decided::Lost(Some(State { phase: Phase::Reverting, record })) => assert_eq!(record.backup, "B"),
            other => panic!("a confirmation after the revert began must lose: {other:?}"),
        }
    }

    #[test]
    fn racing_threads_never_both_win() {
        for _ in 0..50 {
            let dir = tempfile::tempdir().unwrap();
            let root = DeviceRoot::new(dir.path());
            begin(&root, &record("A")).unwrap();
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let handles: Vec<_> = [Phase::Confirmed, Phase::Reverting]
                .into_iter()
                .map(|to| {
                    let root = DeviceRoot::new(dir.path());
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        barrier.wait();
                        matches!(decide(&root, to).unwrap(), Decided::Won(_))
                    })
                })
                .collect();
            let wins: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
            let phase = read(&root).unwrap().unwrap().phase;
            assert_eq!(phase == Phase::Confirmed, wins[0]);
        }
    }

    #[test]
    fn a_revert_cut_off_by_a_crash_is_finished_by_the_next_run_and_never_repeated() {
        use crate::plan::{FileAction, FileChange, Plan, Visibility};
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        fs::create_dir_all(root.path("/etc/edgeprep")).unwrap();
        fs::write(root.path("/etc/edgeprep/a.conf"), b"1").unwrap();
        let plan = Plan {
            files: vec![FileChange {
                path: "/etc/edgeprep/a.conf".into(),
                before: Some(b"1".to_vec()),
                action: FileAction::Write(b"2".to_vec()),
                ownership: None,
                holds_secrets: false,
                visibility: Visibility::Diff,
                reason: "test".into(),
            }],
            ..Plan::default()
        };
        let actor = Actor { user: "tech".into() };
        let mut runner = crate::runner::ListingRunner::default();
        let id = super::super::apply(&plan, &root, &mut runner, &actor).unwrap().backup.unwrap();
        begin(&root, &record(&id)).unwrap();
        // The power went right after the waiter took the decision.
        assert!(matches!(decide(&root, Phase::Reverting).unwrap(), Decided::Won(_)));
        let lock = lock::DeviceLock::acquire(&root).unwrap();
        let abandoned = settle(&root, &mut runner, &actor, &lock).unwrap().unwrap();
        assert!(abandoned.report.is_some());
        assert_eq!(fs::read(root.path("/etc/edgeprep/a.conf")).unwrap(), b"1");
        assert_eq!(read(&root).unwrap().unwrap().phase, Phase::Reverted);
        // The power went after the rollback but before `reverted` was written: the next run
        // only marks it, it does not restore (and undo whatever came since) again.
        fs::write(root.path("/etc/edgeprep/a.conf"), b"edited since").unwrap();
        let d = confirm_dir(&root);
        fs::rename(d.join("reverted"), d.join("reverting")).unwrap();
        let again = settle(&root, &mut runner, &actor, &lock).unwrap().unwrap();
        assert!(again.report.is_none());
        assert_eq!(fs::read(root.path("/etc/edgeprep/a.conf")).unwrap(), b"edited since");
        assert_eq!(read(&root).unwrap().unwrap().phase, Phase::Reverted);
        assert!(settle(&root, &mut runner, &actor, &lock).unwrap().is_none());
        let log = audit::read_all(&root).unwrap();
        assert_eq!(log.iter().filter(|e| e.action == "confirm").count(), 2);
    }

    #[test]
    fn the_record_directory_and_file_are_root_only() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        begin(&root, &record("A")).unwrap();
        assert_eq!(fs::metadata(confirm_dir(&root)).unwrap().mode() & 0o7777, CONFIRM_DIR_MODE);
        assert_eq!(fs::metadata(file_of(&root, Phase::Pending)).unwrap().mode() & 0o7777, RECORD_MODE);
    }

    #[test]
    fn a_record_directory_linked_out_of_the_root_is_refused_and_the_linked_record_left_alone() {
        // The host's own record, and an image whose `var/lib/edgeprep` links to it.
        let host = tempfile::tempdir().unwrap();
        let host_root = DeviceRoot::new(host.path());
        begin(&host_root, &record("HOST")).unwrap();
        fs::write(file_of(&host_root, Phase::Confirmed), b"{}").unwrap();
        let image = tempfile::tempdir().unwrap();
        fs::create_dir_all(image.path().join("var/lib")).unwrap();
        std::os::unix::fs::symlink(
            host.path().join("var/lib/edgeprep"),
            image.path().join("var/lib/edgeprep"),
        )
        .unwrap();
        let root = DeviceRoot::new(image.path());
        let refused = format!("{:#}", read(&root).unwrap_err());
        assert!(refused.contains("not a symlink"), "{refused}");
        assert!(decide(&root, Phase::Confirmed).is_err());
        assert!(clear_end_states(&root).is_err());
        assert!(begin(&root, &record("IMAGE")).is_err());
        assert!(file_of(&host_root, Phase::Pending).exists(), "the host's record must not be decided");
        assert!(file_of(&host_root, Phase::Confirmed).exists(), "nor its end state cleared");
        // A directory another user owns could be swapped for such a link at any moment.
        let image = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(image.path());
        fs::create_dir_all(image.path().join("var/lib/edgeprep")).unwrap();
        std::os::unix::fs::chown(image.path().join("var/lib/edgeprep"), Some(4321), Some(4321)).unwrap();
        let refused = format!("{:#}", begin(&root, &record("A")).unwrap_err());
        assert!(refused.contains("owned by root"), "{refused}");
        assert!(!confirm_dir(&root).exists());
        assert_eq!(read_phase(&host_root, Phase::Pending).unwrap().unwrap().backup, "HOST");
    }

    #[test]
    fn a_var_link_leaving_the_root_makes_no_directory_outside_it() {
        let outside = tempfile::tempdir().unwrap();
        let image = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), image.path().join("var")).unwrap();
        let root = DeviceRoot::new(image.path());
        begin(&root, &record("A")).unwrap();
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0, "nothing is made outside the root");
        assert_eq!(read(&root).unwrap().unwrap().record.backup, "A");
    }

    #[test]
    fn a_record_that_is_a_symlink_is_not_read_through() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        begin(&root, &record("A")).unwrap();
        let elsewhere = dir.path().join("elsewhere.json");
        fs::rename(file_of(&root, Phase::Pending), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, file_of(&root, Phase::Pending)).unwrap();
        let refused = format!("{:#}", read(&root).unwrap_err());
        assert!(refused.contains("is a symlink"), "{refused}");
    }

    #[test]
    fn a_huge_or_garbage_record_is_refused_with_its_path_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        begin(&root, &record("A")).unwrap();
        fs::write(file_of(&root, Phase::Pending), b"\x00garbage").unwrap();
        let garbage = format!("{:#}", read(&root).unwrap_err());
        assert!(garbage.contains("pending") && garbage.contains("remove it"), "{garbage}");
        fs::write(file_of(&root, Phase::Pending), vec![b' '; MAX_RECORD_BYTES as usize + 1]).unwrap();
        let huge = format!("{:#}", read(&root).unwrap_err());
        assert!(huge.contains("pending") && huge.contains("bytes"), "{huge}");
    }

    #[test]
    fn a_waiter_is_alive_only_in_the_same_boot_as_the_same_process() {
        let mut mine = record("A");
        assert!(waiter_alive(&mine, None));
        mine.boot_id = Some("boot-1".into());
        assert!(waiter_alive(&mine, Some("boot-1")));
        assert!(!waiter_alive(&mine, Some("boot-2")), "a record from an earlier boot has no waiter");
        let mut reused = record("A");
        reused.pid_start = reused.pid_start.map(|s| s + 1);
        assert!(!waiter_alive(&reused, None), "a reused pid is not the waiter");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let gone = Record { pid: child.id(), pid_start: None, ..record("A") };
        assert!(!waiter_alive(&gone, None));
    }

    #[test]
    fn the_countdown_line_names_every_service_and_how_to_confirm() {
        let health = Health {
            services: HEALTH_UNITS.iter().map(|u| (u.to_string(), "active".to_string())).collect(),
            edge_agent: "running".into(),
        };
        let line = countdown_line(42, Some(&health), true);
        assert_eq!(
            line,
            "  42 s left to confirm | aziot-identityd active, aziot-edged active, docker active, edgeAgent running | Enter or `edgeprep confirm` keeps"
        );
        assert!(countdown_line(5, None, false).contains("health: checking"));
        assert!(!countdown_line(5, None, false).contains("Enter"));
    }

    #[test]
    fn seconds_left_round_up_so_the_last_second_shows_one() {
        let now = Instant::now();
        assert_eq!(left(now + Duration::from_millis(100), now), 1);
        assert_eq!(left(now + Duration::from_millis(1000), now), 1);
        assert_eq!(left(now + Duration::from_millis(1001), now), 2);
        assert_eq!(left(now, now + Duration::from_secs(1)), 0);
    }
}
