//! The proxy part of the plan: the same `https_proxy` for docker, aziot-edged and
//! aziot-identityd, and no other setting on the device that overrides it.
//!
//! edgeprep writes one drop-in per unit. Without credentials it carries `Environment=` lines, so
//! `iotedge check` (which reads only `Environment=`) agrees; with credentials it names a
//! root-only environment file instead. Then the effective environment of each unit is evaluated
//! ([`unit_env`]) with those files in place, and every setting edgeprep does not own that still
//! overrides the answered proxy (`docker.service.d/http-proxy.conf`, `override.conf`, an
//! uppercase `HTTPS_PROXY`, `/etc/default/docker`) is taken out of its own file, or the plan is
//! refused naming the file and line when that cannot be done safely.

use std::collections::BTreeMap;

use anyhow::Result;

use super::unit_env::{self, PROXY_VARS, Setting, UnitFiles};
use super::{FileAction, FileChange, Ownership, Plan, Visibility, secret_files};
use crate::answers::{Answers, Proxy};
use crate::device::DeviceState;
use crate::edit::dropin::{
    env_file_escape, proxy_dropin, proxy_dropin_with_env_file, proxy_env_file, remove_assignment,
};
use crate::error::input_error;
use crate::paths;

/// Which kinds of files changed, for choosing commands.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProxyOutcome {
    /// A unit file or drop-in of docker changed: daemon-reload, restart docker.
    pub docker_units: bool,
    /// An environment file docker reads changed: restart docker.
    pub docker_env: bool,
    /// A drop-in of aziot-edged or aziot-identityd changed.
    pub aziot_units: bool,
    /// An environment file of aziot-edged or aziot-identityd changed.
    pub aziot_env: bool,
}

/// The value the answers give `name` for `unit`, if they give one: the proxy URL for the
/// https/http variables in either case, the answered `no_proxy` for docker's no_proxy.
pub fn expected<'a>(unit: &str, name: &str, proxy: &'a Proxy) -> Option<&'a str> {
    match name {
        "https_proxy" | "HTTPS_PROXY" | "http_proxy" | "HTTP_PROXY" => Some(proxy.url.as_str()),
        "no_proxy" | "NO_PROXY" if unit == paths::DOCKER_UNIT => {
            proxy.no_proxy.as_deref().filter(|n| !n.is_empty())
        }
        _ => None,
    }
}

/// Does the proxy URL carry a user name or password?
pub fn has_credentials(proxy: &Proxy) -> bool {
    url::Url::parse(&proxy.url).is_ok_and(|u| u.password().is_some() || !u.username().is_empty())
}

/// One setting taken out of a file edgeprep does not own.
#[derive(Debug, Clone)]
struct Fix {
    unit: &'static str,
    path: String,
    line: usize,
    name: String,
}

/// The device files with the plan's writes laid over them.
struct Overlay<'a> {
    state: &'a DeviceState,
    /// Path → new contents (`None`: removed).
    writes: BTreeMap<String, Option<Vec<u8>>>,
}

impl UnitFiles for Overlay<'_> {
    fn file(&self, path: &str) -> Option<&[u8]> {
        match self.writes.get(path) {
            Some(written) => written.as_deref(),
            None => self.state.file(path),
        }
    }

    fn entries(&self, dir: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .state
            .dir_entries(dir)
            .iter()
            .filter(|name| self.file(&format!("{dir}/{name}")).is_some())
            .cloned()
            .collect();
        for (path, written) in &self.writes {
            if let (Some((parent, name)), Some(_)) = (path.rsplit_once('/'), written)
                && parent == dir
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        names
    }
}

impl Overlay<'_> {
    fn write(&mut self, path: &str, contents: Option<Vec<u8>>) {
        self.writes.insert(path.to_string(), contents);
    }
}

/// Plan the proxy drop-ins, their environment files, and the removal of settings that would
/// override them.
pub fn plan_proxy(state: &DeviceState, answers: &Answers, plan: &mut Plan) -> Result<ProxyOutcome> {
    let Some(proxy) = &answers.proxy else {
        return Ok(ProxyOutcome::default());
    };
    let credentials = has_credentials(proxy);
    if credentials {
        // The environment file escapes `$`, `"`, `\` and backquotes: mask that form as well.
        let escaped: Vec<String> =
            secret_files::url_passwords(&proxy.url).iter().map(|p| env_file_escape(p)).collect();
        plan.secrets.extend(escaped);
    }
    let mut overlay = Overlay { state, writes: BTreeMap::new() };
    let mut own = Vec::new();
    for unit in paths::PROXY_UNITS {
        let dropin = paths::proxy_dropin(unit);
        let env_file = paths::proxy_env_file(unit);
        if credentials {
            overlay.write(&dropin, Some(proxy_dropin_with_env_file(&env_file).into_bytes()));
            overlay.write(&env_file, Some(proxy_env_file(unit, proxy).into_bytes()));
        } else {
            overlay.write(&dropin, Some(proxy_dropin(unit, proxy).into_bytes()));
            if state.file(&env_file).is_some() {
                overlay.write(&env_file, None);
            }
        }
        own.push((unit, dropin, env_file));
    }

    let mut fixes = Vec::new();
    fix_default_docker(&mut overlay, proxy, &mut fixes)?;
    fix_unit_environments(&mut overlay, proxy, &own, &mut fixes)?;

    // Old passwords in the files being changed would otherwise show in the diff's removed lines
    // (config.toml's [agent.env] too, which the config part of the plan rewrites).
    for path in overlay.writes.keys().map(String::as_str).chain([paths::CONFIG_TOML]) {
        if let Some(before) = state.file(path) {
            plan.secrets.extend(secret_files::url_passwords(&String::from_utf8_lossy(before)));
        }
    }

    let mut outcome = ProxyOutcome::default();
    for (unit, dropin, env_file) in &own {
        let docker = *unit == paths::DOCKER_UNIT;
        if push_own_dropin(state, &overlay, unit, dropin, credentials, plan) {
            if docker { outcome.docker_units = true } else { outcome.aziot_units = true }
        }
        if push_own_env_file(state, &overlay, unit, env_file, plan) {
            if docker { outcome.docker_env = true } else { outcome.aziot_env = true }
        }
    }
    let own_paths: Vec<&String> = own.iter().flat_map(|(_, d, e)| [d, e]).collect();
    for (path, after) in &overlay.writes {
        if own_paths.contains(&path) {
            continue;
        }
        let Some(after) = after else { continue };
        let file_fixes: Vec<&Fix> = fixes.iter().filter(|f| &f.path == path).collect();
        let before = state.file(path);
        if before == Some(after.as_slice()) {
            continue;
        }
        let units: Vec<&str> = dedup(file_fixes.iter().map(|f| f.unit));
        let what: Vec<String> = file_fixes.iter().map(|f| format!("{} (line {})", f.name, f.line)).collect();
        plan.files.push(FileChange {
            path: path.clone(),
            before: before.map(<[u8]>::to_vec),
            action: FileAction::Write(after.clone()),
            ownership: None,
            holds_secrets: before.is_some_and(|b| !secret_files::url_passwords(&String::from_utf8_lossy(b)).is_empty()),
            visibility: Visibility::Diff,
            reason: format!(
                "An older proxy setting here overrides the answered proxy for {}: edgeprep takes out {} and leaves the rest of the file as it is.",
                units.join(", "),
                what.join(", ")
            ),
        });
        let is_unit_file = path.contains(".service");
        for unit in units {
            match (unit == paths::DOCKER_UNIT, is_unit_file) {
                (true, true) => outcome.docker_units = true,
                (true, false) => outcome.docker_env = true,
                (false, true) => outcome.aziot_units = true,
                (false, false) => outcome.aziot_env = true,
            }
        }
    }
    if !fixes.is_empty() {
        let places: Vec<String> =
            dedup(fixes.iter().map(|f| f.path.as_str())).into_iter().map(str::to_string).collect();
        plan.notes.push(format!(
            "Proxy settings edgeprep does not own overrode the answered proxy; they are taken out of {} so that \
             edgeprep's drop-ins are the one place the proxy is set. The backup keeps the old files.",
            places.join(", ")
        ));
    }
    if credentials {
        plan.notes.push(format!(
            "The proxy URL holds credentials, so docker, aziot-edged and aziot-identityd read it from root-only files \
             ({}, 0600) named by EnvironmentFile=, not from Environment= (which `systemctl show` prints to any user). \
             `iotedge check` reads only Environment=, so its proxy-settings check will warn that the proxies differ; \
             that warning is expected.",
            paths::proxy_env_file("*")
        ));
    }
    Ok(outcome)
}

/// Add edgeprep's drop-in for `unit` to the plan when it changes.
fn push_own_dropin(
    state: &DeviceState,
    overlay: &Overlay<'_>,
    unit: &str,
    path: &str,
    credentials: bool,
    plan: &mut Plan,
) -> bool {
    let before = state.file(path);
    let Some(after) = overlay.file(path) else { return false };
    if before == Some(after) {
        return false;
    }
    plan.files.push(FileChange {
        path: path.to_string(),
        before: before.map(<[u8]>::to_vec),
        action: FileAction::Write(after.to_vec()),
        ownership: None,
        // An older drop-in may have held the password inline: its backup stays private.
        holds_secrets: before.is_some_and(|b| !secret_files::url_passwords(&String::from_utf8_lossy(b)).is_empty()),
        visibility: Visibility::Diff,
        reason: if credentials {
            format!("The proxy for the {unit} service, read from a root-only file because the URL holds credentials.")
        } else {
            format!("The proxy for the {unit} service, identical to edgeAgent's so `iotedge check` agrees.")
        },
    });
    true
}

/// Add the root-only environment file of `unit` to the plan when it is created, changes,
/// has a looser mode than 0600 root:root, or must go because the proxy has no credentials now.
fn push_own_env_file(
    state: &DeviceState,
    overlay: &Overlay<'_>,
    unit: &str,
    path: &str,
    plan: &mut Plan,
) -> bool {
    let before = state.file(path);
    let Some(after) = overlay.file(path) else {
        if before.is_none() {
            return false;
        }
        plan.files.push(FileChange {
            path: path.to_string(),
            before: before.map(<[u8]>::to_vec),
            action: FileAction::MoveToBackup,
            ownership: None,
            holds_secrets: true,
            visibility: Visibility::Diff,
            reason: format!(
                "The {unit} proxy no longer needs a root-only file (the URL has no credentials now); the old one, with its password, leaves the device for the backup."
            ),
        });
        return true;
    };
    let wanted = Ownership { mode: secret_files::SECRET_MODE, uid: 0, gid: 0 };
    let current = state.ownership(path);
    if before == Some(after) && current == Some(wanted) {
        return false;
    }
    if let Some(current) = current.filter(|c| c.mode & !secret_files::SECRET_MODE != 0) {
        plan.notes.push(format!(
            "{path} holds the proxy password but was mode {:04o}: edgeprep makes it 0600, owned by root.",
            current.mode
        ));
    }
    plan.files.push(FileChange {
        path: path.to_string(),
        before: before.map(<[u8]>::to_vec),
        action: FileAction::Write(after.to_vec()),
        ownership: Some(wanted),
        holds_secrets: true,
        visibility: Visibility::Diff,
        reason: format!("The proxy for the {unit} service, with its password: readable by root only."),
    });
    true
}

/// `/etc/default/docker` is a shell file (`export http_proxy=...`) read by the sysvinit script
/// and, on some distributions, by docker.service through `EnvironmentFile=-`. A proxy variable
/// there that differs from the answers is taken out.
fn fix_default_docker(overlay: &mut Overlay<'_>, proxy: &Proxy, fixes: &mut Vec<Fix>) -> Result<()> {
    let path = paths::DEFAULT_DOCKER;
    let Some(bytes) = overlay.file(path) else { return Ok(()) };
    let Ok(text) = std::str::from_utf8(bytes) else { return Ok(()) };
    let mut out = String::new();
    let mut continued = false;
    let mut changed = false;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        let was_continued = continued;
        continued = body.ends_with('\\');
        let Some((name, value)) = shell_assignment(body) else {
            out.push_str(line);
            continue;
        };
        let Some(want) = expected(paths::DOCKER_UNIT, name, proxy) else {
            out.push_str(line);
            continue;
        };
        if shell_unquote(value) == Some(want) {
            out.push_str(line);
            continue;
        }
        if was_continued || continued || shell_unquote(value).is_none() {
            return Err(input_error(format!(
                "{path}:{}: sets {name} for docker to something other than the answered proxy, in a form edgeprep \
                 cannot edit safely (a continued line or shell expansion). Remove that line by hand (the proxy now \
                 comes from /etc/systemd/system/docker.service.d/{}), then re-run edgeprep",
                index + 1,
                paths::PROXY_DROPIN_NAME
            )));
        }
        fixes.push(Fix {
            unit: paths::DOCKER_UNIT,
            path: path.to_string(),
            line: index + 1,
            name: name.to_string(),
        });
        changed = true;
    }
    if changed {
        overlay.write(path, Some(out.into_bytes()));
    }
    Ok(())
}

/// `NAME=value` or `export NAME=value`, for a proxy variable name.
fn shell_assignment(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    let line = match line.strip_prefix("export") {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => line,
    };
    let (name, value) = line.split_once('=')?;
    PROXY_VARS.contains(&name).then_some((name, value))
}

/// A shell value without expansion: bare, or in single or double quotes. `None` when it holds
/// anything a shell would expand or that edgeprep does not understand.
fn shell_unquote(value: &str) -> Option<&str> {
    let value = value.trim_end();
    let unquoted = if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return (!inner.contains('\'')).then_some(inner);
    } else if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        inner
    } else {
        value
    };
    let plain = !unquoted.contains(['$', '`', '\\', '"', '\'', ';', '#', ' ', '\t']);
    plain.then_some(unquoted)
}

/// Evaluate each unit with the plan's files in place and take out, one at a time, the winning
/// assignment of every proxy variable that differs from the answers.
fn fix_unit_environments(
    overlay: &mut Overlay<'_>,
    proxy: &Proxy,
    own: &[(&'static str, String, String)],
    fixes: &mut Vec<Fix>,
) -> Result<()> {
    let is_own = |path: &str| own.iter().any(|(_, d, e)| d == path || e == path);
    // Each round removes one assignment; a device has far fewer than this.
    for _ in 0..1000 {
        let Some((unit, setting)) = first_conflict(overlay, proxy) else {
            return check_applied(overlay, proxy);
        };
        if is_own(&setting.path) {
            anyhow::bail!(
                "edgeprep's own {} does not give {unit} the answered {}: please report this",
                setting.path,
                setting.name
            );
        }
        if !setting.path.starts_with("/etc/") {
            return Err(cannot_fix(
                unit,
                &setting,
                "it is outside /etc, so it belongs to a package or to the running system and edgeprep does not edit it",
            ));
        }
        // Apply backs up and restores only the directories edgeprep manages (a tampered backup
        // must not become a way to write anywhere as root), so a site file elsewhere in /etc is
        // the technician's to change.
        if !paths::is_managed(&setting.path) {
            return Err(cannot_fix(
                unit,
                &setting,
                "it is in a file outside the directories edgeprep manages, so edgeprep does not edit it",
            ));
        }
        if !setting.editable {
            return Err(cannot_fix(
                unit,
                &setting,
                "it is written in a form edgeprep cannot edit without touching other settings (a continued line, an open quote or a % specifier)",
            ));
        }
        let after = overlay
            .file(&setting.path)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|text| remove_assignment(text, &setting));
        let Some(after) = after else {
            return Err(cannot_fix(unit, &setting, "edgeprep could not read that line back"));
        };
        overlay.write(&setting.path, Some(after.into_bytes()));
        fixes.push(Fix {
            unit,
            path: setting.path.clone(),
            line: setting.lines.0,
            name: setting.name.clone(),
        });
    }
    anyhow::bail!("too many proxy settings to take out; remove the old proxy settings by hand")
}

/// The first unit and winning assignment that differs from the answers.
fn first_conflict(files: &dyn UnitFiles, proxy: &Proxy) -> Option<(&'static str, Setting)> {
    for unit in paths::PROXY_UNITS {
        let env = unit_env::evaluate(files, unit);
        for name in PROXY_VARS {
            if let (Some(want), Some(setting)) = (expected(unit, name, proxy), env.vars.get(name))
                && setting.value != want
            {
                return Some((unit, setting.clone()));
            }
        }
    }
    None
}

/// After the fixes every unit gets the lowercase `https_proxy` of the answers; something that
/// resets the environment (an empty `Environment=` after edgeprep's drop-in) is refused.
fn check_applied(files: &dyn UnitFiles, proxy: &Proxy) -> Result<()> {
    for unit in paths::PROXY_UNITS {
        let env = unit_env::evaluate(files, unit);
        if env.get("https_proxy") != Some(proxy.url.as_str()) {
            let later: Vec<String> = env
                .files
                .iter()
                .skip_while(|p| !p.ends_with(paths::PROXY_DROPIN_NAME))
                .skip(1)
                .cloned()
                .collect();
            return Err(input_error(format!(
                "the {unit} service would still not get the answered proxy: a file read after edgeprep's drop-in \
                 clears it with an empty `Environment=` or `EnvironmentFile=` line ({}). Remove that line by hand, \
                 then re-run edgeprep",
                if later.is_empty() { "none found".to_string() } else { later.join(", ") }
            )));
        }
    }
    Ok(())
}

fn cannot_fix(unit: &str, setting: &Setting, why: &str) -> anyhow::Error {
    input_error(format!(
        "{}:{}: sets {} for the {unit} service, which overrides the answered proxy, and edgeprep cannot change it: {why}. \
         Remove that setting by hand (or override it in /etc/systemd/system/{unit}.service.d/), then re-run edgeprep",
        setting.path, setting.lines.0, setting.name
    ))
}

fn dedup<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::render_text;

    fn answers(url: &str) -> Answers {
        Answers { proxy: Some(Proxy { url: url.into(), no_proxy: None }), ..Answers::default() }
    }

    fn with_dropin(state: DeviceState, unit: &str, name: &str, text: &str) -> DeviceState {
        let dir = format!("/etc/systemd/system/{unit}.service.d");
        state.with_file(&format!("{dir}/{name}"), text).with_dir(&dir, &[name])
    }

    #[test]
    fn a_password_is_masked_in_its_env_file_form_too() {
        let mut plan = Plan::default();
        plan.secrets.push("pa$$word".into());
        plan_proxy(&DeviceState::default(), &answers("http://u:pa$$word@p:3128"), &mut plan).unwrap();
        let text = render_text(&plan);
        assert!(text.contains("/etc/edgeprep/docker-proxy.env"), "{text}");
        assert!(!text.contains("pa$$word") && !text.contains("pa\\$\\$word"), "{text}");
    }

    #[test]
    fn an_empty_environment_line_after_edgeprep_is_refused_naming_the_file() {
        let state =
            with_dropin(DeviceState::default(), "aziot-edged", "zz-reset.conf", "[Service]\nEnvironment=\n");
        let err = plan_proxy(&state, &answers("http://p:3128"), &mut Plan::default()).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT);
        let message = err.to_string();
        assert!(message.contains("aziot-edged") && message.contains("zz-reset.conf"), "{message}");
    }

    #[test]
    fn a_matching_foreign_setting_is_not_touched() {
        let state = with_dropin(
            DeviceState::default(),
            "docker",
            "http-proxy.conf",
            "[Service]\nEnvironment=\"HTTPS_PROXY=http://p:3128\"\n",
        );
        let mut plan = Plan::default();
        plan_proxy(&state, &answers("http://p:3128"), &mut plan).unwrap();
        assert!(plan.files.iter().all(|f| !f.path.ends_with("http-proxy.conf")));
        assert!(plan.notes.is_empty(), "{:?}", plan.notes);
    }

    #[test]
    fn shell_values_are_understood_only_without_expansion() {
        assert_eq!(shell_unquote("\"http://p:1\""), Some("http://p:1"));
        assert_eq!(shell_unquote("'http://p:1'"), Some("http://p:1"));
        assert_eq!(shell_unquote("http://p:1"), Some("http://p:1"));
        assert_eq!(shell_unquote("\"$http_proxy\""), None);
        assert_eq!(shell_unquote("http://p:1 # comment"), None);
        assert_eq!(shell_assignment("  export HTTPS_PROXY=x"), Some(("HTTPS_PROXY", "x")));
        assert_eq!(shell_assignment("exporthttp_proxy=x"), None);
        assert_eq!(shell_assignment("DOCKER_OPTS=x"), None);
    }
}
