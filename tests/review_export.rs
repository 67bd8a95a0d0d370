//! `edgeprep answers export` with a percent-encoded proxy password and a hostile `-o FILE`:
//! no secret form in any output without --with-secrets, and the output path's link replaced,
//! never followed.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::{Device, provisioned_config};

/// `p@ss:w0rd/#1` as a URL holds it.
const PROXY_PASSWORD_ENCODED: &str = "p%40ss%3Aw0rd%2F%231";
const PROXY_PASSWORD_DECODED: &str = "p@ss:w0rd/#1";
const REGISTRY_PASSWORD: &str = "reg-pa55-Secret";

fn configured() -> Device {
    let device = Device::new();
    device.write("/etc/hostname", "edge-01\n");
    device.write("/etc/aziot/config.toml", provisioned_config("edge-01"));
    let answers = device.answers(&format!(
        "[proxy]\nurl = \"http://edge:{PROXY_PASSWORD_ENCODED}@proxy.example.com:3128\"\n\
         [agent]\nimage = \"contoso.azurecr.io/azureiotedge-agent:1.4.43\"\n\
         [agent.auth]\nserver = \"contoso.azurecr.io\"\nusername = \"pull\"\npassword = \"{REGISTRY_PASSWORD}\"\n"
    ));
    device.edgeprep(&["apply", "--answers", answers.to_str().unwrap(), "--yes"]).assert().success();
    device
}

fn export(device: &Device, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["answers", "export"];
    args.extend(extra);
    let out = device.edgeprep(&args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn no_form_of_a_percent_encoded_proxy_password_or_the_registry_password_leaves_without_with_secrets() {
    let device = configured();
    let (code, stdout, stderr) = export(&device, &[]);
    assert_eq!(code, 0, "{stderr}");
    for secret in [PROXY_PASSWORD_ENCODED, PROXY_PASSWORD_DECODED, "p%40ss", "p@ss:w0rd", REGISTRY_PASSWORD] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} leaked:\n{stdout}\n{stderr}");
    }
    assert!(stdout.contains("<FILL IN: proxy password>"), "{stdout}");
    // With them, the file holds them exactly, and only the file does.
    let path = device.dir.path().join("fleet.toml");
    let (code, stdout, stderr) = export(&device, &["--with-secrets", "-o", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(PROXY_PASSWORD_ENCODED) && text.contains(REGISTRY_PASSWORD), "{text}");
    for secret in [PROXY_PASSWORD_ENCODED, PROXY_PASSWORD_DECODED, REGISTRY_PASSWORD] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} leaked:\n{stdout}\n{stderr}");
        let header: String = text.lines().take_while(|l| l.starts_with('#')).collect();
        assert!(!header.contains(secret), "{header}");
    }
}

#[test]
fn an_output_path_that_is_a_link_is_replaced_with_force_and_its_target_untouched() {
    let device = configured();
    let victim = device.dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = device.dir.path().join("fleet.toml");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    // Without --force, a link (even one to nothing) is something in the way.
    let dangling = device.dir.path().join("dangling.toml");
    std::os::unix::fs::symlink(device.dir.path().join("nowhere"), &dangling).unwrap();
    let (code, _, stderr) = export(&device, &["--with-secrets", "-o", dangling.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(!device.dir.path().join("nowhere").exists(), "the link must not be followed");
    let (code, _, stderr) = export(&device, &["--with-secrets", "-o", link.to_str().unwrap(), "--force"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.file_type().is_file(), "the link itself is replaced");
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&link).unwrap().contains(REGISTRY_PASSWORD));
}
