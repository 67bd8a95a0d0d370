//! `edgeprep cert ...`: thin handlers that read files, call [`crate::certs`], print, and return
//! the exit code. All judging lives in `certs`, so the planner and these commands agree.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use time::OffsetDateTime;

use crate::certs::csr::generate_csr;
use crate::certs::generate::{GenerateOptions, generate_chain};
use crate::certs::inspect::{InspectOptions, inspect_chain};
use crate::certs::pem::{load_certificates, load_private_key};
use crate::certs::report::{render_report, render_status, wrap};
use crate::certs::status::edge_ca_status;
use crate::cli::{CertCsrArgs, CertGenerateArgs, CertInspectArgs, CertStatusArgs};
use crate::error::{EXIT_FAILED, EXIT_OK, input_error};
use crate::input_file::{MAX_CERT_BYTES, read_regular};
use crate::root::DeviceRoot;

/// A certificate or key named on the command line: a regular file of certificate size (a FIFO
/// or device is refused at once, exit 2).
fn read_input(path: &Path, what: &str) -> Result<Vec<u8>> {
    read_regular(path, MAX_CERT_BYTES)
        .map_err(|e| input_error(format!("{}: cannot read the {what}: {e}", path.display())))
}

/// `cert inspect FILE [--key KEY]`: judge a certificate or chain as an Edge CA.
///
/// Exit codes: 0 = usable as an Edge CA (warnings allowed); 1 = not usable (at least one
/// error, including an encrypted key); 2 = a file could not be read or is not a certificate/key.
pub fn inspect(args: &CertInspectArgs, out: &mut dyn Write) -> Result<i32> {
    let source = args.file.display().to_string();
    let ders = load_certificates(&read_input(&args.file, "certificate")?, &source)?;
    let key = match &args.key {
        Some(path) => Some(load_private_key(&read_input(path, "private key")?, &path.display().to_string())?),
        None => None,
    };
    let opts = InspectOptions {
        now: OffsetDateTime::now_utc(),
        warn_days: args.warn_days,
        hostname: args.hostname.clone(),
        device_id: args.device_id.clone(),
    };
    let report = inspect_chain(&ders, key.as_ref(), &opts)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &report).context("writing the JSON report")?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render_report(&report))?;
    }
    Ok(if report.usable() { EXIT_OK } else { EXIT_FAILED })
}

/// Names of the files `cert generate` writes, in the order they are written.
pub const ROOT_CERT_FILE: &str = "root-ca.pem";
pub const ROOT_KEY_FILE: &str = "root-ca.key.pem";
pub const EDGE_CERT_FILE: &str = "edge-ca.pem";
pub const EDGE_KEY_FILE: &str = "edge-ca.key.pem";
pub const CSR_FILE: &str = "edge-ca.csr.pem";

/// Refuse to overwrite anything unless `force`: an Edge CA key overwritten by mistake cannot
/// be recovered, and the certificate issued for it becomes useless.
fn check_free(dir: &Path, names: &[&str], force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    let existing: Vec<String> =
        names.iter().map(|n| dir.join(n)).filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
    if existing.is_empty() {
        Ok(())
    } else {
        Err(input_error(format!(
            "{} already exist(s); nothing was written. Use --force to overwrite, or choose another --out",
            existing.join(", ")
        )))
    }
}

/// Write `contents` to `path` with `mode` from the moment it is created (a key must never be
/// readable by others, not even briefly). An existing file is removed first so it cannot
/// keep a wider mode.
fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing the old {}", path.display())),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

fn create_out_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating the directory {}", dir.display()))
}

/// `cert generate --out DIR`: a root CA and an Edge CA signed by it.
///
/// Exit codes: 0 = written; 2 = a file exists (without --force), nothing written;
/// 1 = writing failed.
pub fn generate(args: &CertGenerateArgs, out: &mut dyn Write) -> Result<i32> {
    let names = [ROOT_CERT_FILE, ROOT_KEY_FILE, EDGE_CERT_FILE, EDGE_KEY_FILE];
    check_free(&args.out, &names, args.force)?;
    let chain = generate_chain(&GenerateOptions {
        common_name: args.common_name.clone(),
        days: args.days,
        key_type: args.key_type,
        now: OffsetDateTime::now_utc(),
    })?;
    create_out_dir(&args.out)?;
    let path = |name: &str| -> PathBuf { args.out.join(name) };
    write_file(&path(ROOT_CERT_FILE), &chain.root_cert_pem, 0o644)?;
    write_file(&path(ROOT_KEY_FILE), &chain.root_key_pem, 0o600)?;
    write_file(&path(EDGE_CERT_FILE), &chain.edge_chain_pem, 0o644)?;
    write_file(&path(EDGE_KEY_FILE), &chain.edge_key_pem, 0o600)?;

    let show = |name: &str| path(name).display().to_string();
    writeln!(out, "Wrote:")?;
    writeln!(out, "  {}  root CA certificate (trust bundle)", show(ROOT_CERT_FILE))?;
    writeln!(out, "  {}  root CA private key", show(ROOT_KEY_FILE))?;
    writeln!(out, "  {}  Edge CA certificate + root (full chain)", show(EDGE_CERT_FILE))?;
    writeln!(out, "  {}  Edge CA private key", show(EDGE_KEY_FILE))?;
    writeln!(out)?;
    write!(
        out,
        "{}",
        wrap(
            "IMPORTANT: ",
            &format!(
                "move the root key {} off the device and keep it offline. Anyone holding it can issue certificates your devices trust. It is only needed again to issue the next Edge CA.",
                show(ROOT_KEY_FILE)
            )
        )
    )?;
    writeln!(out)?;
    writeln!(out, "Next: put the Edge CA in an answers file")?;
    writeln!(out, "  [edge_ca]")?;
    writeln!(out, "  cert = \"{}\"", show(EDGE_CERT_FILE))?;
    writeln!(out, "  key = \"{}\"", show(EDGE_KEY_FILE))?;
    writeln!(out, "  trust_bundle = \"{}\"", show(ROOT_CERT_FILE))?;
    writeln!(out, "then run: edgeprep apply --answers FILE")?;
    Ok(EXIT_OK)
}

/// `cert csr --common-name CN --out DIR`: an Edge CA key and a CSR for an external CA.
///
/// Exit codes: 0 = written; 2 = a file exists (without --force), nothing written;
/// 1 = writing failed.
pub fn csr(args: &CertCsrArgs, out: &mut dyn Write) -> Result<i32> {
    check_free(&args.out, &[EDGE_KEY_FILE, CSR_FILE], args.force)?;
    let (key_pem, csr_pem) = generate_csr(&args.common_name, args.key_type)?;
    create_out_dir(&args.out)?;
    let key_path = args.out.join(EDGE_KEY_FILE);
    let csr_path = args.out.join(CSR_FILE);
    write_file(&key_path, &key_pem, 0o600)?;
    write_file(&csr_path, &csr_pem, 0o644)?;

    writeln!(out, "Wrote:")?;
    writeln!(out, "  {}  Edge CA private key (keep it here)", key_path.display())?;
    writeln!(out, "  {}  certificate signing request", csr_path.display())?;
    writeln!(out)?;
    write!(
        out,
        "{}",
        wrap(
            "",
            "Send only the .csr.pem file to your CA. The private key never leaves this device. The request asks for basicConstraints critical CA:TRUE, pathlen:0 and keyUsage critical digitalSignature, keyCertSign; make sure the CA issues them."
        )
    )?;
    writeln!(out)?;
    writeln!(out, "When the CA returns the certificate (with its chain), check it:")?;
    writeln!(out, "  edgeprep cert inspect <returned chain> --key {}", key_path.display())?;
    Ok(EXIT_OK)
}

/// `cert status`: which Edge CA the device uses and whether rotation is due.
///
/// Exit codes:
/// - 0 = a file-based Edge CA with more than `--warn-days` days left, or an issued Edge CA
///   (`method = "est" | "local_ca" | "self_signed"`, renewed by IoT Edge);
/// - 1 = rotation due: the file-based Edge CA has fewer than `--warn-days` days left or has
///   expired, or its certificate file is missing or unreadable;
/// - 2 = bad input: config.toml cannot be parsed, or `[edge_ca]` has the wrong shape;
/// - 3 = not production-ready: the quickstart (self-generated) Edge CA is in use, or IoT Edge
///   is not configured (no config.toml).
pub fn status(args: &CertStatusArgs, root: &DeviceRoot, out: &mut dyn Write) -> Result<i32> {
    let status = edge_ca_status(root, args.warn_days, OffsetDateTime::now_utc())?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &status).context("writing the JSON status")?;
        writeln!(out)?;
    } else {
        write!(out, "{}", render_status(&status))?;
    }
    if std::env::var_os("JOURNAL_STREAM").is_some_and(|v| !v.is_empty())
        && let Some(warning) = journal_warning(&status)
    {
        out.flush()?;
        eprintln!("{warning}");
    }
    Ok(status.exit_code)
}

/// The warning `cert status` adds when its output goes to the journal (systemd sets
/// `JOURNAL_STREAM` for a unit's stdout/stderr) and rotation is due: one line with journald's
/// `<4>` (warning) level prefix, so `journalctl -p warning` and alerting on it find it among
/// the daily timer's JSON. It names the commands; rotating stays a person's decision.
pub fn journal_warning(status: &crate::certs::status::EdgeCaStatus) -> Option<String> {
    if !status.rotation_due {
        return None;
    }
    let cert = status.cert.as_deref().unwrap_or(crate::paths::EDGE_CA_CERT);
    let when = match status.days_left {
        Some(days) if days >= 0 => format!("expires in {days} days"),
        _ => "has expired".to_string(),
    };
    Some(format!(
        "<4>edgeprep: the Edge CA {cert} {when} and IoT Edge does not renew it. To rotate: `edgeprep cert generate --out DIR` (or `edgeprep cert csr` for your PKI), put the new files in [edge_ca] of an answers file, then `edgeprep apply --answers FILE`."
    ))
}
