//! What the station reads from a PLC, as plain values.

use serde::{Deserialize, Serialize};

/// PackML StateCurrent, TR88 numbering. Unknown codes are kept, not guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PackMlState {
    Clearing,
    Stopped,
    Starting,
    Idle,
    Suspended,
    Execute,
    Stopping,
    Aborting,
    Aborted,
    Holding,
    Held,
    Unholding,
    Suspending,
    Unsuspending,
    Resetting,
    Completing,
    Complete,
    Other(u16),
}

impl PackMlState {
    pub fn from_code(code: u16) -> Self {
        use PackMlState::*;
        match code {
            1 => Clearing,
            2 => Stopped,
            3 => Starting,
            4 => Idle,
            5 => Suspended,
            6 => Execute,
            7 => Stopping,
            8 => Aborting,
            9 => Aborted,
            10 => Holding,
            11 => Held,
            12 => Unholding,
            13 => Suspending,
            14 => Unsuspending,
            15 => Resetting,
            16 => Completing,
            17 => Complete,
            other => Other(other),
        }
    }

    pub fn code(self) -> u16 {
        use PackMlState::*;
        match self {
            Clearing => 1,
            Stopped => 2,
            Starting => 3,
            Idle => 4,
            Suspended => 5,
            Execute => 6,
            Stopping => 7,
            Aborting => 8,
            Aborted => 9,
            Holding => 10,
            Held => 11,
            Unholding => 12,
            Suspending => 13,
            Unsuspending => 14,
            Resetting => 15,
            Completing => 16,
            Complete => 17,
            Other(code) => code,
        }
    }

    /// The state a PackML name means (`execute`, `idle`, …), for PLCs with their own codes.
    pub fn from_name(name: &str) -> Option<Self> {
        use PackMlState::*;
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "clearing" => Clearing,
            "stopped" => Stopped,
            "starting" => Starting,
            "idle" => Idle,
            "suspended" => Suspended,
            "execute" => Execute,
            "stopping" => Stopping,
            "aborting" => Aborting,
            "aborted" => Aborted,
            "holding" => Holding,
            "held" => Held,
            "unholding" => Unholding,
            "suspending" => Suspending,
            "unsuspending" => Unsuspending,
            "resetting" => Resetting,
            "completing" => Completing,
            "complete" => Complete,
            _ => return None,
        })
    }

    /// Plain words for the screen.
    pub fn words(self) -> String {
        use PackMlState::*;
        match self {
            Execute => "running".into(),
            Idle => "idle".into(),
            Stopped => "stopped".into(),
            Held => "held".into(),
            Suspended => "suspended".into(),
            Aborted => "aborted".into(),
            Complete => "complete".into(),
            Other(code) => format!("state {code}"),
            other => format!("{other:?}").to_lowercase(),
        }
    }
}

/// One poll of the PLC's status block, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlcSample {
    pub map_version: u16,
    pub heartbeat: u16,
    pub epoch: u16,
    pub state: PackMlState,
    pub unit_mode: u16,
    pub stop_reason: u16,
    pub warning: u16,
    pub interlock_bits: u16,
    pub stacklight_bits: u16,
    /// Units per minute × 100.
    pub speed_x100: u32,
    /// Cumulative units processed, good and defective.
    pub processed: u32,
    /// Cumulative defective units.
    pub defective: u32,
    pub consumed: u32,
    pub cycles: u32,
    pub last_cycle_ms: u32,
    pub recipe: u32,
}
