//! Master data the station receives from central: who may work here, what to build, from what.
//! Central owns it; the station keeps the latest version of each record.

use super::ids::{Badge, LineId, MaterialId, ProductId, StationId, WorkOrderId};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub badge: Badge,
    pub name: String,
    pub roles: Vec<String>,
    pub active: bool,
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
    pub line: LineId,
    /// Stations this order is dispatched to.
    pub stations: Vec<StationId>,
}

/// Everything the station knows from central, keyed for lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasterData {
    pub operators: BTreeMap<Badge, Operator>,
    pub products: BTreeMap<ProductId, Product>,
    pub materials: BTreeMap<MaterialId, Material>,
    pub work_orders: BTreeMap<WorkOrderId, WorkOrder>,
}

impl MasterData {
    /// Work orders in the order an operator should take them: priority, then due date, then id.
    pub fn queue(&self) -> Vec<&WorkOrder> {
        let mut orders: Vec<&WorkOrder> = self.work_orders.values().collect();
        orders.sort_by(|a, b| (a.priority, a.due, &a.id).cmp(&(b.priority, b.due, &b.id)));
        orders
    }
}
