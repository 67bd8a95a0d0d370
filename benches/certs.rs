//! Benchmarks of certificate work: key generation and whole-chain creation per key type, and
//! inspecting a chain. Run with `cargo bench --bench certs`; prints min / median / max.

mod support;

use std::hint::black_box;

use edgeprep::certs::generate::{GenerateOptions, generate_chain, generate_key};
use edgeprep::certs::inspect::{InspectOptions, inspect_bytes};
use edgeprep::cli::KeyType;

fn main() {
    let now = time::OffsetDateTime::now_utc();
    for (key_type, runs) in [(KeyType::EcP256, 200), (KeyType::Rsa2048, 10), (KeyType::Rsa4096, 3)] {
        support::report(&format!("generate key {key_type:?}"), runs, || {
            black_box(generate_key(key_type).is_ok());
        });
        support::report(&format!("generate root + Edge CA {key_type:?}"), runs.min(50), || {
            let opts = GenerateOptions { common_name: "bench edge ca".into(), days: 365, key_type, now };
            black_box(generate_chain(&opts).is_ok());
        });
    }
    let opts =
        GenerateOptions { common_name: "bench edge ca".into(), days: 365, key_type: KeyType::EcP256, now };
    let Ok(chain) = generate_chain(&opts) else {
        eprintln!("chain generation failed");
        std::process::exit(1);
    };
    let inspect = InspectOptions { now, warn_days: 30, hostname: Some("edge-01".into()), device_id: None };
    support::report("inspect EC chain + key", 500, || {
        black_box(
            inspect_bytes(
                chain.edge_chain_pem.as_bytes(),
                "chain",
                Some((chain.edge_key_pem.as_bytes(), "key")),
                &inspect,
            )
            .is_ok(),
        );
    });
}
