//! `takt audit verify`: walk a station's chain and name the first link that does not hold.

use super::{Result, StoreError};
use crate::domain::Event;
use rusqlite::{Connection, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyReport {
    /// Every event links to the one before and its content matches its hash.
    Intact { events: u64, head: Option<String> },
    /// The first event whose link does not hold, and why.
    Broken { seq: u64, reason: String },
}

pub fn verify_chain(conn: &Connection) -> Result<VerifyReport> {
    let mut statement = conn
        .prepare("SELECT seq, body, prev_hash, hash FROM event_log WHERE seq > ?1 ORDER BY seq")?;
    let mut rows = statement.query(params![0])?;
    let mut prev: Option<(u64, String)> = None;
    let mut count = 0;
    while let Some(row) = rows.next()? {
        let seq = row.get::<_, i64>(0)? as u64;
        let body: String = row.get(1)?;
        let column_prev: String = row.get(2)?;
        let column_hash: String = row.get(3)?;
        let event: Event = match serde_json::from_str(&body) {
            Ok(event) => event,
            Err(e) => {
                return Ok(VerifyReport::Broken {
                    seq,
                    reason: format!("event body is unreadable: {e}"),
                });
            }
        };
        if event.seq != seq || event.prev_hash != column_prev || event.hash != column_hash {
            return Ok(VerifyReport::Broken {
                seq,
                reason: "the indexed columns disagree with the stored event".into(),
            });
        }
        if let Err(error) = event.verify_after(prev.as_ref().map(|(s, h)| (*s, h.as_str()))) {
            return Ok(VerifyReport::Broken {
                seq,
                reason: error.to_string(),
            });
        }
        prev = Some((seq, event.hash));
        count += 1;
    }
    Ok(VerifyReport::Intact {
        events: count,
        head: prev.map(|(_, hash)| hash),
    })
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}
