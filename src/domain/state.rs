//! Station state and how events change it. `apply` is the only way state moves, so replaying the log
//! rebuilds it exactly.

use super::event::{Event, EventKind};
use super::ids::{Badge, StationId, WorkOrderId};
use super::master::MasterData;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who is logged in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub badge: Badge,
    pub name: String,
    pub since: DateTime<Utc>,
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
}

impl Progress {
    fn new() -> Self {
        Progress {
            status: ExecStatus::Selected,
            produced: 0,
            rejected: 0,
            started_at: None,
            completed_at: None,
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
    pub master: MasterData,
    pub session: Option<Session>,
    /// The work order selected, running or paused here; none once it completes.
    pub active: Option<WorkOrderId>,
    pub progress: BTreeMap<WorkOrderId, Progress>,
    pub counters: Option<CounterBaseline>,
    /// Units the machine made while no work order was active.
    pub unassigned_produced: u64,
}

impl State {
    pub fn new(station: StationId, master: MasterData) -> Self {
        State {
            station,
            master,
            session: None,
            active: None,
            progress: BTreeMap::new(),
            counters: None,
            unassigned_produced: 0,
        }
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

    /// The permit-to-run interlock: a released work order runs and someone is logged in.
    pub fn permit_to_run(&self) -> bool {
        let released = self
            .active
            .as_ref()
            .and_then(|id| self.master.work_orders.get(id))
            .is_some_and(|order| order.status == super::WorkOrderStatus::Released);
        self.session.is_some() && self.is_running() && released
    }
}

/// How an event changes state. Total: an event that does not fit the state (it was valid when it was
/// decided) still moves what it names, so a replay never stops half way.
pub fn apply(state: &mut State, event: &Event) {
    match &event.kind {
        EventKind::OperatorLoggedIn { badge, name } => {
            state.session = Some(Session {
                badge: badge.clone(),
                name: name.clone(),
                since: event.at,
            });
        }
        EventKind::OperatorLoggedOut { .. } => state.session = None,
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
        EventKind::ScanRefused { .. } => {}
    }
}
