//! The `--root` prefix: every device path is read and written under it, so tests and offline
//! images never touch this machine's real /etc or /var.

use std::path::{Path, PathBuf};

/// The directory that stands for the device's `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRoot {
    base: PathBuf,
}

impl DeviceRoot {
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Self { base: base.into() }
    }

    /// The real device (`/`): only then are external commands run by default.
    pub fn is_host(&self) -> bool {
        self.base == Path::new("/")
    }

    pub fn base(&self) -> &Path {
        &self.base
    }

    /// Where the device path `device_path` (absolute, like `/etc/aziot/config.toml`) lives here.
    pub fn path(&self, device_path: impl AsRef<Path>) -> PathBuf {
        let device_path = device_path.as_ref();
        let relative = device_path.strip_prefix("/").unwrap_or(device_path);
        self.base.join(relative)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_paths_land_under_the_root() {
        let root = DeviceRoot::new("/tmp/dev");
        assert_eq!(root.path("/etc/aziot/config.toml"), PathBuf::from("/tmp/dev/etc/aziot/config.toml"));
        assert!(!root.is_host());
        assert!(DeviceRoot::new("/").is_host());
        assert_eq!(DeviceRoot::new("/").path("/etc/x"), PathBuf::from("/etc/x"));
    }
}
