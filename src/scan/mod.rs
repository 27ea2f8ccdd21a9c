//! Scans are a language: the classifier says what a scanned (or typed) text is before the core
//! decides what it means in context. A badge logs in, a work order selects it, a lot label feeds the
//! running order, a command barcode does what it says.

pub mod classify;
pub mod decode;
pub mod gs1;
pub mod iso15434;
pub mod keys;

pub use classify::{Patterns, classify};

use crate::domain::andon::AndonKind;
use crate::domain::{Badge, Command, Entry, LotId, LotLabel, MaterialId, Quantity, WorkOrderId};

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
    Undo,
    Confirm,
    Cancel,
    AndonHelp,
    AndonMaterial,
    AndonQuality,
    AndonMaintenance,
    ResetMachine,
}

impl BarcodeCommand {
    const ALL: [(&'static str, BarcodeCommand); 13] = [
        ("@START", BarcodeCommand::Start),
        ("@PAUSE", BarcodeCommand::Pause),
        ("@RESUME", BarcodeCommand::Resume),
        ("@COMPLETE", BarcodeCommand::Complete),
        ("@LOGOUT", BarcodeCommand::Logout),
        ("@UNDO", BarcodeCommand::Undo),
        ("@CONFIRM", BarcodeCommand::Confirm),
        ("@CANCEL", BarcodeCommand::Cancel),
        ("@ANDON-HELP", BarcodeCommand::AndonHelp),
        ("@ANDON-MAT", BarcodeCommand::AndonMaterial),
        ("@ANDON-QUAL", BarcodeCommand::AndonQuality),
        ("@ANDON-MAINT", BarcodeCommand::AndonMaintenance),
        // Beyond DEMO_PLANT's twelve: restart a stopped machine once its stop has a reason.
        ("@RESET", BarcodeCommand::ResetMachine),
    ];

    /// The command printed as `code` (upper case), if it is one.
    pub fn parse(code: &str) -> Option<BarcodeCommand> {
        Self::ALL
            .iter()
            .find(|(text, _)| *text == code)
            .map(|(_, command)| *command)
    }

    pub fn code(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, command)| *command == self)
            .map_or("@?", |(text, _)| text)
    }
}

/// What a scan is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    Badge(Badge),
    WorkOrder(WorkOrderId),
    Command(BarcodeCommand),
    /// A lot label: a supplier lot, or a work-in-process lot another station made.
    Lot(LotLabel),
    /// One unit's serial (GS1 AI 21 without a lot, or ISO 15434 S).
    Serial {
        serial: LotId,
        gtin: Option<String>,
    },
    /// A material code or GTIN without a lot.
    Material(MaterialId),
    /// A code of the defect catalog.
    Defect(String),
    /// A downtime reason code.
    DowntimeReason(String),
    /// A correction reason code.
    CorrectionReason(String),
    /// `+2.5`: a quantity keyed on the scan line.
    Quantity(Quantity),
}

impl Scan {
    /// What the scan asks for at the run screen. The same scan means the obvious thing: a badge logs
    /// in, a work order selects it, a lot label feeds the running order, a command barcode does what
    /// it says. Kinds that belong to other screens say where they belong.
    pub fn into_command(self, entry: Entry) -> Result<Command, ScanError> {
        Ok(match self {
            Scan::Badge(badge) => Command::Identify { badge },
            Scan::WorkOrder(id) => Command::SelectWorkOrder { id },
            Scan::Lot(label) => Command::LoadLot { label, entry },
            Scan::Quantity(quantity) => Command::ConsumeKeyed { quantity },
            Scan::Command(BarcodeCommand::Start) => Command::Start,
            Scan::Command(BarcodeCommand::Pause) => Command::Pause,
            Scan::Command(BarcodeCommand::Resume) => Command::Resume,
            Scan::Command(BarcodeCommand::Complete) => Command::Complete,
            Scan::Command(BarcodeCommand::Logout) => Command::Logout,
            Scan::Command(BarcodeCommand::AndonHelp) => Command::Andon {
                kind: AndonKind::Help,
            },
            Scan::Command(BarcodeCommand::AndonMaterial) => Command::Andon {
                kind: AndonKind::Material,
            },
            Scan::Command(BarcodeCommand::AndonQuality) => Command::Andon {
                kind: AndonKind::Quality,
            },
            Scan::Command(BarcodeCommand::AndonMaintenance) => Command::Andon {
                kind: AndonKind::Maintenance,
            },
            Scan::Command(BarcodeCommand::ResetMachine) => Command::ResetMachine,
            Scan::Command(other) => return Err(ScanError::NotHandledYet(other.code().to_owned())),
            Scan::Serial { serial, .. } => {
                return Err(ScanError::NotHere(format!(
                    "Serial {serial} is a finished unit, not material for this order. Open Trace (F4) to see its history."
                )));
            }
            Scan::Material(material) => {
                return Err(ScanError::NotHere(format!(
                    "{material} is a material code without a lot. Scan the lot label (with its lot number) instead."
                )));
            }
            Scan::Defect(code) => {
                return Err(ScanError::NotHere(format!(
                    "{code} is a defect code: defects are recorded on the Inspect screen."
                )));
            }
            Scan::CorrectionReason(code) => {
                return Err(ScanError::NotHere(format!(
                    "{code} is a correction reason: facts are corrected on the History screen."
                )));
            }
            Scan::DowntimeReason(reason) => Command::CodeDowntime { reason, stop: None },
        })
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
    #[error("The scan starts with a broken symbology identifier (]). Check the scanner set-up.")]
    BadSymbology,
    #[error("Label refused: {0}")]
    Invalid(String),
    #[error("{0} is a command barcode this station does not handle yet.")]
    NotHandledYet(String),
    #[error("{0}")]
    NotHere(String),
    #[error("{0} is not a known command barcode.")]
    UnknownCommand(String),
    #[error("\"{0}\" matches more than one code pattern; ask your line lead to fix the patterns.")]
    Ambiguous(String),
    #[error("\"{0}\" is not a badge, work order, lot or command barcode known here.")]
    Unrecognised(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MasterData, State, StationId};
    use chrono::NaiveDate;

    fn plain(text: &str) -> Result<Scan, ScanError> {
        let state = State::new(StationId::from("L1-S1"), MasterData::default());
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        classify(text, &state, &Patterns::default(), today)
    }

    #[test]
    fn classifies_the_plant_codes() {
        assert_eq!(plain("EMP-1001"), Ok(Scan::Badge(Badge::from("EMP-1001"))));
        assert_eq!(
            plain(" wo-24001 "),
            Ok(Scan::WorkOrder(WorkOrderId::from("WO-24001")))
        );
        assert_eq!(plain("@start"), Ok(Scan::Command(BarcodeCommand::Start)));
        assert_eq!(
            plain("@ANDON-HELP"),
            Ok(Scan::Command(BarcodeCommand::AndonHelp))
        );
        assert_eq!(plain("@FOO"), Err(ScanError::UnknownCommand("@FOO".into())));
        assert_eq!(plain("D-101"), Ok(Scan::Defect("D-101".into())));
        assert_eq!(plain("r-11"), Ok(Scan::DowntimeReason("R-11".into())));
        assert_eq!(
            plain("]C0WO-24001"),
            Ok(Scan::WorkOrder(WorkOrderId::from("WO-24001")))
        );
        assert_eq!(plain("EMP-"), Err(ScanError::Unrecognised("EMP-".into())));
        assert_eq!(plain("   "), Err(ScanError::Empty));
        assert_eq!(plain("A\u{7}B"), Err(ScanError::Unreadable));
        assert_eq!(plain(&"9".repeat(300)), Err(ScanError::TooLong(300)));
    }

    #[test]
    fn a_serialised_sub_assembly_is_material_for_the_next_operation() {
        let Ok(Scan::Lot(label)) = plain("]C1240BC-200-A\u{1d}21SN000042") else {
            panic!("not a lot");
        };
        assert_eq!(label.lot.as_str(), "SN000042");
        assert_eq!(
            label.material.as_ref().map(|m| m.as_str()),
            Some("BC-200-A")
        );
        assert_eq!(label.quantity, Some(Quantity::units(1)));
        // A finished unit's serial (GTIN, no material code) stays a serial.
        assert!(matches!(
            plain("]C10100401234501019\u{1d}21SN000043"),
            Ok(Scan::Serial { .. })
        ));
    }

    #[test]
    fn never_panics_on_any_text() {
        let samples = [
            "",
            "@",
            "\u{0}",
            "é@EMP-1",
            "WO-２４",
            "\u{202e}WO-1",
            "@@START",
            "]",
            "]C",
            "]é1",
        ];
        for text in samples {
            let _ = plain(text);
        }
        // A cheap exhaustive sweep over short byte strings.
        for a in 0u8..=127 {
            for b in [b'@', b'E', b'-', b'1', 0x1d, b' ', b']'] {
                let text = String::from_utf8_lossy(&[a, b]).into_owned();
                let _ = plain(&text);
            }
        }
    }
}
