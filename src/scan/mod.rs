//! Scans are a language: the classifier says what a scanned (or typed) text is before the core
//! decides what it means in context.
//!
//! This is the first cut: command barcodes, badges and work orders, matched against master data and
//! the plant's code patterns. GS1 / ISO 15434 labels and the key-burst decoder arrive with material
//! flow (issue 3); anything not recognised is reported as such, never guessed.

pub mod decode;
pub mod gs1;
pub mod iso15434;

use crate::domain::{Badge, Command, MasterData, WorkOrderId};

/// Longest text a scan may carry; anything longer is a stuck key or a runaway scanner.
pub const MAX_SCAN_LEN: usize = 256;

/// Command barcodes printed on the station's command sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarcodeCommand {
    Start,
    Pause,
    Resume,
    Complete,
    Logout,
}

/// Command barcodes the plant prints that later issues give a meaning (undo, confirm, andon calls).
const KNOWN_BUT_NOT_HANDLED: &[&str] = &[
    "@UNDO",
    "@CONFIRM",
    "@CANCEL",
    "@ANDON-HELP",
    "@ANDON-MAT",
    "@ANDON-QUAL",
    "@ANDON-MAINT",
];

/// What a scan is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    Badge(Badge),
    WorkOrder(WorkOrderId),
    Command(BarcodeCommand),
}

impl Scan {
    /// What the scan asks for. The same scan means the obvious thing: a badge logs in, a work order
    /// selects it, a command barcode does what it says.
    pub fn into_command(self) -> Command {
        match self {
            Scan::Badge(badge) => Command::Login { badge },
            Scan::WorkOrder(id) => Command::SelectWorkOrder { id },
            Scan::Command(BarcodeCommand::Start) => Command::Start,
            Scan::Command(BarcodeCommand::Pause) => Command::Pause,
            Scan::Command(BarcodeCommand::Resume) => Command::Resume,
            Scan::Command(BarcodeCommand::Complete) => Command::Complete,
            Scan::Command(BarcodeCommand::Logout) => Command::Logout,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("Nothing was scanned.")]
    Empty,
    #[error("The scan is too long ({0} characters). Scan again, one label at a time.")]
    TooLong(usize),
    #[error("The scan contains unreadable characters. Scan again, or key the code in.")]
    Unreadable,
    #[error("{0} is a command barcode this station does not handle yet.")]
    NotHandledYet(String),
    #[error("{0} is not a known command barcode.")]
    UnknownCommand(String),
    #[error("\"{0}\" is not a badge, work order or command barcode.")]
    Unrecognised(String),
}

/// Classifies a scanned or typed text against master data and the plant's code patterns.
pub fn classify(text: &str, master: &MasterData) -> Result<Scan, ScanError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ScanError::Empty);
    }
    let length = text.chars().count();
    if length > MAX_SCAN_LEN {
        return Err(ScanError::TooLong(length));
    }
    if text.chars().any(char::is_control) {
        return Err(ScanError::Unreadable);
    }
    // Master data may hold codes in any case: the exact text wins.
    let exact_badge = Badge::new(text);
    if master.operators.contains_key(&exact_badge) {
        return Ok(Scan::Badge(exact_badge));
    }
    let exact_order = WorkOrderId::new(text);
    if master.work_orders.contains_key(&exact_order) {
        return Ok(Scan::WorkOrder(exact_order));
    }
    // Scanners send upper case; people keying a code often do not.
    let code = text.to_uppercase();
    if code.starts_with('@') {
        return match code.as_str() {
            "@START" => Ok(Scan::Command(BarcodeCommand::Start)),
            "@PAUSE" => Ok(Scan::Command(BarcodeCommand::Pause)),
            "@RESUME" => Ok(Scan::Command(BarcodeCommand::Resume)),
            "@COMPLETE" => Ok(Scan::Command(BarcodeCommand::Complete)),
            "@LOGOUT" => Ok(Scan::Command(BarcodeCommand::Logout)),
            known if KNOWN_BUT_NOT_HANDLED.contains(&known) => Err(ScanError::NotHandledYet(code)),
            _ => Err(ScanError::UnknownCommand(code)),
        };
    }
    let badge = Badge::new(code.clone());
    if master.operators.contains_key(&badge) || looks_like(&code, "EMP-") {
        return Ok(Scan::Badge(badge));
    }
    let work_order = WorkOrderId::new(code.clone());
    if master.work_orders.contains_key(&work_order) || looks_like(&code, "WO-") {
        return Ok(Scan::WorkOrder(work_order));
    }
    Err(ScanError::Unrecognised(text.to_owned()))
}

/// The plant's code pattern: a fixed prefix followed by digits.
fn looks_like(code: &str, prefix: &str) -> bool {
    code.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_plant_codes() {
        let master = MasterData::default();
        assert_eq!(
            classify("EMP-1001", &master),
            Ok(Scan::Badge(Badge::from("EMP-1001")))
        );
        assert_eq!(
            classify(" wo-24001 ", &master),
            Ok(Scan::WorkOrder(WorkOrderId::from("WO-24001")))
        );
        assert_eq!(
            classify("@start", &master),
            Ok(Scan::Command(BarcodeCommand::Start))
        );
        assert_eq!(
            classify("@ANDON-HELP", &master),
            Err(ScanError::NotHandledYet("@ANDON-HELP".into()))
        );
        assert_eq!(
            classify("@FOO", &master),
            Err(ScanError::UnknownCommand("@FOO".into()))
        );
        assert_eq!(
            classify("EMP-", &master),
            Err(ScanError::Unrecognised("EMP-".into()))
        );
        assert_eq!(classify("   ", &master), Err(ScanError::Empty));
        assert_eq!(classify("A\u{1d}B", &master), Err(ScanError::Unreadable));
        assert_eq!(
            classify(&"9".repeat(300), &master),
            Err(ScanError::TooLong(300))
        );
    }

    #[test]
    fn never_panics_on_any_text() {
        let master = MasterData::default();
        let samples = [
            "",
            "@",
            "\u{0}",
            "é@EMP-1",
            "WO-２４",
            "\u{202e}WO-1",
            "@@START",
        ];
        for text in samples {
            let _ = classify(text, &master);
        }
        // A cheap exhaustive sweep over short byte strings.
        for a in 0u8..=127 {
            for b in [b'@', b'E', b'-', b'1', 0x1d, b' '] {
                let text = String::from_utf8_lossy(&[a, b]).into_owned();
                let _ = classify(&text, &master);
            }
        }
    }
}
