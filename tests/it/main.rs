//! One integration-test binary with modules keeps link time down on two cores.

mod central;
mod classify;
mod cli;
mod clock;
mod core;
mod crash;
mod e2e;
mod flow;
mod fuzz;
mod genealogy;
mod import;
mod kpi;
mod label;
mod late;
mod metrics_openapi;
mod part_records;
mod plant;
mod plc;
mod pymodbus;
mod scanner;
mod security;
mod sim_scenarios;
mod support;
mod tls;
mod tui;
mod work_orders;
