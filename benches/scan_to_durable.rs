//! Scan-to-durable: from a scan entering the core to its event committed (WAL, synchronous=FULL),
//! for plain scans (badge / logout) and for GS1 lot labels checked against the demo plant,
//! next to a bare INSERT + commit on the same SQLite settings, measured in the same run.
//!
//! `cargo bench --bench scan_to_durable` prints p50/p90/p99 of both and their ratio. Target: our p50
//! within 2x the bare commit's.

use std::sync::Arc;
use std::time::{Duration, Instant};
use takt::clock::SystemClock;
use takt::domain::StationId;
use takt::protocol::{Change, ChangePage};
use takt::station::{Core, CoreOutputs};
use takt::store::{Store, connect};

const ROUNDS: usize = 400;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn bare_commits(dir: &std::path::Path) -> Vec<Duration> {
    let conn = connect(&dir.join("bare.db"), false).expect("open bare db");
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .expect("create table");
    let body = "x".repeat(300);
    (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            conn.execute_batch("BEGIN").expect("begin");
            conn.execute("INSERT INTO t (body) VALUES (?1)", [&body])
                .expect("insert");
            conn.execute_batch("COMMIT").expect("commit");
            started.elapsed()
        })
        .collect()
}

fn scans(dir: &std::path::Path) -> Vec<Duration> {
    let mut core = demo_core(&dir.join("station.db"));
    // Logged in once (badge, then PIN: Argon2id by design, not part of a scan), then two orders
    // selected in turn: every scan is accepted and appends one event.
    login(&mut core);
    let orders = ["WO-24001", "WO-24002"];
    (0..ROUNDS)
        .map(|round| {
            let started = Instant::now();
            let notice = core.scan(orders[round % 2]);
            let elapsed = started.elapsed();
            assert_eq!(notice.level, takt::station::Level::Ok, "{}", notice.text);
            elapsed
        })
        .collect()
}

/// A station core on `path` holding the demo plant's master data.
fn demo_core(path: &std::path::Path) -> Core {
    let station = StationId::from("L1-S1");
    let mut store = Store::open(path, &station).expect("open store");
    let mut state = store.load_state().expect("state");
    let changes = takt::central::demo::master_records(chrono::Utc::now().date_naive())
        .into_iter()
        .enumerate()
        .map(|(index, record)| Change {
            version: index as u64 + 1,
            record,
        })
        .collect();
    store
        .apply_changes(
            &mut state,
            &ChangePage {
                changes,
                cursor: 1000,
                more: false,
                server_time: chrono::Utc::now(),
                waited_ms: 0,
            },
        )
        .expect("master data");
    Core::new(
        store,
        Arc::new(SystemClock),
        CoreOutputs::detached("L1-S1"),
        None,
        false,
    )
    .expect("core")
}

fn login(core: &mut Core) {
    assert_eq!(core.scan("EMP-1001").level, takt::station::Level::Info);
    assert_eq!(core.scan("1001").level, takt::station::Level::Ok);
}

/// A lot label scanned into a running order: GS1 parse, the poka-yoke checks against the demo
/// plant's bill of materials, holds and expiry, then the durable event. Two casting lots alternate so
/// every scan is accepted.
fn lot_scans(dir: &std::path::Path) -> Vec<Duration> {
    let mut core = demo_core(&dir.join("station-lots.db"));
    login(&mut core);
    assert_eq!(core.scan("WO-24001").level, takt::station::Level::Ok);
    let labels = [
        "]C1010040123450001210C24-1107\u{1d}30400",
        "]C1010040123450001210C25-0001\u{1d}30100000",
    ];
    (0..ROUNDS)
        .map(|round| {
            let started = Instant::now();
            let notice = core.scan(labels[round % 2]);
            let elapsed = started.elapsed();
            assert_eq!(notice.level, takt::station::Level::Ok, "{}", notice.text);
            elapsed
        })
        .collect()
}

fn main() {
    // On the project's disk, not /tmp: /tmp may be memory, where fsync costs nothing.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    println!("database folder: {}", dir.path().display());
    // Interleave the two in blocks so disk weather hits both alike.
    let mut bare = Vec::new();
    let mut ours = Vec::new();
    let mut lots = Vec::new();
    for block in 0..4 {
        let sub = dir.path().join(format!("block{block}"));
        std::fs::create_dir_all(&sub).expect("block dir");
        bare.extend(bare_commits(&sub));
        ours.extend(scans(&sub));
        lots.extend(lot_scans(&sub));
    }
    let bare_p50 = percentile(&mut bare, 0.5);
    let ours_p50 = percentile(&mut ours, 0.5);
    let lots_p50 = percentile(&mut lots, 0.5);
    println!(
        "scan_to_durable: {} samples each, WAL + synchronous=FULL",
        bare.len()
    );
    for (name, samples) in [
        ("bare INSERT+COMMIT", &mut bare),
        ("scan -> durable event", &mut ours),
        ("lot label -> verified", &mut lots),
    ] {
        println!(
            "  {name:<22} p50 {:>9.1?}  p90 {:>9.1?}  p99 {:>9.1?}",
            percentile(samples, 0.5),
            percentile(samples, 0.9),
            percentile(samples, 0.99)
        );
    }
    let ratio = ours_p50.as_secs_f64() / bare_p50.as_secs_f64();
    println!("  ratio p50 (scan / bare) = {ratio:.2}x  (target <= 2.00x)");
    let ratio = lots_p50.as_secs_f64() / bare_p50.as_secs_f64();
    println!("  ratio p50 (lot label / bare) = {ratio:.2}x  (target <= 2.00x)");
}
