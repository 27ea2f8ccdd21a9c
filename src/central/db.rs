//! Central's storage. Every SQL statement of the central backend lives here, behind [`Db`], so a
//! PostgreSQL implementation can be added later without touching the HTTP handlers.
//!
//! Methods are blocking; the HTTP layer calls them inside `spawn_blocking`.

use super::import::{Catalog, ImportCounts};
use super::metrics::StationStats;
use crate::domain::correction::Correction;
use crate::domain::event::ChainError;
use crate::domain::machine::MachineCategory;
use crate::domain::{
    Actor, Badge, Event, EventKind, GENESIS_HASH, Lot, LotId, LotOrigin, LotStatus, MasterData,
    Material, MaterialId, OperationId, OutputForm, Quantity, StationConfig, StationId, WorkOrderId,
};
use crate::genealogy;
use crate::protocol::{
    BatchAck, Change, ChangePage, Genealogy, GenealogyNode, MAX_GENEALOGY_DEPTH, MasterRecord,
    NodeOrigin, Quarantined, StationProgress, TraceDirection, Waiting, WorkOrderReport,
};
use crate::store::{ChainWalker, LogVerdict, VerifyReport};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::HashMap;
use std::path::Path;

pub mod backlog;
mod lot_quality;
pub mod ncrs;
pub mod operators;
pub mod plant;
pub mod quality;
pub mod quality_holds;
#[cfg(test)]
mod quality_tests;
pub mod work_orders;
pub mod yields;

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
    // 2: material genealogy. `lots` is every lot central knows (imported, first scanned at a station,
    // or made there) with its origin; `lot_edges` the output <- input links of every output;
    // `lot_loads` the first load of a lot at each station (its start there, for queue times);
    // `lot_consumption` what was drawn from each lot plant-wide; `lot_dispatch` which stations
    // receive a lot's master record ('*' = all); `lot_status_log` every status change after
    // creation (holds, releases, used up), for the audit trail. Existing data is projected by
    // `backfill_lots` right after this step.
    r#"
    CREATE TABLE lots (
        id             TEXT PRIMARY KEY,
        material       TEXT NOT NULL,
        quantity       INTEGER NOT NULL,
        form           TEXT NOT NULL DEFAULT 'lot',
        status         TEXT NOT NULL,
        status_reason  TEXT,
        origin         TEXT NOT NULL,
        station        TEXT,
        work_order     TEXT,
        operation      TEXT,
        created_at     TEXT,
        operator       TEXT,
        next_operation TEXT,
        -- The machine's state when an output was made (PackML, in words).
        machine_state  TEXT
    );

    CREATE TABLE lot_edges (
        output     TEXT NOT NULL,
        input      TEXT NOT NULL,
        station    TEXT NOT NULL,
        work_order TEXT NOT NULL,
        operation  TEXT NOT NULL,
        at         TEXT NOT NULL,
        operator   TEXT,
        PRIMARY KEY (output, input)
    ) WITHOUT ROWID;
    CREATE INDEX lot_edges_input ON lot_edges(input, output);

    CREATE TABLE lot_loads (
        lot        TEXT NOT NULL,
        station    TEXT NOT NULL,
        operation  TEXT NOT NULL,
        work_order TEXT NOT NULL,
        first_at   TEXT NOT NULL,
        PRIMARY KEY (lot, station)
    ) WITHOUT ROWID;

    CREATE TABLE lot_consumption (
        lot      TEXT PRIMARY KEY,
        consumed INTEGER NOT NULL,
        last_at  TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE lot_dispatch (
        lot     TEXT NOT NULL,
        station TEXT NOT NULL,
        PRIMARY KEY (lot, station)
    ) WITHOUT ROWID;

    CREATE TABLE lot_status_log (
        lot     TEXT NOT NULL,
        version INTEGER NOT NULL,
        status  TEXT NOT NULL,
        reason  TEXT,
        at      TEXT NOT NULL,
        source  TEXT NOT NULL
    );
    CREATE INDEX lot_status_log_lot ON lot_status_log(lot);
    "#,
    // 3: KPIs read a station's machine states, stops and counts of a time window.
    r#"
    CREATE INDEX events_station_kind_at ON events(station, kind, at);
    "#,
    // 4: a station's token can be revoked (its hash removed, when kept here).
    r#"
    ALTER TABLE stations ADD COLUMN revoked_at TEXT;
    "#,
    // 5: events stored in their chain but set aside instead of applied, with the reason.
    r#"
    CREATE TABLE quarantine (
        station TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        reason  TEXT NOT NULL,
        at      TEXT NOT NULL,
        PRIMARY KEY (station, seq)
    );
    "#,
    // 6: admin tokens (hashed), for imports, holds and other admin endpoints.
    r#"
    CREATE TABLE admin_tokens (
        name       TEXT PRIMARY KEY,
        token_hash TEXT UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    "#,
    // 7: plant queries. The latest event of a kind at a station (line overview) and a station's
    // events of one kind in seq order, or the seqs of a time window (events paging), are index
    // lookups; open WIP is the released lots made at stations (a partial index: the shop floor
    // now, not the history).
    r#"
    CREATE INDEX events_station_kind_seq ON events(station, kind, seq);
    CREATE INDEX events_station_at_seq ON events(station, at, seq);
    CREATE INDEX lots_open_produced ON lots(id) WHERE status = 'released' AND origin = 'produced';
    CREATE INDEX stations_line ON stations(line, id);
    "#,
    // 8: work-order lifecycle. Every status central gives an order (hold, release, cancel, close,
    // import), and the facts stations produced on an order after central had stopped it: accepted
    // and applied, but flagged for review. `work_order_dispatch` now keeps every station ever sent
    // an order, so one it was taken from still learns that.
    r#"
    CREATE TABLE work_order_status_log (
        work_order TEXT NOT NULL,
        version    INTEGER NOT NULL,
        status     TEXT NOT NULL,
        reason     TEXT,
        at         TEXT NOT NULL,
        source     TEXT NOT NULL
    );
    CREATE INDEX work_order_status_log_order ON work_order_status_log(work_order, at);
    CREATE TABLE event_flags (
        station    TEXT NOT NULL,
        seq        INTEGER NOT NULL,
        work_order TEXT NOT NULL,
        kind       TEXT NOT NULL,
        at         TEXT NOT NULL,
        reason     TEXT NOT NULL,
        PRIMARY KEY (station, seq)
    ) WITHOUT ROWID;
    CREATE INDEX event_flags_work_order ON event_flags(work_order, station, seq);
    "#,
    // 9: what a batch says of its sender: the seqs of events that waited at the station past its
    // historical threshold (one range per batch at most, usually), and the station's own log head
    // when it sent (its backlog, as far as central knows).
    r#"
    CREATE TABLE historical_ranges (
        station   TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq  INTEGER NOT NULL,
        PRIMARY KEY (station, first_seq)
    ) WITHOUT ROWID;
    CREATE TABLE station_reported (
        station     TEXT PRIMARY KEY,
        head_seq    INTEGER NOT NULL,
        sent_at     TEXT,
        received_at TEXT NOT NULL
    );
    "#,
    // 10: no query reads events by work order (progress is projected at ingest), and this index
    // cost every ingested event an insert.
    r#"
    DROP INDEX events_work_order;
    "#,
    // 11: the line overview reads the shop floor now, not the history. Open WIP is what is on its
    // way to a next operation: finished goods (no next operation) stay released forever, so with
    // them the index of open lots grew with every unit made. A station's queue starts from the
    // work orders not closed or cancelled, not from every order ever dispatched to it.
    r#"
    DROP INDEX lots_open_produced;
    CREATE INDEX lots_open_wip ON lots(id)
        WHERE status = 'released' AND origin = 'produced' AND next_operation IS NOT NULL;
    CREATE INDEX master_open_work_orders ON master_records(key)
        WHERE kind = 'work_order'
          AND IFNULL(json_extract(body, '$.record.status'), '') NOT IN ('closed', 'cancelled');
    "#,
    // 12: the quality history of each lot, for the genealogy.
    lot_quality::MIGRATION,
    // 13: NCRs plant-wide (the ones already taken are projected by `ncrs::backfill` right after),
    // and the held lots found by index.
    ncrs::MIGRATION,
];

/// A station as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationRow {
    pub id: String,
    pub line: Option<String>,
    pub has_token: bool,
    pub created_at: String,
    pub rotated_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The last event seq central took from it.
    pub acked_seq: Option<u64>,
    pub last_received_at: Option<String>,
}

/// Most rows a genealogy walk collects (one per link and level). A plant-sized forward trace of a
/// raw lot is a few thousand; this only stops a forged, densely linked log from exhausting memory.
const MAX_GENEALOGY_ROWS: i64 = 250_000;

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
    #[error("central does not know lot {0}")]
    UnknownLot(String),
    #[error("central does not know work order {0}")]
    UnknownWorkOrder(String),
    /// A request central understood but will not do, in a planner's words.
    #[error("{0}")]
    Refused(String),
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
    /// Started by the first ingest (admin commands on the same file never need it).
    checkpointer: Option<Checkpointer>,
}

/// WAL pages past which the ingest connection checkpoints by itself: only if the checkpoint
/// thread falls far behind (SQLite's default is 1,000).
const INGEST_AUTOCHECKPOINT_PAGES: i64 = 16_000;

/// Folds the WAL into the database file on a thread of its own. With SQLite's automatic
/// checkpoint, one ingest commit in every few (and the station's ack) would also wait for some
/// thousand pages to be copied and the database file synced. Durability does not move: every
/// commit still syncs the WAL before the ack, as before; this only decides who copies the pages
/// on, and when.
struct Checkpointer {
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer> {
        let conn = crate::store::connect(path, false)?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("central-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    // PASSIVE: copies what it can without waiting for the writer or readers.
                    let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                    });
                    match done {
                        Ok((log, copied)) => tracing::trace!(log, copied, "checkpointed"),
                        Err(error) => tracing::warn!(%error, "central: checkpoint failed"),
                    }
                }
            })
            .map_err(|e| DbError::Corrupt(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// Asks for a checkpoint; one already asked for and not yet begun covers this one too.
    fn nudge(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.wake = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The shortest offline grace window central gives a station (0 is none at all).
pub const MIN_OFFLINE_GRACE_MINUTES: u32 = 5;

/// What a hold or release did: the lot's record now, and its new version (`None`: unchanged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotHoldOutcome {
    pub lot: Lot,
    pub version: Option<u64>,
}

impl Db {
    /// Opens (creating and migrating if needed) the central database at `path`.
    pub fn open(path: &Path) -> Result<Db> {
        let mut conn = crate::store::connect(path, false)?;
        migrate(&mut conn)?;
        // Ingest of a mixed batch runs some thirty distinct statements; rusqlite's default cache
        // of 16 would evict and re-parse them event after event.
        conn.set_prepared_statement_cache_capacity(64);
        // Stations registered before central sent station settings get the defaults now.
        ensure_station_configs(&mut conn)?;
        Ok(Db {
            conn,
            checkpointer: None,
        })
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
             ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, rotated_at = ?3,
             revoked_at = NULL",
            params![station.as_str(), token_hash, now],
        )?;
        // A registered station is managed by central: its settings (the offline grace window)
        // reach it at its first pull. A re-registration keeps the ones it has.
        ensure_station_configs(&mut self.conn)
    }

    /// Creates (or replaces) the admin token named `name`.
    pub fn set_admin_token(
        &mut self,
        name: &str,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO admin_tokens (name, token_hash, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET token_hash = excluded.token_hash,
             created_at = excluded.created_at, revoked_at = NULL",
            params![name, token_hash, timestamp(now)],
        )?;
        Ok(())
    }

    /// Revokes the admin token named `name`; false when there is none.
    pub fn revoke_admin_token(&mut self, name: &str, now: DateTime<Utc>) -> Result<bool> {
        let changed = self.conn.execute(
            "UPDATE admin_tokens SET token_hash = NULL, revoked_at = ?2 WHERE name = ?1",
            params![name, timestamp(now)],
        )?;
        Ok(changed == 1)
    }

    /// The name of the admin whose token hashes to `token_hash`, if any.
    pub fn admin_for_token_hash(&self, token_hash: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name FROM admin_tokens WHERE token_hash = ?1",
                params![token_hash],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Replaces the token of a known station; false when central knows no such station.
    pub fn rotate_station_token(
        &mut self,
        station: &StationId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let changed = self.conn.execute(
            "UPDATE stations SET token_hash = ?2, rotated_at = ?3, revoked_at = NULL WHERE id = ?1",
            params![station.as_str(), token_hash, timestamp(now)],
        )?;
        Ok(changed == 1)
    }

    /// Removes a station's token: its requests are refused from now on (its events are kept).
    /// False when central knows no such station.
    pub fn revoke_station(&mut self, station: &StationId, now: DateTime<Utc>) -> Result<bool> {
        let changed = self.conn.execute(
            "UPDATE stations SET token_hash = NULL, revoked_at = ?2 WHERE id = ?1",
            params![station.as_str(), timestamp(now)],
        )?;
        Ok(changed == 1)
    }

    /// Every station with its token's state and what central last heard from it.
    pub fn stations(&self) -> Result<Vec<StationRow>> {
        let mut statement = self.conn.prepare(
            "SELECT s.id, s.line, s.token_hash IS NOT NULL, s.created_at, s.rotated_at,
                    s.revoked_at, h.seq,
                    (SELECT MAX(received_at) FROM events e WHERE e.station = s.id)
             FROM stations s LEFT JOIN station_heads h ON h.station = s.id
             ORDER BY s.id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(StationRow {
                id: row.get(0)?,
                line: row.get(1)?,
                has_token: row.get(2)?,
                created_at: row.get(3)?,
                rotated_at: row.get(4)?,
                revoked_at: row.get(5)?,
                acked_seq: row.get::<_, Option<i64>>(6)?.map(|seq| seq.max(0) as u64),
                last_received_at: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
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
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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

    /// The settings central sends `station`: the stored ones, or the defaults.
    pub fn station_config(&self, station: &StationId) -> Result<StationConfig> {
        match load_record(&self.conn, "station_config", station.as_str())? {
            Some(MasterRecord::StationConfig(config)) => Ok(config),
            Some(_) => Err(DbError::Corrupt(format!("station config of {station}"))),
            None => Ok(StationConfig::new(station.clone())),
        }
    }

    /// Stores `config` as a new version for its station to pull (`None`: it already was so). The
    /// station must be registered.
    pub fn set_station_config(&mut self, config: &StationConfig) -> Result<Option<u64>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let known: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM stations WHERE id = ?1)",
            params![config.station.as_str()],
            |row| row.get(0),
        )?;
        if !known {
            return Err(DbError::Refused(format!(
                "central knows no station {} (register it with takt central station add)",
                config.station
            )));
        }
        // The station says central answered at most every 20 s or so, and a long-poll lasts 25 s:
        // a window shorter than a few minutes would stop a connected station now and then.
        if (1..MIN_OFFLINE_GRACE_MINUTES).contains(&config.offline_grace_minutes) {
            return Err(DbError::Refused(format!(
                "an offline grace window of {} min is too short: give 0 (no limit) or at least \
                 {MIN_OFFLINE_GRACE_MINUTES} min",
                config.offline_grace_minutes
            )));
        }
        let version = upsert_record(&tx, &MasterRecord::StationConfig(config.clone()))?;
        tx.commit()?;
        Ok(version.map(from_sql_int))
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
    pub fn upsert_master(&mut self, records: &[MasterRecord], now: DateTime<Utc>) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let at = timestamp(now);
        for record in records {
            match record {
                MasterRecord::WorkOrder(order) => {
                    work_orders::write_work_order(&tx, order.clone(), &at, "seed")?;
                }
                record => {
                    upsert_record(&tx, record)?;
                }
            }
            if let MasterRecord::Lot(lot) = record {
                // An imported lot may turn up anywhere, unless ingest already routed it.
                tx.execute(
                    "INSERT INTO lot_dispatch (lot, station) SELECT ?1, '*'
                     WHERE NOT EXISTS (SELECT 1 FROM lot_dispatch WHERE lot = ?1)",
                    params![lot.id.as_str()],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// An import: loads what central holds ([`Catalog`]), lets `build` check the imported rows
    /// against it and make the records, and writes them, all in one transaction. `build`'s error
    /// writes nothing. Counts the records written and those that were already so (which keep
    /// their version, so the stations are sent nothing for them).
    pub fn import_master<E>(
        &mut self,
        build: impl FnOnce(&Catalog) -> std::result::Result<Vec<MasterRecord>, E>,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<ImportCounts, E>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let catalog = load_catalog(&tx)?;
        let records = match build(&catalog) {
            Ok(records) => records,
            Err(error) => return Ok(Err(error)),
        };
        let mut counts = ImportCounts::default();
        let at = timestamp(now);
        for record in &records {
            let written = match record {
                MasterRecord::WorkOrder(order) => {
                    work_orders::write_work_order(&tx, order.clone(), &at, "import")?
                }
                MasterRecord::Operator(operator) => {
                    operators::write_operator(&tx, operator.clone(), "import")?
                }
                record => upsert_record(&tx, record)?,
            };
            match written {
                Some(_) => counts.imported += 1,
                None => counts.unchanged += 1,
            }
        }
        tx.commit()?;
        Ok(Ok(counts))
    }

    /// Puts a lot on hold (`Some(reason)`) or releases it (`None`) at central: a new version of its
    /// master record, which stations apply at their next pull and then refuse (or accept) the lot.
    /// A release of a lot that is not held, or a hold repeating the current one, changes nothing.
    pub fn set_lot_hold(
        &mut self,
        lot: &LotId,
        hold: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<LotHoldOutcome> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (record, version) =
            decide_lot_status(&tx, lot.as_str(), hold, LotDecision::Central(now))?
                .ok_or_else(|| DbError::UnknownLot(lot.to_string()))?;
        tx.commit()?;
        Ok(LotHoldOutcome {
            lot: record,
            version: version.map(from_sql_int),
        })
    }

    /// The genealogy of `lot`, walked at most `max_depth` links deep (capped at
    /// [`MAX_GENEALOGY_DEPTH`]); `None` when central has never heard of the lot.
    pub fn genealogy(
        &self,
        lot: &LotId,
        direction: TraceDirection,
        max_depth: u32,
    ) -> Result<Option<Genealogy>> {
        let max_depth = max_depth.clamp(1, MAX_GENEALOGY_DEPTH);
        let known: bool = self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM lots WHERE id = ?1)
                 OR EXISTS (SELECT 1 FROM lot_edges WHERE output = ?1)
                 OR EXISTS (SELECT 1 FROM lot_edges WHERE input = ?1)",
            )?
            .query_row(params![lot.as_str()], |row| row.get(0))?;
        if !known {
            return Ok(None);
        }
        // The walk is breadth-first over (link, level) rows. UNION drops a row already queued, so
        // a lot reached by many paths at one level is expanded once per level, and a cycle in a
        // corrupt log ends at the depth limit; the tree builder then shows every lot once.
        let sql = match direction {
            TraceDirection::Backward => {
                "WITH RECURSIVE reached(parent, lot, depth) AS (
                     SELECT NULL, ?1, 0
                     UNION
                     SELECT r.lot, e.input, r.depth + 1
                     FROM reached r JOIN lot_edges e ON e.output = r.lot
                     WHERE r.depth < ?2
                     LIMIT ?3
                 )
                 SELECT parent, lot, depth FROM reached"
            }
            TraceDirection::Forward => {
                "WITH RECURSIVE reached(parent, lot, depth) AS (
                     SELECT NULL, ?1, 0
                     UNION
                     SELECT r.lot, e.output, r.depth + 1
                     FROM reached r JOIN lot_edges e ON e.input = r.lot
                     WHERE r.depth < ?2
                     LIMIT ?3
                 )
                 SELECT parent, lot, depth FROM reached"
            }
        };
        let mut statement = self.conn.prepare_cached(sql)?;
        let rows = statement
            .query_map(
                params![lot.as_str(), i64::from(max_depth), MAX_GENEALOGY_ROWS],
                |row| {
                    Ok(genealogy::Reached {
                        parent: row.get::<_, Option<String>>(0)?.map(LotId::new),
                        lot: LotId::new(row.get::<_, String>(1)?),
                        depth: u32::try_from(row.get::<_, i64>(2)?).unwrap_or(u32::MAX),
                    })
                },
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let size_limited = rows.len() as i64 >= MAX_GENEALOGY_ROWS;
        let mut walk = genealogy::Walk::new(lot.clone(), direction, max_depth, rows);
        walk.size_limited = size_limited;
        let mut materials = HashMap::new();
        for id in walk.lots() {
            let facts = self.lot_facts(&id, &mut materials)?;
            walk.facts.insert(id, facts);
        }
        let beyond_sql = match direction {
            TraceDirection::Backward => "SELECT EXISTS (SELECT 1 FROM lot_edges WHERE output = ?1)",
            TraceDirection::Forward => "SELECT EXISTS (SELECT 1 FROM lot_edges WHERE input = ?1)",
        };
        let mut beyond = self.conn.prepare_cached(beyond_sql)?;
        for id in walk.at_limit() {
            if beyond.query_row(params![id.as_str()], |row| row.get::<_, bool>(0))? {
                walk.beyond.insert(id);
            }
        }
        Ok(Some(walk.build()))
    }

    /// What central knows of one lot, as a childless genealogy node.
    fn lot_facts(
        &self,
        lot: &LotId,
        materials: &mut HashMap<String, Option<Material>>,
    ) -> Result<GenealogyNode> {
        type Row = (
            String,
            i64,
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = self
            .conn
            .prepare_cached(
                "SELECT material, quantity, form, status, status_reason, origin, station, work_order,
                        operation, created_at, operator, next_operation, machine_state
                 FROM lots WHERE id = ?1",
            )?
            .query_row(params![lot.as_str()], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                    row.get(7)?,
                    row.get(8)?,
                    row.get(9)?,
                    row.get(10)?,
                    row.get(11)?,
                    row.get(12)?,
                ))
            })
            .optional()?;
        let Some((
            material,
            quantity,
            form,
            status,
            status_reason,
            origin,
            station,
            work_order,
            operation,
            created_at,
            operator,
            next_operation,
            machine_state,
        )) = row
        else {
            return Ok(genealogy::unknown_node(lot.clone()));
        };
        let created_at = created_at.as_deref().map(parse_timestamp).transpose()?;
        let origin = match (
            origin.as_str(),
            &station,
            &work_order,
            &operation,
            created_at,
        ) {
            ("produced", Some(station), Some(work_order), Some(operation), Some(at)) => {
                NodeOrigin::Produced {
                    station: StationId::new(station.clone()),
                    work_order: WorkOrderId::new(work_order.clone()),
                    operation: OperationId::new(operation.clone()),
                    at,
                }
            }
            ("split", Some(station), _, _, Some(at)) => NodeOrigin::Split {
                station: StationId::new(station.clone()),
                at,
            },
            _ => NodeOrigin::Supplier {
                first_seen_station: station.clone().map(StationId::new),
                first_seen_at: created_at,
            },
        };
        let waiting = match (&origin, next_operation) {
            (NodeOrigin::Produced { at, .. }, Some(next)) => {
                let start: Option<(String, String, String)> = self
                    .conn
                    .prepare_cached(
                        "SELECT station, operation, first_at FROM lot_loads WHERE lot = ?1
                         ORDER BY (operation = ?2) DESC, first_at LIMIT 1",
                    )?
                    .query_row(params![lot.as_str(), next], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .optional()?;
                match start {
                    Some((station, operation, first_at)) => {
                        let started_at = parse_timestamp(&first_at)?;
                        Some(Waiting {
                            operation: OperationId::new(operation),
                            station: StationId::new(station),
                            queued_at: *at,
                            started_at,
                            seconds: (started_at - *at).num_seconds(),
                        })
                    }
                    None => None,
                }
            }
            _ => None,
        };
        if !materials.contains_key(&material) {
            let found = self.material(&material)?;
            materials.insert(material.clone(), found);
        }
        let known_material = materials.get(&material).and_then(Option::as_ref);
        Ok(GenealogyNode {
            lot: lot.clone(),
            form: if form == "serial" {
                OutputForm::Serial
            } else {
                OutputForm::Lot
            },
            material_name: known_material.map(|m| m.name.clone()),
            unit: known_material.map(|m| m.unit.clone()),
            material: Some(MaterialId::new(material)),
            quantity: Some(Quantity::from_milli(quantity)),
            status: parse_lot_status(&status),
            status_reason,
            origin,
            operator: operator.map(Badge::new),
            machine_state,
            quality: lot_quality::history(&self.conn, lot)?,
            waiting,
            repeated: false,
            cycle: false,
            truncated: false,
            children: Vec::new(),
        })
    }

    fn material(&self, id: &str) -> Result<Option<Material>> {
        let body: Option<String> = self
            .conn
            .prepare_cached("SELECT body FROM master_records WHERE kind = 'material' AND key = ?1")?
            .query_row(params![id], |row| row.get(0))
            .optional()?;
        match body.map(|body| serde_json::from_str::<MasterRecord>(&body)) {
            None => Ok(None),
            Some(Ok(MasterRecord::Material(material))) => Ok(Some(material)),
            Some(Ok(_)) => Err(DbError::Corrupt(format!("material {id} is another kind"))),
            Some(Err(e)) => Err(DbError::Corrupt(format!("material {id}: {e}"))),
        }
    }

    /// The current master record of a lot, if central has one.
    pub fn lot(&self, lot: &LotId) -> Result<Option<Lot>> {
        load_lot_record(&self.conn, lot.as_str())
    }

    /// Stores a batch of one station's events and updates the projections, all in one transaction.
    /// Returns the acknowledgement to send only after the commit.
    pub fn ingest(
        &mut self,
        station: &StationId,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> std::result::Result<BatchAck, IngestError> {
        self.ingest_with(station, events, &backlog::BatchMeta::default(), now)
    }

    /// [`Db::ingest`] of a batch that says when its station sent it and how far its log reaches.
    pub fn ingest_with(
        &mut self,
        station: &StationId,
        events: &[Event],
        meta: &backlog::BatchMeta,
        now: DateTime<Utc>,
    ) -> std::result::Result<BatchAck, IngestError> {
        if let Some(stray) = events.iter().find(|event| event.station != *station) {
            return Err(IngestError::WrongStation {
                seq: stray.seq,
                expected: station.to_string(),
                found: stray.station.to_string(),
            });
        }
        if self.checkpointer.is_none()
            && let Some(path) = self.conn.path().filter(|path| !path.is_empty())
        {
            let checkpointer = Checkpointer::start(Path::new(path))?;
            self.conn
                .pragma_update(None, "wal_autocheckpoint", INGEST_AUTOCHECKPOINT_PAGES)?;
            self.checkpointer = Some(checkpointer);
        }
        let received_at = timestamp(now);
        let conn = &mut self.conn;
        let (head, quarantined) = std::thread::scope(|scope| {
            // The hash of every event's content and the JSON stored as its body are worked out on
            // a second thread, ahead of this one's inserts: a third of the CPU of a batch, off
            // the path to the ack. Checks still run here, in seq order, before each insert.
            // In chunks: a hand-over per event would cost as much as the hash.
            let (digests_tx, digests) = std::sync::mpsc::sync_channel::<Vec<Digest>>(4);
            scope.spawn(move || {
                for chunk in events.chunks(DIGEST_CHUNK) {
                    let digests = chunk
                        .iter()
                        .map(|event| Digest {
                            hash: event.compute_hash(),
                            body: serde_json::to_string(event),
                        })
                        .collect();
                    if digests_tx.send(digests).is_err() {
                        // Refused part way: the rest is not needed.
                        return;
                    }
                }
            });
            let mut digests = digests.into_iter().flatten();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut head = load_head(&tx, station.as_str())?;
            let mut advanced = false;
            let mut quarantined = Vec::new();
            // A signature-grade record is applied only once the signature after it holds: the
            // batch before may have ended between the two.
            let mut awaiting = awaiting_signature(
                &tx,
                station.as_str(),
                head.as_ref().map_or(0, |(seq, _)| *seq),
            )?;
            // Work orders found in this batch: a batch names the same few hundreds of times.
            let mut known_orders: std::collections::HashSet<String> =
                std::collections::HashSet::new();
            // The people a batch names: a few, hundreds of times.
            let mut operators = std::collections::HashMap::new();
            let mut stopped_orders = work_orders::StoppedOrders::default();
            let mut stored = Vec::with_capacity(events.len());
            let mut units = PendingUnits::default();
            for event in events {
                let Digest { hash, body } = digests.next().ok_or_else(|| {
                    DbError::Corrupt(format!("event {}: the hashing thread stopped", event.seq))
                })?;
                let head_seq = head.as_ref().map_or(0, |(seq, _)| *seq);
                if event.seq == 0 {
                    return Err(IngestError::SeqZero { seq: event.seq });
                }
                if event.seq <= head_seq {
                    check_resent(&tx, station.as_str(), event, hash)?;
                    continue;
                }
                if event.seq > head_seq + 1 {
                    return Err(IngestError::Gap {
                        expected: head_seq + 1,
                        found: event.seq,
                    });
                }
                verify_link(event, head.as_ref(), hash)?;
                let body =
                    body.map_err(|e| DbError::Corrupt(format!("event {}: {e}", event.seq)))?;
                insert_event(&tx, event, &received_at, &body)?;
                // A fact central cannot trust to mean what it says keeps its place in the chain
                // but changes no projection; the cursor moves on and the reason is kept and shown.
                let problem = semantic_problem(&tx, event, now, &mut known_orders, &mut operators)?;
                let signed = matches!(event.kind, EventKind::Signed { .. });
                if let Some(mut waiting) = awaiting.take() {
                    // The events after a signature-grade record decide it: it counts once it has
                    // every signature it needs, each one holding.
                    if signed && problem.is_none() {
                        waiting.signed += 1;
                        if waiting.signed >= waiting.needed {
                            project(&tx, &waiting.record, &received_at, &mut units)?;
                            stopped_orders.flag(&tx, &waiting.record)?;
                        } else {
                            awaiting = Some(waiting);
                        }
                    } else {
                        let record = &waiting.record;
                        let reason = if signed {
                            format!(
                                "{} needs a signature, and one on it (event {}) does not hold",
                                record.kind.name(),
                                event.seq
                            )
                        } else if waiting.signed == 0 {
                            format!(
                                "{} needs a signature and has none: event {} follows it",
                                record.kind.name(),
                                event.seq
                            )
                        } else {
                            format!(
                                "{} needs {} signatures at {} (a second person's), and has {}",
                                record.kind.name(),
                                waiting.needed,
                                record.station,
                                waiting.signed
                            )
                        };
                        quarantined.push(set_aside(&tx, record, reason, &received_at, now)?);
                    }
                }
                match problem {
                    None if crate::domain::signature::needs_signature(&event.kind) => {
                        awaiting = Some(Awaiting {
                            needed: signatures_needed(&tx, event)?,
                            record: event.clone(),
                            signed: 0,
                        });
                    }
                    None => {
                        project(&tx, event, &received_at, &mut units)?;
                        stopped_orders.flag(&tx, event)?;
                    }
                    Some(reason) => {
                        quarantined.push(set_aside(&tx, event, reason, &received_at, now)?);
                    }
                }
                head = Some((event.seq, event.hash.clone()));
                advanced = true;
                stored.push((event.seq, event.at));
            }
            units.flush(&tx, station.as_str(), &received_at)?;
            backlog::record(&tx, station, &stored, meta, &received_at)?;
            if advanced && let Some((seq, hash)) = &head {
                tx.prepare_cached(
                    "INSERT INTO station_heads (station, seq, hash) VALUES (?1, ?2, ?3)
                     ON CONFLICT (station) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                )?
                .execute(params![station.as_str(), to_sql_int(*seq), hash])?;
            }
            tx.commit()?;
            Ok::<_, IngestError>((head, quarantined))
        })?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.nudge();
        }
        let (acked_through, chain_head) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
        Ok(BatchAck {
            acked_through,
            chain_head,
            server_time: now,
            quarantined,
        })
    }

    /// The events set aside at ingest, newest first; one station's or all.
    pub fn quarantine(&self, station: Option<&str>) -> Result<Vec<Quarantined>> {
        let mut statement = self.conn.prepare(
            "SELECT station, seq, kind, reason, at FROM quarantine
             WHERE ?1 IS NULL OR station = ?1 ORDER BY at DESC, station, seq DESC",
        )?;
        let rows = statement.query_map(params![station], |row| {
            let at: String = row.get(4)?;
            Ok(Quarantined {
                station: row.get(0)?,
                seq: row.get::<_, i64>(1)?.max(0) as u64,
                kind: row.get(2)?,
                reason: row.get(3)?,
                at: DateTime::parse_from_rfc3339(&at)
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Per station (every station central knows, in id order): its chain head seq, the events
    /// stored from it, and when its latest event was stored. For `/metrics`: a lookup per station
    /// by primary key, whatever the size of the log.
    pub fn station_stats(&self) -> Result<Vec<StationStats>> {
        let mut statement = self.conn.prepare(
            "SELECT s.id, h.seq, e.received_at
             FROM stations s
             LEFT JOIN station_heads h ON h.station = s.id
             LEFT JOIN events e ON e.station = h.station AND e.seq = h.seq
             ORDER BY s.id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<i64>>(1)?,
                row.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut stats = Vec::new();
        for row in rows {
            let (station, seq, received_at) = row?;
            // The chain is contiguous from seq 1, so the head's seq is the number of events.
            let seq = seq.map_or(0, from_sql_int);
            stats.push(StationStats {
                station,
                acked_seq: seq,
                events: seq,
                last_event_at: received_at.as_deref().map(parse_timestamp).transpose()?,
                reported_head: None,
                historical: 0,
                quarantined: 0,
            });
        }
        Ok(stats)
    }

    /// The newest master-data version: a long-poll looks at this cheap index lookup before it
    /// runs a station's whole changes query again.
    pub fn newest_master_version(&self) -> Result<u64> {
        newest_version(&self.conn)
    }

    /// The last stored `(seq, hash)` of a station.
    pub fn head(&self, station: &StationId) -> Result<Option<(u64, String)>> {
        load_head(&self.conn, station.as_str())
    }

    /// Master records newer than `since`, in version order: all operators, products and materials,
    /// the work orders dispatched to `station`, and the lots it may meet (supplier lots everywhere,
    /// a made lot at the stations of its next operation).
    pub fn changes(
        &self,
        station: &StationId,
        since: u64,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<ChangePage> {
        // One read transaction: the page and the newest version must come from the same snapshot,
        // or a write committed between them (the CLI, another process) would be skipped by a
        // cursor moved past it.
        let tx = self.conn.unchecked_transaction()?;
        let mut statement = tx.prepare_cached(
            "SELECT m.version, m.body FROM master_records m
             WHERE m.version > ?1
               AND (m.kind <> 'work_order' OR EXISTS (
                    SELECT 1 FROM work_order_dispatch d WHERE d.work_order = m.key AND d.station = ?2))
               AND (m.kind <> 'lot' OR EXISTS (
                    SELECT 1 FROM lot_dispatch l WHERE l.lot = m.key AND l.station IN ('*', ?2)))
               AND (m.kind <> 'station_config' OR m.key = ?2)
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
        let last_sent = changes.last().map_or(since, |change| change.version);
        // A page that is not full has seen every record up to the newest: the cursor moves past the
        // ones not meant for this station too, so the next pull does not scan them again.
        let cursor = if more {
            last_sent
        } else {
            last_sent.max(newest_version(&tx)?)
        };
        drop(statement);
        tx.finish()?;
        Ok(ChangePage {
            changes,
            cursor,
            more,
            server_time: now,
            waited_ms: 0,
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
        let (flagged_count, flagged) = self.flagged_events(id)?;
        Ok(Some(WorkOrderReport {
            work_order,
            produced,
            rejected,
            good: produced.saturating_sub(rejected),
            stations,
            history: self.work_order_history(id)?,
            flagged_count,
            flagged,
        }))
    }

    /// The line a station is on: `None` when central does not know the station, `Some(None)` for
    /// a station on no line.
    pub fn station_line(&self, station: &StationId) -> Result<Option<Option<String>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT line FROM stations WHERE id = ?1",
                params![station.as_str()],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// The stations of a line, in id order; `None` when central knows no such line.
    pub fn line_stations(&self, line: &str) -> Result<Option<Vec<StationId>>> {
        let known: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM lines WHERE id = ?1)
                 OR EXISTS (SELECT 1 FROM stations WHERE line = ?1)",
            params![line],
            |row| row.get(0),
        )?;
        if !known {
            return Ok(None);
        }
        let mut statement = self
            .conn
            .prepare_cached("SELECT id FROM stations WHERE line = ?1 ORDER BY id")?;
        let stations = statement
            .query_map(params![line], |row| row.get::<_, String>(0))?
            .map(|id| id.map(StationId::new))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Some(stations))
    }

    /// The master data KPIs need: work orders and routings (the ideal cycle of an order at a
    /// station) and the codes (which downtime reasons are planned), as they stand now.
    pub fn kpi_master(&self) -> Result<MasterData> {
        self.master_of_kinds(&["work_order", "routing", "code"])
    }

    /// Master data holding only the current records of `kinds` (as `MasterRecord::key` names
    /// them).
    pub fn master_of_kinds(&self, kinds: &[&str]) -> Result<MasterData> {
        let placeholders = vec!["?"; kinds.len()].join(", ");
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT kind, key, body FROM master_records WHERE kind IN ({placeholders})"
        ))?;
        let rows = statement.query_map(rusqlite::params_from_iter(kinds), |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        let mut master = MasterData::default();
        for row in rows {
            let (kind, key, body) = row?;
            let record: MasterRecord = serde_json::from_str(&body)
                .map_err(|e| DbError::Corrupt(format!("{kind} {key}: {e}")))?;
            record.apply_to(&mut master);
        }
        Ok(master)
    }

    /// The events of `station` that KPIs of `from..to` are computed from, in log order: machine
    /// states, stops and declared planned downtime from the last time the machine ran before
    /// `from` (so the state in effect at `from`, and every stop still open then, is known) up
    /// to `to`; counts of `from..=to`; and every reason coded since, however late — a stop coded
    /// after the window still counts with its reason.
    pub fn kpi_events(
        &self,
        station: &StationId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Event>> {
        let station = station.as_str();
        let (from, to) = (timestamp(from), timestamp(to));
        let parse = |seq: i64, body: &str| -> Result<Event> {
            serde_json::from_str(body)
                .map_err(|e| DbError::Corrupt(format!("event {seq} of station {station}: {e}")))
        };
        // Walk back to the last time the machine ran: running ends every stop, so nothing older
        // than that is still open at `from`.
        let mut anchor: Option<(i64, String)> = None;
        {
            let mut statement = self.conn.prepare_cached(
                "SELECT seq, at, body FROM events
                 WHERE station = ?1 AND kind = 'machine_state_changed' AND at < ?2
                 ORDER BY at DESC, seq DESC",
            )?;
            let mut rows = statement.query(params![station, from])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                let body: String = row.get(2)?;
                if let EventKind::MachineStateChanged {
                    category: MachineCategory::Running,
                    ..
                } = parse(seq, &body)?.kind
                {
                    anchor = Some((seq, row.get(1)?));
                    break;
                }
            }
        }
        let (anchor_seq, anchor_at) = anchor.unwrap_or((0, String::new()));
        let mut bodies: std::collections::BTreeMap<i64, String> = Default::default();
        let mut collect = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<()> {
            let mut statement = self.conn.prepare_cached(sql)?;
            let rows = statement.query_map(args, |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })?;
            for row in rows {
                let (seq, body) = row?;
                if seq >= anchor_seq {
                    bodies.insert(seq, body);
                }
            }
            Ok(())
        };
        collect(
            "SELECT seq, body FROM events WHERE station = ?1
             AND kind IN ('machine_state_changed', 'downtime_started', 'planned_downtime_declared')
             AND at >= ?2 AND at <= ?3",
            &[&station, &anchor_at, &to],
        )?;
        collect(
            "SELECT seq, body FROM events WHERE station = ?1 AND kind = 'units_produced'
             AND at >= ?2 AND at <= ?3",
            &[&station, &from, &to],
        )?;
        collect(
            "SELECT seq, body FROM events WHERE station = ?1 AND kind = 'downtime_coded'
             AND at >= ?2",
            &[&station, &anchor_at],
        )?;
        // A fact central set aside counts for nothing; a count a signed correction put right
        // counts as corrected (the latest correction wins), the stored event untouched. Only
        // what is from the anchor on can touch the events above.
        let mut set_aside = std::collections::HashSet::new();
        for seq in self
            .conn
            .prepare_cached("SELECT seq FROM quarantine WHERE station = ?1 AND seq >= ?2")?
            .query_map(params![station, anchor_seq], |row| row.get::<_, i64>(0))?
        {
            set_aside.insert(seq?);
        }
        let mut corrected_counts = std::collections::HashMap::new();
        {
            let mut statement = self.conn.prepare_cached(
                "SELECT seq, body FROM events WHERE station = ?1 AND kind = 'corrected' AND seq > ?2
                 ORDER BY seq",
            )?;
            // A correction comes after what it corrects: none before the anchor matters.
            let mut rows = statement.query(params![station, anchor_seq])?;
            while let Some(row) = rows.next()? {
                let seq: i64 = row.get(0)?;
                if set_aside.contains(&seq) {
                    continue;
                }
                if let EventKind::Corrected {
                    corrects,
                    now: crate::domain::correction::Correction::Count { produced, rejected },
                    ..
                } = parse(seq, &row.get::<_, String>(1)?)?.kind
                {
                    corrected_counts.insert(corrects, (produced, rejected));
                }
            }
        }
        bodies
            .iter()
            .filter(|(seq, _)| !set_aside.contains(seq))
            .map(|(seq, body)| {
                let mut event = parse(*seq, body)?;
                if let EventKind::UnitsProduced {
                    produced, rejected, ..
                } = &mut event.kind
                    && let Some((now_produced, now_rejected)) = corrected_counts.get(&event.seq)
                {
                    (*produced, *rejected) = (*now_produced, *now_rejected);
                }
                Ok(event)
            })
            .collect()
    }

    /// Re-walks a station's stored chain and checks it ends at the recorded head.
    pub fn verify_chain(&self, station: &StationId) -> Result<VerifyReport> {
        Ok(self.verify_log(station)?.chain)
    }

    /// [`Db::verify_chain`], and the signatures of the station's log when the chain holds.
    pub fn verify_log(&self, station: &StationId) -> Result<LogVerdict> {
        let broken = |chain: VerifyReport| LogVerdict {
            chain,
            signatures: Vec::new(),
        };
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
            if let Err(chain) = walker.step(seq, &body, &column_prev, &column_hash, Some(station)) {
                return Ok(broken(chain));
            }
        }
        let prev = walker.head().cloned();
        let witness = load_head(&self.conn, station.as_str())?;
        if witness != prev {
            let seq = witness
                .as_ref()
                .map_or(0, |(seq, _)| *seq)
                .max(prev.as_ref().map_or(0, |(seq, _)| *seq));
            return Ok(broken(VerifyReport::Broken {
                seq,
                reason: format!(
                    "the recorded chain head {} does not match the last stored event {}",
                    describe_head(witness.as_ref()),
                    describe_head(prev.as_ref())
                ),
            }));
        }
        Ok(walker.finish_log())
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
        if index == 1 {
            backfill_lots(&tx)?;
        }
        if index == 12 {
            ncrs::backfill(&tx)?;
        }
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Stores why `event` changes no projection, for `takt central quarantine` and the station's ack.
fn set_aside(
    tx: &Transaction<'_>,
    event: &Event,
    reason: String,
    received_at: &str,
    now: DateTime<Utc>,
) -> Result<Quarantined> {
    tracing::warn!(station = %event.station, seq = event.seq, %reason, "ingest: event quarantined");
    tx.prepare_cached(
        "INSERT INTO quarantine (station, seq, kind, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        event.station.as_str(),
        to_sql_int(event.seq),
        event.kind.name(),
        reason,
        received_at
    ])?;
    Ok(Quarantined {
        station: event.station.to_string(),
        seq: event.seq,
        kind: event.kind.name().to_owned(),
        reason,
        at: now,
    })
}

/// A signature-grade record stored and not applied yet, and the signatures after it so far.
struct Awaiting {
    record: Event,
    needed: u32,
    signed: u32,
}

/// How many signatures `record` needs: its signer's, and a second person's where central's
/// configuration of the station asks for one (a station that has not heard of that yet records
/// one signature, and its record is set aside rather than counted).
fn signatures_needed(tx: &Transaction<'_>, record: &Event) -> Result<u32> {
    let second = match (
        crate::domain::permission::required_action(&record.kind),
        load_record(tx, "station_config", record.station.as_str())?,
    ) {
        (Some(action), Some(MasterRecord::StationConfig(config))) => {
            config.needs_second_signer(action)
        }
        _ => false,
    };
    Ok(if second { 2 } else { 1 })
}

/// The station's last signature-grade record, when the stored log ends with it (and maybe some of
/// its signatures), it is not set aside, and it still waits for a signature: a batch ended
/// between the record and its signatures.
fn awaiting_signature(tx: &Transaction<'_>, station: &str, head: u64) -> Result<Option<Awaiting>> {
    let is_set_aside = |seq: u64| -> Result<bool> {
        Ok(tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM quarantine WHERE station = ?1 AND seq = ?2)",
            )?
            .query_row(params![station, to_sql_int(seq)], |row| row.get(0))?)
    };
    let mut seq = head;
    let mut signed = 0;
    while seq > 0 {
        let Some(event) = stored_event(tx, station, seq)? else {
            return Ok(None);
        };
        if matches!(event.kind, EventKind::Signed { .. }) {
            if is_set_aside(seq)? {
                // A signature that did not hold already decided the record.
                return Ok(None);
            }
            signed += 1;
            seq -= 1;
            continue;
        }
        if !crate::domain::signature::needs_signature(&event.kind) || is_set_aside(seq)? {
            return Ok(None);
        }
        let needed = signatures_needed(tx, &event)?;
        return Ok((signed < needed).then_some(Awaiting {
            record: event,
            needed,
            signed,
        }));
    }
    Ok(None)
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
    computed: String,
) -> std::result::Result<(), IngestError> {
    let stored: Option<String> = tx
        .prepare_cached("SELECT hash FROM events WHERE station = ?1 AND seq = ?2")?
        .query_row(params![station, to_sql_int(event.seq)], |row| row.get(0))
        .optional()?;
    let stored = stored.unwrap_or_default();
    // The sent hash must match the stored one, and the sent content must match its own hash: a
    // copy with the stored hash but altered content is a tamper too.
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

/// Events a hand-over from the hashing thread of [`Db::ingest`] carries.
const DIGEST_CHUNK: usize = 50;

/// What the hashing thread of [`Db::ingest`] works out for an event: the SHA-256 of its canonical
/// content, and its JSON as stored in `events.body`.
struct Digest {
    hash: String,
    body: serde_json::Result<String>,
}

/// [`Event::verify_after`] with the content hash already computed (on the hashing thread), for
/// an event whose seq is known to follow `head`.
fn verify_link(
    event: &Event,
    head: Option<&(u64, String)>,
    computed: String,
) -> std::result::Result<(), ChainError> {
    let (prev_seq, prev_hash) = head.map_or((0, GENESIS_HASH), |(seq, hash)| (*seq, hash.as_str()));
    if event.prev_hash != prev_hash {
        return Err(ChainError::BrokenLink {
            seq: event.seq,
            prev_seq,
            expected: prev_hash.to_owned(),
            found: event.prev_hash.clone(),
        });
    }
    if computed != event.hash {
        return Err(ChainError::ContentAltered {
            seq: event.seq,
            stored: event.hash.clone(),
            computed,
        });
    }
    Ok(())
}

fn insert_event(
    tx: &Transaction<'_>,
    event: &Event,
    received_at: &str,
    body: &str,
) -> std::result::Result<(), IngestError> {
    let mut id = uuid::Uuid::encode_buffer();
    let mut statement = tx.prepare_cached(
        "INSERT INTO events (station, seq, id, at, actor, kind, work_order, body, prev_hash, hash,
                             received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    statement.execute(params![
        event.station.as_str(),
        to_sql_int(event.seq),
        &*event.id.hyphenated().encode_lower(&mut id),
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

/// The units of a batch's `UnitsProduced` events, summed per work order and written as one
/// upsert each instead of one per event. Sums commute, and every upsert of a batch stamps the same
/// `updated_at`, so the rows come out as event-by-event projection leaves them; [`project`]
/// flushes before any other write to `work_order_progress`, which keeps the order of the status
/// changes too.
#[derive(Default)]
struct PendingUnits {
    /// `(work order, produced, rejected)`, in order of first appearance.
    orders: Vec<(String, u64, u64)>,
}

impl PendingUnits {
    fn add(&mut self, work_order: &str, produced: u64, rejected: u64) {
        // A batch names a handful of orders: a short scan beats hashing.
        match self.orders.iter_mut().find(|(id, ..)| id == work_order) {
            Some((_, sum_produced, sum_rejected)) => {
                *sum_produced = sum_produced.saturating_add(produced);
                *sum_rejected = sum_rejected.saturating_add(rejected);
            }
            None => self
                .orders
                .push((work_order.to_owned(), produced, rejected)),
        }
    }

    fn flush(&mut self, tx: &Transaction<'_>, station: &str, now: &str) -> Result<()> {
        if self.orders.is_empty() {
            return Ok(());
        }
        // Units prove the order runs here even if its start event was never seen.
        let mut statement = tx.prepare_cached(
            "INSERT INTO work_order_progress (work_order, station, status, produced, rejected,
                                              updated_at)
             VALUES (?1, ?2, 'running', ?3, ?4, ?5)
             ON CONFLICT (work_order, station) DO UPDATE SET
                produced = produced + excluded.produced,
                rejected = rejected + excluded.rejected,
                updated_at = excluded.updated_at",
        )?;
        for (work_order, produced, rejected) in self.orders.drain(..) {
            statement.execute(params![
                work_order,
                station,
                to_sql_int(produced),
                to_sql_int(rejected),
                now
            ])?;
        }
        Ok(())
    }
}

/// Projections derived from one event, inside the ingest transaction.
/// How far ahead of central's clock an event's time may be before it is not believed.
const MAX_CLOCK_LEAD: chrono::Duration = chrono::Duration::hours(24);

/// Most units one `units_produced` event is believed to carry: a station never counts more than
/// [`crate::domain::MAX_PLAUSIBLE_COUNTER_STEP`] from one poll. A larger count (a corrupt
/// or hostile log) would otherwise be summed into every report of its order, up to overflow.
const MAX_UNITS_PER_EVENT: u64 = crate::domain::correction::MAX_CORRECTED_COUNT;

/// Why an event with a valid chain still cannot be applied, if it cannot: written by a newer
/// schema, dated a day or more ahead of central, about a work order central never had, or counting
/// more units than a machine makes between two polls.
fn semantic_problem(
    tx: &Transaction<'_>,
    event: &Event,
    now: DateTime<Utc>,
    known_orders: &mut std::collections::HashSet<String>,
    operators: &mut std::collections::HashMap<String, Option<crate::domain::Operator>>,
) -> Result<Option<String>> {
    if event.schema > crate::domain::SCHEMA_VERSION {
        return Ok(Some(format!(
            "written by a newer Takt (event schema {}); this central reads up to {}",
            event.schema,
            crate::domain::SCHEMA_VERSION
        )));
    }
    if event.at > now + MAX_CLOCK_LEAD {
        return Ok(Some(format!(
            "dated {} but central's clock says {}: the station's clock is wrong",
            event.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )));
    }
    if let EventKind::UnitsProduced {
        produced, rejected, ..
    } = &event.kind
        && (*produced > MAX_UNITS_PER_EVENT || *rejected > MAX_UNITS_PER_EVENT)
    {
        return Ok(Some(format!(
            "{produced} produced, {rejected} rejected in one count: more than \
             {MAX_UNITS_PER_EVENT}, which no machine makes between two polls"
        )));
    }
    if let Some(work_order) = event.kind.work_order()
        && !known_orders.contains(work_order.as_str())
    {
        let known: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM master_records WHERE kind = 'work_order' AND key = ?1)",
            )?
            .query_row(params![work_order.as_str()], |row| row.get(0))?;
        if !known {
            return Ok(Some(format!(
                "work order {work_order} is unknown to central"
            )));
        }
        known_orders.insert(work_order.to_string());
    }
    if let Some(problem) = actor_problem(tx, event, operators)? {
        return Ok(Some(problem));
    }
    if let Some(problem) = signature_problem(tx, event, operators)? {
        return Ok(Some(problem));
    }
    if let Some(problem) = correction_problem(tx, event)? {
        return Ok(Some(problem));
    }
    release_problem(tx, event)
}

/// A station's release lifts the hold it saw, and no other: when the lot was held again since
/// (a recall at central, a hold from another station), that hold stays and the release is set
/// aside, said in words.
fn release_problem(tx: &Transaction<'_>, event: &Event) -> Result<Option<String>> {
    let EventKind::LotReleased { lot, lifts } = &event.kind else {
        return Ok(None);
    };
    let Some(record) = load_lot_record(tx, lot.as_str())? else {
        return Ok(None);
    };
    let held = matches!(record.status, LotStatus::OnHold | LotStatus::Quarantined);
    if !held || record.status_at == *lifts {
        return Ok(None);
    }
    let since = record
        .status_at
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "an unknown time".to_owned());
    Ok(Some(format!(
        "releases a hold on lot {lot} that is no longer its hold: it was held again at {since} ({}); \
         that hold stays until it is released itself",
        record.status_reason.as_deref().unwrap_or("no reason given")
    )))
}

/// A signature must be the signer's own act and bind the record it follows: the nearest event
/// of the station before it that is not itself a signature (stored already, in this batch or an
/// earlier one), by someone whose roles allow what the record does, as the station asks of a
/// second signer. The signer's badge (known, not revoked) was checked as the actor's.
fn signature_problem(
    tx: &Transaction<'_>,
    event: &Event,
    operators: &std::collections::HashMap<String, Option<crate::domain::Operator>>,
) -> Result<Option<String>> {
    let EventKind::Signed {
        signer,
        record: digest,
        ..
    } = &event.kind
    else {
        return Ok(None);
    };
    if event.actor != Actor::Operator(signer.clone()) {
        return Ok(Some(format!(
            "a signature in the name of {signer} made by {}: only the signer may sign",
            event.actor
        )));
    }
    let record: Option<(i64, String)> = tx
        .prepare_cached(
            "SELECT seq, body FROM events WHERE station = ?1 AND seq < ?2 AND kind <> 'signed'
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(
            params![event.station.as_str(), to_sql_int(event.seq)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((seq, body)) = record else {
        return Ok(Some(format!(
            "a signature by {signer} that follows no record: there is nothing it signs"
        )));
    };
    let record: Event = serde_json::from_str(&body)
        .map_err(|e| DbError::Corrupt(format!("event {seq} of station {}: {e}", event.station)))?;
    let expected = crate::domain::signature::event_digest(&record);
    if *digest != expected {
        return Ok(Some(format!(
            "the signature by {signer} names record {digest} but follows event {seq} ({}), \
             whose digest is {expected}: it was not made on that record",
            record.kind.name()
        )));
    }
    // The first signature is the person's who did it; another is someone else's.
    let mut earlier = Vec::new();
    {
        let mut statement = tx.prepare_cached(
            "SELECT seq, body FROM events WHERE station = ?1 AND seq > ?2 AND seq < ?3 ORDER BY seq",
        )?;
        let mut rows =
            statement.query(params![event.station.as_str(), seq, to_sql_int(event.seq)])?;
        while let Some(row) = rows.next()? {
            let earlier_seq: i64 = row.get(0)?;
            let body: String = row.get(1)?;
            let signature: Event = serde_json::from_str(&body).map_err(|e| {
                DbError::Corrupt(format!(
                    "event {earlier_seq} of station {}: {e}",
                    event.station
                ))
            })?;
            if let EventKind::Signed { signer, .. } = signature.kind {
                earlier.push(signer);
            }
        }
    }
    if earlier.is_empty() && record.actor != Actor::Operator(signer.clone()) {
        return Ok(Some(format!(
            "the first signature on event {seq} is by {signer}, but {} did it: the person who \
             does a signature-grade action signs it first",
            record.actor
        )));
    }
    if earlier.contains(signer) {
        return Ok(Some(format!(
            "{signer} signed event {seq} twice: a second signature must be another person's"
        )));
    }
    let roles = operators
        .get(signer.as_str())
        .and_then(Option::as_ref)
        .map(crate::domain::Operator::roles)
        .unwrap_or_default();
    if let Some(action) = crate::domain::permission::required_action(&record.kind)
        && !crate::domain::permission::permits(&roles, action)
    {
        return Ok(Some(format!(
            "{signer} ({}) signed event {seq} ({}), but may not {}: that needs {}",
            crate::domain::permission::roles_in_words(&roles),
            record.kind.name(),
            action.words(),
            crate::domain::permission::roles_in_words(crate::domain::permission::allowed(action))
        )));
    }
    Ok(None)
}

/// A correction must name an event of its station that central counted, of the kind its values
/// are, and say truly what counted until now (the original, or the latest correction of it):
/// otherwise moving central's projections from `was` to `now` would count something twice or
/// take away what was never there.
fn correction_problem(tx: &Transaction<'_>, event: &Event) -> Result<Option<String>> {
    let EventKind::Corrected {
        corrects,
        work_order,
        was,
        now,
        ..
    } = &event.kind
    else {
        return Ok(None);
    };
    let station = event.station.as_str();
    if let Correction::Count { produced, rejected } = now
        && (*produced > MAX_UNITS_PER_EVENT || *rejected > MAX_UNITS_PER_EVENT)
    {
        return Ok(Some(format!(
            "corrects event {corrects} to {produced} produced, {rejected} rejected: more than \
             {MAX_UNITS_PER_EVENT}, which no machine makes between two polls"
        )));
    }
    let target = match stored_event(tx, station, *corrects)? {
        Some(target) if *corrects < event.seq => target,
        _ => {
            return Ok(Some(format!(
                "corrects event {corrects}, which is not an earlier event of {station}"
            )));
        }
    };
    let set_aside: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM quarantine WHERE station = ?1 AND seq = ?2)")?
        .query_row(params![station, to_sql_int(*corrects)], |row| row.get(0))?;
    if set_aside {
        return Ok(Some(format!(
            "corrects event {corrects}, which central quarantined: it never counted, so its \
             correction cannot count either"
        )));
    }
    // The value that counts now: that of the latest correction central applied, else the original.
    let mut latest = None;
    let mut earlier = tx.prepare_cached(
        "SELECT e.seq, e.body FROM events e
         WHERE e.station = ?1 AND e.kind = 'corrected' AND e.seq > ?2 AND e.seq < ?3
           AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.station = e.station AND q.seq = e.seq)
         ORDER BY e.seq DESC",
    )?;
    let mut rows = earlier.query(params![
        station,
        to_sql_int(*corrects),
        to_sql_int(event.seq)
    ])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let body: String = row.get(1)?;
        let correction: Event = serde_json::from_str(&body)
            .map_err(|e| DbError::Corrupt(format!("event {seq} of station {station}: {e}")))?;
        if let EventKind::Corrected {
            corrects: earlier,
            now: value,
            ..
        } = correction.kind
            && earlier == *corrects
        {
            latest = Some(value);
            break;
        }
    }
    let (counted, order) = match crate::domain::correction::check(&target, latest.as_ref(), now) {
        Ok(found) => found,
        Err(refused) => return Ok(Some(format!("corrects event {corrects}: {refused}"))),
    };
    if *was != counted {
        return Ok(Some(format!(
            "corrects event {corrects} as if it said {}, but what counts for it is {}",
            was.words(),
            counted.words()
        )));
    }
    if *work_order != order {
        return Ok(Some(format!(
            "corrects event {corrects} of work order {}, but that event is of {}",
            work_order.as_ref().map_or("(none)", |id| id.as_str()),
            order.as_ref().map_or("(none)", |id| id.as_str())
        )));
    }
    Ok(None)
}

/// What a person did is checked again here, against central's own operator records: someone
/// central does not know, whose badge was revoked by then, or whose roles do not allow it.
fn actor_problem(
    tx: &Transaction<'_>,
    event: &Event,
    operators: &mut std::collections::HashMap<String, Option<crate::domain::Operator>>,
) -> Result<Option<String>> {
    let crate::domain::Actor::Operator(badge) = &event.actor else {
        return Ok(None);
    };
    if !operators.contains_key(badge.as_str()) {
        let found = match load_record(tx, "operator", badge.as_str())? {
            Some(MasterRecord::Operator(operator)) => Some(operator),
            Some(_) => {
                return Err(DbError::Corrupt(format!(
                    "operator {badge} is another kind"
                )));
            }
            None => None,
        };
        operators.insert(badge.to_string(), found);
    }
    let Some(operator) = operators.get(badge.as_str()).and_then(Option::as_ref) else {
        return Ok(Some(format!("done by {badge}, whom central does not know")));
    };
    if operator.revoked_by(event.at) {
        return Ok(Some(format!(
            "done by {badge}, whose badge was revoked at {}",
            operator
                .revoked_at
                .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default()
        )));
    }
    if let Some(action) = crate::domain::permission::required_action(&event.kind) {
        let roles = operator.roles();
        if !crate::domain::permission::permits(&roles, action) {
            return Ok(Some(format!(
                "{badge} ({}) may not {}: that needs {}",
                crate::domain::permission::roles_in_words(&roles),
                action.words(),
                crate::domain::permission::roles_in_words(crate::domain::permission::allowed(
                    action
                ))
            )));
        }
    }
    Ok(None)
}

fn project(tx: &Transaction<'_>, event: &Event, now: &str, units: &mut PendingUnits) -> Result<()> {
    let station = event.station.as_str();
    match &event.kind {
        EventKind::UnitsProduced {
            work_order: Some(work_order),
            produced,
            rejected,
            ..
        } => {
            units.add(work_order.as_str(), *produced, *rejected);
            return Ok(());
        }
        EventKind::WorkOrderSelected { .. }
        | EventKind::WorkOrderStarted { .. }
        | EventKind::WorkOrderResumed { .. }
        | EventKind::WorkOrderPaused { .. }
        | EventKind::WorkOrderCompleted { .. } => units.flush(tx, station, now)?,
        _ => {}
    }
    lot_quality::project(tx, event)?;
    ncrs::project(tx, event)?;
    match &event.kind {
        EventKind::WorkOrderSelected { work_order } => {
            tx.prepare_cached(
                "INSERT INTO work_order_progress (work_order, station, status, updated_at)
                 VALUES (?1, ?2, 'selected', ?3)
                 ON CONFLICT (work_order, station) DO NOTHING",
            )?
            .execute(params![work_order.as_str(), station, now])?;
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
        EventKind::LotRegistered { lot, .. } => {
            // Central's record wins: a lot it already knows (imported, held, or registered by
            // another station first) keeps its record, and only the sighting is noted.
            if load_lot_record(tx, lot.as_str())?.is_none() {
                if let Some(record) = crate::domain::material::registered_lot(event) {
                    upsert_record(tx, &MasterRecord::Lot(record))?;
                }
                // A supplier lot may be scanned at any station next.
                dispatch_lot(tx, lot.as_str(), "*")?;
            } else {
                // A lot central knows, first seen here (e.g. a tote's label scanned at a station the
                // routing did not name): from now on its record, and any hold, reach this station.
                reach_station(tx, lot.as_str(), station)?;
            }
            let operator = match &event.actor {
                Actor::Operator(badge) => Some(badge.as_str()),
                Actor::Plc | Actor::Station => None,
            };
            tx.prepare_cached(
                "UPDATE lots SET station = COALESCE(station, ?2), created_at = COALESCE(created_at, ?3),
                 operator = COALESCE(operator, ?4) WHERE id = ?1",
            )?
            .execute(params![lot.as_str(), station, timestamp(event.at), operator])?;
            refresh_used_up(tx, lot.as_str(), now)?;
        }
        EventKind::LotLoaded {
            work_order,
            operation,
            lot,
            ..
        } => {
            reach_station(tx, lot.as_str(), station)?;
            // The first load at a station is the lot's start there; later reloads are not.
            tx.prepare_cached(
                "INSERT INTO lot_loads (lot, station, operation, work_order, first_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (lot, station) DO UPDATE SET operation = excluded.operation,
                    work_order = excluded.work_order, first_at = excluded.first_at
                 WHERE excluded.first_at < lot_loads.first_at",
            )?
            .execute(params![
                lot.as_str(),
                station,
                operation.as_str(),
                work_order.as_str(),
                timestamp(event.at)
            ])?;
        }
        EventKind::LotConsumed { lot, quantity, .. } => {
            add_consumption(tx, lot.as_str(), quantity.milli(), event.at)?;
            refresh_used_up(tx, lot.as_str(), now)?;
        }
        EventKind::LotHeld { lot, reason } => {
            decide_lot_status(tx, lot.as_str(), Some(reason), LotDecision::Station(event))?;
        }
        EventKind::LotReleased { lot, .. } => {
            decide_lot_status(tx, lot.as_str(), None, LotDecision::Station(event))?;
        }
        EventKind::Corrected { .. } => project_correction(tx, event, now, units)?,
        EventKind::OutputCreated {
            work_order,
            output,
            form,
            inputs,
            operator,
            next_operation,
            machine_state,
            ..
        } => {
            link_inputs(tx, event, inputs)?;
            let operator = operator.as_ref().map(|badge| badge.as_str());
            if load_lot_record(tx, output.as_str())?.is_some() {
                // Output ids are unique by construction ({station} and {seq}); a repeat is a
                // corrupt or forged log. Its links are kept as evidence; the first record stands.
                tracing::warn!(%station, seq = event.seq, lot = %output, "an output id was created twice");
                return Ok(());
            }
            if let Some(lot) = crate::domain::material::produced_lot(event) {
                upsert_record(tx, &MasterRecord::Lot(lot))?;
            }
            tx.prepare_cached(
                "UPDATE lots SET form = ?2, operator = ?3, next_operation = ?4, machine_state = ?5
                 WHERE id = ?1",
            )?
            .execute(params![
                output.as_str(),
                match form {
                    OutputForm::Lot => "lot",
                    OutputForm::Serial => "serial",
                },
                operator,
                next_operation.as_ref().map(|op| op.as_str()),
                machine_state.as_deref()
            ])?;
            // The station that made it hears of it too: a quality hold on its own output stops it
            // making more of the same (the permit-to-run interlock).
            dispatch_lot(tx, output.as_str(), station)?;
            if let Some(next) = next_operation {
                for target in next_stations(tx, work_order, next)? {
                    dispatch_lot(tx, output.as_str(), &target)?;
                }
            }
            refresh_used_up(tx, output.as_str(), now)?;
        }
        _ => {}
    }
    Ok(())
}

/// Where a made lot goes next: the stations of its next operation in the routing of the work
/// order's product; failing that, the stations the work order is dispatched to; failing that, all.
/// A finished unit (no next operation) goes to no station: none consumes it.
fn next_stations(
    tx: &Transaction<'_>,
    work_order: &WorkOrderId,
    next: &OperationId,
) -> Result<Vec<String>> {
    let order = match load_record(tx, "work_order", work_order.as_str())? {
        Some(MasterRecord::WorkOrder(order)) => Some(order),
        _ => None,
    };
    if let Some(order) = &order
        && let Some(MasterRecord::Routing(routing)) =
            load_record(tx, "routing", order.product.as_str())?
        && let Some(step) = routing.steps.iter().find(|step| &step.operation == next)
        && !step.stations.is_empty()
    {
        return Ok(step.stations.iter().map(|s| s.to_string()).collect());
    }
    let stations: Vec<String> = order
        .map(|order| order.stations.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    Ok(if stations.is_empty() {
        vec!["*".to_owned()]
    } else {
        stations
    })
}

fn dispatch_lot(tx: &Transaction<'_>, lot: &str, station: &str) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO lot_dispatch (lot, station) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    )?
    .execute(params![lot, station])?;
    Ok(())
}

/// Makes a known lot's record reach `station` if it did not already: a new dispatch row and a new
/// version, because the station's cursor may already be past the record's old one.
fn reach_station(tx: &Transaction<'_>, lot: &str, station: &str) -> Result<()> {
    let reaches: Option<bool> = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM lot_dispatch WHERE lot = ?1 AND station IN ('*', ?2))
             FROM master_records WHERE kind = 'lot' AND key = ?1",
        )?
        .query_row(params![lot, station], |row| row.get(0))
        .optional()?;
    if reaches != Some(false) {
        // Unknown to central (nothing to send), or already sent to this station.
        return Ok(());
    }
    dispatch_lot(tx, lot, station)?;
    tx.prepare_cached(
        "UPDATE master_records SET version = (SELECT MAX(version) + 1 FROM master_records)
         WHERE kind = 'lot' AND key = ?1",
    )?
    .execute(params![lot])?;
    Ok(())
}

/// True when what was drawn from the lot plant-wide reaches its quantity.
fn used_up(conn: &Connection, lot: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT l.quantity > 0 AND COALESCE(c.consumed, 0) >= l.quantity
             FROM lots l LEFT JOIN lot_consumption c ON c.lot = l.id WHERE l.id = ?1",
        )?
        .query_row(params![lot], |row| row.get::<_, bool>(0))
        .optional()?
        .unwrap_or(false))
}

/// A released lot whose consumption reached its quantity becomes used up (a new version, so every
/// station refuses it). A hold set at central is never overwritten: it stays until released. A lot
/// that central found used up and whose consumption a correction then gave back is released again;
/// one that came used up from elsewhere (an import) is left as it came.
fn refresh_used_up(tx: &Transaction<'_>, lot: &str, now: &str) -> Result<()> {
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM lots WHERE id = ?1")?
        .query_row(params![lot], |row| row.get(0))
        .optional()?;
    let from = match status.as_deref().and_then(parse_lot_status) {
        Some(status @ (LotStatus::Released | LotStatus::Consumed)) => status,
        _ => return Ok(()),
    };
    let to = match (from, used_up(tx, lot)?) {
        (LotStatus::Released, true) => LotStatus::Consumed,
        (LotStatus::Consumed, false) if used_up_by_consumption(tx, lot)? => LotStatus::Released,
        _ => return Ok(()),
    };
    let Some(mut record) = load_lot_record(tx, lot)? else {
        return Ok(());
    };
    if record.status != from {
        return Ok(());
    }
    record.status = to;
    record.status_reason = None;
    record.status_at = Some(parse_timestamp(now)?);
    if let Some(version) = upsert_record(tx, &MasterRecord::Lot(record.clone()))? {
        log_status(tx, &record, version, now, "consumption")?;
    }
    Ok(())
}

/// Whether the lot's latest status change was central finding it used up by what was drawn
/// from it: only that may be undone when a correction gives the quantity back.
fn used_up_by_consumption(conn: &Connection, lot: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT status = 'consumed' AND source = 'consumption' FROM lot_status_log
             WHERE lot = ?1 ORDER BY rowid DESC LIMIT 1",
        )?
        .query_row(params![lot], |row| row.get::<_, bool>(0))
        .optional()?
        .unwrap_or(false))
}

/// Adds `milli` to what was drawn from `lot` plant-wide.
fn add_consumption(tx: &Transaction<'_>, lot: &str, milli: i64, at: DateTime<Utc>) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO lot_consumption (lot, consumed, last_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (lot) DO UPDATE SET consumed = consumed + excluded.consumed,
            last_at = MAX(last_at, excluded.last_at)",
    )?
    .execute(params![lot, milli, timestamp(at)])?;
    Ok(())
}

/// Who decided a lot's hold or release.
#[derive(Clone, Copy)]
enum LotDecision<'a> {
    /// An admin at central, at this time: central's word on its own record, applied as given.
    Central(DateTime<Utc>),
    /// A station's `LotHeld` or `LotReleased`: the last decision by time wins, so one older than
    /// the lot's current status changes nothing (it arrived late, after a newer one).
    Station(&'a Event),
}

/// Puts a lot on hold (`Some(reason)`) or releases it (`None`, to used up if it is): a new version
/// of its master record, stamped with the time of the decision, which every station the lot is
/// dispatched to applies at its next pull. The station that decided hears central's record too,
/// so its own decision gives way to the record once central has taken it in. Returns the record
/// as it stands and the new version (`None`: unchanged), or `None` for a lot central does not know.
fn decide_lot_status(
    tx: &Transaction<'_>,
    lot: &str,
    hold: Option<&str>,
    decision: LotDecision<'_>,
) -> Result<Option<(Lot, Option<i64>)>> {
    let Some(mut record) = load_lot_record(tx, lot)? else {
        return Ok(None);
    };
    let (at, source, station) = match decision {
        LotDecision::Central(at) => (at, "central".to_owned(), None),
        LotDecision::Station(event) => (
            event.at,
            format!("station {} ({})", event.station, event.actor),
            Some(event.station.as_str()),
        ),
    };
    let unchanged = |tx: &Transaction<'_>, record: Lot| -> Result<Option<(Lot, Option<i64>)>> {
        if let Some(station) = station {
            reach_station(tx, lot, station)?;
        }
        Ok(Some((record, None)))
    };
    let held = matches!(record.status, LotStatus::OnHold | LotStatus::Quarantined);
    // A station's hold never loses to a clock: a lot not held now is held, whenever the hold was
    // decided (an offline station's hold must not vanish behind a later used-up or release). A
    // lot held already keeps the hold it has. Which hold a station's release lifts is checked at
    // ingest (`release_problem`).
    if station.is_some() && hold.is_some() && held {
        return unchanged(tx, record);
    }
    let before = (record.status, record.status_reason.clone());
    match hold {
        Some(reason) => {
            record.status = LotStatus::OnHold;
            record.status_reason = Some(reason.to_owned());
        }
        None if matches!(record.status, LotStatus::OnHold | LotStatus::Quarantined) => {
            record.status = if used_up(tx, lot)? {
                LotStatus::Consumed
            } else {
                LotStatus::Released
            };
            record.status_reason = None;
        }
        None => {}
    }
    if (record.status, &record.status_reason) == (before.0, &before.1) {
        return unchanged(tx, record);
    }
    record.status_at = Some(at);
    if let Some(station) = station {
        dispatch_lot(tx, lot, station)?;
    }
    let version = upsert_record(tx, &MasterRecord::Lot(record.clone()))?;
    if let Some(version) = version {
        log_status(tx, &record, version, &timestamp(at), &source)?;
    }
    Ok(Some((record, version)))
}

/// Moves central's projections of a corrected fact from `was` to `now`: what was drawn from the
/// lots (and whether they are used up), the order's counts at the station, or the genealogy links
/// of the output. The corrected event was checked at ingest ([`correction_problem`]).
fn project_correction(
    tx: &Transaction<'_>,
    event: &Event,
    now: &str,
    units: &mut PendingUnits,
) -> Result<()> {
    let EventKind::Corrected {
        corrects,
        work_order,
        was,
        now: value,
        ..
    } = &event.kind
    else {
        return Ok(());
    };
    let station = event.station.as_str();
    match (was, value) {
        (
            Correction::Consumption {
                lot: was_lot,
                quantity: was_quantity,
            },
            Correction::Consumption { lot, quantity },
        ) => {
            tx.prepare_cached(
                "UPDATE lot_consumption SET consumed = MAX(consumed - ?2, 0) WHERE lot = ?1",
            )?
            .execute(params![was_lot.as_str(), was_quantity.milli()])?;
            add_consumption(tx, lot.as_str(), quantity.milli(), event.at)?;
            refresh_used_up(tx, was_lot.as_str(), now)?;
            if lot != was_lot {
                refresh_used_up(tx, lot.as_str(), now)?;
            }
        }
        (
            Correction::Count {
                produced: was_produced,
                rejected: was_rejected,
            },
            Correction::Count { produced, rejected },
        ) => {
            let Some(work_order) = work_order else {
                // Units counted on no order are in no report here.
                return Ok(());
            };
            // The batch's units so far are summed in memory: they count before this correction.
            units.flush(tx, station, now)?;
            tx.prepare_cached(
                "UPDATE work_order_progress SET
                    produced = MAX(produced - ?3, 0) + ?4,
                    rejected = MAX(rejected - ?5, 0) + ?6,
                    updated_at = ?7
                 WHERE work_order = ?1 AND station = ?2",
            )?
            .execute(params![
                work_order.as_str(),
                station,
                to_sql_int(*was_produced),
                to_sql_int(*produced),
                to_sql_int(*was_rejected),
                to_sql_int(*rejected),
                now
            ])?;
        }
        (Correction::Inputs { .. }, Correction::Inputs { inputs }) => {
            let Some(made) = stored_event(tx, station, *corrects)? else {
                return Ok(());
            };
            let EventKind::OutputCreated { output, .. } = &made.kind else {
                return Ok(());
            };
            tx.prepare_cached("DELETE FROM lot_edges WHERE output = ?1 AND station = ?2")?
                .execute(params![output.as_str(), station])?;
            link_inputs(tx, &made, inputs)?;
        }
        // Refused at ingest: a correction's two values are of one kind.
        _ => {}
    }
    Ok(())
}

/// Links the output `made` created to each of `inputs` in the genealogy, with where, when, in
/// which order and operation and by whom it was made. A link already there stays as it is.
fn link_inputs(tx: &Transaction<'_>, made: &Event, inputs: &[LotId]) -> Result<()> {
    let EventKind::OutputCreated {
        work_order,
        operation,
        output,
        operator,
        ..
    } = &made.kind
    else {
        return Ok(());
    };
    let at = timestamp(made.at);
    let operator = operator.as_ref().map(|badge| badge.as_str());
    let mut edge = tx.prepare_cached(
        "INSERT INTO lot_edges (output, input, station, work_order, operation, at, operator)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (output, input) DO NOTHING",
    )?;
    for input in inputs {
        edge.execute(params![
            output.as_str(),
            input.as_str(),
            made.station.as_str(),
            work_order.as_str(),
            operation.as_str(),
            at,
            operator
        ])?;
    }
    Ok(())
}

/// Event `seq` of `station` as central stored it.
fn stored_event(conn: &Connection, station: &str, seq: u64) -> Result<Option<Event>> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM events WHERE station = ?1 AND seq = ?2")?
        .query_row(params![station, to_sql_int(seq)], |row| row.get(0))
        .optional()?;
    body.map(|body| {
        serde_json::from_str(&body)
            .map_err(|e| DbError::Corrupt(format!("event {seq} of station {station}: {e}")))
    })
    .transpose()
}

fn log_status(conn: &Connection, lot: &Lot, version: i64, at: &str, source: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO lot_status_log (lot, version, status, reason, at, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        lot.id.as_str(),
        version,
        lot_status_text(lot.status),
        lot.status_reason,
        at,
        source
    ])?;
    Ok(())
}

fn load_record(conn: &Connection, kind: &str, key: &str) -> Result<Option<MasterRecord>> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM master_records WHERE kind = ?1 AND key = ?2")?
        .query_row(params![kind, key], |row| row.get(0))
        .optional()?;
    body.map(|body| {
        serde_json::from_str(&body).map_err(|e| DbError::Corrupt(format!("{kind} {key}: {e}")))
    })
    .transpose()
}

fn load_lot_record(conn: &Connection, lot: &str) -> Result<Option<Lot>> {
    match load_record(conn, "lot", lot)? {
        None => Ok(None),
        Some(MasterRecord::Lot(record)) => Ok(Some(record)),
        Some(_) => Err(DbError::Corrupt(format!("lot {lot} is another kind"))),
    }
}

/// How a status is stored in `lots.status`: its wire name.
fn lot_status_text(status: LotStatus) -> &'static str {
    match status {
        LotStatus::Released => "released",
        LotStatus::OnHold => "on_hold",
        LotStatus::Quarantined => "quarantined",
        LotStatus::Consumed => "consumed",
        LotStatus::Scrapped => "scrapped",
        LotStatus::Returned => "returned",
    }
}

fn parse_lot_status(text: &str) -> Option<LotStatus> {
    [
        LotStatus::Released,
        LotStatus::OnHold,
        LotStatus::Quarantined,
        LotStatus::Consumed,
        LotStatus::Scrapped,
        LotStatus::Returned,
    ]
    .into_iter()
    .find(|status| lot_status_text(*status) == text)
}

fn parse_timestamp(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| DbError::Corrupt(format!("time {text:?}: {e}")))
}

/// Keeps `lots` in step with a lot's master record. Facts only a station knows (who first scanned
/// a supplier lot, where and when) survive an import that does not carry them.
fn mirror_lot(tx: &Transaction<'_>, lot: &Lot) -> Result<()> {
    let (origin, station, work_order, operation, at) = match &lot.origin {
        LotOrigin::Supplier => ("supplier", None, None, None, None),
        LotOrigin::Produced {
            station,
            work_order,
            operation,
            at,
        } => (
            "produced",
            Some(station.as_str()),
            Some(work_order.as_str()),
            Some(operation.as_str()),
            Some(timestamp(*at)),
        ),
        // The lot it was split from is its genealogy edge.
        LotOrigin::Split { station, at, .. } => (
            "split",
            Some(station.as_str()),
            None,
            None,
            Some(timestamp(*at)),
        ),
    };
    tx.prepare_cached(
        "INSERT INTO lots (id, material, quantity, status, status_reason, origin, station,
                           work_order, operation, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (id) DO UPDATE SET material = excluded.material,
            quantity = excluded.quantity, status = excluded.status,
            status_reason = excluded.status_reason, origin = excluded.origin,
            station = COALESCE(excluded.station, lots.station),
            work_order = COALESCE(excluded.work_order, lots.work_order),
            operation = COALESCE(excluded.operation, lots.operation),
            created_at = COALESCE(excluded.created_at, lots.created_at)",
    )?
    .execute(params![
        lot.id.as_str(),
        lot.material.as_str(),
        lot.quantity.milli(),
        lot_status_text(lot.status),
        lot.status_reason,
        origin,
        station,
        work_order,
        operation,
        at
    ])?;
    Ok(())
}

/// Projects what central held before the genealogy tables existed: imported lots (sent to every
/// station, as before), then the lot events already ingested, in the order they arrived.
fn backfill_lots(tx: &Transaction<'_>) -> Result<()> {
    let mut statement =
        tx.prepare("SELECT body FROM master_records WHERE kind = 'lot' ORDER BY version")?;
    let bodies = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for body in bodies {
        if let MasterRecord::Lot(lot) =
            serde_json::from_str(&body).map_err(|e| DbError::Corrupt(format!("master lot: {e}")))?
        {
            mirror_lot(tx, &lot)?;
            dispatch_lot(tx, lot.id.as_str(), "*")?;
        }
    }
    let mut statement = tx.prepare(
        "SELECT body, received_at FROM events
         WHERE kind IN ('lot_registered', 'lot_loaded', 'lot_consumed', 'output_created')
         ORDER BY received_at, station, seq",
    )?;
    let rows = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (body, received_at) in rows {
        let event: Event = serde_json::from_str(&body)
            .map_err(|e| DbError::Corrupt(format!("stored event: {e}")))?;
        // Event by event: these rows span stations and receipt times, so nothing is summed.
        let mut units = PendingUnits::default();
        project(tx, &event, &received_at, &mut units)?;
        units.flush(tx, event.station.as_str(), &received_at)?;
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
    tx.prepare_cached(
        "INSERT INTO work_order_progress (work_order, station, status, updated_at)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (work_order, station) DO UPDATE SET
            status = excluded.status, updated_at = excluded.updated_at",
    )?
    .execute(params![work_order, station, status, now])?;
    Ok(())
}

/// Stores a master record under the next version unless it is unchanged. Returns the new version,
/// or `None` when nothing changed (and nothing is sent to stations).
/// What imported rows may refer to: products, materials, routings, work-order numbers, stations.
fn load_catalog(tx: &Transaction<'_>) -> Result<Catalog> {
    let mut catalog = Catalog::default();
    let mut statement = tx.prepare_cached(
        "SELECT kind, key, body FROM master_records
         WHERE kind IN ('product', 'material', 'routing', 'work_order')",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (kind, key, body) = row?;
        let record: MasterRecord = serde_json::from_str(&body)
            .map_err(|e| DbError::Corrupt(format!("{kind} {key}: {e}")))?;
        match record {
            MasterRecord::Product(product) => {
                catalog.products.insert(product.id);
            }
            MasterRecord::Material(material) => {
                catalog.materials.insert(material.id);
            }
            MasterRecord::Routing(routing) => {
                catalog.routings.insert(routing.product.clone(), routing);
            }
            MasterRecord::WorkOrder(order) => {
                catalog
                    .work_order_numbers
                    .insert(order.numeric_id, order.id);
            }
            _ => {}
        }
    }
    let mut statement = tx.prepare_cached("SELECT id, line FROM stations")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
    })?;
    for row in rows {
        let (station, line) = row?;
        catalog.stations.insert(StationId::new(station), line);
    }
    Ok(catalog)
}

/// Gives every station with a token that has no settings record the default one.
fn ensure_station_configs(conn: &mut Connection) -> Result<()> {
    let missing: Vec<String> = conn
        .prepare(
            "SELECT id FROM stations WHERE token_hash IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM master_records m WHERE m.kind = 'station_config' AND m.key = stations.id)
             ORDER BY id",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if missing.is_empty() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for station in missing {
        let config = StationConfig::new(StationId::new(station));
        upsert_record(&tx, &MasterRecord::StationConfig(config))?;
    }
    tx.commit()?;
    Ok(())
}

/// The newest master-data version (0 before any).
fn newest_version(conn: &Connection) -> Result<u64> {
    let newest: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(version), 0) FROM master_records")?
        .query_row([], |row| row.get(0))?;
    Ok(from_sql_int(newest))
}

fn upsert_record(tx: &Transaction<'_>, record: &MasterRecord) -> Result<Option<i64>> {
    let (kind, key) = record.key();
    let body = serde_json::to_string(record)
        .map_err(|e| DbError::Corrupt(format!("{kind} {key}: {e}")))?;
    let existing: Option<String> = tx
        .prepare_cached("SELECT body FROM master_records WHERE kind = ?1 AND key = ?2")?
        .query_row(params![kind, key], |row| row.get(0))
        .optional()?;
    if existing.as_deref() == Some(body.as_str()) {
        return Ok(None);
    }
    // Versions only grow: an update takes a version above every existing one, so MAX never falls.
    let version: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(version), 0) + 1 FROM master_records")?
        .query_row([], |row| row.get(0))?;
    tx.prepare_cached(
        "INSERT INTO master_records (kind, key, version, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, body = excluded.body",
    )?
    .execute(params![kind, key, version, body])?;
    if let MasterRecord::Lot(lot) = record {
        mirror_lot(tx, lot)?;
    }
    if let MasterRecord::WorkOrder(work_order) = record {
        // Rows are never deleted: a station the order was taken from must still be sent this
        // version, or it would go on building it.
        for station in &work_order.stations {
            tx.execute(
                "INSERT INTO work_order_dispatch (work_order, station) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                params![key, station.as_str()],
            )?;
        }
    }
    Ok(Some(version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewEvent;
    use uuid::Uuid;

    fn chain(station: &str, kinds: Vec<EventKind>) -> Vec<Event> {
        let at = DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default();
        let mut prev = GENESIS_HASH.to_owned();
        kinds
            .into_iter()
            .enumerate()
            .map(|(index, kind)| {
                let event = Event::seal(
                    NewEvent {
                        at,
                        actor: Actor::Plc,
                        kind,
                    },
                    StationId::from(station),
                    index as u64 + 1,
                    Uuid::now_v7(),
                    prev.clone(),
                );
                prev = event.hash.clone();
                event
            })
            .collect()
    }

    #[test]
    fn a_database_from_before_genealogy_is_projected_when_it_is_upgraded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("central.db");
        let events = chain(
            "L1-S1",
            vec![
                EventKind::OutputCreated {
                    work_order: WorkOrderId::from("WO-1"),
                    operation: OperationId::from("OP10"),
                    output: LotId::from("OUT-1"),
                    form: OutputForm::Lot,
                    material: MaterialId::from("M"),
                    quantity: Quantity::units(2),
                    inputs: vec![LotId::from("IN-1")],
                    operator: None,
                    next_operation: None,
                    machine_state: None,
                },
                EventKind::LotConsumed {
                    work_order: WorkOrderId::from("WO-1"),
                    operation: OperationId::from("OP10"),
                    material: MaterialId::from("S"),
                    lot: LotId::from("IN-1"),
                    quantity: Quantity::units(5),
                    basis: crate::domain::ConsumptionBasis::BomRate,
                },
            ],
        );
        {
            // Central as shipped before this step: schema 1, an imported lot, ingested events.
            let mut conn = crate::store::connect(&path, false).expect("connect");
            let tx = conn.transaction().expect("tx");
            tx.execute_batch(MIGRATIONS[0]).expect("schema 1");
            tx.pragma_update(None, "user_version", 1).expect("version");
            let imported = MasterRecord::Lot(Lot {
                id: LotId::from("IN-1"),
                material: MaterialId::from("S"),
                quantity: Quantity::units(5),
                expiry: None,
                status: LotStatus::Released,
                status_reason: None,
                origin: LotOrigin::Supplier,
                status_at: None,
                rework: None,
            });
            tx.execute(
                "INSERT INTO master_records (kind, key, version, body) VALUES ('lot', 'IN-1', 1, ?1)",
                params![serde_json::to_string(&imported).expect("json")],
            )
            .expect("imported lot");
            for event in &events {
                let body = serde_json::to_string(event).expect("json");
                insert_event(&tx, event, "2025-11-24T16:00:00.000Z", &body).expect("event");
            }
            tx.commit().expect("commit");
        }
        let db = Db::open(&path).expect("upgrade");
        let out = db
            .lot(&LotId::from("OUT-1"))
            .expect("read")
            .expect("OUT-1 projected");
        assert!(matches!(out.origin, LotOrigin::Produced { .. }));
        // 5 of 5 drawn: the imported lot is used up, as a new version every station receives.
        let input = db.lot(&LotId::from("IN-1")).expect("read").expect("IN-1");
        assert_eq!(input.status, LotStatus::Consumed);
        let page = db
            .changes(&StationId::from("L1-S2"), 1, 100, Utc::now())
            .expect("changes");
        assert_eq!(page.changes.len(), 1, "{page:?}");
        let tree = db
            .genealogy(&LotId::from("OUT-1"), TraceDirection::Backward, 20)
            .expect("genealogy")
            .expect("known");
        assert_eq!(tree.root.children.len(), 1);
        assert_eq!(tree.root.children[0].lot, LotId::from("IN-1"));
    }

    fn output(id: &str) -> EventKind {
        EventKind::OutputCreated {
            work_order: WorkOrderId::from("WO-24001"),
            operation: OperationId::from("OP10"),
            output: LotId::from(id),
            form: OutputForm::Lot,
            material: MaterialId::from("BC-200-M"),
            quantity: Quantity::units(20),
            inputs: vec![LotId::from("C24-1107")],
            operator: None,
            next_operation: Some(OperationId::from("OP20")),
            machine_state: None,
        }
    }

    /// Units are summed per work order over a batch; the progress rows must come out exactly as
    /// one event at a time leaves them, whatever the interleaving with status changes.
    #[test]
    fn a_batch_projects_progress_as_its_events_one_by_one_do() {
        let units = |order: &str, produced: u64, rejected: u64| EventKind::UnitsProduced {
            work_order: Some(WorkOrderId::from(order)),
            produced,
            rejected,
            plc_epoch: 1,
            processed_total: 0,
            defective_total: 0,
        };
        let order = |id: &str| WorkOrderId::from(id);
        let events = chain(
            "L1-S1",
            vec![
                units("WO-24001", 2, 1),
                EventKind::WorkOrderSelected {
                    work_order: order("WO-24001"),
                },
                units("WO-24002", 1, 0),
                EventKind::WorkOrderSelected {
                    work_order: order("WO-24003"),
                },
                units("WO-24003", 4, 0),
                units("WO-24001", 3, 0),
                EventKind::WorkOrderPaused {
                    work_order: order("WO-24001"),
                },
                units("WO-24001", 5, 2),
                EventKind::WorkOrderCompleted {
                    work_order: order("WO-24002"),
                    produced: 1,
                    rejected: 0,
                },
                units("WO-24002", 7, 0),
                units("WO-24999", 9, 9),
                units("WO-24003", 1, 1),
                units("WO-24004", 1, 0),
                EventKind::WorkOrderSelected {
                    work_order: order("WO-24004"),
                },
            ],
        );
        let now = Utc::now();
        let progress = |db: &Db| {
            db.conn
                .prepare(
                    "SELECT work_order, station, status, produced, rejected, updated_at
                     FROM work_order_progress ORDER BY work_order, station",
                )
                .expect("prepare")
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, String>(5)?,
                    ))
                })
                .expect("query")
                .collect::<rusqlite::Result<Vec<_>>>()
                .expect("rows")
        };
        let station = StationId::from("L1-S1");
        let one_by_one_dir = tempfile::tempdir().expect("temp dir");
        let mut one_by_one = demo_db(&one_by_one_dir);
        for event in &events {
            one_by_one
                .ingest(&station, std::slice::from_ref(event), now)
                .expect("ingest one");
        }
        let batch_dir = tempfile::tempdir().expect("temp dir");
        let mut batch = demo_db(&batch_dir);
        let ack = batch.ingest(&station, &events, now).expect("ingest batch");
        assert_eq!(ack.acked_through, 14);
        assert_eq!(ack.quarantined.len(), 1, "the unknown order is set aside");
        let expected = progress(&one_by_one);
        assert_eq!(progress(&batch), expected);
        for (order, status, produced) in [("WO-24001", "paused", 10), ("WO-24004", "running", 1)] {
            assert!(
                expected
                    .iter()
                    .any(|row| row.0 == order && row.2 == status && row.3 == produced),
                "{order}: {expected:?}"
            );
        }
    }

    fn demo_db(dir: &tempfile::TempDir) -> Db {
        let mut db = Db::open(&dir.path().join("central.db")).expect("open");
        let today = DateTime::from_timestamp(1_764_000_000, 0)
            .unwrap_or_default()
            .date_naive();
        db.upsert_master(&crate::central::demo::master_records(today), Utc::now())
            .expect("demo");
        db
    }

    /// A WIP lot routed to L1-S2 only is held at central. A second OP20 station (or any station
    /// whose BOM has the material) scans its label (AI 240 + 10 + 30): the station does not know
    /// the lot, so it registers it as a new supplier lot and loads it. Central keeps its (held)
    /// record but never sends it to that station: the hold never reaches the station using it.
    #[test]
    fn a_station_that_registers_a_known_lot_receives_its_record_and_hold() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut db = demo_db(&dir);
        let now = Utc::now();
        db.ingest(
            &StationId::from("L1-S1"),
            &chain("L1-S1", vec![output("OUT-1")]),
            now,
        )
        .expect("ingest S1");
        db.set_lot_hold(&LotId::from("OUT-1"), Some("leak test failed"), now)
            .expect("hold");
        let registered = EventKind::LotRegistered {
            lot: LotId::from("OUT-1"),
            material: MaterialId::from("BC-200-M"),
            quantity: Quantity::units(20),
            expiry: None,
            gtin: None,
        };
        db.ingest(
            &StationId::from("L1-S2B"),
            &chain("L1-S2B", vec![registered]),
            now,
        )
        .expect("ingest S2B");
        let page = db
            .changes(&StationId::from("L1-S2B"), 0, 10_000, now)
            .expect("changes");
        assert!(
            page.changes.iter().any(|c| matches!(&c.record,
                MasterRecord::Lot(lot) if lot.id.as_str() == "OUT-1" && lot.status == LotStatus::OnHold)),
            "L1-S2B uses OUT-1 but will never learn it is on hold"
        );
    }

    /// A station that is sent none of the newer records keeps its cursor where it was: every
    /// pull rescans every lot and serial made plant-wide since (a full scan per pull per station).
    #[test]
    fn the_downlink_cursor_moves_past_records_not_meant_for_the_station() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut db = demo_db(&dir);
        let now = Utc::now();
        let start = db
            .changes(&StationId::from("L1-S1"), 0, 100_000, now)
            .expect("page")
            .cursor;
        let outputs: Vec<EventKind> = (1..=50).map(|n| output(&format!("OUT-{n}"))).collect();
        db.ingest(&StationId::from("L1-S1"), &chain("L1-S1", outputs), now)
            .expect("ingest");
        // 50 totes routed to L1-S2 only: nothing for L1-S1 (nor L1-S3).
        let page = db
            .changes(&StationId::from("L1-S3"), start, 500, now)
            .expect("page");
        assert!(page.changes.is_empty());
        assert!(
            page.cursor > start,
            "cursor stays at {start}: the next pull scans the same 50 records again"
        );
    }
}
