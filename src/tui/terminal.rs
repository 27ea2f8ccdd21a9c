//! Taking over the terminal and giving it back on every exit path: a guard whose Drop restores, and a
//! panic hook that restores first (and never panics itself) before the default report prints.

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{Stdout, stdout};

pub type RealTerminal = Terminal<CrosstermBackend<Stdout>>;

/// Holds the terminal in raw mode on the alternate screen until dropped.
pub struct TerminalGuard {
    pub terminal: RealTerminal,
}

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

impl TerminalGuard {
    pub fn enter() -> std::io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        if let Err(error) = execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste) {
            restore();
            return Err(error);
        }
        let terminal = match Terminal::new(CrosstermBackend::new(stdout())) {
            Ok(terminal) => terminal,
            Err(error) => {
                restore();
                return Err(error);
            }
        };
        Ok(TerminalGuard { terminal })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        tracing::error!(%info, "panic");
        previous(info);
        // A panic on any thread (core, poller, sync) leaves a station that cannot be trusted, and
        // the UI would go on drawing on a terminal no longer in raw mode. Every acknowledged fact is
        // on disk: stop here so the supervisor starts a clean station.
        std::process::abort();
    }));
}

/// Rings the terminal bell (BEL) without disturbing the screen.
pub fn ring_bell() {
    use std::io::Write;
    let mut out = stdout();
    let _ = out.write_all(b"\x07");
    let _ = out.flush();
}
