//! `edgeprep manifest lint`: a deployment manifest against the production checklist's
//! deployment items and the device it is meant for; with `--fix`, the safe fixes in place.
//! The report reads and serialises like `edgeprep check`'s.

use std::io::{IsTerminal, Write};

use anyhow::Result;

use super::context::Context;
use crate::checks::{Facts, render};
use crate::cli::{ManifestCommand, ManifestLintArgs};
use crate::error::input_error;
use crate::input_file::read_regular;
use crate::manifest::{DeviceFacts, MAX_MANIFEST_BYTES, Manifest, fix, rules};

/// The `--json` schema's version; bumped only when a field changes meaning or goes away.
pub const JSON_SCHEMA: &str = "edgeprep-manifest-lint/1";

pub fn run(global: &crate::cli::GlobalArgs, cmd: &ManifestCommand, out: &mut dyn Write) -> Result<i32> {
    match cmd {
        ManifestCommand::Lint(args) => lint(global, args, out),
    }
}

/// Said by `--fix` when the device's proxy URL carries a user or password.
const PROXY_NOT_WRITTEN: &str = "The device's proxy URL carries credentials, so --fix does not write it into the manifest \
(manifests end up in source control); set https_proxy on edgeAgent and edgeHub from your deployment's secrets.";

fn lint(global: &crate::cli::GlobalArgs, args: &ManifestLintArgs, out: &mut dyn Write) -> Result<i32> {
    let shown = args.file.display().to_string();
    let bytes =
        read_regular(&args.file, MAX_MANIFEST_BYTES).map_err(|e| input_error(format!("{shown}: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| input_error(format!("{shown}: is not UTF-8 text; save the manifest as UTF-8")))?;
    let mut manifest = Manifest::parse(&text, &shown)?;
    let protocol = match &args.device_protocol {
        None => None,
        Some(p) => Some(crate::answers::UpstreamProtocol::parse(p).ok_or_else(|| {
            input_error(format!("--device-protocol \"{p}\" is not one of Amqp, AmqpWs, Mqtt, MqttWs"))
        })?),
    };
    let device = device_facts(global, protocol)?;

    let mut fixed = serde_json::Value::Null;
    if args.fix {
        match fix::fixed_text(&manifest, &device, &shown)? {
            None => {
                if !args.json {
                    let why = if device.protocol.is_none() && device.proxy.is_none() {
                        ": the device's protocol and proxy are unknown (give --device-protocol, or --root with its config.toml)"
                    } else {
                        ""
                    };
                    if device.proxy.as_deref().is_some_and(fix::carries_credentials) {
                        writeln!(out, "{PROXY_NOT_WRITTEN}")?;
                    }
                    writeln!(out, "Nothing to fix safely in {shown}{why}.\n")?;
                }
            }
            Some(after) => {
                let diff = fix::diff(&manifest, &device, &after, &shown);
                if !args.json {
                    write!(out, "{diff}")?;
                    if device.proxy.as_deref().is_some_and(fix::carries_credentials) {
                        writeln!(out, "{PROXY_NOT_WRITTEN}")?;
                    }
                }
                let backup = fix::write(&args.file, &manifest, &after)?;
                if !args.json {
                    writeln!(out, "\nFixed {shown}; the original is in {}.\n", backup.display())?;
                }
                fixed = serde_json::json!({ "diff": diff, "backup": backup.display().to_string() });
                manifest = Manifest::parse(&after, &shown)?;
            }
        }
    }

    let report = rules::lint(&manifest, &device);
    if args.json {
        let mut value = render::render_json(&report);
        value["schema"] = JSON_SCHEMA.into();
        value["fixed"] = fixed;
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        write!(out, "{}", render::render_text(&report, use_colour()))?;
    }
    Ok(report.exit_code(false))
}

/// The device the manifest is for: its files under `--root` when it has a config.toml (a
/// laptop without IoT Edge has none, and then only `--device-protocol` says anything).
fn device_facts(
    global: &crate::cli::GlobalArgs,
    protocol: Option<crate::answers::UpstreamProtocol>,
) -> Result<DeviceFacts> {
    let ctx = Context::from_args(global)?;
    let facts = Facts::gather(&ctx.root, false, time::OffsetDateTime::now_utc())?;
    Ok(DeviceFacts::from_device(Some(&facts), protocol))
}

/// Colour only on a terminal, and never with NO_COLOR set to anything non-empty.
fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
