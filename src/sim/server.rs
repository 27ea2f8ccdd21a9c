//! The simulator on the network: a tokio-modbus TCP server over a shared [`SimPlc`], plus the scan
//! task that ticks it.

use std::future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response};

use super::logic::{SimConfig, SimPlc};
use crate::domain::plc::PackMlState;

/// Scan period of the simulated PLC program.
const SCAN: Duration = Duration::from_millis(50);

type Shared = Arc<Mutex<SimPlc>>;

/// The registers are plain data; a panic elsewhere while holding the lock leaves them usable.
fn lock(plc: &Shared) -> MutexGuard<'_, SimPlc> {
    plc.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One per connection (tokio-modbus creates a service per accepted socket); all share the PLC.
struct SimService {
    plc: Shared,
}

impl tokio_modbus::server::Service for SimService {
    type Request = Request<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        future::ready(lock(&self.plc).handle(request))
    }
}

/// A running simulator. Dropping it stops the simulator too; `shutdown` also waits for it.
#[derive(Debug)]
pub struct SimHandle {
    local_addr: SocketAddr,
    plc: Shared,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds `listen` (port 0 picks a free port) and serves the default register map in background
/// tasks on the current tokio runtime.
pub async fn spawn(listen: SocketAddr, config: SimConfig) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(listen).await?;
    let local_addr = listener.local_addr()?;
    let plc: Shared = Arc::new(Mutex::new(SimPlc::new(&config, Instant::now())));
    let (stop, stop_rx) = watch::channel(false);

    let server_plc = Arc::clone(&plc);
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(async move {
        let on_connected = move |stream: TcpStream, peer: SocketAddr| {
            let plc = Arc::clone(&server_plc);
            tracing::debug!(%peer, "plc-sim: client connected");
            async move {
                accept_tcp_connection(stream, peer, move |_| {
                    Ok(Some(SimService {
                        plc: Arc::clone(&plc),
                    }))
                })
            }
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
    let mut scan_stop = stop_rx;
    let scan = tokio::spawn(async move {
        let mut interval = tokio::time::interval(SCAN);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => lock(&scan_plc).tick(Instant::now()),
                _ = scan_stop.wait_for(|stop| *stop) => break,
            }
        }
    });

    tracing::info!(%local_addr, "plc-sim: listening");
    Ok(SimHandle {
        local_addr,
        plc,
        stop,
        tasks: vec![server, scan],
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
