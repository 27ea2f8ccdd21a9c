//! What quality decided about each lot, as central projects it: dispositions (and the split parts
//! they make), rework sent back and done, re-inspections, and the quality history of every lot
//! that the genealogy shows beside it. The lot records follow from the events by the domain's own
//! rules ([`disposition::part_lots`], [`disposition::rework_progress`]), so central and the
//! deciding station agree on what a decision did.

use super::{
    Result, dispatch_lot, load_lot_record, load_record, log_status, timestamp, upsert_record,
};
use crate::domain::disposition;
use crate::domain::narrative::narrate;
use crate::domain::{Event, EventKind, Lot, LotId, LotOrigin, MasterData};
use crate::protocol::MasterRecord;
use crate::protocol::QualityEntry;
use rusqlite::{Connection, Transaction, params};

/// The quality history of lots: one row per lot an event is about.
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE lot_quality (
        lot     TEXT NOT NULL,
        station TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        at      TEXT NOT NULL,
        kind    TEXT NOT NULL,
        actor   TEXT NOT NULL,
        words   TEXT NOT NULL,
        PRIMARY KEY (lot, station, seq)
    ) WITHOUT ROWID;
"#;

/// Projects one ingested event, if it is quality's.
pub(super) fn project(tx: &Transaction<'_>, event: &Event) -> Result<()> {
    let lots: Vec<&LotId> = match &event.kind {
        EventKind::InspectionRecorded { lot, .. }
        | EventKind::LotHeld { lot, .. }
        | EventKind::LotReleased { lot, .. }
        | EventKind::ReworkDone { lot, .. }
        | EventKind::NcrOpened { lot, .. }
        | EventKind::NcrClosed { lot, .. } => vec![lot],
        EventKind::LotDispositioned { lot, parts, .. } => std::iter::once(lot)
            .chain(
                parts
                    .iter()
                    .map(|part| &part.lot)
                    .filter(|part| *part != lot),
            )
            .collect(),
        _ => return Ok(()),
    };
    remember(tx, event, &lots)?;
    match &event.kind {
        EventKind::LotDispositioned { lot, .. } => disposed(tx, event, lot),
        EventKind::ReworkDone { lot, .. } | EventKind::InspectionRecorded { lot, .. } => {
            let Some(record) = load_lot_record(tx, lot.as_str())? else {
                return Ok(());
            };
            match disposition::rework_progress(&record, event) {
                Some(progressed) => decide(tx, event, progressed, &[]),
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

fn remember(tx: &Transaction<'_>, event: &Event, lots: &[&LotId]) -> Result<()> {
    let told = narrate(event, &MasterData::default());
    let words = match told.why {
        Some(why) => format!("{} ({why})", told.what),
        None => told.what,
    };
    let actor = event.actor.to_string();
    let mut insert = tx.prepare_cached(
        "INSERT INTO lot_quality (lot, station, seq, at, kind, actor, words)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
    )?;
    for lot in lots {
        insert.execute(params![
            lot.as_str(),
            event.station.as_str(),
            event.seq as i64,
            timestamp(event.at),
            event.kind.name(),
            actor,
            words
        ])?;
    }
    Ok(())
}

/// A disposition: each part's record, the split edges to the lot it came from, and the parts sent
/// to every station that knew the lot (and, for rework, the stations of the rework operation).
fn disposed(tx: &Transaction<'_>, event: &Event, lot: &LotId) -> Result<()> {
    let Some(parent) = load_lot_record(tx, lot.as_str())? else {
        tracing::warn!(%lot, station = %event.station, "a disposition of a lot central does not know");
        return Ok(());
    };
    let mut stations: Vec<String> = tx
        .prepare_cached("SELECT station FROM lot_dispatch WHERE lot = ?1")?
        .query_map(params![lot.as_str()], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    stations.push(event.station.to_string());
    for record in disposition::part_lots(event, &parent) {
        if record.id != *lot {
            link_split(tx, event, &parent, &record.id)?;
        }
        let mut reach = stations.clone();
        if let Some(rework) = &record.rework {
            reach.extend(rework_stations(tx, &record, &rework.operation)?);
        }
        decide(tx, event, record, &reach)?;
    }
    Ok(())
}

/// Stores a lot record a quality decision left, unless a decision of a later time is on record
/// already (events from several stations arrive in any order).
fn decide(tx: &Transaction<'_>, event: &Event, record: Lot, stations: &[String]) -> Result<()> {
    if let Some(existing) = load_lot_record(tx, record.id.as_str())?
        && existing.status_at.is_some_and(|at| at > event.at)
    {
        return Ok(());
    }
    for station in stations {
        dispatch_lot(tx, record.id.as_str(), station)?;
    }
    if let Some(version) = upsert_record(tx, &MasterRecord::Lot(record.clone()))? {
        let source = format!("station {} ({})", event.station, event.actor);
        log_status(tx, &record, version, &timestamp(event.at), &source)?;
    }
    Ok(())
}

fn link_split(tx: &Transaction<'_>, event: &Event, parent: &Lot, part: &LotId) -> Result<()> {
    let (work_order, operation) = match &parent.origin {
        LotOrigin::Produced {
            work_order,
            operation,
            ..
        } => (work_order.to_string(), operation.to_string()),
        _ => (String::new(), String::new()),
    };
    tx.prepare_cached(
        "INSERT INTO lot_edges (output, input, station, work_order, operation, at, operator)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (output, input) DO NOTHING",
    )?
    .execute(params![
        part.as_str(),
        parent.id.as_str(),
        event.station.as_str(),
        work_order,
        operation,
        timestamp(event.at),
        event.actor.to_string()
    ])?;
    Ok(())
}

/// The stations of the routing step a lot goes back to, following split parts to what made them.
fn rework_stations(
    tx: &Transaction<'_>,
    lot: &Lot,
    operation: &crate::domain::OperationId,
) -> Result<Vec<String>> {
    let mut origin = lot.origin.clone();
    for _ in 0..16 {
        match origin {
            LotOrigin::Split { parent, .. } => match load_lot_record(tx, parent.as_str())? {
                Some(parent) => origin = parent.origin,
                None => return Ok(Vec::new()),
            },
            LotOrigin::Produced { work_order, .. } => {
                let Some(MasterRecord::WorkOrder(order)) =
                    load_record(tx, "work_order", work_order.as_str())?
                else {
                    return Ok(Vec::new());
                };
                let Some(MasterRecord::Routing(routing)) =
                    load_record(tx, "routing", order.product.as_str())?
                else {
                    return Ok(Vec::new());
                };
                return Ok(routing
                    .steps
                    .iter()
                    .filter(|step| &step.operation == operation)
                    .flat_map(|step| step.stations.iter().map(|s| s.to_string()))
                    .collect());
            }
            LotOrigin::Supplier => return Ok(Vec::new()),
        }
    }
    Ok(Vec::new())
}

/// The quality history of a lot, oldest first.
pub(super) fn history(conn: &Connection, lot: &LotId) -> Result<Vec<QualityEntry>> {
    let rows = conn
        .prepare_cached(
            "SELECT at, station, kind, actor, words FROM lot_quality WHERE lot = ?1
             ORDER BY at, station, seq",
        )?
        .query_map(params![lot.as_str()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(at, station, kind, actor, words)| {
            Ok(QualityEntry {
                at: super::parse_timestamp(&at)?,
                station: crate::domain::StationId::new(station),
                kind,
                actor,
                words,
            })
        })
        .collect()
}
