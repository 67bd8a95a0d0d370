//! Backup sets under `/var/lib/edgeprep/backups/<id>/`: the originals of every file an apply
//! touches, with their modes and owners, and a manifest to restore them from.
//!
//! A set is complete before the first byte of the device changes, so whatever happens next
//! (a failed command, a full disk, a technician who regrets it a week later) the device can be
//! put back exactly. Stored copies are 0600 in a 0700 directory because the originals include
//! private keys and passwords. Restoring first makes a new set of the current state, so a
//! rollback can itself be rolled back.

use std::collections::BTreeSet;
use std::fs::{self, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};

use super::atomic;
use crate::error::input_error;
use crate::paths::BACKUPS_DIR;
use crate::root::DeviceRoot;

/// The manifest's file name inside a set. Written last: a set without one is incomplete.
pub const MANIFEST: &str = "manifest.json";
/// Mode of a set directory.
pub const SET_DIR_MODE: u32 = 0o700;
/// Mode of every stored copy, whatever the original's: it may hold a secret.
pub const STORED_FILE_MODE: u32 = 0o600;
/// The manifest format this code writes and reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Everything needed to put the recorded files and directories back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub id: String,
    /// RFC 3339 UTC: when the set was made.
    pub time: String,
    pub user: String,
    /// `apply` for sets made by apply, `rollback` for the set a restore makes first.
    pub action: String,
    /// The commands the apply was going to run (masked), for the record.
    pub commands: Vec<String>,
    pub files: Vec<FileRecord>,
    pub dirs: Vec<DirRecord>,
}

/// One file as it was before the change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileRecord {
    /// Device path.
    pub path: String,
    /// False when the change created the file: restoring removes it.
    pub existed: bool,
    /// Permission bits as an octal string (`"0640"`); `null` when the file did not exist.
    #[serde(with = "octal")]
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The copy's file name inside the set.
    pub stored: Option<String>,
    /// Lowercase hex SHA-256 of the original bytes; checked before restoring.
    pub sha256: Option<String>,
    /// When the device path was a symlink: the link itself. The other fields then describe
    /// its target inside the root, which is what the change edits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkRecord>,
}

/// A symlink recorded in a backup set (see [`FileRecord::link`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkRecord {
    /// The link's text, as `readlink` gives it (relative or absolute; absolute means inside
    /// the root).
    pub text: String,
    /// The device path it resolved to inside the root.
    pub target: String,
}

/// One directory as it was before the change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DirRecord {
    pub path: String,
    /// False when the change created the directory: restoring removes it if empty.
    pub existed: bool,
    #[serde(with = "octal")]
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// A backup set on disk.
#[derive(Debug, Clone)]
pub struct BackupSet {
    pub id: String,
    /// Host path of the set directory.
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// A set as `edgeprep rollback --list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupInfo {
    pub id: String,
    pub time: String,
    pub user: String,
    /// `apply` or `rollback`.
    pub action: String,
    /// Device paths in the set.
    pub files: Vec<String>,
}

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RestoreReport {
    /// The set that was restored.
    pub restored_from: String,
    /// Device paths now as they were in that set (rewritten, or removed when they did not
    /// exist then).
    pub files: Vec<String>,
    /// The new set holding the state just before the restore: restore it to undo this one.
    pub backup: String,
}

/// What to record in a new set.
pub(crate) struct NewSet<'a> {
    pub user: &'a str,
    pub action: &'a str,
    pub commands: &'a [String],
    /// Device paths of files.
    pub files: &'a [String],
    /// Device paths of directories whose existence, mode and owner must be restorable.
    pub dirs: &'a [String],
}

/// Host path of the directory holding all sets.
pub fn backups_dir(root: &DeviceRoot) -> PathBuf {
    root.path(BACKUPS_DIR)
}

/// Make a complete set recording the current state of `new.files` and `new.dirs`.
pub(crate) fn create_set(root: &DeviceRoot, new: &NewSet<'_>) -> Result<BackupSet> {
    let now = time::OffsetDateTime::now_utc();
    let (id, dir) = create_set_dir(&backups_dir(root), &crate::timestamp::compact(now))?;
    match fill_set(root, new, &id, &dir, now) {
        Ok(manifest) => Ok(BackupSet { id, dir, manifest }),
        Err(err) => {
            // An incomplete set restores nothing; leaving it would only confuse `--list`.
            let _ = fs::remove_dir_all(&dir);
            Err(err.context(format!("could not make backup set {}", dir.display())))
        }
    }
}

fn fill_set(
    root: &DeviceRoot,
    new: &NewSet<'_>,
    id: &str,
    dir: &Path,
    now: time::OffsetDateTime,
) -> Result<Manifest> {
    let mut files = Vec::with_capacity(new.files.len());
    for (index, device_path) in new.files.iter().enumerate() {
        files.push(record_file(root, device_path, index, dir)?);
    }
    let mut dirs = Vec::with_capacity(new.dirs.len());
    for device_path in new.dirs {
        dirs.push(record_dir(root, device_path)?);
    }
    let manifest = Manifest {
        version: MANIFEST_VERSION,
        id: id.to_string(),
        time: crate::timestamp::rfc3339(now),
        user: new.user.to_string(),
        action: new.action.to_string(),
        commands: new.commands.to_vec(),
        files,
        dirs,
    };
    let json = serde_json::to_vec_pretty(&manifest).context("could not encode the backup manifest")?;
    atomic::write_file(&dir.join(MANIFEST), &json, STORED_FILE_MODE, None)?;
    Ok(manifest)
}

fn record_file(root: &DeviceRoot, device_path: &str, index: usize, set_dir: &Path) -> Result<FileRecord> {
    let missing = || FileRecord {
        path: device_path.to_string(),
        existed: false,
        mode: None,
        uid: None,
        gid: None,
        stored: None,
        sha256: None,
        link: None,
    };
    let link = match root.read_link(device_path).map_err(|e| root.failure(device_path, &e))? {
        Some(text) => {
            let target = root.canonical(device_path).map_err(|e| root.failure(device_path, &e))?;
            let (Some(text), Some(target)) = (text.to_str(), target.to_str()) else {
                bail!(
                    "the symlink {device_path} or its target is not valid UTF-8; edgeprep cannot record it"
                );
            };
            Some(LinkRecord { text: text.to_string(), target: target.to_string() })
        }
        None => None,
    };
    // The bytes, mode and owner come from one descriptor, resolved inside the root.
    let found = root
        .read(device_path, crate::input_file::MAX_CONFIG_BYTES)
        .map_err(|e| anyhow!("could not back up {device_path}: {}", root.read_refusal(device_path, &e)))?;
    let Some((bytes, meta)) = found else {
        return Ok(FileRecord { link, ..missing() });
    };
    let stored = stored_name(index, device_path);
    atomic::write_file(&set_dir.join(&stored), &bytes, STORED_FILE_MODE, None)
        .with_context(|| format!("could not back up {device_path}"))?;
    Ok(FileRecord {
        path: device_path.to_string(),
        existed: true,
        mode: Some(meta.mode),
        uid: Some(meta.uid),
        gid: Some(meta.gid),
        stored: Some(stored),
        sha256: Some(sha256_hex(&bytes)),
        link,
    })
}

fn record_dir(root: &DeviceRoot, device_path: &str) -> Result<DirRecord> {
    let host = root.path(device_path);
    match fs::metadata(&host) {
        Ok(meta) if meta.is_dir() => Ok(DirRecord {
            path: device_path.to_string(),
            existed: true,
            mode: Some(meta.mode() & 0o7777),
            uid: Some(meta.uid()),
            gid: Some(meta.gid()),
        }),
        Ok(_) => bail!("{} exists but is not a directory", host.display()),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Ok(DirRecord { path: device_path.to_string(), existed: false, mode: None, uid: None, gid: None })
        }
        Err(e) => Err(e).with_context(|| format!("could not inspect {}", host.display())),
    }
}

/// `003-config.toml`: the index keeps two files with one name apart, the name keeps the set
/// readable by a human with `ls`.
fn stored_name(index: usize, device_path: &str) -> String {
    let base =
        Path::new(device_path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let clean: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    format!("{index:03}-{clean}")
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Create `<backups>/<base>` (or `<base>-2`, `<base>-3`, ... when taken) with mode 0700.
/// Creating the directory is what claims the id, so two applies in one second never share a set.
fn create_set_dir(backups: &Path, base: &str) -> Result<(String, PathBuf)> {
    atomic::create_dir_all(backups, atomic::PARENT_DIR_MODE)?;
    for n in 1..=1000u32 {
        let id = if n == 1 { base.to_string() } else { format!("{base}-{n}") };
        let dir = backups.join(&id);
        match fs::create_dir(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, Permissions::from_mode(SET_DIR_MODE))
                    .with_context(|| format!("could not set the mode of {}", dir.display()))?;
                atomic::sync_dir(backups)?;
                return Ok((id, dir));
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("could not create backup set {}", dir.display()));
            }
        }
    }
    bail!("could not find a free backup set name for {base} in {}", backups.display())
}

/// Order of ids: by timestamp, then by collision suffix numerically (`-2` before `-10`).
fn id_sort_key(id: &str) -> (&str, u32) {
    match id.rsplit_once('-') {
        Some((base, n)) => match n.parse() {
            Ok(n) => (base, n),
            Err(_) => (id, 1),
        },
        None => (id, 1),
    }
}

/// Read a set's manifest. Returns `None` for an incomplete set (no manifest yet).
fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
    };
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a valid backup manifest", path.display()))?;
    if manifest.version != MANIFEST_VERSION {
        bail!(
            "{} has manifest version {}, this edgeprep reads version {MANIFEST_VERSION}",
            path.display(),
            manifest.version
        );
    }
    Ok(Some(manifest))
}

fn complete_sets(root: &DeviceRoot) -> Result<Vec<BackupSet>> {
    let backups = backups_dir(root);
    let entries = match fs::read_dir(&backups) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("could not list {}", backups.display())),
    };
    let mut sets = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("could not list {}", backups.display()))?;
        if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let Ok(id) = entry.file_name().into_string() else {
            continue;
        };
        let dir = entry.path();
        if let Some(manifest) = read_manifest(&dir)? {
            sets.push(BackupSet { id, dir, manifest });
        }
    }
    sets.sort_by(|a, b| id_sort_key(&a.id).cmp(&id_sort_key(&b.id)));
    Ok(sets)
}

/// Every complete backup set under `root`, oldest first (sorted by id).
pub fn list(root: &DeviceRoot) -> Result<Vec<BackupInfo>> {
    Ok(complete_sets(root)?
        .into_iter()
        .map(|set| BackupInfo {
            id: set.id,
            time: set.manifest.time,
            user: set.manifest.user,
            action: set.manifest.action,
            files: set.manifest.files.into_iter().map(|f| f.path).collect(),
        })
        .collect())
}

/// Restore the set `id` (default: the latest) as the user from the environment
/// (see [`super::Actor::from_env`]).
pub fn restore(root: &DeviceRoot, id: Option<&str>) -> Result<RestoreReport> {
    restore_as(root, id, &super::Actor::from_env().user)
}

/// Restore every file of the set `id` (default: the latest) byte-identical with its mode and
/// owner, remove files and (empty) directories that did not exist then, and restore directory
/// modes. First makes a new set of the current state, recorded as made by `user`.
///
/// Does not write the audit log: the caller knows the whole story (see [`super::audit`]).
pub fn restore_as(root: &DeviceRoot, id: Option<&str>, user: &str) -> Result<RestoreReport> {
    let sets = complete_sets(root)?;
    let available = || sets.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", ");
    let set = match id {
        None => sets.last().ok_or_else(|| {
            input_error(format!(
                "there are no backup sets in {}; nothing to roll back",
                backups_dir(root).display()
            ))
        })?,
        Some(id) => sets.iter().find(|s| s.id == id).ok_or_else(|| {
            if sets.is_empty() {
                input_error(format!(
                    "there is no backup set `{id}`: there are no backup sets in {}",
                    backups_dir(root).display()
                ))
            } else {
                input_error(format!("there is no backup set `{id}`; available: {}", available()))
            }
        })?,
    };
    // Refuse a damaged set before anything changes.
    let contents = load_stored(set)?;

    let files: Vec<String> = set.manifest.files.iter().map(|f| f.path.clone()).collect();
    let mut dirs: Vec<String> = set.manifest.dirs.iter().map(|d| d.path.clone()).collect();
    for file in &files {
        if let Some(parent) = Path::new(file).parent().and_then(Path::to_str) {
            dirs.extend(missing_device_dirs(root, parent));
        }
    }
    let dirs = dedup(dirs);
    let before =
        create_set(root, &NewSet { user, action: "rollback", commands: &[], files: &files, dirs: &dirs })?;

    if let Err(err) = restore_contents(root, &set.manifest, &contents) {
        // Put back what was there before this restore rather than leave a mix of both.
        let undo = load_stored(&before).and_then(|c| restore_contents(root, &before.manifest, &c));
        let err = err.context(format!("could not restore backup set {}", set.id));
        return Err(match undo {
            Ok(()) => err.context(format!("the files were put back as they were (backup set {})", before.id)),
            Err(undo_err) => err.context(format!(
                "putting the files back as they were also failed ({undo_err:#}); their state before this rollback is in backup set {}",
                before.id
            )),
        });
    }
    Ok(RestoreReport { restored_from: set.id.clone(), files, backup: before.id })
}

/// Device directories among `device_dir` and its ancestors that do not exist under `root`,
/// outermost first (never `/`).
pub(crate) fn missing_device_dirs(root: &DeviceRoot, device_dir: &str) -> Vec<String> {
    let mut missing: Vec<String> = Path::new(device_dir)
        .ancestors()
        .filter(|p| !p.as_os_str().is_empty() && *p != Path::new("/"))
        .take_while(|p| !matches!(root.symlink_metadata(p), Ok(Some(_))))
        .filter_map(|p| p.to_str().map(str::to_string))
        .collect();
    missing.reverse();
    missing
}

/// Keep the first occurrence of each path, in order.
pub(crate) fn dedup(paths: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    paths.into_iter().filter(|p| seen.insert(p.clone())).collect()
}

/// Read every stored copy of `set` and check it against the manifest's SHA-256.
pub(crate) fn load_stored(set: &BackupSet) -> Result<Vec<Option<Vec<u8>>>> {
    set.manifest
        .files
        .iter()
        .map(|record| {
            if !record.existed {
                return Ok(None);
            }
            let stored = record
                .stored
                .as_deref()
                .filter(|s| !s.is_empty() && !s.contains('/') && *s != "..")
                .ok_or_else(|| anyhow!("backup set {}: no valid stored copy recorded for {}", set.id, record.path))?;
            let path = set.dir.join(stored);
            let bytes = fs::read(&path).with_context(|| format!("could not read the backup copy {}", path.display()))?;
            if record.sha256.as_deref() != Some(sha256_hex(&bytes).as_str()) {
                bail!(
                    "the backup copy {} of {} does not match its recorded SHA-256; refusing to restore a damaged set",
                    path.display(),
                    record.path
                );
            }
            Ok(Some(bytes))
        })
        .collect()
}

/// Put every file and directory of `manifest` back as recorded. `contents` is from
/// [`load_stored`]. Files already as recorded are left alone. Carries on past failures so as
/// much as possible is restored, then reports them all.
pub(crate) fn restore_contents(
    root: &DeviceRoot,
    manifest: &Manifest,
    contents: &[Option<Vec<u8>>],
) -> Result<()> {
    let mut failures: Vec<String> = Vec::new();
    let mut note = |r: Result<()>| {
        if let Err(e) = r {
            failures.push(format!("{e:#}"));
        }
    };

    // Directories that existed: back, with their mode and owner, before files go into them.
    for dir in manifest.dirs.iter().filter(|d| d.existed) {
        note(restore_dir(root, dir));
    }
    for (record, bytes) in manifest.files.iter().zip(contents) {
        let result = restore_file(root, record, bytes.as_deref());
        note(result.with_context(|| format!("could not restore {}", record.path)));
    }
    // Directories the change created: deepest first, and only when nothing else lives there.
    let mut created: Vec<&DirRecord> = manifest.dirs.iter().filter(|d| !d.existed).collect();
    created.sort_by_key(|d| std::cmp::Reverse(Path::new(&d.path).components().count()));
    for dir in created {
        note(atomic::remove_dir_in_root(root, &dir.path).map(|_| ()));
    }

    if failures.is_empty() { Ok(()) } else { Err(anyhow!(failures.join("; "))) }
}

/// Put one recorded file back: `bytes` with its mode and owner, or its absence (`None`). A
/// recorded symlink is put back as that symlink and its target gets the bytes; a file
/// recorded as a regular file replaces whatever is at its path now (a symlink too).
fn restore_file(root: &DeviceRoot, record: &FileRecord, bytes: Option<&[u8]>) -> Result<()> {
    let path = match &record.link {
        Some(link) => {
            let current = root.read_link(&record.path).map_err(|e| root.failure(&record.path, &e))?;
            if current.as_deref() != Some(Path::new(&link.text)) {
                atomic::symlink_in_root(root, &record.path, Path::new(&link.text))?;
            }
            link.target.as_str()
        }
        None => record.path.as_str(),
    };
    let Some(bytes) = bytes else {
        return atomic::remove_in_root(root, path);
    };
    let (Some(mode), Some(uid), Some(gid)) = (record.mode, record.uid, record.gid) else {
        bail!("the manifest lacks the mode or owner of {}", record.path);
    };
    let unchanged = matches!(root.symlink_metadata(path), Ok(Some(m)) if m.is_file()
            && m.mode == mode
            && m.uid == uid
            && m.gid == gid
            && m.len == bytes.len() as u64)
        && matches!(root.read(path, crate::input_file::MAX_CONFIG_BYTES), Ok(Some((current, _))) if current == bytes);
    if unchanged {
        return Ok(());
    }
    atomic::write_in_root_replacing(root, path, bytes, mode, Some((uid, gid)))
}

fn restore_dir(root: &DeviceRoot, dir: &DirRecord) -> Result<()> {
    let (Some(mode), Some(uid), Some(gid)) = (dir.mode, dir.uid, dir.gid) else {
        bail!("the manifest lacks the mode or owner of directory {}", dir.path);
    };
    let (fd, _) = atomic::create_dir_all_in_root(root, Path::new(&dir.path), atomic::PARENT_DIR_MODE)?;
    atomic::set_owner_mode(std::os::fd::AsFd::as_fd(&fd), mode, uid, gid).with_context(|| {
        format!("could not give directory {} mode {mode:04o} and owner {uid}:{gid}", dir.path)
    })
}

/// Modes as octal strings (`"0640"`) in the manifest: that is how people read them.
mod octal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match mode {
            Some(m) => s.serialize_str(&format!("{m:04o}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => u32::from_str_radix(&text, 8)
                .map(Some)
                .map_err(|_| serde::de::Error::custom(format!("`{text}` is not an octal file mode"))),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_utc_timestamps_and_collisions_get_suffixes() {
        let t = time::OffsetDateTime::from_unix_timestamp(1_795_694_581).unwrap();
        assert_eq!(crate::timestamp::compact(t), "20261126T120301Z");
        let dir = tempfile::tempdir().unwrap();
        let backups = dir.path().join("var/lib/edgeprep/backups");
        let (a, _) = create_set_dir(&backups, "20261126T120301Z").unwrap();
        let (b, _) = create_set_dir(&backups, "20261126T120301Z").unwrap();
        let (c, set_dir) = create_set_dir(&backups, "20261126T120301Z").unwrap();
        assert_eq!(
            (a.as_str(), b.as_str(), c.as_str()),
            ("20261126T120301Z", "20261126T120301Z-2", "20261126T120301Z-3")
        );
        assert_eq!(fs::metadata(set_dir).unwrap().mode() & 0o7777, SET_DIR_MODE);
        assert_eq!(fs::metadata(dir.path().join("var/lib")).unwrap().mode() & 0o7777, 0o755);
    }

    #[test]
    fn ids_sort_by_time_then_suffix_number() {
        let mut ids =
            vec!["20261126T120301Z-10", "20261127T000000Z", "20261126T120301Z-2", "20261126T120301Z"];
        ids.sort_by(|a, b| id_sort_key(a).cmp(&id_sort_key(b)));
        assert_eq!(
            ids,
            vec!["20261126T120301Z", "20261126T120301Z-2", "20261126T120301Z-10", "20261127T000000Z"]
        );
    }

    #[test]
    fn stored_names_are_indexed_and_safe() {
        assert_eq!(stored_name(3, "/etc/aziot/config.toml"), "003-config.toml");
        assert_eq!(stored_name(0, "/etc/we ird$"), "000-we_ird_");
    }

    #[test]
    fn modes_round_trip_as_octal_strings() {
        let record =
            DirRecord { path: "/d".into(), existed: true, mode: Some(0o2750), uid: Some(0), gid: Some(0) };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(r#""mode":"2750""#), "{json}");
        assert_eq!(serde_json::from_str::<DirRecord>(&json).unwrap(), record);
    }

    #[test]
    fn list_of_a_root_without_backups_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(&DeviceRoot::new(dir.path())).unwrap().is_empty());
    }
}
