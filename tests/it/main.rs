//! One integration-test binary with modules keeps link time down on two cores.

mod central;
mod cli;
mod core;
mod crash;
mod e2e;
mod genealogy;
mod plc;
mod support;
mod tui;
