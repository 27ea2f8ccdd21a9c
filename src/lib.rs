//! Takt: a Manufacturing Execution System for the shop floor.
//!
//! The architecture is in DESIGN.md: a pure `domain` core; a `store` that makes every fact durable in
//! an append-only, hash-chained event log; adapters for the PLC (`plc`, `sim`), central (`sync`,
//! `central`), the terminal (`tui`); `station` wiring them together, and `launch` / `demo` starting
//! them from configuration.
//!
//! Where the code moved from DESIGN.md §9, and why:
//! - `station.rs` became `station/` (the single-writer core, the view it publishes, operator notices,
//!   task wiring) plus `launch.rs` (configuration → running station on a real terminal): the core
//!   is tested without a terminal, the terminal without a PLC.
//! - `protocol.rs` holds the JSON wire types shared by the sync worker and central, so they cannot
//!   drift apart.
//! - Master data from central (operators, products, work orders) is not in the event log: it is
//!   central's fact, kept as the latest version of each record with a downlink cursor. Only what the
//!   station observes or decides is an event.
//! - PLC counter changes become one `units_produced` event per poll that saw a change (not yet
//!   aggregated per 10 s); `plc_counter_baseline` events record first contact, PLC restarts and
//!   resets, so projections rebuild from the log alone.

pub mod audit;
pub mod central;
pub mod clock;
pub mod config;
pub mod credential;
pub mod demo;
pub mod domain;
pub mod genealogy;
pub mod kpi_client;
pub mod label;
pub mod launch;
pub mod logging;
pub mod owner_only;
pub mod plc;
pub mod protocol;
pub mod quality_client;
pub mod scan;
pub mod secret;
pub mod sim;
pub mod station;
pub mod store;
pub mod sync;
pub mod tls_trust;
pub mod trace;
pub mod tui;
