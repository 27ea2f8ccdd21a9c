//! First-article gating: where a work order's inspection plan at this station's operation says so,
//! the first good unit of the order is made on its own, as a lot of one an inspector can scan, and
//! the machine's permit stays off after it until an inspection accepts that lot. A rejected first
//! article is held like any other lot; once it is scrapped or returned, the next good unit becomes
//! the new first article.
//!
//! Only an inspection recorded at this station lifts the gate: the permit is decided here, and a
//! station cannot wait for central to tell it that a part on its own bench passed.

use super::event::{Event, EventKind};
use super::ids::{LotId, OperationId, WorkOrderId};
use super::inspection::InspectionVerdict;
use super::master::{LotOrigin, LotStatus};
use super::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The first article of a work order at this station and whether it has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstArticle {
    pub lot: LotId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<DateTime<Utc>>,
}

/// The operation whose plan gates `work_order` at this station, if its plan asks for a first
/// article.
pub fn gating_operation(state: &State, work_order: &WorkOrderId) -> Option<OperationId> {
    let order = state.master.work_orders.get(work_order)?;
    let step = state.master.step_at(&order.product, &state.station)?;
    let plan = state
        .master
        .inspection_plans
        .get(&(order.product.clone(), step.operation.clone()))?;
    plan.first_article_gates.then(|| step.operation.clone())
}

/// Whether the next good unit of `work_order` is to be made as its first article: the order is
/// gated here and has no first article yet, or the last one was scrapped or returned.
pub fn next_unit_is_first_article(state: &State, work_order: &WorkOrderId) -> bool {
    if gating_operation(state, work_order).is_none() {
        return false;
    }
    match state
        .progress
        .get(work_order)
        .and_then(|progress| progress.first_article.as_ref())
    {
        None => true,
        Some(first) => first.passed.is_none() && discarded(state, &first.lot),
    }
}

/// The first article of the active order that waits for its inspection: the permit stays off.
pub fn pending(state: &State) -> Option<(WorkOrderId, LotId)> {
    let active = state.active.as_ref()?;
    gating_operation(state, active)?;
    let first = state.progress.get(active)?.first_article.as_ref()?;
    (first.passed.is_none() && !discarded(state, &first.lot))
        .then(|| (active.clone(), first.lot.clone()))
}

fn discarded(state: &State, lot: &LotId) -> bool {
    state
        .lot(lot)
        .is_some_and(|known| matches!(known.status, LotStatus::Scrapped | LotStatus::Returned))
}

/// How an event moves a first article: an output made while one is due becomes it; an accepting
/// inspection of it here passes it.
pub fn apply(state: &mut State, event: &Event) {
    match &event.kind {
        EventKind::OutputCreated {
            work_order, output, ..
        } => {
            if next_unit_is_first_article(state, work_order)
                && let Some(progress) = state.progress.get_mut(work_order)
            {
                progress.first_article = Some(FirstArticle {
                    lot: output.clone(),
                    passed: None,
                });
            }
        }
        EventKind::InspectionRecorded {
            lot,
            verdict: InspectionVerdict::Accept,
            ..
        } => {
            let Some(work_order) = made_here_by(state, lot) else {
                return;
            };
            if let Some(first) = state
                .progress
                .get_mut(&work_order)
                .and_then(|progress| progress.first_article.as_mut())
                && first.lot == *lot
                && first.passed.is_none()
            {
                first.passed = Some(event.at);
            }
        }
        _ => {}
    }
}

/// The work order that made `lot` at this station, if it was made here.
pub fn made_here_by(state: &State, lot: &LotId) -> Option<WorkOrderId> {
    match &state.lot(lot)?.origin {
        LotOrigin::Produced {
            station,
            work_order,
            ..
        } if *station == state.station => Some(work_order.clone()),
        _ => None,
    }
}
