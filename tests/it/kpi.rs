//! ISO 22400-2 KPIs at central, end to end: real station stores seal the events of a shift, they
//! go through the real ingest API to a real central on a loopback port, and the KPI endpoint and
//! `takt kpi oee` answer from them. The figures are checked against hand calculations.

use crate::support::takt_cli;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use reqwest::StatusCode;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use takt::central::kpi::{KpiFigures, OeeReport};
use takt::central::{self, CentralHandle};
use takt::domain::correction::Correction;
use takt::domain::machine::MachineCategory;
use takt::domain::shift::ShiftCalendar;
use takt::domain::signature::{Meaning, SignatureInput};
use takt::domain::{Actor, Badge, Event, EventKind, NewEvent, State, StationId, WorkOrderId};
use takt::protocol::{ApiError, EventBatch};
use takt::store::Store;
use tempfile::TempDir;

const WO: &str = "WO-24001";

/// A week ago (plant day, UTC in the demo calendar): a shift entirely in the past.
fn day() -> NaiveDate {
    (Utc::now() - Duration::days(7)).date_naive()
}

/// `hh:mm` on [`day`], UTC.
fn t(hour: u32, minute: u32) -> DateTime<Utc> {
    day()
        .and_time(NaiveTime::from_hms_opt(hour, minute, 0).expect("time of day"))
        .and_utc()
}

struct Plant {
    dir: TempDir,
    db: PathBuf,
    central: Option<CentralHandle>,
    client: reqwest::Client,
}

impl Plant {
    async fn start() -> Plant {
        let dir = TempDir::new().expect("temp dir");
        let db = dir.path().join("central.db");
        central::seed_demo(&db, Utc::now().date_naive()).expect("seed demo");
        let central = central::spawn_with_calendar(
            ([127, 0, 0, 1], 0).into(),
            db.clone(),
            ShiftCalendar::default(),
        )
        .await
        .expect("central");
        Plant {
            dir,
            db,
            central: Some(central),
            client: reqwest::Client::new(),
        }
    }

    fn url(&self) -> String {
        self.central
            .as_ref()
            .map(CentralHandle::url)
            .unwrap_or_default()
    }

    async fn get(&self, query: &str) -> reqwest::Response {
        self.client
            .get(format!("{}/api/v1/kpi/oee?{query}", self.url()))
            .send()
            .await
            .expect("get kpi")
    }

    async fn oee(&self, query: &str) -> OeeReport {
        let response = self.get(query).await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
        response.json().await.expect("kpi report")
    }

    /// The status and error of a refused query.
    async fn refused(&self, query: &str) -> (StatusCode, String) {
        let response = self.get(query).await;
        let status = response.status();
        let error: ApiError = response.json().await.expect("error body");
        (status, error.error)
    }

    async fn stop(mut self) {
        if let Some(central) = self.central.take() {
            central.shutdown().await;
        }
    }
}

/// A station's real store: events are sealed into its hash chain as the station core does, then
/// posted through the ingest API with the station's token.
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

    fn plc(&mut self, at: DateTime<Utc>, kinds: Vec<EventKind>) {
        self.record(at, Actor::Plc, kinds);
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
}

fn state(category: MachineCategory) -> EventKind {
    EventKind::MachineStateChanged {
        packml: match category {
            MachineCategory::Running => 6,
            MachineCategory::UnplannedDowntime => 2,
            _ => 4,
        },
        stop_reason: u16::from(category == MachineCategory::UnplannedDowntime),
        blocked: false,
        starved: category == MachineCategory::Starved,
        category,
    }
}

fn stop(reason: &str) -> EventKind {
    EventKind::DowntimeStarted {
        plc_reason: 1,
        suggested_reason: Some(reason.into()),
    }
}

fn coded(started_at: DateTime<Utc>, reason: &str) -> EventKind {
    EventKind::DowntimeCoded {
        started_at,
        reason: reason.into(),
    }
}

fn units(produced: u64, rejected: u64) -> EventKind {
    EventKind::UnitsProduced {
        work_order: Some(WorkOrderId::from(WO)),
        produced,
        rejected,
        plc_epoch: 1,
        processed_total: 0,
        defective_total: 0,
    }
}

fn operator() -> Actor {
    Actor::Operator(Badge::from("EMP-1001"))
}

/// OP10 machining at L1-S1 through the Early shift (06:00–14:00, break 10:00–10:30) of [`day`],
/// with a little of the shifts either side. Its fault at 11:00 is coded R-12 (fixture) at 11:45.
async fn machining_shift(plant: &Plant) -> Station {
    use MachineCategory::*;
    let mut s1 = Station::open(plant, "L1-S1");
    s1.plc(t(5, 30), vec![state(Running)]);
    s1.plc(t(5, 45), vec![units(200, 2)]); // Night shift before: not in Early
    s1.plc(t(5, 50), vec![state(Idle)]);
    s1.plc(t(6, 10), vec![state(Running)]);
    s1.plc(
        t(7, 0),
        vec![units(660, 15), state(UnplannedDowntime), stop("R-11")],
    );
    s1.plc(t(7, 20), vec![state(Running)]);
    s1.plc(t(8, 30), vec![state(UnplannedDowntime), stop("R-11")]);
    s1.plc(t(8, 31), vec![state(Running)]);
    s1.plc(t(9, 0), vec![units(1_320, 30), state(Starved)]);
    s1.plc(t(9, 15), vec![state(Running)]);
    s1.plc(t(10, 0), vec![state(Idle)]);
    s1.plc(t(10, 30), vec![state(Running)]);
    s1.plc(
        t(11, 0),
        vec![units(1_000, 25), state(UnplannedDowntime), stop("R-11")],
    );
    s1.plc(t(11, 30), vec![state(Running)]);
    s1.record(t(11, 45), operator(), vec![coded(t(11, 0), "R-12")]);
    s1.plc(t(13, 46), vec![units(1_340, 38), state(Idle)]);
    s1.plc(t(14, 5), vec![state(Running)]);
    s1.plc(t(14, 20), vec![units(150, 3)]); // Late shift: not in Early
    s1.push(plant).await;
    s1
}

/// OP20 assembly at L1-S2: running through the shift (the break is planned whatever the machine
/// does), one 10-minute fault at 12:00.
async fn assembly_shift(plant: &Plant) -> Station {
    use MachineCategory::*;
    let mut s2 = Station::open(plant, "L1-S2");
    s2.plc(t(5, 0), vec![state(Running)]);
    s2.plc(t(9, 0), vec![units(3_000, 30)]);
    // The line stops for the break.
    s2.plc(t(10, 0), vec![state(Idle)]);
    s2.plc(t(10, 30), vec![state(Running)]);
    s2.plc(t(12, 0), vec![state(UnplannedDowntime), stop("R-12")]);
    s2.plc(t(12, 10), vec![state(Running)]);
    s2.plc(t(13, 0), vec![units(3_000, 30)]);
    s2.push(plant).await;
    s2
}

fn close(value: Option<f64>, expected: f64) -> bool {
    value.is_some_and(|v| (v - expected).abs() < 1e-9)
}

const MIN: f64 = 60.0;

fn early() -> String {
    format!("shift=Early&date={}", day())
}

/// L1-S1's Early shift by hand (minutes; micro-stop threshold 2 min; OP10's ideal cycle 4.5 s):
///
/// | 06:00–06:10 idle (in effect since 05:50)  | ADOT 10 |
/// | 06:10–07:00 running                        | APT 50  |
/// | 07:00–07:20 fault                          | ADET 20, a failure |
/// | 07:20–08:30 running                        | APT 70  |
/// | 08:30–08:31 stop                           | ADET 1, a micro-stop |
/// | 08:31–09:00 running                        | APT 29  |
/// | 09:00–09:15 starved                        | ADOT 15 |
/// | 09:15–10:00 running                        | APT 45  |
/// | 10:00–10:30 idle in the calendar's break   | planned downtime 30 |
/// | 10:30–11:00 running                        | APT 30  |
/// | 11:00–11:30 fault, coded R-12 at 11:45     | ADET 30, a failure |
/// | 11:30–13:46 running                        | APT 136 |
/// | 13:46–14:00 idle                           | ADOT 14 |
///
/// POT 480, planned downtime 30, PBT 450, APT 360, ADET 51, AUBT 411, ADOT 39; two failures
/// (repair 50 min), one micro-stop. Counts inside the shift: PQ 660 + 1 320 + 1 000 + 1 340 =
/// 4 320, rejected 15 + 30 + 25 + 38 = 108, GQ 4 212 (05:45 and 14:20 belong to other shifts).
///
/// A   = APT / PBT              = 360 / 450                  = 0.8
/// E   = PRI × PQ / APT         = 4.5 s × 4 320 / 21 600 s   = 19 440 / 21 600 = 0.9
/// QR  = GQ / PQ                = 4 212 / 4 320              = 0.975
/// OEE = A × E × QR             = 0.8 × 0.9 × 0.975          = 0.702 (NEE the same: no setup)
/// AE  = AUBT / PBT             = 411 / 450                  = 0.913 333…
/// UE  = TE = APT / AUBT        = 360 / 411                  = 0.875 912…
/// MTBF = AUBT / failures       = 411 / 2 min                = 12 330 s
/// MTTR = repair / failures     = 50 / 2 min                 = 1 500 s
///
/// Re-coded R-80 (changeover, planned) after the shift, the 11:00 stop leaves ADET for planned
/// downtime: planned 60, PBT 420, ADET 21, AUBT 381, one failure (20 min), and
/// A = 360 / 420 = 0.857 142…, OEE = 6/7 × 0.9 × 0.975 = 0.752 142…, MTBF 22 860 s, MTTR 1 200 s.
fn assert_machining_by_hand(figures: &KpiFigures) {
    let e = &figures.elements;
    assert_eq!(e.pot, 480.0 * MIN);
    assert_eq!(e.planned_downtime, 30.0 * MIN);
    assert_eq!(e.pbt, 450.0 * MIN);
    assert_eq!(e.apt, 360.0 * MIN);
    assert_eq!(e.aust, 0.0);
    assert_eq!(e.aupt, 360.0 * MIN);
    assert_eq!(e.adet, 51.0 * MIN);
    assert_eq!(e.aubt, 411.0 * MIN);
    assert_eq!(e.adot, 39.0 * MIN);
    assert_eq!((e.failures, e.micro_stops), (2, 1));
    assert_eq!(e.repair, 50.0 * MIN);
    let q = &figures.quantities;
    assert_eq!((q.pq, q.gq), (4_320, 4_212));
    assert_eq!(q.planned_run_time, Some(19_440.0));
    let k = &figures.kpis;
    assert!(close(k.availability, 0.8), "{k:?}");
    assert!(close(k.effectiveness, 0.9), "{k:?}");
    assert!(close(k.quality_ratio, 0.975), "{k:?}");
    assert!(close(k.oee, 0.702), "{k:?}");
    assert!(close(k.nee, 0.702), "{k:?}");
    assert!(close(k.allocation_efficiency, 411.0 / 450.0), "{k:?}");
    assert!(close(k.utilisation_efficiency, 360.0 / 411.0), "{k:?}");
    assert!(close(k.technical_efficiency, 360.0 / 411.0), "{k:?}");
    assert!(close(k.setup_ratio, 0.0), "{k:?}");
    assert!(close(k.mtbf, 12_330.0), "{k:?}");
    assert!(close(k.mttr, 1_500.0), "{k:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shift_at_central_matches_the_hand_calculation_and_a_recoded_stop_changes_it() {
    let plant = Plant::start().await;
    let mut s1 = machining_shift(&plant).await;

    let report = plant.oee(&format!("station=L1-S1&{}", early())).await;
    assert_eq!(report.window.period, format!("shift Early {}", day()));
    assert_eq!((report.window.from, report.window.to), (t(6, 0), t(14, 0)));
    assert!(!report.window.until_now);
    assert_eq!(report.window.micro_stop_seconds, 120.0);
    let labels: Vec<&str> = report
        .window
        .shifts
        .iter()
        .map(|s| s.label.as_str())
        .collect();
    assert_eq!(labels, [format!("Early {}", day())]);
    assert!(report.line.is_none());
    assert_eq!(report.stations.len(), 1);
    assert_eq!(report.stations[0].station, "L1-S1");
    assert_eq!(report.stations[0].line.as_deref(), Some("L1"));
    assert_machining_by_hand(&report.stations[0].figures);

    // The same through a time window: only shift time inside it is planned operation time, and
    // only from the first machine state known, so 05:00–14:00 adds the half hour of the night
    // shift from 05:30 (05:30–05:50 running, then idle; its 200 units at 05:45).
    let window = plant
        .oee(&format!(
            "station=L1-S1&from={}&to={}",
            t(5, 0).format("%Y-%m-%dT%H:%M:%SZ"),
            t(14, 0).format("%Y-%m-%dT%H:%M:%SZ")
        ))
        .await;
    let e = &window.stations[0].figures.elements;
    assert_eq!(window.window.shifts.len(), 2);
    assert_eq!(e.pot, 510.0 * MIN);
    assert_eq!(e.apt, 380.0 * MIN);
    assert_eq!(window.stations[0].figures.quantities.pq, 4_520);

    // The fault at 11:00 re-coded as a changeover, after the shift: planned, not a failure.
    s1.record(t(14, 30), operator(), vec![coded(t(11, 0), "R-80")]);
    s1.push(&plant).await;
    let recoded = plant.oee(&format!("station=L1-S1&{}", early())).await;
    let figures = &recoded.stations[0].figures;
    assert_eq!(figures.elements.planned_downtime, 60.0 * MIN);
    assert_eq!(figures.elements.pbt, 420.0 * MIN);
    assert_eq!(figures.elements.adet, 21.0 * MIN);
    assert_eq!(
        (figures.elements.failures, figures.elements.micro_stops),
        (1, 1)
    );
    assert!(close(figures.kpis.availability, 360.0 / 420.0));
    assert!(close(figures.kpis.effectiveness, 0.9));
    assert!(close(figures.kpis.oee, 360.0 / 420.0 * 0.9 * 0.975));
    assert!(close(figures.kpis.mtbf, 22_860.0));
    assert!(close(figures.kpis.mttr, 1_200.0));

    // The 11:00 count had 20 rejects more than the machine reported (a counter fault, C-03): a
    // line lead corrects it with a signature. Quality follows: GQ 4 212 - 20 = 4 192 of 4 320.
    let count = s1
        .store
        .recent_correctable(50)
        .expect("history")
        .into_iter()
        .find(|event| {
            matches!(
                event.kind,
                EventKind::UnitsProduced {
                    produced: 1_000,
                    ..
                }
            )
        })
        .expect("the 11:00 count");
    let lead = Badge::from("EMP-3001");
    let record = NewEvent {
        at: t(15, 0),
        actor: Actor::Operator(lead.clone()),
        kind: EventKind::Corrected {
            corrects: count.seq,
            work_order: Some(WorkOrderId::from(WO)),
            was: Correction::Count {
                produced: 1_000,
                rejected: 25,
            },
            now: Correction::Count {
                produced: 1_000,
                rejected: 45,
            },
            reason: "C-03".into(),
        },
    };
    let mut events = takt::domain::signature::signature_events(
        &s1.id,
        &record,
        &[(
            SignatureInput {
                badge: lead,
                meaning: Meaning::Responsible,
            },
            "Demo Line Lead".into(),
        )],
    );
    events.insert(0, record);
    let sealed = s1.store.append(&mut s1.state, events).expect("append");
    s1.unsent.extend(sealed);
    s1.push(&plant).await;
    let corrected = plant.oee(&format!("station=L1-S1&{}", early())).await;
    let q = &corrected.stations[0].figures.quantities;
    assert_eq!((q.pq, q.gq), (4_320, 4_192));
    assert!(close(
        corrected.stations[0].figures.kpis.quality_ratio,
        4_192.0 / 4_320.0
    ));

    // A count no machine makes between two polls is set aside at ingest, and counts for nothing.
    s1.plc(t(12, 0), vec![units(5_000_000, 0)]);
    s1.push(&plant).await;
    let after = plant.oee(&format!("station=L1-S1&{}", early())).await;
    let q = &after.stations[0].figures.quantities;
    assert_eq!((q.pq, q.gq), (4_320, 4_192));
    plant.stop().await;
}

/// Line L1's Early shift, its total from the stations' summed elements:
///
/// L1-S2 by hand (idle in the break): POT 480, break 30, PBT 450, APT 480 − 30 − 10 = 440, ADET 10 (a failure),
/// PQ 6 000 at 3.8 s = 22 800 s, GQ 5 940; A = 440 / 450, E = 22 800 / 26 400, QR = 0.99,
/// OEE = 22 800 / 27 000 × 0.99 = 0.836.
/// L1-S3 sent nothing: no machine state known, so no planned operation time (not knowing is not
/// standing still): every element 0, every KPI unknown — it neither helps nor drags the line.
///
/// Line: POT 960, planned 60, PBT 900, APT 360 + 440 = 800, ADET 51 + 10 = 61, AUBT 861,
/// ADOT 39, failures 3 (repair 60 min), one micro-stop; PQ 10 320, GQ 10 152, PRI × PQ
/// 19 440 + 22 800 = 42 240 s.
/// A = 800 / 900 = 0.888 888…, E = 42 240 / 48 000 = 0.88, QR = 10 152 / 10 320 = 0.983 720…,
/// OEE = 0.769 488…, MTBF = 861 / 3 min = 17 220 s, MTTR = 20 min = 1 200 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_total_comes_from_its_stations_summed_elements() {
    let plant = Plant::start().await;
    machining_shift(&plant).await;
    assembly_shift(&plant).await;

    let report = plant.oee(&format!("line=L1&{}", early())).await;
    let names: Vec<&str> = report.stations.iter().map(|s| s.station.as_str()).collect();
    assert_eq!(names, ["L1-S1", "L1-S2", "L1-S3"]);
    assert_machining_by_hand(&report.stations[0].figures);

    let s2 = &report.stations[1].figures;
    assert_eq!(
        (
            s2.elements.pbt,
            s2.elements.apt,
            s2.elements.adet,
            s2.elements.failures
        ),
        (450.0 * MIN, 440.0 * MIN, 10.0 * MIN, 1)
    );
    assert_eq!((s2.quantities.pq, s2.quantities.gq), (6_000, 5_940));
    assert!(close(s2.kpis.availability, 440.0 / 450.0));
    assert!(close(s2.kpis.effectiveness, 22_800.0 / 26_400.0));
    assert!(close(s2.kpis.oee, 0.836));

    let s3 = &report.stations[2].figures;
    assert_eq!(
        (
            s3.elements.pot,
            s3.elements.planned_downtime,
            s3.elements.pbt
        ),
        (0.0, 0.0, 0.0)
    );
    assert_eq!(s3.kpis.availability, None);
    assert_eq!(
        (s3.kpis.effectiveness, s3.kpis.quality_ratio, s3.kpis.oee),
        (None, None, None)
    );

    let line = report.line.as_ref().expect("a line total");
    assert_eq!(line.line, "L1");
    assert_eq!(line.stations, ["L1-S1", "L1-S2", "L1-S3"]);
    let e = &line.figures.elements;
    assert_eq!(e.pot, 960.0 * MIN);
    assert_eq!(e.planned_downtime, 60.0 * MIN);
    assert_eq!(e.pbt, 900.0 * MIN);
    assert_eq!(e.apt, 800.0 * MIN);
    assert_eq!(e.adet, 61.0 * MIN);
    assert_eq!(e.aubt, 861.0 * MIN);
    assert_eq!(e.adot, 39.0 * MIN);
    assert_eq!((e.failures, e.micro_stops), (3, 1));
    assert_eq!(e.repair, 60.0 * MIN);
    let q = &line.figures.quantities;
    assert_eq!(
        (q.pq, q.gq, q.planned_run_time),
        (10_320, 10_152, Some(42_240.0))
    );
    let k = &line.figures.kpis;
    let (a, eff, qr) = (800.0 / 900.0, 0.88, 10_152.0 / 10_320.0);
    assert!(close(k.availability, a), "{k:?}");
    assert!(close(k.effectiveness, eff), "{k:?}");
    assert!(close(k.quality_ratio, qr), "{k:?}");
    assert!(close(k.oee, a * eff * qr), "{k:?}");
    assert!((a * eff * qr - 0.769_488).abs() < 1e-6);
    assert!(close(k.allocation_efficiency, 861.0 / 900.0), "{k:?}");
    assert!(close(k.utilisation_efficiency, 800.0 / 861.0), "{k:?}");
    assert!(close(k.mtbf, 17_220.0), "{k:?}");
    assert!(close(k.mttr, 1_200.0), "{k:?}");

    // A production day is its three shifts: its elements and counts are theirs summed, its KPIs
    // come from those sums, and the night shift before (05:45) is not in it.
    let whole = plant.oee(&format!("station=L1-S1&day={}", day())).await;
    let labels: Vec<String> = whole
        .window
        .shifts
        .iter()
        .map(|s| s.label.clone())
        .collect();
    assert_eq!(
        labels,
        ["Early", "Late", "Night"].map(|name| format!("{name} {}", day()))
    );
    let mut shifts = Vec::new();
    for name in ["Early", "Late", "Night"] {
        let one = plant
            .oee(&format!("station=L1-S1&shift={name}&date={}", day()))
            .await;
        shifts.push(one.stations[0].figures.clone());
    }
    let d = &whole.stations[0].figures;
    let sum = |f: fn(&KpiFigures) -> f64| shifts.iter().map(f).sum::<f64>();
    assert_eq!(d.elements.pot, 24.0 * 60.0 * MIN);
    assert_eq!(d.elements.pot, sum(|f| f.elements.pot));
    assert_eq!(d.elements.pbt, sum(|f| f.elements.pbt));
    assert_eq!(d.elements.apt, sum(|f| f.elements.apt));
    assert_eq!(d.elements.adet, sum(|f| f.elements.adet));
    assert_eq!(d.elements.adot, sum(|f| f.elements.adot));
    assert_eq!(d.quantities.pq, 4_320 + 150);
    assert_eq!(
        d.quantities.pq,
        shifts.iter().map(|f| f.quantities.pq).sum::<u64>()
    );
    assert!(close(
        d.kpis.availability,
        sum(|f| f.elements.apt) / sum(|f| f.elements.pbt)
    ));
    plant.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_400_and_unknown_stations_and_lines_404() {
    let plant = Plant::start().await;
    machining_shift(&plant).await;
    let date = day();
    for (query, status, words) in [
        (
            "",
            400,
            "say whose KPIs: station=L1-S1 or line=L1".to_owned(),
        ),
        (
            "station=L1-S1&line=L1",
            400,
            "give station= or line=, not both".into(),
        ),
        (
            "station=L1-S1&shift=Early",
            400,
            "shift=Early needs the day it starts on: date=YYYY-MM-DD".into(),
        ),
        (
            "station=L1-S1&day=2026-02-30",
            400,
            "day=\"2026-02-30\" is not a date like 2026-11-25".into(),
        ),
        (
            &format!("station=L1-S1&shift=Weekend&date={date}"),
            400,
            "the calendar has no shift \"Weekend\" (its shifts: Early, Late, Night)".into(),
        ),
        (
            "station=L1-S1&from=2026-11-25T08:00:00Z&to=2026-11-25T07:00:00Z",
            400,
            "must be after from=".into(),
        ),
        (
            "station=L1-S1&from=2026-11-25T08:00:00Z",
            400,
            "from= and to= go together".into(),
        ),
        (
            &format!("station=L1-S1&shfit=Early&date={date}"),
            400,
            "unknown field `shfit`".into(),
        ),
        (
            &format!("station=L9-S9&shift=Early&date={date}"),
            404,
            "central knows no station L9-S9".into(),
        ),
        (
            &format!("line=L9&day={date}"),
            404,
            "central knows no line L9".into(),
        ),
    ] {
        let (got, error) = plant.refused(query).await;
        assert_eq!(got.as_u16(), status, "{query}: {error}");
        assert!(error.contains(&words), "{query}: {error}");
    }

    // No period: the shift running now, up to now.
    let calendar = ShiftCalendar::default();
    let before = calendar.shift_at(Utc::now()).map(|s| s.label());
    let now = plant.oee("station=L1-S1").await;
    let after = calendar.shift_at(Utc::now()).map(|s| s.label());
    let label = now.window.shifts.first().map(|s| s.label.clone());
    assert!(label == before || label == after, "{label:?}");
    assert!(now.window.until_now);
    assert!(now.window.period.starts_with("the shift running now"));
    plant.stop().await;
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| (*arg).to_owned()).collect()
}

/// The row of a table whose label starts with `label`.
fn row<'a>(table: &'a str, label: &str) -> &'a str {
    table
        .lines()
        .find(|line| line.trim_start().starts_with(label))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takt_kpi_oee_prints_the_table_or_centrals_json() {
    let plant = Plant::start().await;
    machining_shift(&plant).await;
    assembly_shift(&plant).await;
    let url = plant.url();
    let date = day().to_string();

    for help in [vec!["kpi", "--help"], vec!["kpi", "oee", "--help"]] {
        let out = takt_cli(args(&help)).await;
        assert!(out.status.success(), "{help:?}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("Usage"), "{help:?}");
    }

    let out = takt_cli(args(&[
        "kpi",
        "oee",
        "--central",
        &url,
        "--station",
        "L1-S1",
        "--shift",
        "Early",
        "--date",
        &date,
        "--json",
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let parsed: OeeReport = serde_json::from_slice(&out.stdout).expect("--json parses");
    let api = plant.oee(&format!("station=L1-S1&{}", early())).await;
    assert_eq!(parsed, api);
    assert_machining_by_hand(&parsed.stations[0].figures);

    let out = takt_cli(args(&[
        "kpi",
        "oee",
        "--central",
        &url,
        "--line",
        "L1",
        "--shift",
        "Early",
        "--date",
        &date,
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(
        table.starts_with(&format!(
            "ISO 22400-2 KPIs of line L1 (L1-S1, L1-S2, L1-S3): shift Early {date}\n"
        )),
        "{table}"
    );
    let header = table
        .lines()
        .find(|line| line.starts_with(' ') && line.contains("line L1"))
        .unwrap_or_default();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        ["L1-S1", "L1-S2", "L1-S3", "line", "L1"],
        "{table}"
    );
    let cells = |label: &str| -> Vec<String> {
        let line = row(&table, label);
        let values = line
            .get(line.len().saturating_sub(48)..)
            .unwrap_or_default();
        values
            .split("  ")
            .map(str::trim)
            .filter(|cell| !cell.is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        cells("Planned operation time (POT)"),
        ["8:00:00", "8:00:00", "0:00:00", "16:00:00"],
        "{table}"
    );
    assert_eq!(
        cells("Actual production time (APT)"),
        ["6:00:00", "7:20:00", "0:00:00", "13:20:00"],
        "{table}"
    );
    assert_eq!(cells("Failures"), ["2", "1", "0", "3"], "{table}");
    assert_eq!(
        cells("Availability (A = APT / PBT)"),
        ["80.0 %", "97.8 %", "-", "88.9 %"],
        "{table}"
    );
    assert_eq!(
        cells("OEE index (A x E x QR)"),
        ["70.2 %", "83.6 %", "-", "76.9 %"],
        "{table}"
    );
    assert_eq!(
        cells("Mean time to repair (MTTR)"),
        ["0:25:00", "0:10:00", "-", "0:20:00"],
        "{table}"
    );

    let out = takt_cli(args(&[
        "kpi",
        "oee",
        "--central",
        &url,
        "--station",
        "L9-S9",
        "--day",
        &date,
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("central knows no station L9-S9"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    // Central refusing the query: its words, exit 1.
    let out = takt_cli(args(&[
        "kpi",
        "oee",
        "--central",
        &url,
        "--station",
        "L1-S1",
        "--shift",
        "Weekend",
        "--date",
        &date,
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("refused the query (400): the calendar has no shift"),
        "{}",
        text(&out.stderr)
    );

    // Nothing listens on a port just freed.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port");
    let out = takt_cli(args(&[
        "kpi",
        "oee",
        "--central",
        &format!("http://{free}"),
        "--station",
        "L1-S1",
        "--timeout",
        "5",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!("cannot reach central at http://{free}")),
        "{}",
        text(&out.stderr)
    );
    plant.stop().await;
}

/// A `takt central` child process, killed (by its own handle) when dropped.
struct CentralProcess(Child);

impl Drop for CentralProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write file");
    path.display().to_string()
}

/// `takt central --calendar FILE`: a plant working one day shift 07:00–15:30 at UTC+01:00 with a
/// break 11:00–11:30. L1-S1's events (above) are in UTC; the shift is 06:00–14:30 UTC, POT 8.5 h.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takt_central_takes_the_plants_calendar_from_a_file() {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("central.db");
    let calendar = write(
        dir.path(),
        "plant.toml",
        "[calendar]\nutc_offset = \"+01:00\"\nshifts = [\n  { name = \"Day\", start = \"07:00\", end = \"15:30\", breaks = [\"11:00-11:30\"] },\n]\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_takt"))
        .args([
            "central",
            "--listen",
            "127.0.0.1:0",
            "--db",
            &db.display().to_string(),
            "--demo-data",
            "--calendar",
            &calendar,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start takt central");
    let stdout = child.stdout.take().expect("stdout");
    let child = CentralProcess(child);
    let lines = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        for _ in 0..2 {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read stdout");
            lines.push(line);
        }
        lines
    });
    let lines = tokio::time::timeout(std::time::Duration::from_secs(30), lines)
        .await
        .expect("central says where it listens")
        .expect("reader");
    let url = lines[0]
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .expect("the URL")
        .to_owned();
    assert_eq!(
        lines[1].trim(),
        "shifts (UTC+01:00): Day 07:00-15:30 (break 11:00-11:30)"
    );

    let client = reqwest::Client::new();
    let report: OeeReport = client
        .get(format!(
            "{url}/api/v1/kpi/oee?station=L1-S1&shift=day&date={}",
            day()
        ))
        .send()
        .await
        .expect("get kpi")
        .json()
        .await
        .expect("kpi report");
    assert_eq!(report.window.utc_offset, "+01:00");
    assert_eq!((report.window.from, report.window.to), (t(6, 0), t(14, 30)));
    assert_eq!(report.window.shifts[0].label, format!("Day {}", day()));
    let e = &report.stations[0].figures.elements;
    // Nothing was sent: no machine state known, no planned operation time.
    assert_eq!((e.pot, e.planned_downtime, e.apt), (0.0, 0.0, 0.0));
    let (status, error) = {
        let response = client
            .get(format!(
                "{url}/api/v1/kpi/oee?station=L1-S1&shift=Early&date={}",
                day()
            ))
            .send()
            .await
            .expect("get kpi");
        let status = response.status();
        let error: ApiError = response.json().await.expect("error body");
        (status, error.error)
    };
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error.contains("(its shifts: Day)"), "{error}");
    drop(child);

    // A file without the section is refused before anything listens, naming the file.
    let broken = write(dir.path(), "broken.toml", "[calender]\n");
    let out = takt_cli(args(&[
        "central",
        "--listen",
        "127.0.0.1:0",
        "--db",
        &db.display().to_string(),
        "--calendar",
        &broken,
    ]))
    .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "calendar file {broken}: there is no [calendar] section"
        )),
        "{stderr}"
    );
}
