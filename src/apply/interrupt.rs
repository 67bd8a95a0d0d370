//! Ctrl-C, a dropped SSH link (SIGHUP) or a SIGTERM while apply runs must not leave the device
//! half-configured. While a [`Shield`] is up those signals only raise a flag; apply checks it
//! before and after each command and, when it is set, rolls back as if that step had failed.
//!
//! Outside a shield the signals must act as if edgeprep had never handled them (terminate),
//! else a stuck `plan` or a wizard screen could no longer be stopped. signal-hook cannot give a
//! signal back to the kernel's default without `unsafe`, so the handlers are installed once per
//! process and decide at delivery: shielded → record; not shielded → the default action
//! ([`signal_hook::flag::register_conditional_default`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The signals that mean "stop": Ctrl-C, hang-up, termination.
pub const STOP_SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// A stop signal arrived while a shield was up.
static REQUESTED: AtomicBool = AtomicBool::new(false);
/// No shield is up and no front-end handles stop signals itself: a stop signal takes its
/// default action.
static UNSHIELDED: AtomicBool = AtomicBool::new(true);
/// A front-end (the full-screen wizard) handles stop signals itself outside a shield.
static CALLER_HANDLES: AtomicBool = AtomicBool::new(false);
/// Whether the handlers are installed (once per process; they stay).
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// While alive, SIGINT, SIGTERM and SIGHUP are recorded instead of ending the process.
/// Raising a new shield forgets a stop recorded under an earlier one, so a front-end can
/// apply more than once in a process.
#[derive(Debug)]
pub struct Shield {
    _private: (),
}

impl Shield {
    pub fn raise() -> Result<Self> {
        install()?;
        REQUESTED.store(false, Ordering::SeqCst);
        UNSHIELDED.store(false, Ordering::SeqCst);
        Ok(Self { _private: () })
    }
}

impl Drop for Shield {
    fn drop(&mut self) {
        UNSHIELDED.store(!CALLER_HANDLES.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// For a front-end with its own stop-signal handling (a full-screen wizard must restore the
/// terminal before exiting): outside a shield, stop signals no longer end the process here,
/// so the front-end's own handler (signal-hook `Signals`, say) decides. Under a shield they
/// are still recorded and roll the apply back.
pub fn leave_stop_signals_to_caller() -> Result<()> {
    install()?;
    CALLER_HANDLES.store(true, Ordering::SeqCst);
    UNSHIELDED.store(false, Ordering::SeqCst);
    Ok(())
}

fn install() -> Result<()> {
    let mut installed = INSTALLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if *installed {
        return Ok(());
    }
    for signal in STOP_SIGNALS {
        // Order matters: when not shielded the first handler ends the process at once.
        signal_hook::flag::register_conditional_default(signal, &UNSHIELDED)
            .context("installing a signal handler")?;
        signal_hook::flag::register(signal, &REQUESTED).context("installing a signal handler")?;
    }
    *installed = true;
    Ok(())
}

/// Whether a stop was asked for since the shield went up.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs `test` in a child copy of this test binary, so a signal that ends the process
    /// ends only the child.
    fn in_child(test: &str) -> std::process::ExitStatus {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env("EDGEPREP_SIGNAL_CHILD", "1")
            .status()
            .unwrap()
    }

    fn is_child() -> bool {
        std::env::var_os("EDGEPREP_SIGNAL_CHILD").is_some()
    }

    fn send_self(signal: rustix::process::Signal) {
        rustix::process::kill_process(rustix::process::getpid(), signal).unwrap();
    }

    #[test]
    fn shield_records_a_stop_and_a_second_shield_starts_clean() {
        if !is_child() {
            let status =
                in_child("apply::interrupt::tests::shield_records_a_stop_and_a_second_shield_starts_clean");
            assert!(status.success(), "child failed: {status:?}");
            return;
        }
        let shield = Shield::raise().unwrap();
        send_self(rustix::process::Signal::TERM);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(requested(), "SIGTERM under the shield is recorded");
        drop(shield);
        let again = Shield::raise().unwrap();
        assert!(!requested(), "a new shield forgets the last stop");
        send_self(rustix::process::Signal::HUP);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(requested(), "the second shield works too");
        drop(again);
    }

    #[test]
    fn a_front_end_that_handles_signals_itself_is_not_ended_after_the_shield_drops() {
        if !is_child() {
            let status = in_child(
                "apply::interrupt::tests::a_front_end_that_handles_signals_itself_is_not_ended_after_the_shield_drops",
            );
            assert!(status.success(), "child failed: {status:?}");
            return;
        }
        leave_stop_signals_to_caller().unwrap();
        drop(Shield::raise().unwrap());
        send_self(rustix::process::Signal::TERM);
        std::thread::sleep(std::time::Duration::from_millis(50));
        // Still alive: the front-end's handler is in charge.
    }

    #[test]
    fn after_the_shield_drops_a_signal_ends_the_process_again() {
        if !is_child() {
            let status =
                in_child("apply::interrupt::tests::after_the_shield_drops_a_signal_ends_the_process_again");
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(status.signal(), Some(SIGTERM), "child was not ended by SIGTERM: {status:?}");
            return;
        }
        drop(Shield::raise().unwrap());
        send_self(rustix::process::Signal::TERM);
        std::thread::sleep(std::time::Duration::from_secs(2));
        // Reaching here means the signal was swallowed: the child exits 0 and the parent fails.
    }
}
