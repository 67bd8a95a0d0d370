//! Plain-text rendering of inspection reports and status, 80 columns, ASCII markers only.
//!
//! The output is read over SSH on serial consoles and pasted into tickets, so it has no colour
//! and marks every finding with `OK`, `WARNING` or `ERROR` that survives copy and paste.

use super::inspect::{CertInfo, Report, Severity};
use super::status::EdgeCaStatus;

const WIDTH: usize = 80;

/// Word-wrap `text` to [`WIDTH`], the first line prefixed with `first`, the rest indented to
/// line up under it.
pub fn wrap(first: &str, text: &str) -> String {
    let indent = " ".repeat(first.len());
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.len() + 1 + word.len() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

fn field(out: &mut String, name: &str, value: &str) {
    out.push_str(&wrap(&format!("  {name:<12}"), value));
}

fn render_cert(out: &mut String, index: usize, info: &CertInfo) {
    let role = match index {
        0 => "Edge CA",
        _ if info.self_signed => "root",
        _ => "issuer",
    };
    out.push_str(&format!("Certificate {} ({role})\n", index + 1));
    field(out, "Subject:", &info.subject);
    field(out, "Issuer:", &info.issuer);
    field(out, "Serial:", &info.serial);
    field(out, "Not before:", &info.not_before);
    let left = if info.days_left < 0 {
        format!("{} (expired)", info.not_after)
    } else {
        format!("{} ({} days left)", info.not_after, info.days_left)
    };
    field(out, "Not after:", &left);
    field(out, "Key:", &info.key.to_string());
    let ca = match (info.is_ca, info.path_len) {
        (false, _) => "no".to_string(),
        (true, Some(n)) => format!("yes, pathlen:{n}"),
        (true, None) => "yes, no pathlen".to_string(),
    };
    field(out, "CA:", &ca);
    let usage = if info.key_usage.is_empty() { "(none)".to_string() } else { info.key_usage.join(", ") };
    field(out, "Key usage:", &usage);
    field(out, "SKI:", info.subject_key_id.as_deref().unwrap_or("(none)"));
    field(out, "AKI:", info.authority_key_id.as_deref().unwrap_or("(none)"));
    // 95 characters: split after 16 bytes so it fits.
    let (a, b) = info.sha256_fingerprint.split_at(info.sha256_fingerprint.len().min(48));
    field(out, "SHA-256:", a.trim_end_matches(':'));
    if !b.is_empty() {
        field(out, "", b);
    }
}

/// The report as text: each certificate, the chain links, the key, then the verdict.
pub fn render_report(report: &Report) -> String {
    let mut out = String::new();
    for (i, info) in report.certificates.iter().enumerate() {
        render_cert(&mut out, i, info);
        out.push('\n');
    }
    out.push_str("Chain\n");
    if report.chain.is_empty() {
        out.push_str("  (the issuer of the last certificate is not in the file)\n");
    }
    for link in &report.chain {
        let (mark, what) = if !link.names_match {
            ("ERROR", "issuer name does not match".to_string())
        } else if !link.signature_valid {
            ("ERROR", "signature does not verify".to_string())
        } else if link.subject == link.issuer {
            ("OK", "self-signed, signature verifies".to_string())
        } else {
            ("OK", "issuer matches, signature verifies".to_string())
        };
        out.push_str(&format!("  {mark:<8} {} -> {}: {what}\n", link.subject + 1, link.issuer + 1));
    }
    match report.key_matches {
        Some(true) => out.push_str("Key\n  OK       matches certificate 1\n"),
        Some(false) => out.push_str("Key\n  ERROR    does not match certificate 1\n"),
        None => {}
    }
    out.push('\n');
    if report.usable() {
        out.push_str("Verdict: OK, usable as an IoT Edge Edge CA\n");
    } else {
        out.push_str("Verdict: NOT usable as an IoT Edge Edge CA\n");
    }
    let mut sorted: Vec<_> = report.problems.iter().collect();
    sorted.sort_by_key(|p| p.severity != Severity::Error);
    for problem in sorted {
        let mark = match problem.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        };
        out.push_str(&wrap(&format!("  {mark:<9}"), &problem.message));
        out.push_str(&wrap("           fix: ", &problem.fix));
    }
    out
}

/// The status as text: the kind, the certificate looked at, and the message.
pub fn render_status(status: &EdgeCaStatus) -> String {
    let mut out = String::new();
    let kind = serde_json::to_value(status.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mark = match status.exit_code {
        0 => "OK",
        1 => "ERROR",
        _ => "WARNING",
    };
    out.push_str(&format!("Edge CA: {kind}\n"));
    if let Some(cert) = &status.cert {
        field(&mut out, "Cert:", cert);
    }
    if let Some(subject) = &status.subject {
        field(&mut out, "Subject:", subject);
    }
    if let (Some(not_after), Some(days)) = (&status.not_after, status.days_left) {
        field(&mut out, "Not after:", &format!("{not_after} ({days} days left)"));
    }
    out.push_str(&wrap(&format!("{mark:<9}"), &status.message));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_lines_within_80_columns_and_indents() {
        let text = "word ".repeat(40);
        let out = wrap("  ERROR    ", &text);
        assert!(out.lines().count() > 1);
        for line in out.lines() {
            assert!(line.len() <= 80, "{line}");
        }
        assert!(out.lines().nth(1).unwrap().starts_with("           word"));
    }
}
