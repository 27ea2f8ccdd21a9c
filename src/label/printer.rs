//! Printing without holding up the station: the core hands a [`LabelJob`] to a channel and goes on;
//! a task of its own renders it and sends it to a file or a raw TCP printer port (9100). A printer
//! that is down is retried with a capped backoff while its labels wait, oldest first, up to a bound;
//! beyond it the oldest label is given up and reported as not printed, so the operator can reprint
//! it. The task's state is watched, and says in words what is going on.

use super::zpl::{self, Layout};
use super::{LabelData, LabelError};
use crate::config::{PrinterKind, PrinterSection};
use crate::domain::{Event, LotId, MasterData};
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, watch};

/// The raw printing port of network label printers.
pub const RAW_PORT: u16 = 9100;

/// Jobs between the core and the printer task, at the least; the task empties it even while the
/// printer is down. A station catching up after an outage books hundreds of outputs at once, so the
/// channel holds a whole queue's worth (see `spawn_printer`).
const CHANNEL_CAPACITY: usize = 64;

/// Most recent labels kept in the status as not printed.
const NOT_PRINTED_SHOWN: usize = 20;

/// Where labels go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// No printer: labels are reported as not printed.
    None,
    /// Appended to a file, one ZPL document per label.
    File(PathBuf),
    /// A printer's raw TCP port, `host:port`.
    Tcp(String),
}

impl Sink {
    /// `file:PATH` or `tcp:HOST[:PORT]` (port 9100 when left out), as the command line takes it.
    pub fn parse(text: &str) -> Result<Sink, String> {
        if let Some(path) = text.strip_prefix("file:").filter(|p| !p.is_empty()) {
            return Ok(Sink::File(PathBuf::from(path)));
        }
        if let Some(address) = text.strip_prefix("tcp:").filter(|a| !a.is_empty()) {
            return Ok(Sink::Tcp(with_port(address)));
        }
        Err(format!(
            "{text:?}: expected file:PATH or tcp:HOST:PORT (e.g. tcp:192.168.10.30:9100)"
        ))
    }

    /// How people call it: "file labels.zpl", "printer 192.168.10.30:9100".
    pub fn describe(&self) -> String {
        match self {
            Sink::None => "no label printer".into(),
            Sink::File(path) => format!("label file {}", path.display()),
            Sink::Tcp(address) => format!("label printer {address}"),
        }
    }
}

/// `host` alone means the raw port.
fn with_port(address: &str) -> String {
    let has_port = address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if has_port {
        address.to_owned()
    } else {
        format!("{address}:{RAW_PORT}")
    }
}

/// How the printer task works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterSettings {
    pub sink: Sink,
    /// Longest wait to connect and send one label.
    pub timeout: Duration,
    /// Labels kept while the printer is down.
    pub queue_limit: usize,
    /// First wait before trying a down printer again; it doubles up to `retry_max`.
    pub retry_first: Duration,
    pub retry_max: Duration,
    pub layout: Layout,
}

impl PrinterSettings {
    pub fn new(sink: Sink) -> PrinterSettings {
        PrinterSettings {
            sink,
            timeout: Duration::from_secs(3),
            queue_limit: 200,
            retry_first: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            layout: Layout::default(),
        }
    }

    /// The station's `[printer]` section (already validated).
    pub fn from_config(section: &PrinterSection) -> PrinterSettings {
        let sink = match section.kind {
            PrinterKind::None => Sink::None,
            PrinterKind::File => Sink::File(section.path.clone().unwrap_or_default()),
            PrinterKind::Tcp => Sink::Tcp(with_port(section.address.trim())),
        };
        PrinterSettings {
            timeout: Duration::from_millis(section.timeout_ms),
            queue_limit: section.queue_limit.max(1),
            layout: Layout { dpi: section.dpi },
            ..PrinterSettings::new(sink)
        }
    }
}

/// One label to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelJob {
    pub data: LabelData,
}

impl LabelJob {
    /// The label of an `OutputCreated` event. Its element string is checked here, so a label that
    /// cannot be encoded is refused at once, at the station, not later in the printer task.
    pub fn from_output(event: &Event, master: &MasterData) -> Result<LabelJob, LabelError> {
        LabelJob::new(LabelData::from_output(event, master)?)
    }

    pub fn new(data: LabelData) -> Result<LabelJob, LabelError> {
        data.element_string()?;
        Ok(LabelJob { data })
    }

    pub fn output(&self) -> &LotId {
        &self.data.output
    }
}

/// What the printer is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrinterState {
    /// No printer configured.
    Off,
    /// Nothing to print; the last label (if any) went out.
    Ready,
    Printing,
    /// The last attempt failed; labels wait and are tried again.
    Down {
        error: String,
    },
}

/// A label given up, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotPrinted {
    pub output: LotId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterStatus {
    /// Where labels go, in words.
    pub sink: String,
    pub state: PrinterState,
    /// Labels waiting, the one being printed included.
    pub queued: usize,
    pub printed: u64,
    /// The most recent labels given up, oldest first.
    pub not_printed: Vec<NotPrinted>,
    pub not_printed_total: u64,
}

impl PrinterStatus {
    fn new(sink: &Sink) -> PrinterStatus {
        PrinterStatus {
            sink: sink.describe(),
            state: if *sink == Sink::None {
                PrinterState::Off
            } else {
                PrinterState::Ready
            },
            queued: 0,
            printed: 0,
            not_printed: Vec::new(),
            not_printed_total: 0,
        }
    }

    /// One line for the station's status area.
    pub fn notice(&self) -> String {
        let labels = |n: usize| {
            if n == 1 {
                "1 label".to_owned()
            } else {
                format!("{n} labels")
            }
        };
        let mut text = match &self.state {
            PrinterState::Off => "No label printer configured: labels are not printed.".to_owned(),
            PrinterState::Ready => format!("{}: ready.", capitalise(&self.sink)),
            PrinterState::Printing => format!(
                "{}: printing, {} waiting.",
                capitalise(&self.sink),
                labels(self.queued)
            ),
            PrinterState::Down { error } => format!(
                "{} is DOWN ({error}): {} waiting, tried again automatically.",
                capitalise(&self.sink),
                labels(self.queued)
            ),
        };
        if self.not_printed_total > 0 && self.state != PrinterState::Off {
            let last: Vec<&str> = self
                .not_printed
                .iter()
                .rev()
                .take(3)
                .map(|n| n.output.as_str())
                .collect();
            text.push_str(&format!(
                " NOT PRINTED: {} (last: {}); reprint them.",
                labels(usize::try_from(self.not_printed_total).unwrap_or(usize::MAX)),
                last.join(", ")
            ));
        }
        text
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The station's side of the printer task.
#[derive(Debug)]
pub struct PrinterHandle {
    pub jobs: mpsc::Sender<LabelJob>,
    pub status: watch::Receiver<PrinterStatus>,
    pub task: tokio::task::JoinHandle<()>,
}

impl PrinterHandle {
    /// Hands a label to the printer task without waiting: the station's core calls this.
    pub fn submit(&self, job: LabelJob) -> Result<(), NotQueued> {
        self.jobs.try_send(job).map_err(|error| match error {
            mpsc::error::TrySendError::Full(job) => NotQueued {
                output: job.data.output,
                why: "the printer task is not keeping up",
            },
            mpsc::error::TrySendError::Closed(job) => NotQueued {
                output: job.data.output,
                why: "the printer task has stopped",
            },
        })
    }
}

/// A label the printer task could not take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the label of {output} was not queued for printing: {why}")]
pub struct NotQueued {
    pub output: LotId,
    pub why: &'static str,
}

/// Starts the printer task on the current tokio runtime. It ends once every sender is dropped and
/// its queue is empty.
pub fn spawn_printer(settings: PrinterSettings) -> PrinterHandle {
    let (jobs, receiver) = mpsc::channel(settings.queue_limit.max(CHANNEL_CAPACITY));
    let (status_sender, status) = watch::channel(PrinterStatus::new(&settings.sink));
    let task = tokio::spawn(run(settings, receiver, status_sender));
    PrinterHandle { jobs, status, task }
}

struct Printer {
    settings: PrinterSettings,
    queue: VecDeque<LabelJob>,
    status: watch::Sender<PrinterStatus>,
}

impl Printer {
    fn enqueue(&mut self, job: LabelJob) {
        if self.settings.sink == Sink::None {
            self.give_up(job.data.output, "no label printer is configured".into());
            return;
        }
        if self.queue.len() >= self.settings.queue_limit
            && let Some(oldest) = self.queue.pop_front()
        {
            let reason = format!(
                "{} labels were already waiting for the printer",
                self.settings.queue_limit
            );
            self.give_up(oldest.data.output, reason);
        }
        self.queue.push_back(job);
        self.publish(None);
    }

    fn give_up(&mut self, output: LotId, reason: String) {
        tracing::warn!(%output, %reason, "label not printed");
        self.status.send_modify(|status| {
            status.not_printed.push(NotPrinted { output, reason });
            if status.not_printed.len() > NOT_PRINTED_SHOWN {
                status.not_printed.remove(0);
            }
            status.not_printed_total += 1;
        });
    }

    fn publish(&self, state: Option<PrinterState>) {
        let queued = self.queue.len();
        self.status.send_modify(|status| {
            status.queued = queued;
            if let Some(state) = state {
                status.state = state;
            }
        });
    }
}

async fn run(
    settings: PrinterSettings,
    mut jobs: mpsc::Receiver<LabelJob>,
    status: watch::Sender<PrinterStatus>,
) {
    let mut retry = settings.retry_first;
    let mut printer = Printer {
        settings,
        queue: VecDeque::new(),
        status,
    };
    let mut open = true;
    loop {
        while let Ok(job) = jobs.try_recv() {
            printer.enqueue(job);
        }
        let Some(job) = printer.queue.front() else {
            if !open {
                return;
            }
            match jobs.recv().await {
                Some(job) => printer.enqueue(job),
                None => open = false,
            }
            continue;
        };
        let zpl = match zpl::render(&job.data, printer.settings.layout) {
            Ok(zpl) => zpl,
            Err(error) => {
                if let Some(job) = printer.queue.pop_front() {
                    printer.give_up(job.data.output, error.to_string());
                }
                continue;
            }
        };
        if !matches!(
            printer.status.borrow().state,
            PrinterState::Down { .. } | PrinterState::Printing
        ) {
            printer.publish(Some(PrinterState::Printing));
        }
        match send(&printer.settings, zpl.into_bytes()).await {
            Ok(()) => {
                retry = printer.settings.retry_first;
                printer.queue.pop_front();
                printer.status.send_modify(|status| status.printed += 1);
                let state = if printer.queue.is_empty() {
                    PrinterState::Ready
                } else {
                    PrinterState::Printing
                };
                printer.publish(Some(state));
            }
            Err(error) => {
                tracing::warn!(sink = %printer.settings.sink.describe(), %error, "label printer down");
                printer.publish(Some(PrinterState::Down { error }));
                // Keep taking jobs while waiting, so the core never finds the channel full.
                let deadline = tokio::time::Instant::now() + retry;
                loop {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => break,
                        job = jobs.recv(), if open => match job {
                            Some(job) => printer.enqueue(job),
                            None => open = false,
                        },
                    }
                }
                retry = (retry * 2).min(printer.settings.retry_max);
            }
        }
    }
}

/// Sends one document to the sink now, once: for `takt label print`. Stations use the task.
pub async fn send_once(settings: &PrinterSettings, zpl: &str) -> Result<(), String> {
    send(settings, zpl.as_bytes().to_vec()).await
}

async fn send(settings: &PrinterSettings, zpl: Vec<u8>) -> Result<(), String> {
    match &settings.sink {
        Sink::None => Err("no label printer is configured".into()),
        Sink::File(path) => {
            let path = path.clone();
            tokio::task::spawn_blocking(move || append(&path, &zpl))
                .await
                .map_err(|e| format!("the file writer failed: {e}"))?
        }
        Sink::Tcp(address) => {
            let attempt = async {
                let mut stream = tokio::net::TcpStream::connect(address.as_str())
                    .await
                    .map_err(|e| format!("cannot connect: {e}"))?;
                stream
                    .write_all(&zpl)
                    .await
                    .map_err(|e| format!("sending failed: {e}"))?;
                stream
                    .shutdown()
                    .await
                    .map_err(|e| format!("closing failed: {e}"))
            };
            tokio::time::timeout(settings.timeout, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "no answer within {} ms",
                        settings.timeout.as_millis()
                    ))
                })
        }
    }
}

/// Appends one document and makes it durable: a label file is a record of what was printed.
fn append(path: &Path, zpl: &[u8]) -> Result<(), String> {
    let shown = path.display();
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open {shown}: {e}"))?;
    file.write_all(zpl)
        .and_then(|()| file.sync_data())
        .map_err(|e| format!("cannot write {shown}: {e}"))
}
