//! The lots on hold plant-wide, now. Nothing here is projected of its own: a lot's master record
//! at central is the one truth of whether it is held (a station's hold, an inspection's reject,
//! a disposition to rework, a hold by central or the ERP all end there, by the rules in
//! `decide_lot_status` and the disposition's), so the hold list can never disagree with what the
//! stations refuse. Who held it and since when come from the lot's status log and quality history,
//! both written in the transaction that changed the record.

use super::ncrs::units;
use super::{Db, Result, load_lot_record, load_record, parse_timestamp};
use crate::domain::disposition::Rework;
use crate::domain::{Lot, LotId, LotOrigin};
use crate::protocol::MasterRecord;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// What put a lot on hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldBy {
    /// A person at a station held it.
    Station,
    /// An inspection at a station rejected it.
    Inspection,
    /// Quality's disposition sent it (or this part of it) back for rework.
    Disposition,
    /// An admin at central held it.
    Central,
    /// It came on hold in master data (the ERP's import), or before central kept a status log.
    MasterData,
}

/// One lot on hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenHold {
    pub lot: String,
    pub material: String,
    /// The product the lot is (a stage of), for a lot made on a line; none for a supplier's lot.
    pub product: Option<String>,
    /// As received or made, in the material's unit.
    pub quantity: f64,
    /// `on_hold` or `quarantined`.
    pub status: String,
    /// Why, in the words of whoever held it (or of the disposition that keeps it held).
    pub reason: Option<String>,
    pub held_by: HeldBy,
    /// The station where it was held; none for a hold by central or master data.
    pub station: Option<String>,
    /// Who held it: a badge, `central`, or none when master data says so.
    pub actor: Option<String>,
    /// When the hold began (it may have been re-decided since, e.g. sent to rework): none when
    /// master data gave no time.
    pub since: Option<DateTime<Utc>>,
    /// The open NCR of the lot (or of the lot it was split from), if any.
    pub ncr: Option<String>,
    /// Sent back for rework: at which operation, and whether it is done (then only an accepting
    /// inspection and a release are missing).
    pub rework: Option<Rework>,
    /// True while a rework is still to be done.
    pub rework_pending: bool,
}

/// `GET /api/v1/quality/holds`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holds {
    /// Longest held first.
    pub holds: Vec<OpenHold>,
}

/// What held a lot, at which station, by whom, and since when.
type HoldOrigin = (
    HeldBy,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// Split parts of split parts: a short chain in practice; the bound stops a corrupt cycle.
const MAX_SPLIT_DEPTH: usize = 16;

impl Db {
    /// Every lot on hold or quarantined now, longest held first.
    pub fn open_holds(&self) -> Result<Holds> {
        let ids: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM lots WHERE status IN ('on_hold', 'quarantined') ORDER BY id",
            )?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut holds = Vec::with_capacity(ids.len());
        for id in ids {
            // The mirror and the record are written together; a lot without a record is skipped
            // rather than shown half-known.
            let Some(record) = load_lot_record(&self.conn, &id)? else {
                continue;
            };
            holds.push(self.open_hold(record)?);
        }
        // A hold of unknown age (master data's) after every dated one.
        holds.sort_by(|a, b| {
            (a.since.is_none(), a.since, &a.lot).cmp(&(b.since.is_none(), b.since, &b.lot))
        });
        Ok(Holds { holds })
    }

    fn open_hold(&self, record: Lot) -> Result<OpenHold> {
        let (held_by, station, actor, since) = self.hold_origin(&record)?;
        let (product, ncr) = self.lineage(&record)?;
        let status = match record.status {
            crate::domain::LotStatus::Quarantined => "quarantined",
            _ => "on_hold",
        };
        Ok(OpenHold {
            lot: record.id.to_string(),
            material: record.material.to_string(),
            product,
            quantity: units(record.quantity),
            status: status.to_owned(),
            reason: record.status_reason.clone(),
            held_by,
            station,
            actor,
            since,
            ncr,
            rework_pending: record.rework.as_ref().is_some_and(|rework| !rework.done),
            rework: record.rework,
        })
    }

    /// Who began the hold the lot is in and when: the oldest entry of the unbroken run of held
    /// statuses that ends its status log (a rework done re-decides the record but does not begin
    /// a new hold), matched to the quality event of that station at that moment.
    fn hold_origin(&self, record: &Lot) -> Result<HoldOrigin> {
        let log: Vec<(String, String, String)> = self
            .conn
            .prepare_cached(
                "SELECT status, at, source FROM lot_status_log WHERE lot = ?1
                 ORDER BY version DESC",
            )?
            .query_map(params![record.id.as_str()], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let start = log
            .iter()
            .take_while(|(status, _, _)| status == "on_hold" || status == "quarantined")
            .last();
        let Some((_, at, source)) = start else {
            return Ok((HeldBy::MasterData, None, None, record.status_at));
        };
        let since = Some(parse_timestamp(at)?);
        if source == "central" {
            return Ok((HeldBy::Central, None, Some("central".to_owned()), since));
        }
        // A reject's hold is appended with its inspection, at the same moment: the inspection
        // is what held it. Otherwise the disposition or the hold itself.
        let event: Option<(String, String, String)> = self
            .conn
            .prepare_cached(
                "SELECT kind, station, actor FROM lot_quality
                 WHERE lot = ?1 AND at = ?2
                   AND kind IN ('inspection_recorded', 'lot_dispositioned', 'lot_held')
                 ORDER BY CASE kind WHEN 'inspection_recorded' THEN 0
                                    WHEN 'lot_dispositioned' THEN 1 ELSE 2 END
                 LIMIT 1",
            )?
            .query_row(params![record.id.as_str(), at], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        Ok(match event {
            Some((kind, station, actor)) => {
                let held_by = match kind.as_str() {
                    "inspection_recorded" => HeldBy::Inspection,
                    "lot_dispositioned" => HeldBy::Disposition,
                    _ => HeldBy::Station,
                };
                (held_by, Some(station), Some(actor), since)
            }
            // Older logs: the source names the station and person in words.
            None => (HeldBy::Station, None, Some(source.clone()), since),
        })
    }

    /// The product a lot is a stage of, and the open NCR of it or of a lot it was split from.
    fn lineage(&self, record: &Lot) -> Result<(Option<String>, Option<String>)> {
        let mut open_ncr = self.conn.prepare_cached(
            "SELECT id FROM ncrs WHERE lot = ?1 AND closed_at IS NULL
             ORDER BY opened_at DESC, id DESC LIMIT 1",
        )?;
        let mut ncr: Option<String> = None;
        let mut lot: LotId = record.id.clone();
        let mut origin = record.origin.clone();
        for _ in 0..MAX_SPLIT_DEPTH {
            if ncr.is_none() {
                ncr = open_ncr
                    .query_row(params![lot.as_str()], |row| row.get(0))
                    .optional()?;
            }
            match origin {
                LotOrigin::Produced { work_order, .. } => {
                    let product = match load_record(&self.conn, "work_order", work_order.as_str())?
                    {
                        Some(MasterRecord::WorkOrder(order)) => Some(order.product.to_string()),
                        _ => None,
                    };
                    return Ok((product, ncr));
                }
                LotOrigin::Split { parent, .. } => {
                    let Some(parent_record) = load_lot_record(&self.conn, parent.as_str())? else {
                        return Ok((None, ncr));
                    };
                    lot = parent;
                    origin = parent_record.origin;
                }
                LotOrigin::Supplier => return Ok((None, ncr)),
            }
        }
        Ok((None, ncr))
    }
}
