//! Station state and how events change it. `apply` is the only way state moves, so replaying the log
//! rebuilds it exactly.

use super::event::{Event, EventKind, OutputForm};
use super::ids::{Badge, LotId, MaterialId, StationId, WorkOrderId};
use super::master::{Lot, MasterData};
use super::quantity::Quantity;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub badge: Badge,
    pub name: String,
    pub since: DateTime<Utc>,
}

/// Wrong PINs in a row per badge, and badges locked after too many, at this station.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginGuard {
    pub failures: BTreeMap<Badge, u32>,
    pub locked_until: BTreeMap<Badge, DateTime<Utc>>,
}

/// How far a work order has got at this station.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecStatus {
    Selected,
    Running,
    Paused,
    Completed,
}

impl ExecStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecStatus::Selected => "selected",
            ExecStatus::Running => "running",
            ExecStatus::Paused => "paused",
            ExecStatus::Completed => "completed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "selected" => ExecStatus::Selected,
            "running" => ExecStatus::Running,
            "paused" => ExecStatus::Paused,
            "completed" => ExecStatus::Completed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub status: ExecStatus,
    pub produced: u64,
    pub rejected: u64,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The lot feeding each material of the bill of materials right now.
    pub loaded: BTreeMap<MaterialId, LotId>,
    /// Good units made and not yet put into an output lot or serial, and the lots they were made from.
    pub open_output: OpenOutput,
    /// The material whose lot was loaded last: a keyed quantity is drawn from it.
    pub last_loaded: Option<MaterialId>,
    /// The order's first article here, where its inspection plan gates production on one.
    pub first_article: Option<super::first_article::FirstArticle>,
}

/// Units waiting to become an output (a tote fills up over many cycles) and every lot loaded while
/// they were made: the output's genealogy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOutput {
    pub units: u64,
    pub inputs: BTreeSet<LotId>,
}

impl Progress {
    fn new() -> Self {
        Progress {
            status: ExecStatus::Selected,
            produced: 0,
            rejected: 0,
            started_at: None,
            completed_at: None,
            loaded: BTreeMap::new(),
            open_output: OpenOutput::default(),
            last_loaded: None,
            first_article: None,
        }
    }

    pub fn good(&self) -> u64 {
        self.produced.saturating_sub(self.rejected)
    }
}

/// The last raw PLC counter values already accounted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterBaseline {
    pub epoch: u16,
    pub processed: u32,
    pub defective: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub station: StationId,
    /// Shared, because it is large and only central's pages change it: cloning state stays cheap.
    pub master: Arc<MasterData>,
    pub session: Option<Session>,
    /// The work order selected, running or paused here; none once it completes.
    pub active: Option<WorkOrderId>,
    pub progress: BTreeMap<WorkOrderId, Progress>,
    pub counters: Option<CounterBaseline>,
    /// Units the machine made while no work order was active.
    pub unassigned_produced: u64,
    /// Lots this station knows of its own: supplier lots first seen here and outputs made here,
    /// until central sends them back as master data.
    pub lots: BTreeMap<LotId, Lot>,
    /// Material drawn from each lot at this station.
    pub lot_usage: BTreeMap<LotId, Quantity>,
    /// Outputs (lots and serials) made here so far: numbers the next output id.
    pub outputs_made: u64,
    /// The machine as last recorded, and its category.
    pub machine: Option<(
        super::machine::MachineReading,
        super::machine::MachineCategory,
    )>,
    /// The latest stops, oldest first (at most [`super::downtime::KEPT_DOWNTIMES`]).
    pub downtimes: Vec<super::downtime::Downtime>,
    /// The open andon call, if any.
    pub andon: Option<super::andon::AndonCall>,
    /// The per-part record recorded last: what a FIFO head read again is checked against.
    pub last_part: Option<super::part_record::LastPart>,
    /// Central's time when it last answered this station (an ack or a page of changes): how long
    /// the station has been on its own, for the offline grace window.
    pub central_heard: Option<DateTime<Utc>>,
    pub login_guard: LoginGuard,
    /// Holds and releases decided at this station, latest per lot: they count over central's
    /// record of the lot until central's record is as new (it has seen them, or decided later).
    pub lot_decisions: BTreeMap<LotId, LotDecision>,
    /// The value that counts now for each corrected event of this station, by its seq.
    pub corrections: BTreeMap<u64, super::correction::Correction>,
    /// Nonconformance reports opened here.
    pub ncrs: super::ncr::NcrBook,
    /// What this station's inspections say over time: SPC series, AQL switching, alerts.
    pub quality: super::quality_state::QualityBook,
    pub settings: Settings,
}

/// A hold (with its reason) or a release decided at this station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotDecision {
    pub hold: Option<String>,
    pub at: DateTime<Utc>,
    /// A release: when the hold it lifts was decided (see [`super::EventKind::LotReleased`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifts: Option<DateTime<Utc>>,
    /// The lot's record as a disposition, a rework or a re-inspection here left it: it counts
    /// whole, like a hold, until central's record is as new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Lot>,
}

/// Station settings the rules need. They shape new events only, never how old ones apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How output ids are made; see [`super::material::output_id`].
    pub output_id_pattern: String,
    /// The width the PLC's unit counters wrap at: 16 or 32 bits.
    pub counter_bits: u32,
    /// Which machine category each PLC state falls into.
    pub categories: super::machine::CategoryTable,
    /// The reason code a PLC stop reason usually means (`1` → `R-11`).
    pub stop_reasons: BTreeMap<u16, String>,
    /// Whether the register map has PackML command registers the station may write (Reset).
    pub machine_commands: bool,
    /// Whether this station syncs with a central: only then does central's offline grace window
    /// apply (a station set up stand-alone has no central to wait for).
    pub central_configured: bool,
    /// The run rules an inspection's SPC charts are checked against (`[quality] spc_rules`).
    pub spc_rules: super::spc::RuleSet,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            output_id_pattern: super::material::DEFAULT_OUTPUT_ID_PATTERN.to_owned(),
            counter_bits: 32,
            categories: super::machine::CategoryTable::default(),
            stop_reasons: BTreeMap::new(),
            machine_commands: true,
            central_configured: false,
            spc_rules: super::spc::RuleSet::WesternElectric,
        }
    }
}

impl State {
    pub fn new(station: StationId, master: MasterData) -> Self {
        State {
            station,
            master: Arc::new(master),
            session: None,
            active: None,
            progress: BTreeMap::new(),
            counters: None,
            unassigned_produced: 0,
            lots: BTreeMap::new(),
            lot_usage: BTreeMap::new(),
            outputs_made: 0,
            machine: None,
            downtimes: Vec::new(),
            andon: None,
            last_part: None,
            central_heard: None,
            login_guard: LoginGuard::default(),
            lot_decisions: BTreeMap::new(),
            corrections: BTreeMap::new(),
            ncrs: super::ncr::NcrBook::default(),
            quality: super::quality_state::QualityBook::default(),
            settings: Settings::default(),
        }
    }

    /// This station's configuration from central, or the defaults before central sent one.
    pub fn station_config(&self) -> std::borrow::Cow<'_, super::master::StationConfig> {
        match &self.master.station_config {
            Some(config) => std::borrow::Cow::Borrowed(config),
            None => {
                std::borrow::Cow::Owned(super::master::StationConfig::new(self.station.clone()))
            }
        }
    }

    /// What this station knows of a lot: central's record before its own, with a hold or release
    /// decided here that central's record does not reflect yet.
    pub fn lot(&self, id: &LotId) -> Option<std::borrow::Cow<'_, Lot>> {
        let record = self.master.lots.get(id).or_else(|| self.lots.get(id))?;
        Some(self.with_decision(record))
    }

    /// Every lot the station knows, as [`State::lot`] sees each: central's records first, then
    /// its own.
    pub fn known_lots(&self) -> impl Iterator<Item = std::borrow::Cow<'_, Lot>> {
        self.master
            .lots
            .values()
            .chain(
                self.lots
                    .values()
                    .filter(|lot| !self.master.lots.contains_key(&lot.id)),
            )
            .map(|lot| self.with_decision(lot))
    }

    fn with_decision<'a>(&self, record: &'a Lot) -> std::borrow::Cow<'a, Lot> {
        use super::master::LotStatus;
        let Some(decision) = self.lot_decisions.get(&record.id) else {
            return std::borrow::Cow::Borrowed(record);
        };
        // Central's record as new as the decision has taken it in (or overruled it).
        if record.status_at.is_some_and(|at| at >= decision.at) {
            return std::borrow::Cow::Borrowed(record);
        }
        if let Some(decided) = &decision.record {
            return std::borrow::Cow::Owned(decided.clone());
        }
        // A release lifts the hold it saw, never one decided since (a recall at central).
        if decision.hold.is_none() && record.status_at != decision.lifts {
            return std::borrow::Cow::Borrowed(record);
        }
        let mut lot = record.clone();
        match &decision.hold {
            Some(reason) => {
                lot.status = LotStatus::OnHold;
                lot.status_reason = Some(reason.clone());
            }
            None if matches!(lot.status, LotStatus::OnHold | LotStatus::Quarantined) => {
                lot.status = LotStatus::Released;
                lot.status_reason = None;
            }
            None => {}
        }
        lot.status_at = Some(decision.at);
        std::borrow::Cow::Owned(lot)
    }

    /// What is left of a lot after what was drawn from it here.
    pub fn lot_remaining(&self, lot: &Lot) -> Quantity {
        let used = self.lot_usage.get(&lot.id).copied().unwrap_or_default();
        lot.quantity.saturating_sub(used)
    }

    pub fn active_progress(&self) -> Option<(&WorkOrderId, &Progress)> {
        let id = self.active.as_ref()?;
        self.progress.get(id).map(|progress| (id, progress))
    }

    pub fn is_running(&self) -> bool {
        matches!(
            self.active_progress(),
            Some((_, progress)) if progress.status == ExecStatus::Running
        )
    }

    /// The permit-to-run interlock at `now`: a released work order runs, someone is logged in,
    /// every material of the operation has a usable lot loaded, and nothing the order made here is
    /// on hold (see [`super::interlock`]).
    pub fn permit_to_run(&self, now: DateTime<Utc>) -> bool {
        super::interlock::blockers(self, now).is_empty()
    }
}

/// How an event changes state. Total: an event that does not fit the state (it was valid when it was
/// decided) still moves what it names, so a replay never stops half way.
pub fn apply(state: &mut State, event: &Event) {
    let by = match &event.actor {
        super::event::Actor::Operator(badge) => Some(badge),
        _ => None,
    };
    super::downtime::apply(state, &event.kind, by, event.at);
    match &event.kind {
        EventKind::OperatorLoggedIn { badge, name } => {
            state.login_guard.failures.remove(badge);
            state.login_guard.locked_until.remove(badge);
            state.session = Some(Session {
                badge: badge.clone(),
                name: name.clone(),
                since: event.at,
            });
        }
        EventKind::OperatorLoggedOut { .. } => state.session = None,
        EventKind::LoginFailed { badge, attempt } => {
            state.login_guard.failures.insert(badge.clone(), *attempt);
        }
        EventKind::BadgeLocked { badge, until, .. } => {
            state.login_guard.failures.remove(badge);
            state.login_guard.locked_until.insert(badge.clone(), *until);
        }
        EventKind::WorkOrderSelected { work_order } => {
            state.active = Some(work_order.clone());
            state
                .progress
                .entry(work_order.clone())
                .or_insert_with(Progress::new);
        }
        EventKind::WorkOrderStarted { work_order } | EventKind::WorkOrderResumed { work_order } => {
            state.active = Some(work_order.clone());
            let progress = state
                .progress
                .entry(work_order.clone())
                .or_insert_with(Progress::new);
            progress.status = ExecStatus::Running;
            progress.started_at.get_or_insert(event.at);
        }
        EventKind::WorkOrderPaused { work_order } => {
            if let Some(progress) = state.progress.get_mut(work_order) {
                progress.status = ExecStatus::Paused;
            }
        }
        EventKind::WorkOrderCompleted { work_order, .. } => {
            if let Some(progress) = state.progress.get_mut(work_order) {
                progress.status = ExecStatus::Completed;
                progress.completed_at = Some(event.at);
            }
            if state.active.as_ref() == Some(work_order) {
                state.active = None;
            }
        }
        EventKind::UnitsProduced {
            work_order,
            produced,
            rejected,
            plc_epoch,
            processed_total,
            defective_total,
        } => {
            match work_order {
                Some(id) => {
                    let progress = state
                        .progress
                        .entry(id.clone())
                        .or_insert_with(Progress::new);
                    progress.produced += produced;
                    progress.rejected += rejected;
                    progress.open_output.units += produced.saturating_sub(*rejected);
                }
                None => state.unassigned_produced += produced,
            }
            state.counters = Some(CounterBaseline {
                epoch: *plc_epoch,
                processed: *processed_total,
                defective: *defective_total,
            });
        }
        EventKind::PlcCounterBaseline {
            plc_epoch,
            processed_total,
            defective_total,
            ..
        } => {
            state.counters = Some(CounterBaseline {
                epoch: *plc_epoch,
                processed: *processed_total,
                defective: *defective_total,
            });
        }
        EventKind::ScanRefused { .. }
        | EventKind::PlcCommsLost { .. }
        | EventKind::PlcCommsRestored { .. }
        | EventKind::PlcStale { .. }
        | EventKind::PlcFresh { .. }
        | EventKind::DowntimeStarted { .. }
        | EventKind::DowntimeCoded { .. }
        | EventKind::PlannedDowntimeDeclared { .. }
        | EventKind::MachineCommandSent { .. } => {}
        EventKind::AndonCalled { call } => {
            state.andon = Some(super::andon::AndonCall {
                kind: *call,
                since: event.at,
            });
        }
        EventKind::AndonAnswered { .. } => state.andon = None,
        EventKind::LotHeld { lot, reason } => {
            state.lot_decisions.insert(
                lot.clone(),
                LotDecision {
                    hold: Some(reason.clone()),
                    at: event.at,
                    lifts: None,
                    record: None,
                },
            );
        }
        EventKind::LotReleased { lot, lifts } => {
            state.lot_decisions.insert(
                lot.clone(),
                LotDecision {
                    hold: None,
                    at: event.at,
                    lifts: *lifts,
                    record: None,
                },
            );
        }
        EventKind::LotDispositioned { lot, .. } => {
            if let Some(parent) = state.lot(lot).map(|lot| lot.into_owned()) {
                for record in super::disposition::part_lots(event, &parent) {
                    if state.lots.contains_key(&record.id) || record.id == *lot {
                        decide_record(state, record, event.at);
                    } else {
                        state.lots.insert(record.id.clone(), record);
                    }
                }
            }
            state.ncrs.apply(&event.kind, event.at);
        }
        EventKind::QualityAlert { .. } | EventKind::InspectionResumed { .. } => {
            let master = state.master.clone();
            state.quality.apply(&master, &event.kind, event.at);
        }
        EventKind::ReworkDone { lot, .. } | EventKind::InspectionRecorded { lot, .. } => {
            if matches!(event.kind, EventKind::InspectionRecorded { .. }) {
                let master = state.master.clone();
                state.quality.apply(&master, &event.kind, event.at);
            }
            let progressed = state
                .lot(lot)
                .and_then(|known| super::disposition::rework_progress(&known, event));
            if let Some(record) = progressed {
                decide_record(state, record, event.at);
            }
        }
        EventKind::NcrOpened { .. } | EventKind::NcrClosed { .. } => {
            state.ncrs.apply(&event.kind, event.at);
        }
        // A PIN entered right to sign proves the person as a login does.
        EventKind::Signed { signer, .. } => {
            state.login_guard.failures.remove(signer);
        }
        EventKind::Corrected {
            corrects,
            work_order,
            was,
            now,
            ..
        } => {
            super::correction::apply(state, work_order.as_ref(), was, now);
            state.corrections.insert(*corrects, now.clone());
        }
        EventKind::PartRecorded { .. } => super::part_record::apply(state, &event.kind),
        EventKind::MachineStateChanged {
            packml,
            stop_reason,
            blocked,
            starved,
            category,
        } => {
            state.machine = Some((
                super::machine::MachineReading {
                    packml: *packml,
                    stop_reason: *stop_reason,
                    blocked: *blocked,
                    starved: *starved,
                },
                *category,
            ));
        }
        EventKind::LotRegistered { .. } => {
            if let Some(lot) = super::material::registered_lot(event) {
                state.lots.insert(lot.id.clone(), lot);
            }
        }
        EventKind::LotLoaded {
            work_order,
            material,
            lot,
            ..
        } => {
            let progress = state
                .progress
                .entry(work_order.clone())
                .or_insert_with(Progress::new);
            progress.loaded.insert(material.clone(), lot.clone());
            progress.open_output.inputs.insert(lot.clone());
            progress.last_loaded = Some(material.clone());
        }
        EventKind::LotConsumed { lot, quantity, .. } => {
            let used = state.lot_usage.entry(lot.clone()).or_default();
            *used = used.saturating_add(*quantity);
        }
        EventKind::OutputCreated {
            work_order,
            form,
            quantity,
            ..
        } => {
            state.outputs_made += 1;
            if let Some(lot) = super::material::produced_lot(event) {
                state.lots.insert(lot.id.clone(), lot);
            }
            let progress = state
                .progress
                .entry(work_order.clone())
                .or_insert_with(Progress::new);
            let units = match form {
                OutputForm::Serial => 1,
                OutputForm::Lot => u64::try_from(quantity.milli() / 1000).unwrap_or(0),
            };
            progress.open_output.units = progress.open_output.units.saturating_sub(units);
            // The next output starts from the lots still loaded, not from everything so far.
            progress.open_output.inputs = progress.loaded.values().cloned().collect();
        }
    }
    super::first_article::apply(state, event);
}

/// Records a lot as decided here: it counts over central's older record until central has it.
fn decide_record(state: &mut State, record: Lot, at: DateTime<Utc>) {
    state.lot_decisions.insert(
        record.id.clone(),
        LotDecision {
            hold: None,
            at,
            lifts: None,
            record: Some(record),
        },
    );
}
