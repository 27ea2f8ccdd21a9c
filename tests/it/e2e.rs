//! The walking skeleton end to end: station core + real SQLite file + the PLC simulator on a loopback
//! port + a real central on an ephemeral port.

use crate::support::{CASTING_C24_1107, STATION, eventually, station_id, wait_view};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use takt::clock::SystemClock;
use takt::domain::{EventKind, ExecStatus};
use takt::plc::PollerConfig;
use takt::protocol::WorkOrderReport;
use takt::sim::SimConfig;
use takt::station::view::CentralView;
use takt::station::{CoreInput, Station, StationSetup};
use takt::store::{Store, VerifyReport, connect, read_events_after, verify_chain};
use takt::sync::SyncConfig;

async fn report(central_url: &str, order: &str) -> WorkOrderReport {
    reqwest::get(format!("{central_url}/api/v1/work-orders/{order}"))
        .await
        .expect("work order request")
        .json()
        .await
        .expect("work order report")
}

fn produced_in_log(db: &std::path::Path, order: &str) -> (u64, u64) {
    let conn = connect(db, true).expect("read store");
    read_events_after(&conn, 0, u64::MAX)
        .expect("events")
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::UnitsProduced {
                work_order: Some(id),
                produced,
                rejected,
                ..
            } if id.as_str() == order => Some((*produced, *rejected)),
            _ => None,
        })
        .fold((0, 0), |(p, r), (dp, dr)| (p + dp, r + dr))
}

async fn scan(station: &Station, text: &str) {
    station
        .send(CoreInput::Scan(text.into()))
        .await
        .expect("core running");
}

/// A cell on loopback: a real central (demo data, this station registered), a simulator, and the
/// station polling one and syncing with the other, its store in `dir`.
struct Cell {
    dir: tempfile::TempDir,
    central_db: std::path::PathBuf,
    central: takt::central::CentralHandle,
    sim: takt::sim::SimHandle,
    station: Station,
    db: std::path::PathBuf,
}

async fn cell(sim_config: SimConfig) -> Cell {
    cell_with(
        sim_config,
        Arc::new(SystemClock),
        Duration::from_millis(200),
    )
    .await
}

async fn cell_with(
    sim_config: SimConfig,
    clock: Arc<dyn takt::clock::Clock>,
    pull_interval: Duration,
) -> Cell {
    let dir = tempfile::tempdir().expect("temp dir");
    let central_db = dir.path().join("central.db");
    takt::central::seed_demo(&central_db, chrono::Utc::now().date_naive()).expect("seed");
    crate::support::without_first_article_gates(&central_db);
    let token = takt::central::add_station(&central_db, STATION).expect("token");
    let central = takt::central::spawn(([127, 0, 0, 1], 0).into(), central_db.clone())
        .await
        .expect("central");
    let sim = takt::sim::spawn(([127, 0, 0, 1], 0).into(), sim_config)
        .await
        .expect("sim");
    let db = dir.path().join("station").join("station.db");
    let station = Station::start(StationSetup {
        station: station_id(),
        db_path: db.clone(),
        plc: Some(PollerConfig {
            address: sim.local_addr().to_string(),
            poll_interval: Duration::from_millis(50),
            ..PollerConfig::default()
        }),
        sync: Some(SyncConfig {
            pull_interval,
            backoff_max: Duration::from_millis(500),
            ..SyncConfig::new(central.url(), token, station_id(), db.clone())
        }),
        clock,
        options: Default::default(),
    })
    .await
    .expect("station");
    Cell {
        dir,
        central_db,
        central,
        sim,
        station,
        db,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_from_the_plc_reach_central_exactly_once_across_an_outage() {
    let Cell {
        dir: _dir,
        central_db,
        central,
        sim,
        mut station,
        db,
    } = cell(SimConfig {
        cycle_time: Duration::from_millis(40),
        defect_rate: 0.2,
        seed: Some(7),
        ..SimConfig::default()
    })
    .await;
    let central_addr: SocketAddr = central.addr();
    let central_url = central.url();

    // Work orders arrive from central; then the operator scans badge, order, @START.
    wait_view(&mut station.view, "WO-24001 dispatched", |v| {
        v.queue.iter().any(|q| q.id == "WO-24001")
    })
    .await;
    scan(&station, "EMP-1001").await;
    scan(&station, "1001").await;
    scan(&station, "WO-24001").await;
    scan(&station, CASTING_C24_1107).await;
    scan(&station, "@START").await;
    let view = wait_view(&mut station.view, "12 units counted", |v| {
        v.active.as_ref().is_some_and(|a| a.produced >= 12)
    })
    .await;
    assert!(view.plc.permit, "permit is on while running");

    // Pause: the permit drops, the machine idles and the count stops.
    scan(&station, "@PAUSE").await;
    wait_view(&mut station.view, "machine idle after pause", |v| {
        !v.plc.permit && v.plc.state == Some(takt::domain::PackMlState::Idle)
    })
    .await;
    let settled = station.view.borrow().active.clone().expect("active");
    scan(&station, "@COMPLETE").await;
    let view = wait_view(&mut station.view, "order complete and synced", |v| {
        v.active.is_none() && v.backlog == 0
    })
    .await;
    let done = view.queue.iter().find(|q| q.id == "WO-24001").expect("row");
    assert_eq!(done.exec, Some(ExecStatus::Completed));

    let (produced, rejected) = produced_in_log(&db, "WO-24001");
    assert!(produced >= 12);
    assert_eq!(
        (produced, rejected),
        (settled.produced, settled.rejected),
        "log and projection agree"
    );
    let at_central = report(&central_url, "WO-24001").await;
    assert_eq!(
        (at_central.produced, at_central.rejected),
        (produced, rejected)
    );

    // Central goes away; the station keeps producing on another order.
    central.shutdown().await;
    scan(&station, "WO-24003").await;
    scan(&station, CASTING_C24_1107).await;
    scan(&station, "@START").await;
    wait_view(&mut station.view, "central offline with a backlog", |v| {
        matches!(v.central, CentralView::Offline { .. })
            && v.backlog > 0
            && v.active.as_ref().is_some_and(|a| a.produced >= 8)
    })
    .await;
    scan(&station, "@PAUSE").await;
    wait_view(&mut station.view, "machine idle", |v| {
        !v.plc.permit && v.plc.state == Some(takt::domain::PackMlState::Idle)
    })
    .await;
    scan(&station, "@COMPLETE").await;

    // Central comes back on the same address: everything arrives, exactly once.
    let central = takt::central::spawn(central_addr, central_db.clone())
        .await
        .expect("central again");
    let view = wait_view(&mut station.view, "backlog drained", |v| {
        v.backlog == 0 && matches!(v.central, CentralView::Online)
    })
    .await;
    let (produced3, rejected3) = produced_in_log(&db, "WO-24003");
    assert!(produced3 >= 8);
    let at_central = report(&central_url, "WO-24003").await;
    assert_eq!(
        (at_central.produced, at_central.rejected),
        (produced3, rejected3)
    );
    let at_central = report(&central_url, "WO-24001").await;
    assert_eq!(
        (at_central.produced, at_central.rejected),
        (produced, rejected),
        "nothing counted twice"
    );

    // Both chains verify, and central holds exactly the station's events.
    let local = verify_chain(&connect(&db, true).expect("store")).expect("verify");
    let VerifyReport::Intact { events, head } = local else {
        panic!("local chain broken: {local:?}")
    };
    assert_eq!(events, view.last_seq);
    let remote =
        takt::central::verify_station_chain(&central_db, STATION).expect("verify at central");
    assert_eq!(remote, VerifyReport::Intact { events, head });

    station.shutdown().await;
    central.shutdown().await;
    sim.shutdown().await;

    // The projections on disk equal a replay of the log.
    let store = Store::open(&db, &station_id()).expect("reopen");
    assert_eq!(
        store.load_state().expect("load"),
        store.replay_state().expect("replay")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_central_answering_errors_loses_nothing() {
    // A port that accepts nothing: the station must keep every event and say central is offline.
    let unused = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = unused.local_addr().expect("addr");
    drop(unused);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    {
        drop(crate::support::station_store_with_demo_master(&db).await);
    }
    let mut station = Station::start(StationSetup {
        station: station_id(),
        db_path: db.clone(),
        plc: None,
        sync: Some(SyncConfig {
            backoff_max: Duration::from_millis(200),
            ..SyncConfig::new(
                format!("http://{dead}"),
                "not-a-token",
                station_id(),
                db.clone(),
            )
        }),
        clock: Arc::new(SystemClock),
        options: Default::default(),
    })
    .await
    .expect("station");
    scan(&station, "EMP-1001").await;
    scan(&station, "1001").await;
    scan(&station, "WO-24002").await;
    let view = wait_view(&mut station.view, "offline with 2 events waiting", |v| {
        matches!(v.central, CentralView::Offline { .. }) && v.backlog == 2
    })
    .await;
    assert_eq!(
        view.active.as_ref().map(|a| a.id.as_str()),
        Some("WO-24002")
    );
    eventually("events stay in the log", Duration::from_secs(2), || async {
        let conn = connect(&db, true).expect("read");
        read_events_after(&conn, 0, 100).expect("events").len() == 2
    })
    .await;
    station.shutdown().await;
}

/// A TCP relay between station and PLC that the test can cut, like a pulled cable: the PLC keeps
/// running and counting while the station cannot see it.
struct Cable {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Cable {
    async fn plug(listen: SocketAddr, plc: SocketAddr) -> Cable {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .expect("bind cable");
        let addr = listener.local_addr().expect("cable addr");
        let task = tokio::spawn(async move {
            let mut links = tokio::task::JoinSet::new();
            while let Ok((mut station_side, _)) = listener.accept().await {
                links.spawn(async move {
                    if let Ok(mut plc_side) = tokio::net::TcpStream::connect(plc).await {
                        let _ =
                            tokio::io::copy_bidirectional(&mut station_side, &mut plc_side).await;
                    }
                });
            }
        });
        Cable { addr, task }
    }

    /// Cuts the cable: the listener and every relayed connection go away at once.
    fn pull(self) -> SocketAddr {
        self.task.abort();
        self.addr
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plc_link_that_drops_mid_run_loses_no_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    {
        drop(crate::support::station_store_with_demo_master(&db).await);
    }
    let sim = takt::sim::spawn(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            cycle_time: Duration::from_millis(30),
            defect_rate: 0.1,
            seed: Some(11),
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let cable = Cable::plug(([127, 0, 0, 1], 0).into(), sim.local_addr()).await;
    let mut station = Station::start(StationSetup {
        station: station_id(),
        db_path: db.clone(),
        plc: Some(PollerConfig {
            address: cable.addr.to_string(),
            poll_interval: Duration::from_millis(50),
            request_timeout: Duration::from_millis(300),
            backoff_max: Duration::from_millis(300),
            ..PollerConfig::default()
        }),
        sync: None,
        clock: Arc::new(SystemClock),
        options: Default::default(),
    })
    .await
    .expect("station");
    scan(&station, "EMP-1001").await;
    scan(&station, "1001").await;
    scan(&station, "WO-24001").await;
    scan(&station, CASTING_C24_1107).await;
    scan(&station, "@START").await;
    wait_view(&mut station.view, "units counted", |v| {
        v.active.as_ref().is_some_and(|a| a.produced >= 5)
    })
    .await;

    // The cable is pulled mid-run: the station says so, the PLC keeps making parts for a while.
    let before = sim.processed();
    let address = cable.pull();
    wait_view(&mut station.view, "PLC offline", |v| {
        matches!(v.plc.link, takt::station::view::PlcLink::Offline { .. })
    })
    .await;
    crate::support::eventually(
        "the PLC keeps producing unseen",
        Duration::from_secs(10),
        || async { sim.processed() >= before + 5 },
    )
    .await;

    // Plugged back in: the counts catch up from the PLC's counters, nothing lost, nothing doubled.
    let _cable = Cable::plug(address, sim.local_addr()).await;
    wait_view(&mut station.view, "PLC back online", |v| {
        v.plc.link == takt::station::view::PlcLink::Online
    })
    .await;
    scan(&station, "@PAUSE").await;
    wait_view(&mut station.view, "machine idle", |v| {
        !v.plc.permit && v.plc.state == Some(takt::domain::PackMlState::Idle)
    })
    .await;
    // One more poll after the machine stopped, so the last counter value is in.
    let settled = sim.processed();
    let view = wait_view(&mut station.view, "every unit counted", |v| {
        v.active
            .as_ref()
            .map(|a| a.produced + v.unassigned_produced)
            == Some(u64::from(settled))
    })
    .await;
    let (produced, rejected) = produced_in_log(&db, "WO-24001");
    assert_eq!(produced + view.unassigned_produced, u64::from(settled));
    assert_eq!(rejected, u64::from(sim.defective()));
    station.shutdown().await;
    sim.shutdown().await;
}

/// Quality at central holds a tote the running order just made: the hold reaches the station by
/// sync, the permit drops and the simulated machine stops (its permit register reads 0), the
/// operator is told why; released, the machine runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quality_hold_on_this_orders_output_stops_the_machine_until_released() {
    let Cell {
        dir: _dir,
        central_db,
        central,
        sim,
        mut station,
        db,
    } = cell(SimConfig {
        cycle_time: Duration::from_millis(30),
        defect_rate: 0.0,
        ..SimConfig::default()
    })
    .await;
    let mut notices = std::mem::replace(
        &mut station.notices,
        tokio::sync::mpsc::unbounded_channel().1,
    );
    wait_view(&mut station.view, "WO-24001 dispatched", |v| {
        v.queue.iter().any(|q| q.id == "WO-24001")
    })
    .await;
    scan(&station, "EMP-1001").await;
    scan(&station, "1001").await;
    scan(&station, "WO-24001").await;
    scan(&station, CASTING_C24_1107).await;
    scan(&station, "@START").await;
    // A tote of 20 is full and synced to central.
    let view = wait_view(&mut station.view, "a full tote synced", |v| {
        v.active.as_ref().is_some_and(|a| a.produced >= 20) && v.backlog == 0
    })
    .await;
    assert!(view.plc.permit);
    let tote = {
        let conn = connect(&db, true).expect("station db");
        read_events_after(&conn, 0, u64::MAX)
            .expect("events")
            .into_iter()
            .find_map(|event| match event.kind {
                EventKind::OutputCreated { output, .. } => Some(output.to_string()),
                _ => None,
            })
            .expect("a tote was made")
    };

    takt::central::set_lot_hold(&central_db, &tote, Some("bore out of tolerance")).expect("hold");
    let held = wait_view(&mut station.view, "the permit off for the hold", |v| {
        !v.plc.permit
            && v.active
                .as_ref()
                .is_some_and(|a| a.quality_holds.iter().any(|h| h.contains(&tote)))
    })
    .await;
    assert_eq!(
        held.active.as_ref().map(|a| a.quality_holds.clone()),
        Some(vec![format!(
            "QUALITY HOLD: {tote} made here is on hold (bore out of tolerance)"
        )])
    );
    // The machine itself lost its permit: it stops making units.
    wait_view(&mut station.view, "the machine stopped", |v| {
        v.plc.state != Some(takt::domain::PackMlState::Execute)
    })
    .await;
    let mut told = false;
    while let Ok(notice) = notices.try_recv() {
        told |= notice.text.contains("QUALITY HOLD")
            && notice.text.contains("until quality releases it");
    }
    assert!(told, "the operator is told why the machine stopped");
    let stopped_at = station
        .view
        .borrow()
        .active
        .as_ref()
        .map_or(0, |a| a.produced);

    takt::central::set_lot_hold(&central_db, &tote, None).expect("release");
    wait_view(&mut station.view, "running again after release", |v| {
        v.plc.permit
            && v.active
                .as_ref()
                .is_some_and(|a| a.produced > stopped_at + 3)
    })
    .await;
    station.shutdown().await;
    sim.shutdown().await;
    central.shutdown().await;
}

/// Central owns the work order: a hold learned by sync stops the machine at once (the permit drops
/// and the operator is told why), what the machine made before the station heard of it is accepted
/// and flagged, a release lets it run again, and an order taken off this station stops here and
/// leaves the queue, as does a cancelled one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn central_holding_cancelling_or_moving_a_running_order_stops_it_here() {
    use takt::central::WorkOrderAction;
    use takt::domain::WorkOrderStatus;
    let Cell {
        dir: _dir,
        central_db,
        central,
        sim,
        mut station,
        db,
    } = cell(SimConfig {
        cycle_time: Duration::from_millis(30),
        defect_rate: 0.0,
        ..SimConfig::default()
    })
    .await;
    let mut notices = std::mem::replace(
        &mut station.notices,
        tokio::sync::mpsc::unbounded_channel().1,
    );
    wait_view(&mut station.view, "WO-24001 dispatched", |v| {
        v.queue.iter().any(|q| q.id == "WO-24001")
    })
    .await;
    scan(&station, "EMP-1001").await;
    scan(&station, "1001").await;
    scan(&station, "WO-24001").await;
    scan(&station, CASTING_C24_1107).await;
    scan(&station, "@START").await;
    wait_view(&mut station.view, "running", |v| {
        v.plc.permit && v.active.as_ref().is_some_and(|a| a.produced >= 5)
    })
    .await;

    let act = |id: &str, action: WorkOrderAction| {
        takt::central::work_order_action(&central_db, id, &action).expect("work order action")
    };
    act(
        "WO-24001",
        WorkOrderAction::Hold {
            reason: "gauge R&R failed".into(),
        },
    );
    let held = wait_view(&mut station.view, "the permit off for the hold", |v| {
        !v.plc.permit
            && v.active
                .as_ref()
                .is_some_and(|a| a.planning_status == Some(WorkOrderStatus::OnHold))
    })
    .await;
    assert_eq!(
        held.active.and_then(|a| a.planning_hold),
        Some("central set WO-24001 on hold (gauge R&R failed)".to_owned())
    );
    wait_view(&mut station.view, "the machine stopped", |v| {
        v.plc.state != Some(takt::domain::PackMlState::Execute)
    })
    .await;
    let mut told = false;
    while let Ok(notice) = notices.try_recv() {
        told |= notice
            .text
            .contains("Central changed WO-24001 to on hold (gauge R&R failed)")
            && notice.text.contains("Production is blocked");
    }
    assert!(told, "the operator is told why the machine stopped");

    // Everything the station logged reaches central; exactly its facts dated after the hold are
    // flagged (how many depends on how far the machine got before the pull; all are counted).
    wait_view(&mut station.view, "synced", |v| v.backlog == 0).await;
    let at_central = report(&central.url(), "WO-24001").await;
    let hold_at = at_central
        .history
        .iter()
        .rev()
        .find(|change| change.status == WorkOrderStatus::OnHold)
        .map(|change| change.at)
        .expect("the hold is in the history");
    let conn = connect(&db, true).expect("station db");
    let after_hold: Vec<u64> = read_events_after(&conn, 0, u64::MAX)
        .expect("events")
        .into_iter()
        .filter(|event| event.at >= hold_at)
        .filter(|event| match &event.kind {
            EventKind::UnitsProduced {
                work_order: Some(id),
                produced,
                rejected,
                ..
            } => id.as_str() == "WO-24001" && produced + rejected > 0,
            EventKind::OutputCreated { work_order, .. }
            | EventKind::LotConsumed { work_order, .. } => work_order.as_str() == "WO-24001",
            _ => false,
        })
        .map(|event| event.seq)
        .collect();
    assert_eq!(at_central.flagged_count, after_hold.len() as u64);
    assert_eq!(
        at_central
            .flagged
            .iter()
            .map(|flag| flag.seq)
            .collect::<Vec<_>>(),
        after_hold
    );
    let (produced, _) = produced_in_log(&db, "WO-24001");
    assert_eq!(at_central.produced, produced, "flagged facts are counted");

    act("WO-24001", WorkOrderAction::Release);
    let stopped_at = station
        .view
        .borrow()
        .active
        .as_ref()
        .map_or(0, |a| a.produced);
    wait_view(&mut station.view, "running again after release", |v| {
        v.plc.permit
            && v.active
                .as_ref()
                .is_some_and(|a| a.produced > stopped_at + 3)
    })
    .await;

    // Taken off this station: it stops here and leaves the queue.
    act(
        "WO-24001",
        WorkOrderAction::Dispatch {
            stations: vec!["L1-S2".into()],
            priority: None,
        },
    );
    let moved = wait_view(&mut station.view, "the permit off, moved away", |v| {
        !v.plc.permit && v.queue.iter().all(|q| q.id != "WO-24001")
    })
    .await;
    assert_eq!(
        moved.active.and_then(|a| a.planning_hold),
        Some("central took WO-24001 off this station".to_owned())
    );
    let mut told = false;
    while let Ok(Some(notice)) = tokio::time::timeout(Duration::from_secs(5), notices.recv()).await
    {
        if notice
            .text
            .contains("Central moved WO-24001 to other stations")
        {
            told = true;
            break;
        }
    }
    assert!(told, "the operator is told the order was moved");

    // A cancelled order leaves the queue and cannot be selected.
    act(
        "WO-24003",
        WorkOrderAction::Cancel {
            reason: "ERP order withdrawn".into(),
        },
    );
    wait_view(&mut station.view, "WO-24003 gone from the queue", |v| {
        v.queue.iter().all(|q| q.id != "WO-24003")
    })
    .await;
    scan(&station, "@PAUSE").await;
    scan(&station, "WO-24003").await;
    let mut refused = None;
    for _ in 0..50 {
        match tokio::time::timeout(Duration::from_secs(5), notices.recv()).await {
            Ok(Some(notice)) if notice.text.contains("WO-24003") => {
                refused = Some(notice.text);
                break;
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let refused = refused.expect("the scan of a cancelled order is answered");
    assert!(refused.contains("cancelled"), "{refused}");
    station.shutdown().await;
    sim.shutdown().await;
    central.shutdown().await;
}

/// Offline policy end to end: central gives the station a grace window of 60 min (by the CLI,
/// through the changes feed). Central goes away; 59 min later (by the station's clock) the order
/// still runs; past 60 min the permit drops, the operator is told why, and a restart is refused;
/// when central answers again the station may go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_runs_on_without_central_only_for_its_grace_window() {
    let clock = takt::clock::ManualClock::new(chrono::Utc::now());
    let Cell {
        dir: _dir,
        central_db,
        central,
        sim,
        mut station,
        db: _db,
    } = cell_with(
        SimConfig {
            cycle_time: Duration::from_millis(30),
            defect_rate: 0.0,
            ..SimConfig::default()
        },
        Arc::new(clock.clone()),
        Duration::from_millis(200),
    )
    .await;
    let central_addr = central.addr();
    let mut notices = std::mem::replace(
        &mut station.notices,
        tokio::sync::mpsc::unbounded_channel().1,
    );
    let output = crate::support::takt_cli([
        "central",
        "station",
        "config",
        STATION,
        "--offline-grace-minutes",
        "60",
        // Hours pass on the manual clock without a key pressed: this test is about the grace.
        "--idle-logout-minutes",
        "0",
        "--db",
        &central_db.to_string_lossy(),
    ])
    .await;
    assert!(output.status.success(), "{output:?}");
    wait_view(&mut station.view, "WO-24001 dispatched", |v| {
        v.queue.iter().any(|q| q.id == "WO-24001")
    })
    .await;
    scan(&station, "EMP-1001").await;
    scan(&station, "1001").await;
    scan(&station, "WO-24001").await;
    scan(&station, CASTING_C24_1107).await;
    scan(&station, "@START").await;
    wait_view(&mut station.view, "running", |v| {
        v.plc.permit && v.active.as_ref().is_some_and(|a| a.produced >= 3)
    })
    .await;

    central.shutdown().await;
    wait_view(&mut station.view, "central offline", |v| {
        matches!(v.central, CentralView::Offline { .. })
    })
    .await;
    clock.advance(chrono::Duration::minutes(59));
    let produced = station
        .view
        .borrow()
        .active
        .as_ref()
        .map_or(0, |a| a.produced);
    let inside = wait_view(&mut station.view, "still running inside the window", |v| {
        v.active.as_ref().is_some_and(|a| a.produced > produced + 3)
    })
    .await;
    assert!(inside.plc.permit);

    clock.advance(chrono::Duration::minutes(2));
    let outside = wait_view(&mut station.view, "the permit off past the window", |v| {
        !v.plc.permit
    })
    .await;
    let why = outside
        .active
        .and_then(|a| a.planning_hold)
        .expect("the view says why");
    assert!(why.contains("may run only 1 h without it"), "{why}");
    scan(&station, "@PAUSE").await;
    scan(&station, "@START").await;
    let mut refused = None;
    while let Ok(Some(notice)) = tokio::time::timeout(Duration::from_secs(5), notices.recv()).await
    {
        if notice.text.contains("Central last answered") {
            refused = Some(notice.text);
            break;
        }
    }
    let refused = refused.expect("a restart is refused in words");
    assert!(refused.contains("60 min"), "{refused}");

    // Central answers again: the order may go on.
    let central = takt::central::spawn(central_addr, central_db.clone())
        .await
        .expect("central again");
    wait_view(&mut station.view, "back online", |v| {
        matches!(v.central, CentralView::Online) && v.backlog == 0
    })
    .await;
    scan(&station, "@START").await;
    wait_view(&mut station.view, "running again", |v| v.plc.permit).await;
    station.shutdown().await;
    sim.shutdown().await;
    central.shutdown().await;
}

/// Long-poll: a station that pulls only every ten minutes still learns a hold made at central
/// (here on the database file, as `takt central work-order hold` does) while it idles, because its
/// idle pull is held open at central until something changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_station_learns_a_hold_through_its_long_poll() {
    let Cell {
        dir: _dir,
        central_db,
        central,
        sim,
        mut station,
        db: _db,
    } = cell_with(
        SimConfig::default(),
        Arc::new(SystemClock),
        Duration::from_secs(600),
    )
    .await;
    wait_view(&mut station.view, "online and idle", |v| {
        v.queue.iter().any(|q| q.id == "WO-24002")
            && matches!(v.central, CentralView::Online)
            && v.backlog == 0
    })
    .await;
    takt::central::work_order_action(
        &central_db,
        "WO-24002",
        &takt::central::WorkOrderAction::Hold {
            reason: "drawing revision".into(),
        },
    )
    .expect("hold");
    wait_view(&mut station.view, "the hold learned", |v| {
        v.queue
            .iter()
            .any(|q| q.id == "WO-24002" && q.status == takt::domain::WorkOrderStatus::OnHold)
    })
    .await;
    station.shutdown().await;
    sim.shutdown().await;
    central.shutdown().await;
}

/// A PIN set at central reaches the station by sync and logs in there, also with central gone
/// (the cached verifier); the old PIN stops working; a badge revoked at central is refused once
/// the station has pulled.
#[tokio::test]
async fn a_pin_set_at_central_logs_in_offline_and_a_revoked_badge_is_refused() {
    let Cell {
        dir: _dir,
        central_db,
        central,
        sim: _sim,
        mut station,
        db: _db,
    } = cell(SimConfig::default()).await;
    let db_arg = central_db.to_string_lossy().into_owned();
    let set = crate::support::takt_cli_with_stdin(
        [
            "central", "operator", "set-pin", "EMP-1002", "--db", &db_arg,
        ],
        "4711\n",
    )
    .await;
    assert!(set.status.success(), "{set:?}");
    assert!(String::from_utf8_lossy(&set.stdout).contains("PIN of EMP-1002 set"));
    let revoke =
        crate::support::takt_cli(["central", "operator", "revoke", "EMP-1001", "--db", &db_arg])
            .await;
    assert!(revoke.status.success(), "{revoke:?}");
    let list = crate::support::takt_cli(["central", "operator", "list", "--db", &db_arg]).await;
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        listed.contains("EMP-1001") && listed.contains("REVOKED"),
        "{listed}"
    );
    assert!(!listed.contains("argon2"), "never the verifier: {listed}");
    // The station learns both (in version order: the PIN first), then central goes away. Until
    // the revocation arrives a badge scan only asks for the PIN, which records nothing.
    let mut said = String::new();
    for _ in 0..300 {
        scan(&station, "EMP-1001").await;
        while let Ok(notice) = tokio::time::timeout(Duration::from_secs(5), station.notices.recv())
            .await
            .map(|n| n.expect("notices"))
        {
            said = notice.text;
            if said.contains("EMP-1001") || said.contains("Demo Operator A") {
                break;
            }
        }
        if said.contains("has been revoked") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(said.contains("Badge EMP-1001 has been revoked"), "{said}");
    central.shutdown().await;
    wait_view(&mut station.view, "central offline", |v| {
        matches!(v.central, CentralView::Offline { .. })
    })
    .await;

    scan(&station, "EMP-1002").await;
    scan(&station, "1002").await;
    wait_view(&mut station.view, "the old PIN refused", |v| {
        v.operator.is_none() && v.pin_prompt.is_some()
    })
    .await;
    scan(&station, "4711").await;
    wait_view(
        &mut station.view,
        "logged in offline with the new PIN",
        |v| v.operator.as_ref().is_some_and(|o| o.badge == "EMP-1002"),
    )
    .await;
}

/// The body of `kind`/`key` in a master-data table (`master_record` at a station,
/// `master_records` at central), read-only while the owner runs.
pub(crate) fn master_body(
    db: &std::path::Path,
    table: &str,
    kind: &str,
    key: &str,
) -> Option<String> {
    let conn = connect(db, true).ok()?;
    conn.query_row(
        &format!("SELECT body FROM {table} WHERE kind = ?1 AND key = ?2"),
        [kind, key],
        |row| row.get(0),
    )
    .ok()
}

/// The signature flow end to end: central's admin asks (by the CLI) for a second signer on
/// hold releases at L1-S1; the inspector releases the demo's held casting lot C24-1031 with their
/// PIN and "approved", the admin signs second with "reviewed"; central takes the release onto its
/// record of the lot, and `takt audit report --lot C24-1031` at central shows both manifestations:
/// name, badge, time and meaning. The chains verify on both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_release_reaches_central_and_its_audit_report() {
    use takt::station::core::SignRequest;
    let Cell {
        dir: _dir,
        central_db,
        central,
        sim,
        mut station,
        db,
    } = cell(SimConfig::default()).await;
    let central_path = central_db.to_string_lossy().into_owned();
    let out = crate::support::takt_cli([
        "central",
        "station",
        "config",
        STATION,
        "--second-signer",
        "release_hold",
        "--db",
        &central_path,
    ])
    .await;
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    assert!(
        said.contains("a second person signs release_hold"),
        "{said}"
    );
    eventually(
        "the station has its new config",
        Duration::from_secs(20),
        || {
            let body = master_body(&db, "master_record", "station_config", STATION);
            async move { body.is_some_and(|body| body.contains("release_hold")) }
        },
    )
    .await;
    assert!(
        master_body(&central_db, "master_records", "lot", "C24-1031")
            .is_some_and(|body| body.contains("on_hold")),
        "held in the demo plant"
    );

    let mut notices = std::mem::replace(
        &mut station.notices,
        tokio::sync::mpsc::unbounded_channel().1,
    );
    let inputs = [
        CoreInput::Scan("EMP-2001".into()),
        CoreInput::Pin(takt::credential::Pin::new("2001")),
        CoreInput::Sign(SignRequest::Release {
            lot: "C24-1031".into(),
        }),
        CoreInput::Keyed("approved".into()),
        CoreInput::Pin(takt::credential::Pin::new("2001")),
        CoreInput::Scan("EMP-9999".into()),
        CoreInput::Keyed("2".into()),
        CoreInput::Pin(takt::credential::Pin::new("9999")),
    ];
    let count = inputs.len();
    for input in inputs {
        station.send(input).await.expect("core running");
    }
    let mut said = Vec::new();
    while said.len() < count {
        let notice = tokio::time::timeout(Duration::from_secs(20), notices.recv())
            .await
            .expect("a notice for every input")
            .expect("core running");
        said.push(notice.text);
    }
    assert!(
        said.last()
            .is_some_and(|text| text.starts_with("Hold on lot C24-1031 released.")),
        "{said:#?}"
    );
    wait_view(&mut station.view, "everything synced", |v| v.backlog == 0).await;
    eventually("central released the lot", Duration::from_secs(20), || {
        let body = master_body(&central_db, "master_records", "lot", "C24-1031");
        async move { body.is_some_and(|body| body.contains("\"released\"")) }
    })
    .await;

    let out = crate::support::takt_cli([
        "audit",
        "report",
        "--db",
        &central_path,
        "--lot",
        "C24-1031",
    ])
    .await;
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report.contains("released the hold on lot C24-1031"),
        "{report}"
    );
    for manifestation in [
        "signed: Demo Inspector (EMP-2001)",
        "meaning: approved",
        "signed: Demo Admin (EMP-9999)",
        "meaning: reviewed",
    ] {
        assert!(report.contains(manifestation), "{manifestation}: {report}");
    }
    let out = crate::support::takt_cli(["audit", "verify", "--db", &db.to_string_lossy()]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    station.shutdown().await;
    central.shutdown().await;
    sim.shutdown().await;
}
