//! The line overview over a long history: `GET /api/v1/lines/L1/overview` on a real central whose
//! database holds 10,000,000 ingested events of the demo line, next to a primary-key lookup on the
//! same database in the same run.
//!
//! The history is the demo line (`L1-S1` machining, `L1-S2` assembly, `L1-S3` leak test and pack)
//! having run some 1,360 work orders of 1,000 calipers each: per unit a count and a per-part
//! record at every station, a tote of 20 out of OP10 and OP20 (consumed downstream), a serial out
//! of OP30 (finished goods, never consumed), a stop and its reason every 200 units, starts and
//! completions. Every event is sealed into its station's real hash chain; the rows are written by
//! plain SQL in large transactions, not through ingest, with what ingest would have projected
//! from them for the overview's reads: `station_heads`, `work_order_progress`, the work orders
//! (master records and dispatch, through `Db::upsert_master`), and the made lots with their
//! dispatch and consumption. The last order is still running, with a few totes between the
//! stations (open WIP). Not written: what the overview never reads (lot master records, genealogy
//! edges, lot loads). Generated once and kept in `target/bench-cache/` (keyed by
//! [`CACHE_VERSION`] and the event count); central opens that file in place, migrating it if it
//! predates a schema step, and otherwise only reads it.
//!
//! Timed, after a warm-up, [`CALLS`] times each, median and p99:
//! - `Db::line_overview` in-process, and the HTTP endpoint (a real central on loopback);
//! - baseline: one event by primary key, in-process (`SELECT body FROM events WHERE station = ?
//!   AND seq = ?`, random seqs), and over HTTP (`GET /api/v1/events?...&limit=1`, the same lookup
//!   through the router).
//!
//! `cargo bench --bench overview`. Target: the HTTP overview under 50 ms.
//! `TAKT_BENCH_EVENTS=1000000 cargo bench --bench overview` runs a smaller history.

mod common;

use chrono::{DateTime, Days, Duration as TimeDelta, Utc};
use rand::Rng;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use takt::central::demo::{LINE, TOTE_SIZE};
use takt::domain::machine::MachineCategory;
use takt::domain::part_record::PartResult;
use takt::domain::{
    Actor, Badge, ConsumptionBasis, Event, EventKind, GENESIS_HASH, LineId, LotId, MaterialId,
    NewEvent, OperationId, OutputForm, ProductId, Quantity, StationId, WorkOrder, WorkOrderId,
    WorkOrderStatus,
};
use takt::protocol::MasterRecord;

/// Bump when the generated history changes, so a stale cache is not reused.
const CACHE_VERSION: u32 = 2;
const DEFAULT_EVENTS: u64 = 10_000_000;
const CALLS: usize = 200;
const WARM_UP: usize = 20;
const UNITS_PER_ORDER: u64 = 1_000;
/// A stop (state change, downtime, its reason, running again) every this many units.
const STOP_EVERY: u64 = 200;
/// Totes of the running order not yet consumed by the next station: the open WIP.
const OPEN_TOTES: u64 = 3;
/// Events per writer transaction.
const CHUNK: usize = 20_000;

/// What one station does, in routing order.
struct Step {
    station: &'static str,
    operation: &'static str,
    next: Option<&'static str>,
    ideal_cycle_ms: u32,
}

const STEPS: [Step; 3] = [
    Step {
        station: "L1-S1",
        operation: "OP10",
        next: Some("OP20"),
        ideal_cycle_ms: 4_500,
    },
    Step {
        station: "L1-S2",
        operation: "OP20",
        next: Some("OP30"),
        ideal_cycle_ms: 3_800,
    },
    Step {
        station: "L1-S3",
        operation: "OP30",
        next: None,
        ideal_cycle_ms: 3_000,
    },
];

/// Events a unit costs at each station, on average (see [`station_log`]): the count and the part
/// record; a tote's consumption(s) and output per 20 units at OP10 and OP20, a serial per unit at
/// OP30; four events per stop; starts and completions are noise.
const EVENTS_PER_UNIT: f64 =
    (2.0 + 2.0 / 20.0) + (2.0 + 3.0 / 20.0) + (3.0 + 1.0 / 20.0) + 3.0 * 4.0 / STOP_EVERY as f64;

fn product(order: u64) -> &'static str {
    if order.is_multiple_of(2) {
        "BC-200"
    } else {
        "BC-210"
    }
}

fn order_id(order: u64) -> WorkOrderId {
    WorkOrderId::new(format!("WO-H{order:06}"))
}

fn tote_id(station: &str, number: u64) -> LotId {
    LotId::new(format!("{station}-T{number:07}"))
}

fn serial_id(number: u64) -> LotId {
    LotId::new(format!("SN-{number:09}"))
}

/// A row of `events`, as ingest stores it.
struct EventRow {
    event: Event,
    body: String,
}

/// A made lot, as ingest projects it (`lots`, `lot_dispatch`, `lot_consumption`).
struct LotRow {
    id: LotId,
    material: String,
    quantity: Quantity,
    form: &'static str,
    consumed: bool,
    station: &'static str,
    work_order: WorkOrderId,
    operation: &'static str,
    created_at: DateTime<Utc>,
    next_operation: Option<&'static str>,
    /// Stations it was dispatched to: its own, and the next operation's.
    dispatch: Vec<&'static str>,
}

/// What a station's generator hands to the writer.
enum Piece {
    Events(Vec<EventRow>, Vec<LotRow>),
    /// The station's chain head, once its log is complete.
    Head(u64, String),
}

/// Seals and sends the log of `step`'s station: `units` units over `orders` orders, ending at
/// `end`, one event a second.
fn station_log(
    step: &'static Step,
    index: usize,
    units: u64,
    end: DateTime<Utc>,
) -> mpsc::Receiver<Piece> {
    let (pieces, received) = mpsc::sync_channel(4);
    std::thread::spawn(move || {
        let station = StationId::from(step.station);
        let operator = Badge::from("EMP-1001");
        let mut seq = 0u64;
        let mut prev = GENESIS_HASH.to_owned();
        let mut rows = Vec::with_capacity(CHUNK);
        let mut lots = Vec::new();
        // Times are set from the end backwards once the count is known: an estimate suffices.
        let estimated = (units as f64 * [2.12, 2.17, 3.07][index]) as i64;
        let start = end - TimeDelta::seconds(estimated);
        let orders = units.div_ceil(UNITS_PER_ORDER);
        let mut unit = 0u64;
        let mut totes = 0u64;
        let mut emit = |kind: EventKind, actor: Actor, rows: &mut Vec<EventRow>| {
            seq += 1;
            let at = start + TimeDelta::seconds(seq as i64);
            let event = Event::seal(
                NewEvent { at, actor, kind },
                station.clone(),
                seq,
                uuid::Uuid::now_v7(),
                std::mem::take(&mut prev),
            );
            prev = event.hash.clone();
            let body = serde_json::to_string(&event).expect("json");
            rows.push(EventRow { event, body });
            at
        };
        for order in 0..orders {
            let work_order = order_id(order);
            let product = product(order);
            let in_order = UNITS_PER_ORDER.min(units - order * UNITS_PER_ORDER);
            emit(
                EventKind::WorkOrderStarted {
                    work_order: work_order.clone(),
                },
                Actor::Operator(operator.clone()),
                &mut rows,
            );
            for n in 0..in_order {
                unit += 1;
                emit(
                    EventKind::UnitsProduced {
                        work_order: Some(work_order.clone()),
                        produced: 1,
                        rejected: 0,
                        plc_epoch: 1,
                        processed_total: u32::try_from(unit % 60_000).unwrap_or(0),
                        defective_total: 0,
                    },
                    Actor::Plc,
                    &mut rows,
                );
                emit(
                    EventKind::PartRecorded {
                        record_seq: u32::try_from(unit % 60_000).unwrap_or(0),
                        plc_epoch: 1,
                        result: PartResult::Good,
                        reject_reason: 0,
                        cycle_ms: step.ideal_cycle_ms + u32::try_from(unit % 400).unwrap_or(0),
                        serial: if step.next.is_none() {
                            serial_id(unit).to_string()
                        } else {
                            String::new()
                        },
                        work_order: Some(work_order.clone()),
                    },
                    Actor::Plc,
                    &mut rows,
                );
                let input = |consumed_tote: u64| match index {
                    0 => LotId::from(if order % 2 == 0 {
                        "C24-1107"
                    } else {
                        "C24-2210"
                    }),
                    _ => tote_id(STEPS[index - 1].station, consumed_tote),
                };
                if step.next.is_none() {
                    // OP30: a serial per unit, made from the OP20 tote it came in.
                    let tote = unit.div_ceil(TOTE_SIZE);
                    let at = emit(
                        EventKind::OutputCreated {
                            work_order: work_order.clone(),
                            operation: OperationId::from(step.operation),
                            output: serial_id(unit),
                            form: OutputForm::Serial,
                            material: MaterialId::new(product),
                            quantity: Quantity::units(1),
                            inputs: vec![input(tote)],
                            operator: None,
                            next_operation: None,
                            machine_state: Some("execute".into()),
                        },
                        Actor::Plc,
                        &mut rows,
                    );
                    lots.push(LotRow {
                        id: serial_id(unit),
                        material: product.into(),
                        quantity: Quantity::units(1),
                        form: "serial",
                        consumed: false,
                        station: step.station,
                        work_order: work_order.clone(),
                        operation: step.operation,
                        created_at: at,
                        next_operation: None,
                        dispatch: vec![step.station],
                    });
                }
                if unit.is_multiple_of(TOTE_SIZE) {
                    totes += 1;
                    emit(
                        EventKind::LotConsumed {
                            work_order: work_order.clone(),
                            operation: OperationId::from(step.operation),
                            material: MaterialId::new(match index {
                                0 => format!("CAST-{}", &product[3..]),
                                1 => format!("{product}-M"),
                                _ => format!("{product}-A"),
                            }),
                            lot: input(totes),
                            quantity: Quantity::units(TOTE_SIZE),
                            basis: ConsumptionBasis::BomRate,
                        },
                        Actor::Plc,
                        &mut rows,
                    );
                    if index == 1 {
                        emit(
                            EventKind::LotConsumed {
                                work_order: work_order.clone(),
                                operation: OperationId::from(step.operation),
                                material: MaterialId::new(if order % 2 == 0 {
                                    "PST-54"
                                } else {
                                    "PST-48"
                                }),
                                lot: LotId::from(if order % 2 == 0 {
                                    "P24-2201"
                                } else {
                                    "P24-2305"
                                }),
                                quantity: Quantity::units(TOTE_SIZE),
                                basis: ConsumptionBasis::BomRate,
                            },
                            Actor::Plc,
                            &mut rows,
                        );
                    }
                    if let Some(next) = step.next {
                        let material = if index == 0 {
                            format!("{product}-M")
                        } else {
                            format!("{product}-A")
                        };
                        let at = emit(
                            EventKind::OutputCreated {
                                work_order: work_order.clone(),
                                operation: OperationId::from(step.operation),
                                output: tote_id(step.station, totes),
                                form: OutputForm::Lot,
                                material: MaterialId::new(material.clone()),
                                quantity: Quantity::units(TOTE_SIZE),
                                inputs: vec![input(totes)],
                                operator: None,
                                next_operation: Some(OperationId::from(next)),
                                machine_state: Some("execute".into()),
                            },
                            Actor::Plc,
                            &mut rows,
                        );
                        lots.push(LotRow {
                            id: tote_id(step.station, totes),
                            material,
                            quantity: Quantity::units(TOTE_SIZE),
                            form: "lot",
                            // The next station is a few totes behind.
                            consumed: totes + OPEN_TOTES <= units / TOTE_SIZE,
                            station: step.station,
                            work_order: work_order.clone(),
                            operation: step.operation,
                            created_at: at,
                            next_operation: Some(next),
                            dispatch: vec![step.station, STEPS[index + 1].station],
                        });
                    }
                }
                if unit.is_multiple_of(STOP_EVERY) {
                    let machine = |running: bool| EventKind::MachineStateChanged {
                        packml: if running { 6 } else { 2 },
                        stop_reason: if running { 0 } else { 12 },
                        blocked: false,
                        starved: false,
                        category: if running {
                            MachineCategory::Running
                        } else {
                            MachineCategory::UnplannedDowntime
                        },
                    };
                    let stopped_at = emit(machine(false), Actor::Plc, &mut rows);
                    emit(
                        EventKind::DowntimeStarted {
                            plc_reason: 12,
                            suggested_reason: Some("JAM".into()),
                        },
                        Actor::Plc,
                        &mut rows,
                    );
                    emit(
                        EventKind::DowntimeCoded {
                            started_at: stopped_at,
                            reason: "JAM".into(),
                        },
                        Actor::Operator(operator.clone()),
                        &mut rows,
                    );
                    emit(machine(true), Actor::Plc, &mut rows);
                }
                if n + 1 == UNITS_PER_ORDER {
                    emit(
                        EventKind::WorkOrderCompleted {
                            work_order: work_order.clone(),
                            produced: UNITS_PER_ORDER,
                            rejected: 0,
                        },
                        Actor::Operator(operator.clone()),
                        &mut rows,
                    );
                }
                if rows.len() >= CHUNK {
                    let full = std::mem::replace(&mut rows, Vec::with_capacity(CHUNK));
                    if pieces
                        .send(Piece::Events(full, std::mem::take(&mut lots)))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let _ = pieces.send(Piece::Events(rows, lots));
        let _ = pieces.send(Piece::Head(seq, prev));
    });
    received
}

/// The cached central database with an `events`-event history of the demo line.
fn history(events: u64) -> PathBuf {
    let path = common::cache_dir().join(format!("overview-v{CACHE_VERSION}-{events}.db"));
    if path.exists() {
        return path;
    }
    let partial = path.with_extension("partial");
    common::remove_db(&partial);
    eprintln!(
        "overview: generating a {events}-event history in {} ...",
        path.display()
    );
    let started = Instant::now();
    let today = Utc::now().date_naive();
    takt::central::seed_demo(&partial, today).expect("seed");
    let units = (events as f64 / EVENTS_PER_UNIT) as u64;
    let orders = units.div_ceil(UNITS_PER_ORDER);
    // The orders, as an ERP import leaves them: all closed but the last, dispatched to the line.
    {
        let mut db = takt::central::Db::open(&partial).expect("central db");
        let stations: Vec<StationId> = STEPS.iter().map(|s| StationId::from(s.station)).collect();
        let records: Vec<MasterRecord> = (0..orders)
            .map(|order| {
                MasterRecord::WorkOrder(WorkOrder {
                    id: order_id(order),
                    numeric_id: u32::try_from(100_000 + order).unwrap_or(u32::MAX),
                    product: ProductId::from(product(order)),
                    quantity: UNITS_PER_ORDER,
                    due: today
                        .checked_sub_days(Days::new(orders - order))
                        .unwrap_or(today),
                    priority: 3,
                    status: if order + 1 == orders {
                        WorkOrderStatus::Released
                    } else {
                        WorkOrderStatus::Closed
                    },
                    line: LineId::from(LINE.0),
                    stations: stations.clone(),
                    status_reason: None,
                })
            })
            .collect();
        db.upsert_master(&records, Utc::now()).expect("work orders");
    }
    let mut conn = takt::store::connect(&partial, false).expect("raw connection");
    conn.execute_batch("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")
        .expect("pragmas");
    let end = Utc::now();
    let logs: Vec<mpsc::Receiver<Piece>> = STEPS
        .iter()
        .enumerate()
        .map(|(index, step)| station_log(step, index, units, end))
        .collect();
    let mut open = [true; 3];
    let mut written = 0u64;
    // Round robin over the stations, as their syncs interleave at central.
    while open.iter().any(|open| *open) {
        for (index, log) in logs.iter().enumerate() {
            if !open[index] {
                continue;
            }
            match log.recv() {
                Ok(Piece::Events(rows, lots)) => {
                    written += rows.len() as u64;
                    write_rows(&mut conn, &rows, &lots);
                }
                Ok(Piece::Head(seq, hash)) => {
                    conn.execute(
                        "INSERT INTO station_heads (station, seq, hash) VALUES (?1, ?2, ?3)",
                        rusqlite::params![STEPS[index].station, seq as i64, hash],
                    )
                    .expect("head");
                    open[index] = false;
                }
                Err(_) => open[index] = false,
            }
        }
    }
    // Progress as ingest sums it: every closed order completed at every station, the last
    // running with its units so far.
    let tx = conn.transaction().expect("tx");
    {
        let mut progress = tx
            .prepare(
                "INSERT INTO work_order_progress (work_order, station, status, produced, rejected,
                                                  updated_at)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5)",
            )
            .expect("prepare");
        for order in 0..orders {
            let done = order + 1 < orders;
            let produced = UNITS_PER_ORDER.min(units - order * UNITS_PER_ORDER);
            for step in &STEPS {
                progress
                    .execute(rusqlite::params![
                        order_id(order).as_str(),
                        step.station,
                        if done { "completed" } else { "running" },
                        produced as i64,
                        end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                    ])
                    .expect("progress");
            }
        }
    }
    tx.commit().expect("commit");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    drop(conn);
    std::fs::rename(&partial, &path).expect("cache the history");
    eprintln!(
        "overview: {written} events, {units} units, {orders} orders, generated in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    path
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn write_rows(conn: &mut rusqlite::Connection, rows: &[EventRow], lots: &[LotRow]) {
    let tx = conn.transaction().expect("tx");
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO events (station, seq, id, at, actor, kind, work_order, body,
                                     prev_hash, hash, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .expect("prepare");
        for EventRow { event, body } in rows {
            insert
                .execute(rusqlite::params![
                    event.station.as_str(),
                    event.seq as i64,
                    event.id.to_string(),
                    timestamp(event.at),
                    event.actor.to_string(),
                    event.kind.name(),
                    event.kind.work_order().map(|id| id.as_str()),
                    body,
                    event.prev_hash,
                    event.hash,
                    timestamp(event.at + TimeDelta::seconds(1)),
                ])
                .expect("event");
        }
        let mut lot = tx
            .prepare_cached(
                "INSERT INTO lots (id, material, quantity, form, status, origin, station,
                                   work_order, operation, created_at, next_operation,
                                   machine_state)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'produced', ?6, ?7, ?8, ?9, ?10, 'execute')",
            )
            .expect("prepare");
        let mut dispatch = tx
            .prepare_cached("INSERT INTO lot_dispatch (lot, station) VALUES (?1, ?2)")
            .expect("prepare");
        let mut consumption = tx
            .prepare_cached(
                "INSERT INTO lot_consumption (lot, consumed, last_at) VALUES (?1, ?2, ?3)",
            )
            .expect("prepare");
        for row in lots {
            lot.execute(rusqlite::params![
                row.id.as_str(),
                row.material,
                row.quantity.milli(),
                row.form,
                if row.consumed { "consumed" } else { "released" },
                row.station,
                row.work_order.as_str(),
                row.operation,
                timestamp(row.created_at),
                row.next_operation,
            ])
            .expect("lot");
            for station in &row.dispatch {
                dispatch
                    .execute(rusqlite::params![row.id.as_str(), station])
                    .expect("dispatch");
            }
            if row.consumed {
                consumption
                    .execute(rusqlite::params![
                        row.id.as_str(),
                        row.quantity.milli(),
                        timestamp(row.created_at + TimeDelta::minutes(10))
                    ])
                    .expect("consumption");
            }
        }
    }
    tx.commit().expect("commit");
}

/// Median and 99th percentile of some durations, in milliseconds.
fn summary(mut took: Vec<Duration>) -> (f64, f64) {
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p99 = ((took.len() as f64 * 0.99).ceil() as usize).clamp(1, took.len()) - 1;
    (ms(took[took.len() / 2]), ms(took[p99]))
}

fn time<T>(calls: usize, mut call: impl FnMut(usize) -> T) -> Vec<Duration> {
    for i in 0..WARM_UP {
        std::hint::black_box(call(i));
    }
    (0..calls)
        .map(|i| {
            let started = Instant::now();
            std::hint::black_box(call(i));
            started.elapsed()
        })
        .collect()
}

fn main() {
    let events = common::events_wanted(DEFAULT_EVENTS);
    let path = history(events);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    // In-process: the storage function, and a primary-key lookup on the same file.
    let db = takt::central::Db::open(&path).expect("central db");
    let heads: Vec<u64> = STEPS
        .iter()
        .map(|step| {
            db.head(&StationId::from(step.station))
                .expect("head")
                .map_or(0, |(seq, _)| seq)
        })
        .collect();
    let cold = Instant::now();
    let overview = db
        .line_overview(LINE.0, Utc::now(), &|_| None)
        .expect("overview")
        .expect("line L1");
    let cold = cold.elapsed();
    assert_eq!(overview.stations.len(), 3);
    let db_overview = summary(time(CALLS, |_| {
        db.line_overview(LINE.0, Utc::now(), &|_| None)
            .expect("overview")
    }));
    let conn = takt::store::connect(&path, true).expect("read connection");
    let mut rng = rand::rng();
    let picks: Vec<(usize, u64)> = (0..CALLS + WARM_UP)
        .map(|_| {
            let station = rng.random_range(0..STEPS.len());
            (station, rng.random_range(1..=heads[station].max(1)))
        })
        .collect();
    let pk = summary(time(CALLS, |i| {
        let (station, seq) = picks[i % picks.len()];
        conn.prepare_cached("SELECT body FROM events WHERE station = ?1 AND seq = ?2")
            .expect("prepare")
            .query_row(
                rusqlite::params![STEPS[station].station, seq as i64],
                |row| row.get::<_, String>(0),
            )
            .expect("event")
    }));
    drop(db);

    // Over HTTP: a real central on loopback.
    let central = runtime
        .block_on(takt::central::spawn(
            ([127, 0, 0, 1], 0).into(),
            path.clone(),
        ))
        .expect("central");
    let client = reqwest::Client::new();
    let get = |url: String| {
        runtime.block_on(async {
            let response = client.get(url).send().await.expect("sent");
            assert!(response.status().is_success(), "{}", response.status());
            response.bytes().await.expect("body")
        })
    };
    let overview_url = format!("{}/api/v1/lines/{}/overview", central.url(), LINE.0);
    let http_overview = summary(time(CALLS, |_| get(overview_url.clone())));
    let http_pk = summary(time(CALLS, |i| {
        let (station, seq) = picks[i % picks.len()];
        get(format!(
            "{}/api/v1/events?station={}&after_seq={}&limit=1",
            central.url(),
            STEPS[station].station,
            seq - 1
        ))
    }));
    runtime.block_on(central.shutdown());

    let total: u64 = heads.iter().sum();
    println!(
        "overview: line {} over {total} events ({} per station), warm page cache, {CALLS} calls each",
        LINE.0,
        heads
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" / ")
    );
    let line = |what: &str, (median, p99): (f64, f64)| {
        println!("  {what:<36} median {median:>8.3} ms   p99 {p99:>8.3} ms");
    };
    line("PK lookup, in-process (baseline)", pk);
    line("Db::line_overview, in-process", db_overview);
    line("GET /api/v1/events limit=1 (baseline)", http_pk);
    line("GET /api/v1/lines/L1/overview", http_overview);
    println!(
        "  first overview after opening: {:.1} ms",
        cold.as_secs_f64() * 1000.0
    );
    println!(
        "  ratio overview / PK lookup: in-process {:.0}x, HTTP {:.1}x (median); HTTP overview {} the 50 ms target (p99 {:.1} ms)",
        db_overview.0 / pk.0,
        http_overview.0 / http_pk.0,
        if http_overview.1 < 50.0 {
            "meets"
        } else {
            "misses"
        },
        http_overview.1
    );
}
