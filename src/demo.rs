//! The built-in demo device: a realistic device tree compiled into the binary, so
//! `edgeprep --demo` works anywhere without IoT Edge installed.

use std::path::Path;

use anyhow::{Context, Result};

/// Where the demo's answers file sits inside the demo tree.
pub const ANSWERS_PATH: &str = "/answers.toml";

/// (device path, contents) of every demo file.
const FILES: &[(&str, &str)] = &[
    ("/etc/aziot/config.toml", include_str!("../assets/demo/etc/aziot/config.toml")),
    ("/etc/docker/daemon.json", include_str!("../assets/demo/etc/docker/daemon.json")),
    ("/etc/hostname", include_str!("../assets/demo/etc/hostname")),
    ("/etc/passwd", include_str!("../assets/demo/etc/passwd")),
    ("/etc/group", include_str!("../assets/demo/etc/group")),
    (ANSWERS_PATH, include_str!("../assets/demo/answers.toml")),
];

/// A fresh temporary copy of the demo device; removed when the returned directory drops.
pub fn install() -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix("edgeprep-demo-")
        .tempdir()
        .context("creating a temporary directory")?;
    write_tree(dir.path())?;
    Ok(dir)
}

/// Write the demo tree under `base` (also used by tests).
pub fn write_tree(base: &Path) -> Result<()> {
    for (device_path, contents) in FILES {
        let path = base.join(device_path.trim_start_matches('/'));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
