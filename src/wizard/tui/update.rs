//! The wizard's behaviour: `update(model, msg)` changes the model and may ask the loop for one
//! [`Effect`]. No I/O here, so tests drive the whole wizard with messages.

use super::message::Msg;
use super::model::{Effect, Model, Screen};
use crate::wizard::questions::{Path, SECTIONS};

/// Lines PageUp/PageDown move on Review.
const PAGE: usize = 10;

pub fn update(model: &mut Model, msg: Msg) -> Option<Effect> {
    match msg {
        Msg::Resize(w, h) => {
            model.width = w;
            model.height = h;
            return None;
        }
        Msg::Planned(mut result) => {
            if let (Ok(text), Some(name)) = (&mut result, model.draft.csr_request(model.path)) {
                text.lines.extend(crate::wizard::effects::csr_note(&name));
            }
            model.review = Some(result);
            model.review_scroll = 0;
            return None;
        }
        Msg::Applied(outcome) => {
            model.waiting = None;
            let ok = outcome.ok;
            model.outcome = Some(outcome);
            model.screen = Screen::Done;
            if let Some(effect) = ok.then(|| csr_effect(model)).flatten() {
                return Some(effect);
            }
            // Applied: the draft has served; a failure keeps it for another try.
            return ok.then_some(Effect::DiscardDraft);
        }
        Msg::CsrWritten(result) => {
            model.csr = Some(result);
            let ok = model.outcome.as_ref().is_some_and(|o| o.ok);
            return ok.then_some(Effect::DiscardDraft);
        }
        Msg::CertChecked(cert, key, verdict) => {
            model.cert_verdict = Some((cert, key, verdict));
            return None;
        }
        Msg::Saved(result) => {
            model.saved = Some(result);
            return None;
        }
        _ => {}
    }
    if model.screen == Screen::Apply {
        // Apply runs to its end (or rolls back); keys wait. Except while the changes wait for
        // their confirmation: Enter keeps them, Ctrl-C or q reverts them now.
        if let Some(waiting) = &mut model.waiting {
            match msg {
                Msg::Accept => waiting.keep = true,
                Msg::Quit => waiting.revert = true,
                _ => {}
            }
        }
        return None;
    }
    if model.resume.is_some() && !matches!(msg, Msg::Quit | Msg::Resize(..)) {
        return resume(model, msg);
    }
    if model.quit_asked {
        model.quit_asked = false;
        return matches!(msg, Msg::Char('y' | 'Y') | Msg::Quit).then_some(Effect::Exit(0));
    }
    if model.help {
        model.help = false;
        if matches!(msg, Msg::Help | Msg::Back | Msg::Accept) {
            return None;
        }
    }
    match msg {
        Msg::Help => {
            model.help = true;
            None
        }
        Msg::Quit => quit(model),
        _ => match model.screen {
            Screen::Overview => overview(model, msg),
            Screen::Step(_) => step(model, msg),
            Screen::Review => review(model, msg),
            Screen::Done => done(model, msg),
            Screen::Apply => None,
        },
    }
}

/// The Edge CA request to write now that the review is confirmed and apply went through
/// (a request made for a device whose other changes were rolled back would only confuse).
fn csr_effect(model: &Model) -> Option<Effect> {
    if model.csr.is_some() {
        return None;
    }
    model.draft.csr_request(model.path).map(Effect::CreateCsr)
}

fn done(model: &mut Model, msg: Msg) -> Option<Effect> {
    let saved = model.saved.as_ref().is_some_and(Result::is_ok);
    match msg {
        Msg::Accept | Msg::Back => {
            Some(Effect::Exit(if model.outcome.as_ref().is_none_or(|o| o.ok) { 0 } else { 1 }))
        }
        Msg::Char(c @ ('s' | 'S')) if model.answers.is_some() && !saved => {
            Some(Effect::SaveAnswers(c == 'S'))
        }
        Msg::Char('r' | 'R') if replan_offered(model) => {
            // A file changed under the plan: plan again from the device as it is now, and
            // show that plan on Review; nothing was written.
            let answers = model.answers.clone()?;
            model.outcome = None;
            model.review = None;
            model.review_scroll = 0;
            model.confirming = false;
            model.progress.clear();
            model.screen = Screen::Review;
            Some(Effect::BuildPlan(Box::new(answers)))
        }
        _ => None,
    }
}

/// The question before the Overview: resume the draft an earlier run left (y or Enter), or
/// start afresh and delete it (n or Esc).
fn resume(model: &mut Model, msg: Msg) -> Option<Effect> {
    match msg {
        Msg::Accept | Msg::Char('y' | 'Y') => {
            let saved = model.resume.take()?;
            model.draft = saved.draft;
            model.path = saved.path;
            model.path_cursor = Path::ALL.iter().position(|p| *p == saved.path).unwrap_or(0);
            model.visited = saved.visited;
            model.touched = true;
            // Back where the technician was: the last step reached on the path.
            let steps = model.steps();
            if let Some(&i) =
                model.visited.iter().rev().find_map(|key| steps.iter().find(|&&i| SECTIONS[i].key == *key))
            {
                model.screen = Screen::Step(i);
                model.focus = 0;
                model.cursor = 0;
            }
            None
        }
        Msg::Back | Msg::Char('n' | 'N') => {
            model.resume = None;
            Some(Effect::DiscardDraft)
        }
        _ => None,
    }
}

/// Done offers a new plan after apply refused a plan the device no longer matches.
pub fn replan_offered(model: &Model) -> bool {
    model.answers.is_some()
        && model.outcome.as_ref().is_some_and(|o| o.recovery == Some(super::model::Recovery::Replan))
}

fn quit(model: &mut Model) -> Option<Effect> {
    if model.screen == Screen::Done {
        return Some(Effect::Exit(if model.outcome.as_ref().is_none_or(|o| o.ok) { 0 } else { 1 }));
    }
    if model.touched {
        model.quit_asked = true;
        None
    } else {
        Some(Effect::Exit(0))
    }
}

fn overview(model: &mut Model, msg: Msg) -> Option<Effect> {
    match msg {
        Msg::NextField | Msg::Right => model.path_cursor = (model.path_cursor + 1) % Path::ALL.len(),
        Msg::PrevField | Msg::Left => {
            model.path_cursor = (model.path_cursor + Path::ALL.len() - 1) % Path::ALL.len()
        }
        Msg::Char(c @ '1'..='3') => model.path_cursor = usize::from(c as u8 - b'1'),
        Msg::Accept => {
            let path = Path::ALL[model.path_cursor];
            if path != model.path {
                model.touched = true;
            }
            model.path = path;
            return go_to_step(model, 0);
        }
        _ => {}
    }
    None
}

/// Enter the `n`th step of the path, or Review after the last.
fn go_to_step(model: &mut Model, n: usize) -> Option<Effect> {
    let steps = model.steps();
    match steps.get(n) {
        Some(&i) => {
            model.screen = Screen::Step(i);
            model.focus = 0;
            model.cursor = 0;
            if !model.visited.contains(&SECTIONS[i].key) {
                model.visited.push(SECTIONS[i].key);
            }
            None
        }
        None => to_review(model),
    }
}

fn to_review(model: &mut Model) -> Option<Effect> {
    let checked = model.checked();
    match checked.answers {
        Some(answers) => {
            model.answers = Some(answers.clone());
            model.screen = Screen::Review;
            model.review = None;
            model.review_scroll = 0;
            model.confirming = false;
            Some(Effect::BuildPlan(Box::new(answers)))
        }
        None => {
            // Send the technician to the first step with an error.
            let first = model.steps().into_iter().find(|&i| checked.section_has_error(SECTIONS[i].key));
            if let Some(i) = first {
                model.screen = Screen::Step(i);
                focus_first_problem(model);
            }
            None
        }
    }
}

/// Position of the current step on the path.
fn position(model: &Model) -> usize {
    match model.screen {
        Screen::Step(i) => model.steps().iter().position(|&s| s == i).unwrap_or(0),
        _ => 0,
    }
}

fn focus_first_problem(model: &mut Model) {
    let checked = model.checked();
    let fields = model.focusable();
    model.focus = fields.iter().position(|f| checked.for_field(f.key).any(|p| p.error)).map_or(0, |i| i + 1);
    model.cursor = model.focused_field().map_or(0, |f| model.draft.value(f.key).chars().count());
}

fn set_focus(model: &mut Model, focus: usize) {
    model.focus = focus;
    model.cursor = model.focused_field().map_or(0, |f| model.draft.value(f.key).chars().count());
}

fn step(model: &mut Model, msg: Msg) -> Option<Effect> {
    let section = model.section()?;
    let rows = model.focusable().len() + 1;
    match msg {
        Msg::Accept => {
            let checked = model.checked();
            if model.draft.is_set(section.key) && checked.section_has_error(section.key) {
                focus_first_problem(model);
                return None;
            }
            // A step accepted: keep the choices on the device in case the link drops.
            go_to_step(model, position(model) + 1).or(Some(Effect::SaveDraft))
        }
        Msg::Back => {
            let pos = position(model);
            if pos == 0 {
                model.screen = Screen::Overview;
                None
            } else {
                go_to_step(model, pos - 1)
            }
        }
        Msg::NextField => {
            set_focus(model, (model.focus + 1) % rows);
            None
        }
        Msg::PrevField => {
            set_focus(model, (model.focus + rows - 1) % rows);
            None
        }
        other => {
            edit(model, section.key, other);
            cert_to_inspect(model)
        }
    }
}

/// On the Edge CA step importing files: inspect them when their paths changed since the last
/// verdict, so it follows the typing.
fn cert_to_inspect(model: &Model) -> Option<Effect> {
    let visible =
        crate::wizard::questions::find_field("edge_ca.cert").is_some_and(|f| model.draft.visible(f));
    if model.section()?.key != "edge_ca" || !model.draft.is_set("edge_ca") || !visible {
        return None;
    }
    let (cert, key) = (model.draft.value("edge_ca.cert"), model.draft.value("edge_ca.key"));
    if cert.is_empty() {
        return None;
    }
    let same = model.cert_verdict.as_ref().is_some_and(|(c, k, _)| c == cert && k == key);
    (!same).then(|| Effect::InspectCert(cert.to_string(), key.to_string()))
}

/// Left/Right/typing on the focused row.
fn edit(model: &mut Model, section: &'static str, msg: Msg) {
    let Some(field) = model.focused_field() else {
        // The keep/set row.
        if matches!(msg, Msg::Left | Msg::Right | Msg::Char(' ')) {
            let set = !model.draft.is_set(section);
            model.draft.set_section(section, set);
            model.touched = true;
        }
        return;
    };
    let text = model.draft.value(field.key).to_string();
    if let Some(options) = field.kind.options() {
        let at = options.iter().position(|o| *o == text).unwrap_or(0);
        let next = match msg {
            Msg::Right | Msg::Char(' ') => (at + 1) % options.len(),
            Msg::Left => (at + options.len() - 1) % options.len(),
            _ => return,
        };
        model.draft.set_value(field.key, options[next]);
        model.touched = true;
        // A choice can show or hide fields below it; keep the focus on it.
        return;
    }
    let mut chars: Vec<char> = text.chars().collect();
    let cursor = model.cursor.min(chars.len());
    match msg {
        Msg::Left => model.cursor = cursor.saturating_sub(1),
        Msg::Right => model.cursor = (cursor + 1).min(chars.len()),
        Msg::Home => model.cursor = 0,
        Msg::End => model.cursor = chars.len(),
        Msg::Char(c) if !c.is_control() => {
            chars.insert(cursor, c);
            model.cursor = cursor + 1;
        }
        Msg::DeleteBack if cursor > 0 => {
            chars.remove(cursor - 1);
            model.cursor = cursor - 1;
        }
        Msg::DeleteForward if cursor < chars.len() => {
            chars.remove(cursor);
        }
        _ => return,
    }
    let new: String = chars.into_iter().collect();
    if new != text {
        model.draft.set_value(field.key, new);
        model.touched = true;
    }
}

fn review(model: &mut Model, msg: Msg) -> Option<Effect> {
    let lines = match &model.review {
        Some(Ok(text)) => text.lines.len(),
        _ => 0,
    };
    match msg {
        Msg::Back if model.confirming => model.confirming = false,
        Msg::Back => {
            model.confirming = false;
            let steps = model.steps();
            return match steps.len() {
                0 => {
                    model.screen = Screen::Overview;
                    None
                }
                n => go_to_step(model, n - 1),
            };
        }
        Msg::NextField => model.review_scroll = (model.review_scroll + 1).min(lines.saturating_sub(1)),
        Msg::PrevField => model.review_scroll = model.review_scroll.saturating_sub(1),
        Msg::PageDown => model.review_scroll = (model.review_scroll + PAGE).min(lines.saturating_sub(1)),
        Msg::PageUp => model.review_scroll = model.review_scroll.saturating_sub(PAGE),
        Msg::Accept => match &model.review {
            Some(Ok(text)) if text.empty => {
                model.outcome = Some(super::model::Outcome {
                    ok: true,
                    lines: vec![crate::plan::NO_CHANGES.to_string()],
                    recovery: None,
                });
                model.screen = Screen::Done;
                return csr_effect(model);
            }
            Some(Ok(_)) if model.confirming => {
                model.confirming = false;
                model.screen = Screen::Apply;
                return Some(Effect::Apply);
            }
            Some(Ok(_)) => model.confirming = true,
            _ => {}
        },
        Msg::Char('c' | 'C') if model.confirming => model.keep_if_confirmed = !model.keep_if_confirmed,
        Msg::Char('y' | 'Y') if model.confirming => {
            model.confirming = false;
            model.screen = Screen::Apply;
            return Some(Effect::Apply);
        }
        _ => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::parse_answers;
    use crate::wizard::facts::Facts;
    use crate::wizard::tui::model::{Outcome, ReviewText};

    fn provisioned() -> Facts {
        Facts { device: "gw".into(), provisioned: true, ..Facts::default() }
    }

    fn send(model: &mut Model, msgs: &[Msg]) -> Vec<Effect> {
        msgs.iter().filter_map(|m| update(model, m.clone())).collect()
    }

    fn enter_until_effect(model: &mut Model) -> Effect {
        for _ in 0..30 {
            match update(model, Msg::Accept) {
                // Each accepted step keeps the draft; not what these tests wait for.
                Some(Effect::SaveDraft) | None => {}
                Some(effect) => return effect,
            }
        }
        panic!("no effect after 30 Enters; on {:?}", model.screen);
    }

    #[test]
    fn enter_on_every_screen_with_a_file_plans_exactly_the_file_answers() {
        let text = include_str!("../../../assets/demo/answers.toml");
        let answers = parse_answers(text, "demo").unwrap();
        let mut model = Model::new(provisioned(), Some(&answers));
        assert_eq!(model.preselected, Path::Production);
        assert_eq!(enter_until_effect(&mut model), Effect::BuildPlan(Box::new(answers)));
        assert_eq!(model.screen, Screen::Review);
        send(&mut model, &[Msg::Planned(Ok(ReviewText { lines: vec!["diff".into()], empty: false }))]);
        assert_eq!(update(&mut model, Msg::Accept), None, "the first Enter asks");
        assert!(model.confirming);
        assert_eq!(update(&mut model, Msg::Accept), Some(Effect::Apply));
        assert_eq!(model.screen, Screen::Apply);
    }

    #[test]
    fn a_file_that_sets_provisioning_preselects_first_boot() {
        let answers = parse_answers("hostname = \"gw-2\"\n", "t").unwrap();
        let model = Model::new(provisioned(), Some(&answers));
        assert_eq!(model.preselected, Path::FirstBoot);
    }

    #[test]
    fn an_unprovisioned_device_preselects_first_boot_and_a_due_ca_preselects_rotation() {
        let model = Model::new(Facts::default(), None);
        assert_eq!(model.preselected, Path::FirstBoot);
        let due = Facts { provisioned: true, edge_ca_due: true, ..Facts::default() };
        assert_eq!(Model::new(due, None).preselected, Path::RotateCa);
    }

    #[test]
    fn enter_without_a_file_takes_the_recommendations() {
        let mut model = Model::new(provisioned(), None);
        let Effect::BuildPlan(answers) = enter_until_effect(&mut model) else { panic!("no plan") };
        assert_eq!(
            *answers,
            crate::wizard::draft::Draft::recommended().check(Path::Production).answers.unwrap()
        );
        assert_eq!(answers.upstream.as_ref().unwrap().protocol.as_str(), "AmqpWs");
    }

    #[test]
    fn enter_on_a_step_with_an_error_stays_and_focuses_the_field() {
        let mut model = Model::new(Facts::default(), None);
        send(&mut model, &[Msg::Accept]); // Overview → first-boot path
        // Walk to the hostname step (the last), whose required field is empty.
        for _ in 0..20 {
            if model.section().is_some_and(|s| s.key == "provisioning") {
                break;
            }
            send(&mut model, &[Msg::Accept]);
        }
        assert_eq!(model.section().map(|s| s.key), Some("provisioning"));
        send(&mut model, &[Msg::Accept]);
        assert_eq!(model.section().map(|s| s.key), Some("provisioning"), "an error keeps the step");
        assert_eq!(model.focused_field().map(|f| f.key), Some("provisioning.connection_string"));
    }

    #[test]
    fn typing_edits_the_focused_field_and_the_draft() {
        let mut model = Model::new(provisioned(), None);
        send(&mut model, &[Msg::Accept]); // Edge CA
        send(&mut model, &[Msg::Accept]); // Upstream
        send(&mut model, &[Msg::Accept]); // Proxy (kept)
        assert_eq!(model.section().map(|s| s.key), Some("proxy"));
        assert!(!model.draft.is_set("proxy"));
        send(&mut model, &[Msg::Right, Msg::NextField]);
        assert!(model.draft.is_set("proxy") && model.typing());
        for c in "http://p:3128".chars() {
            update(&mut model, Msg::Char(c));
        }
        send(&mut model, &[Msg::DeleteBack, Msg::Char('9')]);
        assert_eq!(model.draft.value("proxy.url"), "http://p:3129");
        assert!(model.touched);
    }

    #[test]
    fn choices_cycle_with_the_arrows() {
        let mut model = Model::new(provisioned(), None);
        send(&mut model, &[Msg::Accept, Msg::Accept]); // Upstream
        send(&mut model, &[Msg::NextField, Msg::Right]);
        assert_eq!(model.draft.value("upstream.protocol"), "Mqtt");
        send(&mut model, &[Msg::Left, Msg::Left]);
        assert_eq!(model.draft.value("upstream.protocol"), "Amqp");
    }

    #[test]
    fn quit_with_unsaved_choices_asks_first() {
        let mut model = Model::new(provisioned(), None);
        assert_eq!(update(&mut model, Msg::Quit), Some(Effect::Exit(0)), "nothing chosen yet");
        send(&mut model, &[Msg::Accept, Msg::Right]);
        assert!(model.touched);
        assert_eq!(update(&mut model, Msg::Quit), None);
        assert!(model.quit_asked);
        assert_eq!(update(&mut model, Msg::Char('n')), None);
        assert!(!model.quit_asked);
        send(&mut model, &[Msg::Quit]);
        assert_eq!(update(&mut model, Msg::Quit), Some(Effect::Exit(0)), "Ctrl-C twice quits");
    }

    #[test]
    fn esc_goes_back_and_escapes_the_confirmation_without_applying() {
        let mut model = Model::new(provisioned(), None);
        let _ = enter_until_effect(&mut model);
        send(&mut model, &[Msg::Planned(Ok(ReviewText { lines: vec![], empty: false })), Msg::Accept]);
        assert!(model.confirming);
        assert!(send(&mut model, &[Msg::Back]).is_empty());
        assert_eq!(model.screen, Screen::Review);
        send(&mut model, &[Msg::Back]);
        assert_eq!(model.section().map(|s| s.key), Some("dns"));
    }

    #[test]
    fn keys_during_apply_are_ignored_and_done_exits_with_the_outcome() {
        let mut model = Model::new(provisioned(), None);
        model.screen = Screen::Apply;
        assert_eq!(update(&mut model, Msg::Quit), None);
        send(&mut model, &[Msg::Applied(Outcome { ok: false, ..Outcome::default() })]);
        assert_eq!(model.screen, Screen::Done);
        assert_eq!(update(&mut model, Msg::Accept), Some(Effect::Exit(1)));
    }

    #[test]
    fn done_offers_to_save_the_answers_once_without_secrets_by_default() {
        let mut model = Model::new(provisioned(), None);
        let _ = enter_until_effect(&mut model);
        send(&mut model, &[Msg::Applied(Outcome { ok: true, ..Outcome::default() })]);
        assert_eq!(update(&mut model, Msg::Char('s')), Some(Effect::SaveAnswers(false)));
        assert_eq!(update(&mut model, Msg::Char('S')), Some(Effect::SaveAnswers(true)));
        send(&mut model, &[Msg::Saved(Ok("answers.toml".into()))]);
        assert_eq!(update(&mut model, Msg::Char('s')), None, "saved once");
    }

    #[test]
    fn a_plan_the_device_no_longer_matches_goes_back_to_review_with_a_fresh_plan() {
        let mut model = Model::new(provisioned(), None);
        let Effect::BuildPlan(answers) = enter_until_effect(&mut model) else { panic!("no plan") };
        send(&mut model, &[Msg::Planned(Ok(ReviewText { lines: vec!["old".into()], empty: false }))]);
        assert_eq!(send(&mut model, &[Msg::Accept, Msg::Accept]), vec![Effect::Apply]);
        let refused = Outcome {
            ok: false,
            lines: vec!["/etc/aziot/config.toml was changed since the plan was made".into()],
            recovery: Some(super::super::model::Recovery::Replan),
        };
        send(&mut model, &[Msg::Applied(refused)]);
        assert_eq!(model.screen, Screen::Done);
        assert_eq!(update(&mut model, Msg::Char('r')), Some(Effect::BuildPlan(answers)));
        assert_eq!(model.screen, Screen::Review);
        assert!(model.review.is_none() && model.outcome.is_none() && !model.confirming);
        send(&mut model, &[Msg::Planned(Ok(ReviewText { lines: vec!["new".into()], empty: false }))]);
        assert_eq!(
            send(&mut model, &[Msg::Accept, Msg::Accept]),
            vec![Effect::Apply],
            "the new plan applies"
        );
    }

    #[test]
    fn r_does_nothing_after_a_failure_a_new_plan_cannot_fix() {
        let mut model = Model::new(provisioned(), None);
        let _ = enter_until_effect(&mut model);
        let needs_root =
            Outcome { recovery: Some(super::super::model::Recovery::Sudo), ..Outcome::default() };
        send(&mut model, &[Msg::Applied(needs_root)]);
        assert_eq!(update(&mut model, Msg::Char('r')), None);
        assert_eq!(model.screen, Screen::Done);
        assert_eq!(update(&mut model, Msg::Accept), Some(Effect::Exit(1)));
    }

    fn with_saved_draft() -> Model {
        let mut earlier = crate::wizard::draft::Draft::recommended();
        earlier.set_value("upstream.protocol", "MqttWs");
        earlier.set_section("dns", true);
        earlier.set_value("dns.servers", "10.0.0.53");
        let text = crate::wizard::saved::to_text(&earlier, Path::Production, &["edge_ca", "upstream"]);
        let mut model = Model::new(provisioned(), None);
        model.resume = crate::wizard::saved::from_text(&text, &model.draft);
        assert!(model.resume.is_some());
        model
    }

    #[test]
    fn resuming_restores_the_choices_and_the_step_reached() {
        let mut model = with_saved_draft();
        assert_eq!(update(&mut model, Msg::NextField), None, "other keys wait for the answer");
        assert_eq!(update(&mut model, Msg::Accept), None);
        assert!(model.resume.is_none());
        assert_eq!(model.section().map(|s| s.key), Some("upstream"));
        assert_eq!(model.draft.value("upstream.protocol"), "MqttWs");
        assert_eq!(model.draft.value("dns.servers"), "10.0.0.53");
        assert!(model.touched, "quitting now asks first");
    }

    #[test]
    fn declining_the_draft_discards_it_and_starts_on_the_overview() {
        let mut model = with_saved_draft();
        assert_eq!(update(&mut model, Msg::Char('n')), Some(Effect::DiscardDraft));
        assert!(model.resume.is_none());
        assert_eq!(model.screen, Screen::Overview);
        assert_eq!(model.draft.value("upstream.protocol"), "AmqpWs", "the recommendation, not the draft");
    }

    #[test]
    fn accepting_a_step_keeps_the_draft_and_a_successful_apply_removes_it() {
        let mut model = Model::new(provisioned(), None);
        assert_eq!(update(&mut model, Msg::Accept), None, "choosing a path is not a step");
        assert_eq!(update(&mut model, Msg::Accept), Some(Effect::SaveDraft));
        let _ = enter_until_effect(&mut model);
        assert_eq!(
            update(&mut model, Msg::Applied(Outcome { ok: true, ..Outcome::default() })),
            Some(Effect::DiscardDraft)
        );
        let mut failed = Model::new(provisioned(), None);
        failed.screen = Screen::Apply;
        assert_eq!(update(&mut failed, Msg::Applied(Outcome::default())), None, "a failure keeps the draft");
    }

    #[test]
    fn typing_an_edge_ca_path_asks_for_its_verdict_once_per_change() {
        let mut model = Model::new(provisioned(), None);
        send(&mut model, &[Msg::Accept]); // Edge CA, set to generate
        send(&mut model, &[Msg::NextField, Msg::Left]); // Source: import files
        assert_eq!(model.draft.value("edge_ca.generate"), "import files");
        send(&mut model, &[Msg::NextField]);
        assert_eq!(update(&mut model, Msg::Char('/')), Some(Effect::InspectCert("/".into(), String::new())));
        send(&mut model, &[Msg::CertChecked("/".into(), String::new(), "cannot read".into())]);
        assert_eq!(update(&mut model, Msg::Right), None, "same paths, no new check");
    }

    #[test]
    fn an_empty_plan_goes_to_done_without_applying() {
        let mut model = Model::new(provisioned(), None);
        let _ = enter_until_effect(&mut model);
        send(&mut model, &[Msg::Planned(Ok(ReviewText { lines: vec![], empty: true }))]);
        assert_eq!(update(&mut model, Msg::Accept), None);
        assert_eq!(model.screen, Screen::Done);
    }
}
