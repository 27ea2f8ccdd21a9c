//! First-article gating on the real line (central, L1-S1's store and its PLC simulator): OP10's plan
//! gates WO-24001 on its first article. The first good caliper becomes a lot of one, the permit the
//! station writes to the PLC drops and the machine stops making more, the operator is told why, an
//! inspector's accepting inspection at the station lifts the gate, and production goes on in full
//! totes — kept across a restart of the station.

use crate::flow::start_line_with;
use crate::support::{CASTING_C24_1107, wait_view};
use std::time::Duration;
use takt::domain::{Command, EventKind, LotId, WorkOrderId};
use takt::station::CoreInput;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machine_waits_for_its_first_article_to_pass_inspection() {
    let mut line = start_line_with(true).await;
    let s1 = &mut line.stations[0];
    s1.scan("EMP-1001").await;
    s1.scan("1001").await;
    s1.scan("WO-24001").await;
    s1.scan(CASTING_C24_1107).await;
    s1.scan("@START").await;

    // One good unit, then the gate: no permit, the words on the Run screen, the machine idle.
    let view = wait_view(&mut s1.station.view, "the first article waits", |v| {
        v.active.as_ref().is_some_and(|a| {
            a.quality_holds
                .iter()
                .any(|h| h.starts_with("FIRST ARTICLE"))
        }) && !v.plc.permit
    })
    .await;
    let active = view.active.expect("active order");
    let outputs = s1.outputs();
    let (first, _, units, _) = outputs.first().cloned().expect("the first article");
    assert_eq!(units, 1, "{outputs:?}");
    assert_eq!(
        active.quality_holds,
        vec![format!(
            "FIRST ARTICLE: {first} of WO-24001 waits for an inspector to inspect it here"
        )]
    );
    let mut told = false;
    while let Ok(Some(notice)) =
        tokio::time::timeout(Duration::from_secs(5), s1.station.notices.recv()).await
    {
        if notice.text.starts_with(&format!(
            "First article of WO-24001 made: lot {first}. The machine waits"
        )) {
            told = true;
            break;
        }
    }
    assert!(told, "the operator was told why the machine waits");
    // Cycles in flight when the permit dropped are counted; after that the machine makes nothing.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let produced = s1.station.view.borrow().active.as_ref().map(|a| a.produced);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        s1.station.view.borrow().active.as_ref().map(|a| a.produced),
        produced,
        "the machine kept making parts without a permit"
    );

    // An operator may not pass their own first article.
    let inspect = || {
        CoreInput::Command(Command::Inspect {
            lot: LotId::from(first.as_str()),
            inspected: 1,
            findings: vec![("VISUAL".into(), "pass".into())],
            defects: Vec::new(),
        })
    };
    s1.station.send(inspect()).await.expect("core");
    assert!(!s1.station.view.borrow().plc.permit);

    // The inspector takes the terminal and accepts it; the operator comes back and resumes.
    s1.scan("@LOGOUT").await;
    s1.scan("EMP-2001").await;
    s1.scan("2001").await;
    wait_view(&mut s1.station.view, "inspector logged in", |v| {
        v.operator.as_ref().is_some_and(|o| o.badge == "EMP-2001")
    })
    .await;
    s1.station.send(inspect()).await.expect("core");
    wait_view(&mut s1.station.view, "the gate is lifted", |v| {
        v.active
            .as_ref()
            .is_some_and(|a| a.quality_holds.is_empty())
    })
    .await;
    s1.scan("@LOGOUT").await;
    s1.scan("EMP-1001").await;
    s1.scan("1001").await;
    s1.scan("@RESUME").await;
    wait_view(&mut s1.station.view, "production goes on", |v| {
        v.plc.permit && v.active.as_ref().is_some_and(|a| a.good >= 25)
    })
    .await;
    let outputs = s1.outputs();
    assert!(
        outputs.iter().skip(1).any(|(_, _, units, _)| *units == 20),
        "full totes after the first article: {outputs:?}"
    );
    let inspections: Vec<_> = s1
        .events()
        .into_iter()
        .filter_map(|kind| match kind {
            EventKind::InspectionRecorded { lot, verdict, .. } => Some((lot.to_string(), verdict)),
            _ => None,
        })
        .collect();
    assert_eq!(
        inspections.len(),
        1,
        "the operator's attempt recorded nothing: {inspections:?}"
    );
    // ... but the attempt itself, as evidence in words.
    let attempts: Vec<(String, String)> = s1
        .events()
        .into_iter()
        .filter_map(|kind| match kind {
            EventKind::ScanRefused {
                scanned, reason, ..
            } => Some((scanned, reason)),
            _ => None,
        })
        .collect();
    assert!(
        attempts.iter().any(
            |(scanned, reason)| *scanned == format!("inspect lot {first}")
                && reason.contains("may not")
        ),
        "{attempts:?}"
    );

    // The passed first article is kept across a restart: the order does not wait again.
    let s1 = line.stations.remove(0);
    let db = s1.db.clone();
    s1.station.shutdown().await;
    s1.sim.shutdown().await;
    let store =
        takt::store::Store::open(&db, &takt::domain::StationId::from("L1-S1")).expect("store");
    let state = store.load_state().expect("state");
    let progress = &state.progress[&WorkOrderId::from("WO-24001")];
    let passed = progress.first_article.as_ref().expect("first article");
    assert_eq!(passed.lot.as_str(), first);
    assert!(passed.passed.is_some());
    assert!(takt::domain::first_article::pending(&state).is_none());
    line.shutdown().await;
}
