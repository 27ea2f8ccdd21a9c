//! The inspection history of the demo plant's OP10 plan (bore 54.000 ± 0.020 mm in subgroups of 5,
//! visual at AQL 2.5 / 4.0), built by recording inspections through `decide` and `apply`.

use super::*;
use crate::domain::andon::AndonKind;
use crate::domain::aql::Stage;
use crate::domain::event::{Event, NewEvent};
use crate::domain::inspection::DefectFound;
use crate::domain::master::{Lot, LotOrigin, LotStatus};
use crate::domain::{Command, GENESIS_HASH, Rejection, State, StationId, apply, decide};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default()
}

fn tote(n: u32) -> String {
    format!("L1-S1-251124-{n:06}")
}

/// The demo plant at L1-S1 with 40 totes of 50 made at OP10, and the inspector logged in.
fn station() -> State {
    let mut master = MasterData::default();
    for record in crate::central::demo::master_records(now().date_naive()) {
        record.apply_to(&mut master);
    }
    for n in 1..=40 {
        master.lots.insert(
            tote(n).as_str().into(),
            Lot {
                id: tote(n).as_str().into(),
                material: "BC-200-M".into(),
                quantity: crate::domain::Quantity::units(50),
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
    }
    let mut state = State::new(StationId::from("L1-S1"), master);
    run(
        &mut state,
        Command::Login {
            badge: "EMP-2001".into(),
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

fn bores(lot: u32, values: &[f64]) -> Command {
    Command::Inspect {
        lot: tote(lot).as_str().into(),
        inspected: 13,
        findings: values
            .iter()
            .map(|value| ("BORE".to_owned(), format!("{value}")))
            .collect(),
        defects: Vec::new(),
    }
}

/// A subgroup of 5 around 54 mm + `offset`, with a range of 0.004 mm.
fn subgroup(offset: f64) -> Vec<f64> {
    [-0.002, 0.001, 0.0, 0.002, -0.001]
        .iter()
        .map(|d| 54.0 + offset + d)
        .collect()
}

/// Offsets of a process in control: small, alternating, never a run.
const NOISE: [f64; 8] = [
    0.0005, -0.0004, 0.0003, -0.0006, 0.0002, -0.0003, 0.0006, -0.0002,
];

fn alerts(kinds: &[EventKind]) -> Vec<(String, String)> {
    kinds
        .iter()
        .filter_map(|kind| match kind {
            EventKind::QualityAlert {
                characteristic,
                rule,
                ..
            } => Some((characteristic.clone(), rule.clone())),
            _ => None,
        })
        .collect()
}

fn andon_called(kinds: &[EventKind]) -> bool {
    kinds.iter().any(|kind| {
        matches!(
            kind,
            EventKind::AndonCalled {
                call: AndonKind::Quality
            }
        )
    })
}

#[test]
fn each_inspection_adds_its_values_to_the_series_in_the_characteristics_unit() {
    let mut state = station();
    run(&mut state, bores(1, &subgroup(0.0))).expect("recorded");
    let keyed_in_microns = Command::Inspect {
        lot: tote(2).as_str().into(),
        inspected: 5,
        findings: vec![
            ("BORE".into(), "54003um".into()),
            ("bore".into(), "54.001".into()),
            ("VISUAL".into(), "pass".into()),
        ],
        defects: Vec::new(),
    };
    run(&mut state, keyed_in_microns).expect("recorded");
    let plan = state
        .quality
        .plan(&"BC-200".into(), &"OP10".into())
        .expect("the plan's history");
    let series = plan.series("BORE").expect("a bore series");
    assert_eq!(series.points.len(), 2);
    assert_eq!(series.points[0].values, subgroup(0.0));
    let second = &series.points[1].values;
    assert_eq!(second.len(), 2);
    assert!((second[0] - 54.003).abs() < 1e-9, "{second:?}");
    assert!(plan.series("VISUAL").is_none(), "attributes have no chart");
    assert_eq!(plan.inspections.len(), 2);

    // The chart cuts the values into whole subgroups of 5: the two of lot 2 make none yet.
    let characteristic = state.master.inspection_plans[&("BC-200".into(), "OP10".into())]
        .characteristic("BORE")
        .cloned()
        .expect("bore");
    assert_eq!(chart_input(&characteristic, &series.points).len(), 1);
}

#[test]
fn a_process_in_control_raises_no_alert_and_a_shift_raises_one_with_a_quality_andon() {
    let mut state = station();
    for (n, offset) in NOISE.iter().enumerate() {
        let kinds = run(&mut state, bores(n as u32 + 1, &subgroup(*offset))).expect("recorded");
        assert!(alerts(&kinds).is_empty(), "noise at {n} alerted: {kinds:?}");
        assert!(!andon_called(&kinds));
    }
    // The tool wears: the next subgroup sits 0.012 mm up, inside the specification (54.020) but
    // far outside the process's own limits.
    let kinds = run(&mut state, bores(20, &subgroup(0.012))).expect("recorded");
    assert_eq!(alerts(&kinds), vec![("BORE".into(), "WE1".into())]);
    assert!(andon_called(&kinds), "{kinds:?}");
    let Some(EventKind::InspectionRecorded { verdict, .. }) = kinds.first() else {
        panic!("the inspection first: {kinds:?}");
    };
    assert_ne!(
        *verdict,
        InspectionVerdict::Reject,
        "in specification: the lot is not rejected, the process is flagged"
    );
    assert_eq!(state.andon.map(|call| call.kind), Some(AndonKind::Quality));
    let plan = state
        .quality
        .plan(&"BC-200".into(), &"OP10".into())
        .expect("history");
    assert_eq!(plan.alerts.len(), 1);
    assert_eq!(plan.alerts[0].rule, "WE1");

    // Back in control: the shifted subgroup already alerted and is not alerted again, and the
    // limits left it out, so good subgroups after it do not look shifted.
    for (n, offset) in NOISE.iter().take(3).enumerate() {
        let kinds = run(&mut state, bores(21 + n as u32, &subgroup(*offset))).expect("recorded");
        assert!(alerts(&kinds).is_empty(), "{kinds:?}");
        assert!(!andon_called(&kinds));
    }
}

#[test]
fn nelson_rules_see_a_trend_western_electric_does_not_look_for() {
    let rising = [-0.0012, -0.0008, -0.0004, 0.0, 0.0004, 0.0008];
    let record_all = |rules| {
        let mut state = station();
        state.settings.spc_rules = rules;
        let mut raised = Vec::new();
        for (n, offset) in NOISE.iter().chain(&rising).enumerate() {
            let kinds = run(&mut state, bores(n as u32 + 1, &subgroup(*offset))).expect("recorded");
            raised.extend(alerts(&kinds).into_iter().map(|(_, rule)| rule));
        }
        raised
    };
    assert!(record_all(RuleSet::Nelson).contains(&"N3".to_owned()));
    assert!(
        !record_all(RuleSet::WesternElectric)
            .iter()
            .any(|rule| rule == "N3")
    );
}

fn visual(lot: u32, defects: u32) -> Command {
    Command::Inspect {
        lot: tote(lot).as_str().into(),
        inspected: 50,
        findings: vec![("VISUAL".into(), "pass".into())],
        defects: if defects == 0 {
            Vec::new()
        } else {
            vec![DefectFound {
                code: "D-101".into(),
                quantity: defects,
                location: None,
            }]
        },
    }
}

fn severity_recorded(kinds: &[EventKind]) -> Option<Severity> {
    kinds.iter().find_map(|kind| match kind {
        EventKind::InspectionRecorded { severity, .. } => Some(*severity),
        _ => None,
    })
}

#[test]
fn two_rejected_lots_tighten_the_plan_and_five_on_tightened_discontinue_it() {
    let mut state = station();
    let op10 = || ("BC-200".into(), "OP10".into());
    // Lot 50 inspected whole: three porosities are more than any plan for it accepts.
    let kinds = run(&mut state, visual(1, 3)).expect("recorded");
    assert_eq!(severity_recorded(&kinds), Some(Severity::Normal));
    // An unfinished inspection of lot 2 first: the finished one still counts.
    let unfinished = Command::Inspect {
        lot: tote(2).as_str().into(),
        inspected: 3,
        findings: vec![("VISUAL".into(), "pass".into())],
        defects: Vec::new(),
    };
    run(&mut state, unfinished).expect("recorded");
    run(&mut state, visual(2, 0)).expect("recorded");
    // A re-inspection of lot 1 says how its rework went: it does not count for switching.
    run(&mut state, visual(1, 3)).expect("recorded");
    assert_eq!(state.quality.stage(&op10().0, &op10().1), Stage::Normal);
    run(&mut state, visual(3, 3)).expect("recorded");
    assert_eq!(state.quality.stage(&op10().0, &op10().1), Stage::Tightened);

    let kinds = run(&mut state, visual(4, 0)).expect("recorded");
    assert_eq!(
        severity_recorded(&kinds),
        Some(Severity::Tightened),
        "the next lot is inspected on tightened and the record says so"
    );
    for lot in 5..10 {
        run(&mut state, visual(lot, 3)).expect("recorded");
    }
    assert_eq!(
        state.quality.stage(&op10().0, &op10().1),
        Stage::Discontinued
    );
    let refused = run(&mut state, visual(10, 0)).expect_err("discontinued");
    assert!(
        refused
            .to_string()
            .contains("inspection discontinued after 5 lots on tightened: an inspector resumes it"),
        "{refused}"
    );

    // Resuming: signed, with the corrective action, by someone whose role may; then tightened.
    let resume = |reason: &str, badge: &str| Command::ResumeInspection {
        product: op10().0,
        operation: op10().1,
        reason: reason.into(),
        signatures: crate::domain::signature::Signatures {
            signer: crate::domain::signature::SignatureInput {
                badge: badge.into(),
                meaning: crate::domain::signature::Meaning::Approved,
            },
            second: None,
        },
    };
    let refused = run(&mut state, resume(" ", "EMP-2001")).expect_err("no reason");
    assert!(
        refused
            .to_string()
            .contains("say which corrective action was accepted"),
        "{refused}"
    );
    let kinds = run(
        &mut state,
        resume("die repaired, 8D-2211 accepted", "EMP-2001"),
    )
    .expect("resumed");
    assert!(
        matches!(&kinds[..], [EventKind::InspectionResumed { reason, .. }, EventKind::Signed { .. }]
            if reason == "die repaired, 8D-2211 accepted"),
        "{kinds:?}"
    );
    assert_eq!(state.quality.stage(&op10().0, &op10().1), Stage::Tightened);
    let kinds = run(&mut state, visual(10, 0)).expect("inspected again");
    assert_eq!(severity_recorded(&kinds), Some(Severity::Tightened));
    let refused = run(&mut state, resume("again", "EMP-2001")).expect_err("not discontinued");
    assert!(
        refused
            .to_string()
            .contains("is not discontinued (it is on tightened"),
        "{refused}"
    );
}

#[test]
fn five_accepted_lots_on_tightened_return_to_normal() {
    let mut state = station();
    for lot in [1, 2] {
        run(&mut state, visual(lot, 3)).expect("recorded");
    }
    assert_eq!(
        state.quality.stage(&"BC-200".into(), &"OP10".into()),
        Stage::Tightened
    );
    for lot in 3..8 {
        run(&mut state, visual(lot, 0)).expect("recorded");
    }
    assert_eq!(
        state.quality.stage(&"BC-200".into(), &"OP10".into()),
        Stage::Normal
    );
}

#[test]
fn the_book_survives_json_as_the_store_keeps_it() {
    let mut state = station();
    for (n, offset) in NOISE.iter().enumerate() {
        run(&mut state, bores(n as u32 + 1, &subgroup(*offset))).expect("recorded");
    }
    let json = serde_json::to_string(&state.quality).expect("json");
    let back: QualityBook = serde_json::from_str(&json).expect("read back");
    assert_eq!(back, state.quality);
}
