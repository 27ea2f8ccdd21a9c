//! ERP import: the real `takt central import` binary on files in a temp dir, against a real central
//! database, and then a real station pull seeing what was imported.

use chrono::Utc;
use std::path::Path;
use std::process::Output;
use takt::central;
use takt::domain::{OutputKind, WorkOrderStatus};
use takt::protocol::{ChangePage, MasterRecord};
use tempfile::TempDir;

fn takt(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_takt"))
        .args(args)
        .output()
        .expect("run takt")
}

fn import(db: &Path, kind: &str, file: &Path) -> Output {
    takt(&[
        "central",
        "import",
        kind,
        &file.display().to_string(),
        "--db",
        &db.display().to_string(),
    ])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &TempDir, name: &str, content: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, content).expect("write file");
    path
}

/// Imports `file` and checks it succeeded with `imported` written and `unchanged` kept.
fn imports(db: &Path, kind: &str, file: &Path, imported: u64, unchanged: u64) {
    let output = import(db, kind, file);
    assert!(
        output.status.success(),
        "{kind}: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let said = text(&output.stdout);
    assert!(
        said.contains(&format!(
            "{imported} {kind} record(s) imported, {unchanged} unchanged"
        )),
        "{kind}: {said}"
    );
}

async fn pull(url: &str, station: &str, token: &str) -> ChangePage {
    reqwest::Client::new()
        .get(format!(
            "{url}/api/v1/stations/{station}/changes?since=0&limit=1000"
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("changes")
        .error_for_status()
        .expect("200")
        .json()
        .await
        .expect("a change page")
}

#[tokio::test]
async fn the_import_command_loads_erp_files_all_or_nothing_and_stations_pull_them() {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("central.db");
    central::seed_demo(&db, Utc::now().date_naive()).expect("seed demo");
    let token = central::add_station(&db, "L1-S1").expect("station token");

    let products = write(
        &dir,
        "products.csv",
        "id,name,gtin\nBC-300,\"caliper 60, front\",\n",
    );
    let materials = write(
        &dir,
        "materials.json",
        r#"[
            {"id": "CAST-300", "name": "caliper casting 60", "unit": "pc", "gtin": "00401234500036"},
            {"id": "BC-300", "name": "caliper 60, front", "unit": "pc"}
        ]"#,
    );
    let routings = write(
        &dir,
        "routings.csv",
        "product,step,operation,name,stations,output_material,output,ideal_cycle_ms\n\
         BC-300,10,OP10,machining,L1-S1,BC-300,lot:20,5000\n",
    );
    let boms = write(
        &dir,
        "boms.csv",
        "product,operation,material,quantity_per_unit,tolerance_pct,consumption\n\
         BC-300,OP10,CAST-300,1,0,per_unit\n",
    );
    let operators = write(
        &dir,
        "operators.csv",
        "badge,name,roles,active\nEMP-1201,New Operator,operator,true\n",
    );
    let codes = write(
        &dir,
        "codes.csv",
        "code,text,kind,class_or_planned\nR-90,cleaning,downtime,planned\n",
    );
    let bad_orders = write(
        &dir,
        "bad-work-orders.csv",
        "id,product,quantity,due,status,priority,stations\n\
         WO-31001,BC-300,50,2026-12-01,released,1,L1-S1\n\
         WO-31002,BC-300,50,2026-13-01,released,1,L1-S1\n\
         WO-31003,BC-300,0,2026-12-01,released,1,L1-S1\n",
    );
    let orders = write(
        &dir,
        "work-orders.csv",
        "id,product,quantity,due,status,priority,stations\n\
         WO-31001,BC-300,50,2026-12-01,released,1,L1-S1\n",
    );

    // Before its product is known, a work order is refused with every problem and nothing lands.
    let refused = import(&db, "work-orders", &bad_orders);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let said = text(&refused.stderr);
    for line in [
        "bad-work-orders.csv line 2: product \"BC-300\" is not known at central (import products first)",
        "bad-work-orders.csv line 3: due \"2026-13-01\" is not a date (YYYY-MM-DD)",
        "bad-work-orders.csv line 4: quantity \"0\" is not a whole number from 1 up",
        "nothing imported",
    ] {
        assert!(said.contains(line), "missing {line:?} in:\n{said}");
    }

    imports(&db, "products", &products, 1, 0);
    imports(&db, "materials", &materials, 2, 0);
    imports(&db, "routings", &routings, 1, 0);
    imports(&db, "boms", &boms, 1, 0);
    imports(&db, "operators", &operators, 1, 0);
    imports(&db, "codes", &codes, 1, 0);
    imports(&db, "work-orders", &orders, 1, 0);
    // The same file again changes nothing.
    imports(&db, "work-orders", &orders, 0, 1);
    imports(&db, "materials", &materials, 0, 2);

    // The refused file's good row did not slip in when the file was refused.
    let central = central::spawn(([127, 0, 0, 1], 0).into(), db.clone())
        .await
        .expect("central starts");
    let page = pull(&central.url(), "L1-S1", &token).await;
    central.shutdown().await;
    let mut seen = std::collections::BTreeMap::new();
    for change in &page.changes {
        seen.insert(change.record.key(), change.record.clone());
    }
    let Some(MasterRecord::WorkOrder(order)) = seen.get(&("work_order", "WO-31001".to_owned()))
    else {
        panic!("the station did not get WO-31001: {:?}", seen.keys());
    };
    assert_eq!(order.product.as_str(), "BC-300");
    assert_eq!(order.quantity, 50);
    assert_eq!(order.numeric_id, 31001);
    assert_eq!(order.line.as_str(), "L1");
    assert_eq!(order.status, WorkOrderStatus::Released);
    assert!(!seen.contains_key(&("work_order", "WO-31002".to_owned())));
    let Some(MasterRecord::Routing(routing)) = seen.get(&("routing", "BC-300".to_owned())) else {
        panic!("no routing of BC-300: {:?}", seen.keys());
    };
    assert_eq!(routing.steps[0].output, OutputKind::Lot { size: 20 });
    for key in [
        ("product", "BC-300"),
        ("material", "CAST-300"),
        ("bom", "BC-300/OP10"),
        ("operator", "EMP-1201"),
        ("code", "R-90"),
    ] {
        assert!(
            seen.contains_key(&(key.0, key.1.to_owned())),
            "the station did not get {key:?}"
        );
    }

    // A format the name does not tell must be given; a wrong kind is refused by the parser.
    let unnamed = write(&dir, "orders.txt", "id\n");
    let output = import(&db, "work-orders", &unnamed);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("--format"),
        "{}",
        text(&output.stderr)
    );
    let output = import(&db, "lots", &orders);
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("work-orders"),
        "{}",
        text(&output.stderr)
    );
}

async fn post_import(
    client: &reqwest::Client,
    url: &str,
    kind: &str,
    token: &str,
    content_type: &str,
    body: &str,
) -> (reqwest::StatusCode, serde_json::Value) {
    let response = client
        .post(format!("{url}/api/v1/import/{kind}"))
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("import sent");
    let status = response.status();
    let body = response.json().await.expect("a JSON answer");
    (status, body)
}

#[tokio::test]
async fn the_import_endpoint_takes_csv_and_json_with_an_admin_token_only() {
    use reqwest::StatusCode;
    use serde_json::json;
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("central.db");
    central::seed_demo(&db, Utc::now().date_naive()).expect("seed demo");
    let station_token = central::add_station(&db, "L1-S2").expect("station token");
    let admin = central::add_admin_token(&db, "erp-import").expect("admin token");
    let central = central::spawn(([127, 0, 0, 1], 0).into(), db.clone())
        .await
        .expect("central starts");
    let url = central.url();
    let client = reqwest::Client::new();
    let csv = "id,product,quantity,due,stations\nWO-32001,BC-210,40,2026-12-05,L1-S2\n";

    // A station's token is not an admin's; no token neither.
    let (status, body) = post_import(
        &client,
        &url,
        "work-orders",
        &station_token,
        "text/csv",
        csv,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let response = client
        .post(format!("{url}/api/v1/import/work-orders"))
        .body(csv)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    // CSV with text/csv.
    let (status, body) = post_import(
        &client,
        &url,
        "work-orders",
        &admin,
        "text/csv; charset=utf-8",
        csv,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"kind": "work-orders", "imported": 1, "unchanged": 0})
    );
    let (status, body) = post_import(&client, &url, "work-orders", &admin, "text/csv", csv).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"kind": "work-orders", "imported": 0, "unchanged": 1})
    );

    // JSON: a changed quantity is a new version; a new order is imported.
    let orders = json!([
        {"id": "WO-32001", "product": "BC-210", "quantity": 45, "due": "2026-12-05", "stations": ["L1-S2"]},
        {"id": "WO-32002", "product": "BC-200", "quantity": 10, "due": "2026-12-06", "stations": "L1-S2", "priority": 1}
    ])
    .to_string();
    let (status, body) = post_import(
        &client,
        &url,
        "work-orders",
        &admin,
        "application/json",
        &orders,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"kind": "work-orders", "imported": 2, "unchanged": 0})
    );

    // Every problem, with its index (JSON) or line (CSV); nothing written.
    let bad = json!([
        {"id": "WO-32003", "product": "BC-200", "quantity": 10, "due": "2026-12-06", "stations": "L1-S2"},
        {"id": "WO-32004", "product": "BC-999", "quantity": 10, "due": "2026-12-06", "stations": "L1-S2"},
        {"id": "WO-32003", "product": "BC-200", "quantity": 0, "due": "06.12.2026", "stations": "L1-S2"}
    ])
    .to_string();
    let (status, body) = post_import(
        &client,
        &url,
        "work-orders",
        &admin,
        "application/json",
        &bad,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 4, "{body}");
    assert_eq!(
        errors[0],
        json!({"index": 1, "message": "product \"BC-999\" is not known at central (import products first)"})
    );
    assert_eq!(
        errors[1],
        json!({"index": 2, "message": "quantity \"0\" is not a whole number from 1 up"})
    );
    assert_eq!(
        errors[2]["message"],
        "due \"06.12.2026\" is not a date (YYYY-MM-DD)"
    );
    assert_eq!(
        errors[3]["message"],
        "duplicate id \"WO-32003\" (first on index 0)"
    );
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("nothing imported: 4 problem(s)")),
        "{body}"
    );
    let bad_csv = "id,product,quantity,due,stations\nWO-32005,BC-200,10,2026-12-06,L1-S2\nWO-32006,BC-200,10,2026-12-06,L7-S1\n";
    let (status, body) =
        post_import(&client, &url, "work-orders", &admin, "text/csv", bad_csv).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"][0]["line"], 3, "{body}");

    let report = client
        .get(format!("{url}/api/v1/work-orders/WO-32003"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        report.status(),
        StatusCode::NOT_FOUND,
        "the refused body wrote nothing"
    );
    let report = client
        .get(format!("{url}/api/v1/work-orders/WO-32005"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        report.status(),
        StatusCode::NOT_FOUND,
        "the refused CSV wrote nothing"
    );

    // The station sees the imported orders, the updated one as its new version.
    let page = pull(&url, "L1-S2", &station_token).await;
    let order = page
        .changes
        .iter()
        .find_map(|change| match &change.record {
            MasterRecord::WorkOrder(order) if order.id.as_str() == "WO-32001" => Some(order),
            _ => None,
        })
        .expect("WO-32001 pulled");
    assert_eq!(order.quantity, 45);

    // Unknown kinds and media types.
    let (status, body) = post_import(&client, &url, "lots", &admin, "text/csv", csv).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) =
        post_import(&client, &url, "work-orders", &admin, "application/xml", csv).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    central.shutdown().await;
}
