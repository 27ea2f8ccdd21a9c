use super::zpl::{Layout, barcode_field, code128_modules, render};
use super::*;
use crate::domain::{Actor, NewEvent, Quantity};
use crate::scan::gs1::GS;
use chrono::TimeZone;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 14, 3, 27)
        .single()
        .unwrap_or_default()
}

/// The part of the demo plant a label of BC-200 needs; the whole plant is in tests/it/label.rs.
fn master() -> MasterData {
    use crate::domain::{Material, Product, ProductId, WorkOrder, WorkOrderStatus};
    let mut master = MasterData::default();
    master.materials.insert(
        MaterialId::from("BC-200"),
        Material {
            id: MaterialId::from("BC-200"),
            name: "front caliper".into(),
            gtin: None,
            unit: "pc".into(),
            shelf_life_days: None,
            other_gtins: Vec::new(),
        },
    );
    // The GTIN only on the product: the finished output still gets it.
    master.products.insert(
        ProductId::from("BC-200"),
        Product {
            id: ProductId::from("BC-200"),
            name: "front caliper".into(),
            gtin: Some("00401234501019".into()),
        },
    );
    master.work_orders.insert(
        WorkOrderId::from("WO-24001"),
        WorkOrder {
            id: WorkOrderId::from("WO-24001"),
            numeric_id: 24001,
            product: ProductId::from("BC-200"),
            quantity: 120,
            due: at().date_naive(),
            priority: 1,
            status: WorkOrderStatus::Released,
            status_reason: None,
            line: "L1".into(),
            stations: vec![StationId::from("L1-S3")],
        },
    );
    master
}

fn wip_lot() -> LabelData {
    LabelData {
        output: LotId::from("L1-S1-261125-000001"),
        form: OutputForm::Lot,
        material: MaterialId::from("BC-200-M"),
        material_name: "BC-200 machined (after OP10)".into(),
        quantity: Quantity::units(20),
        unit: "pc".into(),
        work_order: WorkOrderId::from("WO-24001"),
        operation: OperationId::from("OP10"),
        station: StationId::from("L1-S1"),
        created_at: at(),
        gtin: None,
    }
}

fn finished_serial() -> LabelData {
    LabelData {
        output: LotId::from("L1-S3-261125-000007"),
        form: OutputForm::Serial,
        material: MaterialId::from("BC-200"),
        material_name: "front caliper".into(),
        quantity: Quantity::units(1),
        unit: "pc".into(),
        work_order: WorkOrderId::from("WO-24001"),
        operation: OperationId::from("OP30"),
        station: StationId::from("L1-S3"),
        created_at: at(),
        gtin: Some("00401234501019".into()),
    }
}

#[test]
fn a_wip_lot_carries_material_lot_quantity_and_date() {
    let code = wip_lot().element_string().expect("encodes");
    assert_eq!(
        code.raw,
        "240BC-200-M\u{1d}10L1-S1-261125-000001\u{1d}3020\u{1d}11261125"
    );
    assert_eq!(
        code.hri,
        "(240)BC-200-M(10)L1-S1-261125-000001(30)20(11)261125"
    );
}

#[test]
fn a_finished_serial_carries_gtin_serial_and_date() {
    let code = finished_serial().element_string().expect("encodes");
    assert_eq!(
        code.raw,
        "010040123450101921L1-S3-261125-000007\u{1d}11261125"
    );
    assert_eq!(
        code.hri,
        "(01)00401234501019(21)L1-S3-261125-000007(11)261125"
    );
    let without_gtin = LabelData {
        gtin: None,
        ..finished_serial()
    };
    assert_eq!(
        without_gtin.element_string().expect("encodes").hri,
        "(240)BC-200(21)L1-S3-261125-000007(11)261125"
    );
}

#[test]
fn quantities_that_gs1_cannot_state_are_refused() {
    let grease = LabelData {
        quantity: Quantity::parse("2.5").unwrap_or_default(),
        unit: "kg".into(),
        ..wip_lot()
    };
    assert!(
        grease
            .element_string()
            .expect("kg")
            .hri
            .contains("(3103)002500")
    );
    let half_a_piece = LabelData {
        quantity: Quantity::parse("0.5").unwrap_or_default(),
        ..wip_lot()
    };
    assert!(matches!(
        half_a_piece.element_string(),
        Err(LabelError::Quantity { .. })
    ));
}

#[test]
fn ids_that_do_not_fit_gs1_are_refused_with_the_reason() {
    let long = LabelData {
        output: LotId::from("L1-S1-20261125-0000001"),
        ..wip_lot()
    };
    let error = long.element_string().expect_err("too long").to_string();
    assert!(
        error.contains("(10) BATCH/LOT L1-S1-20261125-0000001: needs 1 to 20 characters, has 22"),
        "{error}"
    );
    let spaced = LabelData {
        material: MaterialId::from("BC 200"),
        ..wip_lot()
    };
    assert!(matches!(
        spaced.element_string(),
        Err(LabelError::Encoding { .. })
    ));
}

/// What the classifier makes of the label is what the label was made from.
#[test]
fn the_classifier_reads_the_labels_back() {
    use crate::domain::{MasterData, State};
    use crate::scan::{Patterns, Scan, classify};
    let state = State::new(StationId::from("L1-S2"), MasterData::default());
    let today = at().date_naive();
    let text = format!("]C1{}", wip_lot().element_string().expect("wip").raw);
    match classify(&text, &state, &Patterns::default(), today) {
        Ok(Scan::Lot(label)) => {
            assert_eq!(label.lot, LotId::from("L1-S1-261125-000001"));
            assert_eq!(label.material, Some(MaterialId::from("BC-200-M")));
            assert_eq!(label.quantity, Some(Quantity::units(20)));
            assert_eq!(label.produced, Some(today));
        }
        other => panic!("{other:?}"),
    }
    let text = format!("]C1{}", finished_serial().element_string().expect("fg").raw);
    assert_eq!(
        classify(&text, &state, &Patterns::default(), today),
        Ok(Scan::Serial {
            serial: LotId::from("L1-S3-261125-000007"),
            gtin: Some("00401234501019".into()),
        })
    );
}

#[test]
fn from_output_takes_names_units_and_gtins_from_master_data() {
    let master = master();
    let event = crate::domain::Event::seal(
        NewEvent {
            at: at(),
            actor: Actor::Plc,
            kind: EventKind::OutputCreated {
                work_order: WorkOrderId::from("WO-24001"),
                operation: OperationId::from("OP30"),
                output: LotId::from("L1-S3-261125-000007"),
                form: OutputForm::Serial,
                material: MaterialId::from("BC-200"),
                quantity: Quantity::units(1),
                inputs: vec![],
                operator: None,
                next_operation: None,
                machine_state: None,
            },
        },
        StationId::from("L1-S3"),
        7,
        uuid::Uuid::nil(),
        crate::domain::GENESIS_HASH.into(),
    );
    let data = LabelData::from_output(&event, &master).expect("an output");
    assert_eq!(data, finished_serial());
}

/// A 4-inch label at 203 dpi: the WIP barcode only fits with 1-dot modules.
#[test]
fn the_wip_label_in_zpl() {
    let zpl = render(&wip_lot(), Layout::default()).expect("renders");
    let expected = "\
^XA
^CI28
^PW812
^LL406
^LH0,0
^FO30,20^A0N,40,40^FH^FDBC-200-M  BC-200 machined (after OP10)^FS
^FO30,68^A0N,34,34^FH^FDLOT L1-S1-261125-000001^FS
^FO30,110^A0N,26,26^FH^FDQTY 20 pc   WO-24001  OP10  L1-S1^FS
^FO30,142^A0N,26,26^FH^FD2026-11-25 14:03 UTC^FS
^BY1,3,150
^FO30,180^BCN,150,N,N,N,A^FD>;>8240BC-200-M>810L1-S1-261125-000001>83020>811261125^FS
^FO30,345^A0N,26,26^FH^FD(240)BC-200-M(10)L1-S1-261125-000001(30)20(11)261125^FS
^XZ
";
    assert_eq!(zpl, expected);
}

/// At 300 dpi everything scales and the bars get 2-dot modules.
#[test]
fn the_serial_label_in_zpl() {
    let zpl = render(&finished_serial(), Layout { dpi: 300 }).expect("renders");
    let expected = "\
^XA
^CI28
^PW1200
^LL600
^LH0,0
^FO44,29^A0N,59,59^FH^FDBC-200  front caliper^FS
^FO44,100^A0N,50,50^FH^FDSERIAL L1-S3-261125-000007^FS
^FO44,162^A0N,38,38^FH^FDWO-24001  OP30  L1-S3^FS
^FO44,209^A0N,38,38^FH^FD2026-11-25 14:03 UTC^FS
^BY2,3,221
^FO44,266^BCN,221,N,N,N,A^FD>;>8010040123450101921L1-S3-261125-000007>811261125^FS
^FO44,509^A0N,38,38^FH^FD(01)00401234501019(21)L1-S3-261125-000007(11)261125^FS
^XZ
";
    assert_eq!(zpl, expected);
}

#[test]
fn barcode_data_marks_fnc1_and_escapes_the_invocation_character() {
    assert_eq!(barcode_field(&format!("10A>B{GS}3020")), ">;>810A><B>83020");
    // Start, FNC1, 8 digit pairs, check: 11 symbols, plus stop and quiet zones.
    assert_eq!(code128_modules("0100401234501019"), 11 * 11 + 13 + 20);
}

#[test]
fn text_fields_cannot_break_out_of_zpl() {
    let tricky = LabelData {
        material_name: "cap ^XZ~JR_x\u{7}é".into(),
        ..wip_lot()
    };
    let zpl = render(&tricky, Layout::default()).expect("renders");
    assert!(
        zpl.contains("^FDBC-200-M  cap _5EXZ_7EJR_5Fx é^FS"),
        "{zpl}"
    );
    assert_eq!(zpl.matches("^XZ").count(), 1);
}
