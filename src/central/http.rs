//! The HTTP face of central: routing, station authentication, and the mapping of storage results to
//! status codes. No SQL here; every database call goes through [`Db`] on a blocking thread.

mod quality;
mod work_orders;

pub use work_orders::WorkOrderAnswer;

use super::auth_limit::{AuthLimit, AuthLimiter};
use super::db::quality::{Pareto, ParetoBy};
use super::db::{Db, DbError, IngestError};
use super::import::{Format as ImportFormat, ImportError, ImportKind};
use super::kpi::{self, KpiError, OeeParams, OeeReport, PeriodError};
use super::metrics::{self, BatchOutcome, Metrics};
use crate::clock::{Clock, SystemClock};
use crate::domain::shift::ShiftCalendar;
use crate::domain::{LotId, StationId};
use crate::protocol::{
    ApiError, BatchAck, ChangePage, EventBatch, Genealogy, MAX_BATCH_EVENTS, MAX_GENEALOGY_DEPTH,
    TraceDirection, WorkOrderReport,
};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Default and largest page of master-data changes.
const DEFAULT_CHANGES_LIMIT: u64 = 500;
const MAX_CHANGES_LIMIT: u64 = 1000;

/// A full batch is well under this; the headroom is for larger event kinds to come.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    db: Arc<Mutex<Db>>,
    calendar: Arc<ShiftCalendar>,
    /// Central's time: `server_time` in station answers, the `Date` header, received-at, KPI "now".
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    /// Woken after every write that may make master records (ingest, import, holds, work-order
    /// actions): long-polling stations look again at once.
    master_written: Arc<tokio::sync::Notify>,
    /// Turns true when central begins to shut down: long-polls answer at once, so a graceful
    /// shutdown does not wait out their timeouts.
    closing: tokio::sync::watch::Receiver<bool>,
    /// Failed token checks per peer address.
    auth_limiter: Arc<AuthLimiter>,
}

impl AppState {
    pub fn new(db: Db, calendar: ShiftCalendar) -> Self {
        AppState {
            db: Arc::new(Mutex::new(db)),
            calendar: Arc::new(calendar),
            clock: Arc::new(SystemClock),
            metrics: Arc::new(Metrics::default()),
            master_written: Arc::new(tokio::sync::Notify::new()),
            closing: tokio::sync::watch::channel(false).1,
            auth_limiter: Arc::new(AuthLimiter::new(AuthLimit::default())),
        }
    }

    /// Long-polls end when `closing` turns true.
    pub fn with_closing(mut self, closing: tokio::sync::watch::Receiver<bool>) -> Self {
        self.closing = closing;
        self
    }

    /// Tells long-polling stations to look again.
    fn master_written(&self) {
        self.master_written.notify_waiters();
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs `f` on the database on a blocking thread.
    async fn with_db<T, F>(&self, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db) -> T + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a half-written transaction behind (it
            // rolls back on drop), so the connection is still sound.
            let mut guard = db.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| Failure::internal(format!("database task failed: {e}")))
    }
}

/// Every `(method, path)` the router serves. The OpenAPI document must describe exactly these, and
/// `router()` must route exactly these: tests hold all three together (the document, this list,
/// and the route calls in `router()`, read from this file's source).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/health"),
    ("POST", "/api/v1/stations/{station}/events"),
    ("GET", "/api/v1/stations/{station}/changes"),
    ("GET", "/api/v1/work-orders"),
    ("GET", "/api/v1/work-orders/{id}"),
    ("POST", "/api/v1/work-orders/{id}/hold"),
    ("POST", "/api/v1/work-orders/{id}/release"),
    ("POST", "/api/v1/work-orders/{id}/cancel"),
    ("POST", "/api/v1/work-orders/{id}/close"),
    ("POST", "/api/v1/work-orders/{id}/dispatch"),
    ("GET", "/api/v1/lots/{id}/genealogy"),
    ("POST", "/api/v1/lots/{id}/hold"),
    ("POST", "/api/v1/lots/{id}/release"),
    ("POST", "/api/v1/import/{kind}"),
    ("GET", "/api/v1/kpi/oee"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/lines/{line}/overview"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/quality/pareto"),
    ("GET", "/api/v1/quality/holds"),
    ("GET", "/api/v1/quality/ncrs"),
    ("GET", "/api/v1/quality/yield"),
];

pub fn router(state: AppState) -> Router {
    let limiter = Arc::clone(&state.auth_limiter);
    let clock = Arc::clone(&state.clock);
    // The routes that check a token come first: the failed-token limit wraps exactly those.
    Router::new()
        .route("/api/v1/stations/{station}/events", post(post_events))
        .route("/api/v1/stations/{station}/changes", get(get_changes))
        .route(
            "/api/v1/work-orders/{id}/hold",
            post(work_orders::post_hold),
        )
        .route(
            "/api/v1/work-orders/{id}/release",
            post(work_orders::post_release),
        )
        .route(
            "/api/v1/work-orders/{id}/cancel",
            post(work_orders::post_cancel),
        )
        .route(
            "/api/v1/work-orders/{id}/close",
            post(work_orders::post_close),
        )
        .route(
            "/api/v1/work-orders/{id}/dispatch",
            post(work_orders::post_dispatch),
        )
        .route("/api/v1/lots/{id}/hold", post(post_lot_hold))
        .route("/api/v1/lots/{id}/release", post(post_lot_release))
        .route("/api/v1/import/{kind}", post(post_import))
        .route_layer(axum::middleware::from_fn(move |request, next| {
            super::auth_limit::guard(Arc::clone(&limiter), Arc::clone(&clock), request, next)
        }))
        .route("/api/v1/health", get(health))
        .route("/api/v1/work-orders", get(work_orders::get_work_orders))
        .route("/api/v1/work-orders/{id}", get(get_work_order))
        .route("/api/v1/lots/{id}/genealogy", get(get_genealogy))
        .route("/api/v1/kpi/oee", get(get_oee))
        .route("/api/v1/quality/pareto", get(get_pareto))
        .route("/api/v1/quality/holds", get(quality::get_holds))
        .route("/api/v1/quality/ncrs", get(quality::get_ncrs))
        .route("/api/v1/quality/yield", get(quality::get_yield))
        .route("/api/v1/openapi.json", get(get_openapi))
        .route("/metrics", get(get_metrics))
        .route("/api/v1/lines/{line}/overview", get(get_line_overview))
        .route("/api/v1/events", get(get_events))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// An error answer: a status and an [`ApiError`] body.
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    body: ApiError,
}

impl Failure {
    fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Failure {
            status,
            body: ApiError {
                error: error.into(),
                expected_seq: None,
            },
        }
    }

    fn internal(error: impl Into<String>) -> Self {
        let failure = Failure::new(StatusCode::INTERNAL_SERVER_ERROR, error);
        tracing::error!(error = %failure.body.error, "central request failed");
        failure
    }
}

impl From<DbError> for Failure {
    fn from(error: DbError) -> Self {
        Failure::internal(format!("database: {error}"))
    }
}

impl From<IngestError> for Failure {
    fn from(error: IngestError) -> Self {
        let text = error.to_string();
        match error {
            IngestError::Gap { expected, .. } => Failure {
                status: StatusCode::CONFLICT,
                body: ApiError {
                    error: text,
                    expected_seq: Some(expected),
                },
            },
            IngestError::Tamper { .. } => {
                tracing::warn!(error = %text, "refused a re-sent event that differs from the stored one");
                Failure::new(StatusCode::CONFLICT, text)
            }
            IngestError::WrongStation { .. }
            | IngestError::SeqZero { .. }
            | IngestError::Chain(_) => {
                tracing::warn!(error = %text, "refused an invalid batch");
                Failure::new(StatusCode::UNPROCESSABLE_ENTITY, text)
            }
            IngestError::Db(error) => Failure::from(error),
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The bearer token of a request, if it carries one.
fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
        .filter(|token| !token.is_empty())
}

/// Checks that the bearer token belongs to `station`: 401 when missing or unknown, 403 when it is
/// another station's.
async fn authorize(state: &AppState, headers: &HeaderMap, station: &str) -> Result<(), Failure> {
    let token = bearer(headers)
        .ok_or_else(|| Failure::new(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
    let token_hash = super::hash_token(&token);
    let owner = state
        .with_db(move |db| db.station_for_token_hash(&token_hash))
        .await??;
    match owner {
        None => Err(Failure::new(
            StatusCode::UNAUTHORIZED,
            "unknown station token",
        )),
        Some(owner) if owner != station => {
            tracing::warn!(%owner, %station, "a station token was used for another station");
            Err(Failure::new(
                StatusCode::FORBIDDEN,
                format!("this token belongs to station {owner}, not {station}"),
            ))
        }
        Some(_) => {
            state.metrics.seen(station, state.clock.now());
            Ok(())
        }
    }
}

/// A gzip body, unpacked to at most [`MAX_BODY_BYTES`]: a small body that unpacks to gigabytes
/// is refused, not followed.
fn gunzip(body: &[u8]) -> Result<Bytes, Failure> {
    use std::io::Read as _;
    let mut unpacked = Vec::new();
    let limit = u64::try_from(MAX_BODY_BYTES).unwrap_or(u64::MAX);
    flate2::read::GzDecoder::new(body)
        .take(limit + 1)
        .read_to_end(&mut unpacked)
        .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, format!("not valid gzip: {e}")))?;
    if unpacked.len() > MAX_BODY_BYTES {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the batch unpacks to more than {MAX_BODY_BYTES} bytes"),
        ));
    }
    Ok(Bytes::from(unpacked))
}

async fn ingest_events(
    State(state): State<AppState>,
    Path(station): Path<String>,
    request: axum::extract::Request,
) -> Result<Json<BatchAck>, Failure> {
    // Authenticate on the headers alone, before reading a byte of what the sender wrote.
    authorize(&state, request.headers(), &station).await?;
    let encoding = request
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    let body: Bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("cannot read the batch (at most {MAX_BODY_BYTES} bytes): {e}"),
            )
        })?;
    let body = match encoding.as_deref() {
        None | Some("identity") => body,
        Some("gzip") => gunzip(&body)?,
        Some(other) => {
            return Err(Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("content encoding {other:?}: send the batch as gzip or plain JSON"),
            ));
        }
    };
    let batch: EventBatch = serde_json::from_slice(&body).map_err(|e| {
        let status = if e.is_data() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        Failure::new(status, format!("invalid event batch: {e}"))
    })?;
    if batch.events.len() > MAX_BATCH_EVENTS {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "a batch holds at most {MAX_BATCH_EVENTS} events, this one {}",
                batch.events.len()
            ),
        ));
    }
    let station = StationId::new(station);
    let count = batch.events.len();
    let received_at = state.clock.now();
    let mut ack = state
        .with_db(move |db| {
            let meta = super::db::backlog::BatchMeta {
                sent_at: batch.sent_at,
                station_head: batch.station_head,
            };
            db.ingest_with(&station, &batch.events, &meta, received_at)
        })
        .await??;
    // Stamped as late as possible: stations take the midpoint of their round trip as this moment.
    ack.server_time = state.clock.now();
    tracing::debug!(count, acked_through = ack.acked_through, "ingested a batch");
    Ok(Json(ack))
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    since: Option<u64>,
    limit: Option<u64>,
    /// Long-poll: seconds to wait for a change when there is none yet (at most [`MAX_WAIT`]).
    wait: Option<u64>,
}

/// The longest a long-poll is held open: under common proxies' idle timeouts.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// How often a waiting long-poll looks again on its own: master data written by another process
/// (`takt central import`, `... work-order hold` on the database file) wakes nobody here.
const WAIT_RECHECK: Duration = Duration::from_secs(1);

async fn get_changes(
    State(state): State<AppState>,
    Path(station): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ChangesQuery>, QueryRejection>,
) -> Result<Json<ChangePage>, Failure> {
    authorize(&state, &headers, &station).await?;
    let Query(query) = query.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let since = query.since.unwrap_or(0);
    let limit = query
        .limit
        .unwrap_or(DEFAULT_CHANGES_LIMIT)
        .clamp(1, MAX_CHANGES_LIMIT);
    let station = StationId::new(station);
    let wait = Duration::from_secs(query.wait.unwrap_or(0)).min(MAX_WAIT);
    let started = tokio::time::Instant::now();
    let deadline = started + wait;
    // The newest version this poll has looked at (a page's cursor is at least that).
    let mut seen = since;
    let mut closing = state.closing.clone();
    let mut watch_closing = true;
    let mut first = true;
    loop {
        // Registered before the look, so a write between the look and the wait still wakes it.
        let written = state.master_written.notified();
        let now = state.clock.now();
        let lookup = station.clone();
        // Woken or rechecking, a waiting poll first asks only whether anything is newer than what
        // it last saw: many waiting stations must not each rerun their query under the one lock.
        let look = first;
        first = false;
        let mut page = state
            .with_db(move |db| -> Result<Option<ChangePage>, DbError> {
                if !look && db.newest_master_version()? <= seen {
                    return Ok(None);
                }
                db.changes(&lookup, since, limit, now).map(Some)
            })
            .await??
            .unwrap_or_else(|| ChangePage {
                changes: Vec::new(),
                cursor: seen,
                more: false,
                server_time: now,
                waited_ms: 0,
            });
        seen = page.cursor;
        let waited = started.elapsed();
        if !page.changes.is_empty() || tokio::time::Instant::now() >= deadline || *closing.borrow()
        {
            page.server_time = state.clock.now();
            page.waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
            return Ok(Json(page));
        }
        let recheck = (tokio::time::Instant::now() + WAIT_RECHECK).min(deadline);
        tokio::select! {
            _ = written => {}
            _ = tokio::time::sleep_until(recheck) => {}
            changed = closing.changed(), if watch_closing => {
                // No sender (a state built without a server): nothing will ever close it.
                watch_closing = changed.is_ok();
            }
        }
    }
}

/// Checks for an admin bearer token (`takt central admin add NAME`); answers who it is.
async fn authorize_admin(state: &AppState, headers: &HeaderMap) -> Result<String, Failure> {
    let token = bearer(headers)
        .ok_or_else(|| Failure::new(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
    let token_hash = super::hash_token(&token);
    state
        .with_db(move |db| db.admin_for_token_hash(&token_hash))
        .await??
        .ok_or_else(|| {
            Failure::new(
                StatusCode::UNAUTHORIZED,
                "not an admin token (a station's token cannot hold or release lots)",
            )
        })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldRequest {
    reason: String,
}

/// The lot after a hold or release, and whether it changed (a repeated hold changes nothing).
#[derive(Debug, serde::Serialize)]
struct LotStatusAnswer {
    lot: String,
    status: crate::domain::LotStatus,
    reason: Option<String>,
    changed: bool,
}

async fn post_lot_hold(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<HoldRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<LotStatusAnswer>, Failure> {
    let admin = authorize_admin(&state, &headers).await?;
    let Json(request) = body.map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("expected {{\"reason\": \"...\"}}: {}", e.body_text()),
        )
    })?;
    let reason = request.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "say why the lot is held: reason must not be empty",
        ));
    }
    tracing::info!(%admin, lot = %id, %reason, "lot hold by API");
    set_hold(&state, id, Some(reason)).await
}

async fn post_lot_release(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<LotStatusAnswer>, Failure> {
    let admin = authorize_admin(&state, &headers).await?;
    tracing::info!(%admin, lot = %id, "lot release by API");
    set_hold(&state, id, None).await
}

async fn set_hold(
    state: &AppState,
    id: String,
    reason: Option<String>,
) -> Result<Json<LotStatusAnswer>, Failure> {
    let now = state.clock.now();
    let lot = LotId::from(id.as_str());
    let outcome = state
        .with_db(move |db| db.set_lot_hold(&lot, reason.as_deref(), now))
        .await?
        .map_err(|error| match error {
            DbError::UnknownLot(_) => {
                Failure::new(StatusCode::NOT_FOUND, format!("central knows no lot {id}"))
            }
            other => Failure::from(other),
        })?;
    state.master_written();
    Ok(Json(LotStatusAnswer {
        lot: outcome.lot.id.to_string(),
        status: outcome.lot.status,
        reason: outcome.lot.status_reason.clone(),
        changed: outcome.version.is_some(),
    }))
}

/// What an import wrote (`imported`) and found already so (`unchanged`).
#[derive(Debug, serde::Serialize)]
struct ImportAnswer {
    kind: String,
    imported: u64,
    unchanged: u64,
}

/// A refused import: every problem with its CSV line or JSON index; nothing was written.
#[derive(Debug, serde::Serialize)]
struct ImportRefusal {
    error: String,
    errors: Vec<ImportError>,
}

/// ERP import of one kind of master data, all or nothing (see [`super::import`]): a JSON array,
/// or CSV with `Content-Type: text/csv`. Needs an admin token.
async fn post_import(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, Failure> {
    // Authenticate on the headers alone, before reading the body.
    let admin = authorize_admin(&state, request.headers()).await?;
    let kind = ImportKind::parse(&kind).ok_or_else(|| {
        let kinds: Vec<&str> = ImportKind::ALL.iter().map(|kind| kind.name()).collect();
        Failure::new(
            StatusCode::NOT_FOUND,
            format!("no import of {kind:?}: one of {}", kinds.join(", ")),
        )
    })?;
    let media = request.headers().get(header::CONTENT_TYPE).map(|value| {
        let value = value.to_str().unwrap_or("?");
        value
            .split(';')
            .next()
            .unwrap_or(value)
            .trim()
            .to_ascii_lowercase()
    });
    let format = match media.as_deref() {
        None | Some("application/json") => ImportFormat::Json,
        Some("text/csv") => ImportFormat::Csv,
        Some(other) => {
            return Err(Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("content type {other:?}: send application/json (an array) or text/csv"),
            ));
        }
    };
    let body: Bytes = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|e| {
            Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("cannot read the import (at most {MAX_BODY_BYTES} bytes): {e}"),
            )
        })?;
    let now = state.clock.now();
    let result = state
        .with_db(move |db| super::import_bytes(db, kind, format, &body, now))
        .await??;
    match result {
        super::ImportResult::Done(counts) => {
            state.master_written();
            tracing::info!(%admin, %kind, imported = counts.imported, unchanged = counts.unchanged, "import by API");
            Ok(Json(ImportAnswer {
                kind: kind.name().to_owned(),
                imported: counts.imported,
                unchanged: counts.unchanged,
            })
            .into_response())
        }
        super::ImportResult::Refused(errors) => {
            let first = errors
                .first()
                .map(|error| error.describe(kind.name()))
                .unwrap_or_default();
            tracing::warn!(%admin, %kind, problems = errors.len(), "import refused");
            Ok((
                StatusCode::BAD_REQUEST,
                Json(ImportRefusal {
                    error: format!(
                        "nothing imported: {} problem(s), the first: {first}",
                        errors.len()
                    ),
                    errors,
                }),
            )
                .into_response())
        }
    }
}

async fn get_work_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<WorkOrderReport>, Failure> {
    let lookup = id.clone();
    let report = state
        .with_db(move |db| db.work_order_report(&lookup))
        .await??;
    report
        .map(Json)
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, format!("unknown work order {id}")))
}

#[derive(Debug, Deserialize)]
struct GenealogyQuery {
    #[serde(default)]
    direction: TraceDirection,
    depth: Option<u32>,
}

/// A plant query like work-order progress: read-only, so no station token is asked for.
async fn get_genealogy(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<GenealogyQuery>, QueryRejection>,
) -> Result<Json<Genealogy>, Failure> {
    let Query(query) = query.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let depth = query.depth.unwrap_or(MAX_GENEALOGY_DEPTH);
    let lot = LotId::new(id.clone());
    let genealogy = state
        .with_db(move |db| db.genealogy(&lot, query.direction, depth))
        .await??;
    genealogy
        .map(Json)
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, format!("unknown lot {id}")))
}

impl From<KpiError> for Failure {
    fn from(error: KpiError) -> Self {
        let text = error.to_string();
        match error {
            KpiError::UnknownStation(_)
            | KpiError::UnknownLine(_)
            | KpiError::Period(PeriodError::NoShiftNow { .. }) => {
                Failure::new(StatusCode::NOT_FOUND, text)
            }
            KpiError::Period(_) => Failure::new(StatusCode::BAD_REQUEST, text),
            KpiError::Db(error) => Failure::from(error),
        }
    }
}

/// ISO 22400-2 KPIs of a station or a line over a shift, a day or a window, from the ingested
/// events. A plant query: no station token asked for.
async fn get_oee(
    State(state): State<AppState>,
    query: Result<Query<OeeParams>, QueryRejection>,
) -> Result<Json<OeeReport>, Failure> {
    let Query(params) = query.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let request = params
        .request()
        .map_err(|message| Failure::new(StatusCode::BAD_REQUEST, message))?;
    let calendar = Arc::clone(&state.calendar);
    let now = state.clock.now();
    let report = state
        .with_db(move |db| kpi::oee(db, &calendar, &request, now))
        .await??;
    Ok(Json(report))
}

#[derive(Debug, serde::Deserialize)]
struct ParetoParams {
    by: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Defects found at inspection, largest first: by code (default), product, station or operation,
/// over [from, to) (RFC 3339); without a window, the last 7 days up to now.
async fn get_pareto(
    State(state): State<AppState>,
    query: Result<Query<ParetoParams>, QueryRejection>,
) -> Result<Json<Pareto>, Failure> {
    let Query(params) = query.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let bad = |message: String| Failure::new(StatusCode::BAD_REQUEST, message);
    let by = match params.by.as_deref() {
        None => ParetoBy::Code,
        Some(text) => ParetoBy::parse(text).ok_or_else(|| {
            bad(format!(
                "by={text:?}: group by code, product, station or operation"
            ))
        })?,
    };
    let instant = |name: &str, text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&chrono::Utc))
            .map_err(|e| bad(format!("{name}={text:?} is not an RFC 3339 time: {e}")))
    };
    let now = state.clock.now();
    let to = params
        .to
        .as_deref()
        .map(|text| instant("to", text))
        .transpose()?
        .unwrap_or(now);
    let from = params
        .from
        .as_deref()
        .map(|text| instant("from", text))
        .transpose()?
        .unwrap_or(to - chrono::Duration::days(7));
    if from >= to {
        return Err(bad(format!("from ({from}) must be before to ({to})")));
    }
    let pareto = state
        .with_db(move |db| db.defect_pareto(by, from, to))
        .await??;
    Ok(Json(pareto))
}

/// Middleware: the standard `Date` header from central's clock on every answer, errors included
/// (hyper would stamp the host's clock; one it finds set, it keeps).
pub async fn stamp_date(
    clock: Arc<dyn Clock>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let date = clock.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = header::HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

/// [`ingest_events`], counted in `takt_central_batches_total` by outcome once the station is
/// authenticated (a refused token is not counted: its station name is the caller's word).
async fn post_events(
    State(state): State<AppState>,
    Path(station): Path<String>,
    request: axum::extract::Request,
) -> Result<Json<BatchAck>, Failure> {
    let result = ingest_events(State(state.clone()), Path(station.clone()), request).await;
    if result.is_ok() {
        // An output made here may be a new lot record for the next operation's station.
        state.master_written();
    }
    let outcome = match &result {
        Ok(_) => Some(BatchOutcome::Acked),
        Err(failure) => match failure.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => None,
            StatusCode::CONFLICT if failure.body.expected_seq.is_some() => Some(BatchOutcome::Gap),
            StatusCode::CONFLICT => Some(BatchOutcome::Tamper),
            status if status.is_server_error() => Some(BatchOutcome::Error),
            _ => Some(BatchOutcome::Invalid),
        },
    };
    if let Some(outcome) = outcome {
        state.metrics.count_batch(&station, outcome);
    }
    result
}

/// Prometheus text format. Unauthenticated, like the plant queries: central listens on the plant
/// network, and scrapers seldom send a token.
async fn get_metrics(State(state): State<AppState>) -> Result<Response, Failure> {
    let stations = state
        .with_db(|db| -> Result<_, DbError> {
            let mut stats = db.station_stats()?;
            // Two reads: a station registered between them is matched by id, not by position.
            let backlogs: std::collections::HashMap<String, _> = db
                .station_backlogs()?
                .into_iter()
                .map(|backlog| (backlog.station.clone(), backlog))
                .collect();
            for stats in &mut stats {
                if let Some(backlog) = backlogs.get(&stats.station) {
                    stats.reported_head = backlog.reported_head;
                    stats.historical = backlog.historical;
                    stats.quarantined = backlog.quarantined;
                }
            }
            Ok(stats)
        })
        .await??;
    let body = state.metrics.render(&stations, state.clock.now());
    Ok(([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response())
}

/// The OpenAPI document of this API (`src/central/openapi.json`).
async fn get_openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi::OPENAPI_JSON,
    )
        .into_response()
}

/// Every station of a line now: machine state, active work order, queue, WIP, last cycle, link.
/// A plant query: no token asked for.
async fn get_line_overview(
    State(state): State<AppState>,
    Path(line): Path<String>,
) -> Result<Json<super::LineOverview>, Failure> {
    let now = state.clock.now();
    let metrics = Arc::clone(&state.metrics);
    let lookup = line.clone();
    let overview = state
        .with_db(move |db| {
            db.line_overview(&lookup, now, &|station: &str| metrics.last_seen(station))
        })
        .await??;
    overview
        .map(Json)
        .ok_or_else(|| Failure::new(StatusCode::NOT_FOUND, format!("unknown line {line}")))
}

/// Default and largest page of raw events.
const DEFAULT_EVENTS_LIMIT: u64 = 100;
const MAX_EVENTS_LIMIT: u64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsParams {
    station: Option<String>,
    from: Option<String>,
    to: Option<String>,
    kind: Option<String>,
    after_seq: Option<u64>,
    limit: Option<u64>,
}

impl EventsParams {
    /// The query these parameters ask for, or what is wrong with them.
    fn query(self) -> Result<super::EventQuery, String> {
        let station = self
            .station
            .filter(|station| !station.trim().is_empty())
            .ok_or("give station=S")?;
        let time = |name: &str,
                    text: Option<String>|
         -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
            text.map(|text| {
                chrono::DateTime::parse_from_rfc3339(text.trim())
                    .map(|at| at.with_timezone(&chrono::Utc))
                    .map_err(|e| format!("{name}={text:?} is not an RFC 3339 time: {e}"))
            })
            .transpose()
        };
        let from = time("from", self.from)?;
        let to = time("to", self.to)?;
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return Err("from must be before to".into());
        }
        if let Some(kind) = &self.kind {
            // The event kinds are the variants of EventKind: serde names them all, or refuses.
            let probe = serde_json::json!({ "type": kind, "data": {} });
            if let Err(e) = serde_json::from_value::<crate::domain::EventKind>(probe)
                && e.to_string().contains("unknown variant")
            {
                return Err(format!("kind={kind:?} is no event kind: {e}"));
            }
        }
        let limit = self.limit.unwrap_or(DEFAULT_EVENTS_LIMIT);
        if !(1..=MAX_EVENTS_LIMIT).contains(&limit) {
            return Err(format!(
                "limit must be 1 to {MAX_EVENTS_LIMIT}, not {limit}"
            ));
        }
        Ok(super::EventQuery {
            station: StationId::new(station),
            from,
            to,
            kind: self.kind,
            after_seq: self.after_seq.unwrap_or(0),
            limit,
        })
    }
}

/// The raw events of a station, in seq order, by time and/or kind, paged. A plant query (for
/// auditors and analytics): no token asked for.
async fn get_events(
    State(state): State<AppState>,
    query: Result<Query<EventsParams>, QueryRejection>,
) -> Result<Json<super::EventPage>, Failure> {
    let Query(params) = query.map_err(|e| Failure::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let query = params
        .query()
        .map_err(|message| Failure::new(StatusCode::BAD_REQUEST, message))?;
    let station = query.station.clone();
    let page = state
        .with_db(move |db| {
            if db.station_known(&query.station)? {
                db.events_page(&query).map(Some)
            } else {
                Ok(None)
            }
        })
        .await??;
    page.map(Json).ok_or_else(|| {
        Failure::new(
            StatusCode::NOT_FOUND,
            format!("central knows no station {station}"),
        )
    })
}
