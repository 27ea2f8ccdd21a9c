//! The central backend: an axum HTTP server over its own SQLite file.
//!
//! Stations push their hash-chained event logs (`POST /api/v1/stations/{station}/events`) and pull
//! master data (`GET /api/v1/stations/{station}/changes`); plant users read work-order progress
//! (`GET /api/v1/work-orders/{id}`), lot genealogy (`GET /api/v1/lots/{id}/genealogy`) and ISO
//! 22400-2 KPIs per station or line and shift, day or window (`GET /api/v1/kpi/oee`). Ingest is
//! exactly-once: `(station, seq)` is unique, a re-sent event must match the stored one, and a batch
//! is acknowledged only after its commit. The lots stations register or make become master records
//! in the same transaction, so the next operation's station learns them at its next pull.
//! `GET /metrics` exposes ingest and per-station liveness to Prometheus ([`metrics`]), and
//! `GET /api/v1/openapi.json` describes every route ([`openapi`], [`ROUTES`]). Given a certificate
//! and key ([`TlsSettings`], `takt central --tls-cert --tls-key`) it serves HTTPS with rustls.
//!
//! ERP imports (`takt central import`, `POST /api/v1/import/{kind}`) are checked whole and written
//! all or nothing ([`import`]).
//!
//! Central owns the work-order lifecycle: hold, release, cancel, close and dispatch
//! (`takt central work-order`, `POST /api/v1/work-orders/{id}/...`); production a station reports
//! for a time the order was stopped is accepted and flagged for review.
//!
//! Admin functions (`add_station`, `seed_demo`, `verify_station_chain`, `set_lot_hold`,
//! `work_order_action`) work on the database file directly and may run while the server does (WAL
//! lets them share the file).

mod auth_limit;
mod db;
pub mod demo;
mod http;
pub mod import;
mod import_plans;
pub mod kpi;
pub mod metrics;
pub mod openapi;
mod tls;

pub use auth_limit::{MAX_FAILURES as AUTH_MAX_FAILURES, WINDOW as AUTH_WINDOW};
pub use db::ncrs::{NcrList, NcrRow, NcrStatus};
pub use db::plant::{
    ActiveOrder, EventPage, EventQuery, LastCycle, LineOverview, Link, MachineNow, StationOverview,
    Wip,
};
pub use db::quality::{Pareto, ParetoBy, ParetoRow};
pub use db::quality_holds::{HeldBy, Holds, OpenHold};
pub use db::work_orders::{WorkOrderAction, WorkOrderOutcome, WorkOrderSummary};
pub use db::yields::{OperationYield, YieldReport};
pub use db::{Db, DbError, IngestError, LotHoldOutcome, StationRow};
pub use http::{ROUTES, WorkOrderAnswer};
pub use kpi::{CalendarFileError, load_calendar};
pub use tls::TlsSettings;

use crate::clock::{Clock, SystemClock};
use crate::domain::shift::ShiftCalendar;
use crate::domain::{LotId, StationId};
use crate::store::{LogVerdict, VerifyReport};
use anyhow::Context;
use chrono::{NaiveDate, Utc};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentralConfig {
    pub db_path: PathBuf,
}

/// SHA-256 of a station token, lowercase hex: all central ever stores of a token.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates `station` (or rotates its token) and returns the new token. Only its hash is stored, so
/// this is the one chance to show it.
pub fn add_station(db_path: &Path, station_id: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        !station_id.is_empty()
            && station_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "station id {station_id:?} must be non-empty and use only letters, digits, '-', '_' and '.'"
    );
    let bytes: [u8; 32] = rand::random();
    let token = hex::encode(bytes);
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    db.set_station_token(
        &StationId::from(station_id),
        &hash_token(&token),
        Utc::now(),
    )
    .with_context(|| format!("storing the token of station {station_id}"))?;
    tracing::info!(station = station_id, "station token created");
    Ok(token)
}

/// Gives a registered station a new token and prints nothing: the old token stops working at
/// once. Refused for a station central does not know (register it with `add`).
pub fn rotate_station_token(db_path: &Path, station_id: &str) -> anyhow::Result<String> {
    let bytes: [u8; 32] = rand::random();
    let token = hex::encode(bytes);
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    let known = db
        .rotate_station_token(
            &StationId::from(station_id),
            &hash_token(&token),
            Utc::now(),
        )
        .with_context(|| format!("storing the new token of station {station_id}"))?;
    anyhow::ensure!(
        known,
        "central knows no station {station_id}: register it with `takt central station add {station_id}`"
    );
    tracing::info!(station = station_id, "station token rotated");
    Ok(token)
}

/// Creates (or replaces) an admin token for imports, holds and other admin endpoints, and
/// returns it: only its hash is kept.
pub fn add_admin_token(db_path: &Path, name: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        !name.trim().is_empty(),
        "give the admin token a name (who or what uses it), e.g. erp-import"
    );
    let bytes: [u8; 32] = rand::random();
    let token = hex::encode(bytes);
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    db.set_admin_token(name.trim(), &hash_token(&token), Utc::now())?;
    tracing::info!(name, "admin token created");
    Ok(token)
}

/// Revokes the admin token named `name`.
pub fn revoke_admin_token(db_path: &Path, name: &str) -> anyhow::Result<()> {
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    anyhow::ensure!(
        db.revoke_admin_token(name, Utc::now())?,
        "central has no admin token named {name}"
    );
    tracing::warn!(name, "admin token revoked");
    Ok(())
}

/// Revokes a station's token: its requests are refused; its events stay.
pub fn revoke_station(db_path: &Path, station_id: &str) -> anyhow::Result<()> {
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    let known = db
        .revoke_station(&StationId::from(station_id), Utc::now())
        .with_context(|| format!("revoking station {station_id}"))?;
    anyhow::ensure!(known, "central knows no station {station_id}");
    tracing::warn!(station = station_id, "station token revoked");
    Ok(())
}

/// The events set aside at ingest (stored, not applied), newest first.
pub fn quarantine(
    db_path: &Path,
    station: Option<&str>,
) -> anyhow::Result<Vec<crate::protocol::Quarantined>> {
    let db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    Ok(db.quarantine(station)?)
}

/// The registered stations, their tokens' state and what central last took from each.
pub fn list_stations(db_path: &Path) -> anyhow::Result<Vec<StationRow>> {
    let db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    Ok(db.stations()?)
}

/// Loads the demo plant (DEMO_PLANT.md) unless the database already holds master data.
pub fn seed_demo(db_path: &Path, today: NaiveDate) -> anyhow::Result<()> {
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    db.ensure_line(demo::LINE.0, demo::LINE.1, demo::STATIONS, Utc::now())
        .context("registering the demo line")?;
    if db.has_master_data()? {
        tracing::info!("central already holds master data; demo seed skipped");
        return Ok(());
    }
    db.upsert_master(&demo::master_records(today), Utc::now())
        .context("loading the demo master data")?;
    tracing::info!("demo plant loaded");
    Ok(())
}

/// Turns first-article gating of `product`'s inspection plan at `operation` on or off: a quality
/// engineer's decision, sent to the stations with the next changes like any master data. Errors when
/// there is no such plan.
pub fn set_first_article_gate(
    db_path: &Path,
    product: &str,
    operation: &str,
    gates: bool,
) -> anyhow::Result<()> {
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    let master = db.master_of_kinds(&["inspection_plan"])?;
    let key = (product.into(), operation.into());
    let mut plan = master
        .inspection_plans
        .get(&key)
        .cloned()
        .with_context(|| format!("no inspection plan for {product} at {operation}"))?;
    plan.first_article_gates = gates;
    db.upsert_master(
        &[crate::protocol::MasterRecord::InspectionPlan(plan)],
        Utc::now(),
    )
    .context("storing the plan")?;
    Ok(())
}

/// What `takt central import` did, or every problem of the file (then nothing was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportResult {
    Done(import::ImportCounts),
    Refused(Vec<import::ImportError>),
}

/// Imports `bytes` of `kind` into central's database, all or nothing (see [`import`]).
pub fn import_bytes(
    db: &mut Db,
    kind: import::ImportKind,
    format: import::Format,
    bytes: &[u8],
    now: chrono::DateTime<Utc>,
) -> Result<ImportResult, DbError> {
    Ok(
        match db.import_master(|catalog| import::prepare(kind, format, bytes, catalog), now)? {
            Ok(counts) => {
                tracing::info!(%kind, imported = counts.imported, unchanged = counts.unchanged, "import");
                ImportResult::Done(counts)
            }
            Err(errors) => ImportResult::Refused(errors),
        },
    )
}

/// Imports the file at `path` (`format` from its extension unless given) into the database at
/// `db_path`.
pub fn import_file(
    db_path: &Path,
    kind: import::ImportKind,
    path: &Path,
    format: Option<import::Format>,
) -> anyhow::Result<ImportResult> {
    let format = match format {
        Some(format) => format,
        None => import::Format::from_path(path).with_context(|| {
            format!(
                "cannot tell the format of {} from its name: give --format csv or --format json",
                path.display()
            )
        })?,
    };
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    Ok(import_bytes(&mut db, kind, format, &bytes, Utc::now())?)
}

/// Puts `lot` on hold with `reason` (`Some`) or releases it (`None`): a new version of its master
/// record, so every station refuses (or accepts) it after its next pull.
pub fn set_lot_hold(
    db_path: &Path,
    lot: &str,
    reason: Option<&str>,
) -> anyhow::Result<LotHoldOutcome> {
    if let Some(reason) = reason {
        anyhow::ensure!(
            !reason.trim().is_empty(),
            "say why the lot is held: --reason must not be empty"
        );
    }
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    let outcome = db.set_lot_hold(&LotId::from(lot), reason.map(str::trim), Utc::now())?;
    tracing::info!(lot, status = ?outcome.lot.status, version = ?outcome.version, "lot hold changed");
    Ok(outcome)
}

fn open_central(db_path: &Path) -> anyhow::Result<Db> {
    Db::open(db_path).with_context(|| format!("opening central database {}", db_path.display()))
}

/// Every operator central knows.
pub fn operators(db_path: &Path) -> anyhow::Result<Vec<crate::domain::Operator>> {
    Ok(open_central(db_path)?.operators()?)
}

/// One operator in a line of words, for `takt central operator list`. Never the verifier.
pub fn operator_line(operator: &crate::domain::Operator) -> String {
    let mut line = format!(
        "{:<10} {:<22} {:<24} {}",
        operator.badge,
        operator.name,
        operator.roles.join(";"),
        if operator.pin_verifier.is_some() {
            "PIN set"
        } else {
            "no PIN"
        }
    );
    if !operator.active {
        line.push_str(", disabled");
    }
    if let Some(last_day) = operator.valid_until {
        line.push_str(&format!(", valid until {last_day}"));
    }
    if let Some(at) = operator.revoked_at {
        line.push_str(&format!(
            ", REVOKED {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    line
}

/// Sets `badge`'s PIN at central: only its Argon2id verifier is stored.
pub fn set_operator_pin(
    db_path: &Path,
    badge: &str,
    pin: &crate::credential::Pin,
) -> anyhow::Result<Option<i64>> {
    let verifier = crate::credential::hash_pin(pin)?;
    Ok(open_central(db_path)?.set_operator_pin(&crate::domain::Badge::from(badge), &verifier)?)
}

/// Revokes `badge` from now.
pub fn revoke_operator(db_path: &Path, badge: &str) -> anyhow::Result<Option<i64>> {
    Ok(open_central(db_path)?.revoke_operator(&crate::domain::Badge::from(badge), Utc::now())?)
}

/// Station settings to change; `None` leaves one as it is.
#[derive(Debug, Clone, Default)]
pub struct StationSettings {
    /// How long it may go on without central (0: no limit).
    pub offline_grace_minutes: Option<u32>,
    /// After how many minutes of waiting its events count as historical.
    pub historical_after_minutes: Option<u32>,
    /// How long a badge stays locked after too many wrong PINs.
    pub login_lockout_minutes: Option<u32>,
    /// Idle time that logs the operator out (0: never).
    pub idle_logout_minutes: Option<u32>,
    /// The signature-grade actions that need a second person's signature there (names as in
    /// [`crate::domain::permission::Action::name`]; empty: none do).
    pub second_signer_for: Option<Vec<String>>,
}

/// Changes `station`'s settings; the station learns them at its next pull. Returns the config and
/// its new version (`None`: it already was so).
pub fn set_station_config(
    db_path: &Path,
    station: &str,
    settings: StationSettings,
) -> anyhow::Result<(crate::domain::StationConfig, Option<u64>)> {
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    let mut config = db.station_config(&StationId::from(station))?;
    let StationSettings {
        offline_grace_minutes,
        historical_after_minutes,
        login_lockout_minutes,
        idle_logout_minutes,
        second_signer_for,
    } = settings;
    if let Some(minutes) = offline_grace_minutes {
        config.offline_grace_minutes = minutes;
    }
    if let Some(minutes) = historical_after_minutes {
        config.historical_after_minutes = minutes;
    }
    if let Some(minutes) = login_lockout_minutes {
        anyhow::ensure!(minutes >= 1, "a badge lockout lasts at least 1 minute");
        config.login_lockout_minutes = minutes;
    }
    if let Some(minutes) = idle_logout_minutes {
        config.idle_logout_minutes = minutes;
    }
    if let Some(names) = second_signer_for {
        let mut actions = Vec::new();
        for name in names
            .iter()
            .map(|name| name.trim())
            .filter(|n| !n.is_empty() && *n != "none")
        {
            let signed: Vec<&str> = crate::domain::permission::Action::ALL
                .into_iter()
                .filter(|action| action.needs_signature())
                .map(|action| action.name())
                .collect();
            match crate::domain::permission::Action::parse(name) {
                Some(action) if action.needs_signature() => actions.push(action.name().to_owned()),
                _ => anyhow::bail!(
                    "{name:?} is not a signature-grade action; a second signer can be asked for {}",
                    signed.join(", ")
                ),
            }
        }
        actions.sort();
        actions.dedup();
        config.second_signer_for = actions;
    }
    let version = db.set_station_config(&config)?;
    Ok((config, version))
}

/// Holds, releases, cancels, closes or dispatches a work order from the command line.
pub fn work_order_action(
    db_path: &Path,
    id: &str,
    action: &WorkOrderAction,
) -> anyhow::Result<WorkOrderOutcome> {
    let mut db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    let outcome = db.work_order_action(
        &crate::domain::WorkOrderId::from(id),
        action,
        "cli",
        Utc::now(),
    )?;
    tracing::info!(work_order = id, action = action.name(), version = ?outcome.version, "work order changed");
    Ok(outcome)
}

/// Every work order central has (or those of one status), most urgent first.
pub fn list_work_orders(
    db_path: &Path,
    status: Option<crate::domain::WorkOrderStatus>,
) -> anyhow::Result<Vec<WorkOrderSummary>> {
    let db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    Ok(db.work_orders(status)?)
}

/// Re-walks the chain central holds for `station` and reports the first link that does not hold.
pub fn verify_station_chain(db_path: &Path, station: &str) -> anyhow::Result<VerifyReport> {
    let db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    Ok(db.verify_chain(&StationId::from(station))?)
}

/// [`verify_station_chain`], and the signatures of the station's log when its chain holds.
pub fn verify_station_log(db_path: &Path, station: &str) -> anyhow::Result<LogVerdict> {
    let db = Db::open(db_path)
        .with_context(|| format!("opening central database {}", db_path.display()))?;
    Ok(db.verify_log(&StationId::from(station))?)
}

/// Serves the API on `listener` until `shutdown` resolves, then finishes in-flight requests. KPIs
/// per shift follow the demo plant's calendar; see [`serve_with_calendar`].
pub async fn serve(
    listener: TcpListener,
    db_path: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_calendar(listener, db_path, ShiftCalendar::default(), shutdown).await
}

/// [`serve`] with the plant's shift calendar (`takt central --calendar FILE`).
pub async fn serve_with_calendar(
    listener: TcpListener,
    db_path: &Path,
    calendar: ShiftCalendar,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_tls(listener, db_path, calendar, None, shutdown).await
}

/// [`serve_with_calendar`], over HTTPS when `tls` is given (`takt central --tls-cert --tls-key`).
/// A client whose TLS handshake fails is dropped; the server carries on.
pub async fn serve_with_tls(
    listener: TcpListener,
    db_path: &Path,
    calendar: ShiftCalendar,
    tls: Option<TlsSettings>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = open_db(db_path.to_owned()).await?;
    serve_db(listener, db, calendar, Arc::new(SystemClock), tls, shutdown).await
}

async fn open_db(db_path: PathBuf) -> anyhow::Result<Db> {
    tokio::task::spawn_blocking(move || {
        Db::open(&db_path)
            .with_context(|| format!("opening central database {}", db_path.display()))
    })
    .await
    .context("the database open task failed")?
}

async fn serve_db(
    listener: TcpListener,
    db: Db,
    calendar: ShiftCalendar,
    clock: Arc<dyn Clock>,
    tls: Option<TlsSettings>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr().ok();
    tracing::info!(?addr, https = tls.is_some(), "central listening");
    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        closing_tx.send_replace(true);
    };
    let state = http::AppState::new(db, calendar)
        .with_clock(Arc::clone(&clock))
        .with_closing(closing);
    let app = http::router(state).layer(axum::middleware::from_fn(move |request, next| {
        http::stamp_date(Arc::clone(&clock), request, next)
    }));
    // The peer's address is what failed token checks are counted by.
    let app = app.into_make_service_with_connect_info::<auth_limit::Peer>();
    match tls {
        Some(tls) => {
            let listener =
                tls::TlsListener::new(listener, &tls).context("reading the bound address")?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
                .context("central HTTPS server")?;
        }
        None => axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .context("central HTTP server")?,
    }
    tracing::info!(?addr, "central stopped");
    Ok(())
}

/// A central running on a background task (tests, `takt demo`). Dropping the handle also stops it.
pub struct CentralHandle {
    addr: SocketAddr,
    https: bool,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl CentralHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (`https://` when it serves TLS).
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %format!("{error:#}"), "central ended with an error")
            }
            Err(error) => tracing::error!(%error, "central task failed"),
        }
    }
}

/// Binds `listen` (port 0 picks a free one), opens the database and serves in the background,
/// with the demo plant's shift calendar.
pub async fn spawn(listen: SocketAddr, db_path: PathBuf) -> anyhow::Result<CentralHandle> {
    spawn_with_calendar(listen, db_path, ShiftCalendar::default()).await
}

/// [`spawn`] with the plant's shift calendar.
pub async fn spawn_with_calendar(
    listen: SocketAddr,
    db_path: PathBuf,
    calendar: ShiftCalendar,
) -> anyhow::Result<CentralHandle> {
    spawn_with_clock(listen, db_path, calendar, Arc::new(SystemClock)).await
}

/// [`spawn_with_calendar`] with central's clock: the `server_time` and `Date` of every station
/// answer, the time ingest records as received, and "now" for KPIs. Tests set it wrong on purpose.
pub async fn spawn_with_clock(
    listen: SocketAddr,
    db_path: PathBuf,
    calendar: ShiftCalendar,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<CentralHandle> {
    spawn_inner(listen, db_path, calendar, clock, None).await
}

/// [`spawn`] over HTTPS with `tls`; [`CentralHandle::url`] then says `https://`.
pub async fn spawn_tls(
    listen: SocketAddr,
    db_path: PathBuf,
    tls: TlsSettings,
) -> anyhow::Result<CentralHandle> {
    spawn_inner(
        listen,
        db_path,
        ShiftCalendar::default(),
        Arc::new(SystemClock),
        Some(tls),
    )
    .await
}

async fn spawn_inner(
    listen: SocketAddr,
    db_path: PathBuf,
    calendar: ShiftCalendar,
    clock: Arc<dyn Clock>,
    tls: Option<TlsSettings>,
) -> anyhow::Result<CentralHandle> {
    let https = tls.is_some();
    let db = open_db(db_path).await?;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve_db(listener, db, calendar, clock, tls, async move {
        // A dropped handle stops the server too.
        let _ = stopped.await;
    }));
    Ok(CentralHandle {
        addr,
        https,
        stop: Some(stop),
        task,
    })
}
