//! Walking a hash chain and naming the first link that does not hold. Used by `takt audit verify` on a
//! station's store and, through [`ChainWalker`], by central on the copy it holds.

use super::{Result, StoreError};
use crate::domain::signature::{self, SignatureProblem};
use crate::domain::{Event, StationId};
use rusqlite::Connection;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyReport {
    /// Every event links to the one before and its content matches its hash.
    Intact { events: u64, head: Option<String> },
    /// The first event whose link does not hold, and why.
    Broken { seq: u64, reason: String },
}

/// What an audit of one log finds: the chain's verdict and, when the chain holds, every
/// signature that does not (a broken chain vouches for nothing, its signatures included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerdict {
    pub chain: VerifyReport,
    pub signatures: Vec<SignatureProblem>,
}

impl LogVerdict {
    /// The chain holds and so does every signature on it.
    pub fn sound(&self) -> bool {
        matches!(self.chain, VerifyReport::Intact { .. }) && self.signatures.is_empty()
    }
}

/// Checks stored events one at a time, in `seq` order, as they come off any table: their chain,
/// and the signatures on the records.
#[derive(Debug, Default)]
pub struct ChainWalker {
    prev: Option<(u64, String)>,
    count: u64,
    signatures: signature::Checker,
}

impl ChainWalker {
    /// Checks the next stored row: the JSON body against its indexed columns (and the station, if
    /// given), then the link to the previous event. `Err` is the report naming the broken link.
    pub fn step(
        &mut self,
        seq: u64,
        body: &str,
        column_prev: &str,
        column_hash: &str,
        station: Option<&StationId>,
    ) -> std::result::Result<(), VerifyReport> {
        let broken = |reason: String| VerifyReport::Broken { seq, reason };
        let event: Event = serde_json::from_str(body)
            .map_err(|e| broken(format!("event body is unreadable: {e}")))?;
        if event.seq != seq
            || station.is_some_and(|station| event.station != *station)
            || event.prev_hash != column_prev
            || event.hash != column_hash
        {
            return Err(broken(
                "the indexed columns disagree with the stored event".into(),
            ));
        }
        event
            .verify_after(self.prev.as_ref().map(|(s, h)| (*s, h.as_str())))
            .map_err(|error| broken(error.to_string()))?;
        // The hash covers what the event means, not how its text is spelled: an edit that
        // parses to the same event (a key moved, a character escaped) still changed the original
        // record, and every writer stores exactly what serde writes.
        if serde_json::to_string(&event).map_err(|e| broken(e.to_string()))? != body {
            return Err(broken(
                "the stored text of the event was changed after it was written (its meaning and \
                 hash still match)"
                    .into(),
            ));
        }
        self.prev = Some((seq, event.hash.clone()));
        self.count += 1;
        self.signatures.push(event);
        Ok(())
    }

    /// The last event walked so far.
    pub fn head(&self) -> Option<&(u64, String)> {
        self.prev.as_ref()
    }

    pub fn finish(self) -> VerifyReport {
        self.finish_log().chain
    }

    /// The chain's verdict with the signature problems of the whole walk.
    pub fn finish_log(self) -> LogVerdict {
        LogVerdict {
            chain: VerifyReport::Intact {
                events: self.count,
                head: self.prev.map(|(_, hash)| hash),
            },
            signatures: self.signatures.finish(),
        }
    }
}

pub fn verify_chain(conn: &Connection) -> Result<VerifyReport> {
    Ok(verify_log(conn)?.chain)
}

/// [`verify_chain`], and the signatures of the log when the chain holds.
pub fn verify_log(conn: &Connection) -> Result<LogVerdict> {
    let mut statement =
        conn.prepare("SELECT seq, body, prev_hash, hash FROM event_log ORDER BY seq")?;
    let mut rows = statement.query([])?;
    let mut walker = ChainWalker::default();
    while let Some(row) = rows.next()? {
        let seq = row.get::<_, i64>(0)? as u64;
        let body: String = row.get(1)?;
        let column_prev: String = row.get(2)?;
        let column_hash: String = row.get(3)?;
        if let Err(broken) = walker.step(seq, &body, &column_prev, &column_hash, None) {
            return Ok(LogVerdict {
                chain: broken,
                signatures: Vec::new(),
            });
        }
    }
    Ok(walker.finish_log())
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}
