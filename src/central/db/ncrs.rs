//! Nonconformance reports as central keeps them, plant-wide: projected at ingest from
//! `ncr_opened`, `ncr_closed` and `lot_dispositioned`, in the same transaction as the event, so a
//! re-sent batch (acknowledged without being applied again) cannot open or close one twice.
//!
//! The disposition an NCR shows is the one that named it; a disposition that names no NCR
//! decides every open NCR of its lot that has none yet (a station that opened an NCR by hand
//! may disposition the lot without naming it).

use super::{Db, DbError, Result, parse_timestamp, timestamp};
use crate::domain::disposition::parts_words;
use crate::domain::{Event, EventKind, Quantity};
use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};
use serde::{Deserialize, Serialize};

/// Every NCR central has heard of; and an index of held lots, for the plant's open holds (the
/// lots a hold list reads are few; the lots central knows are every unit ever made).
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE ncrs (
        id               TEXT PRIMARY KEY,
        lot              TEXT NOT NULL,
        station          TEXT NOT NULL,
        opened_at        TEXT NOT NULL,
        opened_by        TEXT NOT NULL,
        quantity         INTEGER NOT NULL,
        what             TEXT NOT NULL,
        containment      TEXT NOT NULL,
        disposition      TEXT,
        dispositioned_at TEXT,
        dispositioned_by TEXT,
        closed_at        TEXT,
        closed_by        TEXT,
        closed_station   TEXT,
        closure          TEXT
    );
    CREATE INDEX ncrs_open_lot ON ncrs(lot) WHERE closed_at IS NULL;
    CREATE INDEX ncrs_lot ON ncrs(lot);
    CREATE INDEX lots_held ON lots(id) WHERE status IN ('on_hold', 'quarantined');
"#;

/// Which NCRs a query wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NcrStatus {
    Open,
    Closed,
    All,
}

impl NcrStatus {
    pub fn parse(text: &str) -> Option<NcrStatus> {
        match text.trim() {
            "open" => Some(NcrStatus::Open),
            "closed" => Some(NcrStatus::Closed),
            "all" => Some(NcrStatus::All),
            _ => None,
        }
    }
}

/// One NCR: what was found, how it was contained, what was decided and how it was closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NcrRow {
    pub id: String,
    pub lot: String,
    /// The station that opened it.
    pub station: String,
    pub opened_at: DateTime<Utc>,
    pub opened_by: String,
    pub what: String,
    /// Units (or the material's unit) of the lot it concerns.
    pub quantity: f64,
    pub containment: String,
    /// The lot's disposition in words (`5 scrap (L-1), 15 rework at OP10 (L-2): porosity`);
    /// none while it waits for one.
    pub disposition: Option<String>,
    pub dispositioned_at: Option<DateTime<Utc>>,
    pub dispositioned_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub closed_station: Option<String>,
    /// Cause and action, in the closer's words.
    pub closure: Option<String>,
}

/// `GET /api/v1/quality/ncrs`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NcrList {
    pub status: NcrStatus,
    /// Newest opened first.
    pub ncrs: Vec<NcrRow>,
}

/// Projects one event central applied, if it concerns an NCR.
pub(super) fn project(tx: &Transaction<'_>, event: &Event) -> Result<()> {
    let at = timestamp(event.at);
    let actor = event.actor.to_string();
    match &event.kind {
        EventKind::NcrOpened {
            ncr,
            lot,
            quantity,
            what,
            containment,
        } => {
            // Ids carry the station that numbered them, so a repeat is a forged or corrupt log:
            // the first report stands.
            tx.prepare_cached(
                "INSERT INTO ncrs (id, lot, station, opened_at, opened_by, quantity, what,
                                   containment)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![
                ncr,
                lot.as_str(),
                event.station.as_str(),
                at,
                actor,
                quantity.milli(),
                what,
                containment
            ])?;
        }
        EventKind::NcrClosed { ncr, closure, .. } => {
            tx.prepare_cached(
                "UPDATE ncrs SET closed_at = ?2, closed_by = ?3, closed_station = ?4, closure = ?5
                 WHERE id = ?1 AND closed_at IS NULL",
            )?
            .execute(params![ncr, at, actor, event.station.as_str(), closure])?;
        }
        EventKind::LotDispositioned {
            lot,
            parts,
            reason,
            ncr,
        } => {
            let words = format!("{}: {reason}", parts_words(lot, parts));
            match ncr {
                Some(ncr) => {
                    tx.prepare_cached(
                        "UPDATE ncrs SET disposition = ?2, dispositioned_at = ?3,
                            dispositioned_by = ?4
                         WHERE id = ?1",
                    )?
                    .execute(params![ncr, words, at, actor])?;
                }
                None => {
                    tx.prepare_cached(
                        "UPDATE ncrs SET disposition = ?2, dispositioned_at = ?3,
                            dispositioned_by = ?4
                         WHERE lot = ?1 AND closed_at IS NULL AND disposition IS NULL",
                    )?
                    .execute(params![lot.as_str(), words, at, actor])?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Projects the NCR events central applied before this table existed, in the order they were
/// taken. Applied means projected: `lot_quality` has a row for exactly those (set-aside events and
/// records still waiting for their signature have none).
pub(super) fn backfill(tx: &Transaction<'_>) -> Result<()> {
    let mut statement = tx.prepare(
        "SELECT e.station, e.seq, e.body FROM events e
         WHERE e.kind IN ('ncr_opened', 'ncr_closed', 'lot_dispositioned')
           AND EXISTS (SELECT 1 FROM lot_quality q
                       WHERE q.lot = json_extract(e.body, '$.kind.data.lot')
                         AND q.station = e.station AND q.seq = e.seq)
         ORDER BY e.received_at, e.station, e.seq",
    )?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (station, seq, body) in rows {
        let event: Event = serde_json::from_str(&body)
            .map_err(|e| DbError::Corrupt(format!("event {seq} of station {station}: {e}")))?;
        project(tx, &event)?;
    }
    Ok(())
}

impl Db {
    /// The NCRs with `status`, newest opened first.
    pub fn ncrs(&self, status: NcrStatus) -> Result<NcrList> {
        let wanted = match status {
            NcrStatus::Open => "open",
            NcrStatus::Closed => "closed",
            NcrStatus::All => "all",
        };
        let mut statement = self.conn.prepare_cached(
            "SELECT id, lot, station, opened_at, opened_by, quantity, what, containment,
                    disposition, dispositioned_at, dispositioned_by, closed_at, closed_by,
                    closed_station, closure
             FROM ncrs
             WHERE ?1 = 'all' OR (closed_at IS NULL) = (?1 = 'open')
             ORDER BY opened_at DESC, id DESC",
        )?;
        type Row = (
            (String, String, String, String, String, i64, String, String),
            (Option<String>, Option<String>, Option<String>),
            (
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            ),
        );
        let rows = statement
            .query_map([wanted], |row| -> rusqlite::Result<Row> {
                Ok((
                    (
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                    ),
                    (row.get(8)?, row.get(9)?, row.get(10)?),
                    (row.get(11)?, row.get(12)?, row.get(13)?, row.get(14)?),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let ncrs = rows
            .into_iter()
            .map(|row| {
                let (
                    (id, lot, station, opened_at, opened_by, quantity, what, containment),
                    (disposition, dispositioned_at, dispositioned_by),
                    (closed_at, closed_by, closed_station, closure),
                ) = row;
                Ok(NcrRow {
                    id,
                    lot,
                    station,
                    opened_at: parse_timestamp(&opened_at)?,
                    opened_by,
                    what,
                    quantity: units(Quantity::from_milli(quantity)),
                    containment,
                    disposition,
                    dispositioned_at: dispositioned_at
                        .as_deref()
                        .map(parse_timestamp)
                        .transpose()?,
                    dispositioned_by,
                    closed_at: closed_at.as_deref().map(parse_timestamp).transpose()?,
                    closed_by,
                    closed_station,
                    closure,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(NcrList { status, ncrs })
    }
}

/// A quantity as a JSON number of units: thousandths are exact in an f64 at any real lot size.
pub(super) fn units(quantity: Quantity) -> f64 {
    quantity.milli() as f64 / 1000.0
}
