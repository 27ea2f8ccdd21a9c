//! The pure domain core: no I/O, no async, no clock reads. Time comes in as a value.
//!
//! `decide` says what a command means, `observe` what a PLC sample means, `apply` how an event changes
//! state. Everything else in Takt is an adapter around these three functions.

pub mod event;
pub mod ids;
pub mod master;
pub mod plc;
pub mod quantity;
pub mod rejection;
pub mod state;

pub mod andon;
pub mod aql;
pub mod correction;
mod decide;
pub mod disposition;
pub mod downtime;
pub mod first_article;
pub mod inspection;
pub mod interlock;
pub mod kpi;
pub mod kpi_history;
pub mod machine;
pub mod material;
pub mod narrative;
pub mod ncr;
mod observe;
pub mod part_record;
pub mod permission;
pub mod quality_state;
pub mod session;
pub mod shift;
pub mod signature;
pub mod spc;

pub use decide::{Command, decide, evidence_of_refusal, second_signer, station_pause};
pub use event::{
    Actor, ConsumptionBasis, Entry, Event, EventKind, GENESIS_HASH, LogoutReason, NewEvent,
    OutputForm, SCHEMA_VERSION,
};
pub use ids::{Badge, LineId, LotId, MaterialId, OperationId, ProductId, StationId, WorkOrderId};
pub use master::{
    Bom, BomLine, Code, CodeKind, Consumption, DefectClass, Lot, LotOrigin, LotStatus, MasterData,
    Material, Operator, OutputKind, Product, Routing, RoutingStep, StationConfig, WorkOrder,
    WorkOrderStatus,
};
pub use material::LotLabel;
pub use observe::{MAX_PLAUSIBLE_COUNTER_STEP, observe};
pub use plc::{PackMlState, PlcSample};
pub use quantity::Quantity;
pub use rejection::Rejection;
pub use state::{
    CounterBaseline, ExecStatus, OpenOutput, Progress, Session, Settings, State, apply,
};

#[cfg(test)]
mod tests;
