//! The whole TUI on ratatui's TestBackend, driven by key events through the real loop (a scan is its
//! characters followed by Enter), against a real station core on a real SQLite file.

use crate::support::{CASTING_C24_1107_TYPED, STATION, station_id, wait_for};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use takt::clock::ManualClock;
use takt::station::{Station, StationSetup};
use takt::tui::keymap::Keymap;
use takt::tui::{App, UiLinks, UiOptions, buffer_text, render};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub(crate) struct Ui {
    keys: mpsc::UnboundedSender<std::io::Result<Event>>,
    pub(crate) frames: watch::Receiver<String>,
    bells: Arc<AtomicUsize>,
    task: JoinHandle<anyhow::Result<takt::tui::run::Exit>>,
}

impl Ui {
    pub(crate) fn start(station: &mut Station, width: u16, height: u16) -> Ui {
        let (keys, mut key_rx) = mpsc::unbounded_channel();
        let input = futures_util::stream::poll_fn(move |cx| key_rx.poll_recv(cx));
        let (frames_tx, frames) = watch::channel(String::new());
        let bells = Arc::new(AtomicUsize::new(0));
        let counter = bells.clone();
        let notices = std::mem::replace(&mut station.notices, mpsc::unbounded_channel().1);
        let links = UiLinks {
            core: station.inputs.clone(),
            view: station.view.clone(),
            notices,
            bell: Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
            frames: Some(frames_tx),
            tracer: Some(station.tracer.clone()),
        };
        let app = App::new(
            Keymap::embedded_default().expect("shipped keymap"),
            station.view.borrow().clone(),
            UiOptions {
                bell: true,
                color: true,
                login_hints: takt::demo::login_hints(),
            },
        );
        let task = tokio::spawn(async move {
            let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
            let (mut app, mut links) = (app, links);
            takt::tui::run(&mut terminal, input, &mut app, &mut links).await
        });
        Ui {
            keys,
            frames,
            bells,
            task,
        }
    }

    pub(crate) fn send(&self, event: Event) {
        let _ = self.keys.send(Ok(event));
    }

    pub(crate) fn key(&self, code: KeyCode) {
        self.send(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    }

    /// What a keyboard-wedge scanner sends: the characters, then Enter.
    pub(crate) fn scan(&self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
        self.key(KeyCode::Enter);
    }

    pub(crate) async fn wait_for(&mut self, text: &str) -> String {
        wait_for(
            &mut self.frames,
            &format!("screen showing {text:?}"),
            Duration::from_secs(30),
            |screen| screen.contains(text),
        )
        .await
    }

    pub(crate) async fn wait_until(
        &mut self,
        what: &str,
        done: impl Fn(&String) -> bool,
    ) -> String {
        wait_for(&mut self.frames, what, Duration::from_secs(30), done).await
    }

    pub(crate) async fn quit(self) {
        self.key(KeyCode::F(10));
        let result = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the loop ends on F10")
            .expect("ui task");
        assert_eq!(
            result.expect("ui loop ran cleanly"),
            takt::tui::run::Exit::Quit
        );
    }
}

fn noon() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
        .expect("time")
        .with_timezone(&chrono::Utc)
}

/// A station with the demo master data, no PLC and no central: everything on screen is deterministic.
pub(crate) async fn offline_station(dir: &std::path::Path) -> Station {
    let db = dir.join("station.db");
    {
        drop(crate::support::station_store_with_demo_master(&db).await);
    }
    Station::start(StationSetup {
        station: station_id(),
        db_path: db,
        plc: None,
        sync: None,
        clock: Arc::new(ManualClock::new(noon())),
        options: Default::default(),
    })
    .await
    .expect("station")
}

/// Dates in the demo plant move with the calendar; snapshots mask them.
fn mask_dates(screen: &str) -> String {
    let chars: Vec<char> = screen.chars().collect();
    let mut out = String::with_capacity(screen.len());
    let mut i = 0;
    while i < chars.len() {
        let is_date = i + 10 <= chars.len()
            && chars[i..i + 10].iter().enumerate().all(|(k, c)| match k {
                4 | 7 => *c == '-',
                _ => c.is_ascii_digit(),
            });
        if is_date {
            out.push_str("YYYY-MM-DD");
            i += 10;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn assert_snapshot(name: &str, screen: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/snapshots")
        .join(name);
    let screen = mask_dates(screen);
    if std::env::var_os("TAKT_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &screen).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with TAKT_UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    assert_eq!(screen, expected, "screen differs from snapshot {name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_logs_in_selects_and_starts_by_scanning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut station = offline_station(dir.path()).await;
    let mut ui = Ui::start(&mut station, 80, 24);
    ui.wait_for("Scan your badge to log in").await;
    ui.wait_for("EMP-1001").await; // the demo hints are on screen

    ui.scan("EMP-1001");
    ui.scan("1001");
    ui.wait_for("Welcome, Demo Operator A").await;
    ui.wait_for("Queue - 4 orders").await;

    // A planned order is refused in words, and the bell rings.
    ui.scan("WO-24004");
    ui.wait_for("Work order WO-24004 is planned, not released and cannot run.")
        .await;
    assert_eq!(ui.bells.load(Ordering::SeqCst), 1);
    // A scanner programmed with a Tab suffix.
    for c in "XYZ".chars() {
        ui.key(KeyCode::Char(c));
    }
    ui.key(KeyCode::Tab);
    ui.wait_for("\"XYZ\" is not a badge, work order, lot or command")
        .await;

    // Pick with the arrow keys and Enter, as well as by scanning.
    ui.key(KeyCode::Down);
    ui.key(KeyCode::Enter);
    ui.wait_for("Run - WO-24002").await;
    ui.key(KeyCode::F(2));
    ui.wait_for("Queue - 4 orders").await;
    ui.scan("WO-24001");
    ui.wait_for("Run - WO-24001").await;
    ui.scan(CASTING_C24_1107_TYPED);
    ui.wait_for("Lot C24-1107 (CAST-200) verified").await;
    ui.scan("@START");
    let screen = ui.wait_for("RUNNING").await;
    assert_snapshot("run_80x24.txt", &screen);

    // F1 shows the keys of this screen, generated from the keymap.
    ui.key(KeyCode::F(1));
    let help = ui.wait_for("Help - Run keys").await;
    assert!(help.contains("Pause"), "{help}");
    ui.key(KeyCode::Esc);
    ui.wait_for("Run - WO-24001").await;

    // Logout pauses the running order and returns to the login screen.
    ui.scan("@LOGOUT");
    ui.wait_for("Scan your badge to log in").await;
    ui.quit().await;
    station.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_rise_on_screen_from_the_plc() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = takt::sim::spawn(
        ([127, 0, 0, 1], 0).into(),
        takt::sim::SimConfig {
            cycle_time: Duration::from_millis(50),
            defect_rate: 0.0,
            ..takt::sim::SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let db = dir.path().join("station.db");
    {
        drop(crate::support::station_store_with_demo_master(&db).await);
    }
    let mut station = Station::start(StationSetup {
        station: station_id(),
        db_path: db,
        plc: Some(takt::plc::PollerConfig {
            address: sim.local_addr().to_string(),
            poll_interval: Duration::from_millis(50),
            ..takt::plc::PollerConfig::default()
        }),
        sync: None,
        clock: Arc::new(takt::clock::SystemClock),
        options: Default::default(),
    })
    .await
    .expect("station");
    let mut ui = Ui::start(&mut station, 80, 24);
    ui.wait_for("PLC idle").await;
    ui.scan("EMP-1002");
    ui.scan("1002");
    ui.wait_for("Welcome, Demo Operator B").await;
    ui.wait_for("Queue - 4 orders").await;
    // F5 on the queue starts the highlighted order: select it and start it in one go.
    ui.key(KeyCode::Down);
    ui.key(KeyCode::Down);
    ui.key(KeyCode::F(5));
    ui.wait_for("Run - WO-24003").await;
    ui.wait_for("The machine waits for material: scan CAST-200")
        .await;
    ui.scan(CASTING_C24_1107_TYPED);
    ui.wait_for("PLC running").await;
    let screen = wait_for(
        &mut ui.frames,
        "five good units on screen",
        Duration::from_secs(30),
        |screen| {
            screen
                .lines()
                .find_map(|line| {
                    line.trim_start_matches(['│', '|', ' '])
                        .strip_prefix("Good")
                })
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|good| good >= 5)
        },
    )
    .await;
    assert!(screen.contains("of 200"), "{screen}");
    ui.quit().await;
    station.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn every_size_tier_renders_and_small_screens_say_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut station = offline_station(dir.path()).await;
    station
        .send(takt::station::CoreInput::Scan("EMP-1001".into()))
        .await
        .expect("core");
    station
        .send(takt::station::CoreInput::Scan("1001".into()))
        .await
        .expect("core");
    station
        .send(takt::station::CoreInput::Scan("WO-24001".into()))
        .await
        .expect("core");
    let view = wait_for(
        &mut station.view,
        "order selected",
        Duration::from_secs(10),
        |v| v.active.is_some(),
    )
    .await;
    let app = App::new(
        Keymap::embedded_default().expect("keymap"),
        view,
        UiOptions {
            bell: false,
            color: false,
            login_hints: Vec::new(),
        },
    );
    let draw = |width: u16, height: u16| {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        let frame = terminal.draw(|f| render::draw(f, &app)).expect("draw");
        buffer_text(frame.buffer)
    };
    let full = draw(80, 24);
    assert!(
        full.contains("Run - WO-24001") && full.contains("EMP-1001"),
        "{full}"
    );
    let compact = draw(40, 16);
    assert!(
        compact.contains("WO-24001") && compact.contains("EMP-1001"),
        "{compact}"
    );
    assert!(
        !compact.contains("Demo Operator A"),
        "compact shows the badge, not the name"
    );
    let legend = compact.lines().last().unwrap_or_default();
    assert!(
        legend.contains("F6 Pause") && legend.contains("F10 Quit"),
        "a narrow legend keeps this screen's keys: {legend}"
    );
    let small = draw(40, 12);
    assert!(small.contains("Screen too small (40x12)"), "{small}");
    let tiny = draw(12, 3);
    assert!(tiny.contains("Screen"), "{tiny}");
    station.shutdown().await;
    let _ = STATION;
}

/// Consumption by scan at the full and the compact tier: a held lot is refused in words with a bell,
/// the right lot is shown as loaded and releases the machine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn material_is_scanned_in_at_both_tiers_and_a_held_lot_is_refused() {
    for (width, height) in [(80, 24), (40, 16)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut station = offline_station(dir.path()).await;
        let mut ui = Ui::start(&mut station, width, height);
        ui.scan("EMP-1001");
        ui.scan("1001");
        ui.wait_for("Welcome").await;
        ui.scan("WO-24001");
        ui.scan("@START");
        let waiting = ui.wait_for("RUNNING").await;
        assert!(waiting.contains("NEED"), "{waiting}");
        assert!(waiting.contains("CAST-200"), "{waiting}");

        let bells = ui.bells.load(Ordering::SeqCst);
        ui.scan("(01)00401234500012(10)C24-1031(30)120");
        let refused = ui.wait_for("ON HOLD").await;
        assert!(refused.contains("NO"), "{refused}");
        assert!(refused.contains("C24-1031"), "{refused}");
        assert!(ui.bells.load(Ordering::SeqCst) > bells, "a refusal rings");

        ui.scan("(01)00401234500029(10)C24-2210(30)300");
        let wrong = ui.wait_for("WRONG MATERIAL").await;
        assert!(wrong.contains("expected CAST-200"), "{wrong}");

        ui.scan(CASTING_C24_1107_TYPED);
        // The notice and the view travel separately: wait until both show the loaded lot.
        let loaded = wait_for(
            &mut ui.frames,
            "lot loaded on screen",
            Duration::from_secs(30),
            |screen| screen.contains("The machine is released") && !screen.contains("NEED"),
        )
        .await;
        assert!(loaded.contains("C24-1107"), "{loaded}");
        assert!(loaded.contains("OK"), "{loaded}");
        if width == 80 {
            assert!(loaded.contains("400 pc left"), "{loaded}");
            assert!(loaded.contains("tote 0/20 -> OP20"), "{loaded}");
            assert_snapshot("run_material_80x24.txt", &loaded);
        } else {
            assert_snapshot("run_material_40x16.txt", &loaded);
        }
        ui.quit().await;
        station.shutdown().await;
    }
}

/// The demo's keymap adds F12: the loop hands the terminal to the next station of the line, and a
/// station shown again is as it was left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_walks_the_line_with_f12() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut station = offline_station(dir.path()).await;
    let keymap = Keymap::load(
        takt::tui::keymap::DEFAULT_KEYMAP,
        takt::tui::keymap::DEFAULT_KEYMAP_NAME,
        Some((takt::demo::DEMO_KEYMAP, "keymaps/demo.toml")),
    )
    .expect("demo keymap loads over the default");
    let (keys, mut key_rx) = mpsc::unbounded_channel::<std::io::Result<Event>>();
    let mut input = futures_util::stream::poll_fn(move |cx| key_rx.poll_recv(cx));
    let notices = std::mem::replace(&mut station.notices, mpsc::unbounded_channel().1);
    let (frames_tx, mut frames) = watch::channel(String::new());
    let mut links = UiLinks {
        core: station.inputs.clone(),
        view: station.view.clone(),
        notices,
        bell: Box::new(|| {}),
        frames: Some(frames_tx),
        tracer: Some(station.tracer.clone()),
    };
    let mut app = App::new(
        keymap,
        station.view.borrow().clone(),
        UiOptions {
            bell: false,
            color: false,
            login_hints: takt::demo::login_hints(),
        },
    );
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
    // Badge, then PIN, each typed and ended with Enter.
    for text in ["EMP-1001", "1001"] {
        for c in text.chars() {
            let _ = keys.send(Ok(Event::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            ))));
        }
        let _ = keys.send(Ok(Event::Key(KeyEvent::new(
            KeyCode::Enter,
            KeyModifiers::NONE,
        ))));
    }
    let _ = keys.send(Ok(Event::Key(KeyEvent::new(
        KeyCode::F(12),
        KeyModifiers::NONE,
    ))));
    let exit = tokio::time::timeout(
        Duration::from_secs(10),
        takt::tui::run(&mut terminal, &mut input, &mut app, &mut links),
    )
    .await
    .expect("F12 ends the loop")
    .expect("loop ran cleanly");
    assert_eq!(exit, takt::tui::run::Exit::NextStation);
    assert!(frames.borrow_and_update().contains("F12 Station"));

    // Back on this station: the same app, the operator still logged in.
    crate::support::wait_view(&mut station.view, "logged in", |v| v.operator.is_some()).await;
    let _ = keys.send(Ok(Event::Key(KeyEvent::new(
        KeyCode::F(10),
        KeyModifiers::NONE,
    ))));
    let exit = tokio::time::timeout(
        Duration::from_secs(10),
        takt::tui::run(&mut terminal, &mut input, &mut app, &mut links),
    )
    .await
    .expect("F10 ends the loop")
    .expect("loop ran cleanly");
    assert_eq!(exit, takt::tui::run::Exit::Quit);
    assert!(app.view.operator.is_some(), "the login survived the walk");
    // The links hold a sender to the core: let go, so the core can stop.
    drop(links);
    station.shutdown().await;
}

/// Stops open by themselves when the simulated machine faults; F7 lists the shift's stops, uncoded
/// first, with the PLC's usual reason as a suggestion; the arrows and Enter code the marked stop, a
/// reason scanned on the screen codes the stop marked (not the latest), and the Run screen shows
/// the shift's KPIs.
#[tokio::test]
async fn the_downtime_screen_codes_the_marked_stop_by_keys_and_by_scan() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sim = takt::sim::spawn(
        ([127, 0, 0, 1], 0).into(),
        takt::sim::SimConfig {
            cycle_time: Duration::from_millis(40),
            defect_rate: 0.0,
            scenario: takt::sim::Scenario::parse(["fault-every=6units,reason=2,clear-after=300ms"])
                .expect("scenario"),
            ..takt::sim::SimConfig::default()
        },
    )
    .await
    .expect("sim");
    let db = dir.path().join("station.db");
    {
        drop(crate::support::station_store_with_demo_master(&db).await);
    }
    let mut station = Station::start(StationSetup {
        station: station_id(),
        db_path: db,
        plc: Some(takt::plc::PollerConfig {
            address: sim.local_addr().to_string(),
            poll_interval: Duration::from_millis(50),
            ..takt::plc::PollerConfig::default()
        }),
        sync: None,
        clock: Arc::new(takt::clock::SystemClock),
        options: takt::station::StationOptions {
            stop_reasons: [(2u16, "R-12".to_owned())].into_iter().collect(),
            ..Default::default()
        },
    })
    .await
    .expect("station");
    let mut view = station.view.clone();
    let mut ui = Ui::start(&mut station, 110, 30);
    ui.wait_for("PLC idle").await;
    ui.scan("EMP-1001");
    ui.scan("1001");
    ui.wait_for("Queue - 4 orders").await;
    ui.scan("WO-24001");
    ui.wait_for("Run - WO-24001").await;
    ui.scan(CASTING_C24_1107_TYPED);
    ui.scan("@START");
    // Two stops over and done, the third perhaps open.
    wait_for(&mut view, "two ended stops", Duration::from_secs(30), |v| {
        v.stops.iter().filter(|s| s.ended_at.is_some()).count() >= 2
    })
    .await;
    // Shift KPIs from the demo calendar (every hour of the day is in one of its shifts).
    ui.wait_for(" Shift    ").await;
    // F6 pauses: no more units, so no more stops, and the list holds still.
    ui.key(KeyCode::F(6));
    wait_for(
        &mut view,
        "paused, every stop over",
        Duration::from_secs(30),
        |v| {
            v.active
                .as_ref()
                .is_some_and(|a| a.status == takt::domain::ExecStatus::Paused)
                && v.stops.iter().all(|s| s.ended_at.is_some())
        },
    )
    .await;
    let listed = |v: &takt::station::View, index: usize| {
        takt::tui::downtime::rows(v)
            .get(index)
            .map(|(_, stop)| stop.started_at)
            .expect("a listed stop")
    };

    ui.key(KeyCode::F(7));
    let screen = ui.wait_for("Downtime - ").await;
    assert!(screen.contains("UNCODED"), "{screen}");
    assert!(
        screen.contains("R-12?"),
        "the PLC's suggestion shows: {screen}"
    );
    // The reason bar starts on the marked stop's suggestion; Right moves to the next reason.
    assert!(screen.contains("Reason < R-12 fixture >"), "{screen}");
    ui.key(KeyCode::Right);
    ui.wait_for("Reason < R-20 electrical >").await;
    let marked = listed(&view.borrow(), 0);
    ui.key(KeyCode::Enter);
    let coded = wait_for(
        &mut view,
        "the marked stop coded R-20",
        Duration::from_secs(10),
        |v| {
            v.stops.iter().any(|s| {
                s.started_at == marked && s.reason.as_deref() == Some("R-20") && !s.uncoded()
            })
        },
    )
    .await;
    assert!(
        coded
            .stops
            .iter()
            .filter(|s| s.started_at != marked)
            .all(|s| s.reason.as_deref() != Some("R-20")),
        "only the marked stop was coded"
    );
    // The screen (its own copy of the view) shows the coding before the mark moves on.
    ui.wait_for("EMP-1001 OK").await;
    // To another stop and scan a reason barcode: that stop, not the newest, gets it. The coded
    // stop (still marked) moved below the uncoded ones; step to its neighbour in the list.
    let (key, second) = {
        let v = view.borrow();
        let rows = takt::tui::downtime::rows(&v);
        let at = rows
            .iter()
            .position(|(_, stop)| stop.started_at == marked)
            .expect("the coded stop is listed");
        match rows.get(at + 1) {
            Some((_, next)) => (KeyCode::Down, next.started_at),
            None => (KeyCode::Up, rows[at - 1].1.started_at),
        }
    };
    ui.key(key);
    assert_ne!(second, marked);
    ui.scan("R-11");
    wait_for(
        &mut view,
        "the second stop coded R-11",
        Duration::from_secs(10),
        |v| {
            v.stops
                .iter()
                .any(|s| s.started_at == second && s.reason.as_deref() == Some("R-11"))
        },
    )
    .await;
    ui.wait_for("R-11 ").await;
    // Esc goes back to the Run screen.
    ui.key(KeyCode::Esc);
    ui.wait_for("Run - WO-24001").await;
    ui.quit().await;
    station.shutdown().await;
    sim.shutdown().await;
}

fn shift_f4() -> Event {
    Event::Key(KeyEvent::new(KeyCode::F(4), KeyModifiers::SHIFT))
}

/// An inspector holds and releases a lot from the Trace screen and a lead corrects a count on the
/// History screen, by keys alone: the SIGN box says what is signed, the PIN shows as stars, and
/// Esc gives up without recording anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_releases_and_corrections_are_signed_at_the_keyboard() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        // A count the machine reported earlier, to be corrected.
        let db = dir.path().join("station.db");
        let mut store = crate::support::station_store_with_demo_master(&db).await;
        let mut state = store.load_state().expect("state");
        store
            .append(&mut state, vec![crate::support::unit_of_wo_24001(noon())])
            .expect("a count");
    }
    let mut station = Station::start(StationSetup {
        station: station_id(),
        db_path: dir.path().join("station.db"),
        plc: None,
        sync: None,
        clock: Arc::new(ManualClock::new(noon())),
        options: Default::default(),
    })
    .await
    .expect("station");
    let mut ui = Ui::start(&mut station, 80, 24);
    ui.scan("EMP-2001");
    ui.scan("2001");
    ui.wait_for("Welcome, Demo Inspector").await;
    // The notice and the view travel separately: F4 waits for the logged-in view.
    ui.wait_for("Queue - 4 orders").await;

    ui.key(KeyCode::F(4));
    ui.scan("C24-2210");
    ui.wait_for("Trace C24-2210").await;
    // A hold asked for and left (F2 to the queue): the next scan elsewhere is no hold reason.
    ui.key(KeyCode::F(6));
    ui.wait_for("Hold lot C24-2210: type the reason").await;
    ui.key(KeyCode::F(2));
    ui.wait_for("Queue - 4 orders").await;
    ui.scan("WO-24001");
    ui.wait_for("may not choose work orders").await;
    ui.key(KeyCode::F(4));
    ui.wait_for("Trace C24-2210").await;
    ui.key(KeyCode::F(6));
    ui.wait_for("Hold lot C24-2210: type the reason").await;
    ui.wait_for(" Reason> ").await;
    ui.scan("D-101");
    ui.wait_for("Lot C24-2210 is ON HOLD (D-101").await;

    ui.key(KeyCode::F(8));
    let asked = ui.wait_for("SIGN (21 CFR Part 11)").await;
    assert!(
        asked.contains("You sign to release the hold on lot C24-2210."),
        "{asked}"
    );
    // Esc gives up: nothing recorded, the box goes.
    ui.key(KeyCode::Esc);
    ui.wait_until("the box gone after Esc", |screen| {
        screen.contains("Not signed: nothing was recorded") && !screen.contains("SIGN (21 CFR")
    })
    .await;

    ui.key(KeyCode::F(8));
    ui.wait_for("what does your signature mean?").await;
    ui.scan("1");
    ui.wait_for("type your PIN to sign (approved)").await;
    for c in "2001".chars() {
        ui.key(KeyCode::Char(c));
    }
    let masked = ui.wait_for(" PIN> ****").await;
    assert!(!masked.contains("2001_"), "the PIN never shows: {masked}");
    ui.key(KeyCode::Enter);
    ui.wait_until("the release recorded and the box gone", |screen| {
        screen.contains("Hold on lot C24-2210 released") && !screen.contains("SIGN (21 CFR")
    })
    .await;

    // The inspector may correct too; the History lists the machine's count.
    ui.key(KeyCode::F(3));
    ui.send(shift_f4());
    let history = ui.wait_for("History: correct a recorded fact").await;
    assert!(history.contains("count WO-24001"), "{history}");
    ui.key(KeyCode::Enter);
    ui.wait_for("Type the new value").await;
    ui.scan("x");
    ui.wait_for("Type the count made, and the rejected among them")
        .await;
    ui.scan("3 1");
    ui.wait_for("Scan or type the reason code").await;
    ui.scan("C-03");
    ui.wait_for("You sign to correct event").await;
    ui.scan("3");
    ui.wait_for("type your PIN to sign (performed)").await;
    ui.scan("2001");
    let corrected = ui
        .wait_for("count WO-24001   3 made, 1 rejected (was 1 made, 0 rejected)")
        .await;
    assert!(corrected.contains("meaning: performed"), "{corrected}");
    ui.quit().await;
    station.shutdown().await;
}

/// The signature prompt at the compact tier (40x16): what is signed and what to enter stay
/// readable, the PIN shows as stars.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_box_fits_the_compact_tier() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut station = offline_station(dir.path()).await;
    let mut ui = Ui::start(&mut station, 40, 16);
    ui.scan("EMP-2001");
    ui.scan("2001");
    ui.wait_for("Queue").await;
    ui.key(KeyCode::F(4));
    ui.scan("C24-1031");
    ui.wait_for("C24-1031 - backward").await;
    ui.key(KeyCode::F(8));
    let asked = ui.wait_for("SIGN (21 CFR Part 11)").await;
    assert!(asked.contains("release the hold on lot"), "{asked}");
    ui.scan("1");
    for c in "2001".chars() {
        ui.key(KeyCode::Char(c));
    }
    let masked = ui.wait_for(" PIN> ****").await;
    assert!(masked.contains("type your PIN"), "{masked}");
    ui.key(KeyCode::Enter);
    ui.wait_until("released, the box gone", |screen| {
        screen.contains("released") && !screen.contains("SIGN (21 CFR")
    })
    .await;
    ui.quit().await;
    station.shutdown().await;
}
