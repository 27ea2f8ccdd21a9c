//! Machine states as an MES counts time: every raw PLC transition (PackML state, stop reason,
//! blocked and starved bits) is recorded, and each reading falls into one category — running, idle,
//! blocked, starved, planned or unplanned downtime — by a table a site can change. Micro-stops and
//! KPIs are worked out later from the recorded intervals, never instead of them.

use super::plc::{PackMlState, PlcSample};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Interlock bit 0 of HR7: the machine cannot hand its output on.
pub const INTERLOCK_BLOCKED: u16 = 1;
/// Interlock bit 1 of HR7: the machine has no input.
pub const INTERLOCK_STARVED: u16 = 1 << 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MachineCategory {
    Running,
    Idle,
    Blocked,
    Starved,
    PlannedDowntime,
    UnplannedDowntime,
}

impl MachineCategory {
    pub fn words(self) -> &'static str {
        match self {
            MachineCategory::Running => "running",
            MachineCategory::Idle => "idle",
            MachineCategory::Blocked => "blocked",
            MachineCategory::Starved => "starved",
            MachineCategory::PlannedDowntime => "planned downtime",
            MachineCategory::UnplannedDowntime => "DOWN",
        }
    }

    pub fn parse(text: &str) -> Option<MachineCategory> {
        Some(match text.trim() {
            "running" => MachineCategory::Running,
            "idle" => MachineCategory::Idle,
            "blocked" => MachineCategory::Blocked,
            "starved" => MachineCategory::Starved,
            "planned_downtime" => MachineCategory::PlannedDowntime,
            "unplanned_downtime" => MachineCategory::UnplannedDowntime,
            _ => return None,
        })
    }
}

/// What the PLC says about its machine, as far as time accounting cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineReading {
    /// PackML StateCurrent code (TR88 numbering after the register map's state table).
    pub packml: u16,
    pub stop_reason: u16,
    pub blocked: bool,
    pub starved: bool,
}

impl MachineReading {
    pub fn of(sample: &PlcSample) -> MachineReading {
        MachineReading {
            packml: recorded_code(sample.state),
            stop_reason: sample.stop_reason,
            blocked: sample.interlock_bits & INTERLOCK_BLOCKED != 0,
            starved: sample.interlock_bits & INTERLOCK_STARVED != 0,
        }
    }
}

/// The PackML code a state is recorded as. A code the PLC's own state table (`[plc.map.states]`)
/// does not name is no PackML state: where its number would read back as a TR88 state (the PLC's
/// unnamed 6 is not Execute), it is recorded as 0, PackML's Undefined.
fn recorded_code(state: PackMlState) -> u16 {
    match state {
        PackMlState::Other(code) if PackMlState::from_code(code) != state => 0,
        state => state.code(),
    }
}

/// Which category each PackML state falls into, where the site differs from the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryTable {
    /// PackML state → category, overriding [`default_category`].
    pub overrides: BTreeMap<u16, MachineCategory>,
}

impl CategoryTable {
    /// The category of a reading: the interlock bits first (a blocked or starved machine waits on
    /// its neighbours, whatever state it reports), then a fault's stop reason, then the state.
    pub fn category(&self, reading: &MachineReading) -> MachineCategory {
        let state = PackMlState::from_code(reading.packml);
        // The bits explain waiting, never a fault: a machine that faults while its outfeed is full
        // is down, not blocked.
        let waiting = matches!(state, PackMlState::Idle | PackMlState::Suspended)
            || (state == PackMlState::Stopped && reading.stop_reason == 0);
        if waiting {
            if reading.blocked {
                return MachineCategory::Blocked;
            }
            if reading.starved {
                return MachineCategory::Starved;
            }
        }
        if let Some(category) = self.overrides.get(&reading.packml) {
            return *category;
        }
        default_category(state, reading.stop_reason)
    }
}

/// The default table (after OPC 40001-1 Annex C.2 in spirit): Execute runs; a stop with a
/// first-out fault, or an abort, is unplanned downtime; Held is downtime until someone says it was
/// planned; everything else waits, idle.
pub fn default_category(state: PackMlState, stop_reason: u16) -> MachineCategory {
    use PackMlState::*;
    match state {
        Execute => MachineCategory::Running,
        Aborting | Aborted | Held | Holding => MachineCategory::UnplannedDowntime,
        Stopped | Stopping if stop_reason != 0 => MachineCategory::UnplannedDowntime,
        _ => MachineCategory::Idle,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(state: PackMlState, stop_reason: u16, interlock: u16) -> MachineReading {
        MachineReading {
            packml: state.code(),
            stop_reason,
            blocked: interlock & INTERLOCK_BLOCKED != 0,
            starved: interlock & INTERLOCK_STARVED != 0,
        }
    }

    #[test]
    fn readings_fall_into_categories() {
        let table = CategoryTable::default();
        use MachineCategory as C;
        use PackMlState as S;
        for (state, reason, interlock, expected) in [
            (S::Execute, 0, 0, C::Running),
            (S::Idle, 0, 0, C::Idle),
            (S::Stopped, 0, 0, C::Idle),
            (S::Stopped, 1, 0, C::UnplannedDowntime),
            (S::Aborted, 0, 0, C::UnplannedDowntime),
            (S::Held, 0, 0, C::UnplannedDowntime),
            (S::Suspended, 0, INTERLOCK_BLOCKED, C::Blocked),
            (S::Suspended, 0, INTERLOCK_STARVED, C::Starved),
            (S::Idle, 0, INTERLOCK_STARVED, C::Starved),
            // Running through a momentary interlock flicker is still running.
            (S::Execute, 0, INTERLOCK_BLOCKED, C::Running),
            (S::Complete, 0, 0, C::Idle),
            // A fault with the outfeed full is a fault.
            (S::Stopped, 1, INTERLOCK_BLOCKED, C::UnplannedDowntime),
            (S::Aborted, 0, INTERLOCK_STARVED, C::UnplannedDowntime),
        ] {
            assert_eq!(
                table.category(&reading(state, reason, interlock)),
                expected,
                "{state:?} reason {reason} interlock {interlock}"
            );
        }
    }

    #[test]
    fn a_code_the_state_table_does_not_name_is_not_the_tr88_state_of_its_number() {
        let mut sample = crate::domain::tests::sample(1, 0, 0);
        sample.state = PackMlState::Other(6);
        let reading = MachineReading::of(&sample);
        assert_eq!(reading.packml, 0);
        assert_eq!(
            CategoryTable::default().category(&reading),
            MachineCategory::Idle
        );
        sample.state = PackMlState::Other(99);
        assert_eq!(MachineReading::of(&sample).packml, 99);
        sample.state = PackMlState::Execute;
        assert_eq!(MachineReading::of(&sample).packml, 6);
    }

    #[test]
    fn a_site_can_say_what_its_states_mean() {
        let mut table = CategoryTable::default();
        table
            .overrides
            .insert(PackMlState::Held.code(), MachineCategory::PlannedDowntime);
        assert_eq!(
            table.category(&reading(PackMlState::Held, 0, 0)),
            MachineCategory::PlannedDowntime
        );
        assert_eq!(
            MachineCategory::parse("starved"),
            Some(MachineCategory::Starved)
        );
        assert_eq!(MachineCategory::parse("sleeping"), None);
    }
}
