//! Keeping secrets secret: masking registry passwords, SAS keys and proxy passwords wherever a
//! plan, diff or log line is shown.
//!
//! Two nets, because either alone misses something: the exact secret strings the answers carry
//! ([`mask`]), and the places secrets sit in IoT Edge's files even when edgeprep did not put
//! them there, such as a password already in config.toml ([`mask_known_secrets`]).

/// What a secret is shown as.
pub const MASK: &str = "********";

/// Keys whose quoted value is always a secret, in config.toml (`key = "..."`) or JSON
/// (`"key": "..."`).
const SECRET_KEYS: &[&str] = &["password", "symmetric_key", "value", "SharedAccessKey"];

/// Replace every occurrence of each secret in `text` with [`MASK`], then mask the known secret
/// places.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut sorted: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    // Longest first, so a secret that contains another is masked whole.
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_string();
    for secret in sorted {
        out = out.replace(secret.as_str(), MASK);
        // The same secret percent-encoded in a URL, or written with TOML/JSON escapes.
        for variant in encoded_variants(secret) {
            out = out.replace(&variant, MASK);
        }
    }
    mask_known_secrets(&out)
}

/// Mask secrets where IoT Edge's files keep them: `SharedAccessKey=` in connection strings,
/// passwords in URLs (`http://user:pass@host`), and the values of password and key fields.
pub fn mask_known_secrets(text: &str) -> String {
    let masked = mask_shared_access_keys(text);
    let masked = mask_url_passwords(&masked);
    mask_secret_fields(&masked)
}

fn encoded_variants(secret: &str) -> Vec<String> {
    let escaped = secret.replace('\\', "\\\\").replace('"', "\\\"");
    let percent: String = secret
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    [escaped, percent].into_iter().filter(|v| v != secret).collect()
}

fn mask_shared_access_keys(text: &str) -> String {
    let marker = "SharedAccessKey=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(marker) {
        let value_start = at + marker.len();
        out.push_str(&rest[..value_start]);
        let tail = &rest[value_start..];
        let end = tail.find([';', '"', '\'', '\n', ' ']).unwrap_or(tail.len());
        if end > 0 {
            out.push_str(MASK);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn mask_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let authority_start = at + 3;
        out.push_str(&rest[..authority_start]);
        let tail = &rest[authority_start..];
        let authority_end = tail.find(['/', '"', '\'', ' ', '\n', '\t', '?', '#']).unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at_sign), Some(colon)) if colon < at_sign => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at_sign..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// `password = "x"`, `"password": "x"`, `value = "x"` (inline key material) → masked value.
fn mask_secret_fields(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&mask_fields_in_line(line));
    }
    out
}

fn mask_fields_in_line(line: &str) -> String {
    let mut out = line.to_string();
    for key in SECRET_KEYS {
        let mut search_from = 0;
        while let Some(found) = out[search_from..].find(key) {
            let key_start = search_from + found;
            let key_end = key_start + key.len();
            search_from = key_end;
            let before = out[..key_start].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                continue;
            }
            let Some((value_start, value_end)) = quoted_value_after(&out, key_end) else {
                continue;
            };
            if value_end > value_start {
                out.replace_range(value_start..value_end, MASK);
                search_from = value_start + MASK.len();
            }
        }
    }
    out
}

/// After a key ending at `from`: optional closing quote, spaces, `=` or `:`, spaces, then a
/// double-quoted string. Returns the byte range of the string's contents.
fn quoted_value_after(line: &str, from: usize) -> Option<(usize, usize)> {
    let bytes = line.as_bytes();
    let mut i = from;
    if bytes.get(i) == Some(&b'"') {
        i += 1;
    }
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    if !matches!(bytes.get(i), Some(b'=') | Some(b':')) {
        return None;
    }
    i += 1;
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    if bytes.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let mut j = start;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b'"' => return Some((start, j)),
            _ => j += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_exact_secrets_and_their_encodings() {
        let secrets = vec!["p@ss word".to_string()];
        assert_eq!(mask("pw p@ss word", &secrets), format!("pw {MASK}"));
        assert_eq!(
            mask("http://u:p%40ss%20word@proxy:3128", &secrets),
            format!("http://u:{MASK}@proxy:3128")
        );
    }

    #[test]
    fn masks_shared_access_key_in_connection_strings() {
        let line = r#"connection_string = "HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=abc+/=""#;
        assert_eq!(
            mask_known_secrets(line),
            format!(
                r#"connection_string = "HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey={MASK}""#
            )
        );
    }

    #[test]
    fn masks_password_fields_in_toml_and_json() {
        assert_eq!(mask_known_secrets(r#"password = "hunter2""#), format!(r#"password = "{MASK}""#));
        assert_eq!(mask_known_secrets(r#"  "password": "hunter2","#), format!(r#"  "password": "{MASK}","#));
        assert_eq!(
            mask_known_secrets(r#"device_id_pk = { value = "YWJj" }"#),
            format!(r#"device_id_pk = {{ value = "{MASK}" }}"#)
        );
        // A key that merely ends in "password" is not a password field.
        assert_eq!(mask_known_secrets(r#"nopassword = "x""#), r#"nopassword = "x""#);
    }

    #[test]
    fn masks_url_passwords_but_keeps_user_and_host() {
        assert_eq!(
            mask_known_secrets(r#"https_proxy = "http://bob:s3cret@proxy.local:3128""#),
            format!(r#"https_proxy = "http://bob:{MASK}@proxy.local:3128""#)
        );
        assert_eq!(mask_known_secrets("http://proxy.local:3128"), "http://proxy.local:3128");
    }
}
