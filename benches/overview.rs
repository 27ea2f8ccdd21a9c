//! Line overview over a long history: `GET /api/v1/lines/L1/overview` on a real central whose
//! database holds 10,000,000 events of the demo line's three stations (a busy station's mix: units,
//! a per-part record every tenth event, a machine state change every hundredth), next to a bare
//! primary-key lookup of one event in the same file, and next to a bare HTTP round trip
//! (`/api/v1/health`) to the same server, in the same run.
//!
//! The history is written by plain SQL into central's own schema (every index the ingest path
//! keeps), and cached under `target/bench-cache` so later runs start at once.
//! `TAKT_BENCH_EVENTS` makes it smaller. `cargo bench --bench overview`. Target: under 50 ms.

mod common;

use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use takt::domain::{Event, StationId};

/// Bump when the generated history changes shape, so a stale cache is not reused.
const HISTORY_VERSION: u32 = 1;
const STATIONS: [&str; 3] = ["L1-S1", "L1-S2", "L1-S3"];
const CALLS: usize = 200;

fn events_wanted() -> u64 {
    std::env::var("TAKT_BENCH_EVENTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(10_000_000)
}

/// Central's database with `events` events of history, built once and kept.
fn history(events: u64) -> PathBuf {
    let path = common::cache_dir().join(format!("overview-v{HISTORY_VERSION}-{events}.db"));
    if path.exists() {
        return path;
    }
    let building = path.with_extension("building");
    common::remove_db(&building);
    let started = Instant::now();
    // The schema, the demo line and master data, as central makes them.
    let today = Utc::now().date_naive();
    takt::central::seed_demo(&building, today).expect("seed");
    let mut conn = rusqlite::Connection::open(&building).expect("open");
    // Generation only: the file is finished and renamed before anything reads it.
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")
        .expect("pragmas");
    let start: DateTime<Utc> = Utc::now() - chrono::Duration::milliseconds(events as i64 * 10);
    let mut seqs = [0u64; STATIONS.len()];
    let mut heads: [Option<(u64, String)>; STATIONS.len()] = [None, None, None];
    let mut written = 0u64;
    while written < events {
        let tx = conn.transaction().expect("tx");
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO events (station, seq, id, at, actor, kind, work_order, body,
                                         prev_hash, hash, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .expect("prepare");
            for _ in 0..200_000.min(events - written) {
                let which = (written % STATIONS.len() as u64) as usize;
                seqs[which] += 1;
                let seq = seqs[which];
                let at = start + chrono::Duration::milliseconds(written as i64 * 10);
                let prev = heads[which]
                    .as_ref()
                    .map_or_else(|| takt::domain::GENESIS_HASH.to_owned(), |(_, h)| h.clone());
                let event = Event::seal(
                    common::plc_event(seq, at),
                    StationId::from(STATIONS[which]),
                    seq,
                    uuid::Uuid::now_v7(),
                    prev,
                );
                let at_text = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                insert
                    .execute(rusqlite::params![
                        STATIONS[which],
                        seq as i64,
                        event.id.to_string(),
                        at_text,
                        event.actor.to_string(),
                        event.kind.name(),
                        event.kind.work_order().map(|id| id.as_str().to_owned()),
                        serde_json::to_string(&event).expect("json"),
                        event.prev_hash,
                        event.hash,
                        at_text,
                    ])
                    .expect("insert");
                heads[which] = Some((seq, event.hash));
                written += 1;
            }
        }
        tx.commit().expect("commit");
        eprint!("\r  history: {written} of {events} events");
    }
    eprintln!();
    for (station, head) in STATIONS.iter().zip(&heads) {
        if let Some((seq, hash)) = head {
            conn.execute(
                "INSERT INTO station_heads (station, seq, hash) VALUES (?1, ?2, ?3)",
                rusqlite::params![station, *seq as i64, hash],
            )
            .expect("head");
        }
        // The order each station is on, as ingest's projection keeps it.
        conn.execute(
            "INSERT INTO work_order_progress (work_order, station, status, produced, rejected,
                                              updated_at)
             VALUES ('WO-24001', ?1, 'running', ?2, 0, ?3)",
            rusqlite::params![station, (events / 3) as i64, Utc::now().to_rfc3339()],
        )
        .expect("progress");
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")
        .expect("checkpoint");
    drop(conn);
    std::fs::rename(&building, &path).expect("keep the history");
    common::remove_db(&building);
    eprintln!("  built in {:.1?}", started.elapsed());
    path
}

fn percentile(mut values: Vec<Duration>, p: f64) -> Duration {
    values.sort();
    let index = ((values.len() as f64 - 1.0) * p).round() as usize;
    values.get(index).copied().unwrap_or_default()
}

fn report(what: &str, times: Vec<Duration>) -> Duration {
    let median = percentile(times.clone(), 0.5);
    println!(
        "{what:<38} median {:>9.3} ms   p99 {:>9.3} ms",
        median.as_secs_f64() * 1e3,
        percentile(times, 0.99).as_secs_f64() * 1e3
    );
    median
}

fn main() {
    let events = events_wanted();
    println!("line overview over a {events}-event history (3 stations)");
    let path = history(events);

    // In-process: the storage call itself, next to a primary-key lookup in the same file.
    let db = takt::central::Db::open(&path).expect("open");
    let lookup = rusqlite::Connection::open(&path).expect("open");
    let mut overview_times = Vec::new();
    let mut lookup_times = Vec::new();
    for call in 0..CALLS {
        let started = Instant::now();
        let overview = db
            .line_overview("L1", Utc::now(), &|_| None)
            .expect("overview")
            .expect("line L1");
        overview_times.push(started.elapsed());
        assert_eq!(overview.stations.len(), 3);
        assert!(overview.stations.iter().all(|s| s.machine.is_some()));
        let started = Instant::now();
        let seq = 1 + (call as i64 * 7919) % (events as i64 / 3).max(1);
        let body: String = lookup
            .prepare_cached("SELECT body FROM events WHERE station = ?1 AND seq = ?2")
            .expect("prepare")
            .query_row(rusqlite::params!["L1-S2", seq], |row| row.get(0))
            .expect("lookup");
        lookup_times.push(started.elapsed());
        std::hint::black_box(body);
    }
    let ours = report("Db::line_overview", overview_times);
    let bare = report("primary-key lookup of one event", lookup_times);
    println!(
        "  ratio {:.1}x the bare lookup",
        ours.as_secs_f64() / bare.as_secs_f64()
    );
    drop(db);

    // Over HTTP, as a lead's screen asks it, next to the same server's health answer.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let central = takt::central::spawn(([127, 0, 0, 1], 0).into(), path.clone())
            .await
            .expect("central");
        let client = reqwest::Client::new();
        let url = central.url();
        let mut overview_times = Vec::new();
        let mut health_times = Vec::new();
        for _ in 0..CALLS {
            let started = Instant::now();
            let response = client
                .get(format!("{url}/api/v1/lines/L1/overview"))
                .send()
                .await
                .expect("sent");
            assert!(response.status().is_success());
            response.bytes().await.expect("body");
            overview_times.push(started.elapsed());
            let started = Instant::now();
            client
                .get(format!("{url}/api/v1/health"))
                .send()
                .await
                .expect("sent")
                .bytes()
                .await
                .expect("body");
            health_times.push(started.elapsed());
        }
        let ours = report("GET /api/v1/lines/L1/overview", overview_times);
        let bare = report("GET /api/v1/health (bare round trip)", health_times);
        println!(
            "  ratio {:.1}x the bare round trip; target under 50 ms",
            ours.as_secs_f64() / bare.as_secs_f64()
        );
        central.shutdown().await;
    });
}
