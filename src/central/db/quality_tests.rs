//! Open holds, NCRs and line yield on a real central database file with the demo plant, fed
//! through the real ingest (chain, signature and role checks included).

use super::Db;
use super::ncrs::NcrStatus;
use super::quality_holds::HeldBy;
use crate::domain::disposition::{Disposition, DispositionPart};
use crate::domain::signature::{Meaning, SignatureInput, signature_events};
use crate::domain::{
    Actor, Badge, Event, EventKind, GENESIS_HASH, LotId, NewEvent, OutputForm, Quantity, StationId,
    WorkOrderId,
};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

const INSPECTOR: &str = "EMP-2001";

/// A station's log as it grows: sealed and chained events, sent to central batch by batch.
struct Log {
    station: StationId,
    events: Vec<Event>,
}

impl Log {
    fn new(station: &str) -> Log {
        Log {
            station: StationId::from(station),
            events: Vec::new(),
        }
    }

    fn seal(&mut self, new: NewEvent) -> Event {
        let prev = self
            .events
            .last()
            .map_or(GENESIS_HASH.to_owned(), |e| e.hash.clone());
        let event = Event::seal(
            new,
            self.station.clone(),
            self.events.len() as u64 + 1,
            Uuid::now_v7(),
            prev,
        );
        self.events.push(event.clone());
        event
    }

    /// `kind` by `actor` at `at`, with the actor's signature when it is signature-grade; the
    /// events to send.
    fn record(&mut self, at: DateTime<Utc>, actor: Actor, kind: EventKind) -> Vec<Event> {
        let new = NewEvent { at, actor, kind };
        let mut batch = Vec::new();
        let signatures = match (
            &new.actor,
            crate::domain::signature::needs_signature(&new.kind),
        ) {
            (Actor::Operator(badge), true) => signature_events(
                &self.station,
                &new,
                &[(
                    SignatureInput {
                        badge: badge.clone(),
                        meaning: Meaning::Approved,
                    },
                    "Demo Inspector".to_owned(),
                )],
            ),
            _ => Vec::new(),
        };
        batch.push(self.seal(new));
        for signature in signatures {
            batch.push(self.seal(signature));
        }
        batch
    }

    fn send(&mut self, db: &mut Db, batch: &[Event]) {
        let ack = db
            .ingest(&self.station, batch, Utc::now())
            .expect("central takes the batch");
        assert!(ack.quarantined.is_empty(), "{:?}", ack.quarantined);
    }

    fn by(&mut self, db: &mut Db, at: DateTime<Utc>, actor: Actor, kind: EventKind) {
        let batch = self.record(at, actor, kind);
        self.send(db, &batch);
    }
}

fn inspector() -> Actor {
    Actor::Operator(Badge::from(INSPECTOR))
}

fn demo(dir: &tempfile::TempDir) -> Db {
    let path = dir.path().join("central.db");
    crate::central::seed_demo(&path, Utc::now().date_naive()).expect("demo plant");
    Db::open(&path).expect("open")
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

fn output(lot: &str, operation: &str, next: &str, quantity: u64) -> EventKind {
    EventKind::OutputCreated {
        work_order: WorkOrderId::from("WO-24001"),
        operation: operation.into(),
        output: LotId::from(lot),
        form: OutputForm::Lot,
        material: "CAST-200".into(),
        quantity: Quantity::units(quantity),
        inputs: vec![LotId::from("C24-1107")],
        operator: None,
        next_operation: Some(next.into()),
        machine_state: None,
    }
}

fn held(lot: &str, reason: &str) -> EventKind {
    EventKind::LotHeld {
        lot: LotId::from(lot),
        reason: reason.into(),
    }
}

fn part(lot: &str, quantity: u64, disposition: Disposition) -> DispositionPart {
    DispositionPart {
        lot: LotId::from(lot),
        quantity: Quantity::units(quantity),
        disposition,
    }
}

fn disposed(lot: &str, parts: Vec<DispositionPart>, ncr: Option<&str>) -> EventKind {
    EventKind::LotDispositioned {
        lot: LotId::from(lot),
        parts,
        reason: "porosity".into(),
        ncr: ncr.map(str::to_owned),
    }
}

fn close_to(value: Option<f64>, expected: f64) -> bool {
    value.is_some_and(|value| (value - expected).abs() < 1e-9)
}

/// The worked example of the module's definitions, by hand:
///
/// | op | entered | rejected | of its lots: scrap / rework | failed first pass | FPY |
/// |---|---|---|---|---|---|
/// | OP10 | 100 | 4 | 5 + 15 (the reworked 15 scrapped after) / 15 | 4 + 5 + 15 = 24 | 0.76 |
/// | OP20 | 80 | 4 | – | 4 | 0.95 |
/// | OP30 | 50 | 5 | – | 5 | 0.90 |
///
/// RTY = 0.76 × 0.95 × 0.90 = 0.6498. Produced 100; scrapped 4 + 4 + 5 + 20 = 33 (0.33);
/// reworked 15 (0.15). A lot made before the window, scrapped inside it, counts for nothing;
/// neither do counts outside the window.
#[test]
fn yield_follows_its_definitions_on_a_worked_example() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = demo(&dir);
    let t0 = DateTime::from_timestamp(Utc::now().timestamp() - 6 * 3600, 0).expect("t0");
    let at = |minutes: i64| t0 + Duration::minutes(minutes);
    let (from, to) = (at(0), at(240));

    let mut s1 = Log::new("L1-S1");
    let mut s2 = Log::new("L1-S2");
    let mut s3 = Log::new("L1-S3");
    s1.by(&mut db, at(-30), Actor::Plc, units("WO-24001", 40, 40));
    s1.by(
        &mut db,
        at(-20),
        Actor::Plc,
        output("OLD-1", "OP10", "OP20", 7),
    );
    s1.by(&mut db, at(10), Actor::Plc, units("WO-24001", 60, 1));
    s1.by(&mut db, at(20), Actor::Plc, units("WO-24001", 40, 3));
    s1.by(
        &mut db,
        at(25),
        Actor::Plc,
        output("T1", "OP10", "OP20", 20),
    );
    s1.by(&mut db, at(300), Actor::Plc, units("WO-24001", 9, 9));
    s2.by(&mut db, at(30), Actor::Plc, units("WO-24001", 80, 4));
    s3.by(&mut db, at(40), Actor::Plc, units("WO-24001", 50, 5));

    s3.by(&mut db, at(50), inspector(), held("T1", "porosity"));
    s3.by(
        &mut db,
        at(60),
        inspector(),
        disposed(
            "T1",
            vec![
                part("T1-1", 5, Disposition::Scrap),
                part(
                    "T1-2",
                    15,
                    Disposition::Rework {
                        operation: "OP10".into(),
                    },
                ),
            ],
            None,
        ),
    );
    s3.by(
        &mut db,
        at(90),
        inspector(),
        held("T1-2", "leaks after rework"),
    );
    s3.by(
        &mut db,
        at(100),
        inspector(),
        disposed("T1-2", vec![part("T1-2", 15, Disposition::Scrap)], None),
    );
    s3.by(&mut db, at(70), inspector(), held("OLD-1", "porosity"));
    s3.by(
        &mut db,
        at(110),
        inspector(),
        disposed("OLD-1", vec![part("OLD-1", 7, Disposition::Scrap)], None),
    );

    let report = db
        .line_yield("L1", from, to)
        .expect("yield")
        .expect("a known line");
    let rows: Vec<(&str, u64, u64, u64, u64, u64)> = report
        .operations
        .iter()
        .map(|o| {
            (
                o.operation.as_str(),
                o.entered,
                o.rejected,
                o.scrapped,
                o.reworked,
                o.failed_first_pass,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("OP10", 100, 4, 20, 15, 24),
            ("OP20", 80, 4, 0, 0, 4),
            ("OP30", 50, 5, 0, 0, 5),
        ]
    );
    let fpy: Vec<Option<f64>> = report
        .operations
        .iter()
        .map(|o| o.first_pass_yield)
        .collect();
    assert!(close_to(fpy[0], 0.76), "{fpy:?}");
    assert!(close_to(fpy[1], 0.95), "{fpy:?}");
    assert!(close_to(fpy[2], 0.90), "{fpy:?}");
    assert!(
        close_to(report.rolled_throughput_yield, 0.6498),
        "{report:?}"
    );
    assert_eq!(
        (report.produced, report.scrapped, report.reworked),
        (100, 33, 15)
    );
    assert!(close_to(report.scrap_rate, 0.33), "{report:?}");
    assert!(close_to(report.rework_rate, 0.15), "{report:?}");

    // A window with nothing in it has no yields, not 100 % nor 0 %.
    let empty = db
        .line_yield("L1", at(-600), at(-500))
        .expect("yield")
        .expect("a known line");
    assert_eq!(empty.rolled_throughput_yield, None);
    assert_eq!(empty.scrap_rate, None);
    assert!(db.line_yield("L9", from, to).expect("yield").is_none());
}

/// A hold by a person, by an inspection, by central and in master data, each said as such; a
/// disposition splits the lot, its scrapped part leaves the list and its rework part stays with
/// the rework pending; the NCR moves from open to closed with the disposition that named it.
#[test]
fn holds_and_ncrs_follow_the_events_central_applied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = demo(&dir);
    let t0 = DateTime::from_timestamp(Utc::now().timestamp() - 3600, 0).expect("t0");
    let at = |minutes: i64| t0 + Duration::minutes(minutes);
    let mut s1 = Log::new("L1-S1");
    let mut s3 = Log::new("L1-S3");
    s1.by(&mut db, at(0), Actor::Plc, output("T1", "OP10", "OP20", 20));
    s1.by(&mut db, at(1), Actor::Plc, output("T2", "OP10", "OP20", 10));

    // An inspection's reject and its hold, appended together as the station does.
    let inspection = EventKind::InspectionRecorded {
        lot: LotId::from("T1"),
        product: "BC-200".into(),
        operation: "OP10".into(),
        severity: crate::domain::aql::Severity::Normal,
        lot_size: 20,
        inspected: 5,
        findings: Vec::new(),
        defects: Vec::new(),
        verdict: crate::domain::inspection::InspectionVerdict::Reject,
        reasons: vec!["1 major nonconforming".into()],
    };
    let mut batch = s3.record(at(5), inspector(), inspection);
    batch.extend(s3.record(
        at(5),
        inspector(),
        held("T1", "failed inspection: 1 major nonconforming"),
    ));
    batch.extend(s3.record(
        at(5),
        inspector(),
        EventKind::NcrOpened {
            ncr: "NCR-L1-S3-0001".into(),
            lot: LotId::from("T1"),
            quantity: Quantity::units(20),
            what: "porosity on the bore".into(),
            containment: "tote tagged, moved to the MRB rack".into(),
        },
    ));
    s3.send(&mut db, &batch);
    s1.by(&mut db, at(6), inspector(), held("T2", "burr seen at OP20"));
    db.set_lot_hold(&LotId::from("C24-1107"), Some("supplier recall"), at(7))
        .expect("central holds");

    let holds = db.open_holds().expect("holds").holds;
    let by_lot = |lot: &str| {
        holds
            .iter()
            .find(|hold| hold.lot == lot)
            .unwrap_or_else(|| panic!("{lot} on hold: {holds:?}"))
            .clone()
    };
    let lots: Vec<&str> = holds.iter().map(|hold| hold.lot.as_str()).collect();
    // The demo's own hold has no time, so it comes last.
    assert_eq!(lots, ["T1", "T2", "C24-1107", "C24-1031"]);
    let t1 = by_lot("T1");
    assert_eq!(t1.held_by, HeldBy::Inspection);
    assert_eq!(
        (t1.station.as_deref(), t1.actor.as_deref()),
        (Some("L1-S3"), Some(INSPECTOR))
    );
    assert_eq!(t1.since, Some(at(5)));
    assert_eq!(
        t1.reason.as_deref(),
        Some("failed inspection: 1 major nonconforming")
    );
    assert_eq!(t1.product.as_deref(), Some("BC-200"));
    assert_eq!(t1.quantity, 20.0);
    assert_eq!(t1.ncr.as_deref(), Some("NCR-L1-S3-0001"));
    assert!(!t1.rework_pending);
    let t2 = by_lot("T2");
    assert_eq!(
        (t2.held_by, t2.station.as_deref()),
        (HeldBy::Station, Some("L1-S1"))
    );
    assert_eq!(t2.ncr, None);
    assert_eq!(by_lot("C24-1107").held_by, HeldBy::Central);
    let demo_hold = by_lot("C24-1031");
    assert_eq!(demo_hold.held_by, HeldBy::MasterData);
    assert_eq!(demo_hold.product, None);

    let open = db.ncrs(NcrStatus::Open).expect("ncrs").ncrs;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].disposition, None);
    assert_eq!(
        (
            open[0].lot.as_str(),
            open[0].quantity,
            open[0].opened_by.as_str()
        ),
        ("T1", 20.0, INSPECTOR)
    );

    s3.by(
        &mut db,
        at(10),
        inspector(),
        disposed(
            "T1",
            vec![
                part("T1-1", 5, Disposition::Scrap),
                part(
                    "T1-2",
                    15,
                    Disposition::Rework {
                        operation: "OP10".into(),
                    },
                ),
            ],
            Some("NCR-L1-S3-0001"),
        ),
    );
    s1.by(
        &mut db,
        at(11),
        inspector(),
        EventKind::LotReleased {
            lot: LotId::from("T2"),
            lifts: Some(at(6)),
        },
    );
    let holds = db.open_holds().expect("holds").holds;
    let lots: Vec<&str> = holds.iter().map(|hold| hold.lot.as_str()).collect();
    assert_eq!(lots, ["C24-1107", "T1-2", "C24-1031"]);
    let rework = &holds[1];
    assert_eq!(rework.held_by, HeldBy::Disposition);
    assert!(rework.rework_pending);
    assert_eq!(
        rework.rework.as_ref().map(|r| r.operation.as_str()),
        Some("OP10")
    );
    assert_eq!(rework.product.as_deref(), Some("BC-200"));
    // The NCR of the lot it was split from.
    assert_eq!(rework.ncr.as_deref(), Some("NCR-L1-S3-0001"));

    s3.by(
        &mut db,
        at(20),
        inspector(),
        EventKind::NcrClosed {
            ncr: "NCR-L1-S3-0001".into(),
            lot: LotId::from("T1"),
            closure: "cause: core shift; action: core pins replaced".into(),
        },
    );
    assert!(db.ncrs(NcrStatus::Open).expect("ncrs").ncrs.is_empty());
    let closed = db.ncrs(NcrStatus::Closed).expect("ncrs").ncrs;
    assert_eq!(closed.len(), 1);
    assert_eq!(
        closed[0].disposition.as_deref(),
        Some("5 scrap (T1-1), 15 rework at OP10 (T1-2): porosity")
    );
    assert_eq!(closed[0].closed_at, Some(at(20)));
    assert_eq!(closed[0].closed_by.as_deref(), Some(INSPECTOR));
    assert_eq!(db.ncrs(NcrStatus::All).expect("ncrs").ncrs.len(), 1);
    let holds = db.open_holds().expect("holds").holds;
    assert_eq!(holds[1].ncr, None, "{holds:?}");
}

/// A database that took NCR events before the table existed gets them projected on upgrade.
#[test]
fn ncrs_taken_before_the_table_existed_are_projected_on_upgrade() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("central.db");
    {
        let mut db = demo(&dir);
        let mut s3 = Log::new("L1-S3");
        let at = Utc::now() - Duration::minutes(5);
        s3.by(
            &mut db,
            at,
            inspector(),
            EventKind::NcrOpened {
                ncr: "NCR-L1-S3-0001".into(),
                lot: LotId::from("C24-1107"),
                quantity: Quantity::units(3),
                what: "cracked".into(),
                containment: "set apart".into(),
            },
        );
    }
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch("DROP TABLE ncrs; DROP INDEX lots_held; PRAGMA user_version = 12;")
            .expect("back to schema 12");
    }
    let db = Db::open(&path).expect("upgrade");
    let open = db.ncrs(NcrStatus::Open).expect("ncrs").ncrs;
    assert_eq!(
        open.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["NCR-L1-S3-0001"]
    );
}
