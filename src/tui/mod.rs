//! The station's terminal UI: keymap, model (`app`), drawing (`render`), the loop (`run`) and
//! terminal set-up (`terminal`).

pub mod app;
pub mod downtime;
pub mod history;
pub mod inspect;
pub mod keymap;
pub mod quality;
pub mod render;
pub mod run;
pub mod scanner_test;
pub mod terminal;
pub mod trace;

pub use app::{App, Effect, Screen, UiOptions};
pub use run::{UiLinks, buffer_text, run};
