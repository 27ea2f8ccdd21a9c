//! The UI model: which screen, the scan line, the last notices, the help overlay. `on_*` methods
//! change it synchronously and return the effects they want as data; the loop carries them out.

use super::downtime::DowntimeScreen;
use super::history::{CorrectionStep, HistoryScreen};
use super::keymap::{Key, KeyCommand, Keymap, Layer};
use super::scanner_test::ScannerTest;
use super::trace::TraceScreen;
use crate::domain::{Command, Entry};
use crate::protocol::TraceDirection;
use crate::scan::keys::{Output, Scan, ScanDecoder, ScanSettings};
use crate::station::trace::TraceAnswer;
use crate::station::{CoreInput, Level, Notice, View};
use crossterm::event::{Event, KeyEvent, KeyEventKind};
use std::collections::VecDeque;
use std::time::Instant;

/// How many notices the Run and Status areas can look back on.
const NOTICE_HISTORY: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Login,
    Queue,
    Run,
    ScannerTest,
    Trace,
    Downtime,
    History,
    Inspect,
}

impl Screen {
    pub fn layer(self) -> Layer {
        match self {
            Screen::Login => Layer::Login,
            Screen::Queue => Layer::Queue,
            Screen::Run => Layer::Run,
            Screen::ScannerTest => Layer::ScannerTest,
            Screen::Trace => Layer::Trace,
            Screen::Downtime => Layer::Downtime,
            Screen::History => Layer::History,
            Screen::Inspect => Layer::Inspect,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Screen::Login => "Login",
            Screen::Queue => "Queue",
            Screen::Run => "Run",
            Screen::ScannerTest => "Scanner test",
            Screen::Trace => "Trace",
            Screen::Downtime => "Downtime",
            Screen::History => "History",
            Screen::Inspect => "Inspect",
        }
    }
}

/// What the loop must do after an update.
#[derive(Debug)]
#[must_use]
pub enum Effect {
    Core(CoreInput),
    /// Ask for a genealogy; the answer comes back through [`App::on_trace`].
    Trace {
        lot: String,
        direction: TraceDirection,
    },
    Bell,
    Quit,
    /// Show the next station this terminal runs.
    NextStation,
}

pub struct UiOptions {
    pub bell: bool,
    pub color: bool,
    pub login_hints: Vec<String>,
}

pub struct App {
    pub keymap: Keymap,
    pub view: View,
    pub screen: Screen,
    /// Owns the scan line: every key passes through it before the keymap sees it.
    pub decoder: ScanDecoder,
    pub scanner_test: ScannerTest,
    pub trace: TraceScreen,
    pub downtime: DowntimeScreen,
    pub history: HistoryScreen,
    pub inspect: super::inspect::InspectScreen,
    /// The lot whose hold reason the scan line is asked for.
    pub hold_reason_for: Option<String>,
    /// A correction on its way: its new value or reason is asked for on the scan line.
    pub correction: Option<CorrectionStep>,
    /// A disposition or NCR on its way (Trace screen): what it needs is asked on the scan line.
    pub quality_ask: Option<super::quality::QualityAsk>,
    pub help: bool,
    pub notices: VecDeque<Notice>,
    pub selected: usize,
    pub options: UiOptions,
}

impl App {
    pub fn new(keymap: Keymap, view: View, options: UiOptions) -> App {
        let screen = if view.operator.is_some() {
            if view.active.is_some() {
                Screen::Run
            } else {
                Screen::Queue
            }
        } else {
            Screen::Login
        };
        App {
            keymap,
            view,
            screen,
            decoder: ScanDecoder::default(),
            scanner_test: ScannerTest::default(),
            trace: TraceScreen::default(),
            downtime: DowntimeScreen::default(),
            history: HistoryScreen::default(),
            inspect: super::inspect::InspectScreen::default(),
            hold_reason_for: None,
            correction: None,
            quality_ask: None,
            help: false,
            notices: VecDeque::new(),
            selected: 0,
            options,
        }
    }

    /// The station's scanner settings (the `[scanner]` config section).
    pub fn with_scanner(mut self, settings: ScanSettings) -> App {
        self.decoder = ScanDecoder::new(settings);
        self
    }

    pub fn layer(&self) -> Layer {
        if self.help {
            Layer::Help
        } else {
            self.screen.layer()
        }
    }

    /// A new view from the core. Screens follow what happened: log in → queue, an order selected →
    /// run, logged out → login, order complete → queue. The scanner test stays open; what happened
    /// decides where it goes back to.
    pub fn on_view(&mut self, view: View) {
        let logged_in = view.operator.is_some();
        let was_logged_in = self.view.operator.is_some();
        let active = view.active.as_ref().map(|a| a.id.clone());
        let was_active = self.view.active.as_ref().map(|a| a.id.clone());
        if !logged_in {
            // What was asked of the person who left is not asked of the next.
            self.hold_reason_for = None;
            self.correction = None;
        }
        if !logged_in
            && matches!(
                self.screen,
                Screen::Trace | Screen::Downtime | Screen::History | Screen::Inspect
            )
        {
            // Tracing and coding stops are for people at work; leaving shows the login screen.
            self.screen = Screen::Login;
            // What the last inspector entered is not the next person's.
            self.inspect = super::inspect::InspectScreen::default();
        }
        let screen = match self.screen {
            Screen::ScannerTest => &mut self.scanner_test.back,
            Screen::Trace => &mut self.trace.back,
            Screen::Downtime => &mut self.downtime.back,
            Screen::History => &mut self.history.back,
            Screen::Inspect => &mut self.inspect.back,
            _ => &mut self.screen,
        };
        if !logged_in {
            *screen = Screen::Login;
        } else if !was_logged_in || active != was_active {
            *screen = if active.is_some() {
                Screen::Run
            } else {
                Screen::Queue
            };
        }
        // The highlight follows the order, not the row: a sync that re-sorts the queue must not
        // move the operator's pick onto another order.
        let highlighted = self.view.queue.get(self.selected).map(|row| row.id.clone());
        self.selected = highlighted
            .and_then(|id| view.queue.iter().position(|row| row.id == id))
            .unwrap_or(self.selected)
            .min(view.queue.len().saturating_sub(1));
        self.view = view;
        self.inspect_view_changed();
    }

    /// Whether the key's command is one the logged-in operator's roles allow. With nobody logged
    /// in every key is shown: the station says "scan your badge" when one is pressed.
    pub fn may(&self, command: KeyCommand) -> bool {
        match (command.action(), &self.view.operator) {
            (Some(action), Some(operator)) => operator.may(action),
            _ => true,
        }
    }

    /// A genealogy answer for the Trace screen; an answer to an older question is dropped.
    pub fn on_trace(&mut self, answer: TraceAnswer) {
        self.trace.answered(answer);
    }

    pub fn on_notice(&mut self, notice: Notice) -> Vec<Effect> {
        if self.inspect.sent.is_some() && matches!(notice.level, Level::Refused | Level::Error) {
            self.inspect_refused();
        }
        let bell = self.options.bell && matches!(notice.level, Level::Refused | Level::Error);
        self.notices.push_front(notice);
        self.notices.truncate(NOTICE_HISTORY);
        if bell { vec![Effect::Bell] } else { Vec::new() }
    }

    /// One terminal event that arrived at `at`. The scan decoder sees it first: a scan never reaches
    /// the keymap, and typed characters go to the scan line.
    pub fn on_event(&mut self, event: Event, at: Instant) -> Vec<Effect> {
        match self.decoder.feed(&event, at) {
            Output::Key(key) => self.on_key(key, at),
            Output::Scan(scan) => {
                self.help = false;
                self.on_read(scan)
            }
            // Typing while the help overlay shows closes it, as any key without a binding there does.
            Output::Absorbed => {
                self.help = false;
                Vec::new()
            }
            Output::Ignored => Vec::new(),
        }
    }

    /// A key the decoder passed on: resolved in the keymap.
    pub fn on_key(&mut self, event: KeyEvent, at: Instant) -> Vec<Effect> {
        // Terminals that report releases would otherwise double every key.
        if event.kind != KeyEventKind::Press {
            return Vec::new();
        }
        let key = Key::from_event(&event);
        if self.help {
            if let Some(command) = self.keymap.resolve(Layer::Help, &key) {
                return self.run(command, at);
            }
            // Any other key closes the overlay and does what it does on the screen below.
            self.help = false;
        }
        match self.keymap.resolve(self.screen.layer(), &key) {
            Some(command) => self.run(command, at),
            None => Vec::new(),
        }
    }

    /// A completed read of the scan line, scanned or keyed: the core classifies and records it,
    /// unless the scanner test is open, which shows it and books nothing.
    pub(crate) fn on_read(&mut self, scan: Scan) -> Vec<Effect> {
        if self.screen == Screen::ScannerTest {
            self.scanner_test.record(scan, self.view.now.date_naive());
            return Vec::new();
        }
        // While signatures are collected, whatever is entered is for them; a PIN typed is sent as
        // a PIN, never as text that could be classified or recorded.
        if let Some(prompt) = &self.view.signature_prompt {
            return vec![Effect::Core(
                if prompt.secret && scan.entry == Entry::Keyed {
                    CoreInput::Pin(crate::credential::Pin::new(scan.text.trim()))
                } else {
                    CoreInput::Keyed(scan.text)
                },
            )];
        }
        // An ask belongs to its screen: left behind, it must not capture the next scan elsewhere.
        if let Some(lot) = self
            .hold_reason_for
            .take()
            .filter(|_| self.screen == Screen::Trace)
        {
            return vec![Effect::Core(CoreInput::Command(Command::HoldLot {
                lot: lot.as_str().into(),
                reason: scan.text,
            }))];
        }
        if let Some(ask) = self
            .quality_ask
            .take()
            .filter(|_| matches!(self.screen, Screen::Trace | Screen::Inspect))
        {
            return self.quality_entry(ask, &scan.text);
        }
        if let Some(step) = self
            .correction
            .take()
            .filter(|_| self.screen == Screen::History)
        {
            return self.correction_entry(step, scan.text.trim());
        }
        if self.screen == Screen::History {
            return self.begin_correction(Some(scan.text.trim()));
        }
        if self.screen == Screen::Inspect {
            return self.inspect_read(&scan.text, scan.entry);
        }
        if self.screen == Screen::Trace {
            return match self.trace.ask(&scan.text) {
                Some(lot) => vec![Effect::Trace {
                    lot,
                    direction: self.trace.direction,
                }],
                None => Vec::new(),
            };
        }
        // Typed while a badge waits for its PIN: the PIN, which is never classified or recorded.
        // A scanner read is a scan as ever (another badge starts over).
        if self.view.pin_prompt.is_some() && scan.entry == Entry::Keyed {
            return vec![Effect::Core(CoreInput::Pin(crate::credential::Pin::new(
                scan.text.trim(),
            )))];
        }
        if scan.text.trim().is_empty() {
            // Blanks typed before Enter are no scan: Enter still picks the highlighted item.
            return self.choose_highlighted();
        }
        // A reason read here codes the marked stop when it still wants one (open or uncoded).
        // Recoding a stop that has its reason takes a deliberate Enter on it; a scan then goes the
        // usual way (a planned reason with nothing to code declares planned downtime).
        if self.screen == Screen::Downtime
            && let Some(reason) = self
                .view
                .reasons
                .iter()
                .find(|r| r.code == scan.text.trim())
            && self
                .downtime
                .marked_stop(&self.view)
                .is_some_and(|stop| stop.ended_at.is_none() || stop.uncoded())
        {
            let reason = reason.code.clone();
            return self.code_marked_stop(reason);
        }
        let input = match scan.entry {
            Entry::Scanned => CoreInput::Scan(scan.text),
            Entry::Keyed => CoreInput::Keyed(scan.text),
        };
        vec![Effect::Core(input)]
    }

    fn code_marked_stop(&mut self, reason: String) -> Vec<Effect> {
        let Some(stop) = self.downtime.marked_stop(&self.view) else {
            return self.on_notice(Notice::new(
                Level::Refused,
                "There is no stop to give a reason for.",
                self.view.now,
            ));
        };
        let started_at = stop.started_at;
        // The mark stays on the stop just coded, wherever it moves in the list.
        self.downtime.marked = Some(started_at);
        vec![Effect::Core(CoreInput::Command(Command::CodeDowntime {
            reason,
            stop: Some(started_at),
        }))]
    }

    /// A correction of the highlighted fact: its new value (given, or asked for next).
    fn begin_correction(&mut self, value: Option<&str>) -> Vec<Effect> {
        let Some(row) = self.history.selected_row(&self.view.history) else {
            return self.on_notice(Notice::new(
                Level::Refused,
                "Nothing picked to correct: the fact is no longer among the newest. Pick one again.",
                self.view.now,
            ));
        };
        let step = CorrectionStep::Value {
            seq: row.seq,
            was: row.value.clone(),
        };
        match value.filter(|text| !text.is_empty()) {
            Some(text) => self.correction_entry(step, text),
            None => {
                let ask = format!(
                    "Correct event {}: it says {}. Type the new value, then Enter (Esc cancels).",
                    row.seq,
                    row.value.words()
                );
                self.correction = Some(step);
                self.on_notice(Notice::new(Level::Info, ask, self.view.now))
            }
        }
    }

    fn correction_entry(&mut self, step: CorrectionStep, text: &str) -> Vec<Effect> {
        let now = self.view.now;
        match step {
            CorrectionStep::Value { seq, was } => {
                match crate::domain::correction::Correction::parse_like(&was, text) {
                    Ok(value) => {
                        let ask = format!(
                            "Event {seq} becomes {}. Scan or type the reason code (C-…).",
                            value.words()
                        );
                        self.correction = Some(CorrectionStep::Reason { seq, now: value });
                        self.on_notice(Notice::new(Level::Info, ask, now))
                    }
                    Err(what_to_type) => {
                        self.correction = Some(CorrectionStep::Value { seq, was });
                        self.on_notice(Notice::new(Level::Refused, what_to_type, now))
                    }
                }
            }
            CorrectionStep::Reason { seq, now: value } => {
                vec![Effect::Core(CoreInput::Sign(
                    crate::station::core::SignRequest::Correct {
                        seq,
                        now: value,
                        reason: text.to_owned(),
                    },
                ))]
            }
        }
    }

    /// The lot on the Trace screen: the one asked about last (answered or not yet).
    pub(super) fn traced_lot(&self) -> Option<String> {
        self.trace
            .pending
            .clone()
            .or_else(|| self.trace.answer.as_ref().map(|answer| answer.lot.clone()))
    }

    /// Esc while something is asked: give it up, and say nothing was recorded.
    fn cancel_asking(&mut self) -> Option<Vec<Effect>> {
        if self.view.signature_prompt.is_some() {
            return Some(vec![Effect::Core(CoreInput::CancelSignature)]);
        }
        if self.hold_reason_for.take().is_some()
            || self.correction.take().is_some()
            || self.quality_ask.take().is_some()
        {
            return Some(self.on_notice(Notice::new(
                Level::Info,
                "Cancelled: nothing was recorded.",
                self.view.now,
            )));
        }
        None
    }

    fn choose_highlighted(&mut self) -> Vec<Effect> {
        if self.screen == Screen::History {
            return self.begin_correction(None);
        }
        if self.screen == Screen::Downtime {
            let chosen = self
                .view
                .reasons
                .get(self.downtime.reason)
                .map(|r| r.code.clone());
            return match chosen {
                Some(reason) => self.code_marked_stop(reason),
                None => Vec::new(),
            };
        }
        match (self.screen, self.view.queue.get(self.selected)) {
            (Screen::Queue, Some(row)) => {
                vec![Effect::Core(CoreInput::Command(Command::SelectWorkOrder {
                    id: row.id.as_str().into(),
                }))]
            }
            _ => Vec::new(),
        }
    }

    fn run(&mut self, command: KeyCommand, at: Instant) -> Vec<Effect> {
        let core = |command: Command| vec![Effect::Core(CoreInput::Command(command))];
        match command {
            KeyCommand::Help => {
                self.help = !self.help;
                Vec::new()
            }
            KeyCommand::Close => {
                if self.help {
                    self.help = false;
                    return Vec::new();
                }
                // What is being asked goes first (nothing typed for it yet), then the screen.
                if self.decoder.line().is_empty()
                    && let Some(effects) = self.cancel_asking()
                {
                    return effects;
                }
                match self.screen {
                    Screen::ScannerTest => self.screen = self.scanner_test.back,
                    Screen::Trace => self.screen = self.trace.back,
                    Screen::Downtime => self.screen = self.downtime.back,
                    Screen::History => self.screen = self.history.back,
                    Screen::Inspect => return self.close_inspect(),
                    Screen::Login | Screen::Queue | Screen::Run => {}
                }
                Vec::new()
            }
            KeyCommand::HoldLot => match self.traced_lot() {
                Some(lot) if self.screen == Screen::Trace => {
                    let ask = format!(
                        "Hold lot {lot}: type the reason or scan a defect code, then Enter (Esc cancels)."
                    );
                    self.hold_reason_for = Some(lot);
                    self.on_notice(Notice::new(Level::Info, ask, self.view.now))
                }
                _ => self.on_notice(Notice::new(
                    Level::Refused,
                    "Trace the lot first (F4, scan it), then hold it.",
                    self.view.now,
                )),
            },
            KeyCommand::ReleaseLot => match self.traced_lot() {
                Some(lot) if self.screen == Screen::Trace => vec![Effect::Core(CoreInput::Sign(
                    crate::station::core::SignRequest::Release {
                        lot: lot.as_str().into(),
                    },
                ))],
                _ => self.on_notice(Notice::new(
                    Level::Refused,
                    "Trace the lot first (F4, scan it), then release it.",
                    self.view.now,
                )),
            },
            KeyCommand::DisposeLot
            | KeyCommand::ReworkDone
            | KeyCommand::OpenNcr
            | KeyCommand::CloseNcr => self.quality_key(command),
            KeyCommand::ShowInspect => self.show_inspect(),
            KeyCommand::RecordInspection => self.record_inspection(),
            KeyCommand::UndoEntry => self.undo_entry(),
            KeyCommand::SpcChart => self.next_chart(),
            KeyCommand::ResumeInspection => self.ask_resume_inspection(),
            KeyCommand::ShowHistory => {
                if self.view.operator.is_none() {
                    return self.show(Screen::History);
                }
                if !matches!(self.screen, Screen::History | Screen::ScannerTest) {
                    self.history.back = match self.screen {
                        Screen::Trace => self.trace.back,
                        Screen::Downtime => self.downtime.back,
                        other => other,
                    };
                    self.screen = Screen::History;
                }
                Vec::new()
            }
            KeyCommand::SelectNext if self.screen == Screen::History => {
                self.history.step(&self.view.history, 1);
                Vec::new()
            }
            KeyCommand::SelectPrev if self.screen == Screen::History => {
                self.history.step(&self.view.history, -1);
                Vec::new()
            }
            KeyCommand::ShowTrace => {
                if self.view.operator.is_none() {
                    return self.show(Screen::Trace);
                }
                if !matches!(self.screen, Screen::Trace | Screen::ScannerTest) {
                    self.trace.back = self.screen;
                    self.screen = Screen::Trace;
                }
                Vec::new()
            }
            KeyCommand::TraceDirection => {
                self.trace.direction = match self.trace.direction {
                    TraceDirection::Backward => TraceDirection::Forward,
                    TraceDirection::Forward => TraceDirection::Backward,
                };
                // The same lot again, the other way round.
                match self.trace.ask_again() {
                    Some(lot) => vec![Effect::Trace {
                        lot,
                        direction: self.trace.direction,
                    }],
                    None => Vec::new(),
                }
            }
            // Open to anyone, logged in or not: a scanner is set up before anybody works with it.
            KeyCommand::ScannerTest => {
                if self.screen != Screen::ScannerTest {
                    self.scanner_test.back = self.screen;
                    self.screen = Screen::ScannerTest;
                }
                Vec::new()
            }
            KeyCommand::ShowDowntime => {
                if self.view.operator.is_none() {
                    return self.show(Screen::Downtime);
                }
                if !matches!(self.screen, Screen::Downtime | Screen::ScannerTest) {
                    let back = if self.screen == Screen::Trace {
                        self.trace.back
                    } else {
                        self.screen
                    };
                    self.downtime.open(back, &self.view);
                    self.screen = Screen::Downtime;
                }
                Vec::new()
            }
            KeyCommand::PauseResume => {
                let paused = self
                    .view
                    .active
                    .as_ref()
                    .is_some_and(|a| a.status == crate::domain::ExecStatus::Paused);
                core(if paused {
                    Command::Resume
                } else {
                    Command::Pause
                })
            }
            KeyCommand::ResetMachine => core(Command::ResetMachine),
            KeyCommand::ReasonNext => {
                self.downtime.move_reason(&self.view, 1);
                Vec::new()
            }
            KeyCommand::ReasonPrev => {
                self.downtime.move_reason(&self.view, -1);
                Vec::new()
            }
            KeyCommand::SelectNext if self.screen == Screen::Downtime => {
                self.downtime.move_mark(&self.view, 1);
                Vec::new()
            }
            KeyCommand::SelectPrev if self.screen == Screen::Downtime => {
                self.downtime.move_mark(&self.view, -1);
                Vec::new()
            }
            KeyCommand::Quit => vec![Effect::Quit],
            KeyCommand::NextStation => vec![Effect::NextStation],
            KeyCommand::ShowQueue => self.show(Screen::Queue),
            KeyCommand::ShowRun => self.show(Screen::Run),
            KeyCommand::ShowLogin => self.show(Screen::Login),
            KeyCommand::Start => self.start(),
            KeyCommand::Pause => core(Command::Pause),
            KeyCommand::Resume => core(Command::Resume),
            KeyCommand::Complete => core(Command::Complete),
            KeyCommand::Logout => core(Command::Logout),
            KeyCommand::SubmitScan => match self.decoder.submit(at) {
                Some(scan) => self.on_read(scan),
                None => self.choose_highlighted(),
            },
            KeyCommand::ClearScan if self.decoder.line().is_empty() && !self.help => {
                self.cancel_asking().unwrap_or_default()
            }
            KeyCommand::ClearScan => {
                self.decoder.clear();
                self.help = false;
                Vec::new()
            }
            KeyCommand::DeleteChar => {
                self.decoder.delete_last();
                Vec::new()
            }
            KeyCommand::SelectNext if self.screen == Screen::Trace => {
                self.trace.scroll += 1;
                Vec::new()
            }
            KeyCommand::SelectPrev if self.screen == Screen::Trace => {
                self.trace.scroll = self.trace.scroll.saturating_sub(1);
                Vec::new()
            }
            KeyCommand::SelectNext => {
                if self.selected + 1 < self.view.queue.len() {
                    self.selected += 1;
                }
                Vec::new()
            }
            KeyCommand::SelectPrev => {
                self.selected = self.selected.saturating_sub(1);
                Vec::new()
            }
        }
    }

    /// On the queue, start means "start the order I am pointing at"; elsewhere, the active order.
    fn start(&mut self) -> Vec<Effect> {
        let highlighted = match (self.screen, self.view.queue.get(self.selected)) {
            (Screen::Queue, Some(row)) => Some(row.id.clone()),
            _ => None,
        };
        let active = self.view.active.as_ref().map(|a| a.id.clone());
        let commands = match highlighted {
            Some(id) if Some(&id) != active.as_ref() => vec![
                Command::SelectWorkOrder {
                    id: id.as_str().into(),
                },
                Command::Start,
            ],
            _ => vec![Command::Start],
        };
        vec![Effect::Core(CoreInput::Sequence(commands))]
    }

    fn show(&mut self, screen: Screen) -> Vec<Effect> {
        if screen != Screen::Login && self.view.operator.is_none() {
            return self.on_notice(Notice::new(
                Level::Refused,
                "Log in first: scan your badge.",
                self.view.now,
            ));
        }
        self.screen = screen;
        Vec::new()
    }
}
