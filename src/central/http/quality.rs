//! Quality at central: the lots on hold, the NCRs and a line's yield. Plant queries: read-only, so
//! no token is asked for.

use super::{AppState, Failure};
use crate::central::db::ncrs::{NcrList, NcrStatus};
use crate::central::db::quality_holds::Holds;
use crate::central::db::yields::YieldReport;
use crate::central::kpi::MAX_WINDOW_DAYS;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

fn bad(message: String) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, message)
}

/// Every lot on hold or quarantined now, longest held first.
pub(super) async fn get_holds(State(state): State<AppState>) -> Result<Json<Holds>, Failure> {
    Ok(Json(state.with_db(|db| db.open_holds()).await??))
}

#[derive(Debug, Deserialize)]
pub(super) struct NcrParams {
    status: Option<String>,
}

/// The NCRs open (default), closed or all, newest first.
pub(super) async fn get_ncrs(
    State(state): State<AppState>,
    query: Result<Query<NcrParams>, QueryRejection>,
) -> Result<Json<NcrList>, Failure> {
    let Query(params) = query.map_err(|e| bad(e.body_text()))?;
    let status = match params.status.as_deref() {
        None => NcrStatus::Open,
        Some(text) => NcrStatus::parse(text)
            .ok_or_else(|| bad(format!("status={text:?}: ask for open, closed or all")))?,
    };
    Ok(Json(state.with_db(move |db| db.ncrs(status)).await??))
}

#[derive(Debug, Deserialize)]
pub(super) struct YieldParams {
    line: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// [from, to) from RFC 3339 texts: `to` defaults to now, `from` to 7 days before `to`.
fn window(
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Failure> {
    let instant = |name: &str, text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|e| bad(format!("{name}={text:?} is not an RFC 3339 time: {e}")))
    };
    let to = to
        .map(|text| instant("to", text))
        .transpose()?
        .unwrap_or(now);
    let from = from
        .map(|text| instant("from", text))
        .transpose()?
        .unwrap_or(to - Duration::days(7));
    if from >= to {
        return Err(bad(format!("from ({from}) must be before to ({to})")));
    }
    if to - from > Duration::days(MAX_WINDOW_DAYS) {
        return Err(bad(format!(
            "from {from} to {to} is longer than {MAX_WINDOW_DAYS} days: ask for a shorter window"
        )));
    }
    Ok((from, to))
}

/// First-pass yield per operation of a line, its rolled throughput yield, and its scrap and
/// rework rates over [from, to) (default: the 7 days up to now). Without `line`, the plant's only
/// line.
pub(super) async fn get_yield(
    State(state): State<AppState>,
    query: Result<Query<YieldParams>, QueryRejection>,
) -> Result<Json<YieldReport>, Failure> {
    let Query(params) = query.map_err(|e| bad(e.body_text()))?;
    let (from, to) = window(
        params.from.as_deref(),
        params.to.as_deref(),
        state.clock.now(),
    )?;
    let asked = params.line.clone();
    let report = state
        .with_db(move |db| -> Result<Result<YieldReport, Failure>, Failure> {
            let line = match asked {
                Some(line) => line,
                None => match db.lines()?.as_slice() {
                    [only] => only.clone(),
                    lines => {
                        return Ok(Err(bad(format!(
                            "say which line (line=..): central knows {}",
                            if lines.is_empty() {
                                "none".to_owned()
                            } else {
                                lines.join(", ")
                            }
                        ))));
                    }
                },
            };
            Ok(db
                .line_yield(&line, from, to)?
                .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, format!("unknown line {line}"))))
        })
        .await???;
    Ok(Json(report))
}
