//! The wizard's steps for edgeAgent's host storage and elevated Docker permissions, and the
//! proxy step's protocol warning, drawn at 80x24 on ratatui's TestBackend.

use edgeprep::answers::parse_answers;
use edgeprep::certs::status::{EdgeCaKind, EdgeCaStatus};
use edgeprep::checks::probe::Probe;
use edgeprep::device::DeviceState;
use edgeprep::wizard::facts::Facts;
use edgeprep::wizard::questions::{Path, SECTIONS};
use edgeprep::wizard::tui::model::{Model, Screen};
use edgeprep::wizard::tui::view::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const CONFIG: &str = include_str!("../assets/demo/etc/aziot/config.toml");
const DAEMON: &str = include_str!("../assets/demo/etc/docker/daemon.json");
const ANSWERS: &str = include_str!("../assets/demo/answers.toml");

fn model(answers: Option<&str>) -> Model {
    let state = DeviceState::default()
        .with_file("/etc/aziot/config.toml", CONFIG)
        .with_file("/etc/docker/daemon.json", DAEMON);
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
    let gathered = edgeprep::checks::Facts::new(state, Probe::default(), time::OffsetDateTime::UNIX_EPOCH);
    let facts = Facts::judged(&gathered, Some(&quickstart), "edge-demo-01");
    let answers = answers.map(|text| parse_answers(text, "answers.toml").unwrap());
    let mut model = Model::new(facts, answers.as_ref());
    model.path = Path::Production;
    model
}

fn on_step(model: &mut Model, key: &str) {
    model.screen = Screen::Step(SECTIONS.iter().position(|s| s.key == key).unwrap());
    model.focus = 0;
}

fn screen(model: &Model) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|frame| draw(frame, model)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn agent_storage_starts_set_to_the_default_directory_80x24() {
    let mut model = model(None);
    on_step(&mut model, "agent.host_storage");
    let text = screen(&model);
    assert!(text.contains("< set these values >") && text.contains("/var/lib/edgeprep/edge-agent"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn privileges_start_set_to_false_80x24() {
    let mut model = model(None);
    on_step(&mut model, "allow_elevated_docker_permissions");
    let text = screen(&model);
    assert!(text.contains("< set these values >") && text.contains("< false >"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn a_bad_host_directory_is_shown_under_the_field_80x24() {
    let mut model = model(None);
    model.draft.set_value("agent.host_storage", "/tmp/agent");
    on_step(&mut model, "agent.host_storage");
    let text = screen(&model);
    assert!(text.contains("x [agent] host_storage = \"/tmp/agent\": lies under /tmp"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn the_proxy_step_warns_when_the_protocol_cannot_pass_the_proxy_80x24() {
    // The demo answers set a proxy; the technician picks plain AMQP in the upstream step.
    let mut model = model(Some(ANSWERS));
    model.draft.set_value("upstream.protocol", "Amqp");
    on_step(&mut model, "proxy");
    let text = screen(&model);
    assert!(text.contains("! [upstream] protocol = \"Amqp\": a proxy carries only"), "{text}");
    insta::assert_snapshot!(text);
    // With the WebSocket form, no warning.
    model.draft.set_value("upstream.protocol", "AmqpWs");
    assert!(!screen(&model).contains("a proxy carries only"));
}
