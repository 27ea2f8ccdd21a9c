//! `takt quality pareto|holds|ncrs|yield`: quality figures asked of central, printed in words for
//! people or as central's JSON.

use crate::central::{HeldBy, Holds, NcrList, NcrStatus, Pareto, ParetoBy, YieldReport};
use crate::kpi_client::{KpiClientError, central_url, get_json};
use chrono::{DateTime, Utc};
use reqwest::Url;
use std::fmt::Write as _;
use std::time::Duration;

/// `GET {central}/api/v1/quality/pareto?by=..&from=..&to=..`
pub fn pareto_url(
    central: &str,
    by: ParetoBy,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Url, KpiClientError> {
    let mut url = central_url(central, &["quality", "pareto"])?;
    {
        let mut query = url.query_pairs_mut();
        let by = match by {
            ParetoBy::Code => "code",
            ParetoBy::Product => "product",
            ParetoBy::Station => "station",
            ParetoBy::Operation => "operation",
        };
        query.append_pair("by", by);
        if let Some(from) = &from {
            query.append_pair("from", &instant(from));
        }
        if let Some(to) = &to {
            query.append_pair("to", &instant(to));
        }
    }
    Ok(url)
}

/// Asks central for the Pareto: the report and its JSON as sent (for `--json`).
pub async fn fetch_pareto(
    central: &str,
    url: Url,
    timeout: Duration,
    trusted_ca: Option<&crate::tls_trust::TrustedCa>,
) -> Result<(Pareto, serde_json::Value), KpiClientError> {
    fetch(central, url, timeout, trusted_ca).await
}

/// Asks central at `url`: its answer read as `T`, and its JSON as sent (for `--json`).
pub async fn fetch<T: serde::de::DeserializeOwned>(
    central: &str,
    url: Url,
    timeout: Duration,
    trusted_ca: Option<&crate::tls_trust::TrustedCa>,
) -> Result<(T, serde_json::Value), KpiClientError> {
    let json = get_json(central, url, timeout, trusted_ca).await?;
    let answer = serde_json::from_value(json.clone()).map_err(|e| KpiClientError::BadAnswer {
        url: central.trim().trim_end_matches('/').to_owned(),
        reason: e.to_string(),
    })?;
    Ok((answer, json))
}

fn instant(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// `GET {central}/api/v1/quality/holds`
pub fn holds_url(central: &str) -> Result<Url, KpiClientError> {
    central_url(central, &["quality", "holds"])
}

/// `GET {central}/api/v1/quality/ncrs?status=..`
pub fn ncrs_url(central: &str, status: NcrStatus) -> Result<Url, KpiClientError> {
    let mut url = central_url(central, &["quality", "ncrs"])?;
    let status = match status {
        NcrStatus::Open => "open",
        NcrStatus::Closed => "closed",
        NcrStatus::All => "all",
    };
    url.query_pairs_mut().append_pair("status", status);
    Ok(url)
}

/// `GET {central}/api/v1/quality/yield?line=..&from=..&to=..`
pub fn yield_url(
    central: &str,
    line: Option<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Url, KpiClientError> {
    let mut url = central_url(central, &["quality", "yield"])?;
    {
        let mut query = url.query_pairs_mut();
        if let Some(line) = line {
            query.append_pair("line", line);
        }
        if let Some(from) = &from {
            query.append_pair("from", &instant(from));
        }
        if let Some(to) = &to {
            query.append_pair("to", &instant(to));
        }
    }
    Ok(url)
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "at an unknown time".to_owned(),
        |at| at.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

/// One paragraph per held lot: what it is, who held it where and when, why, its NCR and rework.
pub fn render_holds(holds: &Holds) -> String {
    if holds.holds.is_empty() {
        return "No lot is on hold.\n".to_owned();
    }
    let mut text = format!(
        "{} lot{} on hold, longest held first:\n",
        holds.holds.len(),
        if holds.holds.len() == 1 { "" } else { "s" }
    );
    for hold in &holds.holds {
        let what = match &hold.product {
            Some(product) => format!("{} of {product}", hold.material),
            None => hold.material.clone(),
        };
        let status = if hold.status == "quarantined" {
            "quarantined"
        } else {
            "held"
        };
        let by = match (hold.held_by, &hold.station, &hold.actor) {
            (HeldBy::Central, _, _) => "by central".to_owned(),
            (HeldBy::MasterData, _, _) => "in master data".to_owned(),
            (held_by, station, actor) => {
                let how = match held_by {
                    HeldBy::Inspection => "by a failed inspection",
                    HeldBy::Disposition => "by a disposition",
                    _ => "",
                };
                let mut words = how.to_owned();
                if let Some(station) = station {
                    words = format!("{words} at {station}").trim().to_owned();
                }
                if let Some(actor) = actor {
                    words = format!("{words} by {actor}").trim().to_owned();
                }
                words
            }
        };
        let _ = writeln!(
            text,
            "\n{}  {} {what}, {status} {by} since {}",
            hold.lot,
            hold.quantity,
            when(hold.since)
        );
        let _ = writeln!(
            text,
            "    why: {}",
            hold.reason.as_deref().unwrap_or("no reason given")
        );
        if let Some(ncr) = &hold.ncr {
            let _ = writeln!(text, "    open NCR: {ncr}");
        }
        if let Some(rework) = &hold.rework {
            let _ = writeln!(
                text,
                "    rework at {}: {}",
                rework.operation,
                if rework.done {
                    "done, waiting for inspection and release"
                } else {
                    "pending"
                }
            );
        }
    }
    text
}

/// One paragraph per NCR: what, how much, containment, disposition and closure.
pub fn render_ncrs(list: &NcrList) -> String {
    let which = match list.status {
        NcrStatus::Open => "open ",
        NcrStatus::Closed => "closed ",
        NcrStatus::All => "",
    };
    if list.ncrs.is_empty() {
        return format!("No {which}NCRs.\n");
    }
    let mut text = format!("{} {which}NCR(s), newest first:\n", list.ncrs.len());
    for ncr in &list.ncrs {
        let _ = writeln!(
            text,
            "\n{}  lot {}, {} unit(s): {}",
            ncr.id, ncr.lot, ncr.quantity, ncr.what
        );
        let _ = writeln!(
            text,
            "    opened at {} by {} {}",
            ncr.station,
            ncr.opened_by,
            when(Some(ncr.opened_at))
        );
        let _ = writeln!(text, "    containment: {}", ncr.containment);
        match &ncr.disposition {
            Some(disposition) => {
                let _ = writeln!(
                    text,
                    "    disposition: {disposition} ({} {})",
                    ncr.dispositioned_by.as_deref().unwrap_or("someone"),
                    when(ncr.dispositioned_at)
                );
            }
            None => text.push_str("    disposition: none yet\n"),
        }
        match (&ncr.closed_at, &ncr.closure) {
            (Some(at), closure) => {
                let _ = writeln!(
                    text,
                    "    closed by {} {}: {}",
                    ncr.closed_by.as_deref().unwrap_or("someone"),
                    when(Some(*at)),
                    closure.as_deref().unwrap_or("")
                );
            }
            (None, _) => text.push_str("    open\n"),
        }
    }
    text
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{:.1}%", value * 100.0))
}

/// A table of the operations' first-pass yields, then the line's figures in words.
pub fn render_yield(report: &YieldReport) -> String {
    let mut text = format!(
        "Yield of line {}, {} to {} UTC\n",
        report.line,
        report.from.format("%Y-%m-%d %H:%M"),
        report.to.format("%Y-%m-%d %H:%M")
    );
    if report.operations.is_empty() {
        text += "No routing names a station of this line.\n";
        return text;
    }
    let _ = writeln!(
        text,
        "{:<10} {:<16} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "operation", "stations", "entered", "rejected", "scrapped", "reworked", "failed", "FPY"
    );
    for operation in &report.operations {
        let _ = writeln!(
            text,
            "{:<10} {:<16} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            operation.operation,
            operation.stations.join(","),
            operation.entered,
            operation.rejected,
            operation.scrapped,
            operation.reworked,
            operation.failed_first_pass,
            percent(operation.first_pass_yield)
        );
    }
    let _ = writeln!(
        text,
        "Rolled throughput yield {}. {} produced, {} scrapped ({}), {} reworked ({}).",
        percent(report.rolled_throughput_yield),
        report.produced,
        report.scrapped,
        percent(report.scrap_rate),
        report.reworked,
        percent(report.rework_rate)
    );
    text
}

/// Width of the longest bar, in characters.
const BAR: usize = 30;

/// One line per bar, largest first: key, words, count, share, cumulative share and the bar.
pub fn render(pareto: &Pareto) -> String {
    let by = match pareto.by {
        ParetoBy::Code => "defect code",
        ParetoBy::Product => "product",
        ParetoBy::Station => "station",
        ParetoBy::Operation => "operation",
    };
    let mut text = format!(
        "Defects by {by}, {} to {} UTC: {} defects in {} inspections\n",
        pareto.from.format("%Y-%m-%d %H:%M"),
        pareto.to.format("%Y-%m-%d %H:%M"),
        pareto.defects,
        pareto.inspections
    );
    if pareto.rows.is_empty() {
        text += "No defects recorded in this window.\n";
        return text;
    }
    let largest = pareto.rows.first().map_or(1, |row| row.defects.max(1));
    let _ = writeln!(
        text,
        "{:<12} {:<20} {:>8} {:>7} {:>7}",
        "", "", "defects", "share", "cum."
    );
    for row in &pareto.rows {
        let filled =
            usize::try_from(row.defects.saturating_mul(BAR as u64) / largest).unwrap_or(BAR);
        let _ = writeln!(
            text,
            "{:<12} {:<20} {:>8} {:>6.1}% {:>6.1}% {}",
            row.key,
            row.text.as_deref().unwrap_or(""),
            row.defects,
            row.share * 100.0,
            row.cumulative_share * 100.0,
            "#".repeat(filled.max(1))
        );
    }
    text
}
