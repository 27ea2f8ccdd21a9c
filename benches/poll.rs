//! PLC polling against our simulator (`takt plc-sim`, a child process on loopback, so its CPU is
//! not counted here), next to a raw baseline measured in the same run.
//!
//! 1. Throughput, polling back to back. The baseline is a bare tokio-modbus client doing exactly
//!    the requests of one station poll with the default map: the reads of the default read plan
//!    (holding registers 0..23, one request) and the command writes (permit and work order in one
//!    FC16, heartbeat and andon call in one FC6 each): four requests a poll. Ours is the real poller
//!    with its period at zero, timeouts, reply checks, decode and the hand-off of every sample
//!    through its channel included; polls are counted from the samples it emits. Both run on a
//!    runtime built as `takt station` builds one, in 20 alternating pairs of 0.5 s rounds; the
//!    ratio is the median of the pairs' (on a shared 2-core machine single rounds swing by 3x with
//!    what else runs and where the scheduler puts the two processes).
//! 2. The whole station (poller, core thread, SQLite store, file logging; no TUI, no central) at the
//!    default 250 ms period, with an order running and the simulated machine making units, for
//!    10 s: CPU time over wall time, as a share of one core.
//!
//! CPU time is this process's, all threads: the sum of `/proc/self/task/*/schedstat` (ns on CPU).
//!
//! `cargo bench --bench poll` prints polls/s and CPU µs a poll of both, their ratio (target
//! ours ≥ 0.9 of bare) and the station's CPU share (target < 1 % of a core).

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use takt::clock::SystemClock;
use takt::domain::{PackMlState, StationId};
use takt::plc::layout::{CommandLayout, RegisterKind};
use takt::plc::{PlcEvent, PlcOutputs, PollerConfig, StatusLayout, spawn_poller};
use takt::protocol::{Change, ChangePage};
use takt::station::{CoreInput, Station, StationSetup, View};
use tokio::sync::{mpsc, watch};
use tokio_modbus::client::{Reader, Writer};

/// Length of one timed throughput round, after a short warm-up.
const ROUND: Duration = Duration::from_millis(500);
const WARM_UP: Duration = Duration::from_millis(100);
/// Rounds of each, in pairs (bare then ours, ours then bare, ...).
const PAIRS: usize = 20;
/// How long the station runs at its default poll period.
const STATION_RUN: Duration = Duration::from_secs(10);
/// Machine cycle of the simulator during the station run: faster than any cell of the demo plant
/// (3.0–4.5 s), so the run books units.
const STATION_CYCLE_MS: u64 = 1000;

/// CPU time of this process so far: every live thread's time on CPU, in nanoseconds.
fn cpu_time() -> Duration {
    let mut total = 0u64;
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    for task in tasks.flatten() {
        // A thread may end between the listing and the read; it then counts no more.
        if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat"))
            && let Some(ns) = text.split_whitespace().next()
        {
            total += ns.parse::<u64>().unwrap_or(0);
        }
    }
    Duration::from_nanos(total)
}

/// The simulator in a child process, killed when dropped.
struct Sim {
    child: Child,
    address: SocketAddr,
}

impl Sim {
    fn start(cycle_ms: u64) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_takt"))
            .args(["plc-sim", "--listen", "127.0.0.1:0", "--epoch", "7"])
            .args(["--cycle-ms", &cycle_ms.to_string()])
            .env("TAKT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start takt plc-sim");
        let stdout = child.stdout.take().expect("simulator stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("simulator address line");
        let address = line
            .trim()
            .rsplit(' ')
            .next()
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Sim { child, address }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one timed window saw.
#[derive(Clone, Copy, Default)]
struct Window {
    polls: u64,
    wall: Duration,
    cpu: Duration,
}

impl Window {
    fn add(&mut self, other: Window) {
        self.polls += other.polls;
        self.wall += other.wall;
        self.cpu += other.cpu;
    }

    fn per_second(&self) -> f64 {
        self.polls as f64 / self.wall.as_secs_f64()
    }

    fn cpu_per_poll_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.polls as f64
    }
}

/// Counts `polls` over one round after a warm-up, with the CPU and wall time it took.
async fn timed(polls: &AtomicU64) -> Window {
    tokio::time::sleep(WARM_UP).await;
    let (count, cpu, wall) = (polls.load(Ordering::Relaxed), cpu_time(), Instant::now());
    tokio::time::sleep(ROUND).await;
    let polls_now = polls.load(Ordering::Relaxed);
    let (cpu_now, wall_now) = (cpu_time(), Instant::now());
    Window {
        polls: polls_now - count,
        wall: wall_now - wall,
        cpu: cpu_now - cpu,
    }
}

/// The bare client: one station poll's requests with the default map, back to back, until `stop`.
async fn bare(address: SocketAddr) -> Window {
    let plan = StatusLayout::default().plan().to_vec();
    let commands = CommandLayout::default();
    assert!(
        plan.iter().all(|chunk| chunk.kind == RegisterKind::Holding),
        "the default map reads holding registers only"
    );
    assert_eq!(
        commands.permit.address + 1,
        commands.work_order_numeric.address,
        "the default map writes permit and work order in one request"
    );
    let stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut ctx = tokio_modbus::client::tcp::attach_slave(stream, tokio_modbus::Slave(1));
    let polls = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let client = tokio::spawn({
        let (polls, stop) = (Arc::clone(&polls), Arc::clone(&stop));
        async move {
            let mut heartbeat: u16 = 0;
            while !stop.load(Ordering::Relaxed) {
                for chunk in &plan {
                    let words = ctx
                        .read_holding_registers(chunk.start, chunk.count)
                        .await
                        .expect("read")
                        .expect("no exception");
                    black_box(words);
                }
                ctx.write_multiple_registers(commands.permit.address, &[0, 0, 0])
                    .await
                    .expect("write")
                    .expect("no exception");
                heartbeat = heartbeat.wrapping_add(1);
                ctx.write_single_register(commands.station_heartbeat.address, heartbeat)
                    .await
                    .expect("write")
                    .expect("no exception");
                ctx.write_single_register(commands.andon_call.address, 0)
                    .await
                    .expect("write")
                    .expect("no exception");
                polls.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let window = timed(&polls).await;
    stop.store(true, Ordering::Relaxed);
    client.await.expect("bare client");
    window
}

/// The real poller with a zero period; a consumer takes every sample off its channel.
async fn ours(address: SocketAddr) -> Window {
    let config = PollerConfig {
        address: address.to_string(),
        poll_interval: Duration::ZERO,
        core_watchdog: None,
        ..PollerConfig::default()
    };
    let (_outputs_tx, outputs_rx) = watch::channel(PlcOutputs::default());
    // The capacity the station uses.
    let (events_tx, mut events_rx) = mpsc::channel(64);
    let poller = spawn_poller(config, outputs_rx, events_tx);
    let polls = Arc::new(AtomicU64::new(0));
    let consumer = tokio::spawn({
        let polls = Arc::clone(&polls);
        async move {
            while let Some(event) = events_rx.recv().await {
                match event {
                    PlcEvent::Sample(sample) => {
                        black_box(sample);
                        polls.fetch_add(1, Ordering::Relaxed);
                    }
                    PlcEvent::Connected { .. } => {}
                    other => panic!("poller: {other:?}"),
                }
            }
        }
    });
    let window = timed(&polls).await;
    // Dropping the receiver ends the poller.
    consumer.abort();
    if let Err(error) = consumer.await
        && error.is_panic()
    {
        std::panic::resume_unwind(error.into_panic());
    }
    poller.await.expect("poller");
    window
}

/// Bare and ours in alternating pairs; each pair's ratio is taken from rounds a second apart, so
/// what the machine does meanwhile (another build, which CPU the scheduler puts whom on) hits both.
fn throughput(runtime: &tokio::runtime::Runtime, address: SocketAddr) -> Vec<(Window, Window)> {
    (0..PAIRS)
        .map(|pair| {
            if pair % 2 == 0 {
                let bare = runtime.block_on(bare(address));
                (bare, runtime.block_on(ours(address)))
            } else {
                let ours = runtime.block_on(ours(address));
                (runtime.block_on(bare(address)), ours)
            }
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn booked(view: &View) -> u64 {
    view.active.as_ref().map_or(0, |active| active.produced) + view.unassigned_produced
}

async fn wait_view(view: &mut watch::Receiver<View>, what: &str, check: impl Fn(&View) -> bool) {
    tokio::time::timeout(Duration::from_secs(30), view.wait_for(check))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("station running");
}

/// The station at its default period with an order running. Returns (wall, cpu, units booked).
async fn station_run(dir: &std::path::Path, address: SocketAddr) -> (Duration, Duration, u64) {
    let station_id = StationId::from("L1-S1");
    let db = dir.join("station.db");
    {
        let mut store = takt::store::Store::open(&db, &station_id).expect("open store");
        let mut state = store.load_state().expect("state");
        let changes = takt::central::demo::master_records(chrono::Utc::now().date_naive())
            .into_iter()
            .enumerate()
            .map(|(index, record)| Change {
                version: index as u64 + 1,
                record,
            })
            .collect();
        let page = ChangePage {
            changes,
            cursor: 1000,
            more: false,
            server_time: chrono::Utc::now(),
            waited_ms: 0,
        };
        store.apply_changes(&mut state, &page).expect("master data");
    }
    let config = PollerConfig {
        address: address.to_string(),
        ..PollerConfig::default()
    };
    assert_eq!(config.poll_interval, Duration::from_millis(250));
    let mut station = Station::start(StationSetup {
        station: station_id,
        db_path: db,
        plc: Some(config),
        sync: None,
        clock: Arc::new(SystemClock),
        options: Default::default(),
    })
    .await
    .expect("station");
    for text in [
        "EMP-1001",
        "1001",
        "WO-24001",
        "]C1010040123450001210C24-1107\u{1d}30400",
        "@START",
    ] {
        station
            .send(CoreInput::Scan(text.into()))
            .await
            .expect("core running");
    }
    wait_view(&mut station.view, "a unit booked", |view| {
        view.plc.state == Some(PackMlState::Execute) && booked(view) > 0
    })
    .await;
    let before = booked(&station.view.borrow());
    let (cpu, wall) = (cpu_time(), Instant::now());
    tokio::time::sleep(STATION_RUN).await;
    let (cpu_now, wall_now) = (cpu_time(), Instant::now());
    let units = booked(&station.view.borrow()) - before;
    station.shutdown().await;
    (wall_now - wall, cpu_now - cpu, units)
}

/// A runtime as `takt station` builds one (a worker a core), except that idle blocking threads (the
/// poller resolves its address on one) stay: one ending inside a timed window would take the CPU
/// time it had used out of the sum.
fn new_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_keep_alive(Duration::from_secs(600))
        .build()
        .expect("runtime")
}

fn main() {
    let runtime = new_runtime();

    let sim = Sim::start(4500);
    let pairs = throughput(&runtime, sim.address);
    drop(sim);
    println!(
        "poll: back to back against takt plc-sim (child process) on loopback, {PAIRS} pairs of {ROUND:?} rounds"
    );
    println!("  one poll = read HR 0..23, write HR 107..109, HR 103, HR 106 (4 requests)");
    let (mut bare, mut ours) = (Window::default(), Window::default());
    for (b, o) in &pairs {
        bare.add(*b);
        ours.add(*o);
    }
    let spread = |f: fn(&Window) -> f64, of_bare: bool| {
        let values: Vec<f64> = pairs
            .iter()
            .map(|(b, o)| f(if of_bare { b } else { o }))
            .collect();
        let (low, high) = values
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
        (median(values), low, high)
    };
    for (name, of_bare, total) in [
        ("bare tokio-modbus", true, bare),
        ("takt poller", false, ours),
    ] {
        let (rate, low, high) = spread(Window::per_second, of_bare);
        let (cpu, ..) = spread(Window::cpu_per_poll_us, of_bare);
        println!(
            "  {name:<18} median {rate:>6.0} polls/s (rounds {low:.0}..{high:.0})  {cpu:>5.1} µs CPU/poll  ({} polls)",
            total.polls
        );
    }
    let ratios: Vec<f64> = pairs
        .iter()
        .map(|(b, o)| o.per_second() / b.per_second())
        .collect();
    let cpu_ratios: Vec<f64> = pairs
        .iter()
        .map(|(b, o)| o.cpu_per_poll_us() / b.cpu_per_poll_us())
        .collect();
    println!(
        "  ratio polls/s (ours / bare): median of pairs {:.2}, all rounds {:.2}  (target >= 0.90)",
        median(ratios),
        ours.per_second() / bare.per_second()
    );
    println!(
        "  ratio CPU/poll (ours / bare): median of pairs {:.2}, all rounds {:.2}",
        median(cpu_ratios),
        ours.cpu_per_poll_us() / bare.cpu_per_poll_us()
    );

    // On the project's disk, not /tmp: /tmp may be memory, where fsync costs nothing.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    // Logged as the station logs: to a file, at info.
    let _log = takt::logging::to_file(&dir.path().join("log")).expect("logging");
    // A fresh runtime: the first one's threads are gone, not idling into the window.
    drop(runtime);
    let runtime = new_runtime();
    let sim = Sim::start(STATION_CYCLE_MS);
    let (wall, cpu, units) = runtime.block_on(station_run(dir.path(), sim.address));
    drop(sim);
    let share = cpu.as_secs_f64() / wall.as_secs_f64() * 100.0;
    let polls = wall.as_secs_f64() / 0.25;
    println!(
        "station: poller + core + SQLite store, default 250 ms period, machine cycle {STATION_CYCLE_MS} ms, {wall:.1?}"
    );
    println!(
        "  CPU {cpu:.1?} over {wall:.1?} = {share:.2} % of one core  (target < 1 %); {:.0} µs CPU a 250 ms period; {units} units booked",
        cpu.as_secs_f64() * 1e6 / polls
    );
}
