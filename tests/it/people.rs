//! People and trust at the station: badge + PIN login against the cached verifier, lockout after
//! wrong PINs, idle logout, the handover, and the permissions matrix, on the real core and a real
//! SQLite file.

use crate::core::rig;
use crate::support::CASTING_C24_1107;
use takt::domain::{EventKind, LogoutReason};
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
