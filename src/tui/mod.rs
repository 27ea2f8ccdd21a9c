//! The station terminal UI.

pub mod keymap;
