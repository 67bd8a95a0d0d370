//! The interactive front-end: a full-screen walk through the same pipeline the CLI uses
//! (device state → answers → plan → review → apply), or plain prompts on a dumb terminal.
//! It only collects answers; every rule stays in `answers`, `plan` and `apply`.

pub mod draft;
pub mod effects;
pub mod questions;
pub mod facts;
pub mod tui;
