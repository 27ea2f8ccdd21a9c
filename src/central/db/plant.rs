//! Plant queries over the ingested logs: a line's overview (each station's state now) and the raw
//! events of a station, paged. Every statement is an index lookup — the latest event of a kind at a
//! station is one step down `events(station, kind, seq)` — so the answer time does not grow with
//! the history (the tests check the query plans).

use super::{Db, DbError, Result, from_sql_int, parse_timestamp, timestamp, to_sql_int};
use crate::domain::machine::MachineCategory;
use crate::domain::plc::PackMlState;
use crate::domain::{Event, EventKind, Quantity, StationId, WorkOrderStatus};
use crate::protocol::MasterRecord;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// `GET /api/v1/lines/{line}/overview`: every station of the line, now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineOverview {
    pub line: String,
    pub name: Option<String>,
    /// Central's clock when the overview was taken: ages are counted to it.
    pub server_time: DateTime<Utc>,
    pub stations: Vec<StationOverview>,
}

/// One station of a [`LineOverview`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StationOverview {
    pub station: String,
    pub name: Option<String>,
    /// The last machine state the station reported; `None` before the first.
    pub machine: Option<MachineNow>,
    /// The work order started or resumed here last and not paused or completed since.
    pub work_order: Option<ActiveOrder>,
    /// Work orders dispatched to the station, not completed there and not closed or cancelled
    /// (the active one included).
    pub queue: u64,
    /// Lots made upstream and routed here, released and not used up.
    pub wip: Wip,
    /// The last per-part record's cycle time, against the ideal cycle of its operation here.
    pub last_cycle: Option<LastCycle>,
    pub link: Link,
    /// Events from the station stored but set aside, not applied (`takt central quarantine`
    /// says why): the lead's cue to look.
    #[serde(default)]
    pub quarantined: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineNow {
    /// PackML StateCurrent code and its words ("running", "stopped", "held", …).
    pub packml: u16,
    pub state: String,
    pub category: MachineCategory,
    pub stop_reason: u16,
    pub blocked: bool,
    pub starved: bool,
    /// When the station logged this transition.
    pub since: DateTime<Utc>,
    /// The seq of that event.
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveOrder {
    pub id: String,
    /// When it was started or resumed here.
    pub since: DateTime<Utc>,
    pub product: Option<String>,
    /// The order quantity (master data); `None` when central has no record of the order.
    pub quantity: Option<u64>,
    /// Units counted at this station (every unit processed, good and rejected), and the good ones.
    pub produced: u64,
    pub rejected: u64,
    pub good: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wip {
    pub lots: u64,
    /// What is left of them, in thousandths of the material's unit.
    pub quantity: Quantity,
    /// When the oldest of them was made.
    pub oldest: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastCycle {
    pub cycle_ms: u32,
    pub at: DateTime<Utc>,
    pub work_order: Option<String>,
    /// The routing's ideal cycle (PRI) of the part's operation at this station, if known. Master
    /// data has no takt time; this is the reference a cycle is measured against.
    pub ideal_cycle_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The last time central heard from the station: a stored event, or (since central started)
    /// an authenticated push or pull.
    pub last_heard: Option<DateTime<Utc>>,
    /// Seconds from `last_heard` to `server_time`.
    pub age_seconds: Option<f64>,
    /// When central stored the station's latest event, and its seq (the chain head).
    pub last_sync: Option<DateTime<Utc>>,
    pub acked_seq: u64,
}

/// `GET /api/v1/events`: one page of a station's raw events in seq order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPage {
    pub station: String,
    pub events: Vec<Event>,
    /// Pass as `after_seq` for the next page; `None` when this page is the last.
    pub next_after_seq: Option<u64>,
    /// The seqs on this page that arrived late: they had waited at the station past its
    /// historical threshold before they were sent.
    #[serde(default)]
    pub historical: Vec<u64>,
}

/// Which events of a station to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub station: StationId,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub kind: Option<String>,
    pub after_seq: u64,
    pub limit: u64,
}

/// Work-order events that start or stop an order at a station.
const ORDER_KINDS: [&str; 4] = [
    "work_order_started",
    "work_order_resumed",
    "work_order_paused",
    "work_order_completed",
];

/// The SQL of the lookups, named so the plan test checks exactly what runs.
pub(super) const LATEST_OF_KIND: &str = "SELECT seq, body FROM events
     WHERE station = ?1 AND kind = ?2 ORDER BY seq DESC LIMIT 1";
pub(super) const LINE_STATIONS: &str = "SELECT id, name FROM stations WHERE line = ?1 ORDER BY id";
pub(super) const HEAD: &str = "SELECT h.seq, e.received_at FROM station_heads h
     JOIN events e ON e.station = h.station AND e.seq = h.seq WHERE h.station = ?1";
pub(super) const PROGRESS: &str = "SELECT produced, rejected FROM work_order_progress
     WHERE work_order = ?1 AND station = ?2";
/// From the work orders not closed or cancelled (the partial index `master_open_work_orders`; the
/// status is checked again on the decoded record), not from every order ever dispatched to the
/// station: a plant's history holds thousands. Named, because without statistics SQLite would
/// rather walk every work order by the primary key; `CROSS JOIN` keeps them the outer loop.
pub(super) const QUEUE: &str = "SELECT m.body FROM master_records m
     INDEXED BY master_open_work_orders
     CROSS JOIN work_order_dispatch d ON d.work_order = m.key AND d.station = ?1
     LEFT JOIN work_order_progress p ON p.work_order = m.key AND p.station = ?1
     WHERE m.kind = 'work_order'
       AND IFNULL(json_extract(m.body, '$.record.status'), '') NOT IN ('closed', 'cancelled')
       AND COALESCE(p.status, '') <> 'completed'";
/// Open WIP: the partial index `lots_open_wip` holds only released lots made at a station for a
/// next operation, which the consumption that uses them up turns `consumed`; so this reads the
/// lots on the shop floor now, never the history. Finished goods (no next operation) are routed
/// nowhere and are never WIP: released forever, they would make this grow with the history.
pub(super) const WIP: &str =
    "SELECT COUNT(*), COALESCE(SUM(l.quantity - COALESCE(c.consumed, 0)), 0),
            MIN(l.created_at)
     FROM lots l
     JOIN lot_dispatch d ON d.lot = l.id AND d.station = ?1
     LEFT JOIN lot_consumption c ON c.lot = l.id
     WHERE l.status = 'released' AND l.origin = 'produced' AND l.next_operation IS NOT NULL
       AND l.station <> ?1 AND l.quantity > COALESCE(c.consumed, 0)";
pub(super) const QUARANTINED: &str = "SELECT COUNT(*) FROM quarantine WHERE station = ?1";
pub(super) const WINDOW_SEQS: &str = "SELECT MIN(seq), MAX(seq) FROM events
     WHERE station = ?1 AND at >= ?2 AND at < ?3";
pub(super) const PAGE_ALL: &str = "SELECT seq, body FROM events
     WHERE station = ?1 AND seq > ?2 AND seq <= ?3 AND +at >= ?4 AND +at < ?5
     ORDER BY seq LIMIT ?6";
pub(super) const PAGE_KIND: &str = "SELECT seq, body FROM events INDEXED BY events_station_kind_seq
     WHERE station = ?1 AND kind = ?7 AND seq > ?2 AND seq <= ?3 AND +at >= ?4 AND +at < ?5
     ORDER BY seq LIMIT ?6";

/// Times compare as stored text (RFC 3339, UTC, milliseconds): these bound every stored one. Not
/// "0000" and "9999": a station's clock is its own, and an event of year 9999 ("9999-12-31T…"),
/// 10000 ("+10000-…") or before year 0 ("-0001-…") is still in its chain and must be listed.
const EARLIEST: &str = "";
const LATEST: &str = "~";

impl Db {
    fn parse_event(station: &str, seq: i64, body: &str) -> Result<Event> {
        serde_json::from_str(body)
            .map_err(|e| DbError::Corrupt(format!("event {seq} of station {station}: {e}")))
    }

    /// The latest event of `kind` at `station` (by seq).
    fn latest_of_kind(&self, station: &str, kind: &str) -> Result<Option<Event>> {
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached(LATEST_OF_KIND)?
            .query_row(params![station, kind], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        row.map(|(seq, body)| Self::parse_event(station, seq, &body))
            .transpose()
    }

    /// The overview of `line` as of `now`; `None` when central knows no such line. `last_seen`
    /// gives the in-memory time central last heard from a station (authenticated requests).
    pub fn line_overview(
        &self,
        line: &str,
        now: DateTime<Utc>,
        last_seen: &dyn Fn(&str) -> Option<DateTime<Utc>>,
    ) -> Result<Option<LineOverview>> {
        let name: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT name FROM lines WHERE id = ?1")?
            .query_row(params![line], |row| row.get(0))
            .optional()?;
        let stations: Vec<(String, Option<String>)> = self
            .conn
            .prepare_cached(LINE_STATIONS)?
            .query_map(params![line], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if name.is_none() && stations.is_empty() {
            return Ok(None);
        }
        let mut overview = LineOverview {
            line: line.to_owned(),
            name: name.flatten(),
            server_time: now,
            stations: Vec::with_capacity(stations.len()),
        };
        for (station, station_name) in stations {
            let row = self.station_overview(&station, station_name, now, last_seen)?;
            overview.stations.push(row);
        }
        Ok(Some(overview))
    }

    fn station_overview(
        &self,
        station: &str,
        name: Option<String>,
        now: DateTime<Utc>,
        last_seen: &dyn Fn(&str) -> Option<DateTime<Utc>>,
    ) -> Result<StationOverview> {
        let machine = match self.latest_of_kind(station, "machine_state_changed")? {
            Some(Event {
                seq,
                at,
                kind:
                    EventKind::MachineStateChanged {
                        packml,
                        stop_reason,
                        blocked,
                        starved,
                        category,
                    },
                ..
            }) => Some(MachineNow {
                packml,
                state: PackMlState::from_code(packml).words(),
                category,
                stop_reason,
                blocked,
                starved,
                since: at,
                seq,
            }),
            _ => None,
        };

        // The last start, resume, pause or completion: one lookup per kind, the latest wins.
        let mut last_order_event: Option<Event> = None;
        for kind in ORDER_KINDS {
            if let Some(event) = self.latest_of_kind(station, kind)?
                && last_order_event
                    .as_ref()
                    .is_none_or(|last| event.seq > last.seq)
            {
                last_order_event = Some(event);
            }
        }
        let active = last_order_event.and_then(|event| match event.kind {
            EventKind::WorkOrderStarted { work_order }
            | EventKind::WorkOrderResumed { work_order } => Some((work_order, event.at)),
            _ => None,
        });
        let work_order = match active {
            None => None,
            Some((id, since)) => {
                let order = match super::load_record(&self.conn, "work_order", id.as_str())? {
                    Some(MasterRecord::WorkOrder(order)) => Some(order),
                    _ => None,
                };
                let (produced, rejected) = self
                    .conn
                    .prepare_cached(PROGRESS)?
                    .query_row(params![id.as_str(), station], |row| {
                        Ok((from_sql_int(row.get(0)?), from_sql_int(row.get(1)?)))
                    })
                    .optional()?
                    .unwrap_or((0, 0));
                Some(ActiveOrder {
                    id: id.to_string(),
                    since,
                    product: order.as_ref().map(|o| o.product.to_string()),
                    quantity: order.as_ref().map(|o| o.quantity),
                    produced,
                    rejected,
                    good: produced.saturating_sub(rejected),
                })
            }
        };

        let mut queue = 0u64;
        {
            let mut statement = self.conn.prepare_cached(QUEUE)?;
            let rows = statement.query_map(params![station], |row| row.get::<_, String>(0))?;
            for body in rows {
                let body = body?;
                match serde_json::from_str::<MasterRecord>(&body) {
                    // A dispatch row stays when central moves an order away (that station must
                    // hear of it); the order's own station list says where it is queued now.
                    Ok(MasterRecord::WorkOrder(order))
                        if !matches!(
                            order.status,
                            WorkOrderStatus::Closed | WorkOrderStatus::Cancelled
                        ) && order.stations.iter().any(|s| s.as_str() == station) =>
                    {
                        queue += 1;
                    }
                    Ok(_) => {}
                    Err(e) => return Err(DbError::Corrupt(format!("work order: {e}"))),
                }
            }
        }

        let (lots, left, oldest): (i64, i64, Option<String>) = self
            .conn
            .prepare_cached(WIP)?
            .query_row(params![station], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
        let wip = Wip {
            lots: from_sql_int(lots),
            quantity: Quantity::from_milli(left),
            oldest: oldest.as_deref().map(parse_timestamp).transpose()?,
        };

        let last_cycle = match self.latest_of_kind(station, "part_recorded")? {
            Some(Event {
                at,
                kind:
                    EventKind::PartRecorded {
                        cycle_ms,
                        work_order,
                        ..
                    },
                ..
            }) => {
                let ideal_cycle_ms = match &work_order {
                    Some(id) => self.ideal_cycle(id.as_str(), station)?,
                    None => None,
                };
                Some(LastCycle {
                    cycle_ms,
                    at,
                    work_order: work_order.map(|id| id.to_string()),
                    ideal_cycle_ms,
                })
            }
            _ => None,
        };

        let head: Option<(i64, String)> = self
            .conn
            .prepare_cached(HEAD)?
            .query_row(params![station], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let (acked_seq, last_sync) = match head {
            Some((seq, received_at)) => (from_sql_int(seq), Some(parse_timestamp(&received_at)?)),
            None => (0, None),
        };
        let last_heard = last_sync.max(last_seen(station));
        let link = Link {
            last_heard,
            age_seconds: last_heard.map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0),
            last_sync,
            acked_seq,
        };

        let quarantined: i64 = self
            .conn
            .prepare_cached(QUARANTINED)?
            .query_row(params![station], |row| row.get(0))?;
        Ok(StationOverview {
            station: station.to_owned(),
            name,
            machine,
            work_order,
            queue,
            wip,
            last_cycle,
            link,
            quarantined: from_sql_int(quarantined),
        })
    }

    /// The ideal cycle of `work_order`'s operation at `station`, from its product's routing.
    fn ideal_cycle(&self, work_order: &str, station: &str) -> Result<Option<u64>> {
        let Some(MasterRecord::WorkOrder(order)) =
            super::load_record(&self.conn, "work_order", work_order)?
        else {
            return Ok(None);
        };
        let Some(MasterRecord::Routing(routing)) =
            super::load_record(&self.conn, "routing", order.product.as_str())?
        else {
            return Ok(None);
        };
        Ok(routing
            .steps
            .iter()
            .find(|step| step.stations.iter().any(|s| s.as_str() == station))
            .and_then(|step| step.ideal_cycle_ms))
    }

    /// True when central knows `station` (registered, or it has sent events).
    pub fn station_known(&self, station: &StationId) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM stations WHERE id = ?1)
                     OR EXISTS (SELECT 1 FROM station_heads WHERE station = ?1)",
            )?
            .query_row(params![station.as_str()], |row| row.get(0))?)
    }

    /// One page of a station's events after `after_seq`, in seq order, optionally of one kind and
    /// inside `from..to` (the event's own time). A time window is first turned into the seqs it
    /// spans (a covering-index range on `events(station, at, seq)`), then read along the primary
    /// key: a window far back in a long log is not reached by walking the log up to it.
    pub fn events_page(&self, query: &EventQuery) -> Result<EventPage> {
        let station = query.station.as_str();
        let from = query.from.map_or_else(|| EARLIEST.to_owned(), timestamp);
        let to = query.to.map_or_else(|| LATEST.to_owned(), timestamp);
        let (mut low, mut high) = (query.after_seq, u64::MAX);
        if query.from.is_some() || query.to.is_some() {
            let (first, last): (Option<i64>, Option<i64>) = self
                .conn
                .prepare_cached(WINDOW_SEQS)?
                .query_row(params![station, from, to], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
            match (first, last) {
                (Some(first), Some(last)) => {
                    low = low.max(from_sql_int(first).saturating_sub(1));
                    high = from_sql_int(last);
                }
                _ => {
                    return Ok(EventPage {
                        station: station.to_owned(),
                        events: Vec::new(),
                        next_after_seq: None,
                        historical: Vec::new(),
                    });
                }
            }
        }
        // One row more than asked tells whether another page waits.
        let fetch = to_sql_int(query.limit.saturating_add(1));
        let mut statement = match &query.kind {
            Some(_) => self.conn.prepare_cached(PAGE_KIND)?,
            None => self.conn.prepare_cached(PAGE_ALL)?,
        };
        let low = to_sql_int(low);
        let high = to_sql_int(high);
        let map = |row: &rusqlite::Row<'_>| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?));
        let rows = match &query.kind {
            Some(kind) => statement
                .query_map(params![station, low, high, from, to, fetch, kind], map)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
            None => statement
                .query_map(params![station, low, high, from, to, fetch], map)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        };
        let more = rows.len() as u64 > query.limit;
        let events = rows
            .iter()
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .map(|(seq, body)| Self::parse_event(station, *seq, body))
            .collect::<Result<Vec<_>>>()?;
        let next_after_seq = if more {
            events.last().map(|event| event.seq)
        } else {
            None
        };
        let seqs: Vec<u64> = events.iter().map(|event| event.seq).collect();
        let historical = self.historical_among(station, &seqs)?;
        Ok(EventPage {
            station: station.to_owned(),
            events,
            next_after_seq,
            historical,
        })
    }

    /// `EXPLAIN QUERY PLAN` of `sql`, one detail line per step.
    #[cfg(test)]
    pub(super) fn query_plan(&self, sql: &str, args: &[&dyn rusqlite::ToSql]) -> Vec<String> {
        let mut statement = self
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        statement
            .query_map(args, |row| row.get::<_, String>(3))
            .expect("plan")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("plan rows")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every plant query is a search of an index, never a scan of a table, a sort or a temporary
    /// table: the answer time does not grow with the log.
    #[test]
    fn every_plant_query_is_an_index_lookup() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::open(&dir.path().join("central.db")).expect("open");
        let s: &dyn rusqlite::ToSql = &"L1-S1";
        let k: &dyn rusqlite::ToSql = &"machine_state_changed";
        let n: &dyn rusqlite::ToSql = &0i64;
        let t: &dyn rusqlite::ToSql = &"2026-01-01T00:00:00.000Z";
        let cases: [(&str, &str, Vec<&dyn rusqlite::ToSql>); 9] = [
            ("latest of kind", LATEST_OF_KIND, vec![s, k]),
            ("quarantined", QUARANTINED, vec![s]),
            ("line stations", LINE_STATIONS, vec![s]),
            ("head", HEAD, vec![s]),
            ("progress", PROGRESS, vec![s, s]),
            ("queue", QUEUE, vec![s]),
            ("wip", WIP, vec![s]),
            ("window seqs", WINDOW_SEQS, vec![s, t, t]),
            ("page", PAGE_ALL, vec![s, n, n, t, t, n]),
        ];
        let mut all = cases.to_vec();
        all.push(("page of kind", PAGE_KIND, vec![s, n, n, t, t, n, k]));
        for (what, sql, args) in all {
            let plan = db.query_plan(sql, &args);
            assert!(!plan.is_empty(), "{what}: no plan");
            for step in &plan {
                let scans_a_table = step.starts_with("SCAN") && !step.contains("INDEX");
                assert!(
                    !scans_a_table && !step.contains("TEMP B-TREE"),
                    "{what}: {step}\nwhole plan: {plan:#?}"
                );
                // The indexes walked rather than searched are the partial ones of open WIP and
                // open work orders, which hold only the shop floor now.
                if step.starts_with("SCAN") {
                    assert!(
                        step.contains("lots_open_wip") || step.contains("master_open_work_orders"),
                        "{what}: {step}"
                    );
                }
            }
            if sql == QUEUE {
                assert!(
                    plan[0].contains("master_open_work_orders"),
                    "{what}: {plan:#?}"
                );
            }
            if sql == LATEST_OF_KIND || sql == PAGE_KIND {
                assert!(
                    plan.iter()
                        .any(|step| step.contains("events_station_kind_seq")),
                    "{what}: {plan:#?}"
                );
            }
            if sql == WINDOW_SEQS {
                assert!(
                    plan.iter()
                        .any(|step| step.contains("COVERING INDEX events_station_at_seq")),
                    "{what}: {plan:#?}"
                );
            }
        }
    }

    /// WIP is what waits for a next operation: a tote routed on counts where it goes; a finished
    /// unit (no next operation) is WIP nowhere, even where it was scanned since.
    #[test]
    fn finished_goods_are_not_wip() {
        use crate::domain::{
            Actor, Entry, GENESIS_HASH, LotId, MaterialId, NewEvent, OperationId, OutputForm,
            WorkOrderId,
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let mut db = Db::open(&dir.path().join("central.db")).expect("open");
        let today = Utc::now().date_naive();
        db.ensure_line("L1", "Line 1", crate::central::demo::STATIONS, Utc::now())
            .expect("line");
        db.upsert_master(&crate::central::demo::master_records(today), Utc::now())
            .expect("demo");
        let at = Utc::now() - chrono::Duration::minutes(5);
        let chain = |station: &str, kinds: Vec<EventKind>| {
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
                        uuid::Uuid::now_v7(),
                        prev.clone(),
                    );
                    prev = event.hash.clone();
                    event
                })
                .collect::<Vec<_>>()
        };
        let made = |id: &str, next: Option<&str>| EventKind::OutputCreated {
            work_order: WorkOrderId::from("WO-24001"),
            operation: OperationId::from("OP10"),
            output: LotId::from(id),
            form: OutputForm::Lot,
            material: MaterialId::from("BC-200-M"),
            quantity: Quantity::units(20),
            inputs: vec![LotId::from("C24-1107")],
            operator: None,
            next_operation: next.map(OperationId::from),
            machine_state: None,
        };
        let s1 = StationId::from("L1-S1");
        let s2 = StationId::from("L1-S2");
        db.ingest(
            &s1,
            &chain(
                "L1-S1",
                vec![made("TOTE-1", Some("OP20")), made("DONE-1", None)],
            ),
            Utc::now(),
        )
        .expect("S1");
        db.ingest(
            &s2,
            &chain(
                "L1-S2",
                vec![EventKind::LotLoaded {
                    work_order: WorkOrderId::from("WO-24001"),
                    operation: OperationId::from("OP20"),
                    material: MaterialId::from("BC-200-M"),
                    lot: LotId::from("DONE-1"),
                    entry: Entry::Scanned,
                }],
            ),
            Utc::now(),
        )
        .expect("S2");
        let reached: bool = db
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM lot_dispatch WHERE lot = 'DONE-1' AND station = 'L1-S2')",
                [],
                |row| row.get(0),
            )
            .expect("dispatch");
        assert!(reached, "the scan made DONE-1 reach L1-S2");
        let overview = db
            .line_overview("L1", Utc::now(), &|_| None)
            .expect("overview")
            .expect("L1");
        let wip = &overview.stations[1].wip;
        assert_eq!(overview.stations[1].station, "L1-S2");
        assert_eq!(
            (wip.lots, wip.quantity),
            (1, Quantity::units(20)),
            "{wip:?}"
        );
    }
}
