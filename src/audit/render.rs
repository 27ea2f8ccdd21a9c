//! Printing an audit report: a table people read, or JSON and CSV for other tools.

use super::report::{COLUMNS, Kind, Report, Row};
use crate::store::VerifyReport;
use std::fmt::Write as _;

/// How many characters of the hash the table shows: enough to find the event again.
const HASH_SHOWN: usize = 12;

/// The summary: which database, which filters, how many events, and whether their chains hold.
/// Above the table in text; on stderr beside JSON or CSV.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    let source = match &report.kind {
        Kind::Station(station) => format!("station {station}'s database"),
        Kind::Central => match &report.filters.station {
            Some(station) => format!("central's database, station {station}"),
            None => "central's database, every station".into(),
        },
    };
    let _ = writeln!(out, "Audit report of {source}: {}", report.path.display());
    let _ = writeln!(out, "Filters: {}", report.filters.describe());
    let _ = match report.rows.len() {
        0 => writeln!(out, "No events match."),
        1 => writeln!(out, "1 event matches."),
        n => writeln!(out, "{n} events match."),
    };
    if report.chains.is_empty() {
        let _ = writeln!(out, "No chain to check: no station has events here.");
    }
    for chain in &report.chains {
        let _ = match &chain.verdict {
            VerifyReport::Intact { events, head } => writeln!(
                out,
                "Chain of {}: intact, {events} events, head {}.",
                chain.station,
                head.as_deref().unwrap_or("(empty log)")
            ),
            VerifyReport::Broken { seq, reason } => writeln!(
                out,
                "Chain of {}: BROKEN at event {seq}: {reason}",
                chain.station
            ),
        };
        for problem in &chain.signatures {
            let _ = writeln!(out, "SIGNATURE of {}: {problem}", chain.station);
        }
    }
    out
}

/// The closing warning when a chain is broken: said again after the rows, where the eye ends.
fn warnings(report: &Report) -> String {
    let mut out = String::new();
    for chain in &report.chains {
        if let Some(seq) = chain.broken_at() {
            let _ = writeln!(
                out,
                "WARNING: the chain of {} is BROKEN at event {seq}: its events from seq {seq} on \
                 (marked !) are not vouched for by the chain.",
                chain.station
            );
        }
        if !chain.signatures.is_empty() {
            let _ = writeln!(
                out,
                "WARNING: {} signature(s) of {} do not hold (see SIGNATURE above): the records \
                 they sign are not vouched for by a valid signature.",
                chain.signatures.len(),
                chain.station
            );
        }
    }
    out
}

/// The report as a table, the summary above it.
pub fn text(report: &Report) -> String {
    let mut out = summary(report);
    if !report.rows.is_empty() {
        out.push('\n');
        out.push_str(&table(&report.rows));
    }
    let warnings = warnings(report);
    if !warnings.is_empty() {
        out.push('\n');
        out.push_str(&warnings);
    }
    out
}

/// An array of objects with [`Row`]'s fields.
pub fn json(rows: &[Row]) -> serde_json::Result<String> {
    serde_json::to_string_pretty(rows)
}

/// RFC 4180 CSV with a header row, even when no row follows.
pub fn csv(rows: &[Row]) -> Result<String, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    writer.write_record(COLUMNS)?;
    for row in rows {
        writer.serialize(row)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| csv::Error::from(error.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A column of the table: its title, and the most characters a line of it may take before its
/// text wraps onto the next line.
struct Column {
    title: &'static str,
    max: usize,
}

const TABLE: [Column; 7] = [
    Column {
        title: "TIME (UTC)",
        max: 24,
    },
    Column {
        title: "STATION",
        max: 12,
    },
    Column {
        title: "SEQ",
        max: 12,
    },
    Column {
        title: "WHO",
        max: 28,
    },
    Column {
        title: "WHAT",
        max: 48,
    },
    Column {
        title: "WHY",
        max: 30,
    },
    Column {
        title: "HASH",
        max: HASH_SHOWN + 2,
    },
];

fn cells(row: &Row) -> [String; 7] {
    // Seconds are what people compare; the JSON and CSV keep the milliseconds.
    let time = row
        .at
        .split_once('.')
        .map(|(seconds, _)| format!("{seconds}Z"))
        .unwrap_or_else(|| row.at.clone());
    let hash: String = row.hash.chars().take(HASH_SHOWN).collect();
    [
        time,
        row.station.clone(),
        row.seq.to_string(),
        row.who.clone(),
        row.what.clone(),
        row.why.clone().unwrap_or_default(),
        if row.verified {
            hash
        } else {
            format!("{hash} !")
        },
    ]
}

/// Columns as wide as their widest line, long text wrapped at word boundaries.
fn table(rows: &[Row]) -> String {
    let wrapped: Vec<[Vec<String>; 7]> = rows
        .iter()
        .map(|row| {
            let cells = cells(row);
            std::array::from_fn(|i| wrap(&cells[i], TABLE[i].max))
        })
        .collect();
    let widths: [usize; 7] = std::array::from_fn(|i| {
        wrapped
            .iter()
            .flat_map(|cells| cells[i].iter())
            .map(|line| line.chars().count())
            .chain([TABLE[i].title.len()])
            .max()
            .unwrap_or(0)
    });
    let mut out = String::new();
    let mut line = |cells: [&str; 7]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            text.push_str(cell);
            text.push_str(&" ".repeat(pad + 2));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(TABLE.map(|column| column.title));
    let rules = widths.map(|width| "-".repeat(width));
    line(std::array::from_fn(|i| rules[i].as_str()));
    for cells in &wrapped {
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for n in 0..height {
            line(std::array::from_fn(|i| {
                cells[i].get(n).map_or("", String::as_str)
            }));
        }
    }
    out
}

/// Greedy word wrap to `width` characters; a word longer than a line is cut.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            lines.push(word.drain(..width).collect());
        }
        if word.is_empty() {
            continue;
        }
        let needed = current.chars().count() + usize::from(!current.is_empty()) + word.len();
        let word: String = word.into_iter().collect();
        if !current.is_empty() && needed > width {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    if !current.is_empty() || lines.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, what: &str, verified: bool) -> Row {
        Row {
            at: "2026-11-25T08:00:01.250Z".into(),
            station: "L1-S1".into(),
            seq,
            id: "0190f0c0-0000-7000-8000-000000000000".into(),
            kind: "lot_loaded".into(),
            actor: "EMP-1001".into(),
            who: "EMP-1001 Demo Operator A".into(),
            what: what.into(),
            why: None,
            hash: "3fa2c1d0e9b1aa55".into(),
            verified,
        }
    }

    #[test]
    fn text_wraps_at_words_and_cuts_only_overlong_words() {
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(
            wrap("loaded lot C24-1107", 10),
            vec!["loaded lot", "C24-1107"]
        );
        assert_eq!(wrap("abcdefghijkl xy", 5), vec!["abcde", "fghij", "kl xy"]);
    }

    #[test]
    fn the_table_fits_its_columns_and_marks_unvouched_rows() {
        let long = "loaded lot C24-1107 (CAST-200) into WO-24001 OP10, scanned, and then some more \
                    words that go past the column";
        let table = table(&[row(1, "logged in", true), row(2, long, false)]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("TIME (UTC)            STATION  SEQ  WHO"),
            "{table}"
        );
        assert!(
            lines[2].starts_with("2026-11-25T08:00:01Z  L1-S1    1    EMP-1001 Demo Operator A"),
            "{table}"
        );
        assert!(lines[2].ends_with("3fa2c1d0e9b1"), "{table}");
        assert!(lines[3].ends_with("3fa2c1d0e9b1 !"), "{table}");
        assert!(lines.len() > 4, "the long text wrapped: {table}");
        assert!(
            lines
                .iter()
                .all(|line| line.chars().count() <= 24 + 7 + 3 + 28 + 48 + 30 + 14 + 12)
        );
    }

    #[test]
    fn csv_columns_are_the_row_fields_in_order() {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.serialize(row(1, "x", true)).expect("row");
        let bytes = writer.into_inner().expect("flushed");
        let derived = String::from_utf8_lossy(&bytes);
        assert_eq!(derived.lines().next(), Some(COLUMNS.join(",").as_str()));
        let text = csv(&[row(1, "say \"hi\", twice", true)]).expect("csv");
        assert_eq!(text.lines().next(), Some(COLUMNS.join(",").as_str()));
        assert!(text.contains("\"say \"\"hi\"\", twice\""), "{text}");
        assert_eq!(csv(&[]).expect("csv").lines().count(), 1, "a header alone");
    }
}
