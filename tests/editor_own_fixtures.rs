//! The config.toml editor on edgeprep's own fixtures (tests/fixtures/): the twins of the
//! src/edit/toml.rs tests that need IoT Edge's files from ../shared, so a bare clone still
//! checks that edits keep the file's form.

mod common;

use edgeprep::edit::toml::ConfigToml;

const PATH: &str = "/etc/aziot/config.toml";

fn parse(text: &str) -> ConfigToml {
    ConfigToml::parse(text, PATH).expect("fixture parses")
}

fn reparse(config: &ConfigToml) -> toml::Table {
    toml::from_str(&config.render()).expect("result is valid TOML")
}

/// Lines the edit removed or changed: a correct in-place edit of a template only inserts.
fn lost_lines(before: &str, after: &str) -> Vec<String> {
    similar::TextDiff::from_lines(before, after)
        .iter_all_changes()
        .filter(|c| c.tag() == similar::ChangeTag::Delete)
        .map(|c| c.value().to_owned())
        .collect()
}

/// What a production setup sets, as the plan would.
fn production_edits(config: &mut ConfigToml) {
    config.set(&[], "hostname", "edge-01");
    config.replace_table(
        &["provisioning"],
        &[
            (&[], "source", "manual".into()),
            (
                &[],
                "connection_string",
                "HostName=h.azure-devices.net;DeviceId=edge-01;SharedAccessKey=a2V5".into(),
            ),
        ],
    );
    config.set(&["agent"], "name", "edgeAgent");
    config.set(&["agent"], "type", "docker");
    config.set(&["agent", "config"], "image", "mcr.microsoft.com/azureiotedge-agent:1.4");
    config.set(&["agent", "config", "auth"], "serveraddress", "example.azurecr.io");
    config.set(&["agent", "env"], "UpstreamProtocol", "AmqpWs");
    config.set(&["agent", "env"], "https_proxy", "http://proxy:3128");
    config.set(&["image_garbage_collection"], "cleanup_time", "00:00");
    config.set(&["edge_ca"], "cert", "file:///var/aziot/certs/edge-ca.pem");
    config.remove(&["edge_ca"], "auto_generated_edge_ca_expiry_days");
}

fn headers(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.starts_with('[')).map(str::to_owned).collect()
}

#[test]
fn our_template_round_trips_byte_for_byte() {
    let text = common::template_text();
    assert_eq!(parse(&text).render(), text);
}

#[test]
fn every_toml_fixture_of_ours_round_trips_byte_for_byte() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(parse(&text).render(), text, "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 4, "only {seen} fixtures found");
}

#[test]
fn edits_to_our_template_come_out_the_same_whichever_is_set_first() {
    let mut hostname_first = parse(&common::template_text());
    hostname_first.set(&[], "hostname", "edge-01");
    hostname_first.set(&["agent"], "name", "edgeAgent");
    let mut table_first = parse(&common::template_text());
    table_first.set(&["agent"], "name", "edgeAgent");
    table_first.set(&[], "hostname", "edge-01");
    assert_eq!(table_first.render(), hostname_first.render());
}

#[test]
fn new_top_level_key_in_our_template_without_tables_goes_after_the_comments() {
    let text = common::template_text();
    let mut config = parse(&text);
    config.set(&[], "hostname", "edge-01");
    assert_eq!(config.render(), format!("{text}\nhostname = \"edge-01\"\n"));
}

#[test]
fn edits_to_our_template_only_insert_lines_and_parse_to_the_expected_values() {
    let text = common::template_text();
    let mut config = parse(&text);
    production_edits(&mut config);
    let out = config.render();
    assert_eq!(lost_lines(&text, &out), Vec::<String>::new());
    let parsed = reparse(&config);
    assert_eq!(parsed["hostname"].as_str(), Some("edge-01"));
    assert_eq!(parsed["provisioning"]["source"].as_str(), Some("manual"));
    assert_eq!(parsed["agent"]["type"].as_str(), Some("docker"));
    assert_eq!(parsed["agent"]["config"]["auth"]["serveraddress"].as_str(), Some("example.azurecr.io"));
    assert_eq!(parsed["agent"]["env"]["UpstreamProtocol"].as_str(), Some("AmqpWs"));
    assert_eq!(parsed["image_garbage_collection"]["cleanup_time"].as_str(), Some("00:00"));
    assert_eq!(parsed["edge_ca"]["cert"].as_str(), Some("file:///var/aziot/certs/edge-ca.pem"));
    // Running the same edits again changes nothing.
    production_edits(&mut config);
    assert_eq!(config.render(), out);
}

#[test]
fn edits_to_our_template_put_agent_tables_in_order_after_the_existing_content() {
    let text = common::template_text();
    let mut config = parse(&text);
    production_edits(&mut config);
    let out = config.render();
    assert_eq!(
        headers(&out),
        [
            "[provisioning]",
            "[agent]",
            "[agent.config]",
            "[agent.config.auth]",
            "[agent.env]",
            "[image_garbage_collection]",
            "[edge_ca]"
        ]
    );
    let first_header = out.find("\n[").unwrap_or(out.len());
    assert!(out[..first_header].contains("\nhostname = \"edge-01\"\n"));
    assert!(out.starts_with(&text));
}

#[test]
fn edits_to_our_full_dps_config_land_in_its_existing_tables() {
    let text = common::fixture("super-config-dps-x509.toml");
    let mut config = parse(&text);
    production_edits(&mut config);
    let out = config.render();
    let mut expected = headers(&text);
    expected.retain(|h| h != "[provisioning.attestation]");
    expected.push("[image_garbage_collection]".to_owned());
    assert_eq!(headers(&out), expected);
    let parsed = reparse(&config);
    assert_eq!(parsed["hostname"].as_str(), Some("edge-01"));
    assert_eq!(parsed["agent"]["env"]["https_proxy"].as_str(), Some("http://proxy:3128"));
    assert_eq!(parsed["agent"]["env"]["RuntimeLogLevel"].as_str(), Some("info"));
    assert!(parsed["edge_ca"].get("auto_generated_edge_ca_expiry_days").is_none());
    // Lines the edits do not touch stay where they were.
    for kept in ["auto_reprovisioning_mode = \"AlwaysOnStartup\"\n", "network = \"azure-iot-edge\"\n"] {
        assert!(out.contains(kept), "{kept:?} lost:\n{out}");
    }
    assert!(out.starts_with("# A DPS X.509 device"), "{out}");
}
