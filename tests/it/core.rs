//! The station core on a real SQLite file, fed the inputs the PLC poller and sync worker send.

use crate::support::{CASTING_C24_1107, demo_master_page, station_id};
use std::sync::Arc;
use takt::clock::ManualClock;
use takt::domain::{EventKind, PackMlState, WorkOrderStatus};
use takt::plc::{PlcEvent, PlcOutputs};
use takt::protocol::{Change, ChangePage, MasterRecord};
use takt::station::{Core, CoreInput, CoreOutputs, Level, Notice};
use takt::store::{Store, connect, read_events_after};
use tokio::sync::watch;

pub(crate) struct Rig {
    pub(crate) core: Core,
    pub(crate) clock: ManualClock,
    pub(crate) db: std::path::PathBuf,
    pub(crate) plc: watch::Receiver<PlcOutputs>,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) async fn rig() -> Rig {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    let store = crate::support::station_store_with_demo_master(&db).await;
    let (plc_tx, plc) = watch::channel(PlcOutputs::default());
    let outputs = CoreOutputs {
        plc: plc_tx,
        ..CoreOutputs::detached("L1-S1")
    };
    // Today at 08:00 UTC, inside the demo calendar's early shift and clear of its breaks (10:00,
    // 18:00, 02:00): a break would be planned time off and change the live KPIs asserted here.
    let start = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(8, 0, 0)
        .expect("a valid time")
        .and_utc();
    let clock = ManualClock::new(start);
    let core = Core::new(
        store,
        Arc::new(clock.clone()),
        outputs,
        Some("127.0.0.1:1"),
        true,
    )
    .expect("core");
    Rig {
        core,
        clock,
        db,
        plc,
        _dir: dir,
    }
}

impl Rig {
    pub(crate) fn input(&mut self, input: CoreInput) -> Option<Notice> {
        let notice = self.core.handle(input);
        self.core.publish();
        notice
    }

    /// Badge, then PIN (the demo PIN is the badge's number).
    pub(crate) fn login(&mut self, badge: &str) -> Notice {
        let asked = self.scan(badge);
        assert_eq!(asked.level, Level::Info, "{}", asked.text);
        let pin = takt::central::demo::demo_pin(badge).expect("a demo badge");
        self.scan(pin)
    }

    pub(crate) fn scan(&mut self, text: &str) -> Notice {
        self.input(CoreInput::Scan(text.into()))
            .expect("a scan always answers")
    }

    pub(crate) fn sample(&mut self, processed: u32, defective: u32) -> Option<Notice> {
        self.beat(processed, defective, 1)
    }

    /// A sample with the PLC's heartbeat at `heartbeat`.
    pub(crate) fn beat(
        &mut self,
        processed: u32,
        defective: u32,
        heartbeat: u16,
    ) -> Option<Notice> {
        self.machine(processed, defective, heartbeat, PackMlState::Execute, 0)
    }

    /// A sample in `state` with first-out stop reason `stop_reason`.
    pub(crate) fn machine(
        &mut self,
        processed: u32,
        defective: u32,
        heartbeat: u16,
        state: PackMlState,
        stop_reason: u16,
    ) -> Option<Notice> {
        self.input(CoreInput::Plc(PlcEvent::Sample(
            crate::support::plc_sample(heartbeat, processed, defective, state, stop_reason),
        )))
    }

    /// Units booked in the log, whatever order they went to.
    pub(crate) fn produced(&self) -> u64 {
        self.kinds()
            .iter()
            .filter_map(|k| match k {
                EventKind::UnitsProduced { produced, .. } => Some(*produced),
                _ => None,
            })
            .sum()
    }

    pub(crate) fn kinds(&self) -> Vec<EventKind> {
        let conn = connect(&self.db, true).expect("read");
        read_events_after(&conn, 0, u64::MAX)
            .expect("events")
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

#[tokio::test]
async fn refused_scans_are_evidence_refused_keys_are_not() {
    let mut rig = rig().await;
    let notice = rig.scan("WO-24004");
    assert_eq!(notice.level, Level::Refused);
    assert_eq!(notice.text, "Nobody is logged in. Scan your badge first.");
    let refused = rig
        .input(CoreInput::Command(takt::domain::Command::Start))
        .expect("answer");
    assert_eq!(refused.level, Level::Refused);
    let kinds = rig.kinds();
    assert_eq!(kinds.len(), 1, "only the scan is recorded: {kinds:?}");
    assert!(matches!(&kinds[0], EventKind::ScanRefused { scanned, .. } if scanned == "WO-24004"));
}

#[tokio::test]
async fn the_permit_follows_login_start_pause_and_logout() {
    let mut rig = rig().await;
    assert!(!rig.plc.borrow().permit);
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    assert!(!rig.plc.borrow().permit, "selected is not running");
    let started = rig.scan("@START");
    assert!(
        started.text.contains("waits for material: scan CAST-200"),
        "{}",
        started.text
    );
    assert!(
        !rig.plc.borrow().permit,
        "no verified casting lot: no permit"
    );
    let loaded = rig.scan(CASTING_C24_1107);
    assert_eq!(loaded.level, Level::Ok, "{}", loaded.text);
    assert_eq!(
        *rig.plc.borrow(),
        PlcOutputs {
            permit: true,
            work_order_numeric: 24001,
            andon: 0,
            ..PlcOutputs::default()
        }
    );
    rig.scan("@PAUSE");
    assert!(!rig.plc.borrow().permit);
    rig.scan("@RESUME");
    assert!(rig.plc.borrow().permit);
    rig.scan("@LOGOUT");
    assert!(!rig.plc.borrow().permit, "nobody logged in: no permit");
}

#[tokio::test]
async fn reaching_the_quantity_is_said_once() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    rig.scan("WO-24002"); // BC-210 x 60
    rig.scan("@START");
    assert_eq!(rig.sample(1000, 0), None, "first contact sets the baseline");
    assert_eq!(rig.sample(1059, 0), None);
    let notice = rig.sample(1061, 1).expect("quantity reached");
    assert_eq!(notice.level, Level::Info);
    assert!(notice.text.contains("60 of 60 good"), "{}", notice.text);
    assert_eq!(rig.sample(1062, 1), None, "said once, not at every unit");
}

#[tokio::test]
async fn a_hold_from_central_blocks_production_at_once() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    rig.scan(CASTING_C24_1107);
    rig.scan("@START");
    assert!(rig.plc.borrow().permit);
    let mut order =
        match demo_master_page()
            .await
            .changes
            .into_iter()
            .find_map(|c| match c.record {
                MasterRecord::WorkOrder(w) if w.id.as_str() == "WO-24001" => Some(w),
                _ => None,
            }) {
            Some(order) => order,
            None => panic!("WO-24001 in the demo plant"),
        };
    order.status = WorkOrderStatus::OnHold;
    let notice = rig
        .input(CoreInput::Sync(takt::sync::SyncReport::Changes(
            ChangePage {
                changes: vec![Change {
                    version: 1000,
                    record: MasterRecord::WorkOrder(order),
                }],
                cursor: 1000,
                more: false,
                server_time: chrono::Utc::now(),
                waited_ms: 0,
            },
        )))
        .expect("the hold is said");
    assert!(
        notice.text.contains("on hold") && notice.text.contains("blocked"),
        "{}",
        notice.text
    );
    assert!(
        !rig.plc.borrow().permit,
        "the machine loses its permit at once"
    );
    // Units the machine finishes in between are still counted: facts are never refused.
    rig.sample(5, 0);
    rig.sample(7, 0);
    let produced = rig.produced();
    assert_eq!(produced, 2);
    assert_eq!(rig.scan("@RESUME").level, Level::Refused);
}

#[tokio::test]
async fn a_machine_never_restarts_unattended() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    rig.scan(CASTING_C24_1107);
    rig.scan("@START");
    assert!(rig.plc.borrow().permit);
    // Quitting pauses the running order and drops the permit.
    let notice = rig.input(CoreInput::Shutdown).expect("said");
    assert!(
        notice.text.contains("WO-24001 was paused"),
        "{}",
        notice.text
    );
    assert!(!rig.plc.borrow().permit);
    assert!(matches!(
        rig.kinds().last(),
        Some(EventKind::WorkOrderPaused { .. })
    ));
    rig.scan("@RESUME");
    assert!(rig.plc.borrow().permit);

    // A crash while running: the next start finds the order running and pauses it before the PLC
    // poller could write a permit.
    let Rig { core, db, _dir, .. } = rig;
    drop(core);
    let store = Store::open(&db, &station_id()).expect("reopen");
    let (plc_tx, plc) = watch::channel(PlcOutputs {
        permit: true,
        work_order_numeric: 0,
        andon: 0,
        ..PlcOutputs::default()
    });
    let core = Core::new(
        store,
        Arc::new(ManualClock::new(chrono::Utc::now())),
        CoreOutputs {
            plc: plc_tx,
            ..CoreOutputs::detached("L1-S1")
        },
        Some("127.0.0.1:1"),
        true,
    )
    .expect("core");
    assert!(!plc.borrow().permit, "no permit after a restart");
    assert!(!core.state().is_running());
    let conn = connect(&db, true).expect("read");
    let last = read_events_after(&conn, 0, u64::MAX)
        .expect("events")
        .pop()
        .expect("event");
    assert_eq!(last.actor, takt::domain::Actor::Station);
    assert!(matches!(last.kind, EventKind::WorkOrderPaused { .. }));
}

#[tokio::test]
async fn a_disk_that_refuses_writes_loses_nothing_and_says_so_once() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    rig.scan(CASTING_C24_1107);
    rig.scan("@START");
    assert_eq!(rig.sample(10, 0), None, "baseline");
    let before = rig.kinds().len();

    // The disk goes bad (simulated with a trigger refusing inserts into the log).
    let breaker = rusqlite::Connection::open(&rig.db).expect("open");
    breaker
        .execute_batch(
            "CREATE TRIGGER broken_disk BEFORE INSERT ON event_log
             BEGIN SELECT RAISE(ABORT, 'disk I/O error (simulated)'); END;",
        )
        .expect("break the disk");
    let notice = rig.scan("@PAUSE");
    assert_eq!(notice.level, Level::Error);
    assert!(notice.text.starts_with("Not saved"), "{}", notice.text);
    assert!(
        rig.plc.borrow().permit,
        "a pause that was not saved did not happen"
    );
    let first = rig.sample(13, 1).expect("said once");
    assert!(
        first.text.contains("Cannot record machine counts"),
        "{}",
        first.text
    );
    assert_eq!(rig.sample(15, 1), None, "not again at every poll");
    assert_eq!(rig.kinds().len(), before, "nothing half-written");

    // Mended: the counts the PLC kept are booked in one go, the pause works.
    breaker
        .execute_batch("DROP TRIGGER broken_disk")
        .expect("mend");
    rig.sample(16, 1);
    let produced = rig.produced();
    assert_eq!(produced, 6);
    assert_eq!(rig.scan("@PAUSE").level, Level::Ok);
    assert!(!rig.plc.borrow().permit);
}

#[tokio::test]
async fn a_double_read_is_ignored_and_said_so() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    let before = rig.kinds().len();
    assert_eq!(rig.scan("WO-24001").level, Level::Ok);
    let again = rig.scan("WO-24001");
    assert_eq!(again.level, Level::Info);
    assert!(again.text.contains("scanned twice"), "{}", again.text);
    assert_eq!(
        rig.kinds().len(),
        before + 1,
        "no refusal recorded for a double read"
    );
    // Later, the same order is a real second request and is refused in words.
    rig.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(rig.scan("WO-24001").level, Level::Refused);
}

#[tokio::test]
async fn lots_are_checked_consumed_and_survive_a_restart() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    // The held casting lot: refused in words, recorded as evidence, no permit.
    let held = rig.scan("]C1010040123450001210C24-1031\u{1d}30120");
    assert_eq!(held.level, Level::Refused);
    assert_eq!(
        held.text,
        "Lot C24-1031 is ON HOLD (porosity suspected). Do not use it: set it aside and take another lot."
    );
    assert!(matches!(
        rig.kinds().last(),
        Some(EventKind::ScanRefused { reason, entry: Some(takt::domain::Entry::Scanned), .. })
            if reason.contains("ON HOLD")
    ));
    // A keyed label is recorded as keyed.
    let keyed = rig
        .input(CoreInput::Keyed(
            "(01)00401234500012(10)C24-1107(30)400".into(),
        ))
        .expect("answer");
    assert_eq!(keyed.level, Level::Ok, "{}", keyed.text);
    assert!(matches!(
        rig.kinds().last(),
        Some(EventKind::LotLoaded {
            entry: takt::domain::Entry::Keyed,
            ..
        })
    ));
    rig.scan("@START");
    assert!(rig.plc.borrow().permit);
    rig.sample(100, 0);
    rig.sample(125, 2);
    let outputs = rig
        .kinds()
        .iter()
        .filter(|k| matches!(k, EventKind::OutputCreated { .. }))
        .count();
    assert_eq!(outputs, 1, "23 good units: one full tote of 20");

    // What the projections hold is what the log says, after a restart too.
    let Rig { core, db, _dir, .. } = rig;
    let live = core.state().clone();
    drop(core);
    let store = Store::open(&db, &station_id()).expect("reopen");
    let loaded = store.load_state().expect("load");
    assert_eq!(loaded, store.replay_state().expect("replay"));
    assert_eq!(loaded.lots, live.lots);
    assert_eq!(loaded.lot_usage, live.lot_usage);
    assert_eq!(loaded.progress, live.progress);
    assert_eq!(loaded.outputs_made, 1);
    let used = loaded
        .lot_usage
        .get(&takt::domain::LotId::from("C24-1107"))
        .copied();
    assert_eq!(used, Some(takt::domain::Quantity::units(25)));
}

#[tokio::test]
async fn a_frozen_heartbeat_and_a_lost_link_are_recorded_with_their_intervals() {
    let mut rig = rig().await;
    assert_eq!(rig.beat(10, 0, 1), None, "first contact");
    rig.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(
        rig.beat(10, 0, 1),
        None,
        "2 s without a beat is not yet stale"
    );
    rig.clock.advance(chrono::Duration::seconds(2));
    let stale = rig.beat(10, 0, 1).expect("said");
    assert_eq!(stale.level, Level::Error);
    assert!(
        stale.text.contains("heartbeat has stood still for 4 s"),
        "{}",
        stale.text
    );
    assert!(matches!(
        rig.kinds().last(),
        Some(EventKind::PlcStale {
            frozen_ms: 4000,
            ..
        })
    ));
    rig.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(rig.beat(10, 0, 1), None, "stale is said once");
    rig.clock.advance(chrono::Duration::seconds(1));
    let fresh = rig.beat(10, 0, 2).expect("said");
    assert_eq!(fresh.level, Level::Info);
    assert!(matches!(
        rig.kinds().last(),
        Some(EventKind::PlcFresh { stale_ms: 6000 })
    ));

    // The link drops for 7 s: lost and restored, with the interval.
    rig.input(CoreInput::Plc(PlcEvent::LinkDown {
        error: "timeout".into(),
        retry_in: std::time::Duration::from_millis(250),
    }));
    assert!(matches!(
        rig.kinds().last(),
        Some(EventKind::PlcCommsLost { reason }) if reason == "timeout"
    ));
    rig.clock.advance(chrono::Duration::seconds(7));
    rig.beat(10, 0, 3);
    assert!(
        rig.kinds()
            .iter()
            .any(|k| matches!(k, EventKind::PlcCommsRestored { down_ms: 7000 })),
        "{:?}",
        rig.kinds()
    );
}

#[tokio::test]
async fn a_fault_opens_a_stop_that_the_operator_codes_by_scanning() {
    let mut rig = rig().await;
    rig.core
        .set_stop_reasons([(1u16, "R-11".to_owned())].into_iter().collect());
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    rig.scan(CASTING_C24_1107);
    rig.scan("@START");
    rig.sample(10, 0);
    // Spindle overload: the machine stops, a stop opens with the usual reason as a suggestion.
    let down = rig
        .machine(12, 0, 1, PackMlState::Stopped, 1)
        .expect("said at once");
    assert!(
        down.text.contains("DOWN (PLC stop reason 1, usually R-11)"),
        "{}",
        down.text
    );
    let stop = rig.core.state().downtimes.last().cloned().expect("stop");
    assert!(stop.uncoded() && stop.ended_at.is_none());
    assert_eq!(stop.reason.as_deref(), Some("R-11"));
    // The operator knows better: the fixture clamp. Coded by scanning the reason barcode.
    let coded = rig.scan("R-12");
    assert_eq!(coded.level, Level::Ok, "{}", coded.text);
    assert!(
        coded.text.contains("coded as R-12 (fixture)"),
        "{}",
        coded.text
    );
    let stop = rig.core.state().downtimes.last().cloned().expect("stop");
    assert_eq!(stop.reason.as_deref(), Some("R-12"));
    assert_eq!(stop.coded_by.as_ref().map(|b| b.as_str()), Some("EMP-1001"));
    // Running again ends it.
    rig.clock.advance(chrono::Duration::seconds(90));
    rig.machine(12, 0, 2, PackMlState::Execute, 0);
    let stop = rig.core.state().downtimes.last().cloned().expect("stop");
    assert!(stop.ended_at.is_some());
    // Nothing left to code: a planned reason declares planned downtime, an unplanned one is refused.
    assert_eq!(
        rig.scan("R-20").text,
        "There is no stop to give a reason for. To declare planned downtime, scan a planned reason (changeover, break, maintenance)."
    );
    // A break declared while the machine runs would book running time as planned: refused.
    let refused = rig.scan("R-81");
    assert!(
        refused
            .text
            .contains("planned downtime R-81 starts when it has stopped"),
        "{}",
        refused.text
    );
    rig.clock.advance(chrono::Duration::seconds(2));
    rig.machine(12, 0, 3, PackMlState::Idle, 0);
    let planned = rig.scan("R-81");
    assert!(
        planned.text.contains("Planned downtime R-81 (break)"),
        "{}",
        planned.text
    );
    assert!(rig.core.state().downtimes.last().is_some_and(|d| d.planned));

    // The records survive a restart exactly as the log says.
    let Rig { core, db, _dir, .. } = rig;
    let live = core.state().downtimes.clone();
    drop(core);
    let store = Store::open(&db, &station_id()).expect("reopen");
    let loaded = store.load_state().expect("load");
    assert_eq!(loaded.downtimes, live);
    assert_eq!(loaded, store.replay_state().expect("replay"));
}

#[tokio::test]
async fn an_andon_call_reaches_the_plc_and_its_answer_is_timed() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    let called = rig.scan("@ANDON-MAT");
    assert_eq!(called.level, Level::Ok, "{}", called.text);
    assert!(
        called.text.contains("ANDON MATERIAL called"),
        "{}",
        called.text
    );
    assert_eq!(
        rig.plc.borrow().andon,
        2,
        "material is 2 in the command block"
    );
    // Another kind while one is open is refused in words.
    let other = rig.scan("@ANDON-HELP");
    assert_eq!(other.level, Level::Refused);
    assert!(
        other.text.contains("A material call is open"),
        "{}",
        other.text
    );
    rig.clock.advance(chrono::Duration::seconds(95));
    let answered = rig.scan("@ANDON-MAT");
    assert!(
        answered.text.contains("answered after 95 s"),
        "{}",
        answered.text
    );
    assert_eq!(rig.plc.borrow().andon, 0);
    assert!(matches!(
        rig.kinds().last(),
        Some(EventKind::AndonAnswered {
            response_ms: 95_000,
            ..
        })
    ));
}

/// Live OEE of the running order against a hand calculation: 60 s running, then 20 s down with a
/// fault; 12 units made, 1 rejected; ideal cycle (PRI) 4.5 s at OP10.
///
/// A = APT / PBT = 60 / 80 = 0.75; E = PRI × PQ / APT = 4.5 × 12 / 60 = 0.9;
/// QR = GQ / PQ = 11 / 12; OEE = 0.75 × 0.9 × 11/12 = 0.618 75.
#[tokio::test]
async fn live_oee_matches_a_hand_calculation() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    rig.scan(CASTING_C24_1107);
    rig.scan("@START");
    rig.beat(10, 0, 1);
    rig.clock.advance(chrono::Duration::seconds(60));
    rig.beat(22, 1, 2);
    rig.machine(22, 1, 3, PackMlState::Stopped, 1);
    rig.clock.advance(chrono::Duration::seconds(20));
    rig.machine(22, 1, 4, PackMlState::Stopped, 1);
    let kpi = rig
        .core
        .view()
        .active
        .as_ref()
        .and_then(|a| a.kpi)
        .expect("live KPIs");
    let close =
        |value: Option<f64>, expected: f64| value.is_some_and(|v| (v - expected).abs() < 1e-9);
    assert!(close(kpi.availability, 0.75), "{kpi:?}");
    assert!(close(kpi.effectiveness, 0.9), "{kpi:?}");
    assert!(close(kpi.quality, 11.0 / 12.0), "{kpi:?}");
    assert!(close(kpi.oee, 0.618_75), "{kpi:?}");
}

/// A reset is worth recording only when the PLC can hear it, once: refused while the link is down
/// or the PLC is stale, and a second press while the first is on its way is refused too.
#[tokio::test]
async fn a_reset_is_refused_while_the_plc_cannot_hear_it_and_sent_once() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    rig.scan(CASTING_C24_1107);
    rig.scan("@START");
    rig.sample(10, 0);
    rig.machine(12, 0, 1, PackMlState::Stopped, 1);
    rig.scan("R-12");
    // The link drops: nothing is recorded, the operator is told why.
    rig.input(CoreInput::Plc(PlcEvent::LinkDown {
        error: "connection reset".into(),
        retry_in: std::time::Duration::from_millis(250),
    }));
    let refused = rig.scan("@RESET");
    assert_eq!(refused.level, Level::Refused);
    assert!(
        refused.text.contains("The machine cannot be reached now"),
        "{}",
        refused.text
    );
    rig.clock.advance(chrono::Duration::seconds(1));
    rig.machine(12, 0, 2, PackMlState::Stopped, 1);
    let sent = rig.scan("@RESET");
    assert_eq!(sent.level, Level::Ok, "{}", sent.text);
    assert_eq!(
        rig.plc.borrow().machine_command.map(|c| c.code),
        Some(takt::domain::downtime::PACKML_RESET)
    );
    // Pressed again at once (the key has no double-read window): refused, nothing new recorded.
    let again = rig.core.command(takt::domain::Command::ResetMachine);
    assert!(again.text.contains("A reset was sent at"), "{}", again.text);
    let sent_events = rig
        .kinds()
        .iter()
        .filter(|k| matches!(k, EventKind::MachineCommandSent { .. }))
        .count();
    assert_eq!(sent_events, 1);
    // Ten seconds on, the command is no longer published: a restart cannot replay it.
    rig.clock.advance(chrono::Duration::seconds(11));
    rig.machine(12, 0, 3, PackMlState::Stopped, 1);
    assert_eq!(rig.plc.borrow().machine_command, None);
}

/// An ack naming events central set aside is said to the operator at once, as an error.
#[tokio::test]
async fn events_set_aside_by_central_are_said_on_the_station() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    let notice = rig
        .input(CoreInput::Sync(takt::sync::SyncReport::Acked(
            takt::protocol::BatchAck {
                acked_through: 1,
                chain_head: "x".into(),
                server_time: chrono::Utc::now(),
                quarantined: vec![takt::protocol::Quarantined {
                    station: "L1-S1".into(),
                    seq: 1,
                    kind: "units_produced".into(),
                    reason: "work order WO-99999 is unknown to central".into(),
                    at: chrono::Utc::now(),
                }],
            },
        )))
        .expect("said");
    assert_eq!(notice.level, Level::Error);
    assert_eq!(
        notice.text,
        "Central set aside event 1 (units_produced): work order WO-99999 is unknown to central. It is kept; tell the line lead."
    );
}

/// Central's clock offset as sync reports it: shown always, a notice once past 2 s (either way) and
/// once when back (at 1.5 s, so an offset hovering at the limit does not flap), and no event written.
#[tokio::test]
async fn a_clock_offset_past_two_seconds_is_said_once_and_its_end_too() {
    let mut rig = rig().await;
    let offset = |rig: &mut Rig, offset_ms: i64| {
        rig.input(CoreInput::Sync(takt::sync::SyncReport::ClockOffset {
            offset_ms,
        }))
    };
    let last_seq = rig.core.view().last_seq;
    assert_eq!(rig.core.view().central_clock_offset_ms, None);
    assert!(offset(&mut rig, 1_900).is_none());
    assert_eq!(rig.core.view().central_clock_offset_ms, Some(1_900));
    assert!(!rig.core.view().central_clock_warning);
    let notice = offset(&mut rig, 3_420).expect("past 2 s is said");
    assert_eq!(notice.level, Level::Info);
    assert_eq!(
        notice.text,
        "This terminal's clock is 3.4 s behind central's. Events keep their order; ask IT to fix the time."
    );
    assert!(rig.core.view().central_clock_warning);
    assert!(offset(&mut rig, 4_000).is_none(), "said once");
    assert!(offset(&mut rig, 1_800).is_none(), "near the limit it stays");
    assert!(rig.core.view().central_clock_warning);
    let back = offset(&mut rig, 300).expect("back in step is said");
    assert!(
        back.text.contains("agrees with central's again"),
        "{}",
        back.text
    );
    assert!(!rig.core.view().central_clock_warning);
    assert!(offset(&mut rig, 200).is_none());
    let ahead = offset(&mut rig, -125_000).expect("ahead is said too");
    assert!(
        ahead
            .text
            .starts_with("This terminal's clock is 2 min ahead of central's."),
        "{}",
        ahead.text
    );
    assert_eq!(
        rig.core.view().last_seq,
        last_seq,
        "an offset is shown, never recorded or applied to events"
    );
}
