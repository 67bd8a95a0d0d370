//! `[edge_ca]`: certificate files to install, or a chain to generate.

use super::{Findings, quoted};
use crate::answers::EdgeCa;

/// Check `[edge_ca]` alone, as a wizard step does; [`super::validate`] calls this for the file.
pub fn validate_edge_ca(ca: &EdgeCa) -> Findings {
    let mut f = Findings::default();
    check_edge_ca(&mut f, ca);
    f
}

/// Files edgeprep installs: plain paths on the machine running edgeprep (relative ones are
/// taken from the answers file's directory).
fn check_local_path(f: &mut Findings, key: &str, path: &str) {
    if path.is_empty() {
        f.error(
            key,
            Some("\"\""),
            "is empty; write the path of the PEM file, e.g. \"certs/edge-ca-full-chain.pem\"",
        );
    } else if path.starts_with("file://") {
        f.error(
            key,
            Some(&quoted(path)),
            "write a plain path (relative to the answers file, or absolute); edgeprep installs the file and writes the file:// URI itself",
        );
    }
}

fn check_edge_ca(f: &mut Findings, ca: &EdgeCa) {
    let files = ca.cert.is_some() || ca.key.is_some();
    if ca.generate.is_none() && !files && ca.trust_bundle.is_none() {
        f.error(
            "edge_ca",
            None,
            "is empty; set cert and key to install an Edge CA, add [edge_ca.generate] to create one, or remove [edge_ca] to keep the device's current Edge CA",
        );
    }
    if ca.generate.is_some() && files {
        f.error(
            "edge_ca",
            None,
            "has both cert/key and [edge_ca.generate]; keep cert and key to install your own Edge CA, or [edge_ca.generate] to create one, not both",
        );
    }
    match (&ca.cert, &ca.key) {
        (Some(_), None) => f.error(
            "edge_ca.key",
            None,
            "is missing; cert needs the matching private key, e.g. key = \"certs/edge-ca.key.pem\"",
        ),
        (None, Some(_)) => f.error(
            "edge_ca.cert",
            None,
            "is missing; key needs the matching full-chain certificate, e.g. cert = \"certs/edge-ca-full-chain.pem\"",
        ),
        _ => {}
    }
    for (name, value) in [("cert", &ca.cert), ("key", &ca.key), ("trust_bundle", &ca.trust_bundle)] {
        if let Some(path) = value {
            check_local_path(f, &format!("edge_ca.{name}"), path);
        }
    }
    if let Some(generate) = &ca.generate {
        if let Some(days) = generate.days
            && !(1..=3650).contains(&days)
        {
            f.error(
                "edge_ca.generate.days",
                Some(&days.to_string()),
                "must be between 1 and 3650 (ten years), e.g. 365",
            );
        }
        if let Some(cn) = &generate.common_name {
            let length = cn.chars().count();
            if cn.trim().is_empty() {
                f.error(
                    "edge_ca.generate.common_name",
                    Some("\"\""),
                    "is empty; write a name for the CA, e.g. \"edge-gw-01 Edge CA\", or remove the key for the default",
                );
            } else if length > 64 {
                f.error(
                    "edge_ca.generate.common_name",
                    Some(&quoted(cn)),
                    format!("is {length} characters long; certificate common names are at most 64"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn edge_ca_from_files_or_generated_is_accepted() {
        assert_valid(&edge_ca(Some("ca.pem"), Some("ca.key"), None));
        assert_valid(&edge_ca(
            None,
            None,
            Some(GenerateEdgeCa { common_name: Some("gw1 Edge CA".into()), days: Some(365) }),
        ));
        assert_valid(&edge_ca(None, None, Some(GenerateEdgeCa { common_name: None, days: None })));
    }

    #[test]
    fn edge_ca_must_choose_files_or_generate_and_files_come_in_pairs() {
        assert_one_error(&edge_ca(None, None, None), &["[edge_ca]: is empty"]);
        assert_one_error(
            &edge_ca(Some("c"), Some("k"), Some(GenerateEdgeCa { common_name: None, days: None })),
            &["[edge_ca]: has both"],
        );
        assert_one_error(&edge_ca(Some("c"), None, None), &["[edge_ca] key: is missing"]);
        assert_one_error(&edge_ca(None, Some("k"), None), &["[edge_ca] cert: is missing"]);
        assert_one_error(
            &edge_ca(Some("file:///c.pem"), Some("k"), None),
            &["[edge_ca] cert = \"file:///c.pem\"", "plain path"],
        );
    }

    #[test]
    fn generated_edge_ca_days_and_common_name_are_bounded() {
        let generated = |cn: Option<&str>, days| {
            edge_ca(None, None, Some(GenerateEdgeCa { common_name: cn.map(Into::into), days }))
        };
        assert_one_error(&generated(None, Some(0)), &["[edge_ca.generate] days = 0"]);
        assert_one_error(&generated(None, Some(3651)), &["between 1 and 3650"]);
        assert_valid(&generated(None, Some(3650)));
        assert_one_error(&generated(Some(""), None), &["[edge_ca.generate] common_name = \"\""]);
        assert_one_error(&generated(Some(&"x".repeat(65)), None), &["at most 64"]);
    }

    #[test]
    fn all_problems_are_reported_together() {
        let a = Answers {
            hostname: Some("bad_host".into()),
            upstream: Some(Upstream { protocol: UpstreamProtocol::MqttWs }),
            ..gc(Some("36h"), None, Some("25:00"))
        };
        let e = errors(&a);
        assert_eq!(e.len(), 3, "{e:#?}");
    }
}
