//! The proxy each unit really gets: edgeprep's drop-ins, root-only environment files for a
//! proxy with credentials, and the proxy settings edgeprep does not own (Microsoft's and
//! Docker's documented drop-ins, `/etc/default/docker`, daemon.json `proxies`) brought in line
//! in their own files or refused. Every scenario re-reads the resulting files and evaluates
//! the units' environment like systemd does.

mod common;

use std::os::unix::fs::MetadataExt;

use common::Device;
use edgeprep::device::DeviceState;
use edgeprep::plan::unit_env::{PROXY_VARS, UnitEnv, evaluate};
use edgeprep::root::DeviceRoot;
use predicates::prelude::*;

const URL: &str = "http://proxy.contoso.local:3128";
const NO_PROXY: &str = "localhost,127.0.0.1";
const CRED_URL: &str = "http://edge:Pr0xy-Secret@proxy.contoso.local:3128";
const CRED_PASSWORD: &str = "Pr0xy-Secret";
const UNITS: [&str; 3] = ["docker", "aziot-edged", "aziot-identityd"];
const CONFIG: &str = "# bench config\n[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=YWJj\"\n";

fn device() -> Device {
    let device = Device::new();
    device.write("/etc/aziot/config.toml", CONFIG);
    device
}

fn answers(device: &Device, url: &str) -> String {
    let path = device.answers(&format!("[proxy]\nurl = \"{url}\"\nno_proxy = \"{NO_PROXY}\"\n"));
    path.to_str().unwrap().to_string()
}

fn dropin(unit: &str) -> String {
    format!("/etc/systemd/system/{unit}.service.d/edgeprep-proxy.conf")
}

fn env_file(unit: &str) -> String {
    format!("/etc/edgeprep/{unit}-proxy.env")
}

/// `edgeprep plan` output with its wrapped lines joined (one space between words).
fn plan_text(device: &Device, answers: &str) -> String {
    let out = device.edgeprep(&["plan", "--answers", answers]).assert().success();
    String::from_utf8_lossy(&out.get_output().stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn apply(device: &Device, answers: &str) -> String {
    let out = device.edgeprep(&["apply", "--yes", "--answers", answers]).assert().success();
    String::from_utf8_lossy(&out.get_output().stdout).into_owned()
}

/// The environment `unit` gets from the files now under the root.
fn effective(device: &Device, unit: &str) -> UnitEnv {
    let state = DeviceState::read(&DeviceRoot::new(device.root())).unwrap();
    evaluate(&state, unit)
}

/// Every unit gets the answered proxy, in whatever spelling a proxy variable is set.
fn assert_units_carry(device: &Device, url: &str) {
    for unit in UNITS {
        let env = effective(device, unit);
        assert_eq!(env.get("https_proxy"), Some(url), "{unit}: {:?}", env.vars);
        for name in PROXY_VARS {
            let Some(value) = env.get(name) else { continue };
            if name.eq_ignore_ascii_case("no_proxy") {
                if unit == "docker" {
                    assert_eq!(value, NO_PROXY, "{unit} {name}");
                }
            } else {
                assert_eq!(value, url, "{unit} {name} (from {})", env.vars[name].path);
            }
        }
    }
    let docker = effective(device, "docker");
    assert_eq!(docker.get("http_proxy"), Some(url));
    assert_eq!(docker.get("no_proxy"), Some(NO_PROXY));
}

/// A second apply of the same answers changes nothing and runs nothing.
fn assert_second_apply_is_a_no_op(device: &Device, answers: &str) {
    let before = device.device_snapshot();
    let calls = device.calls().len();
    let out = apply(device, answers);
    assert!(out.contains("No changes"), "{out}");
    assert_eq!(device.device_snapshot(), before);
    assert_eq!(device.calls().len(), calls, "{:?}", device.calls());
}

fn mode_and_owner(device: &Device, path: &str) -> (u32, u32, u32) {
    let meta = std::fs::metadata(device.path(path)).unwrap();
    (meta.mode() & 0o7777, meta.uid(), meta.gid())
}

#[test]
fn proxy_without_credentials_stays_in_environment_lines_for_iotedge_check() {
    let device = device();
    let answers = answers(&device, URL);
    apply(&device, &answers);
    for unit in UNITS {
        let text = device.read(&dropin(unit));
        assert!(text.contains(&format!("Environment=\"https_proxy={URL}\"\n")), "{unit}: {text}");
        assert!(!text.contains("EnvironmentFile="));
        assert!(!device.exists(&env_file(unit)));
    }
    assert_units_carry(&device, URL);
    assert_eq!(
        device.calls(),
        [
            "systemctl daemon-reload",
            "systemctl restart docker",
            "iotedge config apply -c /etc/aziot/config.toml",
            "docker rm -f edgeAgent"
        ]
    );
    assert_second_apply_is_a_no_op(&device, &answers);
}

#[test]
fn proxy_credentials_go_to_root_only_env_files_never_to_environment_lines() {
    let device = device();
    let answers = answers(&device, CRED_URL);
    let plan = plan_text(&device, &answers);
    assert!(!plan.contains(CRED_PASSWORD), "password leaked:\n{plan}");
    assert!(plan.contains("proxy-settings"), "the plan explains the iotedge check warning:\n{plan}");
    assert!(plan.contains("mode 0600, uid 0 gid 0"), "{plan}");

    apply(&device, &answers);
    for unit in UNITS {
        let text = device.read(&dropin(unit));
        assert!(!text.contains(CRED_PASSWORD), "{unit} drop-in holds the password: {text}");
        assert!(!text.contains("Environment=\""), "{unit}: {text}");
        assert!(text.contains(&format!("EnvironmentFile={}\n", env_file(unit))), "{unit}: {text}");
        assert_eq!(mode_and_owner(&device, &env_file(unit)), (0o600, 0, 0), "{unit}");
        assert!(device.read(&env_file(unit)).contains(&format!("https_proxy=\"{CRED_URL}\"")));
    }
    assert_units_carry(&device, CRED_URL);
    // config.toml now holds the password in [agent.env]: it was 0644 (written by the test).
    assert_eq!(mode_and_owner(&device, "/etc/aziot/config.toml").0, 0o600);
    assert_second_apply_is_a_no_op(&device, &answers);
}

#[test]
fn dropping_the_credentials_takes_the_env_files_with_their_password_off_the_device() {
    let device = device();
    apply(&device, &answers(&device, CRED_URL));
    let answers = answers(&device, URL);
    let plan = plan_text(&device, &answers);
    assert!(plan.contains(&format!("== {} (move into the backup)", env_file("docker"))), "{plan}");
    assert!(!plan.contains(CRED_PASSWORD), "{plan}");

    apply(&device, &answers);
    for unit in UNITS {
        assert!(!device.exists(&env_file(unit)), "{unit}: stale env file with a password");
        assert!(!device.read(&dropin(unit)).contains("EnvironmentFile="));
    }
    assert_units_carry(&device, URL);
    assert_second_apply_is_a_no_op(&device, &answers);
}

#[test]
fn changing_a_credentialed_proxy_rewrites_only_the_env_files_and_restarts() {
    let device = device();
    apply(&device, &answers(&device, CRED_URL));
    let calls = device.calls().len();
    let other = "http://edge:N3w-Secret@proxy.contoso.local:3128";
    let answers = answers(&device, other);
    apply(&device, &answers);
    assert_units_carry(&device, other);
    assert!(!device.read(&env_file("docker")).contains(CRED_PASSWORD));
    let new_calls = &device.calls()[calls..];
    assert!(!new_calls.contains(&"systemctl daemon-reload".to_string()), "{new_calls:?}");
    assert!(new_calls.contains(&"systemctl restart docker".to_string()), "{new_calls:?}");
}

#[test]
fn an_env_file_looser_than_0600_is_tightened_with_a_note() {
    let device = device();
    let answers = answers(&device, CRED_URL);
    apply(&device, &answers);
    let path = device.path(&env_file("aziot-edged"));
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let plan = plan_text(&device, &answers);
    assert!(
        plan.contains(&format!(
            "{} holds the proxy password but was mode 0644: edgeprep makes it 0600",
            env_file("aziot-edged")
        )),
        "{plan}"
    );
    apply(&device, &answers);
    assert_eq!(mode_and_owner(&device, &env_file("aziot-edged")), (0o600, 0, 0));
    assert_second_apply_is_a_no_op(&device, &answers);
}

/// Plan shows the fix for `path`, apply makes every unit carry the proxy, a second apply is a
/// no-op; returns the file's text after apply.
fn fix_and_check(device: &Device, path: &str) -> String {
    let answers = answers(device, URL);
    let plan = plan_text(device, &answers);
    assert!(plan.contains(&format!("== {path} (change)")), "{plan}");
    assert!(plan.contains("overrides the answered proxy"), "{plan}");
    apply(device, &answers);
    assert_units_carry(device, URL);
    assert_second_apply_is_a_no_op(device, &answers);
    device.read(path)
}

#[test]
fn dockers_documented_http_proxy_conf_loses_only_its_conflicting_variables() {
    let device = device();
    let path = "/etc/systemd/system/docker.service.d/http-proxy.conf";
    device.write(
        path,
        "# from the Docker docs\n[Service]\nEnvironment=\"HTTP_PROXY=http://old:0ld-Secret@old:3128\"\nEnvironment=\"HTTPS_PROXY=http://old:3129\" \"FOO=bar\"\nEnvironment=\"NO_PROXY=localhost\"\nLimitNOFILE=4096\n",
    );
    let plan = plan_text(&device, &answers(&device, URL));
    assert!(!plan.contains("0ld-Secret"), "an old password shows in the diff:\n{plan}");
    let text = fix_and_check(&device, path);
    assert_eq!(text, "# from the Docker docs\n[Service]\nEnvironment=\"FOO=bar\"\nLimitNOFILE=4096\n");
    assert_eq!(effective(&device, "docker").get("FOO"), Some("bar"));
    let calls = device.calls();
    assert!(
        calls.contains(&"systemctl daemon-reload".to_string())
            && calls.contains(&"systemctl restart docker".to_string())
    );
}

#[test]
fn systemctl_edit_override_conf_sorting_after_edgeprep_is_corrected() {
    let device = device();
    let path = "/etc/systemd/system/aziot-identityd.service.d/override.conf";
    device.write(path, "[Service]\nEnvironment=\"https_proxy=http://old:3128\"\nEnvironment=RUST_LOG=info\n");
    let text = fix_and_check(&device, path);
    assert_eq!(text, "[Service]\nEnvironment=RUST_LOG=info\n");
}

#[test]
fn etc_default_docker_export_lines_are_taken_out() {
    let device = device();
    device.write(
        "/etc/default/docker",
        "# Docker Upstart and SysVinit configuration file\nDOCKER_OPTS=\"--dns 8.8.8.8\"\nexport http_proxy=\"http://old:3128/\"\nexport no_proxy=localhost,127.0.0.1\n",
    );
    let text = fix_and_check(&device, "/etc/default/docker");
    assert_eq!(
        text,
        "# Docker Upstart and SysVinit configuration file\nDOCKER_OPTS=\"--dns 8.8.8.8\"\nexport no_proxy=localhost,127.0.0.1\n"
    );
    assert!(device.calls().contains(&"systemctl restart docker".to_string()));
}

#[test]
fn an_environment_file_named_by_the_packaged_unit_is_corrected_in_place() {
    let device = device();
    // Debian's docker.io reads /etc/default/docker through EnvironmentFile=-; plain lines count.
    device.write(
        "/lib/systemd/system/docker.service",
        "[Service]\nEnvironmentFile=-/etc/default/docker\nExecStart=/usr/bin/dockerd $DOCKER_OPTS\n",
    );
    device.write("/etc/default/docker", "DOCKER_OPTS=\nHTTPS_PROXY=http://old:3129\n");
    let before = effective(&device, "docker");
    assert_eq!(before.get("HTTPS_PROXY"), Some("http://old:3129"));
    let text = fix_and_check(&device, "/etc/default/docker");
    assert_eq!(text, "DOCKER_OPTS=\n");
}

#[test]
fn an_environment_file_named_by_another_drop_in_is_corrected_in_place() {
    let device = device();
    device.write("/etc/default/site-proxy", "# site proxy\nhttps_proxy=http://site:8080\nTZ=UTC\n");
    device.write(
        "/etc/systemd/system/aziot-edged.service.d/00-site.conf",
        "[Service]\nEnvironmentFile=/etc/default/site-proxy\n",
    );
    let text = fix_and_check(&device, "/etc/default/site-proxy");
    assert_eq!(text, "# site proxy\nTZ=UTC\n");
}

#[test]
fn an_environment_file_outside_the_managed_directories_is_refused_naming_file_and_line() {
    let device = device();
    device.write(
        "/etc/systemd/system/aziot-edged.service.d/00-site.conf",
        "[Service]\nEnvironmentFile=/etc/site/proxy.env\n",
    );
    device.write("/etc/site/proxy.env", "# site proxy\nhttps_proxy=http://site:8080\nTZ=UTC\n");
    let before = device.device_snapshot();
    let answers = answers(&device, URL);
    device.edgeprep(&["apply", "--yes", "--answers", &answers]).assert().code(2).stderr(
        predicate::str::contains("/etc/site/proxy.env:2")
            .and(predicate::str::contains("outside the directories edgeprep manages")),
    );
    assert_eq!(device.device_snapshot(), before, "nothing may be written");
    assert!(device.calls().is_empty());
}

#[test]
fn daemon_json_proxies_are_taken_out_through_the_json_editor() {
    let device = device();
    device.write(
        "/etc/docker/daemon.json",
        "{\n  \"log-driver\": \"local\",\n  \"proxies\": {\n    \"https-proxy\": \"http://old:3129\"\n  }\n}\n",
    );
    let text = fix_and_check(&device, "/etc/docker/daemon.json");
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, serde_json::json!({ "log-driver": "local" }));
}

#[test]
fn a_conflict_in_a_package_owned_unit_file_is_refused_naming_file_and_line() {
    let device = device();
    device.write(
        "/usr/lib/systemd/system/docker.service",
        "[Unit]\nDescription=x\n[Service]\nEnvironment=HTTPS_PROXY=http://old:1\n",
    );
    let before = device.device_snapshot();
    let answers = answers(&device, URL);
    device.edgeprep(&["apply", "--yes", "--answers", &answers]).assert().code(2).stderr(
        predicate::str::contains("/usr/lib/systemd/system/docker.service:4")
            .and(predicate::str::contains("HTTPS_PROXY")),
    );
    assert_eq!(device.device_snapshot(), before, "nothing may be written");
    assert!(device.calls().is_empty());
}

#[test]
fn a_conflict_on_a_continued_line_is_refused_without_printing_its_value() {
    let device = device();
    device.write(
        "/etc/systemd/system/docker.service.d/http-proxy.conf",
        "[Service]\nEnvironment=\"A=1\" \\\n  \"HTTPS_PROXY=http://u:Old-Secret@old:1\"\n",
    );
    let answers = answers(&device, URL);
    device.edgeprep(&["plan", "--answers", &answers]).assert().code(2).stderr(
        predicate::str::contains("docker.service.d/http-proxy.conf:2")
            .and(predicate::str::contains("Old-Secret").not()),
    );
}

#[test]
fn a_conflict_that_is_shadowed_by_edgeprep_is_left_alone() {
    let device = device();
    // Sorts before edgeprep-proxy.conf and sets the same lowercase variable: edgeprep's wins.
    let path = "/etc/systemd/system/aziot-edged.service.d/00-old.conf";
    let text = "[Service]\nEnvironment=\"https_proxy=http://old:3128\"\n";
    device.write(path, text);
    let answers = answers(&device, URL);
    apply(&device, &answers);
    assert_eq!(device.read(path), text);
    assert_units_carry(&device, URL);
}
