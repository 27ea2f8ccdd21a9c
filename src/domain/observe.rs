//! What a PLC sample means: counter deltas become units.
//!
//! Counters, not pulses: the PLC keeps cumulative u32 counts, and the station turns their change into
//! units. `wrapping_sub` at the counter's width handles rollover; the boot epoch tells a PLC restart
//! from a rollover; a delta beyond plausibility is treated as a reset, never as units.

use super::downtime::stop_opened;
use super::event::{Actor, BaselineCause, EventKind, NewEvent};
use super::machine::MachineReading;
use super::material::after_units;
use super::plc::PlcSample;
use super::state::{ExecStatus, State};
use chrono::{DateTime, Utc};

/// More units than this between two polls cannot be real production: the counter was reset.
pub const MAX_PLAUSIBLE_COUNTER_STEP: u32 = 100_000;

/// Units from the counters, then what they mean for material: consumption from the loaded lots and
/// the outputs they fill.
pub fn observe(state: &State, sample: &PlcSample, now: DateTime<Utc>) -> Vec<NewEvent> {
    let mut events: Vec<NewEvent> = machine_transition(state, sample, now).into_iter().collect();
    if let Some(EventKind::MachineStateChanged {
        category,
        stop_reason,
        ..
    }) = events.first().map(|event| &event.kind)
    {
        events.extend(stop_opened(state, *category, *stop_reason, now));
    }
    events.extend(count_units(state, sample, now));
    let material: Vec<NewEvent> = events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::UnitsProduced {
                work_order: Some(work_order),
                produced,
                rejected,
                ..
            } => Some(after_units(
                state,
                work_order,
                *produced,
                *rejected,
                Some(sample.state),
                now,
            )),
            _ => None,
        })
        .flatten()
        .collect();
    events.extend(material);
    events
}

/// A change of state, stop reason or interlock since the last recorded reading, with its category.
fn machine_transition(state: &State, sample: &PlcSample, now: DateTime<Utc>) -> Option<NewEvent> {
    let reading = MachineReading::of(sample);
    if state.machine.map(|(last, _)| last) == Some(reading) {
        return None;
    }
    Some(NewEvent {
        at: now,
        actor: Actor::Plc,
        kind: EventKind::MachineStateChanged {
            packml: reading.packml,
            stop_reason: reading.stop_reason,
            blocked: reading.blocked,
            starved: reading.starved,
            category: state.settings.categories.category(&reading),
        },
    })
}

fn count_units(state: &State, sample: &PlcSample, now: DateTime<Utc>) -> Vec<NewEvent> {
    let event = |kind: EventKind| NewEvent {
        at: now,
        actor: Actor::Plc,
        kind,
    };
    // Units belong to the order that is running (or paused mid-cycle); units made while an order
    // is merely selected, or none is, stay unassigned rather than land on the wrong order.
    let work_order = state
        .active_progress()
        .filter(|(_, p)| matches!(p.status, ExecStatus::Running | ExecStatus::Paused))
        .map(|(id, _)| id.clone());
    // The defective baseline moves only by the rejects actually booked: a PLC that bumps its
    // defective counter a scan before the processed one must not lose that reject.
    let units = |produced: u32, rejected: u32, defective_total: u32| {
        event(EventKind::UnitsProduced {
            work_order: work_order.clone(),
            produced: u64::from(produced),
            rejected: u64::from(rejected),
            plc_epoch: sample.epoch,
            processed_total: sample.processed,
            defective_total,
        })
    };
    let restart = |cause: BaselineCause| {
        let mut events = vec![event(EventKind::PlcCounterBaseline {
            cause,
            plc_epoch: sample.epoch,
            processed_total: 0,
            defective_total: 0,
        })];
        if sample.processed > 0 {
            let rejected = sample.defective.min(sample.processed);
            events.push(units(sample.processed, rejected, rejected));
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
    // Deltas wrap at the counters' own width: a 16-bit counter goes 65535 → 0, not to 2^32.
    let mask = match state.settings.counter_bits {
        16 => u32::from(u16::MAX),
        _ => u32::MAX,
    };
    let produced = sample.processed.wrapping_sub(baseline.processed) & mask;
    let rejected = sample.defective.wrapping_sub(baseline.defective) & mask;
    // A 16-bit counter wraps every 65 536 units, so a reset to zero looks like a forward step of
    // tens of thousands: at 16 bits a step beyond 4 096 units between two polls (over an hour of
    // a fast machine) is taken as a reset. The cost: a 16-bit PLC out of reach that long loses its
    // counts; 32-bit counters have no such blind spot.
    let limit = MAX_PLAUSIBLE_COUNTER_STEP.min(mask / 16);
    let processed_continues = produced <= limit;
    let defective_continues = rejected <= limit;
    // A new boot epoch means the PLC restarted and its counters began again at zero (DESIGN §6):
    // what it shows now was made since. PLCs with retentive counters need a per-station setting
    // (the register-map configuration), not a guess from the numbers.
    if baseline.epoch != sample.epoch {
        return restart(BaselineCause::PlcRestart);
    }
    if !processed_continues {
        return restart(BaselineCause::CounterReset);
    }
    if !defective_continues {
        // Only the defective counter was reset: take its new value as the baseline and book no
        // rejects from it (we cannot know how many there were).
        return vec![if produced == 0 {
            event(EventKind::PlcCounterBaseline {
                cause: BaselineCause::CounterReset,
                plc_epoch: sample.epoch,
                processed_total: sample.processed,
                defective_total: sample.defective,
            })
        } else {
            units(produced, 0, sample.defective)
        }];
    }
    if produced == 0 {
        // Nothing made; a reject counted ahead of its unit waits for it.
        return Vec::new();
    }
    let booked = rejected.min(produced);
    vec![units(
        produced,
        booked,
        baseline.defective.wrapping_add(booked) & mask,
    )]
}
