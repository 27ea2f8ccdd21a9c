//! Central ingest: events per second through `POST /api/v1/stations/{station}/events` on a real
//! central (token check, gzip, idempotent insert, seq continuity and hash-chain check, projections,
//! commit, then the ack), next to a bare HTTP POST of the same gzip batches into a bare SQLite
//! insert (same WAL + synchronous=FULL settings), measured in the same run on loopback.
//!
//! Both run in alternating pairs (bare then ours, ours then bare, ...), each round on fresh
//! databases; the ratio is the median of the pairs' ratios (on a shared 2-core machine one round's
//! fsyncs swing by 2x with what else touches the disk).
//!
//! `cargo bench --bench ingest` prints both rates and their ratio. Target: ours ≥ 0.5 of bare.

mod common;

use axum::body::Bytes;
use chrono::Utc;
use std::time::Duration;
use takt::domain::Event;
use takt::store::Store;

const BATCHES: usize = 60;
const PER_BATCH: usize = 500;
const PAIRS: usize = 5;

/// The batches a station would send: its real, hash-chained log.
fn station_batches(dir: &std::path::Path) -> Vec<Bytes> {
    let mut store = Store::open(&dir.join("station.db"), &common::station()).expect("station");
    let mut state = store.load_state().expect("state");
    (0..BATCHES)
        .map(|_| {
            let events: Vec<Event> = store
                .append(
                    &mut state,
                    (0..PER_BATCH).map(|_| common::units(Utc::now())).collect(),
                )
                .expect("append");
            common::batch_body(events)
        })
        .collect()
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
    let (mut bare_rates, mut our_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    runtime.block_on(async {
        for pair in 0..PAIRS {
            let round = dir.path().join(format!("round-{pair}"));
            std::fs::create_dir_all(&round).expect("round dir");
            let bare = async {
                let url = common::spawn_bare(&round.join("bare.db")).await;
                common::post_all(&url, "none", &batches).await
            };
            let ours = async {
                let (central, token) = common::spawn_central(&round.join("central.db")).await;
                let url = format!(
                    "{}/api/v1/stations/{}/events",
                    central.url(),
                    common::STATION
                );
                let took = common::post_all(&url, &token, &batches).await;
                central.shutdown().await;
                took
            };
            let (bare, ours): (Duration, Duration) = if pair % 2 == 0 {
                let bare = bare.await;
                (bare, ours.await)
            } else {
                let ours = ours.await;
                (bare.await, ours)
            };
            let rate = |took: Duration| events / took.as_secs_f64();
            bare_rates.push(rate(bare));
            our_rates.push(rate(ours));
            ratios.push(rate(ours) / rate(bare));
        }
    });
    println!(
        "ingest: {BATCHES} gzip batches of {PER_BATCH} hash-chained events on loopback, WAL + synchronous=FULL, {PAIRS} pairs"
    );
    println!(
        "  bare POST -> INSERT   {:>9.0} events/s  (median)",
        common::median(bare_rates)
    );
    println!(
        "  takt central ingest   {:>9.0} events/s  (median; chain check, projections, ack)",
        common::median(our_rates)
    );
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    println!(
        "  ratio ours / bare: {:.2}  (median of pairs: {}; target >= 0.5)",
        common::median(ratios),
        shown.join(" ")
    );
}
