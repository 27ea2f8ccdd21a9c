//! Dispositions, rework and NCRs at a station of the demo plant: a tote of 20 made at OP10 for
//! WO-24001, inspected at L1-S2.

use super::*;
use crate::domain::event::{Event, EventKind, NewEvent};
use crate::domain::inspection::DefectFound;
use crate::domain::master::{Lot, LotOrigin, LotStatus};
use crate::domain::rejection::Rejection;
use crate::domain::signature::{Meaning, SignatureInput, Signatures};
use crate::domain::{Command, GENESIS_HASH, LotId, MasterData, State, StationId, apply, decide};
use chrono::{DateTime, Utc};

const TOTE: &str = "L1-S1-251124-000001";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default()
}

fn station(at: &str, badge: &str) -> State {
    let mut master = MasterData::default();
    for record in crate::central::demo::master_records(now().date_naive()) {
        record.apply_to(&mut master);
    }
    master.lots.insert(
        TOTE.into(),
        Lot {
            id: TOTE.into(),
            material: "BC-200-M".into(),
            quantity: Quantity::units(20),
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
    let mut state = State::new(StationId::from(at), master);
    login(&mut state, badge);
    state
}

fn login(state: &mut State, badge: &str) {
    if state.session.is_some() {
        run(state, Command::Logout).expect("logout");
    }
    run(
        state,
        Command::Login {
            badge: badge.into(),
            pin_matches: true,
        },
    )
    .expect("login");
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

fn signed(badge: &str) -> Signatures {
    Signatures {
        signer: SignatureInput {
            badge: badge.into(),
            meaning: Meaning::Approved,
        },
        second: None,
    }
}

fn dispose(badge: &str, parts: &str, reason: &str) -> Command {
    Command::Dispose {
        lot: TOTE.into(),
        parts: parse_parts(parts).expect("readable parts"),
        reason: reason.into(),
        signatures: signed(badge),
    }
}

/// The tote failed inspection at L1-S2: held, with an NCR.
fn rejected(at: &str) -> State {
    let mut state = station(at, "EMP-2001");
    let kinds = run(
        &mut state,
        Command::Inspect {
            lot: TOTE.into(),
            inspected: 5,
            findings: Vec::new(),
            defects: vec![DefectFound {
                code: "D-101".into(),
                quantity: 1,
                location: None,
            }],
        },
    )
    .expect("recorded");
    assert!(
        matches!(&kinds[2], EventKind::NcrOpened { ncr, what, .. }
            if ncr == &format!("NCR-{at}-0001") && what.starts_with("failed inspection: 1 major")),
        "{kinds:?}"
    );
    state
}

fn lot(state: &State, id: &str) -> Lot {
    state.lot(&LotId::from(id)).expect("known").into_owned()
}

#[test]
fn typed_dispositions_are_read_with_their_quantities() {
    let parts = parse_parts("scrap 5, 15 rework op10").expect("readable");
    assert_eq!(
        parts,
        vec![
            PartRequest {
                quantity: Some(Quantity::units(5)),
                disposition: Disposition::Scrap
            },
            PartRequest {
                quantity: Some(Quantity::units(15)),
                disposition: Disposition::Rework {
                    operation: "OP10".into()
                }
            },
        ]
    );
    assert_eq!(
        parse_parts("use as is").expect("readable")[0].disposition,
        Disposition::UseAsIs
    );
    assert_eq!(
        parse_parts("rts").expect("readable")[0].disposition,
        Disposition::ReturnToSupplier
    );
    assert_eq!(
        parse_parts("burn it").expect_err("unreadable").to_string(),
        "\"burn it\" is not a disposition: use accept, rework OP.., scrap, use-as-is or return, each with an optional quantity (scrap 5, rework OP10 15)."
    );
    assert_eq!(
        parse_parts(" , ").expect_err("empty"),
        DispositionRefusal::NoParts
    );
    assert_eq!(
        parse_parts("scrap 0").expect_err("zero"),
        DispositionRefusal::EmptyPart
    );
}

#[test]
fn a_signed_rework_sends_the_lot_back_and_only_reinspection_frees_it_for_release() {
    let mut state = rejected("L1-S2");
    let kinds = run(
        &mut state,
        dispose("EMP-2001", "rework OP10", "bore oversize, re-machine"),
    )
    .expect("dispositioned");
    assert!(
        matches!(&kinds[0], EventKind::LotDispositioned { ncr: Some(ncr), .. } if ncr == "NCR-L1-S2-0001")
    );
    assert!(matches!(&kinds[1], EventKind::Signed { .. }), "{kinds:?}");
    let sent = lot(&state, TOTE);
    assert_eq!(sent.status, LotStatus::OnHold);
    assert_eq!(
        sent.rework,
        Some(Rework {
            operation: "OP10".into(),
            done: false
        })
    );
    // Not releasable, and not this station's rework (L1-S2 performs OP20).
    let release = Command::ReleaseLot {
        lot: TOTE.into(),
        signatures: signed("EMP-2001"),
    };
    assert!(matches!(
        run(&mut state, release.clone()),
        Err(Rejection::AwaitsRework { done: false, .. })
    ));
    login(&mut state, "EMP-1001");
    let words = run(&mut state, Command::ReworkDone { lot: TOTE.into() })
        .expect_err("not here")
        .to_string();
    assert_eq!(
        words,
        "Nothing recorded: Lot L1-S1-251124-000001 goes back to OP10, which this station does not perform."
    );

    // At OP10's station the lot is in the rework queue; the operator records the rework.
    let mut s1 = State {
        station: "L1-S1".into(),
        ..state.clone()
    };
    let queue = rework_queue(&s1);
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].0.id, LotId::from(TOTE));
    let kinds = run(&mut s1, Command::ReworkDone { lot: TOTE.into() }).expect("reworked");
    assert_eq!(
        kinds,
        vec![EventKind::ReworkDone {
            lot: TOTE.into(),
            operation: "OP10".into()
        }]
    );
    assert!(rework_queue(&s1).is_empty());
    login(&mut s1, "EMP-2001");
    assert!(matches!(
        run(&mut s1, release.clone()),
        Err(Rejection::AwaitsRework { done: true, .. })
    ));
    // Re-inspection passes: the rework is over, the hold stays until a signed release.
    run(
        &mut s1,
        Command::Inspect {
            lot: TOTE.into(),
            inspected: 5,
            findings: vec![("VISUAL".into(), "pass".into())],
            defects: Vec::new(),
        },
    )
    .expect("re-inspected");
    let reinspected = lot(&s1, TOTE);
    assert_eq!(reinspected.status, LotStatus::OnHold);
    assert_eq!(reinspected.rework, None);
    assert!(
        reinspected
            .status_reason
            .as_deref()
            .is_some_and(|why| why.contains("accepted")),
        "{reinspected:?}"
    );
    let kinds = run(&mut s1, release).expect("released");
    assert!(matches!(&kinds[0], EventKind::LotReleased { .. }));
    assert_eq!(lot(&s1, TOTE).status, LotStatus::Released);
}

#[test]
fn a_split_makes_parts_that_go_their_own_ways() {
    let mut state = rejected("L1-S2");
    let kinds = run(
        &mut state,
        dispose(
            "EMP-2001",
            "scrap 5, rework OP10",
            "5 cracked, the rest oversize",
        ),
    )
    .expect("dispositioned");
    let EventKind::LotDispositioned { parts, .. } = &kinds[0] else {
        panic!("{kinds:?}");
    };
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].lot, LotId::from(format!("{TOTE}-1").as_str()));
    assert_eq!(parts[1].quantity, Quantity::units(15));
    let parent = lot(&state, TOTE);
    assert_eq!(parent.status, LotStatus::Consumed);
    assert!(
        parent
            .status_reason
            .as_deref()
            .is_some_and(|why| why.starts_with("split into"))
    );
    let scrap = lot(&state, &format!("{TOTE}-1"));
    assert_eq!(
        (scrap.status, scrap.quantity),
        (LotStatus::Scrapped, Quantity::units(5))
    );
    assert!(matches!(&scrap.origin, LotOrigin::Split { parent, .. } if parent.as_str() == TOTE));
    let rework = lot(&state, &format!("{TOTE}-2"));
    assert_eq!(rework.status, LotStatus::OnHold);
    assert_eq!(
        rework.rework.map(|r| r.operation.to_string()),
        Some("OP10".into())
    );
    // The NCR now has its disposition and can be closed, signed.
    let ncr = state.ncrs.ncrs.get("NCR-L1-S2-0001").expect("ncr");
    assert_eq!(
        ncr.disposition.as_deref(),
        Some("5 scrap (L1-S1-251124-000001-1), 15 rework at OP10 (L1-S1-251124-000001-2)")
    );
    let closed = run(
        &mut state,
        Command::CloseNcr {
            ncr: "NCR-L1-S2-0001".into(),
            closure: "tool wear; tool life cut to 800 parts".into(),
            signatures: signed("EMP-2001"),
        },
    )
    .expect("closed");
    assert!(matches!(&closed[0], EventKind::NcrClosed { .. }));
    assert!(matches!(&closed[1], EventKind::Signed { .. }));
    assert!(state.ncrs.open_for(&LotId::from(TOTE)).is_none());
}

#[test]
fn dispositions_that_cannot_be_are_refused_in_words() {
    let mut state = rejected("L1-S2");
    let refused =
        |state: &mut State, command| run(state, command).expect_err("refused").to_string();
    assert_eq!(
        refused(&mut state, dispose("EMP-2001", "scrap 25", "cracked")),
        "Nothing recorded: The parts add up to 25 but lot L1-S1-251124-000001 has 20 left."
    );
    assert_eq!(
        refused(
            &mut state,
            dispose("EMP-2001", "scrap 5, accept 10", "cracked")
        ),
        "Nothing recorded: The parts add up to 15 of the 20 left in lot L1-S1-251124-000001: say what becomes of the other 5."
    );
    assert_eq!(
        refused(&mut state, dispose("EMP-2001", "scrap", "  ")),
        "Nothing recorded: Say why: a disposition needs a reason."
    );
    assert_eq!(
        refused(&mut state, dispose("EMP-2001", "rework OP30", "x")),
        "Nothing recorded: OP30 is not an operation of L1-S1-251124-000001's routing up to OP10, where it was made."
    );
    assert_eq!(
        refused(&mut state, dispose("EMP-2001", "return", "x")),
        "Nothing recorded: Lot L1-S1-251124-000001 was made here, not bought: it cannot go back to a supplier."
    );
    // An operator may not disposition; nothing is recorded.
    login(&mut state, "EMP-1001");
    let words = refused(&mut state, dispose("EMP-1001", "accept", "fine"));
    assert!(words.contains("may not disposition held lots"), "{words}");
    // A released lot has nothing to disposition.
    let mut fresh = station("L1-S2", "EMP-2001");
    assert_eq!(
        refused(&mut fresh, dispose("EMP-2001", "accept", "fine")),
        "Nothing recorded: Lot L1-S1-251124-000001 is released: only a lot on hold is dispositioned."
    );
    // A closure before a disposition is refused.
    assert_eq!(
        refused(
            &mut state_with_inspector(state),
            Command::CloseNcr {
                ncr: "NCR-L1-S2-0001".into(),
                closure: "done".into(),
                signatures: signed("EMP-2001"),
            }
        ),
        "Nothing recorded: NCR-L1-S2-0001 has no disposition yet: decide what becomes of the lot before closing it."
    );
}

fn state_with_inspector(mut state: State) -> State {
    login(&mut state, "EMP-2001");
    state
}

#[test]
fn an_ncr_opened_by_hand_holds_the_lot_and_a_second_is_refused() {
    let mut state = station("L1-S2", "EMP-2001");
    let kinds = run(
        &mut state,
        Command::OpenNcr {
            lot: TOTE.into(),
            quantity: Some(Quantity::units(3)),
            what: "burr on flange".into(),
            containment: String::new(),
        },
    )
    .expect("opened");
    assert!(
        matches!(&kinds[0], EventKind::NcrOpened { quantity, containment, .. }
        if *quantity == Quantity::units(3) && containment.contains("held plant-wide"))
    );
    assert!(
        matches!(&kinds[1], EventKind::LotHeld { reason, .. } if reason == "NCR-L1-S2-0001: burr on flange")
    );
    let again = run(
        &mut state,
        Command::OpenNcr {
            lot: TOTE.into(),
            quantity: None,
            what: "more burrs".into(),
            containment: String::new(),
        },
    )
    .expect_err("one open per lot")
    .to_string();
    assert!(
        again.contains("already has NCR NCR-L1-S2-0001 open"),
        "{again}"
    );
    // Use as is, signed: released with the concession in its reason.
    run(
        &mut state,
        dispose("EMP-2001", "use as is", "burr within drawing note 4"),
    )
    .expect("dispositioned");
    let used = lot(&state, TOTE);
    assert_eq!(used.status, LotStatus::Released);
    assert_eq!(
        used.status_reason.as_deref(),
        Some("used as is: burr within drawing note 4")
    );
}

#[test]
fn a_scrapped_lot_is_refused_in_words_that_say_why() {
    let mut state = rejected("L1-S2");
    run(&mut state, dispose("EMP-2001", "scrap", "cracked")).expect("scrapped");
    let scrapped = lot(&state, TOTE);
    assert_eq!(scrapped.status, LotStatus::Scrapped);
    let refusal = crate::domain::Rejection::LotBlocked {
        lot: TOTE.into(),
        status: scrapped.status,
        reason: scrapped.status_reason.clone(),
    };
    assert_eq!(
        refusal.to_string(),
        "Lot L1-S1-251124-000001 is SCRAPPED (scrapped: cracked). Do not use it: set it aside and take another lot."
    );
}
