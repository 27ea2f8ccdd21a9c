//! Material flow against the demo plant of DEMO_PLANT.md: poka-yoke refusals in operator words,
//! the permit, BOM-rate consumption, totes and serials with their genealogy.

use super::*;
use crate::domain::event::Event;
use crate::domain::{
    Command, GENESIS_HASH, MasterData, OutputForm, PlcSample, State, StationId, apply, decide,
    observe,
};
use crate::domain::{Consumption, ConsumptionBasis};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default()
}

fn today() -> NaiveDate {
    now().date_naive()
}

fn demo_master() -> MasterData {
    let mut master = MasterData::default();
    for record in crate::central::demo::master_records(today()) {
        record.apply_to(&mut master);
    }
    master
}

fn commit(state: &mut State, events: Vec<NewEvent>) -> Vec<EventKind> {
    events
        .into_iter()
        .map(|new| {
            let event = Event::seal(
                new,
                state.station.clone(),
                1,
                Uuid::nil(),
                GENESIS_HASH.into(),
            );
            apply(state, &event);
            event.kind
        })
        .collect()
}

fn run(state: &mut State, command: Command) -> Result<Vec<EventKind>, Rejection> {
    let events = decide(state, command, now())?;
    Ok(commit(state, events))
}

/// Logged in at `station` with `order` selected.
fn at(station: &str, order: &str) -> State {
    let mut state = State::new(StationId::from(station), demo_master());
    run(
        &mut state,
        Command::Login {
            badge: "EMP-1001".into(),
            pin_matches: true,
        },
    )
    .expect("login");
    run(&mut state, Command::SelectWorkOrder { id: order.into() }).expect("select");
    state
}

fn label(lot: &str, gtin: &str, quantity: Option<&str>) -> Command {
    Command::LoadLot {
        label: LotLabel {
            lot: lot.into(),
            gtin: Some(gtin.into()),
            material: None,
            quantity: quantity.and_then(Quantity::parse),
            expiry: None,
            produced: None,
        },
        entry: Entry::Scanned,
    }
}

const CAST_200: &str = "00401234500012";
const CAST_210: &str = "00401234500029";
const PST_54: &str = "00401234500111";
const PST_48: &str = "00401234500128";
const SEAL_54: &str = "00401234500210";
const GRS_1: &str = "00401234500319";
const BOX_2: &str = "00401234500418";

fn wip(lot: &str, material: &str) -> Command {
    Command::LoadLot {
        label: LotLabel {
            lot: lot.into(),
            gtin: None,
            material: Some(material.into()),
            quantity: Some(Quantity::units(20)),
            expiry: None,
            produced: None,
        },
        entry: Entry::Scanned,
    }
}

/// Boxes drawn whole when their bin is scanned, not per unit.
fn boxes_per_scan(state: &mut State) {
    for bom in std::sync::Arc::make_mut(&mut state.master)
        .boms
        .values_mut()
    {
        for line in &mut bom.lines {
            if line.material.as_str() == "BOX-2" {
                line.consumption = Consumption::PerScan;
            }
        }
    }
}

fn refusal(state: &mut State, command: Command) -> String {
    match run(state, command) {
        Err(rejection) => rejection.to_string(),
        Ok(events) => panic!("accepted: {events:?}"),
    }
}

fn units(state: &mut State, produced: u64, rejected: u64) -> Vec<EventKind> {
    let processed = state.counters.map_or(0, |c| c.processed);
    let defective = state.counters.map_or(0, |c| c.defective);
    if state.counters.is_none() {
        commit(state, observe(state, &sample(0, 0), now()));
    }
    let next = sample(processed + produced as u32, defective + rejected as u32);
    let events = observe(state, &next, now());
    commit(state, events)
}

/// A running PLC's sample at boot epoch 1 (the domain tests' own helper).
fn sample(processed: u32, defective: u32) -> PlcSample {
    crate::domain::tests::sample(1, processed, defective)
}

#[test]
fn the_wrong_material_is_refused_naming_the_expected_one() {
    let mut state = at("L1-S1", "WO-24001");
    assert_eq!(
        refusal(&mut state, label("C24-2210", CAST_210, None)),
        "WRONG MATERIAL: expected CAST-200 (caliper casting 54), scanned CAST-210 (caliper casting 48) (lot C24-2210). WO-24001 at OP10 does not use it."
    );
    let mut state = at("L1-S2", "WO-24001");
    let text = refusal(&mut state, label("P24-2305", PST_48, None));
    assert!(
        text.starts_with("WRONG MATERIAL: expected PST-54 (piston 54 mm), scanned PST-48"),
        "{text}"
    );
}

#[test]
fn held_expired_and_unknown_lots_are_refused() {
    let mut state = at("L1-S1", "WO-24001");
    assert_eq!(
        refusal(&mut state, label("C24-1031", CAST_200, None)),
        "Lot C24-1031 is ON HOLD (porosity suspected). Do not use it: set it aside and take another lot."
    );
    let mut state = at("L1-S2", "WO-24001");
    let text = refusal(&mut state, label("S23-0912", SEAL_54, None));
    assert!(text.starts_with("Lot S23-0912 EXPIRED on "), "{text}");
    // A label's own use-by date counts too, and the shelf life from its production date.
    let text = refusal(
        &mut state,
        Command::LoadLot {
            label: LotLabel {
                lot: "S99-0001".into(),
                gtin: Some(SEAL_54.into()),
                material: None,
                quantity: Some(Quantity::units(10)),
                expiry: None,
                produced: today().checked_sub_days(chrono::Days::new(731)),
            },
            entry: Entry::Scanned,
        },
    );
    assert!(text.starts_with("Lot S99-0001 EXPIRED"), "{text}");
    assert!(
        refusal(&mut state, label("X-1", "00401234599995", Some("5")))
            .contains("GTIN 00401234599995, which is no material known here")
    );
    assert!(
        refusal(&mut state, label("P99-0001", PST_54, None))
            .contains("does not say how much it holds")
    );
    // Nothing selected: nothing to feed.
    let mut idle = State::new(StationId::from("L1-S1"), demo_master());
    run(
        &mut idle,
        Command::Login {
            badge: "EMP-1001".into(),
            pin_matches: true,
        },
    )
    .expect("login");
    assert_eq!(
        refusal(&mut idle, label("C24-1107", CAST_200, None)),
        "Select a work order before scanning material."
    );
}

#[test]
fn a_lot_whose_label_contradicts_its_record_is_refused() {
    let mut state = at("L1-S1", "WO-24001");
    // C24-1107 is registered as CAST-200; a label calling it CAST-210 is a mislabel, not a new lot.
    assert!(
        refusal(&mut state, label("C24-1107", CAST_210, None))
            .contains("registered as CAST-200, but its label says CAST-210")
    );
}

#[test]
fn the_permit_waits_for_every_material_and_drops_on_a_hold() {
    let mut state = at("L1-S2", "WO-24001");
    run(&mut state, Command::Start).expect("start");
    let missing: Vec<String> = missing_materials(&state, now())
        .iter()
        .map(|m| m.material.to_string())
        .collect();
    assert_eq!(missing, ["BC-200-M", "PST-54", "SEAL-54", "GRS-1"]);
    assert!(!state.permit_to_run(now()));
    run(&mut state, wip("L1-S1-251124-000001", "BC-200-M")).expect("wip lot");
    run(&mut state, label("P24-2201", PST_54, None)).expect("pistons");
    run(&mut state, label("S24-0815", SEAL_54, None)).expect("seals");
    assert!(!state.permit_to_run(now()), "grease still missing");
    run(&mut state, label("G24-0101", GRS_1, None)).expect("grease");
    assert!(state.permit_to_run(now()));
    assert_eq!(
        refusal(&mut state, label("G24-0101", GRS_1, None)),
        "Lot G24-0101 is already loaded for GRS-1."
    );
    // Central puts the seal lot on hold: the machine stops at once.
    if let Some(lot) = std::sync::Arc::make_mut(&mut state.master)
        .lots
        .get_mut(&LotId::from("S24-0815"))
    {
        lot.status = LotStatus::OnHold;
    }
    assert!(!state.permit_to_run(now()));
    assert_eq!(
        missing_materials(&state, now())[0].why,
        "lot S24-0815 is on hold"
    );
}

#[test]
fn a_new_supplier_lot_is_registered_then_used_up() {
    let mut state = at("L1-S1", "WO-24001");
    let kinds = run(&mut state, label("C25-0001", CAST_200, Some("2"))).expect("new lot");
    assert!(
        matches!(&kinds[0], EventKind::LotRegistered { lot, material, .. }
        if lot.as_str() == "C25-0001" && material.as_str() == "CAST-200")
    );
    assert!(matches!(
        &kinds[1],
        EventKind::LotLoaded {
            entry: Entry::Scanned,
            ..
        }
    ));
    run(&mut state, Command::Start).expect("start");
    assert!(state.permit_to_run(now()));
    units(&mut state, 2, 0);
    assert!(
        !state.permit_to_run(now()),
        "two castings used, the lot is empty"
    );
    assert_eq!(
        missing_materials(&state, now())[0].why,
        "lot C25-0001 is used up"
    );
    assert_eq!(
        refusal(&mut state, label("C25-0001", CAST_200, Some("2"))),
        "Lot C25-0001 is used up. Scan the next lot."
    );
}

#[test]
fn units_draw_material_and_fill_totes_with_their_lots() {
    let mut state = at("L1-S1", "WO-24001");
    without_first_article(&mut state);
    run(&mut state, label("C24-1107", CAST_200, None)).expect("load");
    run(&mut state, Command::Start).expect("start");
    let kinds = units(&mut state, 25, 2);
    let consumed: Vec<_> = kinds
        .iter()
        .filter_map(|k| match k {
            EventKind::LotConsumed { lot, quantity, .. } => Some((lot.to_string(), *quantity)),
            _ => None,
        })
        .collect();
    // Rejected calipers used their casting too.
    assert_eq!(consumed, [("C24-1107".to_owned(), Quantity::units(25))]);
    let outputs: Vec<_> = kinds
        .iter()
        .filter_map(|k| match k {
            EventKind::OutputCreated {
                output,
                form,
                quantity,
                inputs,
                next_operation,
                material,
                ..
            } => Some((
                output.to_string(),
                *form,
                *quantity,
                inputs.clone(),
                next_operation.clone(),
                material.to_string(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        outputs,
        [(
            "L1-S1-251124-000001".to_owned(),
            OutputForm::Lot,
            Quantity::units(20),
            vec![LotId::from("C24-1107")],
            Some("OP20".into()),
            "BC-200-M".to_owned(),
        )]
    );
    // Lot change mid-tote: the next tote was made from both lots.
    run(&mut state, label("C25-0002", CAST_200, Some("100"))).expect("new lot");
    let kinds = units(&mut state, 20, 0);
    let inputs = kinds.iter().find_map(|k| match k {
        EventKind::OutputCreated { inputs, .. } => Some(inputs.clone()),
        _ => None,
    });
    assert_eq!(
        inputs,
        Some(vec![LotId::from("C24-1107"), LotId::from("C25-0002")])
    );
    // Completing closes the part-filled tote: no unit vanishes.
    let kinds = run(&mut state, Command::Complete).expect("complete");
    assert!(
        matches!(&kinds[0], EventKind::OutputCreated { quantity, inputs, output, .. }
        if *quantity == Quantity::units(3)
            && inputs == &vec![LotId::from("C25-0002")]
            && output.as_str() == "L1-S1-251124-000003")
    );
    assert!(matches!(&kinds[1], EventKind::WorkOrderCompleted { .. }));
}

#[test]
fn the_last_operation_makes_one_serial_per_good_unit() {
    let mut state = at("L1-S3", "WO-24001");
    run(&mut state, wip("L1-S2-251124-000001", "BC-200-A")).expect("assembled tote");
    run(&mut state, label("B24-0007", BOX_2, None)).expect("boxes");
    run(&mut state, Command::Start).expect("start");
    let kinds = units(&mut state, 3, 1);
    let serials: Vec<_> = kinds
        .iter()
        .filter_map(|k| match k {
            EventKind::OutputCreated {
                output,
                form: OutputForm::Serial,
                inputs,
                next_operation: None,
                ..
            } => Some((output.to_string(), inputs.len())),
            _ => None,
        })
        .collect();
    assert_eq!(
        serials,
        [
            ("L1-S3-251124-000001".to_owned(), 2),
            ("L1-S3-251124-000002".to_owned(), 2)
        ]
    );
    assert_eq!(state.outputs_made, 2);
}

#[test]
fn output_id_patterns_must_be_unique_without_coordination() {
    assert!(check_output_id_pattern(DEFAULT_OUTPUT_ID_PATTERN).is_ok());
    assert!(check_output_id_pattern("{station}-{wo}-{seq}").is_ok());
    assert!(check_output_id_pattern("{date}-{seq}").is_err());
    assert!(check_output_id_pattern("{station}-{seq}-{shift}").is_err());
}

#[test]
fn a_keyed_quantity_is_drawn_from_the_lot_loaded_last() {
    let mut state = at("L1-S2", "WO-24001");
    assert_eq!(
        refusal(
            &mut state,
            Command::ConsumeKeyed {
                quantity: Quantity::units(1)
            }
        ),
        "No lot is loaded for this order: scan a lot before keying a quantity."
    );
    run(&mut state, label("G24-0101", GRS_1, None)).expect("grease");
    let kinds = run(
        &mut state,
        Command::ConsumeKeyed {
            quantity: Quantity::parse("0.25").expect("quantity"),
        },
    )
    .expect("keyed");
    assert!(
        matches!(&kinds[0], EventKind::LotConsumed { lot, basis: ConsumptionBasis::Keyed, quantity, .. }
        if lot.as_str() == "G24-0101" && quantity.to_string() == "0.25")
    );
    let grease = state
        .lot(&LotId::from("G24-0101"))
        .map(|lot| lot.into_owned())
        .expect("lot");
    assert_eq!(state.lot_remaining(&grease).to_string(), "4.75");
}

#[test]
fn a_bin_consumed_per_scan_is_drawn_whole_and_never_runs_out() {
    let mut state = at("L1-S3", "WO-24001");
    boxes_per_scan(&mut state);
    let kinds = run(&mut state, label("B25-0100", BOX_2, Some("50"))).expect("bin of boxes");
    assert!(
        matches!(kinds.last(), Some(EventKind::LotConsumed { basis: ConsumptionBasis::Label, quantity, .. })
        if *quantity == Quantity::units(50))
    );
    run(&mut state, wip("L1-S2-251124-000001", "BC-200-A")).expect("tote");
    run(&mut state, Command::Start).expect("start");
    assert!(
        state.permit_to_run(now()),
        "a consumed bin does not block the permit"
    );
    let kinds = units(&mut state, 2, 0);
    assert!(
        !kinds.iter().any(
            |k| matches!(k, EventKind::LotConsumed { material, .. } if material.as_str() == "BOX-2")
        ),
        "units draw nothing more from the bin"
    );
    // The same bin again is empty: it was drawn whole. The next bin is consumed at its scan.
    assert_eq!(
        refusal(&mut state, label("B25-0100", BOX_2, Some("50"))),
        "Lot B25-0100 is used up. Scan the next lot."
    );
    let kinds = run(&mut state, label("B25-0101", BOX_2, Some("50"))).expect("next bin");
    assert_eq!(kinds.len(), 3, "registered, loaded, consumed: {kinds:?}");
}

#[test]
fn a_second_gtin_of_a_material_is_the_same_material() {
    let mut state = at("L1-S1", "WO-24001");
    if let Some(casting) = std::sync::Arc::make_mut(&mut state.master)
        .materials
        .get_mut(&MaterialId::from("CAST-200"))
    {
        // The same casting from a second foundry.
        casting.other_gtins.push("00401234500036".into());
    }
    let kinds = run(&mut state, label("F25-0001", "00401234500036", Some("50"))).expect("loaded");
    assert!(
        matches!(&kinds[0], EventKind::LotRegistered { material, .. } if material.as_str() == "CAST-200")
    );
}

// ---- review findings (branch `review`) ----

/// Central marks a bin drawn whole at its scan as Consumed (plant-wide usage reached its quantity)
/// and sends that record to every station; the permit must not drop for a per-scan line.
#[test]
fn a_per_scan_bin_marked_consumed_by_central_keeps_the_permit() {
    let mut state = at("L1-S3", "WO-24001");
    boxes_per_scan(&mut state);
    run(&mut state, label("B25-0100", BOX_2, Some("50"))).expect("bin of boxes");
    run(&mut state, wip("L1-S2-251124-000001", "BC-200-A")).expect("tote");
    run(&mut state, Command::Start).expect("start");
    assert!(state.permit_to_run(now()));
    // What central sends after ingesting LotRegistered(50) + LotConsumed(50): refresh_used_up.
    let mut record = state.lots[&LotId::from("B25-0100")].clone();
    record.status = LotStatus::Consumed;
    std::sync::Arc::make_mut(&mut state.master)
        .lots
        .insert(record.id.clone(), record);
    assert!(
        state.permit_to_run(now()),
        "machine stopped by a bin that was meant to be drawn whole: {:?}",
        missing_materials(&state, now())
    );
}

/// A lot that expires while loaded keeps feeding the order: the permit never looks at expiry.
#[test]
fn a_loaded_lot_that_expires_drops_the_permit() {
    let mut state = at("L1-S2", "WO-24001");
    run(&mut state, Command::Start).expect("start");
    run(&mut state, wip("L1-S1-251124-000001", "BC-200-M")).expect("wip lot");
    run(&mut state, label("P24-2201", PST_54, None)).expect("pistons");
    run(&mut state, label("S24-0815", SEAL_54, None)).expect("seals");
    run(&mut state, label("G24-0101", GRS_1, None)).expect("grease");
    assert!(state.permit_to_run(now()));
    // Next morning: the grease lot's use-by date has passed (or central corrects its expiry).
    if let Some(lot) = std::sync::Arc::make_mut(&mut state.master)
        .lots
        .get_mut(&LotId::from("G24-0101"))
    {
        lot.expiry = today().checked_sub_days(chrono::Days::new(1));
    }
    assert!(
        !state.permit_to_run(now()),
        "an expired lot still feeds the machine"
    );
}

/// A keyed quantity skips every poka-yoke check: held lot, more than the lot holds.
#[test]
fn a_keyed_quantity_from_a_held_or_empty_lot_is_refused() {
    let mut state = at("L1-S2", "WO-24001");
    run(&mut state, label("G24-0101", GRS_1, None)).expect("grease (5 kg)");
    assert!(
        run(
            &mut state,
            Command::ConsumeKeyed {
                quantity: Quantity::units(500)
            }
        )
        .is_err(),
        "500 kg keyed from a 5 kg lot was accepted"
    );
    if let Some(lot) = std::sync::Arc::make_mut(&mut state.master)
        .lots
        .get_mut(&LotId::from("G24-0101"))
    {
        lot.status = LotStatus::OnHold;
    }
    assert!(
        run(
            &mut state,
            Command::ConsumeKeyed {
                quantity: Quantity::parse("0.1").expect("q")
            }
        )
        .is_err(),
        "keyed draw from a lot on hold was accepted"
    );
}

/// Quality holds a tote this order made here: the machine must not make more of the same until
/// quality decides. The permit drops with the hold's reason in words, and comes back on release.
#[test]
fn a_hold_on_this_orders_own_output_drops_the_permit_until_released() {
    use crate::domain::interlock::{Blocker, blockers};
    let mut state = at("L1-S1", "WO-24001");
    without_first_article(&mut state);
    run(&mut state, label("C24-1107", CAST_200, None)).expect("castings");
    run(&mut state, Command::Start).expect("start");
    let kinds = units(&mut state, 20, 0);
    let tote = kinds
        .iter()
        .find_map(|k| match k {
            EventKind::OutputCreated { output, .. } => Some(output.clone()),
            _ => None,
        })
        .expect("a full tote");
    assert!(state.permit_to_run(now()));
    // Central's record of the tote, now on hold (what the downlink brings).
    let mut held = state.lots[&tote].clone();
    held.status = LotStatus::OnHold;
    held.status_reason = Some("bore out of tolerance".into());
    std::sync::Arc::make_mut(&mut state.master)
        .lots
        .insert(tote.clone(), held.clone());
    assert!(!state.permit_to_run(now()));
    let found = blockers(&state, now());
    assert_eq!(
        found,
        vec![Blocker::QualityHold {
            lot: tote.clone(),
            status: LotStatus::OnHold,
            reason: Some("bore out of tolerance".into()),
        }]
    );
    assert_eq!(
        found[0].words(),
        format!("QUALITY HOLD: {tote} made here is on hold (bore out of tolerance)")
    );
    // Another station's or another order's held lot is not this machine's business.
    let mut elsewhere = held.clone();
    elsewhere.id = LotId::from("L1-S9-000001");
    elsewhere.origin = crate::domain::LotOrigin::Produced {
        station: StationId::from("L1-S9"),
        work_order: crate::domain::WorkOrderId::from("WO-24001"),
        operation: crate::domain::OperationId::from("OP10"),
        at: now(),
    };
    // Released by quality: the permit is back.
    held.status = LotStatus::Released;
    held.status_reason = None;
    let master = std::sync::Arc::make_mut(&mut state.master);
    master.lots.insert(tote, held);
    master.lots.insert(elsewhere.id.clone(), elsewhere);
    assert!(state.permit_to_run(now()), "{:?}", blockers(&state, now()));
}

/// The permissions matrix, enforced by `decide` for every command a person can give, for every
/// role: refused in words exactly where the matrix says no, never where it says yes.
#[test]
fn decide_enforces_the_matrix_for_every_command_and_role() {
    use crate::domain::andon::AndonKind;
    use crate::domain::permission::{Action, Role, permits};
    let commands = [
        (
            Command::SelectWorkOrder {
                id: "WO-24002".into(),
            },
            Action::SelectWorkOrder,
        ),
        (Command::Start, Action::RunWorkOrder),
        (Command::Resume, Action::RunWorkOrder),
        (Command::Pause, Action::PauseWorkOrder),
        (Command::Complete, Action::CompleteWorkOrder),
        (label("C24-1107", CAST_200, None), Action::FeedMaterial),
        (
            Command::ConsumeKeyed {
                quantity: Quantity::units(1),
            },
            Action::FeedMaterial,
        ),
        (
            Command::CodeDowntime {
                reason: "R-11".into(),
                stop: None,
            },
            Action::CodeDowntime,
        ),
        (
            Command::CodeDowntime {
                reason: "R-81".into(),
                stop: None,
            },
            Action::DeclarePlannedDowntime,
        ),
        (
            Command::Andon {
                kind: AndonKind::Help,
            },
            Action::Andon,
        ),
        (Command::ResetMachine, Action::ResetMachine),
        (
            Command::HoldLot {
                lot: "C24-1107".into(),
                reason: "porosity".into(),
            },
            Action::HoldLot,
        ),
        (
            Command::ReleaseLot {
                lot: "C24-1031".into(),
                signatures: signed_by("EMP-1001", crate::domain::signature::Meaning::Approved),
            },
            Action::ReleaseHold,
        ),
        (
            Command::Correct {
                target: Box::new(Event::seal(
                    NewEvent {
                        at: now(),
                        actor: Actor::Plc,
                        kind: EventKind::UnitsProduced {
                            work_order: Some("WO-24001".into()),
                            produced: 5,
                            rejected: 0,
                            plc_epoch: 1,
                            processed_total: 5,
                            defective_total: 0,
                        },
                    },
                    "L1-S1".into(),
                    1,
                    Uuid::nil(),
                    GENESIS_HASH.into(),
                )),
                now: crate::domain::correction::Correction::Count {
                    produced: 4,
                    rejected: 1,
                },
                reason: "C-03".into(),
                signatures: signed_by("EMP-1001", crate::domain::signature::Meaning::Performed),
            },
            Action::Correct,
        ),
        (
            Command::Inspect {
                lot: "C24-1107".into(),
                inspected: 1,
                findings: Vec::new(),
                defects: Vec::new(),
            },
            Action::Inspect,
        ),
        (
            Command::Dispose {
                lot: "C24-1031".into(),
                parts: vec![crate::domain::disposition::PartRequest {
                    quantity: None,
                    disposition: crate::domain::disposition::Disposition::Scrap,
                }],
                reason: "porosity".into(),
                signatures: signed_by("EMP-1001", crate::domain::signature::Meaning::Approved),
            },
            Action::Dispose,
        ),
        (
            Command::ReworkDone {
                lot: "C24-1031".into(),
            },
            Action::Rework,
        ),
        (
            Command::OpenNcr {
                lot: "C24-1107".into(),
                quantity: None,
                what: "porosity".into(),
                containment: String::new(),
            },
            Action::OpenNcr,
        ),
        (
            Command::CloseNcr {
                ncr: "NCR-L1-S1-0001".into(),
                closure: "supplier fixed the die".into(),
                signatures: signed_by("EMP-1001", crate::domain::signature::Meaning::Approved),
            },
            Action::CloseNcr,
        ),
        (
            Command::ResumeInspection {
                product: "BC-200".into(),
                operation: "OP10".into(),
                reason: "corrective action accepted".into(),
                signatures: signed_by("EMP-1001", crate::domain::signature::Meaning::Approved),
            },
            Action::ResumeInspection,
        ),
    ];
    // Every action of the matrix is exercised by a command.
    for action in Action::ALL {
        assert!(
            commands.iter().any(|(_, a)| *a == action),
            "{action:?} has no command in the matrix test"
        );
    }
    for role in Role::ALL {
        let mut state = at("L1-S1", "WO-24001");
        let master = std::sync::Arc::make_mut(&mut state.master);
        if let Some(operator) = master.operators.get_mut(&"EMP-1001".into()) {
            operator.roles = vec![role.words().to_owned()];
        }
        for (command, action) in &commands {
            let outcome = decide(&state, command.clone(), now());
            let refused = matches!(outcome, Err(Rejection::NotPermitted { .. }));
            assert_eq!(
                refused,
                !permits(&[role], *action),
                "{role:?} {command:?}: {outcome:?}"
            );
        }
    }
}

// People and trust: holds, signed releases and corrections, on the same demo plant.

use crate::domain::master::MAX_LOGIN_ATTEMPTS;
use crate::domain::signature::{SignatureInput, Signatures};
use crate::domain::{Badge, StationConfig};

fn signed_by(badge: &str, meaning: crate::domain::signature::Meaning) -> Signatures {
    Signatures {
        signer: SignatureInput {
            badge: badge.into(),
            meaning,
        },
        second: None,
    }
}

/// `state` with `badge` logged in instead of whoever was.
fn as_person(state: &mut State, badge: &str) {
    run(state, Command::Logout).expect("logout");
    run(
        state,
        Command::Login {
            badge: badge.into(),
            pin_matches: true,
        },
    )
    .expect("login");
}

#[test]
fn a_hold_names_its_reason_and_a_release_carries_a_bound_signature() {
    use crate::domain::signature::{Meaning, event_digest};
    let mut state = at("L1-S1", "WO-24001");
    let lot = LotId::from("C24-1107");
    assert_eq!(
        refusal(
            &mut state,
            Command::HoldLot {
                lot: lot.clone(),
                reason: "  ".into()
            }
        ),
        "Say why the lot is held: type a reason or scan a defect code."
    );
    // A defect code as the reason is kept with its words.
    let held = run(
        &mut state,
        Command::HoldLot {
            lot: lot.clone(),
            reason: "D-101".into(),
        },
    )
    .expect("an operator may hold");
    let EventKind::LotHeld { reason, .. } = &held[0] else {
        panic!("{held:?}")
    };
    assert!(reason.starts_with("D-101 ") && reason.len() > 6, "{reason}");
    assert_eq!(
        state.lot(&lot).map(|l| l.status),
        Some(LotStatus::OnHold),
        "the station refuses it at once"
    );
    let refused = refusal(&mut state, label("C24-1107", CAST_200, None));
    assert!(refused.contains("ON HOLD (D-101 porosity)"), "{refused}");
    assert!(
        refusal(
            &mut state,
            Command::ReleaseLot {
                lot: lot.clone(),
                signatures: signed_by("EMP-1001", Meaning::Approved)
            }
        )
        .contains("may not release held lots"),
        "an operator may not release"
    );

    as_person(&mut state, "EMP-2001");
    assert_eq!(
        refusal(
            &mut state,
            Command::ReleaseLot {
                lot: lot.clone(),
                signatures: signed_by("EMP-1001", Meaning::Approved)
            }
        ),
        "The signature must be made by Demo Inspector, who is logged in."
    );
    let events = decide(
        &state,
        Command::ReleaseLot {
            lot: lot.clone(),
            signatures: signed_by("EMP-2001", Meaning::Approved),
        },
        now(),
    )
    .expect("an inspector releases with a signature");
    let sealed: Vec<Event> = events
        .iter()
        .enumerate()
        .map(|(i, new)| {
            Event::seal(
                new.clone(),
                state.station.clone(),
                10 + i as u64,
                Uuid::nil(),
                GENESIS_HASH.into(),
            )
        })
        .collect();
    assert!(matches!(sealed[0].kind, EventKind::LotReleased { .. }));
    let EventKind::Signed {
        signer,
        name,
        meaning,
        record,
    } = &sealed[1].kind
    else {
        panic!("{sealed:?}")
    };
    assert_eq!(
        (signer.as_str(), name.as_str(), *meaning),
        ("EMP-2001", "Demo Inspector", Meaning::Approved)
    );
    assert_eq!(
        *record,
        event_digest(&sealed[0]),
        "bound to the released record"
    );
    assert_eq!(sealed[1].actor, Actor::Operator("EMP-2001".into()));
    assert!(crate::domain::signature::check(&sealed).is_empty());
    // The signature cannot be moved onto another record, nor left off one.
    let mut moved = sealed.clone();
    moved[0].kind = EventKind::LotReleased {
        lot: "C24-2210".into(),
        lifts: None,
    };
    assert!(matches!(
        crate::domain::signature::check(&moved)[..],
        [crate::domain::signature::SignatureProblem::WrongRecord { seq: 11, .. }]
    ));
    assert!(matches!(
        crate::domain::signature::check(&sealed[..1])[..],
        [crate::domain::signature::SignatureProblem::Unsigned { seq: 10, .. }]
    ));
    for event in &sealed {
        apply(&mut state, event);
    }
    assert_eq!(state.lot(&lot).map(|l| l.status), Some(LotStatus::Released));
    assert!(
        refusal(
            &mut state,
            Command::ReleaseLot {
                lot,
                signatures: signed_by("EMP-2001", Meaning::Approved)
            }
        )
        .contains("is not on hold")
    );
}

#[test]
fn central_newer_record_wins_over_an_older_station_decision() {
    let mut state = at("L1-S1", "WO-24001");
    let lot = LotId::from("C24-1107");
    run(
        &mut state,
        Command::HoldLot {
            lot: lot.clone(),
            reason: "porosity".into(),
        },
    )
    .expect("hold");
    let mut record = state.master.lots[&lot].clone();
    record.status = LotStatus::Released;
    record.status_at = Some(now() - chrono::Duration::minutes(1));
    std::sync::Arc::make_mut(&mut state.master)
        .lots
        .insert(lot.clone(), record.clone());
    assert_eq!(
        state.lot(&lot).map(|l| l.status),
        Some(LotStatus::OnHold),
        "central's record is older than the hold here"
    );
    record.status_at = Some(now());
    std::sync::Arc::make_mut(&mut state.master)
        .lots
        .insert(lot.clone(), record);
    assert_eq!(state.lot(&lot).map(|l| l.status), Some(LotStatus::Released));
}

#[test]
fn a_release_lifts_only_the_hold_it_saw() {
    use crate::domain::signature::Meaning;
    let mut state = at("L1-S1", "WO-24001");
    as_person(&mut state, "EMP-2001");
    let lot = LotId::from("C24-1031");
    let events = run(
        &mut state,
        Command::ReleaseLot {
            lot: lot.clone(),
            signatures: signed_by("EMP-2001", Meaning::Approved),
        },
    )
    .expect("released");
    assert!(
        matches!(&events[0], EventKind::LotReleased { lifts: None, .. }),
        "the demo's hold is undated: {events:?}"
    );
    assert_eq!(state.lot(&lot).map(|l| l.status), Some(LotStatus::Released));
    // Central held it again (a recall) before it heard of the release, dated by a clock that is
    // behind this station's: the recall is another hold, and it stands.
    let mut recall = state.master.lots[&lot].clone();
    recall.status_reason = Some("supplier recall".into());
    recall.status_at = Some(now() - chrono::Duration::minutes(5));
    std::sync::Arc::make_mut(&mut state.master)
        .lots
        .insert(lot.clone(), recall);
    let seen = state.lot(&lot).expect("known");
    assert_eq!(
        (seen.status, seen.status_reason.as_deref()),
        (LotStatus::OnHold, Some("supplier recall"))
    );
}

#[test]
fn a_second_signer_is_asked_for_where_configured_and_must_be_someone_else_allowed() {
    use crate::domain::permission::Action;
    use crate::domain::signature::Meaning;
    let mut state = at("L1-S1", "WO-24001");
    let lot = LotId::from("C24-1031");
    let mut config = StationConfig::new(state.station.clone());
    config.second_signer_for = vec![Action::ReleaseHold.name().to_owned()];
    std::sync::Arc::make_mut(&mut state.master).station_config = Some(config);
    as_person(&mut state, "EMP-2001");
    let release = |second: Option<&str>, meaning| Command::ReleaseLot {
        lot: lot.clone(),
        signatures: Signatures {
            signer: SignatureInput {
                badge: "EMP-2001".into(),
                meaning: Meaning::Approved,
            },
            second: second.map(|badge| SignatureInput {
                badge: badge.into(),
                meaning,
            }),
        },
    };
    assert!(matches!(
        decide(&state, release(None, Meaning::Reviewed), now()),
        Err(Rejection::SecondSignatureNeeded)
    ));
    assert!(matches!(
        decide(&state, release(Some("EMP-2001"), Meaning::Reviewed), now()),
        Err(Rejection::SameSecondSigner)
    ));
    assert_eq!(
        refusal(&mut state, release(Some("EMP-1002"), Meaning::Reviewed)),
        "Demo Operator B cannot sign here: operator may not release held lots."
    );
    let events = decide(&state, release(Some("EMP-9999"), Meaning::Reviewed), now())
        .expect("an admin may sign second");
    let signers: Vec<(String, Meaning)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Signed {
                signer, meaning, ..
            } => Some((signer.to_string(), *meaning)),
            _ => None,
        })
        .collect();
    assert_eq!(
        signers,
        [
            ("EMP-2001".to_owned(), Meaning::Approved),
            ("EMP-9999".to_owned(), Meaning::Reviewed)
        ]
    );
}

#[test]
fn a_wrong_pin_to_sign_counts_towards_the_lock() {
    let mut state = at("L1-S1", "WO-24001");
    for attempt in 1..=MAX_LOGIN_ATTEMPTS {
        let events = run(
            &mut state,
            Command::SignatureFailed {
                badge: "EMP-1001".into(),
            },
        )
        .expect("recorded");
        assert!(matches!(events[0], EventKind::LoginFailed { attempt: a, .. } if a == attempt));
    }
    assert!(
        state
            .login_guard
            .locked_until
            .contains_key(&Badge::from("EMP-1001"))
    );
}

#[test]
fn a_corrected_count_and_consumption_move_the_projections_and_keep_the_original() {
    use crate::domain::correction::Correction;
    use crate::domain::signature::Meaning;
    let mut state = at("L1-S1", "WO-24001");
    run(&mut state, label("C24-1107", CAST_200, None)).expect("load");
    // The original facts, sealed as the store would: a count and a consumption.
    let sealed = |state: &mut State, seq: u64, kind: EventKind| {
        let event = Event::seal(
            NewEvent {
                at: now(),
                actor: Actor::Plc,
                kind,
            },
            state.station.clone(),
            seq,
            Uuid::nil(),
            GENESIS_HASH.into(),
        );
        apply(state, &event);
        event
    };
    let count = sealed(
        &mut state,
        40,
        EventKind::UnitsProduced {
            work_order: Some("WO-24001".into()),
            produced: 20,
            rejected: 0,
            plc_epoch: 1,
            processed_total: 20,
            defective_total: 0,
        },
    );
    let produced = |state: &State| state.progress[&WorkOrderId::from("WO-24001")].produced;
    let before = produced(&state);
    as_person(&mut state, "EMP-3001");
    let correct = |target: &Event, now_value: Correction, reason: &str| Command::Correct {
        target: Box::new(target.clone()),
        now: now_value,
        reason: reason.into(),
        signatures: signed_by("EMP-3001", Meaning::Responsible),
    };
    let eighteen = Correction::Count {
        produced: 18,
        rejected: 2,
    };
    assert_eq!(
        refusal(&mut state, correct(&count, eighteen.clone(), "R-11")),
        "R-11 is not a correction reason. Scan or type a reason code (C-…)."
    );
    assert!(
        refusal(
            &mut state,
            correct(
                &count,
                Correction::Count {
                    produced: 20,
                    rejected: 0
                },
                "C-03"
            )
        )
        .contains("nothing to correct")
    );
    assert!(
        refusal(
            &mut state,
            correct(
                &count,
                Correction::Consumption {
                    lot: "C24-1107".into(),
                    quantity: Quantity::units(1)
                },
                "C-03"
            )
        )
        .contains("does not fit")
    );
    assert!(
        refusal(
            &mut state,
            correct(
                &count,
                Correction::Count {
                    produced: 2_000_000,
                    rejected: 0
                },
                "C-03"
            )
        )
        .starts_with("A count of 2000000 is more than any machine makes")
    );
    let events = run(&mut state, correct(&count, eighteen.clone(), "C-03")).expect("corrected");
    assert!(matches!(
        &events[..],
        [
            EventKind::Corrected {
                corrects: 40,
                was: Correction::Count {
                    produced: 20,
                    rejected: 0
                },
                ..
            },
            EventKind::Signed { .. }
        ]
    ));
    assert_eq!(produced(&state), before - 2);
    assert_eq!(state.progress[&WorkOrderId::from("WO-24001")].rejected, 2);
    // A second correction replaces the first: `was` is what counted until then.
    let events = run(
        &mut state,
        correct(
            &count,
            Correction::Count {
                produced: 19,
                rejected: 1,
            },
            "C-01",
        ),
    )
    .expect("corrected again");
    assert!(matches!(&events[0], EventKind::Corrected { was, .. } if *was == eighteen));
    assert_eq!(produced(&state), before - 1);

    // A consumption booked to the wrong lot moves to the right one.
    let drawn = sealed(
        &mut state,
        41,
        EventKind::LotConsumed {
            work_order: "WO-24001".into(),
            operation: "OP10".into(),
            material: "CAST-200".into(),
            lot: "C24-1107".into(),
            quantity: Quantity::units(5),
            basis: ConsumptionBasis::BomRate,
        },
    );
    let used = |state: &State, lot: &str| {
        state
            .lot_usage
            .get(&LotId::from(lot))
            .copied()
            .unwrap_or_default()
    };
    let (a, b) = (used(&state, "C24-1107"), used(&state, "C24-2210"));
    run(
        &mut state,
        correct(
            &drawn,
            Correction::Consumption {
                lot: "C24-2210".into(),
                quantity: Quantity::units(5),
            },
            "C-02",
        ),
    )
    .expect("moved");
    assert_eq!(
        used(&state, "C24-1107"),
        a.saturating_sub(Quantity::units(5))
    );
    assert_eq!(
        used(&state, "C24-2210"),
        b.saturating_add(Quantity::units(5))
    );
    // Who may correct: an operator may not.
    as_person(&mut state, "EMP-1001");
    assert!(
        refusal(
            &mut state,
            Command::Correct {
                target: Box::new(drawn),
                now: Correction::Consumption {
                    lot: "C24-1107".into(),
                    quantity: Quantity::units(4)
                },
                reason: "C-01".into(),
                signatures: signed_by("EMP-1001", Meaning::Performed),
            }
        )
        .contains("may not correct")
    );
}

#[test]
fn a_keyed_correction_is_read_the_way_the_fact_is_shaped() {
    use crate::domain::correction::Correction;
    let count = Correction::Count {
        produced: 20,
        rejected: 0,
    };
    assert_eq!(
        Correction::parse_like(&count, "18 2"),
        Ok(Correction::Count {
            produced: 18,
            rejected: 2
        })
    );
    assert_eq!(
        Correction::parse_like(&count, "17"),
        Ok(Correction::Count {
            produced: 17,
            rejected: 0
        })
    );
    assert!(Correction::parse_like(&count, "x").is_err());
    let drawn = Correction::Consumption {
        lot: "C24-1107".into(),
        quantity: Quantity::units(5),
    };
    assert_eq!(
        Correction::parse_like(&drawn, "3.5"),
        Ok(Correction::Consumption {
            lot: "C24-1107".into(),
            quantity: Quantity::parse("3.5").expect("q")
        })
    );
    assert_eq!(
        Correction::parse_like(&drawn, "C24-2210 5"),
        Ok(Correction::Consumption {
            lot: "C24-2210".into(),
            quantity: Quantity::units(5)
        })
    );
    assert!(Correction::parse_like(&drawn, "-1").is_err());
    let inputs = Correction::Inputs { inputs: vec![] };
    assert_eq!(
        Correction::parse_like(&inputs, "C24-1107, P24-0007"),
        Ok(Correction::Inputs {
            inputs: vec!["C24-1107".into(), "P24-0007".into()]
        })
    );
    assert_eq!(
        Correction::parse_like(&inputs, "-"),
        Ok(Correction::Inputs { inputs: vec![] })
    );
}

/// OP10's plan gates each order on its first article: the first good unit becomes a lot of one an
/// inspector can scan, the permit drops after it until an inspection here accepts it, and units the
/// machine made before the permit dropped fill the tote as usual.
#[test]
fn the_first_article_is_a_lot_of_one_and_holds_the_permit_until_it_passes() {
    use crate::domain::interlock::{Blocker, blockers};
    let mut state = at("L1-S1", "WO-24001");
    run(&mut state, label("C24-1107", CAST_200, None)).expect("castings");
    run(&mut state, Command::Start).expect("start");
    assert!(state.permit_to_run(now()), "the first article may be made");
    let first = first_output(&units(&mut state, 3, 1));
    assert_eq!(state.lots[&first].quantity, Quantity::units(1));
    let found = blockers(&state, now());
    assert_eq!(
        found,
        vec![Blocker::FirstArticlePending {
            work_order: "WO-24001".into(),
            lot: first.clone(),
        }]
    );
    assert_eq!(
        found[0].words(),
        format!("FIRST ARTICLE: {first} of WO-24001 waits for an inspector to inspect it here")
    );
    assert_eq!(state.progress[&"WO-24001".into()].open_output.units, 1);

    // The inspector takes over the terminal (the order pauses while nobody runs it).
    run(&mut state, Command::Logout).expect("logout");
    run(
        &mut state,
        Command::Login {
            badge: "EMP-2001".into(),
            pin_matches: true,
        },
    )
    .expect("inspector");
    let inspect = |verdict: &str| Command::Inspect {
        lot: first.clone(),
        inspected: 1,
        findings: vec![("VISUAL".into(), verdict.into())],
        defects: Vec::new(),
    };
    let gate = |state: &State| {
        blockers(state, now())
            .into_iter()
            .filter(|b| {
                matches!(
                    b,
                    Blocker::FirstArticlePending { .. } | Blocker::QualityHold { .. }
                )
            })
            .map(|b| b.words())
            .collect::<Vec<_>>()
    };
    // A rejecting inspection holds it: the gate stays, and the hold with it.
    run(&mut state, inspect("fail")).expect("rejecting inspection");
    let words = gate(&state);
    assert_eq!(words.len(), 2, "{words:?}");
    assert!(words[0].starts_with("QUALITY HOLD"), "{words:?}");
    // Accepted on re-inspection: the gate is passed; only the hold (until a signed release) stays.
    run(&mut state, inspect("pass")).expect("accepting inspection");
    let words = gate(&state);
    assert!(
        matches!(words.as_slice(), [hold] if hold.starts_with("QUALITY HOLD")),
        "{words:?}"
    );
    run(&mut state, Command::Logout).expect("logout");
    run(
        &mut state,
        Command::Login {
            badge: "EMP-1001".into(),
            pin_matches: true,
        },
    )
    .expect("operator");
    run(&mut state, Command::Resume).expect("resume");
    // Once passed, more units fill totes and never gate again for this order.
    let mut released = state.lot(&first).expect("known").into_owned();
    released.status = LotStatus::Released;
    std::sync::Arc::make_mut(&mut state.master)
        .lots
        .insert(first.clone(), released);
    assert!(state.permit_to_run(now()));
    let totes: Vec<_> = units(&mut state, 40, 0)
        .into_iter()
        .filter_map(|kind| match kind {
            EventKind::OutputCreated { quantity, .. } => Some(quantity),
            _ => None,
        })
        .collect();
    assert!(totes.iter().all(|q| *q > Quantity::units(1)), "{totes:?}");
    assert!(state.permit_to_run(now()));
}

/// A first article quality scrapped (or returned) is no first article: the permit comes back for
/// one more unit, which becomes the new first article. Orders without a gating plan never wait.
#[test]
fn a_scrapped_first_article_makes_the_next_unit_the_first_article() {
    use crate::domain::interlock::{Blocker, blockers};
    let mut state = at("L1-S1", "WO-24001");
    run(&mut state, label("C24-1107", CAST_200, None)).expect("castings");
    run(&mut state, Command::Start).expect("start");
    let first = first_output(&units(&mut state, 1, 0));
    assert!(!state.permit_to_run(now()));
    let mut scrapped = state.lot(&first).expect("known").into_owned();
    scrapped.status = LotStatus::Scrapped;
    std::sync::Arc::make_mut(&mut state.master)
        .lots
        .insert(first.clone(), scrapped);
    assert!(state.permit_to_run(now()), "{:?}", blockers(&state, now()));
    let second = first_output(&units(&mut state, 1, 0));
    assert_ne!(second, first);
    assert_eq!(
        blockers(&state, now()),
        vec![Blocker::FirstArticlePending {
            work_order: "WO-24001".into(),
            lot: second,
        }]
    );

    // OP20's plan (none) and OP30's (no first article) never gate.
    assert!(crate::domain::first_article::gating_operation(&state, &"WO-24001".into()).is_some());
    let state = at("L1-S3", "WO-24001");
    assert!(crate::domain::first_article::gating_operation(&state, &"WO-24001".into()).is_none());
}

fn first_output(kinds: &[EventKind]) -> LotId {
    kinds
        .iter()
        .find_map(|kind| match kind {
            EventKind::OutputCreated { output, .. } => Some(output.clone()),
            _ => None,
        })
        .expect("an output")
}

/// Tests of totes and holds at OP10 that are not about its first article.
fn without_first_article(state: &mut State) {
    for plan in std::sync::Arc::make_mut(&mut state.master)
        .inspection_plans
        .values_mut()
    {
        plan.first_article_gates = false;
    }
}
