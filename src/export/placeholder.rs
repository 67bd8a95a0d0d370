//! Secrets an export leaves out, and the placeholder that stands in for them.
//!
//! A placeholder rather than an omitted key: the file keeps its shape (the technician sees where
//! the password goes, and the `[agent.auth]` table stays complete), and validation refuses any
//! value that still holds one ([`unfilled_placeholders`], run by every reader of answers files
//! through [`crate::answers::validate::validate`]). So `answers check`, `plan`, `apply` and the
//! wizard all refuse a half-filled export with the key and what to fill in, before anything is
//! planned. The placeholder text can never be a real value: `<` is not allowed in a proxy URL's
//! password without percent-encoding, and no registry password is `<FILL IN: ...>`.

use serde_json::Value;

use crate::answers::Answers;
use crate::answers::validate::Findings;

/// The start of every placeholder; validation looks for it in every string.
pub const MARKER: &str = "<FILL IN";

/// What to write in place of the registry password, and what to fill in.
const REGISTRY_PASSWORD: &str = "the registry password (or replace the line with password_file = \"FILE\", the password on its first line)";
const PROXY_PASSWORD: &str = "the proxy password in the URL, percent-encoded (@ is %40, : is %3A)";

/// The placeholder text for a secret described by `what`.
pub fn placeholder(what: &str) -> String {
    format!("{MARKER}: {what}>")
}

/// Replace every secret in `answers` by a placeholder; returns (answers key, what to fill in)
/// for each, in file order.
pub fn leave_out_secrets(answers: &mut Answers) -> Vec<(String, String)> {
    let mut left_out = Vec::new();
    if let Some(proxy) = answers.proxy.as_mut()
        && let Some(url) = with_password_replaced(&proxy.url, &placeholder("proxy password"))
    {
        proxy.url = url;
        left_out.push(("proxy.url".to_string(), PROXY_PASSWORD.to_string()));
    }
    if let Some(auth) = answers.agent.as_mut().and_then(|a| a.auth.as_mut())
        && auth.password.is_some()
    {
        auth.password = Some(placeholder("registry password"));
        left_out.push(("agent.auth.password".to_string(), REGISTRY_PASSWORD.to_string()));
    }
    left_out
}

/// The URL with its password (split like [`crate::answers::Proxy::password`]: at the last `@`,
/// then the first `:`) replaced by `replacement`; `None` when it has no password.
fn with_password_replaced(url: &str, replacement: &str) -> Option<String> {
    let (prefix, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let (userinfo, host) = rest.rsplit_once('@')?;
    let (user, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| format!("{prefix}{user}:{replacement}@{host}"))
}

/// What to fill in at answers key `key`, for the refusal.
fn what_for(key: &str) -> &'static str {
    match key {
        "agent.auth.password" => REGISTRY_PASSWORD,
        "proxy.url" => PROXY_PASSWORD,
        _ => "the value for this fleet",
    }
}

/// An error for every string of `answers` that still holds a placeholder, and the keys they are
/// about (so other rules' findings on those values are dropped: the placeholder is the problem).
/// Walks the serialized model, so a secret answer added later is covered too.
pub fn unfilled_placeholders(answers: &Answers) -> (Findings, Vec<String>) {
    let mut findings = Findings::default();
    let mut keys: Vec<String> = Vec::new();
    if let Ok(tree) = serde_json::to_value(answers) {
        walk(&tree, "", &mut keys);
    }
    for key in &keys {
        findings.error(
            key,
            None,
            format!(
                "still holds the placeholder \"{MARKER}: ...>\" that `edgeprep answers export` left for a secret; \
                 replace it with {} (the file is refused until every placeholder is filled in)",
                what_for(key)
            ),
        );
    }
    (findings, keys)
}

fn walk(value: &Value, path: &str, keys: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (name, child) in map {
                let child_path = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                walk(child, &child_path, keys);
            }
        }
        Value::Array(items) => items.iter().for_each(|child| walk(child, path, keys)),
        Value::String(text) if text.contains(MARKER) && !keys.iter().any(|k| k == path) => {
            keys.push(path.to_string());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::{Agent, Proxy, RegistryAuth};

    fn answers(url: &str, password: Option<&str>) -> Answers {
        Answers {
            proxy: Some(Proxy { url: url.into(), no_proxy: None }),
            agent: Some(Agent {
                image: None,
                host_storage: None,
                auth: Some(RegistryAuth {
                    server: "r.example.com".into(),
                    username: "u".into(),
                    password: password.map(Into::into),
                    password_file: None,
                }),
            }),
            ..Answers::default()
        }
    }

    #[test]
    fn both_passwords_become_placeholders_and_nothing_else_changes() {
        let mut a = answers("http://bob:s%40cret@proxy:3128", Some("registry-secret"));
        let left = leave_out_secrets(&mut a);
        assert_eq!(
            left.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ["proxy.url", "agent.auth.password"]
        );
        assert_eq!(a.proxy.as_ref().unwrap().url, "http://bob:<FILL IN: proxy password>@proxy:3128");
        assert_eq!(
            a.agent.as_ref().unwrap().auth.as_ref().unwrap().password.as_deref(),
            Some("<FILL IN: registry password>")
        );
        assert!(a.secret_values().iter().all(|s| !s.contains("secret")), "{:?}", a.secret_values());
    }

    #[test]
    fn a_proxy_without_a_password_is_kept_as_it_is() {
        for url in ["http://proxy:3128", "http://bob@proxy:3128", "http://bob:@proxy:3128"] {
            let mut a = answers(url, None);
            assert!(leave_out_secrets(&mut a).is_empty(), "{url}");
            assert_eq!(a.proxy.unwrap().url, url);
        }
    }

    #[test]
    fn validation_names_each_unfilled_placeholder_and_nothing_else_about_it() {
        let mut a = answers("http://bob:pw@proxy:3128", Some("pw"));
        leave_out_secrets(&mut a);
        let findings = crate::answers::validate::validate(&a);
        let message = |key: &str| {
            let found: Vec<&str> =
                findings.errors.iter().filter(|f| f.key == key).map(|f| f.message.as_str()).collect();
            assert_eq!(found.len(), 1, "{key}: {:#?}", findings.errors);
            found[0].to_string()
        };
        assert_eq!(findings.errors.len(), 2, "{:#?}", findings.errors);
        let proxy = message("proxy.url");
        assert!(proxy.starts_with("[proxy] url: still holds the placeholder"), "{proxy}");
        assert!(proxy.contains("proxy password in the URL, percent-encoded"), "{proxy}");
        let registry = message("agent.auth.password");
        assert!(registry.starts_with("[agent.auth] password: still holds the placeholder"), "{registry}");
        assert!(registry.contains("the registry password"), "{registry}");
    }
}
