//! Messages to the operator: what just happened, or why it did not.

use crate::domain::inspection::InspectionVerdict;
use crate::domain::material::{Missing, missing_materials};
use crate::domain::{ConsumptionBasis, Event, EventKind, OutputForm, State};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Done and durable.
    Ok,
    /// Something the station noticed on its own (a link came back, central changed an order).
    Info,
    /// Refused: nothing happened, say why.
    Refused,
    /// The station could not do what it should (e.g. the disk refused a write).
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: Level,
    pub text: String,
    pub at: DateTime<Utc>,
}

impl Notice {
    pub fn new(level: Level, text: impl Into<String>, at: DateTime<Utc>) -> Self {
        Notice {
            level,
            text: text.into(),
            at,
        }
    }
}

/// Whether the machine now has its permit, and if not, which materials it waits for.
fn machine_release(state: &State, now: DateTime<Utc>) -> String {
    match missing_materials(state, now).as_slice() {
        [] if state.permit_to_run(now) => " The machine is released.".to_owned(),
        [] => String::new(),
        missing => format!(
            " The machine waits for material: scan {}.",
            list_missing(missing)
        ),
    }
}

fn list_missing(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(|m| format!("{} ({})", m.material, m.why))
        .collect::<Vec<_>>()
        .join(", ")
}

/// " (spindle)": the text of a reason code, when master data has it.
fn reason_text(state: &State, code: &str) -> String {
    state
        .master
        .codes
        .get(code)
        .map(|c| format!(" ({})", c.text))
        .unwrap_or_default()
}

/// Operator words for what a command just recorded, read from the events and the state after them.
/// `now` is when it was recorded: whether a lot has expired depends on it.
pub fn describe(events: &[Event], state: &State, now: DateTime<Utc>) -> String {
    let sentences: Vec<String> = events
        .iter()
        .map(|event| match &event.kind {
            EventKind::OperatorLoggedIn { name, .. } => {
                format!("Welcome, {name}. Scan a work order.")
            }
            EventKind::OperatorLoggedOut { reason: None, .. } => "Logged out.".to_owned(),
            EventKind::OperatorLoggedOut {
                reason: Some(crate::domain::LogoutReason::Idle),
                ..
            } => format!(
                "Logged out after {} minutes without activity. Scan your badge to log in again.",
                state.station_config().idle_logout_minutes
            ),
            EventKind::LoginFailed { badge, attempt } => format!(
                "Wrong PIN for {badge} ({attempt} of {}). Scan your badge and try again.",
                crate::domain::master::MAX_LOGIN_ATTEMPTS
            ),
            EventKind::BadgeLocked { badge, until, .. } => format!(
                "Badge {badge} is locked until {} UTC after too many wrong PINs. Ask your line lead.",
                until.format("%H:%M")
            ),
            EventKind::WorkOrderSelected { work_order } => {
                let what = state
                    .master
                    .work_orders
                    .get(work_order)
                    .map(|o| format!(" ({} x {})", o.product, o.quantity))
                    .unwrap_or_default();
                format!("{work_order}{what} selected. Scan @START to run it.")
            }
            EventKind::WorkOrderStarted { work_order } => {
                format!("{work_order} started.{}", machine_release(state, now))
            }
            EventKind::WorkOrderResumed { work_order } => {
                format!("{work_order} resumed.{}", machine_release(state, now))
            }
            EventKind::WorkOrderPaused { work_order } => {
                format!("{work_order} paused. The machine stops after this cycle.")
            }
            EventKind::WorkOrderCompleted {
                work_order,
                produced,
                rejected,
            } => format!(
                "{work_order} complete here: {} good, {rejected} rejected.",
                produced.saturating_sub(*rejected)
            ),
            EventKind::UnitsProduced { produced, .. } => format!("{produced} units counted."),
            EventKind::PlcCounterBaseline { .. } => "PLC counters read.".to_owned(),
            EventKind::ScanRefused { reason, .. } => reason.clone(),
            EventKind::LotRegistered { lot, .. } => format!("New lot {lot} registered."),
            EventKind::LotLoaded { lot, material, .. } => {
                let running = if state.is_running() {
                    machine_release(state, now)
                } else {
                    match missing_materials(state, now).as_slice() {
                        [] => " All materials verified: scan @START.".to_owned(),
                        missing => format!(" Still to scan: {}.", list_missing(missing)),
                    }
                };
                format!("Lot {lot} ({material}) verified and loaded.{running}")
            }
            EventKind::LotConsumed {
                lot,
                quantity,
                material,
                basis,
                ..
            } => format!(
                "{quantity} {material} drawn from lot {lot}{}.",
                match basis {
                    ConsumptionBasis::Keyed => " (keyed)",
                    ConsumptionBasis::Label => " (whole label)",
                    ConsumptionBasis::BomRate => "",
                }
            ),
            EventKind::PlcCommsLost { reason } => format!("Lost contact with the machine ({reason})."),
            EventKind::PlcCommsRestored { down_ms } => format!(
                "The machine answers again after {} s; its counts are caught up.",
                down_ms / 1000
            ),
            EventKind::PlcStale { frozen_ms, .. } => format!(
                "The machine's PLC heartbeat has stood still for {} s: what it reports may be old. Call maintenance.",
                frozen_ms / 1000
            ),
            EventKind::PlcFresh { .. } => "The machine's PLC heartbeat moves again.".to_owned(),
            EventKind::DowntimeStarted {
                plc_reason,
                suggested_reason,
            } => format!(
                "Machine DOWN (PLC stop reason {plc_reason}{}). Scan the reason.",
                suggested_reason
                    .as_ref()
                    .map(|r| format!(", usually {r}"))
                    .unwrap_or_default()
            ),
            EventKind::DowntimeCoded { started_at, reason } => format!(
                "Stop of {} UTC coded as {reason}{}.",
                started_at.format("%H:%M:%S"),
                reason_text(state, reason)
            ),
            EventKind::QualityAlert {
                characteristic,
                rule,
                words,
                points,
                ..
            } => format!(
                "SPC ALERT {characteristic}: {rule} {words} ({}). Stop and check the process.",
                points.join(", ")
            ),
            EventKind::AndonCalled { call } => format!(
                "ANDON {} called. Scan the same andon barcode when someone has come.",
                call.words().to_uppercase()
            ),
            EventKind::AndonAnswered { call, response_ms } => format!(
                "Andon {} answered after {} s.",
                call.words(),
                response_ms / 1000
            ),
            EventKind::MachineCommandSent { command } => match *command {
                crate::domain::downtime::PACKML_CLEAR => {
                    "Clear sent to the machine: it leaves the abort; reset it next (@RESET).".into()
                }
                _ => "Reset sent to the machine: it runs again when the work order is running."
                    .into(),
            },
            EventKind::PlannedDowntimeDeclared { reason } => format!(
                "Planned downtime {reason}{} from now until the machine runs again.",
                reason_text(state, reason)
            ),
            EventKind::MachineStateChanged {
                category,
                stop_reason,
                ..
            } => match stop_reason {
                0 => format!("Machine {}.", category.words()),
                reason => format!("Machine {} (PLC stop reason {reason}).", category.words()),
            },
            EventKind::OutputCreated {
                output,
                form,
                quantity,
                ..
            } => match form {
                OutputForm::Serial => format!("Serial {output} made."),
                OutputForm::Lot => format!("Output lot {output} ({quantity} units) made."),
            },
            EventKind::PartRecorded { serial, result, .. } => {
                format!("Part {serial} recorded ({}).", result.words())
            }
            EventKind::LotHeld { lot, reason } => format!(
                "Lot {lot} is ON HOLD ({reason}). Every station refuses it once it hears."
            ),
            EventKind::LotReleased { lot, .. } => format!("Hold on lot {lot} released."),
            EventKind::InspectionRecorded {
                lot,
                verdict,
                reasons,
                ..
            } => match verdict {
                InspectionVerdict::Accept => format!("Lot {lot} inspected: ACCEPTED."),
                InspectionVerdict::Reject => {
                    format!("Lot {lot} inspected: REJECTED ({}).", reasons.join("; "))
                }
                InspectionVerdict::Incomplete => {
                    format!("Lot {lot}: findings recorded, {}.", reasons.join("; "))
                }
            },
            EventKind::LotDispositioned { lot, parts, .. } => format!(
                "Lot {lot} dispositioned: {}.",
                crate::domain::disposition::parts_words(lot, parts)
            ),
            EventKind::ReworkDone { lot, operation } => format!(
                "Rework of lot {lot} at {operation} recorded: it still needs inspection before release."
            ),
            EventKind::NcrOpened { ncr, lot, .. } => {
                format!("{ncr} opened on lot {lot}.")
            }
            EventKind::NcrClosed { ncr, .. } => format!("{ncr} closed."),
            EventKind::InspectionResumed {
                product, operation, ..
            } => format!(
                "Inspection of {product} at {operation} resumes, on tightened inspection."
            ),
            EventKind::Signed {
                name,
                meaning,
                signer,
                ..
            } => format!(
                "Signed by {name} ({signer}) at {} UTC, meaning: {}.",
                event.at.format("%H:%M:%S"),
                meaning.words()
            ),
            EventKind::Corrected {
                corrects, now, was, ..
            } => format!(
                "Event {corrects} corrected: {} (was {}).",
                now.words(),
                was.words()
            ),
        })
        .collect();
    sentences.join(" ")
}
