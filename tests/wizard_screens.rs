//! Every wizard screen drawn on ratatui's TestBackend, no terminal: 80x24 for each, and the
//! Overview and Review also at 120x40 and in monochrome (NO_COLOR).

use edgeprep::answers::parse_answers;
use edgeprep::certs::status::{EdgeCaKind, EdgeCaStatus};
use edgeprep::checks::probe::Probe;
use edgeprep::device::DeviceState;
use edgeprep::plan::{Inputs, build_plan};
use edgeprep::wizard::effects::{outcome, review_text};
use edgeprep::wizard::facts::Facts;
use edgeprep::wizard::questions::SECTIONS;
use edgeprep::wizard::tui::message::Msg;
use edgeprep::wizard::tui::model::{Model, Screen};
use edgeprep::wizard::tui::update::update;
use edgeprep::wizard::tui::view::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const CONFIG: &str = include_str!("../assets/demo/etc/aziot/config.toml");
const DAEMON: &str = include_str!("../assets/demo/etc/docker/daemon.json");
const ANSWERS: &str = include_str!("../assets/demo/answers.toml");

fn demo_state() -> DeviceState {
    DeviceState::default()
        .with_file("/etc/aziot/config.toml", CONFIG)
        .with_file("/etc/docker/daemon.json", DAEMON)
}

fn demo_model(with_answers: bool) -> Model {
    let quickstart = EdgeCaStatus {
        kind: EdgeCaKind::Quickstart,
        cert: None,
        subject: None,
        not_after: None,
        days_left: None,
        rotation_due: false,
        exit_code: 3,
        message: "quickstart".into(),
    };
    let gathered =
        edgeprep::checks::Facts::new(demo_state(), Probe::default(), time::OffsetDateTime::UNIX_EPOCH);
    let facts = Facts::judged(&gathered, Some(&quickstart), "edge-demo-01");
    let answers = parse_answers(ANSWERS, "answers.toml").unwrap();
    Model::new(facts, with_answers.then_some(&answers))
}

fn terminal(model: &Model, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, model)).unwrap();
    terminal
}

fn screen(model: &Model, width: u16, height: u16) -> String {
    terminal(model, width, height).backend().to_string()
}

/// The demo answers planned on the demo device, on the Review screen.
fn review_model() -> Model {
    let mut model = demo_model(true);
    let answers = parse_answers(ANSWERS, "answers.toml").unwrap();
    let plan = build_plan(&demo_state(), &answers, &Inputs::at(time::OffsetDateTime::UNIX_EPOCH)).unwrap();
    model.screen = Screen::Review;
    update(&mut model, Msg::Planned(Ok(review_text(&plan))));
    model
}

fn assert_no_colour(terminal: &Terminal<TestBackend>) {
    for cell in terminal.backend().buffer().content() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "coloured cell {:?}", cell.symbol());
    }
}

#[test]
fn overview_80x24() {
    insta::assert_snapshot!(screen(&demo_model(true), 80, 24));
}

#[test]
fn overview_120x40() {
    insta::assert_snapshot!(screen(&demo_model(false), 120, 40));
}

#[test]
fn overview_monochrome_keeps_the_selection_visible_without_colour() {
    let mut model = demo_model(false);
    model.mono = true;
    let terminal = terminal(&model, 80, 24);
    assert_no_colour(&terminal);
    let selected = terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .filter(|c| c.modifier.contains(ratatui::style::Modifier::REVERSED))
        .count();
    assert!(selected > 0, "the selected path is in reverse video");
    insta::assert_snapshot!(terminal.backend().to_string());
}

#[test]
fn every_step_80x24() {
    let mut model = demo_model(true);
    model.path = edgeprep::wizard::questions::Path::FirstBoot;
    for (i, section) in SECTIONS.iter().enumerate() {
        model.screen = Screen::Step(i);
        model.focus = 0;
        insta::assert_snapshot!(format!("step_{}", section.key), screen(&model, 80, 24));
    }
}

#[test]
fn a_step_with_an_error_shows_it_under_the_field() {
    let mut model = demo_model(true);
    model.screen = Screen::Step(SECTIONS.iter().position(|s| s.key == "image_garbage_collection").unwrap());
    model.draft.set_value("image_garbage_collection.cleanup_time", "25:00");
    let text = screen(&model, 80, 24);
    assert!(text.contains("x [image_garbage_collection] cleanup_time"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn secret_fields_never_echo() {
    let mut model = demo_model(true);
    model.screen = Screen::Step(SECTIONS.iter().position(|s| s.key == "agent").unwrap());
    let text = screen(&model, 120, 40);
    assert!(!text.contains("demo-registry-password"), "{text}");
    assert!(text.contains(&"*".repeat("demo-registry-password".len())), "{text}");
}

#[test]
fn review_80x24() {
    insta::assert_snapshot!(screen(&review_model(), 80, 24));
}

#[test]
fn review_120x40_scrolled() {
    let mut model = review_model();
    update(&mut model, Msg::PageDown);
    insta::assert_snapshot!(screen(&model, 120, 40));
}

#[test]
fn review_monochrome_and_masked() {
    let mut model = review_model();
    model.mono = true;
    update(&mut model, Msg::Accept);
    let terminal = terminal(&model, 120, 40);
    assert_no_colour(&terminal);
    let text = terminal.backend().to_string();
    assert!(text.contains("Apply these changes now?"), "{text}");
    assert!(!text.contains("demo-registry-password"));
    insta::assert_snapshot!(text);
}

#[test]
fn apply_shows_each_command_as_it_runs_80x24() {
    let mut model = review_model();
    model.screen = Screen::Apply;
    model.progress =
        vec!["done     systemctl daemon-reload".into(), "running  systemctl restart docker".into()];
    let text = screen(&model, 80, 24);
    assert!(text.contains("running  systemctl restart docker"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn done_gives_the_backup_rollback_and_save_80x24() {
    let mut model = review_model();
    let report = edgeprep::apply::ApplyReport {
        changed: true,
        files: vec!["/etc/aziot/config.toml".into()],
        commands: vec![],
        backup: Some("20260101T000000Z".into()),
        ..Default::default()
    };
    model.answers = Some(parse_answers(ANSWERS, "answers.toml").unwrap());
    update(&mut model, Msg::Applied(outcome(&Ok(report))));
    let text = screen(&model, 80, 24);
    assert!(text.contains("edgeprep rollback 20260101T000000Z"), "{text}");
    assert!(text.contains("Press s to save these answers"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn help_80x24() {
    let mut model = demo_model(true);
    model.screen = Screen::Step(1);
    update(&mut model, Msg::Help);
    insta::assert_snapshot!(screen(&model, 80, 24));
}

#[test]
fn quit_question_80x24() {
    let mut model = demo_model(true);
    model.touched = true;
    update(&mut model, Msg::Quit);
    let text = screen(&model, 80, 24);
    assert!(text.contains("Quit without applying?"), "{text}");
}

#[test]
fn too_small_says_which_size_it_needs() {
    let text = screen(&demo_model(true), 50, 12);
    assert!(text.contains("at least 64x20") && text.contains("50x12"), "{text}");
}

#[test]
fn importing_an_edge_ca_shows_the_live_verdict_under_the_certificate() {
    let dir = tempfile::tempdir().unwrap();
    assert_cmd::Command::cargo_bin("edgeprep")
        .unwrap()
        .args(["cert", "generate", "--common-name", "Plant Edge CA", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let cert = dir.path().join("edge-ca.pem").display().to_string();
    let key = dir.path().join("edge-ca.key.pem").display().to_string();
    let verdict = edgeprep::wizard::effects::cert_verdict(&cert, &key, Some("edge-demo-01"));
    assert!(verdict.starts_with("usable: Plant Edge CA") && verdict.ends_with("key matches"), "{verdict}");

    let mut model = demo_model(false);
    model.screen = Screen::Step(0);
    model.draft.set_value("edge_ca.generate", "import files");
    // Paths of the snapshot's own, so it does not depend on the temp dir.
    model.draft.set_value("edge_ca.cert", "/srv/pki/edge-ca.pem");
    model.draft.set_value("edge_ca.key", "/srv/pki/edge-ca.key.pem");
    let shown = verdict.replace(|c: char| c.is_ascii_digit(), "9");
    model.cert_verdict = Some(("/srv/pki/edge-ca.pem".into(), "/srv/pki/edge-ca.key.pem".into(), shown));
    insta::assert_snapshot!(screen(&model, 80, 24));
}

#[test]
fn resume_question_before_the_overview_80x24() {
    let mut earlier = edgeprep::wizard::draft::Draft::recommended();
    earlier.set_value("upstream.protocol", "MqttWs");
    let text = edgeprep::wizard::saved::to_text(
        &earlier,
        edgeprep::wizard::questions::Path::FirstBoot,
        &["edge_ca"],
    );
    let mut model = demo_model(false);
    model.resume = edgeprep::wizard::saved::from_text(&text, &model.draft);
    insta::assert_snapshot!(screen(&model, 80, 24));
}
