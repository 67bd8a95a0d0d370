//! What is on the device now, read once under the root: the files the plan may change, the
//! users that own certificates, and the OS hostname.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::error::input_error;
use crate::input_file;
use crate::paths;
use crate::root::DeviceRoot;
use crate::users::UserDb;

/// The device as edgeprep found it. The plan is computed from this alone, so a test can build
/// one by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// Device path → contents, for every file the plan may change that exists.
    files: BTreeMap<String, Vec<u8>>,
    /// Device directory → file names in it, for the directories the plan looks into (their
    /// files' contents are in `files` too).
    dirs: BTreeMap<String, Vec<String>>,
    /// Mode and owner of every watched file and directory that exists.
    meta: BTreeMap<String, Ownership>,
    /// Directories an answer names (edgeAgent's host storage), looked at once the answers are
    /// known: see [`DeviceState::read_answer_dirs`].
    answer_dirs: BTreeMap<String, DirState>,
    pub users: UserDb,
    /// The OS hostname, from `/etc/hostname`.
    pub os_hostname: Option<String>,
}

/// Files the plan may read or change.
fn watched_files() -> Vec<String> {
    let mut files: Vec<String> = [
        paths::CONFIG_TOML,
        paths::CONFIG_TEMPLATE,
        paths::DAEMON_JSON,
        paths::EDGE_CA_CERT,
        paths::EDGE_CA_KEY,
        paths::TRUST_BUNDLE,
        paths::OS_TRUST_STORE_CERT,
        paths::GENERATED_ROOT_KEY,
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    for unit in paths::PROXY_UNITS {
        files.push(paths::proxy_dropin(unit));
        files.push(paths::proxy_env_file(unit));
        // Everything that decides the unit's environment (see plan::unit_env).
        files.extend(crate::plan::unit_env::unit_file_candidates(unit));
    }
    files.push(paths::DEFAULT_DOCKER.to_string());
    files
}

/// Directories whose files the proxy plan evaluates: every drop-in directory of the proxy units.
fn unit_dropin_dirs() -> Vec<String> {
    paths::PROXY_UNITS.iter().flat_map(|unit| crate::plan::unit_env::dropin_dirs(unit)).collect()
}

/// Directories whose listing the plan needs (stale quickstart certificates and keys).
const WATCHED_DIRS: &[&str] = &[paths::CERTD_CERTS_DIR, paths::KEYD_KEYS_DIR];

/// Directories whose mode and owner the plan checks (where the Edge CA goes).
const OWNED_DIRS: &[&str] = &[paths::AZIOT_DIR, paths::CERTS_DIR, paths::SECRETS_DIR];

/// What is at a directory path an answer names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirState {
    Missing,
    Dir(Ownership),
    /// A file (or another non-directory) is in the way.
    NotADirectory,
}

/// Mode (permission bits) and owner of a file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Ownership {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl DeviceState {
    /// Read the device under `root`. A file that exists but cannot be read is bad input
    /// (exit 2): the message says which file and suggests sudo.
    pub fn read(root: &DeviceRoot) -> Result<Self> {
        let mut state = DeviceState::default();
        for path in watched_files() {
            state.read_file(root, &path)?;
        }
        for dir in WATCHED_DIRS.iter().map(|d| d.to_string()).chain(unit_dropin_dirs()) {
            let names = list_dir(root, &dir)?;
            for name in &names {
                state.read_file(root, &format!("{dir}/{name}"))?;
            }
            state.dirs.insert(dir, names);
        }
        // Environment files the units name, known only once their drop-ins are read.
        for path in crate::plan::unit_env::referenced_env_files(&state) {
            if state.file(&path).is_none() {
                state.read_file(root, &path)?;
            }
        }
        for dir in OWNED_DIRS {
            if let Some(meta) = metadata(root, dir)? {
                state.meta.insert(dir.to_string(), meta);
            }
        }
        let passwd = read_optional(root, paths::PASSWD)?.unwrap_or_default();
        let group = read_optional(root, paths::GROUP)?.unwrap_or_default();
        state.users = UserDb::parse(&String::from_utf8_lossy(&passwd), &String::from_utf8_lossy(&group));
        state.os_hostname = read_optional(root, paths::HOSTNAME)?
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .filter(|h| !h.is_empty());
        Ok(state)
    }

    /// Look at the directories `answers` name (`[agent] host_storage`), which the plan creates
    /// when missing and otherwise leaves alone. Resolved in the root like every device path.
    /// A path the answers' rules refuse is not looked at: the answers never reach a plan.
    pub fn read_answer_dirs(&mut self, root: &DeviceRoot, answers: &crate::answers::Answers) -> Result<()> {
        let host_storage = answers.agent.as_ref().and_then(|a| a.host_storage.as_deref());
        if let Some(path) =
            host_storage.filter(|p| crate::answers::validate::host_storage_problem(p).is_none())
        {
            let found = match root.metadata(path) {
                Ok(None) => DirState::Missing,
                Ok(Some(m)) if m.is_dir() => {
                    DirState::Dir(Ownership { mode: m.mode, uid: m.uid, gid: m.gid })
                }
                Ok(Some(_)) => DirState::NotADirectory,
                Err(e) => return Err(root.refusal(path, &e)),
            };
            self.answer_dirs.insert(path.to_string(), found);
        }
        Ok(())
    }

    /// What is at a directory an answer names; `Missing` when it was never looked at.
    pub fn answer_dir(&self, path: &str) -> DirState {
        self.answer_dirs.get(path).copied().unwrap_or(DirState::Missing)
    }

    /// Builder for tests: what is at a directory an answer names.
    pub fn with_answer_dir(mut self, path: &str, found: DirState) -> Self {
        self.answer_dirs.insert(path.to_string(), found);
        self
    }

    fn read_file(&mut self, root: &DeviceRoot, path: &str) -> Result<()> {
        if let Some((bytes, meta)) = read_with_meta(root, path)? {
            self.files.insert(path.to_string(), bytes);
            self.meta.insert(path.to_string(), meta);
        }
        Ok(())
    }

    /// Mode and owner of a watched file or directory, if it exists.
    pub fn ownership(&self, path: &str) -> Option<Ownership> {
        self.meta.get(path).copied()
    }

    /// Builder for tests: the mode and owner of a file or directory.
    pub fn with_ownership(mut self, path: &str, ownership: Ownership) -> Self {
        self.meta.insert(path.to_string(), ownership);
        self
    }

    /// Contents of a device file, if it exists.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// A device text file, which must be UTF-8.
    pub fn text(&self, path: &str) -> Result<Option<&str>> {
        match self.files.get(path) {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes).map(Some).map_err(|e| {
                input_error(format!(
                    "{path} is not valid UTF-8 (first bad byte at offset {}): IoT Edge cannot read it either; restore it from a backup",
                    e.valid_up_to()
                ))
            }),
        }
    }

    /// File names in a watched device directory (empty when it does not exist).
    pub fn dir_entries(&self, dir: &str) -> &[String] {
        self.dirs.get(dir).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Builder for tests and the demo: put a file into the state.
    pub fn with_file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.to_string(), contents.into());
        self
    }

    /// Builder for tests: a directory listing.
    pub fn with_dir(mut self, dir: &str, entries: &[&str]) -> Self {
        self.dirs.insert(dir.to_string(), entries.iter().map(|e| e.to_string()).collect());
        self
    }
}

/// The size limit for a device file: certificates and keys are smaller than configuration.
fn limit_for(device_path: &str) -> u64 {
    if crate::root::SERVICE_DIRS.iter().any(|dir| std::path::Path::new(device_path).starts_with(dir))
        || device_path == paths::GENERATED_ROOT_KEY
    {
        input_file::MAX_CERT_BYTES
    } else {
        input_file::MAX_CONFIG_BYTES
    }
}

/// Read a device file inside the root (symlinks resolved there, none under the service
/// accounts' directories), as a regular file within its size limit, with its mode and owner.
fn read_with_meta(root: &DeviceRoot, device_path: &str) -> Result<Option<(Vec<u8>, Ownership)>> {
    match root.read(device_path, limit_for(device_path)) {
        Ok(Some((bytes, meta))) => {
            Ok(Some((bytes, Ownership { mode: meta.mode, uid: meta.uid, gid: meta.gid })))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(root.read_refusal(device_path, &e)),
    }
}

fn read_optional(root: &DeviceRoot, device_path: &str) -> Result<Option<Vec<u8>>> {
    Ok(read_with_meta(root, device_path)?.map(|(bytes, _)| bytes))
}

fn metadata(root: &DeviceRoot, device_path: &str) -> Result<Option<Ownership>> {
    match root.metadata(device_path) {
        Ok(meta) => Ok(meta.map(|m| Ownership { mode: m.mode, uid: m.uid, gid: m.gid })),
        Err(e) => Err(root.refusal(device_path, &e)),
    }
}

/// The regular files in a device directory; anything else there (links, FIFOs, directories)
/// is not what certd or keyd wrote and is left out.
fn list_dir(root: &DeviceRoot, device_dir: &str) -> Result<Vec<String>> {
    let entries = root.list_dir(device_dir).map_err(|e| root.refusal(device_dir, &e))?.unwrap_or_default();
    Ok(entries
        .into_iter()
        .filter(|(_, kind)| *kind == rustix::fs::FileType::RegularFile)
        .map(|(name, _)| name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_users_and_hostname_under_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = DeviceRoot::new(dir.path());
        std::fs::create_dir_all(root.path("/etc/aziot")).unwrap();
        std::fs::write(root.path(paths::CONFIG_TOML), "hostname = \"a\"\n").unwrap();
        std::fs::write(root.path(paths::HOSTNAME), "edge-01\n").unwrap();
        std::fs::write(root.path(paths::PASSWD), "aziotcs:x:990:990::/:/bin/false\n").unwrap();
        let state = DeviceState::read(&root).unwrap();
        assert_eq!(state.text(paths::CONFIG_TOML).unwrap(), Some("hostname = \"a\"\n"));
        assert_eq!(state.file(paths::DAEMON_JSON), None);
        assert_eq!(state.os_hostname.as_deref(), Some("edge-01"));
        assert_eq!(state.users.owner("aziotcs"), Some((990, 990)));
    }

    #[test]
    fn non_utf8_config_is_bad_input() {
        let state = DeviceState::default().with_file(paths::CONFIG_TOML, vec![0xff, 0xfe]);
        let err = state.text(paths::CONFIG_TOML).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT);
        assert!(err.to_string().contains("/etc/aziot/config.toml"));
    }
}
