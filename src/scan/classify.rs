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
    if let Some(result) = self_announcing(text, state, today) {
        return result;
    }
    let (symbology, rest) = strip_plain_symbology(text)?;
    // A plain QR Code or Data Matrix (`]Q1`, `]d1`) is how Digital Link URIs and ISO 15434
    // envelopes arrive from readers that send AIM identifiers.
    if symbology.is_some()
        && let Some(result) = self_announcing(rest, state, today)
    {
        return result;
    }
    if gs1::looks_like_gs1(text) {
        let message = gs1::parse(text, today).map_err(|e| ScanError::Invalid(e.to_string()))?;
        return from_gs1(&message, state);
    }
    classify_plain(rest.trim(), state, patterns)
}

/// ISO 15434 envelopes and GS1 Digital Link URIs, which say what they are in their first characters.
fn self_announcing(text: &str, state: &State, today: NaiveDate) -> Option<Result<Scan, ScanError>> {
    if iso15434::looks_like_envelope(text) {
        return Some(
            iso15434::parse(text, today)
                .map_err(ScanError::Invalid)
                .and_then(|envelope| match envelope {
                    Envelope::Gs1 { message } => from_gs1(&message, state),
                    Envelope::DataIdentifiers { fields } => from_data_identifiers(&fields, state),
                }),
        );
    }
    if gs1::looks_like_digital_link(text) {
        return Some(
            gs1::parse_digital_link(text, today)
                .map_err(|e| ScanError::Invalid(e.to_string()))
                .and_then(|message| from_gs1(&message, state)),
        );
    }
    None
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
            crate::domain::CodeKind::Correction => Scan::CorrectionReason(known.code.clone()),
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
        // A serialised sub-assembly (our material code, or a serial this station knows as a lot)
        // is material for the next operation, one unit of it.
        (None, Some(serial))
            if material.is_some() || state.lot(&LotId::new(serial.as_str())).is_some() =>
        {
            Ok(Scan::Lot(LotLabel {
                lot: LotId::new(serial),
                gtin,
                material,
                quantity: quantity_of(message).or(Some(Quantity::units(1))),
                expiry: date_of(message, "17").or_else(|| date_of(message, "15")),
                produced: date_of(message, "11"),
            }))
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{MasterData, Material, StationId};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default()
    }

    /// A station that knows two materials, so labels naming them resolve.
    fn state() -> State {
        let mut master = MasterData::default();
        for (id, gtin) in [("CAST-200", Some("00401234500012")), ("BC-200-M", None)] {
            master.materials.insert(
                MaterialId::from(id),
                Material {
                    id: MaterialId::from(id),
                    name: id.to_lowercase(),
                    gtin: gtin.map(str::to_owned),
                    unit: "pc".into(),
                    shelf_life_days: None,
                    other_gtins: Vec::new(),
                },
            );
        }
        State::new(StationId::from("L1-S1"), master)
    }

    fn run(text: &str) -> Result<Scan, ScanError> {
        classify(text, &state(), &Patterns::default(), today())
    }

    fn lot(text: &str) -> LotLabel {
        match run(text) {
            Ok(Scan::Lot(label)) => label,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn aim_identifiers_say_gs1_or_plain() {
        let body = "0100401234500012".to_owned() + "10C24-1107\u{1d}30400";
        // GS1-128, GS1 DataMatrix, GS1 QR, GS1 DataBar: element strings.
        for id in ["]C1", "]d2", "]Q3", "]e0"] {
            let label = lot(&format!("{id}{body}"));
            assert_eq!(label.lot, LotId::from("C24-1107"), "{id}");
            assert_eq!(label.gtin.as_deref(), Some("00401234500012"), "{id}");
            assert_eq!(label.quantity, Some(Quantity::units(400)), "{id}");
        }
        // Plain Code 128, Code 39, QR Code: the text is a plant code, even if it looks like GS1.
        assert_eq!(
            run("]C0WO-24001"),
            Ok(Scan::WorkOrder(WorkOrderId::from("WO-24001")))
        );
        assert_eq!(run("]A0EMP-1001"), Ok(Scan::Badge(Badge::from("EMP-1001"))));
        assert_eq!(run("]Q1@START"), Ok(Scan::Command(BarcodeCommand::Start)));
        // GS1 data from a reader set to plain Code 128: the set-up is wrong, and the reason says so.
        assert_eq!(
            run(&format!("]C0{body}")),
            Err(ScanError::Invalid(
                "symbology ]C0 does not carry GS1 data".into()
            ))
        );
        assert_eq!(
            run("]C00100401234500012"),
            Err(ScanError::Unrecognised("0100401234500012".into()))
        );
        assert_eq!(run("]C"), Err(ScanError::BadSymbology));
        assert_eq!(run("]1CWO-1"), Err(ScanError::BadSymbology));
        assert_eq!(
            run("]C1"),
            Err(ScanError::Invalid(
                "no GS1 data after the symbology identifier".into()
            ))
        );
    }

    #[test]
    fn gs1_labels_become_lots_serials_and_materials() {
        let wip = lot("]C1240BC-200-M\u{1d}10L1-S1-261125-000001\u{1d}3020\u{1d}11261125");
        assert_eq!(wip.material, Some(MaterialId::from("BC-200-M")));
        assert_eq!(wip.produced, NaiveDate::from_ymd_opt(2026, 11, 25));
        let weighed = lot(&("]C1010040123450001217261200".to_owned() + "10G1\u{1d}3103002500"));
        assert_eq!(weighed.quantity, Quantity::parse("2.5"));
        assert_eq!(weighed.expiry, NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(
            run("]C1010040123450101921SN-77"),
            Ok(Scan::Serial {
                serial: LotId::from("SN-77"),
                gtin: Some("00401234501019".into())
            })
        );
        assert_eq!(
            run("]C10100401234500012"),
            Ok(Scan::Material(MaterialId::from("CAST-200")))
        );
        assert_eq!(
            run("]C1240BC-200-M"),
            Ok(Scan::Material(MaterialId::from("BC-200-M")))
        );
        assert_eq!(
            run("]C10100401234501019"),
            Err(ScanError::Invalid(
                "(01) GTIN 00401234501019: the label names GTIN 00401234501019 but no lot (10) or serial (21)".into()
            ))
        );
        assert_eq!(
            run("]C1010040123450001210X\u{1d}240BC-200-M"),
            Err(ScanError::Invalid(
                "(01) GTIN 00401234500012 (10) BATCH/LOT X (240) ADDITIONAL ID BC-200-M: GTIN 00401234500012 is CAST-200, but (240) says BC-200-M".into()
            ))
        );
        assert_eq!(
            run("]C1422276"),
            Err(ScanError::Invalid(
                "(422) ORIGIN 276: no GTIN, lot or serial a station can use".into()
            ))
        );
        // The reason a label is refused names what was decoded before the problem.
        assert_eq!(
            run("]C110ABC\u{1d}17261301"),
            Err(ScanError::Invalid(
                "(10) BATCH/LOT ABC (17) USE BY 261301: invalid month 13".into()
            ))
        );
    }

    #[test]
    fn iso_15434_labels() {
        // Format 06: P is our part number, 1T the supplier's lot, Q the quantity, D the expiry.
        let label = lot(
            "[)>\u{1e}06\u{1d}PCAST-200\u{1d}1PSUP-77\u{1d}Q120\u{1d}1TT-4711\u{1d}D271231\u{1d}4LDE\u{1d}10D2447\u{1e}\u{4}",
        );
        assert_eq!(label.lot, LotId::from("T-4711"));
        assert_eq!(label.material, Some(MaterialId::from("CAST-200")));
        assert_eq!(label.quantity, Some(Quantity::units(120)));
        assert_eq!(label.expiry, NaiveDate::from_ymd_opt(2027, 12, 31));
        assert_eq!(
            run("[)>\u{1e}06\u{1d}PBC-200\u{1d}SSN-0042\u{1d}3SPKG-1\u{1d}9D2630\u{1e}\u{4}"),
            Ok(Scan::Serial {
                serial: LotId::from("SN-0042"),
                gtin: None
            })
        );
        assert_eq!(
            run("[)>\u{1e}06\u{1d}PCAST-200\u{1d}Q5\u{1e}\u{4}"),
            Ok(Scan::Material(MaterialId::from("CAST-200")))
        );
        assert!(matches!(
            run("[)>\u{1e}06\u{1d}PNOT-OURS\u{1d}Q5"),
            Err(ScanError::Invalid(reason)) if reason.contains("no lot (1T), serial (S) or known part number (P)")
        ));
        // Format 05: GS1 element strings inside the envelope; also as a plain Data Matrix (]d1).
        for prefix in ["", "]d1"] {
            let label = lot(&format!(
                "{prefix}[)>\u{1e}05\u{1d}0100401234500012\u{1d}10C24-1107\u{1d}30400\u{1e}\u{4}"
            ));
            assert_eq!(label.lot, LotId::from("C24-1107"));
            assert_eq!(label.quantity, Some(Quantity::units(400)));
        }
        for (text, problem) in [
            (
                "[)>\u{1e}06\u{1d}1TLOT1\u{1d}QTEN",
                "(1T) LOT1 (Q) QUANTITY TEN: not a quantity",
            ),
            (
                "[)>\u{1e}06\u{1d}10D2454",
                "(10D) PRODUCTION DATE (YYWW) 2454: invalid week 54",
            ),
            (
                "[)>\u{1e}06\u{1d}9D26",
                "(9D) DATE (YYWW) 26: expected YYWW",
            ),
            (
                "[)>\u{1e}06\u{1d}4LGER",
                "(4L) COUNTRY OF ORIGIN GER: expected a two-letter country code",
            ),
            ("[)>\u{1e}06\u{1d}S", "(S) SERIAL : empty"),
            (
                "[)>\u{1e}05\u{1d}0100401234500013",
                "(01) GTIN 00401234500013: check digit 3 is wrong (should be 2)",
            ),
            (
                "[)>\u{1e}09\u{1d}AAAA",
                "format 09 is not a label format this station reads (05 or 06)",
            ),
        ] {
            assert_eq!(
                run(text),
                Err(ScanError::Invalid(problem.into())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn digital_links_with_or_without_an_aim_identifier() {
        for prefix in ["", "]Q1", "]d1"] {
            let label = lot(&format!(
                "{prefix}https://id.example.com/01/00401234500012/10/C24-1107?17=270131&30=400"
            ));
            assert_eq!(label.lot, LotId::from("C24-1107"), "{prefix}");
            assert_eq!(label.gtin.as_deref(), Some("00401234500012"));
            assert_eq!(label.expiry, NaiveDate::from_ymd_opt(2027, 1, 31));
        }
        assert!(matches!(
            run("]Q1https://id.example.com/01/00401234500013/10/X"),
            Err(ScanError::Invalid(reason)) if reason.contains("check digit 3 is wrong")
        ));
        // A web address that is not a Digital Link is not a plant code either.
        assert!(matches!(
            run("]Q1https://example.com/about"),
            Err(ScanError::Unrecognised(_))
        ));
    }

    #[test]
    fn overlapping_code_patterns_are_ambiguous_not_guessed() {
        let patterns = Patterns {
            defect: "Q-*".into(),
            reason: "Q-#*".into(),
            ..Patterns::default()
        };
        assert_eq!(
            classify("Q-12", &state(), &patterns, today()),
            Err(ScanError::Ambiguous("Q-12".into()))
        );
        // A code only one pattern takes is not.
        assert_eq!(
            classify("Q-1", &state(), &patterns, today()),
            Ok(Scan::Defect("Q-1".into()))
        );
    }

    /// A character from everything scanners, wedges and people produce: ASCII, control bytes,
    /// multi-byte UTF-8, and the characters that start structured data.
    fn any_char(rng: &mut StdRng) -> char {
        const SPECIAL: &[char] = &[
            ']', '[', ')', '>', '(', '@', '-', '/', '?', '=', '&', '%', ':', '\u{1d}', '\u{1e}',
            '\u{4}', '\u{0}', '\r', '\n', '\t', '\u{7f}', 'é', 'ß', '２', '\u{202e}', '😀',
            '\u{85}',
        ];
        match rng.random_range(0..4) {
            0 => char::from(rng.random_range(0..0x80u8)),
            1 => SPECIAL[rng.random_range(0..SPECIAL.len())],
            2 => char::from(b'0' + rng.random_range(0..10u8)),
            _ => char::from_u32(rng.random_range(0x80..0x11_0000)).unwrap_or('\u{fffd}'),
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let mut rng = StdRng::seed_from_u64(0xC1A551F7);
        let prefixes = [
            "",
            "]",
            "]C1",
            "]d2",
            "]Q3",
            "]e0",
            "]C0",
            "]Q1",
            "]d1",
            "]A0",
            "[)>",
            "[)>\u{1e}06\u{1d}",
            "[)>\u{1e}05\u{1d}",
            "https://x/01/",
            "(",
            "(01)",
            "@",
            "EMP-",
            "WO-",
            "01",
            "10",
            "7003",
        ];
        let state = state();
        for _ in 0..30_000 {
            let len = rng.random_range(0..48);
            let mut text = prefixes[rng.random_range(0..prefixes.len())].to_owned();
            text.extend((0..len).map(|_| any_char(&mut rng)));
            let _ = classify(&text, &state, &Patterns::default(), today());
        }
        // Arbitrary bytes, as a wedge with the wrong code page might deliver them.
        for _ in 0..10_000 {
            let len = rng.random_range(0..64);
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let _ = classify(
                &String::from_utf8_lossy(&bytes),
                &state,
                &Patterns::default(),
                today(),
            );
        }
    }

    /// GS1's rules for the AIs we read, restated from the General Specifications rather than taken
    /// from the parser's tables, so the property below checks the parser instead of repeating it.
    fn obeys_gs1(ai: &str, raw: &str) -> Result<(), String> {
        let all_digits = raw.bytes().all(|b| b.is_ascii_digit());
        let numeric = |min: usize, max: usize| all_digits && (min..=max).contains(&raw.len());
        let text = |max: usize| {
            (1..=max).contains(&raw.chars().count())
                && raw
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c))
        };
        let mod10 = || {
            let digits: Vec<u32> = raw.bytes().map(|b| u32::from(b - b'0')).collect();
            let (check, data) = digits.split_last().map_or((0, &[][..]), |(c, d)| (*c, d));
            let sum: u32 = data
                .iter()
                .rev()
                .enumerate()
                .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
                .sum();
            (10 - sum % 10) % 10 == check
        };
        // Century window seen from 2026: 77..99 are the 1900s.
        let date = |s: &str, zero_day: bool| {
            let n = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
            let (yy, mm, dd) = (n(0..2), n(2..4), n(4..6));
            let year = if yy >= 77 { 1900 + yy } else { 2000 + yy };
            (1..=12).contains(&mm)
                && ((dd == 0 && zero_day)
                    || NaiveDate::from_ymd_opt(i32::try_from(year).unwrap_or(0), mm, dd).is_some())
        };
        let ok = match ai {
            "00" => numeric(18, 18) && mod10(),
            "01" | "02" => numeric(14, 14) && mod10(),
            "10" | "21" => text(20),
            "11" | "13" | "15" | "17" => numeric(6, 6) && date(raw, true),
            "30" | "37" => numeric(1, 8),
            "240" | "241" | "250" | "251" | "90" => text(30),
            "422" => numeric(3, 3),
            "7003" => {
                numeric(10, 10)
                    && date(&raw[..6], false)
                    && raw[6..8].parse::<u32>().is_ok_and(|h| h < 24)
                    && raw[8..10].parse::<u32>().is_ok_and(|m| m < 60)
            }
            "8005" => numeric(6, 6),
            "91" | "92" | "93" | "94" | "95" | "96" | "97" | "98" | "99" => text(90),
            measure
                if measure.len() == 4
                    && ["310", "311", "312", "313", "314", "315", "316"]
                        .contains(&&measure[..3])
                    && measure.as_bytes()[3] <= b'5' =>
            {
                numeric(6, 6)
            }
            _ => return Err(format!("({ai}) is not an AI a station reads")),
        };
        if ok {
            Ok(())
        } else {
            Err(format!("({ai}) {raw:?} breaks GS1's rules"))
        }
    }

    /// Labels to start from: every AI we read, on valid labels.
    const VALID: &[&str] = &[
        "]C10100401234500012",
        "]C1010040123450001210C24-1107\u{1d}30400",
        "]C1010040123450101921L1-S3-261125-000007\u{1d}11261125",
        "]C1240BC-200-M\u{1d}10L1-S1-261125-000001\u{1d}3020\u{1d}11261125",
        "]d201095011010209171726123110LOT7\u{1d}21SER9",
        "]Q3000106141411234567890224012345678905\u{1d}3712\u{1d}10B",
        "]e00100401234500012152612001326010011260131\u{1d}10X",
        "]C1010040123450001231030001893110001250\u{1d}10A\u{1d}7003261231153010B",
        "]C1241CP-77\u{1d}250S2\u{1d}251SRC\u{1d}422276\u{1d}8005000365\u{1d}91R\u{1d}99W-3\u{1d}21S",
        "]C19210\u{1d}93A\u{1d}94B\u{1d}95C\u{1d}96D\u{1d}97E\u{1d}98F\u{1d}90G\u{1d}10L",
        "https://id.example.com/01/00401234500012/10/C24-1107?17=270131&30=400",
    ];

    fn mutate(rng: &mut StdRng, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for _ in 0..rng.random_range(1..=3) {
            let at = rng.random_range(0..=chars.len());
            let noise = match rng.random_range(0..4) {
                0 => char::from(b'0' + rng.random_range(0..10u8)),
                1 => '\u{1d}',
                2 => char::from(rng.random_range(0x20..0x7fu8)),
                _ => any_char(rng),
            };
            match rng.random_range(0..5) {
                0 if at < chars.len() => chars[at] = noise,
                1 if at < chars.len() => {
                    chars.remove(at);
                }
                2 => chars.insert(at, noise),
                3 if at + 1 < chars.len() => chars.swap(at, at + 1),
                _ => chars.truncate(at.max(3)),
            }
        }
        chars.into_iter().collect()
    }

    /// A random element string: known and unknown AIs, values of any length, GS or not between.
    fn random_element_string(rng: &mut StdRng) -> String {
        const AIS: &[&str] = &[
            "00", "01", "02", "10", "11", "13", "15", "17", "21", "30", "37", "240", "241", "250",
            "251", "422", "7003", "8005", "90", "91", "99", "3103", "3162", "3106", "12", "4712",
        ];
        let mut text = String::from("]C1");
        for _ in 0..rng.random_range(1..=4) {
            text.push_str(AIS[rng.random_range(0..AIS.len())]);
            let len = rng.random_range(0..24);
            let digits_only = rng.random_bool(0.6);
            text.extend((0..len).map(|_| {
                if digits_only {
                    char::from(b'0' + rng.random_range(0..10u8))
                } else {
                    char::from(rng.random_range(0x21..0x7fu8))
                }
            }));
            if rng.random_bool(0.5) {
                text.push('\u{1d}');
            }
        }
        text
    }

    /// Whatever the classifier accepts as GS1 obeys GS1: every element re-validates, and the scan
    /// reports exactly what the label says.
    #[test]
    fn no_accepted_label_breaks_a_gs1_rule() {
        let mut rng = StdRng::seed_from_u64(0x6511);
        let state = state();
        let mut accepted = 0;
        for round in 0..40_000 {
            let text = if round % 2 == 0 {
                let base = VALID[rng.random_range(0..VALID.len())];
                mutate(&mut rng, base)
            } else {
                random_element_string(&mut rng)
            };
            let Ok(scan) = classify(&text, &state, &Patterns::default(), today()) else {
                continue;
            };
            let message = if gs1::looks_like_digital_link(&text) {
                gs1::parse_digital_link(&text, today())
            } else if gs1::looks_like_gs1(&text) {
                gs1::parse(&text, today())
            } else {
                continue;
            };
            let message =
                message.unwrap_or_else(|e| panic!("{text:?} accepted as {scan:?}, yet {e}"));
            accepted += 1;
            for element in &message.elements {
                if let Err(broken) = obeys_gs1(&element.ai, &element.raw) {
                    panic!("{text:?} accepted as {scan:?}: {broken}");
                }
            }
            let raw = |ai: &str| message.get(ai).map(|e| e.raw.clone());
            match &scan {
                Scan::Lot(label) => {
                    // A lot number, or a serialised sub-assembly's serial with our material code.
                    let id = raw("10").or_else(|| raw("240").and(raw("21")));
                    assert_eq!(Some(label.lot.to_string()), id, "{text:?}");
                    assert_eq!(label.gtin, raw("01").or_else(|| raw("02")), "{text:?}");
                }
                Scan::Serial { serial, gtin } => {
                    assert_eq!(Some(serial.to_string()), raw("21"), "{text:?}");
                    assert_eq!(*gtin, raw("01").or_else(|| raw("02")), "{text:?}");
                }
                Scan::Material(_) => assert!(raw("10").is_none() && raw("21").is_none()),
                other => panic!("{text:?}: GS1 data classified as {other:?}"),
            }
        }
        // The property means little unless many mutated labels still pass.
        assert!(accepted > 2_000, "only {accepted} accepted");
    }
}
