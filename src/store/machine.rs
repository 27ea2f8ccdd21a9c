//! The machine's recorded transitions over a stretch of time, for live KPIs.

use super::{Result, Store, StoreError};
use crate::domain::machine::MachineCategory;
use crate::domain::{Event, EventKind};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{OptionalExtension, params};

impl Store {
    /// The machine's category changes from `since` on, starting with the category in effect at
    /// `since` (stamped at `since`), in order.
    pub fn machine_changes_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, MachineCategory)>> {
        let since_text = since.to_rfc3339_opts(SecondsFormat::Millis, true);
        let parse = |body: String| -> Result<Option<(DateTime<Utc>, MachineCategory)>> {
            let event: Event = serde_json::from_str(&body)
                .map_err(|e| StoreError::Corrupt(format!("event body: {e}")))?;
            Ok(match event.kind {
                EventKind::MachineStateChanged { category, .. } => Some((event.at, category)),
                _ => None,
            })
        };
        let mut changes = Vec::new();
        let before: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT body FROM event_log WHERE kind = 'machine_state_changed' AND at < ?1
                 ORDER BY at DESC, seq DESC LIMIT 1",
            )?
            .query_row(params![since_text], |row| row.get(0))
            .optional()?;
        if let Some(body) = before
            && let Some((_, category)) = parse(body)?
        {
            changes.push((since, category));
        }
        let mut statement = self.conn.prepare_cached(
            "SELECT body FROM event_log WHERE kind = 'machine_state_changed' AND at >= ?1
             ORDER BY at, seq",
        )?;
        let rows = statement.query_map(params![since_text], |row| row.get::<_, String>(0))?;
        for body in rows {
            if let Some(change) = parse(body?)? {
                changes.push(change);
            }
        }
        Ok(changes)
    }
}
