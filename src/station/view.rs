//! What the screen shows: a plain snapshot the core publishes after every change. The UI renders it
//! and never reaches into the core's state.

use crate::domain::material::missing_materials;
use crate::domain::{
    ExecStatus, LotOrigin, OutputKind, PackMlState, Quantity, State, WorkOrder, WorkOrderStatus,
};
use chrono::{DateTime, NaiveDate, Utc};

#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub station: String,
    pub now: DateTime<Utc>,
    pub operator: Option<OperatorView>,
    pub active: Option<ActiveView>,
    pub queue: Vec<QueueRow>,
    pub plc: PlcView,
    pub central: CentralView,
    /// Central's clock minus this terminal's, in milliseconds (positive: central is ahead), as last
    /// estimated by sync; none before central first answered.
    pub central_clock_offset_ms: Option<i64>,
    /// The clocks differ by more than [`CLOCK_WARN_MS`] (cleared at [`CLOCK_CLEAR_MS`], so an offset
    /// hovering near the limit does not flap).
    pub central_clock_warning: bool,
    /// Events recorded here and not yet acknowledged by central.
    pub backlog: u64,
    pub last_seq: u64,
    /// Units the machine made while no work order was active.
    pub unassigned_produced: u64,
    /// The label printer in words; none when no printer is configured.
    pub printer: Option<String>,
    /// The stop the machine is in, if it is down.
    pub open_stop: Option<crate::domain::downtime::Downtime>,
    /// Stops nobody has given a reason for yet.
    pub uncoded_stops: usize,
    /// The open andon call.
    pub andon: Option<crate::domain::andon::AndonCall>,
    /// The latest stops, oldest first, for the Downtime screen.
    pub stops: Vec<crate::domain::downtime::Downtime>,
    /// The shift running now, from the shift calendar; none outside every shift.
    pub shift: Option<ShiftView>,
    /// The downtime reasons of master data, by code: the Downtime screen chooses from them.
    pub reasons: Vec<ReasonView>,
    /// A badge was scanned and its PIN is awaited: the name to ask it of.
    pub pin_prompt: Option<String>,
    /// What is running and open here, for whoever logs in next.
    pub handover: Vec<String>,
    /// A signature-grade action waits for its signatures: what is signed and what to enter next.
    pub signature_prompt: Option<SignaturePrompt>,
    /// The newest facts a person may correct, newest first (the History screen).
    pub history: Vec<HistoryRow>,
    /// Lots sent back to an operation this station performs, waiting for their rework.
    pub rework: Vec<ReworkRow>,
    /// Nonconformance reports opened here, open ones first.
    pub ncrs: Vec<crate::domain::ncr::Ncr>,
    /// The lot the Inspect screen inspects: its plan and history, or why it cannot be inspected.
    pub inspection: Option<InspectionView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InspectionView {
    pub lot: String,
    pub context: Result<crate::domain::quality_state::InspectionContext, String>,
}

/// A lot waiting here for rework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReworkRow {
    pub lot: String,
    pub operation: String,
    pub quantity: Quantity,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignaturePrompt {
    /// The record to be signed, in words: "release the hold on lot C24-1031".
    pub what: String,
    /// What to enter next: "Demo Inspector: type your PIN to sign (approved)".
    pub ask: String,
    /// The next entry is a PIN: mask it, never echo it.
    pub secret: bool,
}

/// A recorded fact that can be corrected, with what counts now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// What kind of fact, in words, with its work order: "count WO-24001".
    pub what: String,
    /// What counts now: the original, or the latest correction of it.
    pub value: crate::domain::correction::Correction,
    /// What the event itself says, when a correction replaced it.
    pub original: Option<crate::domain::correction::Correction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonView {
    pub code: String,
    pub text: String,
    pub planned: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OperatorView {
    pub badge: String,
    pub name: String,
    pub since: DateTime<Utc>,
    /// What the screens offer follows from these, through the permissions matrix.
    pub roles: Vec<crate::domain::permission::Role>,
}

impl OperatorView {
    pub fn may(&self, action: crate::domain::permission::Action) -> bool {
        crate::domain::permission::permits(&self.roles, action)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActiveView {
    pub id: String,
    pub product: String,
    pub product_name: String,
    pub quantity: u64,
    pub due: Option<NaiveDate>,
    pub planning_status: Option<WorkOrderStatus>,
    pub status: ExecStatus,
    pub produced: u64,
    pub rejected: u64,
    pub good: u64,
    pub started_at: Option<DateTime<Utc>>,
    /// The routing operation this order runs here, e.g. "OP10 machining".
    pub operation: Option<String>,
    /// ISO 22400 KPIs of this order so far; none without an ideal cycle or before it starts.
    pub kpi: Option<KpiView>,
    /// One line per material of the operation's bill of materials.
    pub materials: Vec<MaterialLine>,
    pub output: Option<OutputView>,
    /// Quality holds on what this order made here, in words: the permit stays off while any holds.
    pub quality_holds: Vec<String>,
    /// Central's word that stops this order here — held, cancelled, closed, or taken off this
    /// station — with the planner's reason; none while it may run.
    pub planning_hold: Option<String>,
}

/// Live ISO 22400 KPIs, as fractions (0.9 = 90 %); none where a denominator is still zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KpiView {
    pub oee: Option<f64>,
    pub availability: Option<f64>,
    pub effectiveness: Option<f64>,
    pub quality: Option<f64>,
}

impl From<&crate::domain::kpi::Kpis> for KpiView {
    fn from(kpis: &crate::domain::kpi::Kpis) -> Self {
        KpiView {
            oee: kpis.oee,
            availability: kpis.availability,
            effectiveness: kpis.effectiveness,
            quality: kpis.quality_ratio,
        }
    }
}

/// The shift running now (from the shift calendar) and its KPIs so far.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftView {
    /// "Early 2026-11-25".
    pub label: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub kpi: KpiView,
    pub produced: u64,
    pub good: u64,
}

/// A material the running operation needs, and the lot feeding it.
#[derive(Debug, Clone, PartialEq)]
pub struct MaterialLine {
    pub material: String,
    pub name: String,
    pub per_unit: Quantity,
    pub unit: String,
    pub lot: Option<String>,
    pub remaining: Option<Quantity>,
    /// Why the permit waits for this material; none when a usable lot is loaded.
    pub problem: Option<String>,
    /// Lots the previous operation made for this order that wait here, oldest first: the ones
    /// to scan.
    pub waiting_lots: Vec<String>,
}

/// What the operation hands on and how far the current tote is.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputView {
    /// Units per tote; none when every unit gets its own serial.
    pub tote_size: Option<u64>,
    pub open_units: u64,
    pub next_operation: Option<String>,
    /// The last output made for this order here.
    pub last: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub id: String,
    pub product: String,
    pub quantity: u64,
    pub due: NaiveDate,
    pub priority: u8,
    pub status: WorkOrderStatus,
    /// Progress here, if the order was ever selected at this station.
    pub exec: Option<ExecStatus>,
    pub good: u64,
    /// Work in process from the previous operation waiting here for this order.
    pub waiting: Option<Waiting>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub lots: usize,
    pub units: Quantity,
    /// When the oldest waiting lot was made upstream: its time in the queue so far.
    pub oldest: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlcLink {
    /// This station runs without a PLC.
    NotConfigured,
    Connecting,
    Online,
    Offline {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlcView {
    pub address: String,
    pub link: PlcLink,
    pub state: Option<PackMlState>,
    pub stop_reason: u16,
    pub units_per_minute: f64,
    pub last_cycle_ms: u32,
    pub permit: bool,
    /// The last Modbus exception the PLC answered with, if any since the link came up.
    pub alarm: Option<String>,
    /// The PLC answers but its heartbeat stands still.
    pub stale: bool,
    /// The stacklight as the PLC drives it (HR8 bits).
    pub stacklight: u16,
    /// The per-part record recorded last, "S100-000042 good"; none without part records.
    pub last_part: Option<String>,
    /// The process values the map names, as last read: what an inspection reads from the PLC.
    pub values: Vec<crate::plc::layout::ProcessValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CentralView {
    /// No central configured: events wait in the local log.
    Disabled,
    Connecting,
    Online,
    Offline {
        error: String,
    },
    /// Central refused our events (a configuration or data problem that retrying will not fix).
    Refused {
        error: String,
    },
}

/// Above this clock offset (either way) the terminal warns: event times from it would be misleading
/// next to other stations'. Ordering is unaffected: it comes from `seq`.
pub const CLOCK_WARN_MS: i64 = 2_000;
/// At or below this the warning clears again.
pub const CLOCK_CLEAR_MS: i64 = 1_500;

/// A clock difference in words, without its sign: "3.4 s", "12 min", "5 h", "3 d".
pub fn clock_gap_words(offset_ms: i64) -> String {
    let ms = offset_ms.unsigned_abs();
    match ms {
        0..60_000 => {
            let tenths = (ms + 50) / 100;
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
        60_000..3_600_000 => format!("{} min", ms / 60_000),
        3_600_000..172_800_000 => format!("{} h", ms / 3_600_000),
        // A clock years off (a dead RTC battery) needs no precision, only to fit.
        _ => format!("{} d", (ms / 86_400_000).min(999)),
    }
}

/// The status-bar word for a clock offset: "CLOCK +3.4 s" (central ahead) or "CLOCK -3.4 s".
pub fn clock_status_words(offset_ms: i64) -> String {
    let sign = if offset_ms < 0 { '-' } else { '+' };
    format!("CLOCK {sign}{}", clock_gap_words(offset_ms))
}

impl View {
    /// The empty view the UI starts with, before the core's first publish.
    pub fn empty(station: &str) -> View {
        View {
            station: station.to_owned(),
            now: DateTime::<Utc>::UNIX_EPOCH,
            operator: None,
            active: None,
            queue: Vec::new(),
            plc: PlcView {
                address: String::new(),
                link: PlcLink::Connecting,
                state: None,
                stop_reason: 0,
                units_per_minute: 0.0,
                last_cycle_ms: 0,
                permit: false,
                alarm: None,
                stale: false,
                stacklight: 0,
                last_part: None,
                values: Vec::new(),
            },
            central: CentralView::Connecting,
            central_clock_offset_ms: None,
            central_clock_warning: false,
            backlog: 0,
            last_seq: 0,
            unassigned_produced: 0,
            printer: None,
            open_stop: None,
            uncoded_stops: 0,
            andon: None,
            stops: Vec::new(),
            shift: None,
            reasons: Vec::new(),
            pin_prompt: None,
            handover: Vec::new(),
            signature_prompt: None,
            history: Vec::new(),
            rework: Vec::new(),
            ncrs: Vec::new(),
            inspection: None,
        }
    }

    /// The parts of the view derived from domain state.
    pub(super) fn fill_from_state(&mut self, state: &State) {
        self.station = state.station.to_string();
        self.operator = state.session.as_ref().map(|session| OperatorView {
            badge: session.badge.to_string(),
            name: session.name.clone(),
            since: session.since,
            roles: state
                .master
                .operators
                .get(&session.badge)
                .map(|operator| operator.roles())
                .unwrap_or_default(),
        });
        self.handover = crate::domain::session::handover(state, self.now);
        self.active = state.active_progress().map(|(id, progress)| {
            let order = state.master.work_orders.get(id);
            let product = order.map(|o| o.product.clone());
            ActiveView {
                id: id.to_string(),
                product: product.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                product_name: product
                    .as_ref()
                    .and_then(|p| state.master.products.get(p))
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                quantity: order.map_or(0, |o| o.quantity),
                due: order.map(|o| o.due),
                planning_status: order.map(|o| o.status),
                status: progress.status,
                produced: progress.produced,
                rejected: progress.rejected,
                good: progress.good(),
                started_at: progress.started_at,
                operation: order
                    .and_then(|o| state.master.step_at(&o.product, &state.station))
                    .map(|step| format!("{} {}", step.operation, step.name)),
                materials: material_lines(state, order, self.now),
                kpi: None,
                output: output_view(state, order, progress),
                quality_holds: crate::domain::interlock::quality_holds(state)
                    .into_iter()
                    .chain(
                        crate::domain::first_article::pending(state).map(|(work_order, lot)| {
                            crate::domain::interlock::Blocker::FirstArticlePending {
                                work_order,
                                lot,
                            }
                        }),
                    )
                    .map(|blocker| blocker.words())
                    .collect(),
                planning_hold: crate::domain::interlock::planning_holds(state, self.now)
                    .first()
                    .map(crate::domain::interlock::Blocker::words),
            }
        });
        self.queue = state
            .master
            .queue()
            .into_iter()
            .filter(|order| order.stations.is_empty() || order.stations.contains(&state.station))
            .filter(|order| {
                !matches!(
                    order.status,
                    WorkOrderStatus::Closed | WorkOrderStatus::Cancelled
                )
            })
            .map(|order| {
                let progress = state.progress.get(&order.id);
                QueueRow {
                    id: order.id.to_string(),
                    product: order.product.to_string(),
                    quantity: order.quantity,
                    due: order.due,
                    priority: order.priority,
                    status: order.status,
                    exec: progress.map(|p| p.status),
                    good: progress.map_or(0, |p| p.good()),
                    waiting: waiting_here(state, order),
                }
            })
            .collect();
        self.rework = crate::domain::disposition::rework_queue(state)
            .into_iter()
            .map(|(lot, operation)| ReworkRow {
                lot: lot.id.to_string(),
                operation: operation.to_string(),
                quantity: state.lot_remaining(&lot),
                reason: lot.status_reason.clone(),
            })
            .collect();
        self.ncrs = state.ncrs.ncrs.values().cloned().collect();
        self.ncrs
            .sort_by_key(|ncr| (ncr.closed_at.is_some(), std::cmp::Reverse(ncr.opened_at)));
        self.unassigned_produced = state.unassigned_produced;
        self.open_stop = state
            .downtimes
            .iter()
            .rev()
            .find(|stop| stop.ended_at.is_none())
            .cloned();
        self.uncoded_stops = state.downtimes.iter().filter(|s| s.uncoded()).count();
        self.stops.clone_from(&state.downtimes);
        self.reasons = state
            .master
            .codes
            .values()
            .filter_map(|code| match code.kind {
                crate::domain::CodeKind::Downtime { planned } => Some(ReasonView {
                    code: code.code.clone(),
                    text: code.text.clone(),
                    planned,
                }),
                _ => None,
            })
            .collect();
        self.andon = state.andon;
        self.plc.last_part = state
            .last_part
            .as_ref()
            .map(|part| format!("{} {}", part.serial, part.result.words()));
    }
}

fn material_lines(
    state: &State,
    order: Option<&WorkOrder>,
    now: DateTime<Utc>,
) -> Vec<MaterialLine> {
    let Some(order) = order else {
        return Vec::new();
    };
    let Some(step) = state.master.step_at(&order.product, &state.station) else {
        return Vec::new();
    };
    let Some(bom) = state.master.bom(&order.product, &step.operation) else {
        return Vec::new();
    };
    let missing = missing_materials(state, now);
    let loaded = state.progress.get(&order.id).map(|p| &p.loaded);
    bom.lines
        .iter()
        .map(|line| {
            let material = state.master.materials.get(&line.material);
            let lot = loaded.and_then(|loaded| loaded.get(&line.material));
            MaterialLine {
                material: line.material.to_string(),
                name: material.map(|m| m.name.clone()).unwrap_or_default(),
                per_unit: line.quantity_per_unit,
                unit: material.map(|m| m.unit.clone()).unwrap_or_default(),
                lot: lot.map(ToString::to_string),
                remaining: lot
                    .and_then(|id| state.lot(id))
                    .map(|lot| state.lot_remaining(&lot)),
                problem: missing
                    .iter()
                    .find(|m| m.material == line.material)
                    .map(|m| m.why.clone()),
                waiting_lots: waiting_lots(state, order, &line.material),
            }
        })
        .collect()
}

fn output_view(
    state: &State,
    order: Option<&WorkOrder>,
    progress: &crate::domain::Progress,
) -> Option<OutputView> {
    let order = order?;
    let step = state.master.step_at(&order.product, &state.station)?;
    let last = state
        .lots
        .values()
        .filter(|lot| {
            matches!(&lot.origin, LotOrigin::Produced { work_order, station, .. }
                if work_order == &order.id && station == &state.station)
        })
        .max_by_key(|lot| match &lot.origin {
            LotOrigin::Produced { at, .. } => Some(*at),
            LotOrigin::Supplier | LotOrigin::Split { .. } => None,
        })
        .map(|lot| lot.id.to_string());
    Some(OutputView {
        tote_size: match step.output {
            OutputKind::Lot { size } => Some(size),
            OutputKind::Serial => None,
        },
        open_units: progress.open_output.units,
        next_operation: state
            .master
            .routings
            .get(&order.product)
            .and_then(|routing| routing.next_step(&step.operation))
            .map(|next| next.operation.to_string()),
        last,
    })
}

/// Lots of `material` made upstream for `order` and not used up here, oldest first.
fn waiting_lots(
    state: &State,
    order: &WorkOrder,
    material: &crate::domain::MaterialId,
) -> Vec<String> {
    let mut lots: Vec<(DateTime<Utc>, String)> = state
        .known_lots()
        .filter(|lot| &lot.material == material)
        .filter(|lot| lot.status == crate::domain::LotStatus::Released)
        .filter(|lot| state.lot_remaining(lot).is_positive())
        .filter_map(|lot| match &lot.origin {
            LotOrigin::Produced { work_order, at, .. } if work_order == &order.id => {
                Some((*at, lot.id.to_string()))
            }
            _ => None,
        })
        .collect();
    lots.sort();
    lots.into_iter().map(|(_, id)| id).collect()
}

/// Lots the previous operation made for `order` that this station's operation consumes and has not
/// used up: the work waiting here.
fn waiting_here(state: &State, order: &WorkOrder) -> Option<Waiting> {
    let step = state.master.step_at(&order.product, &state.station)?;
    let bom = state.master.bom(&order.product, &step.operation)?;
    let mut lots = 0;
    let mut units = Quantity::ZERO;
    let mut oldest: Option<DateTime<Utc>> = None;
    for lot in state.known_lots() {
        let LotOrigin::Produced { work_order, at, .. } = &lot.origin else {
            continue;
        };
        if work_order != &order.id || !bom.lines.iter().any(|line| line.material == lot.material) {
            continue;
        }
        let remaining = state.lot_remaining(&lot);
        if !remaining.is_positive() || lot.status != crate::domain::LotStatus::Released {
            continue;
        }
        lots += 1;
        units = units.saturating_add(remaining);
        oldest = Some(oldest.map_or(*at, |oldest| oldest.min(*at)));
    }
    oldest.map(|oldest| Waiting {
        lots,
        units,
        oldest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_offsets_in_short_words() {
        assert_eq!(clock_status_words(3_420), "CLOCK +3.4 s");
        assert_eq!(clock_status_words(-2_050), "CLOCK -2.1 s");
        assert_eq!(clock_status_words(59_990), "CLOCK +60.0 s");
        assert_eq!(clock_status_words(-754_000), "CLOCK -12 min");
        assert_eq!(clock_status_words(5 * 3_600_000 + 1), "CLOCK +5 h");
        assert_eq!(clock_status_words(-400 * 86_400_000), "CLOCK -400 d");
        assert!(
            clock_status_words(i64::MIN).len() <= "Central online".len(),
            "never wider than what it replaces on the status bar"
        );
    }
}
