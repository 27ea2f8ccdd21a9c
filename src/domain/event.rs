//! The event: the one unit of truth a station records, and its hash chain.
//!
//! The canonical encoding the hash covers is defined here, once, and shared by station and central:
//! the serde_json bytes of [`Canonical`], a struct whose field order is fixed. No maps appear anywhere
//! in an event, so the encoding cannot change with key order. Kinds are only ever added; the meaning of
//! an existing kind never changes, because old logs must verify and replay forever.

use super::ids::{Badge, LotId, MaterialId, OperationId, ProductId, StationId, WorkOrderId};
use super::quantity::Quantity;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Version of the event encoding. Bumped only when a new field joins the envelope.
pub const SCHEMA_VERSION: u16 = 1;

/// `prev_hash` of the first event of every station.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// A person, identified by the badge they logged in with.
    Operator(Badge),
    /// The machine, through its PLC.
    Plc,
    /// The station software itself (e.g. an automatic pause).
    Station,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Operator(badge) => write!(f, "{badge}"),
            Actor::Plc => f.write_str("plc"),
            Actor::Station => f.write_str("station"),
        }
    }
}

/// Why the counter baseline was (re)set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineCause {
    /// The first reading this station ever took from this PLC.
    FirstContact,
    /// The PLC's boot epoch changed: it restarted and its counters began again at zero.
    PlcRestart,
    /// Same epoch, but the counter moved backwards or jumped beyond plausibility: it was reset.
    CounterReset,
}

/// Why a station ended a session by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogoutReason {
    /// Nothing from the operator or the machine for the station's idle time.
    Idle,
}

/// How a text reached the station: read by a scanner, or typed by a person (who may have misread it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    Scanned,
    Keyed,
}

/// How the quantity of a consumption was arrived at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumptionBasis {
    /// Bill-of-materials rate times the units the machine made.
    BomRate,
    /// Keyed by a person.
    Keyed,
    /// The quantity on a scanned label (a bin consumed whole).
    Label,
}

/// Whether an output is a lot (many units) or a serial (one unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputForm {
    Lot,
    Serial,
}

/// What happened. Serialised as `{"type": "...", "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum EventKind {
    OperatorLoggedIn {
        badge: Badge,
        name: String,
    },
    OperatorLoggedOut {
        badge: Badge,
        /// Why the station ended the session itself; none when the operator logged out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<LogoutReason>,
    },
    /// A wrong PIN for a known badge: the `attempt`-th in a row. Security evidence, by the station.
    LoginFailed {
        badge: Badge,
        attempt: u32,
    },
    /// Too many wrong PINs: the badge may not log in here before `until`.
    BadgeLocked {
        badge: Badge,
        until: DateTime<Utc>,
        attempts: u32,
    },
    WorkOrderSelected {
        work_order: WorkOrderId,
    },
    WorkOrderStarted {
        work_order: WorkOrderId,
    },
    WorkOrderPaused {
        work_order: WorkOrderId,
    },
    WorkOrderResumed {
        work_order: WorkOrderId,
    },
    WorkOrderCompleted {
        work_order: WorkOrderId,
        produced: u64,
        rejected: u64,
    },
    /// Units the machine made, from the PLC's cumulative counters. `produced` counts every unit
    /// processed (good and rejected), `rejected` the defective ones among them. The raw counter values
    /// after this delta travel with it: they are the new baseline, so a restart never counts twice.
    UnitsProduced {
        work_order: Option<WorkOrderId>,
        produced: u64,
        rejected: u64,
        plc_epoch: u16,
        processed_total: u32,
        defective_total: u32,
    },
    /// The counter baseline was set without counting units (first contact) or reset to zero before
    /// counting what the PLC made since it restarted.
    PlcCounterBaseline {
        cause: BaselineCause,
        plc_epoch: u16,
        processed_total: u32,
        defective_total: u32,
    },
    /// A scan that was refused. Kept as evidence: poka-yoke leaves a trail.
    ScanRefused {
        scanned: String,
        reason: String,
        /// Absent in events recorded before the scan decoder told scanned from keyed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entry: Option<Entry>,
    },
    /// A supplier lot seen here for the first time: its label named a material of the running bill of
    /// materials and it is on no hold list, so it is now known here and, after sync, at central.
    LotRegistered {
        lot: LotId,
        material: MaterialId,
        quantity: Quantity,
        expiry: Option<NaiveDate>,
        gtin: Option<String>,
    },
    /// A lot passed the checks (right material, released, not expired, not used up) and now feeds
    /// `material` into `work_order` here, replacing the lot loaded for it before.
    LotLoaded {
        work_order: WorkOrderId,
        operation: OperationId,
        material: MaterialId,
        lot: LotId,
        entry: Entry,
    },
    /// Material drawn from a lot into a work order.
    LotConsumed {
        work_order: WorkOrderId,
        operation: OperationId,
        material: MaterialId,
        lot: LotId,
        quantity: Quantity,
        basis: ConsumptionBasis,
    },
    /// An output lot or serial was made: `inputs` are the lots it was made from (its genealogy), and
    /// `next_operation` is where the routing sends it.
    OutputCreated {
        work_order: WorkOrderId,
        operation: OperationId,
        output: LotId,
        form: OutputForm,
        material: MaterialId,
        quantity: Quantity,
        inputs: Vec<LotId>,
        operator: Option<Badge>,
        next_operation: Option<OperationId>,
        /// The machine's PackML state, in words, when the units were counted ("running");
        /// absent when the output was closed by a person (a part-filled tote at completion).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        machine_state: Option<String>,
    },
    /// Contact with the PLC was lost after it had answered: from here its states are unknown.
    PlcCommsLost {
        reason: String,
    },
    /// The PLC answers again after `down_ms` without contact.
    PlcCommsRestored {
        down_ms: u64,
    },
    /// The PLC answers, but its heartbeat has not moved for `frozen_ms`: its program may have
    /// stopped, and what it reports is not trusted to be current.
    PlcStale {
        heartbeat: u16,
        frozen_ms: u64,
    },
    /// The PLC's heartbeat moves again after being frozen for `stale_ms`.
    PlcFresh {
        stale_ms: u64,
    },
    /// A raw machine transition (state, stop reason or interlock bits changed) and the category
    /// it falls into. Every transition is kept; micro-stops are a matter of aggregation.
    MachineStateChanged {
        packml: u16,
        stop_reason: u16,
        blocked: bool,
        starved: bool,
        category: super::machine::MachineCategory,
    },
    /// An unplanned stop began: the PLC's first-out reason and the reason code it usually means.
    DowntimeStarted {
        plc_reason: u16,
        suggested_reason: Option<String>,
    },
    /// A person gave the reason of the stop that began at `started_at`.
    DowntimeCoded {
        started_at: DateTime<Utc>,
        reason: String,
    },
    /// Planned downtime (changeover, break, maintenance) declared at the station from now until
    /// the machine runs again.
    PlannedDowntimeDeclared {
        reason: String,
    },
    /// An andon call from the station.
    AndonCalled {
        call: super::andon::AndonKind,
    },
    /// Someone answered the open andon call, `response_ms` after it was made.
    AndonAnswered {
        call: super::andon::AndonKind,
        response_ms: u64,
    },
    /// A PackML command sent to the machine from the station (1 Reset, 9 Clear).
    MachineCommandSent {
        command: u16,
    },
    /// A per-part record from the PLC's FIFO (serial-level result), recorded before its
    /// `record_seq` is acknowledged to the PLC. `(plc_epoch, record_seq)` identifies it: the seq
    /// starts again when the PLC restarts.
    PartRecorded {
        record_seq: u32,
        plc_epoch: u16,
        result: super::part_record::PartResult,
        reject_reason: u16,
        cycle_ms: u32,
        serial: String,
        work_order: Option<WorkOrderId>,
    },
    /// A lot put on hold at this station: every station refuses it, once it hears, until a signed
    /// release. Central projects it onto its record of the lot.
    LotHeld {
        lot: LotId,
        reason: String,
    },
    /// A hold lifted at this station. Signature-grade: the [`EventKind::Signed`] events that
    /// follow it in the same append carry the signatures.
    LotReleased {
        lot: LotId,
        /// When the hold this release lifts was decided, as the station saw it (none: a hold
        /// from before decisions were dated). A release lifts that hold only: one decided later
        /// (a recall at central, another station) stays.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lifts: Option<DateTime<Utc>>,
    },
    /// An inspection of a lot (or serial) against the plan of its product and operation: what was
    /// found and the verdict the plan gave. A reject is followed in the same append by the hold it
    /// puts on the lot.
    InspectionRecorded {
        lot: LotId,
        product: ProductId,
        operation: OperationId,
        severity: super::aql::Severity,
        lot_size: u32,
        inspected: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        findings: Vec<super::inspection::Finding>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        defects: Vec<super::inspection::DefectFound>,
        verdict: super::inspection::InspectionVerdict,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<String>,
    },
    /// Quality's decision on a held lot: what becomes of it, whole or split into parts. Signature-
    /// grade. The lot records it leaves follow from [`super::disposition::part_lots`].
    LotDispositioned {
        lot: LotId,
        parts: Vec<super::disposition::DispositionPart>,
        reason: String,
        /// The NCR this decides, if the lot has one open.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ncr: Option<String>,
    },
    /// A lot sent back for rework has been reworked at `operation`: it waits for inspection.
    ReworkDone {
        lot: LotId,
        operation: OperationId,
    },
    /// A nonconformance report opened: what is wrong with how much of a lot, and its containment.
    NcrOpened {
        ncr: String,
        lot: LotId,
        quantity: super::quantity::Quantity,
        what: String,
        containment: String,
    },
    /// An NCR closed, with how (cause and action). Signature-grade.
    NcrClosed {
        ncr: String,
        lot: LotId,
        closure: String,
    },
    /// An electronic signature on the record just before it: the person, the meaning, and the
    /// SHA-256 of the signed record (see [`super::signature::record_digest`]), so the signature
    /// cannot be moved to another record. `at` and the actor of the event are the time and signer.
    Signed {
        signer: Badge,
        name: String,
        meaning: super::signature::Meaning,
        record: String,
    },
    /// A recorded fact, event `corrects` of this station, was wrong: `was` is what counted until
    /// now (the original, or an earlier correction), `now` what counts from here. The corrected
    /// event stays as it was; the history shows both. Signature-grade.
    Corrected {
        corrects: u64,
        work_order: Option<WorkOrderId>,
        was: super::correction::Correction,
        now: super::correction::Correction,
        /// The correction reason code (master data), e.g. `C-01`.
        reason: String,
    },
    /// An inspection recorded in the same append made a variable characteristic's control chart
    /// (at this station) break a run rule: the process has moved, whatever the verdict on the lot.
    QualityAlert {
        product: ProductId,
        operation: OperationId,
        characteristic: String,
        /// The rule's code in its set (`WE1`, `N3`).
        rule: String,
        /// The rule in words.
        words: String,
        /// The plotted points that make the pattern, oldest first, as written on the chart
        /// (subgroup means or values, in the characteristic's unit).
        points: Vec<String>,
    },
    /// Quality accepted the corrective action after a plan's inspection was discontinued (ISO
    /// 2859-1 9.4): inspection of it here resumes, on tightened. Signature-grade.
    InspectionResumed {
        product: ProductId,
        operation: OperationId,
        reason: String,
    },
}

impl EventKind {
    /// Stable snake_case name, as stored in the `kind` column.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::OperatorLoggedIn { .. } => "operator_logged_in",
            EventKind::OperatorLoggedOut { .. } => "operator_logged_out",
            EventKind::LoginFailed { .. } => "login_failed",
            EventKind::BadgeLocked { .. } => "badge_locked",
            EventKind::WorkOrderSelected { .. } => "work_order_selected",
            EventKind::WorkOrderStarted { .. } => "work_order_started",
            EventKind::WorkOrderPaused { .. } => "work_order_paused",
            EventKind::WorkOrderResumed { .. } => "work_order_resumed",
            EventKind::WorkOrderCompleted { .. } => "work_order_completed",
            EventKind::UnitsProduced { .. } => "units_produced",
            EventKind::PlcCounterBaseline { .. } => "plc_counter_baseline",
            EventKind::ScanRefused { .. } => "scan_refused",
            EventKind::LotRegistered { .. } => "lot_registered",
            EventKind::LotLoaded { .. } => "lot_loaded",
            EventKind::LotConsumed { .. } => "lot_consumed",
            EventKind::OutputCreated { .. } => "output_created",
            EventKind::PlcCommsLost { .. } => "plc_comms_lost",
            EventKind::PlcCommsRestored { .. } => "plc_comms_restored",
            EventKind::PlcStale { .. } => "plc_stale",
            EventKind::PlcFresh { .. } => "plc_fresh",
            EventKind::MachineStateChanged { .. } => "machine_state_changed",
            EventKind::DowntimeStarted { .. } => "downtime_started",
            EventKind::DowntimeCoded { .. } => "downtime_coded",
            EventKind::PlannedDowntimeDeclared { .. } => "planned_downtime_declared",
            EventKind::AndonCalled { .. } => "andon_called",
            EventKind::AndonAnswered { .. } => "andon_answered",
            EventKind::MachineCommandSent { .. } => "machine_command_sent",
            EventKind::PartRecorded { .. } => "part_recorded",
            EventKind::LotHeld { .. } => "lot_held",
            EventKind::LotReleased { .. } => "lot_released",
            EventKind::InspectionRecorded { .. } => "inspection_recorded",
            EventKind::LotDispositioned { .. } => "lot_dispositioned",
            EventKind::ReworkDone { .. } => "rework_done",
            EventKind::NcrOpened { .. } => "ncr_opened",
            EventKind::NcrClosed { .. } => "ncr_closed",
            EventKind::Signed { .. } => "signed",
            EventKind::Corrected { .. } => "corrected",
            EventKind::QualityAlert { .. } => "quality_alert",
            EventKind::InspectionResumed { .. } => "inspection_resumed",
        }
    }

    /// The work order this event is about, if any.
    pub fn work_order(&self) -> Option<&WorkOrderId> {
        match self {
            EventKind::WorkOrderSelected { work_order }
            | EventKind::WorkOrderStarted { work_order }
            | EventKind::WorkOrderPaused { work_order }
            | EventKind::WorkOrderResumed { work_order }
            | EventKind::WorkOrderCompleted { work_order, .. }
            | EventKind::LotLoaded { work_order, .. }
            | EventKind::LotConsumed { work_order, .. }
            | EventKind::OutputCreated { work_order, .. } => Some(work_order),
            EventKind::UnitsProduced { work_order, .. } => work_order.as_ref(),
            EventKind::PartRecorded { work_order, .. } => work_order.as_ref(),
            EventKind::Corrected { work_order, .. } => work_order.as_ref(),
            _ => None,
        }
    }
}

/// An event as `decide`/`observe` produce it: not yet numbered, identified or chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub kind: EventKind,
}

/// An event as it stands in the log: numbered, identified, chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub schema: u16,
    pub station: StationId,
    pub seq: u64,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub kind: EventKind,
    pub prev_hash: String,
    pub hash: String,
}

/// The bytes the hash covers. Field order is the encoding: never reorder, only append.
#[derive(Serialize)]
struct Canonical<'a> {
    schema: u16,
    station: &'a StationId,
    seq: u64,
    id: &'a Uuid,
    at: &'a DateTime<Utc>,
    actor: &'a Actor,
    kind: &'a EventKind,
    prev_hash: &'a str,
}

/// A link of a chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error(
        "event {seq}: prev_hash {found} does not match the hash of event {prev_seq} ({expected})"
    )]
    BrokenLink {
        seq: u64,
        prev_seq: u64,
        expected: String,
        found: String,
    },
    #[error("event {seq}: content does not match its hash (stored {stored}, computed {computed})")]
    ContentAltered {
        seq: u64,
        stored: String,
        computed: String,
    },
    #[error("event {seq} follows event {prev_seq}: sequence numbers must be gapless")]
    Gap { seq: u64, prev_seq: u64 },
}

impl Event {
    /// Numbers, identifies and chains a new event. `at` is truncated to milliseconds so the encoding is
    /// the same on every platform's clock resolution.
    pub fn seal(new: NewEvent, station: StationId, seq: u64, id: Uuid, prev_hash: String) -> Event {
        let at = truncate_to_millis(new.at);
        let mut event = Event {
            schema: SCHEMA_VERSION,
            station,
            seq,
            id,
            at,
            actor: new.actor,
            kind: new.kind,
            prev_hash,
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        event
    }

    /// The canonical bytes covered by the hash.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let canonical = Canonical {
            schema: self.schema,
            station: &self.station,
            seq: self.seq,
            id: &self.id,
            at: &self.at,
            actor: &self.actor,
            kind: &self.kind,
            prev_hash: &self.prev_hash,
        };
        // Serialising plain structs, strings and integers to a Vec cannot fail.
        serde_json::to_vec(&canonical).unwrap_or_default()
    }

    /// SHA-256 over the canonical bytes (which include `prev_hash`), lowercase hex.
    pub fn compute_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_bytes()))
    }

    /// Checks this event against its predecessor's `(seq, hash)` (or `None` for the first event).
    pub fn verify_after(&self, prev: Option<(u64, &str)>) -> Result<(), ChainError> {
        let (prev_seq, prev_hash) = prev.unwrap_or((0, GENESIS_HASH));
        if self.seq != prev_seq + 1 {
            return Err(ChainError::Gap {
                seq: self.seq,
                prev_seq,
            });
        }
        if self.prev_hash != prev_hash {
            return Err(ChainError::BrokenLink {
                seq: self.seq,
                prev_seq,
                expected: prev_hash.to_owned(),
                found: self.prev_hash.clone(),
            });
        }
        let computed = self.compute_hash();
        if computed != self.hash {
            return Err(ChainError::ContentAltered {
                seq: self.seq,
                stored: self.hash.clone(),
                computed,
            });
        }
        Ok(())
    }
}

pub(crate) fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u64, prev: &str) -> Event {
        let at = DateTime::from_timestamp(1_764_000_000, 123_456_789).unwrap_or_default();
        Event::seal(
            NewEvent {
                at,
                actor: Actor::Operator(Badge::from("EMP-1001")),
                kind: EventKind::WorkOrderStarted {
                    work_order: WorkOrderId::from("WO-24001"),
                },
            },
            StationId::from("L1-S1"),
            seq,
            Uuid::nil(),
            prev.to_owned(),
        )
    }

    #[test]
    fn hash_survives_a_json_round_trip() {
        let event = sample(1, GENESIS_HASH);
        let json = serde_json::to_string(&event).unwrap_or_default();
        let back: Event = serde_json::from_str(&json).expect("round trip");
        assert_eq!(back.compute_hash(), event.hash);
        assert_eq!(back.at.timestamp_subsec_millis(), 123);
    }

    #[test]
    fn canonical_encoding_is_pinned() {
        // If this changes, every log ever written stops verifying.
        let event = sample(1, GENESIS_HASH);
        let text = String::from_utf8(event.canonical_bytes()).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"schema":1,"station":"L1-S1","seq":1,"id":"00000000-0000-0000-0000-000000000000","at":"2025-11-24T16:00:00.123Z","actor":{"operator":"EMP-1001"},"kind":{"type":"work_order_started","data":{"work_order":"WO-24001"}},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#
        );
    }

    #[test]
    fn verify_catches_gap_broken_link_and_altered_content() {
        let first = sample(1, GENESIS_HASH);
        assert_eq!(first.verify_after(None), Ok(()));
        let second = sample(2, &first.hash);
        assert_eq!(second.verify_after(Some((1, &first.hash))), Ok(()));
        assert!(matches!(
            sample(3, &first.hash).verify_after(Some((1, &first.hash))),
            Err(ChainError::Gap { .. })
        ));
        assert!(matches!(
            second.verify_after(Some((1, GENESIS_HASH))),
            Err(ChainError::BrokenLink { .. })
        ));
        let mut altered = second.clone();
        altered.actor = Actor::Plc;
        assert!(matches!(
            altered.verify_after(Some((1, &first.hash))),
            Err(ChainError::ContentAltered { .. })
        ));
    }
}
