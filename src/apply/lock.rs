//! One change at a time: an exclusive lock under the root, held while apply or rollback
//! changes the device, so an Ansible run and a technician at the console cannot interleave.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{Context, Result};
use rustix::fs::{FlockOperation, flock};

use super::atomic;
use crate::error::input_error;
use crate::root::DeviceRoot;

/// Device path of the lock file.
/// Runtime state, so it lives in /run (cleared at boot) rather than next to the backups.
pub const LOCK_FILE: &str = "/run/lock/edgeprep.lock";

/// Held until dropped (the kernel releases the lock when the file closes, even on a crash).
#[derive(Debug)]
pub struct DeviceLock {
    _file: File,
}

impl DeviceLock {
    /// Take the lock, or fail at once when another edgeprep holds it.
    pub fn acquire(root: &DeviceRoot) -> Result<Self> {
        let path = root.path(LOCK_FILE);
        if let Some(parent) = path.parent() {
            atomic::create_dir_all(parent, atomic::PARENT_DIR_MODE)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        flock(&file, FlockOperation::NonBlockingLockExclusive).map_err(|_| {
            input_error(format!(
                "another edgeprep is changing this device right now (it holds {LOCK_FILE}); wait for it to finish and try again"
            ))
        })?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        let first = DeviceLock::acquire(&root).unwrap();
        let err = DeviceLock::acquire(&root).unwrap_err();
        assert!(err.to_string().contains("another edgeprep"));
        drop(first);
        assert!(DeviceLock::acquire(&root).is_ok());
    }
}
