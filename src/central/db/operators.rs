//! Operators at central: the records stations log in against. An ERP import names people and
//! roles; PINs and revocations are central's own, so a re-import never undoes them.

use super::{Db, DbError, Result, load_record, upsert_record};
use crate::domain::{Badge, Operator};
use crate::protocol::MasterRecord;
use chrono::{DateTime, Utc};
use rusqlite::Transaction;

fn load_operator(tx: &Transaction<'_>, badge: &str) -> Result<Option<Operator>> {
    match load_record(tx, "operator", badge)? {
        Some(MasterRecord::Operator(operator)) => Ok(Some(operator)),
        Some(_) => Err(DbError::Corrupt(format!(
            "operator {badge} is another kind"
        ))),
        None => Ok(None),
    }
}

/// An imported operator record over central's: the import's name, roles, active flag and end date;
/// central's PIN verifier unless the import brings one; central's revocation always (an ERP
/// export that still lists someone does not give a revoked badge back).
pub(super) fn merge_import(existing: &Operator, mut imported: Operator) -> Operator {
    if imported.pin_verifier.is_none() {
        imported.pin_verifier = existing.pin_verifier.clone();
    }
    if existing.revoked_at.is_some() {
        imported.revoked_at = existing.revoked_at;
    }
    imported
}

/// Writes an operator's record (a new version if it changed), merged over central's own when it
/// comes from an import.
pub(super) fn write_operator(
    tx: &Transaction<'_>,
    operator: Operator,
    source: &str,
) -> Result<Option<i64>> {
    let operator = match load_operator(tx, operator.badge.as_str())? {
        Some(existing) if source == "import" => merge_import(&existing, operator),
        _ => operator,
    };
    upsert_record(tx, &MasterRecord::Operator(operator))
}

impl Db {
    /// Every operator central knows, by badge.
    pub fn operators(&self) -> Result<Vec<Operator>> {
        let mut statement = self
            .conn
            .prepare("SELECT body FROM master_records WHERE kind = 'operator' ORDER BY key")?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
        let mut operators = Vec::new();
        for body in rows {
            match serde_json::from_str::<MasterRecord>(&body?) {
                Ok(MasterRecord::Operator(operator)) => operators.push(operator),
                Ok(_) => return Err(DbError::Corrupt("operator of another kind".into())),
                Err(e) => return Err(DbError::Corrupt(format!("operator: {e}"))),
            }
        }
        Ok(operators)
    }

    /// Changes one operator's record; stations learn it at their next pull. Returns the new
    /// master-data version, or `None` when nothing changed.
    fn change_operator(
        &mut self,
        badge: &Badge,
        change: impl FnOnce(&mut Operator) -> Result<()>,
    ) -> Result<Option<i64>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut operator = load_operator(&tx, badge.as_str())?
            .ok_or_else(|| DbError::Refused(format!("central does not know badge {badge}")))?;
        change(&mut operator)?;
        let version = write_operator(&tx, operator, "admin")?;
        tx.commit()?;
        Ok(version)
    }

    /// Stores a new PIN verifier (never the PIN) for `badge`.
    pub fn set_operator_pin(&mut self, badge: &Badge, verifier: &str) -> Result<Option<i64>> {
        crate::credential::check_verifier(verifier).map_err(|e| DbError::Refused(e.to_string()))?;
        self.change_operator(badge, |operator| {
            operator.pin_verifier = Some(verifier.to_owned());
            Ok(())
        })
    }

    /// Revokes `badge` from `at`: stations refuse its logins once they learn it, and central
    /// quarantines what it does from then on. Revoking again keeps the first time.
    pub fn revoke_operator(&mut self, badge: &Badge, at: DateTime<Utc>) -> Result<Option<i64>> {
        self.change_operator(badge, |operator| {
            if operator.revoked_at.is_none() {
                operator.revoked_at = Some(at);
            }
            operator.active = false;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operator(verifier: Option<&str>, revoked: bool) -> Operator {
        Operator {
            badge: Badge::from("EMP-1"),
            name: "A".into(),
            roles: vec!["operator".into()],
            active: true,
            valid_until: None,
            revoked_at: revoked.then_some(DateTime::<Utc>::UNIX_EPOCH),
            pin_verifier: verifier.map(str::to_owned),
        }
    }

    /// Facts by people, chained as one station's log.
    fn chain(
        facts: Vec<(&str, DateTime<Utc>, crate::domain::EventKind)>,
    ) -> Vec<crate::domain::Event> {
        let mut prev = crate::domain::GENESIS_HASH.to_owned();
        facts
            .into_iter()
            .enumerate()
            .map(|(index, (badge, at, kind))| {
                let event = crate::domain::Event::seal(
                    crate::domain::NewEvent {
                        at,
                        actor: crate::domain::Actor::Operator(Badge::from(badge)),
                        kind,
                    },
                    crate::domain::StationId::from("L1-S1"),
                    index as u64 + 1,
                    uuid::Uuid::now_v7(),
                    prev.clone(),
                );
                prev = event.hash.clone();
                event
            })
            .collect()
    }

    /// Central checks every person's fact again: unknown people, badges revoked by then, and roles
    /// without the permission are quarantined with the reason; a fact from before a revocation
    /// counts.
    #[test]
    fn central_quarantines_facts_people_could_not_have_made() {
        use crate::domain::{EventKind, WorkOrderId};
        let dir = tempfile::tempdir().expect("temp dir");
        let mut db = Db::open(&dir.path().join("central.db")).expect("open");
        let now = Utc::now();
        db.ensure_line("L1", "Line 1", crate::central::demo::STATIONS, now)
            .expect("line");
        db.upsert_master(&crate::central::demo::master_records(now.date_naive()), now)
            .expect("demo");
        let revoked_at = now - chrono::Duration::minutes(30);
        db.revoke_operator(&Badge::from("EMP-1002"), revoked_at)
            .expect("revoke");
        let select = || EventKind::WorkOrderSelected {
            work_order: WorkOrderId::from("WO-24001"),
        };
        let before = revoked_at - chrono::Duration::minutes(5);
        let after = revoked_at + chrono::Duration::minutes(5);
        let events = chain(vec![
            ("EMP-1001", before, select()),
            ("EMP-4242", before, select()),
            ("EMP-2001", before, select()),
            ("EMP-1002", before, select()),
            ("EMP-1002", after, select()),
        ]);
        let ack = db
            .ingest(&crate::domain::StationId::from("L1-S1"), &events, now)
            .expect("ingest");
        assert_eq!(ack.acked_through, 5, "the cursor moves on past each");
        let reasons: Vec<(u64, String)> = ack
            .quarantined
            .iter()
            .map(|q| (q.seq, q.reason.clone()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (2, "done by EMP-4242, whom central does not know".to_owned()),
                (
                    3,
                    "EMP-2001 (inspector) may not choose work orders: that needs operator, line \
                     lead or admin"
                        .to_owned()
                ),
                (
                    5,
                    format!(
                        "done by EMP-1002, whose badge was revoked at {}",
                        revoked_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    )
                ),
            ]
        );
    }

    #[test]
    fn a_reimport_keeps_central_pin_and_revocation() {
        let merged = merge_import(&operator(Some("v1"), true), operator(None, false));
        assert_eq!(merged.pin_verifier.as_deref(), Some("v1"));
        assert!(merged.revoked_at.is_some());
        let replaced = merge_import(&operator(Some("v1"), false), operator(Some("v2"), false));
        assert_eq!(replaced.pin_verifier.as_deref(), Some("v2"));
        assert!(replaced.revoked_at.is_none());
    }
}
