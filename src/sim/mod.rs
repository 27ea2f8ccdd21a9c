//! PLC simulator speaking Modbus TCP with the default register map (DESIGN.md §6).
//!
//! `logic` is the PLC program and register image, testable without a network; `server` puts it
//! behind a real tokio-modbus TCP server. FC3 and FC4 read the same registers; FC6 and FC16 write
//! the command block only; any other function gets IllegalFunction. `scenario` describes the faults
//! the simulator can stage (stops, interlocks, slow replies, dropped links, restarts, 16-bit counters).

pub mod logic;
pub mod scenario;
mod server;

pub use logic::{PART_RING, SimConfig, SimPartRecord, SimPlc, derive_epoch};
pub use scenario::{
    CounterWidth, FaultPlan, FaultTrigger, Scenario, ScenarioError, SlowReplies, Window,
};
pub use server::{SimHandle, run_cli, spawn};
