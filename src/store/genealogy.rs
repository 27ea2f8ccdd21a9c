//! Genealogy as far as one station's own log knows it: the outputs made here and the lots each was
//! made from. The Trace screen falls back to this when central cannot be reached; central's answer
//! covers the whole plant.

use super::{Result, Store, StoreError};
use crate::domain::{Event, EventKind, LotId, LotOrigin, OutputForm, State};
use crate::genealogy::{Reached, Walk, unknown_node};
use crate::protocol::{Genealogy, GenealogyNode, MAX_GENEALOGY_DEPTH, NodeOrigin, TraceDirection};
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

/// One output made here, with what it was made from.
struct Made {
    event: Event,
    inputs: Vec<LotId>,
}

impl Store {
    /// The genealogy of `lot` from this station's log, or `None` when the station never heard of it.
    pub fn local_genealogy(
        &self,
        state: &State,
        lot: &LotId,
        direction: TraceDirection,
    ) -> Result<Option<Genealogy>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT body FROM event_log WHERE kind = 'output_created'")?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
        let mut made: BTreeMap<LotId, Made> = BTreeMap::new();
        let mut used_in: BTreeMap<LotId, BTreeSet<LotId>> = BTreeMap::new();
        for body in rows {
            let event: Event = serde_json::from_str(&body?)
                .map_err(|e| StoreError::Corrupt(format!("event body: {e}")))?;
            if let EventKind::OutputCreated { output, inputs, .. } = &event.kind {
                for input in inputs {
                    used_in
                        .entry(input.clone())
                        .or_default()
                        .insert(output.clone());
                }
                let inputs = inputs.clone();
                made.insert(output.clone(), Made { event, inputs });
            }
        }
        if state.lot(lot).is_none() && !made.contains_key(lot) && !used_in.contains_key(lot) {
            return Ok(None);
        }
        let links = |from: &LotId| -> Vec<LotId> {
            match direction {
                TraceDirection::Backward => {
                    made.get(from).map(|m| m.inputs.clone()).unwrap_or_default()
                }
                TraceDirection::Forward => used_in
                    .get(from)
                    .map(|outputs| outputs.iter().cloned().collect())
                    .unwrap_or_default(),
            }
        };
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
            let next = links(&from);
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
            let node = facts(state, &id, made.get(&id));
            walk.facts.insert(id, node);
        }
        Ok(Some(walk.build()))
    }
}

/// What the station knows of one lot, as a childless node.
fn facts(state: &State, lot: &LotId, made: Option<&Made>) -> GenealogyNode {
    let known = state.lot(lot);
    let mut node = unknown_node(lot.clone());
    if let Some(known) = known {
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
    if let Some(Made { event, .. }) = made
        && let EventKind::OutputCreated {
            work_order,
            operation,
            form,
            material,
            quantity,
            operator,
            ..
        } = &event.kind
    {
        node.form = *form;
        node.operator = operator.clone();
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
