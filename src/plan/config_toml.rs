//! The config.toml part of the plan: which keys each answer sets, edited in place.

use anyhow::Result;
use toml_edit::{InlineTable, Value};

use super::{FileAction, FileChange, Ownership, Plan, Visibility};
use crate::answers::{Answers, Attestation, Provisioning, ProvisioningSource};
use crate::config_schema::{FREE_FORM_TABLES, TOP_LEVEL_KEYS};
use crate::device::DeviceState;
use crate::edit::ConfigToml;
use crate::error::input_error;
use crate::paths;

/// IoT Edge's default bootstrap agent, used when `[agent]` must be created without an image.
pub const DEFAULT_AGENT_IMAGE: &str = "mcr.microsoft.com/azureiotedge-agent:1.4";

/// The top-level key that lets (or stops) deployments ask Docker for privileges.
pub const ELEVATED: &str = "allow_elevated_docker_permissions";

/// What `allow_elevated_docker_permissions = false` does to modules (iotedge-1.4.md §1.2).
const ELEVATED_NOTE: &str = "allow_elevated_docker_permissions = false: from now on, aziot-edged creates modules \
    without Privileged and without the capabilities they add (CapAdd), and drops CHOWN and SETUID unless a module \
    adds them explicitly. A module that needs those fails or misbehaves; already running modules keep theirs until \
    they are recreated.";

/// The start of a config.toml edgeprep creates on a device without the package's template.
const MINIMAL_CONFIG: &str = "\
# Azure IoT Edge configuration (/etc/aziot/config.toml), created by edgeprep.
# Apply changes with: sudo iotedge config apply -c /etc/aziot/config.toml
";

/// What changed in config.toml, for choosing commands.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ConfigOutcome {
    pub changed: bool,
    /// `[agent]` changed: the running edgeAgent container must be recreated to see it.
    pub agent_changed: bool,
}

/// Extra config.toml edits decided elsewhere in the plan (the Edge CA section).
pub trait ConfigEdit {
    fn edit(&self, doc: &mut ConfigToml) -> Result<()>;
}

/// Plan the config.toml edits for `answers` (plus `extra`), adding a [`FileChange`] to `plan`.
pub fn plan_config(
    state: &DeviceState,
    answers: &Answers,
    extra: Option<&dyn ConfigEdit>,
    plan: &mut Plan,
) -> Result<ConfigOutcome> {
    let topics = topics(answers, extra.is_some());
    if topics.is_empty() {
        return Ok(ConfigOutcome::default());
    }
    let existing = state.text(paths::CONFIG_TOML)?;
    let (base, base_name) = match existing {
        Some(text) => (text.to_string(), paths::CONFIG_TOML),
        None => match state.text(paths::CONFIG_TEMPLATE)? {
            Some(template) => (template.to_string(), paths::CONFIG_TEMPLATE),
            None => (MINIMAL_CONFIG.to_string(), "the new config.toml"),
        },
    };
    let mut doc = ConfigToml::parse(&base, base_name)?;
    let old_hostname = existing.and(doc.get_str(&[], "hostname"));
    let was_denied = doc.get(&[], ELEVATED).and_then(|v| v.as_bool()) == Some(false);
    edit(&mut doc, answers)?;
    if let Some(extra) = extra {
        extra.edit(&mut doc)?;
    }
    let after = doc.render();
    // A file holding a secret is at most 0600 even when its contents are already right.
    let tightened = super::secret_files::config_holds_secret(&after)
        .then(|| super::secret_files::tightened(state, paths::CONFIG_TOML, "a secret", &mut plan.notes))
        .flatten();
    let content_changed = existing != Some(after.as_str());
    if content_changed {
        refuse_what_iot_edge_refuses(&after, existing.is_some())?;
    }
    if !content_changed && tightened.is_none() {
        return Ok(ConfigOutcome::default());
    }
    let agent_changed = agent_table(&base) != agent_table(&after);
    if let (Some(old), Some(new)) = (old_hostname, answers.hostname.as_deref())
        && old != new
    {
        plan.notes.push(format!(
            "The hostname changes from \"{old}\" to \"{new}\". If modules already run on this device, \
             `iotedge config apply` refuses until they are removed (it prints the command)."
        ));
    }
    if answers.allow_elevated_docker_permissions == Some(false) && !was_denied && content_changed {
        plan.notes.push(ELEVATED_NOTE.to_string());
    }
    if let (Some(wanted), Some(os)) = (answers.hostname.as_deref(), state.os_hostname.as_deref())
        && !hostname_matches_os(wanted, os)
    {
        plan.notes.push(format!(
            "hostname \"{wanted}\" is not the OS hostname \"{os}\" (nor an FQDN starting with it): `iotedge check` \
             reports this. Set the OS hostname too: sudo hostnamectl set-hostname {}",
            wanted.split('.').next().unwrap_or(wanted)
        ));
    }
    plan.files.push(FileChange {
        path: paths::CONFIG_TOML.to_string(),
        before: existing.map(|t| t.as_bytes().to_vec()),
        action: FileAction::Write(after.into_bytes()),
        ownership: existing.is_none().then_some(Ownership { mode: 0o600, uid: 0, gid: 0 }).or(tightened),
        holds_secrets: true,
        visibility: Visibility::Diff,
        reason: match existing {
            Some(_) if !content_changed => {
                "IoT Edge's configuration holds a secret and was readable beyond its owner: only its mode changes."
                    .to_string()
            }
            Some(_) => format!("IoT Edge's configuration: {}.", topics.join(", ")),
            None if base_name == paths::CONFIG_TEMPLATE => {
                format!(
                    "IoT Edge's configuration, started from the package's template: {}.",
                    topics.join(", ")
                )
            }
            None => format!("IoT Edge's configuration (new file): {}.", topics.join(", ")),
        },
    });
    Ok(ConfigOutcome { changed: content_changed, agent_changed: content_changed && agent_changed })
}

/// An answers `[provisioning]` section to copy, for the refusal below.
const PROVISIONING_EXAMPLE: &str = concat!(
    "    [provisioning]\n",
    "    source = \"manual\"\n",
    "    connection_string = \"HostName=<hub>.azure-devices.net;DeviceId=<device>;SharedAccessKey=<key>\"\n",
    "  (or source = \"dps\" with global_endpoint, id_scope, attestation and registration_id)"
);

/// Never write a config.toml `iotedge config apply` refuses: apply would run it, fail, and
/// roll everything back (exit 1) for something known before anything was written. The
/// planned file is parsed again and checked for the mistakes that are cheap to see and that
/// edgeprep's edits could leave: no `[provisioning]` (a device with only the template and
/// answers without the section), a partial `[agent]`, an `[edge_ca]` of no variant, and a
/// top-level key that landed inside a table. `existed`: the device has a config.toml, whose
/// own mistakes are its to fix.
fn refuse_what_iot_edge_refuses(after: &str, existed: bool) -> Result<()> {
    let file = paths::CONFIG_TOML;
    let table = match after.parse::<toml::Table>() {
        Ok(table) => table,
        Err(e) => {
            return Err(input_error(format!(
                "the planned {file} would not parse as TOML ({}); fix {file} on the device and re-run",
                e.message()
            )));
        }
    };
    let mut problems: Vec<String> = Vec::new();
    if !table.get("provisioning").and_then(toml::Value::as_table).is_some_and(|p| p.contains_key("source")) {
        let where_from = if existed {
            format!("{file} has no [provisioning] section with a source")
        } else {
            format!("the device has no {file} yet (at most the package's template)")
        };
        problems.push(format!(
            "{where_from} and the answers have no [provisioning] section, so the config.toml edgeprep would write \
             is one IoT Edge refuses (\"missing field `provisioning`\"). Add a [provisioning] section to the \
             answers file, for example:\n{PROVISIONING_EXAMPLE}"
        ));
    }
    if let Some(agent) = table.get("agent") {
        let missing: Vec<&str> = [
            ("name", agent.get("name")),
            ("type", agent.get("type")),
            ("config.image", agent.get("config").and_then(|c| c.get("image"))),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_none())
        .map(|(key, _)| key)
        .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "[agent] in {file} lacks {}: IoT Edge refuses a partial [agent]. Complete it in {file} \
                 (name = \"edgeAgent\", type = \"docker\", [agent.config] image = \"{DEFAULT_AGENT_IMAGE}\"), or \
                 add an [agent] section with an image to the answers",
                missing.join(", ")
            ));
        }
    }
    if let Some(edge_ca) = table.get("edge_ca").and_then(toml::Value::as_table) {
        let has = |key: &str| edge_ca.contains_key(key);
        let variant =
            has("method") || (has("cert") && has("pk")) || has("auto_generated_edge_ca_expiry_days");
        if !variant {
            let what = match (has("cert"), has("pk")) {
                (true, false) => "has cert but no pk",
                (false, true) => "has pk but no cert",
                _ => "names no certificate source",
            };
            problems.push(format!(
                "[edge_ca] in {file} {what}: IoT Edge matches it to no kind of Edge CA. Give both cert and pk in \
                 {file}, remove the section, or install an Edge CA with the answers' [edge_ca] section"
            ));
        }
    }
    let mut misplaced = Vec::new();
    misplaced_top_level_keys(&table, &mut Vec::new(), &mut misplaced);
    for (table_name, key) in misplaced {
        problems.push(format!(
            "`{key}` is inside [{table_name}] in {file}: IoT Edge would ignore it there. Move it above the first \
             table header in {file}"
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(input_error(format!(
        "refusing to write a config.toml IoT Edge would refuse (nothing was written):\n{}",
        problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
    )))
}

fn misplaced_top_level_keys(table: &toml::Table, path: &mut Vec<String>, found: &mut Vec<(String, String)>) {
    if FREE_FORM_TABLES.iter().any(|free| free.iter().copied().eq(path.iter().map(String::as_str))) {
        return;
    }
    for (key, value) in table {
        if !path.is_empty() && TOP_LEVEL_KEYS.contains(&key.as_str()) {
            found.push((path.join("."), key.clone()));
        }
        if let Some(sub) = value.as_table() {
            path.push(key.clone());
            misplaced_top_level_keys(sub, path, found);
            path.pop();
        }
    }
}

/// IoT Edge accepts the OS hostname itself, or an FQDN whose first label is the OS hostname,
/// or an IP address.
fn hostname_matches_os(wanted: &str, os: &str) -> bool {
    wanted.parse::<std::net::IpAddr>().is_ok()
        || wanted.split('.').next().is_some_and(|first| first.eq_ignore_ascii_case(os))
}

/// What config.toml sections the answers touch, in words for the review.
fn topics(answers: &Answers, edge_ca: bool) -> Vec<&'static str> {
    let mut topics = Vec::new();
    if answers.hostname.is_some() {
        topics.push("hostname");
    }
    if answers.allow_elevated_docker_permissions.is_some() {
        topics.push("elevated Docker permissions");
    }
    if answers.provisioning.is_some() {
        topics.push("provisioning");
    }
    if answers.upstream.is_some() {
        topics.push("upstream protocol");
    }
    if answers.proxy.is_some() {
        topics.push("proxy for edgeAgent");
    }
    if let Some(agent) = &answers.agent {
        if agent.image.is_some() || agent.auth.is_some() {
            topics.push("edgeAgent image and registry");
        }
        if agent.host_storage.is_some() {
            topics.push("edgeAgent host storage");
        }
    }
    if answers.image_garbage_collection.is_some() {
        topics.push("image garbage collection");
    }
    if edge_ca {
        topics.push("Edge CA");
    }
    topics
}

fn edit(doc: &mut ConfigToml, answers: &Answers) -> Result<()> {
    if let Some(hostname) = &answers.hostname {
        doc.set(&[], "hostname", hostname.as_str());
    }
    if let Some(allow) = answers.allow_elevated_docker_permissions {
        // A top-level key: the editor places it before the first table.
        doc.set(&[], ELEVATED, allow);
    }
    if let Some(provisioning) = &answers.provisioning {
        set_provisioning(doc, provisioning);
    }
    let agent_image = answers.agent.as_ref().and_then(|a| a.image.as_deref());
    let touches_agent = answers.upstream.is_some() || answers.proxy.is_some() || answers.agent.is_some();
    if touches_agent {
        ensure_agent(doc, agent_image);
    }
    if let Some(upstream) = &answers.upstream {
        doc.set(&["agent", "env"], "UpstreamProtocol", upstream.protocol.as_str());
    }
    if let Some(proxy) = &answers.proxy {
        // `iotedge check` only sees the lowercase key; a second spelling would shadow it.
        for other in ["HTTPS_PROXY", "Https_Proxy"] {
            doc.remove(&["agent", "env"], other);
        }
        doc.set(&["agent", "env"], "https_proxy", proxy.url.as_str());
    }
    if let Some(agent) = &answers.agent {
        if let Some(image) = &agent.image {
            doc.set(&["agent", "config"], "image", image.as_str());
        }
        if let Some(host) = &agent.host_storage {
            super::host_storage::edit_config(doc, host);
        }
        if let Some(auth) = &agent.auth {
            let path = ["agent", "config", "auth"];
            doc.set(&path, "serveraddress", auth.server.as_str());
            doc.set(&path, "username", auth.username.as_str());
            if let Some(password) = &auth.password {
                doc.set(&path, "password", password.as_str());
            }
        }
    }
    if let Some(gc) = &answers.image_garbage_collection {
        let path = ["image_garbage_collection"];
        if let Some(enabled) = gc.enabled {
            doc.set(&path, "enabled", enabled);
        }
        if let Some(v) = &gc.cleanup_recurrence {
            doc.set(&path, "cleanup_recurrence", v.as_str());
        }
        if let Some(v) = &gc.image_age_cleanup_threshold {
            doc.set(&path, "image_age_cleanup_threshold", v.as_str());
        }
        if let Some(v) = &gc.cleanup_time {
            doc.set(&path, "cleanup_time", v.as_str());
        }
    }
    Ok(())
}

/// A partial `[agent]` is a parse error in IoT Edge: whenever edgeprep touches it, it makes
/// sure `name`, `type` and `config.image` are there.
fn ensure_agent(doc: &mut ConfigToml, image: Option<&str>) {
    if doc.get(&["agent"], "name").is_none() {
        doc.set(&["agent"], "name", "edgeAgent");
    }
    if doc.get(&["agent"], "type").is_none() {
        doc.set(&["agent"], "type", "docker");
    }
    if doc.get(&["agent", "config"], "image").is_none() {
        doc.set(&["agent", "config"], "image", image.unwrap_or(DEFAULT_AGENT_IMAGE));
    }
}

/// Provisioning is edited in place, key by key, so the table's comments, its header and every
/// unchanged line stay. What must not survive is a key of another variant: keys of two variants
/// side by side are IoT Edge's most common parse error ("data did not match any variant of
/// untagged enum"). So every key (and sub-table) the chosen variant does not use is removed
/// first, with the comment lines attached to it, then the wanted values are set.
fn set_provisioning(doc: &mut ConfigToml, provisioning: &Provisioning) {
    let desired = provisioning_entries(provisioning);
    let entries: Vec<(&[&str], &str, Value)> =
        desired.iter().map(|(sub, key, value)| (sub.as_slice(), *key, value.clone())).collect();
    // Compared as data, so an equal table written in another style is left alone.
    let mut wanted = ConfigToml::parse("", "the desired provisioning").ok();
    if let Some(wanted) = wanted.as_mut() {
        wanted.replace_table(&["provisioning"], &entries);
    }
    if wanted.as_ref().and_then(current_provisioning).is_some_and(|w| current_provisioning(doc) == Some(w)) {
        return;
    }
    let root = ["provisioning"];
    if !doc.has_table(&root) {
        // Nothing to keep (absent, or not even a table): a fresh table, placed like any new one.
        doc.replace_table(&root, &entries);
        return;
    }
    let own_keys = |sub: &[&str]| -> Vec<&str> {
        entries.iter().filter(|(s, _, _)| *s == sub).map(|(_, key, _)| *key).collect()
    };
    let sub_tables: Vec<&str> = entries.iter().filter_map(|(sub, _, _)| sub.first().copied()).collect();
    let mut keep_at_top = own_keys(&[]);
    keep_at_top.extend(&sub_tables);
    keep_at_top.extend(optional_keys(provisioning.source));
    prune(doc, &root, &keep_at_top, &[]);
    for sub in &sub_tables {
        let path = ["provisioning", sub];
        if doc.has_table(&path) {
            // A value the variant wants may exist as a table (an issuance table where a file
            // URI now goes): that table goes too, `set` then writes the value.
            let values: Vec<&str> = own_keys(&[sub]);
            prune(doc, &path, &values, &values);
        }
    }
    for (sub, key, value) in &entries {
        let path: Vec<&str> = root.iter().chain(sub.iter()).copied().collect();
        doc.set(&path, key, value.clone());
    }
}

/// Remove from the table at `path` every key not in `keep`, and every sub-table named in
/// `values_only` (where a value goes), each with its attached comments.
fn prune(doc: &mut ConfigToml, path: &[&str], keep: &[&str], values_only: &[&str]) {
    for key in doc.keys(path) {
        let sub: Vec<&str> = path.iter().copied().chain([key.as_str()]).collect();
        let wrong_kind =
            values_only.contains(&key.as_str()) && doc.get(path, &key).is_none() && doc.has_table(&sub);
        if !keep.contains(&key.as_str()) || wrong_kind {
            doc.remove_with_comments(path, &key);
        }
    }
}

/// Keys a variant allows that the answers do not set: a user's own are kept.
fn optional_keys(source: ProvisioningSource) -> &'static [&'static str] {
    match source {
        ProvisioningSource::Manual => &[],
        ProvisioningSource::Dps => &["payload"],
    }
}

type Entry = (Vec<&'static str>, &'static str, Value);

fn provisioning_entries(p: &Provisioning) -> Vec<Entry> {
    let text = |s: &Option<String>| Value::from(s.clone().unwrap_or_default());
    let mut entries: Vec<Entry> = Vec::new();
    match p.source {
        ProvisioningSource::Manual => {
            entries.push((vec![], "source", "manual".into()));
            entries.push((vec![], "connection_string", text(&p.connection_string)));
        }
        ProvisioningSource::Dps => {
            entries.push((vec![], "source", "dps".into()));
            entries.push((vec![], "global_endpoint", text(&p.global_endpoint)));
            entries.push((vec![], "id_scope", text(&p.id_scope)));
            let att = vec!["attestation"];
            match p.attestation {
                Some(Attestation::SymmetricKey) | None => {
                    entries.push((att.clone(), "method", "symmetric_key".into()));
                    entries.push((att.clone(), "registration_id", text(&p.registration_id)));
                    let mut key = InlineTable::new();
                    key.insert("value", text(&p.symmetric_key));
                    entries.push((att, "symmetric_key", Value::InlineTable(key)));
                }
                Some(Attestation::X509) => {
                    entries.push((att.clone(), "method", "x509".into()));
                    if let Some(id) = &p.registration_id {
                        entries.push((att.clone(), "registration_id", id.as_str().into()));
                    }
                    entries.push((att.clone(), "identity_cert", file_uri(p.identity_cert.as_deref()).into()));
                    entries.push((att, "identity_pk", file_uri(p.identity_pk.as_deref()).into()));
                }
                Some(Attestation::Tpm) => {
                    entries.push((att.clone(), "method", "tpm".into()));
                    entries.push((att, "registration_id", text(&p.registration_id)));
                }
            }
        }
    }
    entries
}

/// `file:///abs/path` for a device path (already a URI when it has a scheme).
pub fn file_uri(path: Option<&str>) -> String {
    let path = path.unwrap_or_default();
    if path.contains("://") { path.to_string() } else { format!("file://{path}") }
}

fn current_provisioning(doc: &ConfigToml) -> Option<toml::Table> {
    parse_table(&doc.render())?.get("provisioning")?.as_table().cloned()
}

fn parse_table(text: &str) -> Option<toml::Table> {
    text.parse::<toml::Table>().ok()
}

fn agent_table(text: &str) -> Option<toml::Value> {
    parse_table(text)?.get("agent").cloned()
}
