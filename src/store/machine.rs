//! The log's facts live KPIs are computed from, over a stretch of time.

use super::{Result, Store, StoreError};
use crate::domain::Event;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, params};

/// The event kinds [`crate::domain::kpi_history::KpiHistory`] takes in.
const KPI_KINDS: &str = "('machine_state_changed', 'downtime_started', 'downtime_coded', \
                         'planned_downtime_declared', 'units_produced', 'corrected')";

impl Store {
    /// The events KPIs are built from, from `since` on, led by the machine change in effect at
    /// `since`, in log order.
    pub fn kpi_events_since(&self, since: DateTime<Utc>) -> Result<Vec<Event>> {
        let since_text = since.to_rfc3339_opts(SecondsFormat::Millis, true);
        let parse = |body: String| -> Result<Event> {
            serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("event body: {e}")))
        };
        let mut events = Vec::new();
        let in_effect: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT body FROM event_log WHERE kind = 'machine_state_changed' AND at < ?1
                 ORDER BY at DESC, seq DESC LIMIT 1",
            )?
            .query_row(params![since_text], |row| row.get(0))
            .optional()?;
        if let Some(body) = in_effect {
            events.push(parse(body)?);
        }
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT body FROM event_log WHERE kind IN {KPI_KINDS} AND at >= ?1 ORDER BY seq"
        ))?;
        let rows = statement.query_map(params![since_text], |row| row.get::<_, String>(0))?;
        for body in rows {
            events.push(parse(body?)?);
        }
        Ok(events)
    }
}
