//! `takt audit`: the command-line face of the audit trail. `verify` walks a chain (a station's
//! store, or a station's chain as central holds it) and names the first broken link; `report`
//! says who did what, when, where and why, with the check of the chains it drew on.

mod render;
mod report;

pub use report::{
    COLUMNS, ChainCheck, Filters, Kind, Report, ReportError, Row, Until, Window, report,
};

use crate::store::{LogVerdict, VerifyReport, connect, verify_log};
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

/// Walks the chain and, when it holds, the signatures on it. Exit 2 for a broken link or for a
/// signature that does not hold: either means the log cannot be taken at its word.
pub fn verify(db: &Path, station: Option<&str>) -> anyhow::Result<ExitCode> {
    if !db.exists() {
        anyhow::bail!("{}: no such database", db.display());
    }
    let verdict = match station {
        Some(station) => crate::central::verify_station_log(db, station)?,
        None => verify_log(&connect(db, true)?)?,
    };
    print!("{}", verdict_text(&verdict));
    Ok(if verdict.sound() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// What `verify` prints: one line for the chain, then one line per signature problem.
fn verdict_text(verdict: &LogVerdict) -> String {
    match &verdict.chain {
        VerifyReport::Broken { seq, reason } => format!("BROKEN at event {seq}: {reason}\n"),
        VerifyReport::Intact { events, head } => {
            let head = head.as_deref().unwrap_or("(empty log)");
            if verdict.signatures.is_empty() {
                return format!(
                    "OK: {events} events, chain intact, signatures hold. Head {head}.\n"
                );
            }
            let count = match verdict.signatures.len() {
                1 => "1 signature problem".to_owned(),
                n => format!("{n} signature problems"),
            };
            let mut out =
                format!("SIGNATURES: {events} events, chain intact, but {count}. Head {head}.\n");
            for problem in &verdict.signatures {
                out.push_str(&format!("SIGNATURE: {problem}\n"));
            }
            out
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
