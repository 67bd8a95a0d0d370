//! Files that hold a secret (a registry or proxy password, a SAS key, an inline symmetric key)
//! are readable by their owner only: finding the secrets in a file's text, and tightening the
//! mode of an existing file that is looser than 0600.
//!
//! apply keeps an existing file's mode unless the plan gives one, so a config.toml created
//! 0644 by hand would keep a registry password readable by every local user after edgeprep
//! wrote it there. The plan therefore gives such a file an explicit mode and says so.

use super::Ownership;
use crate::device::DeviceState;

/// The widest mode a secret-holding file may have.
pub const SECRET_MODE: u32 = 0o600;

/// The ownership to give `path` so that it is at most 0600, when the file exists and is looser
/// (any group or other bit, or the owner's execute bit); `None` when it is fine or new (new
/// secret files are created 0600). A note for the technician is added to `notes`.
pub fn tightened(state: &DeviceState, path: &str, what: &str, notes: &mut Vec<String>) -> Option<Ownership> {
    let current = state.ownership(path)?;
    let mode = current.mode & 0o7777;
    if mode & !SECRET_MODE == 0 {
        return None;
    }
    let tight = mode & SECRET_MODE;
    notes.push(format!(
        "{path} holds {what} but was mode {mode:04o} (readable beyond its owner): edgeprep makes it {tight:04o}."
    ));
    Some(Ownership { mode: tight, ..current })
}

/// Does a config.toml hold a secret? The SAS key of a connection string, an inline device or
/// DPS symmetric key, a registry password, a TPM authorization value, or a proxy password in
/// `[agent.env]`. Text that does not parse counts as holding one, to stay on the safe side.
pub fn config_holds_secret(text: &str) -> bool {
    let Ok(doc) = text.parse::<toml::Table>() else { return true };
    let at = |path: &[&str]| -> Option<&toml::Value> {
        let (last, parents) = path.split_last()?;
        let mut table = &doc;
        for key in parents {
            table = table.get(*key)?.as_table()?;
        }
        table.get(*last)
    };
    let non_empty = |v: Option<&toml::Value>| v.and_then(toml::Value::as_str).is_some_and(|s| !s.is_empty());
    let sas_key =
        at(&["provisioning", "connection_string"]).and_then(toml::Value::as_str).is_some_and(|cs| {
            cs.split(';').any(|part| part.trim().to_ascii_lowercase().starts_with("sharedaccesskey="))
        });
    let agent_env_password = at(&["agent", "env"]).and_then(toml::Value::as_table).is_some_and(|env| {
        env.values().filter_map(toml::Value::as_str).any(|v| !url_passwords(v).is_empty())
    });
    let tpm_auth = at(&["tpm", "hierarchy_authorization"])
        .and_then(toml::Value::as_table)
        .is_some_and(|t| t.values().any(|v| v.as_str().is_some_and(|s| !s.is_empty())));
    sas_key
        || non_empty(at(&["provisioning", "authentication", "device_id_pk", "value"]))
        || non_empty(at(&["provisioning", "attestation", "symmetric_key", "value"]))
        || non_empty(at(&["agent", "config", "auth", "password"]))
        || agent_env_password
        || tpm_auth
}

/// The passwords of every `scheme://user:password@host` URL in `text` (as written, still
/// percent-encoded), so they can be masked and the files holding them treated as secret.
pub fn url_passwords(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let after = &rest[at + 3..];
        // The authority ends at the first '/', '?', '#', quote or whitespace.
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..end];
        if let Some((userinfo, _host)) = authority.rsplit_once('@')
            && let Some((_user, password)) = userinfo.split_once(':')
            && !password.is_empty()
            && !out.iter().any(|p| p == password)
        {
            out.push(password.to_string());
        }
        rest = &after[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "/etc/aziot/config.toml";

    #[test]
    fn loose_modes_are_tightened_to_at_most_0600_keeping_the_owner() {
        let own = |mode| Ownership { mode, uid: 7, gid: 8 };
        for (before, after) in
            [(0o644, Some(0o600)), (0o640, Some(0o600)), (0o755, Some(0o600)), (0o444, Some(0o400))]
        {
            let state = DeviceState::default().with_ownership(CONFIG, own(before));
            let mut notes = Vec::new();
            let got = tightened(&state, CONFIG, "a password", &mut notes);
            assert_eq!(got, after.map(own), "mode {before:o}");
            assert!(notes[0].contains(&format!("{before:04o}")) && notes[0].contains(CONFIG));
        }
        for fine in [0o600, 0o400] {
            let state = DeviceState::default().with_ownership(CONFIG, own(fine));
            let mut notes = Vec::new();
            assert_eq!(tightened(&state, CONFIG, "a password", &mut notes), None);
            assert!(notes.is_empty());
        }
        assert_eq!(
            tightened(&DeviceState::default(), CONFIG, "x", &mut Vec::new()),
            None,
            "new files are 0600"
        );
    }

    #[test]
    fn config_secrets_are_recognised() {
        for secret in [
            "[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=h;DeviceId=d;SharedAccessKey=YWJj\"\n",
            "[provisioning.attestation]\nmethod = \"symmetric_key\"\nsymmetric_key = { value = \"YWJj\" }\n",
            "[provisioning.authentication]\ndevice_id_pk = { value = \"YWJj\" }\n",
            "[agent.config.auth]\nserveraddress = \"r\"\nusername = \"u\"\npassword = \"p\"\n",
            "[agent.env]\nhttps_proxy = \"http://u:p@proxy:3128\"\n",
            "[tpm.hierarchy_authorization]\nendorsement = \"x\"\n",
            "not = toml = at all",
        ] {
            assert!(config_holds_secret(secret), "{secret}");
        }
        for plain in [
            "hostname = \"h\"\n[agent.env]\nhttps_proxy = \"http://proxy:3128\"\n",
            "[provisioning.attestation]\nsymmetric_key = { uri = \"file:///k\" }\n",
        ] {
            assert!(!config_holds_secret(plain), "{plain}");
        }
    }

    #[test]
    fn url_passwords_are_found_in_any_text() {
        let text = "Environment=\"HTTPS_PROXY=http://bob:s3cr%40t@p:1\" x=http://nouser@p:2 'y=http://a:b@q'";
        assert_eq!(url_passwords(text), ["s3cr%40t", "b"]);
        assert!(url_passwords("http://p:3128 https://host/path").is_empty());
    }
}
