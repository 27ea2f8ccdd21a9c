//! Downtime: an unplanned stop opens a downtime record by itself, with the PLC's first-out stop
//! reason and the reason code that usually goes with it; a person confirms or corrects the reason
//! by scanning a reason barcode; planned downtime (changeover, break, maintenance) is declared at
//! the station. Records come from events only, so a reason coded later changes every KPI built on
//! them.

use super::event::{Actor, EventKind, NewEvent};
use super::ids::Badge;
use super::machine::MachineCategory;
use super::master::CodeKind;
use super::rejection::Rejection;
use super::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Stops kept in station state for the screens; the log keeps every one.
pub const KEPT_DOWNTIMES: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Downtime {
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub planned: bool,
    /// The PLC's first-out stop reason (0 for a declared planned stop).
    pub plc_reason: u16,
    /// The reason code: suggested from the PLC's stop reason, or given by a person.
    pub reason: Option<String>,
    /// Who gave the reason; none while it is only the PLC's suggestion.
    pub coded_by: Option<Badge>,
}

impl Downtime {
    /// A stop nobody has given a reason for yet (a suggestion does not count).
    pub fn uncoded(&self) -> bool {
        self.coded_by.is_none()
    }
}

/// The stop a machine transition opens: entering unplanned downtime from any other category.
pub fn stop_opened(
    state: &State,
    category: MachineCategory,
    plc_reason: u16,
    now: DateTime<Utc>,
) -> Option<NewEvent> {
    let was_down = matches!(state.machine, Some((_, MachineCategory::UnplannedDowntime)));
    if category != MachineCategory::UnplannedDowntime || was_down {
        return None;
    }
    Some(NewEvent {
        at: now,
        actor: Actor::Plc,
        kind: EventKind::DowntimeStarted {
            plc_reason,
            suggested_reason: state.settings.stop_reasons.get(&plc_reason).cloned(),
        },
    })
}

/// A reason code scanned: it codes the stop chosen on the Downtime screen; with none chosen, the
/// open stop or the latest one nobody has coded yet, or, when the machine is not down and the code
/// is a planned one, declares planned downtime from now.
pub fn code(
    state: &State,
    reason: &str,
    chosen: Option<DateTime<Utc>>,
    badge: Badge,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, Rejection> {
    let code = state
        .master
        .codes
        .get(reason)
        .ok_or_else(|| Rejection::UnknownReason(reason.to_owned()))?;
    let CodeKind::Downtime { planned } = code.kind else {
        return Err(Rejection::NotADowntimeReason(reason.to_owned()));
    };
    let event = |kind| NewEvent {
        at: now,
        actor: Actor::Operator(badge.clone()),
        kind,
    };
    if let Some(started_at) = chosen {
        return match state.downtimes.iter().find(|d| d.started_at == started_at) {
            Some(stop) => Ok(vec![event(EventKind::DowntimeCoded {
                started_at: stop.started_at,
                reason: code.code.clone(),
            })]),
            None => Err(Rejection::StopNotKept(
                started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            )),
        };
    }
    let open_unplanned = state
        .downtimes
        .iter()
        .rev()
        .find(|d| d.ended_at.is_none() && !d.planned);
    // A planned reason with no stop open declares planned downtime; it never recodes an old stop.
    let target = if planned {
        open_unplanned
    } else {
        open_unplanned.or_else(|| state.downtimes.iter().rev().find(|d| d.uncoded()))
    };
    match target {
        Some(stop) => Ok(vec![event(EventKind::DowntimeCoded {
            started_at: stop.started_at,
            reason: code.code.clone(),
        })]),
        // Declared while the machine runs, it would book running time (and any fault until the
        // machine next runs) as planned: it starts when the machine has stopped.
        None if planned && matches!(state.machine, Some((_, MachineCategory::Running))) => {
            Err(Rejection::PlannedWhileRunning(code.code.clone()))
        }
        None if planned => Ok(vec![event(EventKind::PlannedDowntimeDeclared {
            reason: code.code.clone(),
        })]),
        None => Err(Rejection::NoStopToCode),
    }
}

/// PackML commands the station sends (the command block's CntrlCmd).
pub const PACKML_RESET: u16 = 1;
pub const PACKML_CLEAR: u16 = 9;

/// Someone asks the stopped machine to restart: Clear from Aborted, Reset from Stopped. The stop
/// must have a reason first, so no stop leaves the shift uncoded because the line was in a hurry.
pub fn reset(state: &State, badge: Badge, now: DateTime<Utc>) -> Result<NewEvent, Rejection> {
    use super::plc::PackMlState;
    if !state.settings.machine_commands {
        return Err(Rejection::NoMachineCommands);
    }
    let state_now = state
        .machine
        .as_ref()
        .map(|(reading, _)| PackMlState::from_code(reading.packml));
    let command = match state_now {
        Some(PackMlState::Aborted) => PACKML_CLEAR,
        Some(PackMlState::Stopped) => PACKML_RESET,
        Some(other) => return Err(Rejection::NothingToReset(other.words())),
        None => return Err(Rejection::NothingToReset("not heard from yet".into())),
    };
    if let Some(stop) = state
        .downtimes
        .iter()
        .rev()
        .find(|d| d.ended_at.is_none() && !d.planned && d.uncoded())
    {
        let hint = stop
            .reason
            .as_deref()
            .map(|r| format!(" (the PLC suggests {r})"))
            .unwrap_or_default();
        return Err(Rejection::StopNotCoded(hint));
    }
    Ok(NewEvent {
        at: now,
        actor: Actor::Operator(badge),
        kind: EventKind::MachineCommandSent { command },
    })
}

/// How a downtime event changes the records.
pub fn apply(state: &mut State, kind: &EventKind, by: Option<&Badge>, at: DateTime<Utc>) {
    match kind {
        EventKind::DowntimeStarted {
            plc_reason,
            suggested_reason,
        } => push(
            state,
            Downtime {
                started_at: at,
                ended_at: None,
                planned: false,
                plc_reason: *plc_reason,
                reason: suggested_reason.clone(),
                coded_by: None,
            },
        ),
        EventKind::PlannedDowntimeDeclared { reason } => push(
            state,
            Downtime {
                started_at: at,
                ended_at: None,
                planned: true,
                plc_reason: 0,
                reason: Some(reason.clone()),
                coded_by: by.cloned(),
            },
        ),
        EventKind::DowntimeCoded { started_at, reason } => {
            if let Some(stop) = state
                .downtimes
                .iter_mut()
                .find(|d| d.started_at == *started_at)
            {
                stop.reason = Some(reason.clone());
                stop.coded_by = by.cloned();
            }
        }
        EventKind::MachineStateChanged { category, .. } => {
            for stop in state.downtimes.iter_mut().filter(|d| d.ended_at.is_none()) {
                if stop_ends(stop.planned, *category) {
                    stop.ended_at = Some(at);
                }
            }
        }
        _ => {}
    }
}

/// Whether the machine entering `category` ends an open stop: an unplanned stop ends when the
/// machine is no longer down, a declared planned one when it runs again.
pub fn stop_ends(planned: bool, category: MachineCategory) -> bool {
    if planned {
        category == MachineCategory::Running
    } else {
        category != MachineCategory::UnplannedDowntime
    }
}

fn push(state: &mut State, downtime: Downtime) {
    state.downtimes.push(downtime);
    let excess = state.downtimes.len().saturating_sub(KEPT_DOWNTIMES);
    state.downtimes.drain(..excess);
}
