//! ISO/IEC 15434 envelopes as automotive and electronics labels carry them:
//! `[)>` RS `06` GS *DI+data* GS … RS EOT, with ANSI MH10.8.2 data identifiers (format 06), or GS1
//! element strings inside (format 05). Unknown identifiers are kept and marked, never guessed.

use super::gs1::{self, Gs1Message};
use chrono::NaiveDate;
use serde::Serialize;
use std::fmt;

const RS: char = '\u{1e}';
const GS: char = '\u{1d}';
const EOT: char = '\u{4}';
const HEADER: &str = "[)>\u{1e}";

/// The MH10.8.2 data identifiers common on supplier labels.
const IDENTIFIERS: &[(&str, &str, Check)] = &[
    ("P", "CUSTOMER PART No.", Check::Text),
    ("1P", "SUPPLIER PART No.", Check::Text),
    ("Q", "QUANTITY", Check::Quantity),
    ("7Q", "QUANTITY WITH UNIT", Check::Text),
    ("14Q", "QUANTITY PER TRACE CODE", Check::Quantity),
    ("1T", "LOT/TRACE CODE", Check::Text),
    ("S", "SERIAL", Check::Text),
    ("3S", "PACKAGE ID", Check::Text),
    ("K", "ORDER No.", Check::Text),
    ("4L", "COUNTRY OF ORIGIN", Check::Country),
    ("9D", "DATE (YYWW)", Check::YearWeek),
    ("10D", "PRODUCTION DATE (YYWW)", Check::YearWeek),
    ("D", "DATE (YYMMDD)", Check::Date),
    ("V", "SUPPLIER CODE", Check::Text),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Text,
    Quantity,
    Country,
    YearWeek,
    Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub identifier: String,
    pub title: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Envelope {
    /// Format 06: MH10.8.2 data identifiers.
    DataIdentifiers { fields: Vec<Field> },
    /// Format 05: GS1 application identifiers.
    Gs1 { message: Gs1Message },
}

impl fmt::Display for Envelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Envelope::DataIdentifiers { fields } => {
                let parts: Vec<String> = fields
                    .iter()
                    .map(|field| format!("({}) {} {}", field.identifier, field.title, field.value))
                    .collect();
                f.write_str(&parts.join(" "))
            }
            Envelope::Gs1 { message } => write!(f, "{message}"),
        }
    }
}

/// Does the text open an ISO 15434 envelope?
pub fn looks_like_envelope(text: &str) -> bool {
    text.starts_with("[)>")
}

/// Parses one envelope; the trailer (RS EOT) may be missing when a wedge drops the EOT.
pub fn parse(text: &str, today: NaiveDate) -> Result<Envelope, String> {
    let body = text
        .strip_prefix(HEADER)
        .ok_or("an ISO 15434 envelope starts with [)> and RS")?;
    let body = body.strip_suffix(EOT).unwrap_or(body);
    let body = body.strip_suffix(RS).unwrap_or(body);
    let (format, rest) = body
        .split_at_checked(2)
        .ok_or("the format number is missing")?;
    let rest = rest
        .strip_prefix(GS)
        .ok_or_else(|| format!("format {format}: expected GS after the format number"))?;
    if rest.contains(RS) {
        return Err("several formats in one envelope are not supported here".into());
    }
    match format {
        "06" => parse_data_identifiers(rest).map(|fields| Envelope::DataIdentifiers { fields }),
        "05" => gs1::parse(rest, today)
            .map(|message| Envelope::Gs1 { message })
            .map_err(|e| e.to_string()),
        other => Err(format!(
            "format {other} is not a label format this station reads (05 or 06)"
        )),
    }
}

fn parse_data_identifiers(rest: &str) -> Result<Vec<Field>, String> {
    let mut fields: Vec<Field> = Vec::new();
    for (index, raw) in rest.split(GS).enumerate() {
        let decoded = || {
            fields
                .iter()
                .map(|f| format!("({}) {}", f.identifier, f.value))
                .collect::<Vec<_>>()
                .join(" ")
        };
        // A data identifier: up to three digits, then one upper-case letter.
        let digits = raw.bytes().take_while(u8::is_ascii_digit).count();
        let letter = raw.as_bytes().get(digits).copied();
        let identifier = match letter {
            Some(l) if l.is_ascii_uppercase() && digits <= 3 => &raw[..=digits],
            _ => {
                return Err(format!(
                    "{} field {}: {raw:?} does not start with a data identifier",
                    decoded(),
                    index + 1
                )
                .trim_start()
                .to_owned());
            }
        };
        let value = &raw[identifier.len()..];
        let (title, check) = IDENTIFIERS
            .iter()
            .find(|(id, ..)| *id == identifier)
            .map(|(_, title, check)| ((*title).to_owned(), *check))
            .unwrap_or_else(|| ("(identifier not in table)".to_owned(), Check::Text));
        validate(check, value).map_err(|problem| {
            format!("{} ({identifier}) {title} {value}: {problem}", decoded())
                .trim_start()
                .to_owned()
        })?;
        fields.push(Field {
            identifier: identifier.to_owned(),
            title,
            value: value.to_owned(),
        });
    }
    Ok(fields)
}

fn validate(check: Check, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("empty".into());
    }
    if let Some(bad) = value.chars().find(|c| c.is_control()) {
        return Err(format!("control character {bad:?} inside a field"));
    }
    let digits = |n: usize| value.len() == n && value.bytes().all(|b| b.is_ascii_digit());
    match check {
        Check::Text => Ok(()),
        Check::Quantity => {
            let numeric = value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && value.bytes().filter(|b| *b == b'.').count() <= 1
                && value.bytes().any(|b| b.is_ascii_digit());
            if numeric {
                Ok(())
            } else {
                Err("not a quantity".into())
            }
        }
        Check::Country => {
            if value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(())
            } else {
                Err("expected a two-letter country code".into())
            }
        }
        Check::YearWeek => {
            if !digits(4) {
                return Err("expected YYWW".into());
            }
            let week: u32 = value[2..].parse().map_err(|_| "invalid week")?;
            if (1..=53).contains(&week) {
                Ok(())
            } else {
                Err(format!("invalid week {week:02}"))
            }
        }
        Check::Date => {
            if !digits(6) {
                return Err("expected YYMMDD".into());
            }
            let month: u32 = value[2..4].parse().map_err(|_| "invalid month")?;
            let day: u32 = value[4..].parse().map_err(|_| "invalid day")?;
            let year = 2000 + value[..2].parse::<i32>().map_err(|_| "invalid year")?;
            NaiveDate::from_ymd_opt(year, month, day)
                .map(|_| ())
                .ok_or_else(|| format!("invalid date {value}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default()
    }

    #[test]
    fn an_electronics_reel_label() {
        let text = "[)>\u{1e}06\u{1d}P595-LM358N\u{1d}1P296-1395-1-ND\u{1d}Q2500\u{1d}1TLOT4711\u{1d}4LMY\u{1d}10D2447\u{1e}\u{4}";
        let envelope = parse(text, today()).expect("valid");
        assert_eq!(
            envelope.to_string(),
            "(P) CUSTOMER PART No. 595-LM358N (1P) SUPPLIER PART No. 296-1395-1-ND (Q) QUANTITY 2500 \
             (1T) LOT/TRACE CODE LOT4711 (4L) COUNTRY OF ORIGIN MY (10D) PRODUCTION DATE (YYWW) 2447"
        );
        // A wedge that drops the EOT still reads.
        assert!(parse("[)>\u{1e}06\u{1d}Q5\u{1e}", today()).is_ok());
    }

    #[test]
    fn gs1_inside_an_envelope() {
        let text = "[)>\u{1e}05\u{1d}0100401234500012\u{1d}10C24-1107\u{1e}\u{4}";
        let Ok(Envelope::Gs1 { message }) = parse(text, today()) else {
            panic!("format 05");
        };
        assert_eq!(message.get("10").map(|e| e.raw.as_str()), Some("C24-1107"));
    }

    #[test]
    fn broken_envelopes_say_why() {
        let err = |text: &str| parse(text, today()).expect_err(text);
        assert!(err("[)>06\u{1d}Q1").contains("starts with [)> and RS"));
        assert!(err("[)>\u{1e}07\u{1d}hello").contains("format 07"));
        assert_eq!(
            err("[)>\u{1e}06\u{1d}1TLOT1\u{1d}QTEN"),
            "(1T) LOT1 (Q) QUANTITY TEN: not a quantity"
        );
        assert!(err("[)>\u{1e}06\u{1d}10D2460").contains("invalid week 60"));
        assert!(err("[)>\u{1e}06\u{1d}4Lmalaysia").contains("two-letter country"));
        assert!(err("[)>\u{1e}06\u{1d}lot").contains("does not start with a data identifier"));
        assert!(err("[)>\u{1e}06\u{1d}Q1\u{1e}06\u{1d}Q2").contains("several formats"));
    }

    #[test]
    fn unknown_identifiers_are_kept_and_marked() {
        let Ok(Envelope::DataIdentifiers { fields }) = parse("[)>\u{1e}06\u{1d}20ZABC", today())
        else {
            panic!("valid");
        };
        assert_eq!(fields[0].identifier, "20Z");
        assert_eq!(fields[0].title, "(identifier not in table)");
    }

    #[test]
    fn arbitrary_input_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x15434);
        let alphabet: Vec<char> = "[)>06521PQTS4LD\u{1d}\u{1e}\u{4}aé9".chars().collect();
        for _ in 0..20_000 {
            let len = rng.random_range(0..30);
            let body: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let _ = parse(&format!("[)>\u{1e}{body}"), today());
            let _ = parse(&body, today());
        }
    }
}
