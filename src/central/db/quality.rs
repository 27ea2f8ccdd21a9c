//! Quality figures from the inspections stations recorded. Only what central kept counts: an
//! inspection set aside in quarantine (say, by someone who may not inspect) counts for nothing.

use super::{Db, DbError, Result, timestamp};
use crate::domain::{Event, EventKind};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a defect Pareto groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParetoBy {
    Code,
    Product,
    Station,
    Operation,
}

impl ParetoBy {
    pub fn parse(text: &str) -> Option<ParetoBy> {
        match text.trim() {
            "code" => Some(ParetoBy::Code),
            "product" => Some(ParetoBy::Product),
            "station" => Some(ParetoBy::Station),
            "operation" => Some(ParetoBy::Operation),
            _ => None,
        }
    }
}

/// One bar of the Pareto: the defects found under `key`, their share of all found, and the share
/// of this bar and every larger one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParetoRow {
    pub key: String,
    /// The catalog's words for a defect code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub defects: u64,
    pub share: f64,
    pub cumulative_share: f64,
}

/// `GET /api/v1/quality/pareto`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pareto {
    pub by: ParetoBy,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Inspections recorded in the window.
    pub inspections: u64,
    /// Defects found in them.
    pub defects: u64,
    /// Largest first; equal counts by key.
    pub rows: Vec<ParetoRow>,
}

impl Db {
    /// The defects found by inspections recorded in [from, to), grouped `by`.
    pub fn defect_pareto(
        &self,
        by: ParetoBy,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Pareto> {
        let mut statement = self.conn.prepare_cached(
            "SELECT e.station, e.seq, e.body FROM events e
             WHERE e.kind = 'inspection_recorded' AND e.at >= ?1 AND e.at < ?2
               AND NOT EXISTS (
                   SELECT 1 FROM quarantine q WHERE q.station = e.station AND q.seq = e.seq)",
        )?;
        let rows = statement.query_map([timestamp(from), timestamp(to)], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        let mut inspections = 0;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for row in rows {
            let (station, seq, body) = row?;
            let event: Event = serde_json::from_str(&body)
                .map_err(|e| DbError::Corrupt(format!("event {seq} of station {station}: {e}")))?;
            let EventKind::InspectionRecorded {
                product,
                operation,
                defects,
                ..
            } = &event.kind
            else {
                continue;
            };
            inspections += 1;
            for found in defects {
                let key = match by {
                    ParetoBy::Code => found.code.clone(),
                    ParetoBy::Product => product.to_string(),
                    ParetoBy::Station => station.clone(),
                    ParetoBy::Operation => operation.to_string(),
                };
                let count = counts.entry(key).or_default();
                *count = count.saturating_add(u64::from(found.quantity));
            }
        }
        let codes = match by {
            ParetoBy::Code => self.master_of_kinds(&["code"])?.codes,
            _ => BTreeMap::new(),
        };
        let defects: u64 = counts.values().sum();
        let mut bars: Vec<(String, u64)> = counts.into_iter().collect();
        bars.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let share = |count: u64| {
            if defects == 0 {
                0.0
            } else {
                count as f64 / defects as f64
            }
        };
        let mut running = 0;
        let rows = bars
            .into_iter()
            .map(|(key, count)| {
                running += count;
                ParetoRow {
                    text: codes.get(&key).map(|code| code.text.clone()),
                    key,
                    defects: count,
                    share: share(count),
                    cumulative_share: share(running),
                }
            })
            .collect();
        Ok(Pareto {
            by,
            from,
            to,
            inspections,
            defects,
            rows,
        })
    }
}
