//! The station's sync worker: pushes the event log to central and pulls master data from it.
//!
//! The log is the outbox. The worker reads it past the acked cursor through its own read-only
//! connection, posts one batch at a time, and reports every outcome to the station core, which
//! persists acks, rewinds and master-data pages. The worker itself never writes the station
//! database; it keeps its cursors in memory, seeded from the store at start.
//!
//! Failure policy: 5xx, timeouts and network errors mean "central is offline" and the same batch is
//! retried after capped, jittered backoff. Other 4xx answers mean "central refused this" and are
//! reported with central's words, then retried after backoff too: events are never dropped and the
//! cursor never moves past an event central did not acknowledge.
//!
//! Time: every answer carries central's `server_time`; the worker estimates central's clock minus
//! the station's (see [`offset`]) and reports it, so the screen can warn when they differ by more
//! than 2 s. Events keep the station's wall time as recorded; ordering comes from `seq`.

pub mod offset;

use crate::domain::StationId;
use crate::protocol::{ApiError, BatchAck, ChangePage, MAX_BATCH_EVENTS};
use crate::store::{self, StoreError};
use crate::tls_trust::{TrustedCa, client_builder};
use chrono::{DateTime, Utc};
use offset::{OffsetEstimator, Sample};
use rand::Rng;
use reqwest::StatusCode;
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Largest page of master-data changes asked for at once.
const CHANGES_PAGE: u64 = 500;

/// A new clock-offset estimate is reported when it moved at least this far from the last one.
const OFFSET_REPORT_STEP_MS: i64 = 50;

#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// Base URL of central, e.g. `http://central.plant:8080`.
    pub central_url: String,
    pub token: crate::secret::Secret,
    pub station: StationId,
    pub db_path: PathBuf,
    /// How often to look for new events when no append was signalled.
    pub push_interval: Duration,
    pub pull_interval: Duration,
    pub request_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// A plant CA to trust for an `https://` central, besides the system's roots
    /// (`[central] ca_file`).
    pub trusted_ca: Option<TrustedCa>,
    /// While nothing waits to be sent, hold a pull open at central this long so a change (a hold,
    /// a cancel, a new order) arrives the moment it is made; none: pull every `pull_interval` only.
    pub long_poll: Option<Duration>,
}

impl SyncConfig {
    /// A configuration with the default intervals: 1 s idle check, 5 s pull, 25 s long-poll while
    /// idle, 10 s request timeout, backoff from 500 ms up to 30 s.
    pub fn new(
        central_url: impl Into<String>,
        token: impl Into<crate::secret::Secret>,
        station: StationId,
        db_path: PathBuf,
    ) -> Self {
        SyncConfig {
            central_url: central_url.into(),
            token: token.into(),
            station,
            db_path,
            push_interval: Duration::from_secs(1),
            pull_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            trusted_ca: None,
            long_poll: Some(Duration::from_secs(25)),
        }
    }
}

/// How the station sees central.
#[derive(Debug, Clone)]
pub enum CentralLink {
    Unknown,
    Online,
    Offline { error: String, retry_in: Duration },
}

/// What the worker tells the station core.
#[derive(Debug, Clone)]
pub enum SyncReport {
    /// Central committed everything through `acked_through`; persist it.
    Acked(BatchAck),
    /// Central expects `expected_seq` next (it lacks events we thought acked); persist the rewind.
    Rewind {
        expected_seq: u64,
    },
    /// A page of master data; apply it and its cursor in one transaction.
    Changes(ChangePage),
    Link(CentralLink),
    /// Central refused a request (bad token, invalid event, ...); its words are in `error`.
    Rejected {
        error: String,
    },
    /// Central's clock minus this station's, in milliseconds (positive: central is ahead). Sent on
    /// the first answer and whenever the estimate moves by 50 ms or more.
    ClockOffset {
        offset_ms: i64,
    },
    /// Central answered a pull with nothing new, at `server_time`: the station is not on its own
    /// (the offline grace window counts from the last answer). Sent at most every
    /// [`HEARD_REPORT_EVERY`]; acks and pages of changes say it too.
    Heard {
        server_time: DateTime<Utc>,
    },
}

/// How often an empty pull is worth a write to the station's disk: the offline grace window is at
/// least minutes (see [`crate::domain::StationConfig`]).
pub const HEARD_REPORT_EVERY: Duration = Duration::from_secs(20);

/// Starts the worker. `appended` carries the last appended seq and changes on every append; the task
/// ends when `reports` is closed.
pub fn spawn_worker(
    config: SyncConfig,
    appended: watch::Receiver<u64>,
    reports: mpsc::Sender<SyncReport>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Some(mut worker) = Worker::start(config, appended, reports).await else {
            return;
        };
        worker.run().await;
        tracing::debug!("sync worker stopped");
    })
}

/// Whether the loop goes on.
enum Flow {
    Continue,
    Stop,
}

/// What a push attempt found.
enum Push {
    /// A batch was settled (acked or rewound); look again at once.
    Progress,
    /// Nothing past the cursor.
    CaughtUp,
    /// Failed; `push_not_before` says when to retry.
    Backoff,
    Stop,
}

/// How an HTTP exchange went wrong.
enum Failure {
    /// Central is unreachable or failing: retry the same request later.
    Transient(String),
    /// Central answered and refused.
    Refused { status: StatusCode, error: ApiError },
}

struct Worker {
    config: SyncConfig,
    base_url: String,
    client: reqwest::Client,
    conn: Arc<Mutex<Connection>>,
    appended: watch::Receiver<u64>,
    appended_open: bool,
    reports: mpsc::Sender<SyncReport>,
    /// Last seq central acknowledged.
    uplink: u64,
    /// Last master-data version received.
    downlink: u64,
    online: bool,
    push_failures: u32,
    pull_failures: u32,
    push_not_before: Instant,
    pull_due: Instant,
    offset: OffsetEstimator,
    reported_offset: Option<i64>,
    /// When an answer from central was last reported to the core (by the monotonic clock).
    reported_heard: Option<Instant>,
    /// No long-poll before this: central answered the last one at once, empty.
    long_poll_not_before: Instant,
    /// The batch after the one in flight, being read and packed meanwhile.
    next_batch: Option<Packing>,
}

/// A batch read from the log and packed, ready to post.
struct Packed {
    first: u64,
    last: u64,
    /// Gzip-compressed JSON of the batch.
    body: Vec<u8>,
}

/// A batch being packed on a blocking thread: the events after `after`.
struct Packing {
    after: u64,
    task: JoinHandle<Result<Option<Packed>, PackError>>,
}

#[derive(Debug, thiserror::Error)]
enum PackError {
    #[error("cannot read the event log: {0}")]
    Read(#[from] StoreError),
    #[error("cannot encode the batch: {0}")]
    Encode(#[from] std::io::Error),
    #[error("the log read task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A successful answer and when it was asked for.
struct Timed<T> {
    body: T,
    /// The station's wall time just before sending.
    sent_at: DateTime<Utc>,
    /// Until the answer's headers arrived, by the monotonic clock.
    round_trip: Duration,
}

impl Worker {
    /// Builds the client and opens the station database, retrying until both work. `None` when the
    /// reports channel closed meanwhile.
    async fn start(
        config: SyncConfig,
        appended: watch::Receiver<u64>,
        reports: mpsc::Sender<SyncReport>,
    ) -> Option<Worker> {
        let mut attempt = 0;
        let client = loop {
            match client_builder(config.trusted_ca.as_ref(), config.request_timeout).build() {
                Ok(client) => break client,
                Err(error) => {
                    let error = describe(&error);
                    tracing::error!(%error, "sync: cannot build the HTTP client");
                    attempt += 1;
                    let delay = backoff(&config, attempt);
                    // Said on the screen too (e.g. no CA certificates on this machine).
                    let offline = CentralLink::Offline {
                        error: format!("cannot set up the link to central: {error}"),
                        retry_in: delay,
                    };
                    if reports.send(SyncReport::Link(offline)).await.is_err() {
                        return None;
                    }
                    if !sleep_unless_closed(&reports, delay).await {
                        return None;
                    }
                }
            }
        };
        let (conn, status) = loop {
            let path = config.db_path.clone();
            let opened = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
                let conn = store::connect(&path, true)?;
                let status = store::sync_status(&conn)?;
                Ok((conn, status))
            })
            .await;
            match opened {
                Ok(Ok(opened)) => break opened,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "sync: cannot read the station database yet");
                }
                Err(error) => tracing::error!(%error, "sync: the database open task failed"),
            }
            attempt += 1;
            let delay = backoff(&config, attempt);
            if !sleep_unless_closed(&reports, delay).await {
                return None;
            }
        };
        let now = Instant::now();
        Some(Worker {
            base_url: config.central_url.trim_end_matches('/').to_owned(),
            client,
            conn: Arc::new(Mutex::new(conn)),
            appended,
            appended_open: true,
            reports,
            uplink: status.acked_through,
            downlink: status.downlink_cursor,
            online: false,
            push_failures: 0,
            pull_failures: 0,
            push_not_before: now,
            pull_due: now,
            offset: OffsetEstimator::default(),
            reported_offset: None,
            reported_heard: None,
            long_poll_not_before: now,
            next_batch: None,
            config,
        })
    }

    async fn run(&mut self) {
        loop {
            if Instant::now() >= self.pull_due
                && let Flow::Stop = self.pull().await
            {
                return;
            }
            let mut caught_up = false;
            if Instant::now() >= self.push_not_before {
                match self.push().await {
                    Push::Progress => continue,
                    Push::CaughtUp => caught_up = true,
                    Push::Backoff => {}
                    Push::Stop => return,
                }
            }
            if caught_up
                && self.online
                && self.pull_failures == 0
                && Instant::now() >= self.long_poll_not_before
                && let Some(wait) = self.config.long_poll
            {
                // Idle: wait on central's next change and on the next append at once. An append
                // drops the open pull (a GET, safe to repeat) so the event goes out first.
                let request = self.changes_request(Some(wait));
                let answer = tokio::select! {
                    answer = exchange::<ChangePage>(request) => Some(answer),
                    changed = self.appended.changed(), if self.appended_open => {
                        if changed.is_err() {
                            self.appended_open = false;
                        }
                        self.pull_due = Instant::now() + self.config.pull_interval;
                        None
                    }
                    _ = self.reports.closed() => return,
                };
                if let Some(answer) = answer {
                    // An empty answer not held open is a central (or a proxy) that does not
                    // long-poll: pull at the plain interval instead of asking again at once.
                    if answer.as_ref().is_ok_and(|timed| {
                        timed.body.changes.is_empty()
                            && Duration::from_millis(timed.body.waited_ms) < wait / 2
                    }) {
                        self.long_poll_not_before = Instant::now() + self.config.pull_interval;
                    }
                    match self.absorb_page(answer).await {
                        Pulled::More => self.pull_due = Instant::now(),
                        Pulled::Done(Flow::Stop) => return,
                        Pulled::Done(Flow::Continue) => {}
                    }
                }
                continue;
            }
            let push_wake = if caught_up {
                Instant::now() + self.config.push_interval
            } else {
                self.push_not_before
            };
            let wake = push_wake.min(self.pull_due);
            // An append only matters when caught up: otherwise we are backing off on purpose.
            let watch_appends = caught_up && self.appended_open;
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                changed = self.appended.changed(), if watch_appends => {
                    if changed.is_err() {
                        // The station core is gone; keep polling until reports close too.
                        self.appended_open = false;
                    }
                }
                _ = self.reports.closed() => return,
            }
        }
    }

    async fn report(&self, report: SyncReport) -> Flow {
        match self.reports.send(report).await {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::Stop,
        }
    }

    async fn went_online(&mut self) -> Flow {
        if self.online {
            return Flow::Continue;
        }
        self.online = true;
        tracing::info!("sync: central is online");
        self.report(SyncReport::Link(CentralLink::Online)).await
    }

    async fn went_offline(&mut self, error: String, retry_in: Duration) -> Flow {
        if self.online {
            tracing::warn!(%error, "sync: central is offline");
        } else {
            tracing::debug!(%error, ?retry_in, "sync: central still offline");
        }
        self.online = false;
        self.report(SyncReport::Link(CentralLink::Offline { error, retry_in }))
            .await
    }

    /// Feeds central's `server_time` to the offset estimate; reports the estimate when it moved.
    async fn clock_sample(
        &mut self,
        sent_at: DateTime<Utc>,
        round_trip: Duration,
        server_time: DateTime<Utc>,
    ) -> Flow {
        let estimate = self
            .offset
            .add(Sample::new(sent_at, round_trip, server_time));
        if self
            .reported_offset
            .is_some_and(|last| (estimate - last).abs() < OFFSET_REPORT_STEP_MS)
        {
            return Flow::Continue;
        }
        self.reported_offset = Some(estimate);
        tracing::debug!(
            offset_ms = estimate,
            ?round_trip,
            "sync: central's clock offset"
        );
        self.report(SyncReport::ClockOffset {
            offset_ms: estimate,
        })
        .await
    }

    /// Records a failed push and reports it; the same batch is retried after the backoff.
    async fn push_failed(&mut self, failure: Failure) -> Push {
        self.push_failures = self.push_failures.saturating_add(1);
        let retry_in = backoff(&self.config, self.push_failures);
        self.push_not_before = Instant::now() + retry_in;
        let flow = self.failed(failure, retry_in).await;
        match flow {
            Flow::Continue => Push::Backoff,
            Flow::Stop => Push::Stop,
        }
    }

    async fn failed(&mut self, failure: Failure, retry_in: Duration) -> Flow {
        match failure {
            Failure::Transient(error) => self.went_offline(error, retry_in).await,
            Failure::Refused { status, error } => {
                if let Flow::Stop = self.went_online().await {
                    return Flow::Stop;
                }
                let error = format!("central refused ({status}): {}", error.error);
                tracing::warn!(%error, ?retry_in, "sync: request refused");
                self.report(SyncReport::Rejected { error }).await
            }
        }
    }

    /// Starts reading and packing the batch after `after` on a blocking thread.
    fn pack(&self, after: u64) -> Packing {
        let conn = Arc::clone(&self.conn);
        let appended = *self.appended.borrow();
        let task = tokio::task::spawn_blocking(move || {
            let events = {
                let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
                store::read_stored_events_after(&conn, after, MAX_BATCH_EVENTS as u64)?
            };
            // Packed just before it goes (at most one batch ahead): its clock and log head then.
            let head = appended.max(events.last().map_or(0, |event| event.seq));
            Ok(pack_batch(events, Utc::now(), head)?)
        });
        Packing { after, task }
    }

    /// The batch after `after`: the one packed while the last batch was in flight if it starts
    /// there (central acknowledged all of the last one) and was not empty then; else packed now,
    /// so events appended since are seen.
    async fn packed(&mut self, after: u64) -> Result<Option<Packed>, PackError> {
        if let Some(packing) = self.next_batch.take()
            && packing.after == after
            && let Ok(Ok(Some(packed))) = packing.task.await
        {
            return Ok(Some(packed));
        }
        self.pack(after).task.await?
    }

    async fn push(&mut self) -> Push {
        let after = self.uplink;
        let Packed { first, last, body } = match self.packed(after).await {
            Ok(Some(packed)) => packed,
            Ok(None) => return Push::CaughtUp,
            Err(error) => {
                tracing::error!(%error, "sync: cannot prepare a batch");
                return self.local_failure();
            }
        };
        // Still one batch in flight and in seq order: the next one is only read and packed
        // meanwhile, and sent only if central acknowledges this one through `last`.
        self.next_batch = Some(self.pack(last));
        let url = format!(
            "{}/api/v1/stations/{}/events",
            self.base_url,
            encode_segment(self.config.station.as_str())
        );
        let request = self
            .client
            .post(url)
            .bearer_auth(self.config.token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(body);
        match exchange::<BatchAck>(request).await {
            Ok(Timed {
                body: ack,
                sent_at,
                round_trip,
            }) => {
                tracing::debug!(
                    first,
                    last,
                    acked_through = ack.acked_through,
                    "sync: batch acked"
                );
                self.push_failures = 0;
                if let Flow::Stop = self.went_online().await {
                    return Push::Stop;
                }
                if let Flow::Stop = self
                    .clock_sample(sent_at, round_trip, ack.server_time)
                    .await
                {
                    return Push::Stop;
                }
                // Never past what was sent: an ack beyond it would skip events never delivered.
                self.uplink = ack.acked_through.min(last);
                match self.report(SyncReport::Acked(ack)).await {
                    Flow::Continue => Push::Progress,
                    Flow::Stop => Push::Stop,
                }
            }
            Err(Failure::Refused { status, error })
                if status == StatusCode::CONFLICT
                    && error
                        .expected_seq
                        // Only backwards: central lost events it had acknowledged (a restore
                        // from backup). A cursor moved forward would skip events never sent.
                        .is_some_and(|expected| expected.saturating_sub(1) < after) =>
            {
                let expected_seq = error.expected_seq.unwrap_or(1);
                tracing::warn!(expected_seq, sent_from = first, error = %error.error, "sync: central asked to rewind");
                self.push_failures = 0;
                if let Flow::Stop = self.went_online().await {
                    return Push::Stop;
                }
                self.uplink = expected_seq.saturating_sub(1);
                match self.report(SyncReport::Rewind { expected_seq }).await {
                    Flow::Continue => Push::Progress,
                    Flow::Stop => Push::Stop,
                }
            }
            Err(failure) => self.push_failed(failure).await,
        }
    }

    /// A local read failed: nothing to tell central, so retry quietly after backoff.
    fn local_failure(&mut self) -> Push {
        self.push_failures = self.push_failures.saturating_add(1);
        self.push_not_before = Instant::now() + backoff(&self.config, self.push_failures);
        Push::Backoff
    }

    /// Fetches every page of changes past the downlink cursor.
    async fn pull(&mut self) -> Flow {
        // The cursor the core stored is the truth: a page it failed to store is fetched again.
        let conn = Arc::clone(&self.conn);
        let stored = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            store::sync_status(&conn).map(|status| status.downlink_cursor)
        })
        .await;
        if let Ok(Ok(cursor)) = stored {
            self.downlink = cursor;
        }
        loop {
            let answer = exchange::<ChangePage>(self.changes_request(None)).await;
            match self.absorb_page(answer).await {
                Pulled::More => {}
                Pulled::Done(flow) => return flow,
            }
        }
    }

    /// The request for the next page of changes; with `wait`, a long-poll that central holds open
    /// until something changes for this station or the wait is over.
    fn changes_request(&self, wait: Option<Duration>) -> reqwest::RequestBuilder {
        let mut url = format!(
            "{}/api/v1/stations/{}/changes?since={}&limit={}",
            self.base_url,
            encode_segment(self.config.station.as_str()),
            self.downlink,
            CHANGES_PAGE
        );
        if let Some(wait) = wait {
            url.push_str(&format!("&wait={}", wait.as_secs()));
        }
        let request = self.client.get(url).bearer_auth(self.config.token.expose());
        match wait {
            Some(wait) => request.timeout(wait + self.config.request_timeout),
            None => request,
        }
    }

    /// Takes central's answer to a pull: reports the page to the core and moves the cursor, or
    /// reports the failure and backs off.
    async fn absorb_page(&mut self, answer: Result<Timed<ChangePage>, Failure>) -> Pulled {
        match answer {
            Ok(Timed {
                body: page,
                sent_at,
                round_trip,
            }) => {
                self.pull_failures = 0;
                if let Flow::Stop = self.went_online().await {
                    return Pulled::Done(Flow::Stop);
                }
                // Central held a long-poll before answering: that time is not travel.
                let waited = Duration::from_millis(page.waited_ms).min(round_trip);
                let answered_from = sent_at
                    + chrono::TimeDelta::from_std(waited).unwrap_or(chrono::TimeDelta::zero());
                if let Flow::Stop = self
                    .clock_sample(answered_from, round_trip - waited, page.server_time)
                    .await
                {
                    return Pulled::Done(Flow::Stop);
                }
                let advanced = page.cursor > self.downlink;
                let more = page.more && advanced;
                if advanced {
                    self.downlink = page.cursor;
                }
                let report = if !page.changes.is_empty() {
                    Some(SyncReport::Changes(page))
                } else if self
                    .reported_heard
                    .is_none_or(|at| at.elapsed() >= HEARD_REPORT_EVERY)
                {
                    Some(SyncReport::Heard {
                        server_time: page.server_time,
                    })
                } else {
                    None
                };
                if let Some(report) = report {
                    self.reported_heard = Some(Instant::now());
                    if let Flow::Stop = self.report(report).await {
                        return Pulled::Done(Flow::Stop);
                    }
                }
                if more {
                    return Pulled::More;
                }
                self.pull_due = Instant::now() + self.config.pull_interval;
                Pulled::Done(Flow::Continue)
            }
            Err(failure) => {
                self.pull_failures = self.pull_failures.saturating_add(1);
                let retry_in = backoff(&self.config, self.pull_failures);
                self.pull_due = Instant::now() + retry_in;
                Pulled::Done(self.failed(failure, retry_in).await)
            }
        }
    }
}

/// What a pull's answer leaves to do.
enum Pulled {
    /// Another page waits: fetch it now.
    More,
    Done(Flow),
}

/// Sends a request and decodes a successful JSON answer, timed for the clock offset, classifying
/// every failure.
async fn exchange<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<Timed<T>, Failure> {
    let sent_at = Utc::now();
    let started = Instant::now();
    let response = request
        .send()
        .await
        .map_err(|error| Failure::Transient(explained(&error)))?;
    let round_trip = started.elapsed();
    let status = response.status();
    if status.is_success() {
        // A garbled success answer is treated like a lost one: the request is simply repeated,
        // which ingest and paging make harmless.
        return response
            .json::<T>()
            .await
            .map(|body| Timed {
                body,
                sent_at,
                round_trip,
            })
            .map_err(|error| {
                Failure::Transient(format!(
                    "unreadable answer from central: {}",
                    describe(&error)
                ))
            });
    }
    let body = response.bytes().await.unwrap_or_default();
    let error = serde_json::from_slice::<ApiError>(&body).unwrap_or_else(|_| ApiError {
        error: String::from_utf8_lossy(&body).trim().to_owned(),
        expected_seq: None,
    });
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Err(Failure::Transient(format!(
            "central answered {status}: {}",
            error.error
        )))
    } else {
        Err(Failure::Refused { status, error })
    }
}

/// An error with its causes, which is where reqwest keeps the useful part ("connection refused").
/// [`describe`], led by what a TLS failure means ("central's certificate is not signed by a CA
/// this side trusts: …"), so the status line says it in words.
fn explained(error: &dyn std::error::Error) -> String {
    let text = describe(error);
    match crate::tls_trust::hint(&text) {
        Some(hint) => format!("{hint} ({text})"),
        None => text,
    }
}

fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Capped backoff with jitter: a random delay between `backoff_min` and
/// `min(backoff_max, backoff_min * 2^(attempt-1))`, so stations that lost central together do not
/// come back in lockstep.
fn backoff(config: &SyncConfig, attempt: u32) -> Duration {
    let floor = config.backoff_min;
    let exponent = attempt.saturating_sub(1).min(20);
    let ceiling = floor
        .saturating_mul(1u32 << exponent)
        .min(config.backoff_max)
        .max(floor);
    let floor_ms = u64::try_from(floor.as_millis()).unwrap_or(u64::MAX);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(floor_ms..=ceiling_ms))
}

/// Sleeps, or returns `false` at once when the reports channel closes.
async fn sleep_unless_closed(reports: &mpsc::Sender<SyncReport>, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = reports.closed() => false,
    }
}

/// Percent-encodes a path segment (station ids are plain today, but a URL must never break on one).
fn encode_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// A batch's JSON is kept to at most this many bytes (before compression): a backlog of large
/// events goes in several requests rather than one that a proxy or central would refuse.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// What a batch is on the wire: [`EventBatch`](crate::protocol::EventBatch), with each event's
/// JSON as the store keeps it. A field added to `EventBatch` is added here too.
#[derive(serde::Serialize)]
struct StoredBatch<'a> {
    events: &'a [Box<serde_json::value::RawValue>],
    sent_at: DateTime<Utc>,
    station_head: u64,
}

/// The gzip-compressed JSON of the first events (in seq order) whose JSON fits in
/// [`MAX_BATCH_BYTES`]; a single event larger than that goes alone. `None` when there are none.
fn pack_batch(
    events: Vec<store::StoredEvent>,
    sent_at: DateTime<Utc>,
    station_head: u64,
) -> std::io::Result<Option<Packed>> {
    use std::io::Write as _;
    let Some(first) = events.first().map(|event| event.seq) else {
        return Ok(None);
    };
    let mut last = first;
    // `{"events":[` + the events, comma-separated + `],"sent_at":…,"station_head":…}`
    let mut size = r#"{"events":[],"sent_at":"2026-12-04T06:00:00.000000000Z","station_head":18446744073709551615}"#.len();
    let mut kept = Vec::with_capacity(events.len());
    for event in events {
        let more = event.json.get().len() + usize::from(!kept.is_empty());
        if !kept.is_empty() && size + more > MAX_BATCH_BYTES {
            break;
        }
        size += more;
        last = event.seq;
        kept.push(event.json);
    }
    let json = serde_json::to_vec(&StoredBatch {
        events: &kept,
        sent_at,
        station_head,
    })?;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(&json)?;
    Ok(Some(Packed {
        first,
        last,
        body: encoder.finish()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_bounds_and_grows() {
        let config = SyncConfig::new("http://x", "t", StationId::from("S"), PathBuf::new());
        for attempt in 0..40 {
            let delay = backoff(&config, attempt);
            assert!(delay >= config.backoff_min, "{delay:?}");
            assert!(delay <= config.backoff_max, "{delay:?}");
        }
        assert!(
            (0..50).any(|_| backoff(&config, 10) > Duration::from_secs(2)),
            "later attempts may wait longer"
        );
    }

    #[test]
    fn a_batch_is_gzip_json_of_at_most_a_mebibyte() {
        use crate::domain::{Actor, Event, EventKind, GENESIS_HASH, NewEvent};
        use crate::protocol::EventBatch;
        use std::io::Read as _;
        let event = |seq: u64, size: usize| {
            Event::seal(
                NewEvent {
                    at: chrono::DateTime::from_timestamp(1_764_050_400, 0).unwrap_or_default(),
                    actor: Actor::Station,
                    kind: EventKind::ScanRefused {
                        scanned: "X".repeat(size),
                        reason: "test".into(),
                        entry: None,
                    },
                },
                StationId::from("L1-S1"),
                seq,
                uuid::Uuid::nil(),
                GENESIS_HASH.into(),
            )
        };
        // As the store keeps them: each event's JSON.
        let stored = |events: &[Event]| -> Vec<store::StoredEvent> {
            events
                .iter()
                .map(|event| store::StoredEvent {
                    seq: event.seq,
                    json: serde_json::value::to_raw_value(event).expect("json"),
                })
                .collect()
        };
        let unpack = |packed: &Packed| -> EventBatch {
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(&packed.body[..])
                .read_to_end(&mut json)
                .expect("gzip");
            assert!(json.len() <= MAX_BATCH_BYTES || packed.first == packed.last);
            serde_json::from_slice(&json).expect("a batch")
        };
        // 500 events of ~4 KiB: about 2 MiB of JSON, so the batch is cut to fit.
        let events: Vec<Event> = (1..=500).map(|seq| event(seq, 4_000)).collect();
        let sent_at = Utc::now();
        let packed = pack_batch(stored(&events), sent_at, 777)
            .expect("body")
            .expect("events");
        let batch = unpack(&packed);
        assert_eq!(
            (batch.sent_at, batch.station_head),
            (Some(sent_at), Some(777)),
            "it says when it was sent and how far the log reaches"
        );
        assert!(
            batch.events.len() > 150 && batch.events.len() < 500,
            "{}",
            batch.events.len()
        );
        assert_eq!(
            batch.events,
            events[..batch.events.len()],
            "in seq order, the first ones kept"
        );
        assert_eq!((packed.first, packed.last), (1, batch.events.len() as u64));
        assert!(
            packed.body.len() < MAX_BATCH_BYTES / 10,
            "compressed: {}",
            packed.body.len()
        );
        // Small events: all 500 go, whole.
        let small: Vec<Event> = (1..=500).map(|seq| event(seq, 10)).collect();
        let packed = pack_batch(stored(&small), Utc::now(), 500)
            .expect("body")
            .expect("events");
        assert_eq!(unpack(&packed).events, small);
        assert_eq!((packed.first, packed.last), (1, 500));
        // One event past the limit still goes, alone.
        let huge = vec![event(1, 2 * MAX_BATCH_BYTES), event(2, 10)];
        let packed = pack_batch(stored(&huge), Utc::now(), 2)
            .expect("body")
            .expect("events");
        assert_eq!(unpack(&packed).events, huge[..1]);
        assert_eq!((packed.first, packed.last), (1, 1));
        // Nothing to send: no batch.
        assert!(
            pack_batch(Vec::new(), Utc::now(), 0)
                .expect("nothing")
                .is_none()
        );
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("L1-S1"), "L1-S1");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }
}
