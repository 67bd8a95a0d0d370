//! `edgeprep answers export`: the answers file that carries a configured device's fleet-wide
//! settings, so the first device prepared by hand becomes the answers for the next hundred.
//!
//! Three parts, each in its own module:
//! - [`read`]: from [`DeviceState`] to [`Answers`] holding only fleet-wide settings, every value
//!   checked with the answers' own validators and any problem named by device file and key;
//! - [`placeholder`]: secrets left out are replaced by a placeholder that validation refuses, so a
//!   half-filled export can never be applied by accident;
//! - [`render`]: the TOML text, with a header saying where and when it came from and what was
//!   left out.
//!
//! Per-device settings (hostname, provisioning, the Edge CA and its key) are never read: one CA
//! key must not be copied to a fleet, and a second device with the first one's identity would
//! knock it off IoT Hub.

pub mod placeholder;
pub mod read;
pub mod render;

use anyhow::Result;

use crate::answers::Answers;
use crate::device::DeviceState;

/// What [`export`] made of a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The fleet-wide answers; with secrets left out, they hold placeholders instead.
    pub answers: Answers,
    /// Secrets replaced by a placeholder: (answers key, what to fill in).
    pub left_out_secrets: Vec<(String, String)>,
    /// Validation warnings about the device's values (an unpinned image, ...): safe to print.
    pub warnings: Vec<String>,
}

/// Read the fleet-wide answers from `state`. With `with_secrets` false, every secret is replaced
/// by a placeholder. A device value an answers file would refuse is bad input (exit 2) naming
/// its file and key.
pub fn export(state: &DeviceState, with_secrets: bool) -> Result<Export> {
    let read = read::read_fleet_answers(state)?;
    let mut answers = read.answers;
    let left_out_secrets =
        if with_secrets { Vec::new() } else { placeholder::leave_out_secrets(&mut answers) };
    Ok(Export { answers, left_out_secrets, warnings: read.warnings })
}
