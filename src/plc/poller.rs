//! The Modbus TCP poller: one task owns the tokio-modbus client context, reads the status block,
//! writes the command block, and reconnects with capped, jittered backoff.
//!
//! The rules come from plc_sync.md §1: tokio-modbus has no timeouts of its own, a context that saw a
//! timeout is poisoned (a late reply shifts every later transaction id), and a short reply trips a
//! `debug_assert` inside `Reader::read_holding_registers`. So every request goes through
//! `Client::call` (which has no such assert) under `tokio::time::timeout`, replies are checked
//! here, and any timeout, transport/protocol error or malformed reply drops the connection. A
//! Modbus exception is the PLC answering properly, so it keeps the link.

use std::borrow::Cow;
use std::time::Duration;

use rand::Rng;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, timeout};
use tokio_modbus::client::{Client, Context};
use tokio_modbus::{Request, Response, Slave};

use super::layout::{Chunk, CommandLayout, Field, RegisterKind, StatusLayout};
use crate::domain::part_record::{PartAck, PartRecordHead};
use crate::domain::plc::PlcSample;

#[derive(Debug, Clone, PartialEq)]
pub struct PollerConfig {
    /// "host:port"; resolved at every connect so a DNS change is picked up.
    pub address: String,
    pub unit_id: u8,
    /// Zero polls back to back, with no wait between polls (the poll benchmark).
    pub poll_interval: Duration,
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// The core refreshes the outputs after everything it handles. When it has not for this long it
    /// is stuck: the poller stops moving the station heartbeat and writes permit 0, so the PLC
    /// stops a machine nobody is recording. `None` trusts the outputs forever (tools, tests).
    pub core_watchdog: Option<Duration>,
    /// Where the status signals are and how to read them (`[plc.map.fields]`).
    pub layout: StatusLayout,
    /// Where the station writes (`[plc.map.commands]`).
    pub commands: CommandLayout,
}

impl Default for PollerConfig {
    fn default() -> Self {
        PollerConfig {
            address: "127.0.0.1:502".into(),
            // Unit 1 rather than tokio-modbus's 0xFF: some servers (pymodbus) reject 0xFF.
            unit_id: 1,
            poll_interval: Duration::from_millis(250),
            request_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(3),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(10),
            core_watchdog: Some(Duration::from_secs(3)),
            layout: StatusLayout::default(),
            commands: CommandLayout::default(),
        }
    }
}

/// What the station wants the PLC to see, written every poll.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlcOutputs {
    pub permit: bool,
    pub work_order_numeric: u32,
    /// The open andon call (0 none, 1 help, 2 material, 3 quality, 4 maintenance).
    pub andon: u16,
    /// A PackML command to send once (Reset, Clear), while it is fresh.
    pub machine_command: Option<MachineCommand>,
    /// The per-part record the core has committed last. Written to the PLC only while the FIFO
    /// head read on the same connection is that very record, so it is never acknowledged to a
    /// PLC that restarted and counts its records anew.
    pub part_ack: Option<PartAck>,
}

/// A PackML command for the PLC's CntrlCmd, sent once: `id` (the event's seq) tells a new command
/// from the same one still published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineCommand {
    pub id: u64,
    pub code: u16,
}

#[derive(Debug, Clone)]
pub enum PlcEvent {
    Connected {
        address: String,
    },
    Sample(PlcSample),
    /// The process values the map names, read with the sample before them (only when it names
    /// some).
    Values(Vec<super::layout::ProcessValue>),
    /// The head of the per-part record FIFO, read with the sample before it (only when the
    /// layout reads part records and the FIFO is not empty).
    PartRecord(PartRecordHead),
    /// The PLC answered with a Modbus exception (or a block the map cannot decode); the link stays.
    Exception {
        what: String,
    },
    /// The connection failed or was dropped; the poller retries after `retry_in`.
    LinkDown {
        error: String,
        retry_in: Duration,
    },
}

/// Starts the poller. It runs until `events`' receiver is dropped. If the `outputs` sender is
/// dropped it keeps writing the last value.
pub fn spawn_poller(
    config: PollerConfig,
    outputs: watch::Receiver<PlcOutputs>,
    events: mpsc::Sender<PlcEvent>,
) -> JoinHandle<()> {
    tokio::spawn(run(config, outputs, events))
}

/// Delay before reconnect attempt `attempt` (0 = first retry): `min · 2^attempt`, capped at `max`,
/// then spread over ¾..1 of that by `jitter` (0..1) so stations restarted together do not retry in
/// lockstep. Never below `min`.
pub fn backoff_delay(attempt: u32, min: Duration, max: Duration, jitter: f64) -> Duration {
    let max = max.max(min);
    let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
    let base = min.checked_mul(factor).unwrap_or(max).min(max);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    base.mul_f64(0.75 + 0.25 * jitter).max(min)
}

#[derive(Debug, thiserror::Error)]
enum LinkError {
    #[error("cannot resolve {address}: {source}")]
    Resolve {
        address: String,
        source: std::io::Error,
    },
    #[error("{address} resolves to no address")]
    NoAddress { address: String },
    #[error("connect to {address} failed: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("connect to {address} timed out after {after:?}")]
    ConnectTimeout { address: String, after: Duration },
    #[error("{what}: no reply within {after:?}")]
    Timeout { what: &'static str, after: Duration },
    // tokio-modbus 0.17 reports a peer close as the last OS error (often "Operation now in
    // progress"), hence the hint in the text.
    #[error("{what}: connection lost or garbled ({source})")]
    Modbus {
        what: &'static str,
        source: tokio_modbus::Error,
    },
    #[error("{what}: malformed reply: {detail}")]
    BadReply { what: &'static str, detail: String },
}

enum Fault {
    Exception(String),
    Link(LinkError),
}

/// Why a connection's poll loop ended.
enum End {
    /// The events receiver is gone: the poller's job is over.
    Stop,
    Down(LinkError),
}

async fn run(
    config: PollerConfig,
    mut outputs: watch::Receiver<PlcOutputs>,
    events: mpsc::Sender<PlcEvent>,
) {
    let mut core_seen = Instant::now();
    let mut attempt: u32 = 0;
    let mut heartbeat: u16 = 0;
    // Outlives a link: a command sent before a reconnect is not sent again.
    let mut command_sent: Option<u64> = None;
    loop {
        let connected = tokio::select! {
            result = connect(&config) => result,
            () = events.closed() => return,
        };
        let error = match connected {
            Ok(ctx) => {
                tracing::info!(address = %config.address, "plc: connected");
                let event = PlcEvent::Connected {
                    address: config.address.clone(),
                };
                if events.send(event).await.is_err() {
                    return;
                }
                let mut link = Link {
                    ctx,
                    config: &config,
                    events: &events,
                    command_sent: &mut command_sent,
                };
                match link
                    .poll_until_down(&mut outputs, &mut core_seen, &mut heartbeat, &mut attempt)
                    .await
                {
                    End::Stop => return,
                    // The context is dropped with `link` here: never reuse one after a fault.
                    End::Down(error) => error,
                }
            }
            Err(error) => error,
        };
        let jitter: f64 = rand::rng().random();
        let retry_in = backoff_delay(attempt, config.backoff_min, config.backoff_max, jitter);
        attempt = attempt.saturating_add(1);
        tracing::warn!(address = %config.address, %error, ?retry_in, "plc: link down");
        let event = PlcEvent::LinkDown {
            error: error.to_string(),
            retry_in,
        };
        if events.send(event).await.is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(retry_in) => {}
            () = events.closed() => return,
        }
    }
}

async fn connect(config: &PollerConfig) -> Result<Context, LinkError> {
    let address = config.address.as_str();
    // Resolution is inside the timeout too: a hung DNS lookup is as bad as a black-holed SYN.
    let attempt = async {
        let candidates =
            tokio::net::lookup_host(address)
                .await
                .map_err(|source| LinkError::Resolve {
                    address: address.to_owned(),
                    source,
                })?;
        let mut last = None;
        for candidate in candidates {
            match TcpStream::connect(candidate).await {
                Ok(stream) => return Ok(stream),
                Err(err) => last = Some(err),
            }
        }
        Err(match last {
            Some(source) => LinkError::Connect {
                address: address.to_owned(),
                source,
            },
            None => LinkError::NoAddress {
                address: address.to_owned(),
            },
        })
    };
    let stream = timeout(config.connect_timeout, attempt)
        .await
        .map_err(|_| LinkError::ConnectTimeout {
            address: address.to_owned(),
            after: config.connect_timeout,
        })??;
    // Modbus is small request/reply frames; Nagle would add latency to every write.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%err, "plc: set_nodelay failed");
    }
    Ok(tokio_modbus::client::tcp::attach_slave(
        stream,
        Slave(config.unit_id),
    ))
}

struct Link<'a> {
    ctx: Context,
    config: &'a PollerConfig,
    events: &'a mpsc::Sender<PlcEvent>,
    /// The id of the last machine command written.
    command_sent: &'a mut Option<u64>,
}

impl Link<'_> {
    async fn poll_until_down(
        &mut self,
        outputs: &mut watch::Receiver<PlcOutputs>,
        core_seen: &mut Instant,
        heartbeat: &mut u16,
        attempt: &mut u32,
    ) -> End {
        // A zero period polls back to back, for the poll benchmark (a station's configuration asks
        // for 50 ms or more).
        let mut ticks = (!self.config.poll_interval.is_zero()).then(|| {
            let mut ticks = tokio::time::interval(self.config.poll_interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        // The FIFO head (epoch, record_seq) this connection read last.
        let mut fifo_head: Option<(u16, u32)> = None;
        loop {
            match ticks.as_mut() {
                Some(ticks) => tokio::select! {
                    _ = ticks.tick() => {}
                    () = self.events.closed() => return End::Stop,
                },
                None if self.events.is_closed() => return End::Stop,
                None => {}
            }

            // The ack goes out before the read, so the read can already show the next record.
            let committed = outputs.borrow().part_ack;
            match self.acknowledge_part(committed, fifo_head).await {
                Ok(()) => {}
                Err(Fault::Link(error)) => return End::Down(error),
                Err(Fault::Exception(what)) => {
                    if self.exception(what).await.is_err() {
                        return End::Stop;
                    }
                }
            }

            let sample = match self.read_status().await {
                Ok(reads) => self
                    .config
                    .layout
                    .decode(&reads)
                    .and_then(|sample| {
                        Ok((
                            sample,
                            self.config.layout.decode_part_record(&reads)?,
                            self.config.layout.decode_values(&reads)?,
                        ))
                    })
                    .map_err(|err| Fault::Exception(format!("decode status: {err}"))),
                Err(fault) => Err(fault),
            };
            match sample {
                Ok((sample, head, values)) => {
                    if self.events.send(PlcEvent::Sample(sample)).await.is_err() {
                        return End::Stop;
                    }
                    if !values.is_empty()
                        && self.events.send(PlcEvent::Values(values)).await.is_err()
                    {
                        return End::Stop;
                    }
                    if let Some(head) = head {
                        fifo_head = Some((head.plc_epoch, head.record_seq));
                        if head.record_seq != 0
                            && self.events.send(PlcEvent::PartRecord(head)).await.is_err()
                        {
                            return End::Stop;
                        }
                    }
                }
                Err(Fault::Link(error)) => return End::Down(error),
                // Skip the writes: a station that cannot see its PLC should let the PLC's
                // heartbeat watchdog take the run permit away.
                Err(Fault::Exception(what)) => {
                    if self.exception(what).await.is_err() {
                        return End::Stop;
                    }
                    continue;
                }
            }

            if outputs.has_changed().unwrap_or(false) {
                outputs.borrow_and_update();
                *core_seen = Instant::now();
            }
            let core_alive = self
                .config
                .core_watchdog
                .is_none_or(|limit| core_seen.elapsed() <= limit);
            let wanted = if core_alive {
                *heartbeat = heartbeat.wrapping_add(1);
                *outputs.borrow()
            } else {
                PlcOutputs::default()
            };
            match self.write_commands(*heartbeat, wanted).await {
                // Only a whole cycle (read and writes) proves the link: a gateway that answers
                // reads but drops writes must not reset the backoff at every reconnect.
                Ok(()) => *attempt = 0,
                Err(Fault::Link(error)) => return End::Down(error),
                Err(Fault::Exception(what)) => {
                    if self.exception(what).await.is_err() {
                        return End::Stop;
                    }
                }
            }
        }
    }

    /// Writes the acknowledgement of the record the core committed, if the PLC on this connection
    /// shows that very record (same epoch, same seq) as its FIFO head: after a PLC restart the
    /// same seq is another part, and a seq the PLC has already popped needs no ack.
    async fn acknowledge_part(
        &mut self,
        committed: Option<PartAck>,
        fifo_head: Option<(u16, u32)>,
    ) -> Result<(), Fault> {
        let Some(field) = self.config.commands.ack_record_seq else {
            return Ok(());
        };
        match part_ack_due(committed, fifo_head) {
            Some(seq) => self.write_field("write part-record ack", &field, seq).await,
            None => Ok(()),
        }
    }

    // `&mut`, not `&`: the Context inside is Send but not Sync, and the poller future must be Send.
    async fn exception(&mut self, what: String) -> Result<(), ()> {
        tracing::warn!(address = %self.config.address, %what, "plc: exception");
        self.events
            .send(PlcEvent::Exception { what })
            .await
            .map_err(|_| ())
    }

    /// Every read of the layout's plan, in order; bits come back as 0 or 1.
    async fn read_status(&mut self) -> Result<Vec<Vec<u16>>, Fault> {
        let plan: Vec<Chunk> = self.config.layout.plan().to_vec();
        let mut reads = Vec::with_capacity(plan.len());
        for chunk in plan {
            reads.push(self.read_chunk(chunk).await?);
        }
        Ok(reads)
    }

    async fn read_chunk(&mut self, chunk: Chunk) -> Result<Vec<u16>, Fault> {
        const WHAT: &str = "read status block";
        let Chunk { kind, start, count } = chunk;
        let request = match kind {
            RegisterKind::Holding => Request::ReadHoldingRegisters(start, count),
            RegisterKind::Input => Request::ReadInputRegisters(start, count),
            RegisterKind::Coil => Request::ReadCoils(start, count),
            RegisterKind::Discrete => Request::ReadDiscreteInputs(start, count),
        };
        let wanted = usize::from(count);
        let words: Vec<u16> = match self.call(WHAT, request).await? {
            Response::ReadHoldingRegisters(words) | Response::ReadInputRegisters(words) => words,
            // Bits come padded to whole bytes: keep the ones asked for.
            Response::ReadCoils(bits) | Response::ReadDiscreteInputs(bits) => {
                bits.into_iter().take(wanted).map(u16::from).collect()
            }
            other => return Err(bad_reply(WHAT, format!("{other:?}"))),
        };
        if words.len() != wanted {
            // A short reply is a desynchronised or broken link, never data.
            return Err(bad_reply(
                WHAT,
                format!(
                    "{} values from {} {start}, asked for {count}",
                    words.len(),
                    kind.words()
                ),
            ));
        }
        Ok(words)
    }

    async fn write_commands(&mut self, heartbeat: u16, wanted: PlcOutputs) -> Result<(), Fault> {
        let c = self.config.commands;
        let permit = u32::from(wanted.permit);
        let order = CommandLayout::words(&c.work_order_numeric, wanted.work_order_numeric);
        // The permit first: a PLC that refuses the heartbeat address must still get the interlock.
        // One request when adjacent registers, so the PLC never sees a permit paired with a stale
        // order.
        let adjacent = c.permit.kind == RegisterKind::Holding
            && c.work_order_numeric.kind == RegisterKind::Holding
            && c.permit.address.checked_add(1) == Some(c.work_order_numeric.address);
        if adjacent {
            let mut words = vec![permit as u16];
            words.extend(order);
            self.write_multiple("write permit and work order", c.permit.address, &words)
                .await?;
        } else {
            self.write_field("write permit", &c.permit, permit).await?;
            self.write_field(
                "write work order",
                &c.work_order_numeric,
                wanted.work_order_numeric,
            )
            .await?;
        }
        // The heartbeat before the andon call: a PLC refusing the andon register must still see
        // the station alive.
        self.write_field(HEARTBEAT, &c.station_heartbeat, u32::from(heartbeat))
            .await?;
        self.write_field("write andon call", &c.andon_call, u32::from(wanted.andon))
            .await?;
        if let Some(command) = wanted.machine_command
            && *self.command_sent != Some(command.id)
            && let (Some(command_field), Some(request_field)) = (c.packml_command, c.change_request)
        {
            // The command, then the change request that tells the PLC to take it (it clears the
            // request when it has).
            self.write_field(
                "write PackML command",
                &command_field,
                u32::from(command.code),
            )
            .await?;
            self.write_field("write command change request", &request_field, 1)
                .await?;
            *self.command_sent = Some(command.id);
        }
        Ok(())
    }

    /// One command signal: a coil, one register, or two in the field's word order.
    async fn write_field(
        &mut self,
        what: &'static str,
        field: &Field,
        value: u32,
    ) -> Result<(), Fault> {
        match field.kind {
            // On a coil the heartbeat toggles (odd on, even off); anything else is on when set.
            RegisterKind::Coil => {
                let on = if what == HEARTBEAT {
                    value % 2 == 1
                } else {
                    value != 0
                };
                self.write_coil(what, field.address, on).await
            }
            _ => {
                let words = CommandLayout::words(field, value);
                match words.as_slice() {
                    [word] => self.write_single(what, field.address, *word).await,
                    _ => self.write_multiple(what, field.address, &words).await,
                }
            }
        }
    }

    async fn write_coil(
        &mut self,
        what: &'static str,
        address: u16,
        on: bool,
    ) -> Result<(), Fault> {
        match self
            .call(what, Request::WriteSingleCoil(address, on))
            .await?
        {
            Response::WriteSingleCoil(a, v) if a == address && v == on => Ok(()),
            other => Err(bad_reply(what, format!("{other:?}"))),
        }
    }

    async fn write_single(
        &mut self,
        what: &'static str,
        address: u16,
        word: u16,
    ) -> Result<(), Fault> {
        match self
            .call(what, Request::WriteSingleRegister(address, word))
            .await?
        {
            Response::WriteSingleRegister(a, w) if a == address && w == word => Ok(()),
            other => Err(bad_reply(what, format!("{other:?}"))),
        }
    }

    async fn write_multiple(
        &mut self,
        what: &'static str,
        address: u16,
        words: &[u16],
    ) -> Result<(), Fault> {
        let request = Request::WriteMultipleRegisters(address, Cow::Borrowed(words));
        match self.call(what, request).await? {
            Response::WriteMultipleRegisters(a, n)
                if a == address && usize::from(n) == words.len() =>
            {
                Ok(())
            }
            other => Err(bad_reply(what, format!("{other:?}"))),
        }
    }

    /// Every request, with all three result layers told apart.
    async fn call(&mut self, what: &'static str, request: Request<'_>) -> Result<Response, Fault> {
        let after = self.config.request_timeout;
        match timeout(after, self.ctx.call(request)).await {
            Err(_elapsed) => Err(Fault::Link(LinkError::Timeout { what, after })),
            Ok(Err(source)) => Err(Fault::Link(LinkError::Modbus { what, source })),
            Ok(Ok(Err(code))) => Err(Fault::Exception(format!("{what}: PLC exception: {code}"))),
            Ok(Ok(Ok(response))) => Ok(response),
        }
    }
}

const HEARTBEAT: &str = "write station heartbeat";

/// The record_seq to acknowledge: the committed record, only while the FIFO head this connection
/// read last is that record in the same PLC epoch.
fn part_ack_due(committed: Option<PartAck>, fifo_head: Option<(u16, u32)>) -> Option<u32> {
    let ack = committed?;
    let (epoch, seq) = fifo_head?;
    (seq != 0 && ack.plc_epoch == epoch && ack.record_seq == seq).then_some(seq)
}

fn bad_reply(what: &'static str, detail: String) -> Fault {
    Fault::Link(LinkError::BadReply { what, detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn backoff_doubles_from_min_and_caps_at_max() {
        let (min, max) = (250 * MS, 10_000 * MS);
        // Upper end of the jitter range shows the exponential schedule itself.
        let top: Vec<_> = (0..8)
            .map(|n| backoff_delay(n, min, max, 1.0).as_millis())
            .collect();
        assert_eq!(top, [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
        assert_eq!(backoff_delay(u32::MAX, min, max, 1.0), max, "no overflow");
        assert_eq!(backoff_delay(31, min, max, 1.0), max);
    }

    #[test]
    fn backoff_jitter_stays_between_three_quarters_and_full_never_below_min() {
        let (min, max) = (250 * MS, 10_000 * MS);
        assert_eq!(backoff_delay(0, min, max, 0.0), min);
        assert_eq!(backoff_delay(2, min, max, 0.0), 750 * MS);
        assert_eq!(backoff_delay(10, min, max, 0.0), 7500 * MS);
        for j in [0.0, 0.3, 0.999, 1.0, 7.0, -1.0, f64::NAN] {
            for n in 0..40 {
                let d = backoff_delay(n, min, max, j);
                assert!(d >= min && d <= max, "attempt {n} jitter {j}: {d:?}");
            }
        }
    }

    #[test]
    fn backoff_tolerates_min_above_max() {
        assert_eq!(backoff_delay(5, 2000 * MS, 1000 * MS, 1.0), 2000 * MS);
        assert_eq!(
            backoff_delay(0, Duration::ZERO, Duration::ZERO, 0.5),
            Duration::ZERO
        );
    }

    #[test]
    fn a_part_record_is_acknowledged_only_to_the_plc_run_it_was_read_from() {
        let ack = |plc_epoch, record_seq| {
            Some(PartAck {
                plc_epoch,
                record_seq,
            })
        };
        assert_eq!(part_ack_due(ack(7, 5), Some((7, 5))), Some(5));
        assert_eq!(part_ack_due(None, Some((7, 5))), None, "nothing committed");
        assert_eq!(part_ack_due(ack(7, 5), None), None, "no head read yet");
        assert_eq!(part_ack_due(ack(7, 5), Some((7, 0))), None, "empty FIFO");
        assert_eq!(
            part_ack_due(ack(7, 5), Some((7, 6))),
            None,
            "already popped; the next one is not recorded yet"
        );
        assert_eq!(
            part_ack_due(ack(7, 5), Some((8, 5))),
            None,
            "a restarted PLC's seq 5 is another part"
        );
    }

    #[test]
    fn link_errors_read_well() {
        let e = LinkError::Connect {
            address: "10.0.0.5:502".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert!(
            e.to_string()
                .starts_with("connect to 10.0.0.5:502 failed: ")
        );
        let e = LinkError::Timeout {
            what: "read status block",
            after: Duration::from_secs(1),
        };
        assert_eq!(e.to_string(), "read status block: no reply within 1s");
    }
}
