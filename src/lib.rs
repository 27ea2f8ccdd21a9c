//! Takt: a Manufacturing Execution System for the shop floor.
//!
//! The architecture is in DESIGN.md: a pure `domain` core; a `store` that makes every fact durable in
//! an append-only, hash-chained event log; adapters for the PLC (`plc`, `sim`), central (`sync`,
//! `central`), the terminal (`tui`); `station` wiring them together, and `launch` / `demo` starting
//! them from configuration.

pub mod audit;
pub mod central;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod launch;
pub mod logging;
pub mod plc;
pub mod protocol;
pub mod scan;
pub mod sim;
pub mod station;
pub mod store;
pub mod sync;
pub mod tui;
