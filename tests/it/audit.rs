//! `takt audit report` as an auditor runs it: the real binary against real SQLite files, a
//! station's store written by the real core, and central's database fed through its ingest.

use crate::support::{CASTING_C24_1107, plc_sample, takt_cli, tampered_copy};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use takt::clock::ManualClock;
use takt::domain::{
    Actor, Badge, Entry, EventKind, LotId, MaterialId, NewEvent, OperationId, OutputForm,
    PackMlState, Quantity, StationId, WorkOrderId,
};
use takt::plc::PlcEvent;
use takt::station::{Core, CoreInput, CoreOutputs, Level};
use takt::store::Store;
use tempfile::TempDir;

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) async fn report(db: &Path, args: &[&str]) -> Output {
    let mut all = vec!["audit", "report", "--db"];
    let db = db.display().to_string();
    all.push(&db);
    all.extend_from_slice(args);
    takt_cli(all).await
}

/// The report's rows as JSON objects; the run must have succeeded.
pub(crate) async fn rows(db: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let mut args = args.to_vec();
    args.push("--json");
    let out = report(db, &args).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("a JSON array")
}

pub(crate) fn field<'a>(row: &'a serde_json::Value, name: &str) -> &'a str {
    row[name].as_str().unwrap_or_default()
}

/// The first row of `kind`.
pub(crate) fn of_kind<'a>(rows: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|row| field(row, "kind") == kind)
        .unwrap_or_else(|| panic!("no {kind} in {rows:?}"))
}

pub(crate) fn kinds(rows: &[serde_json::Value]) -> Vec<&str> {
    rows.iter().map(|row| field(row, "kind")).collect()
}

/// A shift at L1-S1 on the real core, today from 08:00 UTC: EMP-1001 logs in, loads casting lot
/// C24-1107 into WO-24001, runs a tote of 20, has a refused scan and a coded stop, and logs out;
/// at 09:00 EMP-1002 logs in and out.
struct Shift {
    dir: TempDir,
    db: PathBuf,
    day: NaiveDate,
}

async fn shift() -> Shift {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    let store = crate::support::station_store_with_demo_master(&db).await;
    let day = Utc::now().date_naive();
    let start = day.and_hms_opt(8, 0, 0).expect("a time").and_utc();
    let clock = ManualClock::new(start);
    let mut core = Core::new(
        store,
        Arc::new(clock.clone()),
        CoreOutputs::detached("L1-S1"),
        Some("127.0.0.1:1"),
        true,
    )
    .expect("core");
    let mut heartbeat = 0u16;
    let mut sample = |core: &mut Core, processed: u32, state: PackMlState, stop_reason: u16| {
        heartbeat += 1;
        core.handle(CoreInput::Plc(PlcEvent::Sample(plc_sample(
            heartbeat,
            processed,
            0,
            state,
            stop_reason,
        ))));
    };
    let scan = |core: &mut Core, clock: &ManualClock, text: &str| {
        clock.advance(Duration::seconds(10));
        core.scan(text)
    };
    // A badge scan asks for the PIN (Info); everything after it is recorded (Ok).
    let asks = |text: &str| text.starts_with("EMP-");
    for text in ["EMP-1001", "1001", "WO-24001", CASTING_C24_1107, "@START"] {
        let notice = scan(&mut core, &clock, text);
        let expected = if asks(text) { Level::Info } else { Level::Ok };
        assert_eq!(notice.level, expected, "{text}: {}", notice.text);
    }
    sample(&mut core, 100, PackMlState::Execute, 0);
    for processed in (101..=120).step_by(5) {
        clock.advance(Duration::seconds(20));
        sample(&mut core, processed, PackMlState::Execute, 0);
    }
    assert_eq!(
        scan(&mut core, &clock, "WO-24004").level,
        Level::Refused,
        "another order while one runs"
    );
    clock.set(day.and_hms_opt(8, 20, 0).expect("a time").and_utc());
    sample(&mut core, 120, PackMlState::Stopped, 3);
    let coded = scan(&mut core, &clock, "R-11");
    assert_eq!(coded.level, Level::Ok, "{}", coded.text);
    for text in ["@PAUSE", "@LOGOUT"] {
        let notice = scan(&mut core, &clock, text);
        assert_eq!(notice.level, Level::Ok, "{text}: {}", notice.text);
    }
    clock.set(day.and_hms_opt(9, 0, 0).expect("a time").and_utc());
    for text in ["EMP-1002", "1002", "@LOGOUT"] {
        let notice = scan(&mut core, &clock, text);
        let expected = if asks(text) { Level::Info } else { Level::Ok };
        assert_eq!(notice.level, expected, "{text}: {}", notice.text);
    }
    drop(core);
    Shift { dir, db, day }
}

#[tokio::test]
async fn a_lot_is_followed_through_every_event_that_names_it() {
    let shift = shift().await;
    let rows = rows(&shift.db, &["--lot", "C24-1107"]).await;
    let kinds = kinds(&rows);
    assert!(kinds.contains(&"lot_loaded"), "{kinds:?}");
    assert!(kinds.contains(&"lot_consumed"), "{kinds:?}");
    assert!(kinds.contains(&"output_created"), "made from it: {kinds:?}");
    assert!(
        !kinds.contains(&"operator_logged_in") && !kinds.contains(&"units_produced"),
        "only events that name the lot: {kinds:?}"
    );
    let loaded = of_kind(&rows, "lot_loaded");
    assert_eq!(
        field(loaded, "what"),
        "loaded lot C24-1107 (CAST-200) into WO-24001 OP10, scanned"
    );
    assert_eq!(field(loaded, "who"), "EMP-1001 Demo Operator A");
    assert_eq!(field(loaded, "station"), "L1-S1");
    assert!(loaded["verified"].as_bool().expect("verified"));
    assert_eq!(field(loaded, "hash").len(), 64);
    let seqs: Vec<u64> = rows.iter().filter_map(|row| row["seq"].as_u64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in seq order: {seqs:?}"
    );

    // The table says the same, with the summary and the chain check above it.
    let out = report(&shift.db, &["--lot", "C24-1107"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("station L1-S1's database"), "{stdout}");
    assert!(stdout.contains("Filters: lot C24-1107"), "{stdout}");
    assert!(
        stdout.contains(&format!("{} events match.", rows.len())),
        "{stdout}"
    );
    assert!(stdout.contains("Chain of L1-S1: intact"), "{stdout}");
    assert!(
        stdout.contains("loaded lot C24-1107 (CAST-200) into WO-24001"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&field(loaded, "hash")[..12]),
        "the hash prefix ties the row to the chain: {stdout}"
    );
}

#[tokio::test]
async fn work_order_operator_and_time_filters_combine() {
    let shift = shift().await;
    let refused = rows(&shift.db, &["--work-order", "WO-24004"]).await;
    assert_eq!(kinds(&refused), ["scan_refused"], "{refused:?}");
    assert_eq!(field(&refused[0], "what"), "refused scan WO-24004");
    assert_eq!(
        field(&refused[0], "why"),
        "Work order WO-24004 is planned, not released and cannot run."
    );

    let running = rows(&shift.db, &["--work-order", "WO-24001"]).await;
    let kinds_24001 = kinds(&running);
    for kind in [
        "work_order_selected",
        "work_order_started",
        "lot_loaded",
        "units_produced",
        "work_order_paused",
    ] {
        assert!(kinds_24001.contains(&kind), "{kind}: {kinds_24001:?}");
    }
    assert!(!kinds_24001.contains(&"operator_logged_in"));
    assert!(
        !kinds_24001.contains(&"scan_refused"),
        "the refusal names only WO-24004"
    );

    let b = rows(&shift.db, &["--operator", "EMP-1002"]).await;
    assert_eq!(kinds(&b), ["operator_logged_in", "operator_logged_out"]);
    assert_eq!(field(&b[0], "who"), "EMP-1002 Demo Operator B");
    assert_eq!(field(&b[0], "what"), "logged in");

    let day = shift.day.to_string();
    let all = rows(&shift.db, &[]).await;
    assert_eq!(rows(&shift.db, &["--from", &day, "--to", &day]).await, all);
    let morning = rows(
        &shift.db,
        &[
            "--operator",
            "EMP-1001",
            "--to",
            &format!("{day}T08:00:20Z"),
        ],
    )
    .await;
    assert_eq!(kinds(&morning), ["operator_logged_in"], "--to is inclusive");
    let later = rows(&shift.db, &["--from", &format!("{day}T08:30:00Z")]).await;
    assert_eq!(
        kinds(&later),
        ["operator_logged_in", "operator_logged_out"],
        "only the 09:00 login and logout"
    );
    let both = rows(
        &shift.db,
        &[
            "--operator",
            "EMP-1001",
            "--from",
            &format!("{day}T08:30:00Z"),
        ],
    )
    .await;
    assert!(both.is_empty(), "filters combine with AND: {both:?}");

    let stop = rows(&shift.db, &["--from", &format!("{day}T08:20:00Z")]).await;
    let coded = of_kind(&stop, "downtime_coded");
    assert_eq!(
        field(coded, "what"),
        "coded stop since 08:20:00 as R-11 spindle"
    );
    assert_eq!(field(coded, "why"), "R-11 spindle");
}

#[tokio::test]
async fn an_empty_result_says_so_and_succeeds() {
    let shift = shift().await;
    let yesterday = (shift.day - Duration::days(1)).to_string();
    let out = report(&shift.db, &["--to", &yesterday]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("No events match."), "{stdout}");
    assert!(stdout.contains("Chain of L1-S1: intact"), "{stdout}");
    assert!(rows(&shift.db, &["--lot", "NO-SUCH-LOT"]).await.is_empty());
}

#[tokio::test]
async fn csv_is_rfc_4180_with_the_json_fields() {
    let shift = shift().await;
    let json = rows(&shift.db, &["--lot", "C24-1107"]).await;
    let out = report(&shift.db, &["--lot", "C24-1107", "--csv"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("Chain of L1-S1: intact"),
        "the summary goes to stderr: {}",
        text(&out.stderr)
    );
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let headers: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(headers, takt::audit::COLUMNS);
    let records: Vec<csv::StringRecord> =
        reader.records().collect::<Result<_, _>>().expect("records");
    assert_eq!(records.len(), json.len());
    for (record, row) in records.iter().zip(&json) {
        for (name, value) in headers.iter().zip(record.iter()) {
            let expected = match &row[name.as_str()] {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Null => String::new(),
                other => other.to_string(),
            };
            assert_eq!(value, expected, "{name}");
        }
    }
}

/// One byte of an old event changed in a copy of the station's database.
#[tokio::test]
async fn a_tampered_station_database_is_reported_broken_at_that_event() {
    let shift = shift().await;
    let copy = tampered_copy(
        &shift.db,
        "event_log_no_update",
        "UPDATE event_log SET body = replace(body, 'WO-24001', 'WO-24002') WHERE seq = 2",
    );
    let out = report(&copy, &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Chain of L1-S1: BROKEN at event 2"),
        "{stdout}"
    );
    assert!(
        stdout.contains("WARNING: the chain of L1-S1 is BROKEN"),
        "{stdout}"
    );
    assert!(
        stdout.contains("selected WO-24002"),
        "the tampered row is shown: {stdout}"
    );

    let out = report(&copy, &["--json"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("BROKEN at event 2"));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    for row in &rows {
        let seq = row["seq"].as_u64().expect("seq");
        assert_eq!(row["verified"].as_bool(), Some(seq < 2), "seq {seq}");
    }
    // The tampered event no longer names WO-24001, and is shown anyway: what it names is part of
    // what cannot be trusted.
    let out = report(&copy, &["--work-order", "WO-24001", "--json"]).await;
    assert_eq!(out.status.code(), Some(2));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    let tampered = rows
        .iter()
        .find(|row| row["seq"].as_u64() == Some(2))
        .expect("the event at the break");
    assert_eq!(field(tampered, "what"), "selected WO-24002");
    assert_eq!(field(tampered, "who"), "EMP-1001 Demo Operator A");
    let seqs: Vec<u64> = rows.iter().filter_map(|row| row["seq"].as_u64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in seq order: {seqs:?}"
    );

    // The original is untouched and intact.
    let out = report(&shift.db, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

/// Runs a report that must fail with exit code 1 and no panic; its stderr.
async fn refused(db: &Path, args: &[&str]) -> String {
    let out = report(db, args).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[tokio::test]
async fn bad_arguments_are_clear_errors() {
    let shift = shift().await;
    let missing = shift.dir.path().join("nope.db");
    let stderr = refused(&missing, &[]).await;
    assert!(stderr.contains("nope.db: no such database"), "{stderr}");
    assert!(!missing.exists(), "a report creates no database");

    let garbage = shift.dir.path().join("garbage.db");
    std::fs::write(&garbage, "this is not a database, it is a shopping list").expect("write");
    let stderr = refused(&garbage, &[]).await;
    assert!(stderr.contains("garbage.db"), "{stderr}");

    let other = shift.dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .and_then(|conn| conn.execute_batch("CREATE TABLE parts (id TEXT)"))
        .expect("another sqlite file");
    let stderr = refused(&other, &[]).await;
    assert!(
        stderr.contains("other.db is neither a station's database nor central's"),
        "{stderr}"
    );

    let stderr = refused(&shift.db, &["--from", "last tuesday"]).await;
    assert!(
        stderr.contains("--from \"last tuesday\" is not a time"),
        "{stderr}"
    );
    let stderr = refused(&shift.db, &["--to", "2026-02-30"]).await;
    assert!(stderr.contains("--to \"2026-02-30\""), "{stderr}");

    let stderr = refused(&shift.db, &["--station", "L1-S9"]).await;
    assert!(
        stderr.contains("is the database of station L1-S1, not L1-S9"),
        "{stderr}"
    );
    let out = report(&shift.db, &["--station", "L1-S1"]).await;
    assert_eq!(out.status.code(), Some(0));

    let out = report(&shift.db, &["--json", "--csv"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("cannot be used with"));

    let out = takt_cli(["audit", "report", "--help"]).await;
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--work-order"));
}

/// Central with the demo plant and two stations whose events it ingested: L1-S1's operator
/// loads a lot, L1-S2's makes an output from L1-S1's tote.
struct Central {
    _dir: TempDir,
    db: PathBuf,
    day: NaiveDate,
}

fn at(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    day.and_hms_opt(h, m, 0).expect("a time").and_utc()
}

fn central() -> Central {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("central.db");
    let day = Utc::now().date_naive();
    takt::central::seed_demo(&db, day).expect("seed");
    let by = |badge: &str, when, kind| NewEvent {
        at: when,
        actor: Actor::Operator(Badge::from(badge)),
        kind,
    };
    let s1 = vec![
        by(
            "EMP-1001",
            at(day, 8, 0),
            EventKind::OperatorLoggedIn {
                badge: "EMP-1001".into(),
                name: "Demo Operator A".into(),
            },
        ),
        by(
            "EMP-1001",
            at(day, 8, 2),
            EventKind::LotLoaded {
                work_order: WorkOrderId::from("WO-24001"),
                operation: OperationId::from("OP10"),
                material: MaterialId::from("CAST-200"),
                lot: LotId::from("C24-1107"),
                entry: Entry::Scanned,
            },
        ),
    ];
    let s2 = vec![
        by(
            "EMP-1002",
            at(day, 8, 1),
            EventKind::OperatorLoggedIn {
                badge: "EMP-1002".into(),
                name: "Demo Operator B".into(),
            },
        ),
        NewEvent {
            at: at(day, 8, 3),
            actor: Actor::Plc,
            kind: EventKind::OutputCreated {
                work_order: WorkOrderId::from("WO-24001"),
                operation: OperationId::from("OP20"),
                output: LotId::from("L1-S2-TOTE-1"),
                form: OutputForm::Lot,
                material: MaterialId::from("BC-200-A"),
                quantity: Quantity::units(20),
                inputs: vec![LotId::from("L1-S1-TOTE-1")],
                operator: Some(Badge::from("EMP-1002")),
                next_operation: None,
                machine_state: Some("running".into()),
            },
        },
    ];
    let mut central = takt::central::Db::open(&db).expect("central db");
    for (id, events) in [("L1-S1", s1), ("L1-S2", s2)] {
        takt::central::add_station(&db, id).expect("station");
        let station = StationId::from(id);
        let mut store = Store::open(&dir.path().join(format!("{id}.db")), &station).expect("store");
        let mut state = store.load_state().expect("state");
        let sealed = store.append(&mut state, events).expect("append");
        central
            .ingest(&station, &sealed, Utc::now())
            .expect("ingested");
    }
    drop(central);
    Central { _dir: dir, db, day }
}

#[tokio::test]
async fn central_reports_across_stations_by_time() {
    let central = central();
    let all = rows(&central.db, &[]).await;
    let order: Vec<(&str, u64)> = all
        .iter()
        .map(|row| (field(row, "station"), row["seq"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(
        order,
        [("L1-S1", 1), ("L1-S2", 1), ("L1-S1", 2), ("L1-S2", 2)],
        "by (at, station, seq)"
    );
    assert_eq!(field(&all[0], "who"), "EMP-1001 Demo Operator A");
    assert_eq!(field(&all[3], "who"), "PLC");
    assert_eq!(
        field(&all[3], "what"),
        "made lot L1-S2-TOTE-1 (BC-200-A, 20) in WO-24001 OP20 from L1-S1-TOTE-1; operator \
         EMP-1002 Demo Operator B; machine running"
    );

    let s2 = rows(&central.db, &["--station", "L1-S2"]).await;
    assert_eq!(kinds(&s2), ["operator_logged_in", "output_created"]);
    let tote = rows(&central.db, &["--lot", "L1-S1-TOTE-1"]).await;
    assert_eq!(kinds(&tote), ["output_created"], "an input of an output");
    let operator = rows(&central.db, &["--operator", "EMP-1002"]).await;
    assert_eq!(operator.len(), 2, "the login and the output naming them");

    let out = report(&central.db, &["--work-order", "WO-24001"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("central's database, every station"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Chain of L1-S1: intact, 2 events"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Chain of L1-S2: intact, 2 events"),
        "{stdout}"
    );

    let stderr = refused(&central.db, &["--station", "L1-S7"]).await;
    assert!(stderr.contains("knows no station L1-S7"), "{stderr}");
    let day = central.day.to_string();
    let out = report(&central.db, &["--station", "L1-S3", "--from", &day]).await;
    assert_eq!(out.status.code(), Some(0), "a known station without events");
    assert!(text(&out.stdout).contains("No events match."));
}

#[tokio::test]
async fn a_tampered_chain_at_central_is_reported_broken() {
    let central = central();
    let copy = tampered_copy(
        &central.db,
        "events_no_update",
        "UPDATE events SET body = replace(body, 'C24-1107', 'C24-1108')
         WHERE station = 'L1-S1' AND seq = 2",
    );
    let out = report(&copy, &["--csv"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Chain of L1-S1: BROKEN at event 2"),
        "{stderr}"
    );
    assert!(stderr.contains("Chain of L1-S2: intact"), "{stderr}");
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    let verified: Vec<(String, String, String)> = reader
        .records()
        .map(|record| {
            let record = record.expect("record");
            (
                record[1].to_owned(),
                record[2].to_owned(),
                record[10].to_owned(),
            )
        })
        .collect();
    assert_eq!(
        verified,
        [
            ("L1-S1".into(), "1".into(), "true".into()),
            ("L1-S2".into(), "1".into(), "true".into()),
            ("L1-S1".into(), "2".into(), "false".into()),
            ("L1-S2".into(), "2".into(), "true".into()),
        ]
    );

    // Asked about the lot the tamperer changed, and about another station: the broken chain is
    // said all the same, with the event at the break.
    let out = report(&copy, &["--lot", "C24-1107", "--json"]).await;
    assert_eq!(out.status.code(), Some(2));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        field(&rows[0], "what"),
        "loaded lot C24-1108 (CAST-200) into WO-24001 OP10, scanned"
    );
    assert_eq!(rows[0]["verified"].as_bool(), Some(false));
    let out = report(&copy, &["--operator", "EMP-1002"]).await;
    assert_eq!(out.status.code(), Some(2));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("Chain of L1-S1: BROKEN at event 2"),
        "{stdout}"
    );
}
