//! Build-time facts the test suite needs, as cfgs, so a test that cannot run here shows up as
//! IGNORED with its reason instead of failing or passing without checking anything:
//!
//! - `shared_fixtures`: IoT Edge's own template and config pairs are in
//!   `../shared/fixtures/iotedge-1.4.43` (CI has them; a bare clone does not).
//! - `running_as_root`: the build runs as root, so tests may chown files (CI runs as root).
//! - `has_dockerd`: Debian's `dockerd` is installed, so tests/dockerd.rs can start a private one.
//! - `has_static_busybox`: /bin/busybox is statically linked (Debian's `busybox-static`), so
//!   tests/dockerd.rs can make a one-file image without a registry.
//! - `has_openssl`: the openssl CLI is installed, which tests/cert_openssl.rs uses to make
//!   and check certificates.
//! - `journald_running`: a journald socket exists, so a container may use the journald log driver.
//! - `has_ansible`: `ansible-playbook` on PATH runs (ansible-core from PyPI), so
//!   tests/ansible_role.rs can run the role in ansible/ against a temp root.
//! - `has_systemd_analyze`: `systemd-analyze` is installed, so tests/systemd_units.rs can run
//!   `systemd-analyze verify` on the unit files in assets/systemd.
//! - `has_deb_tools`: cargo-deb, cargo-zigbuild and zig (on PATH or as Python's `ziglang`) are
//!   installed, so tests/package_deb.rs can build the .deb with assets/debian/build.sh.
//!
//! Nothing here changes the edgeprep binary or library: the cfgs are read only by `#[test]`s.
//! A cfg computed while a thing was absent stays until this script runs again: after adding
//! `../shared` or installing docker.io on a machine that lacked it, `touch build.rs`.

use std::path::Path;

const SHARED_FIXTURES: &str = "../shared/fixtures/iotedge-1.4.43";
const DOCKERD_CANDIDATES: &[&str] = &["/usr/sbin/dockerd", "/usr/bin/dockerd"];
const JOURNALD_SOCKET: &str = "/run/systemd/journal/socket";
const BUSYBOX: &str = "/bin/busybox";
const SYSTEMD_ANALYZE_CANDIDATES: &[&str] = &["/usr/bin/systemd-analyze", "/bin/systemd-analyze"];
const OPENSSL_CANDIDATES: &[&str] = &["/usr/bin/openssl", "/bin/openssl", "/usr/local/bin/openssl"];

fn main() {
    for cfg in [
        "shared_fixtures",
        "running_as_root",
        "has_dockerd",
        "has_static_busybox",
        "has_openssl",
        "journald_running",
        "has_ansible",
        "has_systemd_analyze",
        "has_deb_tools",
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    println!("cargo::rerun-if-changed=build.rs");
    // `sudo cargo test` changes these, and with them whether we run as root.
    println!("cargo::rerun-if-env-changed=USER");
    println!("cargo::rerun-if-env-changed=SUDO_USER");

    // Only existing paths are watched: cargo treats a missing watched path as always changed
    // and would rebuild the crate on every run of a bare clone.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let shared = Path::new(&manifest_dir).join(SHARED_FIXTURES);
    if shared.is_dir() {
        println!("cargo::rerun-if-changed={}", shared.display());
        println!("cargo::rustc-cfg=shared_fixtures");
    }
    if running_as_root() {
        println!("cargo::rustc-cfg=running_as_root");
    }
    if let Some(dockerd) = DOCKERD_CANDIDATES.iter().find(|p| Path::new(p).is_file()) {
        println!("cargo::rerun-if-changed={dockerd}");
        println!("cargo::rustc-cfg=has_dockerd");
    }
    if is_static_elf(Path::new(BUSYBOX)) {
        println!("cargo::rerun-if-changed={BUSYBOX}");
        println!("cargo::rustc-cfg=has_static_busybox");
    }
    if let Some(openssl) = OPENSSL_CANDIDATES.iter().find(|p| Path::new(p).is_file()) {
        println!("cargo::rerun-if-changed={openssl}");
        println!("cargo::rustc-cfg=has_openssl");
    }
    if Path::new(JOURNALD_SOCKET).exists() {
        println!("cargo::rustc-cfg=journald_running");
    }
    if let Some(ansible) = ansible_playbook() {
        println!("cargo::rerun-if-changed={}", ansible.display());
        println!("cargo::rustc-cfg=has_ansible");
    }
    if let Some(analyze) = SYSTEMD_ANALYZE_CANDIDATES.iter().find(|p| Path::new(p).is_file()) {
        println!("cargo::rerun-if-changed={analyze}");
        println!("cargo::rustc-cfg=has_systemd_analyze");
    }
    println!("cargo::rerun-if-env-changed=PATH");
    if has_deb_tools() {
        println!("cargo::rustc-cfg=has_deb_tools");
    }
}

/// `ansible-playbook` from PATH when `--version` succeeds: a pyenv shim is on PATH even when
/// the active Python lacks ansible-core, and a test that cannot start it should be ignored.
fn ansible_playbook() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path).map(|dir| dir.join("ansible-playbook")).find(|p| p.is_file())?;
    let works = std::process::Command::new(&found)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    works.then_some(found)
}

/// cargo-deb and cargo-zigbuild as cargo subcommands, and zig itself or the `ziglang` Python
/// package that cargo-zigbuild falls back to (what `pip install ziglang` gives).
fn has_deb_tools() -> bool {
    let on_path = |name: &str| {
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
            .map(|home| home.join("bin"));
        std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain(cargo_bin)
            .any(|dir| dir.join(name).is_file())
    };
    let zig = on_path("zig")
        || std::process::Command::new("python3")
            .args(["-c", "import ziglang"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    on_path("cargo-deb") && on_path("cargo-zigbuild") && zig
}

/// The effective uid from /proc, which avoids a build-dependency for one number.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .is_some_and(|euid| euid == "0")
    })
}

/// Whether `path` is a 64-bit little-endian ELF executable without a program interpreter
/// (PT_INTERP), i.e. it runs in an empty container.
fn is_static_elf(path: &Path) -> bool {
    const PT_INTERP: u32 = 3;
    let Ok(bytes) = std::fs::read(path) else { return false };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return false;
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap_or([0; 8])) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let at = phoff + i * phentsize;
        bytes.get(at..at + 4).is_some_and(|t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) != PT_INTERP)
    }) && phnum > 0
}
