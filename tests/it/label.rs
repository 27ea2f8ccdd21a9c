//! Output labels end to end: a loopback listener stands in for a network label printer's raw port
//! (9100), a temp file for the file sink.

use crate::support::wait_for;
use chrono::{TimeZone, Utc};
use std::time::Duration;
use takt::domain::{
    Actor, Event, EventKind, GENESIS_HASH, LotId, MasterData, MaterialId, NewEvent, OperationId,
    OutputForm, Quantity, StationId, WorkOrderId,
};
use takt::label::zpl::{Layout, render};
use takt::label::{
    LabelData, LabelJob, PrinterSettings, PrinterState, PrinterStatus, Sink, spawn_printer,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(20);

fn tote(n: u64) -> LabelData {
    LabelData {
        output: LotId::new(format!("L1-S1-261125-{n:06}")),
        form: OutputForm::Lot,
        material: MaterialId::from("BC-200-M"),
        material_name: "BC-200 machined (after OP10)".into(),
        quantity: Quantity::units(20),
        unit: "pc".into(),
        work_order: WorkOrderId::from("WO-24001"),
        operation: OperationId::from("OP10"),
        station: StationId::from("L1-S1"),
        created_at: Utc
            .with_ymd_and_hms(2026, 11, 25, 14, 3, 0)
            .single()
            .expect("time"),
        gtin: None,
    }
}

fn job(n: u64) -> LabelJob {
    LabelJob::new(tote(n)).expect("a valid label")
}

fn zpl(n: u64) -> String {
    render(&tote(n), Layout::default()).expect("renders")
}

/// Quick retries, so a test waits milliseconds for what a station waits seconds for.
fn settings(sink: Sink) -> PrinterSettings {
    PrinterSettings {
        timeout: Duration::from_secs(2),
        retry_first: Duration::from_millis(20),
        retry_max: Duration::from_millis(100),
        ..PrinterSettings::new(sink)
    }
}

/// One label per connection, read until the printer side sees the sender close.
async fn receive(listener: &TcpListener) -> String {
    let (mut stream, _) = tokio::time::timeout(LIMIT, listener.accept())
        .await
        .expect("a connection in time")
        .expect("accept");
    let mut bytes = Vec::new();
    tokio::time::timeout(LIMIT, stream.read_to_end(&mut bytes))
        .await
        .expect("the label in time")
        .expect("read");
    String::from_utf8(bytes).expect("ZPL is UTF-8")
}

async fn wait_status(
    status: &mut tokio::sync::watch::Receiver<PrinterStatus>,
    what: &str,
    check: impl Fn(&PrinterStatus) -> bool,
) -> PrinterStatus {
    wait_for(status, what, LIMIT, check).await
}

#[tokio::test]
async fn labels_reach_a_raw_tcp_printer_byte_exact() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    let mut handle = spawn_printer(settings(Sink::Tcp(address)));
    handle.submit(job(1)).expect("queued");
    handle.submit(job(2)).expect("queued");
    assert_eq!(receive(&listener).await, zpl(1));
    assert_eq!(receive(&listener).await, zpl(2));
    let status = wait_status(&mut handle.status, "two printed", |s| {
        s.printed == 2 && s.state == PrinterState::Ready
    })
    .await;
    assert_eq!(status.queued, 0);
    assert!(status.notice().contains("ready"), "{}", status.notice());
}

#[tokio::test]
async fn a_printer_that_comes_back_gets_the_waiting_label() {
    // A port nobody listens on, until the "printer" is switched on.
    let address = {
        let probe = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        probe.local_addr().expect("address")
    };
    let mut handle = spawn_printer(settings(Sink::Tcp(address.to_string())));
    handle.submit(job(7)).expect("queued");
    let down = wait_status(&mut handle.status, "printer down", |s| {
        matches!(s.state, PrinterState::Down { .. })
    })
    .await;
    assert_eq!(down.queued, 1);
    let notice = down.notice();
    assert!(
        notice.contains(&format!("Label printer {address} is DOWN"))
            && notice.contains("1 label waiting"),
        "{notice}"
    );
    let listener = TcpListener::bind(address)
        .await
        .expect("the printer is back");
    assert_eq!(receive(&listener).await, zpl(7));
    wait_status(&mut handle.status, "printed after retry", |s| {
        s.printed == 1 && s.queued == 0 && s.state == PrinterState::Ready
    })
    .await;
}

#[tokio::test]
async fn a_printer_down_too_long_drops_the_oldest_label_and_says_so() {
    let address = {
        let probe = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        probe.local_addr().expect("address")
    };
    let mut handle = spawn_printer(PrinterSettings {
        queue_limit: 2,
        ..settings(Sink::Tcp(address.to_string()))
    });
    for n in 1..=3 {
        handle.submit(job(n)).expect("queued");
    }
    let status = wait_status(&mut handle.status, "one given up", |s| {
        s.not_printed_total == 1 && s.queued == 2
    })
    .await;
    assert_eq!(
        status.not_printed[0].output,
        LotId::from("L1-S1-261125-000001")
    );
    assert!(
        status
            .notice()
            .contains("NOT PRINTED: 1 label (last: L1-S1-261125-000001); reprint them."),
        "{}",
        status.notice()
    );
    // The two that waited print, oldest first, once the printer is back.
    let listener = TcpListener::bind(address)
        .await
        .expect("the printer is back");
    assert_eq!(receive(&listener).await, zpl(2));
    assert_eq!(receive(&listener).await, zpl(3));
}

#[tokio::test]
async fn the_file_sink_appends_one_zpl_document_per_label() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("labels.zpl");
    let mut handle = spawn_printer(settings(Sink::File(path.clone())));
    handle.submit(job(1)).expect("queued");
    handle.submit(job(2)).expect("queued");
    wait_status(&mut handle.status, "two written", |s| s.printed == 2).await;
    let written = std::fs::read_to_string(&path).expect("label file");
    assert_eq!(written, zpl(1) + &zpl(2));
    assert_eq!(written.matches("^XA").count(), 2);
}

#[tokio::test]
async fn without_a_printer_labels_are_reported_not_printed() {
    let mut handle = spawn_printer(settings(Sink::None));
    handle.submit(job(1)).expect("queued");
    let status = wait_status(&mut handle.status, "given up", |s| s.not_printed_total == 1).await;
    assert_eq!(status.state, PrinterState::Off);
    assert_eq!(
        status.notice(),
        "No label printer configured: labels are not printed."
    );
}

#[test]
fn sinks_from_the_command_line() {
    assert_eq!(
        Sink::parse("tcp:10.0.0.9"),
        Ok(Sink::Tcp("10.0.0.9:9100".into()))
    );
    assert_eq!(
        Sink::parse("tcp:printer-3:6101"),
        Ok(Sink::Tcp("printer-3:6101".into()))
    );
    assert_eq!(
        Sink::parse("file:out/labels.zpl"),
        Ok(Sink::File("out/labels.zpl".into()))
    );
    assert!(Sink::parse("lpt1").is_err());
}

/// The demo plant's master data as central serves it.
async fn demo_master() -> MasterData {
    use takt::protocol::MasterRecord;
    let mut master = MasterData::default();
    for change in crate::support::demo_master_page().await.changes {
        match change.record {
            MasterRecord::Product(p) => drop(master.products.insert(p.id.clone(), p)),
            MasterRecord::Material(m) => drop(master.materials.insert(m.id.clone(), m)),
            MasterRecord::WorkOrder(w) => drop(master.work_orders.insert(w.id.clone(), w)),
            _ => {}
        }
    }
    master
}

fn output_event(station: &str, operation: &str, material: &str, form: OutputForm) -> Event {
    Event::seal(
        NewEvent {
            at: Utc
                .with_ymd_and_hms(2026, 11, 25, 14, 3, 0)
                .single()
                .expect("time"),
            actor: Actor::Plc,
            kind: EventKind::OutputCreated {
                work_order: WorkOrderId::from("WO-24001"),
                operation: OperationId::from(operation),
                output: LotId::new(format!("{station}-261125-000001")),
                form,
                material: MaterialId::from(material),
                quantity: Quantity::units(if form == OutputForm::Lot { 20 } else { 1 }),
                inputs: vec![LotId::from("C24-1107")],
                operator: None,
                next_operation: None,
                machine_state: None,
            },
        },
        StationId::from(station),
        12,
        uuid::Uuid::nil(),
        GENESIS_HASH.into(),
    )
}

#[tokio::test]
async fn outputs_of_the_demo_plant_get_their_labels() {
    let master = demo_master().await;
    let tote = LabelJob::from_output(
        &output_event("L1-S1", "OP10", "BC-200-M", OutputForm::Lot),
        &master,
    )
    .expect("WIP label");
    assert_eq!(tote.data.material_name, "BC-200 machined (after OP10)");
    assert_eq!(
        tote.data.element_string().expect("encodes").hri,
        "(240)BC-200-M(10)L1-S1-261125-000001(30)20(11)261125"
    );
    let caliper = LabelJob::from_output(
        &output_event("L1-S3", "OP30", "BC-200", OutputForm::Serial),
        &master,
    )
    .expect("serial label");
    assert_eq!(
        caliper.data.element_string().expect("encodes").hri,
        "(01)00401234501019(21)L1-S3-261125-000001(11)261125"
    );
    let not_an_output = Event {
        kind: EventKind::WorkOrderStarted {
            work_order: WorkOrderId::from("WO-24001"),
        },
        ..output_event("L1-S1", "OP10", "BC-200-M", OutputForm::Lot)
    };
    assert!(
        LabelJob::from_output(&not_an_output, &master)
            .expect_err("no label")
            .to_string()
            .contains("work_order_started event, not an output")
    );
}

/// A station with a network label printer: the tote it closes is printed with its lot id and GS1
/// data, and the Run screen's view says the printer is ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_prints_the_label_of_each_output_it_makes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    drop(crate::support::station_store_with_demo_master(&db).await);
    let printer = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("printer port");
    let sim = takt::sim::spawn(
        ([127, 0, 0, 1], 0).into(),
        takt::sim::SimConfig {
            cycle_time: Duration::from_millis(40),
            defect_rate: 0.0,
            seed: Some(3),
            ..takt::sim::SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let mut station = takt::station::Station::start(takt::station::StationSetup {
        station: StationId::from("L1-S1"),
        db_path: db.clone(),
        plc: Some(takt::plc::PollerConfig {
            address: sim.local_addr().to_string(),
            poll_interval: Duration::from_millis(50),
            ..takt::plc::PollerConfig::default()
        }),
        sync: None,
        clock: std::sync::Arc::new(takt::clock::SystemClock),
        options: takt::station::StationOptions {
            printer: Some(settings(Sink::Tcp(
                printer.local_addr().expect("addr").to_string(),
            ))),
            ..Default::default()
        },
    })
    .await
    .expect("station");
    for text in [
        "EMP-1001",
        "1001",
        "WO-24001",
        crate::support::CASTING_C24_1107,
        "@START",
    ] {
        station
            .send(takt::station::CoreInput::Scan(text.into()))
            .await
            .expect("core");
    }
    let label = receive(&printer).await;
    let conn = takt::store::connect(&db, true).expect("read");
    let output = takt::store::read_events_after(&conn, 0, u64::MAX)
        .expect("events")
        .into_iter()
        .find_map(|event| match event.kind {
            EventKind::OutputCreated { output, .. } => Some(output),
            _ => None,
        })
        .expect("a full tote was recorded");
    assert!(
        label.starts_with("^XA") && label.trim_end().ends_with("^XZ"),
        "{label}"
    );
    assert!(label.contains(output.as_str()), "{label}");
    assert!(label.contains("BC-200-M"), "{label}");
    let view = crate::support::wait_view(&mut station.view, "printer ready", |v| {
        v.printer.as_deref().is_some_and(|p| p.contains("ready"))
    })
    .await;
    assert!(view.printer.is_some());
    station.shutdown().await;
    sim.shutdown().await;
}

/// A station catching up after an outage books hundreds of outputs in one go: every label is
/// queued (none refused by a small channel), and all are printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_outputs_queues_every_label() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("labels.zpl");
    let handle = spawn_printer(PrinterSettings {
        queue_limit: 300,
        ..settings(Sink::File(path.clone()))
    });
    for n in 0..250 {
        assert!(handle.submit(job(n)).is_ok(), "label {n} refused");
    }
    let mut status = handle.status.clone();
    wait_status(&mut status, "all printed", |s| s.printed == 250).await;
    let written = std::fs::read_to_string(&path).expect("label file");
    assert_eq!(written.matches("^XZ").count(), 250);
}
