//! What becomes of a nonconforming lot: accepted after all, reworked at an earlier operation,
//! scrapped, used as it is, or sent back to its supplier, whole or split into parts that go
//! different ways. A disposition is quality's signed decision; the lot records it carries (status,
//! rework) follow from the event by [`part_lots`] and [`outcome`], the same at the station and at
//! central, so both read one decision the same way.

use super::event::{Actor, Event, EventKind, NewEvent};
use super::ids::{LotId, OperationId, StationId};
use super::inspection::InspectionVerdict;
use super::master::{Lot, LotOrigin, LotStatus};
use super::quantity::Quantity;
use super::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What is decided for (a part of) a lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Disposition {
    /// Conforming after all (a re-inspection, a review): released.
    Accept,
    /// Back to `operation` of its routing, into the queue of the stations that perform it; held
    /// until the rework is done and an inspection accepts it again.
    Rework {
        operation: OperationId,
    },
    Scrap,
    /// Nonconforming but usable as it is (a concession).
    UseAsIs,
    ReturnToSupplier,
}

impl Disposition {
    pub fn words(&self) -> String {
        match self {
            Disposition::Accept => "accept".into(),
            Disposition::Rework { operation } => format!("rework at {operation}"),
            Disposition::Scrap => "scrap".into(),
            Disposition::UseAsIs => "use as is".into(),
            Disposition::ReturnToSupplier => "return to supplier".into(),
        }
    }
}

/// One part of a disposition: the lot it applies to (the lot itself when it goes one way, else a
/// part split off it), how much, and what becomes of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispositionPart {
    pub lot: LotId,
    pub quantity: Quantity,
    pub disposition: Disposition,
}

/// The parts in words: `5 scrap (C24-1031-1), 15 rework at OP10 (C24-1031-2)`.
pub fn parts_words(lot: &LotId, parts: &[DispositionPart]) -> String {
    let words: Vec<String> = parts
        .iter()
        .map(|part| {
            let mut words = format!("{} {}", part.quantity, part.disposition.words());
            if &part.lot != lot {
                words.push_str(&format!(" ({})", part.lot));
            }
            words
        })
        .collect();
    words.join(", ")
}

/// A lot sent back for rework, and how far it has got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rework {
    pub operation: OperationId,
    /// Reworked at the operation: only an accepting inspection is still missing.
    pub done: bool,
}

/// A part as the person asked for it: a quantity (none: all that is left) and a disposition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRequest {
    pub quantity: Option<Quantity>,
    pub disposition: Disposition,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispositionRefusal {
    #[error("Lot {lot} is {status}: only a lot on hold is dispositioned.")]
    NotHeld { lot: LotId, status: &'static str },
    #[error("Lot {lot} is in rework at {operation}: record the rework as done first.")]
    InRework { lot: LotId, operation: OperationId },
    #[error("Say why: a disposition needs a reason.")]
    NoReason,
    #[error("Say what becomes of the lot: accept, rework OP.., scrap, use-as-is or return.")]
    NoParts,
    #[error(
        "{0:?} is not a disposition: use accept, rework OP.., scrap, use-as-is or return, each with an optional quantity (scrap 5, rework OP10 15)."
    )]
    Unreadable(String),
    #[error("A part of 0 is nothing: give each part a quantity above 0.")]
    EmptyPart,
    #[error("Only one part may leave its quantity open (it takes what is left).")]
    TwoOpenParts,
    #[error("The parts add up to {parts} but lot {lot} has {left} left.")]
    TooMuch {
        lot: LotId,
        parts: String,
        left: String,
    },
    #[error(
        "The parts add up to {parts} of the {left} left in lot {lot}: say what becomes of the other {rest}."
    )]
    TooLittle {
        lot: LotId,
        parts: String,
        left: String,
        rest: String,
    },
    #[error(
        "Lot {lot} came from a supplier: it has no routing here to be reworked on. Return or scrap it."
    )]
    SupplierRework { lot: LotId },
    #[error(
        "{operation} is not an operation of {lot}'s routing up to {made_at}, where it was made."
    )]
    NotInRouting {
        lot: LotId,
        operation: OperationId,
        made_at: OperationId,
    },
    #[error("Lot {lot} was made here, not bought: it cannot go back to a supplier.")]
    NotFromSupplier { lot: LotId },
}

/// Reads what was typed: parts separated by commas, each a disposition with an optional quantity
/// before or after it (`accept`, `scrap 5, rework OP10`, `5 scrap, 15 rework OP10`, `rts`).
pub fn parse_parts(text: &str) -> Result<Vec<PartRequest>, DispositionRefusal> {
    let mut parts = Vec::new();
    for piece in text.split([',', ';']) {
        let words: Vec<&str> = piece.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let unreadable = || DispositionRefusal::Unreadable(piece.trim().to_owned());
        let (quantity, rest) = match (words.first(), words.last()) {
            (Some(first), _) if Quantity::parse(first).is_some() => {
                (Quantity::parse(first), words[1..].to_vec())
            }
            (_, Some(last)) if words.len() > 1 && Quantity::parse(last).is_some() => {
                (Quantity::parse(last), words[..words.len() - 1].to_vec())
            }
            _ => (None, words),
        };
        let keyword = rest
            .first()
            .map(|w| w.to_ascii_lowercase())
            .unwrap_or_default();
        let disposition = match (keyword.as_str(), &rest[..]) {
            ("accept", [_]) => Disposition::Accept,
            ("scrap", [_]) => Disposition::Scrap,
            ("use-as-is" | "useasis" | "uai", [_]) => Disposition::UseAsIs,
            ("use", [_, as_, is])
                if as_.eq_ignore_ascii_case("as") && is.eq_ignore_ascii_case("is") =>
            {
                Disposition::UseAsIs
            }
            ("return" | "rts", [_]) => Disposition::ReturnToSupplier,
            ("rework", [_, operation]) => Disposition::Rework {
                operation: OperationId::from(operation.to_ascii_uppercase().as_str()),
            },
            _ => return Err(unreadable()),
        };
        if quantity.is_some_and(|q: Quantity| !q.is_positive()) {
            return Err(DispositionRefusal::EmptyPart);
        }
        parts.push(PartRequest {
            quantity,
            disposition,
        });
    }
    if parts.is_empty() {
        return Err(DispositionRefusal::NoParts);
    }
    Ok(parts)
}

/// The disposition of `lot` as an event to sign: checked against what the station knows of it.
/// Parts are whole lots of their own when the lot is split: `{lot}-1`, `{lot}-2`, … in the order
/// asked.
pub fn dispose(
    state: &State,
    actor: Actor,
    now: DateTime<Utc>,
    lot: LotId,
    parts: Vec<PartRequest>,
    reason: &str,
    ncr: Option<String>,
) -> Result<NewEvent, DispositionRefusal> {
    let known = state.lot(&lot).ok_or(DispositionRefusal::NotHeld {
        lot: lot.clone(),
        status: "not known here",
    })?;
    if !matches!(known.status, LotStatus::OnHold | LotStatus::Quarantined) {
        return Err(DispositionRefusal::NotHeld {
            lot,
            status: known.status.words(),
        });
    }
    if let Some(rework) = known.rework.as_ref().filter(|rework| !rework.done) {
        return Err(DispositionRefusal::InRework {
            lot,
            operation: rework.operation.clone(),
        });
    }
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(DispositionRefusal::NoReason);
    }
    if parts.is_empty() {
        return Err(DispositionRefusal::NoParts);
    }
    for part in &parts {
        check_fits(state, &known, &part.disposition)?;
    }
    let left = state.lot_remaining(&known);
    let named = parts
        .iter()
        .filter_map(|part| part.quantity)
        .fold(Quantity::ZERO, Quantity::saturating_add);
    let open = parts.iter().filter(|part| part.quantity.is_none()).count();
    if open > 1 {
        return Err(DispositionRefusal::TwoOpenParts);
    }
    let shown = |quantity: Quantity| quantity.to_string();
    if named > left || (open == 1 && named == left) {
        return Err(DispositionRefusal::TooMuch {
            lot,
            parts: shown(named),
            left: shown(left),
        });
    }
    if open == 0 && named < left {
        return Err(DispositionRefusal::TooLittle {
            lot,
            parts: shown(named),
            left: shown(left),
            rest: shown(left.saturating_sub(named)),
        });
    }
    let split = parts.len() > 1;
    let parts = parts
        .into_iter()
        .enumerate()
        .map(|(index, part)| DispositionPart {
            lot: if split {
                LotId::from(format!("{lot}-{}", index + 1).as_str())
            } else {
                lot.clone()
            },
            quantity: part.quantity.unwrap_or(left.saturating_sub(named)),
            disposition: part.disposition,
        })
        .collect();
    Ok(NewEvent {
        at: now,
        actor,
        kind: EventKind::LotDispositioned {
            lot,
            parts,
            reason: reason.to_owned(),
            ncr,
        },
    })
}

/// Whether a disposition can apply to this lot at all: rework needs a routing operation the lot
/// has passed, a return needs a supplier.
fn check_fits(
    state: &State,
    lot: &Lot,
    disposition: &Disposition,
) -> Result<(), DispositionRefusal> {
    match (disposition, &lot.origin) {
        (Disposition::Rework { .. }, LotOrigin::Supplier) => {
            Err(DispositionRefusal::SupplierRework {
                lot: lot.id.clone(),
            })
        }
        (Disposition::Rework { operation }, origin) => {
            let Some((product, made_at)) = made_by(state, origin) else {
                return Err(DispositionRefusal::SupplierRework {
                    lot: lot.id.clone(),
                });
            };
            let steps = state
                .master
                .routings
                .get(&product)
                .map(|routing| routing.steps.as_slice())
                .unwrap_or_default();
            let upto = steps
                .iter()
                .position(|step| step.operation == made_at)
                .map_or(0, |index| index + 1);
            if steps[..upto]
                .iter()
                .any(|step| &step.operation == operation)
            {
                Ok(())
            } else {
                Err(DispositionRefusal::NotInRouting {
                    lot: lot.id.clone(),
                    operation: operation.clone(),
                    made_at,
                })
            }
        }
        (Disposition::ReturnToSupplier, LotOrigin::Produced { .. } | LotOrigin::Split { .. }) => {
            if root_is_supplier(state, lot) {
                Ok(())
            } else {
                Err(DispositionRefusal::NotFromSupplier {
                    lot: lot.id.clone(),
                })
            }
        }
        _ => Ok(()),
    }
}

/// The product and operation that made a lot, following split parts back to what they were split
/// from.
fn made_by(state: &State, origin: &LotOrigin) -> Option<(super::ids::ProductId, OperationId)> {
    let mut origin = origin.clone();
    // Split parts of split parts: a short chain in practice; the bound stops a corrupt cycle.
    for _ in 0..16 {
        match origin {
            LotOrigin::Produced {
                work_order,
                operation,
                ..
            } => {
                let product = state.master.work_orders.get(&work_order)?.product.clone();
                return Some((product, operation));
            }
            LotOrigin::Split { parent, .. } => origin = state.lot(&parent)?.origin.clone(),
            LotOrigin::Supplier => return None,
        }
    }
    // A split chain longer than any real one: a corrupt log, treated as an unknown origin.
    None
}

fn root_is_supplier(state: &State, lot: &Lot) -> bool {
    let mut origin = lot.origin.clone();
    for _ in 0..16 {
        match origin {
            LotOrigin::Supplier => return true,
            LotOrigin::Produced { .. } => return false,
            LotOrigin::Split { parent, .. } => match state.lot(&parent) {
                Some(parent) => origin = parent.origin.clone(),
                None => return false,
            },
        }
    }
    false
}

/// What a part's lot record becomes: status, the reason shown with it, and rework.
pub fn outcome(
    part: &DispositionPart,
    reason: &str,
) -> (LotStatus, Option<String>, Option<Rework>) {
    match &part.disposition {
        Disposition::Accept => (LotStatus::Released, None, None),
        Disposition::UseAsIs => (
            LotStatus::Released,
            Some(format!("used as is: {reason}")),
            None,
        ),
        Disposition::Rework { operation } => (
            LotStatus::OnHold,
            Some(format!("sent back to {operation} for rework: {reason}")),
            Some(Rework {
                operation: operation.clone(),
                done: false,
            }),
        ),
        Disposition::Scrap => (
            LotStatus::Scrapped,
            Some(format!("scrapped: {reason}")),
            None,
        ),
        Disposition::ReturnToSupplier => (
            LotStatus::Returned,
            Some(format!("returned to supplier: {reason}")),
            None,
        ),
    }
}

/// The lot records a disposition leaves: each part as it now stands, and for a split the lot it
/// was split from, used up by the split. `parent` is the record before the disposition.
pub fn part_lots(event: &Event, parent: &Lot) -> Vec<Lot> {
    let EventKind::LotDispositioned {
        lot, parts, reason, ..
    } = &event.kind
    else {
        return Vec::new();
    };
    let split = parts.len() > 1 || parts.iter().any(|part| &part.lot != lot);
    let mut lots = Vec::new();
    if split {
        let names: Vec<String> = parts.iter().map(|part| part.lot.to_string()).collect();
        lots.push(Lot {
            status: LotStatus::Consumed,
            status_reason: Some(format!("split into {}", names.join(", "))),
            status_at: Some(event.at),
            rework: None,
            ..parent.clone()
        });
    }
    for part in parts {
        let (status, status_reason, rework) = outcome(part, reason);
        let origin = if split {
            LotOrigin::Split {
                parent: lot.clone(),
                station: event.station.clone(),
                at: event.at,
            }
        } else {
            parent.origin.clone()
        };
        lots.push(Lot {
            id: part.lot.clone(),
            quantity: if split {
                part.quantity
            } else {
                parent.quantity
            },
            status,
            status_reason,
            origin,
            status_at: Some(event.at),
            rework,
            ..parent.clone()
        });
    }
    lots
}

/// What a rework done, or the inspection after it, makes of the lot's record; none when the event
/// does not move its rework on.
pub fn rework_progress(lot: &Lot, event: &Event) -> Option<Lot> {
    let rework = lot.rework.as_ref()?;
    let (status_reason, rework) = match &event.kind {
        EventKind::ReworkDone { operation, .. }
            if !rework.done && *operation == rework.operation =>
        {
            (
                format!("reworked at {operation}: waits for inspection"),
                Some(Rework {
                    operation: operation.clone(),
                    done: true,
                }),
            )
        }
        EventKind::InspectionRecorded {
            verdict, reasons, ..
        } if rework.done => match verdict {
            InspectionVerdict::Accept => (
                format!(
                    "re-inspected after rework at {}: accepted; a signed release lets it go on",
                    rework.operation
                ),
                None,
            ),
            InspectionVerdict::Reject => (
                format!("failed inspection after rework: {}", reasons.join("; ")),
                None,
            ),
            InspectionVerdict::Incomplete => return None,
        },
        _ => return None,
    };
    Some(Lot {
        status_reason: Some(status_reason),
        status_at: Some(event.at),
        rework,
        ..lot.clone()
    })
}

/// The rework of a lot recorded as done at this station: checked, as an event.
pub fn rework_done(
    state: &State,
    actor: Actor,
    now: DateTime<Utc>,
    lot: LotId,
) -> Result<NewEvent, ReworkRefusal> {
    let known = state
        .lot(&lot)
        .ok_or_else(|| ReworkRefusal::NotInRework(lot.clone()))?;
    let Some(rework) = known.rework.as_ref() else {
        return Err(ReworkRefusal::NotInRework(lot));
    };
    if rework.done {
        return Err(ReworkRefusal::AlreadyDone {
            lot,
            operation: rework.operation.clone(),
        });
    }
    if !performs(state, &state.station, &known, &rework.operation) {
        return Err(ReworkRefusal::NotHere {
            lot,
            operation: rework.operation.clone(),
        });
    }
    Ok(NewEvent {
        at: now,
        actor,
        kind: EventKind::ReworkDone {
            lot,
            operation: rework.operation.clone(),
        },
    })
}

/// Whether `station` performs `operation` of the lot's routing (a routing step lists it).
fn performs(state: &State, station: &StationId, lot: &Lot, operation: &OperationId) -> bool {
    let Some((product, _)) = made_by(state, &lot.origin) else {
        return false;
    };
    state.master.routings.get(&product).is_some_and(|routing| {
        routing
            .steps
            .iter()
            .any(|step| &step.operation == operation && step.stations.contains(station))
    })
}

/// The rework waiting for this station: lots sent back to an operation it performs, not yet done.
pub fn rework_queue(state: &State) -> Vec<(Lot, OperationId)> {
    state
        .known_lots()
        .filter_map(|lot| {
            let rework = lot.rework.as_ref().filter(|rework| !rework.done)?;
            let operation = rework.operation.clone();
            performs(state, &state.station, &lot, &operation).then(|| (lot.into_owned(), operation))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReworkRefusal {
    #[error("Lot {0} is not sent back for rework.")]
    NotInRework(LotId),
    #[error("The rework of lot {lot} at {operation} is already recorded: it waits for inspection.")]
    AlreadyDone { lot: LotId, operation: OperationId },
    #[error("Lot {lot} goes back to {operation}, which this station does not perform.")]
    NotHere { lot: LotId, operation: OperationId },
}

#[cfg(test)]
#[path = "disposition_tests.rs"]
mod tests;
