//! The simulator's staged faults against a real station: stops with a reason, dropped links, a PLC
//! restart and slow replies, each ending with the station's booked units compared to what the
//! simulator itself made.

use crate::support::{CASTING_C24_1107, station_id, wait_view};
use std::sync::Arc;
use std::time::Duration;
use takt::clock::SystemClock;
use takt::domain::PackMlState;
use takt::plc::PollerConfig;
use takt::sim::{Scenario, SimConfig, SimHandle};
use takt::station::view::{PlcLink, View};
use takt::station::{CoreInput, Station, StationSetup};

struct Rig {
    _dir: tempfile::TempDir,
    station: Station,
    sim: SimHandle,
}

async fn scan(station: &Station, text: &str) {
    station
        .send(CoreInput::Scan(text.into()))
        .await
        .expect("core running");
}

/// A simulator staging `specs` and a station polling it, with WO-24001 started and running.
async fn running(specs: &[&str], request_timeout: Duration) -> Rig {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    drop(crate::support::station_store_with_demo_master(&db).await);
    let sim = takt::sim::spawn(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            cycle_time: Duration::from_millis(30),
            defect_rate: 0.2,
            seed: Some(5),
            epoch: Some(100),
            scenario: Scenario::parse(specs.iter().copied()).expect("scenario"),
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let station = Station::start(StationSetup {
        station: station_id(),
        db_path: db,
        plc: Some(PollerConfig {
            address: sim.local_addr().to_string(),
            poll_interval: Duration::from_millis(50),
            request_timeout,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_millis(200),
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
    Rig {
        _dir: dir,
        station,
        sim,
    }
}

fn booked(v: &View) -> u64 {
    v.active.as_ref().map_or(0, |a| a.produced) + v.unassigned_produced
}

impl Rig {
    /// Pauses, lets the machine idle, and checks the station booked exactly what the simulator
    /// made over its whole life (across restarts), no more, no less.
    async fn settle_and_compare(mut self) {
        scan(&self.station, "@PAUSE").await;
        // A faulted machine stays Stopped after the pause; either way it makes nothing more.
        wait_view(&mut self.station.view, "machine not running", |v| {
            !v.plc.permit && matches!(v.plc.state, Some(PackMlState::Idle | PackMlState::Stopped))
        })
        .await;
        let made = self.sim.lifetime_processed();
        let view = wait_view(&mut self.station.view, "every unit booked", |v| {
            v.plc.link == PlcLink::Online && booked(v) >= made
        })
        .await;
        assert_eq!(booked(&view), made, "booked vs made by the PLC");
        assert_eq!(view.unassigned_produced, 0);
        let active = view.active.expect("active order");
        assert_eq!(active.rejected, self.sim.lifetime_defective());
        self.station.shutdown().await;
        self.sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_fault_stops_production_and_the_station_shows_its_reason() {
    let mut rig = running(&["fault-every=15units,reason=2"], Duration::from_secs(1)).await;
    let view = wait_view(&mut rig.station.view, "Stopped with reason 2", |v| {
        v.plc.state == Some(PackMlState::Stopped) && v.plc.stop_reason == 2
    })
    .await;
    assert!(
        view.plc.permit,
        "the station still permits; the machine stopped itself"
    );
    let view = wait_view(&mut rig.station.view, "15 units booked", |v| {
        booked(v) >= 15
    })
    .await;
    assert_eq!(booked(&view), 15);
    // Stopped stays stopped: a few more cycle times make nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.sim.processed(), 15);
    assert_eq!(rig.sim.state(), PackMlState::Stopped);
    rig.settle_and_compare().await;
}

/// A fault that does not clear itself: the station refuses to reset the machine until the stop has
/// a reason, then sends PackML Reset through the command block (command + change request, which
/// the PLC clears when taken), and the machine runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_station_resets_a_faulted_machine_once_its_stop_is_coded() {
    let mut rig = running(&["fault-every=15units,reason=2"], Duration::from_secs(1)).await;
    let mut notices = std::mem::replace(
        &mut rig.station.notices,
        tokio::sync::mpsc::unbounded_channel().1,
    );
    wait_view(&mut rig.station.view, "Stopped with reason 2", |v| {
        v.plc.state == Some(PackMlState::Stopped) && v.open_stop.is_some()
    })
    .await;
    let said = |notices: &mut tokio::sync::mpsc::UnboundedReceiver<takt::station::Notice>| {
        let mut texts = Vec::new();
        while let Ok(notice) = notices.try_recv() {
            texts.push(notice.text);
        }
        texts
    };
    said(&mut notices);
    scan(&rig.station, "@RESET").await;
    crate::support::eventually("the reset refused", Duration::from_secs(10), || {
        let texts = said(&mut notices);
        async move {
            texts
                .iter()
                .any(|t| t.contains("Give the stop a reason before restarting the machine"))
        }
    })
    .await;
    assert_eq!(rig.sim.state(), PackMlState::Stopped, "nothing was sent");
    scan(&rig.station, "R-12").await;
    scan(&rig.station, "@RESET").await;
    wait_view(
        &mut rig.station.view,
        "running again after the reset",
        |v| v.plc.state == Some(PackMlState::Execute) && booked(v) > 15,
    )
    .await;
    let view = rig.station.view.borrow().clone();
    let stop = view.stops.last().cloned().expect("the stop");
    assert_eq!(stop.reason.as_deref(), Some("R-12"));
    assert!(stop.ended_at.is_some(), "running again ends the stop");
    rig.settle_and_compare().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_and_a_plc_restart_lose_no_unit_and_count_none_twice() {
    let mut rig = running(&["drop-every=400ms"], Duration::from_millis(500)).await;
    // Several drops happen while units are made.
    wait_view(&mut rig.station.view, "a dropped link", |v| {
        matches!(v.plc.link, PlcLink::Offline { .. })
    })
    .await;
    wait_view(&mut rig.station.view, "units across drops", |v| {
        v.plc.link == PlcLink::Online && booked(v) >= 40
    })
    .await;

    // The PLC reboots while the order is paused, so no unit is made in a moment nobody saw.
    scan(&rig.station, "@PAUSE").await;
    wait_view(&mut rig.station.view, "machine idle", |v| {
        !v.plc.permit && v.plc.state == Some(PackMlState::Idle)
    })
    .await;
    let made = rig.sim.lifetime_processed();
    wait_view(&mut rig.station.view, "caught up before the restart", |v| {
        booked(v) == made
    })
    .await;
    rig.sim.restart();
    assert_eq!(rig.sim.epoch(), 101);
    assert_eq!(rig.sim.processed(), 0);

    // Running again from counters at zero: the station counts on from the new epoch.
    scan(&rig.station, "@START").await;
    wait_view(&mut rig.station.view, "units after the restart", |v| {
        booked(v) >= made + 20
    })
    .await;
    assert!(rig.sim.processed() >= 20);
    rig.settle_and_compare().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_replies_make_the_station_reconnect_and_counts_stay_exact() {
    let mut rig = running(
        &["slow-replies=700ms,every=1500ms,for=500ms"],
        Duration::from_millis(300),
    )
    .await;
    let view = wait_view(&mut rig.station.view, "a timed-out link", |v| {
        matches!(v.plc.link, PlcLink::Offline { .. })
    })
    .await;
    assert!(
        matches!(&view.plc.link, PlcLink::Offline { error } if error.contains("no reply within 300ms")),
        "{:?}",
        view.plc.link
    );
    wait_view(&mut rig.station.view, "back online with units", |v| {
        v.plc.link == PlcLink::Online && booked(v) >= 40
    })
    .await;
    rig.settle_and_compare().await;
}

/// The scheduled restart, seen by a plain Modbus client: the PLC closes the connection as it reboots
/// and answers a new one with the next boot epoch and counters at zero.
#[tokio::test]
async fn a_scheduled_restart_closes_the_link_and_comes_back_with_the_next_epoch() {
    use tokio_modbus::client::{Reader, tcp};
    let sim = takt::sim::spawn(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            epoch: Some(7),
            start_processed: 500,
            scenario: Scenario::parse(["restart-at=400ms", "blocked-every=1s,for=900ms"])
                .expect("scenario"),
            ..SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let mut link = tcp::connect(sim.local_addr()).await.expect("connect");
    let before = link
        .read_holding_registers(0, 14)
        .await
        .expect("transport")
        .expect("reply");
    assert_eq!((before[2], before[12], before[13]), (7, 0, 500));

    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        link.read_holding_registers(0, 14).await.is_err(),
        "the reboot closed the connection"
    );
    let mut link = tcp::connect(sim.local_addr()).await.expect("reconnect");
    let after = link
        .read_holding_registers(0, 14)
        .await
        .expect("transport")
        .expect("reply");
    assert_eq!((after[2], after[12], after[13]), (8, 0, 0));

    // The blocked window opens at 1 s on the simulator's clock: HR7 bit 0.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let during = link
        .read_holding_registers(7, 1)
        .await
        .expect("transport")
        .expect("reply");
    assert_eq!(during, [1]);
    sim.shutdown().await;
}

/// A PLC with 16-bit counters (in the low word of each pair), read through a `[plc.map]` that says
/// so: the wrap 65535 → 0 is a small step, never a reset, and every unit is booked once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_bit_counters_wrap_through_the_configured_map() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    drop(crate::support::station_store_with_demo_master(&db).await);
    let scenario = Scenario {
        counter_width: takt::sim::CounterWidth::Bits16,
        ..Default::default()
    };
    let sim = takt::sim::spawn(
        ([127, 0, 0, 1], 0).into(),
        SimConfig {
            cycle_time: Duration::from_millis(20),
            defect_rate: 0.0,
            seed: Some(9),
            epoch: Some(7),
            start_processed: 65_530,
            scenario,
            part_records: None,
        },
    )
    .await
    .expect("sim");
    let section: takt::plc::MapSection = toml::from_str(
        r#"
        [fields.processed]
        address = 13
        width = "u16"
        [fields.defective]
        address = 15
        width = "u16"
        [fields.consumed]
        address = 17
        width = "u16"
        [fields.cycles]
        address = 19
        width = "u16"
        "#,
    )
    .expect("map");
    let layout = takt::plc::StatusLayout::new(&section).expect("layout");
    let counter_bits = layout.counter_bits();
    assert_eq!(counter_bits, 16);
    let mut station = Station::start(StationSetup {
        station: station_id(),
        db_path: db,
        plc: Some(PollerConfig {
            address: sim.local_addr().to_string(),
            poll_interval: Duration::from_millis(50),
            layout,
            ..PollerConfig::default()
        }),
        sync: None,
        clock: Arc::new(SystemClock),
        options: takt::station::StationOptions {
            counter_bits,
            ..Default::default()
        },
    })
    .await
    .expect("station");
    for text in ["EMP-1001", "1001", "WO-24001", CASTING_C24_1107, "@START"] {
        scan(&station, text).await;
    }
    // Run past the wrap: the PLC starts 6 units below it.
    wait_view(&mut station.view, "units past the wrap", |v| {
        v.active.as_ref().is_some_and(|a| a.produced >= 12)
    })
    .await;
    scan(&station, "@PAUSE").await;
    wait_view(&mut station.view, "machine idle", |v| {
        !v.plc.permit && v.plc.state == Some(PackMlState::Idle)
    })
    .await;
    let made = sim.lifetime_processed();
    assert!(
        u64::from(sim.processed()) < 65_530,
        "the PLC's counter wrapped"
    );
    let view = wait_view(&mut station.view, "every unit booked", |v| {
        booked(v) >= made
    })
    .await;
    assert_eq!(
        booked(&view),
        made,
        "the wrap is counted as units, not as a reset"
    );
    station.shutdown().await;
    sim.shutdown().await;
}
