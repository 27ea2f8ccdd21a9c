//! Turns the rows of a genealogy walk into the tree a trace answers with, at central and at a
//! station. No SQL here: the caller (central's `Db`, a station's `Store`) walks the links and looks
//! up each lot; this module only arranges what it found.
//!
//! Genealogy is a graph, not a tree: a grease lot feeds hundreds of assemblies, and a tote change
//! mid-run makes one output from two input lots. Every lot is shown in full once, at the shallowest
//! level it was reached; anywhere else it is a leaf marked `repeated`, or `cycle` when it lies on its
//! own path (only a corrupt or forged log can do that). So the answer grows with the number of lots
//! and links, never with the number of paths, and a cycle cannot make it loop.

use crate::domain::{LotId, OutputForm};
use crate::protocol::{
    FinishedUnit, Genealogy, GenealogyLink, GenealogyNode, NodeOrigin, OperationWaiting,
    TraceDirection,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// One row of the walk: `lot` was reached from `parent` (none for the root) at `depth` links.
#[derive(Debug, Clone)]
pub struct Reached {
    pub parent: Option<LotId>,
    pub lot: LotId,
    pub depth: u32,
}

/// What a walk found, completed by the caller with the facts of each lot.
pub struct Walk {
    root: LotId,
    direction: TraceDirection,
    max_depth: u32,
    /// The shallowest level each lot was reached at.
    min_depth: HashMap<LotId, u32>,
    /// The links followed from each lot, in id order so answers are stable.
    links: HashMap<LotId, BTreeSet<LotId>>,
    /// Each lot as a childless node.
    pub facts: HashMap<LotId, GenealogyNode>,
    /// Lots at the depth limit that have links the walk did not follow.
    pub beyond: HashSet<LotId>,
    /// The walk stopped at its row limit.
    pub size_limited: bool,
}

impl Walk {
    pub fn new(root: LotId, direction: TraceDirection, max_depth: u32, rows: Vec<Reached>) -> Walk {
        let mut min_depth = HashMap::new();
        let mut links: HashMap<LotId, BTreeSet<LotId>> = HashMap::new();
        min_depth.insert(root.clone(), 0);
        for row in rows {
            let depth = min_depth.entry(row.lot.clone()).or_insert(row.depth);
            *depth = (*depth).min(row.depth);
            if let Some(parent) = row.parent {
                links.entry(parent).or_default().insert(row.lot);
            }
        }
        Walk {
            root,
            direction,
            max_depth,
            min_depth,
            links,
            facts: HashMap::new(),
            beyond: HashSet::new(),
            size_limited: false,
        }
    }

    /// Every distinct lot reached, the root included.
    pub fn lots(&self) -> Vec<LotId> {
        let mut lots: Vec<LotId> = self.min_depth.keys().cloned().collect();
        lots.sort();
        lots
    }

    /// The lots whose links the depth limit kept the walk from following.
    pub fn at_limit(&self) -> Vec<LotId> {
        let mut lots: Vec<LotId> = self
            .min_depth
            .iter()
            .filter(|(_, depth)| **depth >= self.max_depth)
            .map(|(lot, _)| lot.clone())
            .collect();
        lots.sort();
        lots
    }

    fn template(&self, lot: &LotId) -> GenealogyNode {
        self.facts
            .get(lot)
            .cloned()
            .unwrap_or_else(|| unknown_node(lot.clone()))
    }

    fn node(
        &self,
        lot: &LotId,
        depth: u32,
        expanded: &mut HashSet<LotId>,
        path: &mut Vec<LotId>,
        cycles: &mut Vec<GenealogyLink>,
    ) -> GenealogyNode {
        let mut node = self.template(lot);
        node.truncated = self.beyond.contains(lot);
        expanded.insert(lot.clone());
        path.push(lot.clone());
        for next in self.links.get(lot).into_iter().flatten() {
            if path.contains(next) {
                cycles.push(GenealogyLink {
                    from: lot.clone(),
                    to: next.clone(),
                });
                let mut leaf = self.template(next);
                leaf.cycle = true;
                node.children.push(leaf);
            } else if !expanded.contains(next) && self.min_depth.get(next) == Some(&(depth + 1)) {
                node.children
                    .push(self.node(next, depth + 1, expanded, path, cycles));
            } else {
                let mut leaf = self.template(next);
                leaf.repeated = true;
                node.children.push(leaf);
            }
        }
        path.pop();
        node
    }

    pub fn build(self) -> Genealogy {
        let mut expanded = HashSet::new();
        let mut path = Vec::new();
        let mut cycles = Vec::new();
        let root = self.node(&self.root, 0, &mut expanded, &mut path, &mut cycles);
        let finished = match self.direction {
            TraceDirection::Backward => Vec::new(),
            TraceDirection::Forward => self.finished(),
        };
        Genealogy {
            lot: self.root.clone(),
            direction: self.direction,
            max_depth: self.max_depth,
            depth: self.min_depth.values().copied().max().unwrap_or(0),
            nodes: self.min_depth.len() as u64,
            truncated: self.size_limited || !self.beyond.is_empty(),
            cycles,
            root,
            finished,
            waiting_by_operation: self.waiting_by_operation(),
        }
    }

    /// Serials that nothing consumed further: the finished units reached. The root counts too (a
    /// serial traced forward is its own finished unit).
    fn finished(&self) -> Vec<FinishedUnit> {
        let mut units: Vec<FinishedUnit> = self
            .lots()
            .into_iter()
            .filter(|lot| {
                self.links.get(lot).is_none_or(BTreeSet::is_empty) && !self.beyond.contains(lot)
            })
            .filter_map(|lot| {
                let node = self.facts.get(&lot)?;
                if node.form != OutputForm::Serial {
                    return None;
                }
                let (station, work_order, made_at) = match &node.origin {
                    NodeOrigin::Produced {
                        station,
                        work_order,
                        at,
                        ..
                    } => (Some(station.clone()), Some(work_order.clone()), Some(*at)),
                    _ => (None, None, None),
                };
                Some(FinishedUnit {
                    serial: lot,
                    material: node.material.clone(),
                    station,
                    work_order,
                    made_at,
                })
            })
            .collect();
        units.sort_by(|a, b| a.serial.cmp(&b.serial));
        units
    }

    fn waiting_by_operation(&self) -> Vec<OperationWaiting> {
        let mut by_operation: BTreeMap<_, Vec<i64>> = BTreeMap::new();
        for node in self.facts.values() {
            if let Some(waiting) = &node.waiting {
                by_operation
                    .entry(waiting.operation.clone())
                    .or_default()
                    .push(waiting.seconds);
            }
        }
        by_operation
            .into_iter()
            .map(|(operation, seconds)| {
                let lots = seconds.len() as i64;
                OperationWaiting {
                    operation,
                    lots: lots as u64,
                    mean_seconds: seconds.iter().sum::<i64>() / lots.max(1),
                    max_seconds: seconds.iter().copied().max().unwrap_or(0),
                }
            })
            .collect()
    }
}

/// A lot central knows only as someone's input.
pub fn unknown_node(lot: LotId) -> GenealogyNode {
    GenealogyNode {
        lot,
        form: OutputForm::Lot,
        material: None,
        material_name: None,
        unit: None,
        quantity: None,
        status: None,
        status_reason: None,
        origin: NodeOrigin::Unknown,
        operator: None,
        machine_state: None,
        quality: Vec::new(),
        waiting: None,
        repeated: false,
        cycle: false,
        truncated: false,
        children: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(parent: Option<&str>, lot: &str, depth: u32) -> Reached {
        Reached {
            parent: parent.map(LotId::from),
            lot: LotId::from(lot),
            depth,
        }
    }

    fn ids(node: &GenealogyNode) -> Vec<(String, bool, bool)> {
        node.children
            .iter()
            .map(|c| (c.lot.to_string(), c.repeated, c.cycle))
            .collect()
    }

    #[test]
    fn a_shared_input_is_shown_once_and_referenced_elsewhere() {
        // S <- C, B; C <- W, G; B <- G (G is shared at levels 2 and 2).
        let rows = vec![
            row(None, "S", 0),
            row(Some("S"), "B", 1),
            row(Some("S"), "C", 1),
            row(Some("B"), "G", 2),
            row(Some("C"), "G", 2),
            row(Some("C"), "W", 2),
        ];
        let walk = Walk::new(LotId::from("S"), TraceDirection::Backward, 20, rows);
        let tree = walk.build();
        assert_eq!(tree.nodes, 5);
        assert_eq!(tree.depth, 2);
        assert!(tree.cycles.is_empty());
        assert_eq!(
            ids(&tree.root),
            [("B".into(), false, false), ("C".into(), false, false)]
        );
        assert_eq!(ids(&tree.root.children[0]), [("G".into(), false, false)]);
        assert_eq!(
            ids(&tree.root.children[1]),
            [("G".into(), true, false), ("W".into(), false, false)]
        );
    }

    #[test]
    fn a_cycle_becomes_a_marked_leaf() {
        // X <- Y <- X, as a forged log could claim; the walk repeats until the depth limit.
        let mut rows = vec![row(None, "X", 0)];
        for depth in 1..=4 {
            let (parent, lot) = if depth % 2 == 1 {
                ("X", "Y")
            } else {
                ("Y", "X")
            };
            rows.push(row(Some(parent), lot, depth));
        }
        let walk = Walk::new(LotId::from("X"), TraceDirection::Backward, 4, rows);
        let tree = walk.build();
        assert_eq!(tree.nodes, 2);
        assert_eq!(ids(&tree.root), [("Y".into(), false, false)]);
        assert_eq!(ids(&tree.root.children[0]), [("X".into(), false, true)]);
        assert_eq!(
            tree.cycles,
            [GenealogyLink {
                from: LotId::from("Y"),
                to: LotId::from("X")
            }]
        );
    }
}
