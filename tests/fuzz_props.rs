//! Property-based fuzzing of everything that parses a file a user or a device controls: the
//! answers parser, the config.toml editor and the daemon.json editor (and the plan on top of
//! them). Inputs are raw bytes and mutated real files (bytes inserted, deleted, flipped, and
//! tokens that matter to the formats spliced in). Properties: never a panic; bad input is an
//! `Err`; for input that parses, an edit gives a file that parses again, with the values that
//! were set, and (TOML) with the lines it did not touch.
//!
//! Case counts keep the whole file near a minute in a debug build on a shared 2-core machine
//! (measured: see the `CASES_*` constants). Each run draws new inputs; a failure prints the
//! minimal input, and `PROPTEST_RNG_SEED=<n>` makes a run repeatable (or CI deterministic).

mod common;

use edgeprep::answers::parse_answers;
use edgeprep::device::DeviceState;
use edgeprep::edit::{ConfigToml, DaemonJson};
use edgeprep::plan::{Inputs, build_plan};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::json;

/// Cases per property, measured in a debug build (`cargo test --test fuzz_props`, 2 shared
/// cores): about 40 s for the whole file.
const CASES_CHEAP: u32 = 2000;
const CASES_CONFIG: u32 = 1200;
const CASES_TEMPLATE: u32 = 200;

const CONFIG: &str = "/etc/aziot/config.toml";
const DAEMON: &str = "/etc/docker/daemon.json";

const CONFIG_SEEDS: &[&str] = &[
    include_str!("../assets/demo/etc/aziot/config.toml"),
    include_str!("fixtures/bench-config.toml"),
    include_str!("fixtures/provisioning/manual-commented.toml"),
    include_str!("fixtures/provisioning/dps-x509-commented.toml"),
];
const DAEMON_SEEDS: &[&str] = &[
    include_str!("../assets/demo/etc/docker/daemon.json"),
    include_str!("fixtures/bench-daemon.json"),
    "{\r\n  \"log-opts\": {\"max-file\": 3},\r\n  \"dns\": [\"10.0.0.2\"]\r\n}\r\n",
];
const ANSWERS_SEEDS: &[&str] =
    &[include_str!("../assets/demo/answers.toml"), include_str!("fixtures/answers/full.toml")];

/// Text that changes a TOML or JSON file's structure when spliced in somewhere.
const TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    "\r",
    "\u{feff}",
    "[",
    "]",
    "[[",
    "{",
    "}",
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "=",
    ",",
    ".",
    "#",
    "\\",
    "\\u",
    " ",
    "\t",
    ":",
    "[provisioning]",
    "[agent.env]",
    "hostname = ",
    "0x",
    "1e9",
    "\u{0}",
    "é",
    "\u{10ffff}",
];

#[derive(Debug, Clone)]
enum Mutation {
    Insert(Index, u8),
    Delete(Index, usize),
    Flip(Index, u8),
    Splice(Index, &'static str),
    Duplicate(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<(Index, u8)>().prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        (any::<Index>(), 1..16usize).prop_map(|(at, len)| Mutation::Delete(at, len)),
        (any::<Index>(), 0..8u8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        (any::<Index>(), prop::sample::select(TOKENS)).prop_map(|(at, token)| Mutation::Splice(at, token)),
        (any::<Index>(), 1..64usize).prop_map(|(at, len)| Mutation::Duplicate(at, len)),
    ]
}

fn mutate(seed: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Insert(at, byte) => bytes.insert(at.index(len + 1), byte),
            Mutation::Splice(at, token) => {
                let at = at.index(len + 1);
                bytes.splice(at..at, token.bytes());
            }
            Mutation::Delete(at, n) if len > 0 => {
                let at = at.index(len);
                bytes.drain(at..(at + n).min(len));
            }
            Mutation::Flip(at, bit) if len > 0 => bytes[at.index(len)] ^= 1 << bit,
            Mutation::Duplicate(at, n) if len > 0 => {
                let at = at.index(len);
                let copy = bytes[at..(at + n).min(len)].to_vec();
                bytes.splice(at..at, copy);
            }
            _ => {}
        }
    }
    bytes
}

/// The seeds as they are, with CRLF line endings, and with a BOM in front: the forms a file
/// edited on Windows comes back in.
fn forms(seeds: &[&str]) -> Vec<String> {
    let mut all = Vec::new();
    for seed in seeds {
        let crlf = seed.replace('\n', "\r\n");
        all.extend([seed.to_string(), format!("\u{feff}{seed}"), format!("\u{feff}{crlf}"), crlf]);
    }
    all
}

/// A seed file (in one of its [`forms`]) with up to `max` mutations, as bytes.
fn mutated(seeds: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<u8>> {
    mutated_from(forms(seeds), max)
}

/// daemon.json seeds: no BOM, which is refused up front (a mutation still inserts one now and
/// then).
fn mutated_json(max: usize) -> impl Strategy<Value = Vec<u8>> {
    mutated_from(forms(DAEMON_SEEDS).into_iter().filter(|s| !s.starts_with('\u{feff}')).collect(), max)
}

fn mutated_from(seeds: Vec<String>, max: usize) -> impl Strategy<Value = Vec<u8>> {
    (prop::sample::select(seeds), prop::collection::vec(mutation(), 0..=max))
        .prop_map(|(seed, mutations)| mutate(&seed, &mutations))
}

/// Bytes as a file reader would hand them on: UTF-8 as is, anything else lossily (the device
/// reader refuses invalid UTF-8 before the editors see it).
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn is_input_error(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<edgeprep::error::InputError>())
}

// ---- answers --------------------------------------------------------------------------------

fn check_answers(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Err(err) = parse_answers(&text(bytes), "answers.toml") {
        prop_assert!(is_input_error(&err), "not an input error: {err:#}");
        prop_assert!(err.to_string().contains("answers.toml"), "message does not name the file: {err}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES_CHEAP, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn answers_parser_never_panics_on_raw_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_answers(&bytes)?;
    }

    #[test]
    fn answers_parser_never_panics_on_mutated_answer_files(bytes in mutated(ANSWERS_SEEDS, 8)) {
        check_answers(&bytes)?;
    }
}

// ---- config.toml ----------------------------------------------------------------------------

/// Keys the edits below set, by table; a lost line must mention one of these names.
const SETS: &[(&[&str], &str, &str)] = &[
    (&[], "hostname", "edge-01"),
    (&["agent"], "name", "edgeAgent"),
    (&["agent", "env"], "UpstreamProtocol", "AmqpWs"),
    (&["agent", "config", "auth"], "serveraddress", "r.azurecr.io"),
    (&["provisioning"], "source", "manual"),
    (&["edge_ca"], "cert", "file:///c.pem"),
];

/// Lines of `before` missing from `after`, in order (byte-exact, line endings included; an
/// unterminated last line may have gained a line ending, since lines were added after it).
fn lost_lines<'a>(before: &'a str, after: &str) -> Vec<&'a str> {
    let after: Vec<&str> = after.split_inclusive('\n').collect();
    let same = |line: &str, other: &str| {
        line == other
            || (!line.ends_with('\n')
                && other.strip_suffix('\n').map(|o| o.trim_end_matches('\r')) == Some(line))
    };
    let mut at = 0;
    let mut lost = Vec::new();
    for line in before.split_inclusive('\n') {
        match after[at..].iter().position(|l| same(line, l)) {
            Some(found) => at += found + 1,
            None => lost.push(line),
        }
    }
    lost
}

fn check_config_edits(bytes: &[u8]) -> Result<(), TestCaseError> {
    let before = text(bytes);
    let mut doc = match ConfigToml::parse(&before, CONFIG) {
        Ok(doc) => doc,
        Err(err) => {
            prop_assert!(is_input_error(&err), "not an input error: {err:#}");
            prop_assert!(err.to_string().starts_with(&format!("{CONFIG}: line ")), "{err}");
            return Ok(());
        }
    };
    prop_assert_eq!(doc.render(), before.clone(), "an unedited document must render byte-identical");
    for (path, key, value) in SETS {
        doc.set(path, key, *value);
    }
    doc.remove(&["agent", "env"], "https_proxy");
    let after = doc.render();
    let reparsed = ConfigToml::parse(&after, CONFIG);
    prop_assert!(reparsed.is_ok(), "edited file does not parse: {:?}\n{after:?}", reparsed.err());
    let body = after.strip_prefix('\u{feff}').unwrap_or(&after);
    let parsed = body.parse::<toml::Table>();
    prop_assert!(parsed.is_ok(), "toml rejects the edited file: {:?}\n{after:?}", parsed.err());
    if let Ok(reparsed) = reparsed {
        for (path, key, value) in SETS {
            let got = reparsed.get_str(path, key);
            prop_assert_eq!(got.as_deref(), Some(*value), "{}\n{:?}", key, after);
        }
    }
    prop_assert_eq!(before.starts_with('\u{feff}'), after.starts_with('\u{feff}'), "BOM lost or added");
    // A multi-line string or value spans lines that do not name their key: skip those files.
    let multi_line = ["\"\"\"", "'''", "[\n", "[\r\n", "[ \n"].iter().any(|t| before.contains(t));
    if !multi_line {
        let names: Vec<&str> = SETS
            .iter()
            .flat_map(|(path, key, _)| path.iter().copied().chain([*key]))
            .chain(["https_proxy"])
            .collect();
        // The BOM stays at the start of the file even when a new first line goes above the old one.
        let unbom = |t: &str| t.strip_prefix('\u{feff}').unwrap_or(t).to_owned();
        for line in lost_lines(&unbom(&before), &unbom(&after)) {
            prop_assert!(
                names.iter().any(|n| line.contains(n)),
                "untouched line lost: {line:?}\n{before:?}\n{after:?}"
            );
        }
    }
    Ok(())
}

/// A CRLF file (with or without a BOM) is edited exactly like its LF twin.
fn check_crlf_twin(lf: &str) -> Result<(), TestCaseError> {
    if lf.contains('\r') || lf.starts_with('\u{feff}') || !lf.contains('\n') {
        return Ok(());
    }
    let edit = |text: &str| -> Option<String> {
        let mut doc = ConfigToml::parse(text, CONFIG).ok()?;
        for (path, key, value) in SETS {
            doc.set(path, key, *value);
        }
        doc.remove(&["agent", "env"], "https_proxy");
        doc.remove_with_comments(&["provisioning"], "connection_string");
        Some(doc.render())
    };
    let Some(lf_out) = edit(lf) else {
        return Ok(());
    };
    let crlf = lf.replace('\n', "\r\n");
    let want = lf_out.replace('\n', "\r\n");
    prop_assert_eq!(edit(&crlf), Some(want.clone()), "{:?}", crlf);
    prop_assert_eq!(edit(&format!("\u{feff}{crlf}")), Some(format!("\u{feff}{want}")));
    Ok(())
}

/// The whole plan on a fuzzed config.toml and daemon.json: an `Err` is fine, a panic is not.
fn check_plan(config: &[u8], daemon: &[u8]) -> Result<(), TestCaseError> {
    let answers =
        parse_answers(ANSWERS_SEEDS[0], "demo answers").map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
    let provisioning = parse_answers(
        "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\n\
         id_scope = \"0ne00000A0A\"\nattestation = \"tpm\"\nregistration_id = \"edge-01\"\n",
        "provisioning answers",
    )
    .map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
    let answers = edgeprep::answers::Answers { provisioning: provisioning.provisioning, ..answers };
    let state = DeviceState::default().with_file(CONFIG, config.to_vec()).with_file(DAEMON, daemon.to_vec());
    let inputs = Inputs::at(time::OffsetDateTime::now_utc());
    let plan = match build_plan(&state, &answers, &inputs) {
        Ok(plan) => plan,
        Err(err) => {
            prop_assert!(is_input_error(&err), "not an input error: {err:#}");
            return Ok(());
        }
    };
    let Some(written) = plan.files.iter().find(|f| f.path == CONFIG) else {
        return Err(TestCaseError::fail("the answers change config.toml, yet the plan does not write it"));
    };
    let edgeprep::plan::FileAction::Write(bytes) = &written.action else {
        return Err(TestCaseError::fail("config.toml is not written"));
    };
    let after = text(bytes);
    let parsed = after.strip_prefix('\u{feff}').unwrap_or(&after).parse::<toml::Table>();
    prop_assert!(parsed.is_ok(), "planned config.toml does not parse: {:?}\n{after:?}", parsed.err());
    // Never keys of two variants side by side.
    let parsed = parsed.unwrap_or_default();
    let provisioning = parsed.get("provisioning").and_then(toml::Value::as_table);
    let keys = |table: Option<&toml::Table>| -> Vec<String> {
        let mut keys: Vec<String> = table.map(|t| t.keys().cloned().collect()).unwrap_or_default();
        keys.sort_unstable();
        keys
    };
    let top = keys(provisioning);
    prop_assert!(
        top.iter().all(
            |k| ["attestation", "global_endpoint", "id_scope", "payload", "source"].contains(&k.as_str())
        ),
        "provisioning keys {top:?}\n{after}"
    );
    let attestation = provisioning.and_then(|p| p.get("attestation")).and_then(toml::Value::as_table);
    prop_assert_eq!(keys(attestation), ["method", "registration_id"], "{}", after);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES_CONFIG, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn config_editor_never_panics_on_raw_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_config_edits(&bytes)?;
    }

    #[test]
    fn config_editor_keeps_untouched_lines_of_mutated_configs(bytes in mutated(CONFIG_SEEDS, 6)) {
        check_config_edits(&bytes)?;
    }

    #[test]
    fn config_editor_treats_a_crlf_file_like_its_lf_twin(
        seed in prop::sample::select(CONFIG_SEEDS),
        mutations in prop::collection::vec(mutation(), 0..6),
    ) {
        check_crlf_twin(&text(&mutate(seed, &mutations)))?;
    }

    #[test]
    fn plan_never_panics_on_mutated_device_files(config in mutated(CONFIG_SEEDS, 4), daemon in mutated_json(4)) {
        check_plan(&config, &daemon)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES_TEMPLATE, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    #[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (cfg shared_fixtures)")]
    fn config_editor_keeps_untouched_lines_of_the_mutated_template(mutations in prop::collection::vec(mutation(), 0..6)) {
        let template = common::template_text();
        check_config_edits(&mutate(&template, &mutations))?;
    }
}

// ---- daemon.json ----------------------------------------------------------------------------

fn check_daemon_edits(bytes: &[u8]) -> Result<(), TestCaseError> {
    let before = text(bytes);
    let mut doc = match DaemonJson::parse(&before, DAEMON) {
        Ok(doc) => doc,
        Err(err) => {
            prop_assert!(is_input_error(&err), "not an input error: {err:#}");
            prop_assert!(err.to_string().starts_with(&format!("{DAEMON}: line ")), "{err}");
            return Ok(());
        }
    };
    prop_assert_eq!(doc.render(), before.clone(), "an unedited document must render byte-identical");
    doc.set(&["log-driver"], json!("local"));
    doc.set(&["log-opts", "max-size"], json!("10m"));
    doc.set(&["log-opts", "max-file"], json!("3"));
    doc.remove(&["log-opts", "compress"]);
    doc.set(&["dns"], json!(["10.0.0.2"]));
    let after = doc.render();
    let reparsed = DaemonJson::parse(&after, DAEMON);
    prop_assert!(reparsed.is_ok(), "edited file does not parse: {:?}\n{after:?}", reparsed.err());
    prop_assert!(serde_json::from_str::<serde_json::Value>(&after).is_ok(), "serde_json rejects:\n{after:?}");
    prop_assert_eq!(doc.get(&["log-opts", "max-file"]), Some(json!("3")));
    prop_assert_eq!(doc.get(&["dns"]), Some(json!(["10.0.0.2"])));
    if before.contains("\r\n") && !before.replace("\r\n", "").contains('\n') {
        prop_assert!(!after.replace("\r\n", "").contains('\n'), "CRLF file got an LF line:\n{after:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES_CHEAP, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn daemon_json_editor_never_panics_on_raw_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_daemon_edits(&bytes)?;
    }

    #[test]
    fn daemon_json_editor_edits_mutated_files_into_valid_json(bytes in mutated_json(6)) {
        check_daemon_edits(&bytes)?;
    }
}

// ---- error positions ------------------------------------------------------------------------

/// "line L, column C" of an error message.
fn position(err: &anyhow::Error) -> String {
    let msg = err.to_string();
    let start = msg.find(": line ").map_or(0, |i| i + 2);
    let end = msg[start..].find(": ").map_or(msg.len(), |i| start + i);
    msg[start..end].to_owned()
}

/// What an error message says after its position.
fn diagnosis(err: &anyhow::Error) -> String {
    let msg = err.to_string();
    let position = position(err);
    msg.split_once(&position).map_or(msg.clone(), |(_, rest)| rest.to_owned())
}

/// A broken file reports the same line and column whether it uses LF or CRLF, with or
/// without a BOM: the user looks for the spot in an editor that shows neither. (Where a `\r`
/// changes the parser's diagnosis itself, e.g. right after a `\` in a string, only the line
/// must agree.)
fn same_spot(lf: &anyhow::Error, twin: &anyhow::Error, twin_text: &str) -> Result<(), TestCaseError> {
    let (want, got) = (position(lf), position(twin));
    if diagnosis(lf) == diagnosis(twin) {
        prop_assert_eq!(got, want, "{:?}\n{}\n{}", twin_text, twin, lf);
    } else {
        let line = |p: &str| p.split(',').next().unwrap_or_default().to_owned();
        prop_assert_eq!(line(&got), line(&want), "{:?}\n{}\n{}", twin_text, twin, lf);
    }
    Ok(())
}

fn check_positions(lf: &str) -> Result<(), TestCaseError> {
    if lf.contains('\r') || lf.starts_with('\u{feff}') {
        return Ok(());
    }
    let crlf = lf.replace('\n', "\r\n");
    if let Err(err) = ConfigToml::parse(lf, CONFIG) {
        for twin in [crlf.clone(), format!("\u{feff}{lf}"), format!("\u{feff}{crlf}")] {
            match ConfigToml::parse(&twin, CONFIG) {
                Ok(_) => return Err(TestCaseError::fail(format!("{twin:?} parses, its LF twin does not"))),
                Err(twin_err) => same_spot(&err, &twin_err, &twin)?,
            }
        }
    }
    if let Err(err) = DaemonJson::parse(lf, DAEMON) {
        match DaemonJson::parse(&crlf, DAEMON) {
            Ok(_) => return Err(TestCaseError::fail(format!("{crlf:?} parses, its LF twin does not"))),
            Err(twin_err) => same_spot(&err, &twin_err, &crlf)?,
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES_CONFIG, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn error_positions_are_the_same_with_crlf_and_bom(
        seed in prop::sample::select([CONFIG_SEEDS, DAEMON_SEEDS].concat()),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        check_positions(&text(&mutate(seed, &mutations)))?;
    }
}

// ---- nesting ------------------------------------------------------------------------------

/// Random bytes almost never nest deeply; a recursive parser would overflow the stack (an
/// abort, worse than a panic) on a file that does. Every parser here has a depth limit.
#[test]
fn deeply_nested_input_is_refused_not_a_stack_overflow() {
    let depth = 100_000;
    let json = format!("{{\"a\": {}1{}}}", "[".repeat(depth), "]".repeat(depth));
    assert!(is_input_error(&DaemonJson::parse(&json, DAEMON).err().expect("deep JSON refused")));
    let tomls = [
        format!("a = {}1{}\n", "[".repeat(depth), "]".repeat(depth)),
        format!("a = {}1{}\n", "{b = ".repeat(depth), "}".repeat(depth)),
        format!("[{}a]\nx = 1\n", "a.".repeat(depth)),
        format!("{}a = 1\n", "a.".repeat(depth)),
    ];
    for toml in &tomls {
        assert!(is_input_error(&ConfigToml::parse(toml, CONFIG).expect_err("deep TOML refused")));
        assert!(is_input_error(&parse_answers(toml, "answers.toml").expect_err("deep answers refused")));
    }
}

/// Found by the property above: a `\r` after `\"` changes toml_edit's diagnosis.
#[test]
fn a_backslash_before_a_line_break_is_reported_on_its_line_with_crlf_and_bom() -> Result<(), TestCaseError> {
    let lf = "[g]\ncleanup_time = \"00:00\\\"\n\n[m]\nuri = \"u\"\n";
    check_positions(lf)
}
