//! Yield of a line over a window [from, to), from what central kept.
//!
//! Definitions (README "Quality at central" says the same):
//!
//! - **Entered** an operation: the units its stations processed in the window, good and rejected
//!   (`units_produced`, as a signed correction left them; set-aside counts count for nothing).
//!   A station's units count for the operation its step performs in the routing of the work
//!   order's product (failing that, the line's first operation the station performs).
//! - **Failed first pass** at an operation: the units its machines rejected, plus the units of
//!   lots made at that operation in the window that a disposition sent to scrap or to rework.
//!   A disposition of a lot (or a part split from one) that already failed once counts for scrap
//!   or rework but not again here, so no unit fails its first pass twice. Accept and use-as-is are
//!   no failure; a lot still on hold, undecided, is not one yet.
//! - **First-pass yield** (FPY) = (entered − failed first pass) / entered; none when nothing
//!   entered.
//! - **Rolled throughput yield** (RTY) = the product of the operations' FPYs, in routing order;
//!   none when an operation has none.
//! - **Produced** by the line: the units that entered its first operation.
//! - **Scrapped**: machine rejects at every operation (no lot carries a rejected unit, and
//!   nothing reworks it) plus units dispositioned to scrap; **reworked**: units dispositioned to
//!   rework; each of lots made on the line in the window. Scrap rate = scrapped / produced,
//!   rework rate = reworked / produced; none when nothing was produced.

use super::{Db, DbError, Result, load_lot_record, timestamp};
use crate::domain::disposition::Disposition;
use crate::domain::{Event, EventKind, LotId, LotOrigin, OperationId, StationId};
use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// One operation of the line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationYield {
    pub operation: String,
    /// The line's stations that perform it.
    pub stations: Vec<String>,
    pub entered: u64,
    /// Rejected by the machines.
    pub rejected: u64,
    /// Of lots made here: units dispositioned to scrap, and to rework.
    pub scrapped: u64,
    pub reworked: u64,
    pub failed_first_pass: u64,
    pub first_pass_yield: Option<f64>,
}

/// `GET /api/v1/quality/yield`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct YieldReport {
    pub line: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// In routing order.
    pub operations: Vec<OperationYield>,
    pub rolled_throughput_yield: Option<f64>,
    /// Units that entered the line's first operation.
    pub produced: u64,
    /// Machine rejects plus units dispositioned to scrap.
    pub scrapped: u64,
    pub reworked: u64,
    pub scrap_rate: Option<f64>,
    pub rework_rate: Option<f64>,
}

/// Split parts of split parts: a short chain in practice; the bound stops a corrupt cycle.
const MAX_SPLIT_DEPTH: usize = 16;

impl Db {
    /// The lines central knows, by id.
    pub fn lines(&self) -> Result<Vec<String>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id FROM lines UNION SELECT line FROM stations WHERE line IS NOT NULL
             ORDER BY 1",
        )?;
        let lines = statement
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(lines)
    }

    /// The yield of `line` over [from, to); `None` for a line central does not know.
    pub fn line_yield(
        &self,
        line: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<YieldReport>> {
        let Some(stations) = self.line_stations(line)? else {
            return Ok(None);
        };
        let master = self.master_of_kinds(&["work_order", "routing"])?;
        let on_line: HashSet<&StationId> = stations.iter().collect();
        // The line's operations in routing order: by their earliest step in any routing, so
        // products sharing the line's operations give one order.
        let mut placed: BTreeMap<OperationId, (usize, Vec<String>)> = BTreeMap::new();
        for routing in master.routings.values() {
            for (index, step) in routing.steps.iter().enumerate() {
                let here: Vec<String> = step
                    .stations
                    .iter()
                    .filter(|station| on_line.contains(station))
                    .map(|station| station.to_string())
                    .collect();
                if here.is_empty() {
                    continue;
                }
                let entry = placed
                    .entry(step.operation.clone())
                    .or_insert((index, Vec::new()));
                entry.0 = entry.0.min(index);
                for station in here {
                    if !entry.1.contains(&station) {
                        entry.1.push(station);
                    }
                }
            }
        }
        let mut order: Vec<(OperationId, usize, Vec<String>)> = placed
            .into_iter()
            .map(|(operation, (index, mut stations))| {
                stations.sort();
                (operation, index, stations)
            })
            .collect();
        order.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        let mut operations: Vec<OperationYield> = order
            .into_iter()
            .map(|(operation, _, stations)| OperationYield {
                operation: operation.to_string(),
                stations,
                entered: 0,
                rejected: 0,
                scrapped: 0,
                reworked: 0,
                failed_first_pass: 0,
                first_pass_yield: None,
            })
            .collect();
        let names: Vec<String> = operations.iter().map(|o| o.operation.clone()).collect();
        let index_of = |operation: &str| names.iter().position(|name| name == operation);

        for station in &stations {
            let fallback = operations
                .iter()
                .position(|o| o.stations.iter().any(|s| s == station.as_str()));
            for event in self.kpi_events(station, from, to)? {
                let EventKind::UnitsProduced {
                    work_order,
                    produced,
                    rejected,
                    ..
                } = &event.kind
                else {
                    continue;
                };
                if event.at < from || event.at >= to {
                    continue;
                }
                let routed = work_order
                    .as_ref()
                    .and_then(|order| master.work_orders.get(order))
                    .and_then(|order| master.routings.get(&order.product))
                    .and_then(|routing| {
                        routing
                            .steps
                            .iter()
                            .find(|step| step.stations.contains(station))
                    })
                    .and_then(|step| index_of(step.operation.as_str()));
                let Some(at) = routed.or(fallback) else {
                    continue;
                };
                let operation = &mut operations[at];
                operation.entered = operation.entered.saturating_add(*produced);
                operation.rejected = operation.rejected.saturating_add(*rejected);
            }
        }

        // Dispositions come after the lot was made, so none of a lot made in the window is older
        // than `from`; they may be recorded at any station (quality's own, say).
        let mut failed: HashSet<LotId> = HashSet::new();
        for event in self.dispositions_since(from)? {
            let EventKind::LotDispositioned { lot, parts, .. } = &event.kind else {
                continue;
            };
            let Some((made_at, ancestors)) = self.made_on(lot, &on_line, from, to)? else {
                continue;
            };
            let Some(at) = index_of(made_at.as_str()) else {
                continue;
            };
            let failed_before = ancestors.iter().any(|ancestor| failed.contains(ancestor));
            let operation = &mut operations[at];
            for part in parts {
                let units = u64::try_from(part.quantity.milli() / 1000).unwrap_or(0);
                match part.disposition {
                    Disposition::Scrap => operation.scrapped += units,
                    Disposition::Rework { .. } => operation.reworked += units,
                    _ => continue,
                }
                if !failed_before {
                    operation.failed_first_pass += units;
                }
                failed.insert(part.lot.clone());
            }
        }

        for operation in &mut operations {
            operation.failed_first_pass = operation
                .failed_first_pass
                .saturating_add(operation.rejected)
                .min(operation.entered);
            operation.first_pass_yield = ratio(
                operation.entered - operation.failed_first_pass,
                operation.entered,
            );
        }
        let rolled_throughput_yield = if operations.is_empty() {
            None
        } else {
            operations.iter().try_fold(1.0, |rty, operation| {
                Some(rty * operation.first_pass_yield?)
            })
        };
        let produced = operations.first().map_or(0, |operation| operation.entered);
        let scrapped = operations
            .iter()
            .map(|operation| operation.rejected + operation.scrapped)
            .sum();
        let reworked = operations.iter().map(|operation| operation.reworked).sum();
        Ok(Some(YieldReport {
            line: line.to_owned(),
            from,
            to,
            operations,
            rolled_throughput_yield,
            produced,
            scrapped,
            reworked,
            scrap_rate: ratio(scrapped, produced),
            rework_rate: ratio(reworked, produced),
        }))
    }

    /// The dispositions central applied (a `lot_quality` row marks exactly those), recorded at or
    /// after `from`, in time order.
    fn dispositions_since(&self, from: DateTime<Utc>) -> Result<Vec<Event>> {
        let stations: Vec<String> = self
            .conn
            .prepare_cached("SELECT station FROM station_heads ORDER BY station")?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut statement = self.conn.prepare_cached(
            "SELECT e.seq, e.body FROM events e
             WHERE e.station = ?1 AND e.kind = 'lot_dispositioned' AND e.at >= ?2
               AND EXISTS (SELECT 1 FROM lot_quality q
                           WHERE q.lot = json_extract(e.body, '$.kind.data.lot')
                             AND q.station = e.station AND q.seq = e.seq)",
        )?;
        let mut events = Vec::new();
        for station in stations {
            let rows = statement
                .query_map(params![station, timestamp(from)], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (seq, body) in rows {
                let event: Event = serde_json::from_str(&body).map_err(|e| {
                    DbError::Corrupt(format!("event {seq} of station {station}: {e}"))
                })?;
                events.push(event);
            }
        }
        events.sort_by(|a, b| (a.at, &a.station, a.seq).cmp(&(b.at, &b.station, b.seq)));
        Ok(events)
    }

    /// The operation that made `lot` (following split parts to what they were split from), when
    /// a station of the line made it in [from, to); with the lot and every lot it was split from.
    fn made_on(
        &self,
        lot: &LotId,
        on_line: &HashSet<&StationId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<(OperationId, Vec<LotId>)>> {
        let mut chain = vec![lot.clone()];
        let mut current = lot.clone();
        for _ in 0..MAX_SPLIT_DEPTH {
            let Some(record) = load_lot_record(&self.conn, current.as_str())? else {
                return Ok(None);
            };
            match record.origin {
                LotOrigin::Produced {
                    station,
                    operation,
                    at,
                    ..
                } => {
                    let inside = on_line.contains(&station) && at >= from && at < to;
                    return Ok(inside.then_some((operation, chain)));
                }
                LotOrigin::Split { parent, .. } => {
                    chain.push(parent.clone());
                    current = parent;
                }
                LotOrigin::Supplier => return Ok(None),
            }
        }
        Ok(None)
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}
