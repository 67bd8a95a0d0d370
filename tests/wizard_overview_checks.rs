//! The wizard's Overview and `edgeprep check` judge the same device the same way: one engine,
//! the same symbols, titles and statuses.

use assert_cmd::Command;
use edgeprep::checks::{Facts as Gathered, Status};
use edgeprep::root::DeviceRoot;
use edgeprep::wizard::facts::{Facts, symbol};
use edgeprep::wizard::tui::model::Model;
use edgeprep::wizard::tui::view::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn status_of(word: &str) -> Status {
    match word {
        "ok" => Status::Ok,
        "warning" => Status::Warning,
        "error" => Status::Error,
        "skipped" => Status::Skipped,
        "info" => Status::Info,
        other => panic!("unknown status {other}"),
    }
}

#[test]
fn overview_shows_the_same_status_as_check_json_for_the_demo_device() {
    let dir = tempfile::tempdir().unwrap();
    edgeprep::demo::write_tree(dir.path()).unwrap();
    let output = Command::cargo_bin("edgeprep")
        .unwrap()
        .env("PATH", "")
        .arg("--root")
        .arg(dir.path())
        .args(["check", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let from_check: Vec<(String, Status, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                status_of(r["status"].as_str().unwrap()),
                r["title"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(_, status, _)| !matches!(status, Status::Skipped | Status::Info))
        .collect();
    assert!(from_check.iter().any(|(_, s, _)| *s == Status::Error), "the demo has findings: {from_check:?}");

    // What the wizard gathers at start on the same device (never live off the real root).
    let gathered =
        Gathered::gather(&DeviceRoot::new(dir.path()), false, time::OffsetDateTime::now_utc()).unwrap();
    let facts = Facts::judged(&gathered, None, "edge-demo-01");
    let in_wizard: Vec<(String, Status, String)> =
        facts.checklist().map(|c| (c.id.to_string(), c.status, c.title.to_string())).collect();
    assert_eq!(in_wizard, from_check);

    let model = Model::new(facts, None);
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal.draw(|frame| draw(frame, &model)).unwrap();
    let screen = terminal.backend().to_string();
    for (id, status, title) in &from_check {
        let shown = format!("{} {}", symbol(*status), title.chars().take(45).collect::<String>());
        assert!(screen.contains(&shown), "{id}: {shown:?} not on the Overview:\n{screen}");
    }
}
