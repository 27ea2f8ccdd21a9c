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

/// Control bytes shown by name, so a decoded label can be read back. One wording with the audit
/// report, which shows refused scans the same way.
pub use crate::domain::narrative::show_controls;

/// What a text is, as the station would see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decoded {
    Gs1 {
        #[serde(flatten)]
        message: Gs1Message,
        /// What a station makes of it, e.g. "lot C24-1107, GTIN 00401234500012, qty 400".
        means: String,
    },
    Iso15434 {
        envelope: Envelope,
        means: String,
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

/// A plain symbology's identifier (`]Q1`, `]d1`, …) in front of data that says what it is.
fn without_plain_symbology(text: &str) -> &str {
    match text.get(..3).zip(text.get(3..)) {
        Some((id, rest))
            if id.starts_with(']')
                && (iso15434::looks_like_envelope(rest) || gs1::looks_like_digital_link(rest)) =>
        {
            rest
        }
        _ => text,
    }
}

pub fn decode(text: &str, today: NaiveDate) -> Decoded {
    // Without a station's master data, plain codes are matched by the plant's patterns only.
    let state = State::new(StationId::from("-"), MasterData::default());
    let classified = classify(text, &state, &Patterns::default(), today);
    let means = || match &classified {
        Ok(scan) => meaning(scan),
        Err(error) => format!("not usable alone at a station: {error}"),
    };
    let body = without_plain_symbology(text);
    if iso15434::looks_like_envelope(body) {
        return match iso15434::parse(body, today) {
            Ok(envelope) => Decoded::Iso15434 {
                envelope,
                means: means(),
            },
            Err(reason) => Decoded::Refused { reason },
        };
    }
    let message = if gs1::looks_like_digital_link(body) {
        Some(gs1::parse_digital_link(body, today))
    } else if gs1::looks_like_gs1(body) {
        Some(gs1::parse(body, today))
    } else {
        None
    };
    if let Some(message) = message {
        return match message {
            Ok(message) => Decoded::Gs1 {
                message,
                means: means(),
            },
            Err(error) => Decoded::Refused {
                reason: error.to_string(),
            },
        };
    }
    match classified {
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
        Ok(Scan::CorrectionReason(code)) => Decoded::Code {
            what: "correction reason".into(),
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

/// A classified scan in one line of words.
pub fn meaning(scan: &Scan) -> String {
    match scan {
        Scan::Lot(label) => {
            let mut parts = vec![format!("lot {}", label.lot)];
            if let Some(material) = &label.material {
                parts.push(format!("material {material}"));
            }
            if let Some(gtin) = &label.gtin {
                parts.push(format!("GTIN {gtin}"));
            }
            if let Some(quantity) = &label.quantity {
                parts.push(format!("qty {quantity}"));
            }
            if let Some(expiry) = &label.expiry {
                parts.push(format!("expiry {expiry}"));
            }
            if let Some(produced) = &label.produced {
                parts.push(format!("produced {produced}"));
            }
            parts.join(", ")
        }
        Scan::Serial { serial, gtin } => match gtin {
            Some(gtin) => format!("serial {serial}, GTIN {gtin}"),
            None => format!("serial {serial}"),
        },
        Scan::Material(material) => format!("material {material}"),
        Scan::Badge(badge) => format!("badge {badge}"),
        Scan::WorkOrder(id) => format!("work order {id}"),
        Scan::Command(command) => format!("command barcode {}", command.code()),
        Scan::Defect(code) => format!("defect code {code}"),
        Scan::DowntimeReason(code) => format!("downtime reason {code}"),
        Scan::CorrectionReason(code) => format!("correction reason {code}"),
        Scan::Quantity(quantity) => format!("keyed quantity {quantity}"),
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
            Decoded::Gs1 { message, means } => {
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
                writeln!(f, "  means: {means}")
            }
            Decoded::Iso15434 { envelope, means } => {
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
                writeln!(f, "  means: {means}")
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
        let Decoded::Gs1 { message, means } = decode(&label, today) else {
            panic!("not GS1");
        };
        assert_eq!(message.elements.len(), 3);
        assert_eq!(means, "lot C24-1107, GTIN 00401234500012, qty 400");
        let Decoded::Gs1 { means, .. } = decode(
            &unescape(r"]C1240BC-200-M<GS>10L1-S1-261125-000001<GS>3020<GS>11261125"),
            today,
        ) else {
            panic!("not GS1");
        };
        assert_eq!(
            means,
            "lot L1-S1-261125-000001, material BC-200-M, qty 20, produced 2026-11-25"
        );
        // Digital Links and envelopes behind a plain symbology identifier are decoded too.
        let Decoded::Gs1 { message, means } =
            decode("]Q1https://id.gs1.org/01/00401234501019/21/SN-1", today)
        else {
            panic!("a Digital Link");
        };
        assert_eq!(message.elements.len(), 2);
        assert_eq!(means, "serial SN-1, GTIN 00401234501019");
        let Decoded::Iso15434 { means, .. } = decode(
            &unescape(r"]d1[)><RS>06<GS>PCAST-200<GS>Q5<RS><EOT>"),
            today,
        ) else {
            panic!("an envelope");
        };
        assert!(
            means.starts_with("not usable alone at a station:"),
            "{means}"
        );
        let json = serde_json::to_value(decode(&label, today)).unwrap_or_default();
        assert_eq!(json["kind"], "gs1");
        assert_eq!(json["elements"][1]["raw"], "C24-1107");
        assert_eq!(json["means"], "lot C24-1107, GTIN 00401234500012, qty 400");
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
