//! The plain mode: the same steps as the full screen, one prompt at a time (inquire, on
//! stderr), for serial consoles, screen readers and dumb terminals. Same table
//! ([`super::questions`]), same defaults and validators ([`super::draft`]), same review text
//! and the same apply. With an answers file, only the sections it leaves out are asked, and
//! Enter on each keeps the device as it is, so Enter all the way applies exactly the file.

use std::io::Write;

use anyhow::Result;
use inquire::error::InquireError;
use inquire::ui::RenderConfig;
use inquire::validator::Validation;
use inquire::{Confirm, Password, PasswordDisplayMode, Select, Text};

use super::draft::{Draft, section_of};
use super::effects;
use super::facts::Facts;
use super::questions::{Field, Kind, Path, Section};
use super::tui::model::{CONFIRM_SECONDS, Model};
use crate::answers::Answers;
use crate::apply::confirm;
use crate::apply::interrupt::Shield;
use crate::apply::{Actor, apply};
use crate::commands::context::Context;
use crate::plan::{NO_CHANGES, render_text};

const KEEP: &str = "Keep what the device has";
const SET: &str = "Set it now";

/// Exit code when the technician stops the prompts (as for Ctrl-C).
const EXIT_STOPPED: i32 = 130;

pub fn run(ctx: &Context, facts: Facts, answers: Option<&Answers>, out: &mut dyn Write) -> Result<i32> {
    if super::no_color() {
        inquire::set_global_render_config(RenderConfig::empty());
    }
    match ask_and_apply(ctx, facts, answers, out) {
        Ok(code) => Ok(code),
        Err(err) => match err.downcast_ref::<InquireError>() {
            Some(InquireError::OperationCanceled | InquireError::OperationInterrupted) => {
                writeln!(out, "Stopped: nothing was changed.")?;
                Ok(EXIT_STOPPED)
            }
            _ => Err(err),
        },
    }
}

fn ask_and_apply(ctx: &Context, facts: Facts, answers: Option<&Answers>, out: &mut dyn Write) -> Result<i32> {
    let model = Model::new(facts, answers);
    let facts = &model.facts;
    let mut draft = model.draft.clone();
    let given: Vec<&str> = super::questions::SECTIONS
        .iter()
        .map(|s| s.key)
        .filter(|k| answers.is_some() && draft.is_set(k))
        .collect();

    eprintln!("edgeprep: {}", facts.device);
    // The same verdicts as `edgeprep check`, each finding's first detail under it.
    for check in facts.checklist() {
        eprintln!("  {} {}", super::facts::symbol(check.status), check.title);
        if let Some(detail) = check.details.first().filter(|_| check.status != crate::checks::Status::Ok) {
            eprintln!("      {detail}");
        }
    }
    let titles: Vec<String> = Path::ALL.iter().map(|p| format!("{}: {}", p.title(), p.summary())).collect();
    let start = Path::ALL.iter().position(|p| *p == model.preselected).unwrap_or(0);
    let chosen = Select::new("What to do?", titles.clone()).with_starting_cursor(start).prompt()?;
    let path = titles.iter().position(|t| *t == chosen).map_or(model.preselected, |i| Path::ALL[i]);

    let mut to_ask: Vec<&'static Section> = path.sections().filter(|s| !given.contains(&s.key)).collect();
    for section in path.sections().filter(|s| given.contains(&s.key)) {
        eprintln!("{}: from the answers file.", section.title);
    }
    let answers = loop {
        let mut said = Vec::new();
        for section in &to_ask {
            ask_section(&mut draft, path, section, facts)?;
            if section.key == "proxy" {
                for warning in draft.proxy_protocol_warnings(path, facts.current("upstream.protocol")) {
                    eprintln!("Note: {warning}");
                    said.push(warning);
                }
            }
        }
        let checked = draft.check(path);
        for problem in checked.problems.iter().filter(|p| !p.error && !said.contains(&p.message)) {
            eprintln!("Note: {}", problem.message);
        }
        match checked.answers {
            Some(answers) => break answers,
            None => {
                for problem in checked.problems.iter().filter(|p| p.error) {
                    eprintln!("Problem: {}", problem.message);
                }
                // Ask again the sections with an error, file or not.
                to_ask = path.sections().filter(|s| checked.section_has_error(s.key)).collect();
            }
        }
    };

    let csr = draft.csr_request(path);
    let plan = effects::plan_for(&ctx.root, &answers)?;
    if plan.is_empty() {
        writeln!(out, "{NO_CHANGES}")?;
        if let Some(common_name) = &csr {
            if !Confirm::new("Create the Edge CA key and certificate request?").with_default(true).prompt()? {
                writeln!(out, "Nothing was changed.")?;
                return Ok(0);
            }
            return write_csr_and_say(ctx, common_name, out);
        }
        return Ok(0);
    }
    writeln!(out, "{}", render_text(&plan))?;
    for line in csr.as_deref().map(effects::csr_note).unwrap_or_default() {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    if !Confirm::new("Apply these changes?").with_default(true).prompt()? {
        writeln!(out, "Nothing was changed.")?;
        return Ok(0);
    }
    // Over SSH a change that cuts the link would lock the technician out: offered there, on
    // by default, as on the full screen.
    let keep_if_confirmed = std::env::var_os("SSH_CONNECTION").is_some()
        && Confirm::new(&format!(
            "Keep them only if confirmed within {CONFIRM_SECONDS} s (a change that cuts your link is then undone by itself)?"
        ))
        .with_default(true)
        .prompt()?;
    let mut runner = ctx.runner();
    let shield = Shield::raise()?;
    let outcome = if keep_if_confirmed {
        let (result, concluded) = apply_confirmed(ctx, &plan, runner.as_mut(), out)?;
        effects::confirmed_outcome(&result, concluded.as_ref())
    } else {
        effects::outcome(&apply(&plan, &ctx.root, runner.as_mut(), &Actor::from_env()))
    };
    drop(shield);
    for line in &outcome.lines {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "{}", if outcome.ok { "Done." } else { "Not applied." })?;
    if !outcome.ok {
        return Ok(1);
    }
    match &csr {
        Some(common_name) => write_csr_and_say(ctx, common_name, out),
        None => Ok(0),
    }
}

/// What apply did, and how its wait for the confirmation ended (when it waited).
type Confirmed = (Result<crate::apply::ApplyReport>, Option<Result<confirm::Concluded>>);

/// Apply under the lock and, when something changed, wait for Enter (or `edgeprep confirm`)
/// with the countdown on stderr, then keep or revert: `apply --confirm` at a prompt.
fn apply_confirmed(
    ctx: &Context,
    plan: &crate::plan::Plan,
    runner: &mut dyn crate::runner::CommandRunner,
    out: &mut dyn Write,
) -> Result<Confirmed> {
    let root = &ctx.root;
    let actor = Actor::from_env();
    let lock = crate::apply::lock::DeviceLock::acquire(root)?;
    let applied = confirm::clear_end_states(root)
        .and_then(|()| crate::apply::apply_locked(plan, root, runner, &actor, &lock));
    let Some(backup) = applied.as_ref().ok().filter(|r| r.changed).and_then(|r| r.backup.clone()) else {
        return Ok((applied, None));
    };
    let wait_for = std::time::Duration::from_secs(CONFIRM_SECONDS);
    let record = confirm::Record::new(root, &backup, &actor.user, CONFIRM_SECONDS, wait_for);
    let concluded = match confirm::begin(root, &record) {
        Ok(()) => {
            writeln!(
                out,
                "Applied. Keep these changes? Press Enter here, or run `sudo edgeprep confirm`, within {CONFIRM_SECONDS} s; otherwise they are reverted."
            )?;
            out.flush()?;
            let wait = confirm::Wait {
                seconds: wait_for,
                read_enter: true,
                progress: confirm::Progress::Terminal(Box::new(std::io::stderr())),
                health: runner.executes(),
            };
            confirm::wait(root, wait).and_then(|end| confirm::conclude(root, end, runner, &actor, &lock))
        }
        Err(_) => confirm::revert_unrecorded(root, &backup, runner, &actor, &lock),
    };
    Ok((applied, Some(concluded)))
}

/// After the confirmation: the Edge CA request, and the next step (exit 1 if it was refused).
fn write_csr_and_say(ctx: &Context, common_name: &str, out: &mut dyn Write) -> Result<i32> {
    let written = effects::write_csr(&ctx.root, common_name).map_err(|e| format!("{e:#}"));
    for line in effects::csr_lines(&written) {
        writeln!(out, "{line}")?;
    }
    Ok(if written.is_ok() { 0 } else { 1 })
}

/// One step: why, keep or set, then each visible field (re-evaluated as choices change).
fn ask_section(draft: &mut Draft, path: Path, section: &'static Section, facts: &Facts) -> Result<()> {
    eprintln!();
    eprintln!("== {}", section.title);
    eprintln!("{}", section.why);
    let options = vec![KEEP, SET];
    let start = usize::from(draft.is_set(section.key));
    let set =
        Select::new(&format!("{}:", section.title), options).with_starting_cursor(start).prompt()? == SET;
    draft.set_section(section.key, set);
    if !set {
        return Ok(());
    }
    let mut i = 0;
    while let Some(field) = section.fields.get(i) {
        i += 1;
        if !draft.visible(field) {
            continue;
        }
        let value = ask_field(draft, path, field, facts)?;
        draft.set_value(field.key, value);
    }
    Ok(())
}

fn ask_field(draft: &Draft, path: Path, field: &'static Field, facts: &Facts) -> Result<String> {
    let mut help = format!("{}; now: {}", field.hint, facts.current(field.key).unwrap_or("not set"));
    if let Some(rec) = field.recommended {
        help.push_str(&format!("; recommended: {rec}"));
    }
    let current = draft.value(field.key).to_string();
    let label = format!("{}:", field.label);
    if let Some(options) = field.kind.options() {
        let shown: Vec<&str> = options.iter().map(|o| if o.is_empty() { "(not set)" } else { o }).collect();
        let start = options.iter().position(|o| *o == current).unwrap_or(0);
        let picked = Select::new(&label, shown.clone())
            .with_starting_cursor(start)
            .with_help_message(&help)
            .prompt()?;
        let at = shown.iter().position(|s| *s == picked).unwrap_or(0);
        return Ok(options[at].to_string());
    }
    let validator = field_validator(draft.clone(), path, field);
    if field.kind == Kind::Secret {
        let help = if current.is_empty() { help } else { format!("{help}; Enter keeps the one given") };
        let typed = Password::new(&label)
            .with_display_mode(PasswordDisplayMode::Masked)
            .without_confirmation()
            .with_help_message(&help)
            .with_validator(move |text: &str| validator(if text.is_empty() { &current } else { text }))
            .prompt()?;
        return Ok(if typed.is_empty() { draft.value(field.key).to_string() } else { typed });
    }
    Ok(Text::new(&label)
        .with_initial_value(&current)
        .with_help_message(&help)
        .with_validator(validator)
        .prompt()?)
}

/// The answers rules for one field, on the draft with the typed text in it.
fn field_validator(
    draft: Draft,
    path: Path,
    field: &'static Field,
) -> impl Fn(&str) -> Result<Validation, inquire::CustomUserError> + Clone + 'static {
    move |text: &str| {
        let mut trial = draft.clone();
        trial.set_section(section_of(field.key), true);
        trial.set_value(field.key, text);
        let checked = trial.check(path);
        Ok(match checked.for_field(field.key).find(|p| p.error) {
            Some(problem) => Validation::Invalid(problem.message.clone().into()),
            None => Validation::Valid,
        })
    }
}
