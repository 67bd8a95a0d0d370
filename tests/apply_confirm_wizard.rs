//! The wizard's "keep only if confirmed": offered on the apply question (off unless over SSH,
//! which the loop decides), Enter keeps and Ctrl-C reverts while the changes wait, and the
//! Apply screen shows the countdown with the device's health (80x24).

use edgeprep::answers::parse_answers;
use edgeprep::apply::ApplyReport;
use edgeprep::apply::confirm::{Concluded, Confirmation, HEALTH_UNITS, Health};
use edgeprep::certs::status::{EdgeCaKind, EdgeCaStatus};
use edgeprep::checks::probe::Probe;
use edgeprep::device::DeviceState;
use edgeprep::plan::{Inputs, build_plan};
use edgeprep::wizard::effects::{confirmed_outcome, review_text};
use edgeprep::wizard::facts::Facts;
use edgeprep::wizard::tui::message::Msg;
use edgeprep::wizard::tui::model::{Model, Screen, Waiting};
use edgeprep::wizard::tui::update::update;
use edgeprep::wizard::tui::view::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const CONFIG: &str = include_str!("../assets/demo/etc/aziot/config.toml");
const DAEMON: &str = include_str!("../assets/demo/etc/docker/daemon.json");
const ANSWERS: &str = include_str!("../assets/demo/answers.toml");

fn demo_state() -> DeviceState {
    DeviceState::default()
        .with_file("/etc/aziot/config.toml", CONFIG)
        .with_file("/etc/docker/daemon.json", DAEMON)
}

/// The demo answers planned on the demo device, on the Review screen.
fn review_model() -> Model {
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
    let mut model = Model::new(facts, Some(&answers));
    let plan = build_plan(&demo_state(), &answers, &Inputs::at(time::OffsetDateTime::UNIX_EPOCH)).unwrap();
    model.screen = Screen::Review;
    update(&mut model, Msg::Planned(Ok(review_text(&plan))));
    model
}

fn screen(model: &Model) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|frame| draw(frame, model)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn the_apply_question_offers_keep_only_if_confirmed_and_c_toggles_it() {
    let mut model = review_model();
    assert!(!model.keep_if_confirmed, "off unless the loop sees SSH_CONNECTION");
    update(&mut model, Msg::Accept);
    assert!(model.confirming);
    assert!(screen(&model).contains("[ ] keep them only if confirmed within 120 s"));
    assert_eq!(update(&mut model, Msg::Char('c')), None);
    assert!(model.keep_if_confirmed && model.confirming, "c changes the option, it does not apply");
    assert!(screen(&model).contains("[x] keep them only if confirmed within 120 s"));
    update(&mut model, Msg::Char('c'));
    assert!(!model.keep_if_confirmed);
}

#[test]
fn while_waiting_enter_keeps_ctrl_c_reverts_and_other_keys_do_nothing() {
    let mut model = review_model();
    model.screen = Screen::Apply;
    model.waiting = Some(Waiting { seconds_left: 90, ..Waiting::default() });
    for msg in [Msg::Char('x'), Msg::Back, Msg::NextField] {
        update(&mut model, msg);
    }
    assert_eq!(model.waiting, Some(Waiting { seconds_left: 90, ..Waiting::default() }));
    update(&mut model, Msg::Accept);
    assert!(model.waiting.as_ref().unwrap().keep);
    model.waiting = Some(Waiting::default());
    update(&mut model, Msg::Quit);
    assert!(model.waiting.as_ref().unwrap().revert);
    assert_eq!(model.screen, Screen::Apply, "Ctrl-C during the wait reverts, it does not leave");
    // Without a wait, keys on Apply still wait for it to finish.
    model.waiting = None;
    update(&mut model, Msg::Accept);
    assert_eq!(model.screen, Screen::Apply);
}

fn applied() -> anyhow::Result<ApplyReport> {
    Ok(ApplyReport {
        changed: true,
        files: vec!["/etc/docker/daemon.json".into()],
        commands: Vec::new(),
        backup: Some("20260101T000000Z".into()),
        warnings: Vec::new(),
    })
}

#[test]
fn done_says_kept_or_reverted_and_a_revert_is_not_ok() {
    let kept = Ok(Concluded { confirmation: Confirmation::Kept, revert: None });
    let outcome = confirmed_outcome(&applied(), Some(&kept));
    assert!(outcome.ok);
    assert!(outcome.lines.iter().any(|l| l.starts_with("Kept: the changes stay")), "{:?}", outcome.lines);
    let reverted = Ok(Concluded { confirmation: Confirmation::Reverted, revert: None });
    let outcome = confirmed_outcome(&applied(), Some(&reverted));
    assert!(!outcome.ok, "a reverted apply exits 1 like the command line");
    assert!(outcome.lines.iter().any(|l| l == "Not confirmed in time: reverted."), "{:?}", outcome.lines);
    assert!(
        outcome
            .lines
            .iter()
            .any(|l| l.contains("REVERTED the unconfirmed changes of backup set 20260101T000000Z"))
    );
    let mut model = review_model();
    model.screen = Screen::Apply;
    model.waiting = Some(Waiting::default());
    update(&mut model, Msg::Applied(outcome));
    assert_eq!((model.screen, model.waiting.is_none()), (Screen::Done, true));
}

#[test]
fn the_wait_shows_the_countdown_and_health_80x24() {
    let mut model = review_model();
    model.screen = Screen::Apply;
    model.progress = vec!["done     systemctl restart docker".into(), "done     iotedge config apply".into()];
    let mut services: Vec<(String, String)> =
        HEALTH_UNITS.iter().map(|u| (u.to_string(), "active".to_string())).collect();
    services[1].1 = "activating".into();
    model.waiting = Some(Waiting {
        seconds_left: 87,
        health: Some(Health { services, edge_agent: "not running".into() }),
        keep: false,
        revert: false,
    });
    let text = screen(&model);
    assert!(text.contains("Enter keeps them (87 s left)"), "{text}");
    assert!(text.contains("aziot-edged      activating"), "{text}");
    assert!(text.contains("sudo edgeprep confirm"), "{text}");
    insta::assert_snapshot!(text);
}
