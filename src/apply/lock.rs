//! One change at a time: an exclusive lock under the root, held while apply or rollback
//! changes the device (and while apply decides there is nothing to do), so an Ansible run and
//! a technician at the console cannot interleave.
//!
//! The lock lives in `/run/edgeprep/`, a 0700 directory owned by the user edgeprep runs as
//! (root on a device). Not in world-writable `/run/lock`: there anyone could create the lock
//! file first, or plant a symlink that edgeprep, as root, would follow and create.

use std::fs::{self, File, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use rustix::fs::{FlockOperation, Mode, OFlags, flock, fstat, open, openat};

use super::atomic;
use crate::error::input_error;
use crate::root::DeviceRoot;

/// Device path of the directory holding the lock. Runtime state: /run is cleared at boot.
pub const LOCK_DIR: &str = "/run/edgeprep";
/// Device path of the lock file.
pub const LOCK_FILE: &str = "/run/edgeprep/lock";
/// Mode of [`LOCK_DIR`].
pub const LOCK_DIR_MODE: u32 = 0o700;

/// Held until dropped (the kernel releases the lock when the file closes, even on a crash).
#[derive(Debug)]
pub struct DeviceLock {
    _file: File,
}

impl DeviceLock {
    /// Take the lock, or fail at once (exit 2, nothing changed) when another edgeprep holds
    /// it or the lock directory is not safely ours.
    pub fn acquire(root: &DeviceRoot) -> Result<Self> {
        // `/run` resolved inside the root: on some images it is a link.
        let dir = root.own_state_path("/run", LOCK_DIR.trim_start_matches("/run/"));
        create_lock_dir(&dir)?;
        let dir_fd = open(&dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| {
                if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR {
                    input_error(format!(
                        "{LOCK_DIR} is a symlink or not a directory; edgeprep keeps its lock only in a directory of its own. Remove {} and try again",
                        dir.display()
                    ))
                } else {
                    anyhow::Error::new(std::io::Error::from(e))
                        .context(format!("could not open the lock directory {}", dir.display()))
                }
            })?;
        let stat = fstat(&dir_fd).with_context(|| format!("could not inspect {}", dir.display()))?;
        let euid = rustix::process::geteuid().as_raw();
        if stat.st_uid != euid {
            return Err(input_error(format!(
                "{LOCK_DIR} ({}) is owned by uid {}, not by uid {euid} that edgeprep runs as; someone else may control the lock. Remove it and try again",
                dir.display(),
                stat.st_uid
            )));
        }
        if stat.st_mode & 0o022 != 0 {
            return Err(input_error(format!(
                "{LOCK_DIR} ({}) is writable by other users (mode {:04o}); remove it and try again (edgeprep recreates it 0700)",
                dir.display(),
                stat.st_mode & 0o7777
            )));
        }
        let fd = openat(
            &dir_fd,
            "lock",
            OFlags::CREATE | OFlags::RDWR | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| {
            anyhow::Error::new(std::io::Error::from(e)).context(format!(
                "could not open the lock file {} (it must be a regular file)",
                dir.join("lock").display()
            ))
        })?;
        let file = File::from(fd);
        flock(&file, FlockOperation::NonBlockingLockExclusive).map_err(|_| {
            input_error(format!(
                "another edgeprep is changing this device right now (it holds {LOCK_FILE}); nothing was changed. Wait for it to finish and try again"
            ))
        })?;
        Ok(Self { _file: file })
    }
}

/// Create the lock directory 0700 when missing (its parents 0755, as /run is on a device).
fn create_lock_dir(dir: &Path) -> Result<()> {
    if let Some(parent) = dir.parent() {
        atomic::create_dir_all(parent, atomic::PARENT_DIR_MODE)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => {
            fs::set_permissions(dir, Permissions::from_mode(LOCK_DIR_MODE))
                .with_context(|| format!("could not set the mode of {}", dir.display()))?;
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("could not create the lock directory {}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        let first = DeviceLock::acquire(&root).unwrap();
        let err = DeviceLock::acquire(&root).unwrap_err();
        assert!(err.to_string().contains("another edgeprep"));
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT);
        drop(first);
        assert!(DeviceLock::acquire(&root).is_ok());
        let meta = fs::metadata(root.path(LOCK_DIR)).unwrap();
        assert_eq!(meta.mode() & 0o7777, LOCK_DIR_MODE);
    }

    #[test]
    fn a_symlinked_lock_directory_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        fs::create_dir_all(root.path("/run")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.path(LOCK_DIR)).unwrap();
        let err = DeviceLock::acquire(&root).unwrap_err();
        assert!(format!("{err:#}").contains("symlink"), "{err:#}");
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn a_symlink_at_the_lock_file_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        create_lock_dir(&root.path(LOCK_DIR)).unwrap();
        let target = dir.path().join("target");
        std::os::unix::fs::symlink(&target, root.path(LOCK_FILE)).unwrap();
        assert!(DeviceLock::acquire(&root).is_err());
        assert!(!target.exists(), "the symlink was followed");
    }

    #[test]
    #[cfg_attr(not(running_as_root), ignore = "needs root (chown)")]
    fn a_lock_directory_owned_by_someone_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        create_lock_dir(&root.path(LOCK_DIR)).unwrap();
        std::os::unix::fs::chown(root.path(LOCK_DIR), Some(4242), Some(4242)).unwrap();
        let err = DeviceLock::acquire(&root).unwrap_err();
        assert!(format!("{err:#}").contains("owned by uid 4242"), "{err:#}");
    }
}
