//! The `--key-type` spellings the README documents are the ones the binary accepts.

use std::path::Path;

use clap::Parser;
use edgeprep::cli::{CertCommand, Cli, Command, KeyType};

/// The values listed after `--key-type` in README.md, e.g. `[--key-type a|b|c]`.
fn readme_key_types() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let at = readme.find("--key-type ").expect("README documents --key-type");
    let rest = &readme[at + "--key-type ".len()..];
    let end = rest.find([']', ' ', '\n']).unwrap();
    rest[..end].split('|').map(str::to_string).collect()
}

/// The key type `args` ask `cert generate` or `cert csr` for.
fn parse_key_type(args: &[&str]) -> Result<KeyType, clap::Error> {
    match Cli::try_parse_from(args)?.command {
        Some(Command::Cert(CertCommand::Generate(generate))) => Ok(generate.key_type),
        Some(Command::Cert(CertCommand::Csr(csr))) => Ok(csr.key_type),
        other => panic!("{args:?} parsed as {other:?}"),
    }
}

#[test]
fn every_readme_key_type_is_accepted_by_generate_and_csr() {
    let documented = readme_key_types();
    assert_eq!(documented, ["ec-p256", "rsa-2048", "rsa-4096"]);
    for (spelling, expected) in documented.iter().zip([KeyType::EcP256, KeyType::Rsa2048, KeyType::Rsa4096]) {
        let generate = ["edgeprep", "cert", "generate", "--out", "d", "--key-type", spelling];
        assert_eq!(parse_key_type(&generate).unwrap(), expected, "{spelling}");
        let csr = ["edgeprep", "cert", "csr", "--common-name", "x", "--out", "d", "--key-type", spelling];
        assert_eq!(parse_key_type(&csr).unwrap(), expected, "{spelling}");
    }
}

#[test]
fn the_hyphenless_spellings_stay_accepted() {
    for (spelling, expected) in [("rsa2048", KeyType::Rsa2048), ("rsa4096", KeyType::Rsa4096)] {
        let args = ["edgeprep", "cert", "generate", "--out", "d", "--key-type", spelling];
        assert_eq!(parse_key_type(&args).unwrap(), expected);
    }
    assert!(
        parse_key_type(&["edgeprep", "cert", "generate", "--out", "d", "--key-type", "rsa-1024"]).is_err()
    );
}

#[test]
fn the_memory_benchmark_uses_a_spelling_the_binary_accepts() {
    let script =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/memory.sh")).unwrap();
    for line in script.lines().filter(|l| l.contains("--key-type ")) {
        let spelling = line.split("--key-type ").nth(1).unwrap().split_whitespace().next().unwrap();
        let args = ["edgeprep", "cert", "generate", "--out", "d", "--key-type", spelling];
        assert!(parse_key_type(&args).is_ok(), "benches/memory.sh uses --key-type {spelling}");
    }
}
