//! People and trust at the station: badge + PIN login against the cached verifier, lockout after
//! wrong PINs, idle logout, the handover, and the permissions matrix, on the real core and a real
//! SQLite file.

use crate::core::rig;
use crate::support::CASTING_C24_1107;
use takt::domain::signature::Meaning;
use takt::domain::{Command, EventKind, LogoutReason};
use takt::station::core::SignRequest;
use takt::station::{CoreInput, Level};
use takt::store::{Store, connect};

/// Every event body in the station's file, as stored.
fn stored_bodies(db: &std::path::Path) -> String {
    let conn = connect(db, true).expect("read");
    let mut statement = conn
        .prepare("SELECT body FROM event_log ORDER BY seq")
        .expect("query");
    let bodies: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .expect("rows")
        .map(|row| row.expect("row"))
        .collect();
    bodies.join("\n")
}

#[tokio::test]
async fn a_badge_alone_does_not_log_in_the_pin_does() {
    let mut rig = rig().await;
    let asked = rig.scan("EMP-1001");
    assert_eq!(asked.level, Level::Info);
    assert_eq!(asked.text, "Demo Operator A: type your PIN, then Enter.");
    assert_eq!(
        rig.core.view().pin_prompt.as_deref(),
        Some("Demo Operator A")
    );
    assert!(rig.core.view().operator.is_none(), "not before the PIN");
    assert!(rig.kinds().is_empty(), "a badge scan records nothing yet");

    // Typed on the keyboard, as the Login screen sends it.
    let notice = rig
        .input(CoreInput::Pin(takt::credential::Pin::new("1001")))
        .expect("an answer");
    assert_eq!(notice.level, Level::Ok, "{}", notice.text);
    assert!(notice.text.starts_with("Welcome, Demo Operator A."));
    let operator = rig.core.view().operator.clone().expect("logged in");
    assert_eq!(operator.badge, "EMP-1001");
    assert_eq!(rig.core.view().pin_prompt, None);
    assert!(matches!(
        rig.kinds().as_slice(),
        [EventKind::OperatorLoggedIn { .. }]
    ));

    // A PIN with no badge before it is refused in words.
    rig.scan("@LOGOUT");
    let stray = rig
        .input(CoreInput::Pin(takt::credential::Pin::new("1001")))
        .expect("an answer");
    assert_eq!(stray.level, Level::Refused);
    assert_eq!(stray.text, "Scan your badge first, then type your PIN.");
}

#[tokio::test]
async fn five_wrong_pins_lock_the_badge_and_leave_evidence_but_never_the_pin() {
    let mut rig = rig().await;
    for attempt in 1..=4 {
        if attempt == 1 {
            rig.scan("EMP-1001");
        }
        // The prompt stays open after a wrong PIN: the operator types again.
        let wrong = rig.scan("9876");
        assert_eq!(wrong.level, Level::Refused, "{}", wrong.text);
        assert!(
            wrong
                .text
                .contains(&format!("Wrong PIN for EMP-1001 ({attempt} of 5)")),
            "{}",
            wrong.text
        );
    }
    let fifth = rig.scan("9876");
    assert_eq!(fifth.level, Level::Refused);
    assert!(
        fifth.text.contains("Badge EMP-1001 is locked until"),
        "{}",
        fifth.text
    );
    assert_eq!(rig.core.view().pin_prompt, None, "no retry once locked");
    // Even the right PIN does not open a locked badge.
    let locked = rig.scan("EMP-1001");
    assert_eq!(locked.level, Level::Refused);
    assert!(locked.text.contains("is locked after too many wrong PINs"));

    let kinds = rig.kinds();
    let failed = kinds
        .iter()
        .filter(|k| matches!(k, EventKind::LoginFailed { .. }))
        .count();
    assert_eq!(failed, 5);
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, EventKind::BadgeLocked { attempts: 5, .. }))
    );
    assert!(
        !stored_bodies(&rig.db).contains("9876"),
        "a PIN, even a wrong one, never reaches the log"
    );

    // The lock outlives a restart and ends after the station's lockout time (default 15 min).
    let store = Store::open(&rig.db, &crate::support::station_id()).expect("reopen");
    let loaded = store.load_state().expect("load");
    assert_eq!(loaded, store.replay_state().expect("replay"));
    assert!(
        loaded
            .login_guard
            .locked_until
            .contains_key(&takt::domain::Badge::from("EMP-1001"))
    );
    drop(store);
    rig.clock.advance(chrono::Duration::minutes(16));
    let notice = rig.login("EMP-1001");
    assert_eq!(notice.level, Level::Ok, "{}", notice.text);
}

#[tokio::test]
async fn an_idle_operator_is_logged_out_and_the_running_order_paused() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    rig.scan(CASTING_C24_1107);
    rig.scan("@START");
    rig.beat(0, 0, 1);
    // Units made keep the session: the machine is being fed.
    for minute in 1..=40u32 {
        rig.clock.advance(chrono::Duration::minutes(1));
        rig.beat(minute, 0, (minute % 60) as u16 + 2);
    }
    assert!(rig.core.view().operator.is_some(), "production is activity");
    // Nothing for 30 minutes: the machine stands, nobody scans.
    rig.clock.advance(chrono::Duration::minutes(31));
    let notice = rig.beat(40, 0, 99);
    assert!(rig.core.view().operator.is_none(), "logged out: {notice:?}");
    let kinds = rig.kinds();
    let tail = &kinds[kinds.len() - 2..];
    assert!(
        matches!(
            tail,
            [
                EventKind::WorkOrderPaused { .. },
                EventKind::OperatorLoggedOut {
                    reason: Some(LogoutReason::Idle),
                    ..
                }
            ]
        ),
        "{tail:?}"
    );
    // The next person sees what was left.
    let handover = rig.core.view().handover.join("\n");
    assert!(
        handover.contains("WO-24001 paused: 40 made of 120"),
        "{handover}"
    );
    assert!(
        handover.contains("Loaded: C24-1107 (CAST-200)"),
        "{handover}"
    );
    let next = rig.login("EMP-1002");
    assert!(
        next.text.contains("Handed over: WO-24001 paused"),
        "{}",
        next.text
    );
}

#[tokio::test]
async fn a_role_without_the_permission_is_told_what_it_needs() {
    let mut rig = rig().await;
    let notice = rig.login("EMP-2001");
    assert_eq!(notice.level, Level::Ok, "{}", notice.text);
    let refused = rig.scan("WO-24001");
    assert_eq!(refused.level, Level::Refused);
    assert_eq!(
        refused.text,
        "Demo Inspector (inspector) may not choose work orders: that needs operator, line lead or admin."
    );
    // The refused scan is evidence, as every refusal.
    assert!(matches!(
        rig.kinds().last(),
        Some(EventKind::ScanRefused { scanned, .. }) if scanned == "WO-24001"
    ));
    // What the inspector may do (call quality) works.
    let call = rig.scan("@ANDON-QUAL");
    assert_eq!(call.level, Level::Ok, "{}", call.text);
    assert!(
        rig.core
            .view()
            .operator
            .as_ref()
            .is_some_and(|o| !o.may(takt::domain::permission::Action::RunWorkOrder))
    );
}

fn keyed(rig: &mut crate::core::Rig, text: &str) -> takt::station::Notice {
    rig.input(CoreInput::Keyed(text.into())).expect("an answer")
}

fn pin(rig: &mut crate::core::Rig, pin: &str) -> takt::station::Notice {
    rig.input(CoreInput::Pin(takt::credential::Pin::new(pin)))
        .expect("an answer")
}

fn sign(rig: &mut crate::core::Rig, request: SignRequest) -> takt::station::Notice {
    rig.input(CoreInput::Sign(request)).expect("an answer")
}

fn events(rig: &crate::core::Rig) -> Vec<takt::domain::Event> {
    let conn = connect(&rig.db, true).expect("read");
    takt::store::read_events_after(&conn, 0, u64::MAX).expect("events")
}

fn signed(rig: &crate::core::Rig) -> Vec<(String, String, Meaning)> {
    rig.kinds()
        .into_iter()
        .filter_map(|kind| match kind {
            EventKind::Signed {
                signer,
                name,
                meaning,
                ..
            } => Some((signer.to_string(), name, meaning)),
            _ => None,
        })
        .collect()
}

/// A hold set at the station stops the lot at once; releasing it is signature-grade: an inspector
/// picks a meaning and types their PIN again, a wrong PIN counts towards the lock and is never
/// stored, and the signature binds name, time and meaning to the release.
#[tokio::test]
async fn a_hold_is_released_only_with_a_signature() {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    let held = rig
        .input(CoreInput::Command(Command::HoldLot {
            lot: "C24-1107".into(),
            reason: "porosity seen at OP10".into(),
        }))
        .expect("an answer");
    assert_eq!(held.level, Level::Ok, "{}", held.text);
    let refused = rig.scan(CASTING_C24_1107);
    assert_eq!(refused.level, Level::Refused);
    assert!(
        refused.text.contains("ON HOLD (porosity seen at OP10)"),
        "{}",
        refused.text
    );
    let operator = sign(
        &mut rig,
        SignRequest::Release {
            lot: "C24-1107".into(),
        },
    );
    assert_eq!(operator.level, Level::Refused);
    assert!(
        operator.text.contains("may not release held lots"),
        "{}",
        operator.text
    );
    assert_eq!(rig.core.view().signature_prompt, None, "nothing to sign");

    rig.scan("@LOGOUT");
    rig.login("EMP-2001");
    let asked = sign(
        &mut rig,
        SignRequest::Release {
            lot: "C24-1107".into(),
        },
    );
    assert_eq!(asked.level, Level::Info, "{}", asked.text);
    let prompt = rig.core.view().signature_prompt.clone().expect("a prompt");
    assert_eq!(prompt.what, "release the hold on lot C24-1107");
    assert!(
        prompt.ask.contains("1 approved, 2 reviewed"),
        "{}",
        prompt.ask
    );
    assert!(!prompt.secret);
    assert_eq!(
        keyed(&mut rig, "7").level,
        Level::Refused,
        "no such meaning"
    );
    let asked = keyed(&mut rig, "1");
    assert_eq!(asked.level, Level::Info, "{}", asked.text);
    let prompt = rig.core.view().signature_prompt.clone().expect("a prompt");
    assert!(prompt.secret, "the PIN is masked");
    assert!(
        prompt
            .ask
            .starts_with("Demo Inspector: type your PIN to sign (approved)")
    );

    // A badge scanned where the PIN is asked is no wrong PIN: nothing counted, still asked.
    let before = rig.kinds().len();
    let scanned = rig.scan("EMP-9999");
    assert_eq!(scanned.level, Level::Refused);
    assert!(
        scanned.text.starts_with("That was a scan, not a PIN."),
        "{}",
        scanned.text
    );
    assert_eq!(rig.kinds().len(), before, "nothing recorded");
    assert!(
        rig.core
            .view()
            .signature_prompt
            .as_ref()
            .is_some_and(|p| p.secret)
    );
    let wrong = pin(&mut rig, "4711");
    assert_eq!(wrong.level, Level::Refused);
    assert_eq!(
        wrong.text,
        "Wrong PIN for Demo Inspector. Type it again, or Esc to cancel."
    );
    assert!(matches!(
        rig.kinds().last(),
        Some(EventKind::LoginFailed { attempt: 1, .. })
    ));
    let done = pin(&mut rig, "2001");
    assert_eq!(done.level, Level::Ok, "{}", done.text);
    assert_eq!(rig.core.view().signature_prompt, None);
    assert_eq!(
        signed(&rig),
        [(
            "EMP-2001".into(),
            "Demo Inspector".into(),
            Meaning::Approved
        )]
    );
    let log = events(&rig);
    assert!(takt::domain::signature::check(&log).is_empty());
    let n = log.len();
    assert!(matches!(log[n - 2].kind, EventKind::LotReleased { .. }));
    assert_eq!(log[n - 1].at, log[n - 2].at, "signed when released");
    assert!(
        !stored_bodies(&rig.db).contains("4711"),
        "a PIN is never stored"
    );

    // Released: the lot is taken again.
    rig.scan("@LOGOUT");
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    let loaded = rig.scan(CASTING_C24_1107);
    assert_eq!(loaded.level, Level::Ok, "{}", loaded.text);
}

/// Where the station's configuration asks for it, a second person signs too: someone else, who
/// may release holds; the station says why another badge cannot sign.
#[tokio::test]
async fn a_second_person_signs_where_the_station_asks_for_it() {
    let mut rig = rig().await;
    let mut config = takt::domain::StationConfig::new("L1-S1".into());
    config.second_signer_for = vec!["release_hold".into()];
    rig.input(CoreInput::Sync(takt::sync::SyncReport::Changes(
        takt::protocol::ChangePage {
            changes: vec![takt::protocol::Change {
                version: 1000,
                record: takt::protocol::MasterRecord::StationConfig(config),
            }],
            cursor: 1000,
            more: false,
            server_time: chrono::Utc::now(),
            waited_ms: 0,
        },
    )));
    rig.login("EMP-2001");
    // C24-1031 is on hold in the demo plant (porosity suspected).
    sign(
        &mut rig,
        SignRequest::Release {
            lot: "C24-1031".into(),
        },
    );
    keyed(&mut rig, "approved");
    let second = pin(&mut rig, "2001");
    assert_eq!(second.level, Level::Info, "{}", second.text);
    assert!(
        second.text.contains("A second person must sign"),
        "{}",
        second.text
    );
    assert!(
        signed(&rig).is_empty(),
        "nothing recorded with one signature"
    );

    let operator = rig.scan("EMP-1002");
    assert_eq!(operator.level, Level::Refused);
    assert!(
        operator
            .text
            .starts_with("Demo Operator B cannot sign here: operator may not release held lots."),
        "{}",
        operator.text
    );
    let same = rig.scan("EMP-2001");
    assert!(
        same.text
            .starts_with("The second signature must be another person's."),
        "{}",
        same.text
    );
    let admin = rig.scan("EMP-9999");
    assert_eq!(admin.level, Level::Info, "{}", admin.text);
    assert!(
        admin
            .text
            .starts_with("Demo Admin, what does your signature mean?")
    );
    keyed(&mut rig, "2");
    let done = pin(&mut rig, "9999");
    assert_eq!(done.level, Level::Ok, "{}", done.text);
    assert_eq!(
        signed(&rig),
        [
            (
                "EMP-2001".into(),
                "Demo Inspector".into(),
                Meaning::Approved
            ),
            ("EMP-9999".into(), "Demo Admin".into(), Meaning::Reviewed)
        ]
    );
    assert!(takt::domain::signature::check(&events(&rig)).is_empty());
}

/// EMP-1001 runs WO-24001 on casting lot C24-1107 and the machine makes 20: one tote.
async fn twenty_made() -> crate::core::Rig {
    let mut rig = rig().await;
    rig.login("EMP-1001");
    rig.scan("WO-24001");
    rig.scan(CASTING_C24_1107);
    rig.scan("@START");
    rig.sample(100, 0);
    rig.sample(120, 0);
    rig
}

/// The History row `pick` finds.
fn history_row(
    rig: &crate::core::Rig,
    pick: impl Fn(&takt::station::HistoryRow) -> bool,
) -> takt::station::HistoryRow {
    rig.core
        .view()
        .history
        .iter()
        .find(|row| pick(row))
        .cloned()
        .expect("the fact in the History rows")
}

/// A wrong count is corrected, never edited: a lead picks it from the History rows, gives the new
/// value and a reason code, and signs; the count moves, the original stays in the log, and the
/// History row shows both. Esc on the signature records nothing.
#[tokio::test]
async fn a_count_is_corrected_by_a_signed_event_and_the_original_stays() {
    use takt::domain::correction::Correction;
    let mut rig = twenty_made().await;
    let produced = |rig: &crate::core::Rig| {
        rig.core
            .view()
            .active
            .as_ref()
            .map(|active| (active.produced, active.rejected))
    };
    assert_eq!(produced(&rig), Some((20, 0)));
    rig.scan("@PAUSE");
    rig.scan("@LOGOUT");
    rig.login("EMP-3001");
    let row = history_row(&rig, |row| {
        row.value
            == Correction::Count {
                produced: 20,
                rejected: 0,
            }
    });
    assert_eq!(row.what, "count WO-24001");
    let before = rig.kinds().len();
    let request = SignRequest::Correct {
        seq: row.seq,
        now: Correction::Count {
            produced: 20,
            rejected: 3,
        },
        reason: "C-03".into(),
    };
    sign(&mut rig, request.clone());
    let cancelled = rig.input(CoreInput::CancelSignature).expect("an answer");
    assert!(
        cancelled
            .text
            .starts_with("Not signed: nothing was recorded"),
        "{}",
        cancelled.text
    );
    assert_eq!(rig.kinds().len(), before);

    let bad_reason = sign(
        &mut rig,
        SignRequest::Correct {
            seq: row.seq,
            now: Correction::Count {
                produced: 20,
                rejected: 3,
            },
            reason: "R-11".into(),
        },
    );
    assert_eq!(bad_reason.level, Level::Refused, "checked before any PIN");
    sign(&mut rig, request);
    keyed(&mut rig, "4");
    let done = pin(&mut rig, "3001");
    assert_eq!(done.level, Level::Ok, "{}", done.text);
    let kinds = rig.kinds();
    assert!(matches!(
        &kinds[before..],
        [
            EventKind::Corrected { corrects, reason, .. },
            EventKind::Signed { meaning: Meaning::Responsible, .. }
        ] if *corrects == row.seq && reason == "C-03"
    ));
    let row = history_row(&rig, |r| r.seq == row.seq);
    assert_eq!(
        row.value,
        Correction::Count {
            produced: 20,
            rejected: 3
        }
    );
    assert_eq!(
        row.original,
        Some(Correction::Count {
            produced: 20,
            rejected: 0
        })
    );
    // The projections follow, and survive a restart (they are read back from disk).
    let progress = |state: &takt::domain::State| {
        let p = &state.progress[&takt::domain::WorkOrderId::from("WO-24001")];
        (p.produced, p.rejected)
    };
    assert_eq!(progress(rig.core.state()), (20, 3));
    // The live quality of the shift follows: 17 good of 20.
    rig.clock.advance(chrono::Duration::minutes(1));
    rig.core.publish();
    let shift = rig
        .core
        .view()
        .shift
        .clone()
        .expect("inside the demo's early shift");
    assert_eq!((shift.produced, shift.good), (20, 17));
    assert_eq!(shift.kpi.quality, Some(17.0 / 20.0));
    let store = Store::open(&rig.db, &"L1-S1".into()).expect("reopen");
    assert_eq!(progress(&store.load_state().expect("state")), (20, 3));
    assert_eq!(progress(&store.replay_state().expect("replay")), (20, 3));
    // A station started again reads the correction into its live KPIs too.
    drop(rig.core);
    let restarted = takt::station::Core::new(
        store,
        std::sync::Arc::new(rig.clock.clone()),
        takt::station::CoreOutputs::detached("L1-S1"),
        None,
        false,
    )
    .expect("restart");
    let shift = restarted.view().shift.clone().expect("the early shift");
    assert_eq!((shift.produced, shift.good), (20, 17));
}

/// The lots `output` was made from, as this station's own log says (the Trace screen offline).
async fn made_from(rig: &mut crate::core::Rig, output: &str) -> Vec<String> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    rig.input(CoreInput::Trace {
        lot: output.into(),
        direction: takt::protocol::TraceDirection::Backward,
        reply,
    });
    let genealogy = answer
        .await
        .expect("an answer")
        .expect("readable")
        .expect("the output is known");
    genealogy
        .root
        .children
        .iter()
        .map(|child| child.lot.to_string())
        .collect()
}

/// A tote booked with the wrong casting lot (C-02, wrong label scanned) is put right by a signed
/// correction of its inputs: the station's genealogy of the tote names the right lot afterwards,
/// the wrong one is no longer in it, and the correction survives a restart.
#[tokio::test]
async fn a_wrong_genealogy_link_is_corrected_and_the_trace_follows() {
    use takt::domain::correction::Correction;
    let mut rig = twenty_made().await;
    let tote = rig
        .kinds()
        .into_iter()
        .find_map(|kind| match kind {
            EventKind::OutputCreated { output, .. } => Some(output.to_string()),
            _ => None,
        })
        .expect("a tote of 20 was made");
    assert_eq!(made_from(&mut rig, &tote).await, ["C24-1107"]);
    rig.scan("@PAUSE");
    rig.scan("@LOGOUT");

    rig.login("EMP-3001");
    let row = history_row(&rig, |row| row.what == format!("output {tote}"));
    assert_eq!(
        row.value,
        Correction::Inputs {
            inputs: vec!["C24-1107".into()]
        }
    );
    let now = Correction::parse_like(&row.value, "C24-2210").expect("a lot id");
    sign(
        &mut rig,
        SignRequest::Correct {
            seq: row.seq,
            now,
            reason: "C-02".into(),
        },
    );
    keyed(&mut rig, "performed");
    let done = pin(&mut rig, "3001");
    assert_eq!(done.level, Level::Ok, "{}", done.text);
    assert_eq!(made_from(&mut rig, &tote).await, ["C24-2210"]);
    let history = rig.core.view().history.clone();
    let row = history.iter().find(|r| r.seq == row.seq).expect("listed");
    assert_eq!(
        row.original,
        Some(Correction::Inputs {
            inputs: vec!["C24-1107".into()]
        }),
        "the history shows both"
    );

    drop(rig.core);
    let store = Store::open(&rig.db, &"L1-S1".into()).expect("reopen");
    let state = store.load_state().expect("state");
    let genealogy = store
        .local_genealogy(
            &state,
            &tote.as_str().into(),
            takt::protocol::TraceDirection::Backward,
        )
        .expect("readable")
        .expect("known");
    let lots: Vec<String> = genealogy
        .root
        .children
        .iter()
        .map(|child| child.lot.to_string())
        .collect();
    assert_eq!(lots, ["C24-2210"]);

    // The tote's audit report shows the correction with both values and its signature.
    let out = crate::support::takt_cli([
        "audit",
        "report",
        "--db",
        &rig.db.display().to_string(),
        "--lot",
        &tote,
    ])
    .await;
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{report}");
    for said in [
        "corrected event",
        "made from C24-2210 (was made",
        "C-02 wrong label scanned",
        "signed: Demo Line Lead (EMP-3001)",
        "meaning: performed",
    ] {
        assert!(report.contains(said), "{said}: {report}");
    }
}

/// A signature prompt left too long stays on screen until something is entered: the PIN typed
/// then is refused as late and never becomes a scan, a trace question or evidence.
#[tokio::test]
async fn a_pin_typed_after_the_prompt_expired_is_never_recorded() {
    let mut rig = rig().await;
    rig.login("EMP-2001");
    sign(
        &mut rig,
        SignRequest::Release {
            lot: "C24-1031".into(),
        },
    );
    keyed(&mut rig, "1");
    rig.clock.advance(chrono::Duration::minutes(5));
    rig.core.publish();
    assert!(
        rig.core
            .view()
            .signature_prompt
            .as_ref()
            .is_some_and(|p| p.secret),
        "still asking for the PIN, masked"
    );
    let before = rig.kinds().len();
    let late = keyed(&mut rig, "5813");
    assert_eq!(late.level, Level::Refused);
    assert!(
        late.text
            .starts_with("Not signed: the entry came too late."),
        "{}",
        late.text
    );
    assert_eq!(rig.kinds().len(), before, "nothing recorded");
    assert!(!stored_bodies(&rig.db).contains("5813"));
    assert_eq!(rig.core.view().signature_prompt, None);
}
