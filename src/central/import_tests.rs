use super::*;
use crate::central::{Db, ImportResult, import_bytes, seed_demo};
use chrono::Utc;

/// Central as the demo plant leaves it: products, materials, routings, stations L1-S1..3 on L1.
fn catalog() -> Catalog {
    let mut catalog = Catalog::default();
    for record in crate::central::demo::master_records(NaiveDate::MIN) {
        match record {
            MasterRecord::Product(p) => {
                catalog.products.insert(p.id);
            }
            MasterRecord::Material(m) => {
                catalog.materials.insert(m.id);
            }
            MasterRecord::Routing(r) => {
                catalog.routings.insert(r.product.clone(), r);
            }
            MasterRecord::WorkOrder(w) => {
                catalog.work_order_numbers.insert(w.numeric_id, w.id);
            }
            _ => {}
        }
    }
    for (station, _) in crate::central::demo::STATIONS {
        catalog
            .stations
            .insert(StationId::from(*station), Some("L1".to_owned()));
    }
    catalog
}

fn check(kind: ImportKind, format: Format, text: &str) -> Result<Vec<MasterRecord>, Vec<String>> {
    let source = format!(
        "{kind}.{}",
        if format == Format::Csv { "csv" } else { "json" }
    );
    prepare(kind, format, text.as_bytes(), &catalog())
        .map_err(|errors| errors.iter().map(|e| e.describe(&source)).collect())
}

fn refused(kind: ImportKind, format: Format, text: &str) -> Vec<String> {
    match check(kind, format, text) {
        Ok(records) => panic!("expected errors, got {records:?}"),
        Err(errors) => errors,
    }
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

#[test]
fn a_good_work_order_file_becomes_work_orders() {
    let csv = "\u{feff}id,product,quantity,due,status,priority,stations\n\
               WO-30001,BC-200,120,2026-12-01,released,2,L1-S1;L1-S2;L1-S3\n\
               \"WO-30002\" , BC-210 , 60 , 2026-12-02 ,planned,,L1-S1\n\
               \n\
               WO-30003,BC-200,5,2026-12-03,,,\"L1-S2; L1-S3\"\n";
    let records = check(ImportKind::WorkOrders, Format::Csv, csv).expect("valid");
    let orders: Vec<WorkOrder> = records
        .into_iter()
        .map(|record| match record {
            MasterRecord::WorkOrder(order) => order,
            other => panic!("not a work order: {other:?}"),
        })
        .collect();
    assert_eq!(orders.len(), 3);
    assert_eq!(
        orders[0],
        WorkOrder {
            id: WorkOrderId::from("WO-30001"),
            numeric_id: 30001,
            product: ProductId::from("BC-200"),
            quantity: 120,
            due: date("2026-12-01"),
            priority: 2,
            status: WorkOrderStatus::Released,
            status_reason: None,
            line: LineId::from("L1"),
            stations: vec!["L1-S1".into(), "L1-S2".into(), "L1-S3".into()],
        }
    );
    assert_eq!(orders[1].status, WorkOrderStatus::Planned);
    assert_eq!(orders[1].priority, DEFAULT_PRIORITY);
    assert_eq!(orders[1].product, ProductId::from("BC-210"));
    assert_eq!(orders[2].status, WorkOrderStatus::Released, "the default");
    assert_eq!(
        orders[2].stations,
        vec![StationId::from("L1-S2"), StationId::from("L1-S3")]
    );
}

#[test]
fn every_bad_work_order_row_is_named_with_its_line() {
    let csv = "id,product,quantity,due,stations,numeric_id\n\
               WO-1,BC-200,10,2026-12-01,L1-S1,\n\
               WO-2,BC-200,0,2026-12-01,L1-S1,\n\
               WO 3,BC-200,10,2026-12-01,L1-S1,\n\
               ,BC-200,10,2026-12-01,L1-S1,4\n\
               WO-5,BC-999,10,2026-12-01,L1-S1,\n\
               WO-6,BC-200,10,2026-13-01,L1-S1,\n\
               WO-7,BC-200,10,2026-12-01,L9-S9,\n\
               WO-1,BC-200,10,2026-12-01,L1-S1,8\n\
               WO-9,BC-200,ten,2026-12-01,L1-S1,\n\
               WO-10,BC-200,10,2026-12-01,,\n\
               WO-X,BC-200,10,2026-12-01,L1-S1,\n\
               WO-12,BC-200,10,2026-12-01,L1-S1,24001\n";
    let errors = refused(ImportKind::WorkOrders, Format::Csv, csv);
    let expected = [
        "work-orders.csv line 3: quantity \"0\" is not a whole number from 1 up",
        "work-orders.csv line 4: id \"WO 3\" must not contain spaces",
        "work-orders.csv line 5: id is empty",
        "work-orders.csv line 6: product \"BC-999\" is not known at central (import products first)",
        "work-orders.csv line 7: due \"2026-13-01\" is not a date (YYYY-MM-DD)",
        "work-orders.csv line 8: station \"L9-S9\" is not registered at central (takt central station add)",
        "work-orders.csv line 9: duplicate id \"WO-1\" (first on line 2)",
        "work-orders.csv line 10: quantity \"ten\" is not a whole number from 1 up",
        "work-orders.csv line 11: stations is empty (list them separated by ';')",
        "work-orders.csv line 12: numeric_id is empty and id \"WO-X\" holds no number to take (the PLC is given a number)",
        "work-orders.csv line 13: numeric_id 24001 is work order WO-24001's at central",
    ];
    for line in expected {
        assert!(
            errors.iter().any(|e| e == line),
            "missing {line:?} in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
}

#[test]
fn the_file_shape_is_checked_first() {
    let errors = refused(
        ImportKind::WorkOrders,
        Format::Csv,
        "id,product,qty,due\nWO-1,BC-200,1,2026-12-01\n",
    );
    assert!(
        errors.iter().any(|e| e.starts_with(
            "work-orders.csv line 1: unknown column \"qty\": work-orders takes id,product,quantity"
        )),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("work-orders.csv line 1: missing column \"quantity\"")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("work-orders.csv line 1: missing column \"stations\"")),
        "{errors:#?}"
    );

    let errors = refused(
        ImportKind::Products,
        Format::Csv,
        "id,name,gtin\nBC-300,\"caliper, large\",\nBC-301,too,many,fields\n",
    );
    assert_eq!(
        errors,
        ["products.csv line 3: 4 fields where the header names 3 columns"]
    );

    let errors = refused(ImportKind::Products, Format::Csv, "");
    assert_eq!(
        errors,
        ["products.csv line 1: no header line: the first line names the columns"]
    );
    let errors = prepare(
        ImportKind::Products,
        Format::Csv,
        b"id,name\nBC-1,\xff\n",
        &catalog(),
    )
    .expect_err("not UTF-8");
    assert_eq!(
        errors,
        [ImportError::new(
            Place::line(2),
            "not UTF-8 text (save the export as UTF-8)"
        )]
    );
}

#[test]
fn quoted_fields_keep_their_commas() {
    let records = check(
        ImportKind::Products,
        Format::Csv,
        "id,name,gtin\nBC-300,\"caliper, large\",00401234501019\n",
    )
    .expect("valid");
    assert_eq!(
        records,
        [MasterRecord::Product(Product {
            id: ProductId::from("BC-300"),
            name: "caliper, large".into(),
            gtin: Some("00401234501019".into()),
        })]
    );
}

#[test]
fn json_rows_take_numbers_and_lists_and_are_named_by_index() {
    let json = r#"[
        {"id": "WO-30001", "product": "BC-200", "quantity": 120, "due": "2026-12-01",
         "stations": ["L1-S1", "L1-S2"], "priority": 1, "numeric_id": 777},
        {"id": "WO-30002", "product": "BC-200", "quantity": "60", "due": "2026-12-02",
         "stations": "L1-S1", "line": "L1", "status": null}
    ]"#;
    let records = check(ImportKind::WorkOrders, Format::Json, json).expect("valid");
    let MasterRecord::WorkOrder(first) = &records[0] else {
        panic!("a work order: {records:?}");
    };
    assert_eq!(first.numeric_id, 777);
    assert_eq!(first.stations.len(), 2);
    assert_eq!(first.quantity, 120);

    let json = r#"[
        {"id": "WO-1", "product": "BC-200", "quantity": 1, "due": "2026-12-01", "stations": "L1-S1"},
        {"id": "WO-2", "product": "BC-200", "quantity": -1, "due": "2026-12-01", "stations": "L1-S1"},
        "not an object",
        {"id": "WO-4", "product": "BC-200", "quantity": 1, "due": "2026-12-01", "stations": {"a": 1}},
        {"id": "WO-5", "product": "BC-200", "quantity": 1, "due": "2026-12-01", "stations": "L1-S1", "colour": "red"}
    ]"#;
    let errors = refused(ImportKind::WorkOrders, Format::Json, json);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert_eq!(
        errors[0],
        "work-orders.json index 1: quantity \"-1\" is not a whole number from 1 up"
    );
    assert!(
        errors[1].starts_with("work-orders.json index 2: not a JSON object"),
        "{errors:#?}"
    );
    assert!(
        errors[2].starts_with("work-orders.json index 3: stations: expected text"),
        "{errors:#?}"
    );
    assert!(
        errors[3].starts_with("work-orders.json index 4: unknown column \"colour\""),
        "{errors:#?}"
    );

    let errors = refused(ImportKind::WorkOrders, Format::Json, r#"{"id": "WO-1"}"#);
    assert_eq!(
        errors,
        ["work-orders.json: expected a JSON array of objects, one per row"]
    );
    let errors = refused(ImportKind::WorkOrders, Format::Json, "[\n{\"id\": }\n]");
    assert!(
        errors[0].starts_with("work-orders.json line 2: not valid JSON"),
        "{errors:#?}"
    );
}

#[test]
fn materials_check_gtins_and_duplicates() {
    let csv = "id,name,unit,gtin,other_gtins,shelf_life_days\n\
               SEAL-60,seal kit 60,pc,00401234500234,00401234500241,730\n\
               GRS-2,grease,kg,,,\n";
    let records = check(ImportKind::Materials, Format::Csv, csv).expect("valid");
    assert_eq!(
        records[0],
        MasterRecord::Material(Material {
            id: MaterialId::from("SEAL-60"),
            name: "seal kit 60".into(),
            gtin: Some("00401234500234".into()),
            unit: "pc".into(),
            shelf_life_days: Some(730),
            other_gtins: vec!["00401234500241".into()],
        })
    );
    let csv = "id,name,unit,gtin,other_gtins,shelf_life_days\n\
               SEAL-60,seal kit 60,pc,00401234500235,,0\n\
               SEAL-61,seal kit 61,pc,00401234500241,,\n\
               SEAL-62,seal kit 62,,,00401234500241,\n\
               SEAL-61,again,pc,,,\n";
    let errors = refused(ImportKind::Materials, Format::Csv, csv);
    assert_eq!(
        errors,
        [
            "materials.csv line 2: shelf_life_days \"0\" is not a whole number from 1 up",
            "materials.csv line 2: gtin \"00401234500235\" has check digit 5, expected 4",
            "materials.csv line 4: unit is empty",
            "materials.csv line 4: duplicate GTIN \"00401234500241\" (first on line 3)",
            "materials.csv line 5: duplicate id \"SEAL-61\" (first on line 3)",
        ]
    );
}

#[test]
fn routings_are_grouped_by_product_in_step_order() {
    let csv = "product,step,operation,name,stations,output_material,output,ideal_cycle_ms\n\
               BC-210,20,OP20,assembly,L1-S2,BC-210-A,lot:10,3800\n\
               BC-210,10,OP10,machining,L1-S1,BC-210-M,lot:10,4500\n\
               BC-210,30,OP30,test and pack,L1-S3,BC-210,serial,\n";
    let records = check(ImportKind::Routings, Format::Csv, csv).expect("valid");
    assert_eq!(records.len(), 1);
    let MasterRecord::Routing(routing) = &records[0] else {
        panic!("a routing: {records:?}");
    };
    let operations: Vec<&str> = routing.steps.iter().map(|s| s.operation.as_str()).collect();
    assert_eq!(operations, ["OP10", "OP20", "OP30"]);
    assert_eq!(routing.steps[0].output, OutputKind::Lot { size: 10 });
    assert_eq!(routing.steps[2].output, OutputKind::Serial);
    assert_eq!(routing.steps[2].ideal_cycle_ms, None);
    assert_eq!(routing.steps[1].ideal_cycle_ms, Some(3800));

    let csv = "product,step,operation,name,stations,output_material,output\n\
               BC-210,10,OP10,machining,L1-S1,BC-210-M,tote\n\
               BC-210,10,OP11,deburr,L1-S1,NOPE,lot:0\n\
               BC-210,20,OP10,again,L1-S4,BC-210,serial\n";
    let errors = refused(ImportKind::Routings, Format::Csv, csv);
    assert_eq!(
        errors,
        [
            "routings.csv line 2: output \"tote\" is neither lot:N (N units a tote) nor serial",
            "routings.csv line 3: output_material \"NOPE\" is not known at central (import materials first)",
            "routings.csv line 3: output \"lot:0\" is neither lot:N (N units a tote) nor serial",
            "routings.csv line 3: duplicate step (\"BC-210\", 10) (first on line 2)",
            "routings.csv line 4: station \"L1-S4\" is not registered at central (takt central station add)",
            "routings.csv line 4: duplicate operation (\"BC-210\", \"OP10\") (first on line 2)",
        ]
    );
}

#[test]
fn bom_lines_group_into_one_bom_per_operation_and_refer_to_what_central_holds() {
    let csv = "product,operation,material,quantity_per_unit,tolerance_pct,consumption\n\
               BC-200,OP20,BC-200-M,1,,\n\
               BC-200,OP20,GRS-1,0.005,10,per_unit\n\
               BC-200,OP30,BOX-2,1,,per_scan\n";
    let records = check(ImportKind::Boms, Format::Csv, csv).expect("valid");
    assert_eq!(records.len(), 2);
    let MasterRecord::Bom(bom) = &records[0] else {
        panic!("a BOM: {records:?}");
    };
    assert_eq!(bom.operation, OperationId::from("OP20"));
    assert_eq!(bom.lines.len(), 2);
    assert_eq!(bom.lines[1].quantity_per_unit, Quantity::from_milli(5));
    assert_eq!(bom.lines[1].tolerance_pct, 10);
    let MasterRecord::Bom(box_bom) = &records[1] else {
        panic!("a BOM: {records:?}");
    };
    assert_eq!(box_bom.lines[0].consumption, Consumption::PerScan);

    let csv = "product,operation,material,quantity_per_unit,consumption\n\
               BC-200,OP40,GRS-1,1,\n\
               BC-200,OP20,GRS-9,1,\n\
               BC-200,OP20,GRS-1,0,\n\
               BC-200,OP20,PST-54,1.2345,\n\
               BC-200,OP20,PST-54,1,weekly\n\
               BC-999,OP20,PST-54,1,\n\
               BC-200,OP30,BOX-2,1,\n\
               BC-200,OP30,BOX-2,2,\n";
    let errors = refused(ImportKind::Boms, Format::Csv, csv);
    assert_eq!(
        errors,
        [
            "boms.csv line 2: operation \"OP40\" is not in the routing of BC-200 (OP10, OP20, OP30)",
            "boms.csv line 3: material \"GRS-9\" is not known at central (import materials first)",
            "boms.csv line 4: quantity_per_unit \"0\" is not a number above 0 (at most 3 decimals, '.' as the point)",
            "boms.csv line 5: quantity_per_unit \"1.2345\" is not a number above 0 (at most 3 decimals, '.' as the point)",
            "boms.csv line 6: consumption \"weekly\" is neither per_unit nor per_scan",
            "boms.csv line 6: duplicate BOM line (\"BC-200\", \"OP20\", \"PST-54\") (first on line 5)",
            "boms.csv line 7: product \"BC-999\" is not known at central (import products first)",
            "boms.csv line 9: duplicate BOM line (\"BC-200\", \"OP30\", \"BOX-2\") (first on line 8)",
        ]
    );
}

#[test]
fn operators_and_codes() {
    let csv = "badge,name,roles,active\n\
               EMP-1101,New Operator,operator,\n\
               EMP-1102,Lead,operator;line_lead,no\n";
    let records = check(ImportKind::Operators, Format::Csv, csv).expect("valid");
    assert_eq!(
        records[1],
        MasterRecord::Operator(Operator {
            badge: Badge::from("EMP-1102"),
            name: "Lead".into(),
            roles: vec!["operator".into(), "line_lead".into()],
            active: false,
            valid_until: None,
            revoked_at: None,
            pin_verifier: None,
        })
    );
    let errors = refused(
        ImportKind::Operators,
        Format::Csv,
        "badge,name,roles,active\nEMP-1,A,boss,\nEMP-2,B,,maybe\n",
    );
    assert_eq!(
        errors,
        [
            "operators.csv line 2: role \"boss\" is not one of operator, inspector, line_lead, maintenance, admin",
            "operators.csv line 3: roles is empty (list them separated by ';')",
            "operators.csv line 3: active \"maybe\" is neither true nor false",
        ]
    );

    let csv = "code,text,kind,class_or_planned\n\
               D-401,porosity at bore,defect,major\n\
               R-90,cleaning,downtime,planned\n\
               R-91,no crane,downtime,unplanned\n";
    let records = check(ImportKind::Codes, Format::Csv, csv).expect("valid");
    assert_eq!(
        records,
        [
            MasterRecord::Code(Code {
                code: "D-401".into(),
                text: "porosity at bore".into(),
                kind: CodeKind::Defect {
                    class: DefectClass::Major
                },
            }),
            MasterRecord::Code(Code {
                code: "R-90".into(),
                text: "cleaning".into(),
                kind: CodeKind::Downtime { planned: true },
            }),
            MasterRecord::Code(Code {
                code: "R-91".into(),
                text: "no crane".into(),
                kind: CodeKind::Downtime { planned: false },
            }),
        ]
    );
    let errors = refused(
        ImportKind::Codes,
        Format::Csv,
        "code,text,kind,class_or_planned\nD-1,x,defect,huge\nR-1,y,stop,planned\nD-1,z,downtime,planned\n",
    );
    assert_eq!(
        errors,
        [
            "codes.csv line 2: class_or_planned \"huge\": a defect's class is critical, major or minor",
            "codes.csv line 3: kind \"stop\" is neither defect nor downtime",
            "codes.csv line 4: duplicate code \"D-1\" (first on line 2)",
        ]
    );
}

#[test]
fn kinds_and_formats_parse_by_name() {
    for kind in ImportKind::ALL {
        assert_eq!(ImportKind::parse(kind.name()), Some(kind));
        assert!(kind.columns().iter().any(|c| c.required));
    }
    assert_eq!(ImportKind::parse("lots"), None);
    assert_eq!(
        Format::from_path(Path::new("erp/WO.CSV")),
        Some(Format::Csv)
    );
    assert_eq!(Format::from_path(Path::new("wo.json")), Some(Format::Json));
    assert_eq!(Format::from_path(Path::new("wo.txt")), None);
    assert_eq!(number_in("WO-24001"), Some(24001));
    assert_eq!(number_in("24001-B"), Some(24001));
    assert_eq!(number_in("WO-X"), None);
    assert_eq!(check_gtin("00401234501019"), Ok(()));
    assert!(check_gtin("0040123450101").is_err());
}

fn versions(db: &std::path::Path) -> Vec<(String, String, i64)> {
    let conn = rusqlite::Connection::open(db).expect("open");
    let mut statement = conn
        .prepare("SELECT kind, key, version FROM master_records ORDER BY version")
        .expect("prepare");
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("query")
        .collect::<rusqlite::Result<Vec<_>>>()
        .expect("rows")
}

#[test]
fn an_import_is_all_or_nothing_and_a_repeat_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("central.db");
    seed_demo(&path, date("2026-11-25")).expect("seed");
    let mut db = Db::open(&path).expect("open");
    let before = versions(&path);

    let bad = "id,product,quantity,due,stations\n\
               WO-30001,BC-200,10,2026-12-01,L1-S1\n\
               WO-30002,BC-200,10,2026-13-01,L1-S1\n";
    let result = import_bytes(
        &mut db,
        ImportKind::WorkOrders,
        Format::Csv,
        bad.as_bytes(),
        Utc::now(),
    )
    .expect("import");
    let ImportResult::Refused(errors) = result else {
        panic!("refused: {result:?}");
    };
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].place.line, Some(3));
    assert_eq!(
        versions(&path),
        before,
        "nothing written, not even the good row"
    );

    let good = "id,product,quantity,due,stations\n\
               WO-30001,BC-200,10,2026-12-01,L1-S1\n\
               WO-24001,BC-200,999,2026-12-09,L1-S1\n";
    let result = import_bytes(
        &mut db,
        ImportKind::WorkOrders,
        Format::Csv,
        good.as_bytes(),
        Utc::now(),
    )
    .expect("import");
    assert_eq!(
        result,
        ImportResult::Done(ImportCounts {
            imported: 2,
            unchanged: 0
        })
    );
    let after = versions(&path);
    assert_eq!(after.len(), before.len() + 1, "one new, one updated");

    let result = import_bytes(
        &mut db,
        ImportKind::WorkOrders,
        Format::Csv,
        good.as_bytes(),
        Utc::now(),
    )
    .expect("import");
    assert_eq!(
        result,
        ImportResult::Done(ImportCounts {
            imported: 0,
            unchanged: 2
        })
    );
    assert_eq!(
        versions(&path),
        after,
        "the same file again keeps every version"
    );

    // A work order may refer to a product imported just before.
    let products = r#"[{"id": "BC-300", "name": "caliper 60"}]"#;
    let result = import_bytes(
        &mut db,
        ImportKind::Products,
        Format::Json,
        products.as_bytes(),
        Utc::now(),
    )
    .expect("import");
    assert_eq!(
        result,
        ImportResult::Done(ImportCounts {
            imported: 1,
            unchanged: 0
        })
    );
    let orders = "id,product,quantity,due,stations\nWO-30003,BC-300,10,2026-12-01,L1-S2\n";
    let result = import_bytes(
        &mut db,
        ImportKind::WorkOrders,
        Format::Csv,
        orders.as_bytes(),
        Utc::now(),
    )
    .expect("import");
    assert!(matches!(result, ImportResult::Done(_)), "{result:?}");
}

/// The demo plant's OP10 and OP30 plans of BC-200, as a quality engineer would write them, come
/// out exactly as the demo seeds them; rows of one plan group into it.
#[test]
fn inspection_plans_group_their_characteristics_and_match_the_demo_plans() {
    let csv = "product,operation,characteristic,name,kind,class,sampling,nominal,lower,upper,unit,gauge,subgroup,plc_value,aql_level,aql_major,aql_minor,first_article\n\
               BC-200,OP10,BORE,bore diameter,variable,major,every_nth:20,54.0,53.98,54.02,mm,BG-01 bore gauge,5,,II,2.5,4.0,true\n\
               BC-200,OP10,VISUAL,\"visual: porosity, burrs\",attribute,major,aql,,,,,,,,,,,\n\
               BC-200,OP30,LEAK,leak rate,variable,critical,every_unit,0.20,,0.50,ml/min,leak tester,,leak_rate,II,1.0,2.5,false\n\
               BC-200,OP30,VISUAL,final visual,attribute,major,aql,,,,,,,,,,,\n";
    let records = check(ImportKind::InspectionPlans, Format::Csv, csv).expect("valid");
    let demo: Vec<MasterRecord> = crate::central::demo::inspection_plans()
        .into_iter()
        .filter(|plan| plan.product == ProductId::from("BC-200"))
        .map(MasterRecord::InspectionPlan)
        .collect();
    assert_eq!(records, demo);
}

#[test]
fn every_bad_inspection_plan_row_is_named() {
    let header = "product,operation,characteristic,name,kind,class,sampling,nominal,lower,upper,unit,subgroup,aql_level,aql_major,aql_minor,first_article\n";
    let csv = format!(
        "{header}\
         BC-200,OP40,BORE,bore,variable,major,every_unit,54,53.9,54.1,mm,,,,,\n\
         BC-200,OP10,BORE,bore,variable,major,every_unit,54,,,mm,,,,,\n\
         BC-200,OP10,BORE2,bore,variable,major,every_unit,54,54.1,54.2,mm,,,,,\n\
         BC-200,OP10,BORE3,bore,variable,major,every_unit,54,53.9,54.1,mm,12,,,,\n\
         BC-200,OP10,LOOK,look,attribute,major,every_unit,1,,,mm,,,,,\n\
         BC-200,OP10,LOOK2,look,attribute,severe,weekly,,,,,,,,,\n\
         BC-200,OP10,LOOK3,look,attribute,major,aql,,,,,,,,,\n\
         BC-200,OP10,LOOK4,look,attribute,major,aql,,,,,,II,2.4,4.0,\n\
         BC-200,OP10,LOOK5,look,attribute,major,first_piece,,,,,,,,,maybe\n\
         BC-200,OP30,LOOK,look,attribute,major,first_piece,,,,,,,,,true\n\
         BC-200,OP30,LOOK6,look,attribute,major,first_piece,,,,,,,,,false\n\
         BC-200,OP30,look,look,attribute,major,first_piece,,,,,,,,,\n"
    );
    let errors = refused(ImportKind::InspectionPlans, Format::Csv, &csv);
    assert_eq!(
        errors,
        [
            "inspection-plans.csv line 2: operation \"OP40\" is not in the routing of BC-200 (OP10, OP20, OP30)",
            "inspection-plans.csv line 3: a variable needs a lower or an upper limit (or both)",
            "inspection-plans.csv line 4: the limits must lie around the nominal 54 (lower ≤ nominal ≤ upper)",
            "inspection-plans.csv line 5: subgroup 12: an X̄-R subgroup has 2 to 10 values (leave it empty for individuals)",
            "inspection-plans.csv line 6: an attribute is pass or fail: leave nominal, unit empty",
            "inspection-plans.csv line 7: class \"severe\" is not critical, major or minor",
            "inspection-plans.csv line 7: sampling \"weekly\" is not every_unit, every_nth:N (N from 1), first_piece or aql",
            "inspection-plans.csv line 8: sampling aql needs the plan's aql_level, aql_major and aql_minor (on any row of BC-200 at OP10)",
            "inspection-plans.csv line 9: AQL 2.4 is not one of the standard's values (0.010, 0.015, 0.025, 0.040, 0.065, 0.10, 0.15, 0.25, 0.40, 0.65, 1.0, 1.5, 2.5, 4.0, 6.5, 10, 15, 25, 40, 65, 100, 150, 250, 400, 650, 1000)",
            "inspection-plans.csv line 10: first_article \"maybe\" is not true or false",
            "inspection-plans.csv line 12: first_article differs from an earlier row of the plan for BC-200 at OP30",
            "inspection-plans.csv line 13: duplicate characteristic (\"BC-200\", \"OP30\", \"LOOK\") (first on line 11)",
        ]
    );
}
