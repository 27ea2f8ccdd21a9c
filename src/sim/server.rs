//! The simulator on the network: a tokio-modbus TCP server over a shared [`SimPlc`], plus the scan
//! task that ticks it.

use std::future::{self, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::DuplexStream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_modbus::server::tcp::Server;
use tokio_modbus::{ExceptionCode, Request, Response};

use super::logic::{SimConfig, SimPartRecord, SimPlc};
use crate::domain::plc::PackMlState;

/// Scan period of the simulated PLC program.
const SCAN: Duration = Duration::from_millis(50);
/// Buffer between a client's socket and the Modbus codec; a few frames is plenty.
const RELAY_BUFFER: usize = 4096;

type Shared = Arc<Mutex<SimPlc>>;

/// The registers are plain data; a panic elsewhere while holding the lock leaves them usable.
fn lock(plc: &Shared) -> MutexGuard<'_, SimPlc> {
    plc.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One per connection (tokio-modbus creates a service per accepted socket); all share the PLC.
struct SimService {
    plc: Shared,
}

type Reply = Pin<Box<dyn Future<Output = Result<Response, ExceptionCode>> + Send>>;

impl tokio_modbus::server::Service for SimService {
    type Request = Request<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = Reply;

    fn call(&self, request: Self::Request) -> Self::Future {
        let (reply, delay) = {
            let mut plc = lock(&self.plc);
            (plc.handle(request), plc.reply_delay(Instant::now()))
        };
        match delay {
            // The request took effect at once; only the answer is late, as with a busy PLC.
            Some(delay) => Box::pin(async move {
                tokio::time::sleep(delay).await;
                reply
            }),
            None => Box::pin(future::ready(reply)),
        }
    }
}

/// Relays one client socket to the Modbus codec until either side closes, the simulator stops,
/// or `drops` moves on: then the socket is closed under the client, like a pulled cable. The
/// relay exists because tokio-modbus offers no way to close a served connection from outside.
async fn relay(
    mut client: TcpStream,
    mut codec: DuplexStream,
    mut drops: watch::Receiver<u64>,
    mut stop: watch::Receiver<bool>,
) {
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut codec) => {}
        _ = drops.changed() => tracing::debug!("plc-sim: dropping a client connection"),
        _ = stop.wait_for(|stop| *stop) => {}
    }
}

/// A running simulator. Dropping it stops the simulator too; `shutdown` also waits for it.
#[derive(Debug)]
pub struct SimHandle {
    local_addr: SocketAddr,
    plc: Shared,
    stop: watch::Sender<bool>,
    /// Bumped to close every client connection.
    drops: Arc<watch::Sender<u64>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds `listen` (port 0 picks a free port) and serves the default register map in background
/// tasks on the current tokio runtime.
pub async fn spawn(listen: SocketAddr, config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(listen).await?;
    let local_addr = listener.local_addr()?;
    let plc: Shared = Arc::new(Mutex::new(SimPlc::new(&config, Instant::now())));
    let (stop, stop_rx) = watch::channel(false);
    let (drops, drops_rx) = watch::channel(0u64);
    let drops = Arc::new(drops);

    let server_plc = Arc::clone(&plc);
    let mut server_stop = stop_rx.clone();
    let relay_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        let on_connected = move |stream: TcpStream, peer: SocketAddr| {
            let plc = Arc::clone(&server_plc);
            let (codec, client_side) = tokio::io::duplex(RELAY_BUFFER);
            // Only drops from now on end this connection, not the ones before it connected.
            let mut drops = drops_rx.clone();
            drops.mark_unchanged();
            tokio::spawn(relay(stream, client_side, drops, relay_stop.clone()));
            tracing::debug!(%peer, "plc-sim: client connected");
            async move { Ok(Some((SimService { plc }, codec))) }
        };
        let on_process_error = |err: std::io::Error| {
            tracing::debug!(%err, "plc-sim: connection ended with an error");
        };
        // `wait_for` also returns when the handle (the sender) is dropped, which we treat as stop.
        let abort = async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        };
        // Aborting drops the serve future, whose cancellation guard ends every per-connection
        // task, so clients see the PLC vanish rather than a listener-less zombie.
        match Server::new(listener)
            .serve_until(&on_connected, on_process_error, abort)
            .await
        {
            Ok(_) => tracing::debug!(%local_addr, "plc-sim: stopped serving"),
            Err(err) => tracing::error!(%local_addr, %err, "plc-sim: server failed"),
        }
    });

    let scan_plc = Arc::clone(&plc);
    let mut scan_stop = stop_rx.clone();
    let scan_drops = Arc::clone(&drops);
    let scan = tokio::spawn(async move {
        let mut interval = tokio::time::interval(SCAN);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    let rebooted = {
                        let mut plc = lock(&scan_plc);
                        let epoch = plc.epoch();
                        plc.tick(Instant::now());
                        plc.epoch() != epoch
                    };
                    // A rebooting PLC takes its TCP connections down with it.
                    if rebooted {
                        tracing::info!("plc-sim: PLC restarted");
                        scan_drops.send_modify(|n| *n += 1);
                    }
                }
                _ = scan_stop.wait_for(|stop| *stop) => break,
            }
        }
    });
    let mut tasks = vec![server, scan];

    if let Some(every) = config.scenario.drop_every {
        let ticker_drops = Arc::clone(&drops);
        let mut ticker_stop = stop_rx;
        tasks.push(tokio::spawn(async move {
            let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = interval.tick() => ticker_drops.send_modify(|n| *n += 1),
                    _ = ticker_stop.wait_for(|stop| *stop) => break,
                }
            }
        }));
    }

    tracing::info!(%local_addr, "plc-sim: listening");
    Ok(SimHandle {
        local_addr,
        plc,
        stop,
        drops,
        tasks,
    })
}

impl SimHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Snapshot of HR0..=111.
    pub fn registers(&self) -> Vec<u16> {
        lock(&self.plc).registers()
    }

    pub fn processed(&self) -> u32 {
        lock(&self.plc).processed()
    }

    pub fn defective(&self) -> u32 {
        lock(&self.plc).defective()
    }

    pub fn state(&self) -> PackMlState {
        lock(&self.plc).state()
    }

    pub fn epoch(&self) -> u16 {
        lock(&self.plc).epoch()
    }

    /// Units made since start, across PLC restarts.
    pub fn lifetime_processed(&self) -> u64 {
        lock(&self.plc).lifetime_processed()
    }

    /// Defective units made since start, across PLC restarts.
    pub fn lifetime_defective(&self) -> u64 {
        lock(&self.plc).lifetime_defective()
    }

    /// Every per-part record the machine made since start, across restarts, oldest first.
    pub fn part_records(&self) -> Vec<SimPartRecord> {
        lock(&self.plc).part_records()
    }

    /// Part records a restart wiped before their acknowledgement arrived (see
    /// [`SimPlc::part_records_wiped`]).
    pub fn part_records_wiped(&self) -> Vec<SimPartRecord> {
        lock(&self.plc).part_records_wiped()
    }

    /// Part records waiting for their acknowledgement.
    pub fn part_records_waiting(&self) -> usize {
        lock(&self.plc).part_records_waiting()
    }

    /// While set, the PLC loses every acknowledgement written to it (see
    /// [`SimPlc::ignore_part_acks`]).
    pub fn ignore_part_acks(&self, ignore: bool) {
        lock(&self.plc).ignore_part_acks(ignore);
    }

    /// Closes every client connection now; clients may reconnect at once.
    pub fn drop_connections(&self) {
        self.drops.send_modify(|n| *n += 1);
    }

    /// Reboots the PLC now (see [`SimPlc::restart`]), closing every client connection.
    pub fn restart(&self) {
        lock(&self.plc).restart();
        self.drop_connections();
    }

    /// Non-zero faults the machine (Stopped, red stacklight) until 0 or a Reset/Clear command.
    pub fn set_stop_reason(&self, code: u16) {
        lock(&self.plc).set_stop_reason(code);
    }

    /// Stops the scan and the server, closes the listener and every client connection.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        for task in self.tasks.drain(..) {
            if let Err(err) = task.await {
                tracing::warn!(%err, "plc-sim: task ended abnormally");
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// The `takt plc-sim` command: serves until Ctrl+C.
pub async fn run_cli(listen: SocketAddr, config: SimConfig) -> anyhow::Result<()> {
    let sim = spawn(listen, config).await?;
    // The one line on stdout: scripts and people starting the simulator read the address from it.
    println!("takt plc-sim listening on {}", sim.local_addr());
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
