//! systemd drop-ins that carry the proxy to docker, aziot-edged and aziot-identityd.
//!
//! `iotedge check` compares the lowercase `https_proxy` of all three units with
//! `[agent.env] https_proxy` byte for byte, so the same string goes everywhere. systemd expands
//! `%` specifiers in `Environment=`, so a percent-encoded proxy password must be written `%%`.

use crate::answers::Proxy;
use crate::paths;

/// The drop-in text for `unit` (`docker`, `aziot-edged`, `aziot-identityd`).
pub fn proxy_dropin(unit: &str, proxy: &Proxy) -> String {
    let mut text = String::from(
        "# Written by edgeprep: the proxy IoT Edge reaches the cloud through.\n\
         # Keep https_proxy identical to [agent.env] https_proxy in /etc/aziot/config.toml.\n\
         [Service]\n",
    );
    let mut env = |name: &str, value: &str| {
        text.push_str(&format!("Environment=\"{name}={}\"\n", escape(value)));
    };
    env("https_proxy", &proxy.url);
    if unit == paths::DOCKER_UNIT {
        // dockerd pulls from plain-HTTP registries too, and honours no_proxy.
        env("http_proxy", &proxy.url);
        if let Some(no_proxy) = proxy.no_proxy.as_deref().filter(|n| !n.is_empty()) {
            env("no_proxy", no_proxy);
        }
    }
    text
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
    fn percent_signs_are_doubled_for_systemd() {
        let text = proxy_dropin("aziot-identityd", &proxy("http://u:p%40ss@p:3128", None));
        assert!(text.contains("https_proxy=http://u:p%%40ss@p:3128"));
    }
}
