//! The plan on IoT Edge's real template and on our own fixtures: what each answer edits, that
//! untouched lines survive any combination of answers, and that a second plan is empty.

mod common;

use edgeprep::answers::*;
use edgeprep::device::DeviceState;
use edgeprep::plan::{FileAction, Inputs, Plan, build_plan, render_text};
use proptest::prelude::*;

const CONFIG: &str = "/etc/aziot/config.toml";
const DAEMON: &str = "/etc/docker/daemon.json";

/// A config a technician made from the template on the bench, with comments and values.
const BENCH_CONFIG: &str = include_str!("fixtures/bench-config.toml");
const BENCH_DAEMON: &str = include_str!("fixtures/bench-daemon.json");

fn inputs() -> Inputs {
    Inputs::at(time::OffsetDateTime::now_utc())
}

fn written(plan: &Plan, path: &str) -> Option<String> {
    plan.files.iter().find(|f| f.path == path).and_then(|f| match &f.action {
        FileAction::Write(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        FileAction::MoveToBackup => None,
    })
}

/// The state after applying `plan` to `state`.
fn applied(mut state: DeviceState, plan: &Plan) -> DeviceState {
    for file in &plan.files {
        if let FileAction::Write(bytes) = &file.action {
            state = state.with_file(&file.path, bytes.clone());
        }
    }
    state
}

fn every_answer() -> Answers {
    Answers {
        hostname: Some("edge-01".into()),
        allow_elevated_docker_permissions: None,
        provisioning: Some(Provisioning {
            source: ProvisioningSource::Dps,
            connection_string: None,
            global_endpoint: Some("https://global.azure-devices-provisioning.net".into()),
            id_scope: Some("0ne00000A0A".into()),
            attestation: Some(Attestation::SymmetricKey),
            registration_id: Some("edge-01".into()),
            symmetric_key: Some("c3ltbWV0cmljLWtleS1mb3ItdGVzdHM=".into()),
            identity_cert: None,
            identity_pk: None,
        }),
        upstream: Some(Upstream { protocol: UpstreamProtocol::MqttWs }),
        proxy: Some(Proxy { url: "http://proxy.local:3128".into(), no_proxy: Some("localhost".into()) }),
        agent: Some(Agent {
            image: Some("contoso.azurecr.io/azureiotedge-agent:1.4.43".into()),
            auth: Some(RegistryAuth {
                server: "contoso.azurecr.io".into(),
                username: "edge-pull".into(),
                password: Some("Registry-Pa55word".into()),
                password_file: None,
            }),
            host_storage: None,
        }),
        image_garbage_collection: Some(ImageGarbageCollection {
            enabled: Some(true),
            cleanup_recurrence: Some("2d".into()),
            image_age_cleanup_threshold: Some("7d".into()),
            cleanup_time: Some("03:30".into()),
        }),
        logging: Some(Logging { driver: LogDriver::Local, max_size: Some("10m".into()), max_files: Some(3) }),
        dns: Some(Dns { servers: vec!["10.0.0.2".into()] }),
        edge_ca: None,
    }
}

/// `answers` with only the sections selected by `mask` (one bit per section).
fn subset(mask: u16) -> Answers {
    let all = every_answer();
    let pick = |bit: u16| mask & (1 << bit) != 0;
    Answers {
        hostname: all.hostname.filter(|_| pick(0)),
        allow_elevated_docker_permissions: None,
        provisioning: all.provisioning.filter(|_| pick(1)),
        upstream: all.upstream.filter(|_| pick(2)),
        proxy: all.proxy.filter(|_| pick(3)),
        agent: all.agent.filter(|_| pick(4)),
        image_garbage_collection: all.image_garbage_collection.filter(|_| pick(5)),
        logging: all.logging.filter(|_| pick(6)),
        dns: all.dns.filter(|_| pick(7)),
        edge_ca: None,
    }
}

#[test]
#[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
fn template_gets_a_complete_agent_and_every_setting() {
    let plan = complete_agent_and_every_setting(common::upstream_template_text());
    insta::assert_snapshot!(render_text(&plan));
}

#[test]
fn our_template_gets_a_complete_agent_and_every_setting() {
    let plan = complete_agent_and_every_setting(common::template_text());
    insta::assert_snapshot!(render_text(&plan));
}

fn complete_agent_and_every_setting(template: String) -> Plan {
    let state = DeviceState::default().with_file(CONFIG, template);
    let plan = build_plan(&state, &every_answer(), &inputs()).unwrap();
    let config = written(&plan, CONFIG).expect("config.toml written");
    let parsed: toml::Table = config.parse().unwrap();
    assert_eq!(parsed["hostname"].as_str(), Some("edge-01"));
    assert_eq!(parsed["provisioning"]["source"].as_str(), Some("dps"));
    assert_eq!(parsed["provisioning"]["attestation"]["method"].as_str(), Some("symmetric_key"));
    assert_eq!(parsed["agent"]["env"]["UpstreamProtocol"].as_str(), Some("MqttWs"));
    assert_eq!(parsed["agent"]["env"]["https_proxy"].as_str(), Some("http://proxy.local:3128"));
    assert_eq!(parsed["image_garbage_collection"]["cleanup_recurrence"].as_str(), Some("2d"));
    assert_eq!(parsed["agent"]["name"].as_str(), Some("edgeAgent"));
    assert_eq!(parsed["agent"]["type"].as_str(), Some("docker"));
    assert!(parsed["agent"]["config"]["image"].as_str().is_some_and(|i| !i.is_empty()));
    plan
}

#[test]
fn second_plan_after_applying_is_empty() {
    for state in [
        DeviceState::default().with_file(CONFIG, common::template_text()),
        DeviceState::default().with_file(CONFIG, BENCH_CONFIG).with_file(DAEMON, BENCH_DAEMON),
        DeviceState::default(),
    ] {
        let plan = build_plan(&state, &every_answer(), &inputs()).unwrap();
        assert!(!plan.is_empty());
        let again = build_plan(&applied(state, &plan), &every_answer(), &inputs()).unwrap();
        assert!(again.is_empty(), "second plan not empty:\n{}", render_text(&again));
    }
}

#[test]
#[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
fn second_plan_after_applying_to_iot_edges_real_template_is_empty() {
    let state = DeviceState::default().with_file(CONFIG, common::upstream_template_text());
    let plan = build_plan(&state, &every_answer(), &inputs()).unwrap();
    assert!(!plan.is_empty());
    let again = build_plan(&applied(state, &plan), &every_answer(), &inputs()).unwrap();
    assert!(again.is_empty(), "second plan not empty:\n{}", render_text(&again));
}

#[test]
fn switching_provisioning_to_dps_leaves_no_manual_key_beside_the_dps_ones() {
    let state = DeviceState::default().with_file(CONFIG, BENCH_CONFIG);
    let plan = build_plan(&state, &subset(1 << 1), &inputs()).unwrap();
    let config = written(&plan, CONFIG).unwrap();
    let parsed: toml::Table = config.parse().unwrap();
    let provisioning = parsed["provisioning"].as_table().unwrap();
    assert!(provisioning.get("connection_string").is_none(), "manual keys left beside dps ones:\n{config}");
    assert_eq!(provisioning["id_scope"].as_str(), Some("0ne00000A0A"));
}

#[test]
fn journald_drops_file_driver_options() {
    let state = DeviceState::default().with_file(DAEMON, BENCH_DAEMON);
    let answers = Answers {
        logging: Some(Logging { driver: LogDriver::Journald, max_size: None, max_files: None }),
        ..Answers::default()
    };
    let plan = build_plan(&state, &answers, &inputs()).unwrap();
    let daemon: serde_json::Value = serde_json::from_str(&written(&plan, DAEMON).unwrap()).unwrap();
    assert_eq!(daemon["log-driver"], "journald");
    assert!(daemon.get("log-opts").is_none(), "{daemon}");
}

#[test]
fn numeric_max_file_is_rewritten_as_a_string() {
    let state = DeviceState::default().with_file(
        DAEMON,
        "{\n  \"log-driver\": \"local\",\n  \"log-opts\": { \"max-size\": \"10m\", \"max-file\": 3 }\n}\n",
    );
    let answers = Answers {
        logging: Some(Logging { driver: LogDriver::Local, max_size: None, max_files: None }),
        ..Answers::default()
    };
    let plan = build_plan(&state, &answers, &inputs()).unwrap();
    let daemon: serde_json::Value = serde_json::from_str(&written(&plan, DAEMON).unwrap()).unwrap();
    assert_eq!(daemon["log-opts"]["max-file"], "3");
}

#[test]
fn uppercase_proxy_key_in_agent_env_is_replaced_by_the_lowercase_one() {
    let state = DeviceState::default().with_file(
        CONFIG,
        "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h;DeviceId=d;SharedAccessKey=YWJj\"\n\n[agent]\nname = \"edgeAgent\"\ntype = \"docker\"\n\n[agent.config]\nimage = \"mcr.microsoft.com/azureiotedge-agent:1.4\"\n\n[agent.env]\n\"HTTPS_PROXY\" = \"http://old:3128\"\n",
    );
    let plan = build_plan(&state, &subset(1 << 3), &inputs()).unwrap();
    let parsed: toml::Table = written(&plan, CONFIG).unwrap().parse().unwrap();
    let env = parsed["agent"]["env"].as_table().unwrap();
    assert_eq!(env.get("HTTPS_PROXY"), None);
    assert_eq!(env["https_proxy"].as_str(), Some("http://proxy.local:3128"));
}

#[test]
fn secrets_are_masked_in_the_review() {
    let state = DeviceState::default().with_file(CONFIG, BENCH_CONFIG);
    let text = render_text(&build_plan(&state, &every_answer(), &inputs()).unwrap());
    for secret in ["Registry-Pa55word", "c3ltbWV0cmljLWtleS1mb3ItdGVzdHM=", "YmVuY2gta2V5LW5vdC1zZWNyZXQ="] {
        assert!(!text.contains(secret), "{secret} shown in:\n{text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the answers, a line of the bench config that holds none of the keys they set
    /// comes out unchanged and in order; on the template (all comments) nothing is lost at all.
    #[test]
    fn untouched_lines_survive_any_combination_of_answers(mask in 0u16..256) {
        untouched_lines_survive(&common::template_text(), false, mask)?;
        untouched_lines_survive(BENCH_CONFIG, true, mask)?;
    }

    #[test]
    #[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's template); CI has it")]
    fn no_line_of_iot_edges_real_template_is_lost_whatever_the_answers(mask in 0u16..256) {
        untouched_lines_survive(&common::upstream_template_text(), false, mask)?;
    }
}

fn untouched_lines_survive(original: &str, allow_replaced: bool, mask: u16) -> Result<(), TestCaseError> {
    let answers = subset(mask);
    let state = DeviceState::default().with_file(CONFIG, original).with_file(DAEMON, BENCH_DAEMON);
    let plan = match build_plan(&state, &answers, &inputs()) {
        Ok(plan) => plan,
        Err(err) => {
            // The one refusal: a config.toml without [provisioning], which IoT Edge refuses.
            let message = format!("{err:#}");
            prop_assert!(answers.provisioning.is_none(), "refused with a [provisioning] answer: {message}");
            prop_assert!(!original.parse::<toml::Table>().is_ok_and(|t| t.contains_key("provisioning")));
            prop_assert!(message.contains("no [provisioning] section"), "{message}");
            return Ok(());
        }
    };
    let Some(after) = written(&plan, CONFIG) else {
        // Only answers that touch config.toml leave it alone.
        prop_assert!(
            answers.hostname.is_none()
                && answers.provisioning.is_none()
                && answers.upstream.is_none()
                && answers.proxy.is_none()
                && answers.agent.is_none()
                && answers.image_garbage_collection.is_none(),
            "config.toml not written although an answer changes it"
        );
        return Ok(());
    };
    let diff = similar::TextDiff::from_lines(original, after.as_str());
    for change in diff.iter_all_changes().filter(|c| c.tag() == similar::ChangeTag::Delete) {
        let line = change.value().trim();
        prop_assert!(allow_replaced, "template line lost: {line}");
        prop_assert!(touched_key(line, &answers), "line removed that no answer touches: {line:?}");
    }
    prop_assert!(after.parse::<toml::Table>().is_ok());
    Ok(())
}

/// Whether `line` holds a key that `answers` set (so it may legitimately change).
fn touched_key(line: &str, answers: &Answers) -> bool {
    let key = line.split('=').next().unwrap_or("").trim().trim_matches('"');
    let section = |on: bool, keys: &[&str]| on && keys.contains(&key);
    section(answers.hostname.is_some(), &["hostname"])
        || (answers.provisioning.is_some()
            && (line.starts_with("[provisioning") || ["source", "connection_string"].contains(&key)))
        || section(answers.upstream.is_some(), &["UpstreamProtocol"])
        || section(answers.proxy.is_some(), &["https_proxy"])
        || section(answers.agent.is_some(), &["image", "serveraddress", "username", "password"])
        || section(
            answers.image_garbage_collection.is_some(),
            &["enabled", "cleanup_recurrence", "image_age_cleanup_threshold", "cleanup_time"],
        )
}

/// IoT Edge's own test super-config (input of `config apply`), which has empty `[agent.env]`
/// and `[agent.config.auth]` tables: the answers land inside them, nothing else moves.
#[test]
#[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (IoT Edge's test configs); CI has it")]
fn edits_land_in_the_existing_tables_of_iot_edges_super_config() {
    let path = common::upstream_fixture("edgelet__iotedge__test-files__config__ca-certs__super-config.toml");
    let original = std::fs::read_to_string(path).unwrap();
    edits_land_in_the_existing_tables(&original, "image = \"mcr.microsoft.com/azureiotedge-agent:1.0\"\n");
}

/// The same on our own full config with empty agent tables.
#[test]
fn edits_land_in_the_existing_empty_agent_tables_of_a_full_config() {
    let original = common::fixture("super-config-empty-agent-tables.toml");
    edits_land_in_the_existing_tables(&original, "image = \"mcr.microsoft.com/azureiotedge-agent:1.2\"\n");
}

fn edits_land_in_the_existing_tables(original: &str, image_line: &str) {
    let state = DeviceState::default().with_file(CONFIG, original);
    let answers = Answers {
        upstream: every_answer().upstream,
        proxy: every_answer().proxy,
        agent: every_answer().agent,
        ..Answers::default()
    };
    let plan = build_plan(&state, &answers, &inputs()).unwrap();
    let after = written(&plan, CONFIG).unwrap();
    let parsed: toml::Table = after.parse().unwrap();
    assert_eq!(parsed["agent"]["env"]["UpstreamProtocol"].as_str(), Some("MqttWs"));
    assert_eq!(parsed["agent"]["config"]["auth"]["username"].as_str(), Some("edge-pull"));
    // No table header is added: the answers went into the tables already there.
    let headers = |t: &str| t.lines().filter(|l| l.starts_with('[')).count();
    assert_eq!(headers(&after), headers(original), "{after}");
    // Only the image line is replaced; every other line survives in order.
    let diff = similar::TextDiff::from_lines(original, after.as_str());
    let removed: Vec<_> = diff
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Delete)
        .map(|c| c.value().to_string())
        .collect();
    assert_eq!(removed, [image_line]);
    let again = build_plan(&applied(state, &plan), &answers, &inputs()).unwrap();
    assert!(again.is_empty());
}

#[test]
fn warnings_about_the_answers_are_notes_of_the_plan() {
    let answers = Answers {
        proxy: Some(Proxy { url: "https://proxy.local:443".into(), no_proxy: None }),
        provisioning: every_answer().provisioning,
        ..Answers::default()
    };
    let plan = build_plan(&DeviceState::default(), &answers, &inputs()).unwrap();
    assert!(
        plan.notes.iter().any(|n| n.contains("[proxy] url") && n.contains("http://")),
        "{:?}",
        plan.notes
    );
}

#[test]
fn hostname_other_than_the_os_hostname_gets_a_note() {
    let mut state = DeviceState::default().with_file(CONFIG, BENCH_CONFIG);
    state.os_hostname = Some("edge-01".into());
    let fqdn = Answers { hostname: Some("edge-01.plant.contoso.com".into()), ..Answers::default() };
    assert!(!build_plan(&state, &fqdn, &inputs()).unwrap().notes.iter().any(|n| n.contains("hostnamectl")));
    let other = Answers { hostname: Some("edge-02".into()), ..Answers::default() };
    let plan = build_plan(&state, &other, &inputs()).unwrap();
    assert!(plan.notes.iter().any(|n| n.contains("hostnamectl set-hostname edge-02")), "{:?}", plan.notes);
}
