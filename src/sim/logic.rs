//! The simulated PLC's registers and scan logic, without any networking, so it can be tested by
//! driving time by hand.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_modbus::{ExceptionCode, Request, Response};

use super::scenario::{FaultTrigger, Scenario};
use crate::domain::plc::PackMlState;
use crate::plc::map::{RegisterMap, SERIAL_REGISTERS, text_to_words, u32_to_words, words_to_u32};

/// Registers the simulator exposes: 0..=111 (status block, a reserved gap, command block).
pub const REGISTER_COUNT: usize = 112;
/// FC3/FC4 quantity limit, Modbus Application Protocol v1.1b3 §6.3.
pub const MAX_READ: u16 = 125;
/// FC16 quantity limit, Modbus Application Protocol v1.1b3 §6.12.
pub const MAX_WRITE: u16 = 123;
/// How long the station heartbeat may stand still before the simulator drops out of Execute.
pub const STATION_WATCHDOG: Duration = Duration::from_secs(5);

pub const STACK_RED: u16 = 1 << 0;
pub const STACK_AMBER: u16 = 1 << 2;
pub const STACK_BLUE: u16 = 1 << 4;
pub const STACK_GREEN: u16 = 1 << 6;

pub const INTERLOCK_BLOCKED: u16 = 1 << 0;
pub const INTERLOCK_STARVED: u16 = 1 << 1;

const UNIT_MODE_PRODUCTION: u16 = 1;
const COMMAND_RESET: u16 = 1;
const COMMAND_CLEAR: u16 = 9;
/// A scheduler hiccup must not turn into an unbounded loop inside the lock.
const MAX_UNITS_PER_TICK: u32 = 10_000;
/// Where the simulated machine's gauge shows its last unit's measurement (a leak rate in ml/min,
/// × 1000): a process value for `[plc.map.values]`, outside the default map's signals.
pub const GAUGE_REGISTER: u16 = 48;
/// The gauge's nominal reading (0.200 ml/min × 1000) and spread of a good unit; a defective unit
/// leaks beyond the demo plant's 0.50 ml/min limit.
const GAUGE_NOMINAL: f64 = 200.0;
const GAUGE_SPREAD: f64 = 40.0;
const GAUGE_DEFECT: f64 = 600.0;
/// Unacknowledged part records the simulator keeps by default before the machine blocks.
pub const PART_RING: usize = 16;
/// Part records kept for [`SimPlc::part_records`]; older ones are forgotten (memory stays bounded
/// in a long-running `takt plc-sim`).
const PART_HISTORY: usize = 100_000;

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub cycle_time: Duration,
    /// Probability in 0..=1 that a completed unit is defective; out-of-range values are clamped.
    pub defect_rate: f64,
    /// Boot epoch reported in HR2. `None` derives one from the clock (see [`derive_epoch`]).
    pub epoch: Option<u16>,
    /// Start value of the processed, consumed and cycle counters (defective starts at 0), so
    /// tests can sit just below a u32 rollover.
    pub start_processed: u32,
    /// Seed for the defect draw; `None` seeds from the OS.
    pub seed: Option<u64>,
    /// Faults to stage and the counter width; the default stages none.
    pub scenario: Scenario,
    /// A per-part record FIFO of this many unacknowledged records (e.g. [`PART_RING`]); `None`:
    /// no FIFO, HR32–47 stay 0.
    pub part_records: Option<usize>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            cycle_time: Duration::from_millis(4500),
            defect_rate: 0.02,
            epoch: None,
            start_processed: 0,
            seed: None,
            scenario: Scenario::default(),
            part_records: None,
        }
    }
}

/// One per-part record the simulated machine made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPartRecord {
    /// The boot epoch it was made in: `record_seq` starts again at 1 after a restart.
    pub epoch: u16,
    pub record_seq: u32,
    pub good: bool,
    /// 0 for a good part; 1–3 in rotation for a reject.
    pub reject_reason: u16,
    pub cycle_ms: u32,
    /// "S" + epoch + "-" + record_seq, e.g. `S100-000042`: unique over restarts.
    pub serial: String,
}

/// The PLC's part-record FIFO: records wait here until the station acknowledges them, oldest
/// first. Like the counters it is not retentive: a restart loses what was not acknowledged.
#[derive(Debug)]
struct PartRing {
    capacity: usize,
    unacked: VecDeque<SimPartRecord>,
    next_seq: u32,
    /// Acknowledgement writes are dropped (a test stands in for a station that dies between its
    /// commit and its ack).
    ignore_acks: bool,
    made: VecDeque<SimPartRecord>,
    wiped: Vec<SimPartRecord>,
}

impl PartRing {
    fn new(capacity: usize) -> PartRing {
        PartRing {
            capacity: capacity.max(1),
            unacked: VecDeque::new(),
            next_seq: 1,
            ignore_acks: false,
            made: VecDeque::new(),
            wiped: Vec::new(),
        }
    }

    fn space(&self) -> usize {
        self.capacity.saturating_sub(self.unacked.len())
    }

    fn push(&mut self, epoch: u16, good: bool, cycle_ms: u32) {
        let record_seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        let record = SimPartRecord {
            epoch,
            record_seq,
            good,
            reject_reason: if good { 0 } else { 1 + (record_seq % 3) as u16 },
            cycle_ms,
            serial: format!("S{epoch}-{record_seq:06}"),
        };
        if self.made.len() == PART_HISTORY {
            self.made.pop_front();
        }
        self.made.push_back(record.clone());
        self.unacked.push_back(record);
    }
}

/// A boot epoch that differs between starts: seconds since 1970 (truncated to 16 bits) plus a
/// per-process start counter. The counter makes two simulators started in the same second differ;
/// the clock makes separate processes differ. A real PLC would persist a counter; the simulator has
/// nowhere to persist one, and the station only needs "different from last time".
pub fn derive_epoch() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static STARTS: AtomicU16 = AtomicU16::new(0);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (secs as u16).wrapping_add(STARTS.fetch_add(1, Ordering::Relaxed))
}

/// The simulated PLC: holding registers 0..=111 plus the state the scan needs.
#[derive(Debug)]
pub struct SimPlc {
    regs: [u16; REGISTER_COUNT],
    map: RegisterMap,
    cycle_time: Duration,
    defect_rate: f64,
    rng: StdRng,
    /// The gauge's own draws, so its readings leave a seeded run's defects where they were.
    gauge_rng: StdRng,
    next_heartbeat: Instant,
    seen_station_heartbeat: u16,
    station_heartbeat_moved: Option<Instant>,
    cycle_started: Option<Instant>,
    scenario: Scenario,
    /// Start of the simulator's clock: scenario windows and the restart time count from here.
    started: Instant,
    /// Set once the scheduled restart has happened; it happens once.
    restarted: bool,
    /// Previous scan that ran, so running time towards a fault is counted exactly.
    last_run_scan: Option<Instant>,
    /// Running time left until the next scheduled fault.
    fault_running_left: Duration,
    /// Units left until the next scheduled fault.
    fault_units_left: u32,
    /// When the scheduled fault now standing began; manual faults never clear by themselves.
    fault_since: Option<Instant>,
    /// Units made since start, across restarts, so tests can total what a run produced.
    lifetime_processed: u64,
    lifetime_defective: u64,
    /// The per-part record FIFO, when configured.
    parts: Option<PartRing>,
}

impl SimPlc {
    pub fn new(config: &SimConfig, now: Instant) -> Self {
        let map = RegisterMap::default();
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let gauge_rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed.wrapping_add(0x0067_6175_6765)),
            None => StdRng::from_os_rng(),
        };
        let defect_rate = if config.defect_rate.is_finite() {
            config.defect_rate.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let mut plc = SimPlc {
            regs: [0; REGISTER_COUNT],
            map,
            // A zero cycle would complete infinitely many units per tick.
            cycle_time: config.cycle_time.max(Duration::from_millis(1)),
            defect_rate,
            rng,
            gauge_rng,
            next_heartbeat: now + Duration::from_secs(1),
            seen_station_heartbeat: 0,
            station_heartbeat_moved: None,
            cycle_started: None,
            scenario: config.scenario.clone(),
            started: now,
            restarted: false,
            last_run_scan: None,
            fault_running_left: Duration::ZERO,
            fault_units_left: 0,
            fault_since: None,
            lifetime_processed: 0,
            lifetime_defective: 0,
            parts: config.part_records.map(PartRing::new),
        };
        plc.rearm_fault();
        let s = map.status;
        plc.set(s.map_version, map.version);
        plc.set(s.epoch, config.epoch.unwrap_or_else(derive_epoch));
        plc.set(s.unit_mode, UNIT_MODE_PRODUCTION);
        // A 16-bit PLC cannot hold a larger start value; it keeps the low word, as its counter would.
        let start = config.scenario.counter_width.wrap(config.start_processed);
        plc.set_u32(s.processed, start);
        plc.set_u32(s.consumed, start);
        plc.set_u32(s.cycles, start);
        plc.apply_state(false, false);
        // A gauge shows its master's reading until the first unit is measured.
        plc.set(GAUGE_REGISTER, GAUGE_NOMINAL as u16);
        plc
    }

    pub fn registers(&self) -> Vec<u16> {
        self.regs.to_vec()
    }

    pub fn processed(&self) -> u32 {
        self.get_u32(self.map.status.processed)
    }

    pub fn defective(&self) -> u32 {
        self.get_u32(self.map.status.defective)
    }

    pub fn state(&self) -> PackMlState {
        PackMlState::from_code(self.get(self.map.status.state))
    }

    pub fn epoch(&self) -> u16 {
        self.get(self.map.status.epoch)
    }

    /// Units made since the simulator started, across PLC restarts (which zero HR12–13).
    pub fn lifetime_processed(&self) -> u64 {
        self.lifetime_processed
    }

    /// Defective units made since the simulator started, across PLC restarts.
    pub fn lifetime_defective(&self) -> u64 {
        self.lifetime_defective
    }

    /// Every part record made since the simulator started (the last 100 000), across restarts,
    /// oldest first; empty without a FIFO.
    pub fn part_records(&self) -> Vec<SimPartRecord> {
        self.parts
            .as_ref()
            .map(|ring| ring.made.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Records a restart wiped before their acknowledgement arrived. The station may have
    /// recorded some of them already (committed, its ack not yet taken); the others are lost.
    pub fn part_records_wiped(&self) -> Vec<SimPartRecord> {
        self.parts
            .as_ref()
            .map(|ring| ring.wiped.clone())
            .unwrap_or_default()
    }

    /// Records waiting for their acknowledgement.
    pub fn part_records_waiting(&self) -> usize {
        self.parts.as_ref().map_or(0, |ring| ring.unacked.len())
    }

    /// While set, writes to the acknowledgement registers are lost: the register keeps its old
    /// value and no record is popped, as if the station died between its commit and its ack.
    pub fn ignore_part_acks(&mut self, ignore: bool) {
        if let Some(ring) = &mut self.parts {
            ring.ignore_acks = ignore;
        }
    }

    /// The scenario this PLC stages (the server reads its network faults from here).
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Whether replies sent at `now` are to be delayed, and by how long.
    pub fn reply_delay(&self, now: Instant) -> Option<Duration> {
        let slow = self.scenario.slow_replies?;
        let open = slow.window.is_none_or(|w| w.is_open(self.since_start(now)));
        open.then_some(slow.delay)
    }

    /// The PLC reboots: boot epoch + 1, counters and the command block back to zero, no fault,
    /// Idle until the station's heartbeat moves again. A real PLC's non-retentive memory is lost the
    /// same way, which is why the station keys its counter baselines to the epoch.
    pub fn restart(&mut self) {
        let s = self.map.status;
        let epoch = self.get(s.epoch).wrapping_add(1);
        let (map_version, heartbeat, unit_mode) = (
            self.get(s.map_version),
            self.get(s.heartbeat),
            self.get(s.unit_mode),
        );
        self.regs = [0; REGISTER_COUNT];
        self.set(s.map_version, map_version);
        self.set(s.heartbeat, heartbeat);
        self.set(s.epoch, epoch);
        self.set(s.unit_mode, unit_mode);
        if let Some(ring) = &mut self.parts {
            // Non-retentive, as the counters: what the station had not acknowledged is gone, and
            // record_seq counts from 1 in the new epoch.
            let unacked: Vec<SimPartRecord> = ring.unacked.drain(..).collect();
            ring.wiped.extend(unacked);
            ring.next_seq = 1;
        }
        self.show_part_head();
        self.seen_station_heartbeat = 0;
        self.station_heartbeat_moved = None;
        self.cycle_started = None;
        self.last_run_scan = None;
        self.fault_since = None;
        self.rearm_fault();
        self.apply_state(false, false);
    }

    /// A first-out fault: non-zero stops the machine (Stopped, red) until cleared with 0 or a
    /// Reset/Clear command from the station.
    pub fn set_stop_reason(&mut self, code: u16) {
        self.set(self.map.status.stop_reason, code);
        self.fault_since = None;
        if code != 0 {
            self.cycle_started = None;
            self.last_run_scan = None;
            self.apply_state(false, false);
        }
    }

    /// Answers one Modbus request. FC4 reads the same registers as FC3, since a simulator has no
    /// separate input-register image and some PLC programmers map status to input registers.
    pub fn handle(&mut self, request: Request<'_>) -> Result<Response, ExceptionCode> {
        match request {
            Request::ReadHoldingRegisters(address, quantity) => self
                .read(address, quantity)
                .map(Response::ReadHoldingRegisters),
            Request::ReadInputRegisters(address, quantity) => self
                .read(address, quantity)
                .map(Response::ReadInputRegisters),
            Request::WriteSingleRegister(address, word) => {
                self.write(address, &[word])?;
                Ok(Response::WriteSingleRegister(address, word))
            }
            Request::WriteMultipleRegisters(address, words) => {
                if words.is_empty() || words.len() > usize::from(MAX_WRITE) {
                    return Err(ExceptionCode::IllegalDataValue);
                }
                self.write(address, &words)?;
                // Length is bounded by MAX_WRITE above.
                Ok(Response::WriteMultipleRegisters(
                    address,
                    words.len() as u16,
                ))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }

    pub fn read(&self, address: u16, quantity: u16) -> Result<Vec<u16>, ExceptionCode> {
        if quantity == 0 || quantity > MAX_READ {
            return Err(ExceptionCode::IllegalDataValue);
        }
        let start = usize::from(address);
        let end = start + usize::from(quantity);
        self.regs
            .get(start..end)
            .map(<[u16]>::to_vec)
            .ok_or(ExceptionCode::IllegalDataAddress)
    }

    pub fn write(&mut self, address: u16, words: &[u16]) -> Result<(), ExceptionCode> {
        if words.is_empty() || words.len() > usize::from(MAX_WRITE) {
            return Err(ExceptionCode::IllegalDataValue);
        }
        let start = usize::from(address);
        let end = start + words.len();
        let first = usize::from(self.map.command_start);
        let last = first + usize::from(self.map.command_len);
        if start < first || end > last {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        let ack = self.map.command.ack_record_seq;
        let ack_before = self.get_u32(ack);
        let target = self
            .regs
            .get_mut(start..end)
            .ok_or(ExceptionCode::IllegalDataAddress)?;
        target.copy_from_slice(words);
        if self.parts.as_ref().is_some_and(|ring| ring.ignore_acks) {
            self.set_u32(ack, ack_before);
        }
        // The PLC takes an acknowledgement as it arrives, so the next read shows the next record.
        self.take_part_ack();
        Ok(())
    }

    /// One PLC scan at `now`.
    pub fn tick(&mut self, now: Instant) {
        if let Some(at) = self.scenario.restart_at
            && !self.restarted
            && self.since_start(now) >= at
        {
            self.restarted = true;
            self.restart();
        }
        self.tick_heartbeat(now);
        self.take_command();
        self.take_unit_mode();
        self.take_part_ack();
        self.auto_clear(now);

        let c = self.map.command;
        let station_heartbeat = self.get(c.station_heartbeat);
        if station_heartbeat != self.seen_station_heartbeat {
            self.seen_station_heartbeat = station_heartbeat;
            self.station_heartbeat_moved = Some(now);
        }
        let station_alive = self
            .station_heartbeat_moved
            .is_some_and(|t| now.saturating_duration_since(t) <= STATION_WATCHDOG);
        let interlock = self.interlock(now) | self.part_ring_blocked();
        self.set(self.map.status.interlock_bits, interlock);
        let faulted = self.get(self.map.status.stop_reason) != 0;
        let released = self.get(c.permit) == 1 && station_alive;
        let mut run = !faulted && released && interlock == 0;

        if run {
            let started = *self.cycle_started.get_or_insert(now);
            run = self.run_until(started, now);
        } else {
            self.cycle_started = None;
            self.last_run_scan = None;
        }
        self.apply_state(run, released);
    }

    fn since_start(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    fn interlock(&self, now: Instant) -> u16 {
        let since = self.since_start(now);
        let mut bits = 0;
        if self.scenario.blocked.is_some_and(|w| w.is_open(since)) {
            bits |= INTERLOCK_BLOCKED;
        }
        if self.scenario.starved.is_some_and(|w| w.is_open(since)) {
            bits |= INTERLOCK_STARVED;
        }
        bits
    }

    /// A full part-record FIFO blocks the machine: it cannot hand on a part whose record nobody
    /// has taken (HR7 bit 0, Suspended, amber — waiting on the MES, not broken).
    fn part_ring_blocked(&self) -> u16 {
        if self.parts.as_ref().is_some_and(|ring| ring.space() == 0) {
            INTERLOCK_BLOCKED
        } else {
            0
        }
    }

    /// Pops the FIFO head when the station acknowledged exactly its record_seq.
    fn take_part_ack(&mut self) {
        let acked = self.get_u32(self.map.command.ack_record_seq);
        let Some(ring) = &mut self.parts else {
            return;
        };
        if ring
            .unacked
            .front()
            .is_some_and(|head| head.record_seq == acked)
        {
            ring.unacked.pop_front();
            self.show_part_head();
        }
    }

    /// HR32–47: the oldest unacknowledged record, or zeros for an empty FIFO.
    fn show_part_head(&mut self) {
        let Some(ring) = &self.parts else {
            return;
        };
        let f = self.map.part_record;
        let (seq, result, reason, cycle_ms, serial) = match ring.unacked.front() {
            Some(head) => (
                head.record_seq,
                if head.good { 1 } else { 2 },
                head.reject_reason,
                head.cycle_ms,
                text_to_words(&head.serial, usize::from(SERIAL_REGISTERS)),
            ),
            None => (0, 0, 0, 0, vec![0; usize::from(SERIAL_REGISTERS)]),
        };
        self.set_u32(f.record_seq, seq);
        self.set(f.result, result);
        self.set(f.reject_reason, reason);
        self.set_u32(f.cycle_ms, cycle_ms);
        for (offset, word) in (0u16..).zip(serial) {
            self.set(f.serial.wrapping_add(offset), word);
        }
    }

    fn rearm_fault(&mut self) {
        match self.scenario.fault.map(|f| f.trigger) {
            Some(FaultTrigger::Running(every)) => self.fault_running_left = every,
            Some(FaultTrigger::Units(every)) => self.fault_units_left = every,
            None => {}
        }
    }

    /// Makes the units due by `now`, or only those due before a scheduled fault strikes, which
    /// stops the machine at that moment. Returns whether the machine is still running.
    fn run_until(&mut self, started: Instant, now: Instant) -> bool {
        let Some(plan) = self.scenario.fault else {
            self.complete_cycles(started, now, u32::MAX);
            return true;
        };
        let fault_at = match plan.trigger {
            FaultTrigger::Running(_) => {
                let from = self.last_run_scan.unwrap_or(now);
                let ran = now.saturating_duration_since(from);
                if ran >= self.fault_running_left {
                    let at = from + self.fault_running_left;
                    self.complete_cycles(started, at, u32::MAX);
                    Some(at)
                } else {
                    self.fault_running_left -= ran;
                    self.complete_cycles(started, now, u32::MAX);
                    None
                }
            }
            FaultTrigger::Units(_) => {
                let made = self.complete_cycles(started, now, self.fault_units_left);
                self.fault_units_left = self.fault_units_left.saturating_sub(made);
                (self.fault_units_left == 0).then_some(now)
            }
        };
        match fault_at {
            Some(at) => {
                self.set(self.map.status.stop_reason, plan.reason);
                self.fault_since = Some(at);
                self.cycle_started = None;
                self.last_run_scan = None;
                self.rearm_fault();
                false
            }
            None => {
                self.last_run_scan = Some(now);
                true
            }
        }
    }

    fn auto_clear(&mut self, now: Instant) {
        let clear_after = self.scenario.fault.and_then(|f| f.clear_after);
        if let (Some(since), Some(after)) = (self.fault_since, clear_after)
            && now.saturating_duration_since(since) >= after
        {
            self.set(self.map.status.stop_reason, 0);
            self.fault_since = None;
        }
    }

    fn tick_heartbeat(&mut self, now: Instant) {
        if now < self.next_heartbeat {
            return;
        }
        let behind = now.saturating_duration_since(self.next_heartbeat).as_secs() + 1;
        let address = self.map.status.heartbeat;
        self.set(address, self.get(address).wrapping_add(behind as u16));
        self.next_heartbeat += Duration::from_secs(behind);
    }

    fn take_command(&mut self) {
        let c = self.map.command;
        if self.get(c.change_request) == 0 {
            return;
        }
        if matches!(self.get(c.packml_command), COMMAND_RESET | COMMAND_CLEAR) {
            self.set(self.map.status.stop_reason, 0);
            self.fault_since = None;
        }
        // Clearing the request tells the station the command was taken.
        self.set(c.change_request, 0);
    }

    fn take_unit_mode(&mut self) {
        let requested = self.get(self.map.command.unit_mode_request);
        if (1..=3).contains(&requested) {
            self.set(self.map.status.unit_mode, requested);
        }
    }

    /// Completes the cycles due by `now`, at most `limit`; returns how many.
    fn complete_cycles(&mut self, started: Instant, now: Instant, limit: u32) -> u32 {
        let elapsed = now.saturating_duration_since(started);
        let due = elapsed.as_nanos() / self.cycle_time.as_nanos().max(1);
        let due = u32::try_from(due).unwrap_or(u32::MAX);
        if due == 0 {
            return 0;
        }
        // A unit needs room for its record: the machine makes no part it cannot report.
        let room = self.parts.as_ref().map_or(u32::MAX, |ring| {
            u32::try_from(ring.space()).unwrap_or(u32::MAX)
        });
        let units = due.min(MAX_UNITS_PER_TICK).min(limit).min(room);
        if room == 0 {
            return 0;
        }
        let s = self.map.status;
        let epoch = self.get(s.epoch);
        let cycle_ms = u32::try_from(self.cycle_time.as_millis()).unwrap_or(u32::MAX);
        for _ in 0..units {
            let defect = self.rng.random::<f64>() < self.defect_rate;
            self.add_counter(s.processed);
            self.add_counter(s.consumed);
            self.add_counter(s.cycles);
            self.lifetime_processed += 1;
            if defect {
                self.add_counter(s.defective);
                self.lifetime_defective += 1;
            }
            if let Some(ring) = &mut self.parts {
                ring.push(epoch, !defect, cycle_ms);
            }
            // Three uniform draws make a bell-shaped spread around nominal.
            let noise: f64 = (0..3).map(|_| self.gauge_rng.random::<f64>()).sum::<f64>() - 1.5;
            let reading = if defect { GAUGE_DEFECT } else { GAUGE_NOMINAL } + noise * GAUGE_SPREAD;
            self.set(GAUGE_REGISTER, reading.round().clamp(0.0, 65_535.0) as u16);
        }
        self.show_part_head();
        self.set_u32(s.last_cycle_ms, cycle_ms);
        // Only the scheduler cap skips ahead; a fault limit stops the machine anyway.
        self.cycle_started = Some(if units < due && units == MAX_UNITS_PER_TICK {
            now
        } else {
            started + self.cycle_time * units
        });
        units
    }

    /// `released`: permit and a live station, so only an interlock keeps a healthy machine from
    /// running; PackML calls that Suspended.
    fn apply_state(&mut self, run: bool, released: bool) {
        let s = self.map.status;
        let (state, light) = if self.get(s.stop_reason) != 0 {
            (PackMlState::Stopped, STACK_RED)
        } else if run {
            (PackMlState::Execute, STACK_GREEN)
        } else if released && self.get(s.interlock_bits) != 0 {
            (PackMlState::Suspended, STACK_AMBER)
        } else {
            (PackMlState::Idle, STACK_AMBER)
        };
        self.set(s.state, state.code());
        self.set(s.stacklight_bits, light);
        let speed = if run {
            let ms = self.cycle_time.as_millis().max(1);
            u32::try_from(6_000_000 / ms).unwrap_or(u32::MAX)
        } else {
            0
        };
        self.set_u32(s.speed_x100, speed);
    }

    fn get(&self, address: u16) -> u16 {
        self.regs.get(usize::from(address)).copied().unwrap_or(0)
    }

    fn set(&mut self, address: u16, value: u16) {
        if let Some(r) = self.regs.get_mut(usize::from(address)) {
            *r = value;
        }
    }

    fn get_u32(&self, address: u16) -> u32 {
        words_to_u32(self.get(address), self.get(address.wrapping_add(1)))
    }

    fn set_u32(&mut self, address: u16, value: u32) {
        let [high, low] = u32_to_words(value);
        self.set(address, high);
        self.set(address.wrapping_add(1), low);
    }

    /// One more on a counter, wrapping at the configured counter width.
    fn add_counter(&mut self, address: u16) {
        let width = self.scenario.counter_width;
        self.set_u32(address, width.wrap(self.get_u32(address).wrapping_add(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::scenario::CounterWidth;
    use std::borrow::Cow;

    fn config(cycle_ms: u64, defect_rate: f64) -> SimConfig {
        SimConfig {
            cycle_time: Duration::from_millis(cycle_ms),
            defect_rate,
            epoch: Some(7),
            start_processed: 0,
            seed: Some(1),
            scenario: Scenario::default(),
            part_records: None,
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Station side of the contract: heartbeat moves, permit set.
    fn release(plc: &mut SimPlc, heartbeat: u16) {
        plc.write(103, &[heartbeat]).expect("heartbeat");
        plc.write(107, &[1]).expect("permit");
    }

    #[test]
    fn boots_idle_with_map_version_and_epoch() {
        let t0 = Instant::now();
        let plc = SimPlc::new(&config(100, 0.0), t0);
        let r = plc.registers();
        assert_eq!(r.len(), 112);
        assert_eq!(r[0], 1);
        assert_eq!(r[2], 7);
        assert_eq!(r[3], 4);
        assert_eq!(r[4], 1);
        assert_eq!(r[8], STACK_AMBER);
        assert!(r[32..48].iter().all(|&w| w == 0));
        assert_eq!(
            r[usize::from(GAUGE_REGISTER)],
            200,
            "the gauge's master reading"
        );
        assert!(r[49..64].iter().all(|&w| w == 0));
    }

    #[test]
    fn heartbeat_counts_seconds() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&config(100, 0.0), t0);
        plc.tick(t0 + ms(999));
        assert_eq!(plc.registers()[1], 0);
        plc.tick(t0 + ms(1000));
        assert_eq!(plc.registers()[1], 1);
        plc.tick(t0 + ms(1500));
        assert_eq!(plc.registers()[1], 1);
        // A stalled scan catches up rather than losing seconds.
        plc.tick(t0 + ms(4200));
        assert_eq!(plc.registers()[1], 4);
    }

    #[test]
    fn runs_only_with_permit_and_live_station_heartbeat() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&config(100, 0.0), t0);

        plc.write(107, &[1]).expect("permit");
        plc.tick(t0);
        assert_eq!(plc.state(), PackMlState::Idle, "no heartbeat yet");

        plc.write(103, &[1]).expect("heartbeat");
        plc.tick(t0 + ms(10));
        assert_eq!(plc.state(), PackMlState::Execute);
        assert_eq!(plc.registers()[8], STACK_GREEN);
        let r = plc.registers();
        assert_eq!(words_to_u32(r[10], r[11]), 60_000, "600 units/min ×100");

        plc.tick(t0 + ms(10 + 5000));
        assert_eq!(plc.state(), PackMlState::Execute, "5 s is still alive");
        plc.tick(t0 + ms(10 + 5001));
        assert_eq!(plc.state(), PackMlState::Idle, "stale station heartbeat");
        assert_eq!(plc.registers()[8], STACK_AMBER);

        plc.write(103, &[2]).expect("heartbeat");
        plc.tick(t0 + ms(5100));
        assert_eq!(plc.state(), PackMlState::Execute);

        plc.write(107, &[0]).expect("permit off");
        plc.tick(t0 + ms(5200));
        assert_eq!(plc.state(), PackMlState::Idle);
        assert_eq!(plc.registers()[10..12], [0, 0]);
    }

    #[test]
    fn completes_a_unit_every_cycle_and_stops_when_idle() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&config(100, 0.0), t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(99));
        assert_eq!(plc.processed(), 0);
        plc.tick(t0 + ms(100));
        assert_eq!(plc.processed(), 1);
        plc.tick(t0 + ms(350));
        assert_eq!(plc.processed(), 3);
        let r = plc.registers();
        assert_eq!(words_to_u32(r[18], r[19]), 3, "cycles");
        assert_eq!(words_to_u32(r[16], r[17]), 3, "consumed");
        assert_eq!(words_to_u32(r[20], r[21]), 100, "last cycle ms");

        plc.write(107, &[0]).expect("permit off");
        plc.tick(t0 + ms(1000));
        assert_eq!(plc.processed(), 3);

        // A restart begins a fresh cycle rather than crediting the idle time.
        plc.write(107, &[1]).expect("permit on");
        plc.write(103, &[2]).expect("heartbeat");
        plc.tick(t0 + ms(2000));
        assert_eq!(plc.processed(), 3);
        plc.tick(t0 + ms(2100));
        assert_eq!(plc.processed(), 4);
    }

    #[test]
    fn defect_rate_extremes() {
        let t0 = Instant::now();
        let mut all_bad = SimPlc::new(&config(10, 1.0), t0);
        release(&mut all_bad, 1);
        all_bad.tick(t0);
        all_bad.tick(t0 + ms(100));
        assert_eq!(all_bad.processed(), 10);
        assert_eq!(all_bad.defective(), 10);

        let mut nonsense = SimPlc::new(&config(10, f64::NAN), t0);
        release(&mut nonsense, 1);
        nonsense.tick(t0);
        nonsense.tick(t0 + ms(100));
        assert_eq!(nonsense.defective(), 0);
    }

    #[test]
    fn same_seed_same_defects() {
        let run = || {
            let t0 = Instant::now();
            let mut plc = SimPlc::new(&config(1, 0.3), t0);
            release(&mut plc, 1);
            plc.tick(t0);
            plc.tick(t0 + ms(1000));
            (plc.processed(), plc.defective())
        };
        let (processed, defective) = run();
        assert_eq!(processed, 1000);
        assert!((200..400).contains(&defective), "{defective}");
        assert_eq!(run(), (processed, defective));
    }

    #[test]
    fn counters_wrap_as_u32() {
        let t0 = Instant::now();
        let mut cfg = config(100, 0.0);
        cfg.start_processed = u32::MAX - 1;
        let mut plc = SimPlc::new(&cfg, t0);
        assert_eq!(plc.processed(), u32::MAX - 1);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(300));
        assert_eq!(plc.processed(), 1);
    }

    #[test]
    fn stop_reason_stops_until_reset() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&config(100, 0.0), t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.set_stop_reason(12);
        assert_eq!(plc.state(), PackMlState::Stopped);
        plc.tick(t0 + ms(500));
        assert_eq!(plc.state(), PackMlState::Stopped);
        assert_eq!(plc.registers()[8], STACK_RED);
        assert_eq!(plc.processed(), 0);

        plc.write(100, &[COMMAND_RESET, 1]).expect("reset");
        plc.tick(t0 + ms(600));
        assert_eq!(plc.registers()[101], 0, "change request acknowledged");
        assert_eq!(plc.registers()[5], 0);
        assert_eq!(plc.state(), PackMlState::Execute);
    }

    #[test]
    fn unit_mode_request_is_adopted() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&config(100, 0.0), t0);
        plc.write(102, &[2]).expect("mode");
        plc.tick(t0);
        assert_eq!(plc.registers()[4], 2);
        plc.write(102, &[99]).expect("bogus mode");
        plc.tick(t0);
        assert_eq!(plc.registers()[4], 2);
    }

    #[test]
    fn read_limits() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&config(100, 0.0), t0);
        assert_eq!(plc.read(0, 64).map(|w| w.len()), Ok(64));
        assert_eq!(plc.read(0, 112).map(|w| w.len()), Ok(112));
        assert_eq!(plc.read(111, 1).map(|w| w.len()), Ok(1));
        assert_eq!(plc.read(64, 36), Ok(vec![0; 36]), "gap reads as zeros");
        assert_eq!(plc.read(0, 0), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(plc.read(0, 126), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(plc.read(0, 113), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(plc.read(112, 1), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(
            plc.read(u16::MAX, 125),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            plc.handle(Request::ReadInputRegisters(0, 2)),
            Ok(Response::ReadInputRegisters(vec![1, 0]))
        );
    }

    #[test]
    fn write_limits() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&config(100, 0.0), t0);
        assert_eq!(plc.write(100, &[0; 12]), Ok(()));
        assert_eq!(plc.write(111, &[5]), Ok(()));
        assert_eq!(plc.registers()[111], 5);
        assert_eq!(plc.write(99, &[1]), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(plc.write(3, &[6]), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(plc.write(112, &[1]), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(
            plc.write(110, &[1, 2, 3]),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(plc.write(100, &[]), Err(ExceptionCode::IllegalDataValue));
        assert_eq!(
            plc.write(100, &[0; 124]),
            Err(ExceptionCode::IllegalDataValue)
        );
        assert_eq!(
            plc.handle(Request::WriteMultipleRegisters(
                107,
                Cow::Owned(vec![1, 0, 9])
            )),
            Ok(Response::WriteMultipleRegisters(107, 3))
        );
        assert_eq!(plc.registers()[107..110], [1, 0, 9]);
        assert_eq!(
            plc.handle(Request::WriteSingleRegister(103, 4)),
            Ok(Response::WriteSingleRegister(103, 4))
        );
        assert_eq!(
            plc.handle(Request::WriteSingleRegister(12, 4)),
            Err(ExceptionCode::IllegalDataAddress)
        );
        assert_eq!(
            plc.handle(Request::ReadCoils(0, 1)),
            Err(ExceptionCode::IllegalFunction)
        );
    }

    fn with_scenario(cycle_ms: u64, specs: &[&str]) -> SimConfig {
        SimConfig {
            scenario: Scenario::parse(specs.iter().copied()).expect("scenario"),
            ..config(cycle_ms, 0.0)
        }
    }

    #[test]
    fn a_fault_every_second_of_running_stops_after_exact_units() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&with_scenario(100, &["fault-every=1s,reason=3"]), t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(550));
        assert_eq!(plc.processed(), 5);
        // One scan far past the fault time: only the units due before the fault count.
        plc.tick(t0 + ms(1700));
        assert_eq!(plc.processed(), 10);
        assert_eq!(plc.state(), PackMlState::Stopped);
        let r = plc.registers();
        assert_eq!(r[5], 3, "stop reason");
        assert_eq!(r[8], STACK_RED);
        assert_eq!(r[10..12], [0, 0], "no speed while stopped");

        // Stopped makes nothing, however long, while the station stays alive.
        plc.write(103, &[2]).expect("heartbeat");
        plc.tick(t0 + ms(4000));
        assert_eq!(plc.processed(), 10);
        assert_eq!(plc.state(), PackMlState::Stopped);

        // Reset from the station clears it; the next fault needs another full second of running.
        plc.write(100, &[COMMAND_RESET, 1]).expect("reset");
        plc.tick(t0 + ms(4100));
        assert_eq!(plc.state(), PackMlState::Execute);
        plc.tick(t0 + ms(5000));
        assert_eq!(plc.processed(), 19);
        assert_eq!(plc.state(), PackMlState::Execute);
        plc.tick(t0 + ms(5100));
        assert_eq!(plc.processed(), 20);
        assert_eq!(plc.state(), PackMlState::Stopped);
    }

    #[test]
    fn a_fault_every_n_units_clears_by_itself() {
        let t0 = Instant::now();
        let cfg = with_scenario(100, &["fault-every=4units,reason=5,clear-after=2s"]);
        let mut plc = SimPlc::new(&cfg, t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(1000));
        assert_eq!(plc.processed(), 4, "stops at the fourth unit");
        assert_eq!(plc.registers()[5], 5);
        assert_eq!(plc.state(), PackMlState::Stopped);

        plc.write(103, &[2]).expect("heartbeat");
        plc.tick(t0 + ms(2999));
        assert_eq!(plc.state(), PackMlState::Stopped, "2 s not yet over");
        plc.tick(t0 + ms(3000));
        assert_eq!(plc.registers()[5], 0);
        assert_eq!(plc.state(), PackMlState::Execute);
        plc.tick(t0 + ms(3400));
        assert_eq!(plc.processed(), 8);
        assert_eq!(plc.state(), PackMlState::Stopped);
    }

    #[test]
    fn a_manual_stop_reason_never_clears_by_itself() {
        let t0 = Instant::now();
        let cfg = with_scenario(100, &["fault-every=100units,clear-after=1s"]);
        let mut plc = SimPlc::new(&cfg, t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.set_stop_reason(4);
        plc.tick(t0 + ms(3000));
        assert_eq!(plc.registers()[5], 4);
    }

    #[test]
    fn blocked_and_starved_suspend_production() {
        let t0 = Instant::now();
        let cfg = with_scenario(
            100,
            &["blocked-every=1s,for=500ms", "starved-every=3s,for=200ms"],
        );
        let mut plc = SimPlc::new(&cfg, t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(999));
        assert_eq!(plc.processed(), 9);
        assert_eq!(plc.registers()[7], 0);

        plc.tick(t0 + ms(1000));
        let r = plc.registers();
        assert_eq!(r[7], INTERLOCK_BLOCKED);
        assert_eq!(plc.state(), PackMlState::Suspended);
        assert_eq!(r[8], STACK_AMBER);
        plc.tick(t0 + ms(1499));
        assert_eq!(plc.processed(), 9, "nothing made while blocked");

        // Running again after the window, from a fresh cycle.
        plc.tick(t0 + ms(1500));
        assert_eq!(plc.state(), PackMlState::Execute);
        assert_eq!(plc.registers()[7], 0);
        plc.tick(t0 + ms(1999));
        assert_eq!(plc.processed(), 13);

        // At 3 s both windows are open.
        plc.write(103, &[2]).expect("heartbeat");
        plc.tick(t0 + ms(3000));
        assert_eq!(plc.registers()[7], INTERLOCK_BLOCKED | INTERLOCK_STARVED);
        assert_eq!(plc.state(), PackMlState::Suspended);

        // Without permit an interlocked machine is Idle, not Suspended: nothing was asked of it.
        plc.write(107, &[0]).expect("permit off");
        plc.tick(t0 + ms(3100));
        assert_eq!(plc.state(), PackMlState::Idle);
        assert_eq!(plc.registers()[7], INTERLOCK_BLOCKED | INTERLOCK_STARVED);
    }

    #[test]
    fn a_restart_bumps_the_epoch_and_zeroes_the_counters_once() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&with_scenario(100, &["restart-at=1s"]), t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(950));
        assert_eq!(plc.processed(), 9);
        assert_eq!(plc.epoch(), 7);

        plc.tick(t0 + ms(1000));
        let r = plc.registers();
        assert_eq!(plc.epoch(), 8);
        assert_eq!(r[0], 1, "map version survives");
        assert_eq!(r[12..24], [0; 12], "counters, speed and cycle time zeroed");
        assert_eq!(r[100..112], [0; 12], "command block cleared");
        assert_eq!(plc.state(), PackMlState::Idle, "no permit after a reboot");
        assert_eq!(plc.lifetime_processed(), 9);

        // The station writes its command block again; production resumes from zero.
        release(&mut plc, 5);
        plc.tick(t0 + ms(1100));
        plc.tick(t0 + ms(1400));
        assert_eq!(plc.processed(), 3);
        assert_eq!(plc.lifetime_processed(), 12);
        plc.tick(t0 + ms(5000));
        assert_eq!(plc.epoch(), 8, "restarts once");
    }

    #[test]
    fn sixteen_bit_counters_wrap_at_65535() {
        let t0 = Instant::now();
        let mut cfg = config(100, 1.0);
        cfg.scenario.counter_width = CounterWidth::Bits16;
        cfg.start_processed = 65_534;
        let mut plc = SimPlc::new(&cfg, t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(100));
        assert_eq!(plc.processed(), 65_535);
        plc.tick(t0 + ms(200));
        assert_eq!(plc.processed(), 0);
        plc.tick(t0 + ms(300));
        let r = plc.registers();
        assert_eq!(r[12..14], [0, 1], "high word stays 0");
        assert_eq!(r[16..18], [0, 1], "consumed");
        assert_eq!(r[18..20], [0, 1], "cycles");
        assert_eq!(plc.defective(), 3);

        // A start value beyond 16 bits keeps its low word, as a 16-bit counter would.
        cfg.start_processed = 0x1_0005;
        assert_eq!(SimPlc::new(&cfg, t0).processed(), 5);
    }

    #[test]
    fn slow_replies_only_within_their_windows() {
        let t0 = Instant::now();
        let always = SimPlc::new(&with_scenario(100, &["slow-replies=700ms"]), t0);
        assert_eq!(always.reply_delay(t0), Some(ms(700)));
        let windows = SimPlc::new(
            &with_scenario(100, &["slow-replies=700ms,every=2s,for=1s"]),
            t0,
        );
        assert_eq!(windows.reply_delay(t0 + ms(1999)), None);
        assert_eq!(windows.reply_delay(t0 + ms(2000)), Some(ms(700)));
        assert_eq!(windows.reply_delay(t0 + ms(3000)), None);
        assert_eq!(SimPlc::new(&config(100, 0.0), t0).reply_delay(t0), None);
    }

    fn with_parts(cycle_ms: u64, defect_rate: f64, ring: usize) -> SimConfig {
        SimConfig {
            part_records: Some(ring),
            ..config(cycle_ms, defect_rate)
        }
    }

    /// The FIFO head as the station reads it: (seq, result, reason, cycle ms, serial).
    fn head(plc: &SimPlc) -> (u32, u16, u16, u32, String) {
        let r = plc.registers();
        (
            words_to_u32(r[32], r[33]),
            r[34],
            r[35],
            words_to_u32(r[36], r[37]),
            crate::plc::map::text_from_words(&r[38..48], true),
        )
    }

    #[test]
    fn every_unit_pushes_a_record_and_the_head_is_the_oldest_until_acked() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&with_parts(100, 0.5, 16), t0);
        assert_eq!(head(&plc), (0, 0, 0, 0, String::new()), "empty FIFO");
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(350));
        assert_eq!(plc.processed(), 3);
        let made = plc.part_records();
        assert_eq!(made.len(), 3);
        assert_eq!(
            made.iter().filter(|r| !r.good).count() as u32,
            plc.defective(),
            "a reject record for every defective unit"
        );
        assert_eq!(made[0].serial, "S7-000001");
        assert_eq!(made[2].record_seq, 3);
        let (seq, result, reason, cycle_ms, serial) = head(&plc);
        assert_eq!((seq, cycle_ms, serial.as_str()), (1, 100, "S7-000001"));
        assert_eq!(result, if made[0].good { 1 } else { 2 });
        assert_eq!(reason == 0, made[0].good);
        assert_eq!(plc.part_records_waiting(), 3);

        // An ack that is not the head's seq pops nothing; the head's seq pops it at once.
        plc.write(104, &u32_to_words(2)).expect("ack");
        assert_eq!(head(&plc).0, 1);
        plc.write(104, &u32_to_words(1)).expect("ack");
        assert_eq!(head(&plc).0, 2);
        assert_eq!(head(&plc).4, "S7-000002");
        // The same ack again is harmless.
        plc.write(104, &u32_to_words(1)).expect("ack");
        plc.tick(t0 + ms(360));
        assert_eq!(head(&plc).0, 2);
        for seq in 2..=3 {
            plc.write(104, &u32_to_words(seq)).expect("ack");
        }
        assert_eq!(head(&plc), (0, 0, 0, 0, String::new()));
        assert_eq!(plc.part_records_waiting(), 0);
    }

    #[test]
    fn a_full_ring_blocks_the_machine_until_records_are_acked() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&with_parts(100, 0.0, 4), t0);
        release(&mut plc, 1);
        plc.tick(t0);
        // Ten cycles are due, but only four parts have room for their records.
        plc.tick(t0 + ms(1000));
        assert_eq!(plc.processed(), 4);
        plc.tick(t0 + ms(1050));
        assert_eq!(plc.state(), PackMlState::Suspended);
        assert_eq!(plc.registers()[7], INTERLOCK_BLOCKED);
        assert_eq!(plc.registers()[8], STACK_AMBER);
        plc.write(103, &[2]).expect("heartbeat");
        plc.tick(t0 + ms(3000));
        assert_eq!(plc.processed(), 4, "nothing made while blocked");

        plc.write(104, &u32_to_words(1)).expect("ack");
        plc.tick(t0 + ms(3010));
        assert_eq!(plc.state(), PackMlState::Execute);
        assert_eq!(plc.registers()[7], 0);
        plc.tick(t0 + ms(3110));
        assert_eq!(plc.processed(), 5, "one more part, then blocked again");
        plc.tick(t0 + ms(3500));
        assert_eq!(plc.processed(), 5);
        assert_eq!(plc.state(), PackMlState::Suspended);
        let seqs: Vec<u32> = plc.part_records().iter().map(|r| r.record_seq).collect();
        assert_eq!(
            seqs,
            [1, 2, 3, 4, 5],
            "every part has its record, none lost"
        );
    }

    #[test]
    fn a_restart_counts_records_from_one_and_wipes_the_unacked() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&with_parts(100, 0.0, 16), t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(250));
        plc.write(104, &u32_to_words(1)).expect("ack");
        plc.restart();
        assert_eq!(head(&plc).0, 0, "the FIFO is not retentive");
        let wiped: Vec<String> = plc
            .part_records_wiped()
            .into_iter()
            .map(|r| r.serial)
            .collect();
        assert_eq!(wiped, ["S7-000002"]);
        release(&mut plc, 5);
        plc.tick(t0 + ms(300));
        plc.tick(t0 + ms(400));
        assert_eq!(head(&plc).0, 1, "seq starts again");
        assert_eq!(head(&plc).4, "S8-000001", "a serial of the new epoch");
        assert_eq!(plc.part_records().len(), 3);
    }

    #[test]
    fn ignored_acks_leave_the_register_and_the_head_alone() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&with_parts(100, 0.0, 16), t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(150));
        plc.ignore_part_acks(true);
        plc.write(104, &u32_to_words(1)).expect("ack");
        plc.tick(t0 + ms(160));
        assert_eq!(head(&plc).0, 1);
        assert_eq!(plc.registers()[104..106], [0, 0], "the write never arrived");
        plc.ignore_part_acks(false);
        plc.tick(t0 + ms(170));
        assert_eq!(head(&plc).0, 1, "nothing pops by itself");
        plc.write(104, &u32_to_words(1)).expect("ack");
        assert_eq!(head(&plc).0, 0);
    }

    #[test]
    fn without_part_records_nothing_changes_in_hr32_to_47() {
        let t0 = Instant::now();
        let mut plc = SimPlc::new(&config(10, 0.5), t0);
        release(&mut plc, 1);
        plc.tick(t0);
        plc.tick(t0 + ms(1000));
        assert_eq!(plc.processed(), 100, "no FIFO, no limit");
        assert!(plc.registers()[32..48].iter().all(|&w| w == 0));
        assert!(plc.registers()[49..64].iter().all(|&w| w == 0));
        assert!(plc.part_records().is_empty());
        // Only the gauge shows the last unit's reading (half the units are defective here).
        let gauge = plc.registers()[usize::from(GAUGE_REGISTER)];
        assert!(
            (140..=260).contains(&gauge) || (540..=660).contains(&gauge),
            "{gauge}"
        );
    }

    #[test]
    fn derived_epochs_differ_within_a_process() {
        assert_ne!(derive_epoch(), derive_epoch());
    }
}
