//! Benchmark of `edgeprep check` on the demo device (target: under 50 ms without --network):
//! gathering the facts from a root on disk, running every check, rendering the text report;
//! and the whole binary, process start included.
//!
//! Run with `cargo bench --bench check`.

mod support;

use std::hint::black_box;

use edgeprep::checks::{Facts, Selection, render, run};
use edgeprep::root::DeviceRoot;

fn main() {
    let Ok(dir) = tempfile::tempdir() else {
        eprintln!("cannot create a temporary directory");
        std::process::exit(1);
    };
    if let Err(e) = edgeprep::demo::write_tree(dir.path()) {
        eprintln!("writing the demo device: {e:#}");
        std::process::exit(1);
    }
    let root = DeviceRoot::new(dir.path());
    let now = time::OffsetDateTime::now_utc();

    support::report("check: gather facts (demo root)", 200, || {
        black_box(Facts::gather(&root, false, now).is_ok());
    });
    let Ok(facts) = Facts::gather(&root, false, now) else {
        eprintln!("gathering the demo facts failed");
        std::process::exit(1);
    };
    support::report("check: run every check + render text", 200, || {
        let report = run(black_box(&facts), &Selection::default());
        black_box(render::render_text(&report, false).len());
    });
    support::report("check: gather + run + render", 200, || {
        let Ok(facts) = Facts::gather(&root, false, now) else { return };
        let report = run(&facts, &Selection::default());
        black_box(render::render_text(&report, false).len());
    });

    let binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/edgeprep");
    if binary.exists() {
        support::report("edgeprep --demo check (release binary)", 30, || {
            let _ = black_box(std::process::Command::new(&binary).args(["--demo", "check"]).output());
        });
    } else {
        eprintln!("(build the release binary to time the whole command: cargo build --release)");
    }
}
