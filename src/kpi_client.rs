//! `takt kpi oee`: ISO 22400-2 KPIs of a station or a line, asked of central and printed as a
//! table for people (one column per station, and the line's total) or as central's JSON.

use crate::central::kpi::{KpiFigures, OeeReport, OeeRequest, Period, Target};
use crate::protocol::ApiError;
use crate::trace::reason;
use chrono::{DateTime, FixedOffset, Utc};
use reqwest::{StatusCode, Url};
use std::fmt::Write as _;
use std::time::Duration;

/// Why the KPIs could not be shown. The words are for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum KpiClientError {
    #[error("{url:?} is not a central address (give one like http://central.plant:8080): {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach central at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// Central does not know the station or line (404).
    #[error("central at {url}: {message}")]
    NotFound { url: String, message: String },
    #[error("central at {url} refused the query ({status}): {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("central at {url} answered with something that is not the report asked for: {reason}")]
    BadAnswer { url: String, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// What central answered: the report, and its JSON as sent (for `--json`).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub report: OeeReport,
    pub json: serde_json::Value,
}

/// `{central}/api/v1/{path…}`, for a central address as a person types it.
pub fn central_url(central: &str, path: &[&str]) -> Result<Url, KpiClientError> {
    let bad = |reason: String| KpiClientError::BadUrl {
        url: central.to_owned(),
        reason,
    };
    let mut url = Url::parse(central.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "the scheme must be http or https, not {}",
            url.scheme()
        )));
    }
    url.path_segments_mut()
        .map_err(|()| bad("it cannot have a path".into()))?
        .pop_if_empty()
        .extend(["api", "v1"])
        .extend(path);
    Ok(url)
}

/// `GET {central}/api/v1/kpi/oee?station=..|line=..&shift=..&date=..|day=..|from=..&to=..`.
pub fn oee_url(central: &str, request: &OeeRequest) -> Result<Url, KpiClientError> {
    let mut url = central_url(central, &["kpi", "oee"])?;
    {
        let mut query = url.query_pairs_mut();
        match &request.target {
            Target::Station(station) => query.append_pair("station", station.as_str()),
            Target::Line(line) => query.append_pair("line", line),
        };
        let instant = |at: &DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        match &request.period {
            Period::Current => {}
            Period::Shift { name, date } => {
                query
                    .append_pair("shift", name)
                    .append_pair("date", &date.to_string());
            }
            Period::Day(date) => {
                query.append_pair("day", &date.to_string());
            }
            Period::Range { from, to } => {
                query
                    .append_pair("from", &instant(from))
                    .append_pair("to", &instant(to));
            }
        }
    }
    Ok(url)
}

/// Asks central for the KPIs.
pub async fn fetch(
    central: &str,
    request: &OeeRequest,
    timeout: Duration,
    trusted_ca: Option<&crate::tls_trust::TrustedCa>,
) -> Result<Fetched, KpiClientError> {
    let url = oee_url(central, request)?;
    let json = get_json(central, url, timeout, trusted_ca).await?;
    let report: OeeReport =
        serde_json::from_value(json.clone()).map_err(|e| KpiClientError::BadAnswer {
            url: central.trim().trim_end_matches('/').to_owned(),
            reason: e.to_string(),
        })?;
    Ok(Fetched { report, json })
}

/// Asks central for `url` and returns its JSON; a refusal comes back with central's words.
pub async fn get_json(
    central: &str,
    url: Url,
    timeout: Duration,
    trusted_ca: Option<&crate::tls_trust::TrustedCa>,
) -> Result<serde_json::Value, KpiClientError> {
    let base = central.trim().trim_end_matches('/').to_owned();
    let client = crate::tls_trust::client_builder(trusted_ca, timeout)
        .build()
        .map_err(|e| KpiClientError::Client(reason(&e, timeout)))?;
    let unreachable = |e: reqwest::Error| KpiClientError::Unreachable {
        url: base.clone(),
        reason: reason(&e, timeout),
    };
    let response = client.get(url).send().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.bytes().await.map_err(unreachable)?;
    if !status.is_success() {
        let message = serde_json::from_slice::<ApiError>(&body)
            .map(|error| error.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
        return Err(if status == StatusCode::NOT_FOUND {
            KpiClientError::NotFound { url: base, message }
        } else {
            KpiClientError::Refused {
                url: base,
                status: status.as_u16(),
                message,
            }
        });
    }
    serde_json::from_slice(&body).map_err(|e| KpiClientError::BadAnswer {
        url: base.clone(),
        reason: e.to_string(),
    })
}

/// A table row: its label and how one column's figures show in it.
type Row = (&'static str, fn(&KpiFigures) -> String);

const TIME_ROWS: &[Row] = &[
    ("Planned operation time (POT)", |f| hms(f.elements.pot)),
    ("Planned downtime", |f| hms(f.elements.planned_downtime)),
    ("Planned busy time (PBT)", |f| hms(f.elements.pbt)),
    ("Actual production time (APT)", |f| hms(f.elements.apt)),
    ("Actual unit setup time (AUST)", |f| hms(f.elements.aust)),
    ("Actual unit processing time (AUPT)", |f| {
        hms(f.elements.aupt)
    }),
    ("Actual unit delay time (ADET)", |f| hms(f.elements.adet)),
    ("Actual unit busy time (AUBT)", |f| hms(f.elements.aubt)),
    ("Actual unit down time (ADOT)", |f| hms(f.elements.adot)),
    ("Failures", |f| f.elements.failures.to_string()),
    ("Micro-stops", |f| f.elements.micro_stops.to_string()),
];

const QUANTITY_ROWS: &[Row] = &[
    ("Produced quantity (PQ)", |f| f.quantities.pq.to_string()),
    ("Good quantity (GQ)", |f| f.quantities.gq.to_string()),
    ("Planned run time of the units (PRI x PQ)", |f| {
        f.quantities.planned_run_time.map_or_else(dash, hms)
    }),
];

const KPI_ROWS: &[Row] = &[
    ("Availability (A = APT / PBT)", |f| {
        percent(f.kpis.availability)
    }),
    ("Effectiveness (E = PRI x PQ / APT)", |f| {
        percent(f.kpis.effectiveness)
    }),
    ("Quality ratio (QR = GQ / PQ)", |f| {
        percent(f.kpis.quality_ratio)
    }),
    ("OEE index (A x E x QR)", |f| percent(f.kpis.oee)),
    ("Net equipment effectiveness (NEE)", |f| percent(f.kpis.nee)),
    ("Allocation efficiency (AE = AUBT / PBT)", |f| {
        percent(f.kpis.allocation_efficiency)
    }),
    ("Utilisation efficiency (UE = APT / AUBT)", |f| {
        percent(f.kpis.utilisation_efficiency)
    }),
    ("Technical efficiency (TE = APT / (APT + ADET))", |f| {
        percent(f.kpis.technical_efficiency)
    }),
    ("Setup ratio (AUST / AUPT)", |f| percent(f.kpis.setup_ratio)),
    ("Mean operating time between failures (MTBF)", |f| {
        f.kpis.mtbf.map_or_else(dash, hms)
    }),
    ("Mean time to repair (MTTR)", |f| {
        f.kpis.mttr.map_or_else(dash, hms)
    }),
];

fn dash() -> String {
    "-".into()
}

/// A fraction as a percentage with one decimal, "-" when unknown.
pub fn percent(value: Option<f64>) -> String {
    value.map_or_else(dash, |v| format!("{:.1} %", v * 100.0))
}

/// Seconds as h:mm:ss.
pub fn hms(seconds: f64) -> String {
    let total = seconds.round().max(0.0) as u64;
    format!(
        "{}:{:02}:{:02}",
        total / 3600,
        (total / 60) % 60,
        total % 60
    )
}

/// The report as people read it: what and when, then one column per station (and the line's
/// total), element names spelled out, percentages with one decimal, "-" where unknown.
pub fn render(report: &OeeReport) -> String {
    let mut out = String::new();
    let window = &report.window;
    let whose = match &report.line {
        Some(line) => format!("line {} ({})", line.line, line.stations.join(", ")),
        None => match report.stations.as_slice() {
            [one] => format!("station {}", one.station),
            many => format!(
                "stations {}",
                many.iter()
                    .map(|s| s.station.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    let _ = writeln!(out, "ISO 22400-2 KPIs of {whose}: {}", window.period);
    let offset: Option<FixedOffset> = window.utc_offset.parse().ok();
    let local = |at: DateTime<Utc>| match offset {
        Some(offset) => at
            .with_timezone(&offset)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        None => at.format("%Y-%m-%d %H:%M UTC").to_string(),
    };
    let _ = writeln!(
        out,
        "From {} to {} plant time (UTC{}){}",
        local(window.from),
        local(window.to),
        window.utc_offset,
        if window.until_now {
            ", up to now: the period has not ended"
        } else {
            ""
        }
    );
    let shifts: Vec<&str> = window.shifts.iter().map(|s| s.label.as_str()).collect();
    let _ = writeln!(
        out,
        "Shifts (planned operation time): {}; unplanned stops under {} are micro-stops",
        if shifts.is_empty() {
            "none".to_owned()
        } else {
            shifts.join(", ")
        },
        hms(window.micro_stop_seconds)
    );

    let mut columns: Vec<(String, &KpiFigures)> = report
        .stations
        .iter()
        .map(|s| (s.station.clone(), &s.figures))
        .collect();
    if let Some(line) = &report.line {
        columns.push((format!("line {}", line.line), &line.figures));
    }
    let label_width = TIME_ROWS
        .iter()
        .chain(QUANTITY_ROWS)
        .chain(KPI_ROWS)
        .map(|(label, _)| label.len() + 2)
        .max()
        .unwrap_or(0);
    let widths: Vec<usize> = columns
        .iter()
        .map(|(name, _)| name.len().max(10) + 2)
        .collect();
    let mut header = format!("{:label_width$}", "");
    for ((name, _), width) in columns.iter().zip(&widths) {
        let _ = write!(header, "{name:>width$}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", header.trim_end());
    for (section, rows) in [
        ("Time (h:mm:ss)", TIME_ROWS),
        ("Quantities", QUANTITY_ROWS),
        ("KPIs", KPI_ROWS),
    ] {
        let _ = writeln!(out, "{section}");
        for (label, show) in rows {
            let mut line = format!("  {label:<width$}", width = label_width - 2);
            for ((_, figures), width) in columns.iter().zip(&widths) {
                let _ = write!(line, "{:>width$}", show(figures));
            }
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StationId;

    #[test]
    fn the_url_escapes_what_it_carries() {
        let request = OeeRequest {
            target: Target::Station(StationId::new("L1 S1")),
            period: Period::Range {
                from: DateTime::parse_from_rfc3339("2026-11-25T07:00:00+01:00")
                    .expect("test value")
                    .with_timezone(&Utc),
                to: DateTime::parse_from_rfc3339("2026-11-25T08:00:00Z")
                    .expect("test value")
                    .with_timezone(&Utc),
            },
        };
        let url = oee_url("http://central:8080/", &request).expect("url");
        assert_eq!(
            url.as_str(),
            "http://central:8080/api/v1/kpi/oee?station=L1+S1&from=2026-11-25T06%3A00%3A00Z&to=2026-11-25T08%3A00%3A00Z"
        );
        assert!(matches!(
            oee_url("central.plant", &request),
            Err(KpiClientError::BadUrl { .. })
        ));
    }

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(hms(25_320.0), "7:02:00");
        assert_eq!(hms(59.6), "0:01:00");
        assert_eq!(percent(Some(0.888_888)), "88.9 %");
        assert_eq!(percent(Some(1.666_66)), "166.7 %");
        assert_eq!(percent(None), "-");
    }
}
