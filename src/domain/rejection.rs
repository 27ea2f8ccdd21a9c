//! Why a command was refused, in words an operator understands at arm's length from the screen.

use super::ids::{Badge, LotId, MaterialId, OperationId, ProductId, StationId, WorkOrderId};
use super::master::{LotStatus, WorkOrderStatus};
use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("Badge {0} is not known at this station. Check the badge or ask your line lead.")]
    UnknownBadge(Badge),
    #[error("Badge {0} is disabled. Ask your line lead.")]
    BadgeDisabled(Badge),
    #[error("Badge {0} has been revoked. Ask your line lead.")]
    BadgeRevoked(Badge),
    #[error("Badge {badge} was valid until {last_day}. Ask your line lead.")]
    BadgeExpired {
        badge: Badge,
        last_day: chrono::NaiveDate,
    },
    #[error(
        "Badge {badge} is locked after too many wrong PINs, until {} UTC. Ask your line lead.",
        until.format("%H:%M")
    )]
    BadgeLocked {
        badge: Badge,
        until: chrono::DateTime<chrono::Utc>,
    },
    #[error("{name} has no PIN yet. An admin sets one at central (takt central operator set-pin).")]
    NoPinSet { name: String },
    #[error("{name} has no role that works at a station. Ask your line lead.")]
    NoRole { name: String },
    #[error("{name} ({roles}) may not {action}: that needs {needs}.")]
    NotPermitted {
        name: String,
        roles: String,
        action: &'static str,
        needs: String,
    },
    #[error("Lot {0} is not on hold: there is nothing to release.")]
    NotOnHold(LotId),
    #[error("Lot {0} is already on hold.")]
    AlreadyOnHold(LotId),
    #[error("Say why the lot is held: type a reason or scan a defect code.")]
    HoldNeedsReason,
    #[error("There is no inspection plan for lot {lot}: {why}.")]
    NoInspectionPlan { lot: LotId, why: String },
    #[error("Nothing recorded: {0}.")]
    InspectionRefused(String),
    #[error("Nothing recorded: {0}")]
    DispositionRefused(String),
    #[error("Nothing recorded: {0}")]
    ReworkRefused(String),
    #[error("Nothing recorded: {0}")]
    NcrRefused(String),
    #[error("Lot {lot} cannot be released yet: {}", if *done { format!("it was reworked at {operation} and must pass inspection first.") } else { format!("it is sent back to {operation} for rework; record the rework, then inspect it.") })]
    AwaitsRework {
        lot: LotId,
        operation: OperationId,
        done: bool,
    },
    #[error("The signature must be made by {name}, who is logged in.")]
    SignerNotLoggedIn { name: String },
    #[error(
        "This needs a second person's signature at this station: another person scans their badge."
    )]
    SecondSignatureNeeded,
    #[error("The second signature must be another person's.")]
    SameSecondSigner,
    #[error("{name} cannot sign here: {why}")]
    SecondSignerRefused { name: String, why: String },
    #[error("Event {seq} ({kind}) is not a consumption, count or output: it cannot be corrected.")]
    NotCorrectable { seq: u64, kind: &'static str },
    #[error("Event {seq} is not in this station's log.")]
    UnknownEvent { seq: u64 },
    #[error(
        "The new value does not fit event {seq}: a consumption, a count (rejected at most made) or the lots of an output."
    )]
    CorrectionMismatch { seq: u64 },
    #[error(
        "A count of {count} is more than any machine makes between two polls (at most {max}): event {seq} is not corrected."
    )]
    ImplausibleCount { seq: u64, count: u64, max: u64 },
    #[error("The new value of event {seq} is what it already says: nothing to correct.")]
    CorrectionChangesNothing { seq: u64 },
    #[error("{0} is not a correction reason. Scan or type a reason code (C-…).")]
    UnknownCorrectionReason(String),
    #[error("You are already logged in as {name}.")]
    AlreadyLoggedIn { name: String },
    #[error("{name} is logged in here. They must log out first (scan @LOGOUT).")]
    SomeoneElseLoggedIn { name: String },
    #[error("Nobody is logged in. Scan your badge first.")]
    NotLoggedIn,
    #[error(
        "Work order {0} is not known at this station. Check the traveller, or wait for the next sync."
    )]
    UnknownWorkOrder(WorkOrderId),
    #[error("Work order {0} is not dispatched to this station.")]
    NotDispatchedHere(WorkOrderId),
    #[error("Work order {id} is {} and cannot run.", status.words())]
    NotReleased {
        id: WorkOrderId,
        status: WorkOrderStatus,
    },
    #[error(
        "Central last answered {} UTC; this station may run only {grace_minutes} min without it. \
         Call IT or the line lead.",
        heard.format("%Y-%m-%d %H:%M")
    )]
    CentralOutOfReach {
        heard: chrono::DateTime<chrono::Utc>,
        grace_minutes: i64,
    },
    #[error("Work order {0} is already complete at this station.")]
    AlreadyCompleted(WorkOrderId),
    #[error("Work order {0} is already selected.")]
    AlreadySelected(WorkOrderId),
    #[error("Work order {0} is running. Pause or complete it first.")]
    AnotherRunning(WorkOrderId),
    #[error("No work order is selected. Scan a work order first.")]
    NoWorkOrderSelected,
    #[error("Work order {0} is already running.")]
    AlreadyRunning(WorkOrderId),
    #[error("Work order {0} is not running.")]
    NotRunning(WorkOrderId),
    #[error("Work order {0} is not paused.")]
    NotPaused(WorkOrderId),
    #[error("Work order {0} was never started here. Start it, or select another one.")]
    NeverStarted(WorkOrderId),
    #[error("Select a work order before scanning material.")]
    NoWorkOrderForLot,
    #[error("{product} has no operation at station {station} in its routing. Call your line lead.")]
    NoOperationHere {
        product: ProductId,
        station: StationId,
    },
    #[error(
        "Lot {0} is not known here and its label does not say which material it is. Scan the supplier label (with its GTIN), or call your line lead."
    )]
    UnknownLot(LotId),
    #[error(
        "The label of lot {lot} carries GTIN {gtin}, which is no material known here. Set the lot aside and call your line lead."
    )]
    UnknownGtin { gtin: String, lot: LotId },
    #[error(
        "Lot {lot} is registered as {registered}, but its label says {label}. Set the lot aside and call quality."
    )]
    LotMaterialMismatch {
        lot: LotId,
        registered: MaterialId,
        label: MaterialId,
    },
    #[error(
        "WRONG MATERIAL: expected {expected}, scanned {scanned} (lot {lot}). {work_order} at {operation} does not use it."
    )]
    WrongMaterial {
        lot: LotId,
        scanned: String,
        expected: String,
        work_order: WorkOrderId,
        operation: OperationId,
    },
    #[error("Lot {lot} is {}{}. Do not use it: set it aside and take another lot.", status.words().to_uppercase(), reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default())]
    LotBlocked {
        lot: LotId,
        status: LotStatus,
        reason: Option<String>,
    },
    #[error("Lot {lot} EXPIRED on {expiry}. Do not use it: set it aside and take another lot.")]
    LotExpired { lot: LotId, expiry: NaiveDate },
    #[error("Lot {0} is used up. Scan the next lot.")]
    LotUsedUp(LotId),
    #[error(
        "Lot {lot} is new here and its label does not say how much it holds. Scan the label with the quantity (30), or call your line lead."
    )]
    NewLotWithoutQuantity { lot: LotId },
    #[error("No lot is loaded for this order: scan a lot before keying a quantity.")]
    NothingLoaded,
    #[error("{0} is not a reason code known here. Scan a reason from the reason sheet.")]
    UnknownReason(String),
    #[error("{0} is not a downtime reason.")]
    NotADowntimeReason(String),
    #[error(
        "There is no stop to give a reason for. To declare planned downtime, scan a planned reason (changeover, break, maintenance)."
    )]
    NoStopToCode,
    #[error("The stop that began at {0} is no longer kept here; code it at central.")]
    StopNotKept(String),
    #[error(
        "The machine is running: planned downtime {0} starts when it has stopped. Pause the order (@PAUSE), then scan {0}."
    )]
    PlannedWhileRunning(String),
    #[error(
        "This machine's register map has no PackML command registers: reset it at the machine."
    )]
    NoMachineCommands,
    #[error("The machine is {0}: there is nothing to reset.")]
    NothingToReset(String),
    #[error("Give the stop a reason before restarting the machine: scan the reason barcode{0}.")]
    StopNotCoded(String),
    #[error("A {open} call is open. Answer it (scan its andon barcode again) before another call.")]
    AndonOpen { open: &'static str },
    #[error("A quantity drawn must be more than zero.")]
    QuantityNotPositive,
    #[error(
        "Lot {lot} has only {remaining} {unit} left. Key what was really used, or scan the next lot."
    )]
    MoreThanRemains {
        lot: LotId,
        remaining: super::quantity::Quantity,
        unit: String,
    },
    #[error("Lot {lot} is already loaded for {material}.")]
    LotAlreadyLoaded { lot: LotId, material: MaterialId },
}
