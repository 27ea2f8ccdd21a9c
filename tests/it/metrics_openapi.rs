//! `/metrics` and `/api/v1/openapi.json` on a real central on a loopback port.

use chrono::Utc;
use reqwest::StatusCode;
use std::collections::{BTreeMap, BTreeSet};
use takt::central;
use takt::domain::{Actor, Event, EventKind, NewEvent, StationId, WorkOrderId};
use takt::protocol::EventBatch;
use takt::store::Store;
use tempfile::TempDir;

/// `count` UnitsProduced events appended to a fresh station store.
fn station_events(dir: &TempDir, station: &str, count: usize) -> Vec<Event> {
    let id = StationId::from(station);
    let mut store = Store::open(&dir.path().join(format!("{station}.db")), &id).expect("store");
    let mut state = store.load_state().expect("state");
    let events = (0..count)
        .map(|_| NewEvent {
            at: Utc::now(),
            actor: Actor::Plc,
            kind: EventKind::UnitsProduced {
                work_order: Some(WorkOrderId::from("WO-24001")),
                produced: 1,
                rejected: 0,
                plc_epoch: 1,
                processed_total: 0,
                defective_total: 0,
            },
        })
        .collect();
    store.append(&mut state, events).expect("append")
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    station: &str,
    token: &str,
    events: &[Event],
) -> StatusCode {
    client
        .post(format!("{url}/api/v1/stations/{station}/events"))
        .bearer_auth(token)
        .json(&EventBatch::of(events.to_vec()))
        .send()
        .await
        .expect("batch sent")
        .status()
}

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A strict reader of the Prometheus text format (0.0.4) as far as central uses it: `# HELP` and
/// `# TYPE` lines, and samples `name{label="value",...} value`. Panics on anything else, and on a
/// sample whose metric has no HELP or TYPE before it.
fn parse_exposition(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    fn is_name(name: &str) -> bool {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut helps = BTreeSet::new();
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    assert!(text.ends_with('\n'), "the exposition ends with a line feed");
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(is_name(name) && !help.is_empty(), "bad HELP line {line:?}");
            assert!(helps.insert(name.to_owned()), "second HELP for {name}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(is_name(name), "bad TYPE line {line:?}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad type in {line:?}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "second TYPE for {name}"
            );
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line:?}");
        let name_end = line.find(['{', ' ']).expect("a sample has a value");
        let name = &line[..name_end];
        assert!(is_name(name), "bad metric name in {line:?}");
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            loop {
                if let Some((_, '}')) = chars.peek() {
                    break;
                }
                let mut label = String::new();
                for (_, c) in chars.by_ref() {
                    if c == '=' {
                        break;
                    }
                    label.push(c);
                }
                assert!(is_name(&label), "bad label name in {line:?}");
                assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line:?}");
                let mut value = String::new();
                loop {
                    match chars.next().expect("closed label value").1 {
                        '"' => break,
                        '\\' => match chars.next().expect("escaped char").1 {
                            '\\' => value.push('\\'),
                            '"' => value.push('"'),
                            'n' => value.push('\n'),
                            other => panic!("bad escape \\{other} in {line:?}"),
                        },
                        c => value.push(c),
                    }
                }
                assert!(
                    labels.insert(label, value).is_none(),
                    "label twice: {line:?}"
                );
                match chars.next().expect("label set closes").1 {
                    ',' => continue,
                    '}' => break,
                    other => panic!("unexpected {other:?} in {line:?}"),
                }
            }
            let close = chars.next().map_or(inner.len(), |(at, _)| at);
            rest = &inner[close..];
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
            }
        }
        let value = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("a space before the value in {line:?}"));
        let value: f64 = value
            .split(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad value in {line:?}"));
        assert!(
            helps.contains(name) && types.contains_key(name),
            "{name} has no HELP or TYPE before its samples"
        );
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    (samples, types)
}

fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_what_a_station_sent_in_prometheus_text() {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("central.db");
    central::seed_demo(&db, Utc::now().date_naive()).expect("seed demo");
    let token = central::add_station(&db, "L1-S1").expect("token");
    let central = central::spawn(([127, 0, 0, 1], 0).into(), db.clone())
        .await
        .expect("central starts");
    let url = central.url();
    let client = reqwest::Client::new();
    let events = station_events(&dir, "L1-S1", 5);

    let before = Utc::now().timestamp_millis() as f64 / 1000.0;
    assert_eq!(
        post(&client, &url, "L1-S1", &token, &events[..3]).await,
        StatusCode::OK
    );
    assert_eq!(
        post(&client, &url, "L1-S1", &token, &events[4..]).await,
        StatusCode::CONFLICT,
        "a gap"
    );
    // A refused token is not counted: its station name is only the caller's word.
    assert_eq!(
        post(&client, &url, "made-up", "not-a-token", &events[..1]).await,
        StatusCode::UNAUTHORIZED
    );
    let after = Utc::now().timestamp_millis() as f64 / 1000.0;

    let response = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .expect("a content type")
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.expect("metrics text");
    let (samples, types) = parse_exposition(&text);

    for (name, kind) in [
        ("takt_central_events_ingested_total", "counter"),
        ("takt_central_batches_total", "counter"),
        ("takt_central_station_acked_seq", "gauge"),
        ("takt_central_station_last_seen_timestamp_seconds", "gauge"),
        ("takt_central_station_last_seen_age_seconds", "gauge"),
    ] {
        assert_eq!(
            types.get(name).map(String::as_str),
            Some(kind),
            "{name}\n{text}"
        );
    }
    let s1 = [("station", "L1-S1")];
    assert_eq!(
        value_of(&samples, "takt_central_events_ingested_total", &s1),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        value_of(&samples, "takt_central_station_acked_seq", &s1),
        Some(3.0)
    );
    for (outcome, count) in [
        ("acked", 1.0),
        ("gap", 1.0),
        ("tamper", 0.0),
        ("error", 0.0),
    ] {
        assert_eq!(
            value_of(
                &samples,
                "takt_central_batches_total",
                &[("station", "L1-S1"), ("outcome", outcome)]
            ),
            Some(count),
            "{outcome}\n{text}"
        );
    }
    let last_seen = value_of(
        &samples,
        "takt_central_station_last_seen_timestamp_seconds",
        &s1,
    )
    .expect("last seen of L1-S1");
    assert!(
        (before - 0.001..=after + 0.001).contains(&last_seen),
        "last seen {last_seen} not within {before}..{after}"
    );
    let age = value_of(&samples, "takt_central_station_last_seen_age_seconds", &s1)
        .expect("age of L1-S1");
    assert!((0.0..60.0).contains(&age), "age {age}");
    // The demo line's other stations are known but silent: zero counts, never seen.
    let s2 = [("station", "L1-S2")];
    assert_eq!(
        value_of(&samples, "takt_central_events_ingested_total", &s2),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value_of(
            &samples,
            "takt_central_station_last_seen_timestamp_seconds",
            &s2
        ),
        None
    );
    assert!(
        !samples
            .iter()
            .any(|s| s.labels.get("station").map(String::as_str) == Some("made-up")),
        "{text}"
    );

    // The persistent figures survive a restart; the in-memory counters start again.
    central.shutdown().await;
    let central = central::spawn(([127, 0, 0, 1], 0).into(), db.clone())
        .await
        .expect("central restarts");
    let text = client
        .get(format!("{}/metrics", central.url()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    let (samples, _) = parse_exposition(&text);
    assert_eq!(
        value_of(&samples, "takt_central_events_ingested_total", &s1),
        Some(3.0)
    );
    assert!(
        value_of(
            &samples,
            "takt_central_station_last_seen_timestamp_seconds",
            &s1
        )
        .is_some_and(|at| (before - 0.001..=after + 0.001).contains(&at)),
        "{text}"
    );
    assert_eq!(
        value_of(
            &samples,
            "takt_central_batches_total",
            &[("station", "L1-S1"), ("outcome", "acked")]
        ),
        Some(0.0)
    );
    central.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_openapi_document_matches_the_routes() {
    let dir = TempDir::new().expect("temp dir");
    let db = dir.path().join("central.db");
    let central = central::spawn(([127, 0, 0, 1], 0).into(), db)
        .await
        .expect("central starts");
    let url = central.url();
    let client = reqwest::Client::new();

    let response = client
        .get(format!("{url}/api/v1/openapi.json"))
        .send()
        .await
        .expect("openapi");
    assert_eq!(response.status(), StatusCode::OK);
    let document: serde_json::Value = response.json().await.expect("the document is JSON");
    let version = document["openapi"].as_str().expect("an openapi field");
    assert!(version.starts_with("3."), "OpenAPI 3.x, not {version}");
    let mut routes: Vec<(String, String)> = central::ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    routes.sort();
    assert_eq!(central::openapi::operations(&document), routes);

    // Every documented operation is routed by the live server: neither 405 nor axum's bare 404.
    for (method, path) in &routes {
        let concrete: String = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "X-1"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let response = client
            .request(method.clone(), format!("{url}{concrete}"))
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        let body = response.bytes().await.expect("body");
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !(status == StatusCode::NOT_FOUND && body.is_empty()),
            "{method} {path} is not routed"
        );
    }
    // And the server does not answer for what is not documented.
    let response = client
        .get(format!("{url}/api/v1/not-a-route"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    central.shutdown().await;
}
