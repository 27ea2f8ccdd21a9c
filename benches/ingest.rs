//! Central ingest: events per second through `POST /api/v1/stations/{station}/events` on a real
//! central (token check, gzip, idempotent insert, seq continuity and hash-chain check, projections,
//! commit, then the ack), next to a bare HTTP POST of the same gzip batches into a bare SQLite
//! insert (same WAL + synchronous=FULL settings), measured in the same run on loopback.
//!
//! `cargo bench --bench ingest` prints both rates and their ratio. Target: ours ≥ 0.5 of bare.

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use chrono::Utc;
use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use takt::domain::{Actor, Event, EventKind, NewEvent, StationId, WorkOrderId};
use takt::protocol::EventBatch;
use takt::store::{Store, connect};

const BATCHES: usize = 60;
const PER_BATCH: usize = 500;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("compress");
    encoder.finish().expect("compressed")
}

/// The batches a station would send: its real, hash-chained log.
fn station_batches(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let station = StationId::from("L1-S1");
    let mut store = Store::open(&dir.join("station.db"), &station).expect("station store");
    let mut state = store.load_state().expect("state");
    let mut batches = Vec::new();
    for _ in 0..BATCHES {
        let events: Vec<Event> = store
            .append(
                &mut state,
                (0..PER_BATCH)
                    .map(|_| NewEvent {
                        at: Utc::now(),
                        actor: Actor::Plc,
                        kind: EventKind::UnitsProduced {
                            work_order: Some(WorkOrderId::from("WO-24001")),
                            produced: 1,
                            rejected: 0,
                            plc_epoch: 1,
                            processed_total: 0,
                            defective_total: 0,
                        },
                    })
                    .collect(),
            )
            .expect("append");
        let json = serde_json::to_vec(&EventBatch::of(events)).expect("json");
        batches.push(gzip(&json));
    }
    batches
}

async fn post_all(url: &str, token: &str, batches: &[Vec<u8>]) -> Duration {
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

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let batches = station_batches(dir.path());
    let events = (BATCHES * PER_BATCH) as f64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        // Bare: a plain axum route into a plain table.
        let conn = connect(&dir.path().join("bare.db"), false).expect("bare db");
        conn.execute_batch(
            "CREATE TABLE events (station TEXT, seq INTEGER, body TEXT, PRIMARY KEY (station, seq))",
        )
        .expect("table");
        let app = axum::Router::new()
            .route("/ingest", post(bare_ingest))
            .layer(axum::extract::DefaultBodyLimit::max(16 * 1024 * 1024))
            .with_state(Arc::new(Mutex::new(conn)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let bare_url = format!("http://{}/ingest", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        let bare = post_all(&bare_url, "none", &batches).await;

        // Ours: a real central with the demo plant and this station's token.
        let central_db = dir.path().join("central.db");
        takt::central::seed_demo(&central_db, Utc::now().date_naive()).expect("seed");
        let token = takt::central::add_station(&central_db, "L1-S1").expect("token");
        let central = takt::central::spawn(([127, 0, 0, 1], 0).into(), central_db.clone())
            .await
            .expect("central");
        let ours_url = format!("{}/api/v1/stations/L1-S1/events", central.url());
        let ours = post_all(&ours_url, &token, &batches).await;
        central.shutdown().await;

        let rate = |took: Duration| events / took.as_secs_f64();
        println!(
            "ingest: {BATCHES} gzip batches of {PER_BATCH} hash-chained events on loopback, WAL + synchronous=FULL"
        );
        println!(
            "  bare POST -> INSERT   {:>9.0} events/s  ({:.2} s)",
            rate(bare),
            bare.as_secs_f64()
        );
        println!(
            "  takt central ingest   {:>9.0} events/s  ({:.2} s; chain check, projections, ack)",
            rate(ours),
            ours.as_secs_f64()
        );
        println!(
            "  ratio ours / bare: {:.2}  (target >= 0.5)",
            rate(ours) / rate(bare)
        );
    });
}
