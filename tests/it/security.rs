//! Hardening: owner-only database files, tokens that never reach the log, and the limit on failed
//! token checks at central. Real SQLite files, a real central on loopback, the real sync worker.

use crate::support::{STATION, station_id, unit_of_wo_24001};
use chrono::Utc;
use reqwest::StatusCode;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use takt::central;
use takt::clock::ManualClock;
use takt::domain::Event;
use takt::protocol::{ApiError, EventBatch};
use takt::store::Store;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A station store at `path` with `count` units of WO-24001 in its log.
fn store_with_units(path: &Path, count: usize) -> (Store, Vec<Event>) {
    let mut store = Store::open(path, &station_id()).expect("station store");
    let mut state = store.load_state().expect("state");
    let events = (0..count).map(|_| unit_of_wo_24001(Utc::now())).collect();
    let sealed = store.append(&mut state, events).expect("append");
    (store, sealed)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
fn side_file(db: &Path, suffix: &str) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push(suffix);
    PathBuf::from(path)
}

#[cfg(unix)]
fn assert_owner_only(db: &Path) {
    for file in [db.to_owned(), side_file(db, "-wal"), side_file(db, "-shm")] {
        assert_eq!(
            mode(&file),
            0o600,
            "{} must be readable by its owner only",
            file.display()
        );
    }
}

/// A log subscriber on this thread only, writing into a buffer the test reads.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f)
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn station_and_central_databases_are_created_owner_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let station_db = dir.path().join("station.db");
    let (store, events) = store_with_units(&station_db, 3);
    assert_owner_only(&station_db);

    let central_db = dir.path().join("central.db");
    central::seed_demo(&central_db, Utc::now().date_naive()).expect("seed");
    let token = central::add_station(&central_db, STATION).expect("token");
    let central = central::spawn(loopback(), central_db.clone())
        .await
        .expect("central");
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/stations/{STATION}/events",
            central.url()
        ))
        .bearer_auth(&token)
        .json(&EventBatch::of(events))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);
    // While central runs, its WAL and shared-memory files exist beside the database.
    assert_owner_only(&central_db);
    central.shutdown().await;
    drop(store);
}

#[cfg(unix)]
#[test]
fn a_database_open_to_others_is_tightened_and_said_so() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("station.db");
    drop(store_with_units(&db, 1));
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let log = Captured::default();
    let (store, _) = log.run(|| store_with_units(&db, 1));
    assert_owner_only(&db);
    let text = log.text();
    assert!(
        text.contains("WARN") && text.contains("tightened to owner-only") && text.contains("0644"),
        "a warning names the file and its old mode: {text}"
    );
    drop(store);

    // Opened read-only (`takt audit verify`), nothing is changed.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    drop(takt::store::connect(&db, true).expect("read-only"));
    assert_eq!(mode(&db), 0o640);

    // Central's admin commands open its file read-write: tightened the same way.
    let central_db = dir.path().join("central.db");
    central::seed_demo(&central_db, Utc::now().date_naive()).expect("seed");
    std::fs::set_permissions(&central_db, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    central::list_stations(&central_db).expect("list");
    assert_eq!(mode(&central_db), 0o600);
}

/// A client whose connections come from `ip` (any 127.x.y.z reaches a loopback listener on Linux).
fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from(ip))
        .build()
        .expect("client")
}

async fn pull(client: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    client
        .get(format!(
            "{url}/api/v1/stations/{STATION}/changes?since=0&limit=1"
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("sent")
}

/// Holds lot C24-1107 with `token` (an admin's, or not).
async fn hold_lot(client: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    client
        .post(format!("{url}/api/v1/lots/C24-1107/hold"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "reason": "porosity" }))
        .send()
        .await
        .expect("sent")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_bad_tokens_from_one_address_are_refused_until_the_window_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("central.db");
    central::seed_demo(&db, Utc::now().date_naive()).expect("seed");
    let token = central::add_station(&db, STATION).expect("token");
    let admin = central::add_admin_token(&db, "quality").expect("admin token");
    let clock = ManualClock::new(Utc::now());
    let central = central::spawn_with_clock(
        loopback(),
        db.clone(),
        takt::domain::shift::ShiftCalendar::default(),
        Arc::new(clock.clone()),
    )
    .await
    .expect("central");
    let url = central.url();
    let guesser = client_from([127, 0, 0, 1]);
    let station = client_from([127, 0, 0, 2]);
    let limit = central::AUTH_MAX_FAILURES;

    // Failures of any kind count: unknown station tokens, a station token at an admin route.
    for attempt in 0..limit {
        let response = if attempt % 3 == 2 {
            hold_lot(&guesser, &url, &token).await
        } else {
            pull(&guesser, &url, &format!("{attempt:064x}")).await
        };
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    // The next one is refused before its token is looked at, even a good one from that address.
    for token in ["not-even-close", token.as_str()] {
        let response = pull(&guesser, &url, token).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry_after: u64 = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok())
            .expect("a Retry-After in whole seconds");
        assert!(
            (1..=central::AUTH_WINDOW.as_secs()).contains(&retry_after),
            "{retry_after}"
        );
        let error: ApiError = response.json().await.expect("a JSON error");
        assert!(
            error.error.contains("too many") && error.error.contains("127.0.0.1"),
            "{}",
            error.error
        );
    }
    // Routes without a token are not limited.
    let response = guesser
        .get(format!("{url}/api/v1/health"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::OK);

    // Another address is not slowed: a station's pulls and an admin's hold go through.
    let started = tokio::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(pull(&station, &url, &token).await.status(), StatusCode::OK);
    }
    assert_eq!(
        hold_lot(&station, &url, &admin).await.status(),
        StatusCode::OK
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Within the window the block holds; once it has passed, the address is heard again.
    clock.advance(chrono::Duration::seconds(30));
    assert_eq!(
        pull(&guesser, &url, &token).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    clock.advance(chrono::Duration::seconds(31));
    assert_eq!(pull(&guesser, &url, &token).await.status(), StatusCode::OK);
    assert_eq!(
        pull(&guesser, &url, "still-wrong").await.status(),
        StatusCode::UNAUTHORIZED
    );
    central.shutdown().await;
}

/// Runs [`tokens_never_reach_the_log_file_child`] in a process of its own: the station's file
/// logging must be the process's, as in the binary, at trace level.
#[test]
fn tokens_never_reach_the_log_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let central_db = dir.path().join("central.db");
    central::seed_demo(&central_db, Utc::now().date_naive()).expect("seed");
    let station_token = central::add_station(&central_db, STATION).expect("token");
    let other_token = central::add_station(&central_db, "L1-S2").expect("token");
    let admin_token = central::add_admin_token(&central_db, "quality").expect("admin token");
    let wrong_token = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed";
    let wrong_admin = "0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de0badc0de";
    takt::owner_only::write(&dir.path().join("station.token"), &station_token).expect("token file");
    std::fs::write(
        dir.path().join("station.toml"),
        format!(
            "station = \"{STATION}\"\ndata_dir = \"station\"\n\n[plc]\naddress = \"127.0.0.1:1\"\n\n\
             [central]\nurl = \"http://127.0.0.1:1\"\ntoken_file = \"station.token\"\n\
             pull_interval_ms = 200\n"
        ),
    )
    .expect("config");
    std::fs::write(
        dir.path().join("tokens.json"),
        serde_json::json!({
            "other": other_token,
            "admin": admin_token,
            "wrong": wrong_token,
            "wrong_admin": wrong_admin,
        })
        .to_string(),
    )
    .expect("tokens");

    let child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "security::tokens_never_reach_the_log_file_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .env("TAKT_LOG", "trace")
        .output()
        .expect("run the child test");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    assert!(child.status.success(), "the child test failed:\n{output}");
    assert!(output.contains("1 passed"), "the child test ran:\n{output}");

    let logs = dir.path().join("station").join("logs");
    let mut log = String::new();
    for entry in std::fs::read_dir(&logs).expect("log folder") {
        let path = entry.expect("entry").path();
        log.push_str(&std::fs::read_to_string(&path).expect("log file"));
    }
    // The log is there and at trace level, with every path the tokens took.
    for expected in [
        "TRACE",
        "DEBUG",
        "ingested a batch",
        "sync: central is online",
        "sync: request refused",
        "too many failed token checks",
    ] {
        assert!(log.contains(expected), "the log has {expected:?}:\n{log}");
    }
    for (name, token) in [
        ("station", station_token.as_str()),
        ("other station", other_token.as_str()),
        ("admin", admin_token.as_str()),
        ("wrong", wrong_token),
        ("wrong admin", wrong_admin),
    ] {
        assert!(!log.contains(token), "the {name} token is in the log");
        // Nor a tell-tale part of it.
        assert!(
            !log.contains(&token[..16]),
            "a part of the {name} token is in the log"
        );
    }
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir.path().join("station")), 0o700, "the data folder");
        assert_eq!(mode(&logs), 0o700, "the log folder");
    }
}

const CHILD_DIR: &str = "TAKT_TEST_SECRETS_DIR";

/// The child of [`tokens_never_reach_the_log_file`]: a real central and a real station from its
/// config file (its token in a token file) in one process, as `takt demo` runs them, logging to the
/// station's log file; a good token, a wrong one, another station's, an admin's and a wrong admin's.
#[test]
#[ignore = "run by tokens_never_reach_the_log_file, in a process of its own"]
fn tokens_never_reach_the_log_file_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR).map(PathBuf::from) else {
        return;
    };
    let mut config =
        takt::config::StationConfig::load(&dir.join("station.toml")).expect("station config");
    let token = config.central_token().expect("token file");
    let tokens: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tokens.json")).expect("tokens"))
            .expect("tokens json");
    let token_of = |name: &str| tokens[name].as_str().expect("a token").to_owned();
    let log = takt::logging::to_file(&config.log_dir()).expect("logging");

    // The structs that carry a token print without it.
    for printed in [
        format!("{config:?}"),
        format!("{token:?}"),
        format!("{token}"),
    ] {
        assert!(!printed.contains(token.expose()), "{printed}");
    }
    let mut store = Store::open(&config.db_path(), &station_id()).expect("station store");
    let mut state = store.load_state().expect("state");
    store
        .append(&mut state, vec![unit_of_wo_24001(Utc::now()); 3])
        .expect("append");
    drop(store);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let central = central::spawn(loopback(), dir.join("central.db"))
            .await
            .expect("central");
        let url = central.url();
        config.central.url = url.clone();
        let mut setup = takt::launch::setup_from_config(&config).expect("setup");
        setup.plc = None;
        let sync = setup.sync.as_ref().expect("sync configured");
        assert!(!format!("{sync:?}").contains(token.expose()));
        let station = takt::station::Station::start(setup).await.expect("station");
        let mut view = station.view.clone();
        crate::support::wait_view(&mut view, "the log acknowledged by central", |v| {
            v.last_seq >= 3 && v.backlog == 0
        })
        .await;

        // Another station's worker with a wrong token, and one with a token of another station.
        for (token, what) in [
            (token_of("wrong"), "refused: unknown token"),
            (token_of("other"), "refused: another station's token"),
        ] {
            let (_appended, appended_rx) = tokio::sync::watch::channel(0);
            let (reports_tx, mut reports) = tokio::sync::mpsc::channel(16);
            let worker = takt::sync::spawn_worker(
                takt::sync::SyncConfig::new(
                    url.clone(),
                    token,
                    station_id(),
                    dir.join("station").join("station.db"),
                ),
                appended_rx,
                reports_tx,
            );
            tokio::time::timeout(Duration::from_secs(20), async {
                while let Some(report) = reports.recv().await {
                    if matches!(report, takt::sync::SyncReport::Rejected { .. }) {
                        return;
                    }
                }
                panic!("the worker stopped before it was {what}");
            })
            .await
            .unwrap_or_else(|_| panic!("not {what} in time"));
            drop(reports);
            let _ = worker.await;
        }

        // Admin calls with a good and a wrong admin token.
        let client = reqwest::Client::new();
        for (token, status) in [
            (token_of("admin"), StatusCode::OK),
            (token_of("wrong_admin"), StatusCode::UNAUTHORIZED),
        ] {
            assert_eq!(hold_lot(&client, &url, &token).await.status(), status);
        }
        // Enough wrong tokens to be refused: the warning names the address, never a token.
        for _ in 0..central::AUTH_MAX_FAILURES {
            let _ = client
                .get(format!("{url}/api/v1/stations/{STATION}/changes"))
                .bearer_auth(token_of("wrong"))
                .send()
                .await
                .expect("sent");
        }
        station.shutdown().await;
        central.shutdown().await;
    });
    // Flushes the log file.
    drop(log);
}
