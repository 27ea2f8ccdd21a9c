//! The core: the station's single writer. Every command, scan, PLC sample and sync result passes
//! through here, one at a time: decide → append (one SQLite transaction) → apply → publish a View.
//! It runs on its own thread, so a busy disk never freezes the screen.

mod signing;

pub use signing::SignRequest;

use super::notice::{Level, Notice, describe};
use super::view::{CentralView, InspectionView, KpiView, PlcLink, ShiftView, View};
use crate::clock::Clock;
use crate::domain::kpi_history::{self, KpiHistory};
use crate::domain::shift::ShiftCalendar;
use crate::domain::{
    Command, Entry, NewEvent, PlcSample, State, decide, evidence_of_refusal, observe, station_pause,
};
use crate::label::{LabelJob, PrinterStatus};
use crate::plc::{PlcEvent, PlcOutputs};
use crate::scan;
use crate::store::{Store, StoreError};
use crate::sync::{CentralLink, SyncReport};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// A PLC heartbeat standing still longer than this means its program may not run: what it reports
/// is stale.
pub const PLC_STALE_AFTER: chrono::Duration = chrono::Duration::seconds(3);

/// The same scan again within this time is a double read, not a second request.
pub const DUPLICATE_SCAN_WINDOW: chrono::Duration = chrono::Duration::milliseconds(1500);

/// What reaches the core.
#[derive(Debug)]
pub enum CoreInput {
    /// Text a scanner sent (the decoder saw a burst or the scanner's framing).
    Scan(String),
    /// Text a person typed on the scan line. Same classifier; the record says it was keyed.
    Keyed(String),
    /// A command from a key binding.
    Command(Command),
    /// Commands from one key that must all succeed in order; the first refusal stops the rest
    /// (e.g. F5 on the queue: select the highlighted order, then start it).
    Sequence(Vec<Command>),
    /// The PIN typed after a badge scan. Never classified as a scan, logged or recorded.
    Pin(crate::credential::Pin),
    Plc(PlcEvent),
    Sync(SyncReport),
    /// The station is stopping: pause a running order so the machine loses its permit.
    Shutdown,
    /// A signature-grade action (a hold release, a correction): the station asks for the
    /// signatures before anything is recorded.
    Sign(SignRequest),
    /// Give up the action waiting for signatures; nothing is recorded.
    CancelSignature,
    /// Something a screen refused before it became a command (a slip on the Inspect screen), with
    /// why: recorded as evidence of the attempt, like a refused scan, and said.
    Refused {
        text: String,
        reason: String,
        entry: Entry,
    },
    /// The lot the Inspect screen inspects (none: the screen is closed): the view carries its
    /// plan and history. Nothing is recorded.
    Inspecting(Option<String>),
    /// A genealogy question answered from this station's log (the Trace screen, central offline).
    Trace {
        lot: crate::domain::LotId,
        direction: crate::protocol::TraceDirection,
        reply: tokio::sync::oneshot::Sender<Result<Option<crate::protocol::Genealogy>, String>>,
    },
}

/// Where the core publishes what it knows.
pub struct CoreOutputs {
    pub view: watch::Sender<View>,
    /// The interlock and work order the PLC poller writes to the command block.
    pub plc: watch::Sender<PlcOutputs>,
    /// The newest sequence number in the log; the sync worker wakes on it.
    pub appended: watch::Sender<u64>,
    pub notices: mpsc::UnboundedSender<Notice>,
}

impl CoreOutputs {
    /// Outputs nobody listens to (benchmarks, tools).
    pub fn detached(station: &str) -> CoreOutputs {
        CoreOutputs {
            view: watch::channel(View::empty(station)).0,
            plc: watch::channel(PlcOutputs::default()).0,
            appended: watch::channel(0).0,
            notices: mpsc::unbounded_channel().0,
        }
    }
}

pub struct Core {
    store: Store,
    state: State,
    clock: Arc<dyn Clock>,
    outputs: CoreOutputs,
    view: View,
    acked_through: u64,
    /// Contact with the PLC was lost after it had answered, at this time; the next sample says it
    /// is back.
    plc_lost: Option<DateTime<Utc>>,
    /// The PLC heartbeat last seen and when it last moved.
    plc_heartbeat: Option<(u16, DateTime<Utc>)>,
    /// Since when the heartbeat stands still, once that was recorded as stale.
    plc_stale_since: Option<DateTime<Utc>>,
    /// The last scan that did something, and when: the same text again at once is a double read.
    last_accepted_scan: Option<(String, DateTime<Utc>)>,
    /// Appending PLC counts failed and the operator was told; not again until a write succeeds.
    plc_write_failing: bool,
    patterns: scan::Patterns,
    duplicate_window: chrono::Duration,
    /// A write failed and state could not be read back: reload before the next decision.
    state_unknown: bool,
    /// Labels of new outputs go here; none when no printer is configured.
    printer: Option<Printer>,
    /// The facts of the last [`KPI_HORIZON`] live KPIs are computed from.
    kpi_history: KpiHistory,
    /// The plant's shifts: the window and the breaks of the shift KPIs.
    calendar: ShiftCalendar,
    /// The last PackML command recorded for the machine, and when.
    machine_command: Option<(crate::plc::MachineCommand, DateTime<Utc>)>,
    /// A badge scanned and waiting for its PIN.
    pending_login: Option<PendingLogin>,
    /// A signature-grade action waiting for its signatures.
    signing: Option<signing::Pending>,
    /// The History screen's rows must be read again: a fact or a correction was recorded.
    history_stale: bool,
    /// When the operator last scanned or pressed a key, or the machine last made a unit.
    last_activity: DateTime<Utc>,
    /// The lot the Inspect screen inspects.
    inspecting: Option<crate::domain::LotId>,
}

struct PendingLogin {
    badge: crate::domain::Badge,
    name: String,
    since: DateTime<Utc>,
}

/// How many recent facts the History screen offers to correct.
const HISTORY_ROWS: usize = 20;

/// What kind of fact a History row is, with the order or output it belongs to.
fn history_words(kind: &crate::domain::EventKind) -> String {
    use crate::domain::EventKind;
    match kind {
        EventKind::LotConsumed { work_order, .. } => format!("drawn for {work_order}"),
        EventKind::UnitsProduced {
            work_order: Some(work_order),
            ..
        } => format!("count {work_order}"),
        EventKind::UnitsProduced { .. } => "count, no order".into(),
        EventKind::OutputCreated { output, .. } => format!("output {output}"),
        _ => kind.name().into(),
    }
}

/// How long a scanned badge waits for its PIN.
const PIN_ENTRY_TIMEOUT: chrono::Duration = chrono::Duration::seconds(60);

/// A machine command older than this is not sent any more: a station restarting must not reset a
/// machine long after someone asked for it.
const MACHINE_COMMAND_FRESH: chrono::Duration = chrono::Duration::seconds(10);

/// How far back live KPIs look: an order running longer shows its last day.
pub const KPI_HORIZON: chrono::Duration = chrono::Duration::hours(24);

struct Printer {
    jobs: mpsc::Sender<LabelJob>,
    status: watch::Receiver<PrinterStatus>,
}

impl Core {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        outputs: CoreOutputs,
        plc_address: Option<&str>,
        central_enabled: bool,
    ) -> Result<Core, StoreError> {
        let mut state = store.load_state()?;
        state.settings.central_configured = central_enabled;
        let sync = store.sync_status()?;
        let mut kpi_history = KpiHistory::default();
        for event in store.kpi_events_since(clock.now() - KPI_HORIZON)? {
            kpi_history.record(&event);
        }
        let mut view = View::empty(state.station.as_str());
        match plc_address {
            Some(address) => view.plc.address = address.to_owned(),
            None => view.plc.link = PlcLink::NotConfigured,
        }
        view.central = if central_enabled {
            CentralView::Connecting
        } else {
            CentralView::Disabled
        };
        let started = clock.now();
        let mut core = Core {
            store,
            state,
            clock,
            outputs,
            view,
            acked_through: sync.acked_through,
            plc_lost: None,
            plc_heartbeat: None,
            plc_stale_since: None,
            last_accepted_scan: None,
            plc_write_failing: false,
            patterns: scan::Patterns::default(),
            duplicate_window: DUPLICATE_SCAN_WINDOW,
            state_unknown: false,
            printer: None,
            kpi_history,
            calendar: ShiftCalendar::default(),
            machine_command: None,
            pending_login: None,
            signing: None,
            history_stale: true,
            last_activity: started,
            inspecting: None,
        };
        // Found running at start: the station stopped without pausing (crash, power cut).
        if let Some(notice) = core.pause_unattended("The station restarted") {
            let _ = core.outputs.notices.send(notice);
        }
        core.publish();
        Ok(core)
    }

    fn pause_unattended(&mut self, why: &str) -> Option<Notice> {
        let events = station_pause(&self.state, self.clock.now());
        let id = events.first()?.kind.work_order()?.clone();
        Some(match self.append(events) {
            Ok(_) => Notice::new(
                Level::Info,
                format!(
                    "{why}: {id} was paused so the machine cannot run unattended. Resume it to carry on."
                ),
                self.clock.now(),
            ),
            Err(error) => self.write_failed(error),
        })
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// The view as last published.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The plant's code patterns and output id pattern (checked by the configuration loader).
    pub fn configure(
        &mut self,
        patterns: scan::Patterns,
        output_id_pattern: String,
        duplicate_window: chrono::Duration,
    ) {
        self.patterns = patterns;
        self.state.settings.output_id_pattern = output_id_pattern;
        self.duplicate_window = duplicate_window;
    }

    /// The width the PLC's unit counters wrap at, from the register map (16 or 32).
    pub fn set_counter_bits(&mut self, bits: u32) {
        self.state.settings.counter_bits = bits;
    }

    /// The reason code each PLC stop reason usually means, from the station config.
    pub fn set_stop_reasons(&mut self, stop_reasons: std::collections::BTreeMap<u16, String>) {
        self.state.settings.stop_reasons = stop_reasons;
    }

    /// Whether the PLC's register map lets the station send PackML commands (Reset, Clear).
    pub fn set_machine_commands(&mut self, mapped: bool) {
        self.state.settings.machine_commands = mapped;
    }

    /// The plant's shift calendar, from the station config.
    pub fn set_calendar(&mut self, calendar: ShiftCalendar) {
        self.calendar = calendar;
    }

    /// The run rules inspections' SPC charts are checked against, from the station config.
    pub fn set_spc_rules(&mut self, rules: crate::domain::spc::RuleSet) {
        self.state.settings.spc_rules = rules;
    }

    /// How PLC states count as time, from the station config.
    pub fn set_categories(&mut self, categories: crate::domain::machine::CategoryTable) {
        self.state.settings.categories = categories;
    }

    /// Every output made from now on gets its label sent to this printer task.
    pub fn attach_printer(
        &mut self,
        jobs: mpsc::Sender<LabelJob>,
        status: watch::Receiver<PrinterStatus>,
    ) {
        self.printer = Some(Printer { jobs, status });
    }

    /// Handles one input; what the operator should read comes back as a notice (also sent to the UI).
    pub fn handle(&mut self, input: CoreInput) -> Option<Notice> {
        if self.state_unknown {
            // Memory may be ahead of disk: nothing is decided on it until disk is read again.
            let settings = self.state.settings.clone();
            match self.store.load_state() {
                Ok(state) => {
                    self.state = state;
                    self.state.settings = settings;
                    self.state_unknown = false;
                    self.history_stale = true;
                    tracing::info!("state read back from disk after a failed write");
                }
                Err(error) => {
                    // Machine samples keep coming: say it once, as a failed count write would.
                    if matches!(input, CoreInput::Plc(_)) {
                        if self.plc_write_failing {
                            return None;
                        }
                        self.plc_write_failing = true;
                    }
                    let notice = self.write_failed(error);
                    let _ = self.outputs.notices.send(notice.clone());
                    return Some(notice);
                }
            }
        }
        let now = self.clock.now();
        if matches!(
            input,
            CoreInput::Scan(_)
                | CoreInput::Keyed(_)
                | CoreInput::Command(_)
                | CoreInput::Sequence(_)
                | CoreInput::Pin(_)
                | CoreInput::Sign(_)
                | CoreInput::CancelSignature
        ) {
            self.last_activity = now;
        } else if let Some(notice) = self.end_idle_session(now) {
            let _ = self.outputs.notices.send(notice);
        }
        let produced_before = self.state.active_progress().map(|(_, p)| p.produced);
        let notice = match input {
            CoreInput::Pin(pin) if self.signing.is_some() => {
                Some(self.sign_entry(signing::SignEntry::Pin(pin)))
            }
            CoreInput::Pin(pin) => Some(self.pin(&pin)),
            CoreInput::Sign(request) => Some(self.sign_start(request)),
            CoreInput::CancelSignature => Some(self.sign_cancel()),
            CoreInput::Inspecting(lot) => {
                self.inspecting = lot.map(|lot| crate::domain::LotId::from(lot.trim()));
                None
            }
            CoreInput::Scan(text) => Some(self.text(&text, Entry::Scanned)),
            CoreInput::Refused {
                text,
                reason,
                entry,
            } => Some(self.refuse_scan(&text, reason, entry)),
            CoreInput::Keyed(text) => Some(self.text(&text, Entry::Keyed)),
            CoreInput::Command(command) => Some(self.command(command)),
            CoreInput::Sequence(commands) => Some(self.sequence(commands)),
            CoreInput::Shutdown => self.pause_unattended("Station stopping"),
            CoreInput::Plc(event) => self.plc(event),
            CoreInput::Sync(report) => self.sync(report),
            CoreInput::Trace {
                lot,
                direction,
                reply,
            } => {
                let answer = self
                    .store
                    .local_genealogy(&self.state, &lot, direction)
                    .map_err(|error| error.to_string());
                let _ = reply.send(answer);
                None
            }
        };
        // A unit made for the running order is a sign of life at the machine.
        if self.state.active_progress().map(|(_, p)| p.produced) > produced_before {
            self.last_activity = now;
        }
        if let Some(notice) = &notice {
            let _ = self.outputs.notices.send(notice.clone());
        }
        notice
    }

    /// Ends the session after the station's idle time: the station logs the operator out.
    fn end_idle_session(&mut self, now: DateTime<Utc>) -> Option<Notice> {
        let events = crate::domain::session::idle_logout(&self.state, self.last_activity, now);
        if events.is_empty() {
            return None;
        }
        self.pending_login = None;
        self.signing = None;
        let mut notice = self.record(events);
        if notice.level == Level::Ok {
            notice.level = Level::Info;
        }
        Some(notice)
    }

    /// A badge scanned: if it may log in here, the station asks for its PIN. Nothing is recorded
    /// until the PIN is checked.
    fn identify(&mut self, badge: crate::domain::Badge, scanned: Option<(&str, Entry)>) -> Notice {
        let now = self.clock.now();
        match decide(
            &self.state,
            Command::Identify {
                badge: badge.clone(),
            },
            now,
        ) {
            Ok(_) => {
                let name = self
                    .state
                    .master
                    .operators
                    .get(&badge)
                    .map_or_else(|| badge.to_string(), |o| o.name.clone());
                let text = format!("{name}: type your PIN, then Enter.");
                self.pending_login = Some(PendingLogin {
                    badge,
                    name,
                    since: now,
                });
                Notice::new(Level::Info, text, now)
            }
            Err(rejection) => {
                self.pending_login = None;
                match scanned {
                    Some((text, entry)) => self.refuse_scan(text, rejection.to_string(), entry),
                    None => Notice::new(Level::Refused, rejection.to_string(), now),
                }
            }
        }
    }

    /// The PIN for the badge scanned last, checked against the operator's cached verifier: offline
    /// too, as master data is on disk.
    fn pin(&mut self, pin: &crate::credential::Pin) -> Notice {
        let now = self.clock.now();
        let Some(pending) = self.pending_login.take() else {
            return Notice::new(
                Level::Refused,
                "Scan your badge first, then type your PIN.",
                now,
            );
        };
        if now.signed_duration_since(pending.since) > PIN_ENTRY_TIMEOUT {
            return Notice::new(
                Level::Refused,
                "The PIN came too late. Scan your badge again, then type your PIN.",
                now,
            );
        }
        let pin_matches = match self.check_pin(&pending.badge, &pending.name, pin) {
            Ok(matches) => matches,
            Err(notice) => return notice,
        };
        let command = Command::Login {
            badge: pending.badge.clone(),
            pin_matches,
        };
        match decide(&self.state, command, now) {
            Ok(events) => {
                let locked = events
                    .iter()
                    .any(|e| matches!(e.kind, crate::domain::EventKind::BadgeLocked { .. }));
                let mut notice = self.record(events);
                if notice.level != Level::Ok {
                    return notice;
                }
                if pin_matches {
                    // A new session: what the last one scanned is no double read of this one's.
                    self.last_accepted_scan = None;
                    let handover = crate::domain::session::handover(&self.state, now);
                    if !handover.is_empty() {
                        notice.text =
                            format!("{} Handed over: {}", notice.text, handover.join(" "));
                    }
                } else {
                    notice.level = Level::Refused;
                    if !locked {
                        notice
                            .text
                            .push_str(" Type it again, or scan another badge.");
                        self.pending_login = Some(PendingLogin {
                            since: now,
                            ..pending
                        });
                    }
                }
                notice
            }
            Err(rejection) => Notice::new(Level::Refused, rejection.to_string(), now),
        }
    }

    /// Whether `pin` is `badge`'s, against their cached verifier (offline too: master data is on
    /// disk). No verifier is no match (the login gate says why); `Err` when it cannot be read.
    fn check_pin(
        &self,
        badge: &crate::domain::Badge,
        name: &str,
        pin: &crate::credential::Pin,
    ) -> Result<bool, Notice> {
        let Some(verifier) = self
            .state
            .master
            .operators
            .get(badge)
            .and_then(|operator| operator.pin_verifier.as_deref())
        else {
            return Ok(false);
        };
        crate::credential::verify_pin(verifier, pin).map_err(|error| {
            tracing::error!(%badge, %error, "PIN verifier unreadable");
            Notice::new(
                Level::Error,
                format!(
                    "The PIN record of {name} cannot be read at this station. Ask an admin to set the PIN again at central."
                ),
                self.clock.now(),
            )
        })
    }

    /// A scan: classify, decide, append. A refused scan is recorded as evidence.
    pub fn scan(&mut self, text: &str) -> Notice {
        self.text(text, Entry::Scanned)
    }

    /// Scanned or keyed text: classify, decide, append. A refusal is recorded as evidence.
    pub fn text(&mut self, text: &str, entry: Entry) -> Notice {
        let now = self.clock.now();
        // While signatures are collected, what is entered is for them: never a scan to book.
        if self.signing.is_some() {
            return self.sign_entry(signing::SignEntry::Text(text.to_owned()));
        }
        // While a badge waits for its PIN, whatever is not another badge is the PIN (typed fast
        // enough to look like a scanner, say): it must never become a refused scan's evidence.
        if self.pending_login.is_some() {
            let badge = matches!(
                scan::classify(text, &self.state, &self.patterns, now.date_naive()),
                Ok(scan::Scan::Badge(_))
            );
            if !badge {
                return self.pin(&crate::credential::Pin::new(text.trim()));
            }
        }
        // A scanner that reads a label twice must not refuse (and ring) the second read.
        if let Some((last, at)) = &self.last_accepted_scan
            && last == text.trim()
            && now.signed_duration_since(*at) <= self.duplicate_window
        {
            return Notice::new(
                Level::Info,
                format!("{last} was scanned twice; the second read is ignored."),
                now,
            );
        }
        let command = match scan::classify(text, &self.state, &self.patterns, now.date_naive())
            .and_then(|scan| scan.into_command(entry))
        {
            Ok(command) => command,
            Err(error) => return self.refuse_scan(text, error.to_string(), entry),
        };
        if let Command::Identify { badge } = command {
            return self.identify(badge, Some((text, entry)));
        }
        if let Some(reason) = self.link_refuses(&command, now) {
            return self.refuse_scan(text, reason, entry);
        }
        match decide(&self.state, command, now) {
            Ok(events) => {
                let notice = self.record(events);
                if notice.level == Level::Ok {
                    self.last_accepted_scan = Some((text.trim().to_owned(), now));
                }
                notice
            }
            Err(rejection) => self.refuse_scan(text, rejection.to_string(), entry),
        }
    }

    /// A command from a key: like a scan, but a refusal is only said, not recorded.
    pub fn command(&mut self, command: Command) -> Notice {
        let now = self.clock.now();
        if let Command::Identify { badge } = command {
            return self.identify(badge, None);
        }
        if let Some(reason) = self.link_refuses(&command, now) {
            return Notice::new(Level::Refused, reason, now);
        }
        // Quality's decisions are evidence even when refused: an inspection, disposition or NCR
        // someone tried and was not allowed stays in the log, as a refused scan does.
        let evidence = matches!(
            command,
            Command::Inspect { .. }
                | Command::Dispose { .. }
                | Command::ReworkDone { .. }
                | Command::OpenNcr { .. }
                | Command::CloseNcr { .. }
        )
        .then(|| command.describe());
        match decide(&self.state, command, now) {
            Ok(events) => self.record(events),
            Err(rejection) => {
                tracing::info!(%rejection, "command refused");
                match evidence {
                    Some(attempt) => {
                        self.refuse_scan(&attempt, rejection.to_string(), Entry::Keyed)
                    }
                    None => Notice::new(Level::Refused, rejection.to_string(), now),
                }
            }
        }
    }

    /// What the PLC link says against a machine command: a Reset is only worth recording when the
    /// PLC can hear it now and none is already on its way (a second press would reset twice).
    fn link_refuses(&self, command: &Command, now: DateTime<Utc>) -> Option<String> {
        if *command != Command::ResetMachine {
            return None;
        }
        if self.view.plc.link != PlcLink::Online || self.view.plc.stale {
            return Some(
                "The machine cannot be reached now: nothing was sent. Reset it when the PLC \
                 answers again."
                    .into(),
            );
        }
        // The same command again while the last one is fresh; Clear then Reset is a sequence.
        let aborted = self.state.machine.as_ref().is_some_and(|(reading, _)| {
            crate::domain::PackMlState::from_code(reading.packml)
                == crate::domain::PackMlState::Aborted
        });
        let next = if aborted {
            crate::domain::downtime::PACKML_CLEAR
        } else {
            crate::domain::downtime::PACKML_RESET
        };
        match self.machine_command {
            Some((sent, at))
                if sent.code == next && now.signed_duration_since(at) <= MACHINE_COMMAND_FRESH =>
            {
                Some(format!(
                    "A reset was sent at {} UTC; give the machine a moment.",
                    at.format("%H:%M:%S")
                ))
            }
            _ => None,
        }
    }

    fn sequence(&mut self, commands: Vec<Command>) -> Notice {
        let mut last = Notice::new(Level::Info, "Nothing to do.", self.clock.now());
        for command in commands {
            last = self.command(command);
            if last.level != Level::Ok {
                break;
            }
        }
        last
    }

    fn refuse_scan(&mut self, text: &str, reason: String, entry: Entry) -> Notice {
        let now = self.clock.now();
        tracing::info!(scanned = text, %reason, ?entry, "scan refused");
        let evidence = evidence_of_refusal(&self.state, text, &reason, Some(entry), now);
        match self.append(vec![evidence]) {
            Ok(_) => Notice::new(Level::Refused, reason, now),
            Err(error) => self.write_failed(error),
        }
    }

    fn record(&mut self, events: Vec<NewEvent>) -> Notice {
        let now = self.clock.now();
        match self.append(events) {
            Ok(sealed) => {
                for event in &sealed {
                    tracing::info!(seq = event.seq, kind = event.kind.name(), actor = %event.actor, "recorded");
                }
                Notice::new(Level::Ok, describe(&sealed, &self.state, now), now)
            }
            Err(error) => self.write_failed(error),
        }
    }

    fn write_failed(&self, error: StoreError) -> Notice {
        tracing::error!(%error, "append failed");
        Notice::new(
            Level::Error,
            format!("Not saved: {error}. Nothing was recorded; try again or call your line lead."),
            self.clock.now(),
        )
    }

    fn append(&mut self, events: Vec<NewEvent>) -> Result<Vec<crate::domain::Event>, StoreError> {
        let sealed = match self.store.append(&mut self.state, events) {
            Ok(sealed) => sealed,
            Err(error @ StoreError::StateUnknown { .. }) => {
                self.state_unknown = true;
                return Err(error);
            }
            Err(error) => return Err(error),
        };
        if let Some(last) = sealed.last() {
            self.outputs.appended.send_replace(last.seq);
        }
        self.print_labels(&sealed);
        for event in &sealed {
            self.kpi_history.record(event);
            if crate::domain::correction::Correction::of(&event.kind).is_some()
                || matches!(event.kind, crate::domain::EventKind::Corrected { .. })
            {
                self.history_stale = true;
            }
            if let crate::domain::EventKind::MachineCommandSent { command } = event.kind {
                let command = crate::plc::MachineCommand {
                    id: event.seq,
                    code: command,
                };
                self.machine_command = Some((command, event.at));
            }
        }
        Ok(sealed)
    }

    /// Queues the label of every output just recorded. The output is a fact whatever the printer
    /// does; a label that cannot be queued is said, so someone reprints it.
    fn print_labels(&self, sealed: &[crate::domain::Event]) {
        let Some(printer) = &self.printer else {
            return;
        };
        let mut not_queued = Vec::new();
        let mut last_why = String::new();
        for event in sealed {
            let crate::domain::EventKind::OutputCreated { output, .. } = &event.kind else {
                continue;
            };
            let queued = LabelJob::from_output(event, &self.state.master)
                .map_err(|error| error.to_string())
                .and_then(|job| {
                    printer
                        .jobs
                        .try_send(job)
                        .map_err(|_| "the printer task is not keeping up".to_owned())
                });
            if let Err(why) = queued {
                tracing::warn!(seq = event.seq, %output, %why, "label not queued");
                not_queued.push(output.to_string());
                last_why = why;
            }
        }
        // One notice (one bell) for a batch, however many labels it lost.
        if let Some(first) = not_queued.first() {
            let _ = self.outputs.notices.send(Notice::new(
                Level::Error,
                format!(
                    "{} label(s) not printed ({last_why}), from {first}: reprint them.",
                    not_queued.len()
                ),
                self.clock.now(),
            ));
        }
    }

    fn plc(&mut self, event: PlcEvent) -> Option<Notice> {
        let now = self.clock.now();
        match event {
            // Connected is not yet online: a gateway can accept TCP with a dead PLC behind it.
            PlcEvent::Connected { .. } => {
                self.view.plc.alarm = None;
                None
            }
            PlcEvent::Sample(sample) => {
                let lost_at = self.plc_lost.take();
                let was_lost = lost_at.is_some();
                self.view.plc.link = PlcLink::Online;
                self.view.plc.alarm = None;
                self.show_sample(&sample);
                let link_notice = self.link_facts(lost_at, sample.heartbeat, now);
                let events = observe(&self.state, &sample, now);
                let good_before = self.active_good_and_quantity();
                // A failed write leaves the baseline where it was: the next sample counts the same
                // units again, so nothing is lost, only delayed.
                match self.append(events) {
                    Ok(sealed) => {
                        self.plc_write_failing = false;
                        // A stop is said at once, and asks for its reason.
                        let stop = sealed
                            .iter()
                            .find(|event| {
                                matches!(
                                    event.kind,
                                    crate::domain::EventKind::DowntimeStarted { .. }
                                )
                            })
                            .map(|event| {
                                Notice::new(
                                    Level::Error,
                                    describe(std::slice::from_ref(event), &self.state, now),
                                    now,
                                )
                            });
                        stop.or_else(|| self.first_article_made(&sealed, now))
                            .or_else(|| self.quantity_reached(good_before))
                            .or(link_notice)
                            .or_else(|| {
                                was_lost.then(|| {
                                    Notice::new(
                                        Level::Info,
                                        "The machine answers again; its counts are caught up.",
                                        now,
                                    )
                                })
                            })
                    }
                    // Said once per episode, not at every poll.
                    Err(error) if !self.plc_write_failing => {
                        self.plc_write_failing = true;
                        tracing::error!(%error, "cannot record machine counts");
                        Some(Notice::new(
                            Level::Error,
                            format!(
                                "Cannot record machine counts: {error}. They stay in the PLC and are \
                                 recorded once the disk accepts writes. Call your line lead."
                            ),
                            now,
                        ))
                    }
                    Err(_) => None,
                }
            }
            PlcEvent::PartRecord(head) => self.part_record(&head),
            PlcEvent::Values(values) => {
                self.view.plc.values = values;
                None
            }
            PlcEvent::Exception { what } => {
                // The PLC answers but not with data we can use: what it showed before is stale.
                self.view.plc.state = None;
                self.view.plc.alarm = Some(what);
                None
            }
            PlcEvent::LinkDown { error, .. } => {
                let was_online = self.view.plc.link == PlcLink::Online;
                self.view.plc.link = PlcLink::Offline {
                    error: error.clone(),
                };
                self.view.plc.state = None;
                self.view.plc.units_per_minute = 0.0;
                self.view.plc.last_cycle_ms = 0;
                if !was_online {
                    return None;
                }
                self.plc_lost = Some(now);
                self.plc_heartbeat = None;
                self.plc_stale_since = None;
                let lost = NewEvent {
                    at: now,
                    actor: crate::domain::Actor::Station,
                    kind: crate::domain::EventKind::PlcCommsLost {
                        reason: error.clone(),
                    },
                };
                if let Err(error) = self.append(vec![lost]) {
                    tracing::error!(%error, "cannot record the lost PLC link");
                }
                Some(Notice::new(
                    Level::Error,
                    format!(
                        "Lost contact with the machine ({error}). Counts are kept in the PLC and \
                         caught up when it answers again."
                    ),
                    now,
                ))
            }
        }
    }

    /// The head of the PLC's part-record FIFO: recorded (durably) unless it is the record recorded
    /// last. The ack follows in the outputs published after this, so the PLC pops a record only
    /// once it is on disk; a failed write leaves it unacknowledged in the PLC, read again next poll.
    fn part_record(&mut self, head: &crate::domain::part_record::PartRecordHead) -> Option<Notice> {
        use crate::domain::part_record;
        let now = self.clock.now();
        let event = part_record::observe_part(&self.state, head, now)?;
        let missed = part_record::gap(self.state.last_part.as_ref(), head);
        if missed > 0 {
            tracing::warn!(
                missed,
                plc_epoch = head.plc_epoch,
                record_seq = head.record_seq,
                "part records the station never saw: the PLC dropped them or someone else acknowledged them"
            );
        }
        match self.append(vec![event]) {
            Ok(_) => {
                self.plc_write_failing = false;
                None
            }
            Err(error) if !self.plc_write_failing => {
                self.plc_write_failing = true;
                tracing::error!(%error, "cannot record a part record");
                Some(Notice::new(
                    Level::Error,
                    format!(
                        "Cannot record machine data: {error}. Part records stay in the PLC (its machine waits \
                         when they fill up) and are recorded once the disk accepts writes. Call your \
                         line lead."
                    ),
                    now,
                ))
            }
            Err(_) => None,
        }
    }

    /// ISO 22400 KPIs of the active order since it started (at most [`KPI_HORIZON`] back) and of
    /// the shift so far, from the recorded machine transitions, stops and counts.
    fn live_kpis(&mut self, now: DateTime<Utc>) -> (Option<KpiView>, Option<ShiftView>) {
        // Memory stays bounded: what lies before the horizon matters only as the starting state.
        self.kpi_history.forget_before(now - KPI_HORIZON);
        let shift_now = self.calendar.shift_at(now);
        let master = &self.state.master;
        let station = &self.state.station;
        let ideal_cycle = |order: &crate::domain::WorkOrderId| master.ideal_cycle(order, station);
        let planned_reason = |reason: &str| master.is_planned_reason(reason);
        let query = |from, breaks, work_order| kpi_history::Query {
            from,
            to: now,
            breaks,
            work_order,
            micro_stop: crate::domain::kpi::MICRO_STOP,
            ideal_cycle: &ideal_cycle,
            planned_reason: &planned_reason,
        };
        // The order's window has the calendar's breaks too: the two lines count a break alike.
        let order_from = self
            .state
            .active_progress()
            .and_then(|(_, progress)| progress.started_at)
            .map(|started| started.max(now - KPI_HORIZON));
        let order_breaks: Vec<(DateTime<Utc>, DateTime<Utc>)> = order_from
            .map(|from| {
                self.calendar
                    .shifts_between(from, now)
                    .into_iter()
                    .flat_map(|shift| shift.breaks)
                    .collect()
            })
            .unwrap_or_default();
        let order = self
            .state
            .active_progress()
            .zip(order_from)
            .map(|((id, _), from)| {
                let report = self.kpi_history.kpis(&query(from, &order_breaks, Some(id)));
                KpiView::from(&report.kpis)
            });
        let shift = shift_now.as_ref().map(|shift| {
            let report = self
                .kpi_history
                .kpis(&query(shift.start, &shift.breaks, None));
            ShiftView {
                label: shift.label(),
                starts_at: shift.start,
                ends_at: shift.end,
                kpi: KpiView::from(&report.kpis),
                produced: report.produced,
                good: report.good,
            }
        });
        (order, shift)
    }

    /// Link facts a sample brings: contact restored after an outage, a heartbeat that stood still
    /// past [`PLC_STALE_AFTER`] (the PLC answers but its program may not run), or moves again.
    fn link_facts(
        &mut self,
        lost_at: Option<DateTime<Utc>>,
        heartbeat: u16,
        now: DateTime<Utc>,
    ) -> Option<Notice> {
        use crate::domain::EventKind;
        let millis = |since: DateTime<Utc>| {
            u64::try_from(now.signed_duration_since(since).num_milliseconds()).unwrap_or(0)
        };
        let mut facts = Vec::new();
        if let Some(lost_at) = lost_at {
            facts.push(EventKind::PlcCommsRestored {
                down_ms: millis(lost_at),
            });
        }
        match self.plc_heartbeat {
            Some((last, _)) if last != heartbeat => {
                self.plc_heartbeat = Some((heartbeat, now));
                if let Some(since) = self.plc_stale_since.take() {
                    facts.push(EventKind::PlcFresh {
                        stale_ms: millis(since),
                    });
                }
            }
            Some((_, moved_at)) => {
                if self.plc_stale_since.is_none()
                    && now.signed_duration_since(moved_at) > PLC_STALE_AFTER
                {
                    self.plc_stale_since = Some(moved_at);
                    facts.push(EventKind::PlcStale {
                        heartbeat,
                        frozen_ms: millis(moved_at),
                    });
                }
            }
            None => self.plc_heartbeat = Some((heartbeat, now)),
        }
        self.view.plc.stale = self.plc_stale_since.is_some();
        if facts.is_empty() {
            return None;
        }
        let events = facts
            .into_iter()
            .map(|kind| NewEvent {
                at: now,
                actor: crate::domain::Actor::Station,
                kind,
            })
            .collect();
        match self.append(events) {
            Ok(sealed) => sealed
                .iter()
                .find(|event| {
                    matches!(
                        event.kind,
                        EventKind::PlcStale { .. } | EventKind::PlcFresh { .. }
                    )
                })
                .map(|event| {
                    let level = if matches!(event.kind, EventKind::PlcStale { .. }) {
                        Level::Error
                    } else {
                        Level::Info
                    };
                    Notice::new(
                        level,
                        describe(std::slice::from_ref(event), &self.state, now),
                        now,
                    )
                }),
            Err(error) => {
                tracing::error!(%error, "cannot record a PLC link fact");
                None
            }
        }
    }

    fn active_good_and_quantity(&self) -> Option<(String, u64, u64)> {
        let (id, progress) = self.state.active_progress()?;
        let quantity = self.state.master.work_orders.get(id)?.quantity;
        Some((id.to_string(), progress.good(), quantity))
    }

    /// Says so once when the order's good count reaches its quantity: the machine keeps its permit
    /// (the operator decides), but nobody should overproduce without noticing.
    fn quantity_reached(&self, before: Option<(String, u64, u64)>) -> Option<Notice> {
        let (id, good_before, quantity) = before?;
        let (_, good_now, _) = self.active_good_and_quantity()?;
        (good_before < quantity && good_now >= quantity).then(|| {
            Notice::new(
                Level::Info,
                format!(
                    "{id}: {good_now} of {quantity} good - the quantity is reached. Complete the order (@COMPLETE)."
                ),
                self.clock.now(),
            )
        })
    }

    fn show_sample(&mut self, sample: &PlcSample) {
        self.view.plc.state = Some(sample.state);
        self.view.plc.stop_reason = sample.stop_reason;
        self.view.plc.units_per_minute = f64::from(sample.speed_x100) / 100.0;
        self.view.plc.last_cycle_ms = sample.last_cycle_ms;
        self.view.plc.stacklight = sample.stacklight_bits;
    }

    fn sync(&mut self, report: SyncReport) -> Option<Notice> {
        let now = self.clock.now();
        match report {
            SyncReport::Acked(ack) => {
                if let Err(error) = self.store.record_ack(&mut self.state, &ack, now) {
                    tracing::error!(%error, "could not record ack");
                }
                // Never past our own log: central holding more than we have is a fork, not an ack.
                self.acked_through = self
                    .acked_through
                    .max(ack.acked_through.min(self.store.last_seq()));
                self.view.central = CentralView::Online;
                // Set aside at central: the operator (and the lead) must hear of it.
                ack.quarantined.first().map(|first| {
                    let more = ack.quarantined.len() - 1;
                    Notice::new(
                        Level::Error,
                        format!(
                            "Central set aside event {} ({}): {}.{} It is kept; tell the line lead.",
                            first.seq,
                            first.kind,
                            first.reason,
                            if more > 0 {
                                format!(" {more} more events too.")
                            } else {
                                String::new()
                            }
                        ),
                        now,
                    )
                })
            }
            SyncReport::Rewind { expected_seq } => {
                tracing::warn!(expected_seq, "central asked for a resend");
                if let Err(error) = self.store.rewind_ack(expected_seq) {
                    tracing::error!(%error, "could not record rewind");
                }
                self.acked_through = expected_seq.saturating_sub(1);
                None
            }
            SyncReport::Changes(page) => {
                let active_before = self.active_planning_status();
                let holds_before = self.quality_holds();
                if let Err(error) = self.store.apply_changes(&mut self.state, &page) {
                    tracing::error!(%error, "could not apply changes from central");
                    return Some(Notice::new(
                        Level::Error,
                        format!("Could not store the latest orders from central: {error}"),
                        now,
                    ));
                }
                if let Err(error) = self
                    .store
                    .record_heard(&mut self.state, page.server_time, now)
                {
                    tracing::error!(%error, "could not record central's answer");
                }
                // A pull that works says nothing about pushes central refuses.
                if !matches!(self.view.central, CentralView::Refused { .. }) {
                    self.view.central = CentralView::Online;
                }
                let active_after = self.active_planning_status();
                let new_holds: Vec<String> = self
                    .quality_holds()
                    .into_iter()
                    .filter(|hold| !holds_before.contains(hold))
                    .collect();
                if let Some(hold) = new_holds.first() {
                    return Some(Notice::new(
                        Level::Error,
                        format!(
                            "{hold}. The machine stays stopped until quality releases it; set the \
                             parts aside."
                        ),
                        now,
                    ));
                }
                match (active_before, active_after) {
                    (Some((id, _, true)), Some((_, _, false))) => Some(Notice::new(
                        Level::Error,
                        format!(
                            "Central moved {id} to other stations. Production of it here is \
                             blocked: pause it and take the next order."
                        ),
                        now,
                    )),
                    (Some((id, before, _)), Some((_, after, _))) if before != after => {
                        Some(Notice::new(
                            if self.state.permit_to_run(now) || !self.state.is_running() {
                                Level::Info
                            } else {
                                Level::Error
                            },
                            format!(
                                "Central changed {id} to {}{}.{}",
                                after.words(),
                                self.state
                                    .master
                                    .work_orders
                                    .get(&crate::domain::WorkOrderId::from(id.as_str()))
                                    .and_then(|order| order.status_reason.as_deref())
                                    .map(|reason| format!(" ({reason})"))
                                    .unwrap_or_default(),
                                if after == crate::domain::WorkOrderStatus::Released {
                                    ""
                                } else {
                                    " Production is blocked."
                                }
                            ),
                            now,
                        ))
                    }
                    _ => None,
                }
            }
            SyncReport::Link(link) => {
                self.view.central = match link {
                    CentralLink::Unknown => CentralView::Connecting,
                    // Only an acknowledgement clears a refusal (see Acked above).
                    CentralLink::Online
                        if matches!(self.view.central, CentralView::Refused { .. }) =>
                    {
                        self.view.central.clone()
                    }
                    CentralLink::Online => CentralView::Online,
                    CentralLink::Offline { error, .. } => CentralView::Offline { error },
                };
                None
            }
            SyncReport::Rejected { error } => {
                let first = !matches!(self.view.central, CentralView::Refused { .. });
                self.view.central = CentralView::Refused {
                    error: error.clone(),
                };
                first.then(|| {
                    Notice::new(
                        Level::Error,
                        format!("Central refuses this station's data: {error}. Every event stays here; call your line lead."),
                        now,
                    )
                })
            }
            SyncReport::ClockOffset { offset_ms } => self.clock_offset(offset_ms, now),
            SyncReport::Heard { server_time } => {
                if let Err(error) = self.store.record_heard(&mut self.state, server_time, now) {
                    tracing::error!(%error, "could not record central's answer");
                }
                None
            }
        }
    }

    /// Shows central's clock offset; says once when it goes past the limit and once when it is back.
    /// Nothing is rewritten: events keep this terminal's time and their order comes from `seq`.
    fn clock_offset(&mut self, offset_ms: i64, now: DateTime<Utc>) -> Option<Notice> {
        use super::view::{CLOCK_CLEAR_MS, CLOCK_WARN_MS, clock_gap_words};
        self.view.central_clock_offset_ms = Some(offset_ms);
        let gap = offset_ms.abs();
        let was = self.view.central_clock_warning;
        let warn = if was {
            gap > CLOCK_CLEAR_MS
        } else {
            gap > CLOCK_WARN_MS
        };
        self.view.central_clock_warning = warn;
        match (was, warn) {
            (false, true) => {
                let way = if offset_ms > 0 { "behind" } else { "ahead of" };
                tracing::warn!(offset_ms, "this terminal's clock differs from central's");
                Some(Notice::new(
                    Level::Info,
                    format!(
                        "This terminal's clock is {} {way} central's. Events keep their order; ask IT to fix the time.",
                        clock_gap_words(offset_ms)
                    ),
                    now,
                ))
            }
            (true, false) => {
                tracing::info!(
                    offset_ms,
                    "this terminal's clock agrees with central's again"
                );
                Some(Notice::new(
                    Level::Info,
                    "This terminal's clock agrees with central's again.",
                    now,
                ))
            }
            _ => None,
        }
    }

    /// Said when units just recorded made the active order's first article: the machine waits now.
    fn first_article_made(
        &self,
        sealed: &[crate::domain::Event],
        now: DateTime<Utc>,
    ) -> Option<Notice> {
        let (work_order, lot) = crate::domain::first_article::pending(&self.state)?;
        sealed.iter().any(|event| {
            matches!(&event.kind, crate::domain::EventKind::OutputCreated { output, .. } if *output == lot)
        })
        .then(|| {
            Notice::new(
                Level::Error,
                format!(
                    "First article of {work_order} made: lot {lot}. The machine waits until an \
                     inspector inspects it here; set it aside for the inspector."
                ),
                now,
            )
        })
    }

    /// The quality holds on what the active order made here, in words.
    fn quality_holds(&self) -> Vec<String> {
        use crate::domain::interlock::{Blocker, quality_holds};
        quality_holds(&self.state)
            .iter()
            .map(Blocker::words)
            .collect()
    }

    /// The active order, its status at central, and whether central has it dispatched here.
    fn active_planning_status(&self) -> Option<(String, crate::domain::WorkOrderStatus, bool)> {
        let id = self.state.active.as_ref()?;
        let order = self.state.master.work_orders.get(id)?;
        let here = order.stations.is_empty() || order.stations.contains(&self.state.station);
        Some((id.to_string(), order.status, here))
    }

    /// The History screen's rows: the newest correctable facts with what counts now.
    fn refresh_history(&mut self) {
        if !self.history_stale {
            return;
        }
        match self.store.recent_correctable(HISTORY_ROWS) {
            Ok(events) => {
                self.view.history = events
                    .iter()
                    .filter_map(|event| {
                        let original = crate::domain::correction::Correction::of(&event.kind)?;
                        let corrected = self.state.corrections.get(&event.seq);
                        Some(super::HistoryRow {
                            seq: event.seq,
                            at: event.at,
                            what: history_words(&event.kind),
                            value: corrected.cloned().unwrap_or_else(|| original.clone()),
                            original: corrected.map(|_| original),
                        })
                    })
                    .collect();
                self.history_stale = false;
            }
            // The rows stay as they were; the next publish tries again.
            Err(error) => tracing::warn!(%error, "reading the history"),
        }
    }

    /// Publishes the view and the PLC outputs after a batch of inputs.
    pub fn publish(&mut self) {
        self.view.now = self.clock.now();
        self.view.fill_from_state(&self.state);
        // A prompt stays up until something is entered, even past its time: what is typed then
        // is taken as the PIN it was meant to be (and refused as late), never as a scan to book
        // or send on.
        self.view.pin_prompt = self
            .pending_login
            .as_ref()
            .map(|pending| pending.name.clone());
        // Signatures are only ever collected for the person logged in.
        match (&self.state.session, &self.signing) {
            (Some(session), Some(pending)) => {
                self.view.signature_prompt = Some(pending.prompt(&session.name));
            }
            _ => {
                self.signing = None;
                self.view.signature_prompt = None;
            }
        }
        self.refresh_history();
        self.view.inspection = self.inspecting.as_ref().map(|lot| InspectionView {
            lot: lot.to_string(),
            context: crate::domain::quality_state::context(&self.state, lot),
        });
        let (order_kpi, shift) = self.live_kpis(self.view.now);
        if let Some(active) = &mut self.view.active {
            active.kpi = order_kpi;
        }
        self.view.shift = shift;
        let last_seq = self.store.last_seq();
        self.view.last_seq = last_seq;
        self.view.backlog = last_seq.saturating_sub(self.acked_through);
        let outputs = PlcOutputs {
            permit: self.state.permit_to_run(self.view.now),
            work_order_numeric: self
                .state
                .active
                .as_ref()
                .and_then(|id| self.state.master.work_orders.get(id))
                .map_or(0, |order| order.numeric_id),
            andon: self.state.andon.map_or(0, |call| call.kind.code()),
            machine_command: self
                .machine_command
                .filter(|(_, at)| self.view.now.signed_duration_since(*at) <= MACHINE_COMMAND_FRESH)
                .map(|(command, _)| command),
            // Memory may be ahead of disk after a failed write: acknowledge only what is on disk.
            part_ack: if self.state_unknown {
                None
            } else {
                crate::domain::part_record::ack(&self.state)
            },
        };
        self.view.plc.permit = outputs.permit;
        self.view.printer = self
            .printer
            .as_ref()
            .map(|printer| printer.status.borrow().notice());
        // Always sent, changed or not: a fresh value is how the poller knows the core is alive.
        self.outputs.plc.send_replace(outputs);
        let view = self.view.clone();
        self.outputs.view.send_if_modified(|current| {
            let changed = *current != view;
            *current = view;
            changed
        });
    }
}

/// Runs the core on its own thread until every input sender is gone. Inputs that queue up while one
/// is handled are all taken before the view is published once.
pub fn spawn(
    mut core: Core,
    mut inputs: mpsc::Receiver<CoreInput>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("takt-core".into())
        .spawn(move || {
            while let Some(input) = inputs.blocking_recv() {
                core.handle(input);
                while let Ok(input) = inputs.try_recv() {
                    core.handle(input);
                }
                core.publish();
            }
            tracing::info!("core stopped: all inputs closed");
        })
}
