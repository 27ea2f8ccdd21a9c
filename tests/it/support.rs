//! Shared set-up for the integration tests: the demo plant's master data, real stores, real servers on
//! loopback, and bounded waits (never fixed sleeps as the assertion).

use std::future::Future;
use std::time::Duration;
use takt::domain::StationId;
use takt::protocol::ChangePage;
use takt::station::View;
use tokio::sync::watch;

pub const STATION: &str = "L1-S1";

pub fn station_id() -> StationId {
    StationId::from(STATION)
}

/// Waits until `check` holds for the watched value, or fails naming what it waited for.
pub async fn wait_for<T: Clone + std::fmt::Debug, F: Fn(&T) -> bool>(
    rx: &mut watch::Receiver<T>,
    what: &str,
    limit: Duration,
    check: F,
) -> T {
    let result = tokio::time::timeout(limit, async {
        loop {
            {
                let value = rx.borrow_and_update();
                if check(&value) {
                    return value.clone();
                }
            }
            if rx.changed().await.is_err() {
                return rx.borrow().clone();
            }
        }
    })
    .await;
    match result {
        Ok(value) if check(&value) => value,
        _ => {
            let last = format!("{:#?}", *rx.borrow());
            let last: String = last.chars().take(4000).collect();
            panic!("timed out after {limit:?} waiting for: {what}\nlast seen:\n{last}")
        }
    }
}

pub async fn wait_view<F: Fn(&View) -> bool>(
    rx: &mut watch::Receiver<View>,
    what: &str,
    check: F,
) -> View {
    wait_for(rx, what, Duration::from_secs(30), check).await
}

/// Polls an async condition until it holds.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The demo plant as a site whose quality engineers gate no order on its first article: for the tests
/// about something else, whose machines must run on without an inspector at OP10.
/// tests/it/first_article.rs covers the gate itself.
pub fn without_first_article_gates(central_db: &std::path::Path) {
    for product in ["BC-200", "BC-210"] {
        takt::central::set_first_article_gate(central_db, product, "OP10", false)
            .expect("ungated plan");
    }
}

/// The demo plant's master data exactly as a real central serves it to this station (without
/// first-article gates, see [`without_first_article_gates`]): one page.
pub async fn demo_master_page() -> ChangePage {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("central.db");
    takt::central::seed_demo(&db, chrono::Utc::now().date_naive()).expect("seed");
    without_first_article_gates(&db);
    let token = takt::central::add_station(&db, STATION).expect("station token");
    let central = takt::central::spawn(([127, 0, 0, 1], 0).into(), db.clone())
        .await
        .expect("central");
    let page: ChangePage = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/stations/{STATION}/changes?since=0&limit=1000",
            central.url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("changes")
        .json()
        .await
        .expect("page");
    central.shutdown().await;
    assert!(!page.more, "the demo plant fits one page");
    page
}

/// A station store on a real file at `db`, holding the demo plant's master data as central serves it.
pub async fn station_store_with_demo_master(db: &std::path::Path) -> takt::store::Store {
    let mut store = takt::store::Store::open(db, &station_id()).expect("station store");
    let mut state = store.load_state().expect("state");
    store
        .apply_changes(&mut state, &demo_master_page().await)
        .expect("master data");
    store
}

/// The supplier label of casting lot C24-1107 (CAST-200, for BC-200 at OP10), as a GS1-128 scanner
/// sends it: symbology id, GTIN, lot, GS, quantity.
pub const CASTING_C24_1107: &str = "]C1010040123450001210C24-1107\u{1d}30400";

/// The same label in the bracketed form a person can type.
pub const CASTING_C24_1107_TYPED: &str = "(01)00401234500012(10)C24-1107(30)400";

/// Runs the real `takt` binary with `args` and waits for it; the central under test keeps serving
/// on the runtime's workers meanwhile.
pub async fn takt_cli<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> std::process::Output {
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_takt"))
            .args(&args)
            .output()
            .expect("run takt")
    })
    .await
    .expect("takt finished")
}

/// `takt ARGS` with `input` on its stdin (not a terminal): how a script sets a PIN.
pub async fn takt_cli_with_stdin<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
    input: &str,
) -> std::process::Output {
    use std::io::Write;
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let input = input.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_takt"))
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run takt");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("takt output")
    })
    .await
    .expect("takt finished")
}

/// The PLC's count of one unit of `WO-24001` at `at`, as a station logs it.
pub fn unit_of_wo_24001(at: chrono::DateTime<chrono::Utc>) -> takt::domain::NewEvent {
    takt::domain::NewEvent {
        at,
        actor: takt::domain::Actor::Plc,
        kind: takt::domain::EventKind::UnitsProduced {
            work_order: Some(takt::domain::WorkOrderId::from("WO-24001")),
            produced: 1,
            rejected: 0,
            plc_epoch: 1,
            processed_total: 0,
            defective_total: 0,
        },
    }
}

/// A PLC sample at epoch 42 with `processed` units made, `defective` of them rejected, in
/// `state`: what the core rigs feed the station core.
pub fn plc_sample(
    heartbeat: u16,
    processed: u32,
    defective: u32,
    state: takt::domain::PackMlState,
    stop_reason: u16,
) -> takt::domain::PlcSample {
    takt::domain::PlcSample {
        map_version: 1,
        heartbeat,
        epoch: 42,
        state,
        unit_mode: 1,
        stop_reason,
        warning: 0,
        interlock_bits: 0,
        stacklight_bits: 0,
        speed_x100: 0,
        processed,
        defective,
        consumed: processed,
        cycles: processed,
        last_cycle_ms: 4500,
        recipe: 0,
    }
}

/// A copy of `db` beside it where `update` changed one event, after the append-only `trigger`
/// was dropped, as someone with the sqlite shell would.
pub fn tampered_copy(db: &std::path::Path, trigger: &str, update: &str) -> std::path::PathBuf {
    let copy = db.with_extension("tampered.db");
    std::fs::copy(db, &copy).expect("copy");
    let conn = rusqlite::Connection::open(&copy).expect("open copy");
    conn.execute_batch(&format!("DROP TRIGGER {trigger}"))
        .expect("drop trigger");
    assert_eq!(conn.execute(update, []).expect("tamper"), 1, "one event");
    copy
}
