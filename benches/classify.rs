//! Classifier throughput on a realistic mix of scans (GS1 supplier labels, WIP and serial labels,
//! ISO 15434, badges, work orders, command barcodes, defect and reason codes), next to a raw
//! baseline measured in the same run: the same texts split on GS and matched by prefix, which is
//! the least any classifier must do.
//!
//! `cargo bench --bench classify` prints scans/s of both and their ratio, for the whole mix and for
//! its structured and plain halves.

use chrono::NaiveDate;
use std::hint::black_box;
use std::time::{Duration, Instant};
use takt::domain::{
    Badge, Code, CodeKind, DefectClass, Lot, LotId, LotOrigin, LotStatus, MasterData, Material,
    MaterialId, Operator, ProductId, Quantity, State, StationId, WorkOrder, WorkOrderId,
    WorkOrderStatus,
};
use takt::scan::{Patterns, classify};

/// Scans per timed block.
const BLOCK: usize = 50_000;
const ROUNDS: usize = 7;

const STRUCTURED: &[&str] = &[
    "]C1010040123450001210C24-1107\u{1d}30400",
    "]C1010040123450011110P24-2201\u{1d}30500",
    "]C101004012345002101727113010S24-0815\u{1d}30500",
    "]C1010040123450031910G24-0101\u{1d}3103005000",
    "]C1240BC-200-M\u{1d}10L1-S1-261125-000001\u{1d}3020\u{1d}11261125",
    "]C1240BC-200-A\u{1d}10L1-S2-261125-000004\u{1d}3020\u{1d}11261125",
    "]C1010040123450101921L1-S3-261125-000007\u{1d}11261125",
    "]d201004012345000291727123110C24-2210\u{1d}30300",
    "[)>\u{1e}06\u{1d}PSEAL-48\u{1d}1TS24-0620\u{1d}Q300\u{1d}D271231\u{1e}\u{4}",
    "]Q1https://id.example.com/01/00401234500418/10/B24-0007?30=1000",
];

const PLAIN: &[&str] = &[
    "EMP-1001",
    "EMP-2001",
    "WO-24001",
    "WO-24003",
    "@START",
    "@PAUSE",
    "@COMPLETE",
    "@ANDON-MAT",
    "D-101",
    "R-11",
    "C24-1107",
    "]C0WO-24002",
];

fn state(today: NaiveDate) -> State {
    let mut master = MasterData::default();
    for badge in ["EMP-1001", "EMP-1002", "EMP-2001", "EMP-3001"] {
        master.operators.insert(
            Badge::from(badge),
            Operator {
                badge: Badge::from(badge),
                name: badge.into(),
                roles: vec!["operator".into()],
                active: true,
                valid_until: None,
                revoked_at: None,
                pin_verifier: None,
            },
        );
    }
    for (n, wo) in ["WO-24001", "WO-24002", "WO-24003", "WO-24004"]
        .iter()
        .enumerate()
    {
        master.work_orders.insert(
            WorkOrderId::from(*wo),
            WorkOrder {
                id: WorkOrderId::from(*wo),
                numeric_id: 24001 + n as u32,
                product: ProductId::from("BC-200"),
                quantity: 120,
                due: today,
                priority: 1,
                status: WorkOrderStatus::Released,
                status_reason: None,
                line: "L1".into(),
                stations: vec![StationId::from("L1-S1")],
            },
        );
    }
    for (id, gtin) in [
        ("CAST-200", Some("00401234500012")),
        ("CAST-210", Some("00401234500029")),
        ("PST-54", Some("00401234500111")),
        ("SEAL-54", Some("00401234500210")),
        ("SEAL-48", Some("00401234500227")),
        ("GRS-1", Some("00401234500319")),
        ("BOX-2", Some("00401234500418")),
        ("BC-200-M", None),
        ("BC-200-A", None),
        ("BC-200", Some("00401234501019")),
    ] {
        master.materials.insert(
            MaterialId::from(id),
            Material {
                id: MaterialId::from(id),
                name: id.into(),
                gtin: gtin.map(str::to_owned),
                unit: "pc".into(),
                shelf_life_days: None,
                other_gtins: Vec::new(),
            },
        );
    }
    master.lots.insert(
        LotId::from("C24-1107"),
        Lot {
            id: LotId::from("C24-1107"),
            material: MaterialId::from("CAST-200"),
            quantity: Quantity::units(400),
            expiry: None,
            status: LotStatus::Released,
            status_reason: None,
            origin: LotOrigin::Supplier,
            status_at: None,
            rework: None,
        },
    );
    for (code, kind) in [
        (
            "D-101",
            CodeKind::Defect {
                class: DefectClass::Major,
            },
        ),
        ("R-11", CodeKind::Downtime { planned: false }),
    ] {
        master.codes.insert(
            code.into(),
            Code {
                code: code.into(),
                text: code.into(),
                kind,
            },
        );
    }
    State::new(StationId::from("L1-S1"), master)
}

/// What the cheapest possible reader does: drop a known AIM prefix, split on GS, look at prefixes.
fn raw_baseline(text: &str) -> usize {
    let body = text
        .strip_prefix("]C1")
        .or_else(|| text.strip_prefix("]d2"))
        .or_else(|| text.strip_prefix("]C0"))
        .or_else(|| text.strip_prefix("]Q1"))
        .unwrap_or(text);
    let fields = body.split('\u{1d}').count();
    let kind = if body.starts_with("EMP-") {
        1
    } else if body.starts_with("WO-") {
        2
    } else if body.starts_with('@') {
        3
    } else if body.starts_with("D-") || body.starts_with("R-") {
        4
    } else if body.starts_with("[)>") || body.starts_with("http") {
        5
    } else {
        6
    };
    fields * 8 + kind
}

/// Scans per second of `f` over `texts`, best of the rounds (the least disturbed by the machine).
fn throughput(texts: &[&str], mut f: impl FnMut(&str) -> usize) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let mut sum = 0usize;
        for i in 0..BLOCK {
            sum = sum.wrapping_add(f(black_box(texts[i % texts.len()])));
        }
        black_box(sum);
        best = best.min(started.elapsed());
    }
    BLOCK as f64 / best.as_secs_f64()
}

fn main() {
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    let state = state(today);
    let patterns = Patterns::default();
    // Every text must classify: a benchmark of refusals would measure the wrong path.
    for text in STRUCTURED.iter().chain(PLAIN) {
        if let Err(error) = classify(text, &state, &patterns, today) {
            panic!("{text:?} is refused: {error}");
        }
    }
    let mix: Vec<&str> = STRUCTURED.iter().chain(PLAIN).copied().collect();
    println!(
        "classify: {BLOCK} scans per round, best of {ROUNDS} rounds, {} distinct texts",
        mix.len()
    );
    for (name, texts) in [
        ("mix", &mix[..]),
        ("structured (GS1/15434/DL)", STRUCTURED),
        ("plain codes", PLAIN),
    ] {
        let raw = throughput(texts, raw_baseline);
        let ours = throughput(texts, |text| {
            usize::from(classify(text, &state, &patterns, today).is_ok())
        });
        println!(
            "  {name:<26} classify {:>10.0} scans/s   raw split/prefix {:>12.0} scans/s   ratio {:>6.1}x slower",
            ours,
            raw,
            raw / ours
        );
    }
}
