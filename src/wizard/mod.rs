//! The interactive front-end: a full-screen walk through the same pipeline the CLI uses
//! (device state → answers → plan → review → apply), or plain prompts on a dumb terminal.
//! It only collects answers; every rule stays in `answers`, `plan` and `apply`.

pub mod draft;
pub mod effects;
pub mod facts;
mod guard;
pub mod plain;
pub mod questions;
pub mod saved;
pub mod tui;

use std::io::{IsTerminal, Write};

use anyhow::Result;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event};

use crate::answers::{Answers, read_answers};
use crate::apply::confirm;
use crate::apply::interrupt::Shield;
use crate::apply::lock::DeviceLock;
use crate::apply::{Actor, apply, apply_locked};
use crate::certs::status::edge_ca_status;
use crate::cli::WizardArgs;
use crate::commands::context::{Context, interactive};
use crate::error::input_error;
use crate::plan::Plan;
use crate::runner::{CommandOutput, CommandRunner, PlannedCommand};
use crate::secrets::mask;
use facts::{Facts, ROTATE_WITHIN_DAYS};
use tui::message::Msg;
use tui::model::{Effect, Model};

/// Start the wizard: full screen on a capable terminal, plain prompts otherwise; returns the
/// exit code.
pub fn run(ctx: &Context, args: &WizardArgs, out: &mut dyn Write) -> Result<i32> {
    if !interactive() {
        return Err(input_error(
            "the wizard needs a terminal; without one, use `edgeprep apply --answers FILE --yes` \
             (check the file first with `edgeprep plan --answers FILE`)",
        ));
    }
    let answers = match &args.answers {
        Some(path) => Some(read_answers(path)?),
        None if ctx.is_demo() => Some(ctx.answers(None)?),
        None => None,
    };
    let facts = read_facts(ctx)?;
    if args.plain || !full_screen_capable() {
        return plain::run(ctx, facts, answers.as_ref(), out);
    }
    full_screen(ctx, facts, answers.as_ref(), out)
}

/// `edgeprep --answers FILE plan` (the wizard's options before a command) would otherwise be
/// silently ignored, and the command would run without the file the technician meant: bad
/// usage (exit 2), naming where the option belongs.
pub fn refuse_before_a_command(args: &WizardArgs) -> Result<()> {
    let mut given = Vec::new();
    if args.answers.is_some() {
        given.push("--answers");
    }
    if args.plain {
        given.push("--plain");
    }
    if given.is_empty() {
        return Ok(());
    }
    Err(input_error(format!(
        "{} before a command belongs to the wizard and would be ignored; put it after the command \
         (`edgeprep plan --answers FILE`, `edgeprep wizard --plain`)",
        given.join(" and ")
    )))
}

/// The device as the wizard describes it, gathered once at start as `edgeprep check` gathers
/// it: live-only facts only on the real device, never on the demo or a `--root`.
fn read_facts(ctx: &Context) -> Result<Facts> {
    let now = time::OffsetDateTime::now_utc();
    let live = ctx.root.is_host() && !ctx.is_demo();
    let gathered = crate::checks::Facts::gather(&ctx.root, live, now)?;
    let state = &gathered.state;
    let days = u32::try_from(ROTATE_WITHIN_DAYS).unwrap_or(30);
    let status = edge_ca_status(&ctx.root, days, now).ok();
    let device = match (&state.os_hostname, ctx.root.is_host()) {
        (Some(name), _) => name.clone(),
        (None, true) => "this device".to_string(),
        (None, false) => ctx.root.base().display().to_string(),
    };
    Ok(Facts::judged(&gathered, status.as_ref(), &device))
}

/// `--plain` is implied by TERM=dumb (or no TERM) and by an output that is not a terminal.
fn full_screen_capable() -> bool {
    let term = std::env::var("TERM").unwrap_or_default();
    std::io::stdout().is_terminal() && !term.is_empty() && term != "dumb"
}

/// Whether NO_COLOR asks for monochrome (any non-empty value, per no-color.org).
pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

fn full_screen(ctx: &Context, facts: Facts, answers: Option<&Answers>, out: &mut dyn Write) -> Result<i32> {
    let mono = no_color();
    if mono {
        // crossterm 0.29 turns every style change into a bare reset under NO_COLOR, losing bold
        // and reverse too; the monochrome theme uses no colour, so let the styles through.
        ratatui::crossterm::style::force_color_output(true);
    }
    let mut model = Model::new(facts, answers);
    model.mono = mono;
    // Over SSH a change to the proxy, DNS or docker can cut the very link the technician
    // works over; there, the changes stay only if confirmed unless they turn it off.
    model.keep_if_confirmed = std::env::var_os("SSH_CONNECTION").is_some();
    if answers.is_none() {
        // An earlier run on this device was cut off: offer its choices back. Not with
        // --answers, whose Enter contract is the file's answers and nothing else.
        model.resume = saved::load(&ctx.root).and_then(|text| saved::from_text(&text, &model.draft));
    }
    let mut terminal = ratatui::try_init()?;
    guard::install(ctx.is_demo().then(|| ctx.root.base().to_path_buf()))?;
    let size = terminal.size()?;
    tui::update::update(&mut model, Msg::Resize(size.width, size.height));

    let mut plan: Option<Plan> = None;
    let result = (|| -> Result<i32> {
        loop {
            terminal.draw(|frame| tui::view::draw(frame, &model))?;
            let msg = loop {
                match event::read()? {
                    Event::Key(key) => {
                        if let Some(msg) = tui::keys::map(key, model.typing()) {
                            break msg;
                        }
                    }
                    Event::Resize(w, h) => break Msg::Resize(w, h),
                    _ => {}
                }
            };
            let mut effect = tui::update::update(&mut model, msg);
            while let Some(next) = effect.take() {
                let reply = match next {
                    Effect::Exit(code) => return Ok(code),
                    Effect::InspectCert(cert, key) => {
                        let verdict = effects::cert_verdict(&cert, &key, model.facts.current("hostname"));
                        Msg::CertChecked(cert, key, verdict)
                    }
                    Effect::SaveAnswers(with_secrets) => {
                        let saved = match &model.answers {
                            Some(answers) => effects::save_answers(
                                answers,
                                with_secrets,
                                &answers_path(&model.facts.device),
                            ),
                            None => Err(anyhow::anyhow!("no answers to save")),
                        };
                        Msg::Saved(saved.map_err(|e| format!("{e:#}")))
                    }
                    Effect::CreateCsr(common_name) => {
                        let written = effects::write_csr(&ctx.root, &common_name);
                        Msg::CsrWritten(written.map_err(|e| format!("{e:#}")))
                    }
                    Effect::SaveDraft => {
                        save_draft(ctx, &model);
                        continue;
                    }
                    Effect::DiscardDraft => {
                        // Best effort: a draft left behind is only offered again.
                        let _ = saved::remove(&ctx.root);
                        continue;
                    }
                    Effect::BuildPlan(answers) => {
                        // Reaching Review accepts the last step too.
                        save_draft(ctx, &model);
                        let built = effects::plan_for(&ctx.root, &answers);
                        let text = built.as_ref().map(effects::review_text).map_err(|e| format!("{e:#}"));
                        plan = built.ok();
                        Msg::Planned(text)
                    }
                    Effect::Apply if model.keep_if_confirmed => {
                        terminal.draw(|frame| tui::view::draw(frame, &model))?;
                        let Some(plan) = plan.as_ref() else { continue };
                        let (applied, concluded) = guard::while_applying(|| {
                            let mut runner = ctx.runner();
                            let mut progress = Progress {
                                inner: runner.as_mut(),
                                terminal: &mut terminal,
                                model: &mut model,
                                secrets: &plan.secrets,
                            };
                            apply_confirmed(&ctx.root, plan, &mut progress)
                        });
                        guard::exit_if_signalled();
                        Msg::Applied(effects::confirmed_outcome(&applied, concluded.as_ref()))
                    }
                    Effect::Apply => {
                        terminal.draw(|frame| tui::view::draw(frame, &model))?;
                        let Some(plan) = plan.as_ref() else { continue };
                        let result = guard::while_applying(|| -> Result<_> {
                            let mut runner = ctx.runner();
                            let mut progress = Progress {
                                inner: runner.as_mut(),
                                terminal: &mut terminal,
                                model: &mut model,
                                secrets: &plan.secrets,
                            };
                            let shield = Shield::raise()?;
                            let outcome = apply(plan, &ctx.root, &mut progress, &Actor::from_env());
                            drop(shield);
                            outcome
                        });
                        guard::exit_if_signalled();
                        Msg::Applied(effects::outcome(&result))
                    }
                };
                effect = tui::update::update(&mut model, reply);
            }
        }
    })();
    let _ = ratatui::try_restore();
    // What apply did stays in the scrollback once the full screen is gone.
    if let Some(outcome) = &model.outcome {
        for line in &outcome.lines {
            writeln!(out, "{line}")?;
        }
    }
    if let Some(csr) = &model.csr {
        for line in effects::csr_lines(csr) {
            writeln!(out, "{line}")?;
        }
    }
    result
}

/// Apply under the device lock, then (when something changed) wait on the Apply screen for
/// Enter or `edgeprep confirm` and keep or revert, as `edgeprep apply --confirm` does.
fn apply_confirmed(
    root: &crate::root::DeviceRoot,
    plan: &Plan,
    progress: &mut Progress<'_>,
) -> (Result<crate::apply::ApplyReport>, Option<Result<confirm::Concluded>>) {
    let actor = Actor::from_env();
    let lock = match DeviceLock::acquire(root) {
        Ok(lock) => lock,
        Err(err) => return (Err(err), None),
    };
    let shield = match Shield::raise() {
        Ok(shield) => shield,
        Err(err) => return (Err(err), None),
    };
    let applied =
        confirm::clear_end_states(root).and_then(|()| apply_locked(plan, root, progress, &actor, &lock));
    let backup = match &applied {
        Ok(report) if report.changed => report.backup.clone(),
        _ => None,
    };
    let concluded = backup.map(|backup| {
        let wait_for = std::time::Duration::from_secs(tui::model::CONFIRM_SECONDS);
        let record = confirm::Record::new(root, &backup, &actor.user, tui::model::CONFIRM_SECONDS, wait_for);
        match confirm::begin(root, &record) {
            Ok(()) => {
                progress.model.waiting = Some(tui::model::Waiting {
                    seconds_left: tui::model::CONFIRM_SECONDS,
                    ..Default::default()
                });
                let health = progress.inner.executes();
                // Keys pressed while apply ran (an Enter too many on Review) are not a
                // confirmation: only keys after the countdown is on screen count.
                confirm::discard_typeahead();
                while event::poll(std::time::Duration::ZERO).unwrap_or(false) {
                    let _ = event::read();
                }
                confirm::wait_with(root, wait_for, health, progress)
                    .and_then(|end| confirm::conclude(root, end, progress, &actor, &lock))
            }
            Err(_) => confirm::revert_unrecorded(root, &backup, progress, &actor, &lock),
        }
    });
    drop(shield);
    (applied, concluded)
}

/// The Apply screen's side of the wait: keys through [`tui::update::update`] (Enter keeps,
/// Ctrl-C or q reverts), the countdown and health redrawn on it.
impl confirm::Watch for Progress<'_> {
    fn input(&mut self, at_most: std::time::Duration) -> Option<confirm::WaitEnd> {
        // A terminal that hung up fails here: keep waiting (the deadline still reverts, and
        // `edgeprep confirm` from a new session still keeps).
        match event::poll(at_most) {
            Ok(true) => {
                if let Ok(Event::Key(key)) = event::read()
                    && let Some(msg) = tui::keys::map(key, false)
                {
                    tui::update::update(self.model, msg);
                }
            }
            Ok(false) => {}
            Err(_) => std::thread::sleep(at_most),
        }
        match &self.model.waiting {
            Some(w) if w.keep => Some(confirm::WaitEnd::Enter),
            Some(w) if w.revert => Some(confirm::WaitEnd::Interrupted),
            _ => None,
        }
    }

    fn show(&mut self, seconds_left: u64, health: Option<&confirm::Health>, _new_health: bool) {
        if let Some(waiting) = &mut self.model.waiting {
            waiting.seconds_left = seconds_left;
            waiting.health = health.cloned();
        }
        let model = &*self.model;
        let _ = self.terminal.draw(|frame| tui::view::draw(frame, model));
    }
}

/// Keep the choices so far on the device. Best effort: a draft that cannot be written (a
/// read-only root) must not stop the wizard, it only means a dropped link loses the choices.
fn save_draft(ctx: &Context, model: &Model) {
    let _ = saved::save(&ctx.root, &saved::to_text(&model.draft, model.path, &model.visited));
}

/// Where Done saves the answers: the current directory, named for the device.
fn answers_path(device: &str) -> std::path::PathBuf {
    let name: String = device
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .collect();
    std::path::PathBuf::from(format!("edgeprep-answers-{}.toml", name.trim_matches('.')))
}

/// The CLI's runner, drawing each command on the Apply screen as it starts and as it ends:
/// the only redraws not caused by a key, one per step.
struct Progress<'a> {
    inner: &'a mut dyn CommandRunner,
    terminal: &'a mut DefaultTerminal,
    model: &'a mut Model,
    secrets: &'a [String],
}

impl Progress<'_> {
    fn show(&mut self, line: String, replace_last: bool) {
        if replace_last {
            self.model.progress.pop();
        }
        self.model.progress.push(line);
        let model = &*self.model;
        // A terminal that cannot be drawn on must not stop apply halfway.
        let _ = self.terminal.draw(|frame| tui::view::draw(frame, model));
    }
}

impl CommandRunner for Progress<'_> {
    fn run(&mut self, command: &PlannedCommand) -> Result<CommandOutput> {
        let shown = mask(&command.display(), self.secrets);
        if !self.inner.executes() {
            self.show(format!("listed   {shown}"), false);
            return self.inner.run(command);
        }
        self.show(format!("running  {shown}"), false);
        let output = self.inner.run(command);
        let status = match &output {
            Ok(out) if command.succeeded(out) => "done",
            Ok(_) => "FAILED",
            Err(_) => "NOT RUN",
        };
        self.show(format!("{status:<8} {shown}"), true);
        output
    }

    fn executes(&self) -> bool {
        self.inner.executes()
    }
}
