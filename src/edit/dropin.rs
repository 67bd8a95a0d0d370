//! systemd drop-ins that carry the proxy to docker, aziot-edged and aziot-identityd.
//!
//! `iotedge check` compares the lowercase `https_proxy` of all three units with
//! `[agent.env] https_proxy` byte for byte, so the same string goes everywhere. systemd expands
//! `%` specifiers in `Environment=`, so a percent-encoded proxy password must be written `%%`.
//!
//! A proxy URL with credentials goes into a root-only environment file instead, which the
//! drop-in names: `systemctl show -p Environment` prints `Environment=` values to any user.
//! This module also takes one assignment out of a unit file or environment file edgeprep does
//! not own, leaving every other byte of it alone.

use crate::answers::Proxy;
use crate::paths;
use crate::plan::unit_env::{Assigned, Setting, split_words};

/// The drop-in text for `unit` (`docker`, `aziot-edged`, `aziot-identityd`).
pub fn proxy_dropin(unit: &str, proxy: &Proxy) -> String {
    let mut text = String::from(
        "# Written by edgeprep: the proxy IoT Edge reaches the cloud through.\n\
         # Keep https_proxy identical to [agent.env] https_proxy in /etc/aziot/config.toml.\n\
         [Service]\n",
    );
    // dockerd pulls from plain-HTTP registries too, and honours no_proxy.
    for (name, value) in proxy_variables(unit, proxy) {
        text.push_str(&format!("Environment=\"{name}={}\"\n", escape(value)));
    }
    text
}

/// The variables `unit` gets, in the order they are written.
fn proxy_variables<'a>(unit: &str, proxy: &'a Proxy) -> Vec<(&'static str, &'a str)> {
    let mut vars = vec![("https_proxy", proxy.url.as_str())];
    if unit == paths::DOCKER_UNIT {
        vars.push(("http_proxy", proxy.url.as_str()));
        if let Some(no_proxy) = proxy.no_proxy.as_deref().filter(|n| !n.is_empty()) {
            vars.push(("no_proxy", no_proxy));
        }
    }
    vars
}

/// The drop-in for `unit` when the proxy URL holds credentials: it only names `env_file`.
pub fn proxy_dropin_with_env_file(env_file: &str) -> String {
    format!(
        "# Written by edgeprep: the proxy IoT Edge reaches the cloud through.\n\
         # The proxy URL holds a password, so it is in a root-only file rather than in Environment=\n\
         # (`systemctl show` prints Environment= to any user). Keep https_proxy there identical to\n\
         # [agent.env] https_proxy in /etc/aziot/config.toml.\n\
         [Service]\n\
         EnvironmentFile={env_file}\n"
    )
}

/// The root-only environment file for `unit` (systemd's `EnvironmentFile=` syntax: no `%`
/// specifiers, double quotes with backslash escapes).
pub fn proxy_env_file(unit: &str, proxy: &Proxy) -> String {
    let mut text = format!(
        "# Written by edgeprep: the proxy for the {unit} service. Root only: it holds the proxy password.\n"
    );
    for (name, value) in proxy_variables(unit, proxy) {
        text.push_str(&format!("{name}=\"{}\"\n", env_file_escape(value)));
    }
    text
}

/// A value as written inside double quotes in an environment file (the form a secret takes
/// there, so the review can mask it too).
pub fn env_file_escape(value: &str) -> String {
    value
        .chars()
        .flat_map(|c| match c {
            '"' | '\\' | '`' | '$' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// `text` without the assignment `setting` (found by [`crate::plan::unit_env`] in that text):
/// an `Environment=` word is taken out of its line (the line goes when it was the only word;
/// an empty `Environment=` would clear every variable), an environment-file assignment loses
/// its lines. `None` when the text is not as the setting describes.
pub fn remove_assignment(text: &str, setting: &Setting) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let (first, last) = (setting.lines.0.checked_sub(1)?, setting.lines.1.checked_sub(1)?);
    if last >= lines.len() || first > last {
        return None;
    }
    let replacement = match &setting.assigned {
        Assigned::EnvironmentFile { .. } => String::new(),
        Assigned::Environment { word } => {
            if first != last {
                return None;
            }
            let line = lines[first];
            let body = line.trim_end_matches(['\n', '\r']);
            let ending = &line[body.len()..];
            let (key, value) = body.split_once('=')?;
            if key.trim() != "Environment" {
                return None;
            }
            let (words, complete) = split_words(value);
            let target = words.get(*word)?;
            if !complete || !target.text.starts_with(&format!("{}=", setting.name)) {
                return None;
            }
            let rest: Vec<&str> =
                words.iter().enumerate().filter(|(i, _)| i != word).map(|(_, w)| w.raw.as_str()).collect();
            if rest.is_empty() { String::new() } else { format!("{key}={}{ending}", rest.join(" ")) }
        }
    };
    let mut out: String = lines[..first].concat();
    out.push_str(&replacement);
    out.push_str(&lines[last + 1..].concat());
    Some(out)
}

/// Escape a value for a double-quoted `Environment=` assignment.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(url: &str, no_proxy: Option<&str>) -> Proxy {
        Proxy { url: url.to_string(), no_proxy: no_proxy.map(str::to_string) }
    }

    #[test]
    fn docker_gets_http_and_no_proxy_too() {
        let text = proxy_dropin("docker", &proxy("http://p:3128", Some("localhost,127.0.0.1")));
        assert!(text.contains("[Service]\n"));
        assert!(text.contains("Environment=\"https_proxy=http://p:3128\"\n"));
        assert!(text.contains("Environment=\"http_proxy=http://p:3128\"\n"));
        assert!(text.contains("Environment=\"no_proxy=localhost,127.0.0.1\"\n"));
    }

    #[test]
    fn aziot_units_get_only_lowercase_https_proxy() {
        let text = proxy_dropin("aziot-edged", &proxy("http://p:3128", Some("localhost")));
        assert!(text.contains("Environment=\"https_proxy=http://p:3128\"\n"));
        assert!(!text.contains("http_proxy="));
        assert!(!text.contains("no_proxy"));
        assert!(!text.contains("HTTPS_PROXY"));
    }

    #[test]
    fn env_file_holds_the_variables_quoted_for_systemd_without_percent_doubling() {
        let p = proxy("http://u:p%40$s@p:3128", Some("localhost"));
        let text = proxy_env_file("docker", &p);
        assert!(text.contains("https_proxy=\"http://u:p%40\\$s@p:3128\"\n"), "{text}");
        assert!(text.contains("http_proxy=\"http://u:p%40\\$s@p:3128\"\n"));
        assert!(text.contains("no_proxy=\"localhost\"\n"));
        let parsed = crate::plan::unit_env::parse_env_file(&text, "/e", "/d");
        assert_eq!(parsed[0].value, "http://u:p%40$s@p:3128");
        let aziot = proxy_env_file("aziot-edged", &p);
        assert!(!aziot.contains("http_proxy=") && !aziot.contains("no_proxy"));
    }

    #[test]
    fn dropin_with_env_file_names_it_and_holds_no_value() {
        let text = proxy_dropin_with_env_file("/etc/edgeprep/docker-proxy.env");
        assert!(text.contains("[Service]\nEnvironmentFile=/etc/edgeprep/docker-proxy.env\n"));
        assert!(!text.contains("Environment=\""));
    }

    fn setting(name: &str, lines: (usize, usize), assigned: Assigned) -> Setting {
        Setting {
            name: name.into(),
            value: String::new(),
            path: "/x".into(),
            lines,
            assigned,
            editable: true,
        }
    }

    #[test]
    fn removing_one_environment_word_keeps_the_others_and_the_rest_of_the_file() {
        let text =
            "# mine\n[Service]\nEnvironment=\"HTTPS_PROXY=http://old:1\" 'NO_PROXY=a b'\r\nExecStart=\n";
        let out = remove_assignment(text, &setting("HTTPS_PROXY", (3, 3), Assigned::Environment { word: 0 }))
            .unwrap();
        assert_eq!(out, "# mine\n[Service]\nEnvironment='NO_PROXY=a b'\r\nExecStart=\n");
        let out =
            remove_assignment(&out, &setting("NO_PROXY", (3, 3), Assigned::Environment { word: 0 })).unwrap();
        assert_eq!(out, "# mine\n[Service]\nExecStart=\n", "the line goes, never an empty Environment=");
    }

    #[test]
    fn removing_refuses_text_that_does_not_match_the_setting() {
        let text = "[Service]\nEnvironment=A=1\n";
        assert_eq!(remove_assignment(text, &setting("B", (2, 2), Assigned::Environment { word: 0 })), None);
        assert_eq!(remove_assignment(text, &setting("A", (5, 5), Assigned::Environment { word: 0 })), None);
        assert_eq!(remove_assignment(text, &setting("A", (1, 1), Assigned::Environment { word: 0 })), None);
    }

    #[test]
    fn removing_an_env_file_assignment_drops_its_lines() {
        let text = "A=1\nB=\"two\nlines\"\nC=3";
        let by = Assigned::EnvironmentFile { by: "/u".into() };
        assert_eq!(remove_assignment(text, &setting("B", (2, 3), by.clone())).unwrap(), "A=1\nC=3");
        assert_eq!(remove_assignment(text, &setting("C", (4, 4), by)).unwrap(), "A=1\nB=\"two\nlines\"\n");
    }

    #[test]
    fn percent_signs_are_doubled_for_systemd() {
        let text = proxy_dropin("aziot-identityd", &proxy("http://u:p%40ss@p:3128", None));
        assert!(text.contains("https_proxy=http://u:p%%40ss@p:3128"));
    }
}
