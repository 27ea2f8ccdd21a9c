//! Central's storage. Every SQL statement of the central backend lives here, behind [`Db`], so a
//! PostgreSQL implementation can be added later without touching the HTTP handlers.
//!
//! Methods are blocking; the HTTP layer calls them inside `spawn_blocking`.

use crate::domain::event::ChainError;
use crate::domain::{Event, EventKind, GENESIS_HASH, StationId};
use crate::protocol::{
    BatchAck, Change, ChangePage, MasterRecord, StationProgress, WorkOrderReport,
};
use crate::store::{ChainWalker, VerifyReport};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::path::Path;

/// Migrations, applied in order and recorded in `PRAGMA user_version`. Never edit a shipped step;
/// add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: stations and their tokens, the ingested event logs with their chain witness, versioned
    // master data with dispatch, and work-order progress per station.
    r#"
    CREATE TABLE lines (
        id   TEXT PRIMARY KEY,
        name TEXT NOT NULL
    );

    CREATE TABLE stations (
        id         TEXT PRIMARY KEY,
        line       TEXT,
        name       TEXT,
        token_hash TEXT UNIQUE,
        created_at TEXT NOT NULL,
        rotated_at TEXT
    );

    CREATE TABLE events (
        station     TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        id          TEXT NOT NULL,
        at          TEXT NOT NULL,
        actor       TEXT NOT NULL,
        kind        TEXT NOT NULL,
        work_order  TEXT,
        body        TEXT NOT NULL,
        prev_hash   TEXT NOT NULL,
        hash        TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (station, seq)
    );
    CREATE INDEX events_work_order ON events(work_order);

    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are never deleted'); END;

    CREATE TABLE station_heads (
        station TEXT PRIMARY KEY,
        seq     INTEGER NOT NULL,
        hash    TEXT NOT NULL
    );

    CREATE TABLE master_records (
        kind    TEXT NOT NULL,
        key     TEXT NOT NULL,
        version INTEGER NOT NULL UNIQUE,
        body    TEXT NOT NULL,
        PRIMARY KEY (kind, key)
    );

    CREATE TABLE work_order_dispatch (
        work_order TEXT NOT NULL,
        station    TEXT NOT NULL,
        PRIMARY KEY (work_order, station)
    );
    CREATE INDEX work_order_dispatch_station ON work_order_dispatch(station);

    CREATE TABLE work_order_progress (
        work_order TEXT NOT NULL,
        station    TEXT NOT NULL,
        status     TEXT NOT NULL,
        produced   INTEGER NOT NULL DEFAULT 0,
        rejected   INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (work_order, station)
    );
    "#,
];

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    #[error(
        "central database schema version {found} is newer than this program knows ({known}); upgrade takt"
    )]
    TooNew { found: i64, known: i64 },
}

/// Why a batch was refused. Nothing of a refused batch is stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("event {seq} belongs to station {found}, not {expected}")]
    WrongStation {
        seq: u64,
        expected: String,
        found: String,
    },
    /// A re-sent event differs from the one already stored under its seq.
    #[error(
        "tamper: event {seq} differs from the one already stored (stored hash {stored}, sent {sent})"
    )]
    Tamper {
        seq: u64,
        stored: String,
        sent: String,
    },
    #[error("gap: expected event {expected}, got event {found}")]
    Gap { expected: u64, found: u64 },
    #[error("event {seq}: sequence numbers start at 1")]
    SeqZero { seq: u64 },
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for IngestError {
    fn from(error: rusqlite::Error) -> Self {
        IngestError::Db(DbError::Sqlite(error))
    }
}

pub type Result<T> = std::result::Result<T, DbError>;

/// SQLite stores signed 64-bit integers; counts and seqs never get near the limit.
fn to_sql_int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn from_sql_int(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub struct Db {
    conn: Connection,
}

impl Db {
    /// Opens (creating and migrating if needed) the central database at `path`.
    pub fn open(path: &Path) -> Result<Db> {
        let mut conn = crate::store::connect(path, false)?;
        migrate(&mut conn)?;
        Ok(Db { conn })
    }

    /// The station a bearer token belongs to, looked up by the token's SHA-256.
    pub fn station_for_token_hash(&self, token_hash: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM stations WHERE token_hash = ?1",
                params![token_hash],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Creates the station if needed and replaces its token hash.
    pub fn set_station_token(
        &mut self,
        station: &StationId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let now = timestamp(now);
        self.conn.execute(
            "INSERT INTO stations (id, token_hash, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, rotated_at = ?3",
            params![station.as_str(), token_hash, now],
        )?;
        Ok(())
    }

    /// Registers a line and its stations (without tokens) unless they exist.
    pub fn ensure_line(
        &mut self,
        line: &str,
        name: &str,
        stations: &[(&str, &str)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let now = timestamp(now);
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO lines (id, name) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
            params![line, name],
        )?;
        for (station, station_name) in stations {
            tx.execute(
                "INSERT INTO stations (id, line, name, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET line = COALESCE(stations.line, excluded.line),
                 name = COALESCE(stations.name, excluded.name)",
                params![station, line, station_name, now],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// True once any master record exists.
    pub fn has_master_data(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM master_records)", [], |row| {
                row.get(0)
            })?)
    }

    /// Inserts or updates master records in one transaction. Each record that changed gets the next
    /// global version; an unchanged record keeps its version, so re-importing the same data sends
    /// nothing to the stations.
    pub fn upsert_master(&mut self, records: &[MasterRecord]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for record in records {
            upsert_record(&tx, record)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores a batch of one station's events and updates the projections, all in one transaction.
    /// Returns the acknowledgement to send only after the commit.
    pub fn ingest(
        &mut self,
        station: &StationId,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> std::result::Result<BatchAck, IngestError> {
        if let Some(stray) = events.iter().find(|event| event.station != *station) {
            return Err(IngestError::WrongStation {
                seq: stray.seq,
                expected: station.to_string(),
                found: stray.station.to_string(),
            });
        }
        let received_at = timestamp(now);
        let tx = self.conn.transaction()?;
        let mut head = load_head(&tx, station.as_str())?;
        let mut advanced = false;
        for event in events {
            let head_seq = head.as_ref().map_or(0, |(seq, _)| *seq);
            if event.seq == 0 {
                return Err(IngestError::SeqZero { seq: event.seq });
            }
            if event.seq <= head_seq {
                check_resent(&tx, station.as_str(), event)?;
                continue;
            }
            if event.seq > head_seq + 1 {
                return Err(IngestError::Gap {
                    expected: head_seq + 1,
                    found: event.seq,
                });
            }
            event.verify_after(head.as_ref().map(|(seq, hash)| (*seq, hash.as_str())))?;
            insert_event(&tx, event, &received_at)?;
            project(&tx, event, &received_at)?;
            head = Some((event.seq, event.hash.clone()));
            advanced = true;
        }
        if advanced && let Some((seq, hash)) = &head {
            tx.execute(
                "INSERT INTO station_heads (station, seq, hash) VALUES (?1, ?2, ?3)
                 ON CONFLICT (station) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                params![station.as_str(), to_sql_int(*seq), hash],
            )?;
        }
        tx.commit()?;
        let (acked_through, chain_head) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
        Ok(BatchAck {
            acked_through,
            chain_head,
            server_time: now,
        })
    }

    /// The last stored `(seq, hash)` of a station.
    pub fn head(&self, station: &StationId) -> Result<Option<(u64, String)>> {
        load_head(&self.conn, station.as_str())
    }

    /// Master records newer than `since`, in version order: all operators, products and materials,
    /// and the work orders dispatched to `station`.
    pub fn changes(
        &self,
        station: &StationId,
        since: u64,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<ChangePage> {
        let mut statement = self.conn.prepare_cached(
            "SELECT m.version, m.body FROM master_records m
             WHERE m.version > ?1
               AND (m.kind <> 'work_order' OR EXISTS (
                    SELECT 1 FROM work_order_dispatch d WHERE d.work_order = m.key AND d.station = ?2))
             ORDER BY m.version
             LIMIT ?3",
        )?;
        // One extra row tells whether another page waits, without a second query.
        let rows = statement.query_map(
            params![
                to_sql_int(since),
                station.as_str(),
                to_sql_int(limit.saturating_add(1))
            ],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)),
        )?;
        let mut changes = Vec::new();
        let mut more = false;
        for row in rows {
            let (version, body) = row?;
            if changes.len() as u64 >= limit {
                more = true;
                break;
            }
            let record: MasterRecord = serde_json::from_str(&body)
                .map_err(|e| DbError::Corrupt(format!("master record {version}: {e}")))?;
            changes.push(Change {
                version: from_sql_int(version),
                record,
            });
        }
        let cursor = changes.last().map_or(since, |change| change.version);
        Ok(ChangePage {
            changes,
            cursor,
            more,
            server_time: now,
        })
    }

    /// A work order with its progress at every station it is dispatched to or has reported on.
    pub fn work_order_report(&self, id: &str) -> Result<Option<WorkOrderReport>> {
        let body: Option<String> = self
            .conn
            .query_row(
                "SELECT body FROM master_records WHERE kind = 'work_order' AND key = ?1",
                params![id],
                |row| row.get(0),
            )
            .optional()?;
        let Some(body) = body else {
            return Ok(None);
        };
        let work_order = match serde_json::from_str(&body) {
            Ok(MasterRecord::WorkOrder(work_order)) => work_order,
            Ok(_) => return Err(DbError::Corrupt(format!("work order {id} is another kind"))),
            Err(e) => return Err(DbError::Corrupt(format!("work order {id}: {e}"))),
        };
        let mut statement = self.conn.prepare_cached(
            "SELECT station, status, produced, rejected FROM work_order_progress
             WHERE work_order = ?1 ORDER BY station",
        )?;
        let rows = statement.query_map(params![id], |row| {
            Ok(StationProgress {
                station: row.get(0)?,
                status: row.get(1)?,
                produced: from_sql_int(row.get(2)?),
                rejected: from_sql_int(row.get(3)?),
            })
        })?;
        let mut stations = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        for dispatched in &work_order.stations {
            if !stations
                .iter()
                .any(|row| row.station == dispatched.as_str())
            {
                stations.push(StationProgress {
                    station: dispatched.to_string(),
                    status: "not_started".into(),
                    produced: 0,
                    rejected: 0,
                });
            }
        }
        stations.sort_by(|a, b| a.station.cmp(&b.station));
        let produced = stations.iter().map(|row| row.produced).sum::<u64>();
        let rejected = stations.iter().map(|row| row.rejected).sum::<u64>();
        Ok(Some(WorkOrderReport {
            work_order,
            produced,
            rejected,
            good: produced.saturating_sub(rejected),
            stations,
        }))
    }

    /// Re-walks a station's stored chain and checks it ends at the recorded head.
    pub fn verify_chain(&self, station: &StationId) -> Result<VerifyReport> {
        let mut statement = self.conn.prepare(
            "SELECT seq, body, prev_hash, hash FROM events WHERE station = ?1 ORDER BY seq",
        )?;
        let mut rows = statement.query(params![station.as_str()])?;
        let mut walker = ChainWalker::default();
        while let Some(row) = rows.next()? {
            let seq = from_sql_int(row.get(0)?);
            let body: String = row.get(1)?;
            let column_prev: String = row.get(2)?;
            let column_hash: String = row.get(3)?;
            if let Err(broken) = walker.step(seq, &body, &column_prev, &column_hash, Some(station))
            {
                return Ok(broken);
            }
        }
        let prev = walker.head().cloned();
        let witness = load_head(&self.conn, station.as_str())?;
        if witness != prev {
            let seq = witness
                .as_ref()
                .map_or(0, |(seq, _)| *seq)
                .max(prev.as_ref().map_or(0, |(seq, _)| *seq));
            return Ok(VerifyReport::Broken {
                seq,
                reason: format!(
                    "the recorded chain head {} does not match the last stored event {}",
                    describe_head(witness.as_ref()),
                    describe_head(prev.as_ref())
                ),
            });
        }
        Ok(walker.finish())
    }
}

fn describe_head(head: Option<&(u64, String)>) -> String {
    match head {
        Some((seq, hash)) => format!("{seq} ({hash})"),
        None => "(none)".into(),
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > known {
        return Err(DbError::TooNew { found, known });
    }
    for (index, step) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn load_head(conn: &Connection, station: &str) -> Result<Option<(u64, String)>> {
    Ok(conn
        .query_row(
            "SELECT seq, hash FROM station_heads WHERE station = ?1",
            params![station],
            |row| Ok((from_sql_int(row.get(0)?), row.get::<_, String>(1)?)),
        )
        .optional()?)
}

/// A re-sent event is acknowledged only if it is exactly the one already stored.
fn check_resent(
    tx: &Transaction<'_>,
    station: &str,
    event: &Event,
) -> std::result::Result<(), IngestError> {
    let stored: Option<String> = tx
        .query_row(
            "SELECT hash FROM events WHERE station = ?1 AND seq = ?2",
            params![station, to_sql_int(event.seq)],
            |row| row.get(0),
        )
        .optional()?;
    let stored = stored.unwrap_or_default();
    // The sent hash must match the stored one, and the sent content must match its own hash: a
    // copy with the stored hash but altered content is a tamper too.
    let computed = event.compute_hash();
    if stored != event.hash || computed != event.hash {
        return Err(IngestError::Tamper {
            seq: event.seq,
            stored,
            sent: if computed == event.hash {
                event.hash.clone()
            } else {
                format!("{} whose content hashes to {computed}", event.hash)
            },
        });
    }
    Ok(())
}

fn insert_event(
    tx: &Transaction<'_>,
    event: &Event,
    received_at: &str,
) -> std::result::Result<(), IngestError> {
    let body = serde_json::to_string(event)
        .map_err(|e| DbError::Corrupt(format!("event {}: {e}", event.seq)))?;
    let mut statement = tx.prepare_cached(
        "INSERT INTO events (station, seq, id, at, actor, kind, work_order, body, prev_hash, hash,
                             received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    statement.execute(params![
        event.station.as_str(),
        to_sql_int(event.seq),
        event.id.to_string(),
        timestamp(event.at),
        event.actor.to_string(),
        event.kind.name(),
        event.kind.work_order().map(|id| id.as_str()),
        body,
        event.prev_hash,
        event.hash,
        received_at,
    ])?;
    Ok(())
}

/// Projections derived from one event, inside the ingest transaction.
fn project(tx: &Transaction<'_>, event: &Event, now: &str) -> rusqlite::Result<()> {
    let station = event.station.as_str();
    match &event.kind {
        EventKind::UnitsProduced {
            work_order: Some(work_order),
            produced,
            rejected,
            ..
        } => {
            // Units prove the order runs here even if its start event was never seen.
            tx.execute(
                "INSERT INTO work_order_progress (work_order, station, status, produced, rejected,
                                                  updated_at)
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5)
                 ON CONFLICT (work_order, station) DO UPDATE SET
                    produced = produced + excluded.produced,
                    rejected = rejected + excluded.rejected,
                    updated_at = excluded.updated_at",
                params![
                    work_order.as_str(),
                    station,
                    to_sql_int(*produced),
                    to_sql_int(*rejected),
                    now
                ],
            )?;
        }
        EventKind::WorkOrderSelected { work_order } => {
            tx.execute(
                "INSERT INTO work_order_progress (work_order, station, status, updated_at)
                 VALUES (?1, ?2, 'selected', ?3)
                 ON CONFLICT (work_order, station) DO NOTHING",
                params![work_order.as_str(), station, now],
            )?;
        }
        EventKind::WorkOrderStarted { work_order } | EventKind::WorkOrderResumed { work_order } => {
            set_status(tx, work_order.as_str(), station, "running", now)?;
        }
        EventKind::WorkOrderPaused { work_order } => {
            set_status(tx, work_order.as_str(), station, "paused", now)?;
        }
        EventKind::WorkOrderCompleted { work_order, .. } => {
            set_status(tx, work_order.as_str(), station, "completed", now)?;
        }
        _ => {}
    }
    Ok(())
}

fn set_status(
    tx: &Transaction<'_>,
    work_order: &str,
    station: &str,
    status: &str,
    now: &str,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO work_order_progress (work_order, station, status, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (work_order, station) DO UPDATE SET
            status = excluded.status, updated_at = excluded.updated_at",
        params![work_order, station, status, now],
    )?;
    Ok(())
}

fn upsert_record(tx: &Transaction<'_>, record: &MasterRecord) -> Result<()> {
    let (kind, key) = record.key();
    let body = serde_json::to_string(record)
        .map_err(|e| DbError::Corrupt(format!("{kind} {key}: {e}")))?;
    let existing: Option<String> = tx
        .query_row(
            "SELECT body FROM master_records WHERE kind = ?1 AND key = ?2",
            params![kind, key],
            |row| row.get(0),
        )
        .optional()?;
    if existing.as_deref() == Some(body.as_str()) {
        return Ok(());
    }
    // Versions only grow: an update takes a version above every existing one, so MAX never falls.
    let version: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM master_records",
        [],
        |row| row.get(0),
    )?;
    tx.execute(
        "INSERT INTO master_records (kind, key, version, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, body = excluded.body",
        params![kind, key, version, body],
    )?;
    if let MasterRecord::WorkOrder(work_order) = record {
        tx.execute(
            "DELETE FROM work_order_dispatch WHERE work_order = ?1",
            params![key],
        )?;
        for station in &work_order.stations {
            tx.execute(
                "INSERT INTO work_order_dispatch (work_order, station) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![key, station.as_str()],
            )?;
        }
    }
    Ok(())
}
