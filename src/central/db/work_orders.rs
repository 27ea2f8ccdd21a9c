//! Work-order lifecycle at central, which owns it: hold, release, cancel, close and dispatch (which
//! stations, what priority). Each change is a new version of the order's master record, so the
//! stations learn it at their next pull, and a line in `work_order_status_log`. Facts a station
//! produced on an order after central stopped it (it had not heard yet, or was offline) are
//! accepted into their chain and applied — they happened — but flagged for review.

use super::{Db, DbError, Result, from_sql_int, parse_timestamp, timestamp, to_sql_int};
use crate::domain::{Event, EventKind, StationId, WorkOrder, WorkOrderId, WorkOrderStatus};
use crate::protocol::{FlaggedEvent, MAX_FLAGGED_LISTED, MasterRecord, StatusChange};
use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};
use std::collections::HashMap;

/// What a planner (or the ERP) asks of a work order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkOrderAction {
    Hold {
        reason: String,
    },
    Release,
    Cancel {
        reason: String,
    },
    Close {
        reason: Option<String>,
    },
    /// Which stations build it and how urgent it is (1 most); `None` keeps the one it has.
    Dispatch {
        stations: Vec<StationId>,
        priority: Option<u8>,
    },
}

impl WorkOrderAction {
    pub fn name(&self) -> &'static str {
        match self {
            WorkOrderAction::Hold { .. } => "hold",
            WorkOrderAction::Release => "release",
            WorkOrderAction::Cancel { .. } => "cancel",
            WorkOrderAction::Close { .. } => "close",
            WorkOrderAction::Dispatch { .. } => "dispatch",
        }
    }
}

/// The order after an action, and its new master-data version (`None`: it was already so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkOrderOutcome {
    pub work_order: WorkOrder,
    pub version: Option<u64>,
}

/// One line of `takt central work-order list` / `GET /api/v1/work-orders`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkOrderSummary {
    pub work_order: WorkOrder,
    pub version: u64,
    pub produced: u64,
    pub rejected: u64,
    pub flagged: u64,
}

/// A terminal order is done with: nothing may change it any more.
fn is_terminal(status: WorkOrderStatus) -> bool {
    matches!(status, WorkOrderStatus::Cancelled | WorkOrderStatus::Closed)
}

/// The order as `action` leaves it, or why the action makes no sense for it.
fn apply(
    order: &WorkOrder,
    action: &WorkOrderAction,
    known_stations: &[String],
) -> std::result::Result<WorkOrder, String> {
    let id = &order.id;
    let mut next = order.clone();
    if is_terminal(order.status) {
        // A repeated cancel or close (a retried request) is no change, not a mistake.
        if matches!(
            (action, order.status),
            (WorkOrderAction::Cancel { .. }, WorkOrderStatus::Cancelled)
                | (WorkOrderAction::Close { .. }, WorkOrderStatus::Closed)
        ) {
            return Ok(next);
        }
        return Err(format!(
            "{id} is {}: a finished order cannot be changed (make a new one)",
            order.status.words()
        ));
    }
    match action {
        WorkOrderAction::Hold { reason } => {
            next.status = WorkOrderStatus::OnHold;
            next.status_reason = Some(reason.clone());
        }
        WorkOrderAction::Release => {
            next.status = WorkOrderStatus::Released;
            next.status_reason = None;
        }
        WorkOrderAction::Cancel { reason } => {
            next.status = WorkOrderStatus::Cancelled;
            next.status_reason = Some(reason.clone());
        }
        WorkOrderAction::Close { reason } => {
            if order.status == WorkOrderStatus::Planned {
                return Err(format!(
                    "{id} was never released, so there is nothing to close: cancel it instead"
                ));
            }
            next.status = WorkOrderStatus::Closed;
            next.status_reason = reason.clone();
        }
        WorkOrderAction::Dispatch { stations, priority } => {
            if stations.is_empty() {
                return Err(format!("dispatch {id} to at least one station"));
            }
            if let Some(unknown) = stations
                .iter()
                .find(|station| !known_stations.iter().any(|known| known == station.as_str()))
            {
                return Err(format!(
                    "central knows no station {unknown} (register it with takt central station add)"
                ));
            }
            if *priority == Some(0) {
                return Err("priority runs from 1 (most urgent) to 255".to_owned());
            }
            next.stations = stations.clone();
            if let Some(priority) = priority {
                next.priority = *priority;
            }
        }
    }
    Ok(next)
}

/// What an import may change of an order central already has: its product, quantity, due date
/// and number are the ERP's; an ERP can also hold, cancel or close it. But dispatch (stations,
/// priority) is central's once the order exists, and an import neither releases an order central
/// holds, nor takes a released one back to planned (which would stop it mid-run), nor revives a
/// finished one — those stay a planner's explicit decision at central.
pub(super) fn merge_import(existing: &WorkOrder, mut imported: WorkOrder) -> WorkOrder {
    imported.stations = existing.stations.clone();
    imported.priority = existing.priority;
    let keep_central = is_terminal(existing.status)
        || (existing.status == WorkOrderStatus::OnHold
            && matches!(
                imported.status,
                WorkOrderStatus::Released | WorkOrderStatus::Planned
            ))
        || (existing.status == WorkOrderStatus::Released
            && imported.status == WorkOrderStatus::Planned);
    if keep_central {
        imported.status = existing.status;
        imported.status_reason = existing.status_reason.clone();
    }
    imported
}

fn load_order(tx: &rusqlite::Connection, id: &str) -> Result<Option<WorkOrder>> {
    match super::load_record(tx, "work_order", id)? {
        Some(MasterRecord::WorkOrder(order)) => Ok(Some(order)),
        Some(_) => Err(DbError::Corrupt(format!("work order {id} is another kind"))),
        None => Ok(None),
    }
}

/// Writes a work order's record (a new version if it changed) and logs a change of its status.
pub(super) fn write_work_order(
    tx: &Transaction<'_>,
    order: WorkOrder,
    at: &str,
    source: &str,
) -> Result<Option<i64>> {
    let before = load_order(tx, order.id.as_str())?;
    let order = match &before {
        Some(existing) if source == "import" => merge_import(existing, order),
        _ => order,
    };
    let status_changed = before.as_ref().is_none_or(|before| {
        (before.status, &before.status_reason) != (order.status, &order.status_reason)
    });
    let version = super::upsert_record(tx, &MasterRecord::WorkOrder(order.clone()))?;
    if let Some(version) = version
        && status_changed
    {
        tx.prepare_cached(
            "INSERT INTO work_order_status_log (work_order, version, status, reason, at, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            order.id.as_str(),
            version,
            order.status.as_str(),
            order.status_reason,
            at,
            source
        ])?;
    }
    Ok(version)
}

impl Db {
    /// Holds, releases, cancels, closes or dispatches work order `id`. `source` says who asked
    /// (`cli`, `api:NAME`) for the status log.
    pub fn work_order_action(
        &mut self,
        id: &WorkOrderId,
        action: &WorkOrderAction,
        source: &str,
        now: DateTime<Utc>,
    ) -> Result<WorkOrderOutcome> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let order = load_order(&tx, id.as_str())?
            .ok_or_else(|| DbError::UnknownWorkOrder(id.to_string()))?;
        let known_stations = if matches!(action, WorkOrderAction::Dispatch { .. }) {
            let mut statement = tx.prepare_cached("SELECT id FROM stations")?;
            statement
                .query_map([], |row| row.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        let next = apply(&order, action, &known_stations).map_err(DbError::Refused)?;
        let version = write_work_order(&tx, next.clone(), &timestamp(now), source)?;
        tx.commit()?;
        Ok(WorkOrderOutcome {
            work_order: next,
            version: version.map(from_sql_int),
        })
    }

    /// Every work order central has, with its progress and flagged facts; `status` filters.
    pub fn work_orders(&self, status: Option<WorkOrderStatus>) -> Result<Vec<WorkOrderSummary>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT m.version, m.body,
                    (SELECT COALESCE(SUM(produced), 0) FROM work_order_progress p
                     WHERE p.work_order = m.key),
                    (SELECT COALESCE(SUM(rejected), 0) FROM work_order_progress p
                     WHERE p.work_order = m.key),
                    (SELECT COUNT(*) FROM event_flags f WHERE f.work_order = m.key)
             FROM master_records m WHERE m.kind = 'work_order' ORDER BY m.key",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })?;
        let mut orders = Vec::new();
        for row in rows {
            let (version, body, produced, rejected, flagged) = row?;
            let work_order = match serde_json::from_str(&body) {
                Ok(MasterRecord::WorkOrder(order)) => order,
                Ok(_) => return Err(DbError::Corrupt("a work order of another kind".into())),
                Err(e) => return Err(DbError::Corrupt(format!("work order: {e}"))),
            };
            if status.is_some_and(|status| status != work_order.status) {
                continue;
            }
            orders.push(WorkOrderSummary {
                work_order,
                version: from_sql_int(version),
                produced: from_sql_int(produced),
                rejected: from_sql_int(rejected),
                flagged: from_sql_int(flagged),
            });
        }
        orders.sort_by(|a, b| {
            let key = |o: &WorkOrder| (o.priority, o.due, o.id.clone());
            key(&a.work_order).cmp(&key(&b.work_order))
        });
        Ok(orders)
    }

    /// The statuses central gave work order `id`, oldest first.
    pub fn work_order_history(&self, id: &str) -> Result<Vec<StatusChange>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT status, reason, at, source, version FROM work_order_status_log
             WHERE work_order = ?1 ORDER BY at, version",
        )?;
        let rows = statement.query_map(params![id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, Option<String>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })?;
        let mut history = Vec::new();
        for row in rows {
            let (status, reason, at, source, version) = row?;
            history.push(StatusChange {
                status: WorkOrderStatus::parse(&status)
                    .ok_or_else(|| DbError::Corrupt(format!("work order status {status:?}")))?,
                reason,
                at: parse_timestamp(&at)?,
                source,
                version: from_sql_int(version),
            });
        }
        Ok(history)
    }

    /// How many facts of work order `id` are flagged, and the first [`MAX_FLAGGED_LISTED`].
    pub fn flagged_events(&self, id: &str) -> Result<(u64, Vec<FlaggedEvent>)> {
        let count: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM event_flags WHERE work_order = ?1")?
            .query_row(params![id], |row| row.get(0))?;
        let mut statement = self.conn.prepare_cached(
            "SELECT station, seq, kind, at, reason FROM event_flags
             WHERE work_order = ?1 ORDER BY station, seq LIMIT ?2",
        )?;
        let rows = statement.query_map(params![id, MAX_FLAGGED_LISTED as i64], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        let mut flagged = Vec::new();
        for row in rows {
            let (station, seq, kind, at, reason) = row?;
            flagged.push(FlaggedEvent {
                station,
                seq: from_sql_int(seq),
                kind,
                at: parse_timestamp(&at)?,
                reason,
            });
        }
        Ok((from_sql_int(count), flagged))
    }
}

/// Each order's statuses over time, looked up once a batch: whether central had stopped an order
/// (held, cancelled or closed it) at the time a fact was made.
#[derive(Default)]
pub(super) struct StoppedOrders {
    /// Per order, its status changes in time order; `None` for an order never stopped.
    known: HashMap<String, Option<Vec<Stopped>>>,
}

/// A status an order entered at `since`.
#[derive(Clone)]
struct Stopped {
    status: WorkOrderStatus,
    reason: Option<String>,
    since: DateTime<Utc>,
}

impl Stopped {
    fn stops_production(&self) -> bool {
        !matches!(
            self.status,
            WorkOrderStatus::Released | WorkOrderStatus::Planned
        )
    }
}

/// Facts that make or use something for an order; pausing, completing or selecting it is not
/// production and is never flagged.
fn is_production(kind: &EventKind) -> bool {
    match kind {
        // Not `produced + rejected > 0`: a station's numbers are untrusted and may overflow.
        EventKind::UnitsProduced {
            produced, rejected, ..
        } => *produced > 0 || *rejected > 0,
        EventKind::WorkOrderStarted { .. }
        | EventKind::WorkOrderResumed { .. }
        | EventKind::LotLoaded { .. }
        | EventKind::LotConsumed { .. }
        | EventKind::OutputCreated { .. }
        | EventKind::PartRecorded { .. } => true,
        _ => false,
    }
}

impl StoppedOrders {
    /// Flags `event` (inside the ingest transaction) if it is production on an order central had
    /// stopped at the event's time — by the status it had then, not now: a station offline through
    /// a hold and its release still has what it made during the hold flagged. Station time is what
    /// the event carries; a station whose clock is off is shown its offset, and an order stopped
    /// seconds before a fact may have been physically finished — the flag asks for review, it does
    /// not refuse.
    pub(super) fn flag(&mut self, tx: &Transaction<'_>, event: &Event) -> Result<bool> {
        let Some(work_order) = event.kind.work_order() else {
            return Ok(false);
        };
        if !is_production(&event.kind) {
            return Ok(false);
        }
        if !self.known.contains_key(work_order.as_str()) {
            let history = status_history(tx, work_order.as_str())?;
            self.known.insert(work_order.to_string(), history);
        }
        let Some(Some(history)) = self.known.get(work_order.as_str()) else {
            return Ok(false);
        };
        let then = history.iter().rev().find(|change| change.since <= event.at);
        let Some(stopped) = then.filter(|change| change.stops_production()) else {
            return Ok(false);
        };
        let reason = format!(
            "made after central set {work_order} {} at {}{}",
            stopped.status.words(),
            stopped.since.format("%Y-%m-%d %H:%M:%S UTC"),
            stopped
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
        tx.prepare_cached(
            "INSERT INTO event_flags (station, seq, work_order, kind, at, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            event.station.as_str(),
            to_sql_int(event.seq),
            work_order.as_str(),
            event.kind.name(),
            timestamp(event.at),
            reason
        ])?;
        Ok(true)
    }
}

/// An order's statuses in time order, or `None` when it was never stopped (most orders: nothing
/// to check per fact).
fn status_history(tx: &Transaction<'_>, work_order: &str) -> Result<Option<Vec<Stopped>>> {
    let Some(order) = load_order(tx, work_order)? else {
        return Ok(None);
    };
    let mut statement = tx.prepare_cached(
        "SELECT status, reason, at FROM work_order_status_log WHERE work_order = ?1
         ORDER BY at, version",
    )?;
    let rows = statement.query_map(params![work_order], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, Option<String>>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    let mut history = Vec::new();
    for row in rows {
        let (status, reason, at) = row?;
        history.push(Stopped {
            status: WorkOrderStatus::parse(&status)
                .ok_or_else(|| DbError::Corrupt(format!("work order status {status:?}")))?,
            reason,
            since: parse_timestamp(&at)?,
        });
    }
    if history.is_empty() {
        // Written before statuses were logged: its status now is all there is, from the start.
        history.push(Stopped {
            status: order.status,
            reason: order.status_reason,
            since: DateTime::<Utc>::MIN_UTC,
        });
    }
    Ok(history
        .iter()
        .any(Stopped::stops_production)
        .then_some(history))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn order(status: WorkOrderStatus) -> WorkOrder {
        WorkOrder {
            id: "WO-1".into(),
            numeric_id: 1,
            product: "BC-200".into(),
            quantity: 10,
            due: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or_default(),
            priority: 3,
            status,
            status_reason: None,
            line: "L1".into(),
            stations: vec!["L1-S1".into()],
        }
    }

    #[test]
    fn a_finished_order_cannot_be_changed() {
        for (status, other_end) in [
            (
                WorkOrderStatus::Cancelled,
                WorkOrderAction::Close { reason: None },
            ),
            (
                WorkOrderStatus::Closed,
                WorkOrderAction::Cancel { reason: "x".into() },
            ),
        ] {
            for action in [
                WorkOrderAction::Release,
                WorkOrderAction::Hold { reason: "x".into() },
                other_end,
            ] {
                let refused = apply(&order(status), &action, &[]);
                assert!(
                    refused.as_ref().is_err_and(|e| e.contains("finished")),
                    "{status:?} {action:?}: {refused:?}"
                );
            }
        }
    }

    #[test]
    fn a_repeated_cancel_or_close_changes_nothing() {
        let cancelled = apply(
            &order(WorkOrderStatus::Cancelled),
            &WorkOrderAction::Cancel { reason: "y".into() },
            &[],
        );
        assert_eq!(cancelled, Ok(order(WorkOrderStatus::Cancelled)));
    }

    #[test]
    fn hold_release_cancel_close_set_status_and_reason() {
        let held = apply(
            &order(WorkOrderStatus::Released),
            &WorkOrderAction::Hold {
                reason: "material recall".into(),
            },
            &[],
        );
        let held = held.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(held.status, WorkOrderStatus::OnHold);
        assert_eq!(held.status_reason.as_deref(), Some("material recall"));
        let released = apply(&held, &WorkOrderAction::Release, &[]);
        let released = released.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (released.status, released.status_reason),
            (WorkOrderStatus::Released, None)
        );
        let closing_planned = apply(
            &order(WorkOrderStatus::Planned),
            &WorkOrderAction::Close { reason: None },
            &[],
        );
        assert!(closing_planned.is_err_and(|e| e.contains("cancel it instead")));
    }

    #[test]
    fn dispatch_names_known_stations_and_keeps_priority_unless_given() {
        let known = vec!["L1-S1".to_owned(), "L1-S2".to_owned()];
        let moved = apply(
            &order(WorkOrderStatus::Released),
            &WorkOrderAction::Dispatch {
                stations: vec!["L1-S2".into()],
                priority: None,
            },
            &known,
        );
        let moved = moved.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(moved.stations, vec![StationId::from("L1-S2")]);
        assert_eq!(moved.priority, 3);
        let unknown = apply(
            &order(WorkOrderStatus::Released),
            &WorkOrderAction::Dispatch {
                stations: vec!["L9-S9".into()],
                priority: Some(1),
            },
            &known,
        );
        assert!(unknown.is_err_and(|e| e.contains("no station L9-S9")));
        let nowhere = apply(
            &order(WorkOrderStatus::Released),
            &WorkOrderAction::Dispatch {
                stations: vec![],
                priority: Some(1),
            },
            &known,
        );
        assert!(nowhere.is_err());
    }

    #[test]
    fn an_import_cannot_release_a_held_order_or_revive_a_finished_one() {
        let mut held = order(WorkOrderStatus::OnHold);
        held.status_reason = Some("recall".into());
        let merged = merge_import(&held, order(WorkOrderStatus::Released));
        assert_eq!(merged.status, WorkOrderStatus::OnHold);
        assert_eq!(merged.status_reason.as_deref(), Some("recall"));
        let merged = merge_import(
            &order(WorkOrderStatus::Closed),
            order(WorkOrderStatus::Released),
        );
        assert_eq!(merged.status, WorkOrderStatus::Closed);
        // The ERP may stop an order central runs, but not take it back to planned.
        let merged = merge_import(
            &order(WorkOrderStatus::Released),
            order(WorkOrderStatus::Cancelled),
        );
        assert_eq!(merged.status, WorkOrderStatus::Cancelled);
        let merged = merge_import(
            &order(WorkOrderStatus::Released),
            order(WorkOrderStatus::Planned),
        );
        assert_eq!(merged.status, WorkOrderStatus::Released);
        // Dispatch is central's once the order exists; quantity and due date are the ERP's.
        let dispatched = WorkOrder {
            stations: vec!["L1-S2".into()],
            priority: 1,
            ..order(WorkOrderStatus::Released)
        };
        let merged = merge_import(
            &dispatched,
            WorkOrder {
                quantity: 99,
                ..order(WorkOrderStatus::Released)
            },
        );
        assert_eq!(
            (merged.stations, merged.priority, merged.quantity),
            (vec![StationId::from("L1-S2")], 1, 99)
        );
    }
}
