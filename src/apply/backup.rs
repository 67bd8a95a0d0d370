//! Backup sets under `/var/lib/edgeprep/backups/<id>/`: the originals of every file an apply
//! touches, with their modes and owners, and a manifest to restore them from.
//!
//! A set is complete before the first byte of the device changes, so whatever happens next
//! (a failed command, a full disk, a technician who regrets it a week later) the device can be
//! put back exactly. Stored copies are 0600 in a 0700 directory because the originals include
//! private keys and passwords. Restoring first makes a new set of the current state, so a
//! rollback can itself be rolled back.
//!
//! Each set also holds a journal (how far its apply or rollback got, see [`Journal`]) and a
//! sequence number that orders the sets without trusting the clock. A manifest is checked
//! before use ([`validate_manifest`]); a set that fails is listed as damaged and skipped, so
//! one bad set never blocks the others.

use std::collections::BTreeSet;
use std::fs::{self, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};

use super::atomic;
use crate::error::{NotRestored, input_error};
use crate::paths::{BACKUPS_DIR, MANAGED_DIRS};
use crate::root::DeviceRoot;
use crate::runner::PlannedCommand;
use crate::secrets::mask;

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
    /// Order of the sets, counted up by one per set: the latest set is the one with the
    /// highest number, whatever the clock said (devices boot without a real-time clock).
    /// 0 in sets made before the number existed.
    #[serde(default)]
    pub seq: u64,
    /// RFC 3339 UTC: when the set was made.
    pub time: String,
    pub user: String,
    /// `apply` for sets made by apply, `rollback` for the set a restore makes first.
    pub action: String,
    /// For a `rollback` set: the set it restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<String>,
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

/// The journal's file name inside a set: how far the apply (or rollback) that made the set got.
pub const JOURNAL: &str = "journal.json";

/// How far the apply or rollback that made a set got. Written atomically and flushed to disk
/// before the next step starts, so after a crash or power cut it says what is left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The set is complete; files may have been (partly) written since.
    BackedUp,
    /// Every file was written (or, for a rollback, restored); commands may be pending.
    FilesWritten,
    /// Everything ran.
    Completed,
    /// A failure or a stop signal is putting the files back from this set; then the first
    /// [`Journal::rerun`] commands run again on them.
    RollingBack,
    /// A failure (or an interruption) put the files back from this set.
    RolledBack,
}

/// One command the apply or rollback runs after the files, as recorded for finishing it later.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JournalCommand {
    pub program: String,
    pub args: Vec<String>,
    /// Masked.
    pub reason: String,
    #[serde(default)]
    pub harmless_failure: Option<String>,
    /// False when the command held a secret: it is stored masked and cannot be run again
    /// from here.
    pub resumable: bool,
}

impl JournalCommand {
    /// Record `command`, masked with `secrets`.
    pub fn record(command: &PlannedCommand, secrets: &[String]) -> Self {
        let program = mask(&command.program, secrets);
        let args: Vec<String> = command.args.iter().map(|a| mask(a, secrets)).collect();
        let resumable = program == command.program && args == command.args;
        Self {
            program,
            args,
            reason: mask(&command.reason, secrets),
            harmless_failure: command.harmless_failure.clone(),
            resumable,
        }
    }

    /// The command to run again, when it can be.
    pub fn planned(&self) -> PlannedCommand {
        PlannedCommand {
            program: self.program.clone(),
            args: self.args.clone(),
            reason: self.reason.clone(),
            harmless_failure: self.harmless_failure.clone(),
        }
    }
}

/// The journal of a set: its stage, the commands and how many of them succeeded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Journal {
    pub stage: Stage,
    pub commands: Vec<JournalCommand>,
    /// `commands[..commands_done]` ran successfully.
    pub commands_done: usize,
    /// While rolling back: how many commands, from the first, run again on the restored files.
    #[serde(default)]
    pub rerun: usize,
}

/// Programs a journal may ask to run again: the ones plans run. A journal naming any other
/// (or a path) is treated as damaged rather than run as root.
pub const RESUMABLE_PROGRAMS: &[&str] = &["iotedge", "systemctl", "docker", "update-ca-certificates"];

/// A set as `edgeprep rollback --list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackupInfo {
    pub id: String,
    /// The set's place in the order of sets (see [`Manifest::seq`]).
    pub seq: u64,
    pub time: String,
    pub user: String,
    /// `apply` or `rollback`.
    pub action: String,
    /// For a set made by a rollback: the set it restored.
    pub restores: Option<String>,
    /// `completed`, `interrupted`, `rolled back automatically`, `rolled back` (by a later
    /// rollback, named in `rolled_back_by`) or `damaged` (with the reason in `damaged`).
    pub status: String,
    pub rolled_back_by: Option<String>,
    pub damaged: Option<String>,
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
    /// For a rollback: the set being restored.
    pub restores: Option<&'a str>,
    /// Masked command lines, for the record.
    pub commands: &'a [String],
    /// The commands to journal (see [`Journal`]).
    pub journal: &'a [JournalCommand],
    /// Device paths of files.
    pub files: &'a [String],
    /// Device paths of directories whose existence, mode and owner must be restorable.
    pub dirs: &'a [String],
}

/// Host path of the directory holding all sets.
pub fn backups_dir(root: &DeviceRoot) -> PathBuf {
    let rest = BACKUPS_DIR.strip_prefix("/var/lib/").unwrap_or(BACKUPS_DIR);
    root.own_state_path("/var/lib", rest)
}

/// [`backups_dir`] for reading or writing sets: a link or a foreign directory on the way is
/// refused (see [`DeviceRoot::own_state_dir`]).
fn checked_backups_dir(root: &DeviceRoot) -> Result<PathBuf> {
    let rest = BACKUPS_DIR.strip_prefix("/var/lib/").unwrap_or(BACKUPS_DIR);
    root.own_state_dir("/var/lib", rest)
}

/// Make a complete set recording the current state of `new.files` and `new.dirs`.
pub(crate) fn create_set(root: &DeviceRoot, new: &NewSet<'_>) -> Result<BackupSet> {
    let now = time::OffsetDateTime::now_utc();
    let seq = next_seq(root)?;
    let (id, dir) = create_set_dir(&checked_backups_dir(root)?, &crate::timestamp::compact(now))?;
    match fill_set(root, new, (&id, seq), &dir, now) {
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
    (id, seq): (&str, u64),
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
        seq,
        time: crate::timestamp::rfc3339(now),
        user: new.user.to_string(),
        action: new.action.to_string(),
        restores: new.restores.map(str::to_string),
        commands: new.commands.to_vec(),
        files,
        dirs,
    };
    validate_manifest(&manifest).context("edgeprep refuses to back up a path it does not manage")?;
    // The journal first: a set with a manifest always has one, so "no journal" means a set
    // from before journals, whose apply finished.
    write_journal(
        dir,
        &Journal { stage: Stage::BackedUp, commands: new.journal.to_vec(), commands_done: 0, rerun: 0 },
    )?;
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
    // Resolved inside the root (a `/var` linked elsewhere in an image is followed there).
    let host = root.path(device_path);
    match root.metadata(device_path) {
        Ok(Some(meta)) if meta.is_dir() => Ok(DirRecord {
            path: device_path.to_string(),
            existed: true,
            mode: Some(meta.mode),
            uid: Some(meta.uid),
            gid: Some(meta.gid),
        }),
        Ok(Some(_)) => bail!("{} exists but is not a directory", host.display()),
        Ok(None) => {
            Ok(DirRecord { path: device_path.to_string(), existed: false, mode: None, uid: None, gid: None })
        }
        Err(e) => Err(root.failure(device_path, &e)),
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
    validate_manifest(&manifest).with_context(|| format!("{} cannot be trusted", path.display()))?;
    Ok(Some(manifest))
}

/// Read a set's journal; `None` for a set from before journals.
fn read_journal(dir: &Path) -> Result<Option<Journal>> {
    let path = dir.join(JOURNAL);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("could not read {}", path.display())),
    };
    let journal: Journal = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a valid journal", path.display()))?;
    if journal.commands_done > journal.commands.len() {
        bail!("{} counts more commands done than it lists", path.display());
    }
    if let Some(c) = journal.commands.iter().find(|c| !RESUMABLE_PROGRAMS.contains(&c.program.as_str())) {
        bail!("{} names `{}`, which is not a program edgeprep runs", path.display(), c.program);
    }
    Ok(Some(journal))
}

/// The journal of `set` (`None` for a set from before journals).
pub(crate) fn scan_journal(set: &BackupSet) -> Result<Option<Journal>> {
    read_journal(&set.dir)
}

/// Record how far the set's apply or rollback got (atomically, flushed to disk).
pub(crate) fn write_journal(set_dir: &Path, journal: &Journal) -> Result<()> {
    let json = serde_json::to_vec_pretty(journal).context("could not encode the journal")?;
    atomic::write_file(&set_dir.join(JOURNAL), &json, STORED_FILE_MODE, None)
        .context("could not record the progress of this change in its backup set")
}

/// Why a device path must not appear in a manifest, if it must not: it is not normalized
/// and absolute, or not one edgeprep could have written (see [`MANAGED_DIRS`]). `harmless_dir`
/// admits the ancestors of the managed directories (`/etc`, `/var/lib` on a fresh image) for
/// a directory record whose restore cannot hurt: one the change created (restoring only
/// removes it when empty), or one restored as root's and not writable by others.
fn path_problem(path: &str, harmless_dir: bool) -> Option<&'static str> {
    if !path.starts_with('/') || path.len() < 2 {
        return Some("is not an absolute path");
    }
    if path.chars().any(char::is_control) {
        return Some("contains a control character");
    }
    if path.ends_with('/') || path.contains("//") {
        return Some("is not normalized (`//` or a trailing `/`)");
    }
    if path.split('/').skip(1).any(|c| c == "." || c == "..") {
        return Some("contains `.` or `..`");
    }
    let under = |dir: &str| path == dir || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'));
    if under(BACKUPS_DIR) {
        return Some("is inside the backups themselves");
    }
    if MANAGED_DIRS.iter().any(|dir| under(dir)) {
        return None;
    }
    let ancestor = |dir: &&str| dir.strip_prefix(path).is_some_and(|rest| rest.starts_with('/'));
    if harmless_dir && MANAGED_DIRS.iter().any(ancestor) {
        return None;
    }
    Some("is not a path edgeprep manages")
}

/// Refuse a manifest that would restore outside what edgeprep manages or set set-id bits:
/// the backups are root's, but a tampered or corrupt set must not become a way to write
/// anywhere as root.
pub fn validate_manifest(manifest: &Manifest) -> Result<()> {
    for file in &manifest.files {
        if let Some(problem) = path_problem(&file.path, false) {
            bail!("file `{}` {problem}", file.path.escape_debug());
        }
        if file.mode.is_some_and(|m| m & !0o777 != 0) {
            bail!(
                "file {} has a set-id or sticky mode ({:04o}), which edgeprep never records",
                file.path,
                file.mode.unwrap_or(0)
            );
        }
        if let Some(link) = &file.link {
            // A managed file may be a link to anywhere inside the root (an image keeps
            // config.toml on its data partition) and apply wrote that target, so the target
            // need not be managed; it must still be a normalized device path, and restoring
            // resolves it inside the root like every other path.
            if link.text.is_empty() || link.text.chars().any(char::is_control) {
                bail!("file {} records an impossible symlink text", file.path);
            }
            if let Some(problem) =
                path_problem(&link.target, false).filter(|p| *p != "is not a path edgeprep manages")
            {
                bail!("the link target `{}` of {} {problem}", link.target.escape_debug(), file.path);
            }
        }
        if file.existed
            && file.stored.as_deref().is_none_or(|s| s.is_empty() || s.contains('/') || s == "." || s == "..")
        {
            bail!("file {} has no valid stored copy", file.path);
        }
    }
    for dir in &manifest.dirs {
        let harmless = !dir.existed
            || (dir.uid == Some(0) && dir.gid == Some(0) && dir.mode.is_some_and(|m| m & 0o7022 == 0));
        // edgeAgent's host storage (and the parents apply created for it) may lie outside the
        // managed trees, where an answer may put it. Only harmless records qualify: restoring
        // one removes a directory while it is empty, or puts back root's, not writable by others.
        let created_for_an_answer =
            harmless && crate::answers::validate::host_storage_problem(&dir.path).is_none();
        if let Some(problem) = path_problem(&dir.path, harmless)
            .filter(|p| !(created_for_an_answer && *p == "is not a path edgeprep manages"))
        {
            bail!("directory `{}` {problem}", dir.path.escape_debug());
        }
        if dir.mode.is_some_and(|m| m & !0o7777 != 0) {
            bail!("directory {} has an impossible mode", dir.path);
        }
    }
    Ok(())
}

/// A set directory with a manifest, as found on disk.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub id: String,
    pub dir: PathBuf,
    /// The manifest and journal, or why the set cannot be used.
    pub loaded: std::result::Result<(Manifest, Option<Journal>), String>,
}

impl Found {
    fn seq(&self) -> u64 {
        self.loaded.as_ref().map_or(0, |(m, _)| m.seq)
    }

    pub fn usable(&self) -> Option<(BackupSet, Option<&Journal>)> {
        let (manifest, journal) = self.loaded.as_ref().ok()?;
        Some((
            BackupSet { id: self.id.clone(), dir: self.dir.clone(), manifest: manifest.clone() },
            journal.as_ref(),
        ))
    }
}

/// Every set with a manifest, in order (sequence number, then id). A set that cannot be read
/// or trusted is listed with the reason instead of stopping the others.
pub(crate) fn scan(root: &DeviceRoot) -> Result<Vec<Found>> {
    let backups = checked_backups_dir(root)?;
    let entries = match fs::read_dir(&backups) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("could not list {}", backups.display())),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("could not list {}", backups.display()))?;
        if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        let Ok(id) = entry.file_name().into_string() else {
            continue;
        };
        let dir = entry.path();
        let loaded = match read_manifest(&dir) {
            Ok(None) => continue,
            Ok(Some(manifest)) if manifest.id != id => {
                Err(format!("its manifest names set `{}`", manifest.id))
            }
            Ok(Some(manifest)) => read_journal(&dir).map(|j| (manifest, j)).map_err(|e| format!("{e:#}")),
            Err(e) => Err(format!("{e:#}")),
        };
        found.push(Found { id, dir, loaded });
    }
    found.sort_by(|a, b| (a.seq(), id_sort_key(&a.id)).cmp(&(b.seq(), id_sort_key(&b.id))));
    Ok(found)
}

/// The number the next set gets: one more than any set's.
fn next_seq(root: &DeviceRoot) -> Result<u64> {
    Ok(scan(root)?.iter().map(Found::seq).max().map_or(1, |n| n + 1))
}

/// The stage of a usable set (a set from before journals finished).
pub(crate) fn stage_of(journal: Option<&Journal>) -> Stage {
    journal.map_or(Stage::Completed, |j| j.stage)
}

/// The completed rollback set that restored `id`, if any.
pub(crate) fn rolled_back_by(found: &[Found], id: &str) -> Option<String> {
    found.iter().find_map(|f| {
        let (m, j) = f.loaded.as_ref().ok()?;
        (m.action == "rollback"
            && m.restores.as_deref() == Some(id)
            && stage_of(j.as_ref()) == Stage::Completed)
            .then(|| f.id.clone())
    })
}

/// Every set under `root` with a manifest, oldest first, damaged ones included (marked).
pub fn list(root: &DeviceRoot) -> Result<Vec<BackupInfo>> {
    let found = scan(root)?;
    Ok(found
        .iter()
        .map(|f| match &f.loaded {
            Ok((m, j)) => {
                let by = rolled_back_by(&found, &f.id);
                let status = match (stage_of(j.as_ref()), &by) {
                    (Stage::BackedUp | Stage::FilesWritten | Stage::RollingBack, None) => "interrupted",
                    (Stage::RolledBack, _) => "rolled back automatically",
                    (_, Some(_)) => "rolled back",
                    (Stage::Completed, None) => "completed",
                };
                BackupInfo {
                    id: f.id.clone(),
                    seq: m.seq,
                    time: m.time.clone(),
                    user: m.user.clone(),
                    action: m.action.clone(),
                    restores: m.restores.clone(),
                    status: status.to_string(),
                    rolled_back_by: by,
                    damaged: None,
                    files: m.files.iter().map(|r| r.path.clone()).collect(),
                }
            }
            Err(why) => BackupInfo {
                id: f.id.clone(),
                seq: 0,
                time: String::new(),
                user: String::new(),
                action: String::new(),
                restores: None,
                status: "damaged".to_string(),
                rolled_back_by: None,
                damaged: Some(why.clone()),
                files: Vec::new(),
            },
        })
        .collect())
}

/// Restore the set `id` (default: the latest) as the user from the environment
/// (see [`super::Actor::from_env`]).
pub fn restore(root: &DeviceRoot, id: Option<&str>) -> Result<RestoreReport> {
    restore_as(root, id, &super::Actor::from_env().user)
}

/// Restore every file of the set `id` (default: the latest completed apply not rolled back
/// yet) byte-identical with its mode and owner, remove files and (empty) directories that did
/// not exist then, and restore directory modes. First makes a new set of the current state,
/// recorded as made by `user`.
///
/// Runs no commands and records none as pending: for callers that restart nothing
/// (`edgeprep rollback` goes through [`super::recover::rollback`], which does). Does not write
/// the audit log: the caller knows the whole story (see [`super::audit`]).
pub fn restore_as(root: &DeviceRoot, id: Option<&str>, user: &str) -> Result<RestoreReport> {
    let set = select_for_rollback(root, id)?;
    let (report, before) = restore_files(root, &set, user, &[])?;
    write_journal(
        &before.dir,
        &Journal { stage: Stage::Completed, commands: Vec::new(), commands_done: 0, rerun: 0 },
    )?;
    Ok(report)
}

/// The set a rollback restores: `id`, or else the latest apply that was not rolled back
/// (a completed one, or one a crash interrupted). Order is the sets' sequence numbers, not
/// the clock. A damaged set is refused with the reason; others stay usable.
pub(crate) fn select_for_rollback(root: &DeviceRoot, id: Option<&str>) -> Result<BackupSet> {
    let found = scan(root)?;
    let usable = || found.iter().filter(|f| f.loaded.is_ok()).map(|f| f.id.as_str()).collect::<Vec<_>>();
    match id {
        None => found
            .iter()
            .rev()
            .filter_map(|f| f.usable().map(|(set, journal)| (set, stage_of(journal))))
            .find(|(set, stage)| {
                set.manifest.action == "apply"
                    && *stage != Stage::RolledBack
                    && rolled_back_by(&found, &set.id).is_none()
            })
            .map(|(set, _)| set)
            .ok_or_else(|| {
                input_error(format!(
                    "there is no apply left to roll back in {} (see `edgeprep rollback --list`; give a set id to restore a particular one)",
                    backups_dir(root).display()
                ))
            }),
        Some(id) => match found.iter().find(|f| f.id == id) {
            Some(f) => match (&f.loaded, f.usable()) {
                (_, Some((set, _))) => Ok(set),
                (Err(why), _) => Err(input_error(format!("backup set `{id}` is damaged and cannot be restored: {why}"))),
                (Ok(_), None) => Err(input_error(format!("backup set `{id}` cannot be restored"))),
            },
            None if found.is_empty() => Err(input_error(format!(
                "there is no backup set `{id}`: there are no backup sets in {}",
                backups_dir(root).display()
            ))),
            None => Err(input_error(format!("there is no backup set `{id}`; available: {}", usable().join(", ")))),
        },
    }
}

/// Restore `set` after making the new set of the current state (its journal lists `commands`,
/// to run after the files, and ends at [`Stage::FilesWritten`]). Returns that new set.
pub(crate) fn restore_files(
    root: &DeviceRoot,
    set: &BackupSet,
    user: &str,
    commands: &[JournalCommand],
) -> Result<(RestoreReport, BackupSet)> {
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
    let lines: Vec<String> = commands.iter().map(|c| c.planned().display()).collect();
    let before = create_set(
        root,
        &NewSet {
            user,
            action: "rollback",
            restores: Some(&set.id),
            commands: &lines,
            journal: commands,
            files: &files,
            dirs: &dirs,
        },
    )?;

    if let Err(err) = restore_contents(root, &set.manifest, &contents) {
        // Put back what was there before this restore rather than leave a mix of both.
        let undo = load_stored(&before).and_then(|c| restore_contents(root, &before.manifest, &c));
        let err = err.context(format!("could not restore backup set {}", set.id));
        return Err(match undo {
            Ok(()) => {
                let _ = write_journal(
                    &before.dir,
                    &Journal {
                        stage: Stage::RolledBack,
                        commands: commands.to_vec(),
                        commands_done: 0,
                        rerun: 0,
                    },
                );
                err.context(format!("the files were put back as they were (backup set {})", before.id))
            }
            Err(undo_err) => err.context(NotRestored {
                backup: before.id.clone(),
                reason: format!(
                    "putting the files back as they were before this rollback also failed: {undo_err:#}"
                ),
            }),
        });
    }
    write_journal(
        &before.dir,
        &Journal { stage: Stage::FilesWritten, commands: commands.to_vec(), commands_done: 0, rerun: 0 },
    )?;
    Ok((RestoreReport { restored_from: set.id.clone(), files, backup: before.id.clone() }, before))
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
    use std::os::unix::fs::MetadataExt;

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

    fn file(path: &str, mode: u32) -> FileRecord {
        FileRecord {
            path: path.into(),
            existed: true,
            mode: Some(mode),
            uid: Some(0),
            gid: Some(0),
            stored: Some("000-x".into()),
            sha256: Some("00".into()),
            link: None,
        }
    }

    fn manifest(files: Vec<FileRecord>, dirs: Vec<DirRecord>) -> Manifest {
        Manifest {
            version: MANIFEST_VERSION,
            id: "x".into(),
            seq: 1,
            time: String::new(),
            user: String::new(),
            action: "apply".into(),
            restores: None,
            commands: Vec::new(),
            files,
            dirs,
        }
    }

    #[test]
    fn manifests_may_only_name_normalized_managed_paths() {
        for good in [
            "/etc/aziot/config.toml",
            "/etc/systemd/system/docker.service.d/edgeprep-proxy.conf",
            "/var/aziot/secrets/edge-ca.key.pem",
            "/usr/local/share/ca-certificates/edgeprep-trust-bundle.crt",
            "/etc/edgeprep/new-file-nobody-planned-yet",
        ] {
            assert!(validate_manifest(&manifest(vec![file(good, 0o600)], vec![])).is_ok(), "{good}");
        }
        for bad in [
            "/etc/aziot/../shadow",
            "/etc/aziot/./config.toml",
            "/etc//aziot/config.toml",
            "etc/aziot/config.toml",
            "/etc/aziot/config.toml/",
            "/etc/aziot/conf\nig",
            "/etc/aziot/conf\0ig",
            "/etc/sudoers",
            "/etc/aziotx/config.toml",
            "/var/lib/edgeprep/backups/other/manifest.json",
            "/",
        ] {
            assert!(validate_manifest(&manifest(vec![file(bad, 0o600)], vec![])).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn manifests_with_set_id_file_modes_are_refused() {
        assert!(validate_manifest(&manifest(vec![file("/etc/aziot/x", 0o4755)], vec![])).is_err());
        assert!(validate_manifest(&manifest(vec![file("/etc/aziot/x", 0o2755)], vec![])).is_err());
        assert!(validate_manifest(&manifest(vec![file("/etc/aziot/x", 0o755)], vec![])).is_ok());
    }

    #[test]
    fn a_link_may_point_anywhere_normalized_inside_the_root_but_nowhere_else() {
        let linked = |text: &str, target: &str| {
            let mut record = file("/etc/aziot/config.toml", 0o600);
            record.link = Some(LinkRecord { text: text.into(), target: target.into() });
            validate_manifest(&manifest(vec![record], vec![]))
        };
        assert!(linked("/opt/image/config.toml", "/opt/image/config.toml").is_ok());
        assert!(linked("../../opt/image/config.toml", "/opt/image/config.toml").is_ok());
        assert!(linked("x", "/../../etc/shadow").is_err());
        assert!(linked("x", "/opt//image").is_err());
        assert!(linked("x", "/var/lib/edgeprep/backups/1/manifest.json").is_err());
        assert!(linked("a\nb", "/opt/image/config.toml").is_err());
        assert!(linked("", "/opt/image/config.toml").is_err());
    }

    #[test]
    fn ancestors_of_managed_dirs_are_allowed_only_where_restoring_them_is_harmless() {
        let dir = |existed: bool, mode: u32, uid: u32| DirRecord {
            path: "/etc".into(),
            existed,
            mode: existed.then_some(mode),
            uid: existed.then_some(uid),
            gid: existed.then_some(uid),
        };
        assert!(validate_manifest(&manifest(vec![], vec![dir(false, 0, 0)])).is_ok());
        assert!(validate_manifest(&manifest(vec![], vec![dir(true, 0o755, 0)])).is_ok());
        assert!(validate_manifest(&manifest(vec![], vec![dir(true, 0o777, 0)])).is_err());
        assert!(validate_manifest(&manifest(vec![], vec![dir(true, 0o755, 1000)])).is_err());
        let usr = DirRecord { path: "/usr/bin".into(), existed: false, mode: None, uid: None, gid: None };
        assert!(validate_manifest(&manifest(vec![], vec![usr])).is_err());
    }

    #[test]
    fn directories_made_for_an_answers_host_storage_may_lie_outside_the_managed_trees() {
        let dir = |path: &str, existed: bool, mode: u32, uid: u32| DirRecord {
            path: path.into(),
            existed,
            mode: existed.then_some(mode),
            uid: existed.then_some(uid),
            gid: existed.then_some(uid),
        };
        // Created by apply (rollback removes them while empty), or root's and not writable by
        // others (the record a rollback makes of them).
        for record in [dir("/data", false, 0, 0), dir("/data/edge-agent", true, 0o755, 0)] {
            assert!(validate_manifest(&manifest(vec![], vec![record])).is_ok());
        }
        // Not where an answer may put it, or not harmless to restore.
        for record in [
            dir("/usr/local/agent", false, 0, 0),
            dir("/tmp/agent", false, 0, 0),
            dir("/data/edge-agent", true, 0o777, 0),
            dir("/data/edge-agent", true, 0o755, 13622),
        ] {
            assert!(validate_manifest(&manifest(vec![], vec![record])).is_err());
        }
    }
}
