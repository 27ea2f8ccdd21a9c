//! Holds, signed releases and corrections made at stations, as central takes them and as an
//! audit reads them: real station stores seal the events (signatures appended with their record,
//! as a signature-grade command does), a real central on loopback ingests them, and the real
//! `takt` binary verifies and reports.

use crate::audit::{field, kinds, of_kind, report, rows, text};
use crate::central::{Station, audit_verify, central_db, post_batch, start_central, work_order};
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use std::path::PathBuf;
use takt::central::{self, CentralHandle};
use takt::domain::correction::Correction;
use takt::domain::signature::{Meaning, SignatureInput, signature_events};
use takt::domain::{
    Actor, Badge, ConsumptionBasis, Event, EventKind, Lot, LotId, LotStatus, MaterialId, NewEvent,
    OperationId, OutputForm, Quantity, StationId, WorkOrderId,
};
use takt::protocol::{BatchAck, ChangePage, Genealogy, GenealogyNode, MasterRecord};
use tempfile::TempDir;

/// On hold in the demo plant ("porosity suspected").
const HELD: &str = "C24-1031";
/// Released castings of the demo plant: 400 units of CAST-200.
const CASTINGS: &str = "C24-1107";
/// Released castings of another material: 300 units of CAST-210.
const OTHER_CASTINGS: &str = "C24-2210";
const WO: &str = "WO-24001";

/// A real central with the demo plant, and its stations' tokens.
struct Plant {
    dir: TempDir,
    db: PathBuf,
    central: CentralHandle,
    client: reqwest::Client,
    /// Whole seconds, two hours ago: decisions "made offline" before anything central does now.
    t0: DateTime<Utc>,
}

impl Plant {
    async fn start() -> Plant {
        let dir = TempDir::new().expect("temp dir");
        let db = central_db(&dir);
        let central = start_central(&db).await;
        let t0 =
            DateTime::from_timestamp(Utc::now().timestamp() - 7200, 0).expect("a whole second");
        Plant {
            dir,
            db,
            central,
            client: reqwest::Client::new(),
            t0,
        }
    }

    fn at(&self, minutes: i64) -> DateTime<Utc> {
        self.t0 + Duration::minutes(minutes)
    }

    /// A station's store, holding the master data central sends it, and its token.
    async fn station(&self, id: &str) -> (Station, String) {
        let token = central::add_station(&self.db, id).expect("station token");
        let mut station = Station::open(&self.dir, id);
        let page = self.changes(id, &token, 0).await;
        assert!(!page.more, "the demo plant fits one page");
        station
            .store
            .apply_changes(&mut station.state, &page)
            .expect("master data");
        (station, token)
    }

    /// Posts `events`; central must take them (quarantined or not).
    async fn post(&self, station: &Station, token: &str, events: &[Event]) -> BatchAck {
        let response = post_batch(
            &self.client,
            &self.central.url(),
            station.id.as_str(),
            token,
            events,
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{}", station.id);
        response.json().await.expect("ack")
    }

    /// The lot as central's genealogy API shows it (the root of its backward genealogy).
    async fn trace(&self, lot: &str) -> GenealogyNode {
        let response = self
            .client
            .get(format!(
                "{}/api/v1/lots/{lot}/genealogy",
                self.central.url()
            ))
            .send()
            .await
            .expect("get genealogy");
        assert_eq!(response.status(), StatusCode::OK, "{lot}");
        response.json::<Genealogy>().await.expect("genealogy").root
    }

    async fn status(&self, lot: &str) -> (Option<LotStatus>, Option<String>) {
        let node = self.trace(lot).await;
        (node.status, node.status_reason)
    }

    /// Central's master record of the lot, as stations receive it.
    fn record(&self, lot: &str) -> Lot {
        central::Db::open(&self.db)
            .expect("central db")
            .lot(&LotId::from(lot))
            .expect("read lot")
            .expect("a known lot")
    }

    /// The lot's status log at central: (status, source), oldest first.
    fn status_log(&self, lot: &str) -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(&self.db).expect("open central db");
        let mut statement = conn
            .prepare("SELECT status, source FROM lot_status_log WHERE lot = ?1 ORDER BY rowid")
            .expect("query");
        statement
            .query_map([lot], |row| Ok((row.get(0)?, row.get(1)?)))
            .expect("rows")
            .collect::<rusqlite::Result<_>>()
            .expect("log")
    }

    /// What was drawn from the lot plant-wide, in units.
    fn consumed(&self, lot: &str) -> Quantity {
        let conn = rusqlite::Connection::open(&self.db).expect("open central db");
        let milli: i64 = conn
            .query_row(
                "SELECT consumed FROM lot_consumption WHERE lot = ?1",
                [lot],
                |row| row.get(0),
            )
            .expect("consumption row");
        Quantity::from_milli(milli)
    }

    async fn changes(&self, station: &str, token: &str, since: u64) -> ChangePage {
        self.client
            .get(format!(
                "{}/api/v1/stations/{station}/changes?since={since}&limit=1000",
                self.central.url()
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("get changes")
            .json()
            .await
            .expect("change page")
    }

    async fn stop(self) {
        self.central.shutdown().await;
    }
}

fn by(badge: &str, at: DateTime<Utc>, kind: EventKind) -> NewEvent {
    NewEvent {
        at,
        actor: Actor::Operator(Badge::from(badge)),
        kind,
    }
}

/// `record` and the signatures of `signers` (badge, name, meaning) on it, in the order a
/// signature-grade command appends them.
fn signed(
    station: &StationId,
    record: NewEvent,
    signers: &[(&str, &str, Meaning)],
) -> Vec<NewEvent> {
    let signatures: Vec<(SignatureInput, String)> = signers
        .iter()
        .map(|(badge, name, meaning)| {
            (
                SignatureInput {
                    badge: Badge::from(*badge),
                    meaning: *meaning,
                },
                (*name).to_owned(),
            )
        })
        .collect();
    let mut events = signature_events(station, &record, &signatures);
    events.insert(0, record);
    events
}

/// A release of `lot` by the demo inspector at `at`, signed by them (approved).
fn signed_release(station: &Station, lot: &str, at: DateTime<Utc>) -> Vec<NewEvent> {
    signed(
        &station.id,
        release(lot, "EMP-2001", at),
        &[("EMP-2001", "Demo Inspector", Meaning::Approved)],
    )
}

fn release(lot: &str, badge: &str, at: DateTime<Utc>) -> NewEvent {
    by(
        badge,
        at,
        EventKind::LotReleased {
            lot: LotId::from(lot),
            lifts: None,
        },
    )
}

fn hold(lot: &str, reason: &str, at: DateTime<Utc>) -> NewEvent {
    by(
        "EMP-1001",
        at,
        EventKind::LotHeld {
            lot: LotId::from(lot),
            reason: reason.into(),
        },
    )
}

/// What a consumption says: `units` drawn from `lot`.
fn drawn(lot: &str, units: u64) -> Correction {
    Correction::Consumption {
        lot: LotId::from(lot),
        quantity: Quantity::units(units),
    }
}

fn lot_in(page: &ChangePage, id: &str) -> Option<Lot> {
    page.changes.iter().find_map(|change| match &change.record {
        MasterRecord::Lot(lot) if lot.id.as_str() == id => Some(lot.clone()),
        _ => None,
    })
}

/// The (seq, reason) of each event central set aside.
fn quarantined(ack: &BatchAck) -> Vec<(u64, String)> {
    ack.quarantined
        .iter()
        .map(|q| (q.seq, q.reason.clone()))
        .collect()
}

/// Asserts central set aside exactly event `seq` of the batch, for a reason containing `why`.
fn set_aside(ack: &BatchAck, seq: u64, why: &str) {
    let reasons = quarantined(ack);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].0, seq, "{reasons:?}");
    assert!(reasons[0].1.contains(why), "{why}: {reasons:?}");
}

/// Asserts central set aside the signature `seq` for a reason containing `why`, and with it the
/// signature-grade `record` it was on, which needs its signatures to hold.
fn set_aside_with_its_record(ack: &BatchAck, record: u64, seq: u64, why: &str) {
    let reasons = quarantined(ack);
    assert_eq!(
        reasons.iter().map(|r| r.0).collect::<Vec<_>>(),
        [record, seq],
        "{reasons:?}"
    );
    assert!(
        reasons[0].1.ends_with(&format!(
            "needs a signature, and one on it (event {seq}) does not hold"
        )),
        "{reasons:?}"
    );
    assert!(reasons[1].1.contains(why), "{why}: {reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_at_a_station_reaches_central_and_every_station_that_knows_the_lot() {
    let plant = Plant::start().await;
    let (mut s2, token2) = plant.station("L1-S2").await;
    let (_s1, token1) = plant.station("L1-S1").await;
    let cursor = plant.changes("L1-S1", &token1, 0).await.cursor;

    let events = s2.record(vec![hold(CASTINGS, "crack found at OP20", plant.at(0))]);
    let ack = plant.post(&s2, &token2, &events).await;
    assert_eq!(quarantined(&ack), vec![]);

    assert_eq!(
        plant.status(CASTINGS).await,
        (Some(LotStatus::OnHold), Some("crack found at OP20".into()))
    );
    assert_eq!(plant.record(CASTINGS).status_at, Some(plant.at(0)));
    assert_eq!(
        plant.status_log(CASTINGS).last(),
        Some(&("on_hold".to_owned(), "station L1-S2 (EMP-1001)".to_owned()))
    );

    // Another station hears it at its next pull, with the time it was decided.
    let page = plant.changes("L1-S1", &token1, cursor).await;
    let heard = lot_in(&page, CASTINGS).expect("the hold reaches L1-S1");
    assert_eq!(
        (heard.status, heard.status_reason, heard.status_at),
        (
            LotStatus::OnHold,
            Some("crack found at OP20".into()),
            Some(plant.at(0))
        )
    );

    // A lot central never heard of: nothing to project, and nothing wrong with the event.
    let events = s2.record(vec![hold("NO-SUCH-LOT", "unlabelled bin", plant.at(1))]);
    let ack = plant.post(&s2, &token2, &events).await;
    assert_eq!((ack.acked_through, quarantined(&ack)), (2, vec![]));
    plant.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_release_lifts_a_hold_and_the_latest_decision_wins() {
    let plant = Plant::start().await;
    let (mut s2, token2) = plant.station("L1-S2").await;
    let (mut s1, token1) = plant.station("L1-S1").await;

    let events = s2.record(signed_release(&s2, HELD, plant.at(10)));
    let ack = plant.post(&s2, &token2, &events).await;
    assert_eq!(quarantined(&ack), vec![]);
    assert_eq!(plant.status(HELD).await, (Some(LotStatus::Released), None));
    assert_eq!(
        plant.status_log(HELD).last(),
        Some(&("released".to_owned(), "station L1-S2 (EMP-2001)".to_owned()))
    );

    // Quality holds it again at central, now.
    central::set_lot_hold(&plant.db, HELD, Some("supplier recall")).expect("hold at central");
    let recall = (Some(LotStatus::OnHold), Some("supplier recall".to_owned()));
    assert_eq!(plant.status(HELD).await, recall);
    let decided = plant
        .record(HELD)
        .status_at
        .expect("central's hold is dated");
    assert!(decided > plant.at(60), "{decided}");

    // L1-S1 was offline: its release lifts the hold it saw (the demo's porosity hold), not the
    // recall, so the recall stays and the release is set aside in words; its hold of a lot held
    // already changes nothing.
    let mut late = signed_release(&s1, HELD, plant.at(30));
    late.push(hold(HELD, "porosity", plant.at(40)));
    let events = s1.record(late);
    let ack = plant.post(&s1, &token1, &events).await;
    let reasons = quarantined(&ack);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].1.starts_with(&format!(
            "releases a hold on lot {HELD} that is no longer its hold: it was held again at"
        )) && reasons[0].1.contains("(supplier recall)"),
        "{reasons:?}"
    );
    assert_eq!(plant.status(HELD).await, recall);
    assert_eq!(plant.record(HELD).status_at, Some(decided));

    // A clock does not decide it either: a release dated after the recall that saw the old hold
    // is set aside too; one that lifts the recall (after the station heard of it) releases.
    let later = Utc::now() + Duration::seconds(1);
    let events = s1.record(signed_release(&s1, HELD, later));
    let ack = plant.post(&s1, &token1, &events).await;
    assert_eq!(quarantined(&ack).len(), 1, "{:?}", quarantined(&ack));
    assert_eq!(plant.status(HELD).await, recall);
    let now = Utc::now() + Duration::seconds(2);
    let lifting = by(
        "EMP-2001",
        now,
        EventKind::LotReleased {
            lot: LotId::from(HELD),
            lifts: Some(decided),
        },
    );
    let events = s1.record(signed(
        &s1.id,
        lifting,
        &[("EMP-2001", "Demo Inspector", Meaning::Approved)],
    ));
    let ack = plant.post(&s1, &token1, &events).await;
    assert_eq!(quarantined(&ack), vec![]);
    assert_eq!(plant.status(HELD).await, (Some(LotStatus::Released), None));
    assert_eq!(
        plant.record(HELD).status_at.map(|at| at.timestamp_millis()),
        Some(now.timestamp_millis())
    );

    // A hold never loses to a clock: L1-S2's hold, decided offline before that release, holds
    // the lot when it arrives.
    let events = s2.record(vec![hold(HELD, "contamination", plant.at(50))]);
    let ack = plant.post(&s2, &token2, &events).await;
    assert_eq!(quarantined(&ack), vec![]);
    assert_eq!(
        plant.status(HELD).await,
        (Some(LotStatus::OnHold), Some("contamination".to_owned()))
    );
    plant.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrections_move_consumption_counts_and_genealogy_at_central() {
    let plant = Plant::start().await;
    let (mut s1, token) = plant.station("L1-S1").await;
    let output = "L1-S1-250101-000003";
    let made = s1.record(vec![
        NewEvent {
            at: plant.at(0),
            actor: Actor::Plc,
            kind: EventKind::LotConsumed {
                work_order: WorkOrderId::from(WO),
                operation: OperationId::from("OP10"),
                material: MaterialId::from("CAST-200"),
                lot: LotId::from(CASTINGS),
                quantity: Quantity::units(400),
                basis: ConsumptionBasis::BomRate,
            },
        },
        NewEvent {
            at: plant.at(0),
            actor: Actor::Plc,
            kind: EventKind::OutputCreated {
                work_order: WorkOrderId::from(WO),
                operation: OperationId::from("OP10"),
                output: LotId::from(output),
                form: OutputForm::Lot,
                material: MaterialId::from("BC-200-M"),
                quantity: Quantity::units(20),
                inputs: vec![LotId::from(CASTINGS)],
                operator: Some(Badge::from("EMP-1001")),
                next_operation: Some(OperationId::from("OP20")),
                machine_state: None,
            },
        },
    ]);
    let (consumption, creation) = (made[0].seq, made[1].seq);
    let ack = plant.post(&s1, &token, &made).await;
    assert_eq!(quarantined(&ack), vec![]);
    assert_eq!(
        plant.status(CASTINGS).await.0,
        Some(LotStatus::Consumed),
        "all 400 drawn"
    );
    let before = plant.trace(output).await;
    let inputs: Vec<&str> = before.children.iter().map(|n| n.lot.as_str()).collect();
    assert_eq!(inputs, [CASTINGS]);

    let id = s1.id.clone();
    // A correction by the demo inspector, with her signature, for reason C-02.
    let correction = |corrects: u64, was: Correction, now: Correction| {
        let record = by(
            "EMP-2001",
            plant.at(30),
            EventKind::Corrected {
                corrects,
                work_order: Some(WorkOrderId::from(WO)),
                was,
                now,
                reason: "C-02".into(),
            },
        );
        signed(
            &id,
            record,
            &[("EMP-2001", "Demo Inspector", Meaning::Approved)],
        )
    };
    // The units and their correction go in one batch: the units are summed before it counts.
    let mut batch = vec![NewEvent {
        at: plant.at(20),
        actor: Actor::Plc,
        kind: EventKind::UnitsProduced {
            work_order: Some(WorkOrderId::from(WO)),
            produced: 10,
            rejected: 2,
            plc_epoch: 1,
            processed_total: 10,
            defective_total: 2,
        },
    }];
    let units = creation + 1;
    batch.extend(correction(
        units,
        Correction::Count {
            produced: 10,
            rejected: 2,
        },
        Correction::Count {
            produced: 8,
            rejected: 1,
        },
    ));
    // The castings drawn were the other lot's, and only 300 of them.
    batch.extend(correction(
        consumption,
        drawn(CASTINGS, 400),
        drawn(OTHER_CASTINGS, 300),
    ));
    batch.extend(correction(
        creation,
        Correction::Inputs {
            inputs: vec![LotId::from(CASTINGS)],
        },
        Correction::Inputs {
            inputs: vec![LotId::from(OTHER_CASTINGS)],
        },
    ));
    let events = s1.record(batch);
    let ack = plant.post(&s1, &token, &events).await;
    assert_eq!(quarantined(&ack), vec![]);

    let report = work_order(&plant.client, &plant.central.url(), WO).await;
    assert_eq!((report.produced, report.rejected), (8, 1));

    assert_eq!(plant.consumed(CASTINGS), Quantity::ZERO);
    assert_eq!(plant.consumed(OTHER_CASTINGS), Quantity::units(300));
    assert_eq!(plant.status(CASTINGS).await.0, Some(LotStatus::Released));
    assert_eq!(
        plant.status_log(CASTINGS),
        [
            ("consumed".to_owned(), "consumption".to_owned()),
            ("released".to_owned(), "consumption".to_owned())
        ],
        "used up, then given back by the correction"
    );
    assert_eq!(
        plant.status(OTHER_CASTINGS).await.0,
        Some(LotStatus::Consumed)
    );

    let after = plant.trace(output).await;
    let inputs: Vec<&str> = after.children.iter().map(|n| n.lot.as_str()).collect();
    assert_eq!(inputs, [OTHER_CASTINGS]);
    let edge_at: String = rusqlite::Connection::open(&plant.db)
        .expect("central db")
        .query_row(
            "SELECT at || ' ' || operation || ' ' || operator FROM lot_edges WHERE output = ?1",
            [output],
            |row| row.get(0),
        )
        .expect("the corrected link");
    assert_eq!(
        edge_at,
        format!(
            "{} OP10 EMP-1001",
            plant
                .at(0)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        ),
        "the link keeps when, where and by whom the output was made"
    );

    // A correction that says the wrong thing about what counted until now is set aside.
    let wrong = s1.record(correction(
        consumption,
        drawn(CASTINGS, 400),
        drawn(CASTINGS, 100),
    ));
    set_aside(
        &plant.post(&s1, &token, &wrong).await,
        wrong[0].seq,
        "as if it said 400 from lot C24-1107, but what counts for it is 300 from lot C24-2210",
    );
    assert_eq!(plant.consumed(CASTINGS), Quantity::ZERO, "nothing moved");

    // The audit shows what counted before and after, and who signed.
    let rows = rows(&plant.db, &["--lot", OTHER_CASTINGS]).await;
    let corrected = of_kind(&rows, "corrected");
    assert_eq!(
        field(corrected, "what"),
        format!("corrected event {consumption}: 300 from lot C24-2210 (was 400 from lot C24-1107)")
    );
    assert_eq!(field(corrected, "why"), "C-02 wrong label scanned");
    assert!(kinds(&rows).contains(&"signed"), "{rows:?}");
    plant.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_that_do_not_hold_are_quarantined() {
    let plant = Plant::start().await;
    let (mut s1, token) = plant.station("L1-S1").await;

    // An operator may not release a hold: the release and the signature on it are set aside.
    let events = s1.record(signed(
        &s1.id,
        release(HELD, "EMP-1001", plant.at(0)),
        &[("EMP-1001", "Demo Operator A", Meaning::Approved)],
    ));
    let ack = plant.post(&s1, &token, &events).await;
    let reasons = quarantined(&ack);
    assert_eq!(reasons.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2]);
    assert!(
        reasons[0]
            .1
            .contains("EMP-1001 (operator) may not release held lots"),
        "{reasons:?}"
    );
    assert!(
        reasons[1]
            .1
            .contains("EMP-1001 (operator) signed event 1 (lot_released), but may not release"),
        "{reasons:?}"
    );
    assert_eq!(plant.status(HELD).await.0, Some(LotStatus::OnHold));

    // A signature made on another record (another lot's release) and appended after this one.
    let record = release(HELD, "EMP-2001", plant.at(1));
    let elsewhere = signed_release(&s1, CASTINGS, plant.at(1));
    let events = s1.record(vec![record, elsewhere[1].clone()]);
    let ack = plant.post(&s1, &token, &events).await;
    set_aside_with_its_record(
        &ack,
        3,
        4,
        "follows event 3 (lot_released), whose digest is",
    );
    assert!(
        ack.quarantined[1]
            .reason
            .ends_with("it was not made on that record"),
        "{:?}",
        ack.quarantined
    );
    assert_eq!(
        plant.status(HELD).await.0,
        Some(LotStatus::OnHold),
        "a release without a signature that holds changes nothing"
    );

    // A signature in someone else's name.
    let mut forged = signed_release(&s1, HELD, plant.at(2));
    forged[1].actor = Actor::Operator(Badge::from("EMP-3001"));
    let events = s1.record(forged);
    set_aside_with_its_record(
        &plant.post(&s1, &token, &events).await,
        5,
        6,
        "in the name of EMP-2001 made by EMP-3001: only the signer may sign",
    );
    assert_eq!(plant.status(HELD).await.0, Some(LotStatus::OnHold));

    // A signer central does not know.
    let events = s1.record(signed(
        &s1.id,
        release(HELD, "EMP-2001", plant.at(3)),
        &[
            ("EMP-2001", "Demo Inspector", Meaning::Approved),
            ("EMP-7777", "Nobody Known", Meaning::Reviewed),
        ],
    ));
    set_aside(
        &plant.post(&s1, &token, &events).await,
        9,
        "done by EMP-7777, whom central does not know",
    );

    // A signer whose badge was revoked before they signed.
    central::revoke_operator(&plant.db, "EMP-2001").expect("revoke");
    let after = Utc::now() + Duration::seconds(1);
    let events = s1.record(signed(
        &s1.id,
        release(HELD, "EMP-9999", after),
        &[
            ("EMP-9999", "Demo Admin", Meaning::Approved),
            ("EMP-2001", "Demo Inspector", Meaning::Reviewed),
        ],
    ));
    set_aside(
        &plant.post(&s1, &token, &events).await,
        12,
        "done by EMP-2001, whose badge was revoked at",
    );

    let listed = central::quarantine(&plant.db, Some("L1-S1")).expect("quarantine");
    assert_eq!(listed.len(), 8, "{listed:?}");
    plant.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_a_signature_that_does_not_hold_at_the_station_and_at_central() {
    let plant = Plant::start().await;
    let (mut s1, token) = plant.station("L1-S1").await;
    let mut events = vec![hold(CASTINGS, "crack", plant.at(0))];
    events.extend(signed_release(&s1, CASTINGS, plant.at(1)));
    let mut all = s1.record(events);
    let (code, stdout) = audit_verify(&s1.path, &[]).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.starts_with("OK: 3 events, chain intact, signatures hold."),
        "{stdout}"
    );

    // A signature made on a release a minute earlier, appended after this one: the chain holds,
    // the signature does not.
    let signature_of_the_hold = signed_release(&s1, HELD, plant.at(2)).remove(1);
    all.extend(s1.record(vec![
        hold(HELD, "porosity", plant.at(2)),
        release(HELD, "EMP-2001", plant.at(3)),
        signature_of_the_hold,
        release(CASTINGS, "EMP-2001", plant.at(4)),
    ]));
    let expected = "SIGNATURES: 7 events, chain intact, but 2 signature problems.";
    let problems = [
        "SIGNATURE: signature 6 by EMP-2001 does not match the record it follows (event 5)",
        "SIGNATURE: event 7 (lot_released) needs a signature and has none",
    ];
    let (code, stdout) = audit_verify(&s1.path, &[]).await;
    assert_eq!(code, Some(2), "{stdout}");
    assert!(stdout.starts_with(expected), "{stdout}");
    for problem in problems {
        assert!(stdout.contains(problem), "{problem}: {stdout}");
    }

    // The report says so too, and exits 2: the release it shows is not vouched for.
    let out = crate::support::takt_cli([
        "audit",
        "report",
        "--db",
        &s1.path.display().to_string(),
        "--lot",
        HELD,
    ])
    .await;
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(2), "{report}");
    assert!(
        report.contains(
            "SIGNATURE of L1-S1: signature 6 by EMP-2001 does not match the record it follows (event 5)"
        ),
        "{report}"
    );
    assert!(
        report.contains("WARNING: 2 signature(s) of L1-S1 do not hold"),
        "{report}"
    );

    // Central holds the same chain, the bad signature set aside; verify says the same there.
    plant.post(&s1, &token, &all).await;
    let (code, stdout) = audit_verify(&plant.db, &["--station", "L1-S1"]).await;
    assert_eq!(code, Some(2), "{stdout}");
    assert!(stdout.starts_with(expected), "{stdout}");
    for problem in problems {
        assert!(stdout.contains(problem), "{problem}: {stdout}");
    }
    plant.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_report_of_a_lot_shows_its_release_with_each_signature() {
    let plant = Plant::start().await;
    let (mut s1, token) = plant.station("L1-S1").await;
    let mut events = vec![hold(CASTINGS, "crack found at OP20", plant.at(0))];
    events.extend(signed(
        &s1.id,
        release(CASTINGS, "EMP-2001", plant.at(5)),
        &[
            ("EMP-2001", "Demo Inspector", Meaning::Approved),
            ("EMP-9999", "Demo Admin", Meaning::Reviewed),
        ],
    ));
    // Another lot's signed release: its signature names no lot, and is not this lot's.
    events.extend(signed_release(&s1, HELD, plant.at(6)));
    let events = s1.record(events);
    plant.post(&s1, &token, &events).await;

    let signed_at = plant.at(5).format("%Y-%m-%d %H:%M:%S UTC");
    let approved = format!("signed: Demo Inspector (EMP-2001), {signed_at}, meaning: approved");
    let reviewed = format!("signed: Demo Admin (EMP-9999), {signed_at}, meaning: reviewed");
    for db in [&s1.path, &plant.db] {
        let rows = rows(db, &["--lot", CASTINGS]).await;
        assert_eq!(
            kinds(&rows),
            ["lot_held", "lot_released", "signed", "signed"],
            "{}",
            db.display()
        );
        assert_eq!(field(&rows[1], "what"), "released the hold on lot C24-1107");
        assert_eq!(field(&rows[2], "what"), approved);
        assert_eq!(field(&rows[2], "who"), "EMP-2001 Demo Inspector");
        assert_eq!(field(&rows[3], "what"), reviewed);
        assert_eq!(field(&rows[3], "who"), "EMP-9999 Demo Admin");

        let out = report(db, &["--lot", CASTINGS]).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let table = text(&out.stdout);
        assert!(table.contains("4 events match."), "{table}");
        assert!(
            table.contains("signed: Demo Inspector (EMP-2001)"),
            "{table}"
        );
        assert!(table.contains("meaning: approved"), "{table}");

        let out = report(db, &["--lot", CASTINGS, "--csv"]).await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let csv = text(&out.stdout);
        assert!(csv.contains(&format!("\"{approved}\"")), "{csv}");
        assert!(csv.contains(&format!("\"{reviewed}\"")), "{csv}");
    }
    plant.stop().await;
}

/// A signature-grade record counts at central only once the signature after it holds: a release
/// followed by anything but a signature is set aside, and a release whose signature arrives in the
/// next batch (a batch may end between the two) is applied when it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_waits_for_its_signature_and_without_one_is_set_aside() {
    let plant = Plant::start().await;
    let (mut s1, token) = plant.station("L1-S1").await;

    let unsigned = s1.record(vec![
        release(HELD, "EMP-2001", plant.at(0)),
        hold(CASTINGS, "crack", plant.at(0)),
    ]);
    let ack = plant.post(&s1, &token, &unsigned).await;
    let reasons = quarantined(&ack);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].0, 1);
    assert_eq!(
        reasons[0].1,
        "lot_released needs a signature and has none: event 2 follows it"
    );
    assert_eq!(plant.status(HELD).await.0, Some(LotStatus::OnHold));
    assert_eq!(
        plant.status(CASTINGS).await.0,
        Some(LotStatus::OnHold),
        "the hold counts"
    );

    // The release alone: it waits, neither applied nor set aside.
    let split = s1.record(signed_release(&s1, HELD, plant.at(1)));
    let ack = plant.post(&s1, &token, &split[..1]).await;
    assert!(ack.quarantined.is_empty(), "{:?}", ack.quarantined);
    assert_eq!(plant.status(HELD).await.0, Some(LotStatus::OnHold), "waits");
    // Its signature in the next batch applies it.
    let ack = plant.post(&s1, &token, &split[1..]).await;
    assert!(ack.quarantined.is_empty(), "{:?}", ack.quarantined);
    assert_eq!(plant.status(HELD).await.0, Some(LotStatus::Released));
    plant.stop().await;
}

/// Where central's configuration of the station asks for a second signer, a record counts only
/// with two signatures that hold: the first by the person who did it, the second by someone
/// else; a station that still records one signature has its record set aside, said in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signature_is_required_where_central_asks_for_it() {
    let plant = Plant::start().await;
    let (mut s1, token) = plant.station("L1-S1").await;
    central::set_station_config(
        &plant.db,
        "L1-S1",
        central::StationSettings {
            second_signer_for: Some(vec!["release_hold".into()]),
            ..Default::default()
        },
    )
    .expect("config");
    let inspector = ("EMP-2001", "Demo Inspector", Meaning::Approved);

    // One signature, then another fact: set aside.
    let mut events = signed_release(&s1, HELD, plant.at(0));
    events.push(hold(CASTINGS, "crack", plant.at(0)));
    let events = s1.record(events);
    let ack = plant.post(&s1, &token, &events).await;
    assert_eq!(
        quarantined(&ack),
        [(
            1,
            "lot_released needs 2 signatures at L1-S1 (a second person's), and has 1".to_owned()
        )]
    );
    assert_eq!(plant.status(HELD).await.0, Some(LotStatus::OnHold));

    // The same person twice: the second signature and the record are set aside.
    let events = s1.record(signed(
        &s1.id,
        release(HELD, "EMP-2001", plant.at(1)),
        &[inspector, ("EMP-2001", "Demo Inspector", Meaning::Reviewed)],
    ));
    set_aside_with_its_record(
        &plant.post(&s1, &token, &events).await,
        4,
        6,
        "EMP-2001 signed event 4 twice: a second signature must be another person's",
    );

    // The first signature by someone other than the person who released.
    let events = s1.record(signed(
        &s1.id,
        release(HELD, "EMP-2001", plant.at(2)),
        &[("EMP-9999", "Demo Admin", Meaning::Approved), inspector],
    ));
    set_aside_with_its_record(
        &plant.post(&s1, &token, &events).await,
        7,
        8,
        "the first signature on event 7 is by EMP-9999, but EMP-2001 did it",
    );
    assert_eq!(plant.status(HELD).await.0, Some(LotStatus::OnHold));

    // Two signatures that hold, the second in the next batch: applied when it arrives.
    let events = s1.record(signed(
        &s1.id,
        release(HELD, "EMP-2001", plant.at(3)),
        &[inspector, ("EMP-9999", "Demo Admin", Meaning::Reviewed)],
    ));
    let ack = plant.post(&s1, &token, &events[..2]).await;
    assert!(ack.quarantined.is_empty(), "{:?}", ack.quarantined);
    assert_eq!(plant.status(HELD).await.0, Some(LotStatus::OnHold), "waits");
    let ack = plant.post(&s1, &token, &events[2..]).await;
    assert!(ack.quarantined.is_empty(), "{:?}", ack.quarantined);
    assert_eq!(plant.status(HELD).await.0, Some(LotStatus::Released));
    plant.stop().await;
}

/// An inspection by `badge` of `lot` at `at` that found `defects` (code, quantity).
fn inspection(badge: &str, lot: &str, at: DateTime<Utc>, defects: &[(&str, u32)]) -> NewEvent {
    use takt::domain::aql::Severity;
    use takt::domain::inspection::{DefectFound, Finding, InspectionVerdict};
    by(
        badge,
        at,
        EventKind::InspectionRecorded {
            lot: LotId::from(lot),
            product: "BC-200".into(),
            operation: "OP10".into(),
            severity: Severity::Normal,
            lot_size: 20,
            inspected: 5,
            findings: vec![Finding {
                characteristic: "VISUAL".into(),
                value: "fail".into(),
                conforms: false,
            }],
            defects: defects
                .iter()
                .map(|(code, quantity)| DefectFound {
                    code: (*code).into(),
                    quantity: *quantity,
                    location: None,
                })
                .collect(),
            verdict: InspectionVerdict::Reject,
            reasons: vec!["1 major nonconforming".into()],
        },
    )
}

/// An inspection the station recorded travels like any fact: by an inspector it is taken and its
/// reject's hold holds the lot plant-wide; by someone whose role may not inspect it is set aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_inspection_reaches_central_with_its_hold_and_only_from_an_inspector() {
    let plant = Plant::start().await;
    let (mut s2, token2) = plant.station("L1-S2").await;
    let reason = "failed inspection: 1 major nonconforming";
    let mut held = hold(CASTINGS, reason, plant.at(0));
    held.actor = Actor::Operator(Badge::from("EMP-2001"));
    let found = [("D-101", 1)];
    let events = s2.record(vec![
        inspection("EMP-2001", CASTINGS, plant.at(0), &found),
        held,
    ]);
    let ack = plant.post(&s2, &token2, &events).await;
    assert_eq!(quarantined(&ack), vec![]);
    assert_eq!(
        plant.status(CASTINGS).await,
        (Some(LotStatus::OnHold), Some(reason.into()))
    );

    let events = s2.record(vec![inspection("EMP-1001", CASTINGS, plant.at(0), &found)]);
    let ack = plant.post(&s2, &token2, &events).await;
    set_aside(&ack, events[0].seq, "record inspections");
    plant.stop().await;
}

/// The defect Pareto counts what inspections central kept found, largest first, by code with the
/// catalog's words or by station; an inspection set aside counts for nothing; a window limits it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_defect_pareto_counts_kept_inspections_largest_first() {
    let plant = Plant::start().await;
    let (mut s2, token2) = plant.station("L1-S2").await;
    let (mut s3, token3) = plant.station("L1-S3").await;
    let events = s2.record(vec![
        inspection(
            "EMP-2001",
            CASTINGS,
            plant.at(0),
            &[("D-101", 3), ("D-103", 1)],
        ),
        inspection("EMP-2001", OTHER_CASTINGS, plant.at(10), &[("D-101", 1)]),
        // Not an inspector's: set aside, and not counted.
        inspection("EMP-1001", CASTINGS, plant.at(20), &[("D-103", 50)]),
    ]);
    let ack = plant.post(&s2, &token2, &events).await;
    assert_eq!(ack.quarantined.len(), 1);
    let events = s3.record(vec![inspection(
        "EMP-2001",
        CASTINGS,
        plant.at(30),
        &[("D-201", 2)],
    )]);
    let ack = plant.post(&s3, &token3, &events).await;
    assert_eq!(quarantined(&ack), vec![]);

    let pareto = |query: String| {
        let url = format!("{}/api/v1/quality/pareto?{query}", plant.central.url());
        let client = plant.client.clone();
        async move {
            let response = client.get(url).send().await.expect("sent");
            let status = response.status();
            (
                status,
                response.json::<serde_json::Value>().await.expect("json"),
            )
        }
    };
    let window = |from: i64, to: i64| {
        format!(
            "from={}&to={}",
            plant
                .at(from)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            plant
                .at(to)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    };
    let (status, by_code) = pareto(format!("by=code&{}", window(0, 60))).await;
    assert_eq!(status, StatusCode::OK, "{by_code}");
    assert_eq!(
        (by_code["inspections"].as_u64(), by_code["defects"].as_u64()),
        (Some(3), Some(7))
    );
    let bars: Vec<(String, u64, String)> = by_code["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["key"].as_str().unwrap_or_default().to_owned(),
                row["defects"].as_u64().unwrap_or_default(),
                row["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        bars,
        [
            ("D-101".to_owned(), 4, "porosity".to_owned()),
            ("D-201".to_owned(), 2, "missing seal".to_owned()),
            ("D-103".to_owned(), 1, "burr".to_owned()),
        ]
    );
    let last = &by_code["rows"][2];
    assert!((last["cumulative_share"].as_f64().unwrap_or_default() - 1.0).abs() < 1e-12);
    assert!((by_code["rows"][0]["share"].as_f64().unwrap_or_default() - 4.0 / 7.0).abs() < 1e-12);

    let (_, by_station) = pareto(format!("by=station&{}", window(0, 60))).await;
    assert_eq!(by_station["rows"][0]["key"], "L1-S2");
    assert_eq!(by_station["rows"][0]["defects"], 5);
    assert_eq!(by_station["rows"][1]["key"], "L1-S3");

    // A window that ends before the last inspection leaves it out.
    let (_, early) = pareto(format!("by=code&{}", window(0, 15))).await;
    assert_eq!(early["defects"], 5);

    // The same from the command line, as bars and as JSON.
    let cli = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_takt"))
                .args(args)
                .output()
                .expect("run takt")
        })
    };
    let stamp = |minutes: i64| {
        plant
            .at(minutes)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let args = |extra: &[&str]| {
        let mut args: Vec<String> = ["quality", "pareto", "--central"]
            .iter()
            .map(|arg| (*arg).to_owned())
            .collect();
        args.push(plant.central.url());
        args.extend(["--from".to_owned(), stamp(0), "--to".to_owned(), stamp(60)]);
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args
    };
    let out = cli(args(&[])).await.expect("joined");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("7 defects in 3 inspections"), "{stdout}");
    let first = stdout.lines().nth(2).unwrap_or_default();
    assert!(
        first.starts_with("D-101") && first.contains("porosity"),
        "{stdout}"
    );
    let out = cli(args(&["--by", "station", "--json"]))
        .await
        .expect("joined");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["rows"][0]["key"], "L1-S2");
    let out = cli(args(&["--by", "colour"])).await.expect("joined");
    assert_eq!(out.status.code(), Some(2));

    let (status, error) = pareto("by=colour".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"]
            .as_str()
            .unwrap_or_default()
            .contains("code, product, station")
    );
    let (status, _) = pareto(window(30, 0)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    plant.stop().await;
}
