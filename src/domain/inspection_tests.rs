//! Inspection plans of the demo plant (DEMO_PLANT.md, Quality): OP10 bore 54.000 ± 0.020 mm with a
//! visual check at AQL 2.5 (major) / 4.0 (minor), level II.

use super::*;

fn catalog() -> BTreeMap<String, Code> {
    let defect = |code: &str, text: &str, class| Code {
        code: code.into(),
        text: text.into(),
        kind: CodeKind::Defect { class },
    };
    [
        defect("D-101", "porosity", DefectClass::Major),
        defect("D-102", "bore oversize", DefectClass::Major),
        defect("D-103", "burr", DefectClass::Minor),
        defect("D-201", "missing seal", DefectClass::Critical),
        Code {
            code: "R-11".into(),
            text: "spindle".into(),
            kind: CodeKind::Downtime { planned: false },
        },
    ]
    .into_iter()
    .map(|code| (code.code.clone(), code))
    .collect()
}

fn op10(aql: bool) -> InspectionPlan {
    InspectionPlan {
        product: "BC-200".into(),
        operation: "OP10".into(),
        characteristics: vec![
            Characteristic {
                id: "BORE".into(),
                name: "bore diameter".into(),
                kind: CharacteristicKind::Variable {
                    nominal: 54.0,
                    lower: Some(53.98),
                    upper: Some(54.02),
                    unit: "mm".into(),
                    gauge: Some("BG-54".into()),
                    subgroup: Some(5),
                },
                sampling: Sampling::EveryNth { n: 20 },
                class: DefectClass::Major,
                plc_value: None,
            },
            Characteristic {
                id: "VISUAL".into(),
                name: "visual".into(),
                kind: CharacteristicKind::Attribute,
                sampling: Sampling::Aql,
                class: DefectClass::Minor,
                plc_value: None,
            },
        ],
        aql: aql.then(|| AqlSampling {
            level: InspectionLevel::II,
            major: "2.5".parse().expect("aql"),
            minor: "4.0".parse().expect("aql"),
        }),
        first_article_gates: true,
    }
}

fn bore(value: f64, unit: &str) -> Measurement {
    Measurement {
        characteristic: "BORE".into(),
        value: MeasuredValue::Number {
            value,
            unit: unit.into(),
        },
    }
}

fn defect(code: &str, quantity: u32) -> DefectFound {
    DefectFound {
        code: code.into(),
        quantity,
        location: None,
    }
}

fn lot(inspected: u32) -> Sample {
    Sample {
        lot_size: 1000,
        inspected,
        severity: Severity::Normal,
    }
}

#[test]
fn a_full_aql_sample_within_the_acceptance_numbers_is_accepted() {
    // Lot 1000, level II: J, n = 80; major AQL 2.5 → Ac 5, minor AQL 4.0 → Ac 7.
    let defects = [defect("D-101", 3), defect("D-102", 2), defect("D-103", 7)];
    let assessment = assess(
        &op10(true),
        &catalog(),
        lot(80),
        &[bore(54.01, "mm")],
        &defects,
    )
    .expect("valid findings");
    assert_eq!(assessment.verdict, Verdict::Accept);
    assert_eq!(assessment.nonconforming[&DefectClass::Major], 5);
    assert_eq!(assessment.plans[&DefectClass::Minor].accept, 7);
    assert!(assessment.judged[0].conforms);
}

#[test]
fn a_class_at_its_rejection_number_rejects_even_before_the_sample_is_complete() {
    let assessment = assess(
        &op10(true),
        &catalog(),
        lot(40),
        &[bore(54.03, "mm")],
        &[defect("D-101", 6)],
    )
    .expect("valid findings");
    // The bore is checked every 20th unit, not by the lot's AQL sample: out of specification, it
    // rejects on its own. Six major defects reach the AQL plan's Re 6.
    let Verdict::Reject { reasons } = assessment.verdict else {
        panic!("expected a reject, got {:?}", assessment.verdict);
    };
    assert_eq!(
        reasons,
        [
            "major BORE 54.03 mm out of specification",
            "6 major nonconforming, the plan rejects at 6 (n = 80, AQL 2.5)"
        ]
    );
    assert_eq!(assessment.nonconforming[&DefectClass::Major], 6);
    assert_eq!(
        assessment.lot_verdicts[&DefectClass::Major],
        aql::LotVerdict::Reject
    );
}

#[test]
fn every_class_is_judged_at_the_letter_of_the_largest_sample() {
    // Lot 60, level II: E. Major 2.5 points down to F (n = 20, 1/2); minor 4.0 at E is n = 13, 1/2.
    // One sample of 20 is drawn, so minor is judged at F too: 2/3.
    let sample = Sample {
        lot_size: 60,
        inspected: 20,
        severity: Severity::Normal,
    };
    let assessment =
        assess(&op10(true), &catalog(), sample, &[], &[defect("D-103", 2)]).expect("valid");
    let minor = assessment.plans[&DefectClass::Minor];
    assert_eq!(
        (
            minor.code_letter.letter(),
            minor.sample_size,
            minor.accept,
            minor.reject
        ),
        ('F', 20, 2, 3)
    );
    assert_eq!(minor.table_letter.letter(), 'E');
    assert_eq!(assessment.verdict, Verdict::Accept);
}

#[test]
fn a_reduced_lot_between_ac_and_re_is_accepted_and_says_so() {
    // Reduced J: n = 32, major AQL 2.5 → 2/5.
    let sample = Sample {
        lot_size: 1000,
        inspected: 32,
        severity: Severity::Reduced,
    };
    let assessment =
        assess(&op10(true), &catalog(), sample, &[], &[defect("D-101", 3)]).expect("valid");
    assert_eq!(assessment.verdict, Verdict::Accept);
    assert_eq!(
        assessment.lot_verdicts[&DefectClass::Major],
        aql::LotVerdict::AcceptAndReinstateNormal
    );
}

#[test]
fn a_gross_failure_on_a_one_sided_limit_is_a_reject_not_a_typing_slip() {
    let mut plan = op10(false);
    plan.characteristics[0] = Characteristic {
        id: "LEAK".into(),
        name: "leak rate".into(),
        kind: CharacteristicKind::Variable {
            nominal: 0.2,
            lower: None,
            upper: Some(0.5),
            unit: "ml/min".into(),
            gauge: None,
            subgroup: None,
        },
        sampling: Sampling::EveryUnit,
        class: DefectClass::Critical,
        plc_value: Some("leak_rate".into()),
    };
    let unit = Sample {
        lot_size: 1,
        inspected: 1,
        severity: Severity::Normal,
    };
    let leak = Measurement {
        characteristic: "LEAK".into(),
        value: MeasuredValue::Number {
            value: 25.0,
            unit: "ml/min".into(),
        },
    };
    let assessment = assess(&plan, &catalog(), unit, &[leak], &[]).expect("a real reading");
    assert_eq!(
        assessment.verdict,
        Verdict::Reject {
            reasons: vec!["critical LEAK 25 ml/min out of specification".into()]
        }
    );
}

#[test]
fn quantities_that_overflow_and_empty_lots_are_refused() {
    let refused = assess(
        &op10(true),
        &catalog(),
        lot(80),
        &[],
        &[defect("D-101", u32::MAX), defect("D-102", 1)],
    );
    assert!(matches!(refused, Err(InspectionRefusal::TooMany(1))));
    let empty = Sample {
        lot_size: 0,
        inspected: 0,
        severity: Severity::Normal,
    };
    assert_eq!(
        assess(&op10(false), &catalog(), empty, &[], &[]),
        Err(InspectionRefusal::EmptyLot)
    );
}

#[test]
fn a_subgroup_is_the_first_units_of_every_nth() {
    let bore = &op10(true).characteristics[0];
    let measured: Vec<u64> = (1..=45).filter(|unit| bore.due(*unit)).collect();
    assert_eq!(
        measured,
        [1, 2, 3, 4, 5, 21, 22, 23, 24, 25, 41, 42, 43, 44, 45]
    );
    assert!(
        !op10(true).characteristics[1].due(1),
        "AQL samples come from the lot"
    );
}

#[test]
fn an_incomplete_sample_says_how_many_are_still_needed() {
    let assessment =
        assess(&op10(true), &catalog(), lot(30), &[], &[defect("D-103", 1)]).expect("valid");
    assert_eq!(
        assessment.verdict,
        Verdict::Incomplete {
            inspected: 30,
            needed: 80
        }
    );
}

#[test]
fn a_critical_defect_always_rejects() {
    let assessment =
        assess(&op10(true), &catalog(), lot(80), &[], &[defect("D-201", 1)]).expect("valid");
    assert_eq!(
        assessment.verdict,
        Verdict::Reject {
            reasons: vec!["critical defect D-201 missing seal (1)".into()]
        }
    );
}

#[test]
fn without_aql_any_nonconformity_rejects_the_unit() {
    let unit = Sample {
        lot_size: 1,
        inspected: 1,
        severity: Severity::Normal,
    };
    let ok = assess(&op10(false), &catalog(), unit, &[bore(53.98, "mm")], &[]).expect("valid");
    assert_eq!(ok.verdict, Verdict::Accept);
    let bad = assess(&op10(false), &catalog(), unit, &[bore(53.979, "mm")], &[]).expect("valid");
    assert_eq!(
        bad.verdict,
        Verdict::Reject {
            reasons: vec!["major BORE 53.979 mm out of specification".into()]
        }
    );
}

#[test]
fn units_convert_and_wrong_ones_are_refused() {
    let unit = Sample {
        lot_size: 1,
        inspected: 1,
        severity: Severity::Normal,
    };
    let microns = assess(&op10(false), &catalog(), unit, &[bore(54_010.0, "µm")], &[])
        .expect("µm converts to mm");
    assert_eq!(microns.verdict, Verdict::Accept);
    assert_eq!(
        assess(&op10(false), &catalog(), unit, &[bore(54.0, "kg")], &[]),
        Err(InspectionRefusal::WrongUnit {
            id: "BORE".into(),
            expected: "mm".into(),
            given: "kg".into()
        })
    );
}

#[test]
fn bad_findings_are_refused_in_words() {
    let plan = op10(true);
    let refused = |measurements: &[Measurement], defects: &[DefectFound]| {
        assess(&plan, &catalog(), lot(80), measurements, defects)
            .expect_err("refused")
            .to_string()
    };
    // A slipped decimal point: 540 mm for a 54 mm bore.
    assert_eq!(
        refused(&[bore(540.0, "mm")], &[]),
        "BORE = 540 mm cannot be a reading (nominal 54 mm); check the number"
    );
    assert!(refused(&[bore(f64::NAN, "mm")], &[]).contains("cannot be a reading"));
    assert_eq!(
        refused(
            &[Measurement {
                characteristic: "TORQUE".into(),
                value: MeasuredValue::Pass
            }],
            &[]
        ),
        "TORQUE is not a characteristic of this inspection plan"
    );
    assert_eq!(
        refused(
            &[Measurement {
                characteristic: "bore".into(),
                value: MeasuredValue::Pass
            }],
            &[]
        ),
        "BORE is measured: key its value, not pass or fail"
    );
    assert_eq!(
        refused(&[], &[defect("D-999", 1)]),
        "D-999 is not in the defect catalog"
    );
    assert_eq!(
        refused(&[], &[defect("R-11", 1)]),
        "R-11 is a downtime reason, not a defect"
    );
    assert_eq!(
        refused(&[], &[defect("D-101", 0)]),
        "a defect needs a quantity of at least 1"
    );
    let too_many = assess(
        &plan,
        &catalog(),
        Sample {
            lot_size: 10,
            inspected: 11,
            severity: Severity::Normal,
        },
        &[],
        &[],
    );
    assert!(matches!(
        too_many,
        Err(InspectionRefusal::SampleLargerThanLot { .. })
    ));
}

#[test]
fn a_characteristic_without_limits_takes_any_finite_reading() {
    let mut plan = op10(false);
    plan.characteristics[0].kind = CharacteristicKind::Variable {
        nominal: 0.0,
        lower: None,
        upper: None,
        unit: "mm".into(),
        gauge: None,
        subgroup: None,
    };
    let unit = Sample {
        lot_size: 1,
        inspected: 1,
        severity: Severity::Normal,
    };
    let assessment = assess(&plan, &catalog(), unit, &[bore(12.5, "mm")], &[]).expect("valid");
    assert_eq!(assessment.verdict, Verdict::Accept);
    assert!(assess(&plan, &catalog(), unit, &[bore(f64::INFINITY, "mm")], &[]).is_err());
}

#[test]
fn sampling_rules_say_which_units_are_inspected() {
    assert!(Sampling::EveryUnit.due(7));
    assert!(Sampling::EveryNth { n: 20 }.due(40));
    assert!(!Sampling::EveryNth { n: 20 }.due(41));
    assert!(!Sampling::EveryNth { n: 0 }.due(1));
    assert!(Sampling::FirstPiece.due(1));
    assert!(!Sampling::FirstPiece.due(2));
    assert!(!Sampling::Aql.due(1));
}

#[test]
fn tightened_inspection_uses_the_tightened_plans() {
    let sample = Sample {
        severity: Severity::Tightened,
        ..lot(80)
    };
    let assessment = assess(&op10(true), &catalog(), sample, &[], &[defect("D-101", 4)])
        .expect("valid findings");
    // Tightened J, AQL 2.5: Ac 3, Re 4.
    assert!(matches!(assessment.verdict, Verdict::Reject { .. }));
}

#[test]
fn plans_read_from_json_as_central_would_send_them() {
    let json = serde_json::to_string(&op10(true)).expect("serialise");
    let back: InspectionPlan = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, op10(true));
    assert!(json.contains(r#""rule":"every_nth","n":20"#), "{json}");
}

/// Recording at a station of the demo plant: an inspector, a tote of 20 made at OP10 for WO-24001.
mod recording {
    use super::*;
    use crate::domain::event::{Event, EventKind, NewEvent};
    use crate::domain::master::{Lot, LotOrigin, LotStatus};
    use crate::domain::rejection::Rejection;
    use crate::domain::{
        Command, GENESIS_HASH, LotId, MasterData, State, StationId, apply, decide,
    };
    use chrono::{DateTime, Utc};

    const TOTE: &str = "L1-S1-251124-000001";

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default()
    }

    fn station(badge: &str) -> State {
        let mut master = MasterData::default();
        for record in crate::central::demo::master_records(now().date_naive()) {
            record.apply_to(&mut master);
        }
        master.lots.insert(
            TOTE.into(),
            Lot {
                id: TOTE.into(),
                material: "BC-200-M".into(),
                quantity: crate::domain::Quantity::units(20),
                expiry: None,
                status: LotStatus::Released,
                status_reason: None,
                origin: LotOrigin::Produced {
                    station: "L1-S1".into(),
                    work_order: "WO-24001".into(),
                    operation: "OP10".into(),
                    at: now(),
                },
                status_at: None,
                rework: None,
            },
        );
        let mut state = State::new(StationId::from("L1-S2"), master);
        run(
            &mut state,
            Command::Login {
                badge: badge.into(),
                pin_matches: true,
            },
        )
        .expect("login");
        state
    }

    fn run(state: &mut State, command: Command) -> Result<Vec<EventKind>, Rejection> {
        let events: Vec<NewEvent> = decide(state, command, now())?;
        Ok(events
            .into_iter()
            .map(|new| {
                let event = Event::seal(
                    new,
                    state.station.clone(),
                    1,
                    uuid::Uuid::nil(),
                    GENESIS_HASH.into(),
                );
                apply(state, &event);
                event.kind
            })
            .collect())
    }

    fn inspect(findings: &[(&str, &str)], defects: &[DefectFound]) -> Command {
        Command::Inspect {
            lot: TOTE.into(),
            inspected: 5,
            findings: findings
                .iter()
                .map(|(id, value)| ((*id).to_owned(), (*value).to_owned()))
                .collect(),
            defects: defects.to_vec(),
        }
    }

    #[test]
    fn a_passing_sample_is_recorded_and_the_lot_stays_released() {
        let mut state = station("EMP-2001");
        let kinds = run(
            &mut state,
            inspect(&[("VISUAL", "pass"), ("bore", "54.005")], &[]),
        )
        .expect("recorded");
        let [
            EventKind::InspectionRecorded {
                verdict,
                findings,
                lot_size,
                product,
                ..
            },
        ] = kinds.as_slice()
        else {
            panic!("one inspection event: {kinds:?}");
        };
        assert_eq!(*verdict, InspectionVerdict::Accept);
        assert_eq!((*lot_size, product.as_str()), (20, "BC-200"));
        assert_eq!(findings[1].value, "54.005 mm");
        let lot = state.lot(&LotId::from(TOTE)).expect("lot");
        assert_eq!(lot.status, LotStatus::Released);
    }

    #[test]
    fn a_failed_inspection_holds_the_lot_in_the_same_append() {
        let mut state = station("EMP-2001");
        // Lot 20, level II: C, n = 5; major AQL 2.5 → 0/1: one porosity rejects.
        let kinds = run(&mut state, inspect(&[], &[defect("D-101", 1)])).expect("recorded");
        assert!(matches!(
            &kinds[0],
            EventKind::InspectionRecorded {
                verdict: InspectionVerdict::Reject,
                ..
            }
        ));
        assert_eq!(
            kinds[1],
            EventKind::LotHeld {
                lot: TOTE.into(),
                reason: "failed inspection: 1 major nonconforming, the plan rejects at 1 (n = 5, AQL 2.5)"
                    .into()
            }
        );
        let lot = state.lot(&LotId::from(TOTE)).expect("lot");
        assert_eq!(lot.status, LotStatus::OnHold);
        // Inspected again while held: recorded, no second hold.
        let again = run(&mut state, inspect(&[], &[defect("D-101", 1)])).expect("recorded");
        assert_eq!(again.len(), 1);
    }

    #[test]
    fn bad_findings_and_the_wrong_people_record_nothing() {
        let mut state = station("EMP-2001");
        let refused =
            |state: &mut State, command| run(state, command).expect_err("refused").to_string();
        assert_eq!(
            refused(&mut state, inspect(&[("TORQUE", "5")], &[])),
            "Nothing recorded: TORQUE is not a characteristic of this inspection plan."
        );
        assert_eq!(
            refused(&mut state, inspect(&[("BORE", "five")], &[])),
            "Nothing recorded: BORE: \"five\" is not a value; key a number (with its unit) or pass / fail."
        );
        assert_eq!(
            refused(&mut state, inspect(&[("BORE", "54.0 kg")], &[])),
            "Nothing recorded: BORE is measured in mm, not kg."
        );
        assert_eq!(
            refused(&mut state, inspect(&[], &[defect("D-999", 1)])),
            "Nothing recorded: D-999 is not in the defect catalog."
        );
        let supplier = Command::Inspect {
            lot: "C24-1107".into(),
            inspected: 1,
            findings: Vec::new(),
            defects: Vec::new(),
        };
        let words = refused(&mut state, supplier);
        assert!(words.contains("came from a supplier"), "{words}");

        let mut operator = station("EMP-1001");
        let words = refused(&mut operator, inspect(&[("VISUAL", "pass")], &[]));
        assert!(words.contains("record inspections"), "{words}");
        let lot = operator.lot(&LotId::from(TOTE)).expect("lot");
        assert_eq!(lot.status, LotStatus::Released);
    }
}
