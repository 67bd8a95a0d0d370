//! The full-screen wizard, in the Elm shape: [`model`] (state), [`message`] (what happened),
//! [`update`] (behaviour, no I/O), [`keys`] (bindings), [`view`] (drawing). The loop that runs
//! effects lives in [`crate::wizard::run`].

pub mod keys;
pub mod message;
pub mod model;
pub mod update;
pub mod view;
