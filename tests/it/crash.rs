//! Crash safety: a child process appends through the real core and prints each acknowledgement only
//! after the scan's notice came back (i.e. after commit); the parent kills it with SIGKILL mid-stream,
//! reopens the file, and every acknowledged event must be there with the chain intact.

use crate::support::station_id;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use takt::clock::SystemClock;
use takt::station::{Core, CoreOutputs, Level};
use takt::store::{Store, VerifyReport, connect, verify_chain};

const CHILD_ENV: &str = "TAKT_CRASH_CHILD_DB";

/// Run by the parent as a separate process: appends until killed.
#[test]
#[ignore = "run by kill_mid_append_loses_no_acknowledged_event as a child process"]
fn crash_child_appender() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = Store::open(std::path::Path::new(&db), &station_id()).expect("child store");
    let mut core = Core::new(
        store,
        Arc::new(SystemClock),
        CoreOutputs::detached("L1-S1"),
        None,
        false,
    )
    .expect("child core");
    let mut acked = 0u64;
    for round in 0..100_000u64 {
        // Badge, PIN, logout: the badge alone records nothing (it asks for the PIN).
        let (text, records) = match round % 3 {
            0 => ("EMP-1001", false),
            1 => ("1001", true),
            _ => ("@LOGOUT", true),
        };
        let notice = core.scan(text);
        let expected = if records { Level::Ok } else { Level::Info };
        assert_eq!(notice.level, expected, "{}", notice.text);
        if records {
            acked += 1;
            // Acknowledged to the "operator" only now, after the commit returned.
            println!("ACK {acked}");
        }
    }
}

#[tokio::test]
async fn kill_mid_append_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    {
        drop(crate::support::station_store_with_demo_master(&db).await);
    }
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "crash::crash_child_appender",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut last_ack = 0u64;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(seq) = line.strip_prefix("ACK ") {
            last_ack = seq.trim().parse().expect("ack number");
            if last_ack >= 150 {
                break;
            }
        }
    }
    child.kill().expect("kill -9 the child");
    let _ = child.wait();
    assert!(
        last_ack >= 150,
        "child acknowledged {last_ack} events before dying"
    );

    let store = Store::open(&db, &station_id()).expect("reopen after kill");
    assert!(
        store.last_seq() >= last_ack,
        "acknowledged {last_ack}, found {}",
        store.last_seq()
    );
    match verify_chain(&connect(&db, true).expect("read")).expect("verify") {
        VerifyReport::Intact { events, .. } => assert_eq!(events, store.last_seq()),
        broken => panic!("chain broken after kill: {broken:?}"),
    }
    assert_eq!(
        store.load_state().expect("load"),
        store.replay_state().expect("replay")
    );
}
