//! `GET /metrics`: central's state in the Prometheus text exposition format (version 0.0.4).
//!
//! What persists comes from the database at every scrape (events stored, each station's chain head
//! and the time its last event was stored), so it survives a restart; what does not (batches by
//! outcome, the last authenticated request of a station) is counted in memory since central started.
//!
//! A station's backlog (events it logged but central has not yet stored) is known as of its last
//! batch, which says how far its log reached: `takt_central_station_backlog_events`. A station that
//! has stopped sending shows as a growing `takt_central_station_last_seen_age_seconds` instead; its
//! live backlog is on its own status bar.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What central's database knows of one station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationStats {
    pub station: String,
    /// The seq of the station's chain head at central: everything up to it is acknowledged.
    pub acked_seq: u64,
    /// Events stored from the station. Its chain is contiguous from seq 1, so this equals
    /// `acked_seq`; it is exported as a counter so that `rate()` gives the ingest rate.
    pub events: u64,
    /// When central stored the station's latest event.
    pub last_event_at: Option<DateTime<Utc>>,
    /// The newest seq in the station's own log when it sent its last batch.
    pub reported_head: Option<u64>,
    /// Events stored that had waited past the station's historical threshold.
    pub historical: u64,
    /// Events stored but set aside (quarantine).
    pub quarantined: u64,
}

/// How an authenticated station's batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BatchOutcome {
    /// Committed and acknowledged (re-sent events included).
    Acked,
    /// 409 with `expected_seq`: the batch did not continue the stored chain.
    Gap,
    /// 409: a re-sent seq whose hash differs from the stored event.
    Tamper,
    /// 400, 413 or 422: an unreadable, oversized or invalid batch (a broken chain, a foreign event).
    Invalid,
    /// 5xx: central could not store it.
    Error,
}

impl BatchOutcome {
    pub const ALL: [BatchOutcome; 5] = [
        BatchOutcome::Acked,
        BatchOutcome::Gap,
        BatchOutcome::Tamper,
        BatchOutcome::Invalid,
        BatchOutcome::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            BatchOutcome::Acked => "acked",
            BatchOutcome::Gap => "gap",
            BatchOutcome::Tamper => "tamper",
            BatchOutcome::Invalid => "invalid",
            BatchOutcome::Error => "error",
        }
    }
}

/// The in-memory counters, shared by the request handlers. Only authenticated stations are
/// counted, so a caller cannot grow the label set with made-up station names.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    batches: BTreeMap<(String, BatchOutcome), u64>,
    last_seen: BTreeMap<String, DateTime<Utc>>,
}

impl Metrics {
    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        // Counters are plain numbers: a panic elsewhere cannot leave them half-updated.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request authenticated as `station` at `at`.
    pub fn seen(&self, station: &str, at: DateTime<Utc>) {
        // To the millisecond, like every time central stores: a request and the events it stored
        // in the same millisecond are one moment, not two.
        let at = chrono::SubsecRound::trunc_subsecs(at, 3);
        let mut counters = self.counters();
        let last = counters.last_seen.entry(station.to_owned()).or_insert(at);
        *last = (*last).max(at);
    }

    /// The last authenticated request of `station` since central started, if any.
    pub fn last_seen(&self, station: &str) -> Option<DateTime<Utc>> {
        self.counters().last_seen.get(station).copied()
    }

    pub fn count_batch(&self, station: &str, outcome: BatchOutcome) {
        *self
            .counters()
            .batches
            .entry((station.to_owned(), outcome))
            .or_insert(0) += 1;
    }

    /// The exposition of `stations` (from the database) and the counters, as of `now`.
    pub fn render(&self, stations: &[StationStats], now: DateTime<Utc>) -> String {
        let counters = self.counters();
        let mut names: Vec<&str> = stations.iter().map(|s| s.station.as_str()).collect();
        names.extend(counters.batches.keys().map(|(station, _)| station.as_str()));
        names.extend(counters.last_seen.keys().map(String::as_str));
        names.sort_unstable();
        names.dedup();
        let db: BTreeMap<&str, &StationStats> =
            stations.iter().map(|s| (s.station.as_str(), s)).collect();
        let last_seen = |station: &str| -> Option<DateTime<Utc>> {
            let from_db = db.get(station).and_then(|s| s.last_event_at);
            let from_memory = counters.last_seen.get(station).copied();
            from_db.max(from_memory)
        };

        let mut out = String::new();
        family(
            &mut out,
            "takt_central_events_ingested_total",
            "counter",
            "Events stored from the station (persistent; rate() of it is the ingest rate).",
        );
        for station in &names {
            let events = db.get(station).map_or(0, |s| s.events);
            sample(
                &mut out,
                "takt_central_events_ingested_total",
                &[("station", station)],
                &events.to_string(),
            );
        }
        family(
            &mut out,
            "takt_central_batches_total",
            "counter",
            "Event batches from authenticated stations since central started, by outcome \
             (acked, gap, tamper, invalid, error).",
        );
        for station in &names {
            for outcome in BatchOutcome::ALL {
                let count = counters
                    .batches
                    .get(&((*station).to_owned(), outcome))
                    .copied()
                    .unwrap_or(0);
                sample(
                    &mut out,
                    "takt_central_batches_total",
                    &[("station", station), ("outcome", outcome.label())],
                    &count.to_string(),
                );
            }
        }
        family(
            &mut out,
            "takt_central_station_acked_seq",
            "gauge",
            "Seq of the station's chain head at central: its events up to here are acknowledged. \
             The station's own backlog beyond it is not visible to central.",
        );
        for station in &names {
            let seq = db.get(station).map_or(0, |s| s.acked_seq);
            sample(
                &mut out,
                "takt_central_station_acked_seq",
                &[("station", station)],
                &seq.to_string(),
            );
        }
        family(
            &mut out,
            "takt_central_station_backlog_events",
            "gauge",
            "Events the station had logged but central had not yet stored, as of its last batch \
             (its newest seq then minus the chain head here). Absent before its first batch.",
        );
        for station in &names {
            if let Some(stats) = db.get(station)
                && let Some(head) = stats.reported_head
            {
                sample(
                    &mut out,
                    "takt_central_station_backlog_events",
                    &[("station", station)],
                    &head.saturating_sub(stats.acked_seq).to_string(),
                );
            }
        }
        for (name, help, value) in [
            (
                "takt_central_historical_events_total",
                "Events stored that had waited at the station past its historical threshold.",
                (|s: &StationStats| s.historical) as fn(&StationStats) -> u64,
            ),
            (
                "takt_central_quarantined_events_total",
                "Events stored but set aside, not applied (takt central quarantine says why).",
                |s: &StationStats| s.quarantined,
            ),
        ] {
            family(&mut out, name, "counter", help);
            for station in &names {
                let count = db.get(station).map_or(0, |s| value(s));
                sample(&mut out, name, &[("station", station)], &count.to_string());
            }
        }
        family(
            &mut out,
            "takt_central_station_last_seen_timestamp_seconds",
            "gauge",
            "Unix time central last heard from the station: its last authenticated request since \
             start, or when its latest event was stored. Absent for a station never heard from.",
        );
        for station in &names {
            if let Some(at) = last_seen(station) {
                sample(
                    &mut out,
                    "takt_central_station_last_seen_timestamp_seconds",
                    &[("station", station)],
                    &seconds(at.timestamp_millis()),
                );
            }
        }
        family(
            &mut out,
            "takt_central_station_last_seen_age_seconds",
            "gauge",
            "Seconds since central last heard from the station, as of the scrape.",
        );
        for station in &names {
            if let Some(at) = last_seen(station) {
                let age = (now - at).num_milliseconds().max(0);
                sample(
                    &mut out,
                    "takt_central_station_last_seen_age_seconds",
                    &[("station", station)],
                    &seconds(age),
                );
            }
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    // HELP text escapes only backslash and newline.
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: &str) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (label, text)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape_label(text));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A label value in the text format: backslash, double quote and line feed escaped.
pub fn escape_label(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Milliseconds as decimal seconds, e.g. `1764057600.250`.
fn seconds(millis: i64) -> String {
    let sign = if millis < 0 { "-" } else { "" };
    let millis = millis.unsigned_abs();
    format!("{sign}{}.{:03}", millis / 1000, millis % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
        assert_eq!(escape_label("x\ny"), "x\\ny");
        let metrics = Metrics::default();
        metrics.count_batch("odd\"name", BatchOutcome::Gap);
        let text = metrics.render(&[], Utc::now());
        assert!(
            text.contains(r#"takt_central_batches_total{station="odd\"name",outcome="gap"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn every_station_gets_every_counter_and_last_seen_takes_the_latest() {
        let stored = Utc
            .with_ymd_and_hms(2026, 11, 25, 6, 0, 0)
            .single()
            .expect("time");
        let later = stored + chrono::Duration::milliseconds(1500);
        let metrics = Metrics::default();
        metrics.seen("S1", later);
        metrics.count_batch("S1", BatchOutcome::Acked);
        let stations = [
            StationStats {
                station: "S1".into(),
                acked_seq: 7,
                events: 7,
                last_event_at: Some(stored),
                reported_head: Some(12),
                historical: 3,
                quarantined: 1,
            },
            StationStats {
                station: "S2".into(),
                acked_seq: 0,
                events: 0,
                last_event_at: None,
                reported_head: None,
                historical: 0,
                quarantined: 0,
            },
        ];
        let text = metrics.render(&stations, later + chrono::Duration::seconds(10));
        for line in [
            r#"takt_central_events_ingested_total{station="S1"} 7"#,
            r#"takt_central_events_ingested_total{station="S2"} 0"#,
            r#"takt_central_batches_total{station="S1",outcome="acked"} 1"#,
            r#"takt_central_batches_total{station="S2",outcome="error"} 0"#,
            r#"takt_central_station_acked_seq{station="S1"} 7"#,
            r#"takt_central_station_last_seen_timestamp_seconds{station="S1"} 1795586401.500"#,
            r#"takt_central_station_last_seen_age_seconds{station="S1"} 10.000"#,
            r#"takt_central_station_backlog_events{station="S1"} 5"#,
            r#"takt_central_historical_events_total{station="S1"} 3"#,
            r#"takt_central_historical_events_total{station="S2"} 0"#,
            r#"takt_central_quarantined_events_total{station="S1"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(!text.contains(r#"last_seen_timestamp_seconds{station="S2"}"#));
        assert!(
            !text.contains(r#"backlog_events{station="S2"}"#),
            "no backlog before a first batch"
        );
    }
}
