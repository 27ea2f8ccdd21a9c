//! PLC simulator speaking Modbus TCP with the default register map (DESIGN.md §6).
//!
//! `logic` is the PLC program and register image, testable without a network; `server` puts it
//! behind a real tokio-modbus TCP server. FC3 and FC4 read the same registers; FC6 and FC16 write
//! the command block only; any other function gets IllegalFunction.

pub mod logic;
mod server;

pub use logic::{SimConfig, SimPlc, derive_epoch};
pub use server::{SimHandle, run_cli, spawn};
