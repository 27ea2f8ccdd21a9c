//! Takt: a Manufacturing Execution System for the shop floor.
//!
//! The architecture is in DESIGN.md: a pure `domain` core; a `store` that makes every fact durable in
//! an append-only, hash-chained event log; adapters for the PLC (`plc`, `sim`), central (`sync`,
//! `central`), the terminal (`tui`); and `station` wiring them together.

pub mod central;
pub mod clock;
pub mod domain;
pub mod plc;
pub mod protocol;
pub mod sim;
pub mod store;
pub mod sync;
pub mod tui;
