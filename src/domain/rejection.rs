//! Why a command was refused, in words an operator understands at arm's length from the screen.

use super::ids::{Badge, WorkOrderId};
use super::master::WorkOrderStatus;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("Badge {0} is not known at this station. Check the badge or ask your line lead.")]
    UnknownBadge(Badge),
    #[error("Badge {0} is disabled. Ask your line lead.")]
    BadgeDisabled(Badge),
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
}
