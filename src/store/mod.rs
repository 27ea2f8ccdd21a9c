//! The station's local store: one SQLite file holding the append-only event log (which is also the
//! outbox), the projections derived from it, the master data learned from central and the sync state.
//!
//! Every connection runs with WAL, `synchronous=FULL` and foreign keys on: an event is durable when
//! `append` returns, and only then may the operator see OK.

mod audit;
mod genealogy;
mod machine;
mod projection;
mod schema;

pub use audit::{ChainWalker, LogVerdict, VerifyReport, verify_chain, verify_log};

use crate::domain::{Event, MasterData, NewEvent, State, StationId, apply};
use crate::protocol::{BatchAck, ChangePage, MasterRecord};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use serde_json::value::RawValue;
use std::path::{Path, PathBuf};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    /// The file could not be created owner-only, or its permissions tightened.
    #[error("database {path}: {source}")]
    Permissions {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    #[error("this database belongs to station {found}, not {expected}")]
    WrongStation { expected: String, found: String },
    #[error(
        "database schema version {found} is newer than this program knows ({known}); upgrade takt"
    )]
    TooNew { found: i64, known: i64 },
    /// A write failed and the state could not be read back either: memory may be ahead of disk
    /// until [`Store::load_state`] succeeds again.
    #[error("{write}; and the state could not be read back ({read})")]
    StateUnknown { write: String, read: String },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Opens a connection with the pragmas every Takt connection must have. Opened read-write, the
/// file is created (or tightened to) owner-only first: it holds the plant's records and, at
/// central, token hashes.
pub fn connect(path: &Path, read_only: bool) -> Result<Connection> {
    if !read_only {
        crate::owner_only::prepare_database(path).map_err(|source| StoreError::Permissions {
            path: path.to_owned(),
            source,
        })?;
    }
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let open_error = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open_with_flags(path, flags).map_err(open_error)?;
    configure(&conn).map_err(open_error)?;
    Ok(conn)
}

/// WAL is persistent, but `synchronous` is per connection: set both every time.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let known = schema::MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (index, step) in schema::MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// The station's single writer.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    station: StationId,
    head: Option<(u64, String)>,
}

/// Where sync stands, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncStatus {
    pub last_seq: u64,
    pub acked_through: u64,
    pub downlink_cursor: u64,
    pub last_server_time: Option<DateTime<Utc>>,
}

impl SyncStatus {
    pub fn backlog(&self) -> u64 {
        self.last_seq.saturating_sub(self.acked_through)
    }
}

impl Store {
    /// Opens (creating and migrating if needed) the store of `station` at `path`.
    pub fn open(path: &Path, station: &StationId) -> Result<Store> {
        let mut conn = connect(path, false)?;
        migrate(&mut conn)?;
        let owner: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'station'", [], |row| {
                row.get(0)
            })
            .optional()?;
        match owner {
            Some(found) if found != station.as_str() => {
                return Err(StoreError::WrongStation {
                    expected: station.to_string(),
                    found,
                });
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('station', ?1)",
                    params![station.as_str()],
                )?;
            }
        }
        let head = conn
            .query_row(
                "SELECT seq, hash FROM event_log ORDER BY seq DESC LIMIT 1",
                [],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, String>(1)?)),
            )
            .optional()?;
        Ok(Store {
            conn,
            path: path.to_owned(),
            station: station.clone(),
            head,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn station(&self) -> &StationId {
        &self.station
    }

    /// Event `seq` of this station's log, as written.
    pub fn event(&self, seq: u64) -> Result<Option<Event>> {
        read_event(&self.conn, seq)
    }

    /// The newest facts a person may correct (consumptions, counts, outputs), newest first.
    pub fn recent_correctable(&self, limit: usize) -> Result<Vec<Event>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT body FROM event_log
             WHERE kind IN ('lot_consumed', 'units_produced', 'output_created')
             ORDER BY seq DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![limit], |row| row.get::<_, String>(0))?;
        let mut events = Vec::new();
        for body in rows {
            events.push(
                serde_json::from_str(&body?)
                    .map_err(|e| StoreError::Corrupt(format!("event body: {e}")))?,
            );
        }
        Ok(events)
    }

    /// Sequence number of the newest event (0 when the log is empty).
    pub fn last_seq(&self) -> u64 {
        self.head.as_ref().map_or(0, |(seq, _)| *seq)
    }

    /// State as the projections and master data hold it.
    pub fn load_state(&self) -> Result<State> {
        let master = load_master(&self.conn)?;
        let mut state = State::new(self.station.clone(), master);
        state.central_heard = central_heard(&self.conn)?;
        projection::load(&self.conn, &mut state)?;
        Ok(state)
    }

    /// Rebuilds state by replaying the whole log over the master data. Must equal `load_state`.
    pub fn replay_state(&self) -> Result<State> {
        let master = load_master(&self.conn)?;
        let mut state = State::new(self.station.clone(), master);
        state.central_heard = central_heard(&self.conn)?;
        for event in read_events_after(&self.conn, 0, u64::MAX)? {
            apply(&mut state, &event);
        }
        Ok(state)
    }

    /// Appends events and updates the projections in one transaction. A failed write leaves memory
    /// and disk agreeing: state is read back from the (rolled back) projections.
    pub fn append(&mut self, state: &mut State, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // Applying in place and reading back on failure keeps the hot path free of a state copy
        // that grows with every lot and serial a station makes.
        match self.append_in_place(state, events) {
            Ok(sealed) => Ok(sealed),
            Err(error) => {
                let settings = state.settings.clone();
                match self.load_state() {
                    Ok(on_disk) => {
                        *state = on_disk;
                        state.settings = settings;
                        Err(error)
                    }
                    Err(reload) => Err(StoreError::StateUnknown {
                        write: error.to_string(),
                        read: reload.to_string(),
                    }),
                }
            }
        }
    }

    fn append_in_place(&mut self, next: &mut State, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        let mut sealed = Vec::with_capacity(events.len());
        let (mut seq, mut prev_hash) = self
            .head
            .clone()
            .unwrap_or((0, crate::domain::GENESIS_HASH.to_owned()));
        let tx = self.conn.transaction()?;
        for new in events {
            seq += 1;
            let event = Event::seal(new, self.station.clone(), seq, new_event_id(), prev_hash);
            insert_event(&tx, &event)?;
            apply(next, &event);
            prev_hash = event.hash.clone();
            sealed.push(event);
        }
        projection::write(&tx, next, &sealed)?;
        tx.commit()?;
        self.head = Some((seq, prev_hash));
        Ok(sealed)
    }

    /// Applies a page of master data and its cursor in one transaction, and reloads master data into
    /// `state`.
    pub fn apply_changes(&mut self, state: &mut State, page: &ChangePage) -> Result<()> {
        let tx = self.conn.transaction()?;
        for change in &page.changes {
            let (kind, key) = change.record.key();
            let body = serde_json::to_string(&change.record)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.execute(
                "INSERT INTO master_record (kind, key, version, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, body = excluded.body
                 WHERE excluded.version >= master_record.version",
                params![kind, key, change.version as i64, body],
            )?;
        }
        tx.execute(
            "UPDATE sync_state SET downlink_cursor = MAX(downlink_cursor, ?1), last_server_time = ?2",
            params![page.cursor as i64, page.server_time.to_rfc3339()],
        )?;
        let master = load_master(&tx)?;
        tx.commit()?;
        state.master = std::sync::Arc::new(master);
        Ok(())
    }

    /// Records central's acknowledgement of everything through `ack.acked_through`, received at
    /// `at` by this station's clock (central answered: see [`Store::record_heard`]).
    pub fn record_ack(
        &mut self,
        state: &mut State,
        ack: &BatchAck,
        at: DateTime<Utc>,
    ) -> Result<()> {
        // Never past our own log: central claiming more than we wrote is a fork, not an ack.
        let through = ack.acked_through.min(self.last_seq());
        self.conn.execute(
            "UPDATE sync_state SET acked_through = MAX(acked_through, ?1), acked_chain_head = ?2,
             last_server_time = ?3, central_heard_at = ?4, last_error = NULL",
            params![
                through as i64,
                ack.chain_head,
                ack.server_time.to_rfc3339(),
                at.to_rfc3339()
            ],
        )?;
        state.central_heard = Some(at);
        Ok(())
    }

    /// Central answered (at `server_time` by its clock, `at` by this station's): the offline grace
    /// window counts from here.
    pub fn record_heard(
        &mut self,
        state: &mut State,
        server_time: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE sync_state SET last_server_time = ?1, central_heard_at = ?2",
            params![server_time.to_rfc3339(), at.to_rfc3339()],
        )?;
        state.central_heard = Some(at);
        Ok(())
    }

    /// Central asked us to resend from `expected_seq` (it lost events, e.g. restored from backup).
    pub fn rewind_ack(&mut self, expected_seq: u64) -> Result<()> {
        self.conn.execute(
            "UPDATE sync_state SET acked_through = ?1",
            params![expected_seq.saturating_sub(1) as i64],
        )?;
        Ok(())
    }

    pub fn sync_status(&self) -> Result<SyncStatus> {
        sync_status(&self.conn)
    }
}

/// When central last answered, by this station's clock.
fn central_heard(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let text: Option<String> = conn.query_row(
        "SELECT central_heard_at FROM sync_state WHERE id = 1",
        [],
        |row| row.get(0),
    )?;
    Ok(text
        .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
        .map(|at| at.with_timezone(&Utc)))
}

/// Read-only queries, from any connection (the sync worker has its own).
pub fn sync_status(conn: &Connection) -> Result<SyncStatus> {
    let (acked_through, downlink_cursor, last_server_time): (i64, i64, Option<String>) = conn
        .query_row(
            "SELECT acked_through, downlink_cursor, last_server_time FROM sync_state WHERE id = 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
    let last_seq: i64 =
        conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM event_log", [], |row| {
            row.get(0)
        })?;
    Ok(SyncStatus {
        last_seq: last_seq as u64,
        acked_through: acked_through as u64,
        downlink_cursor: downlink_cursor as u64,
        last_server_time: last_server_time
            .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
            .map(|at| at.with_timezone(&Utc)),
    })
}

/// The event `seq` of the log, if there is one.
pub fn read_event(conn: &Connection, seq: u64) -> Result<Option<Event>> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM event_log WHERE seq = ?1")?
        .query_row(params![seq as i64], |row| row.get(0))
        .optional()?;
    body.map(|body| {
        serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("event body: {e}")))
    })
    .transpose()
}

/// Events with `seq > after`, in order, at most `limit`.
pub fn read_events_after(conn: &Connection, after: u64, limit: u64) -> Result<Vec<Event>> {
    let mut statement =
        conn.prepare_cached("SELECT body FROM event_log WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement.query_map(params![after as i64, limit], |row| row.get::<_, String>(0))?;
    let mut events = Vec::new();
    for body in rows {
        let body = body?;
        events.push(
            serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("event body: {e}")))?,
        );
    }
    Ok(events)
}

/// An event of the log as it is stored: its seq and its JSON, untouched.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: u64,
    pub json: Box<RawValue>,
}

/// [`read_events_after`] without decoding: the stored JSON of each event, checked to be JSON and
/// nothing more. The sync worker sends it as it is, so a batch costs no parse and re-serialisation
/// here; central decodes and verifies every event anyway.
pub fn read_stored_events_after(
    conn: &Connection,
    after: u64,
    limit: u64,
) -> Result<Vec<StoredEvent>> {
    let mut statement = conn
        .prepare_cached("SELECT seq, body FROM event_log WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = statement.query_map(params![after as i64, limit], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (seq, body) = row?;
        let json = RawValue::from_string(body)
            .map_err(|e| StoreError::Corrupt(format!("event {seq} body: {e}")))?;
        events.push(StoredEvent {
            seq: seq as u64,
            json,
        });
    }
    Ok(events)
}

fn insert_event(tx: &Transaction<'_>, event: &Event) -> Result<()> {
    let body = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut statement = tx.prepare_cached(
        "INSERT INTO event_log (seq, id, station, at, actor, kind, work_order, body, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    statement.execute(params![
        event.seq as i64,
        event.id.to_string(),
        event.station.as_str(),
        event
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        event.actor.to_string(),
        event.kind.name(),
        event.kind.work_order().map(|id| id.as_str()),
        body,
        event.prev_hash,
        event.hash,
    ])?;
    Ok(())
}

fn load_master(conn: &Connection) -> Result<MasterData> {
    let mut master = MasterData::default();
    let mut statement = conn.prepare("SELECT body FROM master_record")?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    for body in rows {
        let record: MasterRecord = serde_json::from_str(&body?)
            .map_err(|e| StoreError::Corrupt(format!("master record: {e}")))?;
        record.apply_to(&mut master);
    }
    Ok(master)
}

/// UUIDv7 from the wall clock: ids sort by creation time across stations.
fn new_event_id() -> Uuid {
    Uuid::now_v7()
}
