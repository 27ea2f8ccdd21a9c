//! `takt scan decode`: what the classifier makes of a label's text, for people who design labels.
//! Control bytes are written as `\x1d`, `<GS>`, `<RS>`, `<EOT>` on the command line.

use super::gs1::{self, Gs1Message};
use super::iso15434::{self, Envelope};
use super::{Patterns, Scan, classify};
use crate::domain::{MasterData, State, StationId};
use chrono::NaiveDate;
use serde::Serialize;

/// Turns the escapes people can type into the control bytes scanners send.
pub fn unescape(text: &str) -> String {
    const NAMED: &[(&str, char)] = &[
        ("<GS>", '\u{1d}'),
        ("<RS>", '\u{1e}'),
        ("<EOT>", '\u{4}'),
        ("<FNC1>", '\u{1d}'),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'outer: while !rest.is_empty() {
        for (name, byte) in NAMED {
            if let Some(after) = rest.strip_prefix(name) {
                out.push(*byte);
                rest = after;
                continue 'outer;
            }
        }
        if let Some(after) = rest.strip_prefix("\\x")
            && let Some(hex) = after.get(..2)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(char::from(byte));
            rest = &after[2..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("\\\\") {
            out.push('\\');
            rest = after;
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// Control bytes shown by name, so a decoded label can be read back.
pub fn show_controls(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{1d}' => "<GS>".to_owned(),
            '\u{1e}' => "<RS>".to_owned(),
            '\u{4}' => "<EOT>".to_owned(),
            c if c.is_control() => format!("\\x{:02x}", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
}

/// What a text is, as the station would see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decoded {
    Gs1(Gs1Message),
    Iso15434 {
        envelope: Envelope,
    },
    Badge {
        code: String,
    },
    WorkOrder {
        code: String,
    },
    Command {
        code: String,
    },
    /// Another plain plant code: a defect, a downtime reason, a lot or material number.
    Code {
        what: String,
        code: String,
    },
    Refused {
        reason: String,
    },
}

pub fn decode(text: &str, today: NaiveDate) -> Decoded {
    if iso15434::looks_like_envelope(text) {
        return match iso15434::parse(text, today) {
            Ok(envelope) => Decoded::Iso15434 { envelope },
            Err(reason) => Decoded::Refused { reason },
        };
    }
    if gs1::looks_like_digital_link(text) {
        return match gs1::parse_digital_link(text, today) {
            Ok(message) => Decoded::Gs1(message),
            Err(error) => Decoded::Refused {
                reason: error.to_string(),
            },
        };
    }
    if gs1::looks_like_gs1(text) {
        return match gs1::parse(text, today) {
            Ok(message) => Decoded::Gs1(message),
            Err(error) => Decoded::Refused {
                reason: error.to_string(),
            },
        };
    }
    // Without a station's master data, plain codes are matched by the plant's patterns only.
    let state = State::new(StationId::from("-"), MasterData::default());
    match classify(text, &state, &Patterns::default(), today) {
        Ok(Scan::Badge(badge)) => Decoded::Badge {
            code: badge.to_string(),
        },
        Ok(Scan::WorkOrder(id)) => Decoded::WorkOrder {
            code: id.to_string(),
        },
        Ok(Scan::Command(command)) => Decoded::Command {
            code: command.code().to_owned(),
        },
        Ok(Scan::Defect(code)) => Decoded::Code {
            what: "defect code".into(),
            code,
        },
        Ok(Scan::DowntimeReason(code)) => Decoded::Code {
            what: "downtime reason".into(),
            code,
        },
        Ok(Scan::Lot(label)) => Decoded::Code {
            what: "lot".into(),
            code: label.lot.to_string(),
        },
        Ok(Scan::Serial { serial, .. }) => Decoded::Code {
            what: "serial".into(),
            code: serial.to_string(),
        },
        Ok(Scan::Quantity(quantity)) => Decoded::Code {
            what: "keyed quantity".into(),
            code: quantity.to_string(),
        },
        Ok(Scan::Material(material)) => Decoded::Code {
            what: "material".into(),
            code: material.to_string(),
        },
        Err(error) => Decoded::Refused {
            reason: error.to_string(),
        },
    }
}

fn write_elements(f: &mut std::fmt::Formatter<'_>, message: &Gs1Message) -> std::fmt::Result {
    for element in &message.elements {
        let ai = format!("({})", element.ai);
        writeln!(f, "  {ai:<6} {:<18} {}", element.title, element.value)?;
    }
    Ok(())
}

impl std::fmt::Display for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decoded::Gs1(message) => {
                writeln!(
                    f,
                    "GS1 data{}",
                    message
                        .symbology
                        .as_ref()
                        .map(|id| format!(" (symbology {id})"))
                        .unwrap_or_default()
                )?;
                write_elements(f, message)?;
                Ok(())
            }
            Decoded::Iso15434 { envelope } => {
                writeln!(f, "ISO 15434 envelope")?;
                match envelope {
                    Envelope::DataIdentifiers { fields } => {
                        for field in fields {
                            let id = format!("({})", field.identifier);
                            writeln!(f, "  {id:<6} {:<24} {}", field.title, field.value)?;
                        }
                    }
                    Envelope::Gs1 { message } => {
                        write_elements(f, message)?;
                    }
                }
                Ok(())
            }
            Decoded::Badge { code } => writeln!(f, "badge {code}"),
            Decoded::WorkOrder { code } => writeln!(f, "work order {code}"),
            Decoded::Command { code } => writeln!(f, "command barcode {code}"),
            Decoded::Code { what, code } => writeln!(f, "{what} {code}"),
            Decoded::Refused { reason } => writeln!(f, "refused: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_control_bytes_and_back() {
        let text = unescape(r"]C10100401234500012").to_owned()
            + &unescape(r"10C24-1107\x1d30400<GS>91X\\");
        assert_eq!(text, "]C1010040123450001210C24-1107\u{1d}30400\u{1d}91X\\");
        assert_eq!(
            show_controls(&text),
            "]C1010040123450001210C24-1107<GS>30400<GS>91X\\"
        );
        assert_eq!(unescape(r"\xZZ<GS"), r"\xZZ<GS");
    }

    #[test]
    fn decodes_labels_and_plant_codes() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
        let label = unescape(r"]C10100401234500012") + &unescape(r"10C24-1107<GS>30400");
        let Decoded::Gs1(message) = decode(&label, today) else {
            panic!("not GS1");
        };
        assert_eq!(message.elements.len(), 3);
        assert_eq!(
            decode("EMP-1001", today),
            Decoded::Badge {
                code: "EMP-1001".into()
            }
        );
        assert_eq!(
            decode("wo-24001", today),
            Decoded::WorkOrder {
                code: "WO-24001".into()
            }
        );
        assert!(matches!(decode("17261301", today), Decoded::Refused { .. }));
        assert!(
            matches!(decode("(17)261301", today), Decoded::Refused { reason } if reason.contains("invalid month 13"))
        );
    }
}
