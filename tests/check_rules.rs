//! Each check of `edgeprep check` on fixtures that pass it and fixtures that fail it, through
//! the library (pure facts built by hand; no binary, no device).

use std::path::Path;

use edgeprep::checks::probe::{DiskFree, Probe};
use edgeprep::checks::{CheckResult, Facts, Selection, Status, run};
use edgeprep::device::DeviceState;
use time::OffsetDateTime;

const CONFIG: &str = "/etc/aziot/config.toml";
const DAEMON: &str = "/etc/docker/daemon.json";

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn state(files: &[(&str, &str)]) -> DeviceState {
    let mut state = DeviceState::default();
    state.os_hostname = Some("edge-01".into());
    for (path, text) in files {
        state = state.with_file(path, text.as_bytes().to_vec());
    }
    state
}

fn check_with(state: DeviceState, probe: Probe, id: &str) -> CheckResult {
    let facts = Facts::new(state, probe, OffsetDateTime::now_utc());
    let report = run(&facts, &Selection { only: vec![id.into()], skip: vec![] });
    assert_eq!(report.results.len(), 1, "{id} ran once");
    report.results[0].clone()
}

fn check(files: &[(&str, &str)], id: &str) -> CheckResult {
    check_with(state(files), Probe::default(), id)
}

fn config(text: &str, id: &str) -> CheckResult {
    check(&[(CONFIG, text)], id)
}

/// The production fixture with one line replaced (`from` must occur).
fn production_with(from: &str, to: &str) -> String {
    let text = fixture("production.toml");
    assert!(text.contains(from), "fixture lacks {from:?}");
    text.replacen(from, to, 1)
}

fn assert_status(result: &CheckResult, status: Status) {
    assert_eq!(result.status, status, "{}: {:#?}", result.id, result);
}

fn details(result: &CheckResult) -> String {
    result.details.join("\n")
}

// ---- config-well-formed -----------------------------------------------------------------

#[test]
fn well_formed_passes_a_production_config() {
    assert_status(&config(&fixture("production.toml"), "config-well-formed"), Status::Ok);
}

#[test]
fn well_formed_names_a_top_level_key_after_a_table_and_a_misspelled_table() {
    let result = config(&fixture("misplaced-and-misspelled.toml"), "config-well-formed");
    assert_status(&result, Status::Error);
    let text = details(&result);
    assert!(text.contains("line 16: hostname is inside [agent.env]"), "{text}");
    assert!(
        text.contains(
            "line 18: image_garbage_colection is not a key IoT Edge knows (did you mean image_garbage_collection?)"
        ),
        "{text}"
    );
    let fix = result.fix.expect("a fix");
    assert!(fix.text.contains("config.toml"));
}

#[test]
fn well_formed_refuses_a_partial_agent_table() {
    let result = config(&fixture("partial-agent.toml"), "config-well-formed");
    assert_status(&result, Status::Error);
    assert!(
        details(&result).contains("[agent] is incomplete (missing name, type, config.image)"),
        "{}",
        details(&result)
    );
}

#[test]
fn well_formed_reports_a_syntax_error_with_its_line() {
    let result = config(&fixture("syntax-error.toml"), "config-well-formed");
    assert_status(&result, Status::Error);
    assert!(details(&result).starts_with("/etc/aziot/config.toml: line 3"), "{}", details(&result));
}

#[test]
fn well_formed_applies_iot_edges_value_rules() {
    let short_timeout =
        production_with("allow_elevated_docker_permissions = false", "cloud_timeout_sec = 10");
    let result = config(&short_timeout, "config-well-formed");
    assert_status(&result, Status::Error);
    assert!(details(&result).contains("at least 70"));

    let bad_gc = production_with("cleanup_recurrence = \"1d\"", "cleanup_recurrence = \"36h\"");
    let result = config(&bad_gc, "config-well-formed");
    assert_status(&result, Status::Error);
    assert!(details(&result).contains("cleanup_recurrence"), "{}", details(&result));

    let empty_ca = "[provisioning]\nsource = \"manual\"\nconnection_string = \"x\"\n\n[edge_ca]\n";
    assert!(details(&config(empty_ca, "config-well-formed")).contains("[edge_ca] is empty"));
}

#[test]
fn well_formed_is_an_error_without_config_toml_or_provisioning() {
    assert_status(&check(&[], "config-well-formed"), Status::Error);
    let result = config("hostname = \"edge-01\"\n", "config-well-formed");
    assert_status(&result, Status::Error);
    assert!(details(&result).contains("[provisioning] is missing"));
}

#[test]
fn well_formed_warns_about_a_misspelled_key_in_a_known_table() {
    let text = production_with("cleanup_time = \"03:30\"", "cleanup_tme = \"03:30\"");
    let result = config(&text, "config-well-formed");
    assert_status(&result, Status::Warning);
    assert!(
        details(&result).contains(
            "[image_garbage_collection] cleanup_tme is not a key IoT Edge knows (did you mean cleanup_time?)"
        ),
        "{}",
        details(&result)
    );
}

// ---- hostname ---------------------------------------------------------------------------

#[test]
fn hostname_accepts_the_os_hostname_or_an_fqdn_starting_with_it() {
    assert_status(&config(&fixture("production.toml"), "hostname"), Status::Ok);
    let fqdn = production_with("hostname = \"edge-01\"", "hostname = \"edge-01.plant.contoso.com\"");
    assert_status(&config(&fqdn, "hostname"), Status::Ok);
}

#[test]
fn hostname_differing_from_the_os_is_an_error() {
    let other = production_with("hostname = \"edge-01\"", "hostname = \"edge-02\"");
    let result = config(&other, "hostname");
    assert_status(&result, Status::Error);
    assert!(details(&result).contains("\"edge-02\" is not the OS hostname \"edge-01\""));
    assert_eq!(result.fix.unwrap().answers_key.as_deref(), Some("hostname"));
}

// ---- upstream-protocol and proxy-protocol ----------------------------------------------

#[test]
fn upstream_protocol_must_be_set_and_spelled_as_iotedge_check_reads_it() {
    assert_status(&config(&fixture("production.toml"), "upstream-protocol"), Status::Ok);
    let unset = production_with("UpstreamProtocol = \"AmqpWs\"\n", "");
    assert_status(&config(&unset, "upstream-protocol"), Status::Warning);
    let shouting = production_with("\"AmqpWs\"", "\"AMQPWS\"");
    let result = config(&shouting, "upstream-protocol");
    assert_status(&result, Status::Warning);
    assert!(details(&result).contains("only understands \"AmqpWs\""));
    let wrong = production_with("\"AmqpWs\"", "\"Http\"");
    assert_status(&config(&wrong, "upstream-protocol"), Status::Error);
}

#[test]
fn proxy_protocol_warns_about_amqp_or_mqtt_through_a_proxy() {
    assert_status(&config(&fixture("production.toml"), "proxy-protocol"), Status::Ok);
    for plain in ["Amqp", "Mqtt"] {
        let text = production_with("\"AmqpWs\"", &format!("\"{plain}\""));
        let result = config(&text, "proxy-protocol");
        assert_status(&result, Status::Warning);
        assert!(details(&result).contains(&format!("use {plain}Ws")), "{}", details(&result));
        assert_eq!(result.fix.unwrap().answers_key.as_deref(), Some("upstream.protocol"));
    }
    let unset = production_with("UpstreamProtocol = \"AmqpWs\"\n", "");
    assert_status(&config(&unset, "proxy-protocol"), Status::Warning);
    let no_proxy = production_with("https_proxy = \"http://proxy.plant.contoso.com:3128\"\n", "")
        .replace("\"AmqpWs\"", "\"Amqp\"");
    assert_status(&config(&no_proxy, "proxy-protocol"), Status::Ok);
}

// ---- agent-image ------------------------------------------------------------------------

#[test]
fn agent_image_passes_a_pinned_private_image_with_credentials() {
    assert_status(&config(&fixture("production.toml"), "agent-image"), Status::Ok);
}

#[test]
fn agent_image_warns_about_rolling_tags_and_missing_credentials() {
    let rolling = production_with("azureiotedge-agent:1.4.43", "azureiotedge-agent:1.4");
    let result = config(&rolling, "agent-image");
    assert_status(&result, Status::Warning);
    assert!(details(&result).contains("rolling tag"));

    let no_auth = production_with("[agent.config.auth]", "[agent.config.unused]");
    let result = config(&no_auth, "agent-image");
    assert_status(&result, Status::Warning);
    assert!(details(&result).contains("lacks serveraddress, username or password"), "{}", details(&result));
    // The registry password never appears in a result.
    assert!(!format!("{result:?}").contains("example-registry-password"));
}

#[test]
fn agent_image_refuses_a_debug_image_and_defaults_to_the_rolling_tag() {
    let debug = production_with("azureiotedge-agent:1.4.43", "azureiotedge-agent:1.4.43-linux-amd64.debug");
    assert_status(&config(&debug, "agent-image"), Status::Error);
    let default = "[provisioning]\nsource = \"manual\"\nconnection_string = \"x\"\n";
    let result = config(default, "agent-image");
    assert_status(&result, Status::Warning);
    assert!(details(&result).contains("mcr.microsoft.com/azureiotedge-agent:1.4"));
}

// ---- image-garbage-collection, elevated-docker-permissions -----------------------------

#[test]
fn image_garbage_collection_warns_when_disabled_and_errs_when_invalid() {
    assert_status(&config(&fixture("production.toml"), "image-garbage-collection"), Status::Ok);
    let disabled = production_with("enabled = true", "enabled = false");
    assert_status(&config(&disabled, "image-garbage-collection"), Status::Warning);
    let invalid = production_with("cleanup_time = \"03:30\"", "cleanup_time = \"24:00\"");
    assert_status(&config(&invalid, "image-garbage-collection"), Status::Error);
}

#[test]
fn elevated_docker_permissions_must_be_turned_off() {
    assert_status(&config(&fixture("production.toml"), "elevated-docker-permissions"), Status::Ok);
    let default = production_with("allow_elevated_docker_permissions = false\n", "");
    assert_status(&config(&default, "elevated-docker-permissions"), Status::Warning);
    let on = production_with("= false", "= true");
    assert_status(&config(&on, "elevated-docker-permissions"), Status::Warning);
}

// ---- host-storage -----------------------------------------------------------------------

fn probe_with_bind(exists: bool) -> Probe {
    let mut probe = Probe::default();
    probe.bind_sources.insert("/var/lib/edgeprep/edgeAgent".into(), exists);
    probe
}

#[test]
fn host_storage_passes_when_storage_folder_is_inside_an_existing_bind() {
    let result =
        check_with(state(&[(CONFIG, &fixture("production.toml"))]), probe_with_bind(true), "host-storage");
    assert_status(&result, Status::Ok);
    assert!(
        details(&result).contains("/iotedge/storage/edgeAgent is persisted in /var/lib/edgeprep/edgeAgent")
    );
}

#[test]
fn host_storage_fails_without_a_bind_or_a_host_directory() {
    let missing_dir =
        check_with(state(&[(CONFIG, &fixture("production.toml"))]), probe_with_bind(false), "host-storage");
    assert_status(&missing_dir, Status::Error);
    let no_folder = production_with("storageFolder = \"/iotedge/storage\"\n", "");
    let result = check_with(state(&[(CONFIG, &no_folder)]), probe_with_bind(true), "host-storage");
    assert_status(&result, Status::Warning);
    assert!(details(&result).contains("/tmp/edgeAgent"));
    let outside = production_with("storageFolder = \"/iotedge/storage\"", "storageFolder = \"/data\"");
    assert_status(
        &check_with(state(&[(CONFIG, &outside)]), probe_with_bind(true), "host-storage"),
        Status::Warning,
    );
    // IoT Edge matches storageFolder in any case.
    let cased = production_with("storageFolder", "StorageFolder");
    assert_status(&check_with(state(&[(CONFIG, &cased)]), probe_with_bind(true), "host-storage"), Status::Ok);
}

// ---- production-certificates (without files: the kinds of Edge CA) ---------------------

#[test]
fn production_certificates_refuses_the_quickstart_and_self_signed_cas() {
    let quickstart = "[provisioning]\nsource = \"manual\"\nconnection_string = \"x\"\n";
    let result = config(quickstart, "production-certificates");
    assert_status(&result, Status::Error);
    assert!(details(&result).contains("quickstart"));
    assert_eq!(result.fix.unwrap().answers_key.as_deref(), Some("edge_ca"));
    let self_signed = format!("{quickstart}\n[edge_ca]\nmethod = \"self_signed\"\n");
    assert_status(&config(&self_signed, "production-certificates"), Status::Error);
    let est = format!("{quickstart}\n[edge_ca]\nmethod = \"est\"\n");
    assert_status(&config(&est, "production-certificates"), Status::Ok);
}

// ---- proxy-settings ---------------------------------------------------------------------

const DROPIN: &str = "/etc/systemd/system/{unit}.service.d/edgeprep-proxy.conf";

fn dropins(value: &str) -> Vec<(String, String)> {
    ["docker", "aziot-edged", "aziot-identityd"]
        .iter()
        .map(|unit| {
            (DROPIN.replace("{unit}", unit), format!("[Service]\nEnvironment=\"https_proxy={value}\"\n"))
        })
        .collect()
}

fn proxy_state(config_text: &str, files: &[(String, String)]) -> DeviceState {
    let mut state = state(&[(CONFIG, config_text)]);
    for (path, text) in files {
        let dir = path.rsplit_once('/').unwrap().0.to_string();
        let name = path.rsplit_once('/').unwrap().1.to_string();
        let mut entries: Vec<String> = state_entries(&state, &dir);
        entries.push(name);
        entries.sort();
        let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
        state = state.with_file(path, text.as_bytes().to_vec()).with_dir(&dir, &refs);
    }
    state
}

fn state_entries(state: &DeviceState, dir: &str) -> Vec<String> {
    state.dir_entries(dir).to_vec()
}

#[test]
fn proxy_settings_passes_when_every_unit_gets_the_agents_proxy() {
    let files = dropins("http://proxy.plant.contoso.com:3128");
    let result =
        check_with(proxy_state(&fixture("production.toml"), &files), Probe::default(), "proxy-settings");
    assert_status(&result, Status::Ok);
}

#[test]
fn proxy_settings_sees_a_later_override_and_masks_passwords() {
    let mut files = dropins("http://proxy.plant.contoso.com:3128");
    // Microsoft's docs have people write override.conf, which sorts after edgeprep's drop-in.
    files.push((
        "/etc/systemd/system/aziot-identityd.service.d/override.conf".into(),
        "[Service]\nEnvironment=\"https_proxy=http://user:hunter2@old-proxy:8080\"\n".into(),
    ));
    let result =
        check_with(proxy_state(&fixture("production.toml"), &files), Probe::default(), "proxy-settings");
    assert_status(&result, Status::Warning);
    let text = details(&result);
    assert!(text.contains("aziot-identityd unit: \"http://user:********@old-proxy:8080\""), "{text}");
    assert!(!format!("{result:?}").contains("hunter2"));
    assert_eq!(result.fix.unwrap().answers_key.as_deref(), Some("proxy.url"));
}

#[test]
fn proxy_settings_warns_about_units_without_a_proxy_or_with_the_uppercase_one() {
    let result =
        check_with(proxy_state(&fixture("production.toml"), &[]), Probe::default(), "proxy-settings");
    assert_status(&result, Status::Warning);
    assert!(details(&result).contains("docker unit: (none)"), "{}", details(&result));

    let mut files = dropins("http://proxy.plant.contoso.com:3128");
    files[0].1 = "[Service]\nEnvironment=\"HTTPS_PROXY=http://proxy.plant.contoso.com:3128\"\n".into();
    let result =
        check_with(proxy_state(&fixture("production.toml"), &files), Probe::default(), "proxy-settings");
    assert_status(&result, Status::Warning);
    assert!(details(&result).contains("docker gets HTTPS_PROXY"), "{}", details(&result));
}

#[test]
fn proxy_settings_is_ok_without_any_proxy() {
    let no_proxy = production_with("https_proxy = \"http://proxy.plant.contoso.com:3128\"\n", "");
    assert_status(&config(&no_proxy, "proxy-settings"), Status::Ok);
}

// ---- logs-policy and dns -----------------------------------------------------------------

#[test]
fn logs_policy_follows_iotedge_checks_rule() {
    assert_status(&check(&[(DAEMON, &fixture("daemon-production.json"))], "logs-policy"), Status::Ok);
    assert_status(&check(&[], "logs-policy"), Status::Warning);
    assert_status(&check(&[(DAEMON, "{\"log-driver\": \"local\"}")], "logs-policy"), Status::Warning);
    assert_status(&check(&[(DAEMON, "{\"log-driver\": \"journald\"}")], "logs-policy"), Status::Ok);
    assert_status(&check(&[(DAEMON, "{\"dns\": [\"10.0.0.2\"]}")], "logs-policy"), Status::Warning);
    let numeric = check(&[(DAEMON, &fixture("daemon-numeric-log-opts.json"))], "logs-policy");
    assert_status(&numeric, Status::Error);
    assert!(details(&numeric).contains("max-file must be strings"));
    let broken = check(&[(DAEMON, "{\"log-driver\": \"local\",}")], "logs-policy");
    assert_status(&broken, Status::Error);
    assert!(details(&broken).contains("line 1"));
}

#[test]
fn dns_needs_servers_in_daemon_json() {
    let result = check(&[(DAEMON, &fixture("daemon-production.json"))], "dns");
    assert_status(&result, Status::Ok);
    assert!(details(&result).contains("10.20.0.2"));
    assert_status(&check(&[], "dns"), Status::Warning);
    assert_status(&check(&[(DAEMON, "{\"dns\": []}")], "dns"), Status::Warning);
    assert_eq!(check(&[], "dns").fix.unwrap().answers_key.as_deref(), Some("dns.servers"));
}

// ---- container engine, volumes, host ------------------------------------------------------

fn probe_with_packages(name: &str) -> Probe {
    let packages = edgeprep::checks::probe::installed_packages(&fixture(name));
    Probe { packages: Some(packages), ..Probe::default() }
}

#[test]
fn container_engine_must_be_moby() {
    assert_status(
        &check_with(state(&[]), probe_with_packages("dpkg-moby.status"), "container-engine-moby"),
        Status::Ok,
    );
    let ce = check_with(state(&[]), probe_with_packages("dpkg-docker-ce.status"), "container-engine-moby");
    assert_status(&ce, Status::Warning);
    assert!(details(&ce).contains("docker-ce 5:24.0.7"));
    assert_status(&check(&[], "container-engine-moby"), Status::Skipped);
}

#[test]
fn live_only_checks_are_skipped_with_a_reason_offline() {
    for id in ["unused-volumes", "clock-sync", "disk-space"] {
        let result = check(&[], id);
        assert_status(&result, Status::Skipped);
        assert!(result.reason.as_deref().is_some_and(|r| r.contains("live device")), "{result:?}");
    }
}

#[test]
fn unused_volumes_are_a_warning() {
    let probe = Probe { dangling_volumes: Some(Ok(vec!["abc123".into()])), ..Probe::default() };
    assert_status(&check_with(state(&[]), probe, "unused-volumes"), Status::Warning);
    let probe = Probe { dangling_volumes: Some(Ok(vec![])), ..Probe::default() };
    assert_status(&check_with(state(&[]), probe, "unused-volumes"), Status::Ok);
}

#[test]
fn clock_sync_needs_a_service_on_a_device_without_rtc() {
    let no_rtc = Probe { live: true, has_rtc: Some(false), ..Probe::default() };
    assert_status(&check_with(state(&[]), no_rtc, "clock-sync"), Status::Error);
    let synced = Probe {
        live: true,
        has_rtc: Some(false),
        time_sync: vec!["systemd-timesyncd (enabled)".into()],
        ..Probe::default()
    };
    assert_status(&check_with(state(&[]), synced, "clock-sync"), Status::Ok);
}

#[test]
fn disk_space_warns_when_low() {
    const GIB: u64 = 1 << 30;
    let low = Probe { disk: Some(DiskFree { available: GIB / 2, total: 32 * GIB }), ..Probe::default() };
    assert_status(&check_with(state(&[]), low, "disk-space"), Status::Warning);
    let full = Probe { disk: Some(DiskFree { available: GIB / 10, total: 32 * GIB }), ..Probe::default() };
    assert_status(&check_with(state(&[]), full, "disk-space"), Status::Error);
    let fine = Probe { disk: Some(DiskFree { available: 20 * GIB, total: 32 * GIB }), ..Probe::default() };
    assert_status(&check_with(state(&[]), fine, "disk-space"), Status::Ok);
}

#[test]
fn device_inventory_lists_versions_as_information() {
    let result = check_with(state(&[]), probe_with_packages("dpkg-moby.status"), "device-inventory");
    assert_status(&result, Status::Info);
    let text = details(&result);
    assert!(text.contains("container engine: moby-engine 20.10.25+azure-1"), "{text}");
    assert!(text.contains("IoT Edge: aziot-edge 1.4.43-1"), "{text}");
    assert!(text.contains("identity service: aziot-identity-service 1.4.9-1"), "{text}");
}

#[test]
fn proxy_settings_on_a_live_device_warns_when_systemd_runs_older_settings() {
    let value = "http://proxy.plant.contoso.com:3128";
    let files = dropins(value);
    let running = |edged: &str| Probe {
        live: true,
        running_proxy: vec![
            ("docker", Ok(value.to_string())),
            ("aziot-edged", Ok(edged.to_string())),
            ("aziot-identityd", Ok(value.to_string())),
        ],
        ..Probe::default()
    };
    let current =
        check_with(proxy_state(&fixture("production.toml"), &files), running(value), "proxy-settings");
    assert_status(&current, Status::Ok);
    let stale = check_with(proxy_state(&fixture("production.toml"), &files), running(""), "proxy-settings");
    assert_status(&stale, Status::Warning);
    assert!(
        details(&stale).contains("systemd still runs aziot-edged with https_proxy (none)")
            && details(&stale).contains("daemon-reload"),
        "{}",
        details(&stale)
    );
}

#[test]
fn proxy_settings_does_not_compare_a_proxy_from_an_environment_file_with_systemctl_show() {
    // A proxy with a password lives in a root-only environment file, which systemctl show omits.
    let files: Vec<(String, String)> = ["docker", "aziot-edged", "aziot-identityd"]
        .iter()
        .map(|unit| {
            (
                DROPIN.replace("{unit}", unit),
                format!("[Service]\nEnvironmentFile=/etc/edgeprep/{unit}-proxy.env\n"),
            )
        })
        .collect();
    let config = production_with("http://proxy.plant.contoso.com:3128", "http://u:pw@proxy:3128");
    let mut state = proxy_state(&config, &files);
    for unit in ["docker", "aziot-edged", "aziot-identityd"] {
        state = state
            .with_file(&format!("/etc/edgeprep/{unit}-proxy.env"), "https_proxy=http://u:pw@proxy:3128\n");
    }
    let probe = Probe {
        live: true,
        running_proxy: ["docker", "aziot-edged", "aziot-identityd"]
            .iter()
            .map(|u| (*u, Ok(String::new())))
            .collect(),
        ..Probe::default()
    };
    let result = check_with(state, probe, "proxy-settings");
    assert_status(&result, Status::Ok);
}
