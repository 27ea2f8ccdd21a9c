//! What the screen shows: a plain snapshot the core publishes after every change. The UI renders it
//! and never reaches into the core's state.

use crate::domain::{ExecStatus, PackMlState, State, WorkOrderStatus};
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
    /// Events recorded here and not yet acknowledged by central.
    pub backlog: u64,
    pub last_seq: u64,
    /// Units the machine made while no work order was active.
    pub unassigned_produced: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OperatorView {
    pub badge: String,
    pub name: String,
    pub since: DateTime<Utc>,
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
            },
            central: CentralView::Connecting,
            backlog: 0,
            last_seq: 0,
            unassigned_produced: 0,
        }
    }

    /// The parts of the view derived from domain state.
    pub(super) fn fill_from_state(&mut self, state: &State) {
        self.station = state.station.to_string();
        self.operator = state.session.as_ref().map(|session| OperatorView {
            badge: session.badge.to_string(),
            name: session.name.clone(),
            since: session.since,
        });
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
                }
            })
            .collect();
        self.unassigned_produced = state.unassigned_produced;
    }
}
