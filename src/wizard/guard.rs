//! The terminal and the device survive the wizard ending any way at all.
//!
//! - A panic: `ratatui::try_init` installs a panic hook that restores the terminal (release
//!   builds abort on panic, so `Drop` would never run).
//! - SIGHUP, SIGTERM, SIGINT from outside: a signal thread restores the terminal and exits
//!   128+n. While apply runs, the apply [`Shield`](crate::apply::interrupt::Shield) owns those
//!   signals (apply rolls back); the thread only remembers the signal and the loop exits after.
//! - A dropped SSH link, which may come without any signal: crossterm's event reading spins on
//!   a hung-up pty, so a watchdog thread blocks in `poll` on the terminal for POLLHUP/POLLERR
//!   (no timer, no busy loop) and ends the process.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use rustix::event::{PollFd, PollFlags, poll};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Set while apply runs: signals and hangups wait for it to finish (or roll back).
static APPLYING: AtomicBool = AtomicBool::new(false);
/// A signal that arrived during apply, to act on once it is over (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);

/// A temporary directory to remove on the way out (the demo device): `exit` runs no `Drop`.
static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

/// Start the signal thread and the hangup watchdog. Call once the terminal is in raw mode.
/// `scratch` is removed when a signal or hangup ends the process.
pub fn install(scratch: Option<PathBuf>) -> Result<()> {
    if let Some(dir) = scratch {
        let _ = SCRATCH.set(dir);
    }
    let mut signals = Signals::new([SIGHUP, SIGTERM, SIGINT]).context("installing the signal handlers")?;
    std::thread::Builder::new()
        .name("edgeprep-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if APPLYING.load(Ordering::SeqCst) {
                    PENDING.store(signal, Ordering::SeqCst);
                    continue;
                }
                leave(128 + signal);
            }
        })
        .context("starting the signal thread")?;
    std::thread::Builder::new()
        .name("edgeprep-hangup".into())
        .spawn(watch_hangup)
        .context("starting the watchdog")?;
    Ok(())
}

/// Run `f` (apply) with signals and hangups deferred until it returns.
pub fn while_applying<T>(f: impl FnOnce() -> T) -> T {
    APPLYING.store(true, Ordering::SeqCst);
    let out = f();
    APPLYING.store(false, Ordering::SeqCst);
    out
}

/// After apply: a signal that came in during it ends the program now.
pub fn exit_if_signalled() {
    let signal = PENDING.swap(0, Ordering::SeqCst);
    if signal != 0 {
        leave(128 + signal);
    }
}

/// Restore the terminal and exit. Runs on a helper thread while the main thread holds the
/// stdout lock (main.rs locks it for the whole run), so the escape sequences go to stderr,
/// the same terminal (the wizard only starts when stderr is one). Not `ratatui::restore`
/// either: on a hung-up terminal it reports the failure with `eprintln!`, which panics.
fn leave(code: i32) -> ! {
    use ratatui::crossterm::{cursor, execute, terminal};
    let _ = terminal::disable_raw_mode();
    let _ = execute!(std::io::stderr(), terminal::LeaveAlternateScreen, cursor::Show);
    if let Some(dir) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::process::exit(code)
}

/// Block until the terminal hangs up, then end the process (after apply, if one runs).
fn watch_hangup() {
    let stdin = std::io::stdin();
    loop {
        // No events asked for: poll returns only for POLLHUP, POLLERR or POLLNVAL.
        let mut fds = [PollFd::new(&stdin, PollFlags::empty())];
        match poll(&mut fds, None) {
            Ok(_) => {
                let revents = fds[0].revents();
                if revents.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                    while APPLYING.load(Ordering::SeqCst) {
                        // Apply is bounded (commands time out); wait for it to finish or roll back.
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    leave(128 + SIGHUP);
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}
