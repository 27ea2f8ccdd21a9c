//! Per-part records: the PLC's FIFO of serial-level results (DESIGN.md §6, plc_sync.md "Per-part
//! records"). The PLC shows its oldest unacknowledged record (the head); the station records it,
//! durably, and only then acknowledges its `record_seq`, which pops it. The PLC holds when its ring
//! is full, so no record is ever overwritten unseen.
//!
//! A record is known by `(plc_epoch, record_seq)`: `record_seq` starts again at 1 when the PLC
//! restarts, and the boot epoch tells the two runs apart. The last recorded pair is part of state,
//! stored in the same transaction as its event, so a head read again after a crash between the
//! commit and the ack is recognised and acknowledged, never recorded twice.

use super::event::{Actor, EventKind, NewEvent};
use super::state::{ExecStatus, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the PLC says of the part: HR34, 1 good, 2 reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartResult {
    Good,
    Reject,
    /// A code the map does not define, kept as the PLC sent it rather than guessed.
    Unknown(u16),
}

impl PartResult {
    pub fn from_code(code: u16) -> PartResult {
        match code {
            1 => PartResult::Good,
            2 => PartResult::Reject,
            other => PartResult::Unknown(other),
        }
    }

    pub fn code(self) -> u16 {
        match self {
            PartResult::Good => 1,
            PartResult::Reject => 2,
            PartResult::Unknown(code) => code,
        }
    }

    pub fn words(self) -> String {
        match self {
            PartResult::Good => "good".into(),
            PartResult::Reject => "REJECT".into(),
            PartResult::Unknown(code) => format!("result {code}"),
        }
    }
}

/// The head of the PLC's part-record FIFO as one poll read it (HR32–47 and the epoch in HR2).
/// `record_seq` 0 means the FIFO is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecordHead {
    pub plc_epoch: u16,
    pub record_seq: u32,
    /// Raw result code (1 good, 2 reject).
    pub result: u16,
    pub reject_reason: u16,
    pub cycle_ms: u32,
    pub serial: String,
}

/// The record this station recorded last: the deduplication key and what the Run screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPart {
    pub plc_epoch: u16,
    pub record_seq: u32,
    pub serial: String,
    pub result: PartResult,
}

/// What the station acknowledges to the PLC: the record it has committed, with the PLC epoch it
/// was read in. The poller writes `record_seq` only to a PLC of that same epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartAck {
    pub plc_epoch: u16,
    pub record_seq: u32,
}

/// The deduplication rule: a head is new unless it is the very record recorded last. The station
/// records one head at a time and acknowledges exactly the last one, so the only record a PLC can
/// show again is that one (a crash, or a lost ack write, between the commit and the pop). Any other
/// head — the next seq, a new epoch, even a seq that went back within an epoch — is a record not
/// yet seen, and is recorded rather than left unacknowledged, which would hold the machine for good.
pub fn is_new(last: Option<&LastPart>, plc_epoch: u16, record_seq: u32) -> bool {
    record_seq != 0
        && !last.is_some_and(|last| last.plc_epoch == plc_epoch && last.record_seq == record_seq)
}

/// Records missed between the last recorded record and this head of the same PLC run: records the
/// PLC dropped or someone else acknowledged. 0 when the head follows on, or a new run began.
pub fn gap(last: Option<&LastPart>, head: &PartRecordHead) -> u32 {
    match last {
        Some(last) if last.plc_epoch == head.plc_epoch && head.record_seq > last.record_seq => {
            head.record_seq - last.record_seq - 1
        }
        _ => 0,
    }
}

/// The event a FIFO head means: `PartRecorded` for a record not yet recorded, nothing for an
/// empty FIFO or the record recorded last. The part belongs to the order running (or paused
/// mid-cycle) here, as units do.
pub fn observe_part(state: &State, head: &PartRecordHead, now: DateTime<Utc>) -> Option<NewEvent> {
    if !is_new(state.last_part.as_ref(), head.plc_epoch, head.record_seq) {
        return None;
    }
    let work_order = state
        .active_progress()
        .filter(|(_, p)| matches!(p.status, ExecStatus::Running | ExecStatus::Paused))
        .map(|(id, _)| id.clone());
    Some(NewEvent {
        at: now,
        actor: Actor::Plc,
        kind: EventKind::PartRecorded {
            record_seq: head.record_seq,
            plc_epoch: head.plc_epoch,
            result: PartResult::from_code(head.result),
            reject_reason: head.reject_reason,
            cycle_ms: head.cycle_ms,
            serial: head.serial.clone(),
            work_order,
        },
    })
}

/// How a `PartRecorded` changes state: it becomes the last recorded part.
pub fn apply(state: &mut State, kind: &EventKind) {
    if let EventKind::PartRecorded {
        record_seq,
        plc_epoch,
        result,
        serial,
        ..
    } = kind
    {
        state.last_part = Some(LastPart {
            plc_epoch: *plc_epoch,
            record_seq: *record_seq,
            serial: serial.clone(),
            result: *result,
        });
    }
}

/// The acknowledgement state stands for: the last record recorded.
pub fn ack(state: &State) -> Option<PartAck> {
    state.last_part.as_ref().map(|last| PartAck {
        plc_epoch: last.plc_epoch,
        record_seq: last.record_seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MasterData, StationId};

    fn head(epoch: u16, seq: u32) -> PartRecordHead {
        PartRecordHead {
            plc_epoch: epoch,
            record_seq: seq,
            result: 1,
            reject_reason: 0,
            cycle_ms: 4500,
            serial: format!("S{epoch}-{seq:06}"),
        }
    }

    fn last(epoch: u16, seq: u32) -> LastPart {
        LastPart {
            plc_epoch: epoch,
            record_seq: seq,
            serial: format!("S{epoch}-{seq:06}"),
            result: PartResult::Good,
        }
    }

    #[test]
    fn the_dedup_rule_skips_only_the_record_recorded_last() {
        assert!(!is_new(None, 7, 0), "seq 0 is an empty FIFO");
        assert!(is_new(None, 7, 1), "the first record ever");
        assert!(is_new(None, 7, 90), "a station new to a running PLC");
        let recorded = last(7, 5);
        assert!(!is_new(Some(&recorded), 7, 5), "read again before its ack");
        assert!(is_new(Some(&recorded), 7, 6), "the next one");
        assert!(
            is_new(Some(&recorded), 8, 5),
            "the same seq after a PLC restart is another part"
        );
        assert!(
            is_new(Some(&recorded), 8, 1),
            "a restarted PLC counts from 1"
        );
        assert!(
            is_new(Some(&recorded), 7, 2),
            "a seq that went back is not a re-read: recording it keeps the machine going"
        );
        assert!(!is_new(Some(&recorded), 7, 0));
    }

    #[test]
    fn gaps_are_counted_within_one_plc_run_only() {
        assert_eq!(gap(Some(&last(7, 5)), &head(7, 6)), 0);
        assert_eq!(gap(Some(&last(7, 5)), &head(7, 9)), 3);
        assert_eq!(gap(Some(&last(7, 5)), &head(8, 9)), 0);
        assert_eq!(gap(Some(&last(7, 5)), &head(7, 5)), 0);
        assert_eq!(gap(None, &head(7, 9)), 0);
    }

    #[test]
    fn a_recorded_part_is_the_ack_and_its_re_read_is_no_event() {
        let mut state = State::new(StationId::from("L1-S1"), MasterData::default());
        let now = chrono::Utc::now();
        assert_eq!(ack(&state), None);
        let first = observe_part(&state, &head(7, 1), now).expect("new record");
        assert_eq!(first.actor, Actor::Plc);
        assert!(matches!(
            &first.kind,
            EventKind::PartRecorded { record_seq: 1, plc_epoch: 7, result: PartResult::Good, serial, work_order: None, .. }
                if serial == "S7-000001"
        ));
        apply(&mut state, &first.kind);
        assert_eq!(
            ack(&state),
            Some(PartAck {
                plc_epoch: 7,
                record_seq: 1
            })
        );
        assert_eq!(observe_part(&state, &head(7, 1), now), None);
        let reject = PartRecordHead {
            result: 2,
            reject_reason: 3,
            ..head(7, 2)
        };
        assert!(matches!(
            observe_part(&state, &reject, now).map(|e| e.kind),
            Some(EventKind::PartRecorded {
                result: PartResult::Reject,
                reject_reason: 3,
                ..
            })
        ));
    }

    #[test]
    fn result_codes_round_trip_and_unknown_ones_are_kept() {
        for code in [1, 2, 0, 9] {
            assert_eq!(PartResult::from_code(code).code(), code);
        }
        assert_eq!(PartResult::from_code(9), PartResult::Unknown(9));
        assert_eq!(
            serde_json::to_string(&PartResult::Reject).expect("json"),
            "\"reject\""
        );
    }
}
