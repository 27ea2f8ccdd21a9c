//! GS1 element strings as scanners send them: an optional AIM symbology identifier (`]C1`, `]d2`,
//! `]Q3`, `]e0`), then application identifiers (AIs) with their values, variable-length values ended
//! by GS (0x1D). Also the bracketed human-readable form `(01)…(10)…` that label designers write.
//!
//! The parser validates what GS1 requires for the AIs a plant uses in manufacturing: lengths, the
//! character set, check digits, dates (day 00 = last day of the month), implied decimals. A label that
//! breaks a rule is refused with the reason and what was decoded up to it — never guessed.
//! Pure: "today" (for the century of two-digit years) is passed in.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use serde::Serialize;
use std::fmt;

/// The group separator that ends a variable-length value (FNC1 in the symbol).
pub const GS: char = '\u{1d}';

/// How a value is written and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Digits, with a GS1 mod-10 check digit last (GTIN, SSCC).
    CheckedDigits(usize),
    /// YYMMDD; `zero_day` allows DD = 00 (last day of the month).
    Date { zero_day: bool },
    /// YYMMDDHHMM.
    DateTime,
    /// Digits, `min..=max` of them.
    Digits(usize, usize),
    /// Six digits with the number of decimals in the AI's last digit (310n–316n).
    Measure,
    /// GS1 character set 82, `min..=max` characters.
    Text(usize, usize),
}

struct AiSpec {
    ai: &'static str,
    title: &'static str,
    format: Format,
}

/// The AIs a plant meets on supplier, work-in-process and shipping labels.
const AIS: &[AiSpec] = &[
    AiSpec {
        ai: "00",
        title: "SSCC",
        format: Format::CheckedDigits(18),
    },
    AiSpec {
        ai: "01",
        title: "GTIN",
        format: Format::CheckedDigits(14),
    },
    AiSpec {
        ai: "02",
        title: "CONTENT",
        format: Format::CheckedDigits(14),
    },
    AiSpec {
        ai: "10",
        title: "BATCH/LOT",
        format: Format::Text(1, 20),
    },
    AiSpec {
        ai: "11",
        title: "PROD DATE",
        format: Format::Date { zero_day: true },
    },
    AiSpec {
        ai: "13",
        title: "PACK DATE",
        format: Format::Date { zero_day: true },
    },
    AiSpec {
        ai: "15",
        title: "BEST BEFORE",
        format: Format::Date { zero_day: true },
    },
    AiSpec {
        ai: "17",
        title: "USE BY",
        format: Format::Date { zero_day: true },
    },
    AiSpec {
        ai: "21",
        title: "SERIAL",
        format: Format::Text(1, 20),
    },
    AiSpec {
        ai: "30",
        title: "VAR. COUNT",
        format: Format::Digits(1, 8),
    },
    AiSpec {
        ai: "37",
        title: "COUNT",
        format: Format::Digits(1, 8),
    },
    AiSpec {
        ai: "240",
        title: "ADDITIONAL ID",
        format: Format::Text(1, 30),
    },
    AiSpec {
        ai: "241",
        title: "CUST. PART No.",
        format: Format::Text(1, 30),
    },
    AiSpec {
        ai: "250",
        title: "SECONDARY SERIAL",
        format: Format::Text(1, 30),
    },
    AiSpec {
        ai: "251",
        title: "REF. TO SOURCE",
        format: Format::Text(1, 30),
    },
    AiSpec {
        ai: "422",
        title: "ORIGIN",
        format: Format::Digits(3, 3),
    },
    AiSpec {
        ai: "7003",
        title: "EXPIRY TIME",
        format: Format::DateTime,
    },
    AiSpec {
        ai: "8005",
        title: "PRICE PER UNIT",
        format: Format::Digits(6, 6),
    },
    AiSpec {
        ai: "90",
        title: "INTERNAL",
        format: Format::Text(1, 30),
    },
    AiSpec {
        ai: "91",
        title: "INTERNAL",
        format: Format::Text(1, 90),
    },
    AiSpec {
        ai: "92",
        title: "INTERNAL",
        format: Format::Text(1, 90),
    },
    AiSpec {
        ai: "93",
        title: "INTERNAL",
        format: Format::Text(1, 90),
    },
    AiSpec {
        ai: "94",
        title: "INTERNAL",
        format: Format::Text(1, 90),
    },
    AiSpec {
        ai: "95",
        title: "INTERNAL",
        format: Format::Text(1, 90),
    },
    AiSpec {
        ai: "96",
        title: "INTERNAL",
        format: Format::Text(1, 90),
    },
    AiSpec {
        ai: "97",
        title: "INTERNAL",
        format: Format::Text(1, 90),
    },
    AiSpec {
        ai: "98",
        title: "INTERNAL",
        format: Format::Text(1, 90),
    },
    AiSpec {
        ai: "99",
        title: "INTERNAL",
        format: Format::Text(1, 90),
    },
];

/// Units of the measure AIs 310n–316n.
const MEASURES: &[(&str, &str)] = &[
    ("310", "NET WEIGHT (kg)"),
    ("311", "LENGTH (m)"),
    ("312", "WIDTH (m)"),
    ("313", "HEIGHT (m)"),
    ("314", "AREA (m2)"),
    ("315", "NET VOLUME (l)"),
    ("316", "NET VOLUME (m3)"),
];

/// The AIM symbology identifiers that announce GS1 data.
const GS1_SYMBOLOGIES: &[&str] = &["]C1", "]d2", "]Q3", "]e0", "]J1"];

/// A decoded value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Gs1Value {
    Text(String),
    /// Digits with a valid check digit (GTIN, SSCC).
    Key(String),
    Number(u64),
    Date(NaiveDate),
    DateTime(NaiveDateTime),
    /// A decimal with its unit, e.g. "0.189" kg; kept as text so nothing is lost to floating point.
    Measure {
        amount: String,
        unit: String,
    },
}

impl fmt::Display for Gs1Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gs1Value::Text(text) | Gs1Value::Key(text) => f.write_str(text),
            Gs1Value::Number(n) => write!(f, "{n}"),
            Gs1Value::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            Gs1Value::DateTime(at) => write!(f, "{}", at.format("%Y-%m-%d %H:%M")),
            Gs1Value::Measure { amount, unit } => write!(f, "{amount} {unit}"),
        }
    }
}

/// One AI and its value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Element {
    pub ai: String,
    pub title: String,
    /// The value as it stood on the label.
    pub raw: String,
    pub value: Gs1Value,
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}) {} {}", self.ai, self.title, self.value)
    }
}

/// A whole GS1 message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gs1Message {
    /// The AIM symbology identifier it came with, if any.
    pub symbology: Option<String>,
    pub elements: Vec<Element>,
}

impl Gs1Message {
    /// The value of `ai`, if the message carries it.
    pub fn get(&self, ai: &str) -> Option<&Element> {
        self.elements.iter().find(|element| element.ai == ai)
    }
}

impl fmt::Display for Gs1Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.elements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(" "))
    }
}

/// Why a label was refused: what was decoded before the problem, and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1Error {
    /// The elements decoded before the problem, in label order, e.g. "(10) BATCH/LOT ABC".
    pub decoded: String,
    pub problem: String,
}

impl fmt::Display for Gs1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.decoded.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{} {}", self.decoded, self.problem)
        }
    }
}

impl std::error::Error for Gs1Error {}

/// Is this text a GS1 Digital Link URI (a web address carrying a GTIN or SSCC)?
pub fn looks_like_digital_link(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && ["/01/", "/00/", "/gtin/", "/sscc/"]
            .iter()
            .any(|key| text.contains(key))
}

/// Parses a GS1 Digital Link URI: `https://domain[/prefix]/01/GTIN[/22/CPV][/10/LOT][/21/SERIAL]
/// [?17=YYMMDD&…]`. The path's keys and the query's numeric AIs become one element string, checked
/// like any other.
pub fn parse_digital_link(uri: &str, today: NaiveDate) -> Result<Gs1Message, Gs1Error> {
    let fail = |problem: String| Gs1Error {
        decoded: String::new(),
        problem,
    };
    let without_scheme = uri
        .split_once("://")
        .map(|(_, rest)| rest)
        .ok_or_else(|| fail("not a web address".into()))?;
    let without_fragment = without_scheme.split('#').next().unwrap_or_default();
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let long_name = |segment: &str| -> Option<&'static str> {
        Some(match segment {
            "gtin" => "01",
            "sscc" => "00",
            "cpv" => "22",
            "lot" => "10",
            "ser" => "21",
            _ => return None,
        })
    };
    let start = segments
        .iter()
        .position(|segment| matches!(*segment, "01" | "00" | "gtin" | "sscc"))
        .ok_or_else(|| fail("no GTIN (01) or SSCC (00) in the path".into()))?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut path_rest = segments[start..].iter();
    while let Some(key) = path_rest.next() {
        let ai = long_name(key)
            .map(str::to_owned)
            .unwrap_or_else(|| (*key).to_owned());
        let value = path_rest
            .next()
            .ok_or_else(|| fail(format!("/{key}/ has no value")))?;
        pairs.push((ai, percent_decode(value).map_err(fail)?));
    }
    for parameter in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        // Non-numeric query keys are for the resolver (e.g. linkType), not data.
        let ai = long_name(key)
            .map(str::to_owned)
            .unwrap_or_else(|| key.to_owned());
        if ai.bytes().all(|b| b.is_ascii_digit()) && !ai.is_empty() {
            pairs.push((ai, percent_decode(value).map_err(fail)?));
        }
    }
    let mut element_string = String::new();
    for (ai, value) in &pairs {
        if value.contains(GS) {
            return Err(fail(format!("({ai}) contains a control character")));
        }
        // A segment is one value: a fixed-length one that is longer would spill into a made-up
        // next element (`/01/<GTIN>10123` is not a GTIN and a lot).
        if let Some(length) = predefined_length(ai)
            && value.chars().count() != length
        {
            return Err(fail(format!(
                "/{ai}/{value}: ({ai}) takes exactly {length} characters"
            )));
        }
        element_string.push_str(ai);
        element_string.push_str(value);
        if predefined_length(ai).is_none() {
            element_string.push(GS);
        }
    }
    let mut message = parse(element_string.trim_end_matches(GS), today)?;
    message.symbology = None;
    Ok(message)
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8 once decoded"))
}

/// Is this text meant as GS1 data? (An AIM GS1 identifier, a GS, or the bracketed form.)
pub fn looks_like_gs1(text: &str) -> bool {
    GS1_SYMBOLOGIES.iter().any(|id| text.starts_with(id))
        || text.contains(GS)
        || text.starts_with('(')
}

/// Writes AIs and their values as an element string, the way a label printer encodes them: no AIM
/// identifier (the symbol's leading FNC1 is the printer's business), a GS after every value whose
/// AI is not of pre-defined length unless it is the last. Each value is checked against its AI's rules
/// and the result is read back with [`parse`]: what cannot be scanned back exactly is never printed.
/// `today` dates two-digit years, as when scanning.
pub fn encode(elements: &[(&str, &str)], today: NaiveDate) -> Result<String, Gs1Error> {
    let mut done: Vec<Element> = Vec::new();
    let mut text = String::new();
    for (index, (ai, value)) in elements.iter().enumerate() {
        let fail = |done: &[Element], problem: String| Gs1Error {
            decoded: describe(done),
            problem,
        };
        let Some((known, title, format)) = find_ai(ai).filter(|(known, ..)| known == ai) else {
            return Err(fail(
                &done,
                format!("unknown application identifier ({ai})"),
            ));
        };
        if value.contains(GS) {
            return Err(fail(
                &done,
                format!("({ai}) {title}: a value cannot contain a GS"),
            ));
        }
        let decoded = check(&known, format, value, today)
            .map_err(|problem| fail(&done, format!("({ai}) {title} {value}: {problem}")))?;
        text.push_str(ai);
        text.push_str(value);
        if predefined_length(ai).is_none() && index + 1 < elements.len() {
            text.push(GS);
        }
        done.push(Element {
            ai: known,
            title,
            raw: (*value).to_owned(),
            value: decoded,
        });
    }
    if done.is_empty() {
        return Err(Gs1Error {
            decoded: String::new(),
            problem: "nothing to encode".into(),
        });
    }
    let back = parse(&text, today)?;
    let same = back.elements.len() == elements.len()
        && back
            .elements
            .iter()
            .zip(elements)
            .all(|(element, (ai, value))| element.ai == *ai && element.raw == *value);
    if !same {
        return Err(Gs1Error {
            decoded: describe(&done),
            problem: format!("reads back as {back}"),
        });
    }
    Ok(text)
}

/// The bracketed human-readable form `(01)…(10)…` printed under a barcode.
pub fn bracketed(elements: &[(&str, &str)]) -> String {
    elements
        .iter()
        .map(|(ai, value)| format!("({ai}){value}"))
        .collect()
}

/// Parses a GS1 element string (with or without AIM identifier) or its bracketed form.
pub fn parse(text: &str, today: NaiveDate) -> Result<Gs1Message, Gs1Error> {
    let (symbology, body) = match text.get(..3) {
        Some(id) if id.starts_with(']') => {
            if !GS1_SYMBOLOGIES.contains(&id) {
                return Err(Gs1Error {
                    decoded: String::new(),
                    problem: format!("symbology {id} does not carry GS1 data"),
                });
            }
            (Some(id.to_owned()), &text[3..])
        }
        _ => (None, text),
    };
    let elements = if body.starts_with('(') {
        parse_bracketed(body, today)?
    } else {
        parse_element_string(body, today)?
    };
    if elements.is_empty() {
        return Err(Gs1Error {
            decoded: String::new(),
            problem: "no GS1 data after the symbology identifier".into(),
        });
    }
    Ok(Gs1Message {
        symbology,
        elements,
    })
}

fn describe(elements: &[Element]) -> String {
    elements
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pre-defined-length rule: AIs starting with these two digits never need a GS after them.
fn predefined_length(ai: &str) -> Option<usize> {
    let total = match ai.get(..2)? {
        "00" => 20,
        "01" | "02" | "03" => 16,
        "04" => 18,
        "11" | "12" | "13" | "14" | "15" | "16" | "17" | "18" | "19" => 8,
        "20" => 4,
        "31" | "32" | "33" | "34" | "35" | "36" => 10,
        "41" => 16,
        _ => return None,
    };
    usize::checked_sub(total, ai.len())
}

/// The AI at the start of `text`: AIs are prefix-free, so the first that matches is the one.
fn find_ai(text: &str) -> Option<(String, String, Format)> {
    for len in 2..=4 {
        let candidate = text.get(..len)?;
        if !candidate.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if let Some(spec) = AIS.iter().find(|spec| spec.ai == candidate) {
            return Some((spec.ai.to_owned(), spec.title.to_owned(), spec.format));
        }
        if len == 4
            && let Some((_, unit)) = MEASURES
                .iter()
                .find(|(prefix, _)| candidate.starts_with(prefix))
            && candidate.as_bytes()[3] <= b'5'
        {
            return Some((candidate.to_owned(), (*unit).to_owned(), Format::Measure));
        }
    }
    None
}

fn parse_element_string(body: &str, today: NaiveDate) -> Result<Vec<Element>, Gs1Error> {
    let mut elements: Vec<Element> = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        // A GS after a pre-defined-length value is superfluous but harmless.
        if let Some(after) = rest.strip_prefix(GS) {
            rest = after;
            continue;
        }
        let Some((ai, title, format)) = find_ai(rest) else {
            let shown: String = rest.chars().take(4).collect();
            return Err(Gs1Error {
                decoded: describe(&elements),
                problem: format!("unknown application identifier at \"{shown}\""),
            });
        };
        rest = &rest[ai.len()..];
        let raw = match predefined_length(&ai) {
            Some(len) => {
                let Some(value) = rest.get(..len).filter(|v| !v.contains(GS)) else {
                    return Err(Gs1Error {
                        decoded: describe(&elements),
                        problem: format!(
                            "({ai}) {title}: needs {len} characters, the label ends before"
                        ),
                    });
                };
                rest = &rest[len..];
                value
            }
            None => {
                let end = rest.find(GS).unwrap_or(rest.len());
                let value = &rest[..end];
                rest = &rest[end..];
                value
            }
        };
        push_checked(&mut elements, ai, title, format, raw, today)?;
    }
    Ok(elements)
}

fn parse_bracketed(body: &str, today: NaiveDate) -> Result<Vec<Element>, Gs1Error> {
    let mut elements: Vec<Element> = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let fail = |elements: &[Element], problem: String| Gs1Error {
            decoded: describe(elements),
            problem,
        };
        let Some(after_open) = rest.strip_prefix('(') else {
            return Err(fail(
                &elements,
                "expected \"(\" before an application identifier".into(),
            ));
        };
        let Some(close) = after_open.find(')') else {
            return Err(fail(
                &elements,
                "an application identifier is not closed with \")\"".into(),
            ));
        };
        let ai_text = &after_open[..close];
        let Some((ai, title, format)) = find_ai(ai_text).filter(|(ai, ..)| ai == ai_text) else {
            return Err(fail(
                &elements,
                format!("unknown application identifier ({ai_text})"),
            ));
        };
        let value_start = &after_open[close + 1..];
        let end = value_start.find('(').unwrap_or(value_start.len());
        let raw = &value_start[..end];
        rest = &value_start[end..];
        push_checked(&mut elements, ai, title, format, raw, today)?;
    }
    Ok(elements)
}

/// Checks one value and adds it, or says what was decoded before it and what is wrong with it.
fn push_checked(
    elements: &mut Vec<Element>,
    ai: String,
    title: String,
    format: Format,
    raw: &str,
    today: NaiveDate,
) -> Result<(), Gs1Error> {
    let fail = |problem: String| Gs1Error {
        decoded: describe(elements),
        problem,
    };
    let value = check(&ai, format, raw, today).map_err(|problem| {
        let hint = if missing_separator(&ai, format, raw) {
            " (is the GS after it missing?)"
        } else {
            ""
        };
        fail(format!("({ai}) {title} {raw}: {problem}{hint}"))
    })?;
    if let Some(earlier) = elements.iter().find(|e| e.ai == ai)
        && earlier.raw != raw
    {
        return Err(fail(format!(
            "({ai}) {title} appears twice with different values"
        )));
    }
    elements.push(Element {
        ai,
        title,
        raw: raw.to_owned(),
        value,
    });
    Ok(())
}

/// A refused variable-length value that would have been valid had it stopped earlier: the scanner
/// (or the label) most likely dropped the GS that ends it, so the next AI ran into it.
fn missing_separator(ai: &str, format: Format, raw: &str) -> bool {
    if predefined_length(ai).is_some() {
        return false;
    }
    match format {
        Format::Digits(min, max) => {
            let digits = raw.bytes().take_while(u8::is_ascii_digit).count();
            digits >= min && (raw.len() > max || digits < raw.len())
        }
        Format::Text(_, max) => raw.chars().count() > max,
        Format::DateTime => raw.len() > 10,
        _ => false,
    }
}

/// Validates one value against its format and decodes it.
fn check(ai: &str, format: Format, raw: &str, today: NaiveDate) -> Result<Gs1Value, String> {
    let digits = |min: usize, max: usize| -> Result<(), String> {
        if !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err("digits only".into());
        }
        let len = raw.len();
        if len < min || len > max {
            return Err(if min == max {
                format!("needs {min} digits, has {len}")
            } else {
                format!("needs {min} to {max} digits, has {len}")
            });
        }
        Ok(())
    };
    match format {
        Format::CheckedDigits(len) => {
            digits(len, len)?;
            let (data, check) = raw.split_at(len - 1);
            let expected = check_digit(data);
            if check != expected.to_string() {
                return Err(format!(
                    "check digit {check} is wrong (should be {expected})"
                ));
            }
            Ok(Gs1Value::Key(raw.to_owned()))
        }
        Format::Digits(min, max) => {
            digits(min, max)?;
            // At most 8 digits here: fits u64 (422 and 8005 are codes, kept as numbers too).
            raw.parse()
                .map(Gs1Value::Number)
                .map_err(|_| "not a number".to_string())
        }
        Format::Date { zero_day } => {
            digits(6, 6)?;
            date(raw, zero_day, today).map(Gs1Value::Date)
        }
        Format::DateTime => {
            digits(10, 10)?;
            let day = date(&raw[..6], false, today)?;
            let hour: u32 = raw[6..8].parse().map_err(|_| "invalid hour")?;
            let minute: u32 = raw[8..10].parse().map_err(|_| "invalid minute")?;
            let time = NaiveTime::from_hms_opt(hour, minute, 0)
                .ok_or_else(|| format!("invalid time {hour:02}:{minute:02}"))?;
            Ok(Gs1Value::DateTime(day.and_time(time)))
        }
        Format::Measure => {
            digits(6, 6)?;
            let decimals = usize::from(ai.as_bytes()[3] - b'0');
            let (whole, fraction) = raw.split_at(6 - decimals);
            let whole = whole.trim_start_matches('0');
            let whole = if whole.is_empty() { "0" } else { whole };
            let amount = if decimals == 0 {
                whole.to_owned()
            } else {
                format!("{whole}.{fraction}")
            };
            let unit = find_ai(ai)
                .map(|(_, title, _)| title)
                .and_then(|title| {
                    title
                        .split_once('(')
                        .map(|(_, unit)| unit.trim_end_matches(')').to_owned())
                })
                .unwrap_or_default();
            Ok(Gs1Value::Measure { amount, unit })
        }
        Format::Text(min, max) => {
            let len = raw.chars().count();
            if len < min || len > max {
                return Err(format!("needs {min} to {max} characters, has {len}"));
            }
            if let Some(bad) = raw.chars().find(|c| !is_cset82(*c)) {
                return Err(format!("character {bad:?} is not allowed in GS1 data"));
            }
            Ok(Gs1Value::Text(raw.to_owned()))
        }
    }
}

/// GS1 character set 82: the invariant ISO 646 subset.
fn is_cset82(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

/// GS1 mod-10 check digit over `data` (all digits): weights 3,1,3,… from the right.
pub fn check_digit(data: &str) -> u32 {
    let sum: u32 = data
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - sum % 10) % 10
}

/// YYMMDD, century within −49/+50 years of today (GS1 General Specifications 7.12).
fn date(raw: &str, zero_day: bool, today: NaiveDate) -> Result<NaiveDate, String> {
    let yy: i32 = raw[..2].parse().map_err(|_| "invalid year")?;
    let month: u32 = raw[2..4].parse().map_err(|_| "invalid month")?;
    let day: u32 = raw[4..6].parse().map_err(|_| "invalid day")?;
    let current = today.year();
    let mut year = current - current.rem_euclid(100) + yy;
    if year - current >= 51 {
        year -= 100;
    } else if current - year > 49 {
        year += 100;
    }
    if !(1..=12).contains(&month) {
        return Err(format!("invalid month {month:02}"));
    }
    if day == 0 {
        if !zero_day {
            return Err("day 00 is not allowed here".into());
        }
        // Day 00 means the last day of the month.
        let first_of_next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        };
        return first_of_next
            .and_then(|d| d.pred_opt())
            .ok_or_else(|| "invalid date".to_string());
    }
    NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| format!("invalid date {year}-{month:02}-{day:02}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default()
    }

    fn ok(text: &str) -> Gs1Message {
        parse(text, today()).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> String {
        match parse(text, today()) {
            Ok(message) => panic!("{text:?} was accepted as {message}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_demo_supplier_label() {
        let label = "]C10100401234500012".to_owned() + "10C24-1107\u{1d}30400";
        let message = ok(&label);
        assert_eq!(message.symbology.as_deref(), Some("]C1"));
        assert_eq!(
            message.to_string(),
            "(01) GTIN 00401234500012 (10) BATCH/LOT C24-1107 (30) VAR. COUNT 400"
        );
        assert_eq!(message.get("10").map(|e| e.raw.as_str()), Some("C24-1107"));
    }

    #[test]
    fn every_listed_ai_decodes() {
        let cases = [
            ("00106141411234567897", "(00) SSCC 106141411234567897"),
            ("0124012345678905", "(01) GTIN 24012345678905"),
            (
                "0224012345678905\u{1d}3712",
                "(02) CONTENT 24012345678905 (37) COUNT 12",
            ),
            ("10ABC-12/x", "(10) BATCH/LOT ABC-12/x"),
            ("11260131", "(11) PROD DATE 2026-01-31"),
            ("13260200", "(13) PACK DATE 2026-02-28"),
            ("15241200", "(15) BEST BEFORE 2024-12-31"),
            ("17280229", "(17) USE BY 2028-02-29"),
            ("21SN-0001", "(21) SERIAL SN-0001"),
            ("3012345678", "(30) VAR. COUNT 12345678"),
            ("240ALT-1", "(240) ADDITIONAL ID ALT-1"),
            ("241CP-77", "(241) CUST. PART No. CP-77"),
            ("250S2", "(250) SECONDARY SERIAL S2"),
            ("251SRC", "(251) REF. TO SOURCE SRC"),
            ("422276", "(422) ORIGIN 276"),
            ("70032612311530", "(7003) EXPIRY TIME 2026-12-31 15:30"),
            ("8005000365", "(8005) PRICE PER UNIT 365"),
            ("3103000189", "(3103) NET WEIGHT (kg) 0.189 kg"),
            ("3110001250", "(3110) LENGTH (m) 1250 m"),
            ("3122012345", "(3122) WIDTH (m) 123.45 m"),
            ("3135000001", "(3135) HEIGHT (m) 0.00001 m"),
            ("3141100000", "(3141) AREA (m2) 10000.0 m2"),
            ("3150000005", "(3150) NET VOLUME (l) 5 l"),
            ("3162000150", "(3162) NET VOLUME (m3) 1.50 m3"),
            ("90INT", "(90) INTERNAL INT"),
            ("91R-01", "(91) INTERNAL R-01"),
            ("99WIP-STEP-3", "(99) INTERNAL WIP-STEP-3"),
        ];
        for (text, expected) in cases {
            assert_eq!(ok(text).to_string(), expected, "{text}");
        }
    }

    #[test]
    fn separators_and_the_predefined_length_rule() {
        // (17) is pre-defined length: no GS needed before (10); (10) is variable: GS before (21).
        let message = ok("]d201095011010209171726123110LOT7\u{1d}21SER9");
        assert_eq!(message.elements.len(), 4);
        // A superfluous GS after a pre-defined-length value is tolerated.
        assert_eq!(ok("0124012345678905\u{1d}10X").elements.len(), 2);
        // (422) is fixed length but not pre-defined: without GS the next AI is read as its value.
        assert!(err("42227610LOT").contains("(422) ORIGIN 27610LOT: digits only"));
    }

    #[test]
    fn bracketed_form_for_label_designers() {
        let message = ok("(01)00401234500012(10)C24-1107(30)400");
        assert_eq!(message.symbology, None);
        assert_eq!(
            message.get("30").map(|e| e.value.clone()),
            Some(Gs1Value::Number(400))
        );
        assert!(err("(01)00401234500012(1O)X").contains("unknown application identifier (1O)"));
    }

    #[test]
    fn broken_labels_are_refused_with_what_was_decoded() {
        assert_eq!(
            err("10ABC\u{1d}17261301"),
            "(10) BATCH/LOT ABC (17) USE BY 261301: invalid month 13"
        );
        assert_eq!(
            err("0100401234500013"),
            "(01) GTIN 00401234500013: check digit 3 is wrong (should be 2)"
        );
        assert!(err("17260231").contains("invalid date 2026-02-31"));
        assert!(err("7003261231").contains("needs 10 digits, has 6"));
        assert!(err("70032612312460").contains("invalid time 24:60"));
        assert!(err("01004012345").contains("needs 14 characters, the label ends before"));
        assert!(err("10ABC DEF").contains("character ' ' is not allowed"));
        assert!(err(&format!("10{}", "A".repeat(21))).contains("needs 1 to 20 characters, has 21"));
        assert!(err("10").contains("needs 1 to 20 characters, has 0"));
        assert!(err("3012345678\u{1d}30").contains("needs 1 to 8 digits"));
        assert!(err("3106000189").contains("unknown application identifier"));
        assert!(err("]E0123").contains("symbology ]E0"));
        assert!(err("]C1").contains("no GS1 data"));
        assert!(err("10A\u{1d}10B").contains("appears twice with different values"));
        assert!(err("4712").contains("unknown application identifier at \"4712\""));
    }

    /// Every AI of issue 3's list, refused for each way a label can break it; the reason names
    /// what was decoded, then the problem.
    #[test]
    fn every_listed_ai_refused_for_the_right_reason() {
        let cases: &[(&str, &str)] = &[
            // Check digits.
            (
                "0100401234500013",
                "(01) GTIN 00401234500013: check digit 3 is wrong (should be 2)",
            ),
            (
                "0224012345678906\u{1d}3712",
                "(02) CONTENT 24012345678906: check digit 6 is wrong (should be 5)",
            ),
            (
                "00106141411234567890",
                "(00) SSCC 106141411234567890: check digit 0 is wrong (should be 7)",
            ),
            (
                "010040123450001",
                "(01) GTIN: needs 14 characters, the label ends before",
            ),
            ("01004012345000AB", "(01) GTIN 004012345000AB: digits only"),
            // Dates: month, day, day 00 only where GS1 allows it, letters, length.
            ("11261301", "(11) PROD DATE 261301: invalid month 13"),
            ("13260230", "(13) PACK DATE 260230: invalid date 2026-02-30"),
            (
                "15270229",
                "(15) BEST BEFORE 270229: invalid date 2027-02-29",
            ),
            ("17260001", "(17) USE BY 260001: invalid month 00"),
            (
                "172612",
                "(17) USE BY: needs 6 characters, the label ends before",
            ),
            ("1726A231", "(17) USE BY 26A231: digits only"),
            (
                "70032612000000",
                "(7003) EXPIRY TIME 2612000000: day 00 is not allowed here",
            ),
            (
                "70032612312400",
                "(7003) EXPIRY TIME 2612312400: invalid time 24:00",
            ),
            (
                "700326123112\u{1d}10A",
                "(7003) EXPIRY TIME 26123112: needs 10 digits, has 8",
            ),
            // Text: too long, empty, outside character set 82.
            (
                "10ABCDEFGHIJKLMNOPQRSTU",
                "(10) BATCH/LOT ABCDEFGHIJKLMNOPQRSTU: needs 1 to 20 characters, has 21 (is the GS after it missing?)",
            ),
            (
                "10\u{1d}21X",
                "(10) BATCH/LOT : needs 1 to 20 characters, has 0",
            ),
            (
                "10AB#C",
                "(10) BATCH/LOT AB#C: character '#' is not allowed in GS1 data",
            ),
            (
                "21SN 1",
                "(21) SERIAL SN 1: character ' ' is not allowed in GS1 data",
            ),
            (
                "21SNé",
                "(21) SERIAL SNé: character 'é' is not allowed in GS1 data",
            ),
            (
                "240ABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
                "(240) ADDITIONAL ID ABCDEFGHIJKLMNOPQRSTUVWXYZ01234: needs 1 to 30 characters, has 31 (is the GS after it missing?)",
            ),
            (
                "241A~B",
                "(241) CUST. PART No. A~B: character '~' is not allowed in GS1 data",
            ),
            (
                "250A\\B",
                "(250) SECONDARY SERIAL A\\B: character '\\\\' is not allowed in GS1 data",
            ),
            (
                "251A[B",
                "(251) REF. TO SOURCE A[B: character '[' is not allowed in GS1 data",
            ),
            (
                "91A{B",
                "(91) INTERNAL A{B: character '{' is not allowed in GS1 data",
            ),
            // Counts and fixed-length numbers.
            (
                "30123456789",
                "(30) VAR. COUNT 123456789: needs 1 to 8 digits, has 9 (is the GS after it missing?)",
            ),
            ("30ABC", "(30) VAR. COUNT ABC: digits only"),
            (
                "3712A",
                "(37) COUNT 12A: digits only (is the GS after it missing?)",
            ),
            ("42227", "(422) ORIGIN 27: needs 3 digits, has 2"),
            (
                "42227610LOT",
                "(422) ORIGIN 27610LOT: digits only (is the GS after it missing?)",
            ),
            (
                "80050003651",
                "(8005) PRICE PER UNIT 0003651: needs 6 digits, has 7 (is the GS after it missing?)",
            ),
            ("3103000A89", "(3103) NET WEIGHT (kg) 000A89: digits only"),
            (
                "3103001",
                "(3103) NET WEIGHT (kg): needs 6 characters, the label ends before",
            ),
            ("3106000189", "unknown application identifier at \"3106\""),
            ("3170000189", "unknown application identifier at \"3170\""),
            // Decoded-so-far comes first.
            (
                "0100401234500012\u{1d}10ABC\u{1d}17261301",
                "(01) GTIN 00401234500012 (10) BATCH/LOT ABC (17) USE BY 261301: invalid month 13",
            ),
            (
                "10A\u{1d}21B\u{1d}10C",
                "(10) BATCH/LOT A (21) SERIAL B (10) BATCH/LOT appears twice with different values",
            ),
            (
                "(10)A(21)B(10)C",
                "(10) BATCH/LOT A (21) SERIAL B (10) BATCH/LOT appears twice with different values",
            ),
            ("(17)261232", "(17) USE BY 261232: invalid date 2026-12-32"),
        ];
        for (text, expected) in cases {
            assert_eq!(err(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn separators_only_where_gs1_needs_them() {
        // Pre-defined-length AIs (01, 11, 13, 15, 17, 31nn) run straight into the next AI.
        let message = ok("0100401234500012110101001326010015260200172612003103000189");
        assert_eq!(
            message.to_string(),
            "(01) GTIN 00401234500012 (11) PROD DATE 2001-01-31 (13) PACK DATE 2026-01-31 \
             (15) BEST BEFORE 2026-02-28 (17) USE BY 2026-12-31 (3103) NET WEIGHT (kg) 0.189 kg"
        );
        // Day 00 is the month's last day, leap years included.
        assert_eq!(
            ok("11240200").elements[0].value,
            Gs1Value::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default())
        );
        // Variable-length AIs need the GS before the next AI; a trailing GS is harmless.
        let message = ok(
            "10L1\u{1d}21S1\u{1d}3020\u{1d}3712\u{1d}240M\u{1d}241C\u{1d}250T\u{1d}251R\u{1d}422276\u{1d}7003261231235\
             9\u{1d}8005000100\u{1d}91A\u{1d}92B\u{1d}93C\u{1d}94D\u{1d}95E\u{1d}96F\u{1d}97G\u{1d}98H\u{1d}99I\u{1d}",
        );
        let ais: Vec<&str> = message.elements.iter().map(|e| e.ai.as_str()).collect();
        assert_eq!(
            ais,
            [
                "10", "21", "30", "37", "240", "241", "250", "251", "422", "7003", "8005", "91",
                "92", "93", "94", "95", "96", "97", "98", "99"
            ]
        );
        // Without the GS, the next AI is read as part of the lot: nothing in the data can tell, so
        // the decoded value is shown to the operator rather than guessed apart.
        assert_eq!(
            ok("10ABC17261231").get("10").map(|e| e.raw.as_str()),
            Some("ABC17261231")
        );
    }

    #[test]
    fn century_follows_the_sliding_window() {
        let year = |raw: &str| ok(&format!("17{raw}")).elements[0].value.clone();
        assert_eq!(
            year("750101"),
            Gs1Value::Date(NaiveDate::from_ymd_opt(2075, 1, 1).unwrap_or_default())
        );
        assert_eq!(
            year("770101"),
            Gs1Value::Date(NaiveDate::from_ymd_opt(1977, 1, 1).unwrap_or_default())
        );
        assert_eq!(
            year("990101"),
            Gs1Value::Date(NaiveDate::from_ymd_opt(1999, 1, 1).unwrap_or_default())
        );
    }

    #[test]
    fn check_digits_match_published_examples() {
        assert_eq!(check_digit("950110153100"), 0);
        assert_eq!(check_digit("9501234"), 6);
        assert_eq!(check_digit("2401234567890"), 5);
        assert_eq!(check_digit("10614141123456789"), 7);
    }

    #[test]
    fn digital_link_uris() {
        let message = parse_digital_link(
            "https://id.gs1.org/01/09521234543213/10/ABC%2F123/21/S1?17=261231&linkType=gs1:pip",
            today(),
        )
        .expect("valid");
        assert_eq!(
            message.to_string(),
            "(01) GTIN 09521234543213 (10) BATCH/LOT ABC/123 (21) SERIAL S1 (17) USE BY 2026-12-31"
        );
        let short = parse_digital_link(
            "https://example.com/shop/gtin/00401234500012/lot/C24-1107",
            today(),
        )
        .expect("short names");
        assert_eq!(short.get("10").map(|e| e.raw.as_str()), Some("C24-1107"));
        assert!(looks_like_digital_link(
            "https://example.com/01/00401234500012"
        ));
        let err = |uri: &str| parse_digital_link(uri, today()).expect_err(uri).to_string();
        assert!(err("https://id.gs1.org/01/09521234543214").contains("check digit"));
        assert!(err("https://id.gs1.org/01/09521234543213/10").contains("/10/ has no value"));
        assert!(err("https://id.gs1.org/01/09521234543213?17=261301").contains("invalid month 13"));
        assert!(err("https://example.com/products/42").contains("no GTIN"));
        assert!(err("https://id.gs1.org/01/09521234543213/10/%ZZ").contains("percent-encoding"));
    }

    #[test]
    fn encodes_what_our_labels_carry() {
        let wip = [
            ("240", "BC-200-M"),
            ("10", "L1-S1-261125-000001"),
            ("30", "20"),
            ("11", "261125"),
        ];
        assert_eq!(
            encode(&wip, today()).expect("WIP label"),
            "240BC-200-M\u{1d}10L1-S1-261125-000001\u{1d}3020\u{1d}11261125"
        );
        assert_eq!(
            bracketed(&wip),
            "(240)BC-200-M(10)L1-S1-261125-000001(30)20(11)261125"
        );
        let serial = [
            ("01", "00401234501019"),
            ("21", "L1-S3-261125-000007"),
            ("11", "261125"),
        ];
        assert_eq!(
            encode(&serial, today()).expect("serial label"),
            "010040123450101921L1-S3-261125-000007\u{1d}11261125"
        );
        // Pre-defined-length values need no GS; a fixed-length one that is not pre-defined does.
        assert_eq!(
            encode(
                &[("01", "00401234500012"), ("17", "261200"), ("10", "C24")],
                today()
            )
            .expect("supplier label"),
            "01004012345000121726120010C24"
        );
        assert_eq!(
            encode(&[("422", "276"), ("3103", "000189")], today()).expect("origin"),
            "422276\u{1d}3103000189"
        );
    }

    #[test]
    fn encode_refuses_what_a_scanner_would_refuse() {
        let err =
            |elements: &[(&str, &str)]| encode(elements, today()).expect_err("refused").to_string();
        assert_eq!(
            err(&[("10", "ABC"), ("17", "261301")]),
            "(10) BATCH/LOT ABC (17) USE BY 261301: invalid month 13"
        );
        assert!(err(&[("01", "00401234500013")]).contains("check digit 3 is wrong"));
        assert!(err(&[("01", "0040123450001")]).contains("needs 14 digits, has 13"));
        assert!(err(&[("10", &"X".repeat(21))]).contains("needs 1 to 20 characters, has 21"));
        assert!(err(&[("10", "LOT 1")]).contains("character ' ' is not allowed"));
        assert!(err(&[("10", "A\u{1d}21B")]).contains("cannot contain a GS"));
        assert!(err(&[("4712", "X")]).contains("unknown application identifier (4712)"));
        assert!(err(&[("1", "X")]).contains("unknown application identifier (1)"));
        assert!(err(&[("3106", "000001")]).contains("unknown application identifier (3106)"));
        assert!(err(&[("10", "A"), ("10", "B")]).contains("appears twice"));
        assert!(err(&[]).contains("nothing to encode"));
    }

    /// A valid value for `ai`, drawn at random within the AI's rules.
    fn valid_value(rng: &mut rand::rngs::StdRng, ai: &str) -> String {
        use rand::Rng;
        let digits = |rng: &mut rand::rngs::StdRng, n: usize| -> String {
            (0..n)
                .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
                .collect()
        };
        // Day 00 (end of month) is valid in dates, not in date-times.
        let date = |rng: &mut rand::rngs::StdRng, first_day: u32| {
            format!(
                "{:02}{:02}{:02}",
                rng.random_range(0..100),
                rng.random_range(1..=12),
                rng.random_range(first_day..=28)
            )
        };
        let cset82: Vec<char> = ('0'..='9')
            .chain('A'..='Z')
            .chain('a'..='z')
            .chain("!\"%&'()*+,-./:;<=>?_".chars())
            .collect();
        let (_, _, format) = find_ai(ai).expect("known AI");
        match format {
            Format::CheckedDigits(len) => {
                let data = digits(rng, len - 1);
                let check = check_digit(&data);
                format!("{data}{check}")
            }
            Format::Date { .. } => date(rng, 0),
            Format::DateTime => format!(
                "{}{:02}{:02}",
                date(rng, 1),
                rng.random_range(0..24),
                rng.random_range(0..60)
            ),
            Format::Digits(min, max) => {
                let n = rng.random_range(min..=max);
                digits(rng, n)
            }
            Format::Measure => digits(rng, 6),
            Format::Text(min, max) => {
                let n = rng.random_range(min..=max);
                (0..n)
                    .map(|_| cset82[rng.random_range(0..cset82.len())])
                    .collect()
            }
        }
    }

    /// Encode then parse gives back exactly the elements, for any valid mix of AIs in any order.
    #[test]
    fn encode_then_parse_round_trips() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xE11C0DE);
        let mut ais: Vec<String> = AIS.iter().map(|spec| spec.ai.to_owned()).collect();
        for (prefix, _) in MEASURES {
            for decimals in 0..=5 {
                ais.push(format!("{prefix}{decimals}"));
            }
        }
        for _ in 0..10_000 {
            let count = rng.random_range(1..=6);
            let mut chosen: Vec<&str> = Vec::new();
            while chosen.len() < count {
                let ai = ais[rng.random_range(0..ais.len())].as_str();
                if !chosen.contains(&ai) {
                    chosen.push(ai);
                }
            }
            let values: Vec<String> = chosen.iter().map(|ai| valid_value(&mut rng, ai)).collect();
            let elements: Vec<(&str, &str)> = chosen
                .iter()
                .zip(&values)
                .map(|(ai, value)| (*ai, value.as_str()))
                .collect();
            let text =
                encode(&elements, today()).unwrap_or_else(|e| panic!("{elements:?} refused: {e}"));
            assert!(!text.ends_with(GS), "{text:?}");
            let back = parse(&text, today()).expect("reads back");
            let pairs: Vec<(&str, &str)> = back
                .elements
                .iter()
                .map(|e| (e.ai.as_str(), e.raw.as_str()))
                .collect();
            assert_eq!(pairs, elements, "{text:?}");
            // The bracketed form reads back too, unless a value holds a parenthesis.
            if values.iter().all(|v| !v.contains(['(', ')'])) {
                let hri = parse(&bracketed(&elements), today()).expect("bracketed");
                assert_eq!(hri.elements, back.elements);
            }
        }
    }

    /// Arbitrary text never panics, and anything accepted re-checks clean: every value it reports
    /// obeys its AI's rules (no label that breaks them is accepted).
    #[test]
    fn arbitrary_input_never_panics_and_acceptance_is_sound() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x51);
        let alphabet: Vec<char> = "0123456789ABCxyz-/ ()]Cd12%=&?\u{1d}\u{1e}\u{4}é"
            .chars()
            .collect();
        for _ in 0..20_000 {
            let len = rng.random_range(0..40);
            let text: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let _ = parse_digital_link(&format!("https://x.example/01/{text}?{text}"), today());
            if let Ok(message) = parse(&text, today()) {
                for element in &message.elements {
                    let (ai, _, format) = find_ai(&element.ai).expect("a known AI");
                    assert_eq!(ai, element.ai);
                    assert!(
                        check(&ai, format, &element.raw, today()).is_ok(),
                        "{text:?}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod digital_link_tests {
    use super::*;

    /// A Digital Link path segment /01/ must hold exactly one 14-digit GTIN. A 21-digit segment is
    /// not a GS1 Digital Link; it is silently split into GTIN + lot (10) "12345".
    #[test]
    fn an_overlong_gtin_segment_in_a_digital_link_is_refused() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
        let parsed = parse_digital_link("https://id.example.com/01/004012345000121012345", today);
        assert!(
            parsed.is_err(),
            "accepted as {:?}",
            parsed.map(|m| m.to_string())
        );
    }
}
