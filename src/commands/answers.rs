//! `edgeprep answers check`: validate an answers file without a device.
//! `edgeprep answers export`: the answers file of a configured device's fleet-wide settings.

use std::io::Write;
use std::path::Path;

use anyhow::{Context as _, Result};

use super::context::Context;
use crate::answers::read_answers;
use crate::answers::validate::{is_forbidden, key_label, validate};
use crate::cli::{AnswersCommand, ExportArgs, GlobalArgs};
use crate::device::DeviceState;
use crate::error::{EXIT_OK, input_error};
use crate::secrets::mask;

pub fn run(global: &GlobalArgs, cmd: &AnswersCommand, out: &mut dyn Write) -> Result<i32> {
    match cmd {
        AnswersCommand::Check { file } => {
            let answers = read_answers(file)?;
            let warnings = validate(&answers).warnings;
            // Findings never hold a secret by construction; masking again costs nothing and
            // keeps a future message from leaking one.
            let secrets = answers.secrets();
            writeln!(
                out,
                "{}: valid{}",
                printable(&file.display().to_string()),
                if warnings.is_empty() { "." } else { ", with warnings:" }
            )?;
            for warning in warnings {
                writeln!(out, "  - {}", mask(&warning.to_string(), &secrets))?;
            }
            Ok(EXIT_OK)
        }
        AnswersCommand::Export(args) => export(&Context::from_args(global)?, args, out),
    }
}

fn export(ctx: &Context, args: &ExportArgs, out: &mut dyn Write) -> Result<i32> {
    // Checked before the device is read, so a refusal costs nothing and says the fix.
    if let Some(path) = &args.output
        && !args.force
        && std::fs::symlink_metadata(path).is_ok()
    {
        return Err(input_error(format!(
            "{} exists: give another -o FILE, or --force to replace it",
            printable(&path.display().to_string())
        )));
    }
    let state = DeviceState::read(&ctx.root)?;
    let export = crate::export::export(&state, args.with_secrets)?;
    let source = if ctx.is_demo() {
        "the demo device".to_string()
    } else if ctx.root.is_host() {
        "this device".to_string()
    } else {
        format!("the device under --root {}", printable(&ctx.root.base().display().to_string()))
    };
    let now = crate::timestamp::rfc3339(time::OffsetDateTime::now_utc());
    let text = crate::export::render::render(&export, &source, &now)?;
    // Validation warnings (an unpinned image, ...) hold no secret; they go to stderr so stdout
    // stays the file.
    for warning in &export.warnings {
        eprintln!("note: {}", printable(warning));
    }
    match &args.output {
        None => out.write_all(text.as_bytes())?,
        Some(path) => {
            write_new_file(path, text.as_bytes(), args.with_secrets, args.force)?;
            eprintln!(
                "Wrote {}{}.",
                printable(&path.display().to_string()),
                if args.with_secrets { " (0600: it holds secrets)" } else { "" }
            );
        }
    }
    if !export.left_out_secrets.is_empty() {
        let keys: Vec<String> = export.left_out_secrets.iter().map(|(k, _)| key_label(k)).collect();
        eprintln!(
            "Secrets left out: fill in {} (marked \"<FILL IN: ...>\") before applying; `edgeprep answers check FILE` lists them.",
            keys.join(" and ")
        );
    }
    Ok(EXIT_OK)
}

/// Write `path` atomically: a temporary file beside it (created 0600, so a secret is never
/// readable by others even for a moment), synced, then renamed over it (or, without `replace`,
/// linked into place only if nothing is there yet, so a file created meanwhile is not lost).
fn write_new_file(path: &Path, contents: &[u8], secret: bool, replace: bool) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let shown = printable(&path.display().to_string());
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".edgeprep-export-")
        .tempfile_in(dir)
        .map_err(|e| input_error(format!("cannot write {shown}: {e}")))?;
    temp.write_all(contents).with_context(|| format!("writing {shown}"))?;
    if !secret {
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("setting the mode of {shown}"))?;
    }
    temp.as_file().sync_all().with_context(|| format!("writing {shown}"))?;
    let persisted = if replace { temp.persist(path) } else { temp.persist_noclobber(path) };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            input_error(format!("{shown} exists: give another -o FILE, or --force to replace it"))
        } else {
            input_error(format!("cannot write {shown}: {}", e.error))
        }
    })?;
    if let Ok(dir) = std::fs::File::open(dir) {
        dir.sync_all().with_context(|| format!("syncing the directory of {shown}"))?;
    }
    Ok(())
}

/// `text` with control characters escaped (`\u{1b}`): a file name is the user's to choose and
/// must not reach the terminal raw.
fn printable(text: &str) -> String {
    text.chars().map(|c| if is_forbidden(c) { c.escape_debug().to_string() } else { c.to_string() }).collect()
}
