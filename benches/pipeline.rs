//! Benchmarks of the pipeline on IoT Edge's real template: building a plan, and applying it
//! to a temporary root (backup, atomic writes, audit log; commands only listed).
//!
//! Run with `cargo bench --bench pipeline`. Prints min / median / max per operation; no
//! thresholds here, targets are read off these figures.

mod support;

use std::hint::black_box;
use std::path::Path;

use edgeprep::answers::parse_answers;
use edgeprep::apply::{Actor, apply};
use edgeprep::device::DeviceState;
use edgeprep::plan::{Inputs, build_plan};
use edgeprep::root::DeviceRoot;
use edgeprep::runner::ListingRunner;

const ANSWERS: &str = include_str!("../assets/demo/answers.toml");

fn main() {
    let template_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/iotedge-1.4.43/edgelet__contrib__config__linux__template.toml");
    let template = match std::fs::read_to_string(&template_path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("skipping: {} not readable ({e})", template_path.display());
            return;
        }
    };
    let answers = match parse_answers(ANSWERS, "demo answers") {
        Ok(a) => a,
        Err(e) => {
            eprintln!("demo answers do not parse: {e:#}");
            std::process::exit(1);
        }
    };
    let state = DeviceState::default()
        .with_file("/etc/aziot/config.toml", template.clone())
        .with_file("/etc/docker/daemon.json", "{\n  \"storage-driver\": \"overlay2\"\n}\n");

    let inputs = Inputs::at(time::OffsetDateTime::now_utc());
    support::report("plan (template + demo answers)", 200, || {
        black_box(
            build_plan(black_box(&state), black_box(&answers), &inputs).map(|p| p.files.len()).unwrap_or(0),
        );
    });

    support::report("apply (backup, 5 atomic writes, audit line)", 50, || {
        let Ok(dir) = tempfile::tempdir() else { return };
        let root = DeviceRoot::new(dir.path());
        let _ = std::fs::create_dir_all(root.path("/etc/aziot"));
        let _ = std::fs::create_dir_all(root.path("/etc/docker"));
        let _ = std::fs::write(root.path("/etc/aziot/config.toml"), &template);
        let Ok(state) = DeviceState::read(&root) else { return };
        let Ok(plan) = build_plan(&state, &answers, &inputs) else { return };
        let mut runner = ListingRunner::default();
        black_box(apply(&plan, &root, &mut runner, &Actor { user: "bench".into() }).is_ok());
    });
}
