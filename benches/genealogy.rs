//! Genealogy on a plant-sized history: backward trace of a finished serial and forward trace of a raw
//! lot through the real `Db::genealogy` (and once more through HTTP), next to a bare primary-key
//! lookup on the same database, measured in the same run.
//!
//! The plant: 2 lines x 4 operations (OP10 machining, OP20 assembly, OP30 leak test, OP40 pack), 88,000
//! units, so 5 levels of lots: supplier lots -> OP10 totes -> OP20 totes -> OP30 totes -> serials.
//! Each station's events are generated as the station core would record them (lot registered and
//! loaded, one `units_produced` and one `lot_consumed` per BOM line per unit, an output per full tote
//! or per serial), sealed into its hash chain, and ingested through `Db::ingest`, the path a station
//! batch takes, in transactions of 20,000 events. That is over 1,100,000 events and 100,000 lots.
//!
//! Building takes a minute or two; the database is kept under `target/tmp` and reused by later runs
//! (delete it, or change `PLANT_VERSION`, to rebuild). `cargo bench --bench genealogy` prints a
//! table of p50/p95 over 50 runs and the ratio to the bare lookup. Target: p50 under 50 ms for
//! either direction.

use chrono::{DateTime, Duration as Span, NaiveDate, Utc};
use rusqlite::{OptionalExtension, params};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use takt::central::Db;
use takt::domain::{
    Actor, Badge, ConsumptionBasis, Entry, Event, EventKind, GENESIS_HASH, LineId, LotId, Material,
    MaterialId, NewEvent, OperationId, OutputForm, OutputKind, Product, ProductId, Quantity,
    Routing, RoutingStep, StationId, WorkOrder, WorkOrderId, WorkOrderStatus,
};
use takt::protocol::{Genealogy, MasterRecord, TraceDirection};

/// Bump when the generated plant changes, so a stale cached database is not reused.
const PLANT_VERSION: u32 = 2;
const UNITS_PER_LINE: u64 = 44_000;
const LINES: [&str; 2] = ["L1", "L2"];
const UNITS_PER_WORK_ORDER: u64 = 1_000;
const INGEST_CHUNK: usize = 20_000;
const RUNS: usize = 50;
const HTTP_RUNS: usize = 20;
const PRODUCT: &str = "BC-200";

/// One material an operation draws, per unit, and where its lots come from.
struct Feed {
    material: &'static str,
    per_unit: Quantity,
    source: Source,
}

enum Source {
    /// Totes made by the previous operation, in the order they were made.
    Upstream,
    /// Supplier lots of `size` (thousandths), registered at the station when first scanned.
    Supplier { prefix: &'static str, size: i64 },
}

struct Operation {
    id: &'static str,
    output_material: &'static str,
    output: OutputKind,
    cycle_seconds: i64,
    feeds: Vec<Feed>,
}

fn routing() -> Vec<Operation> {
    let pc = |units| Quantity::units(units);
    vec![
        Operation {
            id: "OP10",
            output_material: "BC-200-M",
            output: OutputKind::Lot { size: 20 },
            cycle_seconds: 45,
            feeds: vec![Feed {
                material: "CAST-200",
                per_unit: pc(1),
                source: Source::Supplier {
                    prefix: "C",
                    size: 400_000,
                },
            }],
        },
        Operation {
            id: "OP20",
            output_material: "BC-200-A",
            output: OutputKind::Lot { size: 25 },
            cycle_seconds: 38,
            feeds: vec![
                Feed {
                    material: "BC-200-M",
                    per_unit: pc(1),
                    source: Source::Upstream,
                },
                Feed {
                    material: "PST-54",
                    per_unit: pc(1),
                    source: Source::Supplier {
                        prefix: "P",
                        size: 500_000,
                    },
                },
                Feed {
                    material: "SEAL-54",
                    per_unit: pc(1),
                    source: Source::Supplier {
                        prefix: "S",
                        size: 500_000,
                    },
                },
                Feed {
                    material: "GRS-1",
                    per_unit: Quantity::from_milli(5),
                    source: Source::Supplier {
                        prefix: "G",
                        size: 5_000,
                    },
                },
            ],
        },
        Operation {
            id: "OP30",
            output_material: "BC-200-T",
            output: OutputKind::Lot { size: 20 },
            cycle_seconds: 30,
            feeds: vec![Feed {
                material: "BC-200-A",
                per_unit: pc(1),
                source: Source::Upstream,
            }],
        },
        Operation {
            id: "OP40",
            output_material: PRODUCT,
            output: OutputKind::Serial,
            cycle_seconds: 30,
            feeds: vec![
                Feed {
                    material: "BC-200-T",
                    per_unit: pc(1),
                    source: Source::Upstream,
                },
                Feed {
                    material: "BOX-2",
                    per_unit: pc(1),
                    source: Source::Supplier {
                        prefix: "B",
                        size: 1_000_000,
                    },
                },
            ],
        },
    ]
}

fn station_of(line: &str, op_index: usize) -> String {
    format!("{line}-S{}", op_index + 1)
}

fn work_order(line: &str, unit: u64) -> WorkOrderId {
    WorkOrderId::new(format!("WO-{line}-{:03}", unit / UNITS_PER_WORK_ORDER))
}

/// Master data the ingest path consults: materials, the routing (where outputs go next), orders.
fn master_records(start: NaiveDate) -> Vec<MasterRecord> {
    let mut records = vec![MasterRecord::Product(Product {
        id: ProductId::from(PRODUCT),
        name: "front caliper".into(),
        gtin: None,
    })];
    for (id, name, unit) in [
        ("CAST-200", "caliper casting 54", "pc"),
        ("PST-54", "piston 54 mm", "pc"),
        ("SEAL-54", "seal kit 54", "pc"),
        ("GRS-1", "assembly grease", "kg"),
        ("BOX-2", "shipping box", "pc"),
        ("BC-200-M", "BC-200 machined", "pc"),
        ("BC-200-A", "BC-200 assembled", "pc"),
        ("BC-200-T", "BC-200 leak tested", "pc"),
        (PRODUCT, "front caliper", "pc"),
    ] {
        records.push(MasterRecord::Material(Material {
            id: MaterialId::from(id),
            name: name.into(),
            gtin: None,
            unit: unit.into(),
            shelf_life_days: None,
            other_gtins: Vec::new(),
        }));
    }
    let steps = routing()
        .iter()
        .enumerate()
        .map(|(index, op)| RoutingStep {
            operation: OperationId::from(op.id),
            name: op.id.into(),
            stations: LINES
                .iter()
                .map(|line| StationId::new(station_of(line, index)))
                .collect(),
            output_material: MaterialId::from(op.output_material),
            output: op.output,
            ideal_cycle_ms: None,
        })
        .collect();
    records.push(MasterRecord::Routing(Routing {
        product: ProductId::from(PRODUCT),
        steps,
    }));
    for line in LINES {
        for order in 0..UNITS_PER_LINE.div_ceil(UNITS_PER_WORK_ORDER) {
            records.push(MasterRecord::WorkOrder(WorkOrder {
                id: work_order(line, order * UNITS_PER_WORK_ORDER),
                numeric_id: u32::try_from(order).unwrap_or(0),
                product: ProductId::from(PRODUCT),
                quantity: UNITS_PER_WORK_ORDER,
                due: start,
                priority: 1,
                status: WorkOrderStatus::Released,
                status_reason: None,
                line: LineId::new(line),
                stations: (0..4)
                    .map(|index| StationId::new(station_of(line, index)))
                    .collect(),
            }));
        }
    }
    records
}

/// A tote (or serial) handed to the next operation.
#[derive(Clone)]
struct Made {
    id: LotId,
    quantity: Quantity,
    at: DateTime<Utc>,
}

/// xorshift64: queue times that vary, the same in every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below.max(1)
    }
}

/// One station's log being written: seals events into its chain, and hands them to central in
/// chunks through `Db::ingest`.
struct Log<'a> {
    db: &'a mut Db,
    station: StationId,
    seq: u64,
    prev: String,
    pending: Vec<Event>,
    ingested: u64,
}

impl Log<'_> {
    fn emit(&mut self, at: DateTime<Utc>, actor: &Actor, kind: EventKind) {
        self.seq += 1;
        let event = Event::seal(
            NewEvent {
                at,
                actor: actor.clone(),
                kind,
            },
            self.station.clone(),
            self.seq,
            uuid::Uuid::now_v7(),
            std::mem::take(&mut self.prev),
        );
        self.prev = event.hash.clone();
        self.pending.push(event);
        if self.pending.len() >= INGEST_CHUNK {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let ack = self
            .db
            .ingest(&self.station, &self.pending, Utc::now())
            .expect("ingest");
        assert_eq!(ack.acked_through, self.seq);
        self.ingested += self.pending.len() as u64;
        self.pending.clear();
    }
}

/// Runs one station through all its units, as the station core would record it.
fn run_station(
    db: &mut Db,
    line: &str,
    operations: &[Operation],
    op_index: usize,
    mut upstream: VecDeque<Made>,
    start: DateTime<Utc>,
    dice: &mut Dice,
) -> (Vec<Made>, u64) {
    let op = &operations[op_index];
    let next_op = operations.get(op_index + 1).map(|next| next.id);
    let station = station_of(line, op_index);
    let mut log = Log {
        db,
        station: StationId::new(station.clone()),
        seq: 0,
        prev: GENESIS_HASH.to_owned(),
        pending: Vec::new(),
        ingested: 0,
    };
    // Downstream operations start once their first input exists.
    let mut clock = start + Span::minutes(op_index as i64 * 30);
    let mut loaded: Vec<Option<(LotId, Quantity)>> = vec![None; op.feeds.len()];
    let mut open_inputs: Vec<LotId> = Vec::new();
    let mut open_units = 0u64;
    let mut made = Vec::new();
    let mut supplier_count = 0u64;
    let plc = Actor::Plc;
    let size = match op.output {
        OutputKind::Lot { size } => size,
        OutputKind::Serial => 1,
    };
    let date = start.format("%y%m%d").to_string();
    let mut output_seq = 0u64;
    for unit in 0..UNITS_PER_LINE {
        let work_order = work_order(line, unit);
        // Two shifts of operators.
        let operator = Badge::new(if (clock.timestamp() / 28_800) % 2 == 0 {
            "EMP-1001"
        } else {
            "EMP-1002"
        });
        let person = Actor::Operator(operator.clone());
        for (index, feed) in op.feeds.iter().enumerate() {
            let enough = loaded[index]
                .as_ref()
                .is_some_and(|(_, left)| *left >= feed.per_unit);
            if enough {
                continue;
            }
            let (lot, quantity) = match &feed.source {
                Source::Upstream => {
                    let Some(next) = upstream.pop_front() else {
                        // The previous operation made fewer units (its last tote was partial).
                        return finish(log, made);
                    };
                    // It waits in the queue between operations: 5 to 60 minutes.
                    let start_at = next.at + Span::minutes(5 + dice.next(56) as i64);
                    clock = clock.max(start_at);
                    (next.id, next.quantity)
                }
                Source::Supplier { prefix, size } => {
                    supplier_count += 1;
                    let lot = LotId::new(format!("{prefix}-{station}-{supplier_count:05}"));
                    log.emit(
                        clock,
                        &person,
                        EventKind::LotRegistered {
                            lot: lot.clone(),
                            material: MaterialId::from(feed.material),
                            quantity: Quantity::from_milli(*size),
                            expiry: None,
                            gtin: None,
                        },
                    );
                    (lot, Quantity::from_milli(*size))
                }
            };
            log.emit(
                clock,
                &person,
                EventKind::LotLoaded {
                    work_order: work_order.clone(),
                    operation: OperationId::from(op.id),
                    material: MaterialId::from(feed.material),
                    lot: lot.clone(),
                    entry: Entry::Scanned,
                },
            );
            if !open_inputs.contains(&lot) {
                open_inputs.push(lot.clone());
            }
            loaded[index] = Some((lot, quantity));
        }
        clock += Span::seconds(op.cycle_seconds);
        log.emit(
            clock,
            &plc,
            EventKind::UnitsProduced {
                work_order: Some(work_order.clone()),
                produced: 1,
                rejected: 0,
                plc_epoch: 1,
                processed_total: u32::try_from(unit + 1).unwrap_or(u32::MAX),
                defective_total: 0,
            },
        );
        for (index, feed) in op.feeds.iter().enumerate() {
            if let Some((lot, left)) = loaded[index].as_mut() {
                *left = left.saturating_sub(feed.per_unit);
                log.emit(
                    clock,
                    &plc,
                    EventKind::LotConsumed {
                        work_order: work_order.clone(),
                        operation: OperationId::from(op.id),
                        material: MaterialId::from(feed.material),
                        lot: lot.clone(),
                        quantity: feed.per_unit,
                        basis: ConsumptionBasis::BomRate,
                    },
                );
            }
        }
        open_units += 1;
        if open_units == size || unit + 1 == UNITS_PER_LINE {
            output_seq += 1;
            let id = LotId::new(format!("{station}-{date}-{output_seq:06}"));
            let mut inputs = std::mem::take(&mut open_inputs);
            inputs.sort();
            log.emit(
                clock,
                &plc,
                EventKind::OutputCreated {
                    work_order: work_order.clone(),
                    operation: OperationId::from(op.id),
                    output: id.clone(),
                    form: match op.output {
                        OutputKind::Lot { .. } => OutputForm::Lot,
                        OutputKind::Serial => OutputForm::Serial,
                    },
                    material: MaterialId::from(op.output_material),
                    quantity: Quantity::units(open_units),
                    inputs,
                    operator: Some(operator),
                    next_operation: next_op.map(OperationId::from),
                    machine_state: Some("running".into()),
                },
            );
            made.push(Made {
                id,
                quantity: Quantity::units(open_units),
                at: clock,
            });
            open_units = 0;
            // The next output starts from the lots still loaded.
            open_inputs = loaded
                .iter()
                .flatten()
                .filter(|(_, left)| left.is_positive())
                .map(|(lot, _)| lot.clone())
                .collect();
        }
    }
    finish(log, made)
}

fn finish(mut log: Log<'_>, made: Vec<Made>) -> (Vec<Made>, u64) {
    log.flush();
    (made, log.ingested)
}

/// Builds the plant's central database at `path` through the ingest path.
fn build(path: &Path) -> (u64, Duration) {
    let started = Instant::now();
    let building = path.with_extension("building");
    for stale in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{stale}", building.display()));
    }
    let mut db = Db::open(&building).expect("open bench db");
    let start = DateTime::from_timestamp(1_735_718_400, 0).unwrap_or_default(); // 2025-01-01
    db.upsert_master(&master_records(start.date_naive()), start)
        .expect("master data");
    let operations = routing();
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    let mut events = 0;
    for line in LINES {
        let mut upstream = VecDeque::new();
        for index in 0..operations.len() {
            let (made, ingested) = run_station(
                &mut db,
                line,
                &operations,
                index,
                upstream,
                start,
                &mut dice,
            );
            events += ingested;
            println!(
                "  built {}: {ingested} events, {} outputs ({:.0?} so far)",
                station_of(line, index),
                made.len(),
                started.elapsed()
            );
            upstream = made.into();
        }
    }
    drop(db);
    std::fs::rename(&building, path).expect("keep the built database");
    (events, started.elapsed())
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Vec<Duration>, T) {
    let mut last = f(); // warm-up: statement cache and page cache
    let samples = (0..runs)
        .map(|_| {
            let started = Instant::now();
            last = f();
            started.elapsed()
        })
        .collect();
    (samples, last)
}

struct Row {
    name: String,
    lots: Option<u64>,
    samples: Vec<Duration>,
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).expect("bench folder");
    let path = dir.join(format!(
        "genealogy-plant-v{PLANT_VERSION}-{UNITS_PER_LINE}.db"
    ));
    let built = if path.exists() {
        println!("using the cached plant database {}", path.display());
        None
    } else {
        println!("building the plant database {} ...", path.display());
        Some(build(&path))
    };

    let raw = takt::store::connect(&path, true).expect("read connection");
    let count = |sql: &str| -> u64 {
        raw.query_row(sql, [], |row| row.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .expect("count")
    };
    let events = count("SELECT COUNT(*) FROM events");
    let lots = count("SELECT COUNT(*) FROM lots");
    let edges = count("SELECT COUNT(*) FROM lot_edges");
    let stations = count("SELECT COUNT(*) FROM station_heads");
    if let Some((ingested, took)) = built {
        assert_eq!(ingested, events);
        println!(
            "built in {:.1?}: {:.0} events/s through Db::ingest",
            took,
            events as f64 / took.as_secs_f64()
        );
    }
    assert!(events >= 1_000_000 && lots >= 100_000, "plant too small");

    // The traced units: a serial from the middle of line 1, a casting lot feeding it.
    let serial = LotId::new(format!("L1-S4-250101-{:06}", UNITS_PER_LINE / 2));
    let db = Db::open(&path).expect("open plant db");
    let (samples_back, back) = time(RUNS, || {
        db.genealogy(&serial, TraceDirection::Backward, 20)
            .expect("backward")
            .expect("serial known")
    });
    let casting = leaf_supplier(&back.root, "CAST-200").expect("the serial has a casting lot");
    let grease = leaf_supplier(&back.root, "GRS-1").expect("the serial has grease");
    assert_eq!(back.depth, 4, "5 levels: serial .. supplier lots");
    let (samples_fwd, forward) = time(RUNS, || {
        db.genealogy(&casting, TraceDirection::Forward, 20)
            .expect("forward")
            .expect("lot known")
    });
    assert!(forward.finished.iter().any(|unit| unit.serial == serial));
    let (samples_wide, wide) = time(RUNS, || {
        db.genealogy(&grease, TraceDirection::Forward, 20)
            .expect("forward")
            .expect("lot known")
    });
    let mut lookup = raw
        .prepare("SELECT material FROM lots WHERE id = ?1")
        .expect("prepare");
    let (samples_pk, found) = time(RUNS * 20, || {
        lookup
            .query_row(params![casting.as_str()], |row| row.get::<_, String>(0))
            .optional()
            .expect("lookup")
    });
    assert_eq!(found.as_deref(), Some("CAST-200"));
    drop(db);

    // Once through HTTP: the same query as `takt trace` makes, JSON and all.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (http_back, http_fwd) = runtime.block_on(async {
        let central = takt::central::spawn(([127, 0, 0, 1], 0).into(), path.clone())
            .await
            .expect("central");
        let client = reqwest::Client::new();
        let run = |lot: LotId, direction: &'static str| {
            let url = format!(
                "{}/api/v1/lots/{lot}/genealogy?direction={direction}",
                central.url()
            );
            let client = client.clone();
            async move {
                let mut samples = Vec::new();
                for round in 0..=HTTP_RUNS {
                    let started = Instant::now();
                    let answer: Genealogy = client
                        .get(&url)
                        .send()
                        .await
                        .expect("http")
                        .json()
                        .await
                        .expect("genealogy json");
                    if round > 0 {
                        samples.push(started.elapsed());
                    }
                    assert!(answer.nodes > 1);
                }
                samples
            }
        };
        let back = run(serial.clone(), "backward").await;
        let fwd = run(casting.clone(), "forward").await;
        central.shutdown().await;
        (back, fwd)
    });

    let rows = [
        Row {
            name: "baseline: lots primary-key lookup".into(),
            lots: None,
            samples: samples_pk.clone(),
        },
        Row {
            name: format!("backward {serial} (Db)"),
            lots: Some(back.nodes),
            samples: samples_back,
        },
        Row {
            name: format!("forward {casting} (Db)"),
            lots: Some(forward.nodes),
            samples: samples_fwd,
        },
        Row {
            name: format!("forward {grease} (Db, widest)"),
            lots: Some(wide.nodes),
            samples: samples_wide,
        },
        Row {
            name: "backward serial (HTTP + JSON)".into(),
            lots: Some(back.nodes),
            samples: http_back,
        },
        Row {
            name: "forward casting lot (HTTP + JSON)".into(),
            lots: Some(forward.nodes),
            samples: http_fwd,
        },
    ];
    let baseline = percentile(&samples_pk, 0.5).as_secs_f64();
    println!();
    println!(
        "genealogy: {events} events, {lots} lots, {edges} links, {stations} stations, 5 levels; {RUNS} runs (HTTP {HTTP_RUNS})"
    );
    println!(
        "  {:<46} {:>6} {:>11} {:>11} {:>12}",
        "query", "lots", "p50", "p95", "p50/baseline"
    );
    for row in &rows {
        let p50 = percentile(&row.samples, 0.5);
        println!(
            "  {:<46} {:>6} {:>11.1?} {:>11.1?} {:>11.0}x",
            row.name,
            row.lots.map_or("-".to_owned(), |n| n.to_string()),
            p50,
            percentile(&row.samples, 0.95),
            p50.as_secs_f64() / baseline
        );
    }
    println!(
        "  finished units reached forward: {} from {casting}, {} from {grease}",
        forward.finished.len(),
        wide.finished.len()
    );
    let worst = rows[1..4]
        .iter()
        .map(|row| percentile(&row.samples, 0.5))
        .max()
        .unwrap_or_default();
    println!(
        "  target: p50 < 50 ms in either direction through Db: {}",
        if worst < Duration::from_millis(50) {
            "met"
        } else {
            "MISSED"
        }
    );
}

/// The first supplier lot of `material` in a backward tree.
fn leaf_supplier(node: &takt::protocol::GenealogyNode, material: &str) -> Option<LotId> {
    if node.material.as_ref().map(MaterialId::as_str) == Some(material) {
        return Some(node.lot.clone());
    }
    node.children
        .iter()
        .find_map(|child| leaf_supplier(child, material))
}
