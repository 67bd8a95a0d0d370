//! Control characters in any answer: refused for every string field of [`Answers`] at once.
//!
//! Answers are written into config.toml, daemon.json and systemd unit files, and echoed on the
//! terminal. A newline in a proxy URL adds a directive to a unit file; ESC or NUL reach the
//! terminal or end a C string early. Parsers such as the `url` crate silently drop some of these,
//! so a check on a parsed copy passes while the raw text is written. This module checks the raw
//! text, and walks the serialized model rather than a list of fields, so a field added to
//! [`Answers`] later is covered without anyone remembering to add it here.

use serde_json::Value;

use super::{Findings, mask_proxy_url, quoted};
use crate::answers::Answers;

/// Keys whose value is, or may hold, a secret: never shown in a message.
const SECRET_KEYS: &[&str] =
    &["provisioning.connection_string", "provisioning.symmetric_key", "agent.auth.password"];

/// Keys whose value may hold a password in URL form: shown with the password masked.
const URL_KEYS: &[&str] = &["proxy.url"];

/// Check every string of `answers` for control characters. Returns the findings and the keys
/// they are about, so the other rules' findings on those keys (about a value that is wrong
/// anyway) can be dropped.
pub fn validate_control_characters(answers: &Answers) -> (Findings, Vec<String>) {
    let mut findings = Findings::default();
    let mut keys = Vec::new();
    // Serializing a plain data struct to a JSON value cannot fail; if it ever did, the
    // per-field rules and the password-file check still run.
    if let Ok(tree) = serde_json::to_value(answers) {
        walk(&tree, "", None, &mut findings, &mut keys);
    }
    (findings, keys)
}

fn walk(value: &Value, path: &str, item: Option<usize>, f: &mut Findings, keys: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (name, child) in map {
                let child_path = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                walk(child, &child_path, None, f, keys);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(child, path, Some(i), f, keys);
            }
        }
        Value::String(text) => {
            if let Some(problem) = control_character_problem(text) {
                check_failed(f, path, item, text, &problem);
                if !keys.iter().any(|k| k == path) {
                    keys.push(path.to_string());
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn check_failed(f: &mut Findings, path: &str, item: Option<usize>, text: &str, problem: &str) {
    if let Some(item) = item {
        f.error_in_list(path, item, format!("{} {problem}", quoted(text)));
    } else if SECRET_KEYS.contains(&path) {
        f.error(path, None, format!("{problem} (the value is not shown because it is a secret)"));
    } else if URL_KEYS.contains(&path) {
        f.error(path, Some(&quoted(&mask_proxy_url(text))), problem);
    } else {
        f.error(path, Some(&quoted(text)), problem);
    }
}

/// Why `text` cannot be written into a device file, naming the first offending character in an
/// escaped form (never raw, so the message itself is safe on a terminal). `None` when fine.
pub fn control_character_problem(text: &str) -> Option<String> {
    let (index, c) = text.char_indices().find(|(_, c)| is_forbidden(*c))?;
    let position = text[..index].chars().count() + 1;
    Some(format!(
        "contains {} at character {position}; remove it (answers are written into config.toml and systemd unit files, where control characters break lines or reach the terminal; retype the value if it was pasted)",
        describe_character(c)
    ))
}

/// C0 and C1 control characters (tab and line breaks included), DEL, and the invisible
/// characters that reorder or break lines on a terminal.
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}')
        || matches!(c, '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A character named so a person can find it: `a line break (\n)`, `the control character
/// U+001B (ESC)`.
pub fn describe_character(c: char) -> String {
    let code = format!("U+{:04X}", u32::from(c));
    match c {
        '\n' => "a line break (\\n)".to_string(),
        '\r' => "a carriage return (\\r)".to_string(),
        '\t' => "a tab (\\t)".to_string(),
        '\0' => "a NUL character (\\0, U+0000)".to_string(),
        '\u{1B}' => format!("the control character {code} (ESC)"),
        '\u{7F}' => format!("the control character {code} (DEL)"),
        c if c.is_control() => format!("the control character {code}"),
        _ => format!("the invisible formatting character {code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::secrets::MASK;

    /// A fully filled-in answers value whose every string field is `text`.
    fn every_string(text: &str) -> Answers {
        let s = || Some(text.to_string());
        Answers {
            hostname: s(),
            allow_elevated_docker_permissions: Some(false),
            provisioning: Some(Provisioning {
                source: ProvisioningSource::Dps,
                connection_string: s(),
                global_endpoint: s(),
                id_scope: s(),
                attestation: Some(Attestation::X509),
                registration_id: s(),
                symmetric_key: s(),
                identity_cert: s(),
                identity_pk: s(),
            }),
            upstream: Some(Upstream { protocol: UpstreamProtocol::AmqpWs }),
            proxy: Some(Proxy { url: text.into(), no_proxy: s() }),
            agent: Some(Agent {
                image: s(),
                auth: Some(RegistryAuth {
                    server: text.into(),
                    username: text.into(),
                    password: s(),
                    password_file: s(),
                }),
                host_storage: s(),
            }),
            image_garbage_collection: Some(ImageGarbageCollection {
                enabled: Some(true),
                cleanup_recurrence: s(),
                image_age_cleanup_threshold: s(),
                cleanup_time: s(),
            }),
            logging: Some(Logging { driver: LogDriver::Local, max_size: s(), max_files: Some(1) }),
            dns: Some(Dns { servers: vec![text.into(), "1.1.1.1".into()] }),
            edge_ca: Some(EdgeCa {
                cert: s(),
                key: s(),
                trust_bundle: s(),
                os_trust_store: Some(true),
                generate: Some(GenerateEdgeCa { common_name: s(), days: Some(1) }),
            }),
        }
    }

    /// Every string key of the model: counted from the serialized form, like the check walks it.
    const STRING_KEYS: usize = 25;

    #[test]
    fn every_string_field_is_checked_and_each_finding_names_its_key() {
        for bad in ["a\nb", "a\u{1b}[31mb", "a\0b", "a\tb", "a\rb", "a\u{7f}b", "a\u{85}b", "a\u{202e}b"] {
            let (findings, keys) = validate_control_characters(&every_string(bad));
            assert_eq!(findings.errors.len(), STRING_KEYS, "{bad:?}: {:#?}", findings.errors);
            assert_eq!(keys.len(), STRING_KEYS, "{bad:?}");
            for finding in &findings.errors {
                let message = finding.message.clone();
                assert!(!message.contains(bad), "raw control character echoed: {message:?}");
                assert!(message.contains("character 2; remove it"), "{message}");
            }
        }
        let (clean, _) = validate_control_characters(&every_string("fine"));
        assert!(clean.errors.is_empty(), "{:#?}", clean.errors);
    }

    #[test]
    fn the_whole_validation_reports_only_the_control_character_for_such_keys() {
        let e = errors(&with_hostname("edge\ngw"));
        assert_eq!(e, vec![
            "hostname = \"edge\\ngw\": contains a line break (\\n) at character 5; remove it (answers are written into config.toml and systemd unit files, where control characters break lines or reach the terminal; retype the value if it was pasted)".to_string()
        ]);
    }

    #[test]
    fn a_newline_in_the_proxy_url_is_refused_although_the_url_parser_drops_it() {
        let e = errors(&with_proxy("http://proxy:3128\nExecStartPre=/bin/sh", None));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].starts_with(
                "[proxy] url = \"http://proxy:3128\\nExecStartPre=/bin/sh\": contains a line break"
            ),
            "{}",
            e[0]
        );
        let e = errors(&with_proxy("http://bob:pa\nss@proxy:3128", None));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(!e[0].contains("pa\\nss") && e[0].contains(MASK), "{}", e[0]);
    }

    #[test]
    fn esc_and_nul_in_no_proxy_are_refused_escaped() {
        let e = errors(&with_proxy("http://p:3128", Some("localhost,\u{1b}]0;pwned\u{7},x\0y")));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(e[0].contains("[proxy] no_proxy = \"localhost,\\u{1b}]0;pwned"), "{}", e[0]);
        assert!(e[0].contains("U+001B (ESC) at character 11"), "{}", e[0]);
        assert!(!e[0].contains('\u{1b}') && !e[0].contains('\0'), "{}", e[0]);
    }

    #[test]
    fn secrets_with_control_characters_are_described_not_shown() {
        let cs = format!("HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey={SAS}\n");
        let e = errors(&with_provisioning(manual(&cs)));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(e[0].starts_with("[provisioning] connection_string: contains a line break"), "{}", e[0]);
        assert!(!e[0].contains(SAS) && e[0].contains("not shown"), "{}", e[0]);
        let e = errors(&with_auth(None, auth("r.example.com", Some("hunter\u{1b}2"), None)));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(e[0].starts_with("[agent.auth] password: contains the control character U+001B"), "{}", e[0]);
        assert!(!e[0].contains("hunter"), "{}", e[0]);
    }

    #[test]
    fn a_control_character_in_a_list_names_the_element() {
        let (findings, _) = validate_control_characters(&dns(&["1.1.1.1", "8.8.8.8\n"]));
        assert_eq!(findings.errors.len(), 1);
        assert_eq!(findings.errors[0].item, Some(1));
        assert!(
            findings.errors[0].message.starts_with("[dns] servers: \"8.8.8.8\\n\" contains a line break")
        );
    }
}
