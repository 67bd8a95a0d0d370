//! Atomic file writes: temp file in the same directory, mode and owner set, fsync, rename,
//! fsync of the directory. A reader sees the old file or the new one, never half of either.
//!
//! IoT Edge daemons and systemd read these files at any moment (a restart can come from
//! elsewhere), and a power cut on a field device is ordinary; so a file is never truncated and
//! rewritten in place, and every rename is made durable before the next step relies on it.

use std::fs::{self, File, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

/// Mode of directories edgeprep creates only because a file or directory needs a parent.
pub const PARENT_DIR_MODE: u32 = 0o755;

/// Replace `path` with `contents`, atomically, ending with permission bits `mode` and, when
/// `owner` is `Some((uid, gid))`, that owner (else the owner of the creating process).
///
/// Missing parent directories are created with mode 0755; callers that must undo that record
/// them first (see [`missing_ancestors`]).
pub fn write_file(path: &Path, contents: &[u8], mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
    let parent = parent_of(path)?;
    create_dir_all(parent, PARENT_DIR_MODE)?;

    let mut temp = tempfile::NamedTempFile::new_in(parent)
        .with_context(|| format!("could not create a temporary file in {}", parent.display()))?;
    let written = (|| -> std::io::Result<()> {
        temp.write_all(contents)?;
        let file = temp.as_file();
        if let Some((uid, gid)) = owner {
            let meta = file.metadata()?;
            if meta.uid() != uid || meta.gid() != gid {
                std::os::unix::fs::fchown(file, Some(uid), Some(gid))?;
            }
        }
        // After chown: changing the owner may clear set-id bits, so the mode is set last.
        file.set_permissions(Permissions::from_mode(mode))?;
        file.sync_all()
    })();
    written.with_context(|| format!("could not write the new contents of {}", path.display()))?;

    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("could not move the new {} into place", path.display()))?;
    sync_dir(parent)
}

/// Remove `path` and make the removal durable. A file that is already gone is not an error.
pub fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent_of(path)?),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("could not remove {}", path.display())),
    }
}

/// fsync a directory, so the renames, creations and removals in it survive a power cut.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("could not flush directory {} to disk", dir.display()))
}

/// The directories among `path` and its ancestors that do not exist, outermost first.
pub fn missing_ancestors(path: &Path) -> Vec<PathBuf> {
    let mut missing: Vec<PathBuf> = path
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty())
        .take_while(|p| fs::symlink_metadata(p).is_err())
        .map(Path::to_path_buf)
        .collect();
    missing.reverse();
    missing
}

/// Create `dir` and any missing parents, each with exactly `mode` (not reduced by the umask).
/// Returns the directories it created, outermost first.
pub fn create_dir_all(dir: &Path, mode: u32) -> Result<Vec<PathBuf>> {
    let missing = missing_ancestors(dir);
    for created in &missing {
        match fs::create_dir(created) {
            Ok(()) => {}
            // Someone else made it in the meantime: fine, it is not ours to set up.
            Err(e) if e.kind() == ErrorKind::AlreadyExists && created.is_dir() => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("could not create directory {}", created.display()));
            }
        }
        fs::set_permissions(created, Permissions::from_mode(mode))
            .with_context(|| format!("could not set the mode of {}", created.display()))?;
        if let Some(parent) = created.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(missing)
}

fn parent_of(path: &Path) -> Result<&Path> {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| anyhow!("{} has no parent directory", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn write_file_replaces_contents_and_sets_mode_despite_umask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"old").unwrap();
        write_file(&path, b"new", 0o640, None).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(mode_of(&path), 0o640);
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_file_creates_missing_parents_with_0755() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/f");
        write_file(&path, b"x", 0o600, None).unwrap();
        assert_eq!(mode_of(&dir.path().join("a")), 0o755);
        assert_eq!(mode_of(&dir.path().join("a/b")), 0o755);
        assert_eq!(mode_of(&path), 0o600);
    }

    #[test]
    #[cfg_attr(not(running_as_root), ignore = "needs root (chown)")]
    fn write_file_sets_the_requested_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owned");
        write_file(&path, b"x", 0o644, Some((1234, 4321))).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (1234, 4321));
    }

    #[test]
    fn missing_ancestors_lists_only_what_does_not_exist() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("x/y/z");
        assert_eq!(
            missing_ancestors(&deep),
            vec![dir.path().join("x"), dir.path().join("x/y"), deep.clone()]
        );
        assert!(missing_ancestors(dir.path()).is_empty());
    }

    #[test]
    fn remove_file_of_a_missing_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        remove_file(&dir.path().join("nope")).unwrap();
    }
}
