//! Nonconformance reports: what was found wrong, where, how much of it, what was done at once to
//! contain it, what was decided for it (the lot's disposition) and its signed closure. A failed
//! inspection opens one by itself; a person opens one for anything else found wrong with a lot.

use super::event::{Actor, EventKind, NewEvent};
use super::ids::{LotId, StationId};
use super::quantity::Quantity;
use super::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An NCR as this station knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ncr {
    pub id: String,
    pub lot: LotId,
    pub opened_at: DateTime<Utc>,
    pub quantity: Quantity,
    pub what: String,
    pub containment: String,
    /// The disposition recorded for it, in words; none while it waits for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// The NCRs opened at this station, by id, and how many were ever opened (numbers the next).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NcrBook {
    pub opened: u64,
    pub ncrs: std::collections::BTreeMap<String, Ncr>,
}

/// How many closed NCRs a station keeps: central keeps them all; the station needs the open ones.
const KEPT_CLOSED: usize = 50;

impl NcrBook {
    /// The id the next NCR opened at `station` gets: unique plant-wide without asking central.
    pub fn next_id(&self, station: &StationId) -> String {
        format!("NCR-{station}-{:04}", self.opened + 1)
    }

    /// The open NCR of a lot, if any (the newest).
    pub fn open_for(&self, lot: &LotId) -> Option<&Ncr> {
        self.ncrs
            .values()
            .filter(|ncr| &ncr.lot == lot && ncr.closed_at.is_none())
            .max_by_key(|ncr| ncr.opened_at)
    }

    pub fn apply(&mut self, kind: &EventKind, at: DateTime<Utc>) {
        match kind {
            EventKind::NcrOpened {
                ncr,
                lot,
                quantity,
                what,
                containment,
            } => {
                self.opened += 1;
                self.ncrs.insert(
                    ncr.clone(),
                    Ncr {
                        id: ncr.clone(),
                        lot: lot.clone(),
                        opened_at: at,
                        quantity: *quantity,
                        what: what.clone(),
                        containment: containment.clone(),
                        disposition: None,
                        closed_at: None,
                    },
                );
            }
            EventKind::LotDispositioned {
                ncr: Some(ncr),
                parts,
                ..
            } => {
                if let Some(open) = self.ncrs.get_mut(ncr) {
                    open.disposition = Some(super::disposition::parts_words(&open.lot, parts));
                }
            }
            EventKind::NcrClosed { ncr, .. } => {
                if let Some(closed) = self.ncrs.get_mut(ncr) {
                    closed.closed_at = Some(at);
                }
                self.forget_old_closed();
            }
            _ => {}
        }
    }

    fn forget_old_closed(&mut self) {
        let mut closed: Vec<(DateTime<Utc>, String)> = self
            .ncrs
            .values()
            .filter_map(|ncr| Some((ncr.closed_at?, ncr.id.clone())))
            .collect();
        if closed.len() <= KEPT_CLOSED {
            return;
        }
        closed.sort();
        for (_, id) in &closed[..closed.len() - KEPT_CLOSED] {
            self.ncrs.remove(id);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NcrRefusal {
    #[error("Lot {0} is not known here: scan its label, or ask central.")]
    UnknownLot(LotId),
    #[error("Say what is wrong: an NCR needs a description.")]
    NoDescription,
    #[error("Lot {lot} already has NCR {ncr} open: add to it instead of opening another.")]
    AlreadyOpen { lot: LotId, ncr: String },
    #[error("{0} is not an NCR of this station.")]
    Unknown(String),
    #[error("{0} is closed already.")]
    AlreadyClosed(String),
    #[error("{0} has no disposition yet: decide what becomes of the lot before closing it.")]
    NotDispositioned(String),
    #[error("Say how it was closed: the closure needs words (cause found, action taken).")]
    NoClosure,
}

/// A new NCR on a lot, contained by holding it (the hold is the caller's to add when the lot is
/// not held yet).
pub fn open(
    state: &State,
    actor: Actor,
    now: DateTime<Utc>,
    lot: LotId,
    quantity: Option<Quantity>,
    what: &str,
    containment: &str,
) -> Result<NewEvent, NcrRefusal> {
    let known = state
        .lot(&lot)
        .ok_or_else(|| NcrRefusal::UnknownLot(lot.clone()))?;
    let what = what.trim();
    if what.is_empty() {
        return Err(NcrRefusal::NoDescription);
    }
    if let Some(open) = state.ncrs.open_for(&lot) {
        return Err(NcrRefusal::AlreadyOpen {
            lot,
            ncr: open.id.clone(),
        });
    }
    let containment = match containment.trim() {
        "" => format!("lot {lot} held plant-wide"),
        words => words.to_owned(),
    };
    Ok(NewEvent {
        at: now,
        actor,
        kind: EventKind::NcrOpened {
            ncr: state.ncrs.next_id(&state.station),
            quantity: quantity.unwrap_or_else(|| state.lot_remaining(&known)),
            lot,
            what: what.to_owned(),
            containment,
        },
    })
}

/// The closure of an NCR of this station, as the record to sign.
pub fn close(
    state: &State,
    actor: Actor,
    now: DateTime<Utc>,
    ncr: &str,
    closure: &str,
) -> Result<NewEvent, NcrRefusal> {
    let ncr = ncr.trim();
    let known = state
        .ncrs
        .ncrs
        .get(ncr)
        .ok_or_else(|| NcrRefusal::Unknown(ncr.to_owned()))?;
    if known.closed_at.is_some() {
        return Err(NcrRefusal::AlreadyClosed(ncr.to_owned()));
    }
    if known.disposition.is_none() {
        return Err(NcrRefusal::NotDispositioned(ncr.to_owned()));
    }
    let closure = closure.trim();
    if closure.is_empty() {
        return Err(NcrRefusal::NoClosure);
    }
    Ok(NewEvent {
        at: now,
        actor,
        kind: EventKind::NcrClosed {
            ncr: ncr.to_owned(),
            lot: known.lot.clone(),
            closure: closure.to_owned(),
        },
    })
}
