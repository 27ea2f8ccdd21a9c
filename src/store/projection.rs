//! Projection tables: the current session, active order, progress per order and PLC counter baseline.
//! They are written from the state `apply` produced, in the same transaction as the events, and can be
//! rebuilt by replaying the log.

use super::{Result, StoreError};
use crate::domain::correction::Correction;
use crate::domain::{
    CounterBaseline, Event, EventKind, ExecStatus, Lot, LotId, MaterialId, OpenOutput, Progress,
    Quantity, Session, State, WorkOrderId,
};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::BTreeSet;

fn time_text(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {text:?}: {e}")))
}

pub(super) fn write(tx: &Transaction<'_>, state: &State, events: &[Event]) -> Result<()> {
    match &state.session {
        Some(session) => {
            tx.prepare_cached(
                "INSERT INTO session (id, badge, name, since) VALUES (1, ?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET badge = excluded.badge, name = excluded.name,
                 since = excluded.since",
            )?
            .execute(params![
                session.badge.as_str(),
                session.name,
                time_text(&session.since)
            ])?;
        }
        None => {
            tx.prepare_cached("DELETE FROM session")?.execute([])?;
        }
    }
    let through = events.last().map_or(0, |event| event.seq as i64);
    tx.prepare_cached(
        "UPDATE station_projection SET active_work_order = ?1, unassigned_produced = ?2,
         plc_epoch = ?3, plc_processed = ?4, plc_defective = ?5, through_seq = ?6,
         outputs_made = ?7, machine = ?8, andon = ?9 WHERE id = 1",
    )?
    .execute(params![
        state.active.as_ref().map(|id| id.as_str()),
        state.unassigned_produced as i64,
        state.counters.map(|c| c.epoch),
        state.counters.map(|c| c.processed),
        state.counters.map(|c| c.defective),
        through,
        state.outputs_made as i64,
        state
            .machine
            .map(|machine| serde_json::to_string(&machine))
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        state
            .andon
            .map(|call| serde_json::to_string(&call))
            .transpose()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
    ])?;
    let inspected: Vec<WorkOrderId> = events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::InspectionRecorded { lot, .. } => {
                crate::domain::first_article::made_here_by(state, lot)
            }
            _ => None,
        })
        .collect();
    // An inspection names a lot, not an order, but can pass the first article of the order here.
    let touched: BTreeSet<&WorkOrderId> = events
        .iter()
        .filter_map(|event| event.kind.work_order())
        .chain(inspected.iter())
        .collect();
    for id in touched {
        let Some(progress) = state.progress.get(id) else {
            continue;
        };
        tx.prepare_cached(
            "INSERT INTO work_order_progress (work_order, status, produced, rejected, started_at,
             completed_at, last_loaded, first_article) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (work_order) DO UPDATE SET status = excluded.status,
             produced = excluded.produced, rejected = excluded.rejected,
             started_at = excluded.started_at, completed_at = excluded.completed_at,
             last_loaded = excluded.last_loaded, first_article = excluded.first_article",
        )?
        .execute(params![
            id.as_str(),
            progress.status.as_str(),
            progress.produced as i64,
            progress.rejected as i64,
            progress.started_at.as_ref().map(time_text),
            progress.completed_at.as_ref().map(time_text),
            progress.last_loaded.as_ref().map(|m| m.as_str()),
            progress
                .first_article
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        ])?;
        tx.prepare_cached("DELETE FROM loaded_lot WHERE work_order = ?1")?
            .execute(params![id.as_str()])?;
        for (material, lot) in &progress.loaded {
            tx.prepare_cached(
                "INSERT INTO loaded_lot (work_order, material, lot) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id.as_str(), material.as_str(), lot.as_str()])?;
        }
        let inputs = serde_json::to_string(&progress.open_output.inputs)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.prepare_cached(
            "INSERT INTO open_output (work_order, units, inputs) VALUES (?1, ?2, ?3)
             ON CONFLICT (work_order) DO UPDATE SET units = excluded.units, inputs = excluded.inputs",
        )?
        .execute(params![
            id.as_str(),
            progress.open_output.units as i64,
            inputs
        ])?;
    }
    if events
        .iter()
        .any(|event| matches!(event.kind, EventKind::PartRecorded { .. }))
    {
        // The deduplication key of the part-record handshake: in the same transaction as the
        // record, like the counter baseline with its units.
        tx.prepare_cached("UPDATE station_projection SET last_part = ?1 WHERE id = 1")?
            .execute(params![
                state
                    .last_part
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?
            ])?;
    }
    let any = |kind: fn(&EventKind) -> bool| events.iter().any(|event| kind(&event.kind));
    if any(|kind| {
        matches!(
            kind,
            EventKind::LoginFailed { .. }
                | EventKind::BadgeLocked { .. }
                | EventKind::OperatorLoggedIn { .. }
                | EventKind::Signed { .. }
        )
    }) {
        set_json_column(tx, "login_guard", &state.login_guard)?;
    }
    if any(|kind| {
        matches!(
            kind,
            EventKind::LotHeld { .. }
                | EventKind::LotReleased { .. }
                | EventKind::LotDispositioned { .. }
                | EventKind::ReworkDone { .. }
                | EventKind::InspectionRecorded { .. }
        )
    }) {
        set_json_column(tx, "lot_decisions", &state.lot_decisions)?;
    }
    if any(|kind| {
        matches!(
            kind,
            EventKind::NcrOpened { .. }
                | EventKind::NcrClosed { .. }
                | EventKind::LotDispositioned { .. }
        )
    }) {
        set_json_column(tx, "ncrs", &state.ncrs)?;
    }
    if any(|kind| {
        matches!(
            kind,
            EventKind::InspectionRecorded { .. }
                | EventKind::QualityAlert { .. }
                | EventKind::InspectionResumed { .. }
        )
    }) {
        set_json_column(tx, "quality", &state.quality)?;
    }
    if any(|kind| matches!(kind, EventKind::Corrected { .. })) {
        set_json_column(tx, "corrections", &state.corrections)?;
    }
    let stops_changed = events.iter().any(|event| {
        matches!(
            event.kind,
            EventKind::DowntimeStarted { .. }
                | EventKind::DowntimeCoded { .. }
                | EventKind::PlannedDowntimeDeclared { .. }
                | EventKind::MachineStateChanged { .. }
        )
    });
    if stops_changed {
        // Transitions are rare next to polls, and the kept stops few: rewrite them whole.
        tx.prepare_cached("DELETE FROM downtime")?.execute([])?;
        for stop in &state.downtimes {
            let body =
                serde_json::to_string(stop).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.prepare_cached("INSERT INTO downtime (started_at, body) VALUES (?1, ?2)")?
                .execute(params![time_text(&stop.started_at), body])?;
        }
    }
    for event in events {
        if let EventKind::Corrected {
            corrects,
            now: Correction::Inputs { inputs },
            ..
        } = &event.kind
        {
            // The corrected output's links are replaced; the links keep the seq of the output.
            let output: Option<String> = tx
                .prepare_cached("SELECT output FROM output_edge WHERE seq = ?1 LIMIT 1")?
                .query_row(params![*corrects as i64], |row| row.get(0))
                .optional()?;
            let output = match output {
                Some(output) => Some(output),
                None => super::read_event(tx, *corrects)?.and_then(|made| match made.kind {
                    EventKind::OutputCreated { output, .. } => Some(output.to_string()),
                    _ => None,
                }),
            };
            if let Some(output) = output {
                tx.prepare_cached("DELETE FROM output_edge WHERE output = ?1")?
                    .execute(params![output])?;
                for input in inputs {
                    tx.prepare_cached(
                        "INSERT INTO output_edge (output, input, seq) VALUES (?1, ?2, ?3)
                         ON CONFLICT (output, input) DO NOTHING",
                    )?
                    .execute(params![
                        output,
                        input.as_str(),
                        *corrects as i64
                    ])?;
                }
            }
        }
        if let EventKind::OutputCreated { output, inputs, .. } = &event.kind {
            for input in inputs {
                tx.prepare_cached(
                    "INSERT INTO output_edge (output, input, seq) VALUES (?1, ?2, ?3)
                     ON CONFLICT (output, input) DO NOTHING",
                )?
                .execute(params![
                    output.as_str(),
                    input.as_str(),
                    event.seq as i64
                ])?;
            }
        }
    }
    let lots: BTreeSet<&LotId> = events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::LotRegistered { lot, .. } | EventKind::LotConsumed { lot, .. } => {
                Some(vec![lot])
            }
            EventKind::OutputCreated { output, .. } => Some(vec![output]),
            // Split parts are lots of this station's own until central sends them back.
            EventKind::LotDispositioned { parts, .. } => {
                Some(parts.iter().map(|part| &part.lot).collect())
            }
            EventKind::Corrected {
                was: Correction::Consumption { lot: was, .. },
                now: Correction::Consumption { lot, .. },
                ..
            } => Some(vec![was, lot]),
            _ => None,
        })
        .flatten()
        .collect();
    for id in lots {
        if let Some(lot) = state.lots.get(id) {
            let body =
                serde_json::to_string(lot).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            tx.prepare_cached(
                "INSERT INTO local_lot (id, body) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            )?
            .execute(params![id.as_str(), body])?;
        }
        if let Some(used) = state.lot_usage.get(id) {
            tx.prepare_cached(
                "INSERT INTO lot_usage (lot, used_milli) VALUES (?1, ?2)
                 ON CONFLICT (lot) DO UPDATE SET used_milli = excluded.used_milli",
            )?
            .execute(params![id.as_str(), used.milli()])?;
        }
    }
    Ok(())
}

pub(super) fn load(conn: &Connection, state: &mut State) -> Result<()> {
    state.session = conn
        .query_row(
            "SELECT badge, name, since FROM session WHERE id = 1",
            [],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                ))
            },
        )
        .optional()?
        .map(|(badge, name, since)| -> Result<Session> {
            Ok(Session {
                badge: badge.as_str().into(),
                name,
                since: parse_time(&since)?,
            })
        })
        .transpose()?;

    type Row = (
        Option<String>,
        i64,
        Option<u16>,
        Option<u32>,
        Option<u32>,
        i64,
        Option<String>,
    );
    let (active, unassigned, epoch, processed, defective, outputs_made, machine): Row = conn
        .query_row(
        "SELECT active_work_order, unassigned_produced, plc_epoch, plc_processed, plc_defective,
         outputs_made, machine FROM station_projection WHERE id = 1",
        [],
        |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ))
        },
    )?;
    state.outputs_made = outputs_made as u64;
    state.machine = machine
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("machine reading: {e}")))?;
    let andon: Option<String> = conn.query_row(
        "SELECT andon FROM station_projection WHERE id = 1",
        [],
        |row| row.get(0),
    )?;
    state.andon = andon
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("andon call: {e}")))?;
    let last_part: Option<String> = conn.query_row(
        "SELECT last_part FROM station_projection WHERE id = 1",
        [],
        |row| row.get(0),
    )?;
    state.last_part = last_part
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("last part record: {e}")))?;
    let login_guard: Option<String> = conn.query_row(
        "SELECT login_guard FROM station_projection WHERE id = 1",
        [],
        |row| row.get(0),
    )?;
    state.login_guard = login_guard
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("login guard: {e}")))?
        .unwrap_or_default();
    let (lot_decisions, corrections): (Option<String>, Option<String>) = conn.query_row(
        "SELECT lot_decisions, corrections FROM station_projection WHERE id = 1",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    state.lot_decisions = lot_decisions
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("lot holds: {e}")))?
        .unwrap_or_default();
    state.corrections = corrections
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("corrections: {e}")))?
        .unwrap_or_default();
    let ncrs: Option<String> = conn.query_row(
        "SELECT ncrs FROM station_projection WHERE id = 1",
        [],
        |row| row.get(0),
    )?;
    state.ncrs = ncrs
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("nonconformance reports: {e}")))?
        .unwrap_or_default();
    let quality: Option<String> = conn.query_row(
        "SELECT quality FROM station_projection WHERE id = 1",
        [],
        |row| row.get(0),
    )?;
    state.quality = quality
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("inspection history (SPC, switching): {e}")))?
        .unwrap_or_default();
    state.active = active.map(WorkOrderId::new);
    state.unassigned_produced = unassigned as u64;
    state.counters = match (epoch, processed, defective) {
        (Some(epoch), Some(processed), Some(defective)) => Some(CounterBaseline {
            epoch,
            processed,
            defective,
        }),
        _ => None,
    };

    let mut statement = conn.prepare(
        "SELECT work_order, status, produced, rejected, started_at, completed_at, last_loaded,
         first_article FROM work_order_progress",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, i64>(3)?,
            row.get::<_, Option<String>>(4)?,
            row.get::<_, Option<String>>(5)?,
            row.get::<_, Option<String>>(6)?,
            row.get::<_, Option<String>>(7)?,
        ))
    })?;
    for row in rows {
        let (id, status, produced, rejected, started_at, completed_at, last_loaded, first_article) =
            row?;
        let first_article = first_article
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("first article of {id}: {e}")))?;
        let status = ExecStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("progress status {status:?}")))?;
        state.progress.insert(
            WorkOrderId::new(id),
            Progress {
                status,
                produced: produced as u64,
                rejected: rejected as u64,
                started_at: started_at.as_deref().map(parse_time).transpose()?,
                completed_at: completed_at.as_deref().map(parse_time).transpose()?,
                loaded: Default::default(),
                open_output: OpenOutput::default(),
                last_loaded: last_loaded.map(MaterialId::new),
                first_article,
            },
        );
    }

    let mut statement = conn.prepare("SELECT work_order, material, lot FROM loaded_lot")?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (work_order, material, lot) = row?;
        if let Some(progress) = state.progress.get_mut(&WorkOrderId::new(work_order)) {
            progress
                .loaded
                .insert(material.as_str().into(), LotId::new(lot));
        }
    }
    let mut statement = conn.prepare("SELECT work_order, units, inputs FROM open_output")?;
    let rows = statement.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (work_order, units, inputs) = row?;
        if let Some(progress) = state.progress.get_mut(&WorkOrderId::new(work_order)) {
            progress.open_output = OpenOutput {
                units: units as u64,
                inputs: serde_json::from_str(&inputs)
                    .map_err(|e| StoreError::Corrupt(format!("open output inputs: {e}")))?,
            };
        }
    }
    let mut statement = conn.prepare("SELECT body FROM downtime ORDER BY started_at")?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    for body in rows {
        state.downtimes.push(
            serde_json::from_str(&body?)
                .map_err(|e| StoreError::Corrupt(format!("downtime: {e}")))?,
        );
    }
    let mut statement = conn.prepare("SELECT body FROM local_lot")?;
    let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
    for body in rows {
        let lot: Lot = serde_json::from_str(&body?)
            .map_err(|e| StoreError::Corrupt(format!("local lot: {e}")))?;
        state.lots.insert(lot.id.clone(), lot);
    }
    let mut statement = conn.prepare("SELECT lot, used_milli FROM lot_usage")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (lot, used) = row?;
        state
            .lot_usage
            .insert(LotId::new(lot), Quantity::from_milli(used));
    }
    Ok(())
}

/// Writes one of the station projection's JSON columns (a fixed name, never input).
fn set_json_column(
    tx: &Transaction<'_>,
    column: &'static str,
    value: &impl serde::Serialize,
) -> Result<()> {
    let json = serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.prepare_cached(&format!(
        "UPDATE station_projection SET {column} = ?1 WHERE id = 1"
    ))?
    .execute(params![json])?;
    Ok(())
}
