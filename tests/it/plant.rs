//! The plant API against a real central on loopback, fed through the real ingest API with events
//! sealed into real station stores: the line overview (`/api/v1/lines/{line}/overview`) and the
//! raw events of a station, paged (`/api/v1/events`).

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use std::path::PathBuf;
use takt::central::{self, CentralHandle, EventPage, LineOverview};
use takt::domain::machine::MachineCategory;
use takt::domain::part_record::PartResult;
use takt::domain::{
    Actor, Badge, Event, EventKind, LotId, MaterialId, NewEvent, OperationId, OutputForm, Quantity,
    State, StationId, WorkOrderId,
};
use takt::protocol::{ApiError, EventBatch};
use takt::store::Store;
use tempfile::TempDir;

struct Plant {
    dir: TempDir,
    db: PathBuf,
    central: CentralHandle,
    client: reqwest::Client,
}

impl Plant {
    async fn start() -> Plant {
        let dir = TempDir::new().expect("temp dir");
        let db = dir.path().join("central.db");
        central::seed_demo(&db, Utc::now().date_naive()).expect("seed demo");
        let central = central::spawn(([127, 0, 0, 1], 0).into(), db.clone())
            .await
            .expect("central");
        Plant {
            dir,
            db,
            central,
            client: reqwest::Client::new(),
        }
    }

    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path_and_query}", self.central.url()))
            .send()
            .await
            .expect("get")
    }

    async fn refused(&self, path_and_query: &str) -> (StatusCode, String) {
        let response = self.get(path_and_query).await;
        let status = response.status();
        let error: ApiError = response.json().await.expect("error body");
        (status, error.error)
    }

    async fn overview(&self, line: &str) -> LineOverview {
        let response = self.get(&format!("/api/v1/lines/{line}/overview")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("overview")
    }

    async fn events(&self, query: &str) -> EventPage {
        let response = self.get(&format!("/api/v1/events?{query}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        response.json().await.expect("event page")
    }
}

/// A station's real store: events sealed into its hash chain, posted with its token.
struct Station {
    id: StationId,
    store: Store,
    state: State,
    token: String,
    unsent: Vec<Event>,
}

impl Station {
    fn open(plant: &Plant, id: &str) -> Station {
        let token = central::add_station(&plant.db, id).expect("station token");
        let id = StationId::from(id);
        let store = Store::open(&plant.dir.path().join(format!("{id}.db")), &id).expect("store");
        let state = store.load_state().expect("state");
        Station {
            id,
            store,
            state,
            token,
            unsent: Vec::new(),
        }
    }

    fn record(&mut self, at: DateTime<Utc>, kinds: Vec<EventKind>) {
        let events = kinds
            .into_iter()
            .map(|kind| NewEvent {
                at,
                actor: Actor::Operator(Badge::from("EMP-1001")),
                kind,
            })
            .collect();
        let sealed = self.store.append(&mut self.state, events).expect("append");
        self.unsent.extend(sealed);
    }

    async fn push(&mut self, plant: &Plant) {
        let response = plant
            .client
            .post(format!(
                "{}/api/v1/stations/{}/events",
                plant.central.url(),
                self.id
            ))
            .bearer_auth(&self.token)
            .json(&EventBatch::of(std::mem::take(&mut self.unsent)))
            .send()
            .await
            .expect("post events");
        assert_eq!(response.status(), StatusCode::OK, "{}", self.id);
    }
}

fn machine(packml: u16, stop_reason: u16, category: MachineCategory) -> EventKind {
    EventKind::MachineStateChanged {
        packml,
        stop_reason,
        blocked: false,
        starved: false,
        category,
    }
}

fn wo(id: &str) -> WorkOrderId {
    WorkOrderId::from(id)
}

fn output(id: &str, units: u64) -> EventKind {
    EventKind::OutputCreated {
        work_order: wo("WO-24001"),
        operation: OperationId::from("OP10"),
        output: LotId::from(id),
        form: OutputForm::Lot,
        material: MaterialId::from("BC-200-M"),
        quantity: Quantity::units(units),
        inputs: vec![LotId::from("C24-1107")],
        operator: None,
        next_operation: Some(OperationId::from("OP20")),
        machine_state: Some("running".into()),
    }
}

fn consumed(lot: &str, units: u64) -> EventKind {
    EventKind::LotConsumed {
        work_order: wo("WO-24001"),
        operation: OperationId::from("OP20"),
        material: MaterialId::from("BC-200-M"),
        lot: LotId::from(lot),
        quantity: Quantity::units(units),
        basis: takt::domain::ConsumptionBasis::BomRate,
    }
}

/// An hour before the test run began, to the second (what central stores, to the millisecond):
/// taken once, so times stay put however long the test takes.
fn base() -> DateTime<Utc> {
    static BASE: std::sync::OnceLock<DateTime<Utc>> = std::sync::OnceLock::new();
    *BASE.get_or_init(|| {
        DateTime::from_timestamp((Utc::now() - Duration::hours(1)).timestamp(), 0).expect("time")
    })
}

fn at(minute: i64) -> DateTime<Utc> {
    base() + Duration::minutes(minute)
}

/// L1-S1 machines WO-24001 (after WO-24002 was paused and WO-24003 finished there), makes two
/// totes for OP20 and has just faulted; L1-S2 paused its order and drew from the first tote and
/// all of the second. L1-S3 has sent nothing.
async fn a_running_line(plant: &Plant) -> (Station, Station) {
    let mut s1 = Station::open(plant, "L1-S1");
    s1.record(at(0), vec![machine(6, 0, MachineCategory::Running)]);
    s1.record(
        at(1),
        vec![EventKind::WorkOrderStarted {
            work_order: wo("WO-24003"),
        }],
    );
    s1.record(
        at(2),
        vec![EventKind::WorkOrderCompleted {
            work_order: wo("WO-24003"),
            produced: 0,
            rejected: 0,
        }],
    );
    s1.record(
        at(3),
        vec![
            EventKind::WorkOrderStarted {
                work_order: wo("WO-24002"),
            },
            EventKind::WorkOrderPaused {
                work_order: wo("WO-24002"),
            },
        ],
    );
    s1.record(
        at(5),
        vec![EventKind::WorkOrderStarted {
            work_order: wo("WO-24001"),
        }],
    );
    s1.record(
        at(10),
        vec![
            EventKind::UnitsProduced {
                work_order: Some(wo("WO-24001")),
                produced: 42,
                rejected: 2,
                plc_epoch: 1,
                processed_total: 42,
                defective_total: 2,
            },
            output("L1-S1-TOTE-1", 20),
        ],
    );
    s1.record(at(12), vec![output("L1-S1-TOTE-2", 20)]);
    s1.record(
        at(13),
        vec![EventKind::PartRecorded {
            record_seq: 7,
            plc_epoch: 1,
            result: PartResult::Good,
            reject_reason: 0,
            cycle_ms: 4_700,
            serial: "S-7".into(),
            work_order: Some(wo("WO-24001")),
        }],
    );
    s1.record(
        at(20),
        vec![machine(2, 3, MachineCategory::UnplannedDowntime)],
    );
    s1.push(plant).await;

    let mut s2 = Station::open(plant, "L1-S2");
    s2.record(at(4), vec![machine(6, 0, MachineCategory::Running)]);
    s2.record(
        at(11),
        vec![EventKind::WorkOrderStarted {
            work_order: wo("WO-24001"),
        }],
    );
    s2.record(at(14), vec![consumed("L1-S1-TOTE-1", 5)]);
    s2.record(at(15), vec![consumed("L1-S1-TOTE-2", 20)]);
    s2.record(
        at(16),
        vec![
            EventKind::WorkOrderPaused {
                work_order: wo("WO-24001"),
            },
            machine(4, 0, MachineCategory::Idle),
        ],
    );
    s2.push(plant).await;
    (s1, s2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_line_overview_shows_each_station_now() {
    let plant = Plant::start().await;
    let _stations = a_running_line(&plant).await;
    let overview = plant.overview("L1").await;
    assert_eq!(overview.line, "L1");
    assert_eq!(overview.name.as_deref(), Some("Caliper line 1"));
    let ids: Vec<&str> = overview
        .stations
        .iter()
        .map(|s| s.station.as_str())
        .collect();
    assert_eq!(ids, ["L1-S1", "L1-S2", "L1-S3"]);
    let [s1, s2, s3] = &overview.stations[..] else {
        panic!("three stations: {overview:#?}");
    };

    let machine = s1.machine.as_ref().expect("S1 machine state");
    assert_eq!(
        (
            machine.packml,
            machine.state.as_str(),
            machine.category,
            machine.stop_reason,
            machine.since,
            machine.seq
        ),
        (
            2,
            "stopped",
            MachineCategory::UnplannedDowntime,
            3,
            at(20),
            11
        )
    );
    let order = s1.work_order.as_ref().expect("S1 runs WO-24001");
    assert_eq!(order.id, "WO-24001");
    assert_eq!(order.since, at(5));
    assert_eq!(order.product.as_deref(), Some("BC-200"));
    assert_eq!(order.quantity, Some(120));
    assert_eq!((order.produced, order.rejected, order.good), (42, 2, 40));
    // Four orders dispatched to every station; WO-24003 is completed at S1.
    assert_eq!(s1.queue, 3);
    assert_eq!(s1.wip.lots, 0, "S1's own totes are not waiting at S1");
    let cycle = s1.last_cycle.as_ref().expect("S1's last part");
    assert_eq!(
        (cycle.cycle_ms, cycle.at, cycle.ideal_cycle_ms),
        (4_700, at(13), Some(4_500))
    );
    assert_eq!(s1.link.acked_seq, 11);
    assert_eq!(s1.link.last_sync, s1.link.last_heard);
    let age = s1.link.age_seconds.expect("S1 was heard from");
    assert!((0.0..60.0).contains(&age), "{age}");

    let machine = s2.machine.as_ref().expect("S2 machine state");
    assert_eq!(
        (
            machine.packml,
            machine.state.as_str(),
            machine.category,
            machine.since
        ),
        (4, "idle", MachineCategory::Idle, at(16))
    );
    assert_eq!(s2.work_order, None, "S2 paused its order");
    assert_eq!(s2.queue, 4);
    // TOTE-1 has 15 of 20 left; TOTE-2 is used up.
    assert_eq!(s2.wip.lots, 1);
    assert_eq!(s2.wip.quantity, Quantity::units(15));
    assert_eq!(s2.wip.oldest, Some(at(10)));
    assert_eq!(s2.last_cycle, None);
    assert_eq!(s2.link.acked_seq, 6);

    assert_eq!(s3.machine, None);
    assert_eq!(s3.work_order, None);
    assert_eq!(s3.queue, 4);
    assert_eq!(s3.wip.lots, 0);
    assert_eq!(s3.link.last_heard, None);
    assert_eq!(s3.link.last_sync, None);
    assert_eq!(s3.link.acked_seq, 0);

    let (status, error) = plant.refused("/api/v1/lines/L9/overview").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert!(error.contains("L9"), "{error}");
    plant.central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_come_in_seq_order_in_pages_each_exactly_once() {
    let plant = Plant::start().await;
    let mut s1 = Station::open(&plant, "L1-S1");
    for minute in 0..25 {
        let category = if minute % 2 == 0 {
            MachineCategory::Running
        } else {
            MachineCategory::Idle
        };
        let packml = if minute % 2 == 0 { 6 } else { 4 };
        s1.record(
            at(minute),
            vec![
                machine(packml, 0, category),
                EventKind::AndonCalled {
                    call: takt::domain::andon::AndonKind::Material,
                },
            ],
        );
    }
    s1.push(&plant).await;

    // Every event, 7 at a time.
    let mut seqs = Vec::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let page = plant
            .events(&format!("station=L1-S1&limit=7&after_seq={after}"))
            .await;
        pages += 1;
        assert!(page.events.len() <= 7);
        seqs.extend(page.events.iter().map(|e| e.seq));
        match page.next_after_seq {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(seqs, (1..=50).collect::<Vec<u64>>());
    assert_eq!(pages, 8);

    // One kind inside a window, 4 at a time: minutes 5..15 hold ten state changes.
    let from = at(5).to_rfc3339().replace('+', "%2B");
    let to = at(15).to_rfc3339().replace('+', "%2B");
    let mut seqs = Vec::new();
    let mut after = 0;
    loop {
        let page = plant
            .events(&format!(
                "station=L1-S1&kind=machine_state_changed&from={from}&to={to}&limit=4&after_seq={after}"
            ))
            .await;
        for event in &page.events {
            assert!(matches!(event.kind, EventKind::MachineStateChanged { .. }));
            assert!(event.at >= at(5) && event.at < at(15), "{event:?}");
        }
        seqs.extend(page.events.iter().map(|e| e.seq));
        match page.next_after_seq {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(seqs, (11..=29).step_by(2).collect::<Vec<u64>>());

    // A window alone, and a window with nothing in it.
    let page = plant
        .events(&format!("station=L1-S1&from={from}&to={to}&limit=1000"))
        .await;
    assert_eq!(
        page.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (11..=30).collect::<Vec<u64>>()
    );
    assert_eq!(page.next_after_seq, None);
    let later = (Utc::now() + Duration::hours(1))
        .to_rfc3339()
        .replace('+', "%2B");
    let page = plant.events(&format!("station=L1-S1&from={later}")).await;
    assert!(page.events.is_empty());
    // A registered station that has sent nothing has no events; that is not an error.
    let page = plant.events("station=L1-S3").await;
    assert!(page.events.is_empty());

    for bad in [
        "",
        "station=",
        "station=L1-S1&limit=0",
        "station=L1-S1&limit=1001",
        "station=L1-S1&after_seq=-1",
        "station=L1-S1&from=yesterday",
        "station=L1-S1&kind=machine_state",
        "station=L1-S1&colour=red",
        &format!("station=L1-S1&from={to}&to={from}"),
    ] {
        let (status, error) = plant.refused(&format!("/api/v1/events?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {error}");
    }
    let (status, error) = plant.refused("/api/v1/events?station=L9-S9").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
    assert!(error.contains("L9-S9"), "{error}");
    plant.central.shutdown().await;
}
