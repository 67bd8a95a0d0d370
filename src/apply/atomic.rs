//! Atomic file writes: temp file in the same directory, mode and owner set, fsync, rename,
//! fsync of the directory. A reader sees the old file or the new one, never half of either.
//!
//! IoT Edge daemons and systemd read these files at any moment (a restart can come from
//! elsewhere), and a power cut on a field device is ordinary; so a file is never truncated and
//! rewritten in place, and every rename is made durable before the next step relies on it.

use std::collections::hash_map::RandomState;
use std::ffi::OsStr;
use std::fs::{self, File, Permissions};
use std::hash::{BuildHasher, Hasher};
use std::io::{ErrorKind, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::root::DeviceRoot;

/// Mode of directories edgeprep creates only because a file or directory needs a parent.
pub const PARENT_DIR_MODE: u32 = 0o755;

/// Name prefix of the temporary files the writer creates beside their target. A kill between
/// creating one and renaming it leaves it behind; [`remove_stale_temp_files`] finds it by this.
pub const TEMP_PREFIX: &str = ".edgeprep-tmp-";

/// Mode a temporary file is created with, before a byte is written: it may hold a secret.
const TEMP_MODE: u32 = 0o600;

/// Replace `path` with `contents`, atomically, ending with permission bits `mode` and, when
/// `owner` is `Some((uid, gid))`, that owner (else the owner of the creating process).
///
/// For edgeprep's own files (backup sets): `path` is trusted as a host path. Device files go
/// through [`write_in_root`]. Missing parent directories are created with mode 0755; callers
/// that must undo that record them first (see [`missing_ancestors`]).
pub fn write_file(path: &Path, contents: &[u8], mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
    let parent = parent_of(path)?;
    let name = path.file_name().ok_or_else(|| anyhow!("{} has no file name", path.display()))?;
    create_dir_all(parent, PARENT_DIR_MODE)?;
    let dir = rustix::fs::open(parent, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .with_context(|| format!("could not open directory {}", parent.display()))?;
    write_at(dir.as_fd(), name, &path.display().to_string(), contents, mode, owner)
}

/// Replace the device file `device_path` under `root` with `contents`, atomically, like
/// [`write_file`], with every path resolved inside the root.
///
/// A symlink at `device_path` (an offline image's `config.toml -> config.toml.real`) is
/// kept: its target inside the root is what gets replaced. The temporary file is created and
/// renamed relative to the descriptor of the resolved parent directory, so a symlink swapped
/// into the path meanwhile cannot redirect the write; missing parents are made with `mkdirat`
/// the same way.
pub fn write_in_root(
    root: &DeviceRoot,
    device_path: &str,
    contents: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let target = root.canonical(device_path).map_err(|e| root.failure(device_path, &e))?;
    write_at_path(root, &target, device_path, contents, mode, owner)
}

/// Like [`write_in_root`], but whatever is at `device_path` itself (a symlink too) is replaced
/// by the regular file: for putting a file back exactly as it was recorded.
pub fn write_in_root_replacing(
    root: &DeviceRoot,
    device_path: &str,
    contents: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    write_at_path(root, Path::new(device_path), device_path, contents, mode, owner)
}

/// Write `at` (a device path, already resolved as the caller wants) through its parent
/// directory's descriptor, creating missing parents; `shown` names it in messages.
fn write_at_path(
    root: &DeviceRoot,
    at: &Path,
    shown: &str,
    contents: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let (parent, name) = split(at)?;
    let (dir, _) = create_dir_all_in_root(root, &parent, PARENT_DIR_MODE)?;
    // Apply and rollback hold the device lock: a temporary file here is a killed run's.
    remove_stale_at(dir.as_fd(), &parent.display().to_string())?;
    write_at(dir.as_fd(), name, shown, contents, mode, owner)
}

/// Make `device_path` the symlink `link_text` (atomically replacing what is there), with the
/// symlink created under a temporary name and renamed relative to the parent's descriptor.
pub fn symlink_in_root(root: &DeviceRoot, device_path: &str, link_text: &Path) -> Result<()> {
    let (parent, name) = split(Path::new(device_path))?;
    let (dir, _) = create_dir_all_in_root(root, &parent, PARENT_DIR_MODE)?;
    let mut last = Errno::EXIST;
    for attempt in 0..64u64 {
        let temp = temp_name(attempt);
        match rustix::fs::symlinkat(link_text, &dir, temp.as_str()) {
            Ok(()) => {
                if let Err(e) = rustix::fs::renameat(&dir, temp.as_str(), &dir, name) {
                    let _ = rustix::fs::unlinkat(&dir, temp.as_str(), AtFlags::empty());
                    return Err(e).with_context(|| format!("could not put the symlink {device_path} back"));
                }
                return rustix::fs::fsync(&dir)
                    .with_context(|| format!("could not flush the directory of {device_path} to disk"));
            }
            Err(Errno::EXIST) => last = Errno::EXIST,
            Err(e) => return Err(e).with_context(|| format!("could not create the symlink {device_path}")),
        }
    }
    Err(last).with_context(|| format!("could not create the symlink {device_path}"))
}

/// Remove the empty device directory `device_path` (resolved in the root, the directory
/// itself never through a final symlink). Missing or not empty: left alone, `Ok(false)`.
pub fn remove_dir_in_root(root: &DeviceRoot, device_path: &str) -> Result<bool> {
    let (parent, name) = split(Path::new(device_path))?;
    let dir = match root.open_optional(&parent, OFlags::RDONLY | OFlags::DIRECTORY) {
        Ok(Some(dir)) => dir,
        Ok(None) => return Ok(false),
        Err(e) => return Err(root.failure(device_path, &e)),
    };
    match rustix::fs::unlinkat(&dir, name, AtFlags::REMOVEDIR) {
        Ok(()) => {
            rustix::fs::fsync(&dir)
                .with_context(|| format!("could not flush the directory above {device_path}"))?;
            Ok(true)
        }
        Err(Errno::NOENT | Errno::NOTEMPTY | Errno::EXIST) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("could not remove directory {device_path}")),
    }
}

/// Remove the device file `device_path` (the name itself, not a symlink's target) and make
/// the removal durable. A file that is already gone is not an error.
pub fn remove_in_root(root: &DeviceRoot, device_path: &str) -> Result<()> {
    let (parent, name) = split(Path::new(device_path))?;
    let dir = match root.open_optional(&parent, OFlags::RDONLY | OFlags::DIRECTORY) {
        Ok(Some(dir)) => dir,
        Ok(None) => return Ok(()),
        Err(e) => return Err(root.failure(device_path, &e)),
    };
    match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
        Ok(()) => {
            rustix::fs::fsync(&dir).with_context(|| format!("could not flush the directory of {device_path}"))
        }
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("could not remove {device_path}")),
    }
}

/// Create the device directory `device_dir` and its missing parents under `root`, each with
/// exactly `mode`, with `mkdirat` relative to the descriptor of the directory above and
/// without following a symlink planted meanwhile. Returns the directory opened for reading
/// and the device paths it created, outermost first.
pub fn create_dir_all_in_root(
    root: &DeviceRoot,
    device_dir: &Path,
    mode: u32,
) -> Result<(OwnedFd, Vec<String>)> {
    let shown = device_dir.display().to_string();
    let canonical = root.canonical(device_dir).map_err(|e| root.failure(&shown, &e))?;
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut current =
        rustix::fs::open(root.base(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .with_context(|| format!("could not open the root {}", root.base().display()))?;
    let mut created = Vec::new();
    let mut here = PathBuf::from("/");
    for name in canonical.iter().skip(1) {
        here.push(name);
        let next = match rustix::fs::openat(&current, name, dir_flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                // 0700 until the mode is set on the open directory.
                let made = match rustix::fs::mkdirat(&current, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) => true,
                    // Someone else made it in the meantime: fine, it is not ours to set up.
                    Err(Errno::EXIST) => false,
                    Err(e) => {
                        return Err(e)
                            .with_context(|| format!("could not create directory {}", here.display()));
                    }
                };
                let fd = rustix::fs::openat(&current, name, dir_flags, Mode::empty())
                    .map_err(std::io::Error::from)
                    .map_err(|e| root.failure(&here.display().to_string(), &e))?;
                if made {
                    created.push(here.display().to_string());
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
                        .with_context(|| format!("could not set the mode of {}", here.display()))?;
                    rustix::fs::fsync(&current)
                        .with_context(|| format!("could not flush the directory above {}", here.display()))?;
                }
                fd
            }
            Err(e) => return Err(root.failure(&here.display().to_string(), &e.into())),
        };
        current = next;
    }
    Ok((current, created))
}

/// chown (only when the owner differs, so a non-root run can fix modes of its own files) and
/// then chmod, since chown may clear set-id bits; on an open descriptor, so no path is
/// resolved again.
pub fn set_owner_mode(fd: BorrowedFd<'_>, mode: u32, uid: u32, gid: u32) -> std::io::Result<()> {
    let st = rustix::fs::fstat(fd)?;
    if st.st_uid != uid || st.st_gid != gid {
        rustix::fs::fchown(fd, Some(rustix::fs::Uid::from_raw(uid)), Some(rustix::fs::Gid::from_raw(gid)))?;
    }
    if rustix::fs::fstat(fd)?.st_mode & 0o7777 != mode {
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))?;
    }
    Ok(())
}

/// Remove the temporary files a killed run left in the device directories `dirs` (only
/// regular files named with [`TEMP_PREFIX`]). Returns their device paths. Call it at the start
/// of an apply or rollback, with the lock held, before anything is written.
pub fn remove_stale_temp_files<S: AsRef<str>>(root: &DeviceRoot, dirs: &[S]) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for dir in dirs {
        let dir = dir.as_ref();
        let fd = match root.open_optional(dir, OFlags::RDONLY | OFlags::DIRECTORY) {
            Ok(Some(fd)) => fd,
            Ok(None) => continue,
            Err(e) => return Err(root.failure(dir, &e)),
        };
        removed.extend(remove_stale_at(fd.as_fd(), dir)?);
    }
    Ok(removed)
}

/// [`remove_stale_temp_files`] for one open directory (`shown` names it in messages).
fn remove_stale_at(dir: BorrowedFd<'_>, shown: &str) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let entries = rustix::fs::Dir::read_from(dir).with_context(|| format!("could not list {shown}"))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("could not list {shown}"))?;
        if !entry.file_name().to_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
            continue;
        }
        // Only regular files: a directory or link with that name is not ours.
        let st = rustix::fs::statat(dir, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
            .with_context(|| format!("could not inspect a file in {shown}"))?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            continue;
        }
        let path = format!(
            "{}/{}",
            shown.trim_end_matches('/'),
            String::from_utf8_lossy(entry.file_name().to_bytes())
        );
        match rustix::fs::unlinkat(dir, entry.file_name(), AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => removed.push(path),
            Err(e) => {
                return Err(e).with_context(|| format!("could not remove the stale temporary file {path}"));
            }
        }
    }
    if !removed.is_empty() {
        rustix::fs::fsync(dir).with_context(|| format!("could not flush directory {shown}"))?;
    }
    removed.sort();
    Ok(removed)
}

/// Device directories edgeprep writes files into: where [`remove_stale_temp_files`] looks.
pub fn written_dirs() -> Vec<String> {
    use crate::paths;
    let mut dirs: Vec<String> = [
        paths::CONFIG_TOML,
        paths::DAEMON_JSON,
        paths::EDGE_CA_CERT,
        paths::EDGE_CA_KEY,
        paths::OS_TRUST_STORE_CERT,
        paths::GENERATED_ROOT_KEY,
    ]
    .iter()
    .filter_map(|p| Path::new(p).parent().and_then(Path::to_str).map(str::to_string))
    .collect();
    for unit in [paths::DOCKER_UNIT, paths::EDGED_UNIT, paths::IDENTITYD_UNIT] {
        let dropin = paths::proxy_dropin(unit);
        if let Some(parent) = Path::new(&dropin).parent().and_then(Path::to_str) {
            dirs.push(parent.to_string());
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs
}

/// The temp file, write, owner, mode, fsync, rename and directory fsync, all relative to
/// `dir`. `shown` names the file in messages.
fn write_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &str,
    contents: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let (temp_name, fd) =
        create_temp(dir).with_context(|| format!("could not create a temporary file beside {shown}"))?;
    let written = (|| -> std::io::Result<()> {
        let mut file = File::from(fd);
        file.write_all(contents)?;
        if let Some((uid, gid)) = owner {
            let st = rustix::fs::fstat(&file)?;
            if st.st_uid != uid || st.st_gid != gid {
                rustix::fs::fchown(
                    &file,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                )?;
            }
        }
        // After chown: changing the owner may clear set-id bits, so the mode is set last.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))?;
        file.sync_all()?;
        rustix::fs::renameat(dir, temp_name.as_str(), dir, name)?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = rustix::fs::unlinkat(dir, temp_name.as_str(), AtFlags::empty());
        return Err(e).with_context(|| format!("could not write the new contents of {shown}"));
    }
    rustix::fs::fsync(dir).with_context(|| format!("could not flush the directory of {shown} to disk"))
}

/// Create `.edgeprep-tmp-XXXXXX` in `dir`, exclusively and 0600 from the start.
fn create_temp(dir: BorrowedFd<'_>) -> std::io::Result<(String, OwnedFd)> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut last = Errno::EXIST;
    for attempt in 0..64u64 {
        let name = temp_name(attempt);
        match rustix::fs::openat(dir, name.as_str(), flags, Mode::from_raw_mode(TEMP_MODE)) {
            Ok(fd) => return Ok((name, fd)),
            Err(Errno::EXIST) => last = Errno::EXIST,
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.into())
}

/// `.edgeprep-tmp-` and six random letters or digits.
fn temp_name(attempt: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    // RandomState is seeded from the OS; hashing the attempt number gives a fresh value per
    // try without a random-number dependency.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(attempt);
    let mut bits = hasher.finish();
    let mut name = String::from(TEMP_PREFIX);
    for _ in 0..6 {
        name.push(char::from(ALPHABET[(bits % ALPHABET.len() as u64) as usize]));
        bits /= ALPHABET.len() as u64;
    }
    name
}

/// `path`'s parent and file name (a device or host path with both).
fn split(path: &Path) -> Result<(PathBuf, &OsStr)> {
    let name = path
        .file_name()
        .filter(|n| n.as_bytes() != b"..")
        .ok_or_else(|| anyhow!("{} has no file name", path.display()))?;
    Ok((parent_of(path)?.to_path_buf(), name))
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
    use std::os::unix::fs::MetadataExt;

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
    fn temp_files_are_named_for_edgeprep_and_created_0600_before_any_write() {
        let dir = tempfile::tempdir().unwrap();
        let fd = rustix::fs::open(dir.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let (name, temp) = create_temp(fd.as_fd()).unwrap();
        assert!(name.starts_with(TEMP_PREFIX) && name.len() == TEMP_PREFIX.len() + 6, "{name}");
        let st = rustix::fs::fstat(&temp).unwrap();
        assert_eq!(st.st_mode & 0o7777, 0o600);
        assert_eq!(st.st_size, 0);
        let (other, _) = create_temp(fd.as_fd()).unwrap();
        assert_ne!(name, other);
    }

    #[test]
    fn remove_file_of_a_missing_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        remove_file(&dir.path().join("nope")).unwrap();
    }
}
