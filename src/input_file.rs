//! Reading a file that someone else controls (an answers file, a password or certificate file,
//! a device's config.toml): only a regular file, only up to a size limit.
//!
//! edgeprep runs as root, and the paths it reads are given by a technician or found on a device
//! where other accounts own directories. A FIFO there would hang edgeprep forever, `/dev/zero`
//! would exhaust memory, and a character device could have side effects on open. So a file is
//! opened non-blocking, checked with `fstat` on the open descriptor (no race with a rename), and
//! read through a bounded reader.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// config.toml, daemon.json, systemd drop-ins and the like: real ones are a few kilobytes.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;
/// An answers file.
pub const MAX_ANSWERS_BYTES: u64 = 1024 * 1024;
/// A certificate chain, a private key, a trust bundle.
pub const MAX_CERT_BYTES: u64 = 1024 * 1024;
/// A password file.
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Why a file could not be read. The `Display` text follows the file's name in a message
/// ("/etc/aziot/config.toml: is a FIFO, not a regular file; ...").
#[derive(Debug)]
pub enum ReadError {
    /// No such file.
    NotFound,
    /// The path names something other than a regular file (`what`: "a FIFO", "a directory"...).
    NotRegular { what: &'static str },
    /// The file is larger than the limit for its kind.
    TooLarge { size: u64, limit: u64 },
    /// Any other I/O error (permission denied, ...).
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("no such file; check the path"),
            ReadError::NotRegular { what } => {
                write!(f, "is {what}, not a regular file; give the path of a regular file")
            }
            ReadError::TooLarge { size, limit } => write!(
                f,
                "is {size} bytes, more than the {limit} bytes edgeprep accepts for such a file; check that it is the right file"
            ),
            ReadError::Io(e) if e.kind() == ErrorKind::PermissionDenied => {
                f.write_str("permission denied; run edgeprep with sudo")
            }
            ReadError::Io(e) => write!(f, "cannot be read ({e})"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == ErrorKind::NotFound { ReadError::NotFound } else { ReadError::Io(e) }
    }
}

/// Open `path` for reading without blocking on a FIFO and without side effects of a blocking
/// open. The descriptor is switched back to blocking mode by [`read_opened`] once it is known
/// to be a regular file.
pub fn open_nonblocking(path: &Path) -> Result<File, ReadError> {
    OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32)
        .open(path)
        .map_err(ReadError::from)
}

/// Read all of `path`, which must be a regular file of at most `limit` bytes.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_opened(open_nonblocking(path)?, limit)
}

/// Like [`read_regular`], but a missing file is `Ok(None)`.
pub fn read_regular_optional(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
    match read_regular(path, limit) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(ReadError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Check an already open file (from [`open_nonblocking`], or a descriptor resolved inside a
/// device root) and read it: a regular file of at most `limit` bytes.
pub fn read_opened(file: File, limit: u64) -> Result<Vec<u8>, ReadError> {
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO"
        } else if kind.is_char_device() {
            "a character device"
        } else if kind.is_block_device() {
            "a block device"
        } else if kind.is_socket() {
            "a socket"
        } else {
            "a special file"
        };
        return Err(ReadError::NotRegular { what });
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge { size: meta.len(), limit });
    }
    let flags = rustix::fs::fcntl_getfl(&file).map_err(|e| ReadError::Io(e.into()))?;
    rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)
        .map_err(|e| ReadError::Io(e.into()))?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The size can grow between fstat and read (a file being appended to): read one byte more
    // than the limit to notice.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { size: bytes.len() as u64, limit });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello").unwrap();
        assert_eq!(read_regular(&path, 10).unwrap(), b"hello");
    }

    #[test]
    fn a_missing_file_is_not_found_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope");
        assert!(matches!(read_regular(&path, 10), Err(ReadError::NotFound)));
        assert!(read_regular_optional(&path, 10).unwrap().is_none());
    }

    #[test]
    fn refuses_a_file_over_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'x'; 11]).unwrap();
        let err = read_regular(&path, 10).unwrap_err();
        assert!(matches!(err, ReadError::TooLarge { size: 11, limit: 10 }), "{err:?}");
        assert!(err.to_string().contains("11 bytes"));
    }

    #[test]
    fn refuses_a_fifo_without_hanging() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &path, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        let err = read_regular(&path, 10).unwrap_err();
        assert!(matches!(err, ReadError::NotRegular { what: "a FIFO" }), "{err:?}");
    }

    #[test]
    fn refuses_a_character_device_and_a_directory() {
        let err = read_regular(Path::new("/dev/zero"), 10).unwrap_err();
        assert!(matches!(err, ReadError::NotRegular { what: "a character device" }), "{err:?}");
        let dir = tempfile::tempdir().unwrap();
        let err = read_regular(dir.path(), 10).unwrap_err();
        assert!(matches!(err, ReadError::NotRegular { what: "a directory" }), "{err:?}");
    }
}
