//! The wire format between station and central (JSON over HTTP). Both sides use these types, so
//! they cannot drift apart.

use crate::domain::{
    Bom, Code, Event, Lot, MasterData, Material, Operator, Product, Routing, WorkOrder,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most events in one uplink batch.
pub const MAX_BATCH_EVENTS: usize = 500;

/// `POST /api/v1/stations/{station}/events`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBatch {
    pub events: Vec<Event>,
}

/// The answer to a batch, sent only after central committed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAck {
    pub acked_through: u64,
    pub chain_head: String,
    pub server_time: DateTime<Utc>,
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
    pub server_time: DateTime<Utc>,
}

/// `GET /api/v1/work-orders/{id}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderReport {
    pub work_order: WorkOrder,
    pub produced: u64,
    pub rejected: u64,
    pub good: u64,
    pub stations: Vec<StationProgress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StationProgress {
    pub station: String,
    pub status: String,
    pub produced: u64,
    pub rejected: u64,
}
