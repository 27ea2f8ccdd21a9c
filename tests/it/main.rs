//! One integration-test binary with modules keeps link time down on two cores.
mod plc;
