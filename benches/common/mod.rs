//! What the uplink benchmarks (`ingest`, `drain`) share: the gzip batches a station sends, the
//! bare baseline (a plain axum route doing a plain SQLite insert) and a real central with the demo
//! plant and one station's token, and a cache for generated databases under `target/`.

// Each bench binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use chrono::{DateTime, Utc};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use takt::domain::machine::MachineCategory;
use takt::domain::part_record::PartResult;
use takt::domain::{Actor, Event, EventKind, NewEvent, StationId, WorkOrderId};
use takt::protocol::EventBatch;
use takt::store::connect;

/// The station every uplink bench pushes from (a demo-plant station).
pub const STATION: &str = "L1-S1";

/// As the station sends them: gzip at the fast level.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("compress");
    encoder.finish().expect("compressed")
}

/// The gzip body of a batch of events, as the wire format has it.
pub fn batch_body(events: Vec<Event>) -> Bytes {
    let json = serde_json::to_vec(&EventBatch::of(events)).expect("json");
    Bytes::from(gzip(&json))
}

/// Units counted by the PLC for the demo's first work order: the bulk of a running station's log.
pub fn units(at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        at,
        actor: Actor::Plc,
        kind: EventKind::UnitsProduced {
            work_order: Some(WorkOrderId::from("WO-24001")),
            produced: 1,
            rejected: 0,
            plc_epoch: 1,
            processed_total: 0,
            defective_total: 0,
        },
    }
}

/// The `index`th event of a busy station's log: mostly units, a per-part record every tenth
/// event, a machine state change every hundredth (running, then a short stop).
pub fn plc_event(index: u64, at: DateTime<Utc>) -> NewEvent {
    if index % 100 == 99 {
        let stopped = (index / 100) % 2 == 1;
        return NewEvent {
            at,
            actor: Actor::Plc,
            kind: EventKind::MachineStateChanged {
                packml: if stopped { 2 } else { 6 },
                stop_reason: if stopped { 12 } else { 0 },
                blocked: false,
                starved: false,
                category: if stopped {
                    MachineCategory::UnplannedDowntime
                } else {
                    MachineCategory::Running
                },
            },
        };
    }
    if index % 10 == 9 {
        return NewEvent {
            at,
            actor: Actor::Plc,
            kind: EventKind::PartRecorded {
                record_seq: u32::try_from(index / 10).unwrap_or(u32::MAX),
                plc_epoch: 1,
                result: PartResult::Good,
                reject_reason: 0,
                cycle_ms: 4_400 + u32::try_from(index % 200).unwrap_or(0),
                serial: format!("SN{index:010}"),
                work_order: Some(WorkOrderId::from("WO-24001")),
            },
        };
    }
    units(at)
}

/// POSTs the batches one after the other (one in flight, as a station does); the time they took.
pub async fn post_all(url: &str, token: &str, batches: &[Bytes]) -> Duration {
    let client = reqwest::Client::new();
    let started = Instant::now();
    for body in batches {
        let response = client
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(body.clone())
            .send()
            .await
            .expect("sent");
        assert!(response.status().is_success(), "{}", response.status());
    }
    started.elapsed()
}

/// The baseline: unpack, parse, one INSERT per event in one transaction, commit, answer.
async fn bare_ingest(
    State(conn): State<Arc<Mutex<rusqlite::Connection>>>,
    body: Bytes,
) -> &'static str {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut json)
        .expect("gzip");
    let batch: EventBatch = serde_json::from_slice(&json).expect("batch");
    tokio::task::spawn_blocking(move || {
        let mut conn = conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = conn.transaction().expect("tx");
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO events (station, seq, body) VALUES (?1, ?2, ?3)")
                .expect("prepare");
            for event in &batch.events {
                let body = serde_json::to_string(event).expect("json");
                insert
                    .execute(rusqlite::params![
                        event.station.as_str(),
                        event.seq as i64,
                        body
                    ])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    })
    .await
    .expect("insert task");
    "ok"
}

/// Serves the bare baseline on a loopback port, over a fresh database at `db` (same connection
/// settings as Takt's: WAL, synchronous=FULL); its URL.
pub async fn spawn_bare(db: &Path) -> String {
    let conn = connect(db, false).expect("bare db");
    conn.execute_batch(
        "CREATE TABLE events (station TEXT, seq INTEGER, body TEXT, PRIMARY KEY (station, seq))",
    )
    .expect("table");
    let app = axum::Router::new()
        .route("/ingest", post(bare_ingest))
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
        .with_state(Arc::new(Mutex::new(conn)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/ingest", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A real central over a fresh database at `db`: the demo plant, and [`STATION`] registered. The
/// handle and the station's token.
pub async fn spawn_central(db: &Path) -> (takt::central::CentralHandle, String) {
    takt::central::seed_demo(db, Utc::now().date_naive()).expect("seed");
    let token = takt::central::add_station(db, STATION).expect("token");
    let central = takt::central::spawn(([127, 0, 0, 1], 0).into(), db.to_owned())
        .await
        .expect("central");
    (central, token)
}

/// The station id of [`STATION`].
pub fn station() -> StationId {
    StationId::from(STATION)
}

/// Where generated databases are kept between runs: `bench-cache` in Cargo's target directory.
/// `TAKT_BENCH_EVENTS` (underscores allowed), or `default`: how long a history a bench builds.
pub fn events_wanted(default: u64) -> u64 {
    match std::env::var("TAKT_BENCH_EVENTS") {
        Ok(text) => text
            .trim()
            .replace('_', "")
            .parse()
            .expect("TAKT_BENCH_EVENTS is a number of events"),
        Err(_) => default,
    }
}

pub fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("bench-cache");
    std::fs::create_dir_all(&dir).expect("bench cache directory");
    dir
}

/// Removes a SQLite file and its WAL and shared-memory files, if they exist.
pub fn remove_db(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(&name) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => panic!("removing {}: {error}", Path::new(&name).display()),
        }
    }
}

/// The median of some measurements (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
