//! Genealogy across the line, against a real central on loopback with its own SQLite file and real
//! station stores that seal and chain their events. The known truth:
//!
//! ```text
//! L1-S1 OP10: supplier castings A (40) -> WIP lots W1, W2 (20 each; A used up)
//! L1-S2 OP20: W1 + supplier pistons B (40) -> WIP lot C (20)
//! L1-S3 OP30: C + box lot B24-0007 (imported) -> serials SN1, SN2, SN3
//! ```

use crate::support::takt_cli;
use chrono::{DateTime, Duration as Minutes, Utc};
use reqwest::StatusCode;
use std::path::PathBuf;
use std::time::Duration;
use takt::central::{self, CentralHandle};
use takt::domain::material::load_lot;
use takt::domain::{
    Actor, Badge, ConsumptionBasis, Entry, Event, EventKind, LotId, LotLabel, LotOrigin, LotStatus,
    MaterialId, NewEvent, OperationId, OutputForm, Quantity, Rejection, State, StationId,
    WorkOrderId,
};
use takt::protocol::{
    ApiError, ChangePage, EventBatch, Genealogy, GenealogyNode, MasterRecord, NodeOrigin,
    TraceDirection,
};
use takt::store::Store;
use tempfile::TempDir;

const A: &str = "C25-0001";
const B: &str = "P25-0002";
const BOX: &str = "B24-0007";
const WO: &str = "WO-24001";

/// Output ids as a station makes them: `{station}-{date}-{seq}`.
fn output_id(station: &str, seq: u64) -> String {
    format!("{station}-250101-{seq:06}")
}

struct Station {
    id: StationId,
    store: Store,
    state: State,
    token: String,
    /// Events sealed but not yet posted.
    unsent: Vec<Event>,
    cursor: u64,
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
            cursor: 0,
        }
    }

    /// Seals and stores events at `at`, as the station core does.
    fn record(&mut self, at: DateTime<Utc>, actor: Actor, kinds: Vec<EventKind>) {
        let events = kinds
            .into_iter()
            .map(|kind| NewEvent {
                at,
                actor: actor.clone(),
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
                plant.url(),
                self.id
            ))
            .bearer_auth(&self.token)
            .json(&EventBatch::of(std::mem::take(&mut self.unsent)))
            .send()
            .await
            .expect("post events");
        assert_eq!(response.status(), StatusCode::OK, "{}", self.id);
    }

    /// Pulls master-data changes since the last pull and applies them like the station core does.
    async fn pull(&mut self, plant: &Plant) -> ChangePage {
        let page: ChangePage = plant
            .client
            .get(format!(
                "{}/api/v1/stations/{}/changes?since={}&limit=1000",
                plant.url(),
                self.id,
                self.cursor
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("get changes")
            .json()
            .await
            .expect("change page");
        assert!(!page.more);
        self.store
            .apply_changes(&mut self.state, &page)
            .expect("apply changes");
        self.cursor = page.cursor;
        page
    }
}

fn lots_in(page: &ChangePage) -> Vec<takt::domain::Lot> {
    page.changes
        .iter()
        .filter_map(|change| match &change.record {
            MasterRecord::Lot(lot) => Some(lot.clone()),
            _ => None,
        })
        .collect()
}

struct Plant {
    dir: TempDir,
    db: PathBuf,
    central: Option<CentralHandle>,
    client: reqwest::Client,
    t0: DateTime<Utc>,
}

impl Plant {
    async fn start() -> Plant {
        let dir = TempDir::new().expect("temp dir");
        let db = dir.path().join("central.db");
        central::seed_demo(&db, Utc::now().date_naive()).expect("seed demo");
        let central = central::spawn(([127, 0, 0, 1], 0).into(), db.clone())
            .await
            .expect("central");
        // Whole milliseconds: events keep no finer time.
        let t0 = DateTime::from_timestamp(Utc::now().timestamp() - 86_400, 0).unwrap_or_default();
        Plant {
            dir,
            db,
            central: Some(central),
            client: reqwest::Client::new(),
            t0,
        }
    }

    fn url(&self) -> String {
        self.central
            .as_ref()
            .map(CentralHandle::url)
            .unwrap_or_default()
    }

    fn at(&self, minutes: i64) -> DateTime<Utc> {
        self.t0 + Minutes::minutes(minutes)
    }

    async fn genealogy(&self, lot: &str, query: &str) -> reqwest::Response {
        self.client
            .get(format!("{}/api/v1/lots/{lot}/genealogy{query}", self.url()))
            .send()
            .await
            .expect("get genealogy")
    }

    async fn trace(&self, lot: &str, query: &str) -> Genealogy {
        let response = self.genealogy(lot, query).await;
        assert_eq!(response.status(), StatusCode::OK, "{lot}{query}");
        response.json().await.expect("genealogy")
    }

    async fn stop(mut self) {
        if let Some(central) = self.central.take() {
            central.shutdown().await;
        }
    }
}

fn operator(badge: &str) -> Actor {
    Actor::Operator(Badge::from(badge))
}

fn loaded(operation: &str, material: &str, lot: &str) -> EventKind {
    EventKind::LotLoaded {
        work_order: WorkOrderId::from(WO),
        operation: OperationId::from(operation),
        material: MaterialId::from(material),
        lot: LotId::from(lot),
        entry: Entry::Scanned,
    }
}

fn consumed(operation: &str, material: &str, lot: &str, units: u64) -> EventKind {
    EventKind::LotConsumed {
        work_order: WorkOrderId::from(WO),
        operation: OperationId::from(operation),
        material: MaterialId::from(material),
        lot: LotId::from(lot),
        quantity: Quantity::units(units),
        basis: ConsumptionBasis::BomRate,
    }
}

fn registered(lot: &str, material: &str, units: u64) -> EventKind {
    EventKind::LotRegistered {
        lot: LotId::from(lot),
        material: MaterialId::from(material),
        quantity: Quantity::units(units),
        expiry: None,
        gtin: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn output(
    operation: &str,
    output: &str,
    form: OutputForm,
    material: &str,
    units: u64,
    inputs: &[&str],
    operator: &str,
    next: Option<&str>,
) -> EventKind {
    EventKind::OutputCreated {
        work_order: WorkOrderId::from(WO),
        operation: OperationId::from(operation),
        output: LotId::from(output),
        form,
        material: MaterialId::from(material),
        quantity: Quantity::units(units),
        inputs: inputs.iter().map(|id| LotId::from(*id)).collect(),
        operator: Some(Badge::from(operator)),
        next_operation: next.map(OperationId::from),
        machine_state: None,
    }
}

/// The line of the module doc, run through central; returns the three stations.
async fn run_line(plant: &Plant) -> (Station, Station, Station) {
    let mut s1 = Station::open(plant, "L1-S1");
    let mut s2 = Station::open(plant, "L1-S2");
    let mut s3 = Station::open(plant, "L1-S3");
    for station in [&mut s1, &mut s2, &mut s3] {
        station.pull(plant).await;
    }
    let w1 = output_id("L1-S1", 1);
    let w2 = output_id("L1-S1", 2);
    let c = output_id("L1-S2", 1);

    s1.record(
        plant.at(0),
        operator("EMP-1001"),
        vec![
            EventKind::WorkOrderStarted {
                work_order: WorkOrderId::from(WO),
            },
            registered(A, "CAST-200", 40),
            loaded("OP10", "CAST-200", A),
        ],
    );
    s1.record(
        plant.at(10),
        Actor::Plc,
        vec![
            consumed("OP10", "CAST-200", A, 20),
            output(
                "OP10",
                &w1,
                OutputForm::Lot,
                "BC-200-M",
                20,
                &[A],
                "EMP-1001",
                Some("OP20"),
            ),
        ],
    );
    s1.record(
        plant.at(20),
        Actor::Plc,
        vec![
            consumed("OP10", "CAST-200", A, 20),
            output(
                "OP10",
                &w2,
                OutputForm::Lot,
                "BC-200-M",
                20,
                &[A],
                "EMP-1001",
                Some("OP20"),
            ),
        ],
    );
    s1.push(plant).await;

    s2.record(
        plant.at(25),
        operator("EMP-1002"),
        vec![
            EventKind::WorkOrderStarted {
                work_order: WorkOrderId::from(WO),
            },
            loaded("OP20", "BC-200-M", &w1),
            registered(B, "PST-54", 40),
            loaded("OP20", "PST-54", B),
        ],
    );
    s2.record(
        plant.at(35),
        Actor::Plc,
        vec![
            consumed("OP20", "BC-200-M", &w1, 20),
            consumed("OP20", "PST-54", B, 20),
            output(
                "OP20",
                &c,
                OutputForm::Lot,
                "BC-200-A",
                20,
                &[B, &w1],
                "EMP-1002",
                Some("OP30"),
            ),
        ],
    );
    s2.push(plant).await;

    s3.record(
        plant.at(50),
        operator("EMP-1001"),
        vec![
            EventKind::WorkOrderStarted {
                work_order: WorkOrderId::from(WO),
            },
            loaded("OP30", "BC-200-A", &c),
            loaded("OP30", "BOX-2", BOX),
        ],
    );
    for n in 1..=3u64 {
        s3.record(
            plant.at(50 + n as i64),
            Actor::Plc,
            vec![
                consumed("OP30", "BC-200-A", &c, 1),
                consumed("OP30", "BOX-2", BOX, 1),
                output(
                    "OP30",
                    &output_id("L1-S3", n),
                    OutputForm::Serial,
                    "BC-200",
                    1,
                    &[BOX, &c],
                    "EMP-1001",
                    None,
                ),
            ],
        );
    }
    s3.push(plant).await;
    (s1, s2, s3)
}

/// (lot, level) of every node in depth-first order, with `*` for a repeated or cyclic leaf.
fn shape(node: &GenealogyNode, level: usize, out: &mut Vec<(String, usize)>) {
    let mark = if node.repeated || node.cycle { "*" } else { "" };
    out.push((format!("{}{mark}", node.lot), level));
    for child in &node.children {
        shape(child, level + 1, out);
    }
}

fn find<'a>(node: &'a GenealogyNode, lot: &str) -> Option<&'a GenealogyNode> {
    if node.lot.as_str() == lot && !node.repeated && !node.cycle {
        return Some(node);
    }
    node.children.iter().find_map(|child| find(child, lot))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backward_and_forward_genealogy_match_the_known_truth() {
    let plant = Plant::start().await;
    run_line(&plant).await;
    let (w1, w2, c) = (
        output_id("L1-S1", 1),
        output_id("L1-S1", 2),
        output_id("L1-S2", 1),
    );
    let sn1 = output_id("L1-S3", 1);

    let back = plant.trace(&sn1, "").await;
    assert_eq!(back.direction, TraceDirection::Backward);
    let mut got = Vec::new();
    shape(&back.root, 0, &mut got);
    let expected: Vec<(String, usize)> = [
        (sn1.as_str(), 0),
        (BOX, 1),
        (c.as_str(), 1),
        (w1.as_str(), 2),
        (A, 3),
        (B, 2),
    ]
    .iter()
    .map(|(lot, level)| ((*lot).to_owned(), *level))
    .collect();
    assert_eq!(got, expected);
    assert_eq!((back.nodes, back.depth), (6, 3));
    assert!(!back.truncated && back.cycles.is_empty() && back.finished.is_empty());

    // Each node carries what central knows of it.
    let root = &back.root;
    assert_eq!(root.form, OutputForm::Serial);
    assert_eq!(root.material_name.as_deref(), Some("front caliper"));
    assert_eq!(root.operator, Some(Badge::from("EMP-1001")));
    assert_eq!(
        root.origin,
        NodeOrigin::Produced {
            station: StationId::from("L1-S3"),
            work_order: WorkOrderId::from(WO),
            operation: OperationId::from("OP30"),
            at: plant.at(51),
        }
    );
    assert_eq!(root.machine_state, None);
    assert!(root.quality.is_empty(), "nothing was inspected or held");
    let c_node = find(root, &c).expect("C in the tree");
    let waited = c_node.waiting.as_ref().expect("C waited for OP30");
    assert_eq!(
        (
            waited.operation.as_str(),
            waited.station.as_str(),
            waited.seconds
        ),
        ("OP30", "L1-S3", 15 * 60)
    );
    assert_eq!(c_node.quantity, Some(Quantity::units(20)));
    let w1_node = find(root, &w1).expect("W1 in the tree");
    assert_eq!(w1_node.waiting.as_ref().map(|w| w.seconds), Some(15 * 60));
    assert_eq!(
        w1_node.material_name.as_deref(),
        Some("BC-200 machined (after OP10)")
    );
    let a_node = find(root, A).expect("A in the tree");
    assert_eq!(
        a_node.origin,
        NodeOrigin::Supplier {
            first_seen_station: Some(StationId::from("L1-S1")),
            first_seen_at: Some(plant.at(0)),
        }
    );
    assert_eq!(a_node.operator, Some(Badge::from("EMP-1001")));
    assert_eq!(a_node.status, Some(LotStatus::Consumed), "40 of 40 drawn");
    assert_eq!(a_node.waiting, None);
    let box_node = find(root, BOX).expect("box lot");
    assert_eq!(
        box_node.origin,
        NodeOrigin::Supplier {
            first_seen_station: None,
            first_seen_at: None
        }
    );
    let by_op: Vec<_> = back
        .waiting_by_operation
        .iter()
        .map(|w| (w.operation.as_str(), w.lots, w.max_seconds))
        .collect();
    assert_eq!(by_op, [("OP20", 1, 900), ("OP30", 1, 900)]);

    let forward = plant.trace(A, "?direction=forward").await;
    let finished: Vec<&str> = forward.finished.iter().map(|u| u.serial.as_str()).collect();
    let serials: Vec<String> = (1..=3).map(|n| output_id("L1-S3", n)).collect();
    assert_eq!(finished, serials);
    assert_eq!((forward.nodes, forward.depth), (7, 3));
    let mut got = Vec::new();
    shape(&forward.root, 0, &mut got);
    let lots: Vec<&str> = got.iter().map(|(lot, _)| lot.as_str()).collect();
    assert_eq!(
        lots,
        [A, &w1, &c, &serials[0], &serials[1], &serials[2], &w2]
    );
    assert_eq!(forward.finished[0].station, Some(StationId::from("L1-S3")));

    // The depth limit is honoured and said.
    let shallow = plant.trace(&sn1, "?direction=backward&depth=1").await;
    assert_eq!(
        (shallow.nodes, shallow.depth, shallow.truncated),
        (3, 1, true)
    );
    assert!(find(&shallow.root, &c).is_some_and(|node| node.truncated));

    // Unknown lots and bad queries are answered in words.
    let response = plant.genealogy("NO-SUCH-LOT", "").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let error: ApiError = response.json().await.expect("api error");
    assert!(error.error.contains("NO-SUCH-LOT"), "{}", error.error);
    let response = plant.genealogy(A, "?direction=sideways").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let _: ApiError = response.json().await.expect("api error");
    plant.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_lots_reach_the_next_station_and_central_holds_reach_every_station() {
    let plant = Plant::start().await;
    let (mut s1, mut s2, mut s3) = run_line(&plant).await;
    let (w1, w2, c) = (
        output_id("L1-S1", 1),
        output_id("L1-S1", 2),
        output_id("L1-S2", 1),
    );

    // The WIP lots made at L1-S1 go to L1-S2, which runs OP20; finished serials go nowhere.
    let page = s2.pull(&plant).await;
    let learned: Vec<String> = lots_in(&page).iter().map(|l| l.id.to_string()).collect();
    assert!(
        learned.contains(&w1) && learned.contains(&w2),
        "{learned:?}"
    );
    let record = s2
        .state
        .lot(&LotId::new(w2.clone()))
        .expect("W2 known at S2");
    assert_eq!(record.status, LotStatus::Released);
    assert_eq!(record.material, MaterialId::from("BC-200-M"));
    assert!(matches!(
        &record.origin,
        LotOrigin::Produced { station, operation, at, .. }
            if station.as_str() == "L1-S1" && operation.as_str() == "OP10" && *at == plant.at(20)
    ));
    assert!(s2.state.master.lots.contains_key(&LotId::new(w1.clone())));
    let page = s3.pull(&plant).await;
    let learned: Vec<String> = lots_in(&page).iter().map(|l| l.id.to_string()).collect();
    assert!(learned.contains(&c), "{learned:?}");
    assert!(
        !learned.contains(&w1),
        "OP10 output is not OP30's: {learned:?}"
    );
    // S3's own finished serials come back to S3 alone: a quality hold on them stops its machine.
    assert!(
        learned.iter().any(|id| id.starts_with("L1-S3-")),
        "{learned:?}"
    );
    let db = rusqlite::Connection::open(&plant.db).expect("open central db");
    let (own, elsewhere): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*) FILTER (WHERE station = 'L1-S3'),
                    COUNT(*) FILTER (WHERE station <> 'L1-S3')
             FROM lot_dispatch WHERE lot LIKE 'L1-S3-%'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("dispatch rows");
    drop(db);
    assert_eq!(
        (own, elsewhere),
        (3, 0),
        "finished units go to no other station"
    );
    // Supplier lots first scanned somewhere go everywhere; A is used up (40 of 40 drawn).
    let page = s1.pull(&plant).await;
    let a = lots_in(&page)
        .into_iter()
        .find(|lot| lot.id.as_str() == A)
        .expect("A sent to S1");
    assert_eq!(a.status, LotStatus::Consumed);
    assert!(lots_in(&page).iter().any(|lot| lot.id.as_str() == B));
    // Nothing new: no record is sent twice.
    assert!(s1.pull(&plant).await.changes.is_empty());

    // Quality holds W2 through the CLI while central runs.
    let hold = takt_cli(&[
        "central",
        "lot",
        "hold",
        &w2,
        "--reason",
        "bore out of tolerance",
        "--db",
        &plant.db.display().to_string(),
    ])
    .await;
    assert!(hold.status.success(), "{}", text(&hold.stderr));
    assert!(
        text(&hold.stdout).contains("is on hold"),
        "{}",
        text(&hold.stdout)
    );
    let page = s2.pull(&plant).await;
    let held = lots_in(&page);
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        (held[0].status, held[0].status_reason.as_deref()),
        (LotStatus::OnHold, Some("bore out of tolerance"))
    );
    // The station now refuses it at once.
    let refused = load_lot(
        &s2.state,
        LotLabel {
            lot: LotId::new(w2.clone()),
            gtin: None,
            material: Some(MaterialId::from("BC-200-M")),
            quantity: None,
            expiry: None,
            produced: None,
        },
        Entry::Scanned,
        operator("EMP-1002"),
        plant.at(60),
    );
    assert!(
        matches!(
            refused,
            Err(Rejection::LotBlocked {
                status: LotStatus::OnHold,
                ..
            })
        ),
        "{refused:?}"
    );
    // A hold repeated changes nothing.
    let again = takt_cli(&[
        "central",
        "lot",
        "hold",
        &w2,
        "--reason",
        "bore out of tolerance",
        "--db",
        &plant.db.display().to_string(),
    ])
    .await;
    assert!(text(&again.stdout).contains("nothing changed"));

    // Late facts never lift a hold: W2 drawn in full (reported late), and B re-registered elsewhere.
    central::set_lot_hold(&plant.db, B, Some("supplier recall")).expect("hold B");
    s2.record(
        plant.at(61),
        Actor::Plc,
        vec![
            loaded("OP20", "BC-200-M", &w2),
            consumed("OP20", "BC-200-M", &w2, 20),
        ],
    );
    s2.push(&plant).await;
    s3.record(
        plant.at(62),
        operator("EMP-1001"),
        vec![registered(B, "PST-54", 999)],
    );
    s3.push(&plant).await;
    let db = central::Db::open(&plant.db).expect("open central db");
    let w2_now = db.lot(&LotId::new(w2.clone())).expect("read").expect("W2");
    assert_eq!(w2_now.status, LotStatus::OnHold);
    let b_now = db.lot(&LotId::from(B)).expect("read").expect("B");
    assert_eq!(
        (b_now.status, b_now.quantity),
        (LotStatus::OnHold, Quantity::units(40))
    );
    drop(db);

    // Released, W2 is used up (all 20 drawn); the station learns that too.
    let release = takt_cli(&[
        "central",
        "lot",
        "release",
        &w2,
        "--db",
        &plant.db.display().to_string(),
    ])
    .await;
    assert!(release.status.success(), "{}", text(&release.stderr));
    assert!(
        text(&release.stdout).contains("used up"),
        "{}",
        text(&release.stdout)
    );
    s2.pull(&plant).await;
    assert_eq!(
        s2.state.lot(&LotId::new(w2.clone())).map(|lot| lot.status),
        Some(LotStatus::Consumed)
    );
    let unknown = takt_cli(&[
        "central",
        "lot",
        "hold",
        "NO-SUCH-LOT",
        "--reason",
        "x",
        "--db",
        &plant.db.display().to_string(),
    ])
    .await;
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("does not know lot NO-SUCH-LOT"));
    plant.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_in_a_forged_log_ends_and_is_reported() {
    let plant = Plant::start().await;
    let mut forger = Station::open(&plant, "L9-S9");
    // X made from Y, Y from X, and Z from itself and X: impossible, as only a forged log says.
    let made = |id: &str, inputs: &[&str]| {
        output(
            "OP99",
            id,
            OutputForm::Lot,
            "CAST-200",
            1,
            inputs,
            "EMP-1001",
            None,
        )
    };
    forger.record(
        plant.at(0),
        Actor::Plc,
        vec![made("X", &["Y"]), made("Y", &["X"]), made("Z", &["Z", "X"])],
    );
    forger.push(&plant).await;

    let started = std::time::Instant::now();
    let back = tokio::time::timeout(Duration::from_secs(10), plant.trace("X", ""))
        .await
        .expect("backward trace of a cycle ends");
    assert_eq!(back.nodes, 2);
    assert!(back.depth <= takt::protocol::MAX_GENEALOGY_DEPTH);
    assert_eq!(back.cycles.len(), 1, "{:?}", back.cycles);
    assert!(back.root.children[0].children[0].cycle);

    let forward = tokio::time::timeout(
        Duration::from_secs(10),
        plant.trace("X", "?direction=forward"),
    )
    .await
    .expect("forward trace of a cycle ends");
    assert_eq!(forward.nodes, 3);
    let cycles: Vec<(String, String)> = forward
        .cycles
        .iter()
        .map(|link| (link.from.to_string(), link.to.to_string()))
        .collect();
    assert!(cycles.contains(&("Y".into(), "X".into())), "{cycles:?}");
    assert!(cycles.contains(&("Z".into(), "Z".into())), "{cycles:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    plant.stop().await;
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takt_trace_prints_the_tree_and_the_recall_list() {
    let plant = Plant::start().await;
    run_line(&plant).await;
    let url = plant.url();
    let sn1 = output_id("L1-S3", 1);

    let out = takt_cli(&["trace", &sn1, "--central", &url]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(&format!("Backward genealogy of {sn1}")),
        "{stdout}"
    );
    assert!(lines[0].contains("6 lots, 3 levels"), "{stdout}");
    assert!(
        lines[1].starts_with(&format!("{sn1}  serial  BC-200 \"front caliper\"")),
        "{stdout}"
    );
    assert!(
        lines[1].contains("made at L1-S3 OP30 for WO-24001"),
        "{stdout}"
    );
    let line_of = |lot: &str| {
        lines
            .iter()
            .find(|line| line.trim_start().starts_with(lot))
            .copied()
            .unwrap_or_default()
    };
    let a = line_of(A);
    assert!(
        a.starts_with(&format!(
            "      {A}  CAST-200 \"caliper casting 54\"  40 pc"
        )),
        "{stdout}"
    );
    assert!(
        a.contains("first scanned at L1-S1") && a.contains("by EMP-1001"),
        "{a}"
    );
    assert!(a.contains("[used up]"), "{a}");
    let c = line_of(&output_id("L1-S2", 1));
    assert!(c.starts_with("  L1-S2-"), "{stdout}");
    assert!(c.contains("waited 15m 00s for OP30 at L1-S3"), "{c}");
    assert!(
        stdout.contains("Waiting before each operation:"),
        "{stdout}"
    );

    let out = takt_cli(&["trace", A, "--forward", "--central", &url]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("Finished units containing {A}: 3")),
        "{stdout}"
    );
    let recall: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.starts_with("Finished units"))
        .skip(1)
        .map(|line| line.split_whitespace().next().unwrap_or_default())
        .collect();
    let serials: Vec<String> = (1..=3).map(|n| output_id("L1-S3", n)).collect();
    assert_eq!(recall, serials);

    let out = takt_cli(&["trace", A, "--forward", "--json", "--central", &url]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let parsed: Genealogy = serde_json::from_slice(&out.stdout).expect("--json parses");
    assert_eq!(parsed.finished.len(), 3);
    assert_eq!(parsed.direction, TraceDirection::Forward);

    let out = takt_cli(&["trace", "NO-SUCH-LOT", "--central", &url]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("knows no lot or serial \"NO-SUCH-LOT\""),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    // Nothing listens on a port just freed.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port");
    let out = takt_cli(&[
        "trace",
        A,
        "--central",
        &format!("http://{free}"),
        "--timeout",
        "5",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot reach central at http://{free}")),
        "{stderr}"
    );
    let out = takt_cli(&["trace", A, "--central", "central.plant"]).await;
    assert!(
        text(&out.stderr).contains("is not a central address"),
        "{}",
        text(&out.stderr)
    );
    plant.stop().await;
}
