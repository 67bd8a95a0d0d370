//! edgeAgent's state on the host (`[agent] host_storage`): the bind in `createOptions`, the
//! `storageFolder` it points at, and the host directory. The rule deciding whether the state
//! is persisted lives here too, so the plan and `edgeprep check` (`host-storage`) cannot
//! disagree about what they look at.
//!
//! Ownership: the directory is created root:root 0755 and nothing else. edgeAgent 1.4's start
//! script runs as root, creates `edgeAgent/` inside `storageFolder` and hands it to UID 13622
//! (edgeagentuser) before dropping to that user, which then needs only to traverse the host
//! directory: 0755 allows that, and the agent owns its subdirectory itself. A directory that
//! exists is never emptied, chowned or chmodded, so a second apply changes nothing.

use anyhow::Result;
use toml_edit::{Array, InlineTable, Value};

use super::{DirChange, Ownership, Plan};
use crate::device::{DeviceState, DirState};
use crate::edit::ConfigToml;
use crate::error::input_error;

/// Where edgeAgent sees its host storage, the path the docs use.
pub const CONTAINER_STORAGE: &str = "/iotedge/storage";

/// Where `createOptions` keeps the binds, under `[agent.config]`.
const HOST_CONFIG: [&str; 4] = ["agent", "config", "createOptions", "HostConfig"];

/// Mode and owner of a host storage directory edgeprep creates (see the module comment).
pub const HOST_STORAGE_DIR: Ownership = Ownership { mode: 0o755, uid: 0, gid: 0 };

/// The Docker bind for `host`.
pub fn bind(host: &str) -> String {
    format!("{host}:{CONTAINER_STORAGE}")
}

/// A bind `host:container[:options]` as (host, container).
pub fn split_bind(bind: &str) -> Option<(&str, &str)> {
    let mut parts = bind.split(':');
    let host = parts.next()?;
    let container = parts.next()?;
    Some((host, container))
}

/// Whether an `[agent.env]` key is the storage folder: `iotedge check` matches it in any case
/// (`(?i)^storagefolder=`), and so does .NET's configuration in the agent.
pub fn is_storage_folder_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("storageFolder")
}

/// The bind that persists edgeAgent's state, by `iotedge check`'s rule
/// (storage-mounted-from-host): the state lives in `<storageFolder or /tmp>/edgeAgent` and is
/// persisted when that path starts with a bind's container side. Returns that state path and
/// the matching bind's (host, container).
pub fn persisted_by<'a>(
    storage_folder: Option<&str>,
    binds: &'a [String],
) -> (String, Option<(&'a str, &'a str)>) {
    let storage = format!("{}/edgeAgent", storage_folder.unwrap_or("/tmp").trim_end_matches('/'));
    let found = binds
        .iter()
        .filter_map(|b| split_bind(b))
        .find(|(_, container)| storage.starts_with(container.trim_end_matches('/')));
    (storage, found)
}

/// Put the bind for `host` into `[agent.config] createOptions.HostConfig.Binds` and point
/// `storageFolder` at it. A bind whose container side is [`CONTAINER_STORAGE`] is replaced where
/// it stands; every other bind and every other createOptions key is kept (an inline table stays
/// inline, a `[agent.config.createOptions]` table stays a table).
pub fn edit_config(doc: &mut ConfigToml, host: &str) {
    let wanted = bind(host);
    if !doc.has_table(&HOST_CONFIG[..3]) {
        // The docs' form, on one line.
        let mut binds = Array::new();
        binds.push(wanted.as_str());
        let mut host_config = InlineTable::new();
        host_config.insert("Binds", Value::Array(binds));
        let mut create_options = InlineTable::new();
        create_options.insert("HostConfig", Value::InlineTable(host_config));
        doc.set(&HOST_CONFIG[..2], "createOptions", create_options);
    } else {
        let mut binds = match doc.get(&HOST_CONFIG, "Binds") {
            Some(Value::Array(binds)) => binds,
            _ => Array::new(),
        };
        let ours = |v: &Value| {
            v.as_str()
                .and_then(split_bind)
                .is_some_and(|(_, container)| container.trim_end_matches('/') == CONTAINER_STORAGE)
        };
        let existing = binds.iter().position(ours);
        match existing {
            Some(at) => {
                let current = binds.get(at).and_then(Value::as_str).unwrap_or_default().to_string();
                // Mount options the site chose (SELinux `z`, propagation) stay; `ro` goes, since
                // edgeAgent must write its state there.
                let options: Vec<&str> = current
                    .splitn(3, ':')
                    .nth(2)
                    .map(|o| o.split(',').filter(|o| !o.is_empty() && *o != "ro").collect())
                    .unwrap_or_default();
                let replacement = if options.is_empty() {
                    wanted.clone()
                } else {
                    format!("{wanted}:{}", options.join(","))
                };
                if current != replacement {
                    binds.replace(at, replacement.as_str());
                }
                // A second bind onto the same container path would make docker refuse to
                // create the container.
                let mut index = binds.len();
                while index > at + 1 {
                    index -= 1;
                    if binds.get(index).is_some_and(ours) {
                        binds.remove(index);
                    }
                }
            }
            None => binds.push(wanted.as_str()),
        }
        doc.set(&HOST_CONFIG, "Binds", binds);
    }
    let env = ["agent", "env"];
    let spellings: Vec<String> = doc.keys(&env).into_iter().filter(|k| is_storage_folder_key(k)).collect();
    if spellings.is_empty() {
        doc.set(&env, "storageFolder", CONTAINER_STORAGE);
    }
    for key in spellings {
        doc.set(&env, &key, CONTAINER_STORAGE);
    }
}

/// The host directory: created when missing (with its missing parents), refused when
/// something else is in the way, left exactly as it is when it exists.
pub fn plan_dir(state: &DeviceState, host: &str, plan: &mut Plan) -> Result<()> {
    match state.answer_dir(host) {
        DirState::Dir(_) => {}
        DirState::NotADirectory => {
            return Err(input_error(format!(
                "[agent] host_storage = \"{host}\": something that is not a directory is at that path on the device; \
                 move it away, or choose another directory for host_storage"
            )));
        }
        DirState::Missing => {
            plan.dirs.push(DirChange { path: host.to_string(), ownership: HOST_STORAGE_DIR });
            plan.notes.push(format!(
                "{host} is created root:root 0755 for edgeAgent's state: the agent's start script creates edgeAgent/ \
                 in it and gives that to its own user (UID 13622), which only needs to pass through {host}."
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edited(text: &str, host: &str) -> String {
        let mut doc = ConfigToml::parse(text, "config.toml").unwrap();
        edit_config(&mut doc, host);
        doc.render()
    }

    fn agent(text: &str) -> toml::Value {
        text.parse::<toml::Table>().unwrap()["agent"].clone()
    }

    const AGENT: &str = "[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"\n";

    #[test]
    fn without_create_options_the_docs_inline_form_is_added() {
        let after = edited(AGENT, "/var/lib/edgeprep/edge-agent");
        assert!(
            after.contains("createOptions = { HostConfig = { Binds = [\"/var/lib/edgeprep/edge-agent:/iotedge/storage\"] } }\n"),
            "{after}"
        );
        assert!(after.contains("[agent.env]\nstorageFolder = \"/iotedge/storage\"\n"), "{after}");
        assert!(after.starts_with(AGENT), "{after}");
    }

    #[test]
    fn an_inline_create_options_keeps_its_other_keys_and_binds_byte_for_byte() {
        let text = format!(
            "{AGENT}createOptions = {{ Env = [\"A=1\"], HostConfig = {{ Binds = [\"/srv/a:/a:ro\", \"/old:/iotedge/storage\", \"/b:/b\"], Privileged = false }} }}\n"
        );
        let after = edited(&text, "/data/agent");
        assert_eq!(
            after.lines().find(|l| l.starts_with("createOptions")).unwrap(),
            "createOptions = { Env = [\"A=1\"], HostConfig = { Binds = [\"/srv/a:/a:ro\", \"/data/agent:/iotedge/storage\", \"/b:/b\"], Privileged = false } }"
        );
    }

    #[test]
    fn a_create_options_table_is_edited_in_place() {
        let text = format!(
            "{AGENT}\n[agent.config.createOptions]\n# ours\nLabels = {{ site = \"plant-7\" }}\n\n[agent.config.createOptions.HostConfig]\nBinds = [\n  \"/srv/a:/a\",  # keep\n  \"/x:/iotedge/storage/\",\n]\nMemory = 536870912\n"
        );
        let after = edited(&text, "/data/agent");
        assert!(after.contains("# ours\nLabels = { site = \"plant-7\" }\n"), "{after}");
        assert!(after.contains("\"/srv/a:/a\",  # keep\n"), "{after}");
        assert!(after.contains("\"/data/agent:/iotedge/storage\""), "{after}");
        assert!(!after.contains("/x:/iotedge"), "{after}");
        assert!(after.contains("Memory = 536870912\n"), "{after}");
        let a = agent(&after);
        assert_eq!(a["config"]["createOptions"]["HostConfig"]["Binds"].as_array().unwrap().len(), 2);
        assert_eq!(a["config"]["createOptions"]["Labels"]["site"].as_str(), Some("plant-7"));
    }

    #[test]
    fn a_create_options_table_without_host_config_gets_one() {
        let text = format!("{AGENT}\n[agent.config.createOptions]\nLabels = {{ a = \"b\" }}\n");
        let a = agent(&edited(&text, "/data/agent"));
        assert_eq!(
            a["config"]["createOptions"]["HostConfig"]["Binds"][0].as_str(),
            Some("/data/agent:/iotedge/storage")
        );
        assert_eq!(a["config"]["createOptions"]["Labels"]["a"].as_str(), Some("b"));
    }

    #[test]
    fn the_replaced_binds_mount_options_are_kept_but_read_only() {
        let text = format!(
            "{AGENT}createOptions = {{ HostConfig = {{ Binds = [\"/old:/iotedge/storage:z\"] }} }}\n"
        );
        let once = edited(&text, "/data/agent");
        assert!(once.contains("Binds = [\"/data/agent:/iotedge/storage:z\"]"), "{once}");
        assert_eq!(edited(&once, "/data/agent"), once);
        let text = format!(
            "{AGENT}createOptions = {{ HostConfig = {{ Binds = [\"/old:/iotedge/storage:ro,z\", \"/c:/c:ro\"] }} }}\n"
        );
        assert!(edited(&text, "/data/agent").contains("[\"/data/agent:/iotedge/storage:z\", \"/c:/c:ro\"]"));
        let text = format!(
            "{AGENT}createOptions = {{ HostConfig = {{ Binds = [\"/old:/iotedge/storage:ro\"] }} }}\n"
        );
        assert!(edited(&text, "/data/agent").contains("[\"/data/agent:/iotedge/storage\"]"));
    }

    #[test]
    fn a_second_bind_onto_the_storage_path_is_removed() {
        let text = format!(
            "{AGENT}createOptions = {{ HostConfig = {{ Binds = [\"/a:/iotedge/storage\", \"/c:/c\", \"/b:/iotedge/storage\"] }} }}\n"
        );
        let a = agent(&edited(&text, "/data/agent"));
        let binds: Vec<&str> = a["config"]["createOptions"]["HostConfig"]["Binds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap())
            .collect();
        assert_eq!(binds, ["/data/agent:/iotedge/storage", "/c:/c"]);
    }

    #[test]
    fn another_spelling_of_storage_folder_is_updated_not_duplicated() {
        let text =
            format!("{AGENT}\n[agent.env]\nRuntimeLogLevel = \"info\"\nStorageFolder = \"/tmp/x\" # old\n");
        let after = edited(&text, "/data/agent");
        assert!(after.contains("StorageFolder = \"/iotedge/storage\" # old\n"), "{after}");
        assert!(!after.contains("storageFolder"), "{after}");
    }

    #[test]
    fn editing_twice_changes_nothing_the_second_time() {
        let once = edited(AGENT, "/data/agent");
        assert_eq!(edited(&once, "/data/agent"), once);
        let text = format!("{AGENT}\n[agent.config.createOptions.HostConfig]\nBinds = [\"/a:/a\"]\n");
        let once = edited(&text, "/data/agent");
        assert_eq!(edited(&once, "/data/agent"), once);
    }

    #[test]
    fn the_planned_config_passes_the_checks_rule() {
        let a = agent(&edited(AGENT, "/data/agent"));
        let binds: Vec<String> = a["config"]["createOptions"]["HostConfig"]["Binds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap().to_string())
            .collect();
        let (storage, found) = persisted_by(a["env"]["storageFolder"].as_str(), &binds);
        assert_eq!(storage, "/iotedge/storage/edgeAgent");
        assert_eq!(found, Some(("/data/agent", "/iotedge/storage")));
        assert_eq!(persisted_by(None, &binds).1, None, "state in /tmp/edgeAgent is not persisted");
    }

    #[test]
    fn the_directory_is_created_only_when_missing_and_something_else_there_is_refused() {
        let mut plan = Plan::default();
        plan_dir(&DeviceState::default(), "/data/agent", &mut plan).unwrap();
        assert_eq!(plan.dirs, [DirChange { path: "/data/agent".into(), ownership: HOST_STORAGE_DIR }]);
        assert!(plan.notes[0].contains("UID 13622"), "{:?}", plan.notes);

        let odd = Ownership { mode: 0o700, uid: 13622, gid: 13622 };
        let state = DeviceState::default().with_answer_dir("/data/agent", DirState::Dir(odd));
        let mut plan = Plan::default();
        plan_dir(&state, "/data/agent", &mut plan).unwrap();
        assert!(plan.dirs.is_empty() && plan.notes.is_empty());

        let state = DeviceState::default().with_answer_dir("/data/agent", DirState::NotADirectory);
        let err = plan_dir(&state, "/data/agent", &mut Plan::default()).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT);
        assert!(err.to_string().contains("[agent] host_storage = \"/data/agent\""), "{err}");
    }
}
