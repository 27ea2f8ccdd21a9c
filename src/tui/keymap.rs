//! Station keymaps: TOML data files that turn keys into [`KeyCommand`]s.
//!
//! A keymap file has one table per screen [`Layer`] plus `[global]`, each holding
//! `keymap = [ { on = "f5", run = "start", desc = "Start work order" }, ... ]`. A key is resolved in
//! the active layer first, then in `[global]`.
//!
//! The shipped `keymaps/default.toml` is embedded in the binary; a site file is layered on top of it
//! (an entry with the same key in the same layer replaces the shipped one, `run = "none"` unbinds), so
//! a site only writes the entries it changes.
//!
//! Everything is validated at load time, before the terminal is taken over, and every error names the
//! file, line, layer, entry and the offending key or command: a station must never start with a keymap
//! that silently differs from what the file says. Two rules protect scanning, which must keep working
//! whatever the keymap says:
//! - plain printable keys cannot be bound, because printable input belongs to the permanent scan line;
//! - destructive commands cannot be bound to the control bytes barcode scanners send (see
//!   [`SCANNER_CONTROL_KEYS`]).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;
use serde::de::IgnoredAny;
use toml::Spanned;

/// The shipped keymap, embedded so a station always has a working map even without files on disk.
pub const DEFAULT_KEYMAP: &str = include_str!("../../keymaps/default.toml");

/// The name used for [`DEFAULT_KEYMAP`] in error messages and in [`Keymap::print`].
pub const DEFAULT_KEYMAP_NAME: &str = "keymaps/default.toml";

/// Keys that barcode scanners send as control bytes, as crossterm reports them.
///
/// ETX (ctrl-c), EOT (ctrl-d, ends ISO 15434 messages), LF (ctrl-j, a common terminator), GS (ctrl-],
/// the GS1 separator) and RS (ctrl-^, the ISO 15434 separator). On Unix crossterm reports GS as ctrl-5
/// and RS as ctrl-6, so those spellings are listed too. The scan decoder normally swallows these while
/// a scan is being captured; refusing destructive commands on them is the second line of defence.
pub const SCANNER_CONTROL_KEYS: [Key; 7] = [
    Key::ctrl('c'),
    Key::ctrl('d'),
    Key::ctrl('j'),
    Key::ctrl(']'),
    Key::ctrl('5'),
    Key::ctrl('^'),
    Key::ctrl('6'),
];

/// A name that is not a known layer or command (the error of the `FromStr` impls here).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} \"{name}\"")]
pub struct UnknownName {
    /// `"layer"` or `"command"`.
    pub kind: &'static str,
    /// The name as written.
    pub name: String,
}

// ---------------------------------------------------------------------------------------------------
// Layers

/// A keymap layer: one per screen or overlay, plus `Global`, which every layer falls back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Global,
    Login,
    Queue,
    Run,
    Help,
    ScannerTest,
    Trace,
    Downtime,
    History,
    Inspect,
}

impl Layer {
    /// Every layer, in the order they are printed.
    pub const ALL: [Layer; 10] = [
        Layer::Global,
        Layer::Login,
        Layer::Queue,
        Layer::Run,
        Layer::Help,
        Layer::ScannerTest,
        Layer::Trace,
        Layer::Downtime,
        Layer::History,
        Layer::Inspect,
    ];

    /// The table name used in keymap files.
    pub fn name(self) -> &'static str {
        match self {
            Layer::Global => "global",
            Layer::Login => "login",
            Layer::Queue => "queue",
            Layer::Run => "run",
            Layer::Help => "help",
            Layer::ScannerTest => "scanner-test",
            Layer::Trace => "trace",
            Layer::Downtime => "downtime",
            Layer::History => "history",
            Layer::Inspect => "inspect",
        }
    }

    /// The layer with this table name, if any.
    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|l| l.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layer {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::from_name(s).ok_or_else(|| UnknownName {
            kind: "layer",
            name: s.to_owned(),
        })
    }
}

// ---------------------------------------------------------------------------------------------------
// Commands

/// What a key can do. Closed on purpose: a keymap naming anything else is rejected at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCommand {
    /// Toggle the help overlay.
    Help,
    Quit,
    ShowQueue,
    ShowRun,
    ShowLogin,
    Start,
    Pause,
    Resume,
    Complete,
    Logout,
    /// Enter: submit the scan line, or choose the highlighted item when the line is empty.
    SubmitScan,
    /// Esc: clear the scan line.
    ClearScan,
    /// Backspace in the scan line.
    DeleteChar,
    SelectNext,
    SelectPrev,
    /// Close the overlay that is showing, or leave the scanner test screen.
    Close,
    /// Open the scanner test screen: reads are shown byte by byte and nothing is booked.
    ScannerTest,
    /// Open the Trace screen: a lot's or serial's genealogy.
    ShowTrace,
    /// On the Trace screen: backward (what is in it) or forward (where it went).
    TraceDirection,
    /// Show the next station of those this terminal runs (the demo runs a whole line).
    NextStation,
    /// Open the Downtime screen: the stops of the shift, uncoded first.
    ShowDowntime,
    /// Pause the running order, or resume the paused one: one key for both.
    PauseResume,
    /// On the Downtime screen: the next or previous reason to assign.
    ReasonNext,
    ReasonPrev,
    /// Restart the stopped machine (PackML Reset, or Clear after an abort).
    ResetMachine,
    /// On the Trace screen: put the lot shown on hold (a reason is asked for).
    HoldLot,
    /// On the Trace screen: release the hold on the lot shown (signature-grade).
    ReleaseLot,
    /// Open the History screen: correct a recorded fact (signature-grade).
    ShowHistory,
    /// On the Trace screen: decide what becomes of the held lot shown (signature-grade).
    DisposeLot,
    /// On the Trace screen: the lot shown, sent back here for rework, has been reworked.
    ReworkDone,
    /// On the Trace screen: open a nonconformance report on the lot shown.
    OpenNcr,
    /// On the Trace screen: close the lot's NCR (signature-grade).
    CloseNcr,
    /// Open the Inspect screen: a lot's inspection against its plan, entry by entry.
    ShowInspect,
    /// On the Inspect screen: record the inspection as entered.
    RecordInspection,
    /// On the Inspect screen: take back the last entry.
    UndoEntry,
    /// On the Inspect screen: show the SPC chart of the next variable characteristic (or none).
    SpcChart,
    /// On the Inspect screen: resume the plan's discontinued inspection (signature-grade).
    ResumeInspection,
}

impl KeyCommand {
    /// What the permissions matrix must allow for this key to be offered; none for keys that only
    /// move between screens or edit the scan line.
    pub fn action(self) -> Option<crate::domain::permission::Action> {
        use crate::domain::permission::Action;
        match self {
            KeyCommand::Start | KeyCommand::Resume => Some(Action::RunWorkOrder),
            KeyCommand::Pause | KeyCommand::PauseResume => Some(Action::PauseWorkOrder),
            KeyCommand::Complete => Some(Action::CompleteWorkOrder),
            KeyCommand::ResetMachine => Some(Action::ResetMachine),
            KeyCommand::HoldLot => Some(Action::HoldLot),
            KeyCommand::ReleaseLot => Some(Action::ReleaseHold),
            KeyCommand::ShowHistory => Some(Action::Correct),
            KeyCommand::DisposeLot => Some(Action::Dispose),
            KeyCommand::ReworkDone => Some(Action::Rework),
            KeyCommand::OpenNcr => Some(Action::OpenNcr),
            KeyCommand::CloseNcr => Some(Action::CloseNcr),
            KeyCommand::ResumeInspection => Some(Action::ResumeInspection),
            KeyCommand::ShowInspect | KeyCommand::RecordInspection | KeyCommand::UndoEntry => {
                Some(Action::Inspect)
            }
            KeyCommand::Help
            | KeyCommand::Quit
            | KeyCommand::ShowQueue
            | KeyCommand::ShowRun
            | KeyCommand::ShowLogin
            | KeyCommand::Logout
            | KeyCommand::SubmitScan
            | KeyCommand::ClearScan
            | KeyCommand::DeleteChar
            | KeyCommand::SelectNext
            | KeyCommand::SelectPrev
            | KeyCommand::Close
            | KeyCommand::ScannerTest
            | KeyCommand::ShowTrace
            | KeyCommand::TraceDirection
            | KeyCommand::NextStation
            | KeyCommand::ShowDowntime
            | KeyCommand::ReasonNext
            | KeyCommand::ReasonPrev
            | KeyCommand::SpcChart => None,
        }
    }

    /// Every command.
    pub const ALL: [KeyCommand; 37] = [
        KeyCommand::Help,
        KeyCommand::Quit,
        KeyCommand::ShowQueue,
        KeyCommand::ShowRun,
        KeyCommand::ShowLogin,
        KeyCommand::Start,
        KeyCommand::Pause,
        KeyCommand::Resume,
        KeyCommand::Complete,
        KeyCommand::Logout,
        KeyCommand::SubmitScan,
        KeyCommand::ClearScan,
        KeyCommand::DeleteChar,
        KeyCommand::SelectNext,
        KeyCommand::SelectPrev,
        KeyCommand::Close,
        KeyCommand::ScannerTest,
        KeyCommand::ShowTrace,
        KeyCommand::TraceDirection,
        KeyCommand::NextStation,
        KeyCommand::ShowDowntime,
        KeyCommand::PauseResume,
        KeyCommand::ReasonNext,
        KeyCommand::ReasonPrev,
        KeyCommand::ResetMachine,
        KeyCommand::HoldLot,
        KeyCommand::ReleaseLot,
        KeyCommand::ShowHistory,
        KeyCommand::DisposeLot,
        KeyCommand::ReworkDone,
        KeyCommand::OpenNcr,
        KeyCommand::CloseNcr,
        KeyCommand::ShowInspect,
        KeyCommand::RecordInspection,
        KeyCommand::UndoEntry,
        KeyCommand::SpcChart,
        KeyCommand::ResumeInspection,
    ];

    /// The kebab-case name used in keymap files (`run = "show-queue"`).
    pub fn name(self) -> &'static str {
        match self {
            KeyCommand::Help => "help",
            KeyCommand::Quit => "quit",
            KeyCommand::ShowQueue => "show-queue",
            KeyCommand::ShowRun => "show-run",
            KeyCommand::ShowLogin => "show-login",
            KeyCommand::Start => "start",
            KeyCommand::Pause => "pause",
            KeyCommand::Resume => "resume",
            KeyCommand::Complete => "complete",
            KeyCommand::Logout => "logout",
            KeyCommand::SubmitScan => "submit-scan",
            KeyCommand::ClearScan => "clear-scan",
            KeyCommand::DeleteChar => "delete-char",
            KeyCommand::SelectNext => "select-next",
            KeyCommand::SelectPrev => "select-prev",
            KeyCommand::Close => "close",
            KeyCommand::ScannerTest => "scanner-test",
            KeyCommand::ShowTrace => "show-trace",
            KeyCommand::TraceDirection => "trace-direction",
            KeyCommand::NextStation => "next-station",
            KeyCommand::ShowDowntime => "show-downtime",
            KeyCommand::PauseResume => "pause-resume",
            KeyCommand::ReasonNext => "reason-next",
            KeyCommand::ReasonPrev => "reason-prev",
            KeyCommand::ResetMachine => "reset-machine",
            KeyCommand::HoldLot => "hold-lot",
            KeyCommand::ReleaseLot => "release-lot",
            KeyCommand::DisposeLot => "dispose-lot",
            KeyCommand::ReworkDone => "rework-done",
            KeyCommand::OpenNcr => "open-ncr",
            KeyCommand::CloseNcr => "close-ncr",
            KeyCommand::ShowHistory => "show-history",
            KeyCommand::ShowInspect => "show-inspect",
            KeyCommand::RecordInspection => "record-inspection",
            KeyCommand::UndoEntry => "undo-entry",
            KeyCommand::SpcChart => "spc-chart",
            KeyCommand::ResumeInspection => "resume-inspection",
        }
    }

    /// The command with this kebab-case name, if any.
    pub fn from_name(name: &str) -> Option<KeyCommand> {
        KeyCommand::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The help text used when an entry has no `desc`.
    pub fn description(self) -> &'static str {
        match self {
            KeyCommand::Help => "Show or hide the keys for this screen",
            KeyCommand::Quit => "Quit Takt",
            KeyCommand::ShowQueue => "Work order queue",
            KeyCommand::ShowRun => "Running work order",
            KeyCommand::ShowLogin => "Login screen",
            KeyCommand::Start => "Start work order",
            KeyCommand::Pause => "Pause work order",
            KeyCommand::Resume => "Resume work order",
            KeyCommand::Complete => "Complete work order",
            KeyCommand::Logout => "Log out",
            KeyCommand::SubmitScan => "Submit the scan line / choose the highlighted item",
            KeyCommand::ClearScan => "Clear the scan line",
            KeyCommand::DeleteChar => "Delete the last character",
            KeyCommand::SelectNext => "Next item",
            KeyCommand::SelectPrev => "Previous item",
            KeyCommand::Close => "Close",
            KeyCommand::ScannerTest => "Scanner test: see what a scanner sends; nothing is booked",
            KeyCommand::ShowTrace => "Trace a lot or serial: what is in it, where it went",
            KeyCommand::TraceDirection => "Trace backward (made from) or forward (went into)",
            KeyCommand::NextStation => "Next station of the line (demo)",
            KeyCommand::ShowDowntime => "Downtime: the stops of the shift, uncoded first",
            KeyCommand::PauseResume => "Pause or resume the work order",
            KeyCommand::ReasonNext => "Next reason",
            KeyCommand::ReasonPrev => "Previous reason",
            KeyCommand::ResetMachine => "Restart the stopped machine (once its stop has a reason)",
            KeyCommand::HoldLot => "Put the lot shown on hold (say why)",
            KeyCommand::ReleaseLot => "Release the hold on the lot shown (signature)",
            KeyCommand::DisposeLot => {
                "Disposition of the held lot shown: accept, rework, scrap, use as is, return (signature)"
            }
            KeyCommand::ReworkDone => "The lot shown, sent back here for rework, is reworked",
            KeyCommand::OpenNcr => "Open a nonconformance report on the lot shown (holds it)",
            KeyCommand::CloseNcr => "Close the NCR of the lot shown (signature)",
            KeyCommand::ShowHistory => "History: correct a recorded fact (signature)",
            KeyCommand::ShowInspect => "Inspect a lot against its plan",
            KeyCommand::RecordInspection => "Record the inspection as entered",
            KeyCommand::UndoEntry => "Take back the last entry",
            KeyCommand::SpcChart => "SPC chart of the next measured characteristic",
            KeyCommand::ResumeInspection => {
                "Resume the plan's discontinued inspection: corrective action accepted (signature)"
            }
        }
    }

    /// The one-word text for the bottom key legend when an entry has no `label`.
    pub fn label(self) -> &'static str {
        match self {
            KeyCommand::Help => "Help",
            KeyCommand::Quit => "Quit",
            KeyCommand::ShowQueue => "Queue",
            KeyCommand::ShowRun => "Run",
            KeyCommand::ShowLogin => "Login",
            KeyCommand::Start => "Start",
            KeyCommand::Pause => "Pause",
            KeyCommand::Resume => "Resume",
            KeyCommand::Complete => "Complete",
            KeyCommand::Logout => "Logout",
            KeyCommand::SubmitScan => "Submit",
            KeyCommand::ClearScan => "Clear",
            KeyCommand::DeleteChar => "Delete",
            KeyCommand::SelectNext => "Next",
            KeyCommand::SelectPrev => "Prev",
            KeyCommand::Close => "Close",
            KeyCommand::ScannerTest => "Scanner",
            KeyCommand::ShowTrace => "Trace",
            KeyCommand::TraceDirection => "Direction",
            KeyCommand::NextStation => "Station",
            KeyCommand::ShowDowntime => "Downtime",
            KeyCommand::PauseResume => "Pause",
            KeyCommand::ReasonNext => "Reason",
            KeyCommand::ReasonPrev => "Reason",
            KeyCommand::ResetMachine => "Reset",
            KeyCommand::HoldLot => "Hold",
            KeyCommand::ReleaseLot => "Release",
            KeyCommand::DisposeLot => "Dispose",
            KeyCommand::ReworkDone => "Reworked",
            KeyCommand::OpenNcr => "NCR",
            KeyCommand::CloseNcr => "Close NCR",
            KeyCommand::ShowHistory => "History",
            KeyCommand::ShowInspect => "Inspect",
            KeyCommand::RecordInspection => "Record",
            KeyCommand::UndoEntry => "Undo",
            KeyCommand::SpcChart => "Chart",
            KeyCommand::ResumeInspection => "Resume",
        }
    }

    /// Commands whose accidental firing loses work or the session; they must not sit on a key a
    /// barcode scanner can send ([`SCANNER_CONTROL_KEYS`]).
    pub fn is_destructive(self) -> bool {
        matches!(
            self,
            KeyCommand::Quit | KeyCommand::Logout | KeyCommand::Complete | KeyCommand::ClearScan
        )
    }

    /// Whether the bottom legend shows this command. Scan-line editing and list movement are left
    /// out: every operator knows Enter, Esc and the arrows, and the legend has little room. The
    /// scanner test (for technicians) and the Trace screen (for quality questions) are found in the
    /// help overlay.
    pub fn in_legend(self) -> bool {
        !matches!(
            self,
            KeyCommand::ScannerTest
                | KeyCommand::ShowTrace
                | KeyCommand::ShowHistory
                | KeyCommand::SubmitScan
                | KeyCommand::ClearScan
                | KeyCommand::DeleteChar
                | KeyCommand::SelectNext
                | KeyCommand::SelectPrev
                | KeyCommand::ReasonNext
                | KeyCommand::ReasonPrev
        )
    }
}

impl fmt::Display for KeyCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyCommand {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyCommand::from_name(s).ok_or_else(|| UnknownName {
            kind: "command",
            name: s.to_owned(),
        })
    }
}

/// The command names, comma-separated, for error messages.
fn command_names() -> String {
    KeyCommand::ALL.map(KeyCommand::name).join(", ")
}

// ---------------------------------------------------------------------------------------------------
// Keys

/// One key with its modifiers, normalised so that a key parsed from a keymap file and the
/// [`KeyEvent`] a terminal reports for the same keystroke compare equal.
///
/// Normal form: shift is folded into characters (`Char('A')`, never `Char('a')` + SHIFT, and never
/// SHIFT on any `Char`) and shift-tab is `BackTab` without SHIFT. All other modifiers are kept, so a
/// keystroke with an extra modifier (alt, super, ...) does not match a binding without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    modifiers: KeyModifiers,
}

/// Why a key string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    #[error("the key is empty")]
    Empty,
    #[error("\"{0}-\" has no key after it (write e.g. \"ctrl-q\")")]
    MissingKey(String),
    #[error("modifier \"{0}\" is given twice")]
    DuplicateModifier(String),
    #[error(
        "unknown key name \"{0}\"; use f1..f12, enter, esc, tab, backtab, backspace, delete, insert, \
         up, down, left, right, home, end, pageup, pagedown, space or a single character, with \
         optional ctrl-, alt-, shift-"
    )]
    UnknownKey(String),
    #[error("function keys go from f1 to f12, not \"{0}\"")]
    FunctionKeyOutOfRange(String),
    #[error(
        "shift- only combines with letters and named keys; write the shifted character itself \
         instead of shift-{0}"
    )]
    ShiftedSymbol(char),
    #[error("control characters cannot be written as keys; write e.g. \"ctrl-j\"")]
    ControlChar,
}

impl Key {
    /// A key from a crossterm code and modifiers, normalised (see the type docs).
    pub fn new(code: KeyCode, modifiers: KeyModifiers) -> Key {
        let mut modifiers = modifiers;
        let code = match code {
            KeyCode::BackTab => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Tab if modifiers.contains(KeyModifiers::SHIFT) => {
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::BackTab
            }
            KeyCode::Char(c) => {
                // Terminals differ: some report Shift+a as 'A' + SHIFT, the kitty protocol may report
                // 'a' + SHIFT. Either way the character carries the shift from here on.
                let c = if modifiers.contains(KeyModifiers::SHIFT) {
                    c.to_ascii_uppercase()
                } else {
                    c
                };
                modifiers.remove(KeyModifiers::SHIFT);
                KeyCode::Char(c)
            }
            other => other,
        };
        Key { code, modifiers }
    }

    /// The key a terminal event stands for, normalised like parsed keys.
    ///
    /// The event's kind (press, repeat, release) and state (keypad, caps lock) are ignored: filtering
    /// to `KeyEventKind::Press` is the caller's job, done once in the input loop (terminals with the
    /// kitty protocol report releases too, and counting them would fire every binding twice).
    pub fn from_event(event: &KeyEvent) -> Key {
        Key::new(event.code, event.modifiers)
    }

    /// The normalised key code.
    pub fn code(&self) -> KeyCode {
        self.code
    }

    /// The normalised modifiers (never SHIFT on characters or back-tab).
    pub fn modifiers(&self) -> KeyModifiers {
        self.modifiers
    }

    /// Whether this key types a character into the scan line: a character without ctrl or alt.
    pub fn is_printable(&self) -> bool {
        match self.code {
            KeyCode::Char(c) => {
                !c.is_control()
                    && !self
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            }
            _ => false,
        }
    }

    /// A human label for the help overlay and the key legend: "F5", "Esc", "Ctrl+Q", "Shift+Tab".
    pub fn label(&self) -> String {
        let mut out = String::new();
        for (flag, name) in MODIFIER_LABELS {
            if self.modifiers.contains(flag) {
                out.push_str(name);
                out.push('+');
            }
        }
        let chorded = self
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match self.code {
            KeyCode::Char(' ') => out.push_str("Space"),
            // With ctrl/alt, letters are conventionally shown in capitals ("Ctrl+Q"), so a real
            // capital needs an explicit Shift to stay distinguishable.
            KeyCode::Char(c) if chorded && c.is_ascii_uppercase() => {
                out.push_str("Shift+");
                out.push(c);
            }
            KeyCode::Char(c) if chorded => out.push(c.to_ascii_uppercase()),
            KeyCode::Char(c) => out.push(c),
            KeyCode::F(n) => out.push_str(&format!("F{n}")),
            KeyCode::BackTab => out.push_str("Shift+Tab"),
            KeyCode::Backspace => out.push_str("Backspace"),
            KeyCode::Enter => out.push_str("Enter"),
            KeyCode::Esc => out.push_str("Esc"),
            KeyCode::Tab => out.push_str("Tab"),
            KeyCode::Delete => out.push_str("Del"),
            KeyCode::Insert => out.push_str("Ins"),
            KeyCode::Up => out.push_str("Up"),
            KeyCode::Down => out.push_str("Down"),
            KeyCode::Left => out.push_str("Left"),
            KeyCode::Right => out.push_str("Right"),
            KeyCode::Home => out.push_str("Home"),
            KeyCode::End => out.push_str("End"),
            KeyCode::PageUp => out.push_str("PgUp"),
            KeyCode::PageDown => out.push_str("PgDn"),
            other => out.push_str(&format!("{other:?}")),
        }
        out
    }

    /// A ctrl-chord on a character, for constants.
    const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            modifiers: KeyModifiers::CONTROL,
        }
    }
}

const MODIFIER_LABELS: [(KeyModifiers, &str); 6] = [
    (KeyModifiers::CONTROL, "Ctrl"),
    (KeyModifiers::ALT, "Alt"),
    (KeyModifiers::SHIFT, "Shift"),
    (KeyModifiers::SUPER, "Super"),
    (KeyModifiers::HYPER, "Hyper"),
    (KeyModifiers::META, "Meta"),
];

/// Named keys of the keymap syntax; the display form uses the first name for a code.
const KEY_NAMES: [(&str, KeyCode); 17] = [
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("space", KeyCode::Char(' ')),
    // Never produced by display (the first match wins), accepted because people write it.
    ("escape", KeyCode::Esc),
];

impl FromStr for Key {
    type Err = KeyParseError;

    /// Parses the keymap syntax: `[ctrl-][alt-][shift-]<key>` where `<key>` is a name from
    /// [`KeyParseError::UnknownKey`]'s list or a single character. Names and modifiers are
    /// case-insensitive; a single character is taken as written, except that `ctrl-Q` means `ctrl-q`
    /// (terminals cannot tell those apart; write `ctrl-shift-q` for the capital).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(KeyParseError::Empty);
        }
        let mut modifiers = KeyModifiers::NONE;
        let mut rest = s;
        while let Some((head, tail)) = rest.split_once('-') {
            let flag = match head.to_ascii_lowercase().as_str() {
                "ctrl" => KeyModifiers::CONTROL,
                "alt" => KeyModifiers::ALT,
                "shift" => KeyModifiers::SHIFT,
                // Not a modifier: the rest is the key itself, e.g. "-" or "ctrl--".
                _ => break,
            };
            if tail.is_empty() {
                return Err(KeyParseError::MissingKey(head.to_owned()));
            }
            if modifiers.contains(flag) {
                return Err(KeyParseError::DuplicateModifier(head.to_ascii_lowercase()));
            }
            modifiers |= flag;
            rest = tail;
        }

        let lower = rest.to_ascii_lowercase();
        let mut chars = rest.chars();
        let code = if let Some((_, code)) = KEY_NAMES.iter().find(|(name, _)| *name == lower) {
            *code
        } else if let Some(number) = lower
            .strip_prefix('f')
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            match number.parse::<u8>() {
                Ok(n @ 1..=12) => KeyCode::F(n),
                _ => return Err(KeyParseError::FunctionKeyOutOfRange(rest.to_owned())),
            }
        } else if let (Some(c), None) = (chars.next(), chars.next()) {
            if c.is_control() {
                return Err(KeyParseError::ControlChar);
            }
            if modifiers.contains(KeyModifiers::SHIFT) && !c.is_ascii_alphabetic() {
                return Err(KeyParseError::ShiftedSymbol(c));
            }
            if modifiers.contains(KeyModifiers::CONTROL) && !modifiers.contains(KeyModifiers::SHIFT)
            {
                // Legacy terminals send ctrl-Q and ctrl-q as the same byte; crossterm reports it
                // lower-case, so that is what a binding must hold to ever match.
                KeyCode::Char(c.to_ascii_lowercase())
            } else {
                KeyCode::Char(c)
            }
        } else {
            return Err(KeyParseError::UnknownKey(rest.to_owned()));
        };
        Ok(Key::new(code, modifiers))
    }
}

impl fmt::Display for Key {
    /// The keymap syntax, e.g. `f5`, `esc`, `ctrl-q`, `ctrl-shift-q`, `backtab`; it parses back to
    /// the same key. Modifiers the syntax has no words for (super, hyper, meta) are shown as
    /// `super-` etc. for diagnostics only; such keys come from terminals, never from keymap files.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (flag, name) in [
            (KeyModifiers::CONTROL, "ctrl-"),
            (KeyModifiers::ALT, "alt-"),
            (KeyModifiers::SHIFT, "shift-"),
            (KeyModifiers::SUPER, "super-"),
            (KeyModifiers::HYPER, "hyper-"),
            (KeyModifiers::META, "meta-"),
        ] {
            if self.modifiers.contains(flag) {
                f.write_str(name)?;
            }
        }
        if let Some((name, _)) = KEY_NAMES.iter().find(|(_, code)| *code == self.code) {
            return f.write_str(name);
        }
        match self.code {
            // Capitals are written as shift-<letter> so ctrl-shift-q round-trips (see from_str).
            KeyCode::Char(c) if c.is_ascii_uppercase() => {
                write!(f, "shift-{}", c.to_ascii_lowercase())
            }
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "f{n}"),
            other => f.write_str(&format!("{other:?}").to_ascii_lowercase()),
        }
    }
}

impl PartialEq<KeyEvent> for Key {
    /// Whether the event is this key (ignoring the event's kind; see [`Key::from_event`]).
    fn eq(&self, event: &KeyEvent) -> bool {
        *self == Key::from_event(event)
    }
}

// ---------------------------------------------------------------------------------------------------
// Errors

/// A keymap file that cannot be used. Messages start with `file:line:`; entry numbers are 1-based,
/// counted within the layer's `keymap` array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    /// Not TOML, or not the keymap shape (wrong types, unknown fields such as `command =`).
    #[error("{file}:{line}:{column}: invalid keymap file: {message}")]
    Toml {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}: unknown layer [{layer}]; the layers are {known}", known = Layer::ALL.map(Layer::name).join(", "))]
    UnknownLayer {
        file: String,
        line: usize,
        layer: String,
    },
    #[error("{file}:{line}: [{layer}] entry {index}: missing `{field}`")]
    MissingField {
        file: String,
        line: usize,
        layer: Layer,
        index: usize,
        field: &'static str,
    },
    #[error(
        "{file}:{line}: [{layer}] entry {index}: on = {on} is a key sequence; only single keys are \
         supported, e.g. on = \"f5\""
    )]
    KeySequence {
        file: String,
        line: usize,
        layer: Layer,
        index: usize,
        on: String,
    },
    #[error(
        "{file}:{line}: [{layer}] entry {index}: on = {on} is not a key; write one key as a \
         string, e.g. on = \"f5\""
    )]
    OnNotAKey {
        file: String,
        line: usize,
        layer: Layer,
        index: usize,
        on: String,
    },
    #[error("{file}:{line}: [{layer}] entry {index}: cannot read key \"{on}\": {reason}")]
    BadKey {
        file: String,
        line: usize,
        layer: Layer,
        index: usize,
        on: String,
        #[source]
        reason: KeyParseError,
    },
    #[error(
        "{file}:{line}: [{layer}] entry {index}: key \"{on}\" runs unknown command \"{command}\"; \
         the commands are {known}, or \"none\" to unbind",
        known = command_names()
    )]
    UnknownCommand {
        file: String,
        line: usize,
        layer: Layer,
        index: usize,
        on: String,
        command: String,
    },
    #[error(
        "{file}:{line}: [{layer}] entry {index}: key \"{key}\" is bound twice in [{layer}] (first \
         on line {first_line})"
    )]
    DuplicateKey {
        file: String,
        line: usize,
        layer: Layer,
        index: usize,
        key: Key,
        first_line: usize,
    },
    #[error(
        "{file}:{line}: [{layer}] entry {index}: key \"{key}\" types into the scan line and cannot \
         be bound (run = \"{command}\"); use a function key or a ctrl-/alt- key"
    )]
    PrintableKey {
        file: String,
        line: usize,
        layer: Layer,
        index: usize,
        key: Key,
        command: String,
    },
    #[error(
        "{file}:{line}: [{layer}] entry {index}: key \"{key}\" never arrives: xterm-like terminals send \
         it as ESC [1;<mod>R, which is also the terminal's cursor-position report, and is read as \
         that; use another key"
    )]
    UnreadableKey {
        file: String,
        line: usize,
        layer: Layer,
        index: usize,
        key: Key,
    },
    #[error(
        "{file}:{line}: [{layer}] entry {index}: \"{command}\" cannot be bound to \"{key}\": barcode \
         scanners send that control byte, so a scan could trigger it"
    )]
    ScannerControlKey {
        file: String,
        line: usize,
        layer: Layer,
        index: usize,
        key: Key,
        command: KeyCommand,
    },
}

// ---------------------------------------------------------------------------------------------------
// File format

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayer {
    #[serde(default)]
    keymap: Vec<Spanned<RawEntry>>,
}

// `on` and `run` are optional here so that a missing one is reported with its layer and entry
// instead of serde's context-free "missing field".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    on: Option<Spanned<toml::Value>>,
    run: Option<Spanned<String>>,
    desc: Option<String>,
    label: Option<String>,
}

/// The `run` value that unbinds a key.
const UNBIND: &str = "none";

/// One validated entry. `command: None` is an explicit unbinding: it also hides a `[global]` binding
/// of the same key while its layer is active.
#[derive(Debug, Clone)]
struct Entry {
    key: Key,
    command: Option<KeyCommand>,
    desc: Option<String>,
    label: Option<String>,
    file: String,
    line: usize,
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    let column = text
        .get(line_start..offset)
        .map_or(offset - line_start, |s| s.chars().count())
        + 1;
    (line, column)
}

fn line_of(text: &str, offset: usize) -> usize {
    line_col(text, offset).0
}

fn toml_error(file: &str, text: &str, error: &toml::de::Error) -> KeymapError {
    let (line, column) = line_col(text, error.span().map_or(0, |s| s.start));
    KeymapError::Toml {
        file: file.to_owned(),
        line,
        column,
        message: error.message().trim().to_owned(),
    }
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Parses and validates one keymap file into its layers' entries.
fn parse_file(text: &str, file: &str) -> Result<Vec<(Layer, Vec<Entry>)>, KeymapError> {
    // First only the table names with their spans, so an unknown layer is reported as such (with
    // its line) rather than as whatever shape error its contents would cause.
    let names: BTreeMap<Spanned<String>, IgnoredAny> =
        toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
    if let Some(unknown) = names
        .keys()
        .filter(|name| Layer::from_name(name.get_ref()).is_none())
        .min_by_key(|name| name.span().start)
    {
        return Err(KeymapError::UnknownLayer {
            file: file.to_owned(),
            line: line_of(text, unknown.span().start),
            layer: unknown.get_ref().clone(),
        });
    }

    let mut raw: BTreeMap<String, RawLayer> =
        toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
    let mut layers = Vec::new();
    for layer in Layer::ALL {
        if let Some(raw_layer) = raw.remove(layer.name()) {
            layers.push((layer, parse_layer(text, file, layer, raw_layer)?));
        }
    }
    Ok(layers)
}

fn parse_layer(
    text: &str,
    file: &str,
    layer: Layer,
    raw: RawLayer,
) -> Result<Vec<Entry>, KeymapError> {
    let mut entries: Vec<Entry> = Vec::with_capacity(raw.keymap.len());
    for (i, spanned) in raw.keymap.into_iter().enumerate() {
        let index = i + 1;
        let entry_line = line_of(text, spanned.span().start);
        let raw = spanned.into_inner();
        let file_s = || file.to_owned();

        let on = raw.on.ok_or_else(|| KeymapError::MissingField {
            file: file_s(),
            line: entry_line,
            layer,
            index,
            field: "on",
        })?;
        let line = line_of(text, on.span().start);
        let on = match on.into_inner() {
            toml::Value::String(s) => s,
            toml::Value::Array(items) => {
                return Err(KeymapError::KeySequence {
                    file: file_s(),
                    line,
                    layer,
                    index,
                    on: toml::Value::Array(items).to_string(),
                });
            }
            other => {
                return Err(KeymapError::OnNotAKey {
                    file: file_s(),
                    line,
                    layer,
                    index,
                    on: other.to_string(),
                });
            }
        };
        let key: Key = on.parse().map_err(|reason| KeymapError::BadKey {
            file: file_s(),
            line,
            layer,
            index,
            on: on.clone(),
            reason,
        })?;

        let run = raw.run.ok_or_else(|| KeymapError::MissingField {
            file: file_s(),
            line: entry_line,
            layer,
            index,
            field: "run",
        })?;
        let run_line = line_of(text, run.span().start);
        let run = run.into_inner();
        let command = if run == UNBIND {
            None
        } else {
            Some(
                KeyCommand::from_name(&run).ok_or_else(|| KeymapError::UnknownCommand {
                    file: file_s(),
                    line: run_line,
                    layer,
                    index,
                    on: on.clone(),
                    command: run.clone(),
                })?,
            )
        };

        // Checked even for "none": a printable key can never be bound, so unbinding it is a
        // misunderstanding worth pointing out.
        if key.is_printable() {
            return Err(KeymapError::PrintableKey {
                file: file_s(),
                line,
                layer,
                index,
                key,
                command: run,
            });
        }
        if key.code == KeyCode::F(3) && !key.modifiers.is_empty() && command.is_some() {
            return Err(KeymapError::UnreadableKey {
                file: file_s(),
                line,
                layer,
                index,
                key,
            });
        }
        if let Some(command) = command
            && command.is_destructive()
            && SCANNER_CONTROL_KEYS.contains(&key)
        {
            return Err(KeymapError::ScannerControlKey {
                file: file_s(),
                line,
                layer,
                index,
                key,
                command,
            });
        }
        if let Some(first) = entries.iter().find(|e| e.key == key) {
            return Err(KeymapError::DuplicateKey {
                file: file_s(),
                line,
                layer,
                index,
                key,
                first_line: first.line,
            });
        }

        entries.push(Entry {
            key,
            command,
            desc: non_empty(raw.desc),
            label: non_empty(raw.label),
            file: file_s(),
            line,
        });
    }
    Ok(entries)
}

// ---------------------------------------------------------------------------------------------------
// The loaded keymap

/// An effective binding, for the generated help overlay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The layer the binding comes from: the active layer or [`Layer::Global`].
    pub layer: Layer,
    pub key: Key,
    pub command: KeyCommand,
    /// The entry's `desc`, or the command's default description.
    pub desc: String,
}

/// The validated, merged keymap of a station.
#[derive(Debug, Clone)]
pub struct Keymap {
    /// Indexed by [`Layer::index`]; entries in file order, site additions after shipped ones.
    layers: [Vec<Entry>; Layer::ALL.len()],
    /// File names, shipped first.
    sources: Vec<String>,
}

impl Keymap {
    /// Loads the shipped keymap and, optionally, a site keymap layered over it.
    ///
    /// `site` is `(text, name)`. A site entry with the same key in the same layer replaces the
    /// shipped entry in place; a new key is appended; `run = "none"` unbinds the key in that layer
    /// (in a screen layer this also hides the `[global]` binding of that key on that screen).
    /// Both files are fully validated; the first error is returned.
    pub fn load(
        default_text: &str,
        default_name: &str,
        site: Option<(&str, &str)>,
    ) -> Result<Keymap, KeymapError> {
        let mut keymap = Keymap {
            layers: Default::default(),
            sources: Vec::new(),
        };
        keymap.merge_file(default_text, default_name)?;
        if let Some((text, name)) = site {
            keymap.merge_file(text, name)?;
        }
        Ok(keymap)
    }

    /// The embedded shipped keymap alone. It cannot fail in practice (a unit test loads it), but
    /// returns the error rather than panicking so a broken build fails loudly and cleanly.
    pub fn embedded_default() -> Result<Keymap, KeymapError> {
        Keymap::load(DEFAULT_KEYMAP, DEFAULT_KEYMAP_NAME, None)
    }

    /// The embedded shipped keymap with a site file over it.
    pub fn embedded_with_site(site_text: &str, site_name: &str) -> Result<Keymap, KeymapError> {
        Keymap::load(
            DEFAULT_KEYMAP,
            DEFAULT_KEYMAP_NAME,
            Some((site_text, site_name)),
        )
    }

    fn merge_file(&mut self, text: &str, name: &str) -> Result<(), KeymapError> {
        for (layer, entries) in parse_file(text, name)? {
            let slot = &mut self.layers[layer.index()];
            for entry in entries {
                match slot.iter_mut().find(|e| e.key == entry.key) {
                    Some(existing) => *existing = entry,
                    None => slot.push(entry),
                }
            }
        }
        self.sources.push(name.to_owned());
        Ok(())
    }

    /// The files this map was loaded from, shipped first.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    fn entry(&self, layer: Layer, key: &Key) -> Option<&Entry> {
        self.layers[layer.index()].iter().find(|e| e.key == *key)
    }

    /// The command a key runs in `layer`: the layer's own entry if it has one (an unbinding counts
    /// and yields `None`), otherwise the `[global]` entry.
    pub fn resolve(&self, layer: Layer, key: &Key) -> Option<KeyCommand> {
        match self.entry(layer, key) {
            Some(entry) => entry.command,
            None if layer != Layer::Global => {
                self.entry(Layer::Global, key).and_then(|e| e.command)
            }
            None => None,
        }
    }

    /// The entries that are live in `layer`: its own, then the global ones it does not shadow.
    fn effective(&self, layer: Layer) -> Vec<(Layer, &Entry, KeyCommand)> {
        let own = &self.layers[layer.index()];
        let mut out: Vec<(Layer, &Entry, KeyCommand)> = own
            .iter()
            .filter_map(|e| e.command.map(|c| (layer, e, c)))
            .collect();
        if layer != Layer::Global {
            out.extend(
                self.layers[Layer::Global.index()]
                    .iter()
                    .filter(|g| !own.iter().any(|e| e.key == g.key))
                    .filter_map(|g| g.command.map(|c| (Layer::Global, g, c))),
            );
        }
        out
    }

    /// Every binding that works in `layer`, the layer's own first, then the global ones it does not
    /// shadow, each in file order. This is what the help overlay lists.
    pub fn bindings(&self, layer: Layer) -> Vec<Binding> {
        self.effective(layer)
            .into_iter()
            .map(|(from, entry, command)| Binding {
                layer: from,
                key: entry.key,
                command,
                desc: entry
                    .desc
                    .clone()
                    .unwrap_or_else(|| command.description().to_owned()),
            })
            .collect()
    }

    /// The always-visible bottom legend for `layer`: `(key label, short text)` pairs.
    ///
    /// Only commands with [`KeyCommand::in_legend`]; each command once, preferring a function key
    /// (rugged terminals label their F-keys, and F10 is easier to find than Ctrl+Q); function keys
    /// first in F1..F12 order, the rest in [`Keymap::bindings`] order. The text is the entry's
    /// `label`, or the command's [`KeyCommand::label`].
    pub fn legend(&self, layer: Layer) -> Vec<(String, String)> {
        self.legend_entries(layer)
            .into_iter()
            .map(|(key, text, _)| (key, text))
            .collect()
    }

    /// [`Keymap::legend`] with the command behind each entry, so a narrow screen can choose what to
    /// leave out.
    pub fn legend_entries(&self, layer: Layer) -> Vec<(String, String, KeyCommand)> {
        let mut live: Vec<(Layer, &Entry, KeyCommand)> = self
            .effective(layer)
            .into_iter()
            .filter(|(_, _, command)| command.in_legend())
            // "Go to Run" is noise on the Run screen itself.
            .filter(|(_, _, command)| {
                !matches!(
                    (layer, command),
                    (Layer::Run, KeyCommand::ShowRun)
                        | (Layer::Queue, KeyCommand::ShowQueue)
                        | (Layer::Login, KeyCommand::ShowLogin)
                )
            })
            .collect();
        // Stable sort: non-function keys keep their relative order after all function keys.
        live.sort_by_key(|(_, entry, _)| match entry.key.code {
            KeyCode::F(n) if entry.key.modifiers.is_empty() => u16::from(n),
            _ => u16::MAX,
        });
        let mut seen: Vec<KeyCommand> = Vec::new();
        let mut out = Vec::new();
        for (_, entry, command) in live {
            if seen.contains(&command) {
                continue;
            }
            seen.push(command);
            out.push((
                entry.key.label(),
                entry
                    .label
                    .clone()
                    .unwrap_or_else(|| command.label().to_owned()),
                command,
            ));
        }
        out
    }

    /// The effective map as keymap TOML (for `takt station --print-keymap`), each entry followed by
    /// the file and line it came from. The output loads again as a keymap file.
    pub fn print(&self) -> String {
        let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let mut out = String::from("# Effective Takt keymap.\n");
        out.push_str(&format!(
            "# Loaded from (later files override earlier ones): {}\n",
            self.sources.join(", ")
        ));
        out.push_str("# A key is looked up in the active layer first, then in [global].\n");
        for layer in Layer::ALL {
            let entries = &self.layers[layer.index()];
            out.push_str(&format!("\n[{layer}]\n"));
            if entries.is_empty() {
                out.push_str("keymap = []\n");
                continue;
            }
            out.push_str("keymap = [\n");
            // Columns aligned per layer so a supervisor can scan the keys and commands.
            let rows: Vec<(String, String, &Entry)> = entries
                .iter()
                .map(|entry| {
                    let on = format!("on = {},", quote(&entry.key.to_string()));
                    let run = format!(
                        "run = {}",
                        quote(entry.command.map_or(UNBIND, KeyCommand::name))
                    );
                    (on, run, entry)
                })
                .collect();
            let on_width = rows.iter().map(|(on, _, _)| on.len()).max().unwrap_or(0);
            let run_width = rows.iter().map(|(_, run, _)| run.len()).max().unwrap_or(0);
            for (on, run, entry) in rows {
                let mut fields = format!("{on:<on_width$} {run}");
                if let Some(command) = entry.command {
                    let desc = entry.desc.as_deref().unwrap_or(command.description());
                    fields.push_str(&format!(
                        ",{:pad$} desc = {}",
                        "",
                        quote(desc),
                        pad = run_width - run.len()
                    ));
                }
                if let Some(label) = &entry.label {
                    fields.push_str(&format!(", label = {}", quote(label)));
                }
                out.push_str(&format!(
                    "  {{ {fields} }},  # {}:{}\n",
                    entry.file, entry.line
                ));
            }
            out.push_str("]\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyEventKind, KeyEventState};

    fn key(s: &str) -> Key {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn default_map() -> Keymap {
        Keymap::embedded_default().expect("shipped keymap loads")
    }

    fn site(text: &str) -> Result<Keymap, KeymapError> {
        Keymap::embedded_with_site(text, "site.toml")
    }

    /// Loads `text` as the only file and returns the error message.
    fn load_err(text: &str) -> (KeymapError, String) {
        let err = Keymap::load(text, "bad.toml", None).expect_err("keymap should be rejected");
        let msg = err.to_string();
        (err, msg)
    }

    #[test]
    fn every_shipped_keymap_loads_alone_and_as_a_site_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("keymaps");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("keymaps/ is readable") {
            let path = entry.expect("directory entry").path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("keymap file is readable");
            let name = path.display().to_string();
            Keymap::load(&text, &name, None).unwrap_or_else(|e| panic!("{e}"));
            Keymap::embedded_with_site(&text, &name).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
        assert!(seen >= 1, "no keymaps found in {}", dir.display());
    }

    #[test]
    fn embedded_default_is_the_file_on_disk() {
        let on_disk =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/keymaps/default.toml"))
                .expect("default.toml is readable");
        assert_eq!(on_disk, DEFAULT_KEYMAP);
    }

    #[test]
    fn default_map_binds_what_the_station_needs() {
        let map = default_map();
        let cases = [
            (Layer::Global, "f1", Some(KeyCommand::Help)),
            (Layer::Global, "f2", Some(KeyCommand::ShowQueue)),
            (Layer::Global, "f3", Some(KeyCommand::ShowRun)),
            (Layer::Global, "f9", Some(KeyCommand::Logout)),
            (Layer::Global, "f10", Some(KeyCommand::Quit)),
            (Layer::Global, "ctrl-q", Some(KeyCommand::Quit)),
            (Layer::Global, "enter", Some(KeyCommand::SubmitScan)),
            (Layer::Global, "esc", Some(KeyCommand::ClearScan)),
            (Layer::Global, "backspace", Some(KeyCommand::DeleteChar)),
            (Layer::Global, "f5", None),
            (Layer::Queue, "up", Some(KeyCommand::SelectPrev)),
            (Layer::Queue, "down", Some(KeyCommand::SelectNext)),
            (Layer::Queue, "f5", Some(KeyCommand::Start)),
            (Layer::Queue, "f6", None),
            (Layer::Run, "f5", Some(KeyCommand::Start)),
            (Layer::Run, "f6", Some(KeyCommand::PauseResume)),
            (Layer::Run, "f7", Some(KeyCommand::ShowDowntime)),
            (Layer::Login, "f7", None),
            (Layer::Downtime, "left", Some(KeyCommand::ReasonPrev)),
            (Layer::Downtime, "right", Some(KeyCommand::ReasonNext)),
            (Layer::Downtime, "esc", Some(KeyCommand::Close)),
            (Layer::Run, "f8", Some(KeyCommand::Complete)),
            (Layer::Run, "up", None),
            (Layer::Login, "f5", None),
            (Layer::Help, "esc", Some(KeyCommand::Close)),
            (Layer::Help, "f1", Some(KeyCommand::Close)),
            (Layer::Global, "f11", Some(KeyCommand::ScannerTest)),
            (Layer::Login, "f11", Some(KeyCommand::ScannerTest)),
            (Layer::ScannerTest, "esc", Some(KeyCommand::Close)),
            (Layer::ScannerTest, "f3", Some(KeyCommand::Close)),
            (Layer::ScannerTest, "f9", None),
            (Layer::ScannerTest, "f10", Some(KeyCommand::Quit)),
            (Layer::ScannerTest, "enter", Some(KeyCommand::SubmitScan)),
        ];
        for (layer, k, want) in cases {
            assert_eq!(map.resolve(layer, &key(k)), want, "{layer} {k}");
        }
    }

    #[test]
    fn resolve_falls_back_to_global_and_layer_wins() {
        let map = default_map();
        // Not in [queue]: from [global].
        assert_eq!(
            map.resolve(Layer::Queue, &key("ctrl-q")),
            Some(KeyCommand::Quit)
        );
        assert_eq!(
            map.resolve(Layer::Login, &key("enter")),
            Some(KeyCommand::SubmitScan)
        );
        // [help] overrides global esc and f1.
        assert_eq!(
            map.resolve(Layer::Run, &key("esc")),
            Some(KeyCommand::ClearScan)
        );
        assert_eq!(
            map.resolve(Layer::Help, &key("esc")),
            Some(KeyCommand::Close)
        );
        // Unbound anywhere.
        assert_eq!(map.resolve(Layer::Run, &key("ctrl-x")), None);
    }

    #[test]
    fn every_command_has_a_unique_name_that_round_trips() {
        for command in KeyCommand::ALL {
            assert_eq!(command.name().parse::<KeyCommand>(), Ok(command));
            assert!(!command.description().is_empty());
            assert!(!command.label().is_empty());
        }
        let mut names = KeyCommand::ALL.map(KeyCommand::name).to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KeyCommand::ALL.len());
        assert_eq!(
            "nope"
                .parse::<KeyCommand>()
                .expect_err("keymap should be rejected")
                .to_string(),
            "unknown command \"nope\""
        );
        for layer in Layer::ALL {
            assert_eq!(layer.name().parse::<Layer>(), Ok(layer));
        }
        assert!("main".parse::<Layer>().is_err());
    }

    // --- key syntax -----------------------------------------------------------------------------

    #[test]
    fn key_parse_display_round_trips() {
        let canonical = [
            "f1",
            "f12",
            "enter",
            "esc",
            "tab",
            "backtab",
            "backspace",
            "delete",
            "insert",
            "up",
            "down",
            "left",
            "right",
            "home",
            "end",
            "pageup",
            "pagedown",
            "space",
            "ctrl-q",
            "ctrl-shift-q",
            "alt-x",
            "alt-shift-x",
            "ctrl-alt-delete",
            "shift-f5",
            "ctrl-space",
            "ctrl-]",
            "ctrl--",
            "-",
            "a",
            "shift-a",
            "ctrl-5",
            "é",
        ];
        for text in canonical {
            let k = key(text);
            assert_eq!(k.to_string(), text, "display of {text}");
            assert_eq!(key(&k.to_string()), k);
        }
    }

    #[test]
    fn key_parse_normalises_equivalent_spellings() {
        let same = [
            ("F5", "f5"),
            ("Enter", "enter"),
            ("escape", "esc"),
            ("CTRL-Q", "ctrl-q"),
            ("ctrl-Q", "ctrl-q"),
            ("Ctrl-Shift-Q", "ctrl-shift-q"),
            ("shift-ctrl-q", "ctrl-shift-q"),
            ("alt-ctrl-x", "ctrl-alt-x"),
            ("shift-tab", "backtab"),
            ("shift-backtab", "backtab"),
            ("A", "shift-a"),
            ("alt-X", "alt-shift-x"),
            (" ", "space"),
        ];
        for (a, b) in same {
            assert_eq!(key(a), key(b), "{a} vs {b}");
        }
        assert_ne!(key("alt-x"), key("alt-X"));
        assert_eq!(key("f5").code(), KeyCode::F(5));
        assert_eq!(key("ctrl-q").modifiers(), KeyModifiers::CONTROL);
    }

    #[test]
    fn key_parse_errors() {
        let cases = [
            ("", KeyParseError::Empty),
            ("ctrl-", KeyParseError::MissingKey("ctrl".into())),
            (
                "ctrl-ctrl-q",
                KeyParseError::DuplicateModifier("ctrl".into()),
            ),
            ("f0", KeyParseError::FunctionKeyOutOfRange("f0".into())),
            ("f13", KeyParseError::FunctionKeyOutOfRange("f13".into())),
            ("f300", KeyParseError::FunctionKeyOutOfRange("f300".into())),
            ("pgup", KeyParseError::UnknownKey("pgup".into())),
            ("super-q", KeyParseError::UnknownKey("super-q".into())),
            ("<C-q>", KeyParseError::UnknownKey("<C-q>".into())),
            ("ctrl-qq", KeyParseError::UnknownKey("qq".into())),
            ("shift-1", KeyParseError::ShiftedSymbol('1')),
            ("\t", KeyParseError::ControlChar),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<Key>(), Err(want), "{text:?}");
        }
    }

    #[test]
    fn key_labels_are_for_people() {
        let cases = [
            ("f5", "F5"),
            ("esc", "Esc"),
            ("enter", "Enter"),
            ("ctrl-q", "Ctrl+Q"),
            ("ctrl-shift-q", "Ctrl+Shift+Q"),
            ("alt-x", "Alt+X"),
            ("backtab", "Shift+Tab"),
            ("shift-f5", "Shift+F5"),
            ("pagedown", "PgDn"),
            ("ctrl-space", "Ctrl+Space"),
            ("delete", "Del"),
        ];
        for (text, label) in cases {
            assert_eq!(key(text).label(), label, "{text}");
        }
    }

    fn event(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn from_event_matches_parsed_keys() {
        let cases = [
            (event(KeyCode::F(5), KeyModifiers::NONE), "f5"),
            (event(KeyCode::Char('q'), KeyModifiers::CONTROL), "ctrl-q"),
            // Shift on letters is carried by the case, however the terminal reports it.
            (event(KeyCode::Char('A'), KeyModifiers::SHIFT), "shift-a"),
            (event(KeyCode::Char('a'), KeyModifiers::SHIFT), "shift-a"),
            (event(KeyCode::Char('A'), KeyModifiers::NONE), "shift-a"),
            (
                event(
                    KeyCode::Char('q'),
                    KeyModifiers::CONTROL | KeyModifiers::SHIFT,
                ),
                "ctrl-shift-q",
            ),
            // Shifted symbols: the character is what counts.
            (event(KeyCode::Char('!'), KeyModifiers::SHIFT), "!"),
            // crossterm reports back-tab with SHIFT on Unix, without it elsewhere.
            (event(KeyCode::BackTab, KeyModifiers::SHIFT), "backtab"),
            (event(KeyCode::BackTab, KeyModifiers::NONE), "backtab"),
            (event(KeyCode::Tab, KeyModifiers::SHIFT), "backtab"),
            // GS from a scanner, as crossterm reports it on Unix.
            (event(KeyCode::Char('5'), KeyModifiers::CONTROL), "ctrl-5"),
        ];
        for (ev, text) in cases {
            assert_eq!(Key::from_event(&ev), key(text), "{ev:?}");
            assert!(key(text) == ev);
        }
    }

    #[test]
    fn from_event_keeps_modifiers_that_change_the_meaning() {
        // Extra modifiers must not fall through to the plain binding.
        assert_ne!(
            Key::from_event(&event(KeyCode::F(5), KeyModifiers::SHIFT)),
            key("f5")
        );
        assert_ne!(
            Key::from_event(&event(KeyCode::F(5), KeyModifiers::ALT)),
            key("f5")
        );
        assert_ne!(
            Key::from_event(&event(KeyCode::F(5), KeyModifiers::SUPER)),
            key("f5")
        );
        assert_ne!(
            Key::from_event(&event(KeyCode::Char('q'), KeyModifiers::META)),
            key("q")
        );
        assert_ne!(
            Key::from_event(&event(
                KeyCode::Char('q'),
                KeyModifiers::CONTROL | KeyModifiers::ALT
            )),
            key("ctrl-q")
        );
        assert_ne!(
            Key::from_event(&event(KeyCode::Tab, KeyModifiers::NONE)),
            key("backtab")
        );
        assert_ne!(
            Key::from_event(&event(KeyCode::Char('a'), KeyModifiers::NONE)),
            key("shift-a")
        );
        assert_eq!(
            Key::from_event(&event(KeyCode::F(5), KeyModifiers::SUPER)).to_string(),
            "super-f5"
        );
        let map = default_map();
        let alt_f10 = Key::from_event(&event(KeyCode::F(10), KeyModifiers::ALT));
        assert_eq!(map.resolve(Layer::Run, &alt_f10), None);
    }

    #[test]
    fn from_event_ignores_kind_and_state_which_the_caller_handles() {
        let mut ev = KeyEvent::new_with_kind_and_state(
            KeyCode::Enter,
            KeyModifiers::NONE,
            KeyEventKind::Release,
            KeyEventState::KEYPAD,
        );
        assert_eq!(Key::from_event(&ev), key("enter"));
        ev.kind = KeyEventKind::Repeat;
        assert_eq!(Key::from_event(&ev), key("enter"));
    }

    #[test]
    fn printable_keys() {
        for k in ["a", "shift-a", "1", "space", "-", "é"] {
            assert!(key(k).is_printable(), "{k}");
        }
        for k in [
            "ctrl-a",
            "alt-a",
            "ctrl-space",
            "f1",
            "enter",
            "tab",
            "ctrl-alt-a",
        ] {
            assert!(!key(k).is_printable(), "{k}");
        }
    }

    // --- validation -----------------------------------------------------------------------------

    #[test]
    fn invalid_toml_names_file_and_line() {
        let (err, msg) = load_err("[global]\nkeymap = [\n  { on = \"f1\" run = \"help\" },\n]\n");
        assert!(matches!(err, KeymapError::Toml { line: 3, .. }), "{err:?}");
        assert!(msg.starts_with("bad.toml:3:"), "{msg}");
    }

    #[test]
    fn wrong_field_names_are_rejected_with_their_line() {
        let (err, msg) =
            load_err("[global]\nkeymap = [\n  { on = \"f1\", command = \"help\" },\n]\n");
        assert!(matches!(err, KeymapError::Toml { line: 3, .. }), "{err:?}");
        assert!(msg.contains("command"), "{msg}");
    }

    #[test]
    fn unknown_layer() {
        let (err, msg) =
            load_err("[global]\nkeymap = []\n\n[inspection]\nkeymap = [ { on = 1 } ]\n");
        assert!(
            matches!(err, KeymapError::UnknownLayer { line: 4, ref layer, .. } if layer == "inspection"),
            "{err:?}"
        );
        assert_eq!(
            msg,
            "bad.toml:4: unknown layer [inspection]; the layers are global, login, queue, run, help, \
             scanner-test, trace, downtime, history, inspect"
        );
        // A stray top-level value is not a layer either.
        let (err, _) = load_err("version = 1\n");
        assert!(matches!(err, KeymapError::UnknownLayer { line: 1, .. }));
    }

    #[test]
    fn unknown_command() {
        let (err, msg) = load_err(
            "[queue]\nkeymap = [\n  { on = \"up\", run = \"select-prev\" },\n  { on = \"f5\", run = \"start-order\" },\n]\n",
        );
        assert!(
            matches!(
                err,
                KeymapError::UnknownCommand {
                    line: 4,
                    index: 2,
                    layer: Layer::Queue,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            msg.starts_with(
                "bad.toml:4: [queue] entry 2: key \"f5\" runs unknown command \"start-order\"; the commands are help, quit,"
            ),
            "{msg}"
        );
        // Every command is offered, in their order.
        let names: Vec<&str> = KeyCommand::ALL.iter().map(|c| c.name()).collect();
        assert!(
            msg.ends_with(&format!("{}, or \"none\" to unbind", names.join(", "))),
            "{msg}"
        );
    }

    #[test]
    fn unparsable_key() {
        let (err, msg) = load_err("[run]\nkeymap = [\n\n  { on = \"f13\", run = \"start\" },\n]\n");
        assert!(
            matches!(
                err,
                KeymapError::BadKey {
                    line: 4,
                    index: 1,
                    layer: Layer::Run,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            msg,
            "bad.toml:4: [run] entry 1: cannot read key \"f13\": function keys go from f1 to f12, not \"f13\""
        );
    }

    #[test]
    fn key_sequences_and_non_strings_are_rejected() {
        let (err, msg) =
            load_err("[global]\nkeymap = [ { on = [\"g\", \"g\"], run = \"help\" } ]\n");
        assert!(
            matches!(
                err,
                KeymapError::KeySequence {
                    line: 2,
                    index: 1,
                    layer: Layer::Global,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            msg,
            "bad.toml:2: [global] entry 1: on = [\"g\", \"g\"] is a key sequence; only single keys are supported, e.g. on = \"f5\""
        );
        let (err, msg) = load_err("[global]\nkeymap = [ { on = 5, run = \"help\" } ]\n");
        assert!(matches!(err, KeymapError::OnNotAKey { .. }), "{err:?}");
        assert!(msg.contains("on = 5 is not a key"), "{msg}");
    }

    #[test]
    fn missing_fields() {
        let (err, msg) = load_err("[global]\nkeymap = [\n  { on = \"f1\" },\n]\n");
        assert!(
            matches!(
                err,
                KeymapError::MissingField {
                    line: 3,
                    field: "run",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(msg, "bad.toml:3: [global] entry 1: missing `run`");
        let (err, _) = load_err("[global]\nkeymap = [\n  { run = \"help\" },\n]\n");
        assert!(matches!(err, KeymapError::MissingField { field: "on", .. }));
    }

    #[test]
    fn duplicate_key_in_one_layer() {
        let (err, msg) = load_err(
            "[run]\nkeymap = [\n  { on = \"f5\", run = \"start\" },\n  { on = \"F5\", run = \"pause\" },\n]\n",
        );
        assert!(
            matches!(
                err,
                KeymapError::DuplicateKey {
                    line: 4,
                    index: 2,
                    first_line: 3,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            msg,
            "bad.toml:4: [run] entry 2: key \"f5\" is bound twice in [run] (first on line 3)"
        );
        // Different spellings of one key are still the same key.
        let (err, _) = load_err(
            "[queue]\nkeymap = [ { on = \"backtab\", run = \"select-prev\" }, { on = \"shift-tab\", run = \"select-next\" } ]\n",
        );
        assert!(matches!(err, KeymapError::DuplicateKey { index: 2, .. }));
        // The same key in two layers is layering, not a duplicate.
        Keymap::load(
            "[global]\nkeymap = [ { on = \"f5\", run = \"help\" } ]\n[run]\nkeymap = [ { on = \"f5\", run = \"start\" } ]\n",
            "ok.toml",
            None,
        )
        .expect("keymap should load");
    }

    #[test]
    fn printable_keys_cannot_be_bound() {
        let (err, msg) = load_err("[run]\nkeymap = [\n  { on = \"s\", run = \"start\" },\n]\n");
        assert!(
            matches!(
                err,
                KeymapError::PrintableKey {
                    line: 3,
                    index: 1,
                    layer: Layer::Run,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            msg,
            "bad.toml:3: [run] entry 1: key \"s\" types into the scan line and cannot be bound (run = \"start\"); use a function key or a ctrl-/alt- key"
        );
        for k in ["shift-s", "S", "space", "1", "-"] {
            let text = format!("[run]\nkeymap = [ {{ on = \"{k}\", run = \"start\" }} ]\n");
            let (err, _) = load_err(&text);
            assert!(
                matches!(err, KeymapError::PrintableKey { .. }),
                "{k}: {err:?}"
            );
        }
        // With ctrl or alt they are fine.
        Keymap::load(
            "[run]\nkeymap = [ { on = \"ctrl-s\", run = \"start\" }, { on = \"alt-s\", run = \"pause\" } ]\n",
            "ok.toml",
            None,
        )
        .expect("keymap should load");
    }

    /// crossterm reads ESC [1;2R (Shift+F3 on xterm-like terminals) as a cursor-position report:
    /// a key bound there would never fire, so the map refuses it.
    #[test]
    fn modified_f3_is_refused_because_the_terminal_cannot_deliver_it() {
        for on in ["shift-f3", "ctrl-f3", "alt-f3"] {
            let (err, msg) = load_err(&format!(
                "[queue]\nkeymap = [\n  {{ on = \"{on}\", run = \"show-inspect\" }},\n]\n"
            ));
            assert!(
                matches!(err, KeymapError::UnreadableKey { line: 3, .. }),
                "{on}: {err:?}"
            );
            assert!(msg.contains("cursor-position report"), "{msg}");
        }
        // Plain F3 arrives as ESC OR and is fine.
        Keymap::load(
            "[queue]\nkeymap = [ { on = \"f3\", run = \"show-inspect\" } ]\n",
            "ok.toml",
            None,
        )
        .expect("plain f3");
    }

    #[test]
    fn destructive_commands_cannot_sit_on_scanner_control_bytes() {
        let (err, msg) =
            load_err("[global]\nkeymap = [\n  { on = \"ctrl-c\", run = \"quit\" },\n]\n");
        assert!(
            matches!(
                err,
                KeymapError::ScannerControlKey {
                    line: 3,
                    index: 1,
                    layer: Layer::Global,
                    command: KeyCommand::Quit,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            msg,
            "bad.toml:3: [global] entry 1: \"quit\" cannot be bound to \"ctrl-c\": barcode scanners send that control byte, so a scan could trigger it"
        );
        for k in [
            "ctrl-c", "ctrl-d", "ctrl-j", "ctrl-]", "ctrl-5", "ctrl-^", "ctrl-6", "ctrl-C",
        ] {
            for command in KeyCommand::ALL {
                let text = format!(
                    "[run]\nkeymap = [ {{ on = \"{k}\", run = \"{}\" }} ]\n",
                    command.name()
                );
                let result = Keymap::load(&text, "x.toml", None);
                if command.is_destructive() {
                    assert!(
                        matches!(result, Err(KeymapError::ScannerControlKey { .. })),
                        "{k} {command}: {result:?}"
                    );
                } else {
                    assert!(result.is_ok(), "{k} {command}: {result:?}");
                }
            }
        }
        // Other control keys are fine for destructive commands.
        Keymap::load(
            "[global]\nkeymap = [ { on = \"ctrl-x\", run = \"logout\" } ]\n",
            "ok.toml",
            None,
        )
        .expect("keymap should load");
    }

    // --- layering -------------------------------------------------------------------------------

    #[test]
    fn site_file_replaces_adds_and_unbinds() {
        let map = site(
            "[run]\nkeymap = [\n  { on = \"f8\", run = \"pause\", desc = \"Hold\" },\n  { on = \"f11\", run = \"complete\" },\n  { on = \"f7\", run = \"none\" },\n]\n\n[global]\nkeymap = [ { on = \"ctrl-q\", run = \"none\" } ]\n",
        )
        .expect("keymap should load");
        // Replaced.
        assert_eq!(map.resolve(Layer::Run, &key("f8")), Some(KeyCommand::Pause));
        // Added.
        assert_eq!(
            map.resolve(Layer::Run, &key("f11")),
            Some(KeyCommand::Complete)
        );
        // Unbound.
        assert_eq!(map.resolve(Layer::Run, &key("f7")), None);
        assert_eq!(map.resolve(Layer::Queue, &key("ctrl-q")), None);
        assert_eq!(map.resolve(Layer::Global, &key("ctrl-q")), None);
        // Untouched.
        assert_eq!(map.resolve(Layer::Run, &key("f5")), Some(KeyCommand::Start));
        assert_eq!(
            map.resolve(Layer::Global, &key("f10")),
            Some(KeyCommand::Quit)
        );
        // A replaced entry keeps its place in the help; the site's desc is used.
        let run: Vec<(String, KeyCommand, String)> = map
            .bindings(Layer::Run)
            .into_iter()
            .filter(|b| b.layer == Layer::Run)
            .map(|b| (b.key.to_string(), b.command, b.desc))
            .collect();
        assert_eq!(
            run,
            vec![
                ("f5".into(), KeyCommand::Start, "Start work order".into()),
                (
                    "f6".into(),
                    KeyCommand::PauseResume,
                    "Pause or resume work order".into()
                ),
                ("f8".into(), KeyCommand::Pause, "Hold".into()),
                (
                    "shift-f2".into(),
                    KeyCommand::ShowInspect,
                    "Inspect a lot against its plan".into()
                ),
                (
                    "f11".into(),
                    KeyCommand::Complete,
                    "Complete work order".into()
                ),
            ]
        );
        assert_eq!(map.sources(), ["keymaps/default.toml", "site.toml"]);
    }

    #[test]
    fn site_unbind_in_a_layer_hides_the_global_binding_there_only() {
        let map = site("[run]\nkeymap = [ { on = \"f10\", run = \"none\" } ]\n")
            .expect("keymap should load");
        assert_eq!(map.resolve(Layer::Run, &key("f10")), None);
        assert_eq!(
            map.resolve(Layer::Queue, &key("f10")),
            Some(KeyCommand::Quit)
        );
        assert!(!map.bindings(Layer::Run).iter().any(|b| b.key == key("f10")));
    }

    #[test]
    fn site_file_errors_name_the_site_file() {
        let err = site("[run]\nkeymap = [\n  { on = \"f5\", run = \"strat\" },\n]\n")
            .expect_err("keymap should be rejected");
        assert!(
            err.to_string().starts_with("site.toml:3: [run] entry 1:"),
            "{err}"
        );
        // The shipped entry is replaced, not duplicated; but a duplicate within the site file is an
        // error.
        let err = site(
            "[run]\nkeymap = [ { on = \"f5\", run = \"pause\" },\n { on = \"f5\", run = \"resume\" } ]\n",
        )
        .expect_err("keymap should be rejected");
        assert!(
            matches!(err, KeymapError::DuplicateKey { ref file, line: 3, .. } if file == "site.toml"),
            "{err:?}"
        );
    }

    #[test]
    fn bindings_list_the_layer_then_unshadowed_globals() {
        let map = default_map();
        let help: Vec<(Layer, String, KeyCommand)> = map
            .bindings(Layer::Help)
            .into_iter()
            .map(|b| (b.layer, b.key.to_string(), b.command))
            .collect();
        assert_eq!(
            help,
            vec![
                (Layer::Help, "esc".into(), KeyCommand::Close),
                (Layer::Help, "f1".into(), KeyCommand::Close),
                (Layer::Global, "f2".into(), KeyCommand::ShowQueue),
                (Layer::Global, "f3".into(), KeyCommand::ShowRun),
                (Layer::Global, "f4".into(), KeyCommand::ShowTrace),
                (Layer::Global, "f7".into(), KeyCommand::ShowDowntime),
                (Layer::Global, "f9".into(), KeyCommand::Logout),
                (Layer::Global, "f10".into(), KeyCommand::Quit),
                (Layer::Global, "f11".into(), KeyCommand::ScannerTest),
                (Layer::Global, "shift-f4".into(), KeyCommand::ShowHistory),
                (Layer::Global, "ctrl-q".into(), KeyCommand::Quit),
                (Layer::Global, "enter".into(), KeyCommand::SubmitScan),
                (Layer::Global, "tab".into(), KeyCommand::SubmitScan),
                (Layer::Global, "backspace".into(), KeyCommand::DeleteChar),
            ]
        );
        // Every binding resolves to what it claims in its layer.
        for layer in Layer::ALL {
            for b in map.bindings(layer) {
                assert_eq!(map.resolve(layer, &b.key), Some(b.command));
                assert!(!b.desc.is_empty());
            }
        }
    }

    #[test]
    fn legend_shows_function_keys_in_order_each_command_once() {
        let map = default_map();
        let legend = |layer| -> Vec<String> {
            map.legend(layer)
                .into_iter()
                .map(|(k, t)| format!("{k} {t}"))
                .collect()
        };
        assert_eq!(
            legend(Layer::Run),
            // No "F3 Run" on the Run screen itself.
            [
                "F1 Help",
                "F2 Queue",
                "F5 Start",
                "F6 Pause",
                "F7 Downtime",
                "F8 Complete",
                "F9 Logout",
                "F10 Quit",
                "Shift+F2 Inspect"
            ]
        );
        assert_eq!(
            legend(Layer::Help),
            [
                "F1 Close",
                "F2 Queue",
                "F3 Run",
                "F7 Downtime",
                "F9 Logout",
                "F10 Quit"
            ]
        );
        assert_eq!(
            legend(Layer::ScannerTest),
            ["F1 Help", "F2 Queue", "F3 Back", "F10 Quit"]
        );
        // Without F10 the other quit key shows up; a site label is used.
        let map = site(
            "[global]\nkeymap = [ { on = \"f10\", run = \"none\" }, { on = \"f9\", run = \"logout\", label = \"Abmelden\" } ]\n",
        )
        .expect("keymap should load");
        let login: Vec<(String, String)> = map.legend(Layer::Queue);
        assert!(
            login.contains(&("Ctrl+Q".into(), "Quit".into())),
            "{login:?}"
        );
        assert!(
            login.contains(&("F9".into(), "Abmelden".into())),
            "{login:?}"
        );
    }

    #[test]
    fn print_shows_the_effective_map_and_loads_again() {
        let map = site(
            "[run]\nkeymap = [ { on = \"f8\", run = \"none\" }, { on = \"ctrl-shift-x\", run = \"complete\", desc = \"Say \\\"done\\\"\" } ]\n",
        )
        .expect("keymap should load");
        let printed = map.print();
        assert!(
            printed.contains("keymaps/default.toml, site.toml"),
            "{printed}"
        );
        assert!(printed.contains("[login]\nkeymap = [\n"), "{printed}");
        // Columns are aligned within a layer; each entry names where it came from.
        assert!(
            printed.contains(
                "  { on = \"f5\",           run = \"start\",        desc = \"Start work order\" },  # keymaps/default.toml:71\n"
            ),
            "{printed}"
        );
        assert!(
            printed.contains("run = \"none\" },  # site.toml:2"),
            "{printed}"
        );
        let again = Keymap::load(&printed, "printed.toml", None)
            .unwrap_or_else(|e| panic!("{e}\n{printed}"));
        for layer in Layer::ALL {
            assert_eq!(again.bindings(layer), map.bindings(layer), "{layer}");
            assert_eq!(
                again.resolve(layer, &key("f8")),
                map.resolve(layer, &key("f8"))
            );
        }
    }
}
