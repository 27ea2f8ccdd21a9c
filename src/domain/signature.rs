//! Electronic signatures (21 CFR Part 11 §11.50, §11.70, §11.200): a signature-grade action is
//! recorded only with the signer's PIN entered again, a meaning, and where the station's
//! configuration asks for it a second person. The signature is an event of its own that binds the
//! signer, the time, the meaning and the SHA-256 of the record it signs, so it cannot be copied
//! onto another record; the chain then makes both tamper-evident.

use super::event::{Actor, Event, EventKind, NewEvent};
use super::ids::{Badge, StationId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the signer means by signing (the "meaning" of §11.50).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Meaning {
    Approved,
    Reviewed,
    Performed,
    Responsible,
}

impl Meaning {
    /// In the order the station offers them: the number keys pick them.
    pub const ALL: [Meaning; 4] = [
        Meaning::Approved,
        Meaning::Reviewed,
        Meaning::Performed,
        Meaning::Responsible,
    ];

    pub fn words(self) -> &'static str {
        match self {
            Meaning::Approved => "approved",
            Meaning::Reviewed => "reviewed",
            Meaning::Performed => "performed",
            Meaning::Responsible => "responsible",
        }
    }

    /// A meaning as keyed: its number in [`Meaning::ALL`] (1–4) or its word.
    pub fn parse(text: &str) -> Option<Meaning> {
        let text = text.trim().to_ascii_lowercase();
        if let Ok(number) = text.parse::<usize>() {
            return number
                .checked_sub(1)
                .and_then(|i| Meaning::ALL.get(i).copied());
        }
        Meaning::ALL.into_iter().find(|m| m.words() == text)
    }
}

/// One person's signature as the station collected it: their PIN was checked against their
/// verifier before this exists (the domain never sees a PIN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureInput {
    pub badge: Badge,
    pub meaning: Meaning,
}

/// The signatures a signature-grade command carries: the logged-in person's, and a second
/// person's where the station's configuration asks for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signatures {
    pub signer: SignatureInput,
    pub second: Option<SignatureInput>,
}

/// The bytes a signature covers: the record's station, time (as sealed, to the millisecond),
/// actor and content. Not its place in the chain: the chain protects that.
#[derive(Serialize)]
struct SignedRecord<'a> {
    station: &'a StationId,
    at: &'a DateTime<Utc>,
    actor: &'a Actor,
    kind: &'a EventKind,
}

fn digest(station: &StationId, at: DateTime<Utc>, actor: &Actor, kind: &EventKind) -> String {
    let at = super::event::truncate_to_millis(at);
    let record = SignedRecord {
        station,
        at: &at,
        actor,
        kind,
    };
    // Plain structs, strings and integers: serialising to a Vec cannot fail.
    hex::encode(Sha256::digest(
        serde_json::to_vec(&record).unwrap_or_default(),
    ))
}

/// The SHA-256 (hex) of a record about to be appended, as its signatures name it.
pub fn record_digest(station: &StationId, record: &NewEvent) -> String {
    digest(station, record.at, &record.actor, &record.kind)
}

/// The same digest of a record in the log.
pub fn event_digest(event: &Event) -> String {
    digest(&event.station, event.at, &event.actor, &event.kind)
}

/// Whether this kind of record is only valid with a signature.
pub fn needs_signature(kind: &EventKind) -> bool {
    super::permission::required_action(kind).is_some_and(|action| action.needs_signature())
}

/// The signature events for `record`, in the order they are appended after it.
pub fn signature_events(
    station: &StationId,
    record: &NewEvent,
    signatures: &[(SignatureInput, String)],
) -> Vec<NewEvent> {
    let digest = record_digest(station, record);
    signatures
        .iter()
        .map(|(signature, name)| NewEvent {
            at: record.at,
            actor: Actor::Operator(signature.badge.clone()),
            kind: EventKind::Signed {
                signer: signature.badge.clone(),
                name: name.clone(),
                meaning: signature.meaning,
                record: digest.clone(),
            },
        })
        .collect()
}

/// A signature that does not hold in a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("event {seq} ({kind}) needs a signature and has none")]
    Unsigned { seq: u64, kind: &'static str },
    #[error("signature {seq} by {signer} does not match the record it follows (event {record})")]
    WrongRecord {
        seq: u64,
        signer: Badge,
        record: u64,
    },
    #[error("signature {seq} follows no record")]
    Orphan { seq: u64 },
    #[error("signature {seq} names {signer} but was made by {actor}")]
    NotTheSigner {
        seq: u64,
        signer: Badge,
        actor: String,
    },
    #[error("signature {seq}, the first on event {record}, is by {signer}, but {actor} did it")]
    FirstNotByActor {
        seq: u64,
        record: u64,
        signer: Badge,
        actor: String,
    },
    #[error("signature {seq}: {signer} signed event {record} twice")]
    SameSignerTwice {
        seq: u64,
        record: u64,
        signer: Badge,
    },
}

/// Checks the signatures of one station's log, in seq order: every signature follows (directly, or
/// after the other signatures of the same record) the record whose digest it names and was made
/// by the person it names, and every signature-grade record has at least one. A log that ends
/// right after a record is judged on what it holds: records and signatures are appended together.
pub fn check(events: &[Event]) -> Vec<SignatureProblem> {
    let mut checker = Checker::default();
    for event in events {
        checker.push(event.clone());
    }
    checker.finish()
}

/// [`check`] one event at a time, for a log too long to hold at once (an audit walks millions).
/// Only the record last seen is kept, and its digest is worked out only if a signature follows:
/// most records are never signed.
#[derive(Debug, Default)]
pub struct Checker {
    record: Option<Pending>,
    problems: Vec<SignatureProblem>,
}

#[derive(Debug)]
struct Pending {
    event: Event,
    digest: Option<String>,
    /// Who signed it so far, in order.
    signers: Vec<Badge>,
}

impl Checker {
    /// The next event of the log, in seq order.
    pub fn push(&mut self, event: Event) {
        if let EventKind::Signed {
            signer,
            record: named,
            ..
        } = &event.kind
        {
            if event.actor != Actor::Operator(signer.clone()) {
                self.problems.push(SignatureProblem::NotTheSigner {
                    seq: event.seq,
                    signer: signer.clone(),
                    actor: event.actor.to_string(),
                });
            }
            match self.record.as_mut() {
                Some(pending) => {
                    let digest = pending
                        .digest
                        .get_or_insert_with(|| event_digest(&pending.event));
                    if named != digest {
                        self.problems.push(SignatureProblem::WrongRecord {
                            seq: event.seq,
                            signer: signer.clone(),
                            record: pending.event.seq,
                        });
                    }
                    if pending.signers.is_empty()
                        && pending.event.actor != Actor::Operator(signer.clone())
                    {
                        self.problems.push(SignatureProblem::FirstNotByActor {
                            seq: event.seq,
                            record: pending.event.seq,
                            signer: signer.clone(),
                            actor: pending.event.actor.to_string(),
                        });
                    }
                    if pending.signers.contains(signer) {
                        self.problems.push(SignatureProblem::SameSignerTwice {
                            seq: event.seq,
                            record: pending.event.seq,
                            signer: signer.clone(),
                        });
                    }
                    pending.signers.push(signer.clone());
                }
                None => self
                    .problems
                    .push(SignatureProblem::Orphan { seq: event.seq }),
            }
            return;
        }
        self.close();
        self.record = Some(Pending {
            event,
            digest: None,
            signers: Vec::new(),
        });
    }

    /// The problems found, once the whole log was pushed.
    pub fn finish(mut self) -> Vec<SignatureProblem> {
        self.close();
        self.problems
    }

    /// The record last seen is followed by something other than a signature (or by nothing).
    fn close(&mut self) {
        if let Some(pending) = self.record.take()
            && pending.signers.is_empty()
            && needs_signature(&pending.event.kind)
        {
            self.problems.push(SignatureProblem::Unsigned {
                seq: pending.event.seq,
                kind: pending.event.kind.name(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::GENESIS_HASH;
    use crate::domain::ids::LotId;
    use uuid::Uuid;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default()
    }

    fn new(actor: &str, kind: EventKind) -> NewEvent {
        NewEvent {
            at: at(),
            actor: Actor::Operator(Badge::from(actor)),
            kind,
        }
    }

    fn release() -> NewEvent {
        new(
            "EMP-2001",
            EventKind::LotReleased {
                lot: LotId::from("C24-1031"),
                lifts: None,
            },
        )
    }

    fn hold() -> NewEvent {
        new(
            "EMP-1001",
            EventKind::LotHeld {
                lot: LotId::from("C24-1031"),
                reason: "porosity".into(),
            },
        )
    }

    fn signed_by(record: &NewEvent, badge: &str) -> Vec<NewEvent> {
        signature_events(
            &StationId::from("L1-S1"),
            record,
            &[(
                SignatureInput {
                    badge: Badge::from(badge),
                    meaning: Meaning::Approved,
                },
                "Demo Inspector".into(),
            )],
        )
    }

    /// Seals `events` into a chain of station L1-S1, as a store would.
    fn chain(events: Vec<NewEvent>) -> Vec<Event> {
        let mut prev = GENESIS_HASH.to_owned();
        let mut sealed = Vec::new();
        for (n, event) in events.into_iter().enumerate() {
            let event = Event::seal(
                event,
                StationId::from("L1-S1"),
                n as u64 + 1,
                Uuid::nil(),
                prev,
            );
            prev = event.hash.clone();
            sealed.push(event);
        }
        sealed
    }

    #[test]
    fn the_first_signature_is_the_doers_and_a_second_is_someone_elses() {
        let record = release();
        let mut events = vec![record.clone()];
        events.extend(signed_by(&record, "EMP-2001"));
        events.extend(signed_by(&record, "EMP-2001"));
        assert_eq!(
            check(&chain(events)),
            vec![SignatureProblem::SameSignerTwice {
                seq: 3,
                record: 1,
                signer: Badge::from("EMP-2001"),
            }]
        );
        let mut events = vec![record.clone()];
        events.extend(signed_by(&record, "EMP-9999"));
        events.extend(signed_by(&record, "EMP-2001"));
        assert_eq!(
            check(&chain(events)),
            vec![SignatureProblem::FirstNotByActor {
                seq: 2,
                record: 1,
                signer: Badge::from("EMP-9999"),
                actor: "EMP-2001".into(),
            }]
        );
    }

    #[test]
    fn a_signed_release_holds_and_an_unsigned_one_is_named() {
        let record = release();
        let mut events = vec![hold(), record.clone()];
        events.extend(signed_by(&record, "EMP-2001"));
        events.push(hold());
        assert_eq!(check(&chain(events)), vec![]);

        let events = chain(vec![hold(), release(), hold()]);
        assert_eq!(
            check(&events),
            vec![SignatureProblem::Unsigned {
                seq: 2,
                kind: "lot_released"
            }]
        );
        assert_eq!(
            check(&chain(vec![release()])),
            vec![SignatureProblem::Unsigned {
                seq: 1,
                kind: "lot_released"
            }],
            "the last record of a log is judged too"
        );
    }

    #[test]
    fn a_signature_made_on_another_record_or_by_another_person_is_named() {
        // Signed on the hold, then appended after the release: the digest names the hold.
        let mut events = vec![hold(), release()];
        events.extend(signed_by(&hold(), "EMP-2001"));
        assert_eq!(
            check(&chain(events)),
            vec![SignatureProblem::WrongRecord {
                seq: 3,
                signer: Badge::from("EMP-2001"),
                record: 2
            }]
        );

        let record = release();
        let mut signature = signed_by(&record, "EMP-2001");
        signature[0].actor = Actor::Operator(Badge::from("EMP-1001"));
        let mut events = vec![record];
        events.extend(signature);
        assert_eq!(
            check(&chain(events)),
            vec![SignatureProblem::NotTheSigner {
                seq: 2,
                signer: Badge::from("EMP-2001"),
                actor: "EMP-1001".into()
            }]
        );

        let orphan = signed_by(&release(), "EMP-2001");
        assert_eq!(
            check(&chain(orphan)),
            vec![SignatureProblem::Orphan { seq: 1 }]
        );
    }

    #[test]
    fn the_checker_fed_one_event_at_a_time_agrees_with_check() {
        let record = release();
        let mut events = vec![hold(), record.clone()];
        events.extend(signed_by(&record, "EMP-2001"));
        events.extend(signed_by(&record, "EMP-9999"));
        events.push(release());
        let events = chain(events);
        let mut checker = Checker::default();
        for event in &events {
            checker.push(event.clone());
        }
        assert_eq!(checker.finish(), check(&events));
        assert_eq!(
            check(&events),
            vec![SignatureProblem::Unsigned {
                seq: 5,
                kind: "lot_released"
            }],
            "two signatures on one record are both checked against it"
        );
    }
}
