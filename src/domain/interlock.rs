//! The permit-to-run interlock: what must hold for the machine to be allowed to run, and, when it
//! is not, every reason why in words an operator acts on. The station writes the permit to the PLC;
//! its own heartbeat beside it lets the PLC drop the permit when the station dies.

use super::ids::{LotId, MaterialId, WorkOrderId};
use super::master::{LotOrigin, LotStatus, WorkOrderStatus};
use super::state::State;
use chrono::{DateTime, Utc};

/// One reason the machine may not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    NoOperator,
    /// No work order is running here (none active, or it is paused or complete).
    NotRunning,
    /// Central holds, cancelled or never released the order.
    OrderNotReleased {
        work_order: WorkOrderId,
        status: WorkOrderStatus,
        reason: Option<String>,
    },
    /// Central moved the order to other stations while it was active here.
    NotDispatchedHere {
        work_order: WorkOrderId,
    },
    /// Central has not answered for longer than this station may go on without it.
    CentralOutOfReach {
        heard: DateTime<Utc>,
        grace: chrono::Duration,
    },
    /// A material of the operation has no usable lot loaded.
    MaterialNotReady {
        material: MaterialId,
        why: String,
    },
    /// Something this order made here is on hold or quarantined: until quality decides, making
    /// more of the same would only make more suspect parts.
    QualityHold {
        lot: LotId,
        status: LotStatus,
        reason: Option<String>,
    },
    /// The order's inspection plan gates it on a first article: one was made and waits for an
    /// inspector's accepting inspection here.
    FirstArticlePending {
        work_order: WorkOrderId,
        lot: LotId,
    },
}

impl Blocker {
    /// The reason in an operator's words.
    pub fn words(&self) -> String {
        match self {
            Blocker::NoOperator => "nobody is logged in".into(),
            Blocker::NotRunning => "no work order is running".into(),
            Blocker::OrderNotReleased {
                work_order,
                status,
                reason,
            } => format!(
                "central set {work_order} {}{}",
                status.words(),
                reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            Blocker::NotDispatchedHere { work_order } => {
                format!("central took {work_order} off this station")
            }
            Blocker::CentralOutOfReach { heard, grace } => {
                let minutes = grace.num_minutes();
                let grace = match (minutes / 60, minutes % 60) {
                    (0, minutes) => format!("{minutes} min"),
                    (hours, 0) => format!("{hours} h"),
                    (hours, minutes) => format!("{hours} h {minutes} min"),
                };
                format!(
                    "central last answered {} UTC and this station may run only {grace} without \
                     it: call IT or the line lead",
                    heard.format("%Y-%m-%d %H:%M")
                )
            }
            Blocker::MaterialNotReady { material, why } => format!("{material}: {why}"),
            Blocker::QualityHold {
                lot,
                status,
                reason,
            } => format!(
                "QUALITY HOLD: {lot} made here is {}{}",
                status.words(),
                reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            Blocker::FirstArticlePending { work_order, lot } => format!(
                "FIRST ARTICLE: {lot} of {work_order} waits for an inspector to inspect it here"
            ),
        }
    }
}

/// Every reason the machine may not run at `now`; empty means the permit is on.
pub fn blockers(state: &State, now: DateTime<Utc>) -> Vec<Blocker> {
    let mut blockers = Vec::new();
    if state.session.is_none() {
        blockers.push(Blocker::NoOperator);
    }
    if !state.is_running() {
        blockers.push(Blocker::NotRunning);
    }
    if state.active.is_none() {
        return blockers;
    }
    blockers.extend(planning_holds(state, now));
    blockers.extend(
        super::material::missing_materials(state, now)
            .into_iter()
            .map(|missing| Blocker::MaterialNotReady {
                material: missing.material,
                why: missing.why,
            }),
    );
    blockers.extend(quality_holds(state));
    blockers.extend(
        super::first_article::pending(state)
            .map(|(work_order, lot)| Blocker::FirstArticlePending { work_order, lot }),
    );
    blockers
}

/// What central says against running the active order here: not released (held, cancelled,
/// closed, never released or never sent), or dispatched elsewhere now.
pub fn planning_holds(state: &State, now: DateTime<Utc>) -> Vec<Blocker> {
    let mut blockers = Vec::new();
    let Some(active) = state.active.as_ref() else {
        return blockers;
    };
    blockers.extend(offline_too_long(state, now));
    match state.master.work_orders.get(active) {
        Some(order) if order.status == WorkOrderStatus::Released => {}
        Some(order) => blockers.push(Blocker::OrderNotReleased {
            work_order: active.clone(),
            status: order.status,
            reason: order.status_reason.clone(),
        }),
        // An order central never sent is as good as unreleased.
        None => blockers.push(Blocker::OrderNotReleased {
            work_order: active.clone(),
            status: WorkOrderStatus::Planned,
            reason: None,
        }),
    }
    if let Some(order) = state.master.work_orders.get(active)
        && !order.stations.is_empty()
        && !order.stations.contains(&state.station)
    {
        blockers.push(Blocker::NotDispatchedHere {
            work_order: active.clone(),
        });
    }
    blockers
}

/// The lots the active order made at this station that quality holds: its own output on hold. A
/// lot central knows wins over the station's own record of it.
pub fn quality_holds(state: &State) -> Vec<Blocker> {
    let Some(active) = state.active.as_ref() else {
        return Vec::new();
    };
    let made_here = |origin: &LotOrigin| {
        matches!(origin, LotOrigin::Produced { station, work_order, .. }
            if *station == state.station && work_order == active)
    };
    state
        .known_lots()
        .filter(|lot| made_here(&lot.origin))
        .filter(|lot| matches!(lot.status, LotStatus::OnHold | LotStatus::Quarantined))
        .map(|lot| Blocker::QualityHold {
            lot: lot.id.clone(),
            status: lot.status,
            reason: lot.status_reason.clone(),
        })
        .collect()
}

/// Whether the station has been without central longer than central allows it (its
/// [`StationConfig`](super::master::StationConfig)). A station central does not manage, one that
/// never heard from it, or one now set up without a central has no such limit.
pub fn offline_too_long(state: &State, now: DateTime<Utc>) -> Option<Blocker> {
    if !state.settings.central_configured {
        return None;
    }
    let grace = state.master.station_config.as_ref()?.offline_grace()?;
    let heard = state.central_heard?;
    (now.signed_duration_since(heard) > grace)
        .then_some(Blocker::CentralOutOfReach { heard, grace })
}
