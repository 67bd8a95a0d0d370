//! `[provisioning]` edits on IoT Edge's real template, the way technicians use it: one of its
//! commented-out blocks uncommented, then edgeprep switches or updates the provisioning. Needs
//! the shared fixtures beside the checkout; tests/editor_form.rs covers the same behaviour on
//! fixtures of our own for a bare clone.

mod common;

use edgeprep::answers::parse_answers;
use edgeprep::device::DeviceState;
use edgeprep::plan::{FileAction, Inputs, build_plan};

const CONFIG: &str = "/etc/aziot/config.toml";

/// The template with the block under `title` (down to the next blank line) uncommented: its
/// `[table]` headers and the first line of each key in each table (the template lists
/// alternatives for some keys), except `skip`ped keys and tables (`[a.b` names a table).
fn uncommented(title: &str, skip: &[&str]) -> String {
    let template = common::upstream_template_text();
    let mut out = String::new();
    let mut in_block = false;
    let mut seen: Vec<String> = Vec::new();
    let mut skipping = false;
    for line in template.split_inclusive('\n') {
        if line.trim_end() == title {
            in_block = true;
        } else if line.trim().is_empty() {
            in_block = false;
        }
        let code = line.strip_prefix("# ").filter(|_| in_block);
        let key = code.and_then(|c| {
            if c.starts_with('[') {
                Some(c.split(']').next().unwrap_or(c).to_owned())
            } else {
                c.split_once(" = ").map(|(k, _)| k.trim().to_owned()).filter(|k| !k.contains(' '))
            }
        });
        match (code, key) {
            (Some(code), Some(key)) if key.starts_with('[') => {
                // A skipped table takes its keys with it.
                skipping = skip.contains(&key.as_str());
                seen.clear();
                if skipping {
                    out.push_str(line);
                } else {
                    out.push_str(code);
                }
            }
            (Some(code), Some(key)) if !skipping && !skip.contains(&key.as_str()) && !seen.contains(&key) => {
                seen.push(key);
                out.push_str(code);
            }
            _ => out.push_str(line),
        }
    }
    assert_ne!(out, template, "block {title:?} not found");
    out
}

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

fn diff(before: &str, after: &str) -> String {
    let diff = similar::TextDiff::from_lines(before, after).unified_diff().context_radius(2).to_string();
    edgeprep::secrets::mask_known_secrets(&diff)
}

fn provisioning_keys(text: &str) -> Vec<String> {
    let table: toml::Table = text.parse().unwrap_or_else(|e| panic!("not valid TOML: {e}\n{text}"));
    let mut keys: Vec<String> =
        table["provisioning"].as_table().expect("[provisioning]").keys().cloned().collect();
    keys.sort_unstable();
    keys
}

const DPS_SYMMETRIC_KEY: &str = "## DPS provisioning with symmetric key";

#[test]
#[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (cfg shared_fixtures)")]
fn template_dps_block_switched_to_a_connection_string_keeps_the_template_around_it() {
    let before = uncommented(DPS_SYMMETRIC_KEY, &["payload"]);
    assert_eq!(provisioning_keys(&before), ["attestation", "global_endpoint", "id_scope", "source"]);
    let answers = "[provisioning]\nsource = \"manual\"\nconnection_string = \
                   \"HostName=h.azure-devices.net;DeviceId=edge-01;SharedAccessKey=a2V5\"\n";
    let after = planned_config(&before, answers);
    assert_eq!(provisioning_keys(&after), ["connection_string", "source"], "{after}");
    assert!(after.contains("## DPS provisioning with symmetric key\n[provisioning]\nsource = \"manual\"\n"));
    insta::assert_snapshot!(diff(&before, &after));
}

#[test]
#[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (cfg shared_fixtures)")]
fn template_dps_block_with_another_scope_changes_only_that_line() {
    let before = uncommented(DPS_SYMMETRIC_KEY, &["payload"]);
    let answers = "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\n\
                   id_scope = \"0ne00FFFFFF\"\nattestation = \"symmetric_key\"\nregistration_id = \"my-device\"\n\
                   symmetric_key = \"YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGVudGl0eS1zZXJ2aWNlfGF6aW90LWlkZW50aXR5LXNlcg==\"\n";
    let after = planned_config(&before, answers);
    let changes: Vec<String> = similar::TextDiff::from_lines(&before, &after)
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .map(|c| format!("{}{}", c.tag(), c.value()))
        .collect();
    assert_eq!(changes, ["-id_scope = \"0ab1234C5D6\"\n", "+id_scope = \"0ne00FFFFFF\"\n"]);
}

#[test]
#[cfg_attr(not(shared_fixtures), ignore = "needs ../shared/fixtures (cfg shared_fixtures)")]
fn template_manual_x509_block_switched_to_dps_tpm_drops_the_authentication_table() {
    let before = uncommented(
        "## Manual provisioning with X.509 certificate",
        &["[provisioning.authentication.identity_cert"],
    );
    assert_eq!(provisioning_keys(&before), ["authentication", "device_id", "iothub_hostname", "source"]);
    let answers = "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\n\
                   id_scope = \"0ne00000A0A\"\nattestation = \"tpm\"\nregistration_id = \"edge-01\"\n";
    let after = planned_config(&before, answers);
    assert_eq!(
        provisioning_keys(&after),
        ["attestation", "global_endpoint", "id_scope", "source"],
        "{after}"
    );
    assert!(
        !after.lines().any(|l| l.starts_with("identity_") || l.starts_with("method = \"x509\"")),
        "{after}"
    );
    insta::assert_snapshot!(diff(&before, &after));
}
