//! The kinds of failure edgeprep reports, and the exit codes they map to (chosen here only).
//!
//! Bad input (an invalid answer, a broken config.toml, an unusable certificate, a device that
//! changed since the plan) is the user's to fix and is detected before anything is written:
//! exit 2. Anything that goes wrong while applying (a command fails, a write fails) is exit 1,
//! and only after the files were restored; when restoring failed too, exit 3, so a script never
//! mistakes a half-configured device for a clean rollback.

use std::fmt;

/// Exit code: success, or nothing to do.
pub const EXIT_OK: i32 = 0;
/// Exit code: a step failed at run time (files were rolled back).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad input or usage; nothing was written.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: a step failed and restoring the files failed as well; the message names the
/// backup set that holds the originals.
pub const EXIT_NOT_RESTORED: i32 = 3;

/// A problem with what the user gave edgeprep. Its message names the file (and line and
/// column) or the answers key, says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// Shorthand for an [`InputError`] wrapped in `anyhow`.
pub fn input_error(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(InputError(message.into()))
}

/// A file the plan reads changed between making the plan and applying it. A front-end can
/// offer to make a new plan. Exit code 2: nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedSincePlan {
    /// Device path.
    pub path: String,
    /// `was changed`, `was created` or `was removed`.
    pub what: String,
}

impl fmt::Display for ChangedSincePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} since the plan was made; nothing was written. Re-run edgeprep to make a new plan from the current state",
            self.path, self.what
        )
    }
}

impl std::error::Error for ChangedSincePlan {}

/// The plan asks for an owner only root can give. A front-end can tell the technician to use
/// sudo. Exit code 2: nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeedsRoot {
    /// Device path.
    pub path: String,
    pub uid: u32,
    pub gid: u32,
}

impl fmt::Display for NeedsRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} must be owned by {}:{}, which only root can arrange; nothing was written. Run edgeprep with sudo",
            self.path, self.uid, self.gid
        )
    }
}

impl std::error::Error for NeedsRoot {}

/// Restoring the files after a failure failed too: the device may be half-configured.
/// Exit code 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotRestored {
    /// The backup set holding the originals.
    pub backup: String,
    /// What went wrong while restoring.
    pub reason: String,
}

impl fmt::Display for NotRestored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rolling back failed ({}); the original files are in backup set {}: fix the cause and run `edgeprep rollback {}`",
            self.reason, self.backup, self.backup
        )
    }
}

impl std::error::Error for NotRestored {}

/// The exit code an error ends the program with: 3 when the files could not be restored, 2
/// when anything in its chain is bad input ([`InputError`], [`ChangedSincePlan`],
/// [`NeedsRoot`]), else 1.
pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    // downcast_ref also finds a typed error attached with `.context(..)`; chain() finds the
    // ones that are sources.
    let has = |is: fn(&(dyn std::error::Error + 'static)) -> bool| err.chain().any(is);
    if err.downcast_ref::<NotRestored>().is_some() || has(|c| c.is::<NotRestored>()) {
        EXIT_NOT_RESTORED
    } else if err.downcast_ref::<InputError>().is_some()
        || err.downcast_ref::<ChangedSincePlan>().is_some()
        || err.downcast_ref::<NeedsRoot>().is_some()
        || has(|c| c.is::<InputError>() || c.is::<ChangedSincePlan>() || c.is::<NeedsRoot>())
    {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILED
    }
}

/// 1-based line and column of a byte offset in `text`, for messages that point into a file.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_errors_anywhere_in_the_chain_exit_2() {
        let err = input_error("bad").context("reading answers");
        assert_eq!(exit_code_for(&err), EXIT_BAD_INPUT);
        assert_eq!(exit_code_for(&anyhow::anyhow!("disk full")), EXIT_FAILED);
    }

    #[test]
    fn typed_errors_keep_their_exit_codes_and_can_be_downcast() {
        let changed =
            anyhow::Error::new(ChangedSincePlan { path: "/etc/x".into(), what: "was changed".into() })
                .context("applying");
        assert_eq!(exit_code_for(&changed), EXIT_BAD_INPUT);
        assert_eq!(changed.downcast_ref::<ChangedSincePlan>().map(|c| c.path.as_str()), Some("/etc/x"));
        let root = anyhow::Error::new(NeedsRoot { path: "/etc/x".into(), uid: 0, gid: 0 });
        assert_eq!(exit_code_for(&root), EXIT_BAD_INPUT);
        assert!(root.to_string().contains("sudo"));
        let lost = anyhow::Error::new(NotRestored { backup: "7".into(), reason: "disk full".into() })
            .context(InputError("whatever".into()));
        assert_eq!(exit_code_for(&lost), EXIT_NOT_RESTORED);
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab\ncd", 99), (2, 3));
    }
}
