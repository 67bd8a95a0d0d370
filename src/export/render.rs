//! The exported answers as a TOML file, with a header saying where and when it came from and
//! what it leaves out.

use anyhow::{Context, Result};

use super::Export;
use crate::answers::validate::key_label;

/// The file text: header comment, then the answers (only the sections the device has).
/// `source` says where the device is (`/`, a `--root` path, the demo); `now` is RFC 3339.
pub fn render(export: &Export, source: &str, now: &str) -> Result<String> {
    let mut text = format!(
        "# edgeprep answers exported from {source} on {now} by edgeprep {}.\n\
         # Fleet-wide settings only; prepare another device with: edgeprep apply --answers FILE\n\
         #\n\
         # Left out because they belong to one device, so each device answers them itself:\n\
         # hostname, [provisioning] (the device's identity in IoT Hub) and [edge_ca] (one Edge CA\n\
         # key must never be copied to a fleet). Add them per device, or let the wizard ask.\n\
         # A section absent below was not set on this device: each device keeps its own.\n",
        env!("CARGO_PKG_VERSION")
    );
    if export.left_out_secrets.is_empty() {
        if export.answers.secret_values().is_empty() {
            text.push_str("# This device's settings hold no secret.\n");
        } else {
            text.push_str(
                "# This file holds secrets (exported with --with-secrets): keep it readable by root only and\n\
                 # delete it once the fleet is prepared.\n",
            );
        }
    } else {
        text.push_str(
            "#\n# Secrets left out: replace every \"<FILL IN: ...>\" below. `edgeprep answers check FILE`\n\
             # refuses the file (and plan and apply refuse it) until each of these is filled in:\n",
        );
        for (key, what) in &export.left_out_secrets {
            text.push_str(&format!("#   {}: {what}\n", key_label(key)));
        }
    }
    let body = toml::to_string(&export.answers).context("writing the exported answers as TOML")?;
    if !body.trim().is_empty() {
        text.push('\n');
        text.push_str(&body);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::{Answers, Dns, Upstream, UpstreamProtocol};

    #[test]
    fn the_body_parses_back_to_the_same_answers_under_the_header() {
        let answers = Answers {
            upstream: Some(Upstream { protocol: UpstreamProtocol::MqttWs }),
            dns: Some(Dns { servers: vec!["10.0.0.2".into()] }),
            ..Answers::default()
        };
        let export = Export { answers: answers.clone(), left_out_secrets: Vec::new(), warnings: Vec::new() };
        let text = render(&export, "this device", "2026-11-27T01:50:00Z").unwrap();
        assert!(
            text.starts_with("# edgeprep answers exported from this device on 2026-11-27T01:50:00Z"),
            "{text}"
        );
        assert!(text.contains("hold no secret"), "{text}");
        assert_eq!(crate::answers::parse_answers(&text, "export.toml").unwrap(), answers);
    }

    #[test]
    fn snapshot_of_an_export_with_its_secrets_left_out() {
        let mut answers = crate::answers::parse_answers(
            "[upstream]\nprotocol = \"AmqpWs\"\n[proxy]\nurl = \"http://edge:pw@proxy:3128\"\nno_proxy = \"localhost\"\n\
             [agent]\nimage = \"contoso.azurecr.io/azureiotedge-agent:1.4.43\"\n[agent.auth]\nserver = \"contoso.azurecr.io\"\n\
             username = \"pull\"\npassword = \"pw\"\n[logging]\ndriver = \"local\"\nmax_size = \"10m\"\nmax_files = 3\n",
            "golden.toml",
        )
        .unwrap();
        let left_out_secrets = crate::export::placeholder::leave_out_secrets(&mut answers);
        let export = Export { answers, left_out_secrets, warnings: Vec::new() };
        let text = render(&export, "this device", "2026-11-27T01:50:00Z").unwrap();
        insta::assert_snapshot!(text.replace(env!("CARGO_PKG_VERSION"), "[version]"));
    }
}
