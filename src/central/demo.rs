//! The demo plant of DEMO_PLANT.md as master records. Codes here are stable: people learn them.

use crate::domain::aql::InspectionLevel;
use crate::domain::inspection::{
    AqlSampling, Characteristic, CharacteristicKind, InspectionPlan, Sampling,
};
use crate::domain::{
    Badge, Bom, BomLine, Code, CodeKind, Consumption, DefectClass, LineId, Lot, LotId, LotOrigin,
    LotStatus, Material, MaterialId, OperationId, Operator, OutputKind, Product, ProductId,
    Quantity, Routing, RoutingStep, StationId, WorkOrder, WorkOrderId, WorkOrderStatus,
};
use crate::protocol::MasterRecord;
use chrono::{Days, NaiveDate};

/// Units per tote between operations: a WIP lot moves on when its tote is full.
pub const TOTE_SIZE: u64 = 20;

pub const LINE: (&str, &str) = ("L1", "Caliper line 1");

pub const STATIONS: &[(&str, &str)] = &[
    ("L1-S1", "OP10 machining"),
    ("L1-S2", "OP20 assembly"),
    ("L1-S3", "OP30 leak test and pack"),
];

/// The demo's people: badge, name, role and PIN (the demo shows its PINs; a plant never does).
pub const OPERATORS: [(&str, &str, &str, &str); 6] = [
    ("EMP-1001", "Demo Operator A", "operator", "1001"),
    ("EMP-1002", "Demo Operator B", "operator", "1002"),
    ("EMP-2001", "Demo Inspector", "inspector", "2001"),
    ("EMP-3001", "Demo Line Lead", "line_lead", "3001"),
    ("EMP-9001", "Demo Maintenance", "maintenance", "9001"),
    ("EMP-9999", "Demo Admin", "admin", "9999"),
];

/// The demo PIN of a badge, for the help screen and tests.
pub fn demo_pin(badge: &str) -> Option<&'static str> {
    OPERATORS
        .iter()
        .find(|(b, ..)| *b == badge)
        .map(|(.., pin)| *pin)
}

/// A verifier per demo PIN, made once per process: the demo plant is built often (every test
/// station), and each Argon2id hash costs tens of milliseconds by design.
fn demo_pin_verifier(pin: &str) -> String {
    static VERIFIERS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    let verifiers = VERIFIERS.get_or_init(|| {
        OPERATORS
            .iter()
            .map(|(.., pin)| {
                let verifier = crate::credential::hash_pin(&crate::credential::Pin::new(*pin))
                    .expect("the demo PINs follow the PIN rules");
                ((*pin).to_owned(), verifier)
            })
            .collect()
    });
    verifiers
        .iter()
        .find(|(p, _)| p == pin)
        .map(|(_, verifier)| verifier.clone())
        .expect("a demo PIN")
}

/// Every master record of the demo plant; dates are relative to `today` so the demo never goes stale.
pub fn master_records(today: NaiveDate) -> Vec<MasterRecord> {
    let mut records = Vec::new();

    records.extend(OPERATORS.iter().map(|(badge, name, role, pin)| {
        MasterRecord::Operator(Operator {
            badge: Badge::from(*badge),
            name: (*name).into(),
            roles: vec![(*role).into()],
            active: true,
            valid_until: None,
            revoked_at: None,
            pin_verifier: Some(demo_pin_verifier(pin)),
        })
    }));

    let products = [
        ("BC-200", "front caliper", "00401234501019"),
        ("BC-210", "rear caliper", "00401234501026"),
    ];
    records.extend(products.iter().map(|(id, name, gtin)| {
        MasterRecord::Product(Product {
            id: ProductId::from(*id),
            name: (*name).into(),
            gtin: Some((*gtin).into()),
        })
    }));

    // (id, name, GTIN, unit, shelf life in days); semi-finished materials carry no GTIN.
    type MaterialRow<'a> = (&'a str, &'a str, Option<&'a str>, &'a str, Option<u32>);
    let materials: [MaterialRow<'_>; 14] = [
        (
            "CAST-200",
            "caliper casting 54",
            Some("00401234500012"),
            "pc",
            None,
        ),
        (
            "CAST-210",
            "caliper casting 48",
            Some("00401234500029"),
            "pc",
            None,
        ),
        ("PST-54", "piston 54 mm", Some("00401234500111"), "pc", None),
        ("PST-48", "piston 48 mm", Some("00401234500128"), "pc", None),
        (
            "SEAL-54",
            "seal kit 54",
            Some("00401234500210"),
            "pc",
            Some(730),
        ),
        (
            "SEAL-48",
            "seal kit 48",
            Some("00401234500227"),
            "pc",
            Some(730),
        ),
        (
            "GRS-1",
            "assembly grease",
            Some("00401234500319"),
            "kg",
            Some(365),
        ),
        ("BOX-2", "shipping box", Some("00401234500418"), "pc", None),
        ("BC-200-M", "BC-200 machined (after OP10)", None, "pc", None),
        (
            "BC-200-A",
            "BC-200 assembled (after OP20)",
            None,
            "pc",
            None,
        ),
        ("BC-210-M", "BC-210 machined (after OP10)", None, "pc", None),
        (
            "BC-210-A",
            "BC-210 assembled (after OP20)",
            None,
            "pc",
            None,
        ),
        (
            "BC-200",
            "front caliper",
            Some("00401234501019"),
            "pc",
            None,
        ),
        ("BC-210", "rear caliper", Some("00401234501026"), "pc", None),
    ];
    records.extend(materials.iter().map(|(id, name, gtin, unit, shelf_life)| {
        MasterRecord::Material(Material {
            id: MaterialId::from(*id),
            name: (*name).into(),
            gtin: gtin.map(str::to_owned),
            unit: (*unit).into(),
            shelf_life_days: *shelf_life,
            other_gtins: Vec::new(),
        })
    }));

    for (product, size) in [("BC-200", "54"), ("BC-210", "48")] {
        let short = &product[3..]; // 200 / 210
        let machined = format!("{product}-M");
        let assembled = format!("{product}-A");
        // The ideal cycles of DEMO_PLANT.md, in demo time.
        let ideal = |op: &str| match op {
            "OP10" => 4_500,
            "OP20" => 3_800,
            _ => 3_000,
        };
        let step =
            |op: &str, name: &str, station: &str, output: &str, kind: OutputKind| RoutingStep {
                operation: OperationId::from(op),
                name: name.into(),
                stations: vec![StationId::from(station)],
                output_material: MaterialId::new(output),
                output: kind,
                ideal_cycle_ms: Some(ideal(op)),
            };
        records.push(MasterRecord::Routing(Routing {
            product: ProductId::from(product),
            steps: vec![
                step(
                    "OP10",
                    "machining",
                    "L1-S1",
                    &machined,
                    OutputKind::Lot { size: TOTE_SIZE },
                ),
                step(
                    "OP20",
                    "assembly",
                    "L1-S2",
                    &assembled,
                    OutputKind::Lot { size: TOTE_SIZE },
                ),
                step(
                    "OP30",
                    "leak test and pack",
                    "L1-S3",
                    product,
                    OutputKind::Serial,
                ),
            ],
        }));
        let line = |material: String, per_unit: &str| BomLine {
            material: MaterialId::new(material),
            quantity_per_unit: Quantity::parse(per_unit).unwrap_or(Quantity::ZERO),
            tolerance_pct: 0,
            consumption: Consumption::PerUnit,
        };
        let bom = |op: &str, lines: Vec<BomLine>| {
            MasterRecord::Bom(Bom {
                product: ProductId::from(product),
                operation: OperationId::from(op),
                lines,
            })
        };
        records.push(bom("OP10", vec![line(format!("CAST-{short}"), "1")]));
        records.push(bom(
            "OP20",
            vec![
                line(machined.clone(), "1"),
                line(format!("PST-{size}"), "1"),
                line(format!("SEAL-{size}"), "1"),
                line("GRS-1".into(), "0.005"),
            ],
        ));
        records.push(bom(
            "OP30",
            vec![line(assembled.clone(), "1"), line("BOX-2".into(), "1")],
        ));
    }

    // (lot, material, quantity, expiry in days from today, status, reason)
    type LotRow<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<i64>,
        LotStatus,
        Option<&'a str>,
    );
    let lots: [LotRow<'_>; 10] = [
        (
            "C24-1107",
            "CAST-200",
            "400",
            None,
            LotStatus::Released,
            None,
        ),
        (
            "C24-1031",
            "CAST-200",
            "120",
            None,
            LotStatus::OnHold,
            Some("porosity suspected"),
        ),
        (
            "C24-2210",
            "CAST-210",
            "300",
            None,
            LotStatus::Released,
            None,
        ),
        ("P24-2201", "PST-54", "500", None, LotStatus::Released, None),
        ("P24-2305", "PST-48", "300", None, LotStatus::Released, None),
        (
            "S24-0815",
            "SEAL-54",
            "500",
            Some(400),
            LotStatus::Released,
            None,
        ),
        (
            "S23-0912",
            "SEAL-54",
            "200",
            Some(-30),
            LotStatus::Released,
            None,
        ),
        (
            "S24-0620",
            "SEAL-48",
            "300",
            Some(300),
            LotStatus::Released,
            None,
        ),
        (
            "G24-0101",
            "GRS-1",
            "5",
            Some(200),
            LotStatus::Released,
            None,
        ),
        ("B24-0007", "BOX-2", "1000", None, LotStatus::Released, None),
    ];
    records.extend(
        lots.iter()
            .map(|(id, material, quantity, expiry_in, status, reason)| {
                MasterRecord::Lot(Lot {
                    id: LotId::from(*id),
                    material: MaterialId::from(*material),
                    quantity: Quantity::parse(quantity).unwrap_or(Quantity::ZERO),
                    expiry: expiry_in
                        .and_then(|days| today.checked_add_signed(chrono::Duration::days(days))),
                    status: *status,
                    status_reason: reason.map(str::to_owned),
                    origin: LotOrigin::Supplier,
                    status_at: None,
                    rework: None,
                })
            }),
    );

    let codes: [(&str, &str, CodeKind); 22] = [
        (
            "D-101",
            "porosity",
            CodeKind::Defect {
                class: DefectClass::Major,
            },
        ),
        (
            "D-102",
            "bore oversize",
            CodeKind::Defect {
                class: DefectClass::Major,
            },
        ),
        (
            "D-103",
            "burr",
            CodeKind::Defect {
                class: DefectClass::Minor,
            },
        ),
        (
            "D-201",
            "missing seal",
            CodeKind::Defect {
                class: DefectClass::Critical,
            },
        ),
        (
            "D-202",
            "piston scratched",
            CodeKind::Defect {
                class: DefectClass::Major,
            },
        ),
        (
            "D-301",
            "leak test fail",
            CodeKind::Defect {
                class: DefectClass::Critical,
            },
        ),
        (
            "D-302",
            "label missing",
            CodeKind::Defect {
                class: DefectClass::Minor,
            },
        ),
        ("R-11", "spindle", CodeKind::Downtime { planned: false }),
        ("R-12", "fixture", CodeKind::Downtime { planned: false }),
        ("R-20", "electrical", CodeKind::Downtime { planned: false }),
        ("R-31", "no castings", CodeKind::Downtime { planned: false }),
        (
            "R-32",
            "wrong material",
            CodeKind::Downtime { planned: false },
        ),
        (
            "R-41",
            "waiting for inspection",
            CodeKind::Downtime { planned: false },
        ),
        (
            "R-51",
            "operator absent",
            CodeKind::Downtime { planned: false },
        ),
        ("C-01", "keying error", CodeKind::Correction),
        ("C-02", "wrong label scanned", CodeKind::Correction),
        ("C-03", "counter fault", CodeKind::Correction),
        ("C-04", "booked to the wrong order", CodeKind::Correction),
        ("R-80", "changeover", CodeKind::Downtime { planned: true }),
        ("R-81", "break", CodeKind::Downtime { planned: true }),
        (
            "R-82",
            "planned maintenance",
            CodeKind::Downtime { planned: true },
        ),
        ("R-83", "meeting", CodeKind::Downtime { planned: true }),
    ];
    records.extend(codes.iter().map(|(code, text, kind)| {
        MasterRecord::Code(Code {
            code: (*code).into(),
            text: (*text).into(),
            kind: *kind,
        })
    }));
    records.extend(
        inspection_plans()
            .into_iter()
            .map(MasterRecord::InspectionPlan),
    );

    let stations: Vec<StationId> = STATIONS
        .iter()
        .map(|(id, _)| StationId::from(*id))
        .collect();
    // (order, numeric id, product, quantity, due in days, priority, status)
    let work_orders = [
        (
            "WO-24001",
            24001,
            "BC-200",
            120,
            1,
            1,
            WorkOrderStatus::Released,
        ),
        (
            "WO-24002",
            24002,
            "BC-210",
            60,
            2,
            2,
            WorkOrderStatus::Released,
        ),
        (
            "WO-24003",
            24003,
            "BC-200",
            200,
            3,
            3,
            WorkOrderStatus::Released,
        ),
        (
            "WO-24004",
            24004,
            "BC-210",
            80,
            5,
            4,
            WorkOrderStatus::Planned,
        ),
    ];
    records.extend(work_orders.iter().map(
        |(id, numeric_id, product, quantity, due_in, priority, status)| {
            MasterRecord::WorkOrder(WorkOrder {
                id: WorkOrderId::from(*id),
                numeric_id: *numeric_id,
                product: ProductId::from(*product),
                quantity: *quantity,
                due: today.checked_add_days(Days::new(*due_in)).unwrap_or(today),
                priority: *priority,
                status: *status,
                status_reason: None,
                line: LineId::from(LINE.0),
                stations: stations.clone(),
            })
        },
    ));

    records
}

/// DEMO_PLANT.md, Quality: OP10 first article, bore diameter in subgroups of 5 every 20 units, visual
/// at AQL 2.5 (major) / 4.0 (minor); OP30 leak rate on every unit from the PLC, final visual at AQL
/// 1.0 / 2.5. Both at general inspection level II.
pub fn inspection_plans() -> Vec<InspectionPlan> {
    let aql = |major: &str, minor: &str| AqlSampling {
        level: InspectionLevel::II,
        major: major
            .parse()
            .unwrap_or_else(|_| unreachable!("a standard AQL")),
        minor: minor
            .parse()
            .unwrap_or_else(|_| unreachable!("a standard AQL")),
    };
    let visual = |name: &str| Characteristic {
        id: "VISUAL".into(),
        name: name.into(),
        kind: CharacteristicKind::Attribute,
        sampling: Sampling::Aql,
        class: DefectClass::Major,
        plc_value: None,
    };
    let mut plans = Vec::new();
    for (product, bore) in [("BC-200", 54.0), ("BC-210", 48.0)] {
        plans.push(InspectionPlan {
            product: product.into(),
            operation: "OP10".into(),
            characteristics: vec![
                Characteristic {
                    id: "BORE".into(),
                    name: "bore diameter".into(),
                    kind: CharacteristicKind::Variable {
                        nominal: bore,
                        lower: Some(bore - 0.020),
                        upper: Some(bore + 0.020),
                        unit: "mm".into(),
                        gauge: Some("BG-01 bore gauge".into()),
                        subgroup: Some(5),
                    },
                    sampling: Sampling::EveryNth { n: 20 },
                    class: DefectClass::Major,
                    plc_value: None,
                },
                visual("visual: porosity, burrs"),
            ],
            aql: Some(aql("2.5", "4.0")),
            first_article_gates: true,
        });
        plans.push(InspectionPlan {
            product: product.into(),
            operation: "OP30".into(),
            characteristics: vec![
                Characteristic {
                    id: "LEAK".into(),
                    name: "leak rate".into(),
                    kind: CharacteristicKind::Variable {
                        nominal: 0.20,
                        lower: None,
                        upper: Some(0.50),
                        unit: "ml/min".into(),
                        gauge: Some("leak tester".into()),
                        subgroup: None,
                    },
                    sampling: Sampling::EveryUnit,
                    class: DefectClass::Critical,
                    plc_value: Some("leak_rate".into()),
                },
                visual("final visual"),
            ],
            aql: Some(aql("1.0", "2.5")),
            first_article_gates: false,
        });
    }
    plans
}
