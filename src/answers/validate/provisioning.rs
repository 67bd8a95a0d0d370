//! `[provisioning]`: a manual connection string or DPS, checked like IoT Edge's own parser so a
//! mix of the two or a truncated key is caught before `iotedge config apply`. Secrets are described,
//! never shown.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::{Findings, quoted};
use crate::answers::{Attestation, Provisioning, ProvisioningSource};

/// Check `[provisioning]` alone, as a wizard step does; [`super::validate`] calls this for the file.
pub fn validate_provisioning(provisioning: &Provisioning) -> Findings {
    let mut f = Findings::default();
    check_provisioning(&mut f, provisioning);
    f
}

/// Connection strings and DPS symmetric keys are base64; IoT Edge accepts them with or without
/// the trailing `=` padding, so we do too.
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn is_base64(text: &str) -> bool {
    BASE64_ANY_PADDING.decode(text).is_ok_and(|bytes| !bytes.is_empty())
}

/// Keys that only mean something with `source = "dps"`.
fn dps_keys(p: &Provisioning) -> [(&'static str, bool); 7] {
    [
        ("global_endpoint", p.global_endpoint.is_some()),
        ("id_scope", p.id_scope.is_some()),
        ("attestation", p.attestation.is_some()),
        ("registration_id", p.registration_id.is_some()),
        ("symmetric_key", p.symmetric_key.is_some()),
        ("identity_cert", p.identity_cert.is_some()),
        ("identity_pk", p.identity_pk.is_some()),
    ]
}

fn check_provisioning(f: &mut Findings, p: &Provisioning) {
    match p.source {
        ProvisioningSource::Manual => {
            // Mixing manual and DPS keys is the most common provisioning mistake in the field;
            // IoT Edge reports it only as "data did not match any variant of untagged enum".
            for (name, present) in dps_keys(p) {
                if present {
                    f.error(
                        &format!("provisioning.{name}"),
                        None,
                        "only applies to source = \"dps\"; with source = \"manual\" remove it (IoT Edge would refuse the mix with \"data did not match any variant of untagged enum\")",
                    );
                }
            }
            match &p.connection_string {
                None => f.error(
                    "provisioning.connection_string",
                    None,
                    "is missing; source = \"manual\" needs the device's connection string from IoT Hub, like \"HostName=<hub>.azure-devices.net;DeviceId=<device>;SharedAccessKey=<key>\"",
                ),
                Some(cs) => check_connection_string(f, cs),
            }
        }
        ProvisioningSource::Dps => check_dps(f, p),
    }
}

/// Mirrors IoT Edge's parser: split on `;`, then on the first `=`; `HostName`, `DeviceId` and
/// `SharedAccessKey` are required, other parts are ignored. The value itself is never shown.
fn check_connection_string(f: &mut Findings, cs: &str) {
    const KEY: &str = "provisioning.connection_string";
    if cs.trim() != cs {
        f.error(
            KEY,
            None,
            "has spaces or a line break at the start or end; remove them (the value is not shown because it holds the device key)",
        );
        return;
    }
    let mut host = None;
    let mut device = None;
    let mut key = None;
    for part in cs.split(';') {
        match part.split_once('=') {
            Some(("HostName", v)) => host = Some(v),
            Some(("DeviceId", v)) => device = Some(v),
            Some(("SharedAccessKey", v)) => key = Some(v),
            _ => {}
        }
    }
    let missing: Vec<&str> = [("HostName", host), ("DeviceId", device), ("SharedAccessKey", key)]
        .into_iter()
        .filter(|(_, v)| v.is_none_or(str::is_empty))
        .map(|(name, _)| name)
        .collect();
    if !missing.is_empty() {
        let hint = if cs.contains("SharedAccessSignature") {
            "; it looks like a SAS token, not a connection string"
        } else {
            ""
        };
        f.error(
            KEY,
            None,
            format!(
                "{} missing; copy the device's primary connection string from IoT Hub, like \"HostName=<hub>.azure-devices.net;DeviceId=<device>;SharedAccessKey=<key>\"{hint}",
                join_names(&missing, "is", "are"),
            ),
        );
    }
    if host.is_some_and(|h| h.contains("://")) {
        f.error(
            KEY,
            None,
            "HostName must be the hub's host name only, like \"contoso-hub.azure-devices.net\", without https://",
        );
    }
    if let Some(key) = key.filter(|k| !k.is_empty())
        && !is_base64(key)
    {
        f.error(
            KEY,
            None,
            "SharedAccessKey is not valid base64; copy the connection string again from IoT Hub (a common cause is a truncated key or extra characters)",
        );
    }
}

/// `a`, `a and b`, `a, b and c`, followed by the verb in the right number.
fn join_names(names: &[&str], singular: &str, plural: &str) -> String {
    match names {
        [one] => format!("{one} {singular}"),
        [rest @ .., last] => format!("{} and {last} {plural}", rest.join(", ")),
        [] => String::new(),
    }
}

fn check_dps(f: &mut Findings, p: &Provisioning) {
    if p.connection_string.is_some() {
        f.error(
            "provisioning.connection_string",
            None,
            "only applies to source = \"manual\"; with source = \"dps\" remove it (the device gets its identity from DPS)",
        );
    }
    match &p.global_endpoint {
        None => f.error(
            "provisioning.global_endpoint",
            None,
            "is missing; source = \"dps\" needs it, usually \"https://global.azure-devices-provisioning.net\"",
        ),
        Some(endpoint) => check_global_endpoint(f, endpoint),
    }
    match p.id_scope.as_deref() {
        None => f.error(
            "provisioning.id_scope",
            None,
            "is missing; copy the ID Scope from the DPS overview page, e.g. \"0ne00ABCDEF\"",
        ),
        Some(scope) if scope.is_empty() || scope.chars().any(|c| !c.is_ascii_alphanumeric()) => f.error(
            "provisioning.id_scope",
            Some(&quoted(scope)),
            "is not an ID Scope; copy it from the DPS overview page, e.g. \"0ne00ABCDEF\" (letters and digits only)",
        ),
        Some(_) => {}
    }
    let forbid = |f: &mut Findings, name: &str, present: bool, method: &str| {
        if present {
            f.error(
                &format!("provisioning.{name}"),
                None,
                format!("does not apply to attestation = \"{method}\"; remove it"),
            );
        }
    };
    match p.attestation {
        None => f.error(
            "provisioning.attestation",
            None,
            "is missing; source = \"dps\" needs attestation = \"symmetric_key\", \"x509\" or \"tpm\", matching the DPS enrollment",
        ),
        Some(Attestation::SymmetricKey) => {
            require_registration_id(f, p, "symmetric_key");
            match p.symmetric_key.as_deref() {
                None => f.error(
                    "provisioning.symmetric_key",
                    None,
                    "is missing; attestation = \"symmetric_key\" needs the enrollment's (or derived device) key in base64",
                ),
                Some(key) if !is_base64(key) => f.error(
                    "provisioning.symmetric_key",
                    None,
                    "is not valid base64; copy the key again from the DPS enrollment (the value is not shown because it is a secret)",
                ),
                Some(_) => {}
            }
            forbid(f, "identity_cert", p.identity_cert.is_some(), "symmetric_key");
            forbid(f, "identity_pk", p.identity_pk.is_some(), "symmetric_key");
        }
        Some(Attestation::X509) => {
            if let Some(id) = &p.registration_id {
                check_registration_id(f, id);
            }
            check_device_path(f, "provisioning.identity_cert", p.identity_cert.as_deref(), "/var/aziot/certs/device-id.pem");
            check_device_path(f, "provisioning.identity_pk", p.identity_pk.as_deref(), "/var/aziot/secrets/device-id.key.pem");
            forbid(f, "symmetric_key", p.symmetric_key.is_some(), "x509");
        }
        Some(Attestation::Tpm) => {
            require_registration_id(f, p, "tpm");
            forbid(f, "symmetric_key", p.symmetric_key.is_some(), "tpm");
            forbid(f, "identity_cert", p.identity_cert.is_some(), "tpm");
            forbid(f, "identity_pk", p.identity_pk.is_some(), "tpm");
        }
    }
}

fn check_global_endpoint(f: &mut Findings, endpoint: &str) {
    const KEY: &str = "provisioning.global_endpoint";
    const FIX: &str =
        "use \"https://global.azure-devices-provisioning.net\" unless your DPS uses another endpoint";
    // The url crate trims surrounding spaces before parsing; the raw text is what is written.
    if endpoint.contains(char::is_whitespace) {
        f.error(KEY, Some(&quoted(endpoint)), format!("contains spaces; remove them, {FIX}"));
        return;
    }
    match url::Url::parse(endpoint) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()) => {}
        Ok(u) if u.scheme() != "https" => {
            f.error(KEY, Some(&quoted(endpoint)), format!("must be an https:// URL; {FIX}"));
        }
        _ => f.error(KEY, Some(&quoted(endpoint)), format!("is not a URL; {FIX}")),
    }
}

fn require_registration_id(f: &mut Findings, p: &Provisioning, method: &str) {
    match &p.registration_id {
        None => f.error(
            "provisioning.registration_id",
            None,
            format!(
                "is missing; attestation = \"{method}\" needs the enrollment's registration ID, e.g. \"edge-gw-01\"",
            ),
        ),
        Some(id) => check_registration_id(f, id),
    }
}

/// DPS registration IDs: up to 128 characters, letters, digits and `-._:`.
fn check_registration_id(f: &mut Findings, id: &str) {
    let valid = !id.is_empty()
        && id.len() <= 128
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c));
    if !valid {
        f.error(
            "provisioning.registration_id",
            Some(&quoted(id)),
            "DPS registration IDs are 1 to 128 letters, digits, '-', '.', '_' or ':', e.g. \"edge-gw-01\"",
        );
    }
}

/// Paths that IoT Edge reads on the device itself, written as plain absolute paths; edgeprep
/// turns them into the `file://` URIs config.toml needs.
fn check_device_path(f: &mut Findings, key: &str, value: Option<&str>, example: &str) {
    match value {
        None => f.error(
            key,
            None,
            format!(
                "is missing; attestation = \"x509\" needs it, as an absolute path on the device, e.g. \"{example}\"",
            ),
        ),
        Some(path) if path.starts_with("file://") => f.error(
            key,
            Some(&quoted(path)),
            format!(
                "write the plain absolute path, e.g. \"{example}\"; edgeprep writes the file:// URI itself",
            ),
        ),
        Some(path) if !path.starts_with('/') => f.error(
            key,
            Some(&quoted(path)),
            format!(
                "must be an absolute path on the device, e.g. \"{example}\"; unlike the [edge_ca] files it is not taken from the answers file's directory, because edgeprep does not copy it: IoT Edge reads it on the device"
            ),
        ),
        // config.toml gets `file://` + the path; in a URI these would start an escape, a query
        // or a fragment, and IoT Edge would open another file than the one named here.
        Some(path) if path.contains(['%', '?', '#']) => f.error(
            key,
            Some(&quoted(path)),
            format!(
                "contains %, ? or #, which change the meaning of the file:// URI written to config.toml; rename the file on the device, e.g. \"{example}\""
            ),
        ),
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn manual_connection_string_with_all_parts_is_accepted() {
        assert_valid(&with_provisioning(manual(&good_cs())));
        // Extra parts are ignored, like IoT Edge does; key padding is optional.
        assert_valid(&with_provisioning(manual(
            "HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=YWJjZA;GatewayHostName=parent",
        )));
    }

    #[test]
    fn manual_without_connection_string_is_refused() {
        let mut p = manual("");
        p.connection_string = None;
        assert_one_error(
            &with_provisioning(p),
            &["[provisioning] connection_string: is missing", "HostName="],
        );
    }

    #[test]
    fn connection_string_missing_parts_are_all_named() {
        let msg = assert_one_error(
            &with_provisioning(manual("DeviceId=d")),
            &["HostName and SharedAccessKey are missing"],
        );
        assert!(msg.starts_with("[provisioning] connection_string:"));
        assert_one_error(
            &with_provisioning(manual(&format!("HostName=h;SharedAccessKey={SAS}"))),
            &["DeviceId is missing"],
        );
        assert_one_error(
            &with_provisioning(manual("HostName=h;DeviceId=;SharedAccessKey=YWJj")),
            &["DeviceId is missing"],
        );
    }

    #[test]
    fn connection_string_key_must_be_base64_and_is_never_shown() {
        let secret = "not base64 !!secret";
        let cs = format!("HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey={secret}");
        let msg = assert_one_error(&with_provisioning(manual(&cs)), &["SharedAccessKey is not valid base64"]);
        assert!(!msg.contains(secret));
    }

    #[test]
    fn connection_string_errors_never_contain_the_key() {
        for cs in [
            format!(" HostName=h;DeviceId=d;SharedAccessKey={SAS}"),
            format!("HostName=https://h;DeviceId=d;SharedAccessKey={SAS}"),
            format!("DeviceId=d;SharedAccessKey={SAS}"),
        ] {
            let e = errors(&with_provisioning(manual(&cs)));
            assert!(!e.is_empty(), "{cs}");
            assert!(e.iter().all(|m| !m.contains(SAS)), "{e:?}");
        }
    }

    #[test]
    fn manual_with_dps_keys_is_refused_for_each_key() {
        let mut p = manual(&good_cs());
        p.id_scope = Some("0ne".into());
        p.attestation = Some(Attestation::Tpm);
        let e = errors(&with_provisioning(p));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].starts_with("[provisioning] id_scope: only applies to source = \"dps\""));
        assert!(e[1].starts_with("[provisioning] attestation:"));
        assert!(e[1].contains("untagged enum"));
    }

    // provisioning, DPS

    #[test]
    fn dps_symmetric_key_needs_registration_id_and_base64_key() {
        let mut p = dps(Attestation::SymmetricKey);
        p.registration_id = Some("edge-gw-01".into());
        p.symmetric_key = Some(SAS.into());
        assert_valid(&with_provisioning(p.clone()));

        let mut missing = p.clone();
        missing.registration_id = None;
        missing.symmetric_key = None;
        let e = errors(&with_provisioning(missing));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].starts_with("[provisioning] registration_id: is missing"));
        assert!(e[1].starts_with("[provisioning] symmetric_key: is missing"));

        let mut bad = p;
        bad.symmetric_key = Some("%%secret%%".into());
        let msg =
            assert_one_error(&with_provisioning(bad), &["[provisioning] symmetric_key", "not valid base64"]);
        assert!(!msg.contains("%%secret%%"));
    }

    #[test]
    fn dps_needs_https_global_endpoint_id_scope_and_attestation() {
        let mut p = dps(Attestation::Tpm);
        p.registration_id = Some("gw".into());
        p.global_endpoint = None;
        p.id_scope = None;
        p.attestation = None;
        let e = errors(&with_provisioning(p.clone()));
        assert_eq!(e.len(), 3, "{e:#?}");
        assert!(e[0].contains("global_endpoint: is missing"));
        assert!(e[1].contains("id_scope: is missing"));
        assert!(e[2].contains("attestation: is missing"));

        p.attestation = Some(Attestation::Tpm);
        p.id_scope = Some("0ne00ABCDEF".into());
        p.global_endpoint = Some("http://global.azure-devices-provisioning.net".into());
        assert_one_error(&with_provisioning(p.clone()), &["must be an https:// URL"]);
        p.global_endpoint = Some("global.azure-devices-provisioning.net".into());
        assert_one_error(&with_provisioning(p.clone()), &["is not a URL"]);
        p.global_endpoint = Some(" https://global.azure-devices-provisioning.net ".into());
        assert_one_error(&with_provisioning(p.clone()), &["contains spaces"]);
        p.global_endpoint = Some("https://global.azure-devices-provisioning.net".into());
        p.id_scope = Some("0ne 00".into());
        assert_one_error(&with_provisioning(p), &["[provisioning] id_scope = \"0ne 00\""]);
    }

    #[test]
    fn dps_refuses_a_connection_string() {
        let mut p = dps(Attestation::Tpm);
        p.registration_id = Some("gw".into());
        p.connection_string = Some(good_cs());
        let msg = assert_one_error(
            &with_provisioning(p),
            &["[provisioning] connection_string: only applies to source = \"manual\""],
        );
        assert!(!msg.contains(SAS));
    }

    #[test]
    fn dps_x509_needs_absolute_identity_paths() {
        let mut p = dps(Attestation::X509);
        p.identity_cert = Some("/var/aziot/certs/device-id.pem".into());
        p.identity_pk = Some("/var/aziot/secrets/device-id.key.pem".into());
        assert_valid(&with_provisioning(p.clone()));

        p.identity_cert = Some("certs/device-id.pem".into());
        p.identity_pk = None;
        let e = errors(&with_provisioning(p.clone()));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].contains("identity_cert = \"certs/device-id.pem\": must be an absolute path"));
        assert!(e[1].contains("identity_pk: is missing"));

        p.identity_cert = Some("file:///var/aziot/certs/device-id.pem".into());
        p.identity_pk = Some("/k.pem".into());
        p.symmetric_key = Some(SAS.into());
        let e = errors(&with_provisioning(p));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].contains("plain absolute path"));
        assert!(e[1].contains("symmetric_key: does not apply to attestation = \"x509\""));
    }

    #[test]
    fn dps_identity_paths_must_survive_the_file_uri() {
        for bad in ["/var/aziot/certs/id%41.pem", "/var/aziot/certs/id?.pem", "/var/aziot/certs/id#1.pem"] {
            let mut p = dps(Attestation::X509);
            p.identity_cert = Some(bad.into());
            p.identity_pk = Some("/var/aziot/secrets/device-id.key.pem".into());
            assert_one_error(&with_provisioning(p), &["[provisioning] identity_cert", "file:// URI"]);
        }
        let mut p = dps(Attestation::X509);
        p.identity_cert = Some("certs/device-id.pem".into());
        p.identity_pk = Some("/var/aziot/secrets/device-id.key.pem".into());
        assert_one_error(
            &with_provisioning(p),
            &["absolute path on the device", "not taken from the answers file's directory"],
        );
    }

    #[test]
    fn dps_tpm_needs_registration_id_and_no_key_material() {
        let mut p = dps(Attestation::Tpm);
        assert_one_error(&with_provisioning(p.clone()), &["registration_id: is missing"]);
        p.registration_id = Some("edge gw".into());
        assert_one_error(&with_provisioning(p.clone()), &["registration_id = \"edge gw\""]);
        p.registration_id = Some("edge-gw:01_a.b".into());
        assert_valid(&with_provisioning(p.clone()));
        p.identity_pk = Some("/k".into());
        assert_one_error(&with_provisioning(p), &["identity_pk: does not apply to attestation = \"tpm\""]);
    }
}
