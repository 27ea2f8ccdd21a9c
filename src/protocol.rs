//! The wire format between station and central (JSON over HTTP). Both sides use these types, so
//! they cannot drift apart.

use crate::domain::{
    Badge, Bom, Code, Event, Lot, LotId, LotStatus, MasterData, Material, MaterialId, OperationId,
    Operator, OutputForm, Product, Quantity, Routing, StationConfig, StationId, WorkOrder,
    WorkOrderId,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most events in one uplink batch.
pub const MAX_BATCH_EVENTS: usize = 500;

/// `POST /api/v1/stations/{station}/events`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBatch {
    pub events: Vec<Event>,
    /// The station's clock when it sent the batch: events that waited longer than the station's
    /// `historical_after_minutes` are marked historical at central.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// The newest seq in the station's log when it sent the batch: central's view of its backlog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station_head: Option<u64>,
}

impl EventBatch {
    /// A batch without the sender's clock or head (tests, tools).
    pub fn of(events: Vec<Event>) -> Self {
        EventBatch {
            events,
            sent_at: None,
            station_head: None,
        }
    }
}

/// The answer to a batch, sent only after central committed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAck {
    pub acked_through: u64,
    pub chain_head: String,
    pub server_time: DateTime<Utc>,
    /// Events of this batch central stored but set aside instead of applying (why, in words).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined: Vec<Quarantined>,
}

/// An event central stored (its place in the chain is kept) but did not apply: it cannot be
/// trusted to mean what it says. Shown at central and to the station; nothing is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    pub station: String,
    pub seq: u64,
    pub kind: String,
    pub reason: String,
    /// When central set it aside.
    pub at: DateTime<Utc>,
}

/// The body of every error answer. `expected_seq` is set on 409 (gap or rewind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_seq: Option<u64>,
}

/// One versioned master-data record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "record", rename_all = "snake_case")]
pub enum MasterRecord {
    Operator(Operator),
    Product(Product),
    Material(Material),
    WorkOrder(WorkOrder),
    Routing(Routing),
    Bom(Bom),
    Lot(Lot),
    Code(Code),
    StationConfig(StationConfig),
    InspectionPlan(crate::domain::inspection::InspectionPlan),
}

impl MasterRecord {
    /// Puts this record into `master`, replacing the version it had.
    pub fn apply_to(self, master: &mut MasterData) {
        match self {
            MasterRecord::Operator(o) => {
                master.operators.insert(o.badge.clone(), o);
            }
            MasterRecord::Product(p) => {
                master.products.insert(p.id.clone(), p);
            }
            MasterRecord::Material(m) => {
                master.materials.insert(m.id.clone(), m);
            }
            MasterRecord::WorkOrder(w) => {
                master.work_orders.insert(w.id.clone(), w);
            }
            MasterRecord::Routing(r) => {
                master.routings.insert(r.product.clone(), r);
            }
            MasterRecord::Bom(b) => {
                master
                    .boms
                    .insert((b.product.clone(), b.operation.clone()), b);
            }
            MasterRecord::Lot(l) => {
                master.lots.insert(l.id.clone(), l);
            }
            MasterRecord::Code(c) => {
                master.codes.insert(c.code.clone(), c);
            }
            MasterRecord::StationConfig(config) => {
                master.station_config = Some(config);
            }
            MasterRecord::InspectionPlan(plan) => {
                master
                    .inspection_plans
                    .insert((plan.product.clone(), plan.operation.clone()), plan);
            }
        }
    }

    /// (kind, key) under which the station keeps the latest version.
    pub fn key(&self) -> (&'static str, String) {
        match self {
            MasterRecord::Operator(o) => ("operator", o.badge.to_string()),
            MasterRecord::Product(p) => ("product", p.id.to_string()),
            MasterRecord::Material(m) => ("material", m.id.to_string()),
            MasterRecord::WorkOrder(w) => ("work_order", w.id.to_string()),
            MasterRecord::Routing(r) => ("routing", r.product.to_string()),
            MasterRecord::Bom(b) => ("bom", format!("{}/{}", b.product, b.operation)),
            MasterRecord::Lot(l) => ("lot", l.id.to_string()),
            MasterRecord::Code(c) => ("code", c.code.clone()),
            MasterRecord::StationConfig(config) => ("station_config", config.station.to_string()),
            MasterRecord::InspectionPlan(plan) => (
                "inspection_plan",
                format!("{}/{}", plan.product, plan.operation),
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub version: u64,
    #[serde(flatten)]
    pub record: MasterRecord,
}

/// `GET /api/v1/stations/{station}/changes?since=CURSOR&limit=N`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// Pass as `since` next time.
    pub cursor: u64,
    /// More changes wait beyond this page.
    pub more: bool,
    /// Central's clock when it answered.
    pub server_time: DateTime<Utc>,
    /// How long central held a long-poll (`wait=`) before answering, in milliseconds: the station
    /// leaves it out of the round trip it estimates the clock offset from.
    #[serde(default)]
    pub waited_ms: u64,
}

/// `GET /api/v1/work-orders/{id}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderReport {
    pub work_order: WorkOrder,
    pub produced: u64,
    pub rejected: u64,
    pub good: u64,
    pub stations: Vec<StationProgress>,
    /// Every status central gave the order, oldest first.
    #[serde(default)]
    pub history: Vec<StatusChange>,
    /// How many production facts arrived for a time the order was not released at central.
    #[serde(default)]
    pub flagged_count: u64,
    /// The first of them (at most [`MAX_FLAGGED_LISTED`]), in station and seq order.
    #[serde(default)]
    pub flagged: Vec<FlaggedEvent>,
}

/// Most flagged events a work-order report lists; `flagged_count` has them all.
pub const MAX_FLAGGED_LISTED: usize = 100;

/// One status a work order had at central, from when, set by whom or what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: crate::domain::WorkOrderStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    /// `cli`, `api:NAME` (the admin token), `import` or `seed`.
    pub source: String,
    pub version: u64,
}

/// A fact accepted into its chain and applied, but marked for review: a station produced on an
/// order after central had held, cancelled or closed it (it had not heard yet, or was offline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlaggedEvent {
    pub station: String,
    pub seq: u64,
    pub kind: String,
    /// The station's time of the fact.
    pub at: DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationProgress {
    pub station: String,
    pub status: String,
    pub produced: u64,
    pub rejected: u64,
}

/// Deepest genealogy central walks, whatever is asked: a corrupt or malicious log with a cycle (or an
/// absurdly deep chain) must not keep a query busy forever. Real routings are a handful of steps.
pub const MAX_GENEALOGY_DEPTH: u32 = 20;

/// Which way a genealogy runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceDirection {
    /// From a lot or serial to the lots it was made from ("what is in it?").
    #[default]
    Backward,
    /// From a lot to everything made from it ("where did it go?"): the recall direction.
    Forward,
}

/// `GET /api/v1/lots/{id}/genealogy?direction=backward|forward&depth=N`
///
/// A lot is reached once per query: `nodes` counts distinct lots, and a lot reached again (a shared
/// input, or a cycle in a corrupt log) appears as a leaf marked `repeated` or `cycle`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genealogy {
    pub lot: LotId,
    pub direction: TraceDirection,
    /// The depth limit this answer was walked with (at most [`MAX_GENEALOGY_DEPTH`]).
    pub max_depth: u32,
    /// The deepest level reached; the root is level 0.
    pub depth: u32,
    /// Distinct lots in the tree, the root included.
    pub nodes: u64,
    /// Some links were not followed because of the depth limit (or the size limit).
    pub truncated: bool,
    /// Links that lead back to a lot already on the path: a corrupt or forged log. Empty normally.
    pub cycles: Vec<GenealogyLink>,
    pub root: GenealogyNode,
    /// Forward only: the finished serials reached (outputs of form serial that nothing consumed
    /// further), sorted by id. This is the recall list. Empty for a backward genealogy.
    pub finished: Vec<FinishedUnit>,
    /// How long the lots of this tree waited before each operation, by operation.
    pub waiting_by_operation: Vec<OperationWaiting>,
}

/// One lot or serial in a genealogy tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenealogyNode {
    pub lot: LotId,
    pub form: OutputForm,
    /// `None` for a lot a station named as an input but central never learned of.
    pub material: Option<MaterialId>,
    pub material_name: Option<String>,
    /// The material's unit of measure (`pc`, `kg`, ...).
    pub unit: Option<String>,
    /// As received or produced, in thousandths of the unit (like every [`Quantity`] on the wire).
    pub quantity: Option<Quantity>,
    pub status: Option<LotStatus>,
    pub status_reason: Option<String>,
    pub origin: NodeOrigin,
    /// Who made it (the operator logged in at the station), or who first scanned a supplier lot.
    pub operator: Option<Badge>,
    /// The machine's state when it was made (PackML, in words: "running"); `None` for supplier
    /// lots and for a part-filled tote closed by a person.
    pub machine_state: Option<String>,
    /// What quality found and decided about this lot, oldest first: inspections, holds, NCRs,
    /// dispositions, rework and releases. Central's answer only; a station answering from its own
    /// log leaves it empty.
    #[serde(default)]
    pub quality: Vec<QualityEntry>,
    /// How long it waited between being made and being first loaded at its next operation.
    pub waiting: Option<Waiting>,
    /// Shown in full elsewhere in this tree (a shared input or output): its links are listed there.
    pub repeated: bool,
    /// Reached again along its own path: the log holds a cycle. Its links are not followed again.
    pub cycle: bool,
    /// It has links beyond the depth limit that are not shown.
    pub truncated: bool,
    pub children: Vec<GenealogyNode>,
}

/// One quality fact about a lot, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityEntry {
    pub at: DateTime<Utc>,
    pub station: StationId,
    /// The event kind (`inspection_recorded`, `lot_dispositioned`, ...).
    pub kind: String,
    pub actor: String,
    pub words: String,
}

/// Where a lot came from, as far as central knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NodeOrigin {
    /// A supplier lot: imported into central, or first scanned at a station (`first_seen_*`).
    Supplier {
        first_seen_station: Option<StationId>,
        first_seen_at: Option<DateTime<Utc>>,
    },
    /// Made by an operation of a work order.
    Produced {
        station: StationId,
        work_order: WorkOrderId,
        operation: OperationId,
        at: DateTime<Utc>,
    },
    /// Split off the lot it links to by a disposition (some units scrapped, the rest reworked).
    Split {
        station: StationId,
        at: DateTime<Utc>,
    },
    /// Named as an input by a station, never registered or imported.
    Unknown,
}

/// The queue time of a made lot: from its creation (entering the queue) to its first load at the
/// next operation (its start there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// The operation it waited for.
    pub operation: OperationId,
    /// Where it was first loaded for that operation.
    pub station: StationId,
    pub queued_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub seconds: i64,
}

/// Queue time before one operation over the lots of a genealogy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationWaiting {
    pub operation: OperationId,
    pub lots: u64,
    pub mean_seconds: i64,
    pub max_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenealogyLink {
    pub from: LotId,
    pub to: LotId,
}

/// A finished serial that contains the traced lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedUnit {
    pub serial: LotId,
    pub material: Option<MaterialId>,
    pub station: Option<StationId>,
    pub work_order: Option<WorkOrderId>,
    pub made_at: Option<DateTime<Utc>>,
}
