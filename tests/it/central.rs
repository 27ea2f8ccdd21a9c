//! Station ↔ central over loopback: a real central on an ephemeral port with its own SQLite file, a
//! real station store, and the real sync worker. No mocks.

use chrono::Utc;
use reqwest::StatusCode;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use takt::central::{self, CentralHandle};
use takt::domain::{Actor, Event, EventKind, NewEvent, State, StationId, WorkOrderId};
use takt::protocol::{ApiError, BatchAck, ChangePage, EventBatch, MasterRecord, WorkOrderReport};
use takt::store::{Store, VerifyReport};
use takt::sync::{CentralLink, SyncConfig, SyncReport, spawn_worker};
use tempfile::TempDir;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(20);

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A central database with the demo plant, ready to be served.
pub(crate) fn central_db(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("central.db");
    central::seed_demo(&path, Utc::now().date_naive()).expect("seed demo");
    path
}

pub(crate) async fn start_central(db: &Path) -> CentralHandle {
    central::spawn(any_port(), db.to_owned())
        .await
        .expect("central starts")
}

pub(crate) struct Station {
    pub(crate) id: StationId,
    pub(crate) path: PathBuf,
    pub(crate) store: Store,
    pub(crate) state: State,
}

impl Station {
    pub(crate) fn open(dir: &TempDir, id: &str) -> Station {
        Station::at(dir.path().join(format!("{id}.db")), id)
    }

    /// The station `id` on the database at `path` (a copy, say).
    fn at(path: PathBuf, id: &str) -> Station {
        let id = StationId::from(id);
        let store = Store::open(&path, &id).expect("open station store");
        let state = store.load_state().expect("load state");
        Station {
            id,
            path,
            store,
            state,
        }
    }

    fn append(&mut self, kinds: Vec<EventKind>) -> Vec<Event> {
        let events = kinds
            .into_iter()
            .map(|kind| NewEvent {
                at: Utc::now(),
                actor: Actor::Plc,
                kind,
            })
            .collect();
        self.record(events)
    }

    /// Seals and stores `events` in one append, as the station core does.
    pub(crate) fn record(&mut self, events: Vec<NewEvent>) -> Vec<Event> {
        self.store
            .append(&mut self.state, events)
            .expect("append events")
    }

    /// `count` UnitsProduced events of `produced`/`rejected` each for `work_order`.
    fn produce(
        &mut self,
        work_order: &str,
        count: usize,
        produced: u64,
        rejected: u64,
    ) -> Vec<Event> {
        let kinds = (0..count)
            .map(|_| units(work_order, produced, rejected))
            .collect();
        self.append(kinds)
    }

    /// Plays the station core's part for a report: persist acks, rewinds and changes.
    fn absorb(&mut self, report: &SyncReport) {
        match report {
            SyncReport::Acked(ack) => self
                .store
                .record_ack(&mut self.state, ack, Utc::now())
                .expect("record ack"),
            SyncReport::Rewind { expected_seq } => {
                self.store.rewind_ack(*expected_seq).expect("rewind")
            }
            SyncReport::Changes(page) => self
                .store
                .apply_changes(&mut self.state, page)
                .expect("apply changes"),
            SyncReport::Heard { server_time } => self
                .store
                .record_heard(&mut self.state, *server_time, Utc::now())
                .expect("record heard"),
            SyncReport::Link(_) | SyncReport::Rejected { .. } | SyncReport::ClockOffset { .. } => {}
        }
    }
}

fn units(work_order: &str, produced: u64, rejected: u64) -> EventKind {
    EventKind::UnitsProduced {
        work_order: Some(WorkOrderId::from(work_order)),
        produced,
        rejected,
        plc_epoch: 1,
        processed_total: 0,
        defective_total: 0,
    }
}

/// A real sync worker on a station's store, with the channels the core would hold.
struct Worker {
    appended: watch::Sender<u64>,
    reports: mpsc::Receiver<SyncReport>,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    fn start(url: String, token: String, station: &Station) -> Worker {
        let (appended, appended_rx) = watch::channel(station.store.last_seq());
        let (reports_tx, reports) = mpsc::channel(64);
        let task = spawn_worker(fast_config(url, token, station), appended_rx, reports_tx);
        Worker {
            appended,
            reports,
            task,
        }
    }

    /// Closing the reports ends the worker; it must not have panicked.
    async fn stop(self) {
        drop(self.reports);
        timeout(WAIT, self.task)
            .await
            .expect("worker ends")
            .expect("no panic");
    }
}

fn fast_config(url: String, token: String, station: &Station) -> SyncConfig {
    SyncConfig {
        push_interval: Duration::from_millis(100),
        pull_interval: Duration::from_millis(300),
        request_timeout: Duration::from_secs(2),
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..SyncConfig::new(url, token, station.id.clone(), station.path.clone())
    }
}

/// Receives reports, letting the station absorb each, until `done` holds or the deadline passes.
async fn wait_for(
    station: &mut Station,
    reports: &mut mpsc::Receiver<SyncReport>,
    what: &str,
    mut done: impl FnMut(&SyncReport) -> bool,
) -> Vec<SyncReport> {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let report = match timeout(left, reports.recv()).await {
            Ok(Some(report)) => report,
            Ok(None) => panic!("worker stopped while waiting for {what}; saw {seen:?}"),
            Err(_) => panic!("timed out waiting for {what}; saw {seen:?}"),
        };
        station.absorb(&report);
        let finished = done(&report);
        seen.push(report);
        if finished {
            return seen;
        }
    }
}

fn acked_through(seq: u64) -> impl FnMut(&SyncReport) -> bool {
    move |report| matches!(report, SyncReport::Acked(ack) if ack.acked_through >= seq)
}

fn stored_events(db: &Path, station: &str) -> u64 {
    match central::verify_station_chain(db, station).expect("verify") {
        VerifyReport::Intact { events, .. } => events,
        VerifyReport::Broken { seq, reason } => panic!("chain broken at {seq}: {reason}"),
    }
}

pub(crate) async fn post_batch(
    client: &reqwest::Client,
    url: &str,
    station: &str,
    token: &str,
    events: &[Event],
) -> reqwest::Response {
    client
        .post(format!("{url}/api/v1/stations/{station}/events"))
        .bearer_auth(token)
        .json(&EventBatch::of(events.to_vec()))
        .send()
        .await
        .expect("request sent")
}

pub(crate) async fn work_order(client: &reqwest::Client, url: &str, id: &str) -> WorkOrderReport {
    let response = client
        .get(format!("{url}/api/v1/work-orders/{id}"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("work order report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_delivers_events_exactly_once_and_pulls_master_data() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    station.append(vec![EventKind::WorkOrderStarted {
        work_order: WorkOrderId::from("WO-24001"),
    }]);
    station.produce("WO-24001", 4, 5, 1);

    let mut worker = Worker::start(central.url(), token, &station);

    let mut seen = wait_for(
        &mut station,
        &mut worker.reports,
        "ack of 5",
        acked_through(5),
    )
    .await;
    assert!(
        seen.iter()
            .any(|r| matches!(r, SyncReport::Link(CentralLink::Online))),
        "online reported: {seen:?}"
    );
    // Master data arrives too; the station ends up knowing the demo work orders.
    if !station
        .state
        .master
        .work_orders
        .contains_key(&WorkOrderId::from("WO-24001"))
    {
        seen = wait_for(&mut station, &mut worker.reports, "changes", |r| {
            matches!(r, SyncReport::Changes(_))
        })
        .await;
    }
    assert!(
        !seen
            .iter()
            .any(|r| matches!(r, SyncReport::Rejected { .. }))
    );
    assert_eq!(station.state.master.work_orders.len(), 4);
    assert_eq!(station.state.master.operators.len(), 6);
    // Inspection plans come with master data and survive a restart of the station.
    let bore_plan = |master: &takt::domain::MasterData| {
        master
            .inspection_plans
            .get(&("BC-200".into(), "OP10".into()))
            .and_then(|plan| plan.characteristic("BORE"))
            .cloned()
    };
    let bore = bore_plan(&station.state.master).expect("OP10 plan with BORE");
    assert_eq!(station.state.master.inspection_plans.len(), 4);
    let reopened = Store::open(&station.path, &station.id)
        .expect("reopen")
        .load_state()
        .expect("state");
    assert_eq!(bore_plan(&reopened.master), Some(bore));

    // New appends are noticed through the watch channel.
    let more = station.produce("WO-24001", 2, 3, 0);
    worker.appended.send_replace(more[1].seq);
    wait_for(
        &mut station,
        &mut worker.reports,
        "ack of 7",
        acked_through(7),
    )
    .await;

    assert_eq!(stored_events(&db, "L1-S1"), 7);
    let client = reqwest::Client::new();
    let report = work_order(&client, &central.url(), "WO-24001").await;
    assert_eq!((report.produced, report.rejected, report.good), (26, 4, 22));
    let status = station.store.sync_status().expect("status");
    assert_eq!((status.acked_through, status.backlog()), (7, 0));

    worker.stop().await;
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_batch_is_acknowledged_without_duplicating() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    let events = station.produce("WO-24001", 3, 4, 1);
    let client = reqwest::Client::new();

    let mut acks = Vec::new();
    for _ in 0..2 {
        let response = post_batch(&client, &central.url(), "L1-S1", &token, &events).await;
        assert_eq!(response.status(), StatusCode::OK);
        acks.push(response.json::<BatchAck>().await.expect("ack"));
    }
    assert_eq!(acks[0].acked_through, 3);
    assert_eq!(acks[1].acked_through, 3);
    assert_eq!(acks[0].chain_head, events[2].hash);
    assert_eq!(acks[1].chain_head, events[2].hash);

    // A batch overlapping what is stored: the old part is skipped, the new part stored.
    let next = station.produce("WO-24001", 1, 4, 1);
    let overlap = [events[1].clone(), events[2].clone(), next[0].clone()];
    let response = post_batch(&client, &central.url(), "L1-S1", &token, &overlap).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .json::<BatchAck>()
            .await
            .expect("ack")
            .acked_through,
        4
    );

    // An empty batch answers with the current head.
    let response = post_batch(&client, &central.url(), "L1-S1", &token, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let ack: BatchAck = response.json().await.expect("ack");
    assert_eq!(
        (ack.acked_through, ack.chain_head),
        (4, next[0].hash.clone())
    );

    assert_eq!(stored_events(&db, "L1-S1"), 4);
    let report = work_order(&client, &central.url(), "WO-24001").await;
    assert_eq!((report.produced, report.rejected), (16, 4));
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_gets_409_with_the_expected_seq() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    let events = station.produce("WO-24001", 4, 1, 0);
    let client = reqwest::Client::new();

    // Nothing stored yet: the first event must be 1.
    let response = post_batch(&client, &central.url(), "L1-S1", &token, &events[1..2]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let error: ApiError = response.json().await.expect("api error");
    assert_eq!(error.expected_seq, Some(1));

    let response = post_batch(&client, &central.url(), "L1-S1", &token, &events[..2]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = post_batch(&client, &central.url(), "L1-S1", &token, &events[3..]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let error: ApiError = response.json().await.expect("api error");
    assert_eq!(error.expected_seq, Some(3), "{}", error.error);
    assert_eq!(stored_events(&db, "L1-S1"), 2);
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_events_are_rejected_and_nothing_is_stored() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    let events = station.produce("WO-24001", 5, 2, 0);
    let client = reqwest::Client::new();
    let url = central.url();
    let response = post_batch(&client, &url, "L1-S1", &token, &events[..3]).await;
    assert_eq!(response.status(), StatusCode::OK);

    // A stored event re-sent with changed content and its hash recomputed: a different event.
    let mut rehashed = events[1].clone();
    rehashed.kind = units("WO-24001", 200, 0);
    rehashed.hash = rehashed.compute_hash();
    let response = post_batch(&client, &url, "L1-S1", &token, &[rehashed]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let error: ApiError = response.json().await.expect("api error");
    assert!(error.error.starts_with("tamper"), "{}", error.error);
    assert_eq!(error.expected_seq, None);

    // The same, keeping the stored hash: the content no longer matches it.
    let mut altered = events[1].clone();
    altered.kind = units("WO-24001", 200, 0);
    let response = post_batch(&client, &url, "L1-S1", &token, &[altered]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let error: ApiError = response.json().await.expect("api error");
    assert!(error.error.starts_with("tamper"), "{}", error.error);

    // A new event whose content was changed after sealing: the batch is refused as a whole, so
    // the valid event 4 before it is not stored either.
    let mut forged = events[4].clone();
    forged.kind = units("WO-24001", 999, 0);
    let batch = [events[3].clone(), forged];
    let response = post_batch(&client, &url, "L1-S1", &token, &batch).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error: ApiError = response.json().await.expect("api error");
    assert!(
        error.error.contains("does not match its hash"),
        "{}",
        error.error
    );

    // A new event that does not link to the stored head.
    let mut unlinked = events[3].clone();
    unlinked.prev_hash = events[0].hash.clone();
    unlinked.hash = unlinked.compute_hash();
    let response = post_batch(&client, &url, "L1-S1", &token, &[unlinked]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(stored_events(&db, "L1-S1"), 3);
    let report = work_order(&client, &url, "WO-24001").await;
    assert_eq!(report.produced, 6);

    // The genuine events still go through afterwards.
    let response = post_batch(&client, &url, "L1-S1", &token, &events[3..]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(stored_events(&db, "L1-S1"), 5);
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stations_must_authenticate_as_themselves() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token_s1 = central::add_station(&db, "L1-S1").expect("token");
    let token_s2 = central::add_station(&db, "L1-S2").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    let events = station.produce("WO-24001", 1, 1, 0);
    let client = reqwest::Client::new();
    let url = central.url();

    let response = client
        .post(format!("{url}/api/v1/stations/L1-S1/events"))
        .json(&EventBatch::of(events.clone()))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let _: ApiError = response.json().await.expect("api error body");

    let response = post_batch(&client, &url, "L1-S1", "not-a-token", &events).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Malformed bodies: not JSON at all, and JSON of the wrong shape. Clear words, nothing stored.
    for (body, status, words) in [
        (
            "{\"events\": [",
            StatusCode::BAD_REQUEST,
            "invalid event batch",
        ),
        (
            "{\"events\": 5}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid event batch",
        ),
    ] {
        let response = client
            .post(format!("{url}/api/v1/stations/L1-S1/events"))
            .bearer_auth(&token_s1)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), status, "{body}");
        let error: ApiError = response.json().await.expect("api error body");
        assert!(error.error.contains(words), "{}", error.error);
    }
    assert_eq!(stored_events(&db, "L1-S1"), 0);
    let response = post_batch(&client, &url, "L1-S1", &token_s2, &events).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A station may only write its own events, even under its own path.
    let response = post_batch(&client, &url, "L1-S2", &token_s2, &events).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let response = client
        .get(format!("{url}/api/v1/stations/L1-S1/changes?since=0"))
        .bearer_auth(&token_s2)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Rotating a token retires the old one.
    let rotated = central::add_station(&db, "L1-S1").expect("rotate");
    assert_ne!(rotated, token_s1);
    let response = post_batch(&client, &url, "L1-S1", &token_s1, &events).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = post_batch(&client, &url, "L1-S1", &rotated, &events).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(central::add_station(&db, "bad id").is_err());
    central.shutdown().await;
}

/// The admin rotates and revokes station tokens from the CLI: the old token is refused at once,
/// the new one works; a revoked station is refused whatever token it sends, its events are kept,
/// and `station list` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_rotated_and_revoked_from_the_cli() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let db_arg = db.display().to_string();
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    let client = reqwest::Client::new();
    let url = central.url();
    let first = station.produce("WO-24001", 1, 1, 0);
    let response = post_batch(&client, &url, "L1-S1", &token, &first).await;
    assert_eq!(response.status(), StatusCode::OK);

    let rotated =
        crate::support::takt_cli(["central", "station", "rotate", "L1-S1", "--db", &db_arg]).await;
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let new_token = String::from_utf8_lossy(&rotated.stdout).trim().to_owned();
    assert_eq!(new_token.len(), 64);
    assert_ne!(new_token, token);
    let second = station.produce("WO-24001", 1, 1, 0);
    let response = post_batch(&client, &url, "L1-S1", &token, &second).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the old token is refused"
    );
    let response = post_batch(&client, &url, "L1-S1", &new_token, &second).await;
    assert_eq!(response.status(), StatusCode::OK);

    let unknown =
        crate::support::takt_cli(["central", "station", "rotate", "L9-S9", "--db", &db_arg]).await;
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("central knows no station L9-S9"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    let revoked =
        crate::support::takt_cli(["central", "station", "revoke", "L1-S1", "--db", &db_arg]).await;
    assert!(revoked.status.success());
    let third = station.produce("WO-24001", 1, 1, 0);
    let response = post_batch(&client, &url, "L1-S1", &new_token, &third).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "a revoked station is refused"
    );
    let response = client
        .get(format!("{url}/api/v1/stations/L1-S1/changes?since=0"))
        .bearer_auth(&new_token)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(stored_events(&db, "L1-S1"), 2, "its events are kept");

    let listed = crate::support::takt_cli(["central", "station", "list", "--db", &db_arg]).await;
    let listing = String::from_utf8_lossy(&listed.stdout).to_string();
    let row = listing
        .lines()
        .find(|line| line.starts_with("L1-S1 "))
        .unwrap_or_default();
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        columns.get(1..4),
        Some(&["L1", "REVOKED", "2"][..]),
        "{listing}"
    );
    assert!(
        listing.lines().any(
            |line| line.starts_with("L1-S2 ") && line.split_whitespace().nth(2) == Some("none")
        ),
        "demo stations without a token: {listing}"
    );
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_keeps_events_through_an_outage_and_delivers_them_once() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    // A port with nothing listening yet; central comes up on it later.
    let addr = std::net::TcpListener::bind(any_port())
        .and_then(|listener| listener.local_addr())
        .expect("reserve a port");
    let mut station = Station::open(&dir, "L1-S1");
    station.produce("WO-24001", 3, 2, 1);

    let mut worker = Worker::start(format!("http://{addr}"), token, &station);
    let seen = wait_for(&mut station, &mut worker.reports, "offline", |r| {
        matches!(r, SyncReport::Link(CentralLink::Offline { .. }))
    })
    .await;
    assert!(!seen.iter().any(|r| matches!(r, SyncReport::Acked(_))));
    let more = station.produce("WO-24001", 2, 2, 0);
    worker.appended.send_replace(more[1].seq);
    assert_eq!(station.store.sync_status().expect("status").backlog(), 5);

    let central = central::spawn(addr, db.clone()).await.expect("central up");
    wait_for(
        &mut station,
        &mut worker.reports,
        "ack of 5",
        acked_through(5),
    )
    .await;
    assert_eq!(stored_events(&db, "L1-S1"), 5);

    // Down again while more is produced; back on the same port with the same database.
    timeout(WAIT, central.shutdown())
        .await
        .expect("central stops");
    let more = station.produce("WO-24001", 3, 2, 0);
    worker.appended.send_replace(more[2].seq);
    wait_for(&mut station, &mut worker.reports, "offline again", |r| {
        matches!(r, SyncReport::Link(CentralLink::Offline { .. }))
    })
    .await;
    let central = central::spawn(addr, db.clone())
        .await
        .expect("central up again");
    wait_for(
        &mut station,
        &mut worker.reports,
        "ack of 8",
        acked_through(8),
    )
    .await;

    assert_eq!(stored_events(&db, "L1-S1"), 8);
    let report = work_order(&reqwest::Client::new(), &central.url(), "WO-24001").await;
    assert_eq!((report.produced, report.rejected), (16, 3));
    assert_eq!(station.store.sync_status().expect("status").backlog(), 0);

    worker.stop().await;
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_batches_are_reported_and_kept() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    station.produce("WO-24001", 2, 1, 0);

    let mut worker = Worker::start(central.url(), "wrong-token".into(), &station);
    let seen = wait_for(&mut station, &mut worker.reports, "rejection", |r| {
        matches!(r, SyncReport::Rejected { .. })
    })
    .await;
    let Some(SyncReport::Rejected { error }) = seen.last() else {
        unreachable!()
    };
    assert!(error.contains("unknown station token"), "{error}");
    assert_eq!(stored_events(&db, "L1-S1"), 0);
    assert_eq!(station.store.sync_status().expect("status").backlog(), 2);
    worker.stop().await;
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_page_the_demo_master_data_by_cursor() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let outsider = central::add_station(&db, "L9-S1").expect("token");
    let central = start_central(&db).await;
    let client = reqwest::Client::new();
    let url = central.url();
    let changes = |station: &'static str, token: String, since: u64, limit: u64| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let response = client
                .get(format!(
                    "{url}/api/v1/stations/{station}/changes?since={since}&limit={limit}"
                ))
                .bearer_auth(token)
                .send()
                .await
                .expect("sent");
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<ChangePage>().await.expect("page")
        }
    };

    let mut all = Vec::new();
    let mut cursor = 0;
    let mut pages = 0;
    loop {
        let page = changes("L1-S1", token.clone(), cursor, 7).await;
        pages += 1;
        assert!(page.changes.len() <= 7);
        assert!(page.changes.iter().all(|c| c.version > cursor));
        assert!(page.changes.windows(2).all(|w| w[0].version < w[1].version));
        cursor = page.cursor;
        all.extend(page.changes);
        if !page.more {
            break;
        }
        assert!(pages < 12, "paging does not end");
    }
    // 6 operators, 2 products, 14 materials, 2 routings, 6 bills of materials, 10 lots, 22 codes,
    // 4 work orders, 4 inspection plans, and this station's config (registering it made one; no other
    // station's).
    assert_eq!(all.len(), 71);
    let configs: Vec<_> = all
        .iter()
        .filter_map(|c| match &c.record {
            MasterRecord::StationConfig(config) => Some(config.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        configs,
        [takt::domain::StationConfig::new(StationId::from("L1-S1"))]
    );
    assert_eq!(pages, 11);
    assert_eq!(
        cursor,
        all.last().map_or(0, |c| c.version) + 1,
        "the cursor moves past L9-S1's config, registered last, too"
    );
    let work_orders: Vec<_> = all
        .iter()
        .filter_map(|c| match &c.record {
            MasterRecord::WorkOrder(w) => Some(w),
            _ => None,
        })
        .collect();
    assert_eq!(work_orders.len(), 4);
    let planned = work_orders
        .iter()
        .find(|w| w.id.as_str() == "WO-24004")
        .expect("WO-24004");
    assert_eq!(planned.status, takt::domain::WorkOrderStatus::Planned);
    assert_eq!(planned.stations.len(), 3);

    // Nothing new since the cursor; seeding again changes nothing.
    central::seed_demo(&db, Utc::now().date_naive()).expect("seed again");
    let page = changes("L1-S1", token.clone(), cursor, 500).await;
    assert!(page.changes.is_empty());
    assert!(!page.more);
    assert_eq!(page.cursor, cursor);

    // Work orders go only to the stations they are dispatched to.
    let page = changes("L9-S1", outsider, 0, 1000).await;
    assert_eq!(page.changes.len(), 67, "66 for all, and its own config");
    assert!(page.changes.iter().any(|c| matches!(
        &c.record,
        MasterRecord::StationConfig(config) if config.station.as_str() == "L9-S1"
    )));
    assert!(
        !page
            .changes
            .iter()
            .any(|c| matches!(c.record, MasterRecord::WorkOrder(_)))
    );
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_order_report_sums_stations() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token_s1 = central::add_station(&db, "L1-S1").expect("token");
    let token_s2 = central::add_station(&db, "L1-S2").expect("token");
    let central = start_central(&db).await;
    let client = reqwest::Client::new();
    let url = central.url();

    let mut s1 = Station::open(&dir, "L1-S1");
    let mut events = s1.append(vec![EventKind::WorkOrderStarted {
        work_order: WorkOrderId::from("WO-24001"),
    }]);
    events.extend(s1.produce("WO-24001", 2, 10, 1));
    events.extend(s1.produce("WO-24002", 1, 7, 0));
    let response = post_batch(&client, &url, "L1-S1", &token_s1, &events).await;
    assert_eq!(response.status(), StatusCode::OK);

    let mut s2 = Station::open(&dir, "L1-S2");
    let mut events = s2.produce("WO-24001", 1, 8, 2);
    events.extend(s2.append(vec![EventKind::WorkOrderPaused {
        work_order: WorkOrderId::from("WO-24001"),
    }]));
    let response = post_batch(&client, &url, "L1-S2", &token_s2, &events).await;
    assert_eq!(response.status(), StatusCode::OK);

    let report = work_order(&client, &url, "WO-24001").await;
    assert_eq!(report.work_order.numeric_id, 24001);
    assert_eq!((report.produced, report.rejected, report.good), (28, 4, 24));
    let rows: Vec<_> = report
        .stations
        .iter()
        .map(|s| {
            (
                s.station.as_str(),
                s.status.as_str(),
                s.produced,
                s.rejected,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("L1-S1", "running", 20, 2),
            ("L1-S2", "paused", 8, 2),
            ("L1-S3", "not_started", 0, 0)
        ]
    );

    let response = client
        .get(format!("{url}/api/v1/work-orders/WO-99999"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let error: ApiError = response.json().await.expect("api error");
    assert!(error.error.contains("WO-99999"));

    let health = client
        .get(format!("{url}/api/v1/health"))
        .send()
        .await
        .expect("sent");
    assert_eq!(health.status(), StatusCode::OK);
    let body: serde_json::Value = health.json().await.expect("json");
    assert_eq!(body, serde_json::json!({"status": "ok"}));
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_batches_get_413() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    let events = station.produce("WO-24001", takt::protocol::MAX_BATCH_EVENTS + 1, 1, 0);
    let client = reqwest::Client::new();
    let response = post_batch(&client, &central.url(), "L1-S1", &token, &events).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let _: ApiError = response.json().await.expect("api error");
    let response = post_batch(
        &client,
        &central.url(),
        "L1-S1",
        &token,
        &events[..takt::protocol::MAX_BATCH_EVENTS],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(stored_events(&db, "L1-S1"), 500);
    central.shutdown().await;
}

/// Batches may come gzip-compressed: stored as if plain. Broken gzip, a body that unpacks past the
/// limit (a zip bomb) and unknown encodings are refused with a clear error, nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_batches_are_taken_and_bad_encodings_refused() {
    use std::io::Write as _;
    let gzip = |bytes: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).expect("compress");
        encoder.finish().expect("compressed")
    };
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    let events = station.produce("WO-24001", 3, 1, 0);
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/stations/L1-S1/events", central.url());
    let send = |body: Vec<u8>, encoding: &'static str| {
        client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    let json = serde_json::to_vec(&EventBatch::of(events.clone())).expect("json");

    let response = send(b"not gzip at all".to_vec(), "gzip")
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: ApiError = response.json().await.expect("api error");
    assert!(error.error.contains("not valid gzip"), "{}", error.error);
    // 20 MiB of spaces pack into a few kilobytes.
    let bomb = gzip(&vec![b' '; 20 * 1024 * 1024]);
    assert!(bomb.len() < 100_000);
    let response = send(bomb, "gzip").await.expect("sent");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let response = send(json.clone(), "br").await.expect("sent");
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(stored_events(&db, "L1-S1"), 0, "nothing stored");

    let response = send(gzip(&json), "gzip").await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let ack: takt::protocol::BatchAck = response.json().await.expect("ack");
    assert_eq!(ack.acked_through, 3);
    assert_eq!(stored_events(&db, "L1-S1"), 3);
    central.shutdown().await;
}

/// Events central cannot trust to mean what they say (a work order it never had, a time two days
/// ahead of its clock) are stored in their chain but set aside, with the reason, in the ack and at
/// central; the cursor moves on and later events are applied as usual. Nothing is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantically_invalid_events_are_quarantined_and_the_cursor_moves_on() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    let mut events = station.append(vec![units("WO-99999", 5, 0)]);
    let future = NewEvent {
        at: Utc::now() + chrono::Duration::days(2),
        actor: Actor::Plc,
        kind: units("WO-24001", 7, 0),
    };
    events.extend(
        station
            .store
            .append(&mut station.state, vec![future])
            .expect("append"),
    );
    events.extend(station.produce("WO-24001", 1, 3, 1));
    let client = reqwest::Client::new();
    let url = central.url();
    let response = post_batch(&client, &url, "L1-S1", &token, &events).await;
    assert_eq!(response.status(), StatusCode::OK);
    let ack: takt::protocol::BatchAck = response.json().await.expect("ack");
    assert_eq!(
        ack.acked_through, 3,
        "the cursor moves past the set-aside events"
    );
    let reasons: Vec<(u64, String)> = ack
        .quarantined
        .iter()
        .map(|q| (q.seq, q.reason.clone()))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(
        reasons[0],
        (1, "work order WO-99999 is unknown to central".to_owned())
    );
    assert_eq!(reasons[1].0, 2);
    assert!(
        reasons[1].1.contains("the station's clock is wrong"),
        "{reasons:?}"
    );
    assert_eq!(
        stored_events(&db, "L1-S1"),
        3,
        "stored in the chain all the same"
    );
    // Only the valid event moved the order's progress.
    let report = work_order(&client, &url, "WO-24001").await;
    assert_eq!((report.produced, report.rejected), (3, 1));
    // A resend of the same batch changes nothing and sets nothing aside twice.
    let response = post_batch(&client, &url, "L1-S1", &token, &events).await;
    assert_eq!(response.status(), StatusCode::OK);
    let listed = central::quarantine(&db, Some("L1-S1")).expect("quarantine");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed.iter().map(|q| q.kind.as_str()).collect::<Vec<_>>(),
        ["units_produced"; 2]
    );
    // The lead sees it in the line overview.
    let overview: central::LineOverview = client
        .get(format!("{url}/api/v1/lines/L1/overview"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("overview");
    let quarantined: Vec<(String, u64)> = overview
        .stations
        .iter()
        .map(|s| (s.station.clone(), s.quarantined))
        .collect();
    assert_eq!(
        quarantined,
        [
            ("L1-S1".to_owned(), 2),
            ("L1-S2".to_owned(), 0),
            ("L1-S3".to_owned(), 0)
        ]
    );
    central.shutdown().await;
}

/// Holds and releases through the API need an admin token (a station's will not do): the hold
/// reaches the stations' next pull; a repeated hold changes nothing; unknown lots are 404, an empty
/// reason 400; a revoked admin token is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lots_are_held_and_released_through_the_api_with_an_admin_token() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let station_token = central::add_station(&db, "L1-S1").expect("token");
    let admin = central::add_admin_token(&db, "quality").expect("admin token");
    let central = start_central(&db).await;
    let client = reqwest::Client::new();
    let url = central.url();
    let hold = |token: &str, lot: &str, body: serde_json::Value| {
        client
            .post(format!("{url}/api/v1/lots/{lot}/hold"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    let why = serde_json::json!({ "reason": "porosity found at OP30" });

    let response = hold(&station_token, "C24-1107", why.clone())
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let error: ApiError = response.json().await.expect("api error");
    assert!(
        error.error.contains("not an admin token"),
        "{}",
        error.error
    );
    let response = hold(&admin, "C24-1107", serde_json::json!({ "reason": " " }))
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = hold(&admin, "NO-SUCH-LOT", why.clone())
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response = hold(&admin, "C24-1107", why.clone()).await.expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    let answer: serde_json::Value = response.json().await.expect("answer");
    assert_eq!(answer["status"], "on_hold");
    assert_eq!(answer["changed"], true);
    let again: serde_json::Value = hold(&admin, "C24-1107", why.clone())
        .await
        .expect("sent")
        .json()
        .await
        .expect("answer");
    assert_eq!(again["changed"], false, "a repeated hold changes nothing");

    // The station learns it at its next pull.
    let page: ChangePage = client
        .get(format!(
            "{url}/api/v1/stations/L1-S1/changes?since=0&limit=1000"
        ))
        .bearer_auth(&station_token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("page");
    let held = page.changes.iter().find_map(|change| match &change.record {
        MasterRecord::Lot(lot) if lot.id.as_str() == "C24-1107" => Some(lot.clone()),
        _ => None,
    });
    assert_eq!(
        held.map(|lot| (lot.status, lot.status_reason)),
        Some((
            takt::domain::LotStatus::OnHold,
            Some("porosity found at OP30".to_owned())
        ))
    );

    let released: serde_json::Value = client
        .post(format!("{url}/api/v1/lots/C24-1107/release"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("answer");
    assert_eq!(released["status"], "released");
    central::revoke_admin_token(&db, "quality").expect("revoke");
    let response = hold(&admin, "C24-1107", why).await.expect("sent");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_rewinds_when_central_lacks_acked_events() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    let events = station.produce("WO-24001", 5, 1, 0);
    // The station believes 3 were acked, but central (say, restored from a backup) has none.
    let ack = BatchAck {
        quarantined: Vec::new(),
        acked_through: 3,
        chain_head: events[2].hash.clone(),
        server_time: Utc::now(),
    };
    station
        .store
        .record_ack(&mut station.state, &ack, Utc::now())
        .expect("record ack");

    let mut worker = Worker::start(central.url(), token, &station);
    let seen = wait_for(
        &mut station,
        &mut worker.reports,
        "ack of 5",
        acked_through(5),
    )
    .await;
    assert!(
        seen.iter()
            .any(|r| matches!(r, SyncReport::Rewind { expected_seq: 1 })),
        "{seen:?}"
    );
    assert_eq!(stored_events(&db, "L1-S1"), 5);
    worker.stop().await;
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_central_answering_500_gets_the_same_batch_again_until_it_stores_it() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    // Central's storage refuses every insert, as a full or broken disk would: ingest answers 500.
    {
        let conn = rusqlite::Connection::open(&db).expect("open central db");
        conn.execute_batch(
            "CREATE TRIGGER broken_disk BEFORE INSERT ON events
             BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END;",
        )
        .expect("break central storage");
    }
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    station.produce("WO-24002", 4, 3, 1);

    // Straight at the API: a 500 with words, nothing stored.
    let status = reqwest::Client::new()
        .post(format!("{}/api/v1/stations/L1-S1/events", central.url()))
        .bearer_auth(&token)
        .json(&takt::protocol::EventBatch::of(
            takt::store::read_events_after(
                &takt::store::connect(&station.path, true).expect("read"),
                0,
                10,
            )
            .expect("events"),
        ))
        .send()
        .await
        .expect("post")
        .status();
    assert_eq!(status.as_u16(), 500);

    let mut worker = Worker::start(central.url(), token, &station);
    let seen = wait_for(
        &mut station,
        &mut worker.reports,
        "central offline on 500",
        |r| matches!(r, SyncReport::Link(CentralLink::Offline { .. })),
    )
    .await;
    assert!(!seen.iter().any(|r| matches!(r, SyncReport::Acked(_))));
    assert_eq!(station.store.sync_status().expect("status").backlog(), 4);

    // The disk is mended; the retried batch lands exactly once.
    {
        let conn = rusqlite::Connection::open(&db).expect("open central db");
        conn.execute_batch("DROP TRIGGER broken_disk")
            .expect("mend storage");
    }
    wait_for(
        &mut station,
        &mut worker.reports,
        "ack of 4",
        acked_through(4),
    )
    .await;
    assert_eq!(stored_events(&db, "L1-S1"), 4);
    let report = work_order(&reqwest::Client::new(), &central.url(), "WO-24002").await;
    assert_eq!((report.produced, report.rejected), (12, 4));
    worker.stop().await;
    central.shutdown().await;
}

/// A TCP proxy between stations and central that, until healed, refuses some connections, delays
/// others and cuts every connection after a random lifetime, wherever its exchange is (after
/// central may have committed a batch, before the ack arrives).
struct FlakyProxy {
    addr: SocketAddr,
    healed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    faults: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FlakyProxy {
    async fn start(upstream: SocketAddr, seed: u64) -> FlakyProxy {
        use rand::{Rng, SeedableRng};
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind(any_port())
            .await
            .expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let healed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let faults = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (healed_in, faults_in) = (healed.clone(), faults.clone());
        let task = tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            while let Ok((mut inbound, _)) = listener.accept().await {
                let roll: u32 = rng.random_range(0..10);
                let wait = Duration::from_millis(rng.random_range(0..300));
                let cut_after = Duration::from_millis(rng.random_range(10..400));
                let healed = healed_in.load(Ordering::SeqCst);
                let faults = faults_in.clone();
                tokio::spawn(async move {
                    if !healed {
                        match roll {
                            0 | 1 => {
                                faults.fetch_add(1, Ordering::SeqCst);
                                return;
                            }
                            2 | 3 => tokio::time::sleep(wait).await,
                            _ => {}
                        }
                    }
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let pipe = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    if healed {
                        let _ = pipe.await;
                    } else if timeout(cut_after, pipe).await.is_err() {
                        // Cut wherever the exchange was: a kept-alive connection, or a batch
                        // committed at central whose ack is still on its way.
                        faults.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        FlakyProxy {
            addr,
            healed,
            faults,
            task,
        }
    }
}

/// Three stations sync through a network that refuses, delays and cuts connections at random
/// (cuts land after central committed a batch, before its ack got back). After it heals, central's
/// data equals the union of the stations' logs exactly: every event once, in order, same hashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_flaky_network_heals_central_holds_exactly_every_station_log() {
    use std::sync::atomic::Ordering;
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let central = start_central(&db).await;
    let proxy = FlakyProxy::start(central.addr(), 11).await;
    let mut cells = Vec::new();
    for id in ["L1-S1", "L1-S2", "L1-S3"] {
        let token = central::add_station(&db, id).expect("token");
        let station = Station::open(&dir, id);
        let worker = Worker::start(format!("http://{}", proxy.addr), token, &station);
        cells.push((station, worker));
    }
    for _ in 0..16 {
        for (station, worker) in &mut cells {
            let made = station.produce("WO-24001", 15, 1, 0);
            worker
                .appended
                .send_replace(made.last().map_or(0, |e| e.seq));
            while let Ok(report) = worker.reports.try_recv() {
                station.absorb(&report);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let faults = proxy.faults.load(Ordering::SeqCst);
    eprintln!("the proxy refused or cut {faults} connections");
    assert!(
        faults >= 10,
        "the network must really have failed: {faults} faults"
    );
    proxy.healed.store(true, Ordering::SeqCst);
    let central_log = |station: &str| -> Vec<(i64, String)> {
        let conn = rusqlite::Connection::open(&db).expect("central db");
        let mut statement = conn
            .prepare("SELECT seq, hash FROM events WHERE station = ?1 ORDER BY seq")
            .expect("query");
        statement
            .query_map([station], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("rows")
            .collect::<rusqlite::Result<Vec<_>>>()
            .expect("events")
    };
    for (station, worker) in &mut cells {
        // The ack may have come (and been absorbed) while the network was still flaky.
        if station.store.sync_status().expect("status").acked_through < 240 {
            wait_for(
                station,
                &mut worker.reports,
                "every event acked",
                acked_through(240),
            )
            .await;
        }
        let conn = takt::store::connect(&station.path, true).expect("station log");
        let local: Vec<(i64, String)> = takt::store::read_events_after(&conn, 0, u64::MAX)
            .expect("events")
            .into_iter()
            .map(|event| (event.seq as i64, event.hash))
            .collect();
        assert_eq!(local.len(), 240);
        assert_eq!(central_log(station.id.as_str()), local, "{}", station.id);
        assert_eq!(stored_events(&db, station.id.as_str()), 240);
    }
    let report = work_order(&reqwest::Client::new(), &central.url(), "WO-24001").await;
    assert_eq!(
        report.produced,
        3 * 240,
        "each unit counted once across the three stations"
    );
    for (_, worker) in cells {
        worker.stop().await;
    }
    proxy.task.abort();
    central.shutdown().await;
}

/// `takt central` as a child process that can be killed outright (SIGKILL: no shutdown, no flush).
struct CentralProcess {
    child: std::process::Child,
}

impl CentralProcess {
    fn start(addr: SocketAddr, db: &Path) -> CentralProcess {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_takt"))
            .args(["central", "--listen", &addr.to_string(), "--db"])
            .arg(db)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("takt central starts");
        CentralProcess { child }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Central killed again and again while a station pushes (some kills land after a commit and before
/// the ack reached the station): after the last restart every event is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_killed_mid_batch_again_and_again_stores_every_event_once() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let addr = std::net::TcpListener::bind(any_port())
        .and_then(|listener| listener.local_addr())
        .expect("reserve a port");
    let mut station = Station::open(&dir, "L1-S1");
    // A backlog of many batches, so every kill lands while batches are in flight.
    for _ in 0..6 {
        station.produce("WO-24001", 1_200, 1, 0);
    }
    let mut worker = Worker::start(format!("http://{addr}"), token, &station);
    let mut central = CentralProcess::start(addr, &db);
    let mut kills_mid_stream = 0;
    for round in 0..6 {
        tokio::time::sleep(Duration::from_millis(120 + 40 * round)).await;
        while let Ok(report) = worker.reports.try_recv() {
            station.absorb(&report);
        }
        let stored = match central::verify_station_chain(&db, "L1-S1") {
            Ok(VerifyReport::Intact { events, .. }) => events,
            _ => 0,
        };
        if stored < station.store.last_seq() {
            kills_mid_stream += 1;
        }
        central.kill();
        central = CentralProcess::start(addr, &db);
    }
    assert!(
        kills_mid_stream >= 2,
        "{kills_mid_stream} kills landed mid-stream"
    );
    let total = 6 * 1_200;
    if station.store.sync_status().expect("status").acked_through < total {
        wait_for(
            &mut station,
            &mut worker.reports,
            "every event acked",
            acked_through(total),
        )
        .await;
    }
    central.kill();
    assert_eq!(stored_events(&db, "L1-S1"), total, "each event stored once");
    let conn = rusqlite::Connection::open(&db).expect("central db");
    let produced: i64 = conn
        .query_row(
            "SELECT produced FROM work_order_progress WHERE work_order = 'WO-24001' AND station = 'L1-S1'",
            [],
            |row| row.get(0),
        )
        .expect("progress");
    assert_eq!(produced, 7_200, "projections applied once per event");
    worker.stop().await;
}

/// Someone edits an old event in the station's SQLite file (the append-only trigger dropped, one
/// figure changed): the station's own check finds it, central refuses the batch carrying it and
/// keeps what it had, and the station's sync says so and keeps refusing to skip past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_station_log_is_refused_and_alarmed_on_both_sides() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = start_central(&db).await;
    let mut station = Station::open(&dir, "L1-S1");
    station.produce("WO-24001", 5, 2, 0);
    let mut worker = Worker::start(central.url(), token, &station);
    wait_for(
        &mut station,
        &mut worker.reports,
        "5 acked",
        acked_through(5),
    )
    .await;
    let made = station.produce("WO-24001", 5, 2, 0);

    // The tamperer: event 7 now says 20 units instead of 2.
    {
        let conn = rusqlite::Connection::open(&station.path).expect("station db");
        conn.execute_batch("DROP TRIGGER event_log_no_update")
            .expect("drop trigger");
        let changed = conn
            .execute(
                "UPDATE event_log SET body = replace(body, '\"produced\":2', '\"produced\":20')
                 WHERE seq = 7",
                [],
            )
            .expect("tamper");
        assert_eq!(changed, 1);
    }
    match takt::store::verify_chain(&takt::store::connect(&station.path, true).expect("db"))
        .expect("verify")
    {
        VerifyReport::Broken { seq, .. } => assert_eq!(seq, 7, "the station's own check finds it"),
        other => panic!("tampering not found locally: {other:?}"),
    }

    worker.appended.send_replace(made[4].seq);
    let seen = wait_for(&mut station, &mut worker.reports, "the refusal", |report| {
        matches!(report, SyncReport::Rejected { .. })
    })
    .await;
    let Some(SyncReport::Rejected { error }) = seen.last() else {
        panic!("no refusal: {seen:?}");
    };
    assert!(error.contains("does not match its hash"), "{error}");
    assert_eq!(
        stored_events(&db, "L1-S1"),
        5,
        "central keeps only the genuine events"
    );
    // It does not skip past the tampered event: the next try is refused again.
    wait_for(
        &mut station,
        &mut worker.reports,
        "refused again",
        |report| matches!(report, SyncReport::Rejected { .. }),
    )
    .await;
    assert_eq!(stored_events(&db, "L1-S1"), 5);
    assert_eq!(
        station.store.sync_status().expect("status").acked_through,
        5
    );
    worker.stop().await;
    central.shutdown().await;
}

/// A station offline while 100,000 events pile up, then central comes back: everything arrives
/// exactly once, and an event recorded after the reconnect is acknowledged within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_events_backlog_arrives_once_and_live_events_get_through() {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let addr = std::net::TcpListener::bind(any_port())
        .and_then(|listener| listener.local_addr())
        .expect("reserve a port");
    let mut station = Station::open(&dir, "L1-S1");
    let mut worker = Worker::start(format!("http://{addr}"), token, &station);
    for _ in 0..100 {
        station.produce("WO-24001", 1_000, 1, 0);
    }
    assert_eq!(station.store.last_seq(), 100_000);
    let started = Instant::now();
    let central = central::spawn(addr, db.clone()).await.expect("central up");
    let live = station.produce("WO-24001", 1, 1, 0);
    let live_seq = live[0].seq;
    worker.appended.send_replace(live_seq);
    wait_for(
        &mut station,
        &mut worker.reports,
        "the live event acked",
        acked_through(live_seq),
    )
    .await;
    let took = started.elapsed();
    eprintln!("100,000-event backlog and the live event acked in {took:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert_eq!(stored_events(&db, "L1-S1"), 100_001);
    let report = work_order(&reqwest::Client::new(), &central.url(), "WO-24001").await;
    assert_eq!(report.produced, 100_001, "each event applied once");
    worker.stop().await;
    central.shutdown().await;
}

/// Start WO-24001 and make four totes of 10 at a station, then close its database: events 1-5.
fn five_events(dir: &TempDir) -> PathBuf {
    let mut station = Station::open(dir, "L1-S1");
    station.append(vec![EventKind::WorkOrderStarted {
        work_order: WorkOrderId::from("WO-24001"),
    }]);
    station.produce("WO-24001", 4, 10, 0);
    station.path
}

/// `takt audit verify --db DB` with `args` after it: its exit code and stdout.
pub(crate) async fn audit_verify(db: &Path, args: &[&str]) -> (Option<i32>, String) {
    let db = db.display().to_string();
    let mut all = vec!["audit", "verify", "--db", &db];
    all.extend_from_slice(args);
    let out = crate::support::takt_cli(all).await;
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A central with L1-S1 registered, and a copy of L1-S1's five events where `update` changed one.
struct Tampered {
    dir: TempDir,
    db: PathBuf,
    token: String,
    original: PathBuf,
    copy: PathBuf,
}

fn tampered(update: &str) -> Tampered {
    let dir = TempDir::new().expect("temp dir");
    let db = central_db(&dir);
    let token = central::add_station(&db, "L1-S1").expect("token");
    let original = five_events(&dir);
    let copy = crate::support::tampered_copy(&original, "event_log_no_update", update);
    Tampered {
        dir,
        db,
        token,
        original,
        copy,
    }
}

/// The issue's tamper test: one byte of an old event changed in a copy of the station's database.
/// `takt audit verify` names that event, and central refuses to ingest from the copy: nothing of
/// it is stored, the station's cursor does not move, and the refusal is reported in central's words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_station_copy_is_named_by_verify_and_refused_by_central() {
    let Tampered {
        dir: _dir,
        db,
        token,
        original,
        copy,
    } = tampered(
        r#"UPDATE event_log SET body = replace(body, '"produced":10', '"produced":90') WHERE seq = 3"#,
    );

    let (code, stdout) = audit_verify(&copy, &[]).await;
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stdout.starts_with("BROKEN at event 3: event 3: content does not match its hash"),
        "{stdout}"
    );
    let (code, stdout) = audit_verify(&original, &[]).await;
    assert_eq!(code, Some(0), "the original stays intact: {stdout}");

    let central = start_central(&db).await;
    let mut station = Station::at(copy, "L1-S1");
    let worker = {
        let mut worker = Worker::start(central.url(), token, &station);
        let seen = wait_for(&mut station, &mut worker.reports, "a refusal", |report| {
            matches!(report, SyncReport::Rejected { .. })
        })
        .await;
        let Some(SyncReport::Rejected { error }) = seen.last() else {
            unreachable!("wait_for ends on the refusal")
        };
        assert!(
            error.contains("event 3: content does not match its hash"),
            "{error}"
        );
        assert!(
            !seen.iter().any(|r| matches!(r, SyncReport::Acked(_))),
            "{seen:?}"
        );
        worker
    };
    worker.stop().await;
    assert_eq!(stored_events(&db, "L1-S1"), 0, "the batch is refused whole");
    assert_eq!(
        station.store.sync_status().expect("cursor").acked_through,
        0
    );
    let report = work_order(&reqwest::Client::new(), &central.url(), "WO-24001").await;
    assert_eq!(report.produced, 0, "no count of the forged copy counted");
    central.shutdown().await;
}

/// An edit that changes only the spelling of an event (a space, a key moved) leaves its meaning and
/// hash as they were, and still changed the original record: verify names it. What the station
/// sends parses to the genuine event, so central stores it in the writer's own spelling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spelling_only_edit_is_named_by_verify_and_never_reaches_central() {
    let Tampered {
        dir: _dir,
        db,
        token,
        copy,
        ..
    } = tampered(
        r#"UPDATE event_log SET body = replace(body, '"produced":10', '"produced": 10') WHERE seq = 4"#,
    );
    let (code, stdout) = audit_verify(&copy, &[]).await;
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stdout.starts_with("BROKEN at event 4: the stored text of the event was changed"),
        "{stdout}"
    );

    let central = start_central(&db).await;
    let mut station = Station::at(copy, "L1-S1");
    let mut worker = Worker::start(central.url(), token, &station);
    wait_for(
        &mut station,
        &mut worker.reports,
        "ack of 5",
        acked_through(5),
    )
    .await;
    worker.stop().await;
    assert_eq!(stored_events(&db, "L1-S1"), 5);
    let conn = rusqlite::Connection::open(&db).expect("central db");
    let body: String = conn
        .query_row(
            "SELECT body FROM events WHERE station = 'L1-S1' AND seq = 4",
            [],
            |row| row.get(0),
        )
        .expect("event 4");
    assert!(
        body.contains(r#""produced":10"#) && !body.contains(r#""produced": 10"#),
        "{body}"
    );
    central.shutdown().await;
}
