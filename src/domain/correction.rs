//! Corrections, never edits: a wrong consumption, count or genealogy link is put right by a new
//! event that names the one it corrects, what counted until then and what counts from now, and a
//! reason code. The corrected event is never touched, so the history shows both.

use super::event::{Event, EventKind};
use super::ids::{LotId, WorkOrderId};
use super::quantity::Quantity;
use super::rejection::Rejection;
use serde::{Deserialize, Serialize};

/// The value of a correctable fact: the part of it that can be wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Correction {
    /// A consumption: from which lot, how much (zero: it did not happen).
    Consumption { lot: LotId, quantity: Quantity },
    /// A count of units from the machine: processed, and rejected among them.
    Count { produced: u64, rejected: u64 },
    /// The lots an output was made from (its genealogy).
    Inputs { inputs: Vec<LotId> },
}

impl Correction {
    /// What a fact says, if it is one that can be corrected.
    pub fn of(kind: &EventKind) -> Option<Correction> {
        match kind {
            EventKind::LotConsumed { lot, quantity, .. } => Some(Correction::Consumption {
                lot: lot.clone(),
                quantity: *quantity,
            }),
            EventKind::UnitsProduced {
                produced, rejected, ..
            } => Some(Correction::Count {
                produced: *produced,
                rejected: *rejected,
            }),
            EventKind::OutputCreated { inputs, .. } => Some(Correction::Inputs {
                inputs: inputs.clone(),
            }),
            _ => None,
        }
    }

    /// In words, for screens and the audit report.
    pub fn words(&self) -> String {
        match self {
            Correction::Consumption { lot, quantity } => format!("{quantity} from lot {lot}"),
            Correction::Count { produced, rejected } => {
                format!("{produced} made, {rejected} rejected")
            }
            Correction::Inputs { inputs } if inputs.is_empty() => "made from no lot".into(),
            Correction::Inputs { inputs } => {
                let lots: Vec<&str> = inputs.iter().map(|lot| lot.as_str()).collect();
                format!("made from {}", lots.join(", "))
            }
        }
    }
}

impl Correction {
    /// A new value keyed at the station, read the way `was` is shaped: a count is `made` or
    /// `made rejected`; a consumption is `quantity` (same lot) or `lot quantity`; an output's inputs
    /// are lot ids separated by spaces or commas (`-` for none). The error says what to type.
    pub fn parse_like(was: &Correction, text: &str) -> Result<Correction, String> {
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|word| !word.is_empty())
            .collect();
        match was {
            Correction::Count { .. } => {
                let count = |word: &str| word.parse::<u64>().ok();
                match words.as_slice() {
                    [made] => count(made).map(|produced| Correction::Count {
                        produced,
                        rejected: 0,
                    }),
                    [made, rejected] => count(made)
                        .zip(count(rejected))
                        .map(|(produced, rejected)| Correction::Count { produced, rejected }),
                    _ => None,
                }
                .ok_or_else(|| {
                    "Type the count made, and the rejected among them: e.g. 18 2.".into()
                })
            }
            Correction::Consumption { lot, .. } => {
                let quantity = |word: &str| Quantity::parse(word).filter(|q| !q.is_negative());
                match words.as_slice() {
                    [amount] => quantity(amount).map(|quantity| Correction::Consumption {
                        lot: lot.clone(),
                        quantity,
                    }),
                    [other, amount] => quantity(amount).map(|quantity| Correction::Consumption {
                        lot: LotId::from(*other),
                        quantity,
                    }),
                    _ => None,
                }
                .ok_or_else(|| {
                    "Type the quantity drawn (0 if none), or the lot and the quantity: e.g. 3.5 \
                     or C24-1107 3.5."
                        .into()
                })
            }
            Correction::Inputs { .. } => Ok(Correction::Inputs {
                inputs: words
                    .into_iter()
                    .filter(|word| *word != "-")
                    .map(LotId::from)
                    .collect(),
            }),
        }
    }
}

/// The most units one count may say: what central accepts in one count event.
pub const MAX_CORRECTED_COUNT: u64 = 10 * super::observe::MAX_PLAUSIBLE_COUNTER_STEP as u64;

/// What a correction of `target` must look like: the value it replaces (the latest correction of
/// it, else the original) and the work order it belongs to. Refuses events that are not
/// correctable facts, a new value of another kind, and one that changes nothing.
pub fn check(
    target: &Event,
    latest: Option<&Correction>,
    now: &Correction,
) -> Result<(Correction, Option<WorkOrderId>), Rejection> {
    let original = Correction::of(&target.kind).ok_or(Rejection::NotCorrectable {
        seq: target.seq,
        kind: target.kind.name(),
    })?;
    let was = latest.cloned().unwrap_or(original);
    if std::mem::discriminant(&was) != std::mem::discriminant(now) {
        return Err(Rejection::CorrectionMismatch { seq: target.seq });
    }
    if let Correction::Count { produced, rejected } = now {
        if rejected > produced {
            return Err(Rejection::CorrectionMismatch { seq: target.seq });
        }
        // Central sets aside a count above this (as for any count): the correction would never
        // count there, and every later one of the same fact would disagree with it.
        if *produced > MAX_CORRECTED_COUNT {
            return Err(Rejection::ImplausibleCount {
                seq: target.seq,
                count: *produced,
                max: MAX_CORRECTED_COUNT,
            });
        }
    }
    if &was == now {
        return Err(Rejection::CorrectionChangesNothing { seq: target.seq });
    }
    Ok((was, target.kind.work_order().cloned()))
}

/// Moves the station's projections from `was` to `now`: lot usage for a consumption, the order's
/// counts for a count. A correction of an output's inputs changes only the genealogy links, which
/// the store keeps beside the state.
pub fn apply(
    state: &mut super::state::State,
    work_order: Option<&WorkOrderId>,
    was: &Correction,
    now: &Correction,
) {
    match (was, now) {
        (
            Correction::Consumption {
                lot: was_lot,
                quantity: was_quantity,
            },
            Correction::Consumption { lot, quantity },
        ) => {
            if let Some(used) = state.lot_usage.get_mut(was_lot) {
                *used = used.saturating_sub(*was_quantity);
            }
            let used = state.lot_usage.entry(lot.clone()).or_default();
            *used = used.saturating_add(*quantity);
        }
        (
            Correction::Count {
                produced: was_produced,
                rejected: was_rejected,
            },
            Correction::Count { produced, rejected },
        ) => match work_order.and_then(|id| state.progress.get_mut(id)) {
            Some(progress) => {
                progress.produced = progress
                    .produced
                    .saturating_sub(*was_produced)
                    .saturating_add(*produced);
                progress.rejected = progress
                    .rejected
                    .saturating_sub(*was_rejected)
                    .saturating_add(*rejected);
            }
            None if work_order.is_none() => {
                state.unassigned_produced = state
                    .unassigned_produced
                    .saturating_sub(*was_produced)
                    .saturating_add(*produced);
            }
            None => {}
        },
        _ => {}
    }
}
