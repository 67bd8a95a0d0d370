//! From the device's files to fleet-wide [`Answers`]: the inverse of what the plan writes.
//!
//! Each answer is read from the place the plan writes it (see `src/plan/`): config.toml's
//! `[agent.env]`, `[agent.config]` and `[image_garbage_collection]`, daemon.json's log and DNS
//! settings, and the proxy units' evaluated environment. Every value read is recorded with its
//! origin (file and key), so when the answers' own validators refuse it the message names the
//! device file, not an answers file that does not exist yet.
//!
//! Adding an answer is one line in [`read_fleet_answers`] with the [`Reader`] getter for where it
//! lives on the device; an answer not listed there is never exported.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::Value as Json;

use crate::answers::validate::{quoted, validate};
use crate::answers::{
    Agent, Answers, Dns, ImageGarbageCollection, LogDriver, Logging, Proxy, RegistryAuth, Upstream,
    UpstreamProtocol,
};
use crate::device::DeviceState;
use crate::edit::DaemonJson;
use crate::error::input_error;
use crate::paths;
use crate::plan::host_storage::{CONTAINER_STORAGE, is_storage_folder_key, persisted_by};
use crate::plan::unit_env;

/// The answers read, and the validators' warnings about them.
#[derive(Debug, Clone)]
pub struct ReadAnswers {
    pub answers: Answers,
    pub warnings: Vec<String>,
}

/// Read every fleet-wide answer the device has. Per-device ones (hostname, provisioning, Edge
/// CA) stay `None` by construction: `..Answers::default()` is the list of what is left out.
pub fn read_fleet_answers(state: &DeviceState) -> Result<ReadAnswers> {
    let mut r = Reader::new(state)?;
    let answers = Answers {
        upstream: r.upstream(),
        proxy: r.proxy(),
        agent: r.agent(),
        image_garbage_collection: r.image_garbage_collection(),
        logging: r.logging(),
        dns: r.dns(),
        allow_elevated_docker_permissions: r.config_bool(
            "allow_elevated_docker_permissions",
            &[],
            "allow_elevated_docker_permissions",
        ),
        ..Answers::default()
    };
    r.finish(answers)
}

/// Config.toml's `[agent.env]` table, where the protocol and edgeAgent's proxy live.
const AGENT_ENV: &[&str] = &["agent", "env"];
const GC: &[&str] = &["image_garbage_collection"];

/// The spellings of edgeAgent's proxy variable, the one `iotedge check` reads first.
const AGENT_PROXY_KEYS: [&str; 3] = ["https_proxy", "HTTPS_PROXY", "Https_Proxy"];

/// The device's files parsed once, the origin of every value read, and the problems found.
pub struct Reader<'a> {
    state: &'a DeviceState,
    config: Option<toml::Table>,
    daemon: Option<Json>,
    /// Answers key (dotted) → where its value came from, e.g. `/etc/aziot/config.toml [agent.config] image`.
    origins: BTreeMap<String, String>,
    problems: Vec<String>,
    /// What was read but left out of the export, said on stderr with the warnings.
    notes: Vec<String>,
}

impl<'a> Reader<'a> {
    /// Parse config.toml and daemon.json; a file that does not parse is bad input naming it.
    pub fn new(state: &'a DeviceState) -> Result<Self> {
        let config = match state.text(paths::CONFIG_TOML)? {
            Some(text) => Some(text.parse::<toml::Table>().map_err(|e| {
                input_error(format!(
                    "{}: is not valid TOML ({}); IoT Edge cannot read it either, so there is nothing to export until it is fixed",
                    paths::CONFIG_TOML,
                    e.message().trim()
                ))
            })?),
            None => None,
        };
        let daemon = match state.text(paths::DAEMON_JSON)? {
            Some(text) => DaemonJson::parse(text, paths::DAEMON_JSON)?.get(&[]),
            None => None,
        };
        Ok(Self { state, config, daemon, origins: BTreeMap::new(), problems: Vec::new(), notes: Vec::new() })
    }

    /// The config.toml value at `table`.`key`, recording it as the origin of `answer`.
    pub fn config_value(&mut self, answer: &str, table: &[&str], key: &str) -> Option<toml::Value> {
        let mut current = self.config.as_ref()?;
        for part in table {
            current = current.get(*part)?.as_table()?;
        }
        let value = current.get(key)?.clone();
        self.origins.insert(answer.to_string(), config_origin(table, key));
        Some(value)
    }

    /// A string from config.toml; another type is a problem named by its key.
    pub fn config_str(&mut self, answer: &str, table: &[&str], key: &str) -> Option<String> {
        match self.config_value(answer, table, key)? {
            toml::Value::String(s) => Some(s),
            other => {
                self.wrong_type(&config_origin(table, key), other.type_str(), "a string");
                None
            }
        }
    }

    /// A boolean from config.toml; another type is a problem named by its key.
    pub fn config_bool(&mut self, answer: &str, table: &[&str], key: &str) -> Option<bool> {
        match self.config_value(answer, table, key)? {
            toml::Value::Boolean(b) => Some(b),
            other => {
                self.wrong_type(&config_origin(table, key), other.type_str(), "true or false");
                None
            }
        }
    }

    /// The daemon.json value at `path`, recording it as the origin of `answer`.
    pub fn daemon_value(&mut self, answer: &str, path: &[&str]) -> Option<Json> {
        let mut current = self.daemon.as_ref()?;
        for key in path {
            current = current.get(*key)?;
        }
        self.origins.insert(answer.to_string(), daemon_origin(path));
        Some(current.clone())
    }

    /// A string from daemon.json; another type is a problem named by its key.
    pub fn daemon_str(&mut self, answer: &str, path: &[&str]) -> Option<String> {
        match self.daemon_value(answer, path)? {
            Json::String(s) => Some(s),
            other => {
                self.wrong_type(&daemon_origin(path), json_type(&other), "a string");
                None
            }
        }
    }

    fn wrong_type(&mut self, origin: &str, found: &str, expected: &str) {
        self.problems.push(format!("{origin}: is of type {found}, but IoT Edge expects {expected} there"));
    }

    fn problem(&mut self, message: String) {
        self.problems.push(message);
    }

    fn upstream(&mut self) -> Option<Upstream> {
        let text = self.config_str("upstream.protocol", AGENT_ENV, "UpstreamProtocol")?;
        match UpstreamProtocol::parse(&text) {
            Some(protocol) => Some(Upstream { protocol }),
            None => {
                let origin = config_origin(AGENT_ENV, "UpstreamProtocol");
                self.problem(format!(
                    "{origin} = {}: is not a protocol IoT Edge knows; use Amqp, AmqpWs, Mqtt or MqttWs",
                    quoted(&text)
                ));
                None
            }
        }
    }

    /// edgeAgent's proxy is the answer; docker, aziot-edged and aziot-identityd must not say
    /// otherwise (answers carry one proxy for all four), and docker's `no_proxy` comes along.
    fn proxy(&mut self) -> Option<Proxy> {
        let agent_key = AGENT_PROXY_KEYS
            .into_iter()
            .find(|key| self.config.as_ref().and_then(|c| c.get("agent")?.get("env")?.get(*key)).is_some());
        let url = match agent_key {
            Some(key) => self.config_str("proxy.url", AGENT_ENV, key),
            None => None,
        };
        for unit in paths::PROXY_UNITS {
            let env = unit_env::evaluate(self.state, unit);
            for name in ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"] {
                let Some(setting) = env.vars.get(name) else { continue };
                if url.as_deref() == Some(setting.value.as_str()) {
                    continue;
                }
                // Values are not shown: a proxy URL may hold a password.
                let differs = match agent_key {
                    Some(key) => format!("differs from edgeAgent's ({})", config_origin(AGENT_ENV, key)),
                    None => format!(
                        "is set, but edgeAgent has no proxy ([agent.env] https_proxy in {})",
                        paths::CONFIG_TOML
                    ),
                };
                self.problem(format!(
                    "{}:{}: {name} for the {unit} service {differs}; an answers file carries one proxy for \
                     edgeAgent and the three services, so make them agree (`edgeprep apply` with a [proxy] section, or \
                     remove the stray setting) and export again",
                    setting.path, setting.lines.0
                ));
                break;
            }
        }
        let url = url?;
        let docker = unit_env::evaluate(self.state, paths::DOCKER_UNIT);
        let no_proxy = ["no_proxy", "NO_PROXY"].into_iter().find_map(|name| {
            let setting = docker.vars.get(name)?;
            self.origins
                .insert("proxy.no_proxy".into(), format!("{}:{} {name}", setting.path, setting.lines.0));
            Some(setting.value.clone())
        });
        Some(Proxy { url, no_proxy })
    }

    fn agent(&mut self) -> Option<Agent> {
        const CONFIG: &[&str] = &["agent", "config"];
        const AUTH: &[&str] = &["agent", "config", "auth"];
        let image = self.config_str("agent.image", CONFIG, "image");
        let has_auth = self
            .config
            .as_ref()
            .and_then(|c| c.get("agent")?.get("config")?.get("auth"))
            .is_some_and(toml::Value::is_table);
        let auth = if has_auth {
            let server = self.config_str("agent.auth.server", AUTH, "serveraddress");
            let username = self.config_str("agent.auth.username", AUTH, "username");
            let password = self.config_str("agent.auth.password", AUTH, "password");
            match (server, username) {
                (Some(server), Some(username)) => {
                    Some(RegistryAuth { server, username, password, password_file: None })
                }
                _ => {
                    self.problem(format!(
                        "{}: needs serveraddress and username (IoT Edge cannot log in to the registry without them); \
                         complete it or remove the table, then export again",
                        config_table(AUTH)
                    ));
                    None
                }
            }
        } else {
            None
        };
        let host_storage = self.host_storage();
        (image.is_some() || auth.is_some() || host_storage.is_some()).then_some(Agent {
            image,
            auth,
            host_storage,
        })
    }

    /// The host directory bound at [`CONTAINER_STORAGE`] when `storageFolder` points there, the
    /// shape `[agent] host_storage` writes. Host storage set up another way (another container
    /// path) is left out with a warning: the answer would rewrite it, so exporting it would not
    /// reproduce the device.
    fn host_storage(&mut self) -> Option<String> {
        let agent = self.config.as_ref()?.get("agent")?.as_table()?;
        let folder_key = agent
            .get("env")
            .and_then(toml::Value::as_table)
            .and_then(|env| env.keys().find(|k| is_storage_folder_key(k)).cloned());
        let folder = folder_key
            .as_ref()
            .and_then(|key| agent.get("env")?.as_table()?.get(key)?.as_str().map(str::to_string));
        let binds: Vec<String> = agent
            .get("config")
            .and_then(|c| c.get("createOptions"))
            .and_then(|o| o.get("HostConfig"))
            .and_then(|h| h.get("Binds"))
            .and_then(toml::Value::as_array)
            .map(|binds| binds.iter().filter_map(|b| b.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let (_, persisted) = persisted_by(folder.as_deref(), &binds);
        let (host, container) = persisted?;
        if folder.as_deref() != Some(CONTAINER_STORAGE) || container != CONTAINER_STORAGE {
            self.notes.push(format!(
                "{}: edgeAgent's state is kept on the host through {container}, not {CONTAINER_STORAGE}; \
                 [agent] host_storage would move it, so it is left out of the export",
                config_table(&["agent", "config"])
            ));
            return None;
        }
        let host = host.to_string();
        self.origins.insert(
            "agent.host_storage".into(),
            format!("{} createOptions.HostConfig.Binds", config_table(&["agent", "config"])),
        );
        Some(host)
    }

    fn image_garbage_collection(&mut self) -> Option<ImageGarbageCollection> {
        let gc = ImageGarbageCollection {
            enabled: self.config_bool("image_garbage_collection.enabled", GC, "enabled"),
            cleanup_recurrence: self.config_str(
                "image_garbage_collection.cleanup_recurrence",
                GC,
                "cleanup_recurrence",
            ),
            image_age_cleanup_threshold: self.config_str(
                "image_garbage_collection.image_age_cleanup_threshold",
                GC,
                "image_age_cleanup_threshold",
            ),
            cleanup_time: self.config_str("image_garbage_collection.cleanup_time", GC, "cleanup_time"),
        };
        let empty = ImageGarbageCollection {
            enabled: None,
            cleanup_recurrence: None,
            image_age_cleanup_threshold: None,
            cleanup_time: None,
        };
        (gc != empty).then_some(gc)
    }

    /// Only with an explicit `log-driver`: rotation options alone apply to dockerd's default
    /// driver, which an answers file cannot leave unnamed.
    fn logging(&mut self) -> Option<Logging> {
        let text = self.daemon_str("logging.driver", &["log-driver"])?;
        let driver = match text.as_str() {
            "local" => LogDriver::Local,
            "json-file" => LogDriver::JsonFile,
            "journald" => LogDriver::Journald,
            _ => {
                self.problem(format!(
                    "{} = {}: an answers file sets only \"local\", \"json-file\" or \"journald\"; set one of them on \
                     this device, then export again",
                    daemon_origin(&["log-driver"]),
                    quoted(&text)
                ));
                return None;
            }
        };
        let max_size = self.daemon_str("logging.max_size", &["log-opts", "max-size"]);
        let max_files = match self.daemon_value("logging.max_files", &["log-opts", "max-file"]) {
            None => None,
            Some(value) => {
                let text = match &value {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match text.parse::<u32>() {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.problem(format!(
                            "{} = {}: must be a whole number of files, e.g. \"3\"",
                            daemon_origin(&["log-opts", "max-file"]),
                            quoted(&text)
                        ));
                        None
                    }
                }
            }
        };
        Some(Logging { driver, max_size, max_files })
    }

    /// An empty list is dockerd's default (the host's resolvers): nothing to carry.
    fn dns(&mut self) -> Option<Dns> {
        let value = self.daemon_value("dns.servers", &["dns"])?;
        let Json::Array(items) = value else {
            self.wrong_type(&daemon_origin(&["dns"]), json_type(&value), "a list of IP addresses");
            return None;
        };
        let mut servers = Vec::new();
        for item in items {
            match item {
                Json::String(s) => servers.push(s),
                other => {
                    self.wrong_type(&daemon_origin(&["dns"]), json_type(&other), "a list of IP addresses")
                }
            }
        }
        (!servers.is_empty()).then_some(Dns { servers })
    }

    /// The answers, after the validators: every refusal names the device file and key.
    fn finish(mut self, answers: Answers) -> Result<ReadAnswers> {
        let findings = validate(&answers);
        for finding in &findings.errors {
            let origin = self.origin_of(&finding.key);
            let shown = finding.value.as_deref().map(|v| format!(" = {v}")).unwrap_or_default();
            self.problems.push(format!("{origin}{shown}: {}", finding.problem));
        }
        if !self.problems.is_empty() {
            let count = self.problems.len();
            let mut message = format!(
                "cannot export: the device has {} an answers file would refuse (nothing was written):",
                if count == 1 { "a value".to_string() } else { format!("{count} values") }
            );
            for problem in &self.problems {
                message.push_str("\n  - ");
                message.push_str(problem);
            }
            return Err(input_error(message));
        }
        let mut warnings: Vec<String> = findings
            .warnings
            .iter()
            .map(|w| {
                let shown = w.value.as_deref().map(|v| format!(" = {v}")).unwrap_or_default();
                format!("{}{shown}: {}", self.origin_of(&w.key), w.problem)
            })
            .collect();
        warnings.append(&mut self.notes);
        Ok(ReadAnswers { answers, warnings })
    }

    /// Where the value of answers key `key` (or of its table) came from.
    fn origin_of(&self, key: &str) -> String {
        let mut prefix = key;
        loop {
            if let Some(origin) = self.origins.get(prefix) {
                return origin.clone();
            }
            match prefix.rsplit_once('.') {
                Some((parent, _)) => prefix = parent,
                None => break,
            }
        }
        self.origins
            .iter()
            .find(|(k, _)| k.starts_with(&format!("{key}.")))
            .map_or_else(|| key.to_string(), |(_, origin)| origin.clone())
    }
}

fn config_table(table: &[&str]) -> String {
    format!("{} [{}]", paths::CONFIG_TOML, table.join("."))
}

fn config_origin(table: &[&str], key: &str) -> String {
    if table.is_empty() {
        format!("{} {key}", paths::CONFIG_TOML)
    } else {
        format!("{} {key}", config_table(table))
    }
}

fn daemon_origin(path: &[&str]) -> String {
    let keys: Vec<String> = path.iter().map(|k| format!("\"{k}\"")).collect();
    format!("{} {}", paths::DAEMON_JSON, keys.join("."))
}

fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_config(text: &str) -> DeviceState {
        DeviceState::default().with_file(paths::CONFIG_TOML, text)
    }

    fn refusal(state: &DeviceState) -> String {
        let err = read_fleet_answers(state).unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), crate::error::EXIT_BAD_INPUT, "{err:#}");
        err.to_string()
    }

    #[test]
    fn host_storage_and_elevated_permissions_are_read_as_the_plan_writes_them() {
        let state = with_config(
            "allow_elevated_docker_permissions = false\n\n[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"\n\
             createOptions = { HostConfig = { Binds = [\"/data/agent:/iotedge/storage\", \"/opt/x:/x:ro\"] } }\n\n\
             [agent.env]\nStorageFolder = \"/iotedge/storage\"\n",
        );
        let read = read_fleet_answers(&state).unwrap();
        assert_eq!(read.answers.allow_elevated_docker_permissions, Some(false));
        let agent = read.answers.agent.unwrap();
        assert_eq!(agent.host_storage.as_deref(), Some("/data/agent"));
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    }

    #[test]
    fn host_storage_at_another_container_path_is_left_out_with_a_note() {
        let state = with_config(
            "[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"\n\
             createOptions = { HostConfig = { Binds = [\"/data/agent:/state\"] } }\n\n\
             [agent.env]\nstorageFolder = \"/state\"\n",
        );
        let read = read_fleet_answers(&state).unwrap();
        assert_eq!(read.answers.agent.unwrap().host_storage, None);
        assert!(
            read.warnings.iter().any(|w| w.contains("/state") && w.contains("left out")),
            "{:?}",
            read.warnings
        );
    }

    #[test]
    fn per_device_tables_are_not_read_even_when_complete() {
        let state = with_config(
            "hostname = \"gw\"\n[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://g\"\nid_scope = \"0ne\"\n[provisioning.attestation]\nmethod = \"tpm\"\nregistration_id = \"r\"\n[edge_ca]\ncert = \"file:///c\"\npk = \"file:///k\"\n[agent.env]\nUpstreamProtocol = \"Mqtt\"\n",
        );
        let read = read_fleet_answers(&state).unwrap();
        assert_eq!(
            read.answers,
            Answers { upstream: Some(Upstream { protocol: UpstreamProtocol::Mqtt }), ..Answers::default() }
        );
    }

    #[test]
    fn a_registry_password_of_the_wrong_type_is_named_without_a_value() {
        let state = with_config(
            "[agent.config]\nimage = \"r.io/agent:1.4.43\"\n[agent.config.auth]\nserveraddress = \"r.io\"\nusername = \"u\"\npassword = 12345\n",
        );
        let message = refusal(&state);
        assert!(
            message.contains("/etc/aziot/config.toml [agent.config.auth] password: is of type integer"),
            "{message}"
        );
        assert!(!message.contains("12345"), "{message}");
    }

    #[test]
    fn an_incomplete_registry_login_is_refused_naming_its_table() {
        let state = with_config("[agent.config.auth]\nusername = \"u\"\npassword = \"s3cret\"\n");
        let message = refusal(&state);
        assert!(
            message.contains("/etc/aziot/config.toml [agent.config.auth]: needs serveraddress"),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn a_proxy_password_needing_encoding_is_refused_masked() {
        let state = with_config("[agent.env]\nhttps_proxy = \"http://bob:p@ss word@proxy:3128\"\n");
        let message = refusal(&state);
        assert!(
            message.contains("/etc/aziot/config.toml [agent.env] https_proxy = \"http://bob:"),
            "{message}"
        );
        assert!(message.contains("percent-encoded") && !message.contains("ss word"), "{message}");
    }

    #[test]
    fn max_file_is_read_as_dockerd_writes_it_and_log_opts_alone_are_not_an_answer() {
        let state = DeviceState::default().with_file(
            paths::DAEMON_JSON,
            "{\"log-driver\": \"json-file\", \"log-opts\": {\"max-size\": \"5m\", \"max-file\": \"4\"}}",
        );
        let logging = read_fleet_answers(&state).unwrap().answers.logging.unwrap();
        assert_eq!(
            (logging.driver, logging.max_size.as_deref(), logging.max_files),
            (LogDriver::JsonFile, Some("5m"), Some(4))
        );
        let state = DeviceState::default()
            .with_file(paths::DAEMON_JSON, "{\"log-opts\": {\"max-size\": \"5m\"}, \"dns\": []}");
        assert_eq!(read_fleet_answers(&state).unwrap().answers, Answers::default());
    }

    #[test]
    fn an_unparsable_config_names_the_file() {
        let message = refusal(&with_config("[agent\n"));
        assert!(message.starts_with("/etc/aziot/config.toml: is not valid TOML"), "{message}");
    }

    #[test]
    fn a_service_proxy_without_one_for_edge_agent_is_refused_naming_file_and_line() {
        let dir = "/etc/systemd/system/aziot-edged.service.d";
        let state = DeviceState::default()
            .with_file(
                &format!("{dir}/override.conf"),
                "[Service]\nEnvironment=https_proxy=http://u:hidden-pw@p:3128\n",
            )
            .with_dir(dir, &["override.conf"]);
        let message = refusal(&state);
        assert!(
            message.contains(
                "/etc/systemd/system/aziot-edged.service.d/override.conf:2: https_proxy for the aziot-edged service is set, but edgeAgent has no proxy"
            ),
            "{message}"
        );
        assert!(!message.contains("hidden-pw"), "{message}");
    }
}
