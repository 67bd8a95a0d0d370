//! The `--root` prefix and every access to a device path under it.
//!
//! Every device path is read and written under one root, so tests and offline images never
//! touch this machine's real /etc or /var. The tree under the root is hostile: on a device
//! aziotcs, aziotks, syslog or any user own directories, and an offline image holds absolute
//! symlinks meant for that image. So a device path is never joined to the root and handed to
//! `std::fs`: it is resolved inside the root like a chroot would ([`resolve`]), and under the
//! directories service accounts own no symlink is followed at all.

pub mod resolve;

use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::fs::{FileType, OFlags};

use crate::error::input_error;
use crate::input_file::{self, ReadError};
use crate::paths;
pub use resolve::Links;

/// Directories owned by IoT Edge's service accounts. A symlink inside them, or at the
/// directories they sit in (see [`SERVICE_ANCHORS`]), is refused: whoever owns the directory
/// could point it at `/etc`.
pub const SERVICE_DIRS: &[&str] =
    &[paths::CERTD_CERTS_DIR, paths::KEYD_KEYS_DIR, paths::CERTS_DIR, paths::SECRETS_DIR];

/// Where the service accounts' territory starts, with the directory above it. Links are
/// refused from the anchor down; the directories above (`/var`, `/var/lib`) belong to root and
/// are resolved inside the root like any path, because on read-only-rootfs images `/var` is
/// itself a link (`/var -> /data/var`) and refusing it would refuse every plan there.
const SERVICE_ANCHORS: &[(&str, &str)] = &[("/var/aziot", "/var"), ("/var/lib/aziot", "/var/lib")];

/// The directory that stands for the device's `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRoot {
    base: PathBuf,
    /// Resolve with the user-space walk even where openat2 works (tests of the fallback).
    walk_only: bool,
}

/// Type, mode and owner of a device file, from `fstat` on a descriptor resolved in the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: FileType,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub len: u64,
    pub dev: u64,
    pub ino: u64,
}

impl Meta {
    pub fn of(fd: impl rustix::fd::AsFd) -> io::Result<Self> {
        let st = rustix::fs::fstat(fd)?;
        Ok(Meta {
            kind: FileType::from_raw_mode(st.st_mode),
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            len: u64::try_from(st.st_size).unwrap_or(0),
            dev: st.st_dev,
            ino: st.st_ino,
        })
    }

    pub fn is_file(&self) -> bool {
        self.kind == FileType::RegularFile
    }

    pub fn is_dir(&self) -> bool {
        self.kind == FileType::Directory
    }

    pub fn is_symlink(&self) -> bool {
        self.kind == FileType::Symlink
    }
}

impl DeviceRoot {
    /// The root at `base`, canonicalized so that `/` spelled any other way (`/etc/..`, `//`,
    /// a symlink to `/`) is recognised as the live device. A base that does not exist is
    /// kept as given (every access under it then fails with "not found").
    pub fn new(base: impl Into<PathBuf>) -> Self {
        let base = base.into();
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        Self { base, walk_only: false }
    }

    /// The root at `base` exactly as given, for tests that need a path that does not exist.
    pub fn unchecked(base: impl Into<PathBuf>) -> Self {
        Self { base: base.into(), walk_only: false }
    }

    /// Resolve paths with the user-space walk instead of openat2, as on a kernel or in a
    /// container without openat2: lets tests cover the fallback on any machine.
    pub fn resolving_by_walk(mut self) -> Self {
        self.walk_only = true;
        self
    }

    /// The real device (`/`): only then are external commands run by default.
    pub fn is_host(&self) -> bool {
        self.base == Path::new("/")
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// The host path the device path `device_path` would have without any symlinks, for
    /// messages. Never open it: use the methods below, which resolve inside the root.
    pub fn path(&self, device_path: impl AsRef<Path>) -> PathBuf {
        let device_path = device_path.as_ref();
        let relative = device_path.strip_prefix("/").unwrap_or(device_path);
        self.base.join(relative)
    }

    /// The host path of edgeprep's own state `rest` (`edgeprep.log`) in the system directory
    /// `dir` (`/var/log`), with `dir` resolved inside the root first: on an image where `/var`
    /// links to `/data/var`, the plain join would not exist on the host. Only `dir`, which
    /// root owns, is resolved; what edgeprep opens below it keeps its own checks (no
    /// following a final link). If `dir` cannot be resolved, the plain join is returned and
    /// the caller's open reports the problem.
    pub fn own_state_path(&self, dir: &str, rest: &str) -> PathBuf {
        let resolved = self.canonical(dir).unwrap_or_else(|_| PathBuf::from(dir));
        self.path(resolved.join(rest))
    }

    /// [`Self::own_state_path`] for a directory edgeprep keeps its own state in (backups, the
    /// confirmation record), checked: below the resolved `dir`, every component of `rest` that
    /// exists must be a real directory (not a symlink) owned by root or this user and writable
    /// by its owner alone. Otherwise a link planted in an image (`var/lib/edgeprep ->
    /// /var/lib/edgeprep`) would send `--root IMAGE`'s backups to the host's, or let another
    /// account swap the directory under us. Components that do not exist yet are fine: edgeprep
    /// creates them.
    pub fn own_state_dir(&self, dir: &str, rest: &str) -> anyhow::Result<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        let full = self.own_state_path(dir, rest);
        let euid = rustix::process::geteuid().as_raw();
        let mut shown = PathBuf::from(dir);
        let mut path = self.own_state_path(dir, "");
        for part in Path::new(rest).components() {
            shown.push(part);
            path.push(part);
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("could not inspect {}", path.display()))
                    );
                }
            };
            let owner_ok = meta.uid() == euid || meta.uid() == 0;
            if meta.file_type().is_symlink() || !meta.is_dir() || !owner_ok || meta.mode() & 0o022 != 0 {
                return Err(input_error(format!(
                    "{} ({}) must be a directory (not a symlink) owned by root or uid {euid} and writable by its owner alone; nothing was changed. Remove it and try again",
                    shown.display(),
                    path.display()
                )));
            }
        }
        Ok(full)
    }

    /// Whether links are followed on the way to `device_path` (see [`SERVICE_DIRS`]).
    pub fn links_for(device_path: &Path) -> Links {
        if SERVICE_DIRS.iter().any(|dir| device_path.starts_with(dir)) {
            Links::Refused
        } else {
            Links::InRoot
        }
    }

    /// A descriptor of the root directory itself.
    pub fn root_fd(&self) -> io::Result<OwnedFd> {
        Ok(rustix::fs::open(
            &self.base,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )?)
    }

    /// Open `device_path` inside the root with `oflags` (add `O_NOFOLLOW` to open a final
    /// symlink itself, with `O_PATH`).
    pub fn open(&self, device_path: impl AsRef<Path>, oflags: OFlags) -> io::Result<OwnedFd> {
        self.open_with_mode(device_path, oflags, rustix::fs::Mode::empty())
    }

    /// [`Self::open`] with the mode a file created by `O_CREAT` gets (before the umask): for
    /// edgeprep's own files under the root (the lock, the audit log), so a link planted at
    /// their path cannot send an append or a create to the host.
    pub fn open_with_mode(
        &self,
        device_path: impl AsRef<Path>,
        oflags: OFlags,
        mode: rustix::fs::Mode,
    ) -> io::Result<OwnedFd> {
        let root = self.root_fd()?;
        let root = rustix::fd::AsFd::as_fd(&root);
        let (device_path, links) = Self::confined(root, device_path.as_ref())?;
        let fd = if self.walk_only {
            resolve::walk(root, &device_path, oflags, mode, links)?
        } else {
            resolve::open(root, &device_path, oflags, mode, links)?
        };
        Ok(fd)
    }

    /// The path to resolve for `device_path`, and how. Under a service directory, the part
    /// above its anchor is resolved first with links followed in the root; what is returned
    /// is that link-free path with the rest appended, to be resolved with links refused. If a
    /// link is swapped into the resolved part meanwhile, the refusing resolution hits it and
    /// fails (ELOOP): a race can only refuse, never redirect.
    fn confined(root: rustix::fd::BorrowedFd<'_>, device_path: &Path) -> io::Result<(PathBuf, Links)> {
        if Self::links_for(device_path) == Links::InRoot {
            return Ok((device_path.to_path_buf(), Links::InRoot));
        }
        let Some((_, above)) = SERVICE_ANCHORS.iter().find(|(anchor, _)| device_path.starts_with(anchor))
        else {
            return Ok((device_path.to_path_buf(), Links::Refused));
        };
        let rest =
            device_path.strip_prefix(above).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let resolved = resolve::canonical(root, Path::new(above), Links::InRoot)?;
        Ok((resolved.join(rest), Links::Refused))
    }

    /// Like [`Self::open`], `None` when the path does not exist.
    pub fn open_optional(
        &self,
        device_path: impl AsRef<Path>,
        oflags: OFlags,
    ) -> io::Result<Option<OwnedFd>> {
        match self.open(device_path, oflags) {
            Ok(fd) => Ok(Some(fd)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Read a device file with [`input_file`]'s checks (a regular file of at most `limit`
    /// bytes; a FIFO cannot block the open), with its mode and owner from the same descriptor.
    /// `Ok(None)` when it does not exist.
    pub fn read(
        &self,
        device_path: impl AsRef<Path>,
        limit: u64,
    ) -> Result<Option<(Vec<u8>, Meta)>, ReadError> {
        let oflags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
        let Some(fd) = self.open_optional(device_path, oflags).map_err(ReadError::Io)? else {
            return Ok(None);
        };
        let meta = Meta::of(&fd)?;
        let bytes = input_file::read_opened(File::from(fd), limit)?;
        Ok(Some((bytes, meta)))
    }

    /// Type, mode and owner of what `device_path` resolves to (links followed in the root).
    pub fn metadata(&self, device_path: impl AsRef<Path>) -> io::Result<Option<Meta>> {
        self.open_optional(device_path, OFlags::PATH)?.map(Meta::of).transpose()
    }

    /// Like [`Self::metadata`], but a final symlink is described itself.
    pub fn symlink_metadata(&self, device_path: impl AsRef<Path>) -> io::Result<Option<Meta>> {
        self.open_optional(device_path, OFlags::PATH | OFlags::NOFOLLOW)?.map(Meta::of).transpose()
    }

    /// The text of the symlink at `device_path`, `None` when it is not a symlink or missing.
    pub fn read_link(&self, device_path: impl AsRef<Path>) -> io::Result<Option<PathBuf>> {
        let Some(fd) = self.open_optional(device_path, OFlags::PATH | OFlags::NOFOLLOW)? else {
            return Ok(None);
        };
        if !Meta::of(&fd)?.is_symlink() {
            return Ok(None);
        }
        let target = rustix::fs::readlinkat(&fd, "", Vec::new())?;
        Ok(Some(PathBuf::from(std::ffi::OsStr::from_bytes(target.as_bytes()))))
    }

    /// The device path `device_path` names once its symlinks are resolved inside the root
    /// (the final components may not exist yet).
    pub fn canonical(&self, device_path: impl AsRef<Path>) -> io::Result<PathBuf> {
        let root = self.root_fd()?;
        let root = rustix::fd::AsFd::as_fd(&root);
        let (device_path, links) = Self::confined(root, device_path.as_ref())?;
        Ok(resolve::canonical(root, &device_path, links)?)
    }

    /// Entries of the directory `device_path` with their types (as the directory reports
    /// them, links not followed), sorted by name; `None` when it does not exist.
    pub fn list_dir(&self, device_path: impl AsRef<Path>) -> io::Result<Option<Vec<(String, FileType)>>> {
        let Some(fd) = self.open_optional(device_path, OFlags::RDONLY | OFlags::DIRECTORY)? else {
            return Ok(None);
        };
        let mut entries = Vec::new();
        for entry in rustix::fs::Dir::read_from(&fd)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let mut kind = entry.file_type();
            if kind == FileType::Unknown {
                let st = rustix::fs::statat(&fd, entry.file_name(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
                kind = FileType::from_raw_mode(st.st_mode);
            }
            entries.push((String::from_utf8_lossy(name).into_owned(), kind));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Some(entries))
    }

    /// The input error for a device path that could not be resolved or read: names the
    /// device path, says why and what to do.
    pub fn refusal(&self, device_path: &str, err: &io::Error) -> anyhow::Error {
        input_error(self.describe(device_path, err))
    }

    /// What [`Self::refusal`] says, for errors that are not the input's fault (a write that
    /// failed midway).
    pub fn describe(&self, device_path: &str, err: &io::Error) -> String {
        let host = self.path(device_path);
        let why = match (
            err.raw_os_error().map(rustix::io::Errno::from_raw_os_error),
            Self::links_for(Path::new(device_path)),
        ) {
            (Some(rustix::io::Errno::LOOP), Links::Refused) => format!(
                "is a symbolic link or is reached through one; its directory belongs to an IoT Edge service account, \
                 so edgeprep never follows links there. Replace the link with the real directory or file (see `ls -l {}`) and re-run",
                host.display()
            ),
            (Some(rustix::io::Errno::LOOP), Links::InRoot) => format!(
                "passes through more than {} symbolic links (a loop?); fix the links under {}",
                resolve::MAX_LINK_HOPS,
                self.base.display()
            ),
            (Some(rustix::io::Errno::NOTDIR), _) => {
                "has a component that is not a directory; check the directories on the way to it".to_string()
            }
            _ => ReadError::Io(io::Error::new(err.kind(), err.to_string())).to_string(),
        };
        format!("{device_path} (under {}): {why}", self.base.display())
    }

    /// A plain error (exit 1) saying what [`Self::describe`] says.
    pub fn failure(&self, device_path: &str, err: &io::Error) -> anyhow::Error {
        anyhow::anyhow!(self.describe(device_path, err))
    }

    /// The input error for a device file [`Self::read`] refused.
    pub fn read_refusal(&self, device_path: &str, err: &ReadError) -> anyhow::Error {
        match err {
            ReadError::Io(io) => self.refusal(device_path, io),
            other => input_error(format!("{device_path} (under {}): {other}", self.base.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_paths_land_under_the_root() {
        let root = DeviceRoot::unchecked("/tmp/dev");
        assert_eq!(root.path("/etc/aziot/config.toml"), PathBuf::from("/tmp/dev/etc/aziot/config.toml"));
        assert!(!root.is_host());
        assert!(DeviceRoot::new("/").is_host());
        assert_eq!(DeviceRoot::new("/").path("/etc/x"), PathBuf::from("/etc/x"));
    }

    #[test]
    fn the_host_root_spelled_another_way_is_the_host() {
        assert!(DeviceRoot::new("/etc/..").is_host());
        assert!(DeviceRoot::new("//").is_host());
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("slash");
        std::os::unix::fs::symlink("/", &link).unwrap();
        assert!(DeviceRoot::new(&link).is_host());
        assert!(!DeviceRoot::new(dir.path()).is_host());
        assert!(!DeviceRoot::unchecked(&link).is_host());
    }

    #[test]
    fn service_dirs_refuse_links_and_others_follow_them() {
        assert_eq!(DeviceRoot::links_for(Path::new("/var/aziot/certs/edge-ca.pem")), Links::Refused);
        assert_eq!(DeviceRoot::links_for(Path::new(paths::CERTD_CERTS_DIR)), Links::Refused);
        assert_eq!(DeviceRoot::links_for(Path::new("/var/aziot")), Links::InRoot);
        assert_eq!(DeviceRoot::links_for(Path::new("/etc/aziot/config.toml")), Links::InRoot);
        assert_eq!(DeviceRoot::links_for(Path::new("/var/aziot/certsx")), Links::InRoot);
    }

    /// A read-only-rootfs image: `/var` is a link to writable storage inside the root.
    fn image_with_var_link() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/var/aziot/certs")).unwrap();
        std::fs::create_dir_all(dir.path().join("data/var/lib/aziot/keyd/keys")).unwrap();
        std::fs::write(dir.path().join("data/var/aziot/certs/edge-ca.pem"), "cert").unwrap();
        std::os::unix::fs::symlink("/data/var", dir.path().join("var")).unwrap();
        dir
    }

    #[test]
    fn a_linked_var_above_the_service_dirs_is_followed_inside_the_root() {
        let dir = image_with_var_link();
        for root in [DeviceRoot::new(dir.path()), DeviceRoot::new(dir.path()).resolving_by_walk()] {
            let read = root.read("/var/aziot/certs/edge-ca.pem", 1024).unwrap().map(|(bytes, _)| bytes);
            assert_eq!(read.as_deref(), Some(&b"cert"[..]));
            assert_eq!(
                root.canonical(paths::KEYD_KEYS_DIR).unwrap(),
                PathBuf::from("/data/var/lib/aziot/keyd/keys")
            );
            assert!(root.list_dir(paths::KEYD_KEYS_DIR).unwrap().is_some());
        }
    }

    #[test]
    fn a_link_at_or_below_a_service_anchor_is_still_refused() {
        let dir = image_with_var_link();
        std::fs::create_dir_all(dir.path().join("data/var/lib/aziot/certd")).unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("data/var/lib/aziot/certd/certs")).unwrap();
        std::fs::create_dir_all(dir.path().join("data/elsewhere/secrets")).unwrap();
        std::fs::rename(dir.path().join("data/var/aziot"), dir.path().join("data/elsewhere/aziot")).unwrap();
        std::os::unix::fs::symlink("/data/elsewhere/aziot", dir.path().join("data/var/aziot")).unwrap();
        for root in [DeviceRoot::new(dir.path()), DeviceRoot::new(dir.path()).resolving_by_walk()] {
            let err = root.list_dir(paths::CERTD_CERTS_DIR).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(rustix::io::Errno::LOOP.raw_os_error()), "{err}");
            assert!(root.describe(paths::CERTD_CERTS_DIR, &err).contains("service account"));
            // The anchor itself is a link: refused too.
            let err = root.read("/var/aziot/certs/edge-ca.pem", 1024).unwrap_err();
            assert!(
                matches!(&err, ReadError::Io(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())),
                "{err}"
            );
            assert_eq!(
                root.canonical(paths::SECRETS_DIR).unwrap_err().raw_os_error(),
                Some(rustix::io::Errno::LOOP.raw_os_error())
            );
        }
    }
}
