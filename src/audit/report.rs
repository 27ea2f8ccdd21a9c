//! `takt audit report`: reading the events an audit asks about from a station's database or
//! central's, in words, and checking the chains they stand in. The words come from
//! [`crate::domain::narrative`]; the printing from `render`.

use crate::central::{Db, DbError};
use crate::domain::narrative::{self, Subject};
use crate::domain::{Badge, Event, EventKind, LotId, MasterData, StationId, WorkOrderId};
use crate::protocol::MasterRecord;
use crate::store::{StoreError, VerifyReport, connect, verify_log};
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}: no such database")]
    Missing(PathBuf),
    #[error("{path}: cannot be read: {detail}")]
    Unreadable { path: PathBuf, detail: String },
    #[error("{0} is neither a station's database nor central's: it holds no Takt event log")]
    NotTakt(PathBuf),
    #[error("{path} is the database of station {found}, not {asked}")]
    OtherStation {
        path: PathBuf,
        found: String,
        asked: String,
    },
    #[error("central's database {path} knows no station {station}")]
    UnknownStation { path: PathBuf, station: String },
    #[error(
        "{arg} {text:?} is not a time: give RFC 3339 (2026-11-25T06:00:00Z) or a day (2026-11-25)"
    )]
    BadTime { arg: &'static str, text: String },
    #[error("--from {from} is after --to {to}: no time lies between them")]
    EmptyWindow { from: String, to: String },
    #[error("central's database {path}: {source}")]
    Central { path: PathBuf, source: DbError },
}

/// The end of the time window as it was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// Up to and including this instant.
    Through(DateTime<Utc>),
    /// Up to, not including, this instant (the midnight after a day given as `--to`).
    Before(DateTime<Utc>),
}

/// The time window of a report: station time (`at`), from inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<Until>,
}

impl Window {
    /// `--from` and `--to` as typed: RFC 3339, or a day `YYYY-MM-DD` meaning the whole UTC day.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> Result<Window, ReportError> {
        let from = from
            .map(|text| match parse_time("--from", text)? {
                Time::Instant(at) => Ok(at),
                Time::Day(day) => Ok(midnight(day)),
            })
            .transpose()?;
        let until = to
            .map(|text| match parse_time("--to", text)? {
                Time::Instant(at) => Ok(Until::Through(at)),
                Time::Day(day) => Ok(Until::Before(midnight(day) + Duration::days(1))),
            })
            .transpose()?;
        let window = Window { from, until };
        if let (Some(from), Some(end)) = (from, window.end())
            && from >= end
        {
            return Err(ReportError::EmptyWindow {
                from: stamp(from),
                to: to.unwrap_or_default().to_owned(),
            });
        }
        Ok(window)
    }

    /// The first instant past the window. Events keep milliseconds, so "through T" is "before
    /// T's millisecond plus one".
    fn end(&self) -> Option<DateTime<Utc>> {
        self.until.map(|until| match until {
            Until::Before(at) => at,
            Until::Through(at) => {
                DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
                    + Duration::milliseconds(1)
            }
        })
    }

    fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from.is_none_or(|from| at >= from) && self.end().is_none_or(|end| at < end)
    }

    /// The window as bounds on the stored `at` text (RFC 3339, milliseconds, `Z`: it sorts as
    /// time does). An open side takes a bound every stored time passes; the parsed event's time
    /// is checked again, so this only spares reading what cannot match.
    fn column_bounds(&self) -> (String, String) {
        (
            self.from.map(stamp).unwrap_or_default(),
            self.end().map(stamp).unwrap_or_else(|| "~".into()),
        )
    }
}

enum Time {
    Instant(DateTime<Utc>),
    Day(NaiveDate),
}

fn parse_time(arg: &'static str, text: &str) -> Result<Time, ReportError> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(Time::Instant(at.with_timezone(&Utc)));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Time::Day)
        .map_err(|_| ReportError::BadTime {
            arg,
            text: text.to_owned(),
        })
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// How `at` is stored in both event tables, and shown in reports.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// What the report is asked about. Every filter given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// At central: one station's events. A station's database holds one station anyway.
    pub station: Option<StationId>,
    pub lot: Option<LotId>,
    pub work_order: Option<WorkOrderId>,
    pub operator: Option<Badge>,
    pub window: Window,
}

impl Filters {
    fn admits(&self, event: &Event) -> bool {
        self.window.contains(event.at)
            && self
                .station
                .as_ref()
                .is_none_or(|station| event.station == *station)
            && self
                .lot
                .as_ref()
                .is_none_or(|lot| narrative::names(event, Subject::Lot(lot)))
            && self
                .work_order
                .as_ref()
                .is_none_or(|wo| narrative::names(event, Subject::WorkOrder(wo)))
            && self
                .operator
                .as_ref()
                .is_none_or(|badge| narrative::names(event, Subject::Operator(badge)))
    }

    /// `lot C24-1107, from 2026-11-25T00:00:00.000Z`, or `none`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(station) = &self.station {
            parts.push(format!("station {station}"));
        }
        if let Some(lot) = &self.lot {
            parts.push(format!("lot {lot}"));
        }
        if let Some(work_order) = &self.work_order {
            parts.push(format!("work order {work_order}"));
        }
        if let Some(badge) = &self.operator {
            parts.push(format!("operator {badge}"));
        }
        if let Some(from) = self.window.from {
            parts.push(format!("from {}", stamp(from)));
        }
        match self.window.until {
            Some(Until::Through(at)) => parts.push(format!("through {}", stamp(at))),
            Some(Until::Before(at)) => parts.push(format!("before {}", stamp(at))),
            None => {}
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

/// Which kind of database a file is: told apart by its tables, not by what the user said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A station's store: its own log, one station.
    Station(StationId),
    /// Central's: every station's log as ingested, with each chain's recorded head.
    Central,
}

/// One event of the report. Field names are the JSON keys and CSV columns: keep them stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// Station time, RFC 3339 with milliseconds.
    pub at: String,
    pub station: String,
    pub seq: u64,
    pub id: String,
    /// The event kind as stored (`lot_loaded`).
    pub kind: String,
    /// The badge, `plc` or `station`, as stored.
    pub actor: String,
    /// The actor in words: badge and name, `PLC`, `station`.
    pub who: String,
    pub what: String,
    pub why: Option<String>,
    /// The event's hash: it ties the row to the chain.
    pub hash: String,
    /// False from the first broken link of the row's chain on: the chain no longer vouches for it.
    pub verified: bool,
}

/// The CSV header, in the order of [`Row`]'s fields (checked by a test).
pub const COLUMNS: [&str; 11] = [
    "at", "station", "seq", "id", "kind", "actor", "who", "what", "why", "hash", "verified",
];

impl Row {
    fn of(event: &Event, names: &MasterData) -> Row {
        let told = narrative::narrate(event, names);
        Row {
            at: stamp(event.at),
            station: event.station.to_string(),
            seq: event.seq,
            id: event.id.to_string(),
            kind: event.kind.name().into(),
            actor: event.actor.to_string(),
            who: narrative::who(&event.actor, names),
            what: told.what,
            why: told.why,
            hash: event.hash.clone(),
            verified: true,
        }
    }
}

/// A chain the report drew on, and whether it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCheck {
    pub station: StationId,
    pub verdict: VerifyReport,
    /// Signatures on an intact chain that do not hold (checked only when the chain holds).
    pub signatures: Vec<crate::domain::signature::SignatureProblem>,
}

impl ChainCheck {
    pub fn broken_at(&self) -> Option<u64> {
        match self.verdict {
            VerifyReport::Intact { .. } => None,
            VerifyReport::Broken { seq, .. } => Some(seq),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub path: PathBuf,
    pub kind: Kind,
    pub filters: Filters,
    pub rows: Vec<Row>,
    /// One per station in scope: the one asked for, or every station the database holds.
    pub chains: Vec<ChainCheck>,
}

impl Report {
    /// Every chain the report drew on holds, and every signature on them.
    pub fn intact(&self) -> bool {
        self.chains
            .iter()
            .all(|chain| chain.broken_at().is_none() && chain.signatures.is_empty())
    }
}

/// Reads the events of the database at `path` that pass `filters`, in seq order for one station
/// and by (at, station, seq) across stations, and checks the chain of every station reported.
pub fn report(path: &Path, filters: &Filters) -> Result<Report, ReportError> {
    if !path.exists() {
        return Err(ReportError::Missing(path.to_owned()));
    }
    let unreadable = |detail: String| ReportError::Unreadable {
        path: path.to_owned(),
        detail,
    };
    let sql = |error: rusqlite::Error| unreadable(error.to_string());
    let kind = detect(path)?;
    let conn = connect(path, true).map_err(|error| match error {
        // StoreError::Open already names the file.
        StoreError::Open { source, .. } => unreadable(source.to_string()),
        other => unreadable(other.to_string()),
    })?;
    let (from, before) = filters.window.column_bounds();
    let names = names(
        &conn,
        match kind {
            Kind::Station(_) => STATION_NAMES,
            Kind::Central => CENTRAL_NAMES,
        },
    )
    .map_err(sql)?;
    let (mut rows, chains) = match &kind {
        Kind::Station(station) => {
            if let Some(asked) = filters.station.as_ref().filter(|asked| *asked != station) {
                return Err(ReportError::OtherStation {
                    path: path.to_owned(),
                    found: station.to_string(),
                    asked: asked.to_string(),
                });
            }
            let rows = read(
                &conn,
                STATION_EVENTS,
                params![from, before],
                filters,
                &names,
            )
            .map_err(sql)?;
            let verdict = verify_log(&conn).map_err(|error| unreadable(error.to_string()))?;
            let chain = ChainCheck {
                station: station.clone(),
                verdict: verdict.chain,
                signatures: verdict.signatures,
            };
            (rows, vec![chain])
        }
        Kind::Central => {
            let rows = match &filters.station {
                Some(station) => {
                    let known = conn
                        .query_row(CENTRAL_STATION_KNOWN, params![station.as_str()], |_| Ok(()))
                        .optional()
                        .map_err(sql)?;
                    if known.is_none() {
                        return Err(ReportError::UnknownStation {
                            path: path.to_owned(),
                            station: station.to_string(),
                        });
                    }
                    read(
                        &conn,
                        CENTRAL_STATION_EVENTS,
                        params![from, before, station.as_str()],
                        filters,
                        &names,
                    )
                }
                None => read(
                    &conn,
                    CENTRAL_EVENTS,
                    params![from, before],
                    filters,
                    &names,
                ),
            }
            .map_err(sql)?;
            // Every chain in scope, not only those with rows: a tampered event may no longer
            // name what the report asks about, and its chain must still be said to be broken.
            let stations: Vec<StationId> = match &filters.station {
                Some(station) => vec![station.clone()],
                None => {
                    let mut statement = conn.prepare(CENTRAL_STATIONS).map_err(sql)?;
                    statement
                        .query_map([], |row| row.get::<_, String>(0).map(StationId::new))
                        .and_then(Iterator::collect)
                        .map_err(sql)?
                }
            };
            let central = |source| ReportError::Central {
                path: path.to_owned(),
                source,
            };
            let chains = if stations.is_empty() {
                Vec::new()
            } else {
                let db = Db::open(path).map_err(central)?;
                stations
                    .into_iter()
                    .map(|station| {
                        let verdict = db.verify_log(&station).map_err(central)?;
                        Ok(ChainCheck {
                            station,
                            verdict: verdict.chain,
                            signatures: verdict.signatures,
                        })
                    })
                    .collect::<Result<Vec<_>, ReportError>>()?
            };
            (rows, chains)
        }
    };
    // The event at a break is shown whatever the filters say: its content is what cannot be
    // trusted, including what it names.
    let mut added = false;
    for chain in &chains {
        let Some(seq) = chain.broken_at() else {
            continue;
        };
        if rows
            .iter()
            .any(|row| row.seq == seq && row.station == chain.station.as_str())
        {
            continue;
        }
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        let everything = Filters::default();
        let at_break = match &kind {
            Kind::Station(_) => read(
                &conn,
                STATION_EVENT_AT,
                params![from, before, seq],
                &everything,
                &names,
            ),
            Kind::Central => read(
                &conn,
                CENTRAL_EVENT_AT,
                params![from, before, chain.station.as_str(), seq],
                &everything,
                &names,
            ),
        }
        .map_err(sql)?;
        added |= !at_break.is_empty();
        rows.extend(at_break);
    }
    if added {
        if chains.len() > 1 && filters.station.is_none() {
            rows.sort_by(|a, b| (&a.at, &a.station, a.seq).cmp(&(&b.at, &b.station, b.seq)));
        } else {
            rows.sort_by_key(|row| row.seq);
        }
    }
    for row in &mut rows {
        let broken = chains
            .iter()
            .find(|chain| chain.station.as_str() == row.station)
            .and_then(ChainCheck::broken_at);
        row.verified = row.verified && broken.is_none_or(|seq| row.seq < seq);
    }
    Ok(Report {
        path: path.to_owned(),
        kind,
        filters: filters.clone(),
        rows,
        chains,
    })
}

const STATION_NAMES: &str = "SELECT body FROM master_record WHERE kind IN ('operator', 'code')";
const CENTRAL_NAMES: &str = "SELECT body FROM master_records WHERE kind IN ('operator', 'code')";
const STATION_EVENTS: &str = "SELECT station, seq, at, body, id, kind, actor, hash FROM event_log
     WHERE at >= ?1 AND at < ?2 ORDER BY seq";
const CENTRAL_EVENTS: &str = "SELECT station, seq, at, body, id, kind, actor, hash FROM events
     WHERE at >= ?1 AND at < ?2 ORDER BY at, station, seq";
const CENTRAL_STATION_EVENTS: &str = "SELECT station, seq, at, body, id, kind, actor, hash
     FROM events WHERE station = ?3 AND at >= ?1 AND at < ?2 ORDER BY seq";
const STATION_EVENT_AT: &str = "SELECT station, seq, at, body, id, kind, actor, hash FROM event_log
     WHERE at >= ?1 AND at < ?2 AND seq = ?3";
const CENTRAL_EVENT_AT: &str = "SELECT station, seq, at, body, id, kind, actor, hash FROM events
     WHERE at >= ?1 AND at < ?2 AND station = ?3 AND seq = ?4";
const CENTRAL_STATIONS: &str = "SELECT id FROM stations UNION SELECT station FROM station_heads
     ORDER BY 1";
const CENTRAL_STATION_KNOWN: &str = "SELECT 1 FROM stations WHERE id = ?1
     UNION SELECT 1 FROM events WHERE station = ?1 LIMIT 1";

/// Looks at the file's tables before a Takt connection is made: that sets WAL mode, which a
/// read-only connection to some other SQLite file cannot, and the error would hide what it is.
fn detect(path: &Path) -> Result<Kind, ReportError> {
    let sql = |error: rusqlite::Error| ReportError::Unreadable {
        path: path.to_owned(),
        detail: error.to_string(),
    };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sql)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(sql)?;
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .map_err(sql)?;
    let tables = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(sql)?
        .collect::<rusqlite::Result<BTreeSet<String>>>()
        .map_err(sql)?;
    let has = |table: &str| tables.contains(table);
    if has("event_log") && has("meta") {
        let station: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'station'", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(sql)?;
        return station
            .map(|station| Kind::Station(StationId::new(station)))
            .ok_or_else(|| ReportError::NotTakt(path.to_owned()));
    }
    if has("events") && has("station_heads") && has("master_records") {
        return Ok(Kind::Central);
    }
    Err(ReportError::NotTakt(path.to_owned()))
}

/// Operators' names and reason codes' texts. A record this version cannot read only costs the
/// report a name: the badge or code is shown as stored.
fn names(conn: &Connection, sql: &str) -> rusqlite::Result<MasterData> {
    let mut master = MasterData::default();
    let mut statement = conn.prepare(sql)?;
    let bodies = statement.query_map([], |row| row.get::<_, String>(0))?;
    for body in bodies {
        if let Ok(record) = serde_json::from_str::<MasterRecord>(&body?) {
            record.apply_to(&mut master);
        }
    }
    Ok(master)
}

/// The rows of one of the event queries above that pass `filters`. An event whose stored body
/// cannot be read passes every filter: an audit must see it (the chain check names it too).
fn read(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    filters: &Filters,
    names: &MasterData,
) -> rusqlite::Result<Vec<Row>> {
    let mut statement = conn.prepare(sql)?;
    let mut stored = statement.query(params)?;
    let mut rows = Vec::new();
    // Per station, whether the last record (an event other than a signature) is reported: its
    // signatures follow it in the log and name no lot or order of their own, but they are part
    // of the record, so they go where it goes.
    let mut record_reported: HashMap<String, bool> = HashMap::new();
    // Per station, the events reported so far: a correction of one of them is part of its
    // history (an output's corrected inputs name the lots, not the output), so it is reported too.
    let mut reported_seqs: HashMap<String, std::collections::HashSet<u64>> = HashMap::new();
    while let Some(row) = stored.next()? {
        let body: String = row.get(3)?;
        match serde_json::from_str::<Event>(&body) {
            Ok(event) => {
                let corrects_reported = match &event.kind {
                    EventKind::Corrected { corrects, .. } => reported_seqs
                        .get(event.station.as_str())
                        .is_some_and(|seqs| seqs.contains(corrects)),
                    _ => false,
                };
                let admitted = filters.admits(&event) || corrects_reported;
                let reported = if matches!(event.kind, EventKind::Signed { .. }) {
                    admitted
                        || record_reported
                            .get(event.station.as_str())
                            .copied()
                            .unwrap_or(false)
                } else {
                    record_reported.insert(event.station.to_string(), admitted);
                    admitted
                };
                if reported {
                    reported_seqs
                        .entry(event.station.to_string())
                        .or_default()
                        .insert(event.seq);
                    rows.push(Row::of(&event, names));
                }
            }
            Err(error) => rows.push(Row {
                station: row.get(0)?,
                seq: u64::try_from(row.get::<_, i64>(1)?).unwrap_or_default(),
                at: row.get(2)?,
                id: row.get(4)?,
                kind: row.get(5)?,
                actor: row.get(6)?,
                who: row.get(6)?,
                what: format!("UNREADABLE: the stored event cannot be read ({error})"),
                why: None,
                hash: row.get(7)?,
                verified: false,
            }),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn a_day_is_the_whole_utc_day_and_an_instant_is_inclusive() {
        let day = Window::parse(Some("2026-11-25"), Some("2026-11-25")).expect("window");
        assert!(day.contains(at("2026-11-25T00:00:00Z")));
        assert!(day.contains(at("2026-11-25T23:59:59.999Z")));
        assert!(!day.contains(at("2026-11-26T00:00:00Z")));
        assert!(!day.contains(at("2026-11-24T23:59:59.999Z")));

        let span = Window::parse(
            Some("2026-11-25T08:00:00+01:00"),
            Some("2026-11-25T08:00:00Z"),
        )
        .expect("window");
        assert!(span.contains(at("2026-11-25T07:00:00Z")), "offsets count");
        assert!(
            span.contains(at("2026-11-25T08:00:00Z")),
            "--to is inclusive"
        );
        assert!(!span.contains(at("2026-11-25T08:00:00.001Z")));
        assert_eq!(
            span.column_bounds(),
            (
                "2026-11-25T07:00:00.000Z".to_owned(),
                "2026-11-25T08:00:00.001Z".to_owned()
            )
        );
        assert_eq!(
            Window::default().column_bounds(),
            (String::new(), "~".to_owned())
        );
    }

    #[test]
    fn bad_times_and_empty_windows_name_the_argument() {
        let error = Window::parse(Some("yesterday"), None).expect_err("refused");
        assert!(
            error.to_string().starts_with("--from \"yesterday\""),
            "{error}"
        );
        let error = Window::parse(None, Some("2026-13-01")).expect_err("refused");
        assert!(
            error.to_string().starts_with("--to \"2026-13-01\""),
            "{error}"
        );
        let error =
            Window::parse(Some("2026-11-26"), Some("2026-11-25T12:00:00Z")).expect_err("refused");
        assert!(error.to_string().contains("after --to"), "{error}");
    }

    #[test]
    fn filters_say_what_they_are() {
        assert_eq!(Filters::default().describe(), "none");
        let filters = Filters {
            lot: Some("C24-1107".into()),
            operator: Some("EMP-1001".into()),
            window: Window::parse(Some("2026-11-25"), Some("2026-11-25T10:00:00Z"))
                .expect("window"),
            ..Filters::default()
        };
        assert_eq!(
            filters.describe(),
            "lot C24-1107, operator EMP-1001, from 2026-11-25T00:00:00.000Z, \
             through 2026-11-25T10:00:00.000Z"
        );
    }
}
