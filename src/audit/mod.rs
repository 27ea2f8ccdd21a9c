//! `takt audit`: the command-line face of the audit trail. `verify` walks a chain (a station's
//! store, or a station's chain as central holds it) and names the first broken link; `report`
//! says who did what, when, where and why, with the check of the chains it drew on.

mod render;
mod report;

pub use report::{
    COLUMNS, ChainCheck, Filters, Kind, Report, ReportError, Row, Until, Window, report,
};

use crate::store::{VerifyReport, connect, verify_chain};
use anyhow::Context as _;
use std::path::Path;
use std::process::ExitCode;

/// How `takt audit report` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table under the summary, on stdout.
    Text,
    /// JSON or CSV on stdout; the summary and the chain check on stderr, so the data parses.
    Json,
    Csv,
}

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

/// Prints the report; exits 2 when a chain it drew on is broken, as `verify` does.
pub fn print_report(db: &Path, filters: &Filters, format: Format) -> anyhow::Result<ExitCode> {
    let report = report(db, filters)?;
    match format {
        Format::Text => print!("{}", render::text(&report)),
        Format::Json => {
            let json = render::json(&report.rows).context("the report as JSON")?;
            eprint!("{}", render::summary(&report));
            println!("{json}");
        }
        Format::Csv => {
            let csv = render::csv(&report.rows).context("the report as CSV")?;
            eprint!("{}", render::summary(&report));
            print!("{csv}");
        }
    }
    Ok(if report.intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
