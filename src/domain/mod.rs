//! The pure domain core: no I/O, no async, no clock reads. Time comes in as a value.
//!
//! `decide` says what a command means, `observe` what a PLC sample means, `apply` how an event changes
//! state. Everything else in Takt is an adapter around these three functions.

pub mod event;
pub mod ids;
pub mod master;
pub mod plc;
pub mod rejection;
pub mod state;

mod decide;
mod observe;

pub use decide::{Command, decide, evidence_of_refusal, station_pause};
pub use event::{Actor, Event, EventKind, GENESIS_HASH, NewEvent, SCHEMA_VERSION};
pub use ids::{Badge, LineId, MaterialId, ProductId, StationId, WorkOrderId};
pub use master::{MasterData, Material, Operator, Product, WorkOrder, WorkOrderStatus};
pub use observe::{MAX_PLAUSIBLE_COUNTER_STEP, observe};
pub use plc::{PackMlState, PlcSample};
pub use rejection::Rejection;
pub use state::{CounterBaseline, ExecStatus, Progress, Session, State, apply};

#[cfg(test)]
mod tests;
