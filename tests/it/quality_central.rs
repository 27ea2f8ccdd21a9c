//! Quality at central end to end: real station stores seal the events (signatures appended with
//! their record, as a signature-grade command does), a real central on loopback takes them
//! through the sync ingest endpoint, and its quality endpoints and the real `takt quality`
//! commands answer.

use crate::central::{Station, central_db, post_batch, start_central};
use crate::support::takt_cli;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use takt::central;
use takt::domain::disposition::{Disposition, DispositionPart};
use takt::domain::signature::{Meaning, SignatureInput, signature_events};
use takt::domain::{
    Actor, Badge, Event, EventKind, LotId, NewEvent, OutputForm, Quantity, WorkOrderId,
};
use takt::protocol::BatchAck;
use tempfile::TempDir;

const INSPECTOR: &str = "EMP-2001";

fn by_inspector(at: DateTime<Utc>, kind: EventKind) -> NewEvent {
    NewEvent {
        at,
        actor: Actor::Operator(Badge::from(INSPECTOR)),
        kind,
    }
}

fn by_plc(at: DateTime<Utc>, kind: EventKind) -> NewEvent {
    NewEvent {
        at,
        actor: Actor::Plc,
        kind,
    }
}

/// `record` followed by the inspector's signature on it.
fn signed(station: &Station, record: NewEvent) -> Vec<NewEvent> {
    let signature = SignatureInput {
        badge: Badge::from(INSPECTOR),
        meaning: Meaning::Approved,
    };
    let mut events = signature_events(
        &station.id,
        &record,
        &[(signature, "Demo Inspector".to_owned())],
    );
    events.insert(0, record);
    events
}

fn units(produced: u64, rejected: u64) -> EventKind {
    EventKind::UnitsProduced {
        work_order: Some(WorkOrderId::from("WO-24001")),
        produced,
        rejected,
        plc_epoch: 1,
        processed_total: 0,
        defective_total: 0,
    }
}

async fn send(url: &str, station: &Station, token: &str, events: &[Event]) {
    let response = post_batch(
        &reqwest::Client::new(),
        url,
        station.id.as_str(),
        token,
        events,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{}", station.id);
    let ack: BatchAck = response.json().await.expect("ack");
    assert!(ack.quarantined.is_empty(), "{:?}", ack.quarantined);
}

async fn get(url: String) -> (StatusCode, serde_json::Value) {
    let response = reqwest::get(url).await.expect("sent");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

fn held_lots(holds: &serde_json::Value) -> Vec<String> {
    holds["holds"]
        .as_array()
        .expect("holds")
        .iter()
        .map(|hold| hold["lot"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A held lot is listed with its reason and leaves the list once released; an NCR moves from
/// open to closed with its disposition; the yield matches a hand computation; the CLI prints
/// what central answers; bad queries answer 400 in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_ncrs_and_yield_at_central_from_station_events() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let central = start_central(&db).await;
    let url = central.url();
    let t0 = DateTime::from_timestamp(Utc::now().timestamp() - 7200, 0).expect("a whole second");
    let at = |minutes: i64| t0 + Duration::minutes(minutes);
    let mut s1 = Station::open(&dir, "L1-S1");
    let mut s2 = Station::open(&dir, "L1-S2");
    let mut s3 = Station::open(&dir, "L1-S3");
    let token1 = central::add_station(&db, "L1-S1").expect("token");
    let token2 = central::add_station(&db, "L1-S2").expect("token");
    let token3 = central::add_station(&db, "L1-S3").expect("token");

    // OP10 counts 50 units (5 rejected) and makes tote T1 (10) and tote T2 (10); OP20 counts 40
    // (2 rejected), OP30 20 (1 rejected).
    let output = |lot: &str, minutes: i64| {
        by_plc(
            at(minutes),
            EventKind::OutputCreated {
                work_order: WorkOrderId::from("WO-24001"),
                operation: "OP10".into(),
                output: LotId::from(lot),
                form: OutputForm::Lot,
                material: "CAST-200".into(),
                quantity: Quantity::units(10),
                inputs: vec![LotId::from("C24-1107")],
                operator: None,
                next_operation: Some("OP20".into()),
                machine_state: None,
            },
        )
    };
    let events = s1.record(vec![
        by_plc(at(1), units(50, 5)),
        output("T1", 2),
        output("T2", 3),
    ]);
    send(&url, &s1, &token1, &events).await;
    let events = s2.record(vec![by_plc(at(4), units(40, 2))]);
    send(&url, &s2, &token2, &events).await;
    let events = s3.record(vec![by_plc(at(5), units(20, 1))]);
    send(&url, &s3, &token3, &events).await;

    // L1-S3 holds T1 and opens an NCR on it; L1-S2 holds T2.
    let reason = "porosity on the bore face";
    let events = s3.record(vec![
        by_inspector(
            at(10),
            EventKind::LotHeld {
                lot: LotId::from("T1"),
                reason: reason.into(),
            },
        ),
        by_inspector(
            at(10),
            EventKind::NcrOpened {
                ncr: "NCR-L1-S3-0001".into(),
                lot: LotId::from("T1"),
                quantity: Quantity::units(10),
                what: "porosity".into(),
                containment: "tote tagged and set apart".into(),
            },
        ),
    ]);
    send(&url, &s3, &token3, &events).await;
    let events = s2.record(vec![by_inspector(
        at(11),
        EventKind::LotHeld {
            lot: LotId::from("T2"),
            reason: "burr".into(),
        },
    )]);
    send(&url, &s2, &token2, &events).await;

    let (status, holds) = get(format!("{url}/api/v1/quality/holds")).await;
    assert_eq!(status, StatusCode::OK, "{holds}");
    // The demo's own hold (no time) comes after the dated ones.
    assert_eq!(held_lots(&holds), ["T1", "T2", "C24-1031"]);
    let t1 = &holds["holds"][0];
    assert_eq!(t1["reason"], reason);
    assert_eq!(t1["held_by"], "station");
    assert_eq!(t1["station"], "L1-S3");
    assert_eq!(t1["actor"], INSPECTOR);
    assert_eq!(t1["product"], "BC-200");
    assert_eq!(t1["ncr"], "NCR-L1-S3-0001");
    assert_eq!(t1["rework_pending"], false);

    // The CLI prints the same, as JSON and in words.
    let out = takt_cli(["quality", "holds", "--central", &url, "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(printed, holds);
    let out = takt_cli(["quality", "holds", "--central", &url]).await;
    let words = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(words.contains("3 lots on hold"), "{words}");
    assert!(words.contains(&format!("why: {reason}")), "{words}");
    assert!(words.contains("open NCR: NCR-L1-S3-0001"), "{words}");

    // T2 is released (signed), T1 scrapped under its NCR, and the NCR closed (signed).
    let events = s2.record(signed(
        &s2,
        by_inspector(
            at(20),
            EventKind::LotReleased {
                lot: LotId::from("T2"),
                lifts: Some(at(11)),
            },
        ),
    ));
    send(&url, &s2, &token2, &events).await;
    let disposition = by_inspector(
        at(21),
        EventKind::LotDispositioned {
            lot: LotId::from("T1"),
            parts: vec![DispositionPart {
                lot: LotId::from("T1"),
                quantity: Quantity::units(10),
                disposition: Disposition::Scrap,
            }],
            reason: "porosity through the wall".into(),
            ncr: Some("NCR-L1-S3-0001".into()),
        },
    );
    let events = s3.record(signed(&s3, disposition));
    send(&url, &s3, &token3, &events).await;
    let (_, holds) = get(format!("{url}/api/v1/quality/holds")).await;
    assert_eq!(held_lots(&holds), ["C24-1031"]);

    let (_, open) = get(format!("{url}/api/v1/quality/ncrs")).await;
    assert_eq!(open["ncrs"][0]["id"], "NCR-L1-S3-0001");
    assert_eq!(
        open["ncrs"][0]["disposition"],
        "10 scrap: porosity through the wall"
    );
    assert_eq!(open["ncrs"][0]["closed_at"], serde_json::Value::Null);
    let closure = "cause: gas in the melt; action: degassing checked each heat";
    let events = s3.record(signed(
        &s3,
        by_inspector(
            at(30),
            EventKind::NcrClosed {
                ncr: "NCR-L1-S3-0001".into(),
                lot: LotId::from("T1"),
                closure: closure.into(),
            },
        ),
    ));
    send(&url, &s3, &token3, &events).await;
    let (_, open) = get(format!("{url}/api/v1/quality/ncrs?status=open")).await;
    assert_eq!(open["ncrs"], serde_json::json!([]));
    let (status, closed) = get(format!("{url}/api/v1/quality/ncrs?status=closed")).await;
    assert_eq!(status, StatusCode::OK);
    let ncr = &closed["ncrs"][0];
    assert_eq!(
        (&ncr["id"], &ncr["closure"], &ncr["closed_by"]),
        (
            &serde_json::json!("NCR-L1-S3-0001"),
            &serde_json::json!(closure),
            &serde_json::json!(INSPECTOR)
        )
    );
    assert_eq!(ncr["closed_at"], stamp(at(30)));
    let out = takt_cli(["quality", "ncrs", "--central", &url, "--closed", "--json"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(printed, closed);
    let out = takt_cli(["quality", "ncrs", "--central", &url]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "No open NCRs.\n");

    // By hand: OP10 50 in, 5 rejected + T1's 10 scrapped = 15 failed: FPY 0.70; OP20 38/40 =
    // 0.95; OP30 19/20 = 0.95; RTY 0.7 × 0.95 × 0.95 = 0.63175. Produced 50; scrapped
    // 5 + 2 + 1 + 10 = 18 (0.36); reworked 0.
    let window = format!("from={}&to={}", stamp(at(0)), stamp(at(60)));
    let (status, report) = get(format!("{url}/api/v1/quality/yield?line=L1&{window}")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let fpys: Vec<(String, u64, u64, f64)> = report["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|o| {
            (
                o["operation"].as_str().unwrap_or_default().to_owned(),
                o["entered"].as_u64().unwrap_or_default(),
                o["failed_first_pass"].as_u64().unwrap_or_default(),
                o["first_pass_yield"].as_f64().unwrap_or_default(),
            )
        })
        .collect();
    let expected = [
        ("OP10", 50, 15, 0.70),
        ("OP20", 40, 2, 0.95),
        ("OP30", 20, 1, 0.95),
    ];
    assert_eq!(fpys.len(), expected.len(), "{report}");
    for (got, want) in fpys.iter().zip(expected) {
        assert_eq!((got.0.as_str(), got.1, got.2), (want.0, want.1, want.2));
        assert!((got.3 - want.3).abs() < 1e-9, "{report}");
    }
    let figure = |name: &str| report[name].as_f64().unwrap_or(f64::NAN);
    assert!(
        (figure("rolled_throughput_yield") - 0.63175).abs() < 1e-9,
        "{report}"
    );
    assert!((figure("scrap_rate") - 0.36).abs() < 1e-9, "{report}");
    assert!(figure("rework_rate").abs() < 1e-9, "{report}");
    assert_eq!(
        (report["produced"].as_u64(), report["scrapped"].as_u64()),
        (Some(50), Some(18))
    );

    let out = takt_cli([
        "quality",
        "yield",
        "--central",
        &url,
        "--line",
        "L1",
        "--from",
        &stamp(at(0)),
        "--to",
        &stamp(at(60)),
        "--json",
    ])
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(printed, report);
    // The plant has one line: it is the default.
    let out = takt_cli([
        "quality",
        "yield",
        "--central",
        &url,
        "--from",
        &stamp(at(0)),
        "--to",
        &stamp(at(60)),
    ])
    .await;
    let words = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(words.contains("Rolled throughput yield 63.2%"), "{words}");
    assert!(words.contains("18 scrapped (36.0%)"), "{words}");

    // Bad queries answer 400 in words; an unknown line 404.
    let (status, error) = get(format!("{url}/api/v1/quality/ncrs?status=bogus")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]
            .as_str()
            .unwrap_or_default()
            .contains("open, closed or all"),
        "{error}"
    );
    let (status, error) = get(format!("{url}/api/v1/quality/yield?line=L1&from=yesterday")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not an RFC 3339 time"),
        "{error}"
    );
    let (status, _) = get(format!("{url}/api/v1/quality/yield?line=L9")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let out = takt_cli(["quality", "ncrs", "--central", &url, "--closed", "--all"]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses --closed with --all"
    );

    central.shutdown().await;
}
