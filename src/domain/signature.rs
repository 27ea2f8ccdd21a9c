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
}

/// Checks the signatures of one station's log, in seq order: every signature follows (directly, or
/// after the other signatures of the same record) the record whose digest it names and was made
/// by the person it names, and every signature-grade record has at least one. A log that ends
/// right after a record is judged on what it holds: records and signatures are appended together.
pub fn check(events: &[Event]) -> Vec<SignatureProblem> {
    let mut problems = Vec::new();
    let mut record: Option<(&Event, String, bool)> = None;
    for event in events {
        if let EventKind::Signed {
            signer,
            record: named,
            ..
        } = &event.kind
        {
            if event.actor != Actor::Operator(signer.clone()) {
                problems.push(SignatureProblem::NotTheSigner {
                    seq: event.seq,
                    signer: signer.clone(),
                    actor: event.actor.to_string(),
                });
            }
            match record.as_mut() {
                Some((signed, digest, seen)) => {
                    if named != digest {
                        problems.push(SignatureProblem::WrongRecord {
                            seq: event.seq,
                            signer: signer.clone(),
                            record: signed.seq,
                        });
                    }
                    *seen = true;
                }
                None => problems.push(SignatureProblem::Orphan { seq: event.seq }),
            }
            continue;
        }
        if let Some((signed, _, false)) = record.take()
            && needs_signature(&signed.kind)
        {
            problems.push(SignatureProblem::Unsigned {
                seq: signed.seq,
                kind: signed.kind.name(),
            });
        }
        record = Some((event, event_digest(event), false));
    }
    if let Some((signed, _, false)) = record
        && needs_signature(&signed.kind)
    {
        problems.push(SignatureProblem::Unsigned {
            seq: signed.seq,
            kind: signed.kind.name(),
        });
    }
    problems
}
