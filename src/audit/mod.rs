//! `takt audit verify`: the command-line face of the chain check, for a station's store or for a
//! station's chain as central holds it.

use crate::store::{VerifyReport, connect, verify_chain};
use std::path::Path;
use std::process::ExitCode;

pub fn verify(db: &Path, station: Option<&str>) -> anyhow::Result<ExitCode> {
    if !db.exists() {
        anyhow::bail!("{}: no such database", db.display());
    }
    let report = match station {
        Some(station) => crate::central::verify_station_chain(db, station)?,
        None => verify_chain(&connect(db, true)?)?,
    };
    match report {
        VerifyReport::Intact { events, head } => {
            println!(
                "OK: {events} events, chain intact. Head {}.",
                head.as_deref().unwrap_or("(empty log)")
            );
            Ok(ExitCode::SUCCESS)
        }
        VerifyReport::Broken { seq, reason } => {
            println!("BROKEN at event {seq}: {reason}");
            Ok(ExitCode::from(2))
        }
    }
}
