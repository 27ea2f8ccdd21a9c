//! Draining a station's backlog: the time for a station with 1,000,000 events not yet sent to
//! bring a real central up to date on loopback, next to the bare path in the same run.
//!
//! - The backlog is a real station store: a hash-chained log written through `Store::append`
//!   (units from the PLC, a per-part record every tenth event, a machine state change every
//!   hundredth), generated once and kept in `target/bench-cache/` (keyed by [`CACHE_VERSION`] and
//!   the event count). Each run sets its sync cursors back to zero.
//! - Ours: a real central (the demo plant, the station's token) and the station's own sync worker
//!   (`takt::sync::spawn_worker`, as `takt station` runs it), its reports applied to the store as
//!   the station core does (acks and master-data pages persisted), from the worker's start until
//!   central has acknowledged the last seq.
//! - Bare: the same batches (500 events, gzip JSON), read and packed before the clock starts,
//!   POSTed one at a time to a bare axum route doing a bare SQLite insert.
//!
//! Central and the station each run on their own runtime, as two processes would. Dirty pages are
//! flushed (`sync`) before each phase.
//!
//! `cargo bench --bench drain` prints both times and rates. Target: ours under 15 s for 1,000,000
//! events. `TAKT_BENCH_EVENTS=100000 cargo bench --bench drain` runs a smaller backlog.

mod common;

use axum::body::Bytes;
use chrono::{Duration as TimeDelta, Utc};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use takt::protocol::MAX_BATCH_EVENTS;
use takt::store::{Store, connect, read_events_after};
use takt::sync::{SyncConfig, SyncReport, spawn_worker};
use tokio::sync::{mpsc, watch};

/// Bump when the generated backlog changes, so a stale cache is not reused.
const CACHE_VERSION: u32 = 1;
const DEFAULT_EVENTS: u64 = 1_000_000;
/// Events appended per store transaction while generating.
const APPEND_CHUNK: u64 = 10_000;

/// The cached station store with `events` unsent events, generated if missing.
fn backlog(events: u64) -> PathBuf {
    let path = common::cache_dir().join(format!("drain-v{CACHE_VERSION}-{events}.db"));
    if path.exists() {
        return path;
    }
    let partial = path.with_extension("partial");
    common::remove_db(&partial);
    eprintln!(
        "drain: generating a {events}-event backlog in {} ...",
        path.display()
    );
    let started = Instant::now();
    {
        let mut store = Store::open(&partial, &common::station()).expect("station store");
        let mut state = store.load_state().expect("state");
        // One event every 100 ms of station time, ending now.
        let first_at =
            Utc::now() - TimeDelta::milliseconds(i64::try_from(events).unwrap_or(0) * 100);
        let mut index = 0;
        while index < events {
            let chunk = APPEND_CHUNK.min(events - index);
            let batch = (index..index + chunk)
                .map(|i| {
                    let at =
                        first_at + TimeDelta::milliseconds(i64::try_from(i).unwrap_or(0) * 100);
                    common::plc_event(i, at)
                })
                .collect();
            store.append(&mut state, batch).expect("append");
            index += chunk;
        }
    }
    // The store is closed (its WAL folded in): only a complete file gets the cache's name.
    std::fs::rename(&partial, &path).expect("cache the backlog");
    eprintln!(
        "drain: generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    path
}

/// Sets the store's sync cursors back to nothing sent and nothing pulled.
fn reset_cursors(path: &Path) {
    let conn = connect(path, false).expect("station db");
    conn.execute(
        "UPDATE sync_state SET acked_through = 0, acked_chain_head = NULL, downlink_cursor = 0,
         last_server_time = NULL, last_error = NULL",
        [],
    )
    .expect("reset sync state");
}

/// The backlog as the bare path sends it: batches of 500, gzip JSON.
fn bare_batches(path: &Path, events: u64) -> Vec<Bytes> {
    let conn = connect(path, true).expect("station db");
    let mut batches = Vec::new();
    let mut after = 0;
    while after < events {
        let batch = read_events_after(&conn, after, MAX_BATCH_EVENTS as u64).expect("read");
        after = batch.last().map_or(events, |event| event.seq);
        batches.push(common::batch_body(batch));
    }
    batches
}

/// Runs the station's sync worker against central until central has acknowledged `events`; the
/// time from the worker's start.
fn drain(station_db: &Path, central_url: String, token: String, events: u64) -> Duration {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("station runtime");
    // The station core: a thread of its own that persists what the worker reports.
    let (reports_tx, mut reports_rx) = mpsc::channel(64);
    let core_db = station_db.to_owned();
    let core = std::thread::spawn(move || {
        let mut store = Store::open(&core_db, &common::station()).expect("station store");
        let mut state = store.load_state().expect("state");
        while let Some(report) = reports_rx.blocking_recv() {
            match report {
                SyncReport::Acked(ack) => {
                    store
                        .record_ack(&mut state, &ack, chrono::Utc::now())
                        .expect("record ack");
                    if ack.acked_through >= events {
                        return Instant::now();
                    }
                }
                SyncReport::Rewind { expected_seq } => {
                    store.rewind_ack(expected_seq).expect("rewind");
                }
                SyncReport::Changes(page) => {
                    store.apply_changes(&mut state, &page).expect("changes");
                }
                SyncReport::Rejected { error } => panic!("central refused: {error}"),
                SyncReport::Heard { server_time } => {
                    store
                        .record_heard(&mut state, server_time, chrono::Utc::now())
                        .expect("heard");
                }
                SyncReport::Link(_) | SyncReport::ClockOffset { .. } => {}
            }
        }
        panic!("the sync worker stopped before central had every event");
    });
    let (_appended_tx, appended_rx) = watch::channel(events);
    let config = SyncConfig::new(central_url, token, common::station(), station_db.to_owned());
    let started = Instant::now();
    let worker = runtime.spawn(async move { spawn_worker(config, appended_rx, reports_tx).await });
    let finished = core.join().expect("core thread");
    // The core returned, so the reports channel is closed: the worker ends.
    runtime
        .block_on(worker)
        .expect("worker")
        .expect("worker task");
    finished - started
}

/// Lets the kernel write back what the last phase left dirty (a gigabyte of WAL and database
/// pages after a bare run), so that writeback does not land on the next phase's fsyncs.
fn settle() {
    // A bench convenience: where there is no `sync` command, phases just run back to back.
    let _ = std::process::Command::new("sync").status();
}

fn main() {
    let events = common::events_wanted(DEFAULT_EVENTS);
    let station_db = backlog(events);
    reset_cursors(&station_db);
    let dir = tempfile::tempdir().expect("temp dir");

    let central_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("central runtime");

    let batches = bare_batches(&station_db, events);
    settle();
    let bare = central_runtime.block_on(async {
        let url = common::spawn_bare(&dir.path().join("bare.db")).await;
        common::post_all(&url, "none", &batches).await
    });
    drop(batches);
    settle();

    let central_db = dir.path().join("central.db");
    let (central, token) = central_runtime.block_on(common::spawn_central(&central_db));
    let ours = drain(&station_db, central.url(), token, events);
    central_runtime.block_on(central.shutdown());
    let head = takt::central::Db::open(&central_db)
        .expect("central db")
        .head(&common::station())
        .expect("head")
        .map(|(seq, _)| seq);
    assert_eq!(head, Some(events), "central holds the whole log");

    let rate = |took: Duration| events as f64 / took.as_secs_f64();
    println!(
        "drain: a {events}-event backlog from one station to central on loopback, WAL + synchronous=FULL"
    );
    println!(
        "  bare POST -> INSERT    {:>7.2} s  {:>9.0} events/s  (batches packed beforehand)",
        bare.as_secs_f64(),
        rate(bare)
    );
    println!(
        "  takt sync -> central   {:>7.2} s  {:>9.0} events/s  (worker reads, packs, posts; central verifies, projects, acks)",
        ours.as_secs_f64(),
        rate(ours)
    );
    println!(
        "  ratio ours / bare: {:.2}; ours {} the 15 s target for 1,000,000 events",
        rate(ours) / rate(bare),
        if events == DEFAULT_EVENTS {
            if ours < Duration::from_secs(15) {
                "meets"
            } else {
                "misses"
            }
        } else {
            "(scaled run) is not compared with"
        }
    );
}
