//! The per-part record handshake against the real simulator on loopback and real SQLite files:
//! every part the simulator made is recorded exactly once — across dropped links, a station killed
//! between its commit and its ack, PLC restarts, and a full FIFO that blocks the machine until the
//! station is back.

use crate::support::{CASTING_C24_1107, eventually, station_id, wait_view};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use takt::clock::{ManualClock, SystemClock};
use takt::domain::part_record::{PartAck, PartRecordHead, PartResult};
use takt::domain::{Event, EventKind, PackMlState, PlcSample};
use takt::plc::layout::CommandLayout;
use takt::plc::{MapSection, PlcEvent, PlcOutputs, PollerConfig, StatusLayout};
use takt::sim::{Scenario, SimConfig, SimHandle, SimPartRecord};
use takt::station::view::PlcLink;
use takt::station::{Core, CoreInput, CoreOutputs, Station, StationSetup};
use takt::store::{Store, connect};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const CHILD_DB: &str = "TAKT_PART_RECORDS_CHILD_DB";
const CHILD_PLC: &str = "TAKT_PART_RECORDS_CHILD_PLC";

/// A recorded part: (PLC epoch, record_seq, serial, result, work order).
type Recorded = (u16, u32, String, PartResult, Option<String>);

/// Every `PartRecorded` in the station's log, in log order.
fn recorded(db: &Path) -> Vec<Recorded> {
    let conn = connect(db, true).expect("read the log");
    let mut statement = conn
        .prepare("SELECT body FROM event_log WHERE kind = 'part_recorded' ORDER BY seq")
        .expect("query");
    let bodies = statement
        .query_map([], |row| row.get::<_, String>(0))
        .expect("rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("bodies");
    bodies
        .iter()
        .map(|body| {
            let event: Event = serde_json::from_str(body).expect("event");
            match event.kind {
                EventKind::PartRecorded {
                    plc_epoch,
                    record_seq,
                    serial,
                    result,
                    work_order,
                    ..
                } => (
                    plc_epoch,
                    record_seq,
                    serial,
                    result,
                    work_order.map(|w| w.to_string()),
                ),
                other => panic!("not a part record: {other:?}"),
            }
        })
        .collect()
}

/// What the station should have recorded for what the simulator made.
fn expected(made: &[SimPartRecord]) -> Vec<(u16, u32, String, PartResult)> {
    made.iter()
        .map(|r| {
            (
                r.epoch,
                r.record_seq,
                r.serial.clone(),
                if r.good {
                    PartResult::Good
                } else {
                    PartResult::Reject
                },
            )
        })
        .collect()
}

fn without_order(recorded: &[Recorded]) -> Vec<(u16, u32, String, PartResult)> {
    recorded
        .iter()
        .map(|(epoch, seq, serial, result, _)| (*epoch, *seq, serial.clone(), *result))
        .collect()
}

fn part_sim(epoch: u16, cycle_ms: u64, specs: &[&str]) -> SimConfig {
    SimConfig {
        cycle_time: Duration::from_millis(cycle_ms),
        defect_rate: 0.2,
        seed: Some(11),
        epoch: Some(epoch),
        scenario: Scenario::parse(specs.iter().copied()).expect("scenario"),
        part_records: Some(takt::sim::PART_RING),
        ..SimConfig::default()
    }
}

/// A station polling `plc` every 50 ms with part records switched on, as `[plc] part_records =
/// true` sets it up.
fn part_poller(plc: &str) -> PollerConfig {
    let map = MapSection::default();
    PollerConfig {
        address: plc.to_owned(),
        poll_interval: Duration::from_millis(50),
        request_timeout: Duration::from_millis(500),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        layout: StatusLayout::for_plc(&map, true).expect("layout"),
        commands: CommandLayout::for_plc(&map, true).expect("commands"),
        ..PollerConfig::default()
    }
}

async fn start_station(db: &Path, plc: &str) -> Station {
    Station::start(StationSetup {
        station: station_id(),
        db_path: db.to_owned(),
        plc: Some(part_poller(plc)),
        sync: None,
        clock: Arc::new(SystemClock),
        options: Default::default(),
    })
    .await
    .expect("station")
}

async fn scan(station: &Station, text: &str) {
    station
        .send(CoreInput::Scan(text.into()))
        .await
        .expect("core running");
}

async fn start_order(station: &Station) {
    for text in ["EMP-1001", "1001", "WO-24001", CASTING_C24_1107, "@START"] {
        scan(station, text).await;
    }
}

struct Rig {
    dir: tempfile::TempDir,
    sim: SimHandle,
    station: Station,
    /// The cable between station and simulator, when the test pulls it.
    cable: Option<Cable>,
}

impl Rig {
    /// A simulator, and a station running WO-24001 on it (through a cable, if asked).
    async fn new(sim: SimConfig, through_cable: bool) -> Rig {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(crate::support::station_store_with_demo_master(&dir.path().join("station.db")).await);
        let sim = takt::sim::spawn(([127, 0, 0, 1], 0).into(), sim)
            .await
            .expect("sim");
        let cable = match through_cable {
            true => Some(cable(sim.local_addr()).await),
            false => None,
        };
        let address = cable
            .as_ref()
            .map_or(sim.local_addr(), |cable| cable.address);
        let station = start_station(&dir.path().join("station.db"), &address.to_string()).await;
        start_order(&station).await;
        Rig {
            dir,
            sim,
            station,
            cable,
        }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("station.db")
    }

    async fn recorded_at_least(&self, what: &str, count: usize) {
        let db = self.db();
        eventually(what, Duration::from_secs(30), || {
            let db = db.clone();
            async move { recorded(&db).len() >= count }
        })
        .await;
    }

    /// Pauses, lets the machine stop, waits until the FIFO is empty and everything made is
    /// recorded; returns the log's part records.
    async fn settle(&mut self) -> Vec<Recorded> {
        scan(&self.station, "@PAUSE").await;
        wait_view(&mut self.station.view, "machine not running", |v| {
            !v.plc.permit && v.plc.state.is_some_and(|s| s != PackMlState::Execute)
        })
        .await;
        let db = self.db();
        let sim = &self.sim;
        eventually(
            "every part record acknowledged",
            Duration::from_secs(30),
            || {
                let db = db.clone();
                async move {
                    sim.part_records_waiting() == 0
                        && recorded(&db).len()
                            >= sim.part_records().len() - sim.part_records_wiped().len()
                }
            },
        )
        .await;
        // A few more polls: nothing may be recorded twice after the FIFO ran empty.
        tokio::time::sleep(Duration::from_millis(300)).await;
        recorded(&db)
    }

    async fn stop(self) {
        self.station.shutdown().await;
        self.sim.shutdown().await;
        if let Some(cable) = self.cable {
            cable.task.abort();
        }
    }
}

/// (a) A link dropped every 300 ms and a PLC restart while the order is paused: every record in
/// order, once, each with the running order; units still counted exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_links_and_a_restart_record_every_part_exactly_once() {
    let mut rig = Rig::new(part_sim(100, 40, &["drop-every=300ms"]), false).await;
    wait_view(&mut rig.station.view, "a dropped link", |v| {
        matches!(v.plc.link, PlcLink::Offline { .. })
    })
    .await;
    rig.recorded_at_least("40 part records across drops", 40)
        .await;

    // The PLC reboots while the order is paused and every record is acknowledged: record_seq
    // starts again at 1 in epoch 101, and those are new parts, not repeats.
    let before = rig.settle().await;
    rig.sim.restart();
    assert_eq!(rig.sim.epoch(), 101);
    scan(&rig.station, "@RESUME").await;
    let db = rig.db();
    eventually(
        "20 records of the new epoch",
        Duration::from_secs(30),
        || {
            let db = db.clone();
            async move {
                recorded(&db)
                    .iter()
                    .filter(|(epoch, ..)| *epoch == 101)
                    .count()
                    >= 20
            }
        },
    )
    .await;

    let all = rig.settle().await;
    assert!(rig.sim.part_records_wiped().is_empty());
    let made = rig.sim.part_records();
    assert_eq!(without_order(&all), expected(&made), "recorded vs made");
    assert!(all.len() > before.len() + 20);
    assert!(
        all.iter().any(|r| r.0 == 101 && r.1 == 1),
        "seq 1 of the new epoch"
    );
    assert!(
        all.iter().all(|r| r.4.as_deref() == Some("WO-24001")),
        "every part belongs to the running order"
    );
    let view = rig.station.view.borrow().clone();
    let last = made.last().expect("parts made");
    assert_eq!(
        view.plc.last_part.as_deref(),
        Some(
            format!(
                "{} {}",
                last.serial,
                if last.good { "good" } else { "REJECT" }
            )
            .as_str()
        )
    );
    let active = view.active.expect("active order");
    assert_eq!(active.produced, rig.sim.lifetime_processed());
    assert_eq!(active.rejected, rig.sim.lifetime_defective());
    rig.stop().await;
}

/// (c) The scheduled restart strikes while the machine runs. The FIFO, like the counters, is not
/// retentive: records the station had not acknowledged die with the reboot (the simulator names
/// them). Everything else is recorded exactly once, and the new epoch's seq 1, 2, … are recorded
/// as the new parts they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_while_running_starts_a_new_epoch_and_records_the_rest_exactly_once() {
    let mut rig = Rig::new(part_sim(200, 40, &["restart-at=1500ms"]), false).await;
    let db = rig.db();
    eventually("records of the new epoch", Duration::from_secs(30), || {
        let db = db.clone();
        async move {
            recorded(&db)
                .iter()
                .filter(|(epoch, ..)| *epoch == 201)
                .count()
                >= 15
        }
    })
    .await;
    let all = rig.settle().await;
    let made = rig.sim.part_records();
    let wiped = rig.sim.part_records_wiped();
    assert!(
        wiped.len() <= takt::sim::PART_RING,
        "at most a FIFO's worth: {wiped:?}"
    );
    assert!(wiped.iter().all(|r| r.epoch == 200));
    // Recorded: each made part at most once and in the order made; every part the restart did
    // not wipe; of the wiped ones, those committed before the reboot took the FIFO (their ack
    // was not yet taken). Only the rest are lost.
    let recorded_parts = without_order(&all);
    let made_parts = expected(&made);
    let kept: Vec<_> = made_parts
        .iter()
        .filter(|part| recorded_parts.contains(part))
        .cloned()
        .collect();
    assert_eq!(recorded_parts, kept, "no part twice, none out of order");
    let wiped_parts = expected(&wiped);
    let lost: Vec<_> = made_parts
        .iter()
        .filter(|part| !recorded_parts.contains(part))
        .collect();
    assert!(
        lost.iter().all(|part| wiped_parts.contains(part)),
        "only wiped records are missing: {lost:?}"
    );
    let first_of_new = all
        .iter()
        .position(|r| r.0 == 201)
        .expect("records after the restart");
    assert_eq!(all[first_of_new].1, 1, "record_seq starts again at 1");
    assert!(all[..first_of_new].iter().all(|r| r.0 == 200));
    rig.stop().await;
}

/// A cable between station and PLC that a test can pull and plug back in: while pulled, open
/// connections are closed and new ones are closed at once.
struct Cable {
    address: SocketAddr,
    pulled: watch::Sender<bool>,
    task: JoinHandle<()>,
}

async fn cable(to: SocketAddr) -> Cable {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (pulled, pulled_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let mut pulled = pulled_rx.clone();
            if *pulled.borrow() {
                continue;
            }
            tokio::spawn(async move {
                let Ok(mut plc) = TcpStream::connect(to).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut plc) => {}
                    _ = pulled.wait_for(|pulled| *pulled) => {}
                }
            });
        }
    });
    Cable {
        address,
        pulled,
        task,
    }
}

/// (d) The station is away (the cable pulled) long enough for the FIFO to fill: the machine
/// blocks (HR7 bit 0, Suspended) with its records kept, and runs again once the station is back
/// and has caught up. Nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_fifo_blocks_the_machine_until_the_station_catches_up() {
    let mut rig = Rig::new(part_sim(300, 40, &[]), true).await;
    let cable = rig.cable.as_ref().expect("cable").pulled.clone();
    rig.recorded_at_least("10 records", 10).await;
    cable.send_replace(true);
    wait_view(&mut rig.station.view, "the station cut off", |v| {
        matches!(v.plc.link, PlcLink::Offline { .. })
    })
    .await;
    // 16 cycles of 40 ms fill the FIFO well within the simulator's 5 s station watchdog.
    eventually(
        "the machine blocked by its full FIFO",
        Duration::from_secs(10),
        || {
            let sim = &rig.sim;
            async move {
                sim.part_records_waiting() == takt::sim::PART_RING
                    && sim.state() == PackMlState::Suspended
                    && sim.registers()[7] & 1 == 1
            }
        },
    )
    .await;
    let made_while_away = rig.sim.lifetime_processed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        rig.sim.lifetime_processed(),
        made_while_away,
        "a blocked machine makes nothing"
    );
    assert_eq!(rig.sim.part_records().len() as u64, made_while_away);

    cable.send_replace(false);
    wait_view(&mut rig.station.view, "the station back online", |v| {
        v.plc.link == PlcLink::Online
    })
    .await;
    eventually(
        "the machine running again after the catch-up",
        Duration::from_secs(30),
        || {
            let sim = &rig.sim;
            async move { sim.lifetime_processed() >= made_while_away + 20 }
        },
    )
    .await;
    let all = rig.settle().await;
    assert!(rig.sim.part_records_wiped().is_empty());
    assert_eq!(without_order(&all), expected(&rig.sim.part_records()));
    rig.stop().await;
}

/// Run by the parent as a separate process: a station on the parent's database and simulator,
/// running WO-24001, until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by a_station_killed_between_commit_and_ack_records_the_part_once as a child process"]
async fn part_records_crash_child() {
    let (Some(db), Some(plc)) = (std::env::var_os(CHILD_DB), std::env::var(CHILD_PLC).ok()) else {
        return;
    };
    let station = start_station(Path::new(&db), &plc).await;
    start_order(&station).await;
    println!("RUNNING");
    std::future::pending::<()>().await;
}

/// The child process, killed when the test ends however it ends.
struct ChildStation(std::process::Child);

impl Drop for ChildStation {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (b) The station is killed (SIGKILL) after committing a record whose ack never reached the PLC:
/// the restarted station reads the same head again, recognises it and acknowledges it without a
/// second record, and carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_killed_between_commit_and_ack_records_the_part_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    drop(crate::support::station_store_with_demo_master(&db).await);
    let sim = takt::sim::spawn(([127, 0, 0, 1], 0).into(), part_sim(400, 60, &[]))
        .await
        .expect("sim");
    let mut child = ChildStation(
        Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "part_records::part_records_crash_child",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DB, &db)
            .env(CHILD_PLC, sim.local_addr().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child"),
    );
    let stdout = child.0.stdout.take().expect("child stdout");
    let running = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // The test harness prints the test's name on the same line first.
            .any(|line| line.trim_end().ends_with("RUNNING"))
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(30), running)
            .await
            .expect("child in time")
            .expect("reader"),
        "the child station started its order"
    );
    eventually("10 records from the child", Duration::from_secs(30), || {
        let db = db.clone();
        async move { recorded(&db).len() >= 10 }
    })
    .await;

    // From now on the PLC loses the acks: the station commits the head, writes its ack, and the
    // PLC still shows the same record.
    sim.ignore_part_acks(true);
    let head_serial = || {
        let r = sim.registers();
        takt::plc::map::text_from_words(&r[38..48], true)
    };
    eventually(
        "the head committed but not acknowledged",
        Duration::from_secs(10),
        || {
            let db = db.clone();
            let head = head_serial();
            async move { recorded(&db).last().is_some_and(|last| last.2 == head) }
        },
    )
    .await;
    // Several polls on the unacknowledged head: the child does not record it again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let committed = head_serial();
    assert_eq!(recorded(&db).iter().filter(|r| r.2 == committed).count(), 1);
    child.0.kill().expect("kill -9 the child station");
    let _ = child.0.wait();
    sim.ignore_part_acks(false);
    assert_eq!(head_serial(), committed, "the PLC still shows it");

    // The station comes back on its database: the order was found running and is paused; the
    // head it reads first is the one it committed before it died.
    let station = start_station(&db, &sim.local_addr().to_string()).await;
    let mut rig = Rig {
        dir,
        sim,
        station,
        cable: None,
    };
    let db = rig.db();
    eventually(
        "the committed head acknowledged after the restart",
        Duration::from_secs(10),
        || {
            let sim = &rig.sim;
            let head = {
                let r = sim.registers();
                takt::plc::map::text_from_words(&r[38..48], true)
            };
            let committed = committed.clone();
            async move { head != committed }
        },
    )
    .await;
    scan(&rig.station, "@RESUME").await;
    let before = recorded(&db).len();
    rig.recorded_at_least("20 more records after the restart", before + 20)
        .await;
    let all = rig.settle().await;
    assert!(rig.sim.part_records_wiped().is_empty());
    assert_eq!(without_order(&all), expected(&rig.sim.part_records()));
    assert_eq!(all.iter().filter(|r| r.2 == committed).count(), 1);
    // Memory rebuilt from the projections equals a replay of the log, part mark included.
    let store = Store::open(&db, &station_id()).expect("store");
    let state = store.load_state().expect("load");
    assert_eq!(state, store.replay_state().expect("replay"));
    assert_eq!(
        state.last_part.map(|p| p.serial),
        all.last().map(|r| r.2.clone())
    );
    drop(store);
    rig.stop().await;
}

/// The dedup rule through the core on a real file: a head recorded and then read again (by the
/// same core, or by a new one after a crash) is acknowledged, not recorded twice; the ack is what
/// the core publishes after the commit; a new epoch's seq 1 is a new part.
#[tokio::test]
async fn the_core_records_a_head_once_and_publishes_its_ack_after_the_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    drop(crate::support::station_store_with_demo_master(&db).await);
    let clock = ManualClock::new(chrono::Utc::now());
    let core = |plc: watch::Sender<PlcOutputs>| {
        Core::new(
            Store::open(&db, &station_id()).expect("store"),
            Arc::new(clock.clone()),
            CoreOutputs {
                plc,
                ..CoreOutputs::detached("L1-S1")
            },
            Some("127.0.0.1:1"),
            false,
        )
        .expect("core")
    };
    let head = |epoch: u16, seq: u32, result: u16| PartRecordHead {
        plc_epoch: epoch,
        record_seq: seq,
        result,
        reject_reason: if result == 2 { 4 } else { 0 },
        cycle_ms: 4500,
        serial: format!("S{epoch}-{seq:06}"),
    };
    let sample = PlcSample {
        map_version: 1,
        heartbeat: 1,
        epoch: 7,
        state: PackMlState::Execute,
        unit_mode: 1,
        stop_reason: 0,
        warning: 0,
        interlock_bits: 0,
        stacklight_bits: 0,
        speed_x100: 0,
        processed: 0,
        defective: 0,
        consumed: 0,
        cycles: 0,
        last_cycle_ms: 4500,
        recipe: 0,
    };
    let (plc_tx, plc) = watch::channel(PlcOutputs::default());
    let mut first = core(plc_tx);
    let feed = |core: &mut Core, event: PlcEvent| {
        core.handle(CoreInput::Plc(event));
        core.publish();
    };
    feed(&mut first, PlcEvent::Sample(sample));
    feed(&mut first, PlcEvent::PartRecord(head(7, 1, 1)));
    assert_eq!(
        plc.borrow().part_ack,
        Some(PartAck {
            plc_epoch: 7,
            record_seq: 1
        })
    );
    feed(&mut first, PlcEvent::PartRecord(head(7, 1, 1)));
    feed(&mut first, PlcEvent::PartRecord(head(7, 2, 2)));
    assert_eq!(recorded(&db).len(), 2);
    // A crash after the commit of seq 2, before its ack: a new core on the same file.
    drop(first);
    let (plc_tx, plc) = watch::channel(PlcOutputs::default());
    let mut second = core(plc_tx);
    assert_eq!(
        plc.borrow().part_ack,
        Some(PartAck {
            plc_epoch: 7,
            record_seq: 2
        }),
        "the ack of the record committed before the crash"
    );
    feed(&mut second, PlcEvent::PartRecord(head(7, 2, 2)));
    assert_eq!(recorded(&db).len(), 2, "read again, not recorded again");
    feed(&mut second, PlcEvent::PartRecord(head(8, 2, 1)));
    feed(&mut second, PlcEvent::PartRecord(head(8, 3, 1)));
    let all = recorded(&db);
    let keys: Vec<(u16, u32, PartResult)> = all.iter().map(|r| (r.0, r.1, r.3)).collect();
    assert_eq!(
        keys,
        [
            (7, 1, PartResult::Good),
            (7, 2, PartResult::Reject),
            (8, 2, PartResult::Good),
            (8, 3, PartResult::Good)
        ]
    );
    assert_eq!(
        plc.borrow().part_ack,
        Some(PartAck {
            plc_epoch: 8,
            record_seq: 3
        })
    );
    assert!(all.iter().all(|r| r.4.is_none()), "no order runs");
}

/// `takt plc-sim --part-records --part-ring 4` as a PLC programmer would poke it with a plain
/// Modbus client: the head at HR32–47, the machine blocked once four records wait, an ack popping
/// the head.
#[tokio::test]
async fn the_cli_simulator_keeps_a_part_record_fifo() {
    use tokio_modbus::client::{Reader, Writer, tcp};
    let mut child = ChildStation(
        Command::new(env!("CARGO_BIN_EXE_takt"))
            .args([
                "plc-sim",
                "--listen",
                "127.0.0.1:0",
                "--cycle-ms",
                "20",
                "--epoch",
                "42",
                "--part-records",
                "--part-ring",
                "4",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("takt plc-sim"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .next()
            .and_then(Result::ok)
            .unwrap_or_default()
    })
    .await
    .expect("reader");
    let address: SocketAddr = line
        .rsplit(' ')
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let mut plc = tcp::connect(address).await.expect("connect");
    // Heartbeat and permit, as a station writes them.
    plc.write_single_register(103, 1)
        .await
        .expect("transport")
        .expect("heartbeat");
    plc.write_single_register(107, 1)
        .await
        .expect("transport")
        .expect("permit");
    let mut status = Vec::new();
    for _ in 0..100 {
        status = plc
            .read_holding_registers(0, 48)
            .await
            .expect("transport")
            .expect("status");
        if status[7] & 1 == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status[7] & 1, 1, "blocked by its full FIFO: {status:?}");
    assert_eq!(status[3], PackMlState::Suspended.code());
    assert_eq!(
        takt::plc::map::words_to_u32(status[12], status[13]),
        4,
        "four parts, four records"
    );
    assert_eq!(takt::plc::map::words_to_u32(status[32], status[33]), 1);
    assert!(matches!(status[34], 1 | 2));
    assert_eq!(takt::plc::map::words_to_u32(status[36], status[37]), 20);
    assert_eq!(
        takt::plc::map::text_from_words(&status[38..48], true),
        "S42-000001"
    );
    plc.write_multiple_registers(104, &[0, 1])
        .await
        .expect("transport")
        .expect("ack");
    let head = plc
        .read_holding_registers(32, 2)
        .await
        .expect("transport")
        .expect("head");
    assert_eq!(takt::plc::map::words_to_u32(head[0], head[1]), 2);
}
