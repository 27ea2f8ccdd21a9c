//! The demo plant of DEMO_PLANT.md as master records. Codes here are stable: people learn them.

use crate::domain::{
    Badge, LineId, Material, MaterialId, Operator, Product, ProductId, StationId, WorkOrder,
    WorkOrderId, WorkOrderStatus,
};
use crate::protocol::MasterRecord;
use chrono::{Days, NaiveDate};

pub const LINE: (&str, &str) = ("L1", "Caliper line 1");

pub const STATIONS: &[(&str, &str)] = &[
    ("L1-S1", "OP10 machining"),
    ("L1-S2", "OP20 assembly"),
    ("L1-S3", "OP30 leak test and pack"),
];

/// Every master record of the demo plant; dates are relative to `today` so the demo never goes stale.
pub fn master_records(today: NaiveDate) -> Vec<MasterRecord> {
    let mut records = Vec::new();

    let operators = [
        ("EMP-1001", "Demo Operator A", "operator"),
        ("EMP-1002", "Demo Operator B", "operator"),
        ("EMP-2001", "Demo Inspector", "inspector"),
        ("EMP-3001", "Demo Line Lead", "line_lead"),
        ("EMP-9001", "Demo Maintenance", "maintenance"),
        ("EMP-9999", "Demo Admin", "admin"),
    ];
    records.extend(operators.iter().map(|(badge, name, role)| {
        MasterRecord::Operator(Operator {
            badge: Badge::from(*badge),
            name: (*name).into(),
            roles: vec![(*role).into()],
            active: true,
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

    let materials = [
        ("CAST-200", "caliper casting 54", "00401234500012", "pc"),
        ("CAST-210", "caliper casting 48", "00401234500029", "pc"),
        ("PST-54", "piston 54 mm", "00401234500111", "pc"),
        ("PST-48", "piston 48 mm", "00401234500128", "pc"),
        ("SEAL-54", "seal kit 54", "00401234500210", "pc"),
        ("SEAL-48", "seal kit 48", "00401234500227", "pc"),
        ("GRS-1", "assembly grease", "00401234500319", "kg"),
        ("BOX-2", "shipping box", "00401234500418", "pc"),
    ];
    records.extend(materials.iter().map(|(id, name, gtin, unit)| {
        MasterRecord::Material(Material {
            id: MaterialId::from(*id),
            name: (*name).into(),
            gtin: Some((*gtin).into()),
            unit: (*unit).into(),
        })
    }));

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
                line: LineId::from(LINE.0),
                stations: stations.clone(),
            })
        },
    ));

    records
}
