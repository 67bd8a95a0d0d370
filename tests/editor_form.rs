//! The editors keep the file's own form: CRLF line endings and a UTF-8 BOM in config.toml,
//! CRLF in daemon.json, error positions in both, and `[provisioning]` edited line by line
//! (comments, header decor and unchanged lines kept; no keys of two variants mixed).

use edgeprep::answers::parse_answers;
use edgeprep::device::DeviceState;
use edgeprep::edit::{ConfigToml, DaemonJson};
use edgeprep::error::InputError;
use edgeprep::plan::{FileAction, Inputs, build_plan};
use serde_json::json;

const CONFIG: &str = "/etc/aziot/config.toml";
const DAEMON: &str = "/etc/docker/daemon.json";
const BOM: &str = "\u{feff}";

const MANUAL: &str = include_str!("fixtures/provisioning/manual-commented.toml");
const DPS_X509: &str = include_str!("fixtures/provisioning/dps-x509-commented.toml");

fn config(text: &str) -> ConfigToml {
    ConfigToml::parse(text, CONFIG).expect("test config parses")
}

/// Lines of `text` with their line endings, for byte-exact comparisons.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// Lines of `before` that are not in `after` (byte-exact, endings included), in order.
fn lost_lines<'a>(before: &'a str, after: &str) -> Vec<&'a str> {
    let after = lines(after);
    let mut at = 0;
    let mut lost = Vec::new();
    for line in lines(before) {
        match after[at..].iter().position(|l| *l == line) {
            Some(found) => at += found + 1,
            None => lost.push(line),
        }
    }
    lost
}

fn input_message(result: anyhow::Result<impl Sized>) -> String {
    let err = result.err().expect("should be refused");
    assert!(err.is::<InputError>(), "not an input error: {err:#}");
    err.to_string()
}

/// The config.toml the plan for `answers` (answers-file text) writes over `existing`.
fn planned_config(existing: &str, answers: &str) -> String {
    let answers = parse_answers(answers, "answers.toml").expect("answers parse");
    let state = DeviceState::default().with_file(CONFIG, existing);
    let plan = build_plan(&state, &answers, &Inputs::at(time::OffsetDateTime::now_utc())).expect("plan");
    let file = plan.files.iter().find(|f| f.path == CONFIG).expect("config.toml is written");
    match &file.action {
        FileAction::Write(bytes) => String::from_utf8(bytes.clone()).expect("UTF-8"),
        FileAction::MoveToBackup => panic!("config.toml moved away"),
    }
}

fn parsed(text: &str) -> toml::Table {
    text.parse::<toml::Table>().unwrap_or_else(|e| panic!("not valid TOML: {e}\n{text}"))
}

// ---- config.toml: line endings and BOM ----------------------------------------------------

const CRLF_CONFIG: &str = "# kept by hand\r\nhostname = \"old\"   # name\r\n\r\n[agent]\r\nname = \"edgeAgent\"\r\ntype = \"docker\"\r\n\r\n[agent.config]\r\nimage = \"i\"\r\n";

#[test]
fn crlf_config_keeps_crlf_on_kept_changed_and_added_lines() {
    let mut doc = config(CRLF_CONFIG);
    doc.set(&[], "hostname", "edge-01");
    doc.set(&["agent", "env"], "UpstreamProtocol", "AmqpWs");
    doc.set(&["edge_ca"], "cert", "file:///c.pem");
    let out = doc.render();
    assert!(!out.replace("\r\n", "").contains('\n'), "a bare LF line ending:\n{out:?}");
    assert!(out.contains("hostname = \"edge-01\"   # name\r\n"), "{out:?}");
    assert!(out.contains("[agent.env]\r\nUpstreamProtocol = \"AmqpWs\"\r\n"), "{out:?}");
    assert!(out.ends_with("[edge_ca]\r\ncert = \"file:///c.pem\"\r\n"), "{out:?}");
    assert_eq!(lost_lines(CRLF_CONFIG, &out), ["hostname = \"old\"   # name\r\n"]);
    assert_eq!(parsed(&out)["hostname"].as_str(), Some("edge-01"));
}

#[test]
fn bom_stays_at_the_start_of_config_toml() {
    let text = format!("{BOM}# comment\nhostname = \"old\"\n\n[agent]\nname = \"edgeAgent\"\n");
    let mut doc = config(&text);
    assert_eq!(doc.render(), text, "unchanged file must render byte-identical");
    doc.set(&[], "hostname", "edge-01");
    doc.set(&["agent"], "type", "docker");
    let out = doc.render();
    assert!(out.starts_with(&format!("{BOM}# comment\nhostname = \"edge-01\"\n")), "{out:?}");
    assert_eq!(out.matches(BOM).count(), 1, "{out:?}");
    assert_eq!(doc.get_str(&[], "hostname").as_deref(), Some("edge-01"));
    // IoT Edge's TOML parser skips the BOM like this one does.
    assert_eq!(parsed(&out)["agent"]["type"].as_str(), Some("docker"));
}

#[test]
fn bom_and_crlf_together_survive_a_plan() {
    let text = format!("{BOM}{CRLF_CONFIG}");
    let answers = "hostname = \"edge-01\"\n[upstream]\nprotocol = \"MqttWs\"\n\n[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h.azure-devices.net;DeviceId=edge-01;SharedAccessKey=YWJj\"\n";
    let out = planned_config(&text, answers);
    assert!(
        out.starts_with(&format!("{BOM}# kept by hand\r\nhostname = \"edge-01\"   # name\r\n")),
        "{out:?}"
    );
    assert!(!out.replace("\r\n", "").contains('\n'), "a bare LF line ending:\n{out:?}");
    assert_eq!(
        parsed(out.trim_start_matches(BOM))["agent"]["env"]["UpstreamProtocol"].as_str(),
        Some("MqttWs")
    );
}

#[test]
fn mixed_line_endings_keep_every_untouched_line_byte_for_byte() {
    let text = "# lf\nhostname = \"old\"\r\n# crlf\r\n\n[agent]\nname = \"edgeAgent\"\r\ntype = \"docker\"\n\r\n[agent.config]\r\nimage = \"i\"\n";
    let mut doc = config(text);
    assert_eq!(doc.render(), text);
    doc.set(&[], "hostname", "edge-01");
    doc.set(&["agent", "config"], "createOptions", "{}");
    let out = doc.render();
    assert_eq!(lost_lines(text, &out), ["hostname = \"old\"\r\n"]);
    // A changed line keeps its own ending.
    assert!(out.contains("# lf\nhostname = \"edge-01\"\r\n# crlf\r\n"), "{out:?}");
    assert_eq!(parsed(&out)["agent"]["config"]["createOptions"].as_str(), Some("{}"));
}

#[test]
fn crlf_inside_a_multi_line_string_is_kept() {
    let text = "note = \"\"\"first\r\nsecond\"\"\"\r\n[agent]\r\nname = \"edgeAgent\"\r\n";
    let mut doc = config(text);
    doc.set(&["agent"], "type", "docker");
    let out = doc.render();
    assert!(out.starts_with("note = \"\"\"first\r\nsecond\"\"\"\r\n[agent]\r\n"), "{out:?}");
    assert_eq!(parsed(&out)["agent"]["type"].as_str(), Some("docker"));
}

#[test]
fn missing_final_newline_in_a_crlf_file_gets_the_file_s_ending_when_lines_follow() {
    let text = "hostname = \"a\"\r\n[agent]\r\nname = \"edgeAgent\"";
    let mut doc = config(text);
    doc.set(&["agent"], "type", "docker");
    let out = doc.render();
    assert!(
        out.starts_with("hostname = \"a\"\r\n[agent]\r\nname = \"edgeAgent\"\r\ntype = \"docker\""),
        "{out:?}"
    );
    assert!(!out.replace("\r\n", "").contains('\n'), "{out:?}");
}

/// "line L, column C" of the message for a broken `text`.
fn position(msg: &str) -> &str {
    let start = msg.find(": line ").map_or(0, |i| i + 2);
    let end = msg[start..].find(": ").map_or(msg.len(), |i| start + i);
    &msg[start..end]
}

#[test]
fn config_error_positions_ignore_the_bom_and_crlf() {
    let cases = [
        (format!("{BOM}hostname = = \"a\"\n"), "line 1, column 12"),
        (format!("{BOM}a = 1\r\nhostname = = \"a\"\r\n"), "line 2, column 12"),
        // The error is at the end of the line: right after `x`, not on the `\r`.
        ("a = 1\r\n\r\n[agent]\r\nname = \"x\r\n".to_owned(), "line 4, column 10"),
        (format!("{BOM}[agent]\r\nname = \"x\r\n"), "line 2, column 10"),
    ];
    for (text, expected) in cases {
        let msg = input_message(ConfigToml::parse(&text, CONFIG));
        assert!(msg.starts_with(&format!("{CONFIG}: line ")), "{msg}");
        assert_eq!(position(&msg), expected, "{text:?}: {msg}");
        // The same file without BOM and with LF line endings: the same position.
        let plain = text.trim_start_matches(BOM).replace("\r\n", "\n");
        let plain_msg = input_message(ConfigToml::parse(&plain, CONFIG));
        assert_eq!(position(&plain_msg), expected, "{plain:?}: {plain_msg}");
    }
}

// ---- daemon.json ----------------------------------------------------------------------------

#[test]
fn daemon_json_with_a_bom_is_an_input_error_naming_the_file_and_the_fix() {
    for text in [format!("{BOM}{{\"debug\": true}}\n"), BOM.to_owned(), format!("{BOM}\r\n")] {
        let msg = input_message(DaemonJson::parse(&text, DAEMON));
        assert!(msg.starts_with(&format!("{DAEMON}: line 1, column 1:")), "{msg}");
        assert!(msg.contains("byte order mark"), "{msg}");
        assert!(msg.contains("without a BOM"), "{msg}");
    }
}

#[test]
fn daemon_json_with_a_bom_stops_the_plan_with_exit_2() {
    let answers = parse_answers("[dns]\nservers = [\"10.0.0.2\"]\n", "answers.toml").expect("answers");
    let state = DeviceState::default().with_file(DAEMON, format!("{BOM}{{}}\n"));
    let err =
        build_plan(&state, &answers, &Inputs::at(time::OffsetDateTime::now_utc())).expect_err("refused");
    assert_eq!(edgeprep::error::exit_code_for(&err), edgeprep::error::EXIT_BAD_INPUT);
    assert!(format!("{err:#}").contains("byte order mark"), "{err:#}");
}

#[test]
fn daemon_json_crlf_survives_nested_additions_and_removals() {
    let text = "{\r\n  \"data-root\": \"/var/lib/docker\",\r\n  \"log-opts\": {\r\n    \"max-file\": 3,\r\n    \"compress\": \"true\"\r\n  }\r\n}\r\n";
    let mut doc = DaemonJson::parse(text, DAEMON).expect("parses");
    doc.set(&["log-driver"], json!("local"));
    doc.set(&["log-opts", "max-size"], json!("10m"));
    doc.set(&["log-opts", "max-file"], json!("3"));
    doc.remove(&["log-opts", "compress"]);
    doc.set(&["features", "buildkit"], json!(true));
    let out = doc.render();
    assert!(!out.replace("\r\n", "").contains('\n'), "a bare LF line ending:\n{out:?}");
    assert!(out.starts_with("{\r\n  \"data-root\": \"/var/lib/docker\",\r\n"), "{out:?}");
    assert_eq!(doc.get(&["log-opts"]), Some(json!({"max-file": "3", "max-size": "10m"})));
    assert_eq!(doc.get(&["features", "buildkit"]), Some(json!(true)));
    DaemonJson::parse(&out, DAEMON).expect("result is strict JSON");
}

#[test]
fn daemon_json_error_positions_are_right_with_crlf() {
    let msg = input_message(DaemonJson::parse("{\r\n  \"a\": 1,\r\n  \"b\": 2,\r\n}\r\n", DAEMON));
    assert!(msg.contains("line 3, column 9:"), "{msg}");
    let msg = input_message(DaemonJson::parse("{\r\n  \"a\": 1\r\n  \"b\": 2\r\n}\r\n", DAEMON));
    assert!(msg.contains("line 2, column 9:"), "{msg}");
    let msg = input_message(DaemonJson::parse("{\r\n  \"a\": \"tab\there\"\r\n}\r\n", DAEMON));
    assert!(msg.contains("line 2, column 12:"), "{msg}");
}

// ---- [provisioning] edited in place ---------------------------------------------------------

const OTHER_CONNECTION_STRING: &str =
    "HostName=new-hub.azure-devices.net;DeviceId=bench-07;SharedAccessKey=bmV3LWtleQ==";

#[test]
fn another_connection_string_changes_only_that_value() {
    let answers =
        format!("[provisioning]\nsource = \"manual\"\nconnection_string = \"{OTHER_CONNECTION_STRING}\"\n");
    let out = planned_config(MANUAL, &answers);
    let diff = similar::TextDiff::from_lines(MANUAL, &out);
    let changed: Vec<String> = diff
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .map(|c| format!("{}{}", c.tag(), c.value()))
        .collect();
    assert_eq!(
        changed,
        [
            "-connection_string = \"HostName=old-hub.azure-devices.net;DeviceId=bench-07;SharedAccessKey=b2xkLWtleQ==\"   # pilot hub\n",
            &format!("+connection_string = \"{OTHER_CONNECTION_STRING}\"   # pilot hub\n"),
        ]
    );
}

#[test]
fn manual_to_dps_removes_the_manual_keys_and_keeps_the_rest() {
    let answers = "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\n\
                   id_scope = \"0ne00000A0A\"\nattestation = \"tpm\"\nregistration_id = \"bench-07\"\n";
    let out = planned_config(MANUAL, answers);
    let table = parsed(&out);
    let provisioning = table["provisioning"].as_table().expect("[provisioning]");
    let mut keys: Vec<&str> = provisioning.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["attestation", "global_endpoint", "id_scope", "source"], "{out}");
    assert_eq!(provisioning["attestation"]["method"].as_str(), Some("tpm"));
    // The header with its comments and decor, the comment on `source`, everything outside.
    assert!(out.contains("# Switched to a connection string for the pilot.\n[provisioning]   # see the runbook, section 3\n# which identity source\nsource = \"dps\"\n"), "{out}");
    // The comment attached to the removed key goes with it.
    assert!(!out.contains("from the hub's device page"), "{out}");
    assert_eq!(
        lost_lines(MANUAL, &out),
        [
            "source = \"manual\"\n",
            "# from the hub's device page\n",
            "connection_string = \"HostName=old-hub.azure-devices.net;DeviceId=bench-07;SharedAccessKey=b2xkLWtleQ==\"   # pilot hub\n",
        ]
    );
    insta::assert_snapshot!(out);
}

#[test]
fn dps_x509_to_symmetric_key_keeps_payload_and_comments_not_attached_to_removed_keys() {
    let answers = "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\n\
                   id_scope = \"0ab1234C5D6\"\nattestation = \"symmetric_key\"\nregistration_id = \"bench-07\"\n\
                   symmetric_key = \"c3ltbWV0cmljLWtleS1mb3ItdGVzdHM=\"\n";
    let out = planned_config(DPS_X509, answers);
    let table = parsed(&out);
    let attestation = table["provisioning"]["attestation"].as_table().expect("attestation");
    let mut keys: Vec<&str> = attestation.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["method", "registration_id", "symmetric_key"], "{out}");
    assert!(table["provisioning"].get("payload").is_some(), "the DPS payload is the user's own:\n{out}");
    for kept in [
        "id_scope = \"0ab1234C5D6\"   # pilot scope\n",
        "## custom payload for the allocation function\n",
        "# how the device proves who it is\n[provisioning.attestation]\n",
        "method = \"symmetric_key\"   # until the TPM rollout\n",
    ] {
        assert!(out.contains(kept), "lost {kept:?}:\n{out}");
    }
    for gone in ["identity certificate private key", "identity_pk", "common_name", "\"est\""] {
        assert!(!out.contains(gone), "{gone:?} left:\n{out}");
    }
    insta::assert_snapshot!(edgeprep::secrets::mask_known_secrets(&out));
}

#[test]
fn switching_provisioning_twice_is_stable_and_never_mixes_variants() {
    let to_dps = "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\n\
                  id_scope = \"0ne00000A0A\"\nattestation = \"x509\"\nidentity_cert = \"/var/aziot/certs/id.pem\"\n\
                  identity_pk = \"/var/aziot/secrets/id.key.pem\"\n";
    let back =
        format!("[provisioning]\nsource = \"manual\"\nconnection_string = \"{OTHER_CONNECTION_STRING}\"\n");
    let dps = planned_config(MANUAL, to_dps);
    let manual = planned_config(&dps, &back);
    let table = parsed(&manual);
    let mut keys: Vec<&str> =
        table["provisioning"].as_table().expect("table").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["connection_string", "source"], "{manual}");
    assert!(
        manual.contains(
            "[provisioning]   # see the runbook, section 3\n# which identity source\nsource = \"manual\"\n"
        ),
        "{manual}"
    );
    assert!(!manual.contains("attestation"), "{manual}");
}

// ---- toml_edit's decor: every set keeps the line's comment and spacing -----------------------

#[test]
fn set_keeps_inline_comment_and_spacing_in_standard_dotted_and_inline_tables() {
    let text = "hostname   =   'old'    # the name\n\
                agent.env.RuntimeLogLevel = \"info\"   # dotted\n\
                [agent.config]\n\
                image = \"i\"\t# tabbed\n\
                createOptions = { HostConfig = { Privileged = true } }   # inline\n";
    let mut doc = config(text);
    doc.set(&[], "hostname", "edge-01");
    doc.set(&["agent", "env"], "RuntimeLogLevel", "debug");
    doc.set(&["agent", "config"], "image", "j");
    doc.set(&["agent", "config", "createOptions", "HostConfig"], "Privileged", false);
    assert_eq!(
        doc.render(),
        "hostname   =   \"edge-01\"    # the name\n\
         agent.env.RuntimeLogLevel = \"debug\"   # dotted\n\
         [agent.config]\n\
         image = \"j\"\t# tabbed\n\
         createOptions = { HostConfig = { Privileged = false } }   # inline\n"
    );
}

#[test]
fn set_keeps_the_comment_of_a_value_whose_type_changes() {
    let mut doc = config("[agent.env]\nRuntimeLogLevel = 3   # why a number?\n");
    doc.set(&["agent", "env"], "RuntimeLogLevel", "info");
    assert_eq!(doc.render(), "[agent.env]\nRuntimeLogLevel = \"info\"   # why a number?\n");
}

#[test]
fn setting_an_equal_value_in_another_spelling_changes_nothing() {
    let text = "hostname = 'edge-01' # literal\n[image_garbage_collection]\nenabled = true\n";
    let mut doc = config(text);
    doc.set(&[], "hostname", "edge-01");
    doc.set(&["image_garbage_collection"], "enabled", true);
    assert_eq!(doc.render(), text);
}

#[test]
fn removing_a_key_with_an_inline_comment_takes_exactly_its_line() {
    let text = "[agent.env]\n\"a\" = \"1\"   # keep me\n\"HTTPS_PROXY\" = \"http://p:3128\"   # old spelling\n\"b\" = \"2\" # keep me too\n";
    let mut doc = config(text);
    doc.remove(&["agent", "env"], "HTTPS_PROXY");
    assert_eq!(doc.render(), "[agent.env]\n\"a\" = \"1\"   # keep me\n\"b\" = \"2\" # keep me too\n");
    let mut last = config("[agent.env]\na = \"1\"\nb = \"2\" # last\n\n# next\n[edge_ca]\ncert = \"c\"\n");
    last.remove(&["agent", "env"], "b");
    assert_eq!(last.render(), "[agent.env]\na = \"1\"\n\n# next\n[edge_ca]\ncert = \"c\"\n");
}

#[test]
fn remove_with_comments_takes_the_attached_comment_block_only() {
    let text =
        "[t]\na = 1\n\n# about b, paragraph one\n\n# about b\n# more about b\nb = 2 # b's own\nc = 3\n";
    let mut doc = config(text);
    doc.remove_with_comments(&["t"], "b");
    assert_eq!(doc.render(), "[t]\na = 1\n\n# about b, paragraph one\n\nc = 3\n");
    let mut plain = config(text);
    plain.remove(&["t"], "b");
    assert_eq!(
        plain.render(),
        "[t]\na = 1\n\n# about b, paragraph one\n\n# about b\n# more about b\nc = 3\n"
    );
}

#[test]
fn provisioning_written_inline_dotted_or_headerless_switches_without_mixing_variants() {
    let dps = "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\n\
               id_scope = \"0ne00000A0A\"\nattestation = \"tpm\"\nregistration_id = \"edge-01\"\n";
    let manual =
        format!("[provisioning]\nsource = \"manual\"\nconnection_string = \"{OTHER_CONNECTION_STRING}\"\n");
    let cases = [
        (
            "provisioning = { source = \"manual\", connection_string = \"HostName=a;DeviceId=b;SharedAccessKey=Yw==\" }\n",
            dps,
        ),
        (
            "provisioning.source = \"manual\"\nprovisioning.connection_string = \"HostName=a;DeviceId=b;SharedAccessKey=Yw==\"\n",
            dps,
        ),
        ("# only a sub-table\n[provisioning.authentication]\nmethod = \"sas\"\n", dps),
        (
            "[provisioning]\nsource = \"dps\"\nid_scope = \"x\"\nattestation = { method = \"tpm\", registration_id = \"r\" }\n",
            &manual,
        ),
        (
            "[provisioning]\nsource = \"dps\"\nattestation.method = \"tpm\"\nattestation.registration_id = \"r\"\n",
            &manual,
        ),
    ];
    for (existing, answers) in cases {
        let out = planned_config(existing, answers);
        let table = parsed(&out);
        let provisioning = table["provisioning"].as_table().expect("[provisioning]");
        let mut keys: Vec<&str> = provisioning.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let expected: &[&str] = if answers.contains("dps") {
            &["attestation", "global_endpoint", "id_scope", "source"]
        } else {
            &["connection_string", "source"]
        };
        assert_eq!(keys, expected, "{existing:?} became:\n{out}");
    }
}

#[test]
fn daemon_json_with_mixed_line_endings_keeps_every_untouched_line() {
    let text = "{\r\n  \"data-root\": \"/var/lib/docker\",\n  \"debug\": false,\r\n  \"log-opts\": {\n    \"max-size\": \"10m\"\r\n  }\r\n}\n";
    let mut doc = DaemonJson::parse(text, DAEMON).expect("parses");
    doc.set(&["log-opts", "max-file"], json!("3"));
    doc.set(&["debug"], json!(true));
    let out = doc.render();
    for kept in ["{\r\n", "  \"data-root\": \"/var/lib/docker\",\n", "  \"log-opts\": {\n", "  }\r\n", "}\n"]
    {
        assert!(lines(&out).contains(&kept), "lost {kept:?}:\n{out:?}");
    }
    assert!(out.contains("  \"debug\": true,\r\n"), "{out:?}");
    assert_eq!(doc.get(&["log-opts"]), Some(json!({"max-size": "10m", "max-file": "3"})));
}

#[test]
fn a_second_plan_on_a_crlf_bom_device_is_empty() {
    let answers =
        parse_answers(include_str!("../assets/demo/answers.toml"), "demo answers").expect("answers");
    let config = format!("{BOM}{}", include_str!("fixtures/bench-config.toml").replace('\n', "\r\n"));
    let daemon = include_str!("fixtures/bench-daemon.json").replace('\n', "\r\n");
    let mut state = DeviceState::default().with_file(CONFIG, config).with_file(DAEMON, daemon);
    let inputs = Inputs::at(time::OffsetDateTime::now_utc());
    let plan = build_plan(&state, &answers, &inputs).expect("plan");
    assert!(!plan.files.is_empty());
    for file in &plan.files {
        let FileAction::Write(bytes) = &file.action else { panic!("{} not written", file.path) };
        let text = String::from_utf8(bytes.clone()).expect("UTF-8");
        // The systemd drop-ins are edgeprep's own files, always LF.
        if file.path == CONFIG || file.path == DAEMON {
            assert!(
                !text.replace("\r\n", "").contains('\n'),
                "{}: a bare LF line ending:\n{text:?}",
                file.path
            );
        }
        assert_eq!(text.starts_with(BOM), file.path == CONFIG, "{}", file.path);
        state = state.with_file(&file.path, bytes.clone());
    }
    let again = build_plan(&state, &answers, &inputs).expect("second plan");
    assert!(
        again.files.is_empty(),
        "second plan: {:?}",
        again.files.iter().map(|f| &f.path).collect::<Vec<_>>()
    );
}

#[test]
fn removing_a_dotted_key_keeps_the_comment_lines_above_it() {
    let cases = [
        (
            "# proxy for the agent\nagent.env.HTTPS_PROXY = \"x\" # old\nhostname = \"h\"\n",
            "# proxy for the agent\nhostname = \"h\"\n",
        ),
        (
            "hostname = \"h\"\n# proxy for the agent\nagent.env.HTTPS_PROXY = \"x\" # old\n# tail\n[t]\na = 1\n",
            "hostname = \"h\"\n# proxy for the agent\n# tail\n[t]\na = 1\n",
        ),
        (
            "[agent]\nname = \"n\"\n# proxy\nenv.HTTPS_PROXY = \"x\" # old\n# about type\ntype = \"docker\"\n",
            "[agent]\nname = \"n\"\n# proxy\n# about type\ntype = \"docker\"\n",
        ),
        ("[agent]\n# proxy\nenv.HTTPS_PROXY = \"x\" # old\nenv.b = 1\n", "[agent]\n# proxy\nenv.b = 1\n"),
        // Not dotted, but a dotted line follows: the comment stays right where it was.
        ("[agent.env]\n# about x\nX = 1\nsub.y = 2\nz = 3\n", "[agent.env]\n# about x\nsub.y = 2\nz = 3\n"),
    ];
    for (text, expected) in cases {
        let mut doc = config(text);
        doc.remove(&["agent", "env"], if text.contains("\nX = 1") { "X" } else { "HTTPS_PROXY" });
        assert_eq!(doc.render(), expected, "from {text:?}");
    }
}

/// The editor's layout rules look for blank lines; toml_edit keeps `\r\n` in its decor, so
/// without care a CRLF file got its new top-level key above the file's first paragraph.
#[test]
fn a_crlf_file_is_edited_exactly_like_its_lf_twin() {
    for lf in ["# a\n\n# b\n[t]\nx = 1\n", MANUAL, DPS_X509, include_str!("fixtures/bench-config.toml")] {
        let edit = |text: &str| {
            let mut doc = config(text);
            doc.remove(&["t"], "x");
            doc.set(&[], "parent_hostname", "gw");
            doc.set(&["agent", "env"], "https_proxy", "http://p:3128");
            doc.set(&["t", "sub"], "k", 1);
            doc.remove_with_comments(&["provisioning"], "connection_string");
            doc.render()
        };
        let crlf = lf.replace('\n', "\r\n");
        assert_eq!(edit(&crlf), edit(lf).replace('\n', "\r\n"), "{lf}");
        assert_eq!(edit(&format!("{BOM}{crlf}")), format!("{BOM}{}", edit(lf).replace('\n', "\r\n")));
    }
}
