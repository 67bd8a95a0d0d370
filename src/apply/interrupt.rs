//! Ctrl-C, a dropped SSH link (SIGHUP) or a SIGTERM while apply runs must not leave the device
//! half-configured. While a [`Shield`] is up those signals only raise a flag; apply checks it
//! before each command and, when it is set, rolls back as if the next step had failed.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use signal_hook::SigId;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// While alive, SIGINT, SIGTERM and SIGHUP are recorded instead of ending the process.
#[derive(Debug)]
pub struct Shield {
    ids: Vec<SigId>,
}

impl Shield {
    pub fn raise() -> Result<Self> {
        let mut ids = Vec::new();
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            ids.push(signal_hook::flag::register(signal, &REQUESTED).context("installing a signal handler")?);
        }
        Ok(Self { ids })
    }
}

impl Drop for Shield {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Whether a stop was asked for since the shield went up.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
