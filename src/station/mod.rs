//! The station process: wires the core (single writer, own thread), the PLC poller and the sync
//! worker together with channels. The TUI (or a test) talks to it through [`Station`]'s channels.

pub mod core;
pub mod notice;
pub mod trace;
pub mod view;

pub use self::core::{Core, CoreInput, CoreOutputs};
pub use notice::{Level, Notice};
pub use view::{HistoryRow, SignaturePrompt, View};

use crate::clock::Clock;
use crate::domain::StationId;
use crate::plc::{PlcOutputs, PollerConfig, spawn_poller};
use crate::store::Store;
use crate::sync::{SyncConfig, spawn_worker};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// How many inputs may wait for the core before the UI says it is busy.
pub const CORE_QUEUE: usize = 1024;

pub struct StationSetup {
    pub station: StationId,
    pub db_path: PathBuf,
    /// None: run without a PLC (the machine link shows as not configured).
    pub plc: Option<PollerConfig>,
    /// None: run stand-alone; events wait in the local log.
    pub sync: Option<SyncConfig>,
    pub clock: Arc<dyn Clock>,
    pub options: StationOptions,
}

/// What a site configures beyond its links: code patterns, output ids, the label printer.
#[derive(Debug, Clone)]
pub struct StationOptions {
    pub patterns: crate::scan::Patterns,
    /// See [`crate::domain::material::DEFAULT_OUTPUT_ID_PATTERN`].
    pub output_id_pattern: String,
    /// The same scan again within this time is a double read, ignored and said so.
    pub duplicate_window: chrono::Duration,
    /// None: labels are not printed.
    pub printer: Option<crate::label::PrinterSettings>,
    /// The width the PLC's unit counters wrap at (16 or 32), from the register map.
    pub counter_bits: u32,
    /// How PLC states count as time (`[machine.categories]`).
    pub categories: crate::domain::machine::CategoryTable,
    /// The reason code each PLC stop reason usually means (`[machine.stop_reasons]`).
    pub stop_reasons: std::collections::BTreeMap<u16, String>,
    /// The plant's shifts (`[calendar]`).
    pub calendar: crate::domain::shift::ShiftCalendar,
    /// The run rules inspections' SPC charts are checked against (`[quality] spc_rules`).
    pub spc_rules: crate::domain::spc::RuleSet,
}

impl Default for StationOptions {
    fn default() -> Self {
        StationOptions {
            patterns: crate::scan::Patterns::default(),
            output_id_pattern: crate::domain::material::DEFAULT_OUTPUT_ID_PATTERN.to_owned(),
            duplicate_window: self::core::DUPLICATE_SCAN_WINDOW,
            printer: None,
            counter_bits: 32,
            categories: crate::domain::machine::CategoryTable::default(),
            stop_reasons: std::collections::BTreeMap::new(),
            calendar: crate::domain::shift::ShiftCalendar::default(),
            spc_rules: crate::domain::spc::RuleSet::WesternElectric,
        }
    }
}

/// A running station: its channels and the tasks behind them.
pub struct Station {
    pub inputs: mpsc::Sender<CoreInput>,
    pub view: watch::Receiver<View>,
    pub notices: mpsc::UnboundedReceiver<Notice>,
    pub plc_outputs: watch::Receiver<PlcOutputs>,
    /// Answers the Trace screen: central first, this station's log when central is away.
    pub tracer: trace::Tracer,
    tasks: Vec<JoinHandle<()>>,
    core_thread: Option<std::thread::JoinHandle<()>>,
    /// The PLC poll period, when a PLC is configured.
    plc_poll: Option<Duration>,
}

impl Station {
    /// Opens the store, starts the core thread, the PLC poller and the sync worker.
    pub async fn start(setup: StationSetup) -> anyhow::Result<Station> {
        if let Some(parent) = setup.db_path.parent() {
            crate::owner_only::create_dir_all(parent)
                .with_context(|| format!("cannot create data folder {}", parent.display()))?;
        }
        let store = Store::open(&setup.db_path, &setup.station).with_context(|| {
            format!("cannot open the station store {}", setup.db_path.display())
        })?;
        let (view_tx, view_rx) = watch::channel(View::empty(setup.station.as_str()));
        let (plc_tx, plc_rx) = watch::channel(PlcOutputs::default());
        let (appended_tx, appended_rx) = watch::channel(store.last_seq());
        let (notice_tx, notice_rx) = mpsc::unbounded_channel();
        let plc_address = setup.plc.as_ref().map(|plc| plc.address.clone());
        let mut core = Core::new(
            store,
            setup.clock.clone(),
            CoreOutputs {
                view: view_tx,
                plc: plc_tx,
                appended: appended_tx,
                notices: notice_tx,
            },
            plc_address.as_deref(),
            setup.sync.is_some(),
        )?;
        let options = setup.options;
        core.configure(
            options.patterns,
            options.output_id_pattern,
            options.duplicate_window,
        );
        core.set_counter_bits(options.counter_bits);
        core.set_categories(options.categories);
        core.set_stop_reasons(options.stop_reasons);
        core.set_machine_commands(
            setup
                .plc
                .as_ref()
                .is_some_and(|plc| plc.commands.packml_command.is_some()),
        );
        core.set_calendar(options.calendar);
        core.set_spc_rules(options.spc_rules);
        let mut tasks = Vec::new();
        if let Some(printer) = options.printer
            && printer.sink != crate::label::Sink::None
        {
            let handle = crate::label::spawn_printer(printer);
            core.attach_printer(handle.jobs, handle.status);
            tasks.push(handle.task);
        }
        let (input_tx, input_rx) = mpsc::channel(CORE_QUEUE);
        let core_thread =
            self::core::spawn(core, input_rx).context("cannot start the core thread")?;

        let plc_poll = setup.plc.as_ref().map(|plc| plc.poll_interval);
        if let Some(config) = setup.plc {
            let (events_tx, mut events_rx) = mpsc::channel(64);
            tasks.push(spawn_poller(config, plc_rx.clone(), events_tx));
            let inputs = input_tx.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(event) = events_rx.recv().await {
                    if inputs.send(CoreInput::Plc(event)).await.is_err() {
                        break;
                    }
                }
            }));
        }
        let tracer = trace::Tracer {
            core: input_tx.downgrade(),
            central: setup.sync.as_ref().map(|sync| sync.central_url.clone()),
            trusted_ca: setup.sync.as_ref().and_then(|sync| sync.trusted_ca.clone()),
        };
        if let Some(config) = setup.sync {
            let (reports_tx, mut reports_rx) = mpsc::channel(64);
            tasks.push(spawn_worker(config, appended_rx, reports_tx));
            let inputs = input_tx.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(report) = reports_rx.recv().await {
                    if inputs.send(CoreInput::Sync(report)).await.is_err() {
                        break;
                    }
                }
            }));
        }
        Ok(Station {
            inputs: input_tx,
            view: view_rx,
            notices: notice_rx,
            plc_outputs: plc_rx,
            tracer,
            tasks,
            core_thread: Some(core_thread),
            plc_poll,
        })
    }

    /// Sends an input to the core and returns once it is queued.
    pub async fn send(&self, input: CoreInput) -> anyhow::Result<()> {
        self.inputs
            .send(input)
            .await
            .map_err(|_| anyhow::anyhow!("the station core has stopped"))
    }

    /// Pauses a running order and lets the poller write the dropped permit to the PLC, then stops
    /// the poller and sync worker and lets the core finish what is queued.
    pub async fn shutdown(mut self) {
        let was_permitted = self.plc_outputs.borrow().permit;
        if self.inputs.send(CoreInput::Shutdown).await.is_ok() && was_permitted {
            let mut permit = self.plc_outputs.clone();
            // wait_for hands back a borrow that holds the channel's lock: let go of it at once, or
            // the core (writing the channel) and the poller (reading it) stall behind us.
            let dropped = tokio::time::timeout(Duration::from_secs(2), async {
                permit.wait_for(|outputs| !outputs.permit).await.is_ok()
            })
            .await
            .unwrap_or(false);
            // The poller writes the command block every poll; give it two to carry the 0 out.
            if let (true, Some(poll)) = (dropped, self.plc_poll) {
                tokio::time::sleep((poll * 2).min(Duration::from_secs(2))).await;
            }
        }
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
        drop(self.inputs);
        if let Some(thread) = self.core_thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}
