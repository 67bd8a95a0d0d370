//! Reading an answers file: TOML syntax, unknown keys (with the closest valid one), then
//! [`super::validate`].
//!
//! The file goes through three passes, each of which reports everything it can at once:
//! 1. TOML syntax (the `toml` crate's parser), pointing at line and column;
//! 2. key names against [`SCHEMA`], so a typo such as `protocl` is named with its table and the
//!    closest valid key (IoT Edge itself silently ignores misspelt keys, which is how a setting
//!    goes missing on a production device);
//! 3. types via serde into [`Answers`], then the value rules of [`validate::validate`].
//!
//! Every message starts with the file name and, where the file says it, the line.

use std::path::{Path, PathBuf};

use anyhow::Result;
use toml::de::{DeTable, DeValue};

use super::Answers;
use super::validate::{self, key_label};
use crate::error::{input_error, line_col};
use crate::input_file::{MAX_ANSWERS_BYTES, MAX_SECRET_BYTES, read_regular};

/// The tables and keys an answers file may contain. `""` is the top level. Kept in step with
/// `model.rs` by a test that serializes a fully filled-in [`Answers`].
const SCHEMA: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "hostname",
            "allow_elevated_docker_permissions",
            "provisioning",
            "upstream",
            "proxy",
            "agent",
            "image_garbage_collection",
            "logging",
            "dns",
            "edge_ca",
        ],
    ),
    (
        "provisioning",
        &[
            "source",
            "connection_string",
            "global_endpoint",
            "id_scope",
            "attestation",
            "registration_id",
            "symmetric_key",
            "identity_cert",
            "identity_pk",
        ],
    ),
    ("upstream", &["protocol"]),
    ("proxy", &["url", "no_proxy"]),
    ("agent", &["image", "auth", "host_storage"]),
    ("agent.auth", &["server", "username", "password", "password_file"]),
    (
        "image_garbage_collection",
        &["enabled", "cleanup_recurrence", "image_age_cleanup_threshold", "cleanup_time"],
    ),
    ("logging", &["driver", "max_size", "max_files"]),
    ("dns", &["servers"]),
    ("edge_ca", &["cert", "key", "trust_bundle", "os_trust_store", "generate"]),
    ("edge_ca.generate", &["common_name", "days"]),
];

/// What to add when serde reports a required key as missing.
const REQUIRED_HINTS: &[(&str, &str)] = &[
    ("source", "add source = \"manual\" (connection string) or source = \"dps\""),
    ("protocol", "add protocol = \"AmqpWs\" (or Amqp, Mqtt, MqttWs)"),
    ("url", "add url = \"http://proxy.example.com:3128\""),
    ("server", "add server = \"contoso.azurecr.io\""),
    ("username", "add the registry user name, e.g. username = \"contoso\""),
    ("driver", "add driver = \"local\" (or \"json-file\", \"journald\")"),
    ("servers", "add servers = [\"10.0.0.2\", \"1.1.1.1\"]"),
];

/// Keys people carry over from IoT Edge's own config.toml (or its docs), and where the same
/// setting lives in an answers file.
const FOREIGN_KEYS: &[(&str, &str)] = &[
    ("upstreamprotocol", "[upstream] protocol"),
    ("https_proxy", "[proxy] url"),
    ("http_proxy", "[proxy] url"),
    ("serveraddress", "[agent.auth] server"),
    ("pk", "[edge_ca] key"),
    ("auto_generated_edge_ca_expiry_days", "[edge_ca.generate] days"),
    ("expiry_days", "[edge_ca.generate] days"),
    ("iothub_hostname", "[provisioning] connection_string"),
    ("device_id", "[provisioning] connection_string"),
    ("method", "[provisioning] attestation"),
    ("log-driver", "[logging] driver"),
    ("max-size", "[logging] max_size"),
    ("max-file", "[logging] max_files"),
];

fn schema_keys(table: &str) -> Option<&'static [&'static str]> {
    SCHEMA.iter().find(|(name, _)| *name == table).map(|(_, keys)| *keys)
}

fn join_path(table: &str, key: &str) -> String {
    if table.is_empty() { key.to_string() } else { format!("{table}.{key}") }
}

/// Parse and validate answers from `text`; `source` names the file in messages.
///
/// Validation warnings do not fail parsing; callers that show them call
/// [`validate::validate`] on the result (it is pure and cheap).
pub fn parse_answers(text: &str, source: &str) -> Result<Answers> {
    // Editors on Windows save UTF-8 with a byte order mark. It is not part of the TOML and not
    // shown by any editor, so positions are counted after it (else line 1 is off by a column).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc = DeTable::parse(text).map_err(|e| input_error(printable(&syntax_message(text, source, &e))))?;

    let mut unknown = Vec::new();
    find_unknown_keys(doc.get_ref(), "", text, &mut unknown);
    if !unknown.is_empty() {
        return Err(report(source, unknown));
    }

    let answers: Answers = toml::from_str(text)
        .map_err(|e| input_error(printable(&type_message(text, source, doc.get_ref(), &e))))?;

    let findings = validate::validate(&answers);
    if !findings.is_valid() {
        let mut located: Vec<(Option<usize>, String)> = findings
            .errors
            .iter()
            .map(|finding| {
                let line = key_position(doc.get_ref(), &finding.key, finding.item)
                    .map(|offset| line_col(text, offset).0);
                (line, finding.message.clone())
            })
            .collect();
        // In file order, so the technician can work down the file; stable, so findings on one
        // line keep the order the rules produced them in.
        located.sort_by_key(|(line, _)| *line);
        let problems = located
            .into_iter()
            .map(|(line, message)| match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            })
            .collect();
        return Err(report(source, problems));
    }
    Ok(answers)
}

/// One problem on one line, several as a list, all prefixed with the file name.
fn report(source: &str, problems: Vec<String>) -> anyhow::Error {
    match problems.as_slice() {
        [one] => input_error(printable(&format!("{source}: {one}"))),
        _ => {
            let mut message = printable(&format!("{source}: {} problems:", problems.len()));
            for problem in &problems {
                message.push_str("\n  - ");
                message.push_str(&printable(problem));
            }
            input_error(message)
        }
    }
}

/// `text` with control characters escaped (`\u{1b}`), for messages that quote what the file
/// says: a key name, or a value serde or the parser echo, must not reach the terminal raw.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if validate::is_forbidden(c) { c.escape_debug().to_string() } else { c.to_string() })
        .collect()
}

fn position(text: &str, offset: usize) -> String {
    let (line, column) = line_col(text, offset);
    format!("line {line}, column {column}")
}

/// A TOML syntax error: where, what the parser said, and what usually fixes it.
fn syntax_message(text: &str, source: &str, err: &toml::de::Error) -> String {
    let span = err.span();
    let at = span.clone().map(|s| format!("{}: ", position(text, s.start))).unwrap_or_default();
    let what = err.message().trim().replace('`', "\"");
    // A raw control character (often from a paste) gets a generic parser message; name it.
    if let Some(c) = span.clone().and_then(|s| text.get(s.start..)).and_then(|rest| rest.chars().next())
        && c != '\n'
        && validate::is_forbidden(c)
    {
        return format!(
            "{source}: {at}this is not valid TOML: the file contains {} here; remove it (retype the value if it was pasted)",
            validate::describe_character(c)
        );
    }
    if what == "duplicate key" {
        let name = span.and_then(|s| text.get(s)).unwrap_or("");
        return format!(
            "{source}: {at}\"{name}\" is defined twice; each key and each [table] may appear only once, so remove or merge one of them"
        );
    }
    format!(
        "{source}: {at}this is not valid TOML: {what}; check the quotes, the = sign and any [table] header on that line (strings need double quotes, e.g. key = \"value\")"
    )
}

/// Walk the parsed document against [`SCHEMA`], collecting one message per unknown key.
fn find_unknown_keys(table: &DeTable<'_>, path: &str, text: &str, out: &mut Vec<String>) {
    let Some(allowed) = schema_keys(path) else {
        return;
    };
    for (key, value) in table.iter() {
        let name = key.get_ref().as_ref();
        let child = join_path(path, name);
        if allowed.contains(&name) {
            if let DeValue::Table(inner) = value.get_ref() {
                find_unknown_keys(inner, &child, text, out);
            }
            continue;
        }
        out.push(format!(
            "{}: {}",
            position(text, key.span().start),
            unknown_key_message(path, name, value.get_ref().is_table(), allowed)
        ));
    }
}

fn unknown_key_message(table: &str, name: &str, is_table: bool, allowed: &[&str]) -> String {
    let what = if is_table {
        format!("unknown table [{}]", join_path(table, name))
    } else if table.is_empty() {
        format!("unknown key \"{name}\" at the top level")
    } else {
        format!("unknown key \"{name}\" in [{table}]")
    };
    if let Some(best) = closest(name, allowed) {
        return if is_table {
            format!("{what}; did you mean [{}]?", join_path(table, best))
        } else {
            format!("{what}; did you mean \"{best}\"?")
        };
    }
    if let Some((_, home)) = FOREIGN_KEYS.iter().find(|(foreign, _)| name.eq_ignore_ascii_case(foreign)) {
        return format!("{what}; in an answers file this setting is {home}");
    }
    // A valid key in the wrong table, most often a top-level key written after a [table]
    // header, which TOML then puts inside that table.
    if let Some(home) = SCHEMA.iter().find(|(_, keys)| keys.contains(&name)).map(|(t, _)| *t) {
        return if home.is_empty() {
            format!("{what}; \"{name}\" is a top-level key: move it above the first [table] header")
        } else {
            format!("{what}; \"{name}\" belongs in [{home}]")
        };
    }
    let valid = allowed.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
    let place = if table.is_empty() { "at the top level".to_string() } else { format!("in [{table}]") };
    format!("{what}; valid keys {place} are {valid}")
}

/// The valid key closest to `name` by edit distance, when it is close enough to be a typo.
fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lowered = name.to_ascii_lowercase();
    let limit = (lowered.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|c| (edit_distance(&lowered, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// A serde error (wrong type, missing key, unknown value): where, which key, and how to fix.
fn type_message(text: &str, source: &str, doc: &DeTable<'_>, err: &toml::de::Error) -> String {
    let span = err.span();
    let at = span.clone().map(|s| format!("{}: ", position(text, s.start))).unwrap_or_default();
    let key = span.and_then(|s| key_at(doc, "", s.start)).map(|path| format!("{}: ", key_label(&path)));
    let key = key.unwrap_or_default();
    let raw = err.message().trim();
    let what = if let Some(field) = raw.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
        let hint = REQUIRED_HINTS.iter().find(|(name, _)| *name == field).map_or("add it", |(_, hint)| hint);
        format!("the required key \"{field}\" is missing; {hint}")
    } else if raw.starts_with("invalid type:") {
        format!("{}; {}", raw.replace('`', "\""), type_hint(raw))
    } else if raw.starts_with("unknown variant") {
        raw.replace("unknown variant", "unknown value").replace('`', "\"")
    } else {
        raw.replace('`', "\"")
    };
    format!("{source}: {at}{key}{what}")
}

/// How to write a value of the type serde expected.
fn type_hint(message: &str) -> &'static str {
    let expected = message.rsplit_once("expected ").map_or("", |(_, e)| e);
    if expected.starts_with("struct") {
        "this must be a table: a [section] header with its keys on the lines below"
    } else if expected.starts_with("a sequence") {
        "write a list in square brackets, e.g. [\"10.0.0.2\", \"1.1.1.1\"]"
    } else if expected.starts_with("a boolean") {
        "write true or false, without quotes"
    } else if expected.starts_with('u') || expected.starts_with('i') {
        "write a whole number without quotes, e.g. 3"
    } else {
        "write it in double quotes, e.g. \"10m\""
    }
}

/// The dotted path of the innermost key whose name or value covers byte `offset`.
fn key_at(table: &DeTable<'_>, path: &str, offset: usize) -> Option<String> {
    let mut found = None;
    for (key, value) in table.iter() {
        let child = join_path(path, key.get_ref().as_ref());
        if let DeValue::Table(inner) = value.get_ref()
            && let Some(deeper) = key_at(inner, &child, offset)
        {
            return Some(deeper);
        }
        if key.span().contains(&offset) || value.span().contains(&offset) {
            found = Some(child);
        }
    }
    found
}

/// Byte offset of a dotted key (or, when the key is absent, of its nearest table) in the file;
/// with `item`, of that element of the key's list, which may be lines below the key.
fn key_position(doc: &DeTable<'_>, path: &str, item: Option<usize>) -> Option<usize> {
    let mut table = doc;
    let mut best = None;
    for part in path.split('.') {
        let Some((key, value)) = table.get_key_value(part) else {
            break;
        };
        best = Some(key.span().start);
        match value.get_ref() {
            DeValue::Table(inner) => table = inner,
            DeValue::Array(items) => {
                if let Some(element) = item.and_then(|i| items.get(i)) {
                    best = Some(element.span().start);
                }
                break;
            }
            _ => break,
        }
    }
    best
}

/// Read, parse and validate the answers file at `path`. A `password_file` is read here and
/// its first line becomes `password`; relative paths are taken from the file's directory.
pub fn read_answers(path: &Path) -> Result<Answers> {
    let source = printable(&path.display().to_string());
    let bytes = read_regular(path, MAX_ANSWERS_BYTES)
        .map_err(|e| input_error(format!("the answers file {source}: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        input_error(format!("the answers file {source}: is not UTF-8 text; save it as UTF-8"))
    })?;
    let mut answers = parse_answers(&text, &source)?;
    let base = base_dir(path)?;
    resolve_password_file(&mut answers, &base, &source)?;
    if let Some(ca) = answers.edge_ca.as_mut() {
        for (name, value) in
            [("cert", &mut ca.cert), ("key", &mut ca.key), ("trust_bundle", &mut ca.trust_bundle)]
        {
            if let Some(relative) = value.as_mut() {
                *relative = absolute_text(&base.join(&*relative)).ok_or_else(|| {
                    input_error(format!("{source}: [edge_ca] {name}: the path is not valid UTF-8"))
                })?;
            }
        }
    }
    Ok(answers)
}

/// The answers file's directory as an absolute path, for resolving relative paths in it.
fn base_dir(path: &Path) -> Result<PathBuf> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::path::absolute(parent)
        .map_err(|e| input_error(format!("cannot work out the directory of {}: {e}", path.display())))
}

fn absolute_text(path: &Path) -> Option<String> {
    path.as_os_str().to_str().map(str::to_string)
}

/// Replace `password_file` by the password it holds (its first line, without the newline), so
/// that later stages only ever see `password`. The password is never put in a message.
fn resolve_password_file(answers: &mut Answers, base: &Path, source: &str) -> Result<()> {
    let Some(auth) = answers.agent.as_mut().and_then(|a| a.auth.as_mut()) else {
        return Ok(());
    };
    let Some(file) = auth.password_file.take() else {
        return Ok(());
    };
    let full = base.join(&file);
    let label = format!("{source}: [agent.auth] password_file = \"{}\"", file.escape_debug());
    let shown = full.display().to_string().escape_debug().to_string();
    let bytes =
        read_regular(&full, MAX_SECRET_BYTES).map_err(|e| input_error(format!("{label}: {shown}: {e}")))?;
    let contents = String::from_utf8(bytes)
        .map_err(|_| input_error(format!("{label}: {shown} is not UTF-8 text; save it as UTF-8")))?;
    let first = contents.lines().next().unwrap_or("");
    if first.is_empty() {
        return Err(input_error(format!(
            "{label}: the first line of {shown} is empty; put the registry password on the first line"
        )));
    }
    // The password goes into config.toml like one written in the answers file, so it passes
    // the same check; the message names the file, never the password.
    if let Some(problem) = validate::control_character_problem(first) {
        return Err(input_error(format!(
            "{label}: the password on the first line of {shown} {problem} (the password is not shown)"
        )));
    }
    auth.password = Some(first.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::answers::{
        Agent, Attestation, Dns, EdgeCa, GenerateEdgeCa, ImageGarbageCollection, LogDriver, Logging,
        Provisioning, ProvisioningSource, Proxy, RegistryAuth, Upstream, UpstreamProtocol,
    };
    use crate::error::{EXIT_BAD_INPUT, exit_code_for};

    const SAS: &str = "c2VjcmV0LWRldmljZS1rZXktZm9yLXRlc3Rz";

    fn err(text: &str) -> String {
        let e = parse_answers(text, "answers.toml").expect_err("should fail");
        assert_eq!(exit_code_for(&e), EXIT_BAD_INPUT, "not an input error: {e:#}");
        format!("{e:#}")
    }

    /// Every key of every table in a fully filled-in `Answers`, as dotted paths.
    fn model_keys() -> BTreeSet<String> {
        let s = || Some("x".to_string());
        let full = Answers {
            hostname: s(),
            allow_elevated_docker_permissions: Some(false),
            provisioning: Some(Provisioning {
                source: ProvisioningSource::Dps,
                connection_string: s(),
                global_endpoint: s(),
                id_scope: s(),
                attestation: Some(Attestation::Tpm),
                registration_id: s(),
                symmetric_key: s(),
                identity_cert: s(),
                identity_pk: s(),
            }),
            upstream: Some(Upstream { protocol: UpstreamProtocol::Amqp }),
            proxy: Some(Proxy { url: "x".into(), no_proxy: s() }),
            agent: Some(Agent {
                image: s(),
                auth: Some(RegistryAuth {
                    server: "x".into(),
                    username: "x".into(),
                    password: s(),
                    password_file: s(),
                }),
                host_storage: s(),
            }),
            image_garbage_collection: Some(ImageGarbageCollection {
                enabled: Some(true),
                cleanup_recurrence: s(),
                image_age_cleanup_threshold: s(),
                cleanup_time: s(),
            }),
            logging: Some(Logging { driver: LogDriver::Local, max_size: s(), max_files: Some(1) }),
            dns: Some(Dns { servers: vec![] }),
            edge_ca: Some(EdgeCa {
                cert: s(),
                key: s(),
                trust_bundle: s(),
                os_trust_store: Some(true),
                generate: Some(GenerateEdgeCa { common_name: s(), days: Some(1) }),
            }),
        };
        fn walk(table: &toml::Table, path: &str, out: &mut BTreeSet<String>) {
            for (k, v) in table {
                let child = join_path(path, k);
                if let toml::Value::Table(inner) = v {
                    walk(inner, &child, out);
                }
                out.insert(child);
            }
        }
        let table = toml::Table::try_from(&full).unwrap();
        let mut out = BTreeSet::new();
        walk(&table, "", &mut out);
        out
    }

    #[test]
    fn schema_lists_exactly_the_model_keys() {
        let schema: BTreeSet<String> =
            SCHEMA.iter().flat_map(|(table, keys)| keys.iter().map(move |k| join_path(table, k))).collect();
        assert_eq!(schema, model_keys());
    }

    #[test]
    fn minimal_answers_parse() {
        let a = parse_answers("hostname = \"edge-gw-01\"\n", "a.toml").unwrap();
        assert_eq!(a.hostname.as_deref(), Some("edge-gw-01"));
        assert_eq!(parse_answers("", "a.toml").unwrap(), Answers::default());
    }

    #[test]
    fn upstream_protocol_is_accepted_in_any_case() {
        for spelling in ["amqpws", "AMQPWS", "AmqpWs", " amqpWS "] {
            let a = parse_answers(&format!("[upstream]\nprotocol = \"{spelling}\"\n"), "a.toml").unwrap();
            assert_eq!(a.upstream.unwrap().protocol, UpstreamProtocol::AmqpWs);
        }
        let e = err("[upstream]\nprotocol = \"websockets\"\n");
        assert!(
            e.contains("line 2, column 12") && e.contains("[upstream] protocol") && e.contains("MqttWs"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_names_table_line_and_closest_key() {
        let e = err("hostname = \"gw\"\n\n[upstream]\nprotocl = \"AmqpWs\"\n");
        assert_eq!(
            e,
            "answers.toml: line 4, column 1: unknown key \"protocl\" in [upstream]; did you mean \"protocol\"?"
        );
    }

    #[test]
    fn misspelt_table_is_named_with_its_closest_table() {
        let e = err("[image_garbage_colection]\nenabled = true\n");
        assert!(e.contains("line 1, column 2: unknown table [image_garbage_colection]; did you mean [image_garbage_collection]?"), "{e}");
        let e = err("[agent.authh]\nserver = \"x\"\n");
        assert!(e.contains("unknown table [agent.authh]; did you mean [agent.auth]?"), "{e}");
    }

    #[test]
    fn top_level_key_after_a_table_header_says_where_it_belongs() {
        let e = err("[upstream]\nprotocol = \"Mqtt\"\nhostname = \"gw\"\n");
        assert!(e.contains("line 3, column 1: unknown key \"hostname\" in [upstream]"), "{e}");
        assert!(e.contains("move it above the first [table] header"), "{e}");
    }

    #[test]
    fn unknown_key_without_a_close_match_lists_the_valid_keys() {
        let e = err("[proxy]\nurl = \"http://p:1\"\nbanana = 1\n");
        assert!(
            e.contains("unknown key \"banana\" in [proxy]; valid keys in [proxy] are \"url\", \"no_proxy\""),
            "{e}"
        );
    }

    #[test]
    fn all_unknown_keys_are_reported_together() {
        let e = err("hostnme = \"gw\"\n[logging]\ndriver = \"local\"\nmax_file = 3\n");
        assert!(e.starts_with("answers.toml: 2 problems:"), "{e}");
        assert!(
            e.contains(
                "line 1, column 1: unknown key \"hostnme\" at the top level; did you mean \"hostname\"?"
            ),
            "{e}"
        );
        assert!(
            e.contains(
                "line 4, column 1: unknown key \"max_file\" in [logging]; did you mean \"max_files\"?"
            ),
            "{e}"
        );
    }

    #[test]
    fn dotted_keys_are_checked_like_tables() {
        let e = err("upstream.protocl = \"Amqp\"\n");
        assert!(e.contains("line 1, column 10: unknown key \"protocl\" in [upstream]"), "{e}");
    }

    #[test]
    fn syntax_error_points_at_line_and_column() {
        let e = err("hostname = \"gw\"\n[dns]\nservers = [\"1.1.1.1\"\n");
        assert!(
            e.starts_with("answers.toml: line 3, column 21: this is not valid TOML: unclosed array"),
            "{e}"
        );
        let e = err("hostname = gw\n");
        assert!(e.starts_with("answers.toml: line 1, column 12: this is not valid TOML"), "{e}");
        assert!(e.contains("double quotes"), "{e}");
    }

    #[test]
    fn duplicate_keys_and_tables_are_named() {
        let e = err("hostname = \"a\"\nhostname = \"b\"\n");
        assert!(e.contains("line 2, column 1: \"hostname\" is defined twice"), "{e}");
        let e = err("[dns]\nservers = []\n[dns]\n");
        assert!(e.contains("line 3, column 2: \"dns\" is defined twice"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_key_and_the_fix() {
        let e = err("[logging]\ndriver = \"local\"\nmax_files = \"3\"\n");
        assert!(
            e.contains("line 3, column 13: [logging] max_files: invalid type: string \"3\", expected u32"),
            "{e}"
        );
        let e = err("[image_garbage_collection]\ncleanup_time = 02:30:00\n");
        assert!(e.contains("[image_garbage_collection] cleanup_time: invalid type"), "{e}");
    }

    #[test]
    fn unknown_enum_value_lists_the_valid_ones() {
        let e = err("[logging]\ndriver = \"syslog\"\n");
        assert!(
            e.contains(
                "line 2, column 10: [logging] driver: unknown value \"syslog\", expected one of \"local\""
            ),
            "{e}"
        );
    }

    #[test]
    fn missing_required_key_names_its_table_and_an_example() {
        let e = err("[provisioning]\nconnection_string = \"x\"\n");
        assert!(
            e.contains("line 1, column 1: [provisioning]: the required key \"source\" is missing"),
            "{e}"
        );
        assert!(e.contains("source = \"manual\""), "{e}");
    }

    #[test]
    fn validation_problems_are_all_listed_with_lines() {
        let text = "hostname = \"bad_host\"\n\n[image_garbage_collection]\ncleanup_recurrence = \"36h\"\ncleanup_time = \"7:30\"\n";
        let e = err(text);
        assert!(e.starts_with("answers.toml: 3 problems:"), "{e}");
        assert!(e.contains("\n  - line 1: hostname = \"bad_host\""), "{e}");
        assert!(
            e.contains("\n  - line 4: [image_garbage_collection] cleanup_recurrence = \"36h\": must be a whole number of days (1d or more), e.g. \"1d\""),
            "{e}"
        );
        assert!(e.contains("\n  - line 5: [image_garbage_collection] cleanup_time = \"7:30\""), "{e}");
    }

    #[test]
    fn missing_key_findings_point_at_their_table() {
        let e = err("\n[edge_ca]\ncert = \"ca.pem\"\n");
        assert!(e.contains("line 2: [edge_ca] key: is missing"), "{e}");
    }

    #[test]
    fn secrets_never_appear_in_parse_errors() {
        let text = format!(
            "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h;SharedAccessKey={SAS}\"\nid_scope = \"0ne\"\n\n[agent.auth]\nserver = \"https://r\"\nusername = \"u\"\npassword = \"pa55word-secret\"\npassword_file = \"p.txt\"\n\n[proxy]\nurl = \"ftp://bob:proxy-secret@p:1/x\"\n"
        );
        let e = err(&text);
        for secret in [SAS, "pa55word-secret", "proxy-secret"] {
            assert!(!e.contains(secret), "{secret} leaked in {e}");
        }
        assert!(e.contains("DeviceId is missing"), "{e}");
    }

    #[test]
    fn config_toml_spellings_point_to_the_answers_key() {
        let e = err("[agent]\nUpstreamProtocol = \"AmqpWs\"\n");
        assert!(e.contains("unknown key \"UpstreamProtocol\" in [agent]; in an answers file this setting is [upstream] protocol"), "{e}");
        let e = err("[edge_ca]\nauto_generated_edge_ca_expiry_days = 90\n");
        assert!(e.contains("[edge_ca.generate] days"), "{e}");
    }

    #[test]
    fn wrong_shape_gets_a_hint_for_that_shape() {
        let e = err("upstream = \"Amqp\"\n");
        assert!(e.contains("[upstream]: invalid type") && e.contains("must be a table"), "{e}");
        let e = err("[dns]\nservers = \"1.1.1.1\"\n");
        assert!(e.contains("[dns] servers: invalid type") && e.contains("square brackets"), "{e}");
        let e = err("[image_garbage_collection]\nenabled = \"yes\"\n");
        assert!(e.contains("true or false"), "{e}");
        let e = err("hostname = 5\n");
        assert!(
            e.contains("hostname: invalid type: integer \"5\", expected a string; write it in double quotes"),
            "{e}"
        );
    }

    #[test]
    fn validation_problems_are_listed_in_file_order() {
        let text = format!(
            "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h;SharedAccessKey={SAS}\"\nid_scope = \"0ne\"\n"
        );
        let e = err(&text);
        let line3 = e.find("line 3: [provisioning] connection_string").expect("line 3");
        let line4 = e.find("line 4: [provisioning] id_scope").expect("line 4");
        assert!(line3 < line4, "{e}");
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("protocl", "protocol"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("Protocol", &["protocol", "url"]), Some("protocol"));
        assert_eq!(closest("banana", &["protocol", "url"]), None);
    }

    #[test]
    fn a_byte_order_mark_does_not_shift_line_one_columns() {
        let e = err("\u{feff}hostname = gw\n");
        assert!(e.starts_with("answers.toml: line 1, column 12: this is not valid TOML"), "{e}");
        let e = err("\u{feff}hostname = 5\n");
        assert!(e.starts_with("answers.toml: line 1, column 12: hostname: invalid type"), "{e}");
        assert_eq!(
            parse_answers("\u{feff}hostname = \"gw\"\n", "a.toml").unwrap().hostname.as_deref(),
            Some("gw")
        );
    }

    #[test]
    fn crlf_files_report_the_same_lines_and_columns() {
        let e = err("hostname = \"a\"\r\n\r\n[logging]\r\ndriver = \"local\"\r\nmax_files = \"3\"\r\n");
        assert!(e.starts_with("answers.toml: line 5, column 13: [logging] max_files"), "{e}");
        let e = err("hostname = \"a\"\r\n\r\n[upstream]\r\nprotocol = x\r\n");
        assert!(e.starts_with("answers.toml: line 4, column 12: this is not valid TOML"), "{e}");
        let e = err("hostname = \"a\"\r\n\r\n[logging]\r\ndriver = \"local\"\r\nmax_files = 0\r\n");
        assert!(e.starts_with("answers.toml: line 5: [logging] max_files = 0"), "{e}");
    }

    #[test]
    fn errors_inside_inline_tables_point_at_the_value() {
        let e = err("logging = { driver = \"local\",\n   max_files = \"0\" }\n");
        assert!(e.starts_with("answers.toml: line 2, column 16: [logging] max_files: invalid type"), "{e}");
        let e = err("[agent]\nauth = { server = \"x\", username = 3 }\n");
        assert!(e.starts_with("answers.toml: line 2, column 35: [agent.auth] username"), "{e}");
        let e = err("\nlogging = { driver = \"local\", max_size = \"10mb\" }\n");
        assert!(e.starts_with("answers.toml: line 2: [logging] max_size = \"10mb\""), "{e}");
        let e = err("[agent.auth]\nusername = \"u\"\npassword = \"p\"\n");
        assert!(
            e.starts_with("answers.toml: line 1, column 1: [agent.auth]: the required key \"server\""),
            "{e}"
        );
    }

    #[test]
    fn errors_in_multi_line_arrays_point_at_the_element() {
        let e = err("[dns]\nservers = [\n  \"1.1.1.1\",\n  \"dns.google\",\n]\n");
        assert!(
            e.starts_with("answers.toml: line 4: [dns] servers: \"dns.google\" is not an IP address"),
            "{e}"
        );
        let e = err("[dns]\nservers = [\n  \"1.1.1.1\",\n  5,\n]\n");
        assert!(e.starts_with("answers.toml: line 4, column 3: [dns] servers: invalid type"), "{e}");
        let e = err("[dns]\nservers = [\n  \"1.1.1.1\",\n  \"8.8.8.8\" \"x\",\n]\n");
        assert!(e.starts_with("answers.toml: line 4, column 13: this is not valid TOML"), "{e}");
    }

    #[test]
    fn multi_line_strings_count_their_lines() {
        // A syntax error inside the string, and a type error after it.
        let e = err("hostname = \"\"\"\nline1\nbad\\qhost\"\"\"\n");
        assert!(e.starts_with("answers.toml: line 3, column 5: this is not valid TOML"), "{e}");
        let e = err("hostname = '''\nx\ny'''\n[logging]\ndriver = \"local\"\nmax_files = \"3\"\n");
        assert!(e.starts_with("answers.toml: line 6, column 13: [logging] max_files"), "{e}");
        // A multi-line value is one value: its finding points at its key.
        let e = err("\nhostname = \"\"\"\nedge\ngw\"\"\"\n");
        assert!(
            e.starts_with("answers.toml: line 2: hostname = \"edge\\ngw\": contains a line break"),
            "{e}"
        );
    }

    #[test]
    fn a_raw_control_character_in_the_file_is_named_not_echoed() {
        let e = err("hostname = \"edge\u{1b}[2Jgw\"\n");
        assert!(
            e.starts_with("answers.toml: line 1, column 17: this is not valid TOML: the file contains the control character U+001B (ESC)"),
            "{e}"
        );
        assert!(!e.contains('\u{1b}'), "{e}");
        let e = err("[proxy]\nurl = \"http://p:3128\"\nno_proxy = \"a\0b\"\n");
        assert!(e.contains("line 3, column 14") && e.contains("NUL"), "{e}");
        assert!(!e.contains('\0'), "{e}");
        // Names and values the parser or serde quote back are escaped too.
        for text in [
            "\"a\\u001b\" = 1\n",
            "[\"prov\\u001b\"]\nx = 1\n",
            "[logging]\ndriver = \"\\u001b]0;x\"\n",
            "[upstream]\nprotocol = \"\\u001bx\"\n",
        ] {
            let e = err(text);
            assert!(!e.contains('\u{1b}') && e.contains("\\u{1b}"), "{e:?}");
        }
        // Written as TOML escapes, they parse, and validation refuses them by key.
        let e = err("[proxy]\nurl = \"http://p:3128\\nExecStartPre=/bin/true\"\n");
        assert!(
            e.starts_with("answers.toml: line 2: [proxy] url = \"http://p:3128\\nExecStartPre=/bin/true\": contains a line break"),
            "{e}"
        );
    }
}
