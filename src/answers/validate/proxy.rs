//! `[proxy]`: the URL (with any password masked in messages) and `no_proxy`, checked as the raw
//! text that is written into config.toml and the systemd drop-ins.

use super::{Findings, quoted};
use crate::answers::{Proxy, UpstreamProtocol};
use crate::secrets::MASK;

/// Check `[proxy]` alone, as a wizard step does; [`super::validate`] calls this for the file.
pub fn validate_proxy(proxy: &Proxy) -> Findings {
    let mut f = Findings::default();
    check_proxy(&mut f, proxy);
    f
}

/// The proxy URL with any password replaced by the mask, for messages.
pub(super) fn mask_proxy_url(raw: &str) -> String {
    let (prefix, rest) = match raw.find("://") {
        Some(at) => raw.split_at(at + 3),
        None => ("", raw),
    };
    // The last `@` rather than the end of the authority: a password with an unescaped `/`, `?`
    // or `#` would otherwise end the authority early and be echoed whole.
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{prefix}{user}:{MASK}@{host}"),
            None => raw.to_string(),
        },
        None => raw.to_string(),
    }
}

/// The user name and password as written in the URL (still percent-encoded), named for
/// messages. Split like [`mask_proxy_url`]: at the last `@`, then the first `:`.
fn userinfo_parts(raw: &str) -> Vec<(&'static str, &str)> {
    let rest = raw.find("://").map_or(raw, |at| &raw[at + 3..]);
    let Some((userinfo, _)) = rest.rsplit_once('@') else {
        return Vec::new();
    };
    match userinfo.split_once(':') {
        Some((user, password)) => vec![("user name", user), ("password", password)],
        None => vec![("user name", userinfo)],
    }
}

/// The class of the first character of `text` that may not appear raw in a URL's user name or
/// password (RFC 3986 userinfo), or `None`. Only a class, never the character itself, because
/// the text may be a password. Control characters are left to [`super::control`].
fn needs_percent_encoding(text: &str) -> Option<&'static str> {
    let bytes = text.as_bytes();
    for (i, c) in text.char_indices() {
        let class = match c {
            ' ' => "a space",
            '@' | '/' | '?' | '#' | '[' | ']' => "a character that has a meaning in URLs (@ / ? # [ ])",
            '"' | '\\' | '<' | '>' | '`' | '{' | '}' | '|' | '^' => {
                "a quote, a backslash or another character URLs do not allow (\" \\ < > ` { } | ^)"
            }
            '%' if !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)) =>
            {
                "a % that does not start a %XX escape"
            }
            c if !c.is_ascii() && !super::control::is_forbidden(c) => "a non-ASCII character",
            _ => continue,
        };
        return Some(class);
    }
    None
}

/// True when the URL's authority ends in an explicit `:port`. `url` hides a port equal to the
/// scheme's default (`http://p:80` reports no port), so this looks at the text itself.
fn has_explicit_port(raw: &str) -> bool {
    let Some(at) = raw.find("://") else {
        return false;
    };
    let rest = &raw[at + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let port = if host_port.starts_with('[') {
        host_port.rsplit_once("]:").map(|(_, p)| p)
    } else {
        host_port.rsplit_once(':').map(|(_, p)| p)
    };
    port.is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn check_proxy(f: &mut Findings, proxy: &Proxy) {
    const KEY: &str = "proxy.url";
    const EXAMPLE: &str =
        "e.g. \"http://proxy.example.com:3128\" or \"http://user:password@proxy.example.com:3128\"";
    let raw = proxy.url.as_str();
    let shown = quoted(&mask_proxy_url(raw));
    // A raw space, quote or backslash in the credentials makes URL parsers stop or guess; say
    // what to encode instead of what the parser made of it.
    let credentials: Vec<(&str, &str)> = userinfo_parts(raw)
        .into_iter()
        .filter_map(|(part, text)| needs_percent_encoding(text).map(|class| (part, class)))
        .collect();
    if !raw.contains("://") {
        f.error(KEY, Some(&shown), format!("must be a URL starting with http://, {EXAMPLE}"));
    } else if !credentials.is_empty() {
        for (part, class) in credentials {
            f.error(
                KEY,
                Some(&shown),
                format!(
                    "the {part} contains {class}; write it percent-encoded, as every program that reads https_proxy expects (a space is %20, @ is %40, : is %3A, / is %2F, # is %23, % is %25), e.g. \"http://bob:p%40ss%20word@proxy.example.com:3128\""
                ),
            );
        }
    } else if raw.contains(char::is_whitespace) {
        // The url crate trims surrounding spaces, so the parsed copy would pass while the raw
        // text, spaces and all, lands in config.toml and the drop-ins.
        f.error(KEY, Some(&shown), format!("contains spaces; remove them, {EXAMPLE}"));
    } else {
        match url::Url::parse(raw) {
            Err(e) => f.error(KEY, Some(&shown), format!("is not a valid URL ({e}); {EXAMPLE}")),
            Ok(u) => {
                match u.scheme() {
                    "http" => {}
                    "https" => f.warning(
                        KEY,
                        Some(&shown),
                        "uses https://, but the IoT Edge daemon and runtime containers always talk plain HTTP to the proxy (the proxy still tunnels TLS to Azure); an https:// proxy URL usually fails (Azure/iotedge issue #7091). Use http://, e.g. \"http://proxy.example.com:3128\", unless you know your proxy needs otherwise",
                    ),
                    other => f.error(
                        KEY,
                        Some(&shown),
                        format!(
                            "scheme \"{other}\" is not supported; IoT Edge only talks HTTP to a proxy, {EXAMPLE}",
                        ),
                    ),
                }
                if u.host_str().is_none_or(str::is_empty) {
                    f.error(KEY, Some(&shown), format!("has no proxy host name, {EXAMPLE}"));
                } else if !has_explicit_port(raw) {
                    f.error(
                        KEY,
                        Some(&shown),
                        format!("has no port; the port must be written explicitly, {EXAMPLE}"),
                    );
                }
                if !matches!(u.path(), "" | "/") || u.query().is_some() || u.fragment().is_some() {
                    f.error(
                        KEY,
                        Some(&shown),
                        format!("must end after host:port (no path, ? or #), {EXAMPLE}"),
                    );
                }
            }
        }
    }
    if let Some(no_proxy) = &proxy.no_proxy {
        check_no_proxy(f, no_proxy);
    }
}

/// edgeAgent and edgeHub reach IoT Hub through the proxy only over HTTPS (443): AMQP (5671) and
/// MQTT (8883) cannot pass a proxy, so with a proxy they must be spelled as their WebSocket forms.
pub fn validate_proxy_protocol(protocol: UpstreamProtocol) -> Findings {
    let mut f = Findings::default();
    let websocket = match protocol {
        UpstreamProtocol::Amqp => UpstreamProtocol::AmqpWs,
        UpstreamProtocol::Mqtt => UpstreamProtocol::MqttWs,
        UpstreamProtocol::AmqpWs | UpstreamProtocol::MqttWs => return f,
    };
    f.warning(
        "upstream.protocol",
        Some(&quoted(protocol.as_str())),
        format!(
            "a proxy carries only HTTPS and WebSocket traffic, so edgeAgent and edgeHub cannot reach IoT Hub over {} through it; use protocol = \"{}\" with a proxy",
            protocol.as_str(),
            websocket.as_str()
        ),
    );
    f
}

fn check_no_proxy(f: &mut Findings, no_proxy: &str) {
    const KEY: &str = "proxy.no_proxy";
    const EXAMPLE: &str = "e.g. \"localhost,127.0.0.1,.corp.example.com\"";
    let shown = quoted(no_proxy);
    if no_proxy.trim().is_empty() {
        f.error(
            KEY,
            Some(&shown),
            format!("is empty; list hosts separated by commas, {EXAMPLE}, or remove the key"),
        );
        return;
    }
    let entries: Vec<&str> = no_proxy.split(',').collect();
    if entries.iter().any(|e| e.chars().any(char::is_whitespace)) {
        f.error(KEY, Some(&shown), format!("contains spaces; separate hosts with commas only, {EXAMPLE}"));
    }
    if entries.iter().any(|e| e.is_empty()) {
        f.error(
            KEY,
            Some(&shown),
            format!("has an empty entry (two commas in a row, or a comma at the start or end), {EXAMPLE}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn http_proxy_with_explicit_port_is_accepted() {
        for url in [
            "http://proxy:3128",
            "http://proxy.example.com:80/",
            "http://u:p@proxy:8080",
            "http://[fd00::1]:3128",
        ] {
            let a = with_proxy(url, Some("localhost,127.0.0.1"));
            assert_valid(&a);
            assert!(warnings(&a).is_empty(), "{url}");
        }
    }

    #[test]
    fn https_proxy_scheme_is_a_warning_pointing_to_http() {
        let a = with_proxy("https://proxy:3129", None);
        assert_valid(&a);
        let w = warnings(&a);
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("[proxy] url = \"https://proxy:3129\""));
        assert!(w[0].contains("http://proxy.example.com:3128") && w[0].contains("#7091"));
    }

    #[test]
    fn proxy_needs_http_scheme_host_and_explicit_port_and_no_path() {
        assert_one_error(&with_proxy("socks5://proxy:1080", None), &["scheme \"socks5\" is not supported"]);
        assert_one_error(&with_proxy("proxy:3128", None), &["must be a URL starting with http://"]);
        assert_one_error(&with_proxy("http://proxy", None), &["has no port", "explicit"]);
        assert_one_error(&with_proxy("http://proxy:3128/path", None), &["no path"]);
        assert_one_error(&with_proxy("http://proxy:3128?x=1", None), &["no path"]);
        assert_one_error(&with_proxy("http://:3128", None), &["[proxy] url", "not a valid URL"]);
    }

    #[test]
    fn proxy_password_is_masked_in_messages() {
        let e = errors(&with_proxy("http://bob:hunter2secret@proxy/x", None));
        assert_eq!(e.len(), 2, "{e:#?}");
        for m in &e {
            assert!(!m.contains("hunter2secret"), "{m}");
            assert!(m.contains(&format!("http://bob:{MASK}@proxy/x")), "{m}");
        }
        let w = warnings(&with_proxy("https://bob:hunter2secret@proxy:1", None));
        assert!(!w[0].contains("hunter2secret"));
        for url in ["bob:hunter2secret@proxy:3128", "http://bob:hunter2secret/x#y@proxy:3128"] {
            let e = errors(&with_proxy(url, None));
            assert!(!e.is_empty() && e.iter().all(|m| !m.contains("hunter2secret")), "{e:?}");
        }
    }

    #[test]
    fn no_proxy_must_be_comma_separated_without_spaces_or_empty_entries() {
        assert_one_error(
            &with_proxy("http://p:1", Some("localhost, 127.0.0.1")),
            &["[proxy] no_proxy", "contains spaces"],
        );
        assert_one_error(&with_proxy("http://p:1", Some("localhost,,x")), &["empty entry"]);
        assert_one_error(&with_proxy("http://p:1", Some("localhost,")), &["empty entry"]);
        assert_one_error(&with_proxy("http://p:1", Some("")), &["is empty"]);
    }

    #[test]
    fn proxy_credentials_needing_percent_encoding_are_refused_by_class_never_shown() {
        let cases = [
            ("http://bob:pass word@proxy:3128", "the password contains a space"),
            ("http://bob:p@ss@proxy:3128", "the password contains a character that has a meaning in URLs"),
            ("http://bob:pa\"ss@proxy:3128", "the password contains a quote, a backslash"),
            ("http://bob:pa\\ss@proxy:3128", "the password contains a quote, a backslash"),
            ("http://bob:100%@proxy:3128", "the password contains a % that does not start a %XX escape"),
            ("http://bob:pässe@proxy:3128", "the password contains a non-ASCII character"),
            ("http://bob smith:pw@proxy:3128", "the user name contains a space"),
        ];
        for (url, expected) in cases {
            let e = errors(&with_proxy(url, None));
            assert_eq!(e.len(), 1, "{url}: {e:#?}");
            assert!(e[0].contains(expected) && e[0].contains("percent-encoded"), "{url}: {}", e[0]);
            for secret in ["pass word", "p@ss", "pa\"ss", "pa\\ss", "100%", "pässe"] {
                assert!(!e[0].contains(secret), "{secret} leaked: {}", e[0]);
            }
        }
    }

    #[test]
    fn spaces_around_or_in_the_proxy_url_are_refused() {
        for url in [" http://proxy:3128", "http://proxy:3128 ", "http://pro xy:3128"] {
            assert_one_error(&with_proxy(url, None), &["[proxy] url", "contains spaces"]);
        }
    }

    #[test]
    fn percent_encoded_and_sub_delimiter_credentials_are_accepted() {
        for url in ["http://bob:p%40ss%20w%3Ard@proxy:3128", "http://b.o-b_~:a!$&'()*+,;=:b@proxy:3128"] {
            let a = with_proxy(url, None);
            assert_valid(&a);
        }
    }

    #[test]
    fn amqp_or_mqtt_through_a_proxy_is_a_warning_pointing_at_websockets() {
        for (protocol, websocket) in [(UpstreamProtocol::Amqp, "AmqpWs"), (UpstreamProtocol::Mqtt, "MqttWs")]
        {
            let mut a = with_proxy("http://proxy:3128", None);
            a.upstream = Some(Upstream { protocol });
            assert_valid(&a);
            let w = warnings(&a);
            assert_eq!(w.len(), 1, "{w:#?}");
            assert!(
                w[0].starts_with(&format!("[upstream] protocol = \"{}\"", protocol.as_str())),
                "{}",
                w[0]
            );
            assert!(w[0].contains(&format!("use protocol = \"{websocket}\"")), "{}", w[0]);
        }
        for protocol in [UpstreamProtocol::AmqpWs, UpstreamProtocol::MqttWs] {
            let mut a = with_proxy("http://proxy:3128", None);
            a.upstream = Some(Upstream { protocol });
            assert!(warnings(&a).is_empty());
        }
        // Without a proxy, Amqp is fine.
        let a =
            Answers { upstream: Some(Upstream { protocol: UpstreamProtocol::Amqp }), ..Answers::default() };
        assert!(warnings(&a).is_empty());
    }
}
