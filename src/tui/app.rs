//! The UI model: which screen, the scan line, the last notices, the help overlay. `on_*` methods
//! change it synchronously and return the effects they want as data; the loop carries them out.

use super::keymap::{Key, KeyCommand, Keymap, Layer};
use crate::domain::Command;
use crate::station::{CoreInput, Level, Notice, View};
use crossterm::event::{Event, KeyEvent, KeyEventKind, KeyModifiers};
use std::collections::VecDeque;

/// How many notices the Run and Status areas can look back on.
const NOTICE_HISTORY: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Login,
    Queue,
    Run,
}

impl Screen {
    pub fn layer(self) -> Layer {
        match self {
            Screen::Login => Layer::Login,
            Screen::Queue => Layer::Queue,
            Screen::Run => Layer::Run,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Screen::Login => "Login",
            Screen::Queue => "Queue",
            Screen::Run => "Run",
        }
    }
}

/// What the loop must do after an update.
#[derive(Debug)]
#[must_use]
pub enum Effect {
    Core(CoreInput),
    Bell,
    Quit,
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
    pub scan_line: String,
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
            scan_line: String::new(),
            help: false,
            notices: VecDeque::new(),
            selected: 0,
            options,
        }
    }

    pub fn layer(&self) -> Layer {
        if self.help {
            Layer::Help
        } else {
            self.screen.layer()
        }
    }

    /// A new view from the core. Screens follow what happened: log in → queue, an order selected →
    /// run, logged out → login, order complete → queue.
    pub fn on_view(&mut self, view: View) {
        let logged_in = view.operator.is_some();
        let was_logged_in = self.view.operator.is_some();
        let active = view.active.as_ref().map(|a| a.id.clone());
        let was_active = self.view.active.as_ref().map(|a| a.id.clone());
        if !logged_in {
            self.screen = Screen::Login;
        } else if !was_logged_in || active != was_active {
            self.screen = if active.is_some() {
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
    }

    pub fn on_notice(&mut self, notice: Notice) -> Vec<Effect> {
        let bell = self.options.bell && matches!(notice.level, Level::Refused | Level::Error);
        self.notices.push_front(notice);
        self.notices.truncate(NOTICE_HISTORY);
        if bell { vec![Effect::Bell] } else { Vec::new() }
    }

    pub fn on_event(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(key) => self.on_key(key),
            // A paste is text arriving at once, like a scan: it goes to the scan line whole.
            Event::Paste(text) => {
                for c in text.chars().filter(|c| !c.is_control()) {
                    self.type_char(c);
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    pub fn on_key(&mut self, event: KeyEvent) -> Vec<Effect> {
        // Terminals that report releases would otherwise double every key.
        if event.kind != KeyEventKind::Press {
            return Vec::new();
        }
        let key = Key::from_event(&event);
        if self.help {
            if let Some(command) = self.keymap.resolve(Layer::Help, &key) {
                return self.run(command);
            }
            // Any other key closes the overlay and does what it does on the screen below.
            self.help = false;
        }
        if let Some(command) = self.keymap.resolve(self.screen.layer(), &key) {
            return self.run(command);
        }
        if let crossterm::event::KeyCode::Char(c) = event.code
            && !event
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            && !c.is_control()
        {
            self.type_char(c);
        }
        Vec::new()
    }

    /// One past the longest scan is kept, so an overlong scan is refused as too long rather than
    /// growing without bound (a stuck key, a runaway paste).
    fn type_char(&mut self, c: char) {
        if self.scan_line.chars().count() <= crate::scan::MAX_SCAN_LEN {
            self.scan_line.push(c);
        }
    }

    fn run(&mut self, command: KeyCommand) -> Vec<Effect> {
        let core = |command: Command| vec![Effect::Core(CoreInput::Command(command))];
        match command {
            KeyCommand::Help => {
                self.help = !self.help;
                Vec::new()
            }
            KeyCommand::Close => {
                self.help = false;
                Vec::new()
            }
            KeyCommand::Quit => vec![Effect::Quit],
            KeyCommand::ShowQueue => self.show(Screen::Queue),
            KeyCommand::ShowRun => self.show(Screen::Run),
            KeyCommand::ShowLogin => self.show(Screen::Login),
            KeyCommand::Start => self.start(),
            KeyCommand::Pause => core(Command::Pause),
            KeyCommand::Resume => core(Command::Resume),
            KeyCommand::Complete => core(Command::Complete),
            KeyCommand::Logout => core(Command::Logout),
            KeyCommand::SubmitScan => {
                let text = std::mem::take(&mut self.scan_line);
                if !text.trim().is_empty() {
                    return vec![Effect::Core(CoreInput::Scan(text))];
                }
                match (self.screen, self.view.queue.get(self.selected)) {
                    (Screen::Queue, Some(row)) => core(Command::SelectWorkOrder {
                        id: row.id.as_str().into(),
                    }),
                    _ => Vec::new(),
                }
            }
            KeyCommand::ClearScan => {
                self.scan_line.clear();
                self.help = false;
                Vec::new()
            }
            KeyCommand::DeleteChar => {
                self.scan_line.pop();
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
