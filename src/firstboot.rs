//! First boot: an answers file left on the boot partition is applied once, and its secrets are
//! taken off that partition.
//!
//! A fleet image is flashed once and personalised by dropping `edgeprep.toml` (and the key or
//! password files it names) onto the card's FAT boot partition, which any reader of the card
//! can see. At first boot `edgeprep-firstboot.service` runs `edgeprep firstboot`, which:
//!
//! 1. looks for the answers file at [`CANDIDATES`] under the root, first found wins;
//! 2. does nothing when a `<file>.failed` note from an earlier attempt is beside it: a
//!    technician must read it first (and remove it to retry);
//! 3. copies the answers file and every file it names on the same partition (the answers
//!    file's directory) to [`COPY_DIR`] (0700, files 0600), rewriting the copy's paths to the
//!    copies with `toml_edit` so the rest of the file is kept as written;
//! 4. applies the copy exactly like `apply --answers COPY --yes --json` (same library code,
//!    same audit log entry) and prints its JSON (the journal keeps it);
//! 5. on success removes the answers file and the key and password files it named from the
//!    boot partition, and the copies of the key and password files (installed by then where
//!    IoT Edge reads them); on failure the apply has restored the device, the copies are removed,
//!    the boot file stays, and `<file>.failed` says why (secrets masked).
//!
//! Paths in a first-boot answers file are device paths: relative ones are taken from the
//! answers file's directory, absolute ones from the device's `/` (under `--root`). Only files
//! below the answers file's directory are copied and removed, and there no symbolic link is
//! followed (see `open_below`): whoever wrote the card must not reach other files through it.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result};
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;
use toml_edit::{DocumentMut, Item, Value};

use crate::answers::parse_answers;
use crate::apply::atomic::{
    create_dir_all_in_root, remove_dir_in_root, remove_in_root, write_in_root_replacing,
};
use crate::cli::ApplyArgs;
use crate::commands::context::Context;
use crate::error::{EXIT_OK, exit_code_for, input_error};
use crate::input_file::{self, MAX_ANSWERS_BYTES, MAX_CERT_BYTES, MAX_SECRET_BYTES};
use crate::root::{DeviceRoot, Meta};
use crate::secrets;

/// Where an answers file is looked for, in this order: the boot partition of current
/// Raspberry Pi OS and Ubuntu images, the boot partition of older Raspberry Pi OS, and a
/// place for images without a separate boot partition.
pub const CANDIDATES: [&str; 3] =
    ["/boot/firmware/edgeprep.toml", "/boot/edgeprep.toml", "/etc/edgeprep/firstboot.toml"];

/// The root-only directory that keeps the copy of the answers file and of the files it names.
pub const COPY_DIR: &str = "/var/lib/edgeprep/firstboot";
/// The answers file's copy in [`COPY_DIR`].
pub const COPY_NAME: &str = "answers.toml";
/// Mode of [`COPY_DIR`]: the copies hold keys and passwords.
pub const COPY_DIR_MODE: u32 = 0o700;
/// Mode of every copy.
pub const COPY_MODE: u32 = 0o600;
/// Appended to the answers file's name for the note a failed attempt leaves beside it.
pub const FAILED_SUFFIX: &str = ".failed";
/// Mode of the `.failed` note where the file system keeps modes.
const NOTE_MODE: u32 = 0o600;
/// Exit code: a `.failed` note from an earlier attempt blocks this one; nothing was done.
pub const EXIT_BLOCKED: i32 = 4;

/// Help text for the command's exit codes (`--help` and the man page).
pub const EXIT_CODES: &str = "\
Exit codes:
  0  applied (the answers file and its secret files were removed from the boot
     partition), or no answers file was found: nothing to do
  1  a step failed; the device was restored, the file stays, FILE.failed says why
  2  the answers file or a file it names is invalid or unreadable; nothing was
     changed, FILE.failed says why
  3  a step failed and restoring the files failed too (see the backup set named)
  4  FILE.failed from an earlier attempt is present: nothing was done; a technician
     must read it, fix the answers, and remove the note";

/// Answers keys that name a file edgeprep reads while applying: (table path, key, secret).
/// A file on the boot partition is copied; a secret one is also removed after success.
const FILE_KEYS: &[(&[&str], &str, bool)] = &[
    (&["edge_ca"], "cert", false),
    (&["edge_ca"], "key", true),
    (&["edge_ca"], "trust_bundle", false),
    (&["agent", "auth"], "password_file", true),
];

/// Answers keys whose path goes into config.toml and is read by IoT Edge at run time: such a
/// file cannot live on the boot partition, which is cleaned after the apply.
const RUNTIME_PATH_KEYS: &[(&[&str], &str)] =
    &[(&["provisioning"], "identity_cert"), (&["provisioning"], "identity_pk")];

/// A file named by the answers that lives on the boot partition.
#[derive(Debug)]
struct BootFile {
    /// Device path on the boot partition.
    from: String,
    /// The same path below the answers file's directory (plain names only), by which it is
    /// read and removed without following a link: see [`open_below`].
    below: PathBuf,
    /// Device path of the copy in [`COPY_DIR`].
    to: String,
    bytes: Vec<u8>,
    secret: bool,
}

/// The answers file read and its copy prepared, nothing written yet.
#[derive(Debug)]
struct Prepared {
    copy_text: String,
    files: Vec<BootFile>,
}

/// `edgeprep firstboot`: see the module documentation. Human messages go to stderr, the
/// apply's JSON to `out`.
pub fn run(ctx: &Context, out: &mut dyn Write) -> Result<i32> {
    let root = &ctx.root;
    let Some(file) = find(root)? else {
        eprintln!("edgeprep firstboot: no answers file at {}; nothing to do.", CANDIDATES.join(", "));
        return Ok(EXIT_OK);
    };
    let note = format!("{file}{FAILED_SUFFIX}");
    if root.symlink_metadata(&note).map_err(|e| root.failure(&note, &e))?.is_some() {
        eprintln!(
            "edgeprep firstboot: {note} exists: an earlier first-boot apply of {file} failed. Nothing was done; a technician must read the note, fix the answers, and remove {note} to try again."
        );
        return Ok(EXIT_BLOCKED);
    }
    eprintln!("edgeprep firstboot: applying {file}");
    let mut secrets = Vec::new();
    let prepared = match prepare(root, &file, &mut secrets) {
        Ok(prepared) => prepared,
        Err(err) => return failed(root, &file, &note, &[], &secrets, err_text(&err), Err(err)),
    };
    if let Err(err) = install(root, &prepared) {
        return failed(root, &file, &note, &prepared.files, &secrets, err_text(&err), Err(err));
    }
    let args =
        ApplyArgs { answers: Some(root.path(copy_path(COPY_NAME))), yes: true, json: true, confirm: None };
    let mut report = Vec::new();
    let outcome = crate::commands::apply::run(ctx, &args, &mut report);
    out.write_all(&report)?;
    out.flush()?;
    let report_text = String::from_utf8_lossy(&report).into_owned();
    match outcome {
        Ok(EXIT_OK) => {
            remove_secret_copies(root, &prepared.files);
            remove_from_boot(root, &file, &prepared.files)?;
            let removed: Vec<&str> =
                prepared.files.iter().filter(|f| f.secret).map(|f| f.from.as_str()).collect();
            eprintln!(
                "edgeprep firstboot: applied; removed {file}{} from the boot partition (the answers' copy is in {COPY_DIR})",
                removed.iter().map(|f| format!(", {f}")).collect::<String>()
            );
            Ok(EXIT_OK)
        }
        Ok(code) => failed(root, &file, &note, &prepared.files, &secrets, report_text, Ok(code)),
        Err(err) => {
            let text = format!("{}\n{report_text}", err_text(&err));
            failed(root, &file, &note, &prepared.files, &secrets, text, Err(err))
        }
    }
}

/// The first of [`CANDIDATES`] that exists under the root.
fn find(root: &DeviceRoot) -> Result<Option<String>> {
    for candidate in CANDIDATES {
        if root.symlink_metadata(candidate).map_err(|e| root.failure(candidate, &e))?.is_some() {
            return Ok(Some(candidate.to_string()));
        }
    }
    Ok(None)
}

fn copy_path(name: &str) -> String {
    format!("{COPY_DIR}/{name}")
}

fn err_text(err: &anyhow::Error) -> String {
    format!("{err:#}")
}

/// Read the answers file at the device path `file`, validate it, read the files it names on
/// its partition, and make the copy's text. `secrets` collects what the note must mask.
fn prepare(root: &DeviceRoot, file: &str, secrets: &mut Vec<String>) -> Result<Prepared> {
    let (boot_dir, name) = split_boot_path(file);
    let text = read_boot(root, &boot_dir, Path::new(&name), file, MAX_ANSWERS_BYTES)?;
    let text = String::from_utf8(text)
        .map_err(|_| input_error(format!("the answers file {file}: is not UTF-8 text; save it as UTF-8")))?;
    // The same validation as `apply` (line and column in messages), before anything is copied.
    let answers = parse_answers(&text, file)?;
    secrets.extend(answers.secrets());
    let mut doc = text
        .parse::<DocumentMut>()
        .map_err(|e| input_error(format!("the answers file {file}: not valid TOML ({e})")))?;

    for (table, key) in RUNTIME_PATH_KEYS {
        if let Some(value) = string_at(&mut doc, table, key) {
            let path = value.as_str().unwrap_or_default();
            let device = device_path(&boot_dir, path.strip_prefix("file://").unwrap_or(path));
            if device.starts_with(&boot_dir) {
                return Err(input_error(format!(
                    "{file}: [{}] {key} = \"{}\" is on the boot partition, which is cleaned after the first boot, and IoT Edge reads it at run time; put it on the device (e.g. /var/aziot/secrets/) instead",
                    table.join("."),
                    path.escape_debug()
                )));
            }
        }
    }

    let mut files = Vec::new();
    for (table, key, secret) in FILE_KEYS {
        let Some(value) = string_at(&mut doc, table, key) else { continue };
        let Some(written) = value.as_str().map(str::to_string) else { continue };
        let device = device_path(&boot_dir, &written);
        let shown = device.display().to_string();
        let new_path = if let Ok(relative) = device.strip_prefix(&boot_dir) {
            let limit = if *secret { MAX_SECRET_BYTES.max(MAX_CERT_BYTES) } else { MAX_CERT_BYTES };
            let bytes = read_boot(root, &boot_dir, relative, &shown, limit).map_err(|e| {
                input_error(format!(
                    "{file}: [{}] {key} = \"{}\": {e:#}",
                    table.join("."),
                    written.escape_debug()
                ))
            })?;
            if *key == "password_file" {
                let first = String::from_utf8_lossy(&bytes).lines().next().unwrap_or_default().to_string();
                if !first.is_empty() {
                    secrets.extend(secrets::forms(&first));
                }
            }
            let name = relative.to_string_lossy().replace('/', "_");
            let to = copy_path(&name);
            // `a/b` and `a_b` (or a file named like the answers' copy) would share one copy,
            // the later overwriting the earlier: a key read as a password without a word.
            let clash =
                files.iter().find(|f: &&BootFile| f.to == to && f.from != shown).map(|f| f.from.clone());
            if let Some(other) = clash.or_else(|| (name == COPY_NAME).then(|| file.to_string())) {
                return Err(input_error(format!(
                    "{file}: [{}] {key} = \"{}\": its copy in {COPY_DIR} would be named {name}, like the copy of {other}; rename the file on the boot partition",
                    table.join("."),
                    written.escape_debug()
                )));
            }
            let host = root.path(&to);
            files.push(BootFile { from: shown, below: relative.to_path_buf(), to, bytes, secret: *secret });
            host
        } else {
            root.path(&device)
        };
        let new_text = new_path.to_str().ok_or_else(|| {
            input_error(format!("{file}: [{}] {key}: the path is not valid UTF-8", table.join(".")))
        })?;
        let decor = value.decor().clone();
        *value = Value::from(new_text);
        *value.decor_mut() = decor;
    }
    Ok(Prepared { copy_text: doc.to_string(), files })
}

/// The string value at `table.key` of the document (tables, inline tables or dotted keys).
fn string_at<'a>(doc: &'a mut DocumentMut, table: &[&str], key: &str) -> Option<&'a mut Value> {
    let mut here: &mut dyn toml_edit::TableLike = doc.as_table_mut();
    for part in table {
        here = here.get_mut(part)?.as_table_like_mut()?;
    }
    match here.get_mut(key)? {
        Item::Value(value) if value.is_str() => Some(value),
        _ => None,
    }
}

/// `written` as a device path: relative to `base`, with `.` and `..` resolved by name (never
/// above `/`), so "on the boot partition" is decided on the path as the apply will read it.
fn device_path(base: &Path, written: &str) -> PathBuf {
    let joined = base.join(written);
    let mut out = PathBuf::from("/");
    for component in joined.components() {
        match component {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The answers file's directory and its name in it.
fn split_boot_path(file: &str) -> (PathBuf, String) {
    let path = Path::new(file);
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    (dir, name)
}

/// The directory holding `below` (a path below `boot_dir` made of plain names) and the
/// file's name in it. `boot_dir` itself is resolved inside the root (root owns the
/// directories above it, and images mount or link their boot partition in different places);
/// below it, not one symbolic link is followed. The boot partition is written by whoever held
/// the card (or, for `/etc/edgeprep`, could be an ext4 directory with links in it): a link
/// there to `/home/alice` or `/etc` would otherwise make firstboot copy that account's file
/// into the device configuration and then delete it as a "secret file on the boot partition".
fn open_below(root: &DeviceRoot, boot_dir: &Path, below: &Path) -> std::io::Result<(OwnedFd, OsString)> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut names = Vec::new();
    for component in below.components() {
        match component {
            Component::Normal(name) => names.push(name.to_os_string()),
            _ => return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput)),
        }
    }
    let name = names.pop().ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut dir = root.open(boot_dir, OFlags::RDONLY | OFlags::DIRECTORY)?;
    for part in names {
        dir = rustix::fs::openat(&dir, part.as_os_str(), dir_flags, Mode::empty())?;
    }
    Ok((dir, name))
}

/// Read the file `below` the boot directory (never through a link, see [`open_below`]) with
/// `input_file`'s checks; `shown` names it in messages. Missing is an error.
fn read_boot(root: &DeviceRoot, boot_dir: &Path, below: &Path, shown: &str, limit: u64) -> Result<Vec<u8>> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let opened = open_below(root, boot_dir, below)
        .and_then(|(dir, name)| Ok(rustix::fs::openat(&dir, name.as_os_str(), flags, Mode::empty())?));
    let fd = match opened {
        Ok(fd) => fd,
        Err(e) => return Err(boot_refusal(root, shown, &e)),
    };
    input_file::read_opened(std::fs::File::from(fd), limit).map_err(|e| root.read_refusal(shown, &e))
}

/// The input error for a file on the boot partition that could not be opened.
fn boot_refusal(root: &DeviceRoot, shown: &str, err: &std::io::Error) -> anyhow::Error {
    match err.raw_os_error().map(Errno::from_raw_os_error) {
        Some(Errno::NOENT) => input_error(format!("{shown}: no such file")),
        Some(Errno::LOOP | Errno::NOTDIR) => input_error(format!(
            "{shown}: is a symbolic link, or is reached through one or through something that is not a directory; \
             firstboot takes files on the boot partition only as they are, never through a link: put the file itself there"
        )),
        _ => root.refusal(shown, err),
    }
}

/// Remove the file `below` the boot directory, reached as [`open_below`] does (the name
/// itself is unlinked, never a link's target). Already gone is fine.
fn remove_boot(root: &DeviceRoot, boot_dir: &Path, below: &Path, shown: &str) -> Result<()> {
    let (dir, name) = match open_below(root, boot_dir, below) {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(boot_refusal(root, shown, &e)),
    };
    match rustix::fs::unlinkat(&dir, name.as_os_str(), AtFlags::empty()) {
        Ok(()) => {
            rustix::fs::fsync(&dir).with_context(|| format!("could not flush the directory of {shown}"))
        }
        Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("could not remove {shown}")),
    }
}

/// Write the copies into [`COPY_DIR`] (made 0700 even if it existed), each 0600.
///
/// The apply reads the copies as root after they are written, so the directory must be one
/// only root can change: one another account owns (left by an image, or planted) is refused,
/// since its owner could swap the answers' copy for their own between write and read. Each
/// copy replaces whatever is at its name, a symlink included, instead of writing through it:
/// a link there to `/etc/shadow` would otherwise get the answers written over its target.
fn install(root: &DeviceRoot, prepared: &Prepared) -> Result<()> {
    let parent = Path::new(COPY_DIR).parent().unwrap_or(Path::new("/"));
    create_dir_all_in_root(root, parent, crate::apply::atomic::PARENT_DIR_MODE)?;
    let (dir, _) = create_dir_all_in_root(root, Path::new(COPY_DIR), COPY_DIR_MODE)?;
    let owner = Meta::of(&dir).with_context(|| format!("could not inspect {COPY_DIR}"))?.uid;
    let euid = rustix::process::geteuid().as_raw();
    if owner != euid {
        anyhow::bail!(
            "{COPY_DIR} (under {}) is owned by uid {owner}, not by uid {euid} running edgeprep: its owner could change the copies of the answers and secrets before they are applied. Nothing was copied; remove the directory (edgeprep makes it again) and retry",
            root.base().display()
        );
    }
    rustix::fs::fchmod(&dir, rustix::fs::Mode::from_raw_mode(COPY_DIR_MODE))
        .with_context(|| format!("could not make {COPY_DIR} root-only"))?;
    for file in &prepared.files {
        write_in_root_replacing(root, &file.to, &file.bytes, COPY_MODE, None)?;
    }
    write_in_root_replacing(root, &copy_path(COPY_NAME), prepared.copy_text.as_bytes(), COPY_MODE, None)
}

/// After a successful apply: the answers file and the secret files it named leave the boot
/// partition (certificates are public and stay).
fn remove_from_boot(root: &DeviceRoot, file: &str, files: &[BootFile]) -> Result<()> {
    let (boot_dir, name) = split_boot_path(file);
    for boot_file in files.iter().filter(|f| f.secret) {
        remove_boot(root, &boot_dir, &boot_file.below, &boot_file.from)?;
    }
    remove_boot(root, &boot_dir, Path::new(&name), file)
}

/// After a successful apply the key and password have been installed where IoT Edge reads
/// them (the Edge CA key under /var/aziot/secrets, the registry password in config.toml), so
/// their copies are only stale duplicates of secrets that would outlive a later rotation or
/// decommissioning: they go. The answers' copy and the certificates' stay as the record of
/// what first boot applied. A copy that cannot be removed is reported, not fatal: the apply
/// itself succeeded.
fn remove_secret_copies(root: &DeviceRoot, files: &[BootFile]) {
    for copy in files.iter().filter(|f| f.secret) {
        if let Err(e) = remove_in_root(root, &copy.to) {
            eprintln!("edgeprep firstboot: could not remove the copy {} (remove it by hand): {e:#}", copy.to);
        }
    }
}

/// A failed attempt: remove the copies (the device is as it was), leave the answers file, and
/// write `note` with `text`, masked. Returns `outcome`, so the exit code is the apply's.
fn failed(
    root: &DeviceRoot,
    file: &str,
    note: &str,
    files: &[BootFile],
    secret_list: &[String],
    text: String,
    outcome: Result<i32>,
) -> Result<i32> {
    for copy in files.iter().map(|f| f.to.clone()).chain([copy_path(COPY_NAME)]) {
        if let Err(e) = remove_in_root(root, &copy) {
            eprintln!("edgeprep firstboot: could not remove the copy {copy}: {e:#}");
        }
    }
    let _ = remove_dir_in_root(root, COPY_DIR);
    let masked = secrets::mask_known_secrets(&secrets::mask(&text, secret_list));
    let code = match &outcome {
        Ok(code) => *code,
        Err(err) => exit_code_for(err),
    };
    let body = format!(
        "edgeprep firstboot could not apply {file} (exit code {code}); the device was left as it was.\n\
         Fix the answers, then remove this note: the next boot (or `systemctl start edgeprep-firstboot`) tries again.\n\n{}\n",
        masked.trim_end()
    );
    write_note(root, note, body.as_bytes()).with_context(|| format!("could not write the note {note}"))?;
    eprintln!("edgeprep firstboot: failed; {file} stays, {note} says why");
    outcome
}

/// Write the `.failed` note beside the answers file. Not through the atomic writer: that sets
/// the mode with fchmod, which vfat (the boot partition) refuses with EPERM for a mode its
/// mount options cannot show. The note is new text about a failure, not device data, so an
/// exclusive create and fsync is enough: [`run`] only gets here when no note existed, so
/// whatever is at the name now (a link, or a hard link to another file on an ext4 boot
/// directory) was planted meanwhile and is refused rather than written through or truncated.
/// Created 0600 (vfat ignores it; elsewhere it counts): the note quotes the answers and the
/// apply's messages, masked, but masking is a safety net, not a reason to show it to all.
fn write_note(root: &DeviceRoot, note: &str, body: &[u8]) -> Result<()> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = root
        .open_with_mode(note, flags, Mode::from_raw_mode(NOTE_MODE))
        .map_err(|e| root.failure(note, &e))?;
    let mut file = std::fs::File::from(fd);
    file.write_all(body)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_paths_resolve_relative_names_and_dot_dot_by_name() {
        let base = Path::new("/boot/firmware");
        assert_eq!(device_path(base, "key.pem"), PathBuf::from("/boot/firmware/key.pem"));
        assert_eq!(device_path(base, "./certs/ca.pem"), PathBuf::from("/boot/firmware/certs/ca.pem"));
        assert_eq!(device_path(base, "../../etc/k.pem"), PathBuf::from("/etc/k.pem"));
        assert_eq!(device_path(base, "/var/aziot/k.pem"), PathBuf::from("/var/aziot/k.pem"));
        assert_eq!(device_path(base, "../../../../k"), PathBuf::from("/k"));
    }

    #[test]
    fn the_note_is_never_written_through_a_file_planted_at_its_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("boot/firmware")).unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        let victim = dir.path().join("etc/shadow");
        std::fs::write(&victim, "root:hash\n").unwrap();
        let note = "/boot/firmware/edgeprep.toml.failed";
        std::fs::hard_link(&victim, dir.path().join(note.trim_start_matches('/'))).unwrap();
        let root = DeviceRoot::new(dir.path());
        assert!(write_note(&root, note, b"failure text\n").is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root:hash\n");

        let fresh = "/boot/firmware/other.toml.failed";
        write_note(&root, fresh, b"failure text\n").unwrap();
        assert_eq!(std::fs::read_to_string(root.path(fresh)).unwrap(), "failure text\n");
    }

    #[test]
    fn rewriting_a_path_keeps_comments_and_inline_tables() {
        let mut doc: DocumentMut =
            "# top\n[edge_ca]\nkey = \"k.pem\" # the key\nagent = { auth = { password_file = \"p\" } }\n"
                .parse()
                .unwrap();
        let v = string_at(&mut doc, &["edge_ca"], "key").unwrap();
        let decor = v.decor().clone();
        *v = Value::from("/x/k.pem");
        *v.decor_mut() = decor;
        assert_eq!(
            doc.to_string(),
            "# top\n[edge_ca]\nkey = \"/x/k.pem\" # the key\nagent = { auth = { password_file = \"p\" } }\n"
        );
        let mut doc: DocumentMut = "agent = { auth = { password_file = \"p\" } }\n".parse().unwrap();
        assert!(string_at(&mut doc, &["agent", "auth"], "password_file").is_some());
    }
}
