//! PLC link against the simulator: real Modbus TCP on loopback, no mocks.

use std::future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use takt::domain::plc::{PackMlState, PlcSample};
use takt::plc::{PlcEvent, PlcOutputs, PollerConfig, spawn_poller};
use takt::sim::{self, SimConfig, SimHandle};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_modbus::client::{Reader, Writer};
use tokio_modbus::{ExceptionCode, Request, Response};

const WAIT: Duration = Duration::from_secs(10);
const AMBER: u16 = 1 << 2;
const GREEN: u16 = 1 << 6;

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn fast_sim(epoch: Option<u16>) -> SimConfig {
    SimConfig {
        cycle_time: Duration::from_millis(50),
        defect_rate: 0.3,
        epoch,
        start_processed: 0,
        seed: Some(7),
        ..SimConfig::default()
    }
}

fn poller_config(address: SocketAddr) -> PollerConfig {
    PollerConfig {
        address: address.to_string(),
        unit_id: 1,
        poll_interval: Duration::from_millis(50),
        request_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        // These tests play the core by hand and do not refresh the outputs at every poll.
        core_watchdog: None,
        layout: takt::plc::StatusLayout::default(),
        commands: takt::plc::layout::CommandLayout::default(),
    }
}

struct Station {
    outputs: watch::Sender<PlcOutputs>,
    events: mpsc::Receiver<PlcEvent>,
    task: JoinHandle<()>,
}

fn start_poller(address: SocketAddr) -> Station {
    let (outputs, outputs_rx) = watch::channel(PlcOutputs::default());
    let (events_tx, events) = mpsc::channel(64);
    let task = spawn_poller(poller_config(address), outputs_rx, events_tx);
    Station {
        outputs,
        events,
        task,
    }
}

impl Station {
    /// Next event matching `pick`, skipping others; fails the test after `WAIT`.
    async fn next<T>(&mut self, what: &str, mut pick: impl FnMut(&PlcEvent) -> Option<T>) -> T {
        let events = &mut self.events;
        timeout(WAIT, async {
            loop {
                let event = events.recv().await.expect("poller ended early");
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    async fn sample_where(&mut self, what: &str, ok: impl Fn(&PlcSample) -> bool) -> PlcSample {
        self.next(what, |e| match e {
            PlcEvent::Sample(s) if ok(s) => Some(*s),
            _ => None,
        })
        .await
    }

    async fn link_down(&mut self) -> (String, Duration) {
        self.next("LinkDown", |e| match e {
            PlcEvent::LinkDown { error, retry_in } => Some((error.clone(), *retry_in)),
            _ => None,
        })
        .await
    }

    /// Dropping the receiver must end the poller promptly.
    async fn stop(self) {
        drop(self.events);
        timeout(WAIT, self.task)
            .await
            .expect("poller did not stop after its receiver was dropped")
            .expect("poller task panicked");
    }
}

async fn spawn_sim(config: SimConfig) -> SimHandle {
    sim::spawn(loopback(), config).await.expect("sim binds")
}

#[tokio::test]
async fn poller_connects_and_samples_decode() {
    let sim = spawn_sim(fast_sim(Some(41))).await;
    let mut st = start_poller(sim.local_addr());

    let address = st
        .next("Connected", |e| match e {
            PlcEvent::Connected { address } => Some(address.clone()),
            _ => None,
        })
        .await;
    assert_eq!(address, sim.local_addr().to_string());

    let first = st.sample_where("a sample", |_| true).await;
    assert_eq!(first.map_version, 1);
    assert_eq!(first.epoch, 41);
    assert_eq!(first.state, PackMlState::Idle);
    assert_eq!(first.unit_mode, 1);
    assert_eq!(first.stop_reason, 0);
    assert_eq!(first.stacklight_bits, AMBER);
    assert_eq!(first.processed, 0);

    // The PLC heartbeat moves at least once a second.
    st.sample_where("PLC heartbeat to move", |s| s.heartbeat != first.heartbeat)
        .await;

    // The command block reaches the PLC: heartbeat moving, permit 0, work order high word first.
    st.outputs.send_replace(PlcOutputs {
        permit: false,
        work_order_numeric: 0x0001_0002,
        andon: 0,
        ..PlcOutputs::default()
    });
    let mut station_heartbeats = Vec::new();
    st.next("command block written", |e| {
        if !matches!(e, PlcEvent::Sample(_)) {
            return None;
        }
        let r = sim.registers();
        station_heartbeats.push(r[103]);
        let moved = station_heartbeats.first() != station_heartbeats.last();
        (moved && r[107] == 0 && r[108..110] == [1, 2]).then_some(())
    })
    .await;
    let r = sim.registers();
    assert_eq!(r[104..107], [0, 0, 0], "the station never writes 104-106");
    assert_eq!(sim.state(), PackMlState::Idle, "no permit, no run");

    st.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn permit_runs_the_line_and_withdrawing_it_stops_the_counts() {
    let sim = spawn_sim(fast_sim(Some(3))).await;
    let mut st = start_poller(sim.local_addr());
    st.sample_where("idle sample", |s| s.state == PackMlState::Idle)
        .await;

    st.outputs.send_replace(PlcOutputs {
        permit: true,
        work_order_numeric: 17,
        andon: 0,
        ..PlcOutputs::default()
    });
    let running = st
        .sample_where("Execute with units counted", |s| {
            s.state == PackMlState::Execute && s.processed >= 10
        })
        .await;
    assert_eq!(running.stacklight_bits, GREEN);
    assert_eq!(running.speed_x100, 120_000, "50 ms cycle = 1200 units/min");
    assert_eq!(running.last_cycle_ms, 50);
    assert!(running.defective <= running.processed);
    assert!(running.cycles >= running.processed);
    assert!(sim.processed() >= running.processed);

    st.outputs.send_replace(PlcOutputs::default());
    let idle = st
        .sample_where("Idle after permit withdrawn", |s| {
            s.state == PackMlState::Idle
        })
        .await;
    assert_eq!(idle.stacklight_bits, AMBER);
    assert_eq!(idle.speed_x100, 0);
    // Ten more polls span ten cycle times: an idle line must not count.
    for _ in 0..10 {
        let s = st.sample_where("another sample", |_| true).await;
        assert_eq!(s.state, PackMlState::Idle);
        assert_eq!(s.processed, idle.processed, "counts moved while idle");
        assert_eq!(s.defective, idle.defective);
    }
    assert_eq!(sim.processed(), idle.processed);

    st.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn counters_roll_over_as_u32() {
    let mut config = fast_sim(Some(5));
    config.start_processed = u32::MAX - 2;
    let sim = spawn_sim(config).await;
    let mut st = start_poller(sim.local_addr());
    let before = st.sample_where("sample", |_| true).await;
    assert_eq!(before.processed, u32::MAX - 2);

    st.outputs.send_replace(PlcOutputs {
        permit: true,
        work_order_numeric: 1,
        andon: 0,
        ..PlcOutputs::default()
    });
    // The station side going away must not stop the poller: it keeps writing the last outputs,
    // so the line keeps running and the counter reaches the rollover.
    let (orphan, _) = watch::channel(PlcOutputs::default());
    drop(std::mem::replace(&mut st.outputs, orphan));
    let after = st
        .sample_where("processed past the rollover", |s| s.processed < 1000)
        .await;
    assert_eq!(after.epoch, 5, "a rollover is not a restart");

    st.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn sim_shutdown_is_link_down_and_a_new_sim_on_the_same_port_reconnects() {
    // No fixed epochs: this also checks that derived epochs differ between starts.
    let sim = spawn_sim(fast_sim(None)).await;
    let addr = sim.local_addr();
    let mut st = start_poller(addr);
    let old = st.sample_where("sample from first sim", |_| true).await;

    sim.shutdown().await;
    let (error, retry_in) = st.link_down().await;
    assert!(!error.is_empty());
    assert!(retry_in >= Duration::from_millis(50) && retry_in <= Duration::from_millis(400));

    let sim = sim::spawn(addr, fast_sim(None))
        .await
        .expect("rebind the same port");
    assert_eq!(sim.local_addr(), addr);
    st.next("Connected again", |e| {
        matches!(e, PlcEvent::Connected { .. }).then_some(())
    })
    .await;
    let new = st.sample_where("sample from second sim", |_| true).await;
    assert_ne!(new.epoch, old.epoch, "a restarted PLC reports a new epoch");

    st.stop().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn nobody_listening_is_a_readable_link_down_and_retries() {
    let probe = tokio::net::TcpListener::bind(loopback())
        .await
        .expect("bind probe");
    let addr = probe.local_addr().expect("probe addr");
    drop(probe);

    let mut st = start_poller(addr);
    let (error, first_retry) = st.link_down().await;
    assert!(
        error.contains(&format!("connect to {addr} failed")),
        "unreadable error: {error}"
    );
    assert!(error.to_lowercase().contains("refused"), "{error}");
    assert_eq!(first_retry, Duration::from_millis(50));

    // Keeps retrying, backing off.
    let (_, second_retry) = st.link_down().await;
    let (_, third_retry) = st.link_down().await;
    assert!(
        second_retry >= Duration::from_millis(75),
        "{second_retry:?}"
    );
    assert!(third_retry >= Duration::from_millis(150), "{third_retry:?}");

    st.stop().await;
}

#[tokio::test]
async fn sim_enforces_the_map_over_the_wire() {
    let sim = spawn_sim(fast_sim(Some(9))).await;
    let mut ctx = tokio_modbus::client::tcp::connect(sim.local_addr())
        .await
        .expect("connect");

    let status = ctx
        .read_holding_registers(0, 64)
        .await
        .expect("transport")
        .expect("no exception");
    assert_eq!(status[..3], [1, status[1], 9]);
    let input = ctx
        .read_input_registers(0, 3)
        .await
        .expect("transport")
        .expect("FC4 reads the same image");
    assert_eq!(input[2], 9);
    assert_eq!(
        ctx.read_holding_registers(0, 112)
            .await
            .expect("transport")
            .map(|w| w.len()),
        Ok(112)
    );
    assert_eq!(
        ctx.read_holding_registers(100, 13)
            .await
            .expect("transport"),
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        ctx.read_holding_registers(0, 126).await.expect("transport"),
        Err(ExceptionCode::IllegalDataValue)
    );
    assert_eq!(
        ctx.write_single_register(3, 6).await.expect("transport"),
        Err(ExceptionCode::IllegalDataAddress),
        "status block is read-only"
    );
    assert_eq!(
        ctx.write_multiple_registers(110, &[1, 2, 3])
            .await
            .expect("transport"),
        Err(ExceptionCode::IllegalDataAddress)
    );
    assert_eq!(
        ctx.write_multiple_registers(107, &[1, 0, 42])
            .await
            .expect("transport"),
        Ok(())
    );
    assert_eq!(sim.registers()[107..110], [1, 0, 42]);
    assert_eq!(
        ctx.read_coils(0, 1).await.expect("transport"),
        Err(ExceptionCode::IllegalFunction)
    );

    sim.set_stop_reason(12);
    assert_eq!(sim.state(), PackMlState::Stopped);

    // shutdown drops live client connections, not just the listener.
    sim.shutdown().await;
    let after = timeout(WAIT, ctx.read_holding_registers(0, 1))
        .await
        .expect("a closed connection fails fast, it does not hang");
    assert!(after.is_err(), "read after shutdown: {after:?}");
}

/// A deliberately broken PLC: a real Modbus TCP server whose answers the poller must survive.
#[derive(Clone, Copy)]
enum Broken {
    /// Every request answered with a Modbus exception.
    Busy,
    /// Reads answered with fewer registers than asked (trips a debug_assert in tokio-modbus's
    /// `Reader`, which the poller must not use).
    ShortReads,
    /// Not broken, but foreign: counters in input registers 300.. low word first, a stop bit as a
    /// discrete input, its own state code 3 for running.
    Foreign,
}

impl tokio_modbus::server::Service for Broken {
    type Request = Request<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, request: Self::Request) -> Self::Future {
        future::ready(match (self, request) {
            (Broken::Busy, _) => Err(ExceptionCode::ServerDeviceBusy),
            (Broken::ShortReads, Request::ReadHoldingRegisters(_, n)) => {
                Ok(Response::ReadHoldingRegisters(vec![
                    0;
                    usize::from(
                        n.saturating_sub(1)
                    )
                ]))
            }
            (Broken::ShortReads, Request::WriteSingleRegister(a, w)) => {
                Ok(Response::WriteSingleRegister(a, w))
            }
            (Broken::ShortReads, _) => Err(ExceptionCode::IllegalFunction),
            (Broken::Foreign, Request::ReadHoldingRegisters(start, n)) => {
                let mut words = vec![0u16; usize::from(n)];
                // Its own code 3 means running.
                if let Some(word) = words.get_mut(usize::from(3u16.saturating_sub(start))) {
                    *word = 3;
                }
                Ok(Response::ReadHoldingRegisters(words))
            }
            (Broken::Foreign, Request::ReadInputRegisters(300, 4)) => {
                // processed 70 000 = 0x0001_1170 and defective 5, low word first.
                Ok(Response::ReadInputRegisters(vec![0x1170, 0x0001, 5, 0]))
            }
            (Broken::Foreign, Request::ReadDiscreteInputs(7, 1)) => {
                Ok(Response::ReadDiscreteInputs(vec![true]))
            }
            // Its command signals: permit on coil 10, the work order in HR500-501 (low word
            // first), the station heartbeat in HR502, the andon call in HR503. Anything else is refused.
            (Broken::Foreign, Request::WriteSingleCoil(10, on)) => {
                Ok(Response::WriteSingleCoil(10, on))
            }
            (Broken::Foreign, Request::WriteSingleRegister(a @ (502 | 503), w)) => {
                Ok(Response::WriteSingleRegister(a, w))
            }
            (Broken::Foreign, Request::WriteMultipleRegisters(500, words)) if words.len() == 2 => {
                Ok(Response::WriteMultipleRegisters(500, 2))
            }
            (Broken::Foreign, _) => Err(ExceptionCode::IllegalDataAddress),
        })
    }
}

async fn spawn_broken(kind: Broken) -> (SocketAddr, JoinHandle<()>) {
    use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
    let listener = tokio::net::TcpListener::bind(loopback())
        .await
        .expect("bind broken plc");
    let addr = listener.local_addr().expect("addr");
    let service = Arc::new(kind);
    let task = tokio::spawn(async move {
        let on_connected = move |stream, peer| {
            let service = Arc::clone(&service);
            async move { accept_tcp_connection(stream, peer, move |_| Ok(Some(Arc::clone(&service)))) }
        };
        let _ = Server::new(listener).serve(&on_connected, |_| {}).await;
    });
    (addr, task)
}

#[tokio::test]
async fn a_modbus_exception_keeps_the_link() {
    let (addr, server) = spawn_broken(Broken::Busy).await;
    let mut st = start_poller(addr);
    let mut exceptions = 0;
    st.next("three exceptions without a LinkDown", |e| match e {
        PlcEvent::Exception { what } => {
            assert!(what.contains("read status block"), "{what}");
            exceptions += 1;
            (exceptions == 3).then_some(())
        }
        PlcEvent::LinkDown { error, .. } => panic!("exception dropped the link: {error}"),
        _ => None,
    })
    .await;
    st.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_short_reply_drops_the_link_without_panicking() {
    let (addr, server) = spawn_broken(Broken::ShortReads).await;
    let mut st = start_poller(addr);
    let (error, _) = st.link_down().await;
    assert!(
        error.contains("23 values from holding register 0, asked for 24"),
        "{error}"
    );
    // And it reconnects to try again.
    st.next("reconnect", |e| {
        matches!(e, PlcEvent::Connected { .. }).then_some(())
    })
    .await;
    assert!(
        !st.task.is_finished(),
        "poller must survive a malformed PLC"
    );
    st.stop().await;
    server.abort();
}

#[tokio::test]
async fn a_stuck_core_loses_the_permit_and_the_line_stops() {
    let sim = spawn_sim(fast_sim(Some(5))).await;
    let (outputs, outputs_rx) = watch::channel(PlcOutputs::default());
    let (events_tx, events) = mpsc::channel(64);
    let config = PollerConfig {
        core_watchdog: Some(Duration::from_millis(400)),
        ..poller_config(sim.local_addr())
    };
    let task = spawn_poller(config, outputs_rx, events_tx);
    let mut st = Station {
        outputs,
        events,
        task,
    };

    // A live core refreshes its outputs after everything it handles: the line runs.
    let wanted = PlcOutputs {
        permit: true,
        work_order_numeric: 9,
        andon: 0,
        ..PlcOutputs::default()
    };
    let running = timeout(WAIT, async {
        loop {
            st.outputs.send_replace(wanted);
            let sample = st.sample_where("a sample", |_| true).await;
            if sample.state == PackMlState::Execute {
                return sample;
            }
        }
    })
    .await
    .expect("the line runs while the core is alive");
    assert_eq!(running.state, PackMlState::Execute);

    // The core stops refreshing (stuck): the poller writes permit 0 and freezes the heartbeat.
    let idle = st
        .sample_where("Idle once the core is stuck", |s| {
            s.state == PackMlState::Idle
        })
        .await;
    assert_eq!(idle.state, PackMlState::Idle);
    assert_eq!(
        sim.registers()[107],
        0,
        "permit withdrawn by the poller itself"
    );
    st.stop().await;
    sim.shutdown().await;
}

/// A PLC that does not speak our map: the station reads it through a `[plc.map]` layout (input
/// registers, swapped word order, a discrete input, its own state code).
#[tokio::test]
async fn a_foreign_map_is_read_through_the_configured_layout() {
    let (addr, server) = spawn_broken(Broken::Foreign).await;
    let section: takt::plc::MapSection = toml::from_str(
        r#"
        [fields.processed]
        kind = "input"
        address = 300
        word_order = "low_first"
        [fields.defective]
        kind = "input"
        address = 302
        word_order = "low_first"
        [fields.stop_reason]
        kind = "discrete"
        address = 7
        [states]
        "3" = "execute"
        [commands.permit]
        kind = "coil"
        address = 10
        [commands.work_order_numeric]
        address = 500
        word_order = "low_first"
        [commands.station_heartbeat]
        address = 502
        [commands.andon_call]
        address = 503
        "#,
    )
    .expect("map section");
    let (outputs, outputs_rx) = watch::channel(PlcOutputs::default());
    let (events_tx, events) = mpsc::channel(64);
    let config = PollerConfig {
        layout: takt::plc::StatusLayout::new(&section).expect("layout"),
        commands: takt::plc::layout::CommandLayout::new(&section).expect("commands"),
        ..poller_config(addr)
    };
    let task = spawn_poller(config, outputs_rx, events_tx);
    let mut st = Station {
        outputs,
        events,
        task,
    };
    let sample = st
        .next("a sample", |e| match e {
            PlcEvent::Sample(sample) => Some(*sample),
            _ => None,
        })
        .await;
    assert_eq!(sample.processed, 70_000);
    assert_eq!(sample.defective, 5);
    assert_eq!(sample.stop_reason, 1);
    assert_eq!(sample.state, PackMlState::Execute);
    // The writes go where the map says: a foreign PLC refusing anything else raises no exception
    // over several polls (the default command block would be refused at once).
    let _ = st.outputs.send(PlcOutputs {
        permit: true,
        work_order_numeric: 24001,
        andon: 0,
        ..PlcOutputs::default()
    });
    let mut samples = 0;
    st.next("five polls without an exception", |e| match e {
        PlcEvent::Exception { what } => panic!("a write went astray: {what}"),
        PlcEvent::Sample(_) => {
            samples += 1;
            (samples == 5).then_some(())
        }
        _ => None,
    })
    .await;
    st.stop().await;
    server.abort();
}

/// The same foreign PLC with the default command block: the station's writes are refused, and
/// said so (the permit never reaches a PLC whose map was not configured).
#[tokio::test]
async fn writes_outside_a_foreign_plcs_command_block_are_said() {
    let (addr, server) = spawn_broken(Broken::Foreign).await;
    let mut st = start_poller(addr);
    st.next("a refused write", |e| match e {
        PlcEvent::Exception { what } if what.contains("write") => Some(()),
        _ => None,
    })
    .await;
    st.stop().await;
    server.abort();
}

/// A process value the map names (the simulator's gauge at HR48, a leak rate × 1000) is read with
/// every sample, scaled into its unit: what an inspection can take from the PLC instead of keying.
#[tokio::test]
async fn named_process_values_are_read_in_engineering_units() {
    let sim = spawn_sim(SimConfig {
        defect_rate: 0.0,
        ..fast_sim(Some(5))
    })
    .await;
    let (outputs, outputs_rx) = watch::channel(PlcOutputs::default());
    let (events_tx, mut events) = mpsc::channel(64);
    let section: takt::plc::MapSection =
        toml::from_str("[values.leak_rate]\naddress = 48\nscale = 0.001\nunit = \"ml/min\"\n")
            .expect("map section");
    let task = spawn_poller(
        PollerConfig {
            layout: takt::plc::StatusLayout::new(&section).expect("layout"),
            ..poller_config(sim.local_addr())
        },
        outputs_rx,
        events_tx,
    );
    outputs.send_replace(PlcOutputs {
        permit: true,
        ..PlcOutputs::default()
    });
    let reading = timeout(WAIT, async {
        loop {
            match events.recv().await.expect("poller") {
                PlcEvent::Values(values) if values.iter().any(|v| v.value > 0.0) => {
                    return values;
                }
                _ => {}
            }
        }
    })
    .await
    .expect("a gauge reading");
    assert_eq!(reading.len(), 1);
    assert_eq!(reading[0].name, "leak_rate");
    assert_eq!(reading[0].unit, "ml/min");
    // A good unit reads 0.200 ml/min ± 0.06 at most.
    assert!(
        (0.14..=0.26).contains(&reading[0].value),
        "{:?}",
        reading[0]
    );
    drop(outputs);
    task.abort();
    sim.shutdown().await;
}
