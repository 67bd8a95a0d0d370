//! Certificates made by the real `openssl` CLI are judged by `cert inspect`, and what edgeprep
//! generates is checked by openssl. Each test builds its own PKI in a temporary directory.
//! Without the openssl CLI (cfg `has_openssl` from build.rs) they are ignored with the reason.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use edgeprep::certs::generate::{GenerateOptions, generate_chain};
use edgeprep::cli::{CertCsrArgs, CertGenerateArgs, CertInspectArgs, KeyType};
use edgeprep::commands::cert;
use time::OffsetDateTime;

/// One openssl config for req (which needs a [req] section) and for x509/ca `-extfile`.
const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
[dn]
[v3_root]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, cRLSign, keyCertSign
[v3_edge]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, digitalSignature, keyCertSign
[v3_leaf]
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
[ca]
default_ca = ca_default
[ca_default]
database = index.txt
new_certs_dir = .
serial = serial.txt
default_md = sha256
policy = policy_any
unique_subject = no
[policy_any]
commonName = supplied
";

struct Pki {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Pki {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("openssl.cnf"), OPENSSL_CNF).unwrap();
        Pki { _tmp: tmp, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Run openssl in the PKI directory; panics with its stderr when it fails.
    fn openssl(&self, args: &[&str]) -> String {
        let output =
            Command::new("openssl").args(args).current_dir(&self.dir).output().expect("openssl is installed");
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    }

    /// A key: "ec" (PKCS#8 P-256), "sec1" (EC PRIVATE KEY), "p384", "rsa" (PKCS#1, 2048),
    /// "rsa1024" (PKCS#1).
    fn key(&self, name: &str, kind: &str) -> String {
        let file = format!("{name}.key");
        match kind {
            "ec" => self.openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &file,
            ]),
            "p384" => self.openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-out",
                &file,
            ]),
            "sec1" => self.openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &file]),
            "rsa" => self.openssl(&["genrsa", "-traditional", "-out", &file, "2048"]),
            "rsa1024" => self.openssl(&["genrsa", "-traditional", "-out", &file, "1024"]),
            other => panic!("unknown key kind {other}"),
        };
        file
    }

    /// A self-signed root with its own key of `kind`.
    fn root(&self, name: &str, kind: &str) {
        let key = self.key(name, kind);
        self.openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            &key,
            "-subj",
            &format!("/CN={name}"),
            "-days",
            "3650",
            "-config",
            "openssl.cnf",
            "-extensions",
            "v3_root",
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    fn csr(&self, name: &str, key: &str) -> String {
        let csr = format!("{name}.csr");
        self.openssl(&[
            "req",
            "-new",
            "-key",
            key,
            "-subj",
            &format!("/CN={name}"),
            "-config",
            "openssl.cnf",
            "-out",
            &csr,
        ]);
        csr
    }

    /// `name.pem` for `key`, signed by `issuer` with the extension `section`, valid `days`.
    fn issue(&self, name: &str, key: &str, issuer: &str, section: &str, days: u32) {
        let csr = self.csr(name, key);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}.key"),
            "-CAcreateserial",
            "-days",
            &days.to_string(),
            "-sha256",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            section,
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    /// Like `issue`, but with explicit dates through `openssl ca` (x509 -req cannot backdate).
    fn issue_dated(&self, name: &str, key: &str, issuer: &str, start: &str, end: &str) {
        let csr = self.csr(name, key);
        std::fs::write(self.path("index.txt"), "").unwrap();
        std::fs::write(self.path("serial.txt"), "1000\n").unwrap();
        self.openssl(&[
            "ca",
            "-batch",
            "-config",
            "openssl.cnf",
            "-cert",
            &format!("{issuer}.pem"),
            "-keyfile",
            &format!("{issuer}.key"),
            "-in",
            &csr,
            "-startdate",
            start,
            "-enddate",
            end,
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "v3_edge",
            "-notext",
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    /// Concatenate PEM files into `name`.
    fn cat(&self, name: &str, parts: &[&str]) -> PathBuf {
        let text: String = parts.iter().map(|p| std::fs::read_to_string(self.path(p)).unwrap()).collect();
        std::fs::write(self.path(name), text).unwrap();
        self.path(name)
    }

    /// Run `cert inspect --json` on `file` with `key`; the exit code and the JSON report.
    fn inspect(&self, file: &str, key: Option<&str>) -> (i32, serde_json::Value) {
        let args = CertInspectArgs {
            file: self.path(file),
            key: key.map(|k| self.path(k)),
            warn_days: 30,
            hostname: Some("line-3".to_string()),
            device_id: Some("line-3-device".to_string()),
            json: true,
        };
        let mut out = Vec::new();
        let code = cert::inspect(&args, &mut out).unwrap();
        (code, serde_json::from_slice(&out).unwrap())
    }
}

fn messages(report: &serde_json::Value, severity: &str) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["severity"] == severity)
        .map(|p| format!("{} | fix: {}", p["message"].as_str().unwrap(), p["fix"].as_str().unwrap()))
        .collect()
}

fn has(report: &serde_json::Value, severity: &str, needle: &str) -> bool {
    messages(report, severity).iter().any(|m| m.contains(needle))
}

/// A root (`root`) and an Edge CA (`edge`, key `edge.key`) with a full chain `chain.pem`.
fn standard_chain(kind: &str) -> Pki {
    let pki = Pki::new();
    pki.root("root", kind);
    let key = pki.key("edge", kind);
    pki.issue("edge", &key, "root", "v3_edge", 365);
    pki.cat("chain.pem", &["edge.pem", "root.pem"]);
    pki
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn openssl_ec_chain_with_pkcs8_key_is_usable_without_warnings() {
    let pki = standard_chain("ec");
    let (code, report) = pki.inspect("chain.pem", Some("edge.key"));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(report["key_matches"], true);
    assert_eq!(report["certificates"][0]["key"]["curve"], "P-256");
    assert_eq!(report["chain"][0]["signature_valid"], true);
    assert_eq!(report["chain"][1]["signature_valid"], true, "root verifies against itself");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn openssl_rsa_chain_with_pkcs1_key_is_usable() {
    let pki = standard_chain("rsa");
    let (code, report) = pki.inspect("chain.pem", Some("edge.key"));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["key_matches"], true);
    assert_eq!(report["certificates"][0]["key"]["bits"], 2048);
    // The fingerprint is openssl's.
    let fp = pki.openssl(&["x509", "-in", "edge.pem", "-noout", "-fingerprint", "-sha256"]);
    let ours = report["certificates"][0]["sha256_fingerprint"].as_str().unwrap();
    assert!(fp.contains(ours), "{fp} vs {ours}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn openssl_sec1_ec_key_is_matched() {
    let pki = Pki::new();
    pki.root("root", "ec");
    let key = pki.key("edge", "sec1");
    assert!(std::fs::read_to_string(pki.path(&key)).unwrap().contains("BEGIN EC PRIVATE KEY"));
    pki.issue("edge", &key, "root", "v3_edge", 365);
    pki.cat("chain.pem", &["edge.pem", "root.pem"]);
    let (code, report) = pki.inspect("chain.pem", Some("edge.key"));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["key_matches"], true);
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn der_certificate_is_read() {
    let pki = standard_chain("ec");
    pki.openssl(&["x509", "-in", "edge.pem", "-outform", "DER", "-out", "edge.der"]);
    let (code, report) = pki.inspect("edge.der", Some("edge.key"));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["certificates"].as_array().unwrap().len(), 1);
    assert_eq!(report["key_matches"], true);
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn expired_edge_ca_is_an_error() {
    let pki = Pki::new();
    pki.root("root", "ec");
    let key = pki.key("edge", "ec");
    pki.issue_dated("edge", &key, "root", "20200101000000Z", "20210101000000Z");
    let (code, report) = pki.inspect("edge.pem", Some("edge.key"));
    assert_eq!(code, 1);
    assert!(has(&report, "error", "expired on 2021-01-01"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn not_yet_valid_edge_ca_is_an_error() {
    let pki = Pki::new();
    pki.root("root", "ec");
    let key = pki.key("edge", "ec");
    pki.issue_dated("edge", &key, "root", "20400101000000Z", "20410101000000Z");
    let (code, report) = pki.inspect("edge.pem", None);
    assert_eq!(code, 1);
    assert!(has(&report, "error", "not valid until 2040-01-01"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn edge_ca_expiring_within_warn_days_is_a_warning() {
    let pki = Pki::new();
    pki.root("root", "ec");
    let key = pki.key("edge", "ec");
    pki.issue("edge", &key, "root", "v3_edge", 10);
    let (code, report) = pki.inspect("edge.pem", None);
    assert_eq!(code, 0);
    assert!(has(&report, "warning", "expires in 9 days"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn leaf_certificate_is_not_a_ca() {
    let pki = Pki::new();
    pki.root("root", "ec");
    let key = pki.key("leaf", "ec");
    pki.issue("leaf", &key, "root", "v3_leaf", 365);
    let (code, report) = pki.inspect("leaf.pem", Some("leaf.key"));
    assert_eq!(code, 1);
    assert!(has(&report, "error", "not a CA"), "{report:#}");
    assert!(has(&report, "error", "keyCertSign"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn wrong_key_does_not_match() {
    let pki = standard_chain("ec");
    let other = pki.key("other", "ec");
    let (code, report) = pki.inspect("chain.pem", Some(&other));
    assert_eq!(code, 1);
    assert_eq!(report["key_matches"], false);
    assert!(has(&report, "error", "does not belong"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn rsa_key_does_not_match_ec_certificate() {
    let pki = standard_chain("ec");
    let other = pki.key("other", "rsa");
    let (code, report) = pki.inspect("chain.pem", Some(&other));
    assert_eq!(code, 1);
    assert_eq!(report["key_matches"], false);
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn chain_with_root_first_is_out_of_order() {
    let pki = standard_chain("ec");
    pki.cat("reversed.pem", &["root.pem", "edge.pem"]);
    let (code, report) = pki.inspect("reversed.pem", None);
    assert_eq!(code, 1);
    assert!(has(&report, "error", "out of order"), "{report:#}");
    assert!(has(&report, "warning", "self-signed"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn issuer_with_same_name_but_other_key_fails_signature_check() {
    let pki = standard_chain("ec");
    // A second root called "root" with a different key.
    let impostor = Pki::new();
    impostor.root("root", "ec");
    std::fs::copy(impostor.path("root.pem"), pki.path("root2.pem")).unwrap();
    pki.cat("mixed.pem", &["edge.pem", "root2.pem"]);
    let (code, report) = pki.inspect("mixed.pem", None);
    assert_eq!(code, 1);
    assert_eq!(report["chain"][0]["names_match"], true);
    assert_eq!(report["chain"][0]["signature_valid"], false);
    assert!(has(&report, "error", "signature of certificate 1 does not verify"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn encrypted_pkcs8_key_is_an_error_with_the_decrypt_command() {
    let pki = standard_chain("ec");
    pki.openssl(&["pkey", "-in", "edge.key", "-aes256", "-passout", "pass:x", "-out", "enc.key"]);
    assert!(std::fs::read_to_string(pki.path("enc.key")).unwrap().contains("ENCRYPTED PRIVATE KEY"));
    let (code, report) = pki.inspect("chain.pem", Some("enc.key"));
    assert_eq!(code, 1);
    assert!(has(&report, "error", "unencrypted"), "{report:#}");
    assert!(has(&report, "error", "openssl pkey -in"), "{report:#}");
    assert!(has(&report, "error", "-out edge-ca.key.pem"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn encrypted_genpkey_and_legacy_keys_are_errors() {
    let pki = standard_chain("ec");
    pki.openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-aes256",
        "-pass",
        "pass:x",
        "-out",
        "gen-enc.key",
    ]);
    let (code, report) = pki.inspect("chain.pem", Some("gen-enc.key"));
    assert_eq!(code, 1);
    assert!(has(&report, "error", "encrypted"), "{report:#}");

    let sec1 = pki.key("legacy", "sec1");
    pki.openssl(&["ec", "-in", &sec1, "-aes256", "-passout", "pass:x", "-out", "legacy-enc.key"]);
    assert!(std::fs::read_to_string(pki.path("legacy-enc.key")).unwrap().contains("Proc-Type: 4,ENCRYPTED"));
    let (code, report) = pki.inspect("chain.pem", Some("legacy-enc.key"));
    assert_eq!(code, 1);
    assert!(has(&report, "error", "encrypted"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn p384_edge_ca_key_is_unusable_by_keyd() {
    let pki = Pki::new();
    pki.root("root", "ec");
    let key = pki.key("edge", "p384");
    pki.issue("edge", &key, "root", "v3_edge", 365);
    let (code, report) = pki.inspect("edge.pem", Some(&key));
    assert_eq!(code, 1);
    assert_eq!(report["key_matches"], true);
    assert!(has(&report, "error", "P-256"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn rsa_1024_edge_ca_key_is_too_small() {
    let pki = Pki::new();
    pki.root("root", "rsa");
    let key = pki.key("edge", "rsa1024");
    pki.issue("edge", &key, "root", "v3_edge", 365);
    let (code, report) = pki.inspect("edge.pem", Some(&key));
    assert_eq!(code, 1);
    assert_eq!(report["key_matches"], true);
    assert!(has(&report, "error", "RSA 1024 bits"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn self_signed_ca_without_pathlen_is_usable_with_warnings() {
    let pki = Pki::new();
    pki.root("root", "ec");
    let (code, report) = pki.inspect("root.pem", Some("root.key"));
    assert_eq!(code, 0, "{report:#}");
    assert!(has(&report, "warning", "self-signed"), "{report:#}");
    assert!(has(&report, "warning", "no path length limit"), "{report:#}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn edge_ca_named_like_the_hostname_is_an_error() {
    let pki = Pki::new();
    pki.root("root", "ec");
    let key = pki.key("LINE-3", "ec");
    pki.issue("LINE-3", &key, "root", "v3_edge", 365);
    let (code, report) = pki.inspect("LINE-3.pem", None);
    assert_eq!(code, 1);
    assert!(has(&report, "error", "equals the device hostname"), "{report:#}");
}

// ---- what edgeprep generates, checked by openssl ----

fn generated(dir: &Path, key_type: KeyType) {
    let args = CertGenerateArgs {
        out: dir.to_path_buf(),
        common_name: "line-3 Edge CA".to_string(),
        days: 365,
        key_type,
        force: false,
    };
    assert_eq!(cert::generate(&args, &mut Vec::new()).unwrap(), 0);
}

fn check_generated_with_openssl(key_type: KeyType) {
    let pki = Pki::new();
    generated(&pki.dir, key_type);
    // The Edge CA alone (first block of the chain file) verifies against the root.
    let chain =
        edgeprep::certs::pem::parse_blocks(&std::fs::read_to_string(pki.path("edge-ca.pem")).unwrap())
            .unwrap();
    assert_eq!(chain.len(), 2);
    pki.openssl(&["x509", "-in", "edge-ca.pem", "-out", "edge-only.pem"]);
    let verify = pki.openssl(&["verify", "-CAfile", "root-ca.pem", "edge-only.pem"]);
    assert!(verify.contains("edge-only.pem: OK"), "{verify}");
    let text = pki.openssl(&["x509", "-in", "edge-only.pem", "-noout", "-text"]);
    assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
    assert!(text.contains("Digital Signature, Certificate Sign"), "{text}");
    assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(text.contains("X509v3 Basic Constraints: critical"), "{text}");
    assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
    let root = pki.openssl(&["x509", "-in", "root-ca.pem", "-noout", "-text"]);
    assert!(root.contains("Certificate Sign, CRL Sign"), "{root}");
    // openssl reads the keys and they match the certificates.
    for (cert_file, key_file) in [("edge-only.pem", "edge-ca.key.pem"), ("root-ca.pem", "root-ca.key.pem")] {
        let from_cert = pki.openssl(&["x509", "-in", cert_file, "-noout", "-pubkey"]);
        let from_key = pki.openssl(&["pkey", "-in", key_file, "-pubout"]);
        assert_eq!(from_cert, from_key, "{key_file}");
        let mode = std::fs::metadata(pki.path(key_file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key_file}");
    }
    let (code, report) = pki.inspect("edge-ca.pem", Some("edge-ca.key.pem"));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["problems"], serde_json::json!([]));
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn generated_ec_chain_verifies_with_openssl() {
    check_generated_with_openssl(KeyType::EcP256);
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn generated_rsa_2048_chain_verifies_with_openssl() {
    check_generated_with_openssl(KeyType::Rsa2048);
    let pki = Pki::new();
    generated(&pki.dir, KeyType::Rsa2048);
    let text = pki.openssl(&["pkey", "-in", "edge-ca.key.pem", "-noout", "-text"]);
    assert!(text.contains("(2048 bit"), "{text}");
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn generated_rsa_4096_chain_verifies_with_openssl() {
    check_generated_with_openssl(KeyType::Rsa4096);
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn generate_chain_days_are_what_openssl_sees() {
    let chain = generate_chain(&GenerateOptions {
        common_name: "x".to_string(),
        days: 30,
        key_type: KeyType::EcP256,
        now: OffsetDateTime::now_utc(),
    })
    .unwrap();
    let pki = Pki::new();
    std::fs::write(pki.path("e.pem"), &chain.edge_cert_pem).unwrap();
    std::fs::write(pki.path("r.pem"), &chain.root_cert_pem).unwrap();
    pki.openssl(&["x509", "-in", "e.pem", "-noout", "-checkend", &(29 * 86400).to_string()]);
    pki.openssl(&["x509", "-in", "r.pem", "-noout", "-checkend", &(59 * 86400).to_string()]);
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn csr_verifies_with_openssl_and_requests_edge_ca_extensions() {
    let pki = Pki::new();
    let args = CertCsrArgs {
        common_name: "line-3 Edge CA".to_string(),
        out: pki.dir.clone(),
        key_type: KeyType::EcP256,
        force: false,
    };
    assert_eq!(cert::csr(&args, &mut Vec::new()).unwrap(), 0);
    let text = pki.openssl(&["req", "-verify", "-noout", "-text", "-in", "edge-ca.csr.pem"]);
    assert!(text.contains("verify OK"), "{text}");
    assert!(text.contains("CN = line-3 Edge CA"), "{text}");
    assert!(text.contains("CA:TRUE, pathlen:0"), "{text}");
    assert!(text.contains("Digital Signature, Certificate Sign"), "{text}");
    let mode = std::fs::metadata(pki.path("edge-ca.key.pem")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // A CA that copies the requested extensions issues an Edge CA that inspect accepts.
    pki.root("root", "ec");
    pki.openssl(&[
        "x509",
        "-req",
        "-in",
        "edge-ca.csr.pem",
        "-CA",
        "root.pem",
        "-CAkey",
        "root.key",
        "-CAcreateserial",
        "-days",
        "365",
        "-copy_extensions",
        "copyall",
        "-out",
        "issued.pem",
    ]);
    pki.cat("issued-chain.pem", &["issued.pem", "root.pem"]);
    let (code, report) = pki.inspect("issued-chain.pem", Some("edge-ca.key.pem"));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["key_matches"], true);
}

#[test]
#[cfg_attr(not(has_openssl), ignore = "needs the openssl CLI (apt-get install openssl); .ci/run installs it")]
fn rsa_csr_verifies_with_openssl() {
    let pki = Pki::new();
    let args = CertCsrArgs {
        common_name: "line-3 Edge CA".to_string(),
        out: pki.dir.clone(),
        key_type: KeyType::Rsa2048,
        force: false,
    };
    assert_eq!(cert::csr(&args, &mut Vec::new()).unwrap(), 0);
    let text = pki.openssl(&["req", "-verify", "-noout", "-text", "-in", "edge-ca.csr.pem"]);
    assert!(text.contains("verify OK") && text.contains("2048 bit"), "{text}");
}
