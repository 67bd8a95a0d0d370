//! What the technician chose: the answers file (`apply --answers`), and what the wizard fills
//! in. Every section is optional; an absent section means "leave the device as it is".
//!
//! Values are checked with the rules IoT Edge itself applies (see [`validate`]), so a file that
//! passes `edgeprep answers check` will not be refused later by `iotedge config apply`.

mod model;
mod parse;
pub mod validate;

pub use model::*;
pub use parse::{parse_answers, read_answers};
