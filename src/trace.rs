//! `takt trace`: a lot's or serial's genealogy, asked of central and printed for people (one lot a
//! line, indented by level) or as JSON. Forward, it ends with the finished units that contain the
//! lot: the recall list.

use crate::domain::narrative::duration;
use crate::domain::{LotStatus, OutputForm};
use crate::protocol::{
    ApiError, Genealogy, GenealogyNode, MAX_GENEALOGY_DEPTH, NodeOrigin, TraceDirection,
};
use chrono::{DateTime, Utc};
use reqwest::{StatusCode, Url};
use std::fmt::Write as _;
use std::time::Duration;

/// Why a trace could not be shown. The words are for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("{url:?} is not a central address (give one like http://central.plant:8080): {reason}")]
    BadUrl { url: String, reason: String },
    #[error("cannot reach central at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("central at {url} knows no lot or serial {lot:?}")]
    UnknownLot { url: String, lot: String },
    #[error("central at {url} refused the query ({status}): {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("central at {url} answered with something that is not a genealogy: {reason}")]
    BadAnswer { url: String, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}

/// What to ask central.
#[derive(Debug, Clone)]
pub struct TraceRequest {
    /// Central's base URL, e.g. `http://central.plant:8080`.
    pub central: String,
    pub lot: String,
    pub direction: TraceDirection,
    /// Links to follow at most; central's limit when `None`.
    pub depth: Option<u32>,
    /// For connecting and for the whole answer.
    pub timeout: Duration,
    /// A plant CA to trust for an `https://` central, besides the system's roots (`--ca-file`).
    pub trusted_ca: Option<crate::tls_trust::TrustedCa>,
}

/// `GET {central}/api/v1/lots/{lot}/genealogy?direction=..&depth=..`, the lot id escaped.
pub fn genealogy_url(request: &TraceRequest) -> Result<Url, TraceError> {
    let bad = |reason: String| TraceError::BadUrl {
        url: request.central.clone(),
        reason,
    };
    let mut url = Url::parse(request.central.trim()).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(format!(
            "the scheme must be http or https, not {}",
            url.scheme()
        )));
    }
    url.path_segments_mut()
        .map_err(|()| bad("it cannot have a path".into()))?
        .pop_if_empty()
        .extend(["api", "v1", "lots", request.lot.as_str(), "genealogy"]);
    url.query_pairs_mut().append_pair(
        "direction",
        match request.direction {
            TraceDirection::Backward => "backward",
            TraceDirection::Forward => "forward",
        },
    );
    if let Some(depth) = request.depth {
        url.query_pairs_mut()
            .append_pair("depth", &depth.to_string());
    }
    Ok(url)
}

/// Asks central for the genealogy.
pub async fn fetch(request: &TraceRequest) -> Result<Genealogy, TraceError> {
    let url = genealogy_url(request)?;
    let base = request.central.trim().trim_end_matches('/').to_owned();
    let client = crate::tls_trust::client_builder(request.trusted_ca.as_ref(), request.timeout)
        .build()
        .map_err(|e| TraceError::Client(reason(&e, request.timeout)))?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| TraceError::Unreachable {
            url: base.clone(),
            reason: reason(&e, request.timeout),
        })?;
    let status = response.status();
    if status == StatusCode::NOT_FOUND {
        return Err(TraceError::UnknownLot {
            url: base,
            lot: request.lot.clone(),
        });
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| TraceError::Unreachable {
            url: base.clone(),
            reason: reason(&e, request.timeout),
        })?;
    if !status.is_success() {
        let message = serde_json::from_slice::<ApiError>(&body)
            .map(|error| error.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(200).collect());
        return Err(TraceError::Refused {
            url: base,
            status: status.as_u16(),
            message,
        });
    }
    serde_json::from_slice(&body).map_err(|e| TraceError::BadAnswer {
        url: base,
        reason: e.to_string(),
    })
}

/// The causes of a failed request in plain words, innermost last ("connection refused"); every
/// command that asks central says them this way.
pub fn reason(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} s", timeout.as_secs_f64());
    }
    let mut words: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !words.iter().any(|seen| seen.contains(&text)) {
            words.push(text);
        }
        source = cause.source();
    }
    // reqwest's own text repeats the URL; the causes say what went wrong.
    let innermost = match words.last() {
        Some(innermost) => innermost.clone(),
        None => error.to_string(),
    };
    match crate::tls_trust::hint(&innermost) {
        Some(hint) => format!("{hint} ({innermost})"),
        None => innermost,
    }
}

/// The genealogy as people read it: a heading, one lot a line indented by level, then queue times,
/// and for a forward trace the finished units.
pub fn render(genealogy: &Genealogy) -> String {
    let mut out = String::new();
    let (heading, what) = match genealogy.direction {
        TraceDirection::Backward => ("Backward", "what it was made from"),
        TraceDirection::Forward => ("Forward", "what was made from it"),
    };
    let _ = writeln!(
        out,
        "{heading} genealogy of {} ({what}): {} lot{}, {} level{} deep",
        genealogy.lot,
        genealogy.nodes,
        plural(genealogy.nodes),
        genealogy.depth,
        plural(u64::from(genealogy.depth)),
    );
    render_node(&mut out, &genealogy.root, 0);
    if genealogy.truncated {
        let _ = writeln!(
            out,
            "Not everything is shown: the walk stopped at {} links (at most {MAX_GENEALOGY_DEPTH}).",
            genealogy.max_depth
        );
    }
    if !genealogy.cycles.is_empty() {
        let links: Vec<String> = genealogy
            .cycles
            .iter()
            .map(|link| format!("{} -> {}", link.from, link.to))
            .collect();
        let _ = writeln!(
            out,
            "WARNING: the event log links lots in a cycle ({}); a lot cannot be made from itself, so a log is corrupt or forged.",
            links.join(", ")
        );
    }
    if !genealogy.waiting_by_operation.is_empty() {
        let _ = writeln!(out, "Waiting before each operation:");
        for waiting in &genealogy.waiting_by_operation {
            let _ = writeln!(
                out,
                "  {}  {} lot{}  mean {}  max {}",
                waiting.operation,
                waiting.lots,
                plural(waiting.lots),
                duration(waiting.mean_seconds),
                duration(waiting.max_seconds)
            );
        }
    }
    if genealogy.direction == TraceDirection::Forward {
        let _ = writeln!(
            out,
            "Finished units containing {}: {}",
            genealogy.lot,
            genealogy.finished.len()
        );
        for unit in &genealogy.finished {
            let mut line = format!("  {}", unit.serial);
            if let Some(material) = &unit.material {
                let _ = write!(line, "  {material}");
            }
            if let (Some(station), Some(work_order)) = (&unit.station, &unit.work_order) {
                let _ = write!(line, "  made at {station} for {work_order}");
            }
            if let Some(at) = unit.made_at {
                let _ = write!(line, " {}", time(at));
            }
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

fn render_node(out: &mut String, node: &GenealogyNode, level: usize) {
    let mut line = format!("{}{}", "  ".repeat(level), node.lot);
    if node.form == OutputForm::Serial {
        line.push_str("  serial");
    }
    match (&node.material, &node.material_name) {
        (Some(material), Some(name)) => {
            let _ = write!(line, "  {material} \"{name}\"");
        }
        (Some(material), None) => {
            let _ = write!(line, "  {material}");
        }
        _ => {}
    }
    if let (Some(quantity), OutputForm::Lot) = (node.quantity, node.form) {
        let _ = write!(line, "  {quantity}");
        if let Some(unit) = &node.unit {
            let _ = write!(line, " {unit}");
        }
    }
    match &node.origin {
        NodeOrigin::Produced {
            station,
            work_order,
            operation,
            at,
        } => {
            let _ = write!(
                line,
                "  made at {station} {operation} for {work_order} {}",
                time(*at)
            );
        }
        NodeOrigin::Supplier {
            first_seen_station: Some(station),
            first_seen_at,
        } => {
            let _ = write!(line, "  supplier lot, first scanned at {station}");
            if let Some(at) = first_seen_at {
                let _ = write!(line, " {}", time(*at));
            }
        }
        NodeOrigin::Supplier { .. } => line.push_str("  supplier lot"),
        NodeOrigin::Split { station, at } => {
            let _ = write!(line, "  split off at {station} {}", time(*at));
        }
        NodeOrigin::Unknown => line.push_str("  unknown to central"),
    }
    if let Some(operator) = &node.operator {
        let _ = write!(line, " by {operator}");
    }
    if let Some(state) = &node.machine_state {
        let _ = write!(line, ", machine {state}");
    }
    if let Some(waiting) = &node.waiting {
        let _ = write!(
            line,
            "  waited {} for {} at {}",
            duration(waiting.seconds),
            waiting.operation,
            waiting.station
        );
    }
    match node.status {
        Some(LotStatus::OnHold) | Some(LotStatus::Quarantined) => {
            let label = if node.status == Some(LotStatus::OnHold) {
                "ON HOLD"
            } else {
                "QUARANTINED"
            };
            match &node.status_reason {
                Some(reason) => {
                    let _ = write!(line, "  [{label}: {reason}]");
                }
                None => {
                    let _ = write!(line, "  [{label}]");
                }
            }
        }
        Some(LotStatus::Consumed) => line.push_str("  [used up]"),
        Some(status @ (LotStatus::Scrapped | LotStatus::Returned)) => {
            let _ = write!(line, "  [{}]", status.words().to_uppercase());
        }
        Some(LotStatus::Released) | None => {}
    }
    if node.cycle {
        line.push_str("  (CYCLE: already on this path, not followed)");
    } else if node.repeated {
        line.push_str("  (shown in full elsewhere in this tree)");
    }
    if node.truncated {
        line.push_str("  (more beyond the depth limit)");
    }
    let _ = writeln!(out, "{line}");
    // Quality's record of the lot reads under it: a reader of the tree sees what was found and
    // decided without asking elsewhere.
    for entry in &node.quality {
        let _ = writeln!(
            out,
            "{}  | {} {} {}: {}",
            "  ".repeat(level),
            time(entry.at),
            entry.station,
            entry.actor,
            entry.words
        );
    }
    for child in &node.children {
        render_node(out, child, level + 1);
    }
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(central: &str, lot: &str) -> TraceRequest {
        TraceRequest {
            central: central.into(),
            lot: lot.into(),
            direction: TraceDirection::Forward,
            depth: Some(3),
            timeout: Duration::from_secs(1),
            trusted_ca: None,
        }
    }

    #[test]
    fn the_lot_id_is_escaped_into_one_path_segment() {
        let url = genealogy_url(&request("http://central:8080/", "A/B 1")).expect("url");
        assert_eq!(
            url.as_str(),
            "http://central:8080/api/v1/lots/A%2FB%201/genealogy?direction=forward&depth=3"
        );
        let url = genealogy_url(&request("https://plant.example/takt", "C24-1107")).expect("url");
        assert_eq!(
            url.as_str(),
            "https://plant.example/takt/api/v1/lots/C24-1107/genealogy?direction=forward&depth=3"
        );
        assert!(matches!(
            genealogy_url(&request("central:8080", "X")),
            Err(TraceError::BadUrl { .. })
        ));
        assert!(matches!(
            genealogy_url(&request("not a url", "X")),
            Err(TraceError::BadUrl { .. })
        ));
    }
}
