//! `manifest lint --fix`: the fixes that cannot change what a deployment means beyond what the
//! device already does (pin `UpstreamProtocol` on both runtime modules to the device's, give
//! both the device's `https_proxy`), applied in place.
//!
//! The edit goes through the same format-preserving JSON editor as daemon.json
//! ([`crate::edit::json::DaemonJson`]), so indentation, key order and untouched keys survive and
//! the diff shows only the change. The original is kept beside the file (a manifest lives on a
//! laptop, usually in a git checkout, not on the device), and the new text replaces it
//! atomically.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};
use similar::TextDiff;

use super::{DeviceFacts, Manifest, env_value};
use crate::edit::json::DaemonJson;

/// The fixed text, or `None` when no safe fix applies (unknown device protocol and no proxy,
/// or the manifest already has both).
pub fn fixed_text(
    manifest: &Manifest,
    device: &DeviceFacts,
    path_for_errors: &str,
) -> Result<Option<String>> {
    let mut doc = DaemonJson::parse(&manifest.text, path_for_errors)?;
    for name in ["edgeAgent", "edgeHub"] {
        let env_path = manifest.env_path(name);
        let module = manifest.system_module(name);
        let mut set = |var: &str, value: &str| {
            // the variable keeps the spelling the manifest already uses
            let key = module
                .and_then(|m| m.get("env")?.as_object())
                .and_then(|env| env.keys().find(|k| k.eq_ignore_ascii_case(var)).cloned())
                .unwrap_or_else(|| var.to_string());
            let mut path: Vec<&str> = env_path.iter().map(String::as_str).collect();
            path.push(&key);
            path.push("value");
            doc.set(&path, json!(value));
        };
        if let Some(p) = device.protocol
            && module.and_then(|m| env_value(m, "UpstreamProtocol")).as_deref() != Some(p.as_str())
        {
            set("UpstreamProtocol", p.as_str());
        }
        if let Some(proxy) = &device.proxy
            && !carries_credentials(proxy)
            && module.and_then(|m| env_value(m, "https_proxy")).as_ref() != Some(proxy)
        {
            set("https_proxy", proxy);
        }
    }
    let text = doc.render();
    Ok((text != manifest.text).then_some(text))
}

/// Whether a proxy URL has a user or password in it. Such a URL is never written into a
/// manifest: manifests live in source control and on laptops, and a deployment's env values
/// are readable by anyone with access to the hub. The lint still asks for `https_proxy`.
pub fn carries_credentials(proxy: &str) -> bool {
    url::Url::parse(proxy).map_or(true, |u| !u.username().is_empty() || u.password().is_some())
}

/// The unified diff from `before` to `after`, secrets masked: registry passwords of the
/// manifest and proxy passwords may stand in the changed or the context lines.
///
/// Only the known secrets are masked, not every `"value"` field as
/// [`crate::secrets::mask_known_secrets`] does for config files: in a manifest, `env` values
/// are what the diff is about.
pub fn diff(manifest: &Manifest, device: &DeviceFacts, after: &str, name: &str) -> String {
    let text = TextDiff::from_lines(manifest.text.as_str(), after)
        .unified_diff()
        .header(name, &format!("{name} (fixed)"))
        .to_string();
    let mut forms: Vec<String> =
        secrets(manifest, device).iter().flat_map(|s| crate::secrets::forms(s)).collect();
    // longest first, so a form containing another is masked whole
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    let text = forms.into_iter().fold(text, |text, form| text.replace(&form, crate::secrets::MASK));
    mask_shared_access_keys(&text)
}

/// A module's connection string in its env (`...;SharedAccessKey=...`) is a secret too.
fn mask_shared_access_keys(text: &str) -> String {
    const MARKER: &str = "SharedAccessKey=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(MARKER) {
        let value_start = at + MARKER.len();
        out.push_str(&rest[..value_start]);
        let tail = &rest[value_start..];
        let end = tail.find([';', '"', '\\', '\n']).unwrap_or(tail.len());
        if end > 0 {
            out.push_str(crate::secrets::MASK);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Registry passwords in the manifest, and the passwords of the device's proxy and of every
/// `https_proxy` the manifest gives a module.
fn secrets(manifest: &Manifest, device: &DeviceFacts) -> Vec<String> {
    let mut out: Vec<String> = manifest
        .agent_desired()
        .and_then(|d| d.get("runtime")?.get("settings")?.get("registryCredentials")?.as_object())
        .map(|creds| {
            creds
                .values()
                .filter_map(|c| c.get("password").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let proxies = manifest
        .all_modules()
        .into_iter()
        .filter_map(|(_, module)| env_value(module, "https_proxy"))
        .chain(device.proxy.clone());
    out.extend(proxies.filter_map(|p| url::Url::parse(&p).ok()?.password().map(str::to_string)));
    out.retain(|s| !s.is_empty());
    out
}

/// Keep the original beside `path`: `FILE.bak`, else `FILE.bak.1`, `FILE.bak.2`...; an
/// existing backup is never overwritten (the file is created with `create_new`).
pub fn backup(path: &Path, original: &[u8]) -> Result<PathBuf> {
    use std::io::Write;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for n in 0..1000 {
        let candidate = if n == 0 { format!("{name}.bak") } else { format!("{name}.bak.{n}") };
        let backup = path.with_file_name(candidate);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&backup) {
            Ok(mut file) => {
                file.write_all(original)
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("could not write the backup {}", backup.display()))?;
                return Ok(backup);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(e).with_context(|| format!("could not create the backup {}", backup.display()));
            }
        }
    }
    Err(anyhow::anyhow!("{name}.bak .. {name}.bak.999 all exist; remove old backups and run again"))
}

/// Back up `path` and replace it atomically with `after` (same directory temp file, fsync,
/// rename), keeping its permission bits. Returns the backup's path.
pub fn write(path: &Path, manifest: &Manifest, after: &str) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("could not read {}", path.display()))?
        .permissions()
        .mode()
        & 0o7777;
    let backup = backup(path, manifest.text.as_bytes())?;
    crate::apply::atomic::write_file(path, after.as_bytes(), mode, None).with_context(|| {
        format!("could not write {} (the original is in {})", path.display(), backup.display())
    })?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::UpstreamProtocol;

    const ONE_LINE: &str = r#"{"modulesContent":{"$edgeAgent":{"properties.desired":{"runtime":{"settings":{"registryCredentials":{"r":{"username":"u","password":"reg-pass-1","address":"r.azurecr.io"}}}},"systemModules":{"edgeAgent":{"env":{}},"edgeHub":{"env":{}}},"modules":{"m":{"env":{"CS":{"value":"HostName=h;DeviceId=d;SharedAccessKey=c2FzLWtleQ=="}}}}}},"$edgeHub":{"properties.desired":{}}}}"#;

    #[test]
    fn a_proxy_with_credentials_is_never_written_into_a_manifest() {
        assert!(carries_credentials("http://u:p@proxy:3128"));
        assert!(carries_credentials("http://u@proxy:3128"));
        assert!(!carries_credentials("http://proxy:3128"));
        assert!(carries_credentials("not a url"), "unparsable: refuse rather than guess");
    }

    #[test]
    fn diff_of_a_one_line_manifest_masks_registry_proxy_and_sas_secrets() {
        let manifest = Manifest::parse(ONE_LINE, "m.json").unwrap();
        let device = DeviceFacts {
            protocol: Some(UpstreamProtocol::AmqpWs),
            proxy: Some("http://u:pr%40xy@p:3128".into()),
            ..DeviceFacts::default()
        };
        let after = fixed_text(&manifest, &device, "m.json").unwrap().unwrap();
        let fixed = Manifest::parse(&after, "m.json").unwrap();
        assert_eq!(
            env_value(fixed.system_module("edgeHub").unwrap(), "UpstreamProtocol").as_deref(),
            Some("AmqpWs")
        );
        let diff = diff(&manifest, &device, &after, "m.json");
        assert!(diff.contains("AmqpWs"), "{diff}");
        for secret in ["reg-pass-1", "pr%40xy", "pr@xy", "c2FzLWtleQ"] {
            assert!(!diff.contains(secret), "{secret} in {diff}");
        }
    }

    #[test]
    fn fix_keeps_the_spelling_of_an_existing_variable() {
        let text = ONE_LINE.replace(
            r#""edgeAgent":{"env":{}}"#,
            r#""edgeAgent":{"env":{"upstreamprotocol":{"value":"Mqtt"}}}"#,
        );
        let manifest = Manifest::parse(&text, "m.json").unwrap();
        let device = DeviceFacts { protocol: Some(UpstreamProtocol::AmqpWs), ..DeviceFacts::default() };
        let after = fixed_text(&manifest, &device, "m.json").unwrap().unwrap();
        assert!(after.contains(r#""upstreamprotocol":{"value":"AmqpWs"}"#), "{after}");
        // edgeAgent's variable was rewritten, not doubled; only edgeHub's is new
        assert_eq!(after.matches("UpstreamProtocol").count(), 1, "{after}");
    }
}
