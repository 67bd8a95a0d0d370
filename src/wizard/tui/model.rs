//! The full-screen wizard's state: which screen, which field, the draft answers, and what the
//! effects (plan, apply) brought back. Plain data; [`super::update`] changes it, the view
//! draws it.

use crate::answers::Answers;
use crate::wizard::draft::{Checked, Draft, sections_set};
use crate::wizard::facts::Facts;
use crate::wizard::questions::{Field, Kind, Path, SECTIONS, Section};
use crate::wizard::saved::Saved;

/// Below this the wizard says which size it needs instead of drawing.
pub const MIN_WIDTH: u16 = 64;
pub const MIN_HEIGHT: u16 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Overview,
    /// A step, by its index in [`SECTIONS`].
    Step(usize),
    Review,
    Apply,
    Done,
}

/// The plan as the Review screen shows it: already masked text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewText {
    pub lines: Vec<String>,
    /// The device already matches: nothing to apply.
    pub empty: bool,
}

/// What Apply did, for the Done screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub ok: bool,
    pub lines: Vec<String>,
    /// What the technician can do about a refusal the wizard recognises.
    pub recovery: Option<Recovery>,
}

/// A refusal apply reports as a typed error, which the wizard acts on instead of only
/// printing it. Nothing was written in either case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// A file changed since the plan was made: offer a fresh plan on Review.
    Replan,
    /// An owner only root can give: say to run the wizard again with sudo.
    Sudo,
}

/// How long the wizard's "keep only if confirmed" waits: long enough to read the health line
/// and reconnect a dropped SSH session, short enough to stand by the device.
pub const CONFIRM_SECONDS: u64 = 120;

/// Apply: the changes are made and wait for Enter (or `edgeprep confirm`) before the deadline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Waiting {
    pub seconds_left: u64,
    pub health: Option<crate::apply::confirm::Health>,
    /// Enter was pressed: keep.
    pub keep: bool,
    /// Ctrl-C or q: revert now.
    pub revert: bool,
}

/// What the loop must do for the model; the only way the wizard touches the world.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Build the plan from these answers and send back [`super::message::Msg::Planned`].
    BuildPlan(Box<Answers>),
    /// Apply the plan last built and send back [`super::message::Msg::Applied`].
    Apply,
    /// Save the answers applied to a file (`true`: secrets included), send back
    /// [`super::message::Msg::Saved`].
    SaveAnswers(bool),
    /// Inspect the Edge CA files being imported (certificate, key paths) and send back
    /// [`super::message::Msg::CertChecked`].
    InspectCert(String, String),
    /// Write the Edge CA key and CSR for this common name and send back
    /// [`super::message::Msg::CsrWritten`]; only after the review was confirmed.
    CreateCsr(String),
    /// Keep the choices so far in the device's draft (secrets left out); no reply.
    SaveDraft,
    /// Remove the device's draft (applied, or declined); no reply.
    DiscardDraft,
    /// Restore the terminal and exit with this code.
    Exit(i32),
}

#[derive(Debug, Clone)]
pub struct Model {
    pub facts: Facts,
    pub draft: Draft,
    pub path: Path,
    /// The path the Overview's cursor is on.
    pub path_cursor: usize,
    /// The path the device's state (or the answers file) suggests.
    pub preselected: Path,
    pub screen: Screen,
    /// On a step: 0 is "keep or set", then the visible fields.
    pub focus: usize,
    /// Character position of the cursor in the focused text field.
    pub cursor: usize,
    /// Steps the technician has been through.
    pub visited: Vec<&'static str>,
    pub review: Option<Result<ReviewText, String>>,
    pub review_scroll: usize,
    /// Review: the "apply now?" question is showing.
    pub confirming: bool,
    pub outcome: Option<Outcome>,
    /// The live verdict on the Edge CA files: (certificate path, key path, verdict).
    pub cert_verdict: Option<(String, String, String)>,
    /// The answers sent to the plan, to save at Done.
    pub answers: Option<Answers>,
    /// Done: whether the Edge CA request ("create a CSR") was written, or why not.
    pub csr: Option<Result<(), String>>,
    /// Done: where the answers were saved, or why they could not be.
    pub saved: Option<Result<String, String>>,
    /// Apply: one line per command, as each starts and ends.
    pub progress: Vec<String>,
    /// Review: keep the changes only if confirmed within [`CONFIRM_SECONDS`] (default on
    /// over SSH, where a change that cuts the link would otherwise lock the technician out).
    pub keep_if_confirmed: bool,
    /// Apply: waiting for the confirmation.
    pub waiting: Option<Waiting>,
    pub help: bool,
    /// Quit was pressed with unsaved choices; the next key decides.
    pub quit_asked: bool,
    /// Choices differ from how the wizard started.
    pub touched: bool,
    pub width: u16,
    pub height: u16,
    /// NO_COLOR or a monochrome terminal: markers, bold and reverse instead of colour.
    pub mono: bool,
    pub from_file: bool,
    /// A draft an earlier run left on this device: asked about before the Overview.
    pub resume: Option<Saved>,
}

impl Model {
    /// A wizard on a device; `answers` pre-fills every field (from `--answers`).
    pub fn new(facts: Facts, answers: Option<&Answers>) -> Self {
        let (draft, preselected) = match answers {
            Some(answers) => {
                let path = Path::covering(sections_set(answers)).unwrap_or(Path::FirstBoot);
                (Draft::from_answers(answers), path)
            }
            None => {
                let mut draft = Draft::recommended();
                if facts.edge_ca_from_files {
                    // The device already has its own Edge CA with time left: keep it.
                    draft.set_section("edge_ca", false);
                }
                let path = if !facts.provisioned {
                    Path::FirstBoot
                } else if facts.edge_ca_due {
                    Path::RotateCa
                } else {
                    Path::Production
                };
                (draft, path)
            }
        };
        let path_cursor = Path::ALL.iter().position(|p| *p == preselected).unwrap_or(0);
        Self {
            facts,
            draft,
            path: preselected,
            path_cursor,
            preselected,
            screen: Screen::Overview,
            focus: 0,
            cursor: 0,
            visited: Vec::new(),
            review: None,
            review_scroll: 0,
            confirming: false,
            outcome: None,
            answers: None,
            cert_verdict: None,
            csr: None,
            saved: None,
            progress: Vec::new(),
            keep_if_confirmed: false,
            waiting: None,
            help: false,
            quit_asked: false,
            touched: false,
            width: 80,
            height: 24,
            mono: false,
            from_file: answers.is_some(),
            resume: None,
        }
    }

    /// Indexes (into [`SECTIONS`]) of the steps on the chosen path.
    pub fn steps(&self) -> Vec<usize> {
        SECTIONS.iter().enumerate().filter(|(_, s)| self.path.includes(s)).map(|(i, _)| i).collect()
    }

    /// The section of the current step.
    pub fn section(&self) -> Option<&'static Section> {
        match self.screen {
            Screen::Step(i) => SECTIONS.get(i),
            _ => None,
        }
    }

    /// The fields of the current step that can take the focus (none while "keep").
    pub fn focusable(&self) -> Vec<&'static Field> {
        match self.section() {
            Some(s) if self.draft.is_set(s.key) => self.draft.visible_fields(s),
            _ => Vec::new(),
        }
    }

    /// The focused field (`None` on the keep/set row).
    pub fn focused_field(&self) -> Option<&'static Field> {
        self.focus.checked_sub(1).and_then(|i| self.focusable().get(i).copied())
    }

    /// Whether keys are text now (a free-text field has the focus).
    pub fn typing(&self) -> bool {
        !self.quit_asked && self.focused_field().is_some_and(|f| f.kind.options().is_none())
    }

    /// The draft checked on the chosen path.
    pub fn checked(&self) -> Checked {
        self.draft.check(self.path)
    }

    /// Whether the terminal is too small to draw.
    pub fn too_small(&self) -> bool {
        self.width < MIN_WIDTH || self.height < MIN_HEIGHT
    }
}

/// Secret fields whose other parts the technician needs to see: a connection string shows its
/// hub and device (only `SharedAccessKey=` is hidden), a proxy URL its host (only the password).
const PARTLY_SECRET: &[&str] = &["provisioning.connection_string", "proxy.url"];

/// How a field's text is shown: secrets as one `*` per character, never the text; for
/// [`PARTLY_SECRET`] fields, only the secret part is hidden.
pub fn shown_value(field: &Field, text: &str) -> String {
    match field.kind {
        Kind::Secret if PARTLY_SECRET.contains(&field.key) => crate::secrets::mask_known_secrets(text),
        Kind::Secret => "*".repeat(text.chars().count()),
        Kind::Bool if text.is_empty() => "(not set)".to_string(),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wizard::questions::find_field;

    fn shown(key: &str, text: &str) -> String {
        shown_value(find_field(key).unwrap(), text)
    }

    #[test]
    fn a_connection_string_shows_its_hub_and_device_but_not_its_key() {
        let text = shown(
            "provisioning.connection_string",
            "HostName=contoso.azure-devices.net;DeviceId=edge-01;SharedAccessKey=c2VjcmV0a2V5",
        );
        assert!(text.contains("HostName=contoso.azure-devices.net;DeviceId=edge-01;"), "{text}");
        assert!(!text.contains("c2VjcmV0a2V5"), "{text}");
    }

    #[test]
    fn a_proxy_url_shows_its_host_but_not_its_password() {
        let text = shown("proxy.url", "http://tech:Pr0xy-pass@proxy.local:3128");
        assert!(text.contains("proxy.local:3128") && !text.contains("Pr0xy-pass"), "{text}");
    }

    #[test]
    fn other_secrets_show_only_stars() {
        assert_eq!(shown("agent.auth.password", "hunter2"), "*******");
        assert_eq!(shown("provisioning.symmetric_key", "abc"), "***");
    }
}
