//! Resolving a device path inside the root the way a chroot would: absolute symlinks start
//! again at the root, `..` stops at it, and nothing ever lands outside it.
//!
//! The kernel does this itself with `openat2(RESOLVE_IN_ROOT)` (Linux 5.6). Containers with an
//! older seccomp profile refuse that syscall (ENOSYS or EPERM), so [`walk`] does the same in
//! user space: one component at a time with `O_NOFOLLOW` relative to the descriptor of the
//! directory reached so far, reading each symlink itself. Either way every step is relative to
//! a descriptor already held, so a symlink swapped in between two steps cannot redirect it.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// How many symlinks one resolution may pass through, as the kernel allows (`MAXSYMLINKS`).
pub const MAX_LINK_HOPS: u32 = 40;

/// Whether symlinks may be followed at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Followed, resolved inside the root (the final component too unless `O_NOFOLLOW`).
    InRoot,
    /// Refused at every component, the final one included (ELOOP): for directories another
    /// account owns.
    Refused,
}

/// Open `device_path` relative to `root` with chroot semantics: `openat2(RESOLVE_IN_ROOT)`,
/// or [`walk`] when the kernel or a seccomp filter refuses openat2.
pub fn open(
    root: BorrowedFd<'_>,
    device_path: &Path,
    oflags: OFlags,
    mode: Mode,
    links: Links,
) -> rustix::io::Result<OwnedFd> {
    let mut resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    if links == Links::Refused {
        resolve |= ResolveFlags::NO_SYMLINKS;
    }
    let relative = relative(device_path);
    // EAGAIN: a rename elsewhere raced the lookup; the kernel asks to try again.
    for _ in 0..8 {
        match rustix::fs::openat2(root, &relative, oflags | OFlags::CLOEXEC, mode, resolve) {
            Err(Errno::AGAIN) => continue,
            Err(Errno::NOSYS | Errno::PERM) => return walk(root, device_path, oflags, mode, links),
            other => return other,
        }
    }
    Err(Errno::AGAIN)
}

/// Open `device_path` relative to `root` by walking it component by component with
/// `O_NOFOLLOW`, resolving symlinks with chroot semantics (at most [`MAX_LINK_HOPS`]).
/// The fallback of [`open`], public so it can be tested on kernels that have openat2.
pub fn walk(
    root: BorrowedFd<'_>,
    device_path: &Path,
    oflags: OFlags,
    mode: Mode,
    links: Links,
) -> rustix::io::Result<OwnedFd> {
    // As open(2): O_CREAT|O_EXCL does not follow a final symlink (it fails with EEXIST).
    let exclusive = oflags.contains(OFlags::CREATE | OFlags::EXCL);
    let follow_last = !oflags.contains(OFlags::NOFOLLOW) && !exclusive;
    match resolve_walk(root, device_path, links, follow_last, Some((oflags, mode)))? {
        (Some(fd), _) => Ok(fd),
        (None, _) => Err(Errno::NOENT),
    }
}

/// The device path `device_path` stands for once every symlink in it is resolved inside the
/// root (`/etc/aziot/config.toml` → `/etc/aziot/config.toml.real`). The final components
/// may be missing; they are then kept as written (with `..` applied). Errors as [`walk`].
pub fn canonical(root: BorrowedFd<'_>, device_path: &Path, links: Links) -> rustix::io::Result<PathBuf> {
    let (_, names) = resolve_walk(root, device_path, links, true, None)?;
    let mut path = PathBuf::from("/");
    path.extend(names);
    Ok(path)
}

/// The walk itself. Returns the opened descriptor (when `open` is given and the path exists)
/// and the resolved components below the root.
fn resolve_walk(
    root: BorrowedFd<'_>,
    device_path: &Path,
    links: Links,
    follow_last: bool,
    open: Option<(OFlags, Mode)>,
) -> rustix::io::Result<(Option<OwnedFd>, Vec<OsString>)> {
    let mut queue = components(device_path);
    // Descriptors (O_PATH) of the directories below the root reached so far, and their names.
    let mut dirs: Vec<OwnedFd> = Vec::new();
    let mut names: Vec<OsString> = Vec::new();
    let mut hops = 0u32;
    let mut missing = false;
    while let Some(name) = queue.pop_front() {
        if name == ".." {
            // As in a chroot: `..` of the root is the root.
            if names.len() > dirs.len() {
                names.pop();
            } else {
                dirs.pop();
                names.pop();
            }
            missing = names.len() > dirs.len();
            continue;
        }
        if missing {
            names.push(name);
            continue;
        }
        let last = queue.is_empty();
        let current = dirs.last().map_or(root, |d| d.as_fd());
        let probe = match rustix::fs::openat(
            current,
            name.as_os_str(),
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if open.is_none() => {
                missing = true;
                names.push(name);
                continue;
            }
            Err(Errno::NOENT) if last => match open {
                // Created by name with O_NOFOLLOW|O_EXCL semantics left to the caller's flags.
                Some((oflags, mode)) if oflags.contains(OFlags::CREATE) => {
                    let fd = rustix::fs::openat(
                        current,
                        name.as_os_str(),
                        oflags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        mode,
                    )?;
                    names.push(name);
                    return Ok((Some(fd), names));
                }
                _ => return Err(Errno::NOENT),
            },
            Err(e) => return Err(e),
        };
        let kind = FileType::from_raw_mode(rustix::fs::fstat(&probe)?.st_mode);
        if kind == FileType::Symlink && (!last || follow_last) {
            if links == Links::Refused {
                return Err(Errno::LOOP);
            }
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Err(Errno::LOOP);
            }
            let target = rustix::fs::readlinkat(&probe, "", Vec::new())?;
            let target = PathBuf::from(OsString::from_vec(target.into_bytes()));
            if target.is_absolute() {
                dirs.clear();
                names.clear();
            }
            for component in components(&target).into_iter().rev() {
                queue.push_front(component);
            }
            continue;
        }
        if !last {
            if kind != FileType::Directory {
                return Err(Errno::NOTDIR);
            }
            dirs.push(probe);
            names.push(name);
            continue;
        }
        let fd = match open {
            // Opened again by name with O_NOFOLLOW: if a symlink was swapped in since the
            // probe, this fails (ELOOP) instead of following it.
            Some((oflags, mode)) => Some(rustix::fs::openat(
                current,
                name.as_os_str(),
                oflags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                mode,
            )?),
            None => None,
        };
        names.push(name);
        return Ok((fd, names));
    }
    // The path ends at a directory reached by `..` or is the root itself.
    let fd = match open {
        Some((oflags, mode)) if !missing => {
            let current = dirs.last().map_or(root, |d| d.as_fd());
            Some(rustix::fs::openat(current, ".", oflags | OFlags::CLOEXEC, mode)?)
        }
        _ => None,
    };
    Ok((fd, names))
}

/// The normal components of `path`, with `..` kept (it must be resolved against the links
/// walked so far, not lexically) and `.` and the leading `/` dropped.
fn components(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// `device_path` without its leading `/`, `.` for the root itself.
fn relative(device_path: &Path) -> PathBuf {
    let bytes = device_path.as_os_str().as_bytes();
    let start = bytes.iter().position(|&b| b != b'/').unwrap_or(bytes.len());
    if start == bytes.len() {
        PathBuf::from(".")
    } else {
        PathBuf::from(std::ffi::OsStr::from_bytes(&bytes[start..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root_fd(dir: &Path) -> OwnedFd {
        rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    #[test]
    fn the_walk_resolves_absolute_and_relative_links_in_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc/aziot")).unwrap();
        std::fs::write(dir.path().join("etc/aziot/real.toml"), "x").unwrap();
        symlink("/etc/aziot/real.toml", dir.path().join("etc/aziot/abs.toml")).unwrap();
        symlink("../../../etc/./aziot/abs.toml", dir.path().join("etc/aziot/rel.toml")).unwrap();
        let root = root_fd(dir.path());
        let fd = walk(
            root.as_fd(),
            Path::new("/etc/aziot/rel.toml"),
            OFlags::RDONLY,
            Mode::empty(),
            Links::InRoot,
        )
        .unwrap();
        let real = std::fs::metadata(dir.path().join("etc/aziot/real.toml")).unwrap();
        assert_eq!(rustix::fs::fstat(&fd).unwrap().st_ino, std::os::unix::fs::MetadataExt::ino(&real));
        assert_eq!(
            canonical(root.as_fd(), Path::new("/etc/aziot/rel.toml"), Links::InRoot).unwrap(),
            PathBuf::from("/etc/aziot/real.toml")
        );
        // O_NOFOLLOW on the final component opens the link itself (with O_PATH).
        let link = walk(
            root.as_fd(),
            Path::new("/etc/aziot/abs.toml"),
            OFlags::PATH | OFlags::NOFOLLOW,
            Mode::empty(),
            Links::InRoot,
        )
        .unwrap();
        assert_eq!(FileType::from_raw_mode(rustix::fs::fstat(&link).unwrap().st_mode), FileType::Symlink);
        assert_eq!(
            walk(
                root.as_fd(),
                Path::new("/etc/aziot/abs.toml"),
                OFlags::RDONLY,
                Mode::empty(),
                Links::Refused
            )
            .unwrap_err(),
            Errno::LOOP
        );
    }

    #[test]
    fn canonical_keeps_missing_components_and_clamps_dotdot_at_the_root() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        symlink("/../../opt", dir.path().join("etc/aziot")).unwrap();
        let root = root_fd(dir.path());
        assert_eq!(
            canonical(root.as_fd(), Path::new("/etc/aziot/new/config.toml"), Links::InRoot).unwrap(),
            PathBuf::from("/opt/new/config.toml")
        );
        assert_eq!(canonical(root.as_fd(), Path::new("/../.."), Links::InRoot).unwrap(), PathBuf::from("/"));
    }

    #[test]
    fn too_many_link_hops_is_eloop() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..=MAX_LINK_HOPS {
            symlink(format!("l{}", i + 1), dir.path().join(format!("l{i}"))).unwrap();
        }
        std::fs::write(dir.path().join(format!("l{}", MAX_LINK_HOPS + 1)), "end").unwrap();
        let root = root_fd(dir.path());
        assert_eq!(
            walk(root.as_fd(), Path::new("/l0"), OFlags::RDONLY, Mode::empty(), Links::InRoot).unwrap_err(),
            Errno::LOOP
        );
        assert!(walk(root.as_fd(), Path::new("/l2"), OFlags::RDONLY, Mode::empty(), Links::InRoot).is_ok());
    }
}
