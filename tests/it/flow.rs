//! Material flow along the demo line on real components: central, three station cores on their own
//! SQLite files, three PLC simulators. Raw lots are consumed at L1-S1, its tote at L1-S2 with pistons,
//! seals and grease, the assembled tote at L1-S3 into finished serials; then the genealogy is compared
//! with the known truth.

use crate::support::{CASTING_C24_1107, wait_view};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use takt::clock::SystemClock;
use takt::domain::{EventKind, OutputForm, PackMlState, StationId};
use takt::plc::PollerConfig;
use takt::protocol::{Genealogy, GenealogyNode, NodeOrigin};
use takt::sim::{SimConfig, SimHandle};
use takt::station::view::CentralView;
use takt::station::{CoreInput, Station, StationSetup};
use takt::store::{connect, read_events_after};
use takt::sync::SyncConfig;

pub struct LineStation {
    pub station: Station,
    pub sim: SimHandle,
    pub db: PathBuf,
}

impl LineStation {
    pub async fn scan(&self, text: &str) {
        self.station
            .send(CoreInput::Scan(text.into()))
            .await
            .expect("core running");
    }

    /// Runs the selected order until `units` good units are made, then pauses, waits for the machine
    /// to stop and completes the order here.
    pub async fn run_and_complete(&mut self, units: u64) {
        self.scan("@START").await;
        wait_view(&mut self.station.view, "units made", |v| {
            v.active.as_ref().is_some_and(|a| a.good >= units)
        })
        .await;
        self.scan("@PAUSE").await;
        wait_view(&mut self.station.view, "machine idle", |v| {
            !v.plc.permit && v.plc.state == Some(PackMlState::Idle)
        })
        .await;
        // One more poll after Idle, so the last cycle's count is in.
        tokio::time::sleep(Duration::from_millis(150)).await;
        self.scan("@COMPLETE").await;
        wait_view(&mut self.station.view, "order complete", |v| {
            v.active.is_none()
        })
        .await;
    }

    pub fn events(&self) -> Vec<EventKind> {
        let conn = connect(&self.db, true).expect("read store");
        read_events_after(&conn, 0, u64::MAX)
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    /// (output, form, quantity in units, inputs) of every output made here.
    pub fn outputs(&self) -> Vec<(String, OutputForm, i64, BTreeSet<String>)> {
        self.events()
            .into_iter()
            .filter_map(|kind| match kind {
                EventKind::OutputCreated {
                    output,
                    form,
                    quantity,
                    inputs,
                    ..
                } => Some((
                    output.to_string(),
                    form,
                    quantity.milli() / 1000,
                    inputs.iter().map(ToString::to_string).collect(),
                )),
                _ => None,
            })
            .collect()
    }
}

pub struct Line {
    pub central: takt::central::CentralHandle,
    pub stations: Vec<LineStation>,
    _dir: tempfile::TempDir,
}

/// Central with the demo plant and the three stations of line L1, each with its simulator; no order
/// waits for a first article.
pub async fn start_line() -> Line {
    start_line_with(false).await
}

/// The line, with OP10's first-article gate as the demo plant has it or without.
pub async fn start_line_with(first_article_gates: bool) -> Line {
    let dir = tempfile::tempdir().expect("temp dir");
    let central_db = dir.path().join("central.db");
    takt::central::seed_demo(&central_db, chrono::Utc::now().date_naive()).expect("seed");
    if !first_article_gates {
        crate::support::without_first_article_gates(&central_db);
    }
    let central = takt::central::spawn(([127, 0, 0, 1], 0).into(), central_db.clone())
        .await
        .expect("central");
    let mut stations = Vec::new();
    for (index, id) in ["L1-S1", "L1-S2", "L1-S3"].into_iter().enumerate() {
        let token = takt::central::add_station(&central_db, id).expect("token");
        let sim = takt::sim::spawn(
            ([127, 0, 0, 1], 0).into(),
            SimConfig {
                cycle_time: Duration::from_millis(40),
                defect_rate: 0.1,
                seed: Some(index as u64 + 1),
                ..SimConfig::default()
            },
        )
        .await
        .expect("sim");
        let db = dir.path().join(id).join("station.db");
        let station = Station::start(StationSetup {
            station: StationId::from(id),
            db_path: db.clone(),
            plc: Some(PollerConfig {
                address: sim.local_addr().to_string(),
                poll_interval: Duration::from_millis(50),
                ..PollerConfig::default()
            }),
            sync: Some(SyncConfig {
                pull_interval: Duration::from_millis(200),
                backoff_max: Duration::from_millis(500),
                ..SyncConfig::new(central.url(), token, StationId::from(id), db.clone())
            }),
            clock: Arc::new(SystemClock),
            options: Default::default(),
        })
        .await
        .expect("station");
        stations.push(LineStation { station, sim, db });
    }
    for line_station in &mut stations {
        wait_view(&mut line_station.station.view, "orders dispatched", |v| {
            v.queue.iter().any(|q| q.id == "WO-24001")
        })
        .await;
    }
    Line {
        central,
        stations,
        _dir: dir,
    }
}

impl Line {
    pub async fn shutdown(self) {
        for line_station in self.stations {
            line_station.station.shutdown().await;
            line_station.sim.shutdown().await;
        }
        self.central.shutdown().await;
    }

    /// Waits until every station's log has reached central.
    pub async fn synced(&mut self) {
        for line_station in &mut self.stations {
            wait_view(&mut line_station.station.view, "log synced", |v| {
                v.backlog == 0 && matches!(v.central, CentralView::Online)
            })
            .await;
        }
    }
}

/// A work-in-process tote label as the station prints it: our material code (240), lot, count.
fn tote_label(material: &str, lot: &str, units: i64) -> String {
    format!("]C1240{material}\u{1d}10{lot}\u{1d}30{units}")
}

/// Walks WO-24001 down the line: the known truth of what went into what.
pub struct Truth {
    pub s1_tote: String,
    pub s2_tote: String,
    pub serials: Vec<String>,
}

pub async fn build_along_the_line(line: &mut Line) -> Truth {
    let [s1, s2, s3] = &mut line.stations[..] else {
        panic!("three stations");
    };
    s1.scan("EMP-1001").await;
    s1.scan("1001").await;
    s1.scan("WO-24001").await;
    s1.scan(CASTING_C24_1107).await;
    s1.run_and_complete(6).await;
    let s1_outputs = s1.outputs();
    assert!(!s1_outputs.is_empty(), "a tote left OP10");
    assert!(
        s1_outputs
            .iter()
            .all(|(_, form, _, inputs)| *form == OutputForm::Lot
                && inputs == &BTreeSet::from(["C24-1107".to_owned()]))
    );
    let (s1_tote, ..) = s1_outputs.last().cloned().expect("tote");

    // The tote reaches OP20 through central: its queue shows it waiting, and its plain id is enough.
    wait_view(&mut s2.station.view, "the tote waits at OP20", |v| {
        v.queue
            .iter()
            .any(|q| q.id == "WO-24001" && q.waiting.as_ref().is_some_and(|w| w.lots >= 1))
    })
    .await;
    s2.scan("EMP-1002").await;
    s2.scan("1002").await;
    s2.scan("WO-24001").await;
    s2.scan(&s1_tote).await;
    s2.scan("]C1010040123450011110P24-2201\u{1d}30500").await;
    s2.scan("]C1010040123450021010S24-0815\u{1d}30500").await;
    s2.scan("]C1010040123450031910G24-0101\u{1d}305").await;
    s2.run_and_complete(3).await;
    let s2_outputs = s2.outputs();
    let (s2_tote, _, s2_units, s2_inputs) = s2_outputs.last().cloned().expect("tote");
    assert_eq!(
        s2_inputs,
        BTreeSet::from([s1_tote.as_str(), "P24-2201", "S24-0815", "G24-0101"].map(str::to_owned))
    );

    s3.scan("EMP-3001").await;
    s3.scan("3001").await;
    s3.scan("WO-24001").await;
    s3.scan(&tote_label("BC-200-A", &s2_tote, s2_units)).await;
    s3.scan("]C1010040123450041810B24-0007\u{1d}301000").await;
    s3.run_and_complete(2).await;
    let serials: Vec<String> = s3
        .outputs()
        .into_iter()
        .map(|(serial, form, units, inputs)| {
            assert_eq!(form, OutputForm::Serial);
            assert_eq!(units, 1);
            assert_eq!(
                inputs,
                BTreeSet::from([s2_tote.clone(), "B24-0007".to_owned()])
            );
            serial
        })
        .collect();
    assert!(serials.len() >= 2, "{serials:?}");
    Truth {
        s1_tote,
        s2_tote,
        serials,
    }
}

async fn genealogy(url: &str, lot: &str, direction: &str) -> Genealogy {
    let response = reqwest::get(format!(
        "{url}/api/v1/lots/{lot}/genealogy?direction={direction}"
    ))
    .await
    .expect("genealogy request");
    assert_eq!(response.status(), reqwest::StatusCode::OK, "{lot}");
    response.json().await.expect("genealogy")
}

/// Every lot of a tree with the depth it was found at.
fn flatten(node: &GenealogyNode, depth: usize, out: &mut BTreeSet<(String, usize)>) {
    out.insert((node.lot.to_string(), depth));
    for child in &node.children {
        flatten(child, depth + 1, out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_stations_build_calipers_and_central_traces_them() {
    let mut line = start_line().await;
    let truth = build_along_the_line(&mut line).await;
    line.synced().await;
    let url = line.central.url();

    // Backward from one finished caliper: the assembled tote and its box lot, the machined tote and
    // the piston, seal and grease lots, then the casting lot.
    let serial = &truth.serials[0];
    let back = genealogy(&url, serial, "backward").await;
    let mut found = BTreeSet::new();
    flatten(&back.root, 0, &mut found);
    let expected: BTreeSet<(String, usize)> = [
        (serial.as_str(), 0),
        (truth.s2_tote.as_str(), 1),
        ("B24-0007", 1),
        (truth.s1_tote.as_str(), 2),
        ("P24-2201", 2),
        ("S24-0815", 2),
        ("G24-0101", 2),
        ("C24-1107", 3),
    ]
    .into_iter()
    .map(|(lot, depth)| (lot.to_owned(), depth))
    .collect();
    assert_eq!(found, expected);
    assert!(
        matches!(&back.root.origin, NodeOrigin::Produced { station, operation, .. }
        if station.as_str() == "L1-S3" && operation.as_str() == "OP30")
    );
    assert_eq!(
        back.root.operator.as_ref().map(|b| b.as_str()),
        Some("EMP-3001")
    );
    assert_eq!(back.root.machine_state.as_deref(), Some("running"));
    // The machined tote waited at OP20 from its making to its first load there.
    assert!(
        back.waiting_by_operation
            .iter()
            .any(|w| w.operation.as_str() == "OP20" && w.lots >= 1),
        "{:?}",
        back.waiting_by_operation
    );

    // Forward from the casting lot: the recall list is exactly the serials made.
    let forward = genealogy(&url, "C24-1107", "forward").await;
    let recalled: BTreeSet<String> = forward
        .finished
        .iter()
        .map(|unit| unit.serial.to_string())
        .collect();
    assert_eq!(recalled, truth.serials.iter().cloned().collect());
    // The box lot went into the same serials, and nothing else.
    let boxes = genealogy(&url, "B24-0007", "forward").await;
    assert_eq!(boxes.finished.len(), truth.serials.len());
    line.shutdown().await;
}

/// The Trace screen at the last station: central's plant-wide answer backward and forward, then,
/// with central gone, the station's own log, said as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_screen_asks_central_and_falls_back_to_the_station() {
    let mut line = start_line().await;
    let truth = build_along_the_line(&mut line).await;
    line.synced().await;
    let serial = truth.serials[0].clone();
    let Line {
        central,
        mut stations,
        _dir,
    } = line;
    let s3 = stations.pop().expect("L1-S3");
    let LineStation {
        mut station, sim, ..
    } = s3;
    let mut ui = crate::tui::Ui::start(&mut station, 100, 30);
    ui.wait_for("Queue - 4 orders").await;
    ui.key(crossterm::event::KeyCode::F(4));
    ui.wait_for("Trace - backward").await;
    ui.scan(&serial);
    let screen = ui.wait_for("from central").await;
    for lot in [
        &truth.s2_tote,
        &truth.s1_tote,
        "C24-1107",
        "B24-0007",
        "G24-0101",
    ] {
        assert!(screen.contains(lot), "{lot} missing:\n{screen}");
    }
    // The recall question: where did the casting lot go?
    ui.scan("C24-1107");
    ui.wait_for("Trace C24-1107 - backward, from central").await;
    ui.key(crossterm::event::KeyCode::F(5));
    let screen = ui.wait_for("Finished units containing C24-1107").await;
    assert!(screen.contains("forward, from central"), "{screen}");
    assert!(screen.contains(&serial), "{screen}");

    // Central goes away: the station answers what it knows, and says so.
    central.shutdown().await;
    ui.key(crossterm::event::KeyCode::F(5));
    ui.scan(&serial);
    let screen = ui.wait_for("from this station only").await;
    assert!(screen.contains("WARN central did not answer"), "{screen}");
    assert!(screen.contains(&truth.s2_tote), "{screen}");
    assert!(
        !screen.contains(&truth.s1_tote),
        "only central knows what went into the OP20 tote:\n{screen}"
    );
    ui.quit().await;
    station.shutdown().await;
    sim.shutdown().await;
    for rest in stations {
        rest.station.shutdown().await;
        rest.sim.shutdown().await;
    }
}
