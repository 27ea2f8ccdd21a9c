//! Central owns the work-order lifecycle: hold, release, cancel, close and dispatch through the API
//! (admin token) and the CLI, a status history per order, and production reported for a time the
//! order was stopped accepted into its chain but flagged. Real central on loopback, real stores.

use crate::support::{takt_cli, unit_of_wo_24001};
use chrono::Utc;
use reqwest::StatusCode;
use takt::central::{self, WorkOrderAnswer, WorkOrderSummary};
use takt::domain::{Actor, EventKind, NewEvent, StationId, WorkOrderId, WorkOrderStatus};
use takt::protocol::{ApiError, BatchAck, ChangePage, EventBatch, MasterRecord, WorkOrderReport};
use takt::store::Store;
use tempfile::TempDir;

struct Plant {
    _dir: TempDir,
    db: std::path::PathBuf,
    central: central::CentralHandle,
    admin: String,
    station_token: String,
    client: reqwest::Client,
}

async fn plant() -> Plant {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("central.db");
    central::seed_demo(&db, Utc::now().date_naive()).expect("seed demo");
    let station_token = central::add_station(&db, "L1-S1").expect("station token");
    let admin = central::add_admin_token(&db, "planning").expect("admin token");
    let central = central::spawn(([127, 0, 0, 1], 0).into(), db.clone())
        .await
        .expect("central starts");
    Plant {
        _dir: dir,
        db,
        central,
        admin,
        station_token,
        client: reqwest::Client::new(),
    }
}

impl Plant {
    async fn act(
        &self,
        token: &str,
        id: &str,
        action: &str,
        body: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!(
                "{}/api/v1/work-orders/{id}/{action}",
                self.central.url()
            ))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    async fn answer(
        &self,
        id: &str,
        action: &str,
        body: Option<serde_json::Value>,
    ) -> WorkOrderAnswer {
        let response = self.act(&self.admin, id, action, body).await;
        assert_eq!(response.status(), StatusCode::OK, "{action} {id}");
        response.json().await.expect("answer")
    }

    async fn refusal(
        &self,
        id: &str,
        action: &str,
        body: Option<serde_json::Value>,
        status: StatusCode,
    ) -> String {
        let response = self.act(&self.admin, id, action, body).await;
        assert_eq!(response.status(), status, "{action} {id}");
        let error: ApiError = response.json().await.expect("api error");
        error.error
    }

    async fn report(&self, id: &str) -> WorkOrderReport {
        self.client
            .get(format!("{}/api/v1/work-orders/{id}", self.central.url()))
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("report")
    }

    async fn changes(&self, station: &str, token: &str) -> ChangePage {
        let response = self
            .client
            .get(format!(
                "{}/api/v1/stations/{station}/changes?since=0&limit=1000",
                self.central.url()
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("page")
    }
}

fn order_in(page: &ChangePage, id: &str) -> Option<takt::domain::WorkOrder> {
    page.changes.iter().find_map(|change| match &change.record {
        MasterRecord::WorkOrder(order) if order.id.as_str() == id => Some(order.clone()),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_orders_are_held_released_cancelled_closed_and_dispatched_through_the_api() {
    let plant = plant().await;
    let why = serde_json::json!({ "reason": "customer changed the drawing" });

    // Only an admin token acts; a station's is refused.
    let response = plant
        .act(&plant.station_token, "WO-24001", "hold", Some(why.clone()))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let empty = plant
        .refusal(
            "WO-24001",
            "hold",
            Some(serde_json::json!({ "reason": "  " })),
            StatusCode::BAD_REQUEST,
        )
        .await;
    assert!(empty.contains("reason must not be empty"), "{empty}");
    plant
        .refusal("WO-99999", "hold", Some(why.clone()), StatusCode::NOT_FOUND)
        .await;

    let held = plant.answer("WO-24001", "hold", Some(why.clone())).await;
    assert!(held.changed);
    assert_eq!(held.work_order.status, WorkOrderStatus::OnHold);
    assert_eq!(
        held.work_order.status_reason.as_deref(),
        Some("customer changed the drawing")
    );
    let again = plant.answer("WO-24001", "hold", Some(why.clone())).await;
    assert!(!again.changed, "a repeated hold changes nothing");
    // The station it is dispatched to learns it at its next pull.
    let page = plant.changes("L1-S1", &plant.station_token).await;
    let seen = order_in(&page, "WO-24001").expect("WO-24001 sent to L1-S1");
    assert_eq!(seen.status, WorkOrderStatus::OnHold);

    let released = plant.answer("WO-24001", "release", None).await;
    assert_eq!(
        (
            released.work_order.status,
            released.work_order.status_reason
        ),
        (WorkOrderStatus::Released, None)
    );
    let closed = plant
        .answer(
            "WO-24001",
            "close",
            Some(serde_json::json!({ "reason": "short by 3, drawing change" })),
        )
        .await;
    assert_eq!(closed.work_order.status, WorkOrderStatus::Closed);
    let refused = plant
        .refusal("WO-24001", "release", None, StatusCode::CONFLICT)
        .await;
    assert!(refused.contains("cannot be changed"), "{refused}");

    // A never-released order is cancelled, not closed.
    let refused = plant
        .refusal("WO-24004", "close", None, StatusCode::CONFLICT)
        .await;
    assert!(refused.contains("cancel it instead"), "{refused}");
    let cancelled = plant
        .answer(
            "WO-24004",
            "cancel",
            Some(serde_json::json!({ "reason": "ERP order withdrawn" })),
        )
        .await;
    assert_eq!(cancelled.work_order.status, WorkOrderStatus::Cancelled);

    // Dispatch: WO-24002 goes to L1-S2 only, most urgent. L1-S1, which had it, is still sent the
    // new version (so it drops it); L1-S2 has it in its queue.
    let refused = plant
        .refusal(
            "WO-24002",
            "dispatch",
            Some(serde_json::json!({ "stations": ["L9-S9"] })),
            StatusCode::CONFLICT,
        )
        .await;
    assert!(refused.contains("no station L9-S9"), "{refused}");
    let moved = plant
        .answer(
            "WO-24002",
            "dispatch",
            Some(serde_json::json!({ "stations": ["L1-S2"], "priority": 1 })),
        )
        .await;
    assert_eq!(moved.work_order.stations, vec![StationId::from("L1-S2")]);
    assert_eq!(moved.work_order.priority, 1);
    let page = plant.changes("L1-S1", &plant.station_token).await;
    let seen = order_in(&page, "WO-24002").expect("L1-S1 still hears of WO-24002");
    assert_eq!(seen.stations, vec![StationId::from("L1-S2")]);
    let overview: takt::central::LineOverview = plant
        .client
        .get(format!("{}/api/v1/lines/L1/overview", plant.central.url()))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("overview");
    let queue = |station: &str| {
        overview
            .stations
            .iter()
            .find(|s| s.station == station)
            .map(|s| s.queue)
    };
    // WO-24001 closed, WO-24004 cancelled, WO-24002 moved: only WO-24003 is left at L1-S1.
    assert_eq!(queue("L1-S1"), Some(1));
    assert_eq!(queue("L1-S2"), Some(2));

    // The list and each order's history say the same.
    let list: Vec<WorkOrderSummary> = plant
        .client
        .get(format!(
            "{}/api/v1/work-orders?status=closed",
            plant.central.url()
        ))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("list");
    assert_eq!(
        list.iter()
            .map(|row| row.work_order.id.as_str())
            .collect::<Vec<_>>(),
        ["WO-24001"]
    );
    let history = plant.report("WO-24001").await.history;
    let statuses: Vec<(WorkOrderStatus, String)> = history
        .iter()
        .map(|change| (change.status, change.source.clone()))
        .collect();
    assert_eq!(
        statuses,
        [
            (WorkOrderStatus::Released, "seed".to_owned()),
            (WorkOrderStatus::OnHold, "api:planning".to_owned()),
            (WorkOrderStatus::Released, "api:planning".to_owned()),
            (WorkOrderStatus::Closed, "api:planning".to_owned()),
        ]
    );
    plant.central.shutdown().await;
}

/// A station that had not heard of a hold yet (or was offline) goes on producing: those facts are
/// stored in its chain and counted — they happened — but flagged for review; what it made before
/// the hold, and its pause, are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_reported_for_a_time_after_a_hold_is_accepted_and_flagged() {
    let plant = plant().await;
    let dir = TempDir::new().expect("temp dir");
    let station = StationId::from("L1-S1");
    let mut store = Store::open(&dir.path().join("station.db"), &station).expect("store");
    let mut state = store.load_state().expect("state");
    let units = |produced| EventKind::UnitsProduced {
        work_order: Some(WorkOrderId::from("WO-24001")),
        produced,
        rejected: 0,
        plc_epoch: 1,
        processed_total: 0,
        defective_total: 0,
    };
    let before = NewEvent {
        at: Utc::now() - chrono::Duration::minutes(1),
        actor: Actor::Plc,
        kind: units(4),
    };
    let mut events = store.append(&mut state, vec![before]).expect("append");

    plant
        .answer(
            "WO-24001",
            "hold",
            Some(serde_json::json!({ "reason": "gauge out of calibration" })),
        )
        .await;
    let after = |kind| NewEvent {
        at: Utc::now() + chrono::Duration::seconds(1),
        actor: Actor::Plc,
        kind,
    };
    events.extend(
        store
            .append(
                &mut state,
                vec![
                    after(units(2)),
                    after(EventKind::WorkOrderPaused {
                        work_order: WorkOrderId::from("WO-24001"),
                    }),
                ],
            )
            .expect("append"),
    );
    let response = plant
        .client
        .post(format!(
            "{}/api/v1/stations/L1-S1/events",
            plant.central.url()
        ))
        .bearer_auth(&plant.station_token)
        .json(&EventBatch::of(events.clone()))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let ack: BatchAck = response.json().await.expect("ack");
    assert_eq!(ack.acked_through, 3);
    assert!(ack.quarantined.is_empty(), "accepted, not set aside");

    let report = plant.report("WO-24001").await;
    assert_eq!(report.produced, 6, "both counted: they happened");
    assert_eq!(report.flagged_count, 1);
    assert_eq!(report.flagged.len(), 1);
    let flag = &report.flagged[0];
    assert_eq!((flag.station.as_str(), flag.seq), ("L1-S1", 2));
    assert_eq!(flag.kind, "units_produced");
    assert!(
        flag.reason.contains("on hold") && flag.reason.contains("gauge out of calibration"),
        "{}",
        flag.reason
    );
    // A resend flags nothing twice.
    let response = plant
        .client
        .post(format!(
            "{}/api/v1/stations/L1-S1/events",
            plant.central.url()
        ))
        .bearer_auth(&plant.station_token)
        .json(&EventBatch::of(events))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(plant.report("WO-24001").await.flagged_count, 1);

    // The CLI lists it with its flagged fact.
    let db = plant.db.to_string_lossy().into_owned();
    let output = takt_cli(["central", "work-order", "list", "--db", &db]).await;
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(
        listing.lines().any(|line| line.starts_with("WO-24001")
            && line.contains("on_hold")
            && line.contains("1 fact(s) flagged")),
        "{listing}"
    );
    plant.central.shutdown().await;
}

/// The CLI does what the API does, on the database file, while central runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_holds_releases_and_dispatches_work_orders() {
    let plant = plant().await;
    let db = plant.db.to_string_lossy().into_owned();
    let output = takt_cli([
        "central",
        "work-order",
        "hold",
        "WO-24003",
        "--reason",
        "die change",
        "--db",
        &db,
    ])
    .await;
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("WO-24003 is on hold"));
    let report = plant.report("WO-24003").await;
    assert_eq!(report.work_order.status, WorkOrderStatus::OnHold);
    assert_eq!(
        report.history.last().map(|c| c.source.as_str()),
        Some("cli")
    );

    let output = takt_cli([
        "central",
        "work-order",
        "dispatch",
        "WO-24003",
        "--stations",
        "L1-S9",
        "--db",
        &db,
    ])
    .await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("central knows no station L1-S9"),
        "{output:?}"
    );
    let output = takt_cli(["central", "work-order", "close", "WO-24004", "--db", &db]).await;
    assert!(!output.status.success(), "a planned order is not closed");
    assert!(String::from_utf8_lossy(&output.stderr).contains("cancel it instead"));
    let output = takt_cli(["central", "work-order", "release", "WO-24003", "--db", &db]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        plant.report("WO-24003").await.work_order.status,
        WorkOrderStatus::Released
    );
    // Station settings: a grace window too short to survive a long-poll is refused.
    let output = takt_cli([
        "central",
        "station",
        "config",
        "L1-S1",
        "--offline-grace-minutes",
        "2",
        "--db",
        &db,
    ])
    .await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("too short"),
        "{output:?}"
    );
    // A second signer only for signature-grade actions.
    let output = takt_cli([
        "central",
        "station",
        "config",
        "L1-S1",
        "--second-signer",
        "release_hold,start",
        "--db",
        &db,
    ])
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "\"start\" is not a signature-grade action; a second signer can be asked for release_hold, correct"
        ),
        "{output:?}"
    );
    plant.central.shutdown().await;
}

/// `?wait=` holds a pull open until something for the station changes: an action through the API
/// (in-process) or on the database file (another process) answers it with the change, well before
/// the wait is over; `waited_ms` says how long it was held. Without a change it answers empty at the
/// end of the wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_answers_as_soon_as_the_station_has_a_change() {
    let plant = plant().await;
    let url = plant.central.url();
    let cursor = plant.changes("L1-S1", &plant.station_token).await.cursor;
    let long_poll = |wait: u64| {
        let request = plant
            .client
            .get(format!(
                "{url}/api/v1/stations/L1-S1/changes?since={cursor}&wait={wait}"
            ))
            .bearer_auth(&plant.station_token)
            .send();
        async move {
            let response = request.await.expect("sent");
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<ChangePage>().await.expect("page")
        }
    };

    let empty = long_poll(1).await;
    assert!(empty.changes.is_empty());
    assert!(
        empty.waited_ms >= 1000,
        "held for the wait: {}",
        empty.waited_ms
    );

    let waiting = tokio::spawn(long_poll(50));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    plant
        .answer(
            "WO-24003",
            "hold",
            Some(serde_json::json!({ "reason": "die change" })),
        )
        .await;
    let page = waiting.await.expect("long poll");
    let held = order_in(&page, "WO-24003").expect("the hold arrives on the open pull");
    assert_eq!(held.status, WorkOrderStatus::OnHold);
    assert!(page.waited_ms < 50_000, "answered before the wait was over");

    // Written by another process: found by the pull's own look, at most a second later.
    let cursor = page.cursor;
    let request = plant
        .client
        .get(format!(
            "{url}/api/v1/stations/L1-S1/changes?since={cursor}&wait=50"
        ))
        .bearer_auth(&plant.station_token)
        .send();
    let waiting = tokio::spawn(async move {
        request
            .await
            .expect("sent")
            .json::<ChangePage>()
            .await
            .expect("page")
    });
    let db = plant.db.to_string_lossy().into_owned();
    let output = takt_cli(["central", "work-order", "release", "WO-24003", "--db", &db]).await;
    assert!(output.status.success(), "{output:?}");
    let page = waiting.await.expect("long poll");
    let released = order_in(&page, "WO-24003").expect("the release arrives");
    assert_eq!(released.status, WorkOrderStatus::Released);
    assert!(page.waited_ms < 50_000);
    plant.central.shutdown().await;
}

/// A fact is judged by the order's status when it was made, not now: a station offline through a
/// hold, a release and a cancel has what it made during the hold and after the cancel flagged, and
/// what it made while the order was released again not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_are_flagged_by_the_status_the_order_had_when_they_were_made() {
    let plant = plant().await;
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(30));
    plant
        .answer(
            "WO-24001",
            "hold",
            Some(serde_json::json!({ "reason": "gauge out of calibration" })),
        )
        .await;
    pause().await;
    plant.answer("WO-24001", "release", None).await;
    pause().await;
    plant
        .answer(
            "WO-24001",
            "cancel",
            Some(serde_json::json!({ "reason": "ERP order withdrawn" })),
        )
        .await;
    let history = plant.report("WO-24001").await.history;
    let at = |status: WorkOrderStatus| {
        history
            .iter()
            .find(|change| change.status == status && change.source.starts_with("api:"))
            .map(|change| change.at)
            .expect("in the history")
    };
    let (held, released, cancelled) = (
        at(WorkOrderStatus::OnHold),
        at(WorkOrderStatus::Released),
        at(WorkOrderStatus::Cancelled),
    );
    assert!(held < released && released < cancelled, "{history:?}");

    let dir = TempDir::new().expect("temp dir");
    let mut store =
        Store::open(&dir.path().join("station.db"), &StationId::from("L1-S1")).expect("store");
    let mut state = store.load_state().expect("state");
    let middle = |a: chrono::DateTime<Utc>, b: chrono::DateTime<Utc>| a + (b - a) / 2;
    let events = store
        .append(
            &mut state,
            vec![
                unit_of_wo_24001(held - chrono::Duration::seconds(5)),
                unit_of_wo_24001(middle(held, released)),
                unit_of_wo_24001(middle(released, cancelled)),
                unit_of_wo_24001(cancelled + chrono::Duration::seconds(1)),
            ],
        )
        .expect("append");
    let response = plant
        .client
        .post(format!(
            "{}/api/v1/stations/L1-S1/events",
            plant.central.url()
        ))
        .bearer_auth(&plant.station_token)
        .json(&EventBatch::of(events))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let report = plant.report("WO-24001").await;
    assert_eq!(report.produced, 4);
    let flagged: Vec<(u64, bool, bool)> = report
        .flagged
        .iter()
        .map(|flag| {
            (
                flag.seq,
                flag.reason.contains("on hold at") && flag.reason.contains("(gauge out of"),
                flag.reason.contains("cancelled at") && flag.reason.contains("(ERP order"),
            )
        })
        .collect();
    assert_eq!(flagged, [(2, true, false), (4, false, true)]);
    plant.central.shutdown().await;
}
