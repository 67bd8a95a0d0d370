//! A partly filled [`Answers`]: what the technician has chosen so far, as the text of each
//! field, per section either "keep what the device has" or "set to these values".
//!
//! Text goes to [`Answers`] through the answers file's own serde mapping (a TOML table built
//! from the fields' dotted keys), and is checked with [`validate`], so the wizard cannot accept
//! what `edgeprep apply --answers` would refuse, nor refuse what it accepts. Pure: no I/O.

use std::collections::BTreeMap;

use super::questions::{EDGE_CA_CSR, Field, Kind, Path, SECTIONS, Section, find_field};
use crate::answers::Answers;
use crate::answers::UpstreamProtocol;
use crate::answers::validate::{key_label, validate, validate_proxy_protocol};

/// One section's choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionDraft {
    /// `false`: leave the device as it is (the section is absent from the answers).
    pub set: bool,
    /// Field key → text as typed; empty means "not given".
    pub values: BTreeMap<&'static str, String>,
}

/// Every section's choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    sections: BTreeMap<&'static str, SectionDraft>,
}

/// A problem (or note) about one field, or about a whole section when `key` is the section's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    /// Safe to show: names the key, never contains a secret value.
    pub message: String,
    /// `false` for a warning, which does not stop anything.
    pub error: bool,
}

/// What the draft amounts to on a path.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// `None` while any error remains.
    pub answers: Option<Answers>,
    pub problems: Vec<Problem>,
}

impl Draft {
    /// Without an answers file: every section that has a recommendation set to it.
    pub fn recommended() -> Self {
        let sections = SECTIONS
            .iter()
            .map(|s| (s.key, SectionDraft { set: s.recommend_change, values: recommended_values(s) }))
            .collect();
        Self { sections }
    }

    /// From an answers file: the sections it sets, with its values; the others kept as the
    /// device has them (their fields hold the recommendation, for when the technician sets them).
    pub fn from_answers(answers: &Answers) -> Self {
        let tree = toml::Value::try_from(answers).ok();
        let sections = SECTIONS
            .iter()
            .map(|s| {
                let given = tree.as_ref().and_then(|t| lookup(t, s.key)).filter(|v| !only_nested_steps(s, v));
                let draft = match given {
                    Some(_) => SectionDraft {
                        set: true,
                        values: s
                            .fields
                            .iter()
                            .map(|f| {
                                (
                                    f.key,
                                    tree.as_ref()
                                        .and_then(|t| lookup(t, f.key))
                                        .map_or_else(|| absent_text(f), |v| text_of(f, v)),
                                )
                            })
                            .collect(),
                    },
                    None => SectionDraft { set: false, values: recommended_values(s) },
                };
                (s.key, draft)
            })
            .collect();
        Self { sections }
    }

    pub fn section(&self, key: &str) -> Option<&SectionDraft> {
        self.sections.get(key)
    }

    pub fn is_set(&self, section: &str) -> bool {
        self.sections.get(section).is_some_and(|s| s.set)
    }

    pub fn set_section(&mut self, section: &str, set: bool) {
        if let Some(s) = self.sections.get_mut(section) {
            s.set = set;
        }
    }

    /// The text of a field (empty when unknown).
    pub fn value(&self, key: &str) -> &str {
        self.sections.get(section_of(key)).and_then(|s| s.values.get(key)).map_or("", String::as_str)
    }

    pub fn set_value(&mut self, key: &str, text: impl Into<String>) {
        let Some(field) = find_field(key) else { return };
        if let Some(s) = self.sections.get_mut(section_of(key)) {
            s.values.insert(field.key, text.into());
        }
    }

    /// Whether a field is asked: its condition (and its controlling field's) holds.
    pub fn visible(&self, field: &Field) -> bool {
        match field.when {
            None => true,
            Some((other, values)) => {
                values.contains(&self.value(other)) && find_field(other).is_none_or(|o| self.visible(o))
            }
        }
    }

    /// The fields of a section that are asked now.
    pub fn visible_fields(&self, section: &'static Section) -> Vec<&'static Field> {
        section.fields.iter().filter(|f| self.visible(f)).collect()
    }

    /// The common name of the Edge CA request to create when the technician chose "create a
    /// CSR" on a path that has the Edge CA step; `None` otherwise.
    pub fn csr_request(&self, path: Path) -> Option<String> {
        let asked = path.sections().any(|s| s.key == "edge_ca");
        (asked && self.is_set("edge_ca") && self.value("edge_ca.generate") == EDGE_CA_CSR)
            .then(|| self.value(CSR_COMMON_NAME).trim().to_string())
    }

    /// For the proxy step: the `proxy-protocol` warning `answers check` and the plan give
    /// ([`validate_proxy_protocol`]) when the protocol the device will use cannot pass a proxy.
    /// That protocol is the upstream step's when it sets one on `path`, else the device's now
    /// (`device_protocol`; IoT Edge tries Amqp first when none is set).
    pub fn proxy_protocol_warnings(&self, path: Path, device_protocol: Option<&str>) -> Vec<String> {
        let asked = |key: &str| path.sections().any(|s| s.key == key) && self.is_set(key);
        if !asked("proxy") {
            return Vec::new();
        }
        let protocol = if asked("upstream") {
            UpstreamProtocol::parse(self.value("upstream.protocol"))
        } else {
            Some(device_protocol.and_then(UpstreamProtocol::parse).unwrap_or(UpstreamProtocol::Amqp))
        };
        protocol.map_or_else(Vec::new, |p| {
            validate_proxy_protocol(p).warnings.into_iter().map(|f| f.message).collect()
        })
    }

    /// The answers the sections on `path` make, with every problem the answers file's rules find.
    pub fn check(&self, path: Path) -> Checked {
        let mut problems = Vec::new();
        let mut table = toml::Table::new();
        let csr = self.csr_request(path);
        // The same bounds the answers file puts on a generated Edge CA's name.
        let length = csr.as_deref().map_or(0, |name| name.chars().count());
        let csr_problem = match csr.as_deref() {
            Some("") => Some("Common name: is required; it becomes the CSR's subject".to_string()),
            Some(_) if length > 64 => Some(format!(
                "Common name: is {length} characters long; certificate common names are at most 64"
            )),
            _ => None,
        };
        if let Some(message) = csr_problem {
            problems.push(Problem { key: CSR_COMMON_NAME.into(), message, error: true });
        }
        // A CSR leaves config.toml's Edge CA as it is: the section is not in the answers.
        for section in
            path.sections().filter(|s| self.is_set(s.key) && !(s.key == "edge_ca" && csr.is_some()))
        {
            let mut one = toml::Table::new();
            let before = problems.len();
            for field in self.visible_fields(section) {
                match value_of(field, self.value(field.key)) {
                    Ok(Some(value)) => insert(&mut one, field.key, value),
                    Ok(None) => {}
                    Err(message) => problems.push(Problem { key: field.key.into(), message, error: true }),
                }
            }
            if problems.len() > before {
                continue;
            }
            // The file's own types decide the rest (a missing required key, a wrong shape).
            if let Err(e) = toml::Value::Table(one.clone()).try_into::<Answers>() {
                problems.push(Problem {
                    key: section.key.into(),
                    message: format!("{}: {}", key_label(section.key), e.message()),
                    error: true,
                });
                continue;
            }
            merge(&mut table, one);
        }
        let answers = match toml::Value::Table(table).try_into::<Answers>() {
            Ok(answers) => answers,
            Err(e) => {
                problems.push(Problem { key: String::new(), message: e.message().to_string(), error: true });
                return Checked { answers: None, problems };
            }
        };
        let findings = validate(&answers);
        let errors = findings.errors.into_iter().map(|f| (f, true));
        let warnings = findings.warnings.into_iter().map(|f| (f, false));
        problems.extend(errors.chain(warnings).map(|(f, error)| Problem {
            key: f.key,
            message: f.message,
            error,
        }));
        let valid = problems.iter().all(|p| !p.error);
        Checked { answers: valid.then_some(answers), problems }
    }
}

impl Checked {
    /// Problems about this field (or inside it, for a sub-table field).
    pub fn for_field<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Problem> + 'a {
        self.problems.iter().filter(move |p| p.key == key)
    }

    /// Problems about a section that no visible field of it takes: shown at the top of the step.
    pub fn for_section_only<'a>(&'a self, draft: &'a Draft, section: &'static Section) -> Vec<&'a Problem> {
        let fields = draft.visible_fields(section);
        self.problems
            .iter()
            .filter(|p| section_of(&p.key) == section.key && !fields.iter().any(|f| f.key == p.key))
            .collect()
    }

    /// Whether a section has an error.
    pub fn section_has_error(&self, section: &str) -> bool {
        self.problems.iter().any(|p| p.error && section_of(&p.key) == section)
    }
}

/// The field holding the common name of the Edge CA request.
const CSR_COMMON_NAME: &str = "edge_ca.csr.common_name";

/// The section (step) a dotted key belongs to: the step of its own when it has one
/// (`agent.host_storage`), else its top-level section.
pub fn section_of(key: &str) -> &str {
    SECTIONS
        .iter()
        .map(|s| s.key)
        .filter(|s| key == *s || key.strip_prefix(*s).is_some_and(|rest| rest.starts_with('.')))
        .max_by_key(|s| s.len())
        .map_or_else(|| key.split('.').next().unwrap_or(key), |s| &key[..s.len()])
}

/// Whether a section's table holds only keys that are steps of their own (`[agent]` with only
/// `host_storage`): the section itself is then not given.
fn only_nested_steps(section: &Section, value: &toml::Value) -> bool {
    let Some(table) = value.as_table() else { return false };
    !table.is_empty()
        && table.keys().all(|k| {
            let nested = format!("{}.{k}", section.key);
            SECTIONS.iter().any(|s| s.key == nested)
        })
}

/// Put `from` into `into`, table by table, so two steps can fill one answers table.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(more)) => merge(existing, more),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

fn recommended_values(section: &Section) -> BTreeMap<&'static str, String> {
    section
        .fields
        .iter()
        .map(|f| (f.key, f.recommended.map_or_else(|| absent_text(f), str::to_string)))
        .collect()
}

/// A field's text when the answers do not have it.
fn absent_text(field: &Field) -> String {
    match field.kind {
        Kind::Presence(labels) => labels.first().map_or_else(String::new, |l| l.to_string()),
        _ => String::new(),
    }
}

/// A TOML value as the field's text.
fn text_of(field: &Field, value: &toml::Value) -> String {
    match (field.kind, value) {
        (Kind::Presence(labels), _) => labels.get(1).map_or_else(String::new, |l| l.to_string()),
        (_, toml::Value::String(s)) => s.clone(),
        (_, toml::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        (_, other) => other.to_string(),
    }
}

/// A field's text as the TOML value the answers file would hold; `None` when not given.
fn value_of(field: &Field, text: &str) -> Result<Option<toml::Value>, String> {
    let shown = || {
        if field.kind == Kind::Secret { String::new() } else { format!(" = \"{}\"", text.escape_debug()) }
    };
    if let Kind::Presence(labels) = field.kind {
        return Ok((labels.get(1) == Some(&text)).then(|| toml::Value::Table(toml::Table::new())));
    }
    if text.trim().is_empty() {
        return if field.required {
            Err(format!("{}: is required; {}", key_label(field.key), field.hint))
        } else {
            Ok(None)
        };
    }
    match field.kind {
        Kind::Text | Kind::Secret => Ok(Some(toml::Value::String(text.to_string()))),
        Kind::Choice(options) => match options.iter().find(|o| o.eq_ignore_ascii_case(text.trim())) {
            Some(o) => Ok(Some(toml::Value::String(o.to_string()))),
            None => Err(format!(
                "{}{}: use one of {}",
                key_label(field.key),
                shown(),
                options.join(", ").trim_start_matches(", ")
            )),
        },
        Kind::Bool => match text.trim() {
            "true" => Ok(Some(toml::Value::Boolean(true))),
            "false" => Ok(Some(toml::Value::Boolean(false))),
            _ => Err(format!("{}{}: use true or false", key_label(field.key), shown())),
        },
        Kind::Number => match text.trim().parse::<u32>() {
            Ok(n) => Ok(Some(toml::Value::Integer(i64::from(n)))),
            Err(_) => {
                Err(format!("{}{}: is not a whole number; {}", key_label(field.key), shown(), field.hint))
            }
        },
        Kind::List => Ok(Some(toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.into()))
                .collect(),
        ))),
        Kind::Presence(_) => Ok(None),
    }
}

fn lookup<'a>(tree: &'a toml::Value, key: &str) -> Option<&'a toml::Value> {
    key.split('.').try_fold(tree, |node, part| node.get(part))
}

fn insert(table: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut node = table;
    for part in parts {
        let entry = node.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(next) = entry else { return };
        node = next;
    }
    match (node.get_mut(last), value) {
        // A sub-table field after its children were inserted keeps them.
        (Some(toml::Value::Table(_)), toml::Value::Table(_)) => {}
        (_, value) => {
            node.insert(last.to_string(), value);
        }
    }
}

/// The sections an answers value sets, by top-level key.
pub fn sections_set(answers: &Answers) -> Vec<&'static str> {
    let draft = Draft::from_answers(answers);
    SECTIONS.iter().map(|s| s.key).filter(|k| draft.is_set(k)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::parse_answers;
    use crate::wizard::questions::tests::full_answers;

    fn demo_answers() -> Answers {
        parse_answers(include_str!("../../assets/demo/answers.toml"), "demo").unwrap()
    }

    #[test]
    fn accepting_every_field_of_a_file_gives_back_exactly_its_answers() {
        for answers in [demo_answers(), full_answers(), Answers::default()] {
            let draft = Draft::from_answers(&answers);
            let checked = draft.check(Path::FirstBoot);
            assert_eq!(checked.answers.as_ref(), Some(&answers), "{:?}", checked.problems);
        }
    }

    #[test]
    fn a_section_the_file_leaves_out_stays_unset_but_holds_the_recommendation() {
        let answers = parse_answers("[upstream]\nprotocol = \"Mqtt\"\n", "t").unwrap();
        let draft = Draft::from_answers(&answers);
        assert!(!draft.is_set("logging"));
        assert_eq!(draft.value("logging.driver"), "local");
        let got = draft.check(Path::Production).answers.unwrap();
        assert_eq!(got, answers);
        assert!(got.logging.is_none());
    }

    #[test]
    fn the_recommended_draft_sets_only_sections_with_a_recommendation_and_passes_validation() {
        let draft = Draft::recommended();
        let checked = draft.check(Path::Production);
        let answers = checked.answers.unwrap_or_else(|| panic!("{:?}", checked.problems));
        assert!(answers.proxy.is_none() && answers.dns.is_none());
        // The runtime image is the site's to give; only the agent's storage has a safe default.
        let agent = answers.agent.clone().unwrap();
        assert!(agent.image.is_none() && agent.auth.is_none() && agent.host_storage.is_some());
        assert_eq!(answers.upstream.unwrap().protocol.as_str(), "AmqpWs");
        assert_eq!(answers.logging.unwrap().max_files, Some(3));
        assert_eq!(answers.edge_ca.unwrap().generate.unwrap().days, Some(365));
        assert!(answers.provisioning.is_none() && answers.hostname.is_none(), "not on this path");
    }

    #[test]
    fn a_csr_leaves_the_edge_ca_out_of_the_answers_and_keeps_its_common_name() {
        let mut draft = Draft::recommended();
        draft.set_value("edge_ca.generate", crate::wizard::questions::EDGE_CA_CSR);
        let checked = draft.check(Path::Production);
        let answers = checked.answers.unwrap_or_else(|| panic!("{:?}", checked.problems));
        assert!(answers.edge_ca.is_none());
        assert!(answers.upstream.is_some(), "the other sections still go through");
        assert_eq!(draft.csr_request(Path::Production).as_deref(), Some("edgeprep Edge CA"));
        assert_eq!(draft.csr_request(Path::FirstBoot).as_deref(), Some("edgeprep Edge CA"));
        draft.set_section("edge_ca", false);
        assert_eq!(draft.csr_request(Path::Production), None, "kept: no request");
    }

    #[test]
    fn a_csr_common_name_empty_or_over_64_characters_is_an_error_under_that_field() {
        let mut draft = Draft::recommended();
        draft.set_value("edge_ca.generate", crate::wizard::questions::EDGE_CA_CSR);
        draft.set_value("edge_ca.csr.common_name", " ");
        let checked = draft.check(Path::Production);
        assert!(checked.answers.is_none());
        assert!(checked.for_field("edge_ca.csr.common_name").any(|p| p.error), "{:?}", checked.problems);
        draft.set_value("edge_ca.csr.common_name", "x".repeat(65));
        let checked = draft.check(Path::Production);
        assert!(checked.for_field("edge_ca.csr.common_name").any(|p| p.message.contains("at most 64")));
        draft.set_value("edge_ca.csr.common_name", "x".repeat(64));
        assert!(draft.check(Path::Production).answers.is_some());
    }

    #[test]
    fn first_boot_without_a_connection_string_is_an_error_under_that_field() {
        let draft = Draft::recommended();
        let checked = draft.check(Path::FirstBoot);
        assert!(checked.answers.is_none());
        assert!(checked.for_field("hostname").any(|p| p.error && p.message.contains("required")));
        assert!(checked.section_has_error("provisioning"), "{:?}", checked.problems);
    }

    #[test]
    fn validation_findings_land_under_the_field_they_name() {
        let mut draft = Draft::recommended();
        draft.set_value("image_garbage_collection.cleanup_time", "25:00");
        let checked = draft.check(Path::Production);
        assert!(checked.answers.is_none());
        let under: Vec<_> = checked.for_field("image_garbage_collection.cleanup_time").collect();
        assert!(under.iter().any(|p| p.error && p.message.contains("25:00")), "{:?}", checked.problems);
    }

    #[test]
    fn typed_fields_refuse_text_that_is_not_their_type() {
        let mut draft = Draft::recommended();
        draft.set_value("logging.max_files", "three");
        let checked = draft.check(Path::Production);
        let problem = checked.for_field("logging.max_files").next().unwrap();
        assert!(problem.error && problem.message.contains("whole number"), "{}", problem.message);
    }

    #[test]
    fn hidden_fields_are_not_written() {
        let mut draft = Draft::recommended();
        draft.set_value("logging.driver", "journald");
        let answers = draft.check(Path::Production).answers.unwrap();
        let logging = answers.logging.unwrap();
        assert_eq!((logging.max_size, logging.max_files), (None, None));
    }

    #[test]
    fn a_secret_field_problem_never_repeats_the_secret() {
        let mut draft = Draft::recommended();
        draft.set_section("proxy", true);
        draft.set_value("proxy.url", "ftp://user:hunter2@proxy:21");
        let checked = draft.check(Path::Production);
        assert!(checked.for_field("proxy.url").any(|p| p.error));
        assert!(checked.problems.iter().all(|p| !p.message.contains("hunter2")), "{:?}", checked.problems);
    }

    #[test]
    fn the_proxy_step_warns_when_the_protocol_cannot_pass_a_proxy() {
        let mut draft = Draft::recommended();
        draft.set_section("proxy", true);
        draft.set_value("proxy.url", "http://proxy:3128");
        assert!(draft.proxy_protocol_warnings(Path::Production, Some("Amqp")).is_empty(), "AmqpWs chosen");
        draft.set_value("upstream.protocol", "Mqtt");
        let warnings = draft.proxy_protocol_warnings(Path::Production, None);
        let answers = draft.check(Path::Production).answers.unwrap();
        let same = validate(&answers).warnings.into_iter().map(|f| f.message).collect::<Vec<_>>();
        assert_eq!(warnings, same, "the words of answers check and the plan");
        assert!(warnings[0].contains("MqttWs"), "{warnings:?}");
        // Upstream kept: the device's protocol decides; none set means Amqp.
        draft.set_section("upstream", false);
        assert!(draft.proxy_protocol_warnings(Path::Production, Some("AmqpWs")).is_empty());
        assert!(draft.proxy_protocol_warnings(Path::Production, Some("Mqtt"))[0].contains("MqttWs"));
        assert!(draft.proxy_protocol_warnings(Path::Production, None)[0].contains("AmqpWs"));
        // No proxy, no warning.
        draft.set_section("proxy", false);
        assert!(draft.proxy_protocol_warnings(Path::Production, Some("Mqtt")).is_empty());
    }

    #[test]
    fn host_storage_and_elevated_permissions_are_steps_with_safe_defaults() {
        let answers = Draft::recommended().check(Path::Production).answers.unwrap();
        assert_eq!(
            answers.agent.and_then(|a| a.host_storage).as_deref(),
            Some(crate::answers::validate::DEFAULT_HOST_STORAGE)
        );
        assert_eq!(answers.allow_elevated_docker_permissions, Some(false));
        assert_eq!(section_of("agent.host_storage"), "agent.host_storage");
        assert_eq!(section_of("agent.auth.server"), "agent");
        assert_eq!(section_of("allow_elevated_docker_permissions"), "allow_elevated_docker_permissions");
    }

    #[test]
    fn host_storage_alone_leaves_the_runtime_image_step_kept() {
        let answers = parse_answers("[agent]\nhost_storage = \"/data/agent\"\n", "t").unwrap();
        let draft = Draft::from_answers(&answers);
        assert!(draft.is_set("agent.host_storage") && !draft.is_set("agent"));
        assert_eq!(draft.check(Path::Production).answers.unwrap(), answers);
        // Both steps set: one [agent] table.
        let both = parse_answers(
            "[agent]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4.43\"\nhost_storage = \"/data/agent\"\n",
            "t",
        )
        .unwrap();
        let draft = Draft::from_answers(&both);
        assert!(draft.is_set("agent.host_storage") && draft.is_set("agent"));
        assert_eq!(draft.check(Path::Production).answers.unwrap(), both);
    }

    #[test]
    fn a_host_storage_problem_lands_under_its_own_step() {
        let mut draft = Draft::recommended();
        draft.set_value("agent.host_storage", "/tmp/agent");
        let checked = draft.check(Path::Production);
        assert!(checked.answers.is_none());
        assert!(checked.section_has_error("agent.host_storage") && !checked.section_has_error("agent"));
        assert!(
            checked.for_field("agent.host_storage").any(|p| p.message.contains("/tmp")),
            "{:?}",
            checked.problems
        );
    }

    #[test]
    fn sections_off_the_path_are_left_out_even_when_set() {
        let draft = Draft::from_answers(&full_answers());
        let answers = draft.check(Path::RotateCa).answers.unwrap();
        assert!(answers.edge_ca.is_some());
        assert!(answers.dns.is_none() && answers.hostname.is_none());
    }
}
