use super::*;

fn aql(text: &str) -> Aql {
    text.parse().expect("valid")
}

fn level(text: &str) -> InspectionLevel {
    text.parse().expect("valid")
}

/// Table I as the standard prints it: one row per lot-size range, one letter per level in the order
/// S-1 S-2 S-3 S-4 I II III. Transcribed separately from the implementation's per-level strings, so a
/// slip in either shows.
const TABLE_I_BY_RANGE: [(u32, u32, &str); 15] = [
    (2, 8, "AAAAAAB"),
    (9, 15, "AAAAABC"),
    (16, 25, "AABBBCD"),
    (26, 50, "ABBCCDE"),
    (51, 90, "BBCCCEF"),
    (91, 150, "BBCDDFG"),
    (151, 280, "BCDEEGH"),
    (281, 500, "BCDEFHJ"),
    (501, 1200, "CCEFGJK"),
    (1201, 3200, "CDEGHKL"),
    (3201, 10_000, "CDFGJLM"),
    (10_001, 35_000, "CDFHKMN"),
    (35_001, 150_000, "DEGJLNP"),
    (150_001, 500_000, "DEGJMPQ"),
    (500_001, u32::MAX, "DEHKNQR"),
];

const LEVELS: [InspectionLevel; 7] = [
    InspectionLevel::S1,
    InspectionLevel::S2,
    InspectionLevel::S3,
    InspectionLevel::S4,
    InspectionLevel::I,
    InspectionLevel::II,
    InspectionLevel::III,
];

#[test]
fn every_cell_of_table_i_at_both_ends_of_its_lot_range() {
    for (low, high, letters) in TABLE_I_BY_RANGE {
        for (level, expected) in LEVELS.iter().zip(letters.chars()) {
            for lot in [low, low + (high - low) / 2, high] {
                let letter = code_letter(lot, *level).expect("valid").letter();
                assert_eq!(letter, expected, "lot {lot} at level {level}");
            }
        }
    }
    // A single unit is a lot too (the smallest range's letter; its sample covers it).
    assert_eq!(
        code_letter(1, InspectionLevel::II).expect("valid").letter(),
        'A'
    );
    assert_eq!(code_letter(0, InspectionLevel::II), Err(AqlError::EmptyLot));
}

/// The layout of the master tables stated as a rule, apart from the tables' text: along a row, arrows
/// down until the 0/1 plan, which sits one column further left for each larger letter; then the
/// table's series; then arrows up. This catches a slip in the transcribed grids (a cell typed wrong,
/// a row shifted); whether the layout itself is the standard's is what the published cells below pin.
fn expected_cell(severity: Severity, row: usize, column: usize) -> Cell {
    let series: Vec<&str> = match severity {
        Severity::Normal => {
            let mut series = vec![
                "0/1", "^", "v", "1/2", "2/3", "3/4", "5/6", "7/8", "10/11", "14/15", "21/22",
            ];
            if row <= 4 {
                series.extend(["30/31", "44/45"]);
            }
            series
        }
        Severity::Tightened => {
            let mut series = vec![
                "0/1", "v", "v", "1/2", "2/3", "3/4", "5/6", "8/9", "12/13", "18/19",
            ];
            if row <= 4 {
                series.extend(["27/28", "41/42"]);
            }
            series
        }
        Severity::Reduced => {
            let mut series = vec![
                "0/1", "0/2", "1/3", "1/4", "2/5", "3/6", "5/8", "7/10", "10/13", "14/17", "21/24",
            ];
            if REDUCED_SAMPLE_SIZES[row] <= 13 {
                series.extend(["30/31", "44/45"]);
            }
            series
        }
    };
    let zero_one_column: i64 = match severity {
        Severity::Normal => 14 - row as i64,
        Severity::Tightened => 15 - row as i64,
        // A reduced row's plans are those of the normal row with the same sample size.
        Severity::Reduced => {
            14 - SAMPLE_SIZES
                .iter()
                .position(|&n| n == REDUCED_SAMPLE_SIZES[row])
                .expect("valid") as i64
        }
    };
    // The cells where the plain diagonal would point off the table, and tightened S.
    let text = match (severity, row, column) {
        (Severity::Normal, 0, 15) => "v",
        (Severity::Normal, 15, 1) => "^",
        (Severity::Reduced, 15, 0) => "0/1",
        (Severity::Tightened, 16, 1 | 2) => "1/2",
        (Severity::Tightened, 16, _) => "^",
        _ => {
            let offset = column as i64 - zero_one_column;
            if offset < 0 {
                "v"
            } else {
                series.get(offset as usize).copied().unwrap_or("^")
            }
        }
    };
    match text {
        "v" => Cell::Down,
        "^" => Cell::Up,
        plan => {
            let (accept, reject) = plan.split_once('/').expect("valid");
            Cell::Plan {
                accept: accept.parse().expect("valid"),
                reject: reject.parse().expect("valid"),
            }
        }
    }
}

#[test]
fn every_cell_of_tables_ii_a_b_c_agrees_with_the_layout_rule() {
    for severity in [Severity::Normal, Severity::Tightened, Severity::Reduced] {
        for (row, (text, letter)) in severity.table().iter().zip(LETTERS).enumerate() {
            assert_eq!(
                text.split_whitespace().count(),
                AQL_COLUMNS.len(),
                "{} row {letter}",
                severity.words(),
            );
            for (column, aql) in AQL_COLUMNS.iter().enumerate() {
                assert_eq!(
                    cell(severity, row, column),
                    Some(expected_cell(severity, row, column)),
                    "{} table, letter {letter}, AQL {aql}",
                    severity.words(),
                );
            }
        }
    }
}

#[test]
fn every_arrow_of_every_table_leads_to_a_plan_on_the_table() {
    for severity in [Severity::Normal, Severity::Tightened, Severity::Reduced] {
        for row in 0..severity.table().len() {
            for column in 0..AQL_COLUMNS.len() {
                let mut at = row;
                let mut steps = 0;
                loop {
                    match cell(severity, at, column).expect("valid") {
                        Cell::Plan { accept, reject } => {
                            assert!(reject > accept);
                            break;
                        }
                        Cell::Down => at += 1,
                        Cell::Up => at = at.checked_sub(1).expect("an arrow up off the table"),
                    }
                    assert!(at < severity.table().len(), "an arrow down off the table");
                    steps += 1;
                    assert!(
                        steps < 20,
                        "arrows in a loop: {} {} {}",
                        severity.words(),
                        row,
                        column
                    );
                }
            }
        }
    }
}

/// Effective single-sampling plans, normal inspection, level II, letters A..Q at AQL 0.65 to 6.5, as
/// published (cross-checked against the NIBS level-II table): `n:Ac/Re` after the arrows.
const LEVEL_II_NORMAL: [(char, u32, [&str; 6]); 15] = [
    (
        'A',
        5,
        ["20:0/1", "13:0/1", "8:0/1", "5:0/1", "3:0/1", "2:0/1"],
    ),
    (
        'B',
        12,
        ["20:0/1", "13:0/1", "8:0/1", "5:0/1", "3:0/1", "2:0/1"],
    ),
    (
        'C',
        20,
        ["20:0/1", "13:0/1", "8:0/1", "5:0/1", "3:0/1", "8:1/2"],
    ),
    (
        'D',
        40,
        ["20:0/1", "13:0/1", "8:0/1", "5:0/1", "13:1/2", "8:1/2"],
    ),
    (
        'E',
        70,
        ["20:0/1", "13:0/1", "8:0/1", "20:1/2", "13:1/2", "13:2/3"],
    ),
    (
        'F',
        100,
        ["20:0/1", "13:0/1", "32:1/2", "20:1/2", "20:2/3", "20:3/4"],
    ),
    (
        'G',
        200,
        ["20:0/1", "50:1/2", "32:1/2", "32:2/3", "32:3/4", "32:5/6"],
    ),
    (
        'H',
        400,
        ["80:1/2", "50:1/2", "50:2/3", "50:3/4", "50:5/6", "50:7/8"],
    ),
    (
        'J',
        1000,
        ["80:1/2", "80:2/3", "80:3/4", "80:5/6", "80:7/8", "80:10/11"],
    ),
    (
        'K',
        2000,
        [
            "125:2/3",
            "125:3/4",
            "125:5/6",
            "125:7/8",
            "125:10/11",
            "125:14/15",
        ],
    ),
    (
        'L',
        5000,
        [
            "200:3/4",
            "200:5/6",
            "200:7/8",
            "200:10/11",
            "200:14/15",
            "200:21/22",
        ],
    ),
    (
        'M',
        20_000,
        [
            "315:5/6",
            "315:7/8",
            "315:10/11",
            "315:14/15",
            "315:21/22",
            "200:21/22",
        ],
    ),
    (
        'N',
        100_000,
        [
            "500:7/8",
            "500:10/11",
            "500:14/15",
            "500:21/22",
            "315:21/22",
            "200:21/22",
        ],
    ),
    (
        'P',
        300_000,
        [
            "800:10/11",
            "800:14/15",
            "800:21/22",
            "500:21/22",
            "315:21/22",
            "200:21/22",
        ],
    ),
    (
        'Q',
        1_000_000,
        [
            "1250:14/15",
            "1250:21/22",
            "800:21/22",
            "500:21/22",
            "315:21/22",
            "200:21/22",
        ],
    ),
];

fn shown(plan: &SamplingPlan) -> String {
    format!("{}:{}/{}", plan.sample_size, plan.accept, plan.reject)
}

#[test]
fn level_ii_normal_plans_match_the_published_table() {
    for (letter, lot, cells) in LEVEL_II_NORMAL {
        for (aql_text, expected) in ["0.65", "1.0", "1.5", "2.5", "4.0", "6.5"]
            .iter()
            .zip(cells)
        {
            let plan =
                plan(lot, InspectionLevel::II, aql(aql_text), Severity::Normal).expect("valid");
            assert_eq!(plan.table_letter.letter(), letter, "lot {lot}");
            let expected_n: u32 = expected
                .split(':')
                .next()
                .expect("valid")
                .parse()
                .expect("valid");
            // A sample as large as the lot means every unit; the plan's Ac/Re still decide.
            let expected = if expected_n >= lot {
                expected.replacen(&expected_n.to_string(), &lot.to_string(), 1)
            } else {
                expected.to_owned()
            };
            assert_eq!(shown(&plan), expected, "letter {letter}, AQL {aql_text}");
        }
    }
}

/// Tightened (Table II-B) plans at level II as published (NIBS FMOC table 1-B, after the arrows):
/// (lot, AQL, letter, n, Ac, Re).
const LEVEL_II_TIGHTENED: [(u32, &str, char, u32, u32, u32); 7] = [
    (40, "2.5", 'D', 8, 0, 1),
    (70, "1.5", 'E', 13, 0, 1),
    (70, "2.5", 'G', 32, 1, 2),
    (200, "0.65", 'G', 32, 0, 1),
    (1000, "0.25", 'J', 80, 0, 1),
    (1000, "1.0", 'J', 80, 1, 2),
    (1000, "2.5", 'J', 80, 3, 4),
];

#[test]
fn level_ii_tightened_plans_match_the_published_cells() {
    for (lot, aql_text, letter, n, accept, reject) in LEVEL_II_TIGHTENED {
        let plan =
            plan(lot, InspectionLevel::II, aql(aql_text), Severity::Tightened).expect("valid");
        assert_eq!(
            (
                plan.code_letter.letter(),
                plan.sample_size,
                plan.accept,
                plan.reject
            ),
            (letter, n, accept, reject),
            "lot {lot}, AQL {aql_text}"
        );
    }
}

#[test]
fn known_plans_from_the_issue_and_the_pitfalls() {
    // Lot 1,000 at level II: J, n = 80; AQL 2.5 → Ac 5 / Re 6 (not the 10/11 of arrow-less walks).
    let normal = plan(1000, level("II"), aql("2.5"), Severity::Normal).expect("valid");
    assert_eq!(
        (
            normal.code_letter.letter(),
            normal.sample_size,
            normal.accept,
            normal.reject
        ),
        ('J', 80, 5, 6)
    );
    assert!(!normal.every_unit);
    // Lot 100 at AQL 1.0: F's cell points up to E, n = 13, Ac 0 (not F, n = 20, 1/2).
    let arrow = plan(100, level("II"), aql("1.0"), Severity::Normal).expect("valid");
    assert_eq!(arrow.table_letter.letter(), 'F');
    assert_eq!(
        (
            arrow.code_letter.letter(),
            arrow.sample_size,
            arrow.accept,
            arrow.reject
        ),
        ('E', 13, 0, 1)
    );
    // Tightened keeps n and lowers Ac one step; reduced uses the reduced sample and keeps the gap.
    let tightened = plan(1000, level("II"), aql("2.5"), Severity::Tightened).expect("valid");
    assert_eq!(
        (tightened.sample_size, tightened.accept, tightened.reject),
        (80, 3, 4)
    );
    let reduced = plan(1000, level("II"), aql("2.5"), Severity::Reduced).expect("valid");
    assert_eq!(
        (reduced.sample_size, reduced.accept, reduced.reject),
        (32, 2, 5)
    );
    // Tightened: R has 0/1 at AQL 0.010; at 0.025 it points down to S, n = 3150, 1/2.
    let r = plan(1_000_000, level("III"), aql("0.010"), Severity::Tightened).expect("valid");
    assert_eq!(
        (r.code_letter.letter(), r.sample_size, r.accept, r.reject),
        ('R', 2000, 0, 1)
    );
    let s = plan(1_000_000, level("III"), aql("0.025"), Severity::Tightened).expect("valid");
    assert_eq!(
        (s.code_letter.letter(), s.sample_size, s.accept, s.reject),
        ('S', 3150, 1, 2)
    );
    // A lot smaller than the sample: every unit.
    let small = plan(6, level("II"), aql("0.65"), Severity::Normal).expect("valid");
    assert!(small.every_unit);
    assert_eq!(small.sample_size, 6);
    // Special levels give small samples.
    let s1 = plan(1000, level("S-1"), aql("4.0"), Severity::Normal).expect("valid");
    assert_eq!(
        (s1.table_letter.letter(), s1.sample_size, s1.accept),
        ('C', 3, 0)
    );
}

#[test]
fn aql_and_level_text_is_read_strictly() {
    assert_eq!(aql("2.50"), aql("2.5"));
    assert_eq!(aql("0.01"), aql("0.010"));
    assert_eq!(aql("1000").to_string(), "1000");
    assert!(matches!("2.4".parse::<Aql>(), Err(AqlError::UnknownAql(_))));
    assert!(matches!("abc".parse::<Aql>(), Err(AqlError::UnknownAql(_))));
    assert_eq!(level("s-4"), InspectionLevel::S4);
    assert_eq!(level("ii"), InspectionLevel::II);
    assert!("IV".parse::<InspectionLevel>().is_err());
    assert_eq!(Aql::all().count(), 26);
}

#[test]
fn verdicts_including_the_reduced_gap() {
    let reduced = plan(1000, level("II"), aql("2.5"), Severity::Reduced).expect("valid");
    assert_eq!(reduced.verdict(2), LotVerdict::Accept);
    assert_eq!(reduced.verdict(3), LotVerdict::AcceptAndReinstateNormal);
    assert_eq!(reduced.verdict(4), LotVerdict::AcceptAndReinstateNormal);
    assert_eq!(reduced.verdict(5), LotVerdict::Reject);
    let normal = plan(1000, level("II"), aql("2.5"), Severity::Normal).expect("valid");
    assert_eq!(normal.verdict(5), LotVerdict::Accept);
    assert_eq!(normal.verdict(6), LotVerdict::Reject);
}

fn lot(verdict: LotVerdict, nonconforming: u32, accept: u32, permitted: bool) -> LotResult {
    LotResult {
        verdict,
        nonconforming,
        accept,
        reduced_permitted: permitted,
    }
}

const OK: LotVerdict = LotVerdict::Accept;
const NG: LotVerdict = LotVerdict::Reject;

/// Feeds a series of lots (Ac 5 plans, 0 or 6 nonconforming) and returns the stage after each.
fn stages(start: &mut Switching, series: &str, permitted: bool) -> String {
    series
        .chars()
        .map(|c| {
            let result = match c {
                '+' => lot(OK, 0, 5, permitted),
                '-' => lot(NG, 6, 5, permitted),
                '~' => lot(LotVerdict::AcceptAndReinstateNormal, 3, 2, permitted),
                _ => unreachable!(),
            };
            start.record(result);
            match start.stage() {
                Stage::Normal => 'N',
                Stage::Tightened => 'T',
                Stage::Reduced => 'R',
                Stage::Discontinued => 'D',
            }
        })
        .collect()
}

#[test]
fn switching_rules_table() {
    // (lots: + accepted, - not accepted, ~ reduced gap; reduced permitted; stages after each lot)
    let cases = [
        // Two rejections within five consecutive lots → tightened.
        ("+-+++-", false, "NNNNNT"),
        ("-+++-", false, "NNNNT"),
        ("--", false, "NT"),
        // Five lots apart is not within five: stays normal.
        ("-++++-", false, "NNNNNN"),
        // Tightened → normal after five consecutive accepted; a rejection restarts the count.
        ("--+++++", false, "NTTTTTN"),
        ("--++++-+++++", false, "NTTTTTTTTTTN"),
        // Five not accepted on tightened → discontinued (cumulative, not consecutive).
        ("---+--+--", false, "NTTTTTTTD"),
        // Normal → reduced: Ac ≥ 2 and 0 found adds 3 per lot: ten lots reach 30, only if permitted.
        ("++++++++++", true, "NNNNNNNNNR"),
        ("++++++++++", false, "NNNNNNNNNN"),
        // A rejected lot resets the score.
        ("+++++-++++++++++", true, "NNNNNNNNNNNNNNNR"),
        // Reduced → normal on a rejected lot or a gap lot.
        ("++++++++++-", true, "NNNNNNNNNRN"),
        ("++++++++++~", true, "NNNNNNNNNRN"),
    ];
    for (series, permitted, expected) in cases {
        let mut switching = Switching::new();
        assert_eq!(
            stages(&mut switching, series, permitted),
            expected,
            "series {series}, reduced permitted {permitted}"
        );
    }
}

#[test]
fn switching_score_per_iso_2859_1() {
    // Ac ≥ 2: +3 only when the lot would pass one step tighter (Ac 5 → 3).
    assert_eq!(next_switching_score(6, lot(OK, 3, 5, true)), 9);
    assert_eq!(next_switching_score(6, lot(OK, 4, 5, true)), 0);
    assert_eq!(next_switching_score(6, lot(OK, 1, 2, true)), 9);
    assert_eq!(next_switching_score(6, lot(OK, 2, 2, true)), 0);
    // Ac 0 or 1: +2 per accepted lot.
    assert_eq!(next_switching_score(6, lot(OK, 1, 1, true)), 8);
    assert_eq!(next_switching_score(6, lot(OK, 0, 0, true)), 8);
    assert_eq!(next_switching_score(6, lot(NG, 1, 0, true)), 0);
    // Fifteen accepted Ac-0 lots reach 30.
    let mut switching = Switching::new();
    for n in 1..=15 {
        let switch = switching.record(lot(OK, 0, 0, true));
        assert_eq!(switching.stage() == Stage::Reduced, n == 15);
        assert_eq!(switch.is_some(), n == 15);
    }
}

#[test]
fn discontinued_resumes_on_tightened_and_reduced_can_be_ended() {
    let mut switching = Switching::new();
    stages(&mut switching, "-------", false);
    assert_eq!(switching.stage(), Stage::Discontinued);
    assert_eq!(switching.record(lot(OK, 0, 5, false)), None);
    let resumed = switching.resume().expect("valid");
    assert_eq!(
        (resumed.from, resumed.to),
        (Stage::Discontinued, Stage::Tightened)
    );
    assert_eq!(switching.resume(), None);

    let mut reduced = Switching::new();
    stages(&mut reduced, "++++++++++", true);
    assert_eq!(reduced.stage(), Stage::Reduced);
    assert!(reduced.reinstate_normal().is_some());
    assert_eq!(reduced.stage(), Stage::Normal);
    assert_eq!(reduced.switching_score(), 0);
}
