//! The effects the full-screen wizard asks for, as plain functions the loop calls and tests
//! can call too: build the plan from answers, turn it into Review text, and describe what apply
//! did (in the words of `apply/render.rs`, shared with the command line).

use anyhow::Result;

use super::tui::model::{Outcome, Recovery, ReviewText};
use crate::answers::Answers;
use crate::apply::{ApplyReport, StepFailed, render};
use crate::error::{ChangedSincePlan, NeedsRoot};
use crate::plan::{Plan, render_text};

/// The plan for `answers` on the device as it is now (read again: time has passed since the
/// wizard started). The same function `edgeprep plan` uses.
pub use crate::commands::plan::make_plan_for as plan_for;

/// The plan as Review shows it: the same masked text `edgeprep plan` prints.
pub fn review_text(plan: &Plan) -> ReviewText {
    ReviewText { lines: render_text(plan).lines().map(str::to_string).collect(), empty: plan.is_empty() }
}

/// What apply did, for the Done screen: the very text `edgeprep apply` prints
/// ([`crate::apply::render`]), so both front-ends tell the same story.
pub fn outcome(result: &Result<ApplyReport>) -> Outcome {
    let mut text = Vec::new();
    let (ok, rendered) = match result {
        Ok(report) => (true, render::write_report(report, &mut text)),
        Err(err) => match err.downcast_ref::<StepFailed>() {
            Some(failed) => (false, render::write_failure(failed, &mut text)),
            None => {
                let message = format!("{err:#}\nNo file was left changed: apply puts back what it wrote.\n");
                text.extend_from_slice(message.as_bytes());
                (false, Ok(()))
            }
        },
    };
    if let Err(e) = rendered {
        // Writing into a Vec cannot fail; keep the reason visible if it ever does.
        text.extend_from_slice(format!("{e:#}").as_bytes());
    }
    let mut lines: Vec<String> = String::from_utf8_lossy(&text).lines().map(str::to_string).collect();
    // The wizard heads the outcome with its own "Done." / "Not applied.", in colour.
    if ok && lines.last().is_some_and(|l| l == "Done.") {
        lines.pop();
    }
    let recovery = result.as_ref().err().and_then(recovery);
    match recovery {
        Some(Recovery::Replan) => {
            lines.push("Press r to make a new plan from the device as it is now, and review it again.".into())
        }
        Some(Recovery::Sudo) => lines.push("Run the wizard again as root: sudo edgeprep".into()),
        None => {}
    }
    Outcome { ok, lines, recovery }
}

/// [`outcome`] of an apply that waited for its confirmation, with how the wait ended: kept,
/// or reverted in the words of `edgeprep apply --confirm`.
pub fn confirmed_outcome(
    applied: &Result<ApplyReport>,
    concluded: Option<&Result<crate::apply::confirm::Concluded>>,
) -> Outcome {
    use crate::apply::confirm::Confirmation;
    let mut out = outcome(applied);
    let backup = applied.as_ref().ok().and_then(|r| r.backup.clone()).unwrap_or_default();
    match concluded {
        None => {}
        Some(Ok(c)) if c.confirmation == Confirmation::Kept => {
            out.lines.push(format!("Kept: the changes stay (undo later with: edgeprep rollback {backup})."));
        }
        Some(Ok(c)) => {
            out.ok = false;
            out.lines.push(match c.confirmation {
                Confirmation::RevertedAfterInterrupt => {
                    "Stopped before anyone confirmed: reverted.".to_string()
                }
                _ => "Not confirmed in time: reverted.".to_string(),
            });
            let mut text = Vec::new();
            let _ = crate::commands::confirm::write_reverted(&backup, c.revert.as_ref(), &mut text);
            out.lines.extend(String::from_utf8_lossy(&text).lines().map(str::to_string));
        }
        Some(Err(err)) => {
            out.ok = false;
            out.lines.push(format!("Reverting the unconfirmed changes failed: {err:#}"));
        }
    }
    out
}

/// The typed refusals the wizard acts on, wherever they sit in the error's chain.
fn recovery(err: &anyhow::Error) -> Option<Recovery> {
    err.chain().find_map(|cause| {
        if cause.is::<ChangedSincePlan>() {
            Some(Recovery::Replan)
        } else if cause.is::<NeedsRoot>() {
            Some(Recovery::Sudo)
        } else {
            None
        }
    })
}

/// Where "create a CSR" leaves the Edge CA request on the device: a directory only root can
/// enter, since the key in it becomes the Edge CA's key once the CA has signed the request.
pub const CSR_DIR: &str = "/var/lib/edgeprep/edge-ca-request";
pub const CSR_KEY: &str = "/var/lib/edgeprep/edge-ca-request/edge-ca.key.pem";
pub const CSR_FILE: &str = "/var/lib/edgeprep/edge-ca-request/edge-ca.csr.pem";

/// Make an EC P-256 key and a CSR for `common_name` and write them on the device (key 0600 in
/// a 0700 directory, CSR 0644 beside it). Refuses when a request's key is already there: it may
/// be the one a CA is signing right now, and replacing it would make that certificate useless.
pub fn write_csr(root: &crate::root::DeviceRoot, common_name: &str) -> Result<()> {
    use crate::apply::atomic::{create_dir_all_in_root, write_in_root};
    let existing = root.symlink_metadata(CSR_KEY).map_err(|e| root.failure(CSR_KEY, &e))?;
    if existing.is_some() {
        anyhow::bail!(
            "{CSR_KEY} already exists: a request was made before (its CA may be signing it); \
             use it, or move it away to make a new one"
        );
    }
    let (key_pem, csr_pem) = crate::certs::csr::generate_csr(common_name, crate::cli::KeyType::EcP256)?;
    create_dir_all_in_root(root, std::path::Path::new(CSR_DIR), 0o700)?;
    write_in_root(root, CSR_KEY, key_pem.as_bytes(), 0o600, None)?;
    write_in_root(root, CSR_FILE, csr_pem.as_bytes(), 0o644, None)?;
    Ok(())
}

/// What Review (and `--plain`, before its question) says the confirmation will also do, since
/// the request is not part of the plan.
pub fn csr_note(common_name: &str) -> Vec<String> {
    vec![
        String::new(),
        format!(
            "Also, after apply: a new Edge CA key and certificate request (common name \"{common_name}\") \
             in {CSR_DIR}; config.toml's Edge CA is not changed."
        ),
    ]
}

/// What Done (and `--plain`) says after "create a CSR": where the request is and the exact
/// next step, or why no request was made.
pub fn csr_lines(result: &Result<(), String>) -> Vec<String> {
    match result {
        Ok(()) => vec![
            format!("Certificate request written: {CSR_FILE} (its key stays on this device)."),
            "Send the CSR to your CA. When the signed chain (Edge CA first) is back, put in an \
             answers file:"
                .to_string(),
            "  [edge_ca]".to_string(),
            "  cert = \"<signed chain>\"".to_string(),
            format!("  key = \"{CSR_KEY}\""),
            "and run: edgeprep apply --answers FILE".to_string(),
        ],
        Err(why) => vec![format!("No certificate request was made: {why}")],
    }
}

/// The live `cert inspect` verdict on Edge CA files being imported, in one line: what the
/// Edge CA step shows under the certificate field while the technician types the paths.
pub fn cert_verdict(cert: &str, key: &str, hostname: Option<&str>) -> String {
    use crate::certs::inspect::{InspectOptions, inspect_bytes};
    use crate::input_file::{MAX_CERT_BYTES, MAX_SECRET_BYTES, read_regular};
    let cert_bytes = match read_regular(std::path::Path::new(cert), MAX_CERT_BYTES) {
        Ok(bytes) => bytes,
        Err(e) => return format!("cannot read the certificate: {e}"),
    };
    let key_bytes = match key {
        "" => None,
        path => match read_regular(std::path::Path::new(path), MAX_SECRET_BYTES) {
            Ok(bytes) => Some(bytes),
            Err(e) => return format!("cannot read the key: {e}"),
        },
    };
    let opts = InspectOptions {
        now: time::OffsetDateTime::now_utc(),
        warn_days: 30,
        hostname: hostname.map(str::to_string),
        device_id: None,
    };
    let key = key_bytes.as_deref().map(|bytes| (bytes, key));
    match inspect_bytes(&cert_bytes, cert, key, &opts) {
        Err(e) => format!("not a certificate edgeprep can read: {e:#}"),
        Ok(report) => match (report.errors().next(), report.certificates.first()) {
            (Some(problem), _) => format!("not usable: {}", problem.message),
            (None, Some(first)) => {
                let name = first.common_name.as_deref().unwrap_or(&first.subject);
                let key_note = if key.is_some() { ", key matches" } else { "" };
                format!("usable: {name}, {} days left{key_note}", first.days_left)
            }
            (None, None) => "no certificate in the file".to_string(),
        },
    }
}

/// The answers as an answers file, for the next device. Without `with_secrets`, the registry
/// password, SAS key, symmetric key and proxy password are left out and a header says which,
/// so the file is safe to copy around (and asks for them before it can be used).
pub fn answers_text(answers: &Answers, with_secrets: bool) -> Result<String> {
    let mut answers = answers.clone();
    let mut left_out = Vec::new();
    if !with_secrets {
        if let Some(auth) = answers.agent.as_mut().and_then(|a| a.auth.as_mut())
            && auth.password.take().is_some()
        {
            left_out.push("[agent.auth] password (or password_file)");
        }
        if let Some(p) = answers.provisioning.as_mut() {
            if p.connection_string.take().is_some() {
                left_out.push("[provisioning] connection_string");
            }
            if p.symmetric_key.take().is_some() {
                left_out.push("[provisioning] symmetric_key");
            }
        }
        if let Some(proxy) = answers.proxy.as_mut()
            && let Ok(mut url) = url::Url::parse(&proxy.url)
            && url.password().is_some()
            && url.set_password(None).is_ok()
        {
            proxy.url = url.to_string();
            left_out.push("[proxy] url password");
        }
    }
    let mut text =
        String::from("# Answers saved by the edgeprep wizard. Use: edgeprep apply --answers FILE\n");
    if !left_out.is_empty() {
        text.push_str("# Secrets left out; add them before use:\n");
        for item in left_out {
            text.push_str(&format!("#   {item}\n"));
        }
    }
    text.push('\n');
    text.push_str(&toml::to_string(&answers)?);
    Ok(text)
}

/// Write the answers next to where edgeprep runs, readable by its owner only (0600); never
/// over an existing file. Returns the path written.
pub fn save_answers(answers: &Answers, with_secrets: bool, path: &std::path::Path) -> Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let text = answers_text(answers, with_secrets)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::parse_answers;
    use std::os::unix::fs::PermissionsExt as _;

    const DEMO: &str = include_str!("../../assets/demo/answers.toml");

    #[test]
    fn saved_answers_with_secrets_read_back_as_the_same_answers() {
        let answers = parse_answers(DEMO, "demo").unwrap();
        let text = answers_text(&answers, true).unwrap();
        assert_eq!(parse_answers(&text, "saved").unwrap(), answers);
    }

    #[test]
    fn saved_answers_without_secrets_hold_none_and_say_what_is_missing() {
        let mut answers = parse_answers(DEMO, "demo").unwrap();
        answers.proxy.as_mut().unwrap().url = "http://user:pa55word@proxy:3128".into();
        let text = answers_text(&answers, false).unwrap();
        assert!(!text.contains("demo-registry-password") && !text.contains("pa55word"), "{text}");
        assert!(
            text.contains("#   [agent.auth] password") && text.contains("#   [proxy] url password"),
            "{text}"
        );
        assert!(text.contains("http://user@proxy:3128"), "{text}");
    }

    #[test]
    fn the_cert_verdict_says_why_a_file_cannot_be_used() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        assert!(cert_verdict(missing.to_str().unwrap(), "", None).starts_with("cannot read the certificate"));
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let verdict = cert_verdict(junk.to_str().unwrap(), "", None);
        assert!(!verdict.starts_with("usable"), "{verdict}");
    }

    #[test]
    fn a_csr_request_writes_a_private_key_and_a_csr_that_parses() {
        use std::os::unix::fs::MetadataExt as _;
        use x509_parser::prelude::FromDer;
        let dir = tempfile::tempdir().unwrap();
        let root = crate::root::DeviceRoot::new(dir.path());
        write_csr(&root, "line-3 Edge CA").unwrap();
        let key = std::fs::metadata(root.path(CSR_KEY)).unwrap();
        assert_eq!(key.mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(root.path(CSR_DIR)).unwrap().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(root.path(CSR_FILE)).unwrap().mode() & 0o777, 0o644);
        let pem = std::fs::read_to_string(root.path(CSR_FILE)).unwrap();
        let blocks = crate::certs::pem::parse_blocks(&pem).unwrap();
        let (_, csr) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&blocks[0].der).unwrap();
        csr.verify_signature().unwrap();
        assert!(csr.certification_request_info.subject.to_string().contains("line-3 Edge CA"));
        assert!(std::fs::read_to_string(root.path(CSR_KEY)).unwrap().contains("BEGIN PRIVATE KEY"));
    }

    #[test]
    fn a_csr_request_never_replaces_an_existing_key() {
        let dir = tempfile::tempdir().unwrap();
        let root = crate::root::DeviceRoot::new(dir.path());
        write_csr(&root, "first").unwrap();
        let before = std::fs::read(root.path(CSR_KEY)).unwrap();
        let err = write_csr(&root, "second").unwrap_err();
        assert!(format!("{err:#}").contains(CSR_KEY), "{err:#}");
        assert_eq!(std::fs::read(root.path(CSR_KEY)).unwrap(), before);
        let lines = csr_lines(&Err(format!("{err:#}")));
        assert!(lines[0].starts_with("No certificate request was made"));
    }

    #[test]
    fn saved_answers_are_0600_and_never_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.toml");
        let answers = parse_answers(DEMO, "demo").unwrap();
        save_answers(&answers, false, &path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(save_answers(&answers, false, &path).is_err());
    }
}

#[cfg(test)]
mod recovery_tests {
    use super::*;

    #[test]
    fn a_file_changed_since_the_plan_offers_a_new_plan() {
        let err = anyhow::Error::new(ChangedSincePlan {
            path: "/etc/aziot/config.toml".into(),
            what: "was changed".into(),
        })
        .context("applying");
        let shown = outcome(&Err(err));
        assert!(!shown.ok);
        assert_eq!(shown.recovery, Some(Recovery::Replan));
        assert!(
            shown.lines.iter().any(|l| l.contains("/etc/aziot/config.toml was changed")),
            "{:?}",
            shown.lines
        );
        assert!(shown.lines.iter().any(|l| l.contains("Press r")), "{:?}", shown.lines);
    }

    #[test]
    fn an_owner_only_root_can_give_says_to_use_sudo() {
        let err = anyhow::Error::new(NeedsRoot { path: "/etc/aziot/edge-ca.pem".into(), uid: 0, gid: 0 });
        let shown = outcome(&Err(err));
        assert_eq!(shown.recovery, Some(Recovery::Sudo));
        assert!(shown.lines.iter().any(|l| l.contains("sudo edgeprep")), "{:?}", shown.lines);
    }

    #[test]
    fn another_failure_offers_nothing_it_cannot_do() {
        let shown = outcome(&Err(anyhow::anyhow!("disk full")));
        assert_eq!(shown.recovery, None);
        assert!(!shown.lines.iter().any(|l| l.contains("Press r") || l.contains("sudo")));
    }
}
