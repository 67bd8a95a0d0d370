//! Benchmarks of the pipeline on IoT Edge's real template (or, on a bare clone, our fixture in
//! its shape): building a plan, and applying it to a temporary root (backup, atomic writes, audit log; commands only listed).
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

/// The template has no `[provisioning]` and neither do the demo answers (the demo device's
/// config.toml has one): without it the plan is refused, and the benchmark would time the
/// refusal.
const PROVISIONING: &str = "\n[provisioning]\nsource = \"manual\"\nconnection_string = \"HostName=hub.azure-devices.net;DeviceId=bench;SharedAccessKey=YmVuY2g=\"\n";

fn main() {
    let (template, template_name) = template();
    let answers = match parse_answers(&format!("{ANSWERS}{PROVISIONING}"), "demo answers") {
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
    // Once outside the timing, so a failing plan stops the benchmark instead of being timed.
    if let Err(e) = build_plan(&state, &answers, &inputs) {
        eprintln!("the plan fails on {template_name}: {e:#}");
        std::process::exit(1);
    }
    support::report(&format!("plan ({template_name} + demo answers)"), 200, || {
        black_box(
            build_plan(black_box(&state), black_box(&answers), &inputs).map(|p| p.files.len()).unwrap_or(0),
        );
    });

    if let Err(e) = apply_once(&template, &answers, &inputs) {
        eprintln!("apply fails on {template_name}: {e:#}");
        std::process::exit(1);
    }
    support::report("apply (backup, 5 atomic writes, audit line)", 50, || {
        black_box(apply_once(&template, &answers, &inputs).is_ok());
    });
}

/// Read the device, plan and apply (commands only listed) on a fresh temporary root.
fn apply_once(template: &str, answers: &edgeprep::answers::Answers, inputs: &Inputs) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = DeviceRoot::new(dir.path());
    std::fs::create_dir_all(root.path("/etc/aziot"))?;
    std::fs::create_dir_all(root.path("/etc/docker"))?;
    std::fs::write(root.path("/etc/aziot/config.toml"), template)?;
    let state = DeviceState::read(&root)?;
    let plan = build_plan(&state, answers, inputs)?;
    let mut runner = ListingRunner::default();
    apply(&plan, &root, &mut runner, &Actor { user: "bench".into() })?;
    Ok(())
}

/// IoT Edge's real template when the shared fixtures sit beside the checkout, else our own
/// fixture in its shape, so `cargo bench` works on a bare clone.
fn template() -> (String, &'static str) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let upstream =
        manifest.join("../shared/fixtures/iotedge-1.4.43/edgelet__contrib__config__linux__template.toml");
    if let Ok(text) = std::fs::read_to_string(&upstream) {
        return (text, "IoT Edge's template");
    }
    let own = manifest.join("tests/fixtures/config-template.toml");
    match std::fs::read_to_string(&own) {
        Ok(text) => (text, "our template fixture"),
        Err(e) => {
            eprintln!("neither {} nor {} is readable ({e})", upstream.display(), own.display());
            std::process::exit(1);
        }
    }
}
