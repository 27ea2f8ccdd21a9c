//! Genealogy as far as one station's own log knows it: the outputs made here and the lots each was
//! made from. The Trace screen falls back to this when central cannot be reached; central's answer
//! covers the whole plant.

use super::{Result, Store, StoreError};
use crate::domain::{Event, EventKind, LotId, LotOrigin, OutputForm, State};
use crate::genealogy::{Reached, Walk, unknown_node};
use crate::protocol::{Genealogy, GenealogyNode, MAX_GENEALOGY_DEPTH, NodeOrigin, TraceDirection};
use rusqlite::{OptionalExtension, params};
use std::collections::{HashSet, VecDeque};

impl Store {
    /// The genealogy of `lot` from this station's log, or `None` when the station never heard of it.
    /// Walks the indexed links table, so it costs the size of the tree, not of the log.
    pub fn local_genealogy(
        &self,
        state: &State,
        lot: &LotId,
        direction: TraceDirection,
    ) -> Result<Option<Genealogy>> {
        let links_sql = match direction {
            TraceDirection::Backward => {
                "SELECT input FROM output_edge WHERE output = ?1 ORDER BY input"
            }
            TraceDirection::Forward => {
                "SELECT output FROM output_edge WHERE input = ?1 ORDER BY output"
            }
        };
        let mut links_of = self.conn.prepare_cached(links_sql)?;
        let mut links = |from: &LotId| -> Result<Vec<LotId>> {
            let rows = links_of.query_map(params![from.as_str()], |row| row.get::<_, String>(0))?;
            rows.map(|row| row.map(LotId::new).map_err(StoreError::from))
                .collect()
        };
        let made = self.made_here(lot)?;
        let root_links = links(lot)?;
        if state.lot(lot).is_none() && made.is_none() && root_links.is_empty() {
            // Made from nothing here and feeding nothing here: maybe an input only.
            let used: bool = self
                .conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM output_edge WHERE input = ?1)")?
                .query_row(params![lot.as_str()], |row| row.get(0))?;
            if !used {
                return Ok(None);
            }
        }
        // Breadth first, each lot expanded once: a corrupt log with a cycle cannot loop.
        let mut rows = vec![Reached {
            parent: None,
            lot: lot.clone(),
            depth: 0,
        }];
        let mut expanded = HashSet::new();
        let mut queue = VecDeque::from([(lot.clone(), 0u32)]);
        let mut beyond = HashSet::new();
        while let Some((from, depth)) = queue.pop_front() {
            if !expanded.insert(from.clone()) {
                continue;
            }
            let next = links(&from)?;
            if depth >= MAX_GENEALOGY_DEPTH {
                if !next.is_empty() {
                    beyond.insert(from);
                }
                continue;
            }
            for to in next {
                rows.push(Reached {
                    parent: Some(from.clone()),
                    lot: to.clone(),
                    depth: depth + 1,
                });
                queue.push_back((to, depth + 1));
            }
        }
        let mut walk = Walk::new(lot.clone(), direction, MAX_GENEALOGY_DEPTH, rows);
        walk.beyond = beyond;
        for id in walk.lots() {
            let made = self.made_here(&id)?;
            walk.facts
                .insert(id.clone(), facts(state, &id, made.as_ref()));
        }
        Ok(Some(walk.build()))
    }

    /// The event that made `lot` here, if this station made it.
    fn made_here(&self, lot: &LotId) -> Result<Option<Event>> {
        let body: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT e.body FROM output_edge o JOIN event_log e ON e.seq = o.seq
                 WHERE o.output = ?1 LIMIT 1",
            )?
            .query_row(params![lot.as_str()], |row| row.get(0))
            .optional()?;
        body.map(|body| {
            serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(format!("event body: {e}")))
        })
        .transpose()
    }
}

/// What the station knows of one lot, as a childless node.
fn facts(state: &State, lot: &LotId, made: Option<&Event>) -> GenealogyNode {
    let known = state.lot(lot);
    let mut node = unknown_node(lot.clone());
    if let Some(known) = known.as_deref() {
        let material = state.master.materials.get(&known.material);
        node.material = Some(known.material.clone());
        node.material_name = material.map(|m| m.name.clone());
        node.unit = material.map(|m| m.unit.clone());
        node.quantity = Some(known.quantity);
        node.status = Some(known.status);
        node.status_reason = known.status_reason.clone();
        node.origin = match &known.origin {
            LotOrigin::Supplier => NodeOrigin::Supplier {
                first_seen_station: None,
                first_seen_at: None,
            },
            LotOrigin::Split { station, at, .. } => NodeOrigin::Split {
                station: station.clone(),
                at: *at,
            },
            LotOrigin::Produced {
                station,
                work_order,
                operation,
                at,
            } => NodeOrigin::Produced {
                station: station.clone(),
                work_order: work_order.clone(),
                operation: operation.clone(),
                at: *at,
            },
        };
    }
    if let Some(event) = made
        && let EventKind::OutputCreated {
            work_order,
            operation,
            form,
            material,
            quantity,
            operator,
            machine_state,
            ..
        } = &event.kind
    {
        node.form = *form;
        node.operator = operator.clone();
        node.machine_state = machine_state.clone();
        node.origin = NodeOrigin::Produced {
            station: event.station.clone(),
            work_order: work_order.clone(),
            operation: operation.clone(),
            at: event.at,
        };
        if node.material.is_none() {
            node.material = Some(material.clone());
            node.quantity = Some(*quantity);
        }
    } else if known.is_none() {
        node.form = OutputForm::Lot;
    }
    node
}
