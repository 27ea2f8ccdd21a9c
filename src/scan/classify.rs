//! What a scanned (or keyed) text is, before the core decides what it means in context: an AIM
//! symbology identifier, then a GS1 element string or Digital Link, an ISO 15434 envelope, or a plain
//! code matched against local master data and the plant's code patterns. Ambiguous or invalid data is
//! refused with what was decoded and why — never guessed.

use super::gs1::{self, Gs1Message, Gs1Value};
use super::iso15434::{self, Envelope, Field};
use super::{BarcodeCommand, MAX_SCAN_LEN, Scan, ScanError};
use crate::domain::{Badge, LotId, LotLabel, MaterialId, Quantity, State, WorkOrderId};
use chrono::NaiveDate;

/// Plant code patterns for plain (non-GS1) labels. In a pattern `*` is one or more digits, `#` one
/// digit, `?` one letter or digit; anything else stands for itself (case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patterns {
    pub badge: String,
    pub work_order: String,
    pub defect: String,
    pub reason: String,
}

impl Default for Patterns {
    fn default() -> Self {
        Patterns {
            badge: "EMP-*".into(),
            work_order: "WO-*".into(),
            defect: "D-*".into(),
            reason: "R-*".into(),
        }
    }
}

impl Patterns {
    /// A pattern that matches nothing, or everything, is a configuration mistake.
    pub fn check(&self) -> Result<(), String> {
        for (name, pattern) in [
            ("badge", &self.badge),
            ("work_order", &self.work_order),
            ("defect", &self.defect),
            ("reason", &self.reason),
        ] {
            if pattern.trim().is_empty() {
                return Err(format!("scan pattern {name} is empty"));
            }
            if !pattern.chars().any(|c| !matches!(c, '*' | '#' | '?')) {
                return Err(format!(
                    "scan pattern {name} = {pattern:?} has no fixed character: it would match any code"
                ));
            }
        }
        Ok(())
    }
}

/// Does `code` (already upper case) match `pattern`?
pub fn matches_pattern(pattern: &str, code: &str) -> bool {
    fn go(pattern: &[char], code: &[char]) -> bool {
        match pattern.split_first() {
            None => code.is_empty(),
            Some(('*', rest)) => {
                let digits = code.iter().take_while(|c| c.is_ascii_digit()).count();
                (1..=digits).any(|n| go(rest, &code[n..]))
            }
            Some(('#', rest)) => code
                .split_first()
                .is_some_and(|(c, tail)| c.is_ascii_digit() && go(rest, tail)),
            Some(('?', rest)) => code
                .split_first()
                .is_some_and(|(c, tail)| c.is_ascii_alphanumeric() && go(rest, tail)),
            Some((p, rest)) => code
                .split_first()
                .is_some_and(|(c, tail)| c.eq_ignore_ascii_case(p) && go(rest, tail)),
        }
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let code: Vec<char> = code.chars().collect();
    go(&pattern, &code)
}

/// AIM identifiers of symbologies that carry plain text: the prefix is dropped, the text classified.
fn strip_plain_symbology(text: &str) -> Result<(Option<&str>, &str), ScanError> {
    let Some(rest) = text.strip_prefix(']') else {
        return Ok((None, text));
    };
    let id = text.get(..3).ok_or(ScanError::BadSymbology)?;
    let mut chars = rest.chars();
    match (chars.next(), chars.next()) {
        (Some(letter), Some(modifier))
            if letter.is_ascii_alphabetic() && modifier.is_ascii_alphanumeric() =>
        {
            Ok((Some(id), &text[3..]))
        }
        _ => Err(ScanError::BadSymbology),
    }
}

/// Classifies a text against what the station knows. `today` dates GS1 two-digit years.
pub fn classify(
    text: &str,
    state: &State,
    patterns: &Patterns,
    today: NaiveDate,
) -> Result<Scan, ScanError> {
    // Scanners end a read with CR, LF or both; nothing else is trimmed from structured data.
    let text = text.trim_end_matches(['\r', '\n']);
    if text.trim().is_empty() {
        return Err(ScanError::Empty);
    }
    let length = text.chars().count();
    if length > MAX_SCAN_LEN {
        return Err(ScanError::TooLong(length));
    }
    if iso15434::looks_like_envelope(text) {
        let envelope = iso15434::parse(text, today).map_err(ScanError::Invalid)?;
        return match envelope {
            Envelope::Gs1 { message } => from_gs1(&message, state),
            Envelope::DataIdentifiers { fields } => from_data_identifiers(&fields, state),
        };
    }
    if gs1::looks_like_digital_link(text) {
        let message =
            gs1::parse_digital_link(text, today).map_err(|e| ScanError::Invalid(e.to_string()))?;
        return from_gs1(&message, state);
    }
    if gs1::looks_like_gs1(text) {
        let message = gs1::parse(text, today).map_err(|e| ScanError::Invalid(e.to_string()))?;
        return from_gs1(&message, state);
    }
    let (_, text) = strip_plain_symbology(text)?;
    classify_plain(text.trim(), state, patterns)
}

fn classify_plain(text: &str, state: &State, patterns: &Patterns) -> Result<Scan, ScanError> {
    if text.is_empty() {
        return Err(ScanError::Empty);
    }
    if text.chars().any(char::is_control) {
        return Err(ScanError::Unreadable);
    }
    // Master data may hold codes in any case: the exact text wins.
    if let Some(scan) = known_code(text, state) {
        return Ok(scan);
    }
    // `+2.5`: a quantity keyed by hand, drawn from the lot loaded last. The sign keeps it apart
    // from numeric lot numbers.
    if let Some(amount) = text.strip_prefix('+') {
        return Quantity::parse(amount)
            .map(Scan::Quantity)
            .ok_or_else(|| ScanError::Unrecognised(text.to_owned()));
    }
    // Scanners send upper case; people keying a code often do not.
    let code = text.to_uppercase();
    if code.starts_with('@') {
        return BarcodeCommand::parse(&code)
            .map(Scan::Command)
            .ok_or(ScanError::UnknownCommand(code));
    }
    if let Some(scan) = known_code(&code, state) {
        return Ok(scan);
    }
    let matched: Vec<Scan> = [
        matches_pattern(&patterns.badge, &code).then(|| Scan::Badge(Badge::new(code.clone()))),
        matches_pattern(&patterns.work_order, &code)
            .then(|| Scan::WorkOrder(WorkOrderId::new(code.clone()))),
        matches_pattern(&patterns.defect, &code).then(|| Scan::Defect(code.clone())),
        matches_pattern(&patterns.reason, &code).then(|| Scan::DowntimeReason(code.clone())),
    ]
    .into_iter()
    .flatten()
    .collect();
    match matched.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ScanError::Unrecognised(text.to_owned())),
        _ => Err(ScanError::Ambiguous(text.to_owned())),
    }
}

/// A code local master data knows, by exact text.
fn known_code(code: &str, state: &State) -> Option<Scan> {
    let master = &state.master;
    if master.operators.contains_key(&Badge::new(code)) {
        return Some(Scan::Badge(Badge::new(code)));
    }
    if master.work_orders.contains_key(&WorkOrderId::new(code)) {
        return Some(Scan::WorkOrder(WorkOrderId::new(code)));
    }
    if let Some(known) = master.codes.get(code) {
        return Some(match known.kind {
            crate::domain::CodeKind::Defect { .. } => Scan::Defect(known.code.clone()),
            crate::domain::CodeKind::Downtime { .. } => Scan::DowntimeReason(known.code.clone()),
        });
    }
    if state.lot(&LotId::new(code)).is_some() {
        return Some(Scan::Lot(LotLabel {
            lot: LotId::new(code),
            gtin: None,
            material: None,
            quantity: None,
            expiry: None,
            produced: None,
        }));
    }
    if master.materials.contains_key(&MaterialId::new(code)) {
        return Some(Scan::Material(MaterialId::new(code)));
    }
    None
}

fn text_of(message: &Gs1Message, ai: &str) -> Option<String> {
    message.get(ai).map(|element| element.raw.clone())
}

fn date_of(message: &Gs1Message, ai: &str) -> Option<NaiveDate> {
    match &message.get(ai)?.value {
        Gs1Value::Date(date) => Some(*date),
        _ => None,
    }
}

/// The quantity a label states: a count (30, 37) or a measure (310n–316n, in its unit).
fn quantity_of(message: &Gs1Message) -> Option<Quantity> {
    for element in &message.elements {
        match (&element.value, element.ai.as_str()) {
            (Gs1Value::Number(count), "30" | "37") => return Some(Quantity::units(*count)),
            (Gs1Value::Measure { amount, .. }, _) => return Quantity::parse(amount),
            _ => {}
        }
    }
    None
}

fn from_gs1(message: &Gs1Message, state: &State) -> Result<Scan, ScanError> {
    let gtin = text_of(message, "01").or_else(|| text_of(message, "02"));
    let lot = text_of(message, "10");
    let serial = text_of(message, "21");
    // A plant's own material code on a work-in-process label (AI 240, additional product id).
    let material = text_of(message, "240").map(MaterialId::new);
    if let Some(gtin) = &gtin
        && let Some(named) = &material
        && let Some(by_gtin) = state.master.material_by_gtin(gtin)
        && &by_gtin.id != named
    {
        return Err(ScanError::Invalid(format!(
            "{message}: GTIN {gtin} is {}, but (240) says {named}",
            by_gtin.id
        )));
    }
    match (lot, serial) {
        (Some(lot), _) => Ok(Scan::Lot(LotLabel {
            lot: LotId::new(lot),
            gtin,
            material,
            quantity: quantity_of(message),
            expiry: date_of(message, "17").or_else(|| date_of(message, "15")),
            produced: date_of(message, "11"),
        })),
        (None, Some(serial)) => Ok(Scan::Serial {
            serial: LotId::new(serial),
            gtin,
        }),
        (None, None) => match (&gtin, &material) {
            (Some(gtin), _) => match state.master.material_by_gtin(gtin) {
                Some(known) => Ok(Scan::Material(known.id.clone())),
                None => Err(ScanError::Invalid(format!(
                    "{message}: the label names GTIN {gtin} but no lot (10) or serial (21)"
                ))),
            },
            (None, Some(material)) => Ok(Scan::Material(material.clone())),
            (None, None) => Err(ScanError::Invalid(format!(
                "{message}: no GTIN, lot or serial a station can use"
            ))),
        },
    }
}

fn from_data_identifiers(fields: &[Field], state: &State) -> Result<Scan, ScanError> {
    let get = |id: &str| {
        fields
            .iter()
            .find(|field| field.identifier == id)
            .map(|field| field.value.clone())
    };
    // P is the customer's (our) part number; 1P is the supplier's, which we may not know.
    let material = get("P")
        .map(MaterialId::new)
        .filter(|id| state.master.materials.contains_key(id));
    let lot = get("1T");
    let quantity = get("Q").and_then(|q| Quantity::parse(&q));
    let expiry = get("D").and_then(|d| NaiveDate::parse_from_str(&d, "%y%m%d").ok());
    match (lot, get("S")) {
        (Some(lot), _) => Ok(Scan::Lot(LotLabel {
            lot: LotId::new(lot),
            gtin: None,
            material: material.or_else(|| get("P").map(MaterialId::new)),
            quantity,
            expiry,
            produced: None,
        })),
        (None, Some(serial)) => Ok(Scan::Serial {
            serial: LotId::new(serial),
            gtin: None,
        }),
        (None, None) => match material {
            Some(material) => Ok(Scan::Material(material)),
            None => Err(ScanError::Invalid(
                "the ISO 15434 label carries no lot (1T), serial (S) or known part number (P)"
                    .into(),
            )),
        },
    }
}
