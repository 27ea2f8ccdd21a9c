//! `takt quality pareto`: the defect Pareto asked of central, printed as bars for people or as
//! central's JSON.

use crate::central::{Pareto, ParetoBy};
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
        let instant = |at: &DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
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
    let json = get_json(central, url, timeout, trusted_ca).await?;
    let pareto = serde_json::from_value(json.clone()).map_err(|e| KpiClientError::BadAnswer {
        url: central.trim().trim_end_matches('/').to_owned(),
        reason: e.to_string(),
    })?;
    Ok((pareto, json))
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
