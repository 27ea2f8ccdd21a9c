//! Clock offset between a station and central, on loopback with real components: a central whose
//! clock runs 5 s ahead, a station on the system clock, the sync worker between them, and the
//! status bar drawn from the station's view.

use crate::support::{STATION, station_id, wait_view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use std::time::Duration;
use takt::clock::{OffsetClock, SystemClock};
use takt::domain::shift::ShiftCalendar;
use takt::station::{CoreInput, Notice, Station, StationSetup, View};
use takt::sync::SyncConfig;
use takt::tui::keymap::Keymap;
use takt::tui::{App, UiOptions, buffer_text, render};

struct Rig {
    _dir: tempfile::TempDir,
    central: takt::central::CentralHandle,
    token: String,
    station: Station,
}

/// A central (demo plant) with its clock `ahead` of the system's, and a station syncing with it.
async fn rig(ahead: chrono::Duration) -> Rig {
    let dir = tempfile::tempdir().expect("temp dir");
    let central_db = dir.path().join("central.db");
    takt::central::seed_demo(&central_db, chrono::Utc::now().date_naive()).expect("seed");
    let token = takt::central::add_station(&central_db, STATION).expect("token");
    let central = takt::central::spawn_with_clock(
        ([127, 0, 0, 1], 0).into(),
        central_db,
        ShiftCalendar::default(),
        Arc::new(OffsetClock::new(ahead)),
    )
    .await
    .expect("central");
    let db = dir.path().join("station.db");
    let station = Station::start(StationSetup {
        station: station_id(),
        db_path: db.clone(),
        plc: None,
        sync: Some(SyncConfig {
            pull_interval: Duration::from_millis(100),
            backoff_max: Duration::from_millis(500),
            ..SyncConfig::new(central.url(), token.clone(), station_id(), db)
        }),
        clock: Arc::new(SystemClock),
        options: Default::default(),
    })
    .await
    .expect("station");
    Rig {
        _dir: dir,
        central,
        token,
        station,
    }
}

/// The status bar (the first line, or the first two at the compact tier) as drawn from `view`.
fn status_bar(view: &View, width: u16, height: u16) -> String {
    let app = App::new(
        Keymap::embedded_default().expect("keymap"),
        view.clone(),
        UiOptions {
            bell: false,
            color: false,
            login_hints: Vec::new(),
        },
    );
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    let frame = terminal.draw(|f| render::draw(f, &app)).expect("draw");
    let lines = if width >= render::FULL.0 { 1 } else { 2 };
    buffer_text(frame.buffer)
        .lines()
        .take(lines)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The notices about the clock the station sent so far.
fn clock_notices(station: &mut Station) -> Vec<Notice> {
    let mut notices = Vec::new();
    while let Ok(notice) = station.notices.try_recv() {
        if notice.text.contains("clock") {
            notices.push(notice);
        }
    }
    notices
}

/// Lets several more exchanges happen (pulls every 100 ms), then returns the latest view.
async fn after_more_syncs(station: &mut Station) -> View {
    tokio::time::sleep(Duration::from_millis(800)).await;
    station.view.borrow().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_central_five_seconds_ahead_is_measured_and_warned_about_once() {
    let Rig {
        _dir,
        central,
        token,
        mut station,
    } = rig(chrono::Duration::seconds(5)).await;
    let view = wait_view(
        &mut station.view,
        "the clock warning and master data",
        |v| v.central_clock_warning && !v.queue.is_empty(),
    )
    .await;
    let offset = view.central_clock_offset_ms.expect("an offset");
    assert!((4_500..=5_500).contains(&offset), "offset {offset} ms");

    // Events keep this terminal's time; the offset is only shown.
    station
        .send(CoreInput::Scan("EMP-1001".into()))
        .await
        .expect("core");
    station
        .send(CoreInput::Scan("1001".into()))
        .await
        .expect("core");
    station
        .send(CoreInput::Scan("WO-24001".into()))
        .await
        .expect("core");
    let view = wait_view(&mut station.view, "order selected and acked", |v| {
        v.active.is_some() && v.backlog == 0 && v.central_clock_warning
    })
    .await;
    let full = status_bar(&view, 80, 24);
    assert!(full.contains("CLOCK +5.0 s"), "{full}");
    assert!(
        full.contains("EMP-1001") && full.trim_end().ends_with("Backlog 0"),
        "the whole status bar fits at 80 columns: {full}"
    );
    let compact = status_bar(&view, 40, 16);
    assert!(compact.contains("CLOCK +5.0 s"), "{compact}");

    let view = after_more_syncs(&mut station).await;
    assert!(view.central_clock_warning);
    let notices = clock_notices(&mut station);
    assert_eq!(notices.len(), 1, "said once: {notices:#?}");
    assert_eq!(
        notices[0].text,
        "This terminal's clock is 5.0 s behind central's. Events keep their order; ask IT to fix \
         the time."
    );

    // The event log keeps the station's own time.
    let conn = takt::store::connect(&_dir.path().join("station.db"), true).expect("read store");
    let events = takt::store::read_events_after(&conn, 0, u64::MAX).expect("events");
    let now = chrono::Utc::now();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|event| event.at <= now),
        "no event stamped with central's (later) time"
    );

    // Every answer carries central's time as the standard Date header, errors too.
    let client = reqwest::Client::new();
    let refused = client
        .get(format!(
            "{}/api/v1/stations/{STATION}/changes?since=0",
            central.url()
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status(), reqwest::StatusCode::UNAUTHORIZED);
    let date = refused
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|value| value.to_str().ok())
        .expect("a Date header")
        .to_owned();
    let date = chrono::DateTime::parse_from_rfc2822(&date).expect("an HTTP date");
    let ahead = date.signed_duration_since(chrono::Utc::now());
    assert!(
        (3_000..=7_000).contains(&ahead.num_milliseconds()),
        "Date is central's clock, 5 s ahead (to the second): {ahead}"
    );
    let page: takt::protocol::ChangePage = client
        .get(format!(
            "{}/api/v1/stations/{STATION}/changes?since=0",
            central.url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("changes")
        .json()
        .await
        .expect("page");
    let ahead = page.server_time.signed_duration_since(chrono::Utc::now());
    assert!(
        (4_000..=5_100).contains(&ahead.num_milliseconds()),
        "server_time is central's clock: {ahead}"
    );

    station.shutdown().await;
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_central_in_step_gives_no_warning() {
    let Rig {
        _dir,
        central,
        mut station,
        ..
    } = rig(chrono::Duration::zero()).await;
    let view = wait_view(&mut station.view, "an offset and master data", |v| {
        v.central_clock_offset_ms.is_some() && !v.queue.is_empty()
    })
    .await;
    let offset = view.central_clock_offset_ms.unwrap_or(i64::MAX);
    assert!(offset.abs() <= 500, "offset {offset} ms");
    let view = after_more_syncs(&mut station).await;
    assert!(!view.central_clock_warning);
    let full = status_bar(&view, 80, 24);
    assert!(
        full.contains("Central online") && !full.contains("CLOCK"),
        "{full}"
    );
    assert!(clock_notices(&mut station).is_empty());
    station.shutdown().await;
    central.shutdown().await;
}
