//! Quality's loop on a real line (central, three stations with their simulators, the real TUI at
//! L1-S1): a failed inspection holds a tote plant-wide, L1-S2 refuses it at the scan, a signed
//! disposition sends it back to OP10, its rework is recorded there, a re-inspection accepts it, a
//! signed release lets it go on, and central's genealogy tells the whole story.

use crate::e2e::master_body;
use crate::flow::start_line;
use crate::support::{CASTING_C24_1107, eventually};
use crate::tui::Ui;
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use std::time::Duration;
use takt::domain::inspection::DefectFound;
use takt::domain::{Command, LotStatus};
use takt::protocol::Genealogy;
use takt::station::CoreInput;
use takt::station::view::CentralView;

fn inspect(tote: &str, defects: Vec<DefectFound>, findings: &[(&str, &str)]) -> CoreInput {
    CoreInput::Command(Command::Inspect {
        lot: tote.into(),
        inspected: 5,
        findings: findings
            .iter()
            .map(|(id, value)| ((*id).to_owned(), (*value).to_owned()))
            .collect(),
        defects,
    })
}

/// Signs what the SIGN box shows: meaning 1 (approved), then the PIN, as typed at the keyboard.
async fn sign(ui: &mut Ui, pin: &str) {
    ui.wait_for("SIGN (21 CFR Part 11)").await;
    ui.scan("1");
    ui.wait_for(" PIN> ").await;
    ui.scan(pin);
}

async fn login(ui: &mut Ui, badge: &str, pin: &str, welcome: &str) {
    ui.key(KeyCode::F(9));
    ui.wait_for("Scan your badge").await;
    ui.scan(badge);
    ui.scan(pin);
    ui.wait_for(welcome).await;
    // The notice and the view travel separately: the next key must find the logged-in screen,
    // whose status bar names the badge.
    ui.wait_for(&format!("| {badge} ")).await;
}

async fn trace(ui: &mut Ui, lot: &str) {
    ui.key(KeyCode::F(4));
    // The screen's own title, not the legend's "Trace": a scan typed before the switch would go
    // to the screen before.
    ui.wait_for("┌ Trace").await;
    ui.scan(lot);
    ui.wait_for(&format!("Trace {lot}")).await;
}

/// Waits until the station's copy of central's record of `lot` says `status`.
async fn station_hears(db: &std::path::Path, lot: &str, status: &str) {
    let db = db.to_owned();
    let (lot, status) = (lot.to_owned(), status.to_owned());
    eventually(
        &format!("the station hears {lot} is {status}"),
        Duration::from_secs(30),
        || {
            let body = master_body(&db, "master_record", "lot", &lot);
            let status = status.clone();
            async move { body.is_some_and(|body| body.contains(&format!("\"status\":\"{status}\""))) }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_tote_is_held_plant_wide_reworked_reinspected_and_released_with_signatures() {
    let mut line = start_line().await;
    let url = line.central.url();
    let (tote, units) = {
        let s1 = &mut line.stations[0];
        s1.scan("EMP-1001").await;
        s1.scan("1001").await;
        s1.scan("WO-24001").await;
        s1.scan(CASTING_C24_1107).await;
        s1.run_and_complete(6).await;
        let (tote, _, units, _) = s1.outputs().last().cloned().expect("a tote left OP10");
        (tote, units)
    };
    let [s1, s2, _] = &mut line.stations[..] else {
        panic!("three stations");
    };
    let mut ui = Ui::start(&mut s1.station, 100, 30);
    login(&mut ui, "EMP-2001", "2001", "Welcome, Demo Inspector").await;

    // The inspector finds porosity: a tote of 6 or so, n = 5 at AQL 2.5 major → 0/1, rejected, held, NCR.
    s1.station
        .send(inspect(
            &tote,
            vec![DefectFound {
                code: "D-101".into(),
                quantity: 1,
                location: None,
            }],
            &[],
        ))
        .await
        .expect("core running");
    ui.wait_for("REJECTED").await;

    // L1-S2 hears of the hold from central and refuses the tote at the scan, saying why.
    station_hears(&s2.db, &tote, "on_hold").await;
    let mut notices = std::mem::replace(
        &mut s2.station.notices,
        tokio::sync::mpsc::unbounded_channel().1,
    );
    s2.scan("EMP-1002").await;
    s2.scan("1002").await;
    s2.scan("WO-24001").await;
    s2.scan(&tote).await;
    let refusal = loop {
        let notice = tokio::time::timeout(Duration::from_secs(20), notices.recv())
            .await
            .expect("a notice for the scan")
            .expect("core running");
        if notice.text.contains(tote.as_str()) {
            break notice.text;
        }
    };
    assert!(
        refusal.contains("is ON HOLD (failed inspection: 1 major nonconforming"),
        "{refusal}"
    );

    // A signed rework: back to OP10, from the Trace screen, by keys.
    trace(&mut ui, &tote).await;
    ui.key(KeyCode::F(12));
    ui.wait_for(&format!("Disposition of lot {tote}")).await;
    ui.wait_for(" Dispose> ").await;
    ui.scan("rework OP10");
    ui.wait_for("Why rework OP10").await;
    ui.scan("porosity at the bore, re-machine");
    sign(&mut ui, "2001").await;
    ui.wait_for(&format!("Lot {tote} dispositioned: {units} rework at OP10"))
        .await;
    // Not released while in rework.
    ui.key(KeyCode::F(8));
    ui.wait_for("cannot be released yet: it is sent back to OP10")
        .await;

    // The operator of OP10 sees it in the queue and records the rework.
    login(&mut ui, "EMP-1001", "1001", "Welcome, Demo Operator").await;
    ui.key(KeyCode::F(2));
    ui.wait_for("Rework - 1 lot(s) sent back here").await;
    trace(&mut ui, &tote).await;
    ui.send(Event::Key(KeyEvent::new(
        KeyCode::F(5),
        KeyModifiers::SHIFT,
    )));
    ui.wait_for(&format!("Rework of lot {tote} at OP10 recorded"))
        .await;

    // Re-inspected: accepted; the hold stays until a signed release.
    login(&mut ui, "EMP-2001", "2001", "Welcome, Demo Inspector").await;
    s1.station
        .send(inspect(&tote, Vec::new(), &[("VISUAL", "pass")]))
        .await
        .expect("core running");
    ui.wait_for(&format!("Lot {tote} inspected: ACCEPTED"))
        .await;
    trace(&mut ui, &tote).await;
    ui.key(KeyCode::F(8));
    sign(&mut ui, "2001").await;
    ui.wait_for(&format!("Hold on lot {tote} released")).await;
    ui.quit().await;

    // Central has all of it, in order, under the tote in its genealogy; L1-S2 may use it now.
    wait_synced(s1).await;
    let genealogy: Genealogy = reqwest::get(format!(
        "{url}/api/v1/lots/{tote}/genealogy?direction=backward"
    ))
    .await
    .expect("genealogy")
    .json()
    .await
    .expect("json");
    assert_eq!(genealogy.root.status, Some(LotStatus::Released));
    let kinds: Vec<&str> = genealogy
        .root
        .quality
        .iter()
        .map(|entry| entry.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "inspection_recorded",
            "lot_held",
            "ncr_opened",
            "lot_dispositioned",
            "rework_done",
            "inspection_recorded",
            "lot_released"
        ],
        "{:#?}",
        genealogy.root.quality
    );
    let told: Vec<&str> = genealogy
        .root
        .quality
        .iter()
        .map(|entry| entry.words.as_str())
        .collect();
    assert!(
        told[3].contains(&format!("{units} rework at OP10")),
        "{told:?}"
    );
    assert!(told[3].contains("porosity at the bore"), "{told:?}");
    assert!(
        genealogy
            .root
            .quality
            .iter()
            .all(|entry| entry.station.as_str() == "L1-S1"),
        "{told:?}"
    );
    let rendered = takt::trace::render(&genealogy);
    assert!(rendered.contains("reworked lot"), "{rendered}");

    station_hears(&s2.db, &tote, "released").await;
    s2.scan(&tote).await;
    let loaded = loop {
        let notice = tokio::time::timeout(Duration::from_secs(20), notices.recv())
            .await
            .expect("a notice for the scan")
            .expect("core running");
        if notice.text.contains(tote.as_str()) {
            break notice.text;
        }
    };
    assert!(!loaded.contains("HOLD"), "{loaded}");
    line.shutdown().await;
}

async fn wait_synced(station: &mut crate::flow::LineStation) {
    crate::support::wait_view(&mut station.station.view, "log synced", |v| {
        v.backlog == 0 && matches!(v.central, CentralView::Online)
    })
    .await;
}
