//! What a batch says of its sender, kept beside the events: which of them waited at the station
//! longer than its historical threshold before they were sent (late facts, not news: an alert or a
//! dashboard must not take a stop from last night for one happening now), and how far the
//! station's own log reached when it sent (its backlog, as far as central can know).

use super::{Db, DbError, Result, from_sql_int, timestamp, to_sql_int};
use crate::domain::{StationConfig, StationId};
use crate::protocol::MasterRecord;
use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};

/// The sender's side of a batch (`EventBatch::sent_at`, `station_head`); empty for old stations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchMeta {
    pub sent_at: Option<DateTime<Utc>>,
    pub station_head: Option<u64>,
}

/// One station's backlog and late facts, for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationBacklog {
    pub station: String,
    /// The newest seq the station reported having, with its last batch.
    pub reported_head: Option<u64>,
    /// Events stored that waited past the threshold at the station.
    pub historical: u64,
    /// Events stored but set aside (see quarantine).
    pub quarantined: u64,
}

/// Records, inside the ingest transaction, which of the newly `stored` events (seq, station time)
/// waited past the station's threshold, and the head the station reported.
pub(super) fn record(
    tx: &Transaction<'_>,
    station: &StationId,
    stored: &[(u64, DateTime<Utc>)],
    meta: &BatchMeta,
    received_at: &str,
) -> Result<()> {
    if let Some(head) = meta.station_head {
        tx.prepare_cached(
            "INSERT INTO station_reported (station, head_seq, sent_at, received_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (station) DO UPDATE SET head_seq = MAX(head_seq, excluded.head_seq),
                 sent_at = excluded.sent_at, received_at = excluded.received_at",
        )?
        .execute(params![
            station.as_str(),
            to_sql_int(head),
            meta.sent_at.map(timestamp),
            received_at
        ])?;
    }
    let Some(sent_at) = meta.sent_at else {
        return Ok(());
    };
    let threshold = chrono::Duration::minutes(i64::from(threshold_minutes(tx, station)?));
    // Station time on both sides: the wait is the station's own, whatever its clock's offset.
    let mut run: Option<(u64, u64)> = None;
    let mut runs = Vec::new();
    for (seq, at) in stored {
        if sent_at.signed_duration_since(*at) <= threshold {
            runs.extend(run.take());
            continue;
        }
        run = match run {
            Some((first, last)) if last + 1 == *seq => Some((first, *seq)),
            other => {
                runs.extend(other);
                Some((*seq, *seq))
            }
        };
    }
    runs.extend(run);
    for (first, last) in runs {
        // A night's backlog is one range, not one per batch: extend the range that ends just
        // before this one.
        let extended = tx
            .prepare_cached(
                "UPDATE historical_ranges SET last_seq = ?3
                 WHERE station = ?1 AND first_seq = (
                     SELECT first_seq FROM historical_ranges
                     WHERE station = ?1 AND first_seq < ?2 ORDER BY first_seq DESC LIMIT 1)
                   AND last_seq = ?2 - 1",
            )?
            .execute(params![
                station.as_str(),
                to_sql_int(first),
                to_sql_int(last)
            ])?;
        if extended == 0 {
            tx.prepare_cached(
                "INSERT INTO historical_ranges (station, first_seq, last_seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (station, first_seq) DO UPDATE SET
                     last_seq = MAX(last_seq, excluded.last_seq)",
            )?
            .execute(params![
                station.as_str(),
                to_sql_int(first),
                to_sql_int(last)
            ])?;
        }
    }
    Ok(())
}

fn threshold_minutes(tx: &Transaction<'_>, station: &StationId) -> Result<u32> {
    Ok(
        match super::load_record(tx, "station_config", station.as_str())? {
            Some(MasterRecord::StationConfig(config)) => config.historical_after_minutes,
            Some(_) => return Err(DbError::Corrupt(format!("station config of {station}"))),
            None => StationConfig::new(station.clone()).historical_after_minutes,
        },
    )
}

impl Db {
    /// Which of `seqs` (ascending) of `station` arrived late (historical), in order.
    pub fn historical_among(&self, station: &str, seqs: &[u64]) -> Result<Vec<u64>> {
        let (Some(low), Some(high)) = (seqs.first(), seqs.last()) else {
            return Ok(Vec::new());
        };
        // The range that starts at or before `low` may reach into it: start the search there.
        let mut statement = self.conn.prepare_cached(
            "SELECT first_seq, last_seq FROM historical_ranges
             WHERE station = ?1 AND first_seq <= ?3 AND first_seq >= COALESCE((
                 SELECT first_seq FROM historical_ranges
                 WHERE station = ?1 AND first_seq <= ?2 ORDER BY first_seq DESC LIMIT 1), ?2)
             ORDER BY first_seq",
        )?;
        let ranges = statement
            .query_map(
                params![station, to_sql_int(*low), to_sql_int(*high)],
                |row| Ok((from_sql_int(row.get(0)?), from_sql_int(row.get(1)?))),
            )?
            .collect::<rusqlite::Result<Vec<(u64, u64)>>>()?;
        Ok(seqs
            .iter()
            .copied()
            .filter(|seq| {
                // Ranges are sorted by their start: the last one starting at or before `seq`.
                let at = ranges.partition_point(|(first, _)| first <= seq);
                at > 0 && ranges[at - 1].1 >= *seq
            })
            .collect())
    }

    /// Per station (every station central knows, in id order): its reported head, and how many of
    /// its events arrived late or were set aside.
    pub fn station_backlogs(&self) -> Result<Vec<StationBacklog>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT s.id, r.head_seq,
                    (SELECT COALESCE(SUM(h.last_seq - h.first_seq + 1), 0)
                     FROM historical_ranges h WHERE h.station = s.id),
                    (SELECT COUNT(*) FROM quarantine q WHERE q.station = s.id)
             FROM stations s LEFT JOIN station_reported r ON r.station = s.id
             ORDER BY s.id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(StationBacklog {
                station: row.get(0)?,
                reported_head: row.get::<_, Option<i64>>(1)?.map(from_sql_int),
                historical: from_sql_int(row.get(2)?),
                quarantined: from_sql_int(row.get(3)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
