//! The Edge CA step's "create a CSR": the choice on the step, and Done saying where the
//! request is and the next step, drawn on ratatui's TestBackend at 80x24.

use edgeprep::certs::status::{EdgeCaKind, EdgeCaStatus};
use edgeprep::checks::probe::Probe;
use edgeprep::device::DeviceState;
use edgeprep::wizard::effects::{CSR_KEY, csr_lines, outcome};
use edgeprep::wizard::facts::Facts;
use edgeprep::wizard::questions::{EDGE_CA_CSR, Path};
use edgeprep::wizard::tui::message::Msg;
use edgeprep::wizard::tui::model::{Effect, Model, Screen};
use edgeprep::wizard::tui::update::update;
use edgeprep::wizard::tui::view::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const CONFIG: &str = include_str!("../assets/demo/etc/aziot/config.toml");

fn csr_model() -> Model {
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
    let state = DeviceState::default().with_file("/etc/aziot/config.toml", CONFIG);
    let gathered = edgeprep::checks::Facts::new(state, Probe::default(), time::OffsetDateTime::UNIX_EPOCH);
    let mut model = Model::new(Facts::judged(&gathered, Some(&quickstart), "edge-demo-01"), None);
    model.path = Path::RotateCa;
    model.draft.set_value("edge_ca.generate", EDGE_CA_CSR);
    model
}

fn screen(model: &Model) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|frame| draw(frame, model)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn the_edge_ca_step_offers_a_csr_with_its_common_name_and_nothing_else() {
    let mut model = csr_model();
    model.screen = Screen::Step(0);
    let text = screen(&model);
    assert!(text.contains(EDGE_CA_CSR) && text.contains("edgeprep Edge CA"), "{text}");
    assert!(!text.contains("Days valid") && !text.contains("OS trust store"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn an_applied_run_with_a_csr_writes_it_then_done_says_where_and_what_next() {
    let mut model = csr_model();
    model.screen = Screen::Apply;
    let effect = update(&mut model, Msg::Applied(outcome(&Ok(Default::default()))));
    assert_eq!(effect, Some(Effect::CreateCsr("edgeprep Edge CA".into())));
    assert_eq!(update(&mut model, Msg::CsrWritten(Ok(()))), Some(Effect::DiscardDraft));
    let text = screen(&model);
    assert!(text.contains("edge-ca.csr.pem") && text.contains("Send the CSR to your CA"), "{text}");
    assert!(text.contains("key =") && text.contains(CSR_KEY), "{text}");
    let lines = csr_lines(&Ok(()));
    assert!(lines.contains(&format!("  key = \"{CSR_KEY}\"")), "{lines:?}");
    assert!(text.contains("edgeprep apply --answers"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn review_says_the_request_comes_after_apply_and_an_empty_plan_still_makes_it() {
    let mut model = csr_model();
    model.screen = Screen::Review;
    let empty = edgeprep::wizard::tui::model::ReviewText { lines: vec!["No changes.".into()], empty: true };
    assert_eq!(update(&mut model, Msg::Planned(Ok(empty))), None);
    let shown = &model.review.as_ref().unwrap().as_ref().unwrap().lines;
    assert!(
        shown.iter().any(|l| l.contains("certificate request") && l.contains("edgeprep Edge CA")),
        "{shown:?}"
    );
    assert_eq!(update(&mut model, Msg::Accept), Some(Effect::CreateCsr("edgeprep Edge CA".into())));
    assert_eq!(model.screen, Screen::Done);
}

#[test]
fn a_failed_apply_makes_no_request() {
    let mut model = csr_model();
    model.screen = Screen::Apply;
    let effect = update(&mut model, Msg::Applied(outcome(&Err(anyhow::anyhow!("disk full")))));
    assert_eq!(effect, None);
    assert!(model.csr.is_none());
}
