//! Top-level `hostname`: the name IoT Edge puts in its certificates, so the rules `iotedge check`
//! applies to it.

use std::net::IpAddr;

use super::{Findings, quoted};

/// Check the top-level `hostname` alone, as a wizard step does; [`super::validate`] calls this for the file.
pub fn validate_hostname(hostname: &str) -> Findings {
    let mut f = Findings::default();
    check_hostname(&mut f, hostname);
    f
}

/// IoT Edge uses the hostname as the Edge CA's issuer name and edgeHub's server certificate
/// name; `iotedge check` warns past 64 characters and for names that are not RFC 1035.
fn check_hostname(f: &mut Findings, hostname: &str) {
    const KEY: &str = "hostname";
    const EXAMPLE: &str = "e.g. \"edge-gw-01\" or \"edge-gw-01.plant.example.com\"";
    let shown = quoted(hostname);
    if hostname.is_empty() {
        f.error(
            KEY,
            Some("\"\""),
            format!("is empty; use the device's hostname, {EXAMPLE}, or remove the key"),
        );
        return;
    }
    if hostname.parse::<IpAddr>().is_ok() {
        return;
    }
    let length = hostname.chars().count();
    if length > 64 {
        f.error(
            KEY,
            Some(&shown),
            format!(
                "is {length} characters long; IoT Edge allows at most 64 because the hostname becomes a certificate name. Use a shorter name, {EXAMPLE}",
            ),
        );
        return;
    }
    let mut starts_with_digit = false;
    for label in hostname.split('.') {
        let problem = if label.is_empty() {
            Some("has an empty part (a leading or trailing dot, or two dots in a row)".to_string())
        } else if label.len() > 63 {
            Some(format!("has a part longer than 63 characters (\"{label}\")"))
        } else if let Some(bad) = label.chars().find(|c| !c.is_ascii_alphanumeric() && *c != '-') {
            Some(format!(
                "contains {}; only letters, digits, hyphens and dots between parts are allowed",
                quoted(&bad.to_string())
            ))
        } else if label.starts_with('-') || label.ends_with('-') {
            Some(format!("has a part that starts or ends with a hyphen (\"{label}\")"))
        } else {
            starts_with_digit |= label.starts_with(|c: char| c.is_ascii_digit());
            None
        };
        if let Some(problem) = problem {
            f.error(KEY, Some(&shown), format!("{problem}; {EXAMPLE}"));
            return;
        }
    }
    if starts_with_digit {
        f.warning(
            KEY,
            Some(&shown),
            "a part starts with a digit, which `iotedge check` reports as not RFC 1035 compliant; prefer a name whose parts start with a letter",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn hostnames_fqdns_and_ip_addresses_are_accepted() {
        for h in ["edge-gw-01", "edge-gw-01.plant.contoso.com", "EDGE1", "10.0.0.5", "fe80::1"] {
            assert_valid(&with_hostname(h));
            assert!(warnings(&with_hostname(h)).is_empty(), "{h}");
        }
    }

    #[test]
    fn hostname_over_64_characters_is_refused() {
        let long = format!("{}.example.com", "a".repeat(60));
        assert_one_error(&with_hostname(&long), &["hostname = ", "at most 64"]);
    }

    #[test]
    fn hostname_with_bad_characters_or_hyphens_or_empty_labels_is_refused() {
        assert_one_error(&with_hostname("edge_gw"), &["hostname = \"edge_gw\"", "\"_\""]);
        assert_one_error(&with_hostname("-edge"), &["hyphen"]);
        assert_one_error(&with_hostname("edge-"), &["hyphen"]);
        assert_one_error(&with_hostname("edge..plant"), &["empty part"]);
        assert_one_error(&with_hostname("edge."), &["empty part"]);
        assert_one_error(&with_hostname(""), &["is empty"]);
        assert_one_error(&with_hostname("edge gw"), &["\" \""]);
    }

    #[test]
    fn hostname_label_starting_with_a_digit_is_only_a_warning() {
        let a = with_hostname("1edge.plant");
        assert_valid(&a);
        assert!(warnings(&a)[0].contains("RFC 1035"));
    }
}
