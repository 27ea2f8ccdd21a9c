//! The Inspect screen on a real station (SQLite file, core, the real TUI on a TestBackend, keys
//! and scans): an operator is refused it, an inspector scans a tote, a wrong entry is refused in
//! words and kept nowhere, valid entries give the verdict live, F6 takes one back, F5 records
//! through the core, the SPC chart shows its limits and capability, and a subgroup far off the
//! process's own limits records a quality alert and calls the quality andon in the same append.

use crate::support::station_id;
use crate::tui::Ui;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use std::time::Duration;
use takt::clock::ManualClock;
use takt::domain::{Command, EventKind, NewEvent, Quantity};
use takt::station::{CoreInput, Station, StationSetup};

fn noon() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc)
}

fn tote(n: u32) -> String {
    format!("L1-S1-TOTE-{n:02}")
}

/// Twelve totes of 50 of BC-200 made at OP10 here earlier.
fn totes_made() -> Vec<NewEvent> {
    (1..=12)
        .map(|n| NewEvent {
            at: noon(),
            actor: takt::domain::Actor::Plc,
            kind: EventKind::OutputCreated {
                work_order: "WO-24001".into(),
                operation: "OP10".into(),
                output: tote(n).as_str().into(),
                form: takt::domain::OutputForm::Lot,
                material: "BC-200-M".into(),
                quantity: Quantity::units(50),
                inputs: vec!["C24-1107".into()],
                operator: None,
                next_operation: Some("OP20".into()),
                machine_state: None,
            },
        })
        .collect()
}

fn shift(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::SHIFT))
}

/// A subgroup of 5 bores around 54 mm + `offset`.
fn subgroup(offset: f64) -> Vec<String> {
    [-0.002, 0.001, 0.0, 0.002, -0.001]
        .iter()
        .map(|d| format!("{:.4}", 54.0 + offset + d))
        .collect()
}

fn kinds(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open station db");
    let mut statement = conn
        .prepare("SELECT kind FROM event_log ORDER BY seq")
        .expect("query");
    statement
        .query_map([], |row| row.get::<_, String>(0))
        .expect("rows")
        .map(|row| row.expect("kind"))
        .collect()
}

/// L1-S1 on a real store holding the demo plant and the twelve totes, no PLC, no central, the
/// clock at noon; the temp dir must outlive the station.
async fn station_with_totes() -> (tempfile::TempDir, std::path::PathBuf, Station) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    {
        let mut store = crate::support::station_store_with_demo_master(&db).await;
        let mut state = store.load_state().expect("state");
        store.append(&mut state, totes_made()).expect("totes");
    }
    let station = Station::start(StationSetup {
        station: station_id(),
        db_path: db.clone(),
        plc: None,
        sync: None,
        clock: Arc::new(ManualClock::new(noon())),
        options: Default::default(),
    })
    .await
    .expect("station");
    (dir, db, station)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inspector_records_a_lot_at_the_keyboard_and_an_spc_signal_calls_quality() {
    let (_dir, db, mut station) = station_with_totes().await;
    let mut ui = Ui::start(&mut station, 80, 24);

    // An operator may not inspect, and is told so in words.
    ui.scan("EMP-1001");
    ui.scan("1001");
    ui.wait_for("Queue - 4 orders").await;
    ui.send(shift(KeyCode::F(2)));
    ui.wait_for("may not record inspections: that needs inspector")
        .await;
    ui.key(KeyCode::F(9));
    ui.wait_for("Scan your badge").await;

    ui.scan("EMP-2001");
    ui.scan("2001");
    ui.wait_for("Welcome, Demo Inspector").await;
    ui.wait_for("Queue - 4 orders").await;

    // Eight earlier subgroups of a process in control, recorded through the core.
    for (n, offset) in [
        0.0005, -0.0004, 0.0003, -0.0006, 0.0002, -0.0003, 0.0006, -0.0002,
    ]
    .iter()
    .enumerate()
    {
        station
            .send(CoreInput::Command(Command::Inspect {
                lot: tote(n as u32 + 2).as_str().into(),
                inspected: 5,
                findings: subgroup(*offset)
                    .into_iter()
                    .map(|value| ("BORE".to_owned(), value))
                    .collect(),
                defects: Vec::new(),
            }))
            .await
            .expect("core running");
    }

    ui.send(shift(KeyCode::F(2)));
    ui.wait_for("┌ Inspect").await;
    ui.scan(&tote(1));
    let plan = ui
        .wait_for("54.000 mm [53.980..54.020], BG-01 bore gauge")
        .await;
    assert!(plan.contains("subgroup of 5 every 20"), "{plan}");
    // Lot of 50, level II normal: one sample at letter F (n = 20) for both classes.
    assert!(
        plan.contains("AQL level II normal: letter F, n = 20: major 2.5 Ac 1 Re 2"),
        "{plan}"
    );
    assert!(plan.contains("normal inspection"), "{plan}");

    // Refused entries say why and nothing is kept.
    let before = kinds(&db).len();
    ui.scan("BORE 540.12");
    ui.wait_for("cannot be a reading").await;
    ui.scan("D-999");
    ui.wait_for("is not a characteristic of this plan (BORE, VISUAL)")
        .await;
    ui.scan("VISUAL 3");
    ui.wait_for("VISUAL is pass or fail, not a number").await;
    let screen = ui.wait_for("Entries: none yet").await;
    assert!(screen.contains("Nothing was kept"), "{screen}");
    assert_eq!(
        kinds(&db)[before..],
        ["scan_refused", "scan_refused", "scan_refused"],
        "a refused entry records nothing but the attempt"
    );

    // The tool has worn: 0.012 mm up, in specification but far off the process's own limits.
    for value in subgroup(0.012) {
        ui.scan(&format!("BORE {value}"));
    }
    ui.scan("VISUAL pass");
    ui.wait_for("incomplete, 5 of 20 units inspected").await;
    ui.scan("n=20");
    ui.wait_for("VERDICT ACCEPT").await;
    ui.key(KeyCode::F(6));
    ui.wait_for("n=20 taken back").await;
    ui.wait_for("incomplete, 5 of 20 units inspected").await;
    ui.scan("n=20");
    ui.wait_for("VERDICT ACCEPT").await;

    ui.key(KeyCode::F(5));
    ui.wait_for("Entries: none yet").await;
    ui.wait_for("SPC ALERT BORE WE1").await;
    ui.wait_for("ANDON QUALITY open").await;
    let recorded = kinds(&db);
    let tail = &recorded[before..];
    assert_eq!(
        tail.iter().filter(|k| *k == "inspection_recorded").count(),
        1,
        "{tail:?}"
    );
    assert!(
        tail.ends_with(&[
            "inspection_recorded".to_owned(),
            "quality_alert".to_owned(),
            "andon_called".to_owned()
        ]),
        "the alert and the andon in the inspection's append: {tail:?}"
    );
    let view = station.view.borrow().clone();
    assert_eq!(
        view.andon.map(|call| call.kind),
        Some(takt::domain::andon::AndonKind::Quality)
    );

    // The chart: limits, capability in numbers, the broken rule in words.
    ui.key(KeyCode::F(8));
    let chart = ui.wait_for("SPC BORE X̄-R").await;
    assert!(chart.contains("UCL 54.0"), "{chart}");
    assert!(chart.contains("Cpk"), "{chart}");
    assert!(chart.contains("LSL 53.980 USL 54.020"), "{chart}");
    assert!(chart.contains("OUT OF CONTROL WE1 at point 9"), "{chart}");

    // Entries after the record start a new inspection of the lot. One visual fail is within the
    // major plan's Ac 1; a critical defect rejects whatever the sample says.
    ui.scan("VISUAL fail");
    ui.wait_for("incomplete, 1 of 20 units inspected").await;
    ui.scan("D-201*2@left");
    ui.wait_for("Entries: VISUAL fail, D-201 x2 @left").await;
    ui.wait_for("VERDICT REJECT: critical defect D-201").await;

    // The same screen on a handheld and on a terminal too small for anything: no panic, words.
    for (width, height, expect) in [
        (40, 16, "L1-S1-TOTE-01"),
        (40, 12, "Screen too small"),
        (120, 40, "Cpk"),
    ] {
        let mut app = takt::tui::App::new(
            takt::tui::keymap::Keymap::embedded_default().expect("keymap"),
            view.clone(),
            takt::tui::UiOptions {
                bell: false,
                color: false,
                login_hints: Vec::new(),
            },
        );
        app.screen = takt::tui::Screen::Inspect;
        app.inspect.lot = Some(tote(1));
        app.inspect.chart = Some(0);
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        terminal
            .draw(|frame| takt::tui::render::draw(frame, &app))
            .expect("draw");
        let text = takt::tui::buffer_text(terminal.backend().buffer());
        assert!(text.contains(expect), "{width}x{height}:\n{text}");
    }

    ui.quit().await;
    tokio::time::timeout(Duration::from_secs(10), station.shutdown())
        .await
        .expect("station stops");
}

/// OP30's leak rate is measured by the leak tester: at L1-S3, whose map reads the simulator's gauge
/// (HR48) as `leak_rate`, the inspector keys `LEAK` alone and the reading is taken from the PLC,
/// in its unit, and recorded with the inspection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_measurement_the_plan_reads_from_the_plc_is_taken_from_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    let station_id = takt::domain::StationId::from("L1-S3");
    {
        let mut store = takt::store::Store::open(&db, &station_id).expect("store");
        let mut state = store.load_state().expect("state");
        store
            .apply_changes(&mut state, &crate::support::demo_master_page().await)
            .expect("master");
        store
            .append(
                &mut state,
                vec![NewEvent {
                    at: noon(),
                    actor: takt::domain::Actor::Plc,
                    kind: EventKind::OutputCreated {
                        work_order: "WO-24001".into(),
                        operation: "OP30".into(),
                        output: "L1-S3-SERIAL-01".into(),
                        form: takt::domain::OutputForm::Serial,
                        material: "BC-200".into(),
                        quantity: Quantity::units(1),
                        inputs: vec!["L1-S2-TOTE-01".into()],
                        operator: None,
                        next_operation: None,
                        machine_state: None,
                    },
                }],
            )
            .expect("serial");
    }
    let sim = takt::sim::spawn(([127, 0, 0, 1], 0).into(), Default::default())
        .await
        .expect("sim");
    let map: takt::plc::MapSection =
        toml::from_str("[values.leak_rate]\naddress = 48\nscale = 0.001\nunit = \"ml/min\"\n")
            .expect("map");
    let mut station = Station::start(StationSetup {
        station: station_id,
        db_path: db.clone(),
        plc: Some(takt::plc::PollerConfig {
            address: sim.local_addr().to_string(),
            poll_interval: Duration::from_millis(50),
            layout: takt::plc::StatusLayout::new(&map).expect("layout"),
            ..takt::plc::PollerConfig::default()
        }),
        sync: None,
        clock: Arc::new(ManualClock::new(noon())),
        options: Default::default(),
    })
    .await
    .expect("station");
    let mut ui = Ui::start(&mut station, 100, 30);
    ui.scan("EMP-2001");
    ui.scan("2001");
    ui.wait_for("Welcome, Demo Inspector").await;
    ui.wait_for("Queue - ").await;
    ui.send(shift(KeyCode::F(2)));
    ui.wait_for("┌ Inspect").await;
    ui.scan("L1-S3-SERIAL-01");
    // The gauge shows its master's reading, 0.200 ml/min, until a unit is measured.
    ui.wait_for("PLC 0.200 ml/min").await;
    ui.scan("LEAK");
    ui.wait_for("LEAK 0.2 ml/min (PLC leak_rate)").await;
    ui.scan("VISUAL pass");
    ui.wait_for("VERDICT ACCEPT").await;
    ui.key(KeyCode::F(5));
    ui.wait_for("Entries: none yet").await;
    let conn = rusqlite::Connection::open(&db).expect("open");
    let body: String = conn
        .query_row(
            "SELECT body FROM event_log WHERE kind = 'inspection_recorded'",
            [],
            |row| row.get(0),
        )
        .expect("the inspection");
    assert!(
        body.contains("\"characteristic\":\"LEAK\",\"value\":\"0.2 ml/min\",\"conforms\":true"),
        "{body}"
    );
    ui.quit().await;
    sim.shutdown().await;
}

/// Seven lots rejected in a row (two on normal, five on tightened) discontinue OP10's inspection
/// here; the Inspect screen says so and how to resume; Shift+F5 asks for the corrective action and
/// a signature, and inspection goes on, tightened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discontinued_plan_is_resumed_signed_from_the_inspect_screen() {
    let (_dir, db, mut station) = station_with_totes().await;
    let mut ui = Ui::start(&mut station, 100, 30);
    ui.scan("EMP-2001");
    ui.scan("2001");
    ui.wait_for("Welcome, Demo Inspector").await;
    ui.wait_for("Queue - 4 orders").await;
    for n in 1..=7 {
        station
            .send(CoreInput::Command(Command::Inspect {
                lot: tote(n).as_str().into(),
                inspected: 50,
                findings: vec![("VISUAL".into(), "pass".into())],
                defects: vec![takt::domain::inspection::DefectFound {
                    code: "D-101".into(),
                    quantity: 3,
                    location: None,
                }],
            }))
            .await
            .expect("core running");
    }
    ui.send(shift(KeyCode::F(2)));
    ui.wait_for("┌ Inspect").await;
    ui.scan(&tote(8));
    ui.wait_for("inspection discontinued after 5 lots on tightened: an inspector resumes it")
        .await;
    ui.send(shift(KeyCode::F(5)));
    ui.wait_for("which corrective action was accepted?").await;
    ui.scan("die repaired, 8D-2211 accepted");
    ui.wait_for("SIGN (21 CFR Part 11)").await;
    ui.scan("1");
    ui.wait_for(" PIN> ").await;
    ui.scan("2001");
    ui.wait_for("Inspection of BC-200 at OP10 resumes, on tightened inspection.")
        .await;
    ui.wait_for("lot of 50, tightened inspection").await;
    let recorded = kinds(&db);
    assert!(
        recorded.ends_with(&["inspection_resumed".to_owned(), "signed".to_owned()]),
        "{recorded:?}"
    );
    ui.quit().await;
}
