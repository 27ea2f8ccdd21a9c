//! The classifier against the demo plant's master data, as central serves it to station L1-S1.

use crate::support::{CASTING_C24_1107, CASTING_C24_1107_TYPED, demo_master_page, station_id};
use chrono::NaiveDate;
use takt::domain::{Badge, LotId, LotLabel, MasterData, MaterialId, Quantity, State, WorkOrderId};
use takt::scan::{Patterns, Scan, ScanError, classify};

async fn demo_state() -> State {
    let mut master = MasterData::default();
    for change in demo_master_page().await.changes {
        change.record.apply_to(&mut master);
    }
    State::new(station_id(), master)
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

#[tokio::test]
async fn demo_plant_scans_mean_what_the_plant_means() {
    let state = demo_state().await;
    let scan = |text: &str| classify(text, &state, &Patterns::default(), today());
    let casting = LotLabel {
        lot: LotId::from("C24-1107"),
        gtin: Some("00401234500012".into()),
        material: None,
        quantity: Some(Quantity::units(400)),
        expiry: None,
        produced: None,
    };
    assert_eq!(scan(CASTING_C24_1107), Ok(Scan::Lot(casting.clone())));
    assert_eq!(scan(CASTING_C24_1107_TYPED), Ok(Scan::Lot(casting)));
    // The lot number alone is a lot the station knows.
    assert!(
        matches!(scan("C24-1107"), Ok(Scan::Lot(label)) if label.lot == LotId::from("C24-1107") && label.gtin.is_none())
    );
    assert_eq!(scan("D-101"), Ok(Scan::Defect("D-101".into())));
    assert_eq!(scan("d-101"), Ok(Scan::Defect("D-101".into())));
    assert_eq!(scan("R-11"), Ok(Scan::DowntimeReason("R-11".into())));
    assert_eq!(scan("R-81"), Ok(Scan::DowntimeReason("R-81".into())));
    assert_eq!(scan("EMP-1001"), Ok(Scan::Badge(Badge::from("EMP-1001"))));
    assert_eq!(
        scan("WO-24004"),
        Ok(Scan::WorkOrder(WorkOrderId::from("WO-24004")))
    );
    assert_eq!(
        scan("CAST-200"),
        Ok(Scan::Material(MaterialId::from("CAST-200")))
    );
    // A GTIN without lot names the material it belongs to.
    assert_eq!(
        scan("]C10100401234500111"),
        Ok(Scan::Material(MaterialId::from("PST-54")))
    );
    // A finished caliper's serial label.
    assert_eq!(
        scan("]C1010040123450101921L1-S3-261125-000001\u{1d}11261125"),
        Ok(Scan::Serial {
            serial: LotId::from("L1-S3-261125-000001"),
            gtin: Some("00401234501019".into()),
        })
    );
    // A supplier's ISO 15434 label with our part number.
    assert!(matches!(
        scan("[)>\u{1e}06\u{1d}PSEAL-54\u{1d}1TS24-0815\u{1d}Q500\u{1e}\u{4}"),
        Ok(Scan::Lot(label)) if label.material == Some(MaterialId::from("SEAL-54")) && label.quantity == Some(Quantity::units(500))
    ));
    // Unknown codes that match a pattern are still classified by the pattern.
    assert_eq!(scan("D-999"), Ok(Scan::Defect("D-999".into())));
    assert_eq!(scan("XYZ-1"), Err(ScanError::Unrecognised("XYZ-1".into())));
}

#[tokio::test]
async fn overlapping_patterns_are_refused_unless_master_data_knows_the_code() {
    let state = demo_state().await;
    let patterns = Patterns {
        defect: "?-*".into(),
        reason: "R-*".into(),
        ..Patterns::default()
    };
    let scan = |text: &str| classify(text, &state, &patterns, today());
    assert_eq!(scan("R-99"), Err(ScanError::Ambiguous("R-99".into())));
    // The catalog knows R-11 is a downtime reason: knowledge beats patterns.
    assert_eq!(scan("R-11"), Ok(Scan::DowntimeReason("R-11".into())));
    assert_eq!(scan("D-101"), Ok(Scan::Defect("D-101".into())));
}
