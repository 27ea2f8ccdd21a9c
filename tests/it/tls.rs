//! Central over HTTPS (rustls) with a plant CA made here by rcgen: a station that trusts the CA
//! (`[central] ca_file`) syncs; one that does not says why central is offline; plain HTTP to the
//! TLS port and half-open connections fail without taking central down; bad certificate and key
//! files are refused naming the file.

use crate::support::{STATION, station_id, wait_view};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use takt::central::{self, CentralHandle, TlsSettings};
use takt::clock::SystemClock;
use takt::config::StationConfig;
use takt::protocol::TraceDirection;
use takt::station::view::CentralView;
use takt::station::{CoreInput, Station, StationSetup};
use takt::sync::SyncConfig;
use takt::tls_trust::TrustedCa;
use takt::trace::{TraceError, TraceRequest};
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

/// The plant's PKI, as PEM files in a folder: `plant-ca.pem`, `central.pem` (for `localhost` and
/// `127.0.0.1`, signed by the CA), `central-key.pem`, and `other-ca.pem` (a CA nobody used).
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    other_ca: PathBuf,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("CA key");
    let pem = params.self_signed(&key).expect("self-signed CA").pem();
    (params, key, pem)
}

fn pki(dir: &Path) -> Pki {
    let (ca_params, ca_key, ca_pem) = ca("Takt test plant CA");
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .expect("server params");
    params
        .distinguished_name
        .push(DnType::CommonName, "takt central");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &issuer).expect("signed server cert");
    let (_, _, other_pem) = ca("Somebody else's CA");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write PEM");
        path
    };
    Pki {
        ca: write("plant-ca.pem", &ca_pem),
        cert: write("central.pem", &cert.pem()),
        key: write("central-key.pem", &key.serialize_pem()),
        other_ca: write("other-ca.pem", &other_pem),
    }
}

/// Central with the demo plant over HTTPS on an ephemeral loopback port, and L1-S1's token.
async fn tls_central(dir: &TempDir, pki: &Pki) -> (CentralHandle, PathBuf, String) {
    let db = dir.path().join("central.db");
    central::seed_demo(&db, chrono::Utc::now().date_naive()).expect("seed demo");
    let token = central::add_station(&db, STATION).expect("token");
    let tls = TlsSettings::load(&pki.cert, &pki.key).expect("certificate and key load");
    let central = central::spawn_tls(([127, 0, 0, 1], 0).into(), db.clone(), tls)
        .await
        .expect("central starts");
    assert!(central.url().starts_with("https://127.0.0.1:"));
    (central, db, token)
}

fn stored_events(db: &Path) -> u64 {
    match central::verify_station_chain(db, STATION).expect("verify") {
        takt::store::VerifyReport::Intact { events, .. } => events,
        takt::store::VerifyReport::Broken { seq, reason } => {
            panic!("chain broken at {seq}: {reason}")
        }
    }
}

async fn health(client: &reqwest::Client, url: &str) -> reqwest::StatusCode {
    client
        .get(format!("{url}/api/v1/health"))
        .send()
        .await
        .expect("health over HTTPS")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_that_trusts_the_plant_ca_syncs_with_central_over_https() {
    let dir = TempDir::new().expect("temp dir");
    let pki = pki(dir.path());
    let (central, central_db, token) = tls_central(&dir, &pki).await;

    // The station's own folder, its config naming the CA relative to itself.
    let station_dir = dir.path().join("station");
    std::fs::create_dir_all(&station_dir).expect("station dir");
    std::fs::copy(&pki.ca, station_dir.join("plant-ca.pem")).expect("copy CA");
    let config_path = station_dir.join("station.toml");
    std::fs::write(
        &config_path,
        format!(
            "station = \"{STATION}\"\n[central]\nurl = \"{}\"\ntoken = \"{token}\"\n\
             ca_file = \"plant-ca.pem\"\npull_interval_ms = 200\n",
            central.url()
        ),
    )
    .expect("write station.toml");
    let config = StationConfig::load(&config_path).expect("config loads");
    assert_eq!(
        config.central.ca_file.as_deref(),
        Some(station_dir.join("plant-ca.pem").as_path()),
        "ca_file is relative to the config file"
    );
    let mut setup = takt::launch::setup_from_config(&config).expect("setup");
    setup.plc = None;
    let mut station = Station::start(setup).await.expect("station starts");

    // Master data comes down over HTTPS, a login goes up and is acknowledged.
    wait_view(
        &mut station.view,
        "demo work orders pulled over HTTPS",
        |v| v.central == CentralView::Online && v.queue.iter().any(|q| q.id == "WO-24001"),
    )
    .await;
    station
        .send(CoreInput::Scan("EMP-1001".into()))
        .await
        .expect("core running");
    station
        .send(CoreInput::Scan("1001".into()))
        .await
        .expect("core running");
    let view = wait_view(&mut station.view, "the login acknowledged", |v| {
        v.operator.is_some() && v.backlog == 0 && v.central == CentralView::Online
    })
    .await;
    assert!(view.operator.is_some());
    assert!(stored_events(&central_db) >= 1, "central stored the events");

    // The station's Trace screen asks central with the same trust.
    let answer = station
        .tracer
        .trace("C24-1107", TraceDirection::Forward)
        .await;
    assert_eq!(
        answer.source,
        takt::station::trace::TraceSource::Central,
        "{answer:?}"
    );

    station.shutdown().await;
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_station_that_does_not_trust_the_ca_shows_central_offline_and_why() {
    let dir = TempDir::new().expect("temp dir");
    let pki = pki(dir.path());
    let (central, central_db, token) = tls_central(&dir, &pki).await;

    for trusted_ca in [
        None,
        Some(TrustedCa::load(&pki.other_ca).expect("other CA")),
    ] {
        let db = dir
            .path()
            .join(format!("station-{}.db", trusted_ca.is_some()));
        let mut station = Station::start(StationSetup {
            station: station_id(),
            db_path: db.clone(),
            plc: None,
            sync: Some(SyncConfig {
                pull_interval: Duration::from_millis(200),
                backoff_min: Duration::from_millis(50),
                backoff_max: Duration::from_millis(300),
                trusted_ca: trusted_ca.clone(),
                ..SyncConfig::new(central.url(), token.clone(), station_id(), db)
            }),
            clock: Arc::new(SystemClock),
            options: Default::default(),
        })
        .await
        .expect("station starts");
        let view = wait_view(&mut station.view, "central offline, said why", |v| {
            matches!(&v.central, CentralView::Offline { .. })
        })
        .await;
        let CentralView::Offline { error } = &view.central else {
            unreachable!("waited for offline");
        };
        assert!(
            error.starts_with("central's certificate is not signed by a CA this side trusts"),
            "operator words first: {error}"
        );
        assert!(error.contains("ca_file"), "says what to do: {error}");
        assert!(error.contains("UnknownIssuer"), "keeps the detail: {error}");
        station.shutdown().await;
    }
    assert_eq!(
        stored_events(&central_db),
        0,
        "nothing went over an untrusted link"
    );

    // `takt trace` says the same in its own words; with the CA it reaches central.
    let request = |trusted_ca| TraceRequest {
        central: central.url(),
        lot: "NO-SUCH-LOT".into(),
        direction: TraceDirection::Backward,
        depth: None,
        timeout: Duration::from_secs(5),
        trusted_ca,
    };
    match takt::trace::fetch(&request(None)).await {
        Err(TraceError::Unreachable { reason, .. }) => {
            assert!(reason.contains("not signed by a CA"), "{reason}")
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    let trusted = TrustedCa::load(&pki.ca).expect("plant CA");
    match takt::trace::fetch(&request(Some(trusted))).await {
        Err(TraceError::UnknownLot { .. }) => {}
        other => panic!("expected central's 404 over HTTPS, got {other:?}"),
    }
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_broken_handshakes_do_not_take_central_down() {
    let dir = TempDir::new().expect("temp dir");
    let pki = pki(dir.path());
    let (central, _db, _token) = tls_central(&dir, &pki).await;
    let https = takt::tls_trust::client_builder(
        Some(&TrustedCa::load(&pki.ca).expect("plant CA")),
        Duration::from_secs(5),
    )
    .build()
    .expect("client");
    assert_eq!(
        health(&https, &central.url()).await,
        reqwest::StatusCode::OK
    );

    // Plain HTTP to the TLS port: refused by the handshake, never answered as HTTP.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let plain_url = format!("http://{}/api/v1/health", central.addr());
    let answer = plain.get(&plain_url).send().await;
    assert!(answer.is_err(), "plain HTTP got an answer: {answer:?}");
    // `takt trace` with an http:// url says what is wrong.
    let request = TraceRequest {
        central: format!("http://{}", central.addr()),
        lot: "C24-1107".into(),
        direction: TraceDirection::Backward,
        depth: None,
        timeout: Duration::from_secs(5),
        trusted_ca: None,
    };
    match takt::trace::fetch(&request).await {
        Err(TraceError::Unreachable { reason, .. }) => {
            assert!(reason.contains("the url must say https://"), "{reason}")
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    // Garbage, and a connection that says nothing and hangs up.
    let mut garbage = tokio::net::TcpStream::connect(central.addr())
        .await
        .expect("connect");
    garbage
        .write_all(b"\x16\x03\x01\x00\x05hello")
        .await
        .expect("write");
    drop(garbage);
    drop(
        tokio::net::TcpStream::connect(central.addr())
            .await
            .expect("connect"),
    );
    // A handshake in progress does not hold up anybody else's.
    let _silent = tokio::net::TcpStream::connect(central.addr())
        .await
        .expect("connect");

    for _ in 0..3 {
        assert_eq!(
            health(&https, &central.url()).await,
            reqwest::StatusCode::OK
        );
    }
    central.shutdown().await;
}

#[test]
fn bad_certificate_and_key_files_are_refused_naming_the_file() {
    let dir = TempDir::new().expect("temp dir");
    let pki = pki(dir.path());
    let missing = dir.path().join("missing.pem");
    let message = |cert: &Path, key: &Path| match TlsSettings::load(cert, key) {
        Ok(_) => panic!("{} / {} accepted", cert.display(), key.display()),
        Err(error) => format!("{error:#}"),
    };
    let text = message(&missing, &pki.key);
    assert!(
        text.contains("TLS certificate") && text.contains("missing.pem"),
        "{text}"
    );
    let text = message(&pki.cert, &missing);
    assert!(
        text.contains("TLS key") && text.contains("missing.pem"),
        "{text}"
    );
    // A key file holding a certificate, a certificate file holding a key.
    let text = message(&pki.cert, &pki.cert);
    assert!(
        text.contains("central.pem") && text.contains("no PEM private key"),
        "{text}"
    );
    let text = message(&pki.key, &pki.key);
    assert!(
        text.contains("central-key.pem") && text.contains("no PEM certificate"),
        "{text}"
    );
    // A key that is not the certificate's.
    let stranger = dir.path().join("stranger-key.pem");
    std::fs::write(&stranger, KeyPair::generate().expect("key").serialize_pem())
        .expect("write key");
    let text = message(&pki.cert, &stranger);
    assert!(
        text.contains("stranger-key.pem is not the key of the certificate")
            && text.contains("central.pem"),
        "{text}"
    );

    // A CA file that is not one.
    let error = TrustedCa::load(&pki.key).expect_err("a key is no CA");
    assert!(
        error.contains("central-key.pem") && error.contains("no PEM certificate"),
        "{error}"
    );
    let error = TrustedCa::load(&missing).expect_err("missing CA");
    assert!(error.contains("missing.pem"), "{error}");

    // The command line says it before binding, and ends.
    let out = Command::new(env!("CARGO_BIN_EXE_takt"))
        .args(["central", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("central.db"))
        .arg("--tls-cert")
        .arg(&pki.cert)
        .arg("--tls-key")
        .arg(&missing)
        .output()
        .expect("run takt central");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.pem"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("listening"), "{stdout}");
    let out = Command::new(env!("CARGO_BIN_EXE_takt"))
        .args(["central", "--tls-cert"])
        .arg(&pki.cert)
        .output()
        .expect("run takt central");
    assert!(!out.status.success(), "--tls-cert without --tls-key");
}

/// The failed-token limit knows the peer's address over TLS too (it comes through the TLS
/// listener, not axum's plain one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_over_https_are_limited_too() {
    let dir = TempDir::new().expect("temp dir");
    let pki = pki(dir.path());
    let (central, _db, token) = tls_central(&dir, &pki).await;
    let https = takt::tls_trust::client_builder(
        Some(&TrustedCa::load(&pki.ca).expect("plant CA")),
        Duration::from_secs(5),
    )
    .build()
    .expect("client");
    let pull = |token: String| {
        https
            .get(format!(
                "{}/api/v1/stations/{STATION}/changes?limit=1",
                central.url()
            ))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        pull(token.clone()).await.expect("sent").status(),
        reqwest::StatusCode::OK
    );
    for _ in 0..central::AUTH_MAX_FAILURES {
        let response = pull("wrong".into()).await.expect("sent");
        assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
    }
    let response = pull(token).await.expect("sent");
    assert_eq!(response.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert!(
        response
            .headers()
            .contains_key(reqwest::header::RETRY_AFTER)
    );
    central.shutdown().await;
}
