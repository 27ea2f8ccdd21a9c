//! Andon: a call for help from the station (help, material, quality, maintenance), shown to the PLC
//! (its command block drives the line's andon lights) and recorded with how long it took to answer.
//! Scanning the same andon barcode again answers the call.

use super::event::{Actor, EventKind, NewEvent};
use super::rejection::Rejection;
use super::state::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AndonKind {
    Help,
    Material,
    Quality,
    Maintenance,
}

impl AndonKind {
    /// The value the command block's andon register (HR106) takes: 1 help, 2 material, 3 quality,
    /// 4 maintenance; 0 is no call.
    pub fn code(self) -> u16 {
        match self {
            AndonKind::Help => 1,
            AndonKind::Material => 2,
            AndonKind::Quality => 3,
            AndonKind::Maintenance => 4,
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            AndonKind::Help => "help",
            AndonKind::Material => "material",
            AndonKind::Quality => "quality",
            AndonKind::Maintenance => "maintenance",
        }
    }
}

/// An open call and when it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AndonCall {
    pub kind: AndonKind,
    pub since: DateTime<Utc>,
}

/// An andon barcode scanned: calls, or answers the open call of the same kind.
pub fn andon(
    state: &State,
    kind: AndonKind,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, Rejection> {
    let event = |kind| NewEvent {
        at: now,
        actor: actor.clone(),
        kind,
    };
    match state.andon {
        Some(call) if call.kind == kind => Ok(vec![event(EventKind::AndonAnswered {
            call: kind,
            response_ms: u64::try_from(now.signed_duration_since(call.since).num_milliseconds())
                .unwrap_or(0),
        })]),
        Some(call) => Err(Rejection::AndonOpen {
            open: call.kind.words(),
        }),
        None => Ok(vec![event(EventKind::AndonCalled { call: kind })]),
    }
}
