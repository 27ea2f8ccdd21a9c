//! Master data the station receives from central: who may work here, what to build, from what.
//! Central owns it; the station keeps the latest version of each record.

use super::ids::{
    Badge, LineId, LotId, MaterialId, OperationId, ProductId, StationId, WorkOrderId,
};
use super::quantity::Quantity;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub badge: Badge,
    pub name: String,
    pub roles: Vec<String>,
    pub active: bool,
    /// The last day the badge may log in (a contractor's or trainee's end date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<NaiveDate>,
    /// From when the badge counts as revoked: no login, and central refuses what it does after.
    /// A time, not a flag, so facts made offline before the revocation still count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Argon2id verifier of the PIN (a PHC string), never the PIN: stations check logins offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_verifier: Option<String>,
}

impl Operator {
    /// The roles the record names, as the permissions matrix knows them.
    pub fn roles(&self) -> Vec<super::permission::Role> {
        super::permission::Role::parse_all(&self.roles)
    }

    /// Whether the badge was revoked by `at`.
    pub fn revoked_by(&self, at: DateTime<Utc>) -> bool {
        self.revoked_at.is_some_and(|revoked| revoked <= at)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub gtin: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Material {
    pub id: MaterialId,
    pub name: String,
    pub gtin: Option<String>,
    pub unit: String,
    /// Days a lot stays usable after it was made; sets the expiry of a lot whose label carries none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shelf_life_days: Option<u32>,
    /// Further GTINs of the same material: other pack sizes, a second supplier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_gtins: Vec<String>,
}

impl Material {
    /// Whether a label's GTIN names this material.
    pub fn has_gtin(&self, gtin: &str) -> bool {
        self.gtin.as_deref() == Some(gtin) || self.other_gtins.iter().any(|other| other == gtin)
    }
}

/// Planning status, owned by central. Only a released order may be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkOrderStatus {
    Planned,
    Released,
    OnHold,
    Cancelled,
    Closed,
}

impl WorkOrderStatus {
    /// How an operator reads it.
    pub fn words(self) -> &'static str {
        match self {
            WorkOrderStatus::Planned => "planned, not released",
            WorkOrderStatus::Released => "released",
            WorkOrderStatus::OnHold => "on hold",
            WorkOrderStatus::Cancelled => "cancelled",
            WorkOrderStatus::Closed => "closed",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WorkOrderStatus::Planned => "planned",
            WorkOrderStatus::Released => "released",
            WorkOrderStatus::OnHold => "on_hold",
            WorkOrderStatus::Cancelled => "cancelled",
            WorkOrderStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "planned" => WorkOrderStatus::Planned,
            "released" => WorkOrderStatus::Released,
            "on_hold" => WorkOrderStatus::OnHold,
            "cancelled" => WorkOrderStatus::Cancelled,
            "closed" => WorkOrderStatus::Closed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrder {
    pub id: WorkOrderId,
    /// The numeric id written to the PLC's command block (HR108–109).
    pub numeric_id: u32,
    pub product: ProductId,
    pub quantity: u64,
    pub due: NaiveDate,
    /// 1 is most urgent.
    pub priority: u8,
    pub status: WorkOrderStatus,
    /// Why central holds, cancelled or closed it, in the planner's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub line: LineId,
    /// Stations this order is dispatched to.
    pub stations: Vec<StationId>,
}

/// What one operation of a routing hands on: a lot (a tote of `size` units) or one serial per unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputKind {
    Lot { size: u64 },
    Serial,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingStep {
    pub operation: OperationId,
    pub name: String,
    /// Stations that can perform this operation.
    pub stations: Vec<StationId>,
    /// What the operation makes: a semi-finished material, or the product at the last step.
    pub output_material: MaterialId,
    pub output: OutputKind,
    /// The planned run time per item (ideal cycle) in milliseconds: PRI of ISO 22400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ideal_cycle_ms: Option<u64>,
}

/// The operations a product goes through, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routing {
    pub product: ProductId,
    pub steps: Vec<RoutingStep>,
}

impl Routing {
    /// The step that follows `operation`, where its output goes next.
    pub fn next_step(&self, operation: &OperationId) -> Option<&RoutingStep> {
        let index = self.steps.iter().position(|s| &s.operation == operation)?;
        self.steps.get(index + 1)
    }
}

/// One material an operation consumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BomLine {
    pub material: MaterialId,
    /// Drawn from the loaded lot for every unit made (good or rejected).
    pub quantity_per_unit: Quantity,
    /// Allowed over-consumption in percent before a booking is questioned.
    #[serde(default)]
    pub tolerance_pct: u16,
    #[serde(default)]
    pub consumption: Consumption,
}

/// When a material is drawn from its lot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Consumption {
    /// The rate per unit, for every unit the machine makes.
    #[default]
    PerUnit,
    /// The whole quantity on the label, when it is scanned (a bin of screws, a kanban card).
    PerScan,
}

/// The bill of materials of one operation of one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bom {
    pub product: ProductId,
    pub operation: OperationId,
    pub lines: Vec<BomLine>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LotStatus {
    Released,
    OnHold,
    Quarantined,
    Consumed,
    /// Dispositioned to scrap: it is gone, and nothing may draw from it.
    Scrapped,
    /// Dispositioned back to its supplier.
    Returned,
}

impl LotStatus {
    pub fn words(self) -> &'static str {
        match self {
            LotStatus::Released => "released",
            LotStatus::OnHold => "on hold",
            LotStatus::Quarantined => "quarantined",
            LotStatus::Consumed => "used up",
            LotStatus::Scrapped => "scrapped",
            LotStatus::Returned => "returned to supplier",
        }
    }
}

/// Where a lot came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LotOrigin {
    /// Received from a supplier (or first seen on a supplier label at a station).
    Supplier,
    /// A part of `parent` split off by a disposition (some units scrapped, the rest reworked).
    Split {
        parent: LotId,
        station: StationId,
        at: DateTime<Utc>,
    },
    /// Made here: the output of an operation of a work order.
    Produced {
        station: StationId,
        work_order: WorkOrderId,
        operation: OperationId,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub id: LotId,
    pub material: MaterialId,
    /// As received or produced.
    pub quantity: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<NaiveDate>,
    pub status: LotStatus,
    /// Why it is on hold or quarantined, in the quality engineer's words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub origin: LotOrigin,
    /// When the status was last decided (a hold or release at central or a station). A station's
    /// own later decision counts over an older record until central has seen it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_at: Option<DateTime<Utc>>,
    /// Sent back to an operation for rework: held until reworked and inspected again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rework: Option<super::disposition::Rework>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefectClass {
    Critical,
    Major,
    Minor,
}

/// What a plant code means: a defect of the catalog or a downtime reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CodeKind {
    Defect {
        class: DefectClass,
    },
    Downtime {
        planned: bool,
    },
    /// Why a recorded fact was corrected (keying error, wrong label scanned, counter fault).
    Correction,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Code {
    pub code: String,
    pub text: String,
    pub kind: CodeKind,
}

/// How long a station may go on without central when nothing says otherwise: a night shift.
pub const DEFAULT_OFFLINE_GRACE_MINUTES: u32 = 8 * 60;

fn default_offline_grace_minutes() -> u32 {
    DEFAULT_OFFLINE_GRACE_MINUTES
}

/// What central sets for one station, sent to that station only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationConfig {
    pub station: StationId,
    /// How long the station may go on with work orders it already has while central is out of
    /// reach; after that the machine's permit drops until central answers again. 0 means no limit.
    #[serde(default = "default_offline_grace_minutes")]
    pub offline_grace_minutes: u32,
    /// An event that waited longer than this at the station before it was sent is marked
    /// historical at central: a late fact, not news (dashboards and alerts tell the two apart).
    #[serde(default = "default_historical_after_minutes")]
    pub historical_after_minutes: u32,
    /// How long a badge stays locked after [`MAX_LOGIN_ATTEMPTS`] wrong PINs in a row.
    #[serde(default = "default_login_lockout_minutes")]
    pub login_lockout_minutes: u32,
    /// Minutes without anything from the operator (or units from the machine) before the station
    /// logs them out. 0 means never.
    #[serde(default = "default_idle_logout_minutes")]
    pub idle_logout_minutes: u32,
    /// Signature-grade actions that need a second person's signature here too, by
    /// [`Action::name`](super::permission::Action::name) (`release_hold`, `correct`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub second_signer_for: Vec<String>,
}

/// Wrong PINs in a row that lock a badge.
pub const MAX_LOGIN_ATTEMPTS: u32 = 5;
pub const DEFAULT_LOGIN_LOCKOUT_MINUTES: u32 = 15;
pub const DEFAULT_IDLE_LOGOUT_MINUTES: u32 = 30;

fn default_login_lockout_minutes() -> u32 {
    DEFAULT_LOGIN_LOCKOUT_MINUTES
}

fn default_idle_logout_minutes() -> u32 {
    DEFAULT_IDLE_LOGOUT_MINUTES
}

/// Minutes an event may wait at the station and still count as live.
pub const DEFAULT_HISTORICAL_AFTER_MINUTES: u32 = 10;

fn default_historical_after_minutes() -> u32 {
    DEFAULT_HISTORICAL_AFTER_MINUTES
}

impl StationConfig {
    pub fn new(station: StationId) -> Self {
        StationConfig {
            station,
            offline_grace_minutes: DEFAULT_OFFLINE_GRACE_MINUTES,
            historical_after_minutes: DEFAULT_HISTORICAL_AFTER_MINUTES,
            login_lockout_minutes: DEFAULT_LOGIN_LOCKOUT_MINUTES,
            idle_logout_minutes: DEFAULT_IDLE_LOGOUT_MINUTES,
            second_signer_for: Vec::new(),
        }
    }

    /// Whether `action` needs a second person's signature at this station.
    pub fn needs_second_signer(&self, action: super::permission::Action) -> bool {
        self.second_signer_for
            .iter()
            .any(|name| name.trim() == action.name())
    }

    pub fn login_lockout(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.login_lockout_minutes.max(1)))
    }

    /// The idle time that ends a session; none when sessions never time out.
    pub fn idle_logout(&self) -> Option<chrono::Duration> {
        (self.idle_logout_minutes > 0)
            .then(|| chrono::Duration::minutes(i64::from(self.idle_logout_minutes)))
    }

    /// The offline grace window; none when unlimited.
    pub fn offline_grace(&self) -> Option<chrono::Duration> {
        (self.offline_grace_minutes > 0)
            .then(|| chrono::Duration::minutes(i64::from(self.offline_grace_minutes)))
    }
}

/// Everything the station knows from central, keyed for lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasterData {
    pub operators: BTreeMap<Badge, Operator>,
    pub products: BTreeMap<ProductId, Product>,
    pub materials: BTreeMap<MaterialId, Material>,
    pub work_orders: BTreeMap<WorkOrderId, WorkOrder>,
    pub routings: BTreeMap<ProductId, Routing>,
    pub boms: BTreeMap<(ProductId, OperationId), Bom>,
    pub lots: BTreeMap<LotId, Lot>,
    /// Defect codes and downtime reasons, by code.
    pub codes: BTreeMap<String, Code>,
    /// What to inspect per product and operation.
    pub inspection_plans: BTreeMap<(ProductId, OperationId), super::inspection::InspectionPlan>,
    /// This station's settings from central; none until central sends them (then no offline limit
    /// applies: a station without central, or one central does not manage).
    pub station_config: Option<StationConfig>,
}

impl MasterData {
    /// Work orders in the order an operator should take them: priority, then due date, then id.
    pub fn queue(&self) -> Vec<&WorkOrder> {
        let mut orders: Vec<&WorkOrder> = self.work_orders.values().collect();
        orders.sort_by(|a, b| (a.priority, a.due, &a.id).cmp(&(b.priority, b.due, &b.id)));
        orders
    }

    /// The routing step `station` performs for `product`, if the routing has one.
    pub fn step_at(&self, product: &ProductId, station: &StationId) -> Option<&RoutingStep> {
        self.routings
            .get(product)?
            .steps
            .iter()
            .find(|step| step.stations.contains(station))
    }

    /// The planned run time per item (ideal cycle) of `work_order` at `station`, from its routing.
    pub fn ideal_cycle(
        &self,
        work_order: &WorkOrderId,
        station: &StationId,
    ) -> Option<chrono::Duration> {
        let order = self.work_orders.get(work_order)?;
        let millis = self.step_at(&order.product, station)?.ideal_cycle_ms?;
        Some(chrono::Duration::milliseconds(i64::try_from(millis).ok()?))
    }

    /// Whether `reason` is a planned downtime reason (a break, a changeover).
    pub fn is_planned_reason(&self, reason: &str) -> bool {
        matches!(
            self.codes.get(reason).map(|code| &code.kind),
            Some(CodeKind::Downtime { planned: true })
        )
    }

    pub fn bom(&self, product: &ProductId, operation: &OperationId) -> Option<&Bom> {
        self.boms.get(&(product.clone(), operation.clone()))
    }

    /// The material a GTIN on a label identifies.
    pub fn material_by_gtin(&self, gtin: &str) -> Option<&Material> {
        self.materials
            .values()
            .find(|material| material.has_gtin(gtin))
    }
}
