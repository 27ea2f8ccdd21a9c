//! decide / apply / observe, as tables of situations and their outcomes.

use super::*;
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_764_000_000, 0).unwrap_or_default()
}

fn order(id: &str, status: WorkOrderStatus) -> WorkOrder {
    WorkOrder {
        id: id.into(),
        numeric_id: 1,
        product: "BC-200".into(),
        quantity: 120,
        due: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default(),
        priority: 1,
        status,
        status_reason: None,
        line: "L1".into(),
        stations: vec!["L1-S1".into()],
    }
}

fn plant() -> State {
    let mut master = MasterData::default();
    for (badge, name, active) in [
        ("EMP-1001", "Demo Operator A", true),
        ("EMP-1002", "Demo Operator B", true),
        ("EMP-0666", "Left the company", false),
    ] {
        master.operators.insert(
            badge.into(),
            Operator {
                badge: badge.into(),
                name: name.into(),
                roles: vec!["operator".into()],
                active,
                valid_until: None,
                revoked_at: None,
                // The domain sees only whether a PIN matched, never the verifier's content.
                pin_verifier: Some("$argon2id$v=19$test".into()),
            },
        );
    }
    for wo in [
        order("WO-24001", WorkOrderStatus::Released),
        order("WO-24002", WorkOrderStatus::Released),
        order("WO-24004", WorkOrderStatus::Planned),
        WorkOrder {
            stations: vec!["L1-S2".into()],
            ..order("WO-29999", WorkOrderStatus::Released)
        },
    ] {
        master.work_orders.insert(wo.id.clone(), wo);
    }
    State::new("L1-S1".into(), master)
}

/// Decides and applies, as the store would, sealing events in a throwaway chain.
fn run(state: &mut State, command: Command) -> Result<Vec<EventKind>, Rejection> {
    let events = decide(state, command, now())?;
    let kinds = events.iter().map(|e| e.kind.clone()).collect();
    for (i, new) in events.into_iter().enumerate() {
        let event = Event::seal(
            new,
            state.station.clone(),
            i as u64 + 1,
            Uuid::nil(),
            GENESIS_HASH.into(),
        );
        apply(state, &event);
    }
    Ok(kinds)
}

fn apply_all(state: &mut State, events: Vec<NewEvent>) {
    for new in events {
        let event = Event::seal(
            new,
            state.station.clone(),
            1,
            Uuid::nil(),
            GENESIS_HASH.into(),
        );
        apply(state, &event);
    }
}

fn login(state: &mut State) {
    run(
        state,
        Command::Login {
            badge: "EMP-1001".into(),
            pin_matches: true,
        },
    )
    .expect("login");
}

#[test]
fn login_and_logout_by_badge() {
    let mut state = plant();
    assert_eq!(
        run(
            &mut state,
            Command::Login {
                badge: "EMP-9999".into(),
                pin_matches: true,
            }
        ),
        Err(Rejection::UnknownBadge("EMP-9999".into()))
    );
    assert_eq!(
        run(
            &mut state,
            Command::Login {
                badge: "EMP-0666".into(),
                pin_matches: true,
            }
        ),
        Err(Rejection::BadgeDisabled("EMP-0666".into()))
    );
    assert_eq!(
        run(&mut state, Command::Logout),
        Err(Rejection::NotLoggedIn)
    );
    login(&mut state);
    assert_eq!(
        state.session.as_ref().map(|s| s.name.as_str()),
        Some("Demo Operator A")
    );
    assert_eq!(
        run(
            &mut state,
            Command::Login {
                badge: "EMP-1001".into(),
                pin_matches: true,
            }
        ),
        Err(Rejection::AlreadyLoggedIn {
            name: "Demo Operator A".into()
        })
    );
    assert_eq!(
        run(
            &mut state,
            Command::Login {
                badge: "EMP-1002".into(),
                pin_matches: true,
            }
        ),
        Err(Rejection::SomeoneElseLoggedIn {
            name: "Demo Operator A".into()
        })
    );
    run(&mut state, Command::Logout).expect("logout");
    assert_eq!(state.session, None);
}

#[test]
fn selecting_and_running_a_work_order() {
    let mut state = plant();
    let select = |id: &str| Command::SelectWorkOrder { id: id.into() };
    assert_eq!(
        run(&mut state, select("WO-24001")),
        Err(Rejection::NotLoggedIn)
    );
    login(&mut state);
    assert_eq!(
        run(&mut state, Command::Start),
        Err(Rejection::NoWorkOrderSelected)
    );
    assert_eq!(
        run(&mut state, select("WO-24004")),
        Err(Rejection::NotReleased {
            id: "WO-24004".into(),
            status: WorkOrderStatus::Planned
        })
    );
    assert_eq!(
        run(&mut state, select("WO-11111")),
        Err(Rejection::UnknownWorkOrder("WO-11111".into()))
    );
    assert_eq!(
        run(&mut state, select("WO-29999")),
        Err(Rejection::NotDispatchedHere("WO-29999".into()))
    );
    run(&mut state, select("WO-24001")).expect("select");
    assert_eq!(
        run(&mut state, select("WO-24001")),
        Err(Rejection::AlreadySelected("WO-24001".into()))
    );
    assert_eq!(
        run(&mut state, Command::Complete),
        Err(Rejection::NeverStarted("WO-24001".into()))
    );
    assert_eq!(
        run(&mut state, Command::Pause),
        Err(Rejection::NotRunning("WO-24001".into()))
    );
    assert!(!state.permit_to_run(now()));
    run(&mut state, Command::Start).expect("start");
    assert!(state.permit_to_run(now()));
    assert_eq!(
        run(&mut state, Command::Start),
        Err(Rejection::AlreadyRunning("WO-24001".into()))
    );
    assert_eq!(
        run(&mut state, select("WO-24002")),
        Err(Rejection::AnotherRunning("WO-24001".into()))
    );
    run(&mut state, Command::Pause).expect("pause");
    assert!(!state.permit_to_run(now()));
    // Start on a paused order resumes it.
    assert_eq!(
        run(&mut state, Command::Start),
        Ok(vec![EventKind::WorkOrderResumed {
            work_order: "WO-24001".into()
        }])
    );
    run(&mut state, Command::Complete).expect("complete");
    assert_eq!(state.active, None);
    assert_eq!(
        run(&mut state, select("WO-24001")),
        Err(Rejection::AlreadyCompleted("WO-24001".into()))
    );
}

#[test]
fn logout_pauses_a_running_order_and_drops_the_permit() {
    let mut state = plant();
    login(&mut state);
    run(
        &mut state,
        Command::SelectWorkOrder {
            id: "WO-24001".into(),
        },
    )
    .expect("select");
    run(&mut state, Command::Start).expect("start");
    let kinds = run(&mut state, Command::Logout).expect("logout");
    assert_eq!(kinds.len(), 2);
    assert!(matches!(kinds[0], EventKind::WorkOrderPaused { .. }));
    assert!(!state.permit_to_run(now()));
}

#[test]
fn a_hold_learned_from_central_blocks_start_and_the_permit() {
    let mut state = plant();
    login(&mut state);
    run(
        &mut state,
        Command::SelectWorkOrder {
            id: "WO-24001".into(),
        },
    )
    .expect("select");
    run(&mut state, Command::Start).expect("start");
    if let Some(order) = std::sync::Arc::make_mut(&mut state.master)
        .work_orders
        .get_mut(&WorkOrderId::from("WO-24001"))
    {
        order.status = WorkOrderStatus::OnHold;
    }
    assert!(!state.permit_to_run(now()));
    run(&mut state, Command::Pause).expect("pause is always allowed");
    assert_eq!(
        run(&mut state, Command::Resume),
        Err(Rejection::NotReleased {
            id: "WO-24001".into(),
            status: WorkOrderStatus::OnHold
        })
    );
}

/// Offline policy: with central's grace window of 60 min, a station that last heard from central
/// 59 min ago may go on; after 61 min the permit drops and start/resume are refused until central
/// answers again. Without a window from central there is no limit.
#[test]
fn the_offline_grace_window_stops_a_station_too_long_without_central() {
    let mut state = plant();
    login(&mut state);
    run(
        &mut state,
        Command::SelectWorkOrder {
            id: "WO-24001".into(),
        },
    )
    .expect("select");
    run(&mut state, Command::Start).expect("start");
    state.central_heard = Some(now() - chrono::Duration::hours(30));
    assert!(
        state.permit_to_run(now()),
        "no window from central, no limit"
    );

    std::sync::Arc::make_mut(&mut state.master).station_config = Some(StationConfig {
        offline_grace_minutes: 60,
        ..StationConfig::new("L1-S1".into())
    });
    state.central_heard = Some(now() - chrono::Duration::minutes(61));
    assert!(
        state.permit_to_run(now()),
        "a station set up without central has no window"
    );
    state.settings.central_configured = true;
    state.central_heard = Some(now() - chrono::Duration::minutes(59));
    assert!(state.permit_to_run(now()), "inside the window");
    state.central_heard = Some(now() - chrono::Duration::minutes(61));
    assert!(!state.permit_to_run(now()));
    let blocker = crate::domain::interlock::planning_holds(&state, now());
    assert_eq!(blocker.len(), 1);
    assert!(
        blocker[0].words().contains("may run only 1 h without it"),
        "{}",
        blocker[0].words()
    );
    run(&mut state, Command::Pause).expect("pause is always allowed");
    assert!(matches!(
        run(&mut state, Command::Resume),
        Err(Rejection::CentralOutOfReach {
            grace_minutes: 60,
            ..
        })
    ));
    // Central answers again: the station may go on.
    state.central_heard = Some(now());
    run(&mut state, Command::Resume).expect("resume");
    assert!(state.permit_to_run(now()));
    // 0 is no limit.
    std::sync::Arc::make_mut(&mut state.master).station_config = Some(StationConfig {
        offline_grace_minutes: 0,
        ..StationConfig::new("L1-S1".into())
    });
    state.central_heard = Some(now() - chrono::Duration::days(9));
    assert!(state.permit_to_run(now()));
}

pub(crate) fn sample(epoch: u16, processed: u32, defective: u32) -> PlcSample {
    PlcSample {
        map_version: 1,
        heartbeat: 0,
        epoch,
        state: PackMlState::Execute,
        unit_mode: 1,
        stop_reason: 0,
        warning: 0,
        interlock_bits: 0,
        stacklight_bits: 0,
        speed_x100: 0,
        processed,
        defective,
        consumed: 0,
        cycles: processed,
        last_cycle_ms: 0,
        recipe: 0,
    }
}

fn produced(events: &[NewEvent]) -> Vec<(u64, u64)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::UnitsProduced {
                produced, rejected, ..
            } => Some((*produced, *rejected)),
            _ => None,
        })
        .collect()
}

#[test]
fn counter_deltas_become_units_with_wrap_restart_and_reset() {
    let mut state = plant();
    login(&mut state);
    run(
        &mut state,
        Command::SelectWorkOrder {
            id: "WO-24001".into(),
        },
    )
    .expect("select");
    run(&mut state, Command::Start).expect("start");

    // First contact sets the baseline and counts nothing: those units were made before us.
    let first = observe(&state, &sample(7, 1000, 10), now());
    assert_eq!(produced(&first), vec![]);
    apply_all(&mut state, first);

    let events = observe(&state, &sample(7, 1003, 11), now());
    assert_eq!(produced(&events), vec![(3, 1)]);
    apply_all(&mut state, events);
    assert!(observe(&state, &sample(7, 1003, 11), now()).is_empty());

    // u32 rollover is a small delta, not a reset.
    state.counters = Some(CounterBaseline {
        epoch: 7,
        processed: u32::MAX - 1,
        defective: 11,
    });
    let events = observe(&state, &sample(7, 2, 11), now());
    assert_eq!(produced(&events), vec![(4, 0)]);
    apply_all(&mut state, events);

    // A PLC restart (new epoch) counts what it made since it came up.
    let events = observe(&state, &sample(8, 5, 1), now());
    assert!(matches!(
        events[0].kind,
        EventKind::PlcCounterBaseline {
            cause: event::BaselineCause::PlcRestart,
            ..
        }
    ));
    assert_eq!(produced(&events), vec![(5, 1)]);
    apply_all(&mut state, events);

    // Same epoch but the counter went backwards: a reset, counted from zero, never a huge delta.
    let events = observe(&state, &sample(8, 2, 0), now());
    assert!(matches!(
        events[0].kind,
        EventKind::PlcCounterBaseline {
            cause: event::BaselineCause::CounterReset,
            ..
        }
    ));
    assert_eq!(produced(&events), vec![(2, 0)]);
    apply_all(&mut state, events);

    let progress = &state.progress[&WorkOrderId::from("WO-24001")];
    assert_eq!(
        (progress.produced, progress.rejected),
        (3 + 4 + 5 + 2, 1 + 1)
    );
}

#[test]
fn a_reject_counted_before_its_unit_is_not_lost() {
    let mut state = plant();
    state.counters = Some(CounterBaseline {
        epoch: 1,
        processed: 100,
        defective: 5,
    });
    let events = observe(&state, &sample(1, 100, 6), now());
    assert!(
        events
            .iter()
            .all(|e| matches!(e.kind, EventKind::MachineStateChanged { .. })),
        "nothing made yet: {events:?}"
    );
    let events = observe(&state, &sample(1, 101, 6), now());
    assert_eq!(produced(&events), vec![(1, 1)]);
    apply_all(&mut state, events);
    assert_eq!(
        state.counters.map(|c| (c.processed, c.defective)),
        Some((101, 6))
    );
    // More rejects than units in one poll: book one per unit, keep the rest for later units.
    let events = observe(&state, &sample(1, 102, 9), now());
    assert_eq!(produced(&events), vec![(1, 1)]);
    apply_all(&mut state, events);
    let events = observe(&state, &sample(1, 104, 9), now());
    assert_eq!(produced(&events), vec![(2, 2)]);
}

#[test]
fn a_new_boot_epoch_counts_from_zero_whatever_the_numbers() {
    let mut state = plant();
    state.counters = Some(CounterBaseline {
        epoch: 1,
        processed: 10,
        defective: 0,
    });
    // The PLC restarted and made 12 before we polled again: all 12 are new, none lost.
    let events = observe(&state, &sample(2, 12, 1), now());
    assert_eq!(produced(&events), vec![(12, 1)]);
    apply_all(&mut state, events);
    assert_eq!(
        state.counters.map(|c| (c.epoch, c.processed, c.defective)),
        Some((2, 12, 1))
    );
}

#[test]
fn a_reset_of_the_defective_counter_alone_books_no_phantom_units() {
    let mut state = plant();
    state.counters = Some(CounterBaseline {
        epoch: 1,
        processed: 500,
        defective: 30,
    });
    let events = observe(&state, &sample(1, 502, 0), now());
    assert_eq!(produced(&events), vec![(2, 0)]);
    apply_all(&mut state, events);
    assert_eq!(
        state.counters.map(|c| (c.processed, c.defective)),
        Some((502, 0))
    );
}

#[test]
fn units_while_an_order_is_only_selected_stay_unassigned() {
    let mut state = plant();
    login(&mut state);
    run(
        &mut state,
        Command::SelectWorkOrder {
            id: "WO-24001".into(),
        },
    )
    .expect("select");
    state.counters = Some(CounterBaseline {
        epoch: 1,
        processed: 0,
        defective: 0,
    });
    let events = observe(&state, &sample(1, 2, 0), now());
    apply_all(&mut state, events);
    assert_eq!(state.unassigned_produced, 2);
    assert_eq!(state.progress[&WorkOrderId::from("WO-24001")].produced, 0);
}

#[test]
fn units_without_an_active_order_are_kept_unassigned() {
    let mut state = plant();
    let first = observe(&state, &sample(1, 0, 0), now());
    apply_all(&mut state, first);
    let events = observe(&state, &sample(1, 2, 0), now());
    apply_all(&mut state, events);
    assert_eq!(state.unassigned_produced, 2);
}

#[test]
fn sixteen_bit_counters_wrap_at_sixteen_bits() {
    let mut state = plant();
    state.settings.counter_bits = 16;
    login(&mut state);
    run(
        &mut state,
        Command::SelectWorkOrder {
            id: "WO-24001".into(),
        },
    )
    .expect("select");
    run(&mut state, Command::Start).expect("start");
    state.counters = Some(CounterBaseline {
        epoch: 7,
        processed: 65_534,
        defective: 65_535,
    });
    // 65534 → 3 is five units at 16 bits (a u32 delta would read it as a reset).
    let events = observe(&state, &sample(7, 3, 0), now());
    assert_eq!(produced(&events), vec![(5, 1)]);
    apply_all(&mut state, events);
    assert_eq!(
        state.counters.map(|c| (c.processed, c.defective)),
        Some((3, 0)),
        "the booked reject wraps the defective baseline at 16 bits too"
    );
}

#[test]
fn raw_machine_transitions_are_recorded_once_each_with_their_category() {
    let mut state = plant();
    let kinds = |events: &[NewEvent]| -> Vec<(u16, u16, machine::MachineCategory)> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::MachineStateChanged {
                    packml,
                    stop_reason,
                    category,
                    ..
                } => Some((*packml, *stop_reason, *category)),
                _ => None,
            })
            .collect()
    };
    let mut stopped = sample(1, 0, 0);
    stopped.state = PackMlState::Stopped;
    stopped.stop_reason = 1;
    let events = observe(&state, &stopped, now());
    assert_eq!(
        kinds(&events),
        [(2, 1, machine::MachineCategory::UnplannedDowntime)]
    );
    apply_all(&mut state, events);
    assert!(
        kinds(&observe(&state, &stopped, now())).is_empty(),
        "no change, no event"
    );
    let mut starved = stopped;
    starved.state = PackMlState::Suspended;
    starved.stop_reason = 0;
    starved.interlock_bits = machine::INTERLOCK_STARVED;
    assert_eq!(
        kinds(&observe(&state, &starved, now())),
        [(5, 0, machine::MachineCategory::Starved)]
    );
}

fn started_16bit(processed: u32, defective: u32) -> State {
    let mut state = plant();
    state.settings.counter_bits = 16;
    login(&mut state);
    run(
        &mut state,
        Command::SelectWorkOrder {
            id: "WO-24001".into(),
        },
    )
    .expect("select");
    run(&mut state, Command::Start).expect("start");
    state.counters = Some(CounterBaseline {
        epoch: 7,
        processed,
        defective,
    });
    state
}

#[test]
fn sixteen_bit_processed_reset_without_new_epoch_books_no_phantom_units() {
    // A PLC program that zeroes its 16-bit counter (shift reset) without a reboot.
    let state = started_16bit(40_000, 0);
    let events = observe(&state, &sample(7, 0, 0), now());
    assert_eq!(
        produced(&events),
        vec![],
        "65536-40000 = 25536 phantom units booked"
    );
}

#[test]
fn sixteen_bit_defective_reset_does_not_reject_every_later_unit() {
    let mut state = started_16bit(1_000, 500);
    // defective counter zeroed alone, one good unit made
    let events = observe(&state, &sample(7, 1_001, 0), now());
    assert_eq!(produced(&events), vec![(1, 0)]);
    apply_all(&mut state, events);
    let events = observe(&state, &sample(7, 1_002, 0), now());
    assert_eq!(
        produced(&events),
        vec![(1, 0)],
        "good units keep being booked as rejects"
    );
}

#[test]
fn a_planned_reason_declares_downtime_even_with_an_old_suggested_stop() {
    let mut state = plant();
    let master = std::sync::Arc::make_mut(&mut state.master);
    for (code, planned) in [("R-11", false), ("R-81", true)] {
        master.codes.insert(
            code.into(),
            Code {
                code: code.into(),
                text: code.into(),
                kind: CodeKind::Downtime { planned },
            },
        );
    }
    login(&mut state);
    // A stop opened by the PLC (suggested reason only) and closed long ago.
    state.downtimes.push(downtime::Downtime {
        started_at: now() - chrono::Duration::hours(3),
        ended_at: Some(now() - chrono::Duration::hours(3) + chrono::Duration::seconds(20)),
        planned: false,
        plc_reason: 1,
        reason: Some("R-11".into()),
        coded_by: None,
    });
    let kinds = run(
        &mut state,
        Command::CodeDowntime {
            reason: "R-81".into(),
            stop: None,
        },
    )
    .expect("code");
    assert!(
        matches!(
            kinds.as_slice(),
            [EventKind::PlannedDowntimeDeclared { .. }]
        ),
        "break scanned while running recoded a 3-hour-old stop instead: {kinds:?}"
    );
}

#[test]
fn a_stopped_machine_is_reset_only_once_its_stop_has_a_reason() {
    let mut state = plant();
    state.settings.stop_reasons = [(1u16, "R-11".to_owned())].into_iter().collect();
    std::sync::Arc::make_mut(&mut state.master).codes.insert(
        "R-12".into(),
        Code {
            code: "R-12".into(),
            text: "fixture".into(),
            kind: CodeKind::Downtime { planned: false },
        },
    );
    login(&mut state);
    let mut stopped = sample(1, 0, 0);
    stopped.state = PackMlState::Stopped;
    stopped.stop_reason = 1;
    let events = observe(&state, &stopped, now());
    apply_all(&mut state, events);
    assert_eq!(
        run(&mut state, Command::ResetMachine)
            .expect_err("uncoded")
            .to_string(),
        "Give the stop a reason before restarting the machine: scan the reason barcode (the PLC suggests R-11)."
    );
    run(
        &mut state,
        Command::CodeDowntime {
            reason: "R-12".into(),
            stop: None,
        },
    )
    .expect("coded");
    assert_eq!(
        run(&mut state, Command::ResetMachine).expect("reset"),
        [EventKind::MachineCommandSent {
            command: downtime::PACKML_RESET
        }]
    );
    // An aborted machine is cleared first; a running one has nothing to reset.
    let mut aborted = stopped;
    aborted.state = PackMlState::Aborted;
    let events = observe(&state, &aborted, now());
    apply_all(&mut state, events);
    assert_eq!(
        run(&mut state, Command::ResetMachine).expect("clear"),
        [EventKind::MachineCommandSent {
            command: downtime::PACKML_CLEAR
        }]
    );
    let mut running = sample(1, 0, 0);
    running.state = PackMlState::Execute;
    let events = observe(&state, &running, now());
    apply_all(&mut state, events);
    assert_eq!(
        run(&mut state, Command::ResetMachine)
            .expect_err("running")
            .to_string(),
        "The machine is running: there is nothing to reset."
    );
}
