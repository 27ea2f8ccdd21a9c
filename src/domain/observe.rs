//! What a PLC sample means: counter deltas become units.
//!
//! Counters, not pulses: the PLC keeps cumulative u32 counts, and the station turns their change into
//! units. `wrapping_sub` at the counter's width handles rollover; the boot epoch tells a PLC restart
//! from a rollover; a delta beyond plausibility is treated as a reset, never as units.

use super::event::{Actor, BaselineCause, EventKind, NewEvent};
use super::plc::PlcSample;
use super::state::State;
use chrono::{DateTime, Utc};

/// More units than this between two polls cannot be real production: the counter was reset.
pub const MAX_PLAUSIBLE_COUNTER_STEP: u32 = 100_000;

pub fn observe(state: &State, sample: &PlcSample, now: DateTime<Utc>) -> Vec<NewEvent> {
    let event = |kind: EventKind| NewEvent {
        at: now,
        actor: Actor::Plc,
        kind,
    };
    let work_order = state.active.clone();
    let units = |produced: u32, rejected: u32| {
        event(EventKind::UnitsProduced {
            work_order: work_order.clone(),
            produced: u64::from(produced),
            // A PLC that counts more defects than units is wrong; never book more rejects than units.
            rejected: u64::from(rejected.min(produced)),
            plc_epoch: sample.epoch,
            processed_total: sample.processed,
            defective_total: sample.defective,
        })
    };
    let restart = |cause: BaselineCause| {
        let mut events = vec![event(EventKind::PlcCounterBaseline {
            cause,
            plc_epoch: sample.epoch,
            processed_total: 0,
            defective_total: 0,
        })];
        if sample.processed > 0 || sample.defective > 0 {
            events.push(units(sample.processed, sample.defective));
        }
        events
    };

    let Some(baseline) = state.counters else {
        return vec![event(EventKind::PlcCounterBaseline {
            cause: BaselineCause::FirstContact,
            plc_epoch: sample.epoch,
            processed_total: sample.processed,
            defective_total: sample.defective,
        })];
    };
    if baseline.epoch != sample.epoch {
        return restart(BaselineCause::PlcRestart);
    }
    let produced = sample.processed.wrapping_sub(baseline.processed);
    let rejected = sample.defective.wrapping_sub(baseline.defective);
    if produced > MAX_PLAUSIBLE_COUNTER_STEP || rejected > MAX_PLAUSIBLE_COUNTER_STEP {
        return restart(BaselineCause::CounterReset);
    }
    if produced == 0 && rejected == 0 {
        return Vec::new();
    }
    vec![units(produced, rejected)]
}
