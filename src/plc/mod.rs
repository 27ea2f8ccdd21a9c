//! The PLC link: register map, Modbus TCP poller, command writes.

pub mod layout;
pub mod map;
pub mod poller;

pub use layout::{MapSection, StatusLayout};
pub use map::{MapError, RegisterMap, decode_status};
pub use poller::{MachineCommand, PlcEvent, PlcOutputs, PollerConfig, backoff_delay, spawn_poller};
