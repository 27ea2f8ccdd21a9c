//! What a batch says of its sender: events that waited at the station past its historical
//! threshold are marked historical at central (in the events API and `/metrics`), and the
//! station's own log head gives its backlog in `/metrics`. Real central on loopback, real store.

use crate::support::unit_of_wo_24001;
use chrono::Utc;
use reqwest::StatusCode;
use takt::central;
use takt::domain::StationId;
use takt::protocol::{BatchAck, EventBatch};
use takt::store::Store;
use tempfile::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_that_waited_at_the_station_are_marked_historical_and_its_backlog_is_known() {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("central.db");
    central::seed_demo(&db, Utc::now().date_naive()).expect("seed");
    let token = central::add_station(&db, "L1-S1").expect("token");
    central::set_station_config(
        &db,
        "L1-S1",
        central::StationSettings {
            historical_after_minutes: Some(2),
            ..Default::default()
        },
    )
    .expect("config");
    let central = central::spawn(([127, 0, 0, 1], 0).into(), db.clone())
        .await
        .expect("central");
    let url = central.url();

    let mut store =
        Store::open(&dir.path().join("station.db"), &StationId::from("L1-S1")).expect("store");
    let mut state = store.load_state().expect("state");
    let units =
        |minutes_ago: i64| unit_of_wo_24001(Utc::now() - chrono::Duration::minutes(minutes_ago));
    // Three from a night offline, then two live ones; the station has logged 9 in all.
    let events = store
        .append(
            &mut state,
            vec![units(300), units(299), units(298), units(0), units(0)],
        )
        .expect("append");
    let batch = EventBatch {
        sent_at: Some(Utc::now()),
        station_head: Some(9),
        ..EventBatch::of(events.clone())
    };
    let client = reqwest::Client::new();
    let post = |batch: EventBatch| {
        client
            .post(format!("{url}/api/v1/stations/L1-S1/events"))
            .bearer_auth(&token)
            .json(&batch)
            .send()
    };
    let response = post(batch.clone()).await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let ack: BatchAck = response.json().await.expect("ack");
    assert_eq!(ack.acked_through, 5);
    // A resend marks nothing twice.
    assert_eq!(post(batch).await.expect("sent").status(), StatusCode::OK);

    let page: serde_json::Value = client
        .get(format!("{url}/api/v1/events?station=L1-S1"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("page");
    assert_eq!(page["historical"], serde_json::json!([1, 2, 3]));
    assert_eq!(page["events"].as_array().map(Vec::len), Some(5));
    let page: serde_json::Value = client
        .get(format!("{url}/api/v1/events?station=L1-S1&after_seq=3"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("page");
    assert_eq!(page["historical"], serde_json::json!([]));

    let metrics = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    for line in [
        r#"takt_central_station_backlog_events{station="L1-S1"} 4"#,
        r#"takt_central_historical_events_total{station="L1-S1"} 3"#,
        r#"takt_central_quarantined_events_total{station="L1-S1"} 0"#,
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing in\n{metrics}"
        );
    }
    central.shutdown().await;
}
