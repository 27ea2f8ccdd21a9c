//! The scan decoder in the real TUI loop: a scanner's burst (with GS sent as Ctrl+5, as crossterm
//! reports it on Unix) is recorded as scanned, slow typing as keyed, and the scanner test screen
//! shows reads byte by byte without booking anything. Timing is real: the loop stamps each event as
//! it takes it, so the tests only ever make gaps longer (never shorter) than they claim.

use crate::support::{CASTING_C24_1107, CASTING_C24_1107_TYPED};
use crate::tui::{Ui, offline_station};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::Path;
use std::time::Duration;
use takt::domain::{Entry, EventKind};
use takt::scan::keys::{How, Scan};
use takt::store::{connect, read_events_after};
use takt::tui::keymap::Keymap;
use takt::tui::{App, Screen, UiOptions, buffer_text, render};

/// A person's pace: well above the 30 ms mean gap a burst may have.
const TYPING_GAP: Duration = Duration::from_millis(40);

fn events(db: &Path) -> Vec<EventKind> {
    let conn = connect(db, true).expect("read the log");
    read_events_after(&conn, 0, u64::MAX)
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// A keyboard-wedge scanner on Unix: GS arrives as Ctrl+5, the rest as plain keys, then Enter.
fn scan_gs_as_ctrl5(ui: &Ui, text: &str) {
    for c in text.chars() {
        let key = match c {
            '\u{1d}' => KeyEvent::new(KeyCode::Char('5'), KeyModifiers::CONTROL),
            c => KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
        };
        ui.send(Event::Key(key));
    }
    ui.key(KeyCode::Enter);
}

/// A person typing: each key is sent only after the previous one is on screen, then a pause, so
/// the loop takes them at least `TYPING_GAP` apart however busy the machine is.
async fn type_slowly(ui: &mut Ui, text: &str) {
    let mut typed = String::new();
    for c in text.chars() {
        ui.key(KeyCode::Char(c));
        typed.push(c);
        ui.wait_for(&format!("Scan> {typed}_")).await;
        tokio::time::sleep(TYPING_GAP).await;
    }
    ui.key(KeyCode::Enter);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_with_gs_as_ctrl5_is_recorded_as_scanned() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    let mut station = offline_station(dir.path()).await;
    let mut ui = Ui::start(&mut station, 80, 24);
    ui.wait_for("Scan your badge to log in").await;

    // Refused (nobody logged in): the evidence holds the label as scanned, GS and all.
    scan_gs_as_ctrl5(&ui, CASTING_C24_1107);
    ui.wait_for("Nobody is logged in").await;
    ui.scan("EMP-1001");
    ui.scan("1001");
    ui.wait_for("Welcome, Demo Operator A").await;
    ui.scan("WO-24001");
    ui.wait_for("Run - WO-24001").await;
    // Loaded: the GS split lot from quantity, so the lot is C24-1107 and not "C24-110730400".
    scan_gs_as_ctrl5(&ui, CASTING_C24_1107);
    ui.wait_for("Lot C24-1107 (CAST-200) verified").await;
    ui.quit().await;
    station.shutdown().await;

    let log = events(&db);
    let refused = log
        .iter()
        .find_map(|kind| match kind {
            EventKind::ScanRefused { scanned, entry, .. } if scanned.contains("C24-1107") => {
                Some((scanned.clone(), *entry))
            }
            _ => None,
        })
        .expect("the refused label is evidence");
    assert_eq!(refused, (CASTING_C24_1107.to_owned(), Some(Entry::Scanned)));
    assert!(refused.0.contains('\u{1d}'));
    let loaded = log
        .iter()
        .find_map(|kind| match kind {
            EventKind::LotLoaded { lot, entry, .. } => Some((lot.to_string(), *entry)),
            _ => None,
        })
        .expect("the lot was loaded");
    assert_eq!(loaded, ("C24-1107".to_owned(), Entry::Scanned));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_typing_is_recorded_as_keyed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    let mut station = offline_station(dir.path()).await;
    let mut ui = Ui::start(&mut station, 80, 24);
    ui.wait_for("Scan your badge to log in").await;
    ui.scan("EMP-1001");
    ui.scan("1001");
    ui.wait_for("Welcome, Demo Operator A").await;
    ui.scan("WO-24001");
    ui.wait_for("Run - WO-24001").await;

    type_slowly(&mut ui, "D-101").await;
    ui.wait_for("D-101 is a defect code").await;
    // A function key between typed characters is still a binding, and the line survives it.
    ui.key(KeyCode::Char('x'));
    ui.wait_for("Scan> x_").await;
    ui.key(KeyCode::F(1));
    ui.wait_for("Help - Run keys").await;
    ui.key(KeyCode::Esc);
    ui.wait_for("Run - WO-24001").await;
    ui.key(KeyCode::Esc);
    ui.wait_for("Scan> _").await;

    type_slowly(&mut ui, CASTING_C24_1107_TYPED).await;
    ui.wait_for("Lot C24-1107 (CAST-200) verified").await;
    ui.quit().await;
    station.shutdown().await;

    let log = events(&db);
    assert!(
        log.iter().any(|kind| matches!(
            kind,
            EventKind::ScanRefused { scanned, entry: Some(Entry::Keyed), .. } if scanned == "D-101"
        )),
        "{log:#?}"
    );
    assert!(
        log.iter().any(|kind| matches!(
            kind,
            EventKind::LotLoaded {
                entry: Entry::Keyed,
                ..
            }
        )),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .all(|kind| !matches!(kind, EventKind::ScanRefused { scanned, .. } if scanned.starts_with('x'))),
        "the cleared line was never submitted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scanner_test_screen_shows_bytes_and_fields_and_books_nothing() {
    for (width, height) in [(80, 24), (40, 16)] {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("station.db");
        let mut station = offline_station(dir.path()).await;
        let mut ui = Ui::start(&mut station, width, height);
        ui.wait_for("Scan your badge to log in").await;
        let before = events(&db).len();

        ui.key(KeyCode::F(11));
        ui.wait_for("Scanner test").await;
        scan_gs_as_ctrl5(&ui, CASTING_C24_1107);
        let screen = if width >= 80 {
            let screen = ui.wait_for("1D <GS>").await;
            for shown in [
                "#1 SCANNED  burst",
                "AIM ]C1  GS1-128",
                "5D ]  43 C  31 1",
                "GS1 data",
                "(01)",
                "00401234500012",
                "(10)",
                "C24-1107",
                "(30)",
                "400",
            ] {
                assert!(screen.contains(shown), "{shown:?} missing:\n{screen}");
            }
            screen
        } else {
            let screen = ui.wait_for("1D<GS>").await;
            for shown in [
                "#1 SCANNED burst",
                "5D 43 31 30",
                "]C1 GS1 data",
                "(01) 00401234500012",
                "(10) C24-1107",
                "(30) 400",
            ] {
                assert!(screen.contains(shown), "{shown:?} missing:\n{screen}");
            }
            screen
        };
        assert!(!screen.contains("Screen too small"), "{screen}");

        // A badge would log in anywhere else; here it is only shown.
        ui.scan("EMP-1001");
        let screen = ui.wait_for("badge EMP-1001").await;
        assert!(screen.contains("#2"), "{screen}");
        if width >= 80 {
            type_slowly(&mut ui, "WO-1").await;
            let screen = ui.wait_for("#3 KEYED").await;
            assert!(screen.contains("typed"), "{screen}");
            assert!(screen.contains("Earlier"), "{screen}");
        }
        // Esc goes back to where the technician came from, still logged out.
        ui.key(KeyCode::Esc);
        let screen = ui.wait_for("Scan your badge to log in").await;
        assert!(!screen.contains("Welcome"), "{screen}");
        ui.quit().await;
        station.shutdown().await;
        assert_eq!(
            events(&db).len(),
            before,
            "nothing read on the scanner test is booked ({width}x{height})"
        );
    }
}

#[test]
fn the_scanner_test_screen_says_when_the_screen_is_too_small() {
    let mut app = App::new(
        Keymap::embedded_default().expect("keymap"),
        takt::station::View::empty("L1-S1"),
        UiOptions {
            bell: false,
            color: false,
            login_hints: Vec::new(),
        },
    );
    app.screen = Screen::ScannerTest;
    app.scanner_test.record(
        Scan {
            text: CASTING_C24_1107.into(),
            entry: Entry::Scanned,
            how: How::Paste,
            mean_gap: None,
            dropped_keys: 0,
        },
        chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
    );
    let draw = |width: u16, height: u16| {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
        let frame = terminal.draw(|f| render::draw(f, &app)).expect("draw");
        buffer_text(frame.buffer)
    };
    let full = draw(80, 24);
    assert!(full.contains("SCANNED  paste, 35 bytes"), "{full}");
    let compact = draw(40, 16);
    assert!(compact.contains("(10) C24-1107"), "{compact}");
    let small = draw(39, 15);
    assert!(small.contains("Screen too small (39x15)"), "{small}");
}

/// The PIN is typed on the scan line after a badge scan: the screen shows a star per key, never a
/// digit, and Enter logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_is_typed_as_stars_and_logs_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut station = offline_station(dir.path()).await;
    let mut ui = Ui::start(&mut station, 80, 24);
    ui.wait_for("Scan your badge to log in").await;
    ui.scan("EMP-2001");
    let screen = ui.wait_for(" PIN> _").await;
    assert!(
        screen.contains("Demo Inspector: type your PIN, then Enter."),
        "{screen}"
    );
    let mut stars = String::new();
    for c in "2001".chars() {
        ui.key(KeyCode::Char(c));
        stars.push('*');
        let screen = ui.wait_for(&format!("PIN> {stars}_")).await;
        assert!(!screen.contains("PIN> 2"), "a digit on screen:\n{screen}");
        tokio::time::sleep(TYPING_GAP).await;
    }
    ui.key(KeyCode::Enter);
    ui.wait_for("Welcome, Demo Inspector.").await;
    let queue = ui.wait_for("Queue").await;
    // An inspector runs no orders: the keys for it are not offered, in the legend or in help.
    assert!(queue.contains("F2") || queue.contains("F1 Help"), "{queue}");
    assert!(!queue.contains("F5 Start"), "{queue}");
    ui.key(KeyCode::F(1));
    let help = ui.wait_for("Help - Queue keys").await;
    assert!(!help.contains("Start work order"), "{help}");
    assert!(help.contains("Next work order"), "{help}");
}
