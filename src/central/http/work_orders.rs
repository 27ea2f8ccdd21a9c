//! Work-order endpoints: the list (a plant query, no token) and the lifecycle actions central owns
//! — hold, release, cancel, close, dispatch — which need an admin token. Each action is a new
//! version of the order's master record, which the stations it concerns learn at their next pull.

use super::{AppState, Failure, authorize_admin};
use crate::central::db::DbError;
use crate::central::db::work_orders::{WorkOrderAction, WorkOrderSummary};
use crate::domain::{StationId, WorkOrder, WorkOrderId, WorkOrderStatus};
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    status: Option<String>,
}

/// Every work order central has, most urgent first, with its progress and flagged facts.
pub(super) async fn get_work_orders(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Vec<WorkOrderSummary>>, Failure> {
    let Query(query) = query.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(WorkOrderStatus::parse(text).ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "status {text:?} is not one of planned, released, on_hold, cancelled, closed"
                ),
            )
        })?),
    };
    Ok(Json(
        state.with_db(move |db| db.work_orders(status)).await??,
    ))
}

/// The order after an action, and whether it changed (a repeated hold changes nothing).
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkOrderAnswer {
    pub work_order: WorkOrder,
    pub version: Option<u64>,
    pub changed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReasonBody {
    reason: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OptionalReasonBody {
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DispatchBody {
    stations: Vec<String>,
    #[serde(default)]
    priority: Option<u8>,
}

fn body<T>(body: Result<Json<T>, JsonRejection>, expected: &str) -> Result<T, Failure> {
    body.map(|Json(body)| body).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("expected {expected}: {}", e.body_text()),
        )
    })
}

fn reason(text: String, what: &str) -> Result<String, Failure> {
    let text = text.trim().to_owned();
    if text.is_empty() {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            format!("say why the order is {what}: reason must not be empty"),
        ));
    }
    Ok(text)
}

pub(super) async fn post_hold(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    request: Result<Json<ReasonBody>, JsonRejection>,
) -> Result<Json<WorkOrderAnswer>, Failure> {
    act_with_reason(&state, &headers, id, request, "held", |reason| {
        WorkOrderAction::Hold { reason }
    })
    .await
}

pub(super) async fn post_release(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<WorkOrderAnswer>, Failure> {
    let admin = authorize_admin(&state, &headers).await?;
    act(&state, &admin, id, WorkOrderAction::Release).await
}

pub(super) async fn post_cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    request: Result<Json<ReasonBody>, JsonRejection>,
) -> Result<Json<WorkOrderAnswer>, Failure> {
    act_with_reason(&state, &headers, id, request, "cancelled", |reason| {
        WorkOrderAction::Cancel { reason }
    })
    .await
}

/// An action that needs the planner's reason (`{"reason": "..."}`, not empty).
async fn act_with_reason(
    state: &AppState,
    headers: &HeaderMap,
    id: String,
    request: Result<Json<ReasonBody>, JsonRejection>,
    what: &str,
    action: impl FnOnce(String) -> WorkOrderAction,
) -> Result<Json<WorkOrderAnswer>, Failure> {
    let admin = authorize_admin(state, headers).await?;
    let request = body(request, "{\"reason\": \"...\"}")?;
    let action = action(reason(request.reason, what)?);
    act(state, &admin, id, action).await
}

pub(super) async fn post_close(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    request: Option<Json<OptionalReasonBody>>,
) -> Result<Json<WorkOrderAnswer>, Failure> {
    let admin = authorize_admin(&state, &headers).await?;
    let reason = request
        .and_then(|Json(body)| body.reason)
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    act(&state, &admin, id, WorkOrderAction::Close { reason }).await
}

pub(super) async fn post_dispatch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    request: Result<Json<DispatchBody>, JsonRejection>,
) -> Result<Json<WorkOrderAnswer>, Failure> {
    let admin = authorize_admin(&state, &headers).await?;
    let request = body(request, "{\"stations\": [\"L1-S1\", ...], \"priority\": 1}")?;
    let action = WorkOrderAction::Dispatch {
        stations: request.stations.into_iter().map(StationId::new).collect(),
        priority: request.priority,
    };
    act(&state, &admin, id, action).await
}

async fn act(
    state: &AppState,
    admin: &str,
    id: String,
    action: WorkOrderAction,
) -> Result<Json<WorkOrderAnswer>, Failure> {
    let now = state.clock.now();
    let source = format!("api:{admin}");
    let order = WorkOrderId::from(id.as_str());
    let name = action.name();
    let outcome = state
        .with_db(move |db| db.work_order_action(&order, &action, &source, now))
        .await?
        .map_err(|error| match error {
            DbError::UnknownWorkOrder(_) => Failure::new(
                StatusCode::NOT_FOUND,
                format!("central knows no work order {id}"),
            ),
            DbError::Refused(why) => Failure::new(StatusCode::CONFLICT, why),
            other => Failure::from(other),
        })?;
    state.master_written();
    tracing::info!(%admin, work_order = %outcome.work_order.id, action = name,
        status = outcome.work_order.status.as_str(), version = ?outcome.version, "work order by API");
    Ok(Json(WorkOrderAnswer {
        changed: outcome.version.is_some(),
        work_order: outcome.work_order,
        version: outcome.version,
    }))
}
