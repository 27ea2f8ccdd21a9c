//! The operator's session beyond login: the station ends an idle one by itself, and whoever comes
//! next is told what the last one left running and open (the shift handover).

use super::event::{Actor, EventKind, LogoutReason, NewEvent};
use super::state::{ExecStatus, State};
use chrono::{DateTime, Utc};

/// The events that end an idle session at `now`, or none while the session is live. `last_activity`
/// is when the operator last scanned or pressed a key, or the machine last made a unit for the
/// running order (an operator feeding a machine by hand is there while it counts).
pub fn idle_logout(
    state: &State,
    last_activity: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<NewEvent> {
    let Some(session) = &state.session else {
        return Vec::new();
    };
    let Some(limit) = state.station_config().idle_logout() else {
        return Vec::new();
    };
    if now.signed_duration_since(last_activity) < limit {
        return Vec::new();
    }
    let event = |kind| NewEvent {
        at: now,
        actor: Actor::Station,
        kind,
    };
    let mut events = Vec::new();
    // As at any logout: a machine is never left running for nobody.
    if state.is_running()
        && let Some(work_order) = state.active.clone()
    {
        events.push(event(EventKind::WorkOrderPaused { work_order }));
    }
    events.push(event(EventKind::OperatorLoggedOut {
        badge: session.badge.clone(),
        reason: Some(LogoutReason::Idle),
    }));
    events
}

/// What is running and open at the station, in lines for the next person: the active order and how
/// far it got, stops without a reason, an open andon call, the lots loaded.
pub fn handover(state: &State, now: DateTime<Utc>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some((id, progress)) = state.active_progress() {
        let quantity = state
            .master
            .work_orders
            .get(id)
            .map(|order| format!(" of {}", order.quantity))
            .unwrap_or_default();
        let status = match progress.status {
            ExecStatus::Selected => "selected, not started",
            ExecStatus::Running => "running",
            ExecStatus::Paused => "paused",
            ExecStatus::Completed => "complete",
        };
        lines.push(format!(
            "{id} {status}: {} made{quantity}, {} rejected.",
            progress.produced, progress.rejected
        ));
        if !progress.loaded.is_empty() {
            let loaded: Vec<String> = progress
                .loaded
                .iter()
                .map(|(material, lot)| format!("{lot} ({material})"))
                .collect();
            lines.push(format!("Loaded: {}.", loaded.join(", ")));
        }
    }
    if let Some(stop) = state.downtimes.iter().rev().find(|d| d.ended_at.is_none()) {
        lines.push(format!(
            "Machine stopped since {} UTC{}.",
            stop.started_at.format("%H:%M"),
            if stop.uncoded() {
                ", no reason given yet"
            } else {
                ""
            }
        ));
    }
    let uncoded = state
        .downtimes
        .iter()
        .filter(|d| d.ended_at.is_some() && d.uncoded())
        .count();
    if uncoded > 0 {
        lines.push(format!(
            "{uncoded} earlier stop{} without a reason (Downtime screen).",
            if uncoded == 1 { "" } else { "s" }
        ));
    }
    if let Some(call) = &state.andon {
        lines.push(format!(
            "Andon {} call open for {} min.",
            call.kind.words(),
            now.signed_duration_since(call.since).num_minutes()
        ));
    }
    lines
}
