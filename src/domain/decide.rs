//! What a command means: the rules of the station, as a pure function.

use super::correction::Correction;
use super::event::{Actor, Entry, EventKind, NewEvent};
use super::ids::{Badge, LotId, WorkOrderId};
use super::master::{CodeKind, MAX_LOGIN_ATTEMPTS, Operator, WorkOrderStatus};
use super::material::{LotLabel, close_open_output, consume_keyed, load_lot};
use super::permission::{self, Action};
use super::quantity::Quantity;
use super::rejection::Rejection;
use super::signature::Signatures;
use super::state::{ExecStatus, State};
use chrono::{DateTime, Utc};

/// What someone at the station asks for. Keys and scans both end up here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A badge scanned: who wants to log in. No fact yet; the PIN decides.
    Identify {
        badge: Badge,
    },
    /// The PIN typed after [`Command::Identify`], checked against the operator's verifier by the
    /// station (the domain never sees the PIN, only whether it matched).
    Login {
        badge: Badge,
        pin_matches: bool,
    },
    Logout,
    SelectWorkOrder {
        id: WorkOrderId,
    },
    Start,
    Pause,
    Resume,
    Complete,
    /// A lot label scanned (or keyed) to feed the running work order.
    LoadLot {
        label: LotLabel,
        entry: Entry,
    },
    /// A quantity keyed on the scan line, drawn from the lot loaded last.
    ConsumeKeyed {
        quantity: Quantity,
    },
    /// A downtime reason scanned: codes the latest uncoded stop, or declares planned downtime.
    CodeDowntime {
        reason: String,
        /// The stop to code, by when it started (chosen on the Downtime screen); none: the open
        /// stop, else the latest one nobody has coded.
        stop: Option<DateTime<Utc>>,
    },
    /// An andon barcode: calls, or answers the open call of that kind.
    Andon {
        kind: super::andon::AndonKind,
    },
    /// Restart the stopped machine (PackML Reset, or Clear after an abort).
    ResetMachine,
    /// Put a lot on hold here, with the reason (words, or a defect code and its text).
    HoldLot {
        lot: LotId,
        reason: String,
    },
    /// Lift the hold on a lot: signature-grade.
    ReleaseLot {
        lot: LotId,
        signatures: Signatures,
    },
    /// Correct a recorded fact of this station (`target`, read from the log): signature-grade.
    Correct {
        target: Box<super::event::Event>,
        now: Correction,
        reason: String,
        signatures: Signatures,
    },
    /// A wrong PIN typed to sign: counts towards the badge's lock like a wrong PIN at login.
    SignatureFailed {
        badge: Badge,
    },
    /// An inspection of a lot made here or upstream: `inspected` units of it, each finding as
    /// (characteristic, value as keyed), and the defect codes scanned.
    Inspect {
        lot: LotId,
        inspected: u32,
        findings: Vec<(String, String)>,
        defects: Vec<super::inspection::DefectFound>,
    },
    /// Quality's decision on a held lot, whole or in parts: signature-grade.
    Dispose {
        lot: LotId,
        parts: Vec<super::disposition::PartRequest>,
        reason: String,
        signatures: Signatures,
    },
    /// The rework of a lot sent back to this station's operation is done.
    ReworkDone {
        lot: LotId,
    },
    /// A nonconformance report on a lot: what is wrong, how much of it (none: all that is left)
    /// and the containment (none: the lot is held). Holds the lot if it is not held yet.
    OpenNcr {
        lot: LotId,
        quantity: Option<Quantity>,
        what: String,
        containment: String,
    },
    /// Close an NCR of this station once its lot is dispositioned: signature-grade.
    CloseNcr {
        ncr: String,
        closure: String,
        signatures: Signatures,
    },
    /// Quality accepted the corrective action: a plan's discontinued inspection resumes (signed).
    ResumeInspection {
        product: super::ids::ProductId,
        operation: super::ids::OperationId,
        reason: String,
        signatures: Signatures,
    },
}

impl Command {
    /// Short words for logs and evidence.
    pub fn describe(&self) -> String {
        match self {
            Command::Identify { badge } => format!("identify {badge}"),
            Command::Login { badge, .. } => format!("log in {badge}"),
            Command::Logout => "log out".into(),
            Command::SelectWorkOrder { id } => format!("select {id}"),
            Command::Start => "start".into(),
            Command::Pause => "pause".into(),
            Command::Resume => "resume".into(),
            Command::Complete => "complete".into(),
            Command::LoadLot { label, .. } => format!("load lot {}", label.lot),
            Command::ConsumeKeyed { quantity } => format!("consume {quantity}"),
            Command::CodeDowntime { reason, .. } => format!("downtime reason {reason}"),
            Command::Andon { kind } => format!("andon {}", kind.words()),
            Command::ResetMachine => "reset the machine".into(),
            Command::HoldLot { lot, .. } => format!("hold lot {lot}"),
            Command::ReleaseLot { lot, .. } => format!("release lot {lot}"),
            Command::Correct { target, .. } => format!("correct event {}", target.seq),
            Command::SignatureFailed { badge } => format!("wrong PIN to sign, {badge}"),
            Command::Inspect { lot, .. } => format!("inspect lot {lot}"),
            Command::Dispose { lot, .. } => format!("disposition lot {lot}"),
            Command::ReworkDone { lot } => format!("rework of lot {lot} done"),
            Command::OpenNcr { lot, .. } => format!("open an NCR on lot {lot}"),
            Command::CloseNcr { ncr, .. } => format!("close {ncr}"),
            Command::ResumeInspection {
                product, operation, ..
            } => format!("resume inspection of {product} at {operation}"),
        }
    }
}

/// Decides what a command means in the current state, at time `now`.
pub fn decide(
    state: &State,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, Rejection> {
    let operator_actor = || {
        state
            .session
            .as_ref()
            .map(|session| Actor::Operator(session.badge.clone()))
            .ok_or(Rejection::NotLoggedIn)
    };
    // The one place a command meets the permissions matrix: who is logged in, and may their roles
    // (as master data says now) do this?
    let permitted = |action: Action| -> Result<Actor, Rejection> {
        let session = state.session.as_ref().ok_or(Rejection::NotLoggedIn)?;
        let roles = state
            .master
            .operators
            .get(&session.badge)
            .map(|operator| operator.roles())
            .unwrap_or_default();
        if permission::permits(&roles, action) {
            Ok(Actor::Operator(session.badge.clone()))
        } else {
            Err(Rejection::NotPermitted {
                name: session.name.clone(),
                roles: permission::roles_in_words(&roles),
                action: action.words(),
                needs: permission::roles_in_words(permission::allowed(action)),
            })
        }
    };
    let event = |actor: Actor, kind: EventKind| NewEvent {
        at: now,
        actor,
        kind,
    };

    match command {
        Command::Identify { badge } => {
            login_gate(state, &badge, now)?;
            Ok(Vec::new())
        }
        Command::Login { badge, pin_matches } => {
            let operator = login_gate(state, &badge, now)?;
            if pin_matches {
                return Ok(vec![event(
                    Actor::Operator(badge.clone()),
                    EventKind::OperatorLoggedIn {
                        badge,
                        name: operator.name.clone(),
                    },
                )]);
            }
            Ok(wrong_pin(state, badge, now))
        }
        Command::SignatureFailed { badge } => {
            if !state.master.operators.contains_key(&badge) {
                return Err(Rejection::UnknownBadge(badge));
            }
            Ok(wrong_pin(state, badge, now))
        }
        Command::HoldLot { lot, reason } => {
            let actor = permitted(Action::HoldLot)?;
            let known = state
                .lot(&lot)
                .ok_or_else(|| Rejection::UnknownLot(lot.clone()))?;
            if known.status == super::master::LotStatus::OnHold {
                return Err(Rejection::AlreadyOnHold(lot));
            }
            let reason = reason.trim();
            if reason.is_empty() {
                return Err(Rejection::HoldNeedsReason);
            }
            // A defect code scanned as the reason is kept with its words: the record must read
            // without the catalogue at hand.
            let reason = match state.master.codes.get(reason) {
                Some(code) if matches!(code.kind, CodeKind::Defect { .. }) => {
                    format!("{} {}", code.code, code.text)
                }
                _ => reason.to_owned(),
            };
            Ok(vec![event(actor, EventKind::LotHeld { lot, reason })])
        }
        Command::Inspect {
            lot,
            inspected,
            findings,
            defects,
        } => {
            let actor = permitted(Action::Inspect)?;
            let mut events = super::inspection::record(
                state,
                actor.clone(),
                now,
                lot.clone(),
                inspected,
                &findings,
                defects,
            )?;
            // A reject is a nonconformance: it gets its report at once, contained by the hold.
            let rejected = events.iter().find_map(|event| match &event.kind {
                EventKind::InspectionRecorded {
                    verdict: super::inspection::InspectionVerdict::Reject,
                    reasons,
                    ..
                } => Some(reasons.join("; ")),
                _ => None,
            });
            if let Some(reasons) = rejected
                && state.ncrs.open_for(&lot).is_none()
            {
                let what = format!("failed inspection: {reasons}");
                events.push(
                    super::ncr::open(state, actor, now, lot, None, &what, "")
                        .map_err(|why| Rejection::NcrRefused(why.to_string()))?,
                );
            }
            Ok(events)
        }
        Command::Dispose {
            lot,
            parts,
            reason,
            signatures,
        } => {
            let actor = permitted(Action::Dispose)?;
            let ncr = state.ncrs.open_for(&lot).map(|ncr| ncr.id.clone());
            let record = super::disposition::dispose(state, actor, now, lot, parts, &reason, ncr)
                .map_err(|why| Rejection::DispositionRefused(why.to_string()))?;
            signed(state, Action::Dispose, &signatures, record, now)
        }
        Command::ReworkDone { lot } => {
            let actor = permitted(Action::Rework)?;
            let record = super::disposition::rework_done(state, actor, now, lot)
                .map_err(|why| Rejection::ReworkRefused(why.to_string()))?;
            Ok(vec![record])
        }
        Command::OpenNcr {
            lot,
            quantity,
            what,
            containment,
        } => {
            let actor = permitted(Action::OpenNcr)?;
            let opened = super::ncr::open(
                state,
                actor.clone(),
                now,
                lot.clone(),
                quantity,
                &what,
                &containment,
            )
            .map_err(|why| Rejection::NcrRefused(why.to_string()))?;
            let mut events = vec![opened];
            let held = state.lot(&lot).is_some_and(|known| {
                matches!(
                    known.status,
                    super::master::LotStatus::OnHold | super::master::LotStatus::Quarantined
                )
            });
            if !held {
                let ncr = match &events[0].kind {
                    EventKind::NcrOpened { ncr, .. } => ncr.clone(),
                    _ => String::new(),
                };
                events.push(event(
                    actor,
                    EventKind::LotHeld {
                        lot,
                        reason: format!("{ncr}: {}", what.trim()),
                    },
                ));
            }
            Ok(events)
        }
        Command::CloseNcr {
            ncr,
            closure,
            signatures,
        } => {
            let actor = permitted(Action::CloseNcr)?;
            let record = super::ncr::close(state, actor, now, &ncr, &closure)
                .map_err(|why| Rejection::NcrRefused(why.to_string()))?;
            signed(state, Action::CloseNcr, &signatures, record, now)
        }
        Command::ResumeInspection {
            product,
            operation,
            reason,
            signatures,
        } => {
            let actor = permitted(Action::ResumeInspection)?;
            let record =
                super::quality_state::resume(state, actor, now, product, operation, &reason)
                    .map_err(Rejection::InspectionRefused)?;
            signed(state, Action::ResumeInspection, &signatures, record, now)
        }
        Command::ReleaseLot { lot, signatures } => {
            let actor = permitted(Action::ReleaseHold)?;
            let known = state
                .lot(&lot)
                .ok_or_else(|| Rejection::UnknownLot(lot.clone()))?;
            if !matches!(
                known.status,
                super::master::LotStatus::OnHold | super::master::LotStatus::Quarantined
            ) {
                return Err(Rejection::NotOnHold(lot));
            }
            if let Some(rework) = &known.rework {
                return Err(Rejection::AwaitsRework {
                    lot,
                    operation: rework.operation.clone(),
                    done: rework.done,
                });
            }
            let lifts = known.status_at;
            let record = event(actor, EventKind::LotReleased { lot, lifts });
            signed(state, Action::ReleaseHold, &signatures, record, now)
        }
        Command::Correct {
            target,
            now: value,
            reason,
            signatures,
        } => {
            let actor = permitted(Action::Correct)?;
            if target.station != state.station {
                return Err(Rejection::UnknownEvent { seq: target.seq });
            }
            let reason = reason.trim().to_owned();
            if !matches!(
                state.master.codes.get(&reason).map(|code| &code.kind),
                Some(CodeKind::Correction)
            ) {
                return Err(Rejection::UnknownCorrectionReason(reason));
            }
            let (was, work_order) =
                super::correction::check(&target, state.corrections.get(&target.seq), &value)?;
            if let Correction::Consumption { lot, .. } = &value
                && state.lot(lot).is_none()
            {
                return Err(Rejection::UnknownLot(lot.clone()));
            }
            if let Correction::Inputs { inputs } = &value
                && let Some(unknown) = inputs.iter().find(|lot| state.lot(lot).is_none())
            {
                return Err(Rejection::UnknownLot(unknown.clone()));
            }
            let record = event(
                actor,
                EventKind::Corrected {
                    corrects: target.seq,
                    work_order,
                    was,
                    now: value,
                    reason,
                },
            );
            signed(state, Action::Correct, &signatures, record, now)
        }
        Command::Logout => {
            let actor = operator_actor()?;
            let mut events = Vec::new();
            // Nobody may leave a machine running unattended: logging out pauses the running order.
            if state.is_running()
                && let Some(work_order) = state.active.clone()
            {
                events.push(event(
                    actor.clone(),
                    EventKind::WorkOrderPaused { work_order },
                ));
            }
            let badge = match &actor {
                Actor::Operator(badge) => badge.clone(),
                _ => return Err(Rejection::NotLoggedIn),
            };
            events.push(event(
                actor,
                EventKind::OperatorLoggedOut {
                    badge,
                    reason: None,
                },
            ));
            Ok(events)
        }
        Command::SelectWorkOrder { id } => {
            let actor = permitted(Action::SelectWorkOrder)?;
            check_runnable(state, &id)?;
            if let Some((active, progress)) = state.active_progress() {
                if *active == id {
                    return Err(Rejection::AlreadySelected(id));
                }
                if progress.status == ExecStatus::Running {
                    return Err(Rejection::AnotherRunning(active.clone()));
                }
            }
            if state
                .progress
                .get(&id)
                .is_some_and(|progress| progress.status == ExecStatus::Completed)
            {
                return Err(Rejection::AlreadyCompleted(id));
            }
            Ok(vec![event(
                actor,
                EventKind::WorkOrderSelected { work_order: id },
            )])
        }
        Command::Start | Command::Resume => {
            let actor = permitted(Action::RunWorkOrder)?;
            let (id, progress) = state
                .active_progress()
                .ok_or(Rejection::NoWorkOrderSelected)?;
            check_runnable(state, id)?;
            if let Some(super::interlock::Blocker::CentralOutOfReach { heard, grace }) =
                super::interlock::offline_too_long(state, now)
            {
                return Err(Rejection::CentralOutOfReach {
                    heard,
                    grace_minutes: grace.num_minutes(),
                });
            }
            let work_order = id.clone();
            match (progress.status, command) {
                (ExecStatus::Running, _) => Err(Rejection::AlreadyRunning(work_order)),
                (ExecStatus::Selected, Command::Start) => Ok(vec![event(
                    actor,
                    EventKind::WorkOrderStarted { work_order },
                )]),
                (ExecStatus::Selected, _) => Err(Rejection::NotPaused(work_order)),
                // Start on a paused order means carry on: the operator should not need two words.
                (ExecStatus::Paused, _) => Ok(vec![event(
                    actor,
                    EventKind::WorkOrderResumed { work_order },
                )]),
                (ExecStatus::Completed, _) => Err(Rejection::AlreadyCompleted(work_order)),
            }
        }
        Command::Pause => {
            let actor = permitted(Action::PauseWorkOrder)?;
            let (id, progress) = state
                .active_progress()
                .ok_or(Rejection::NoWorkOrderSelected)?;
            if progress.status != ExecStatus::Running {
                return Err(Rejection::NotRunning(id.clone()));
            }
            Ok(vec![event(
                actor,
                EventKind::WorkOrderPaused {
                    work_order: id.clone(),
                },
            )])
        }
        Command::Complete => {
            let actor = permitted(Action::CompleteWorkOrder)?;
            let (id, progress) = state
                .active_progress()
                .ok_or(Rejection::NoWorkOrderSelected)?;
            match progress.status {
                ExecStatus::Selected => Err(Rejection::NeverStarted(id.clone())),
                ExecStatus::Completed => Err(Rejection::AlreadyCompleted(id.clone())),
                ExecStatus::Running | ExecStatus::Paused => {
                    // A part-filled tote leaves as a smaller lot: its units must not vanish.
                    let mut events: Vec<NewEvent> = close_open_output(state, id, now)
                        .into_iter()
                        .map(|kind| event(actor.clone(), kind))
                        .collect();
                    events.push(event(
                        actor,
                        EventKind::WorkOrderCompleted {
                            work_order: id.clone(),
                            produced: progress.produced,
                            rejected: progress.rejected,
                        },
                    ));
                    Ok(events)
                }
            }
        }
        Command::LoadLot { label, entry } => {
            let actor = permitted(Action::FeedMaterial)?;
            load_lot(state, label, entry, actor, now)
        }
        Command::ConsumeKeyed { quantity } => {
            let actor = permitted(Action::FeedMaterial)?;
            consume_keyed(state, quantity, actor, now)
        }
        Command::CodeDowntime { reason, stop } => {
            let planned = matches!(
                state.master.codes.get(&reason).map(|code| &code.kind),
                Some(CodeKind::Downtime { planned: true })
            );
            let action = if planned {
                Action::DeclarePlannedDowntime
            } else {
                Action::CodeDowntime
            };
            let badge = match permitted(action)? {
                Actor::Operator(badge) => badge,
                _ => return Err(Rejection::NotLoggedIn),
            };
            super::downtime::code(state, &reason, stop, badge, now)
        }
        Command::ResetMachine => {
            let badge = match permitted(Action::ResetMachine)? {
                Actor::Operator(badge) => badge,
                _ => return Err(Rejection::NotLoggedIn),
            };
            Ok(vec![super::downtime::reset(state, badge, now)?])
        }
        // Anyone may call for help, logged in or not: the station says who if it knows.
        Command::Andon { kind } => {
            let actor = match &state.session {
                Some(_) => permitted(Action::Andon)?,
                None => Actor::Station,
            };
            super::andon::andon(state, kind, actor, now)
        }
    }
}

/// A wrong PIN (at login or to sign) is evidence, by the station: nobody has proven who typed it.
/// Too many in a row lock the badge.
fn wrong_pin(state: &State, badge: Badge, now: DateTime<Utc>) -> Vec<NewEvent> {
    let attempt = state.login_guard.failures.get(&badge).copied().unwrap_or(0) + 1;
    let mut events = vec![NewEvent {
        at: now,
        actor: Actor::Station,
        kind: EventKind::LoginFailed {
            badge: badge.clone(),
            attempt,
        },
    }];
    if attempt >= MAX_LOGIN_ATTEMPTS {
        events.push(NewEvent {
            at: now,
            actor: Actor::Station,
            kind: EventKind::BadgeLocked {
                badge,
                until: now + state.station_config().login_lockout(),
                attempts: attempt,
            },
        });
    }
    events
}

/// A signature-grade record and its signatures, in the order they are appended. The first
/// signature is the logged-in person's (their PIN entered again); a second person signs where the
/// station's configuration asks for it, and must be someone else who may do the action too.
fn signed(
    state: &State,
    action: Action,
    signatures: &Signatures,
    record: NewEvent,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, Rejection> {
    let session = state.session.as_ref().ok_or(Rejection::NotLoggedIn)?;
    if signatures.signer.badge != session.badge {
        return Err(Rejection::SignerNotLoggedIn {
            name: session.name.clone(),
        });
    }
    // The signer passes the same badge checks as at login (locked after wrong PINs, revoked).
    badge_gate(state, &session.badge, now)?;
    let mut named = vec![(signatures.signer.clone(), session.name.clone())];
    match &signatures.second {
        Some(second) => {
            let operator = second_signer(state, action, &second.badge, now)?;
            named.push((second.clone(), operator.name.clone()));
        }
        None if state.station_config().needs_second_signer(action) => {
            return Err(Rejection::SecondSignatureNeeded);
        }
        None => {}
    }
    let mut events = super::signature::signature_events(&state.station, &record, &named);
    events.insert(0, record);
    Ok(events)
}

/// Whether `badge` may give the second signature for `action`: another person than the one logged
/// in, who could log in here now and whose roles allow the action.
pub fn second_signer<'a>(
    state: &'a State,
    action: Action,
    badge: &Badge,
    now: DateTime<Utc>,
) -> Result<&'a Operator, Rejection> {
    if state
        .session
        .as_ref()
        .is_some_and(|session| session.badge == *badge)
    {
        return Err(Rejection::SameSecondSigner);
    }
    // The badge checks of a login, whoever is logged in.
    let operator = match badge_gate(state, badge, now) {
        Ok(operator) => operator,
        Err(why) => {
            return Err(Rejection::SecondSignerRefused {
                name: badge.to_string(),
                why: why.to_string(),
            });
        }
    };
    if !permission::permits(&operator.roles(), action) {
        return Err(Rejection::SecondSignerRefused {
            name: operator.name.clone(),
            why: format!(
                "{} may not {}.",
                permission::roles_in_words(&operator.roles()),
                action.words()
            ),
        });
    }
    Ok(operator)
}

/// Whether `badge` may log in here now, PIN aside: known, enabled, not revoked or expired, not
/// locked after wrong PINs, with a PIN and a role, and nobody else logged in.
pub fn login_gate<'a>(
    state: &'a State,
    badge: &Badge,
    now: DateTime<Utc>,
) -> Result<&'a Operator, Rejection> {
    if let Some(session) = &state.session {
        return Err(if session.badge == *badge {
            Rejection::AlreadyLoggedIn {
                name: session.name.clone(),
            }
        } else {
            Rejection::SomeoneElseLoggedIn {
                name: session.name.clone(),
            }
        });
    }
    badge_gate(state, badge, now)
}

/// Whether `badge` may prove who they are here now (log in, or sign), whoever is logged in:
/// known, enabled, not revoked or expired, not locked after wrong PINs, with a PIN and a role.
fn badge_gate<'a>(
    state: &'a State,
    badge: &Badge,
    now: DateTime<Utc>,
) -> Result<&'a Operator, Rejection> {
    let operator = state
        .master
        .operators
        .get(badge)
        .ok_or_else(|| Rejection::UnknownBadge(badge.clone()))?;
    // Revoked before disabled: a revocation disables too, and says more.
    if operator.revoked_by(now) {
        return Err(Rejection::BadgeRevoked(badge.clone()));
    }
    if !operator.active {
        return Err(Rejection::BadgeDisabled(badge.clone()));
    }
    if let Some(last_day) = operator.valid_until
        && last_day < now.date_naive()
    {
        return Err(Rejection::BadgeExpired {
            badge: badge.clone(),
            last_day,
        });
    }
    if let Some(until) = state.login_guard.locked_until.get(badge)
        && *until > now
    {
        return Err(Rejection::BadgeLocked {
            badge: badge.clone(),
            until: *until,
        });
    }
    if operator.pin_verifier.is_none() {
        return Err(Rejection::NoPinSet {
            name: operator.name.clone(),
        });
    }
    if operator.roles().is_empty() {
        return Err(Rejection::NoRole {
            name: operator.name.clone(),
        });
    }
    Ok(operator)
}

/// A work order may run here only if central dispatched it here and it is released.
fn check_runnable(state: &State, id: &WorkOrderId) -> Result<(), Rejection> {
    let order = state
        .master
        .work_orders
        .get(id)
        .ok_or_else(|| Rejection::UnknownWorkOrder(id.clone()))?;
    if !order.stations.is_empty() && !order.stations.contains(&state.station) {
        return Err(Rejection::NotDispatchedHere(id.clone()));
    }
    if order.status != WorkOrderStatus::Released {
        return Err(Rejection::NotReleased {
            id: id.clone(),
            status: order.status,
        });
    }
    Ok(())
}

/// How much of a refused scan the evidence keeps.
pub const MAX_EVIDENCE_CHARS: usize = 300;

/// The evidence a refused scan leaves in the log: what was scanned, by whom, and why it was refused.
pub fn evidence_of_refusal(
    state: &State,
    scanned: &str,
    reason: &str,
    entry: Option<Entry>,
    now: DateTime<Utc>,
) -> NewEvent {
    NewEvent {
        at: now,
        actor: state
            .session
            .as_ref()
            .map(|session| Actor::Operator(session.badge.clone()))
            .unwrap_or(Actor::Station),
        kind: EventKind::ScanRefused {
            // Evidence, not a dump: an overlong scan is kept to its first characters.
            scanned: scanned.chars().take(MAX_EVIDENCE_CHARS).collect(),
            reason: reason.to_owned(),
            entry,
        },
    }
}

/// The station pauses a running order on its own when it stops or finds, at start, that it stopped
/// without saying so (a crash, a power cut): a machine must never restart unattended.
pub fn station_pause(state: &State, now: DateTime<Utc>) -> Vec<NewEvent> {
    match state.active_progress() {
        Some((id, progress)) if progress.status == ExecStatus::Running => vec![NewEvent {
            at: now,
            actor: Actor::Station,
            kind: EventKind::WorkOrderPaused {
                work_order: id.clone(),
            },
        }],
        _ => Vec::new(),
    }
}
