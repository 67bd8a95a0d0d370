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

/// Replace every occurrence of each secret in `text`, in every form it can be written in (see
/// [`forms`]), with [`MASK`], then mask the known secret places.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut all: Vec<String> = secrets.iter().flat_map(|s| forms(s)).collect();
    // Longest first, so a secret that contains another (or a form that contains the raw
    // secret, such as its escaped form) is masked whole.
    all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    all.dedup();
    let mut out = text.to_string();
    for form in &all {
        out = out.replace(form.as_str(), MASK);
    }
    mask_known_secrets(&out)
}

/// Every spelling of `secret` that edgeprep's output can contain: as given; percent-decoded
/// (a proxy password is given percent-encoded, and a program may log it decoded); and each of
/// those percent-encoded (as a URL holds it), escaped for a TOML or JSON string (`\"`, `\\`),
/// and escaped for a systemd `Environment=` line (`%%` as well). Empty for an empty secret.
pub fn forms(secret: &str) -> Vec<String> {
    if secret.is_empty() {
        return Vec::new();
    }
    let mut bases = vec![secret.to_string()];
    if let Some(decoded) = percent_decode(secret).filter(|d| d != secret && !d.is_empty()) {
        bases.push(decoded);
    }
    let mut out = Vec::new();
    for base in &bases {
        let quoted = base.replace('\\', "\\\\").replace('"', "\\\"");
        out.push(base.clone());
        out.push(percent_encode(base));
        out.push(quoted.replace('%', "%%"));
        out.push(quoted);
    }
    out.sort();
    out.dedup();
    out
}

/// `%XX` escapes decoded; `None` when the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    String::from_utf8(percent_decode_bytes(text)).ok()
}

/// `%XX` escapes decoded to bytes. A `%` not followed by two hex digits stays as it is, as URL
/// parsers leave it. Shared with the network probe, which sends proxy credentials decoded.
pub(crate) fn percent_decode_bytes(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// Every byte but RFC 3986's unreserved characters as `%XX`.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Mask secrets where IoT Edge's files keep them: `SharedAccessKey=` in connection strings,
/// passwords in URLs (`http://user:pass@host`), and the values of password and key fields.
pub fn mask_known_secrets(text: &str) -> String {
    let masked = mask_shared_access_keys(text);
    let masked = mask_url_passwords(&masked);
    mask_secret_fields(&masked)
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

    /// Every way the writers put a value into a file: TOML/JSON basic string, systemd
    /// `Environment="..."`, a URL's userinfo.
    fn written_forms(secret: &str) -> Vec<String> {
        let toml = secret.replace('\\', "\\\\").replace('"', "\\\"");
        let json = serde_json::to_string(secret).unwrap();
        vec![
            secret.to_string(),
            toml.clone(),
            json[1..json.len() - 1].to_string(),
            toml.replace('%', "%%"),
            percent_encode(secret),
        ]
    }

    const NASTY: &[&str] =
        &["pa ss", "pa\"ss", "p%41ss", "back\\slash", "semi;colon", "all \" %41 \\ ; of=them", "%%41%"];

    #[test]
    fn forms_cover_decoded_encoded_and_escaped_spellings() {
        let f = forms("p%41s\"s\\");
        for expected in [
            "p%41s\"s\\",      // as given
            "pAs\"s\\",        // percent-decoded
            "p%41s\\\"s\\\\",  // TOML/JSON
            "p%%41s\\\"s\\\\", // systemd
            "pAs\\\"s\\\\",    // decoded, TOML/JSON
            "p%2541s%22s%5C",  // percent-encoded
        ] {
            assert!(f.contains(&expected.to_string()), "{expected:?} missing from {f:?}");
        }
        assert!(forms("").is_empty());
        assert_eq!(percent_decode("%zz%4"), Some("%zz%4".to_string()));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn nasty_secrets_are_masked_in_every_written_form() {
        for secret in NASTY {
            for form in written_forms(secret) {
                let text = format!("before {form} after");
                let masked = mask(&text, &[secret.to_string()]);
                assert_eq!(masked, format!("before {MASK} after"), "{secret:?} as {form:?}");
            }
        }
        // The decoded form of a percent-encoded proxy password, and its escapes.
        let masked = mask("x pa ss\"A y", &["pa%20ss%22%41".to_string()]);
        assert_eq!(masked, format!("x {MASK} y"));
        let masked = mask("Environment=\"https_proxy=http://u:p%%41ss@h:1\"", &["p%41ss".to_string()]);
        assert!(!masked.contains("p%%41ss") && masked.contains(MASK), "{masked}");
    }

    // Secrets never contain the mask character here, or the mask itself would "contain" them.
    proptest::proptest! {
        #[test]
        fn any_secret_is_masked_in_every_written_form(
            secret in "[ -)+-~]{4,24}",
            before in "[a-z =:\"]{0,10}",
            after in "[a-z =:\"]{0,10}",
        ) {
            for form in written_forms(&secret) {
                let text = format!("{before}{form}{after}");
                let masked = mask(&text, std::slice::from_ref(&secret));
                proptest::prop_assert!(!masked.contains(&form), "{:?} left {:?} in {:?}", secret, form, masked);
            }
        }
    }
}
