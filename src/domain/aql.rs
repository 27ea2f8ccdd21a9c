//! Acceptance sampling by attributes, ISO 2859-1 / ANSI/ASQ Z1.4 single sampling: Table I (sample
//! size code letters), Tables II-A/B/C (normal, tightened, reduced plans, with the arrow rule) and the
//! switching rules as a state machine per plan.
//!
//! The master tables are kept as the standard prints them, arrows included, and resolved at lookup:
//! public implementations that generate plans by walking the Ac/Re series without the arrows get
//! cells wrong (e.g. J at AQL 2.5 as 10/11 instead of 5/6). Where the tables of ISO 2859-1:1999 and
//! Z1.4 differ, Z1.4 is followed: reduced inspection keeps the gap between Ac and Re (a lot with
//! Ac < d < Re is accepted, and normal inspection comes back), and normal goes to reduced on the ISO
//! switching score, which needs no Table VIII.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The AQL columns of Tables II-A/B/C, in order. Up to 10 they may be percent nonconforming or
/// nonconformities per hundred units; above 10, nonconformities per hundred units only.
pub const AQL_COLUMNS: [&str; 26] = [
    "0.010", "0.015", "0.025", "0.040", "0.065", "0.10", "0.15", "0.25", "0.40", "0.65", "1.0",
    "1.5", "2.5", "4.0", "6.5", "10", "15", "25", "40", "65", "100", "150", "250", "400", "650",
    "1000",
];

/// Code letters in table order; I and O are not used by the standard. S exists only in Table II-B.
const LETTERS: [char; 17] = [
    'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'S',
];

/// Sample sizes of Tables II-A and II-B by code letter (S: 3150, tightened only).
const SAMPLE_SIZES: [u32; 17] = [
    2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800, 1250, 2000, 3150,
];

/// Sample sizes of Table II-C (reduced) by code letter A..R.
const REDUCED_SAMPLE_SIZES: [u32; 16] = [
    2, 2, 2, 3, 5, 8, 13, 20, 32, 50, 80, 125, 200, 315, 500, 800,
];

/// Table I: the upper end of each lot-size range (the last is open).
const LOT_RANGE_UPPER: [u32; 15] = [
    8,
    15,
    25,
    50,
    90,
    150,
    280,
    500,
    1200,
    3200,
    10_000,
    35_000,
    150_000,
    500_000,
    u32::MAX,
];

/// Table I, one string per inspection level, one letter per lot-size range.
const TABLE_I: [(InspectionLevel, &str); 7] = [
    (InspectionLevel::S1, "AAAABBBBCCCCDDD"),
    (InspectionLevel::S2, "AAABBBCCCDDDEEE"),
    (InspectionLevel::S3, "AABBCCDDEEFFGGH"),
    (InspectionLevel::S4, "AABCCDEEFGGHJJK"),
    (InspectionLevel::I, "AABCCDEFGHJKLMN"),
    (InspectionLevel::II, "ABCDEFGHJKLMNPQ"),
    (InspectionLevel::III, "BCDEFGHJKLMNPQR"),
];

// Tables II-A/B/C, one row per code letter, one cell per AQL column: `Ac/Re`, `v` (use the first
// plan below the arrow) or `^` (the first plan above). Two cells of II-A point off the table as a
// plain diagonal would have it (A at AQL 10 upwards, R at 0.015 downwards); they point the other way,
// to the nearest plan that exists. Above AQL 10 only letters A..E carry the largest acceptance
// numbers; from F on, the arrow after the last plan points up.
const NORMAL: [&str; 16] = [
    /* A */
    "v v v v v v v v v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 30/31",
    /* B */
    "v v v v v v v v v v v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 30/31 44/45",
    /* C */
    "v v v v v v v v v v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 30/31 44/45 ^",
    /* D */
    "v v v v v v v v v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 30/31 44/45 ^ ^",
    /* E */
    "v v v v v v v v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 30/31 44/45 ^ ^ ^",
    /* F */ "v v v v v v v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^",
    /* G */ "v v v v v v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^ ^",
    /* H */ "v v v v v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^ ^ ^",
    /* J */ "v v v v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* K */ "v v v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* L */ "v v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* M */ "v v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* N */ "v v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* P */ "v 0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* Q */ "0/1 ^ v 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* R */ "^ ^ 1/2 2/3 3/4 5/6 7/8 10/11 14/15 21/22 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
];

// Tightened: each row one column right of normal's, the same sample sizes, and where normal points up
// after 0/1, tightened points down (a larger sample): one AQL step tighter throughout. S (3150) is
// reached only from R's two downward arrows (AQL 0.015 and 0.025); it has the 1/2 plan.
const TIGHTENED: [&str; 17] = [
    /* A */ "v v v v v v v v v v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 27/28",
    /* B */
    "v v v v v v v v v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 27/28 41/42",
    /* C */
    "v v v v v v v v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 27/28 41/42 ^",
    /* D */
    "v v v v v v v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 27/28 41/42 ^ ^",
    /* E */
    "v v v v v v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 27/28 41/42 ^ ^ ^",
    /* F */ "v v v v v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^",
    /* G */ "v v v v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^ ^",
    /* H */ "v v v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^ ^ ^",
    /* J */ "v v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* K */ "v v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* L */ "v v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* M */ "v v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* N */ "v v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* P */ "v v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* Q */ "v 0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* R */ "0/1 v v 1/2 2/3 3/4 5/6 8/9 12/13 18/19 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* S */ "^ 1/2 1/2 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
];

// Reduced (Z1.4): a row's plans are those of the normal row with the same sample size, acceptance
// numbers unchanged, rejection numbers widened (0/2, 1/3 fill what are arrows in II-A). R at AQL 0.010
// has no row below to point to; its 0/1 stands there too.
const REDUCED: [&str; 16] = [
    /* A */
    "v v v v v v v v v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 30/31",
    /* B */
    "v v v v v v v v v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 30/31",
    /* C */
    "v v v v v v v v v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 30/31",
    /* D */
    "v v v v v v v v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 30/31 44/45",
    /* E */
    "v v v v v v v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 30/31 44/45 ^",
    /* F */
    "v v v v v v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 30/31 44/45 ^ ^",
    /* G */
    "v v v v v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 30/31 44/45 ^ ^ ^",
    /* H */
    "v v v v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 ^ ^ ^ ^ ^ ^",
    /* J */
    "v v v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 ^ ^ ^ ^ ^ ^ ^",
    /* K */
    "v v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 ^ ^ ^ ^ ^ ^ ^ ^",
    /* L */
    "v v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* M */
    "v v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* N */
    "v v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* P */
    "v v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* Q */
    "v v 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
    /* R */
    "0/1 0/1 0/2 1/3 1/4 2/5 3/6 5/8 7/10 10/13 14/17 21/24 ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^ ^",
];

/// The acceptance numbers of normal inspection in order; "one AQL step tighter" for the switching
/// score is the one before.
const NORMAL_ACCEPTANCE_SERIES: [u32; 11] = [0, 1, 2, 3, 5, 7, 10, 14, 21, 30, 44];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AqlError {
    #[error("a lot must have at least 1 unit")]
    EmptyLot,
    #[error(
        "AQL {0} is not one of the standard's values (0.010, 0.015, 0.025, 0.040, 0.065, 0.10, 0.15, 0.25, 0.40, 0.65, 1.0, 1.5, 2.5, 4.0, 6.5, 10, 15, 25, 40, 65, 100, 150, 250, 400, 650, 1000)"
    )]
    UnknownAql(String),
    #[error("inspection level {0} is not one of S-1, S-2, S-3, S-4, I, II, III")]
    UnknownLevel(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InspectionLevel {
    #[serde(rename = "S-1")]
    S1,
    #[serde(rename = "S-2")]
    S2,
    #[serde(rename = "S-3")]
    S3,
    #[serde(rename = "S-4")]
    S4,
    I,
    II,
    III,
}

impl InspectionLevel {
    pub fn name(self) -> &'static str {
        match self {
            InspectionLevel::S1 => "S-1",
            InspectionLevel::S2 => "S-2",
            InspectionLevel::S3 => "S-3",
            InspectionLevel::S4 => "S-4",
            InspectionLevel::I => "I",
            InspectionLevel::II => "II",
            InspectionLevel::III => "III",
        }
    }
}

impl std::str::FromStr for InspectionLevel {
    type Err = AqlError;
    fn from_str(text: &str) -> Result<Self, AqlError> {
        let normalised = text.trim().to_ascii_uppercase().replace(['-', ' '], "");
        Ok(match normalised.as_str() {
            "S1" => InspectionLevel::S1,
            "S2" => InspectionLevel::S2,
            "S3" => InspectionLevel::S3,
            "S4" => InspectionLevel::S4,
            "I" | "1" | "GI" | "G1" => InspectionLevel::I,
            "II" | "2" | "GII" | "G2" => InspectionLevel::II,
            "III" | "3" | "GIII" | "G3" => InspectionLevel::III,
            _ => return Err(AqlError::UnknownLevel(text.to_owned())),
        })
    }
}

impl fmt::Display for InspectionLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One of the standard's AQL values, kept as its column so that 2.5 and "2.50" are the same AQL and
/// 2.4 is refused rather than rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aql(u8);

impl Aql {
    pub fn column(self) -> usize {
        usize::from(self.0)
    }

    pub fn value(self) -> f64 {
        AQL_COLUMNS[self.column()].parse().unwrap_or(f64::NAN)
    }

    pub fn all() -> impl Iterator<Item = Aql> {
        (0..AQL_COLUMNS.len() as u8).map(Aql)
    }
}

impl std::str::FromStr for Aql {
    type Err = AqlError;
    fn from_str(text: &str) -> Result<Self, AqlError> {
        let wanted: f64 = text
            .trim()
            .trim_end_matches('%')
            .parse()
            .map_err(|_| AqlError::UnknownAql(text.to_owned()))?;
        AQL_COLUMNS
            .iter()
            .position(|column| {
                column
                    .parse::<f64>()
                    .is_ok_and(|value| (value - wanted).abs() <= value * 1e-9)
            })
            .map(|column| Aql(column as u8))
            .ok_or_else(|| AqlError::UnknownAql(text.to_owned()))
    }
}

impl fmt::Display for Aql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(AQL_COLUMNS[self.column()])
    }
}

impl Serialize for Aql {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.value())
    }
}

impl<'de> Deserialize<'de> for Aql {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        value.to_string().parse().map_err(serde::de::Error::custom)
    }
}

/// Which of the three master tables applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Normal,
    Tightened,
    Reduced,
}

impl Severity {
    pub fn words(self) -> &'static str {
        match self {
            Severity::Normal => "normal",
            Severity::Tightened => "tightened",
            Severity::Reduced => "reduced",
        }
    }

    fn table(self) -> &'static [&'static str] {
        match self {
            Severity::Normal => &NORMAL,
            Severity::Tightened => &TIGHTENED,
            Severity::Reduced => &REDUCED,
        }
    }

    fn sample_size(self, row: usize) -> u32 {
        match self {
            Severity::Reduced => REDUCED_SAMPLE_SIZES[row],
            Severity::Normal | Severity::Tightened => SAMPLE_SIZES[row],
        }
    }
}

/// A sample size code letter (A..R, and S for tightened).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeLetter(u8);

impl CodeLetter {
    pub fn letter(self) -> char {
        LETTERS[usize::from(self.0)]
    }

    fn row(self) -> usize {
        usize::from(self.0)
    }

    fn from_letter(letter: char) -> Option<CodeLetter> {
        LETTERS
            .iter()
            .position(|&candidate| candidate == letter)
            .map(|row| CodeLetter(row as u8))
    }
}

impl fmt::Display for CodeLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

impl Serialize for CodeLetter {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Table I: the code letter for a lot of `lot_size` units at `level`.
pub fn code_letter(lot_size: u32, level: InspectionLevel) -> Result<CodeLetter, AqlError> {
    if lot_size == 0 {
        return Err(AqlError::EmptyLot);
    }
    let range = LOT_RANGE_UPPER
        .iter()
        .position(|&upper| lot_size <= upper)
        .unwrap_or(LOT_RANGE_UPPER.len() - 1);
    let letters = TABLE_I
        .iter()
        .find(|(candidate, _)| *candidate == level)
        .map_or("", |(_, letters)| letters);
    let letter = letters.chars().nth(range).unwrap_or('A');
    Ok(CodeLetter::from_letter(letter).unwrap_or(CodeLetter(0)))
}

/// A cell of a master table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Down,
    Up,
    Plan { accept: u32, reject: u32 },
}

fn cell(severity: Severity, row: usize, column: usize) -> Option<Cell> {
    let text = severity.table().get(row)?.split_whitespace().nth(column)?;
    match text {
        "v" => Some(Cell::Down),
        "^" => Some(Cell::Up),
        plan => {
            let (accept, reject) = plan.split_once('/')?;
            Some(Cell::Plan {
                accept: accept.parse().ok()?,
                reject: reject.parse().ok()?,
            })
        }
    }
}

/// A single sampling plan, after the arrows: draw `sample_size` units at random; accept the lot with
/// at most `accept` nonconforming (or nonconformities), reject it with `reject` or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SamplingPlan {
    pub lot_size: u32,
    pub level: InspectionLevel,
    pub aql: Aql,
    pub severity: Severity,
    /// The letter Table I gave for the lot.
    pub table_letter: CodeLetter,
    /// The letter whose plan applies after following the arrows; its sample size is used.
    pub code_letter: CodeLetter,
    /// Units to inspect: the plan's sample size, or the whole lot when that is not larger.
    pub sample_size: u32,
    pub accept: u32,
    pub reject: u32,
    /// The plan's sample is as large as the lot or larger: inspect every unit.
    pub every_unit: bool,
}

/// What a sample's count of nonconforming units (or nonconformities) decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LotVerdict {
    Accept,
    /// Reduced inspection only: more than Ac but fewer than Re. The lot is accepted and normal
    /// inspection is reinstated from the next lot.
    AcceptAndReinstateNormal,
    Reject,
}

impl SamplingPlan {
    pub fn verdict(&self, nonconforming: u32) -> LotVerdict {
        if nonconforming <= self.accept {
            LotVerdict::Accept
        } else if nonconforming >= self.reject {
            LotVerdict::Reject
        } else {
            LotVerdict::AcceptAndReinstateNormal
        }
    }
}

/// The single sampling plan for a lot: Table I, then the master table of `severity`, following its
/// arrows.
pub fn plan(
    lot_size: u32,
    level: InspectionLevel,
    aql: Aql,
    severity: Severity,
) -> Result<SamplingPlan, AqlError> {
    let table_letter = code_letter(lot_size, level)?;
    Ok(plan_from_letter(
        lot_size,
        level,
        aql,
        severity,
        table_letter,
    ))
}

/// The plan when the sample starts from `letter` rather than Table I's: where defect classes with
/// different AQLs lead to different samples, the letter of the largest serves every class.
pub fn plan_from_letter(
    lot_size: u32,
    level: InspectionLevel,
    aql: Aql,
    severity: Severity,
    table_letter: CodeLetter,
) -> SamplingPlan {
    let start = table_letter.row().min(severity.table().len() - 1);
    let (row, accept, reject) = resolve(severity, start, aql.column());
    let plan_size = severity.sample_size(row);
    SamplingPlan {
        lot_size,
        level,
        aql,
        severity,
        table_letter,
        code_letter: CodeLetter(row as u8),
        sample_size: plan_size.min(lot_size),
        accept,
        reject,
        every_unit: plan_size >= lot_size,
    }
}

/// Follows the arrows of one column from `row` to a plan. Every column of every table ends in a plan
/// in both directions (the tests walk them all), so the walk is bounded by the table's height.
fn resolve(severity: Severity, mut row: usize, column: usize) -> (usize, u32, u32) {
    for _ in 0..severity.table().len() {
        match cell(severity, row, column) {
            Some(Cell::Plan { accept, reject }) => return (row, accept, reject),
            Some(Cell::Down) => row += 1,
            Some(Cell::Up) if row > 0 => row -= 1,
            Some(Cell::Up) | None => break,
        }
    }
    // Unreachable with the tables as they are; an all-inspect plan is the safe answer if not.
    (row.min(severity.table().len() - 1), 0, 1)
}

/// The plan in words for a quality engineer: what to draw, when to accept, when to reject.
pub fn describe(plan: &SamplingPlan) -> String {
    let table = match plan.severity {
        Severity::Normal => "II-A",
        Severity::Tightened => "II-B",
        Severity::Reduced => "II-C",
    };
    let mut text = format!(
        "Lot of {} units, inspection level {}, AQL {}, {} inspection (Table {table})\n",
        plan.lot_size,
        plan.level,
        plan.aql,
        plan.severity.words()
    );
    if plan.code_letter == plan.table_letter {
        text += &format!("Code letter:  {}\n", plan.code_letter);
    } else {
        text += &format!(
            "Code letter:  {} (Table I gives {}; the table's arrow leads to {})\n",
            plan.code_letter, plan.table_letter, plan.code_letter
        );
    }
    if plan.every_unit {
        text += &format!(
            "Sample size:  {} units: every unit of the lot (the plan's sample of {} is not smaller)\n",
            plan.sample_size,
            plan.severity.sample_size(plan.code_letter.row())
        );
    } else {
        text += &format!("Sample size:  {} units\n", plan.sample_size);
    }
    text += &if plan.accept == 0 {
        "Accept (Ac):  0: accept the lot only with no nonconforming unit in the sample\n".to_owned()
    } else {
        format!(
            "Accept (Ac):  {}: accept the lot with {} or fewer nonconforming\n",
            plan.accept, plan.accept
        )
    };
    text += &format!(
        "Reject (Re):  {}: reject the lot with {} or more\n",
        plan.reject, plan.reject
    );
    if plan.reject > plan.accept + 1 {
        text += &format!(
            "From {} to {}:   accept the lot and return to normal inspection\n",
            plan.accept + 1,
            plan.reject - 1
        );
    }
    text
}

/// Where a plan stands in the switching rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Normal,
    Tightened,
    Reduced,
    /// Five lots not accepted on tightened inspection: acceptance by sampling stops until the
    /// supplier's corrective action is accepted, then tightened inspection resumes.
    Discontinued,
}

impl Stage {
    pub fn severity(self) -> Option<Severity> {
        match self {
            Stage::Normal => Some(Severity::Normal),
            Stage::Tightened => Some(Severity::Tightened),
            Stage::Reduced => Some(Severity::Reduced),
            Stage::Discontinued => None,
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Stage::Normal => "normal",
            Stage::Tightened => "tightened",
            Stage::Reduced => "reduced",
            Stage::Discontinued => "discontinued",
        }
    }
}

/// The switching rules (ISO 2859-1 clause 9, Z1.4 section 8) for one plan (product, characteristic
/// class, AQL), fed one lot at a time on original inspection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Switching {
    stage: Stage,
    /// Normal: whether each of the last lots (up to 4) was not accepted, newest last.
    recent_rejections: Vec<bool>,
    /// Normal: the ISO switching score.
    switching_score: u32,
    /// Tightened: consecutive lots accepted.
    consecutive_accepted: u32,
    /// Tightened: lots not accepted since tightened inspection began.
    rejected_on_tightened: u32,
}

impl Default for Switching {
    fn default() -> Self {
        Switching::new()
    }
}

/// One lot's result on original inspection, as the switching rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LotResult {
    pub verdict: LotVerdict,
    pub nonconforming: u32,
    /// The acceptance number of the plan the lot was inspected to.
    pub accept: u32,
    /// The responsible authority allows reduced inspection and production is steady. Without it the
    /// switching score still counts, but normal inspection stays.
    pub reduced_permitted: bool,
}

/// A change of stage, with the rule that made it in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub from: Stage,
    pub to: Stage,
    pub reason: &'static str,
}

impl Switching {
    pub fn new() -> Self {
        Switching::at(Stage::Normal)
    }

    fn at(stage: Stage) -> Self {
        Switching {
            stage,
            recent_rejections: Vec::new(),
            switching_score: 0,
            consecutive_accepted: 0,
            rejected_on_tightened: 0,
        }
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    pub fn switching_score(&self) -> u32 {
        self.switching_score
    }

    /// Records a lot inspected at the current stage and returns the switch it causes, if any.
    pub fn record(&mut self, lot: LotResult) -> Option<Switch> {
        let from = self.stage;
        let not_accepted = lot.verdict == LotVerdict::Reject;
        let (to, reason) = match from {
            Stage::Normal => {
                let rejected_within_five = not_accepted && self.recent_rejections.contains(&true);
                self.recent_rejections.push(not_accepted);
                if self.recent_rejections.len() > 4 {
                    self.recent_rejections.remove(0);
                }
                self.switching_score = next_switching_score(self.switching_score, lot);
                if rejected_within_five {
                    (
                        Stage::Tightened,
                        "2 of 5 or fewer consecutive lots not accepted",
                    )
                } else if self.switching_score >= 30 && lot.reduced_permitted {
                    (
                        Stage::Reduced,
                        "switching score reached 30 with reduced inspection permitted",
                    )
                } else {
                    return None;
                }
            }
            Stage::Tightened => {
                if not_accepted {
                    self.consecutive_accepted = 0;
                    self.rejected_on_tightened = self.rejected_on_tightened.saturating_add(1);
                    if self.rejected_on_tightened >= 5 {
                        (
                            Stage::Discontinued,
                            "5 lots not accepted on tightened inspection",
                        )
                    } else {
                        return None;
                    }
                } else {
                    self.consecutive_accepted = self.consecutive_accepted.saturating_add(1);
                    if self.consecutive_accepted >= 5 {
                        (
                            Stage::Normal,
                            "5 consecutive lots accepted on tightened inspection",
                        )
                    } else {
                        return None;
                    }
                }
            }
            Stage::Reduced => match lot.verdict {
                LotVerdict::Accept => return None,
                LotVerdict::AcceptAndReinstateNormal => (
                    Stage::Normal,
                    "more nonconforming than the acceptance number on reduced inspection",
                ),
                LotVerdict::Reject => (Stage::Normal, "a lot not accepted on reduced inspection"),
            },
            Stage::Discontinued => return None,
        };
        *self = Switching::at(to);
        Some(Switch { from, to, reason })
    }

    /// Reduced inspection ends when production becomes irregular or delayed, or the authority says
    /// so; it does not wait for a rejected lot.
    pub fn reinstate_normal(&mut self) -> Option<Switch> {
        (self.stage == Stage::Reduced).then(|| {
            *self = Switching::at(Stage::Normal);
            Switch {
                from: Stage::Reduced,
                to: Stage::Normal,
                reason: "production irregular or normal inspection required",
            }
        })
    }

    /// After the supplier's corrective action is accepted, inspection resumes on tightened.
    pub fn resume(&mut self) -> Option<Switch> {
        (self.stage == Stage::Discontinued).then(|| {
            *self = Switching::at(Stage::Tightened);
            Switch {
                from: Stage::Discontinued,
                to: Stage::Tightened,
                reason: "corrective action accepted; inspection resumes on tightened",
            }
        })
    }
}

/// ISO 2859-1:1999 9.3.3: with Ac ≥ 2, add 3 when the lot would also have been accepted one AQL step
/// tighter, else start again at 0; with Ac 0 or 1, add 2 for an accepted lot, else start again at 0.
fn next_switching_score(score: u32, lot: LotResult) -> u32 {
    if lot.verdict == LotVerdict::Reject {
        return 0;
    }
    if lot.accept >= 2 {
        let tighter = NORMAL_ACCEPTANCE_SERIES
            .iter()
            .rev()
            .find(|&&candidate| candidate < lot.accept)
            .copied()
            .unwrap_or(0);
        if lot.nonconforming <= tighter {
            score.saturating_add(3)
        } else {
            0
        }
    } else {
        score.saturating_add(2)
    }
}

#[cfg(test)]
#[path = "aql_tests.rs"]
mod tests;
