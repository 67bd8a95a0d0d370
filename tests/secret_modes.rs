//! Files that hold a secret end up at most 0600: config.toml with a SAS key, a registry
//! password or a proxy password is tightened when it was looser, with a note, and only its
//! mode changes when its contents already match the answers.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::Device;

const CONFIG_WITH_SAS: &str = "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=YWJj\"\n";
const CONFIG_WITHOUT_SECRET: &str = "[provisioning]\nsource = \"dps\"\nglobal_endpoint = \"https://global.azure-devices-provisioning.net\"\nid_scope = \"0ne00000000\"\n\n[provisioning.attestation]\nmethod = \"tpm\"\nregistration_id = \"r\"\n";
const CONFIG: &str = "/etc/aziot/config.toml";

fn device_with_config(text: &str, mode: u32) -> Device {
    let device = Device::new();
    device.write(CONFIG, text);
    std::fs::set_permissions(device.path(CONFIG), std::fs::Permissions::from_mode(mode)).unwrap();
    device
}

fn mode(device: &Device) -> u32 {
    std::fs::metadata(device.path(CONFIG)).unwrap().mode() & 0o7777
}

fn run(device: &Device, command: &str, answers: &str) -> String {
    let answers = device.answers(answers);
    let mut args = vec![command];
    if command == "apply" {
        args.push("--yes");
    }
    args.extend(["--answers", answers.to_str().unwrap()]);
    let out = device.edgeprep(&args).assert().success();
    String::from_utf8_lossy(&out.get_output().stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

const UPSTREAM: &str = "[upstream]\nprotocol = \"AmqpWs\"\n";

#[test]
fn a_config_holding_a_sas_key_is_tightened_from_0644_with_a_note() {
    let device = device_with_config(CONFIG_WITH_SAS, 0o644);
    let plan = run(&device, "plan", UPSTREAM);
    assert!(plan.contains("mode 0600, uid 0 gid 0"), "{plan}");
    assert!(plan.contains("/etc/aziot/config.toml holds a secret but was mode 0644"), "{plan}");
    run(&device, "apply", UPSTREAM);
    assert_eq!(mode(&device), 0o600);
    assert!(run(&device, "apply", UPSTREAM).contains("No changes"));
}

#[test]
fn a_registry_password_written_into_a_group_readable_config_tightens_it() {
    let device = device_with_config(CONFIG_WITHOUT_SECRET, 0o640);
    let answers = "[agent]\nimage = \"r.azurecr.io/azureiotedge-agent:1.4.43\"\n\n[agent.auth]\nserver = \"r.azurecr.io\"\nusername = \"u\"\npassword = \"Registry-Pa55\"\n";
    let plan = run(&device, "plan", answers);
    assert!(!plan.contains("Registry-Pa55"), "{plan}");
    assert!(plan.contains("was mode 0640"), "{plan}");
    run(&device, "apply", answers);
    assert_eq!(mode(&device), 0o600);
}

#[test]
fn a_proxy_password_in_agent_env_tightens_the_config() {
    let device = device_with_config(CONFIG_WITHOUT_SECRET, 0o644);
    run(&device, "apply", "[proxy]\nurl = \"http://u:Pr0xy-Pass@p:3128\"\n");
    assert_eq!(mode(&device), 0o600);
}

#[test]
fn only_the_mode_changes_when_the_contents_already_match() {
    let device = device_with_config(CONFIG_WITH_SAS, 0o644);
    run(&device, "apply", UPSTREAM);
    let calls = device.calls().len();
    std::fs::set_permissions(device.path(CONFIG), std::fs::Permissions::from_mode(0o664)).unwrap();
    let before = device.read(CONFIG);
    let plan = run(&device, "plan", UPSTREAM);
    assert!(plan.contains("only its mode changes"), "{plan}");
    assert!(!plan.contains("iotedge config apply"), "a mode change needs no config apply: {plan}");
    run(&device, "apply", UPSTREAM);
    assert_eq!(mode(&device), 0o600);
    assert_eq!(device.read(CONFIG), before);
    assert_eq!(device.calls().len(), calls, "{:?}", device.calls());
}

#[test]
fn a_config_without_secrets_keeps_its_mode() {
    let device = device_with_config(CONFIG_WITHOUT_SECRET, 0o644);
    run(&device, "apply", UPSTREAM);
    assert_eq!(mode(&device), 0o644);
}
