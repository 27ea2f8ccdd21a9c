//! Material flow: which lot may feed a work order (poka-yoke), what a unit draws from the loaded lots,
//! and the output lots and serials an operation hands on — with the lots they were made from, which
//! is the genealogy.

use super::event::{Actor, ConsumptionBasis, Entry, EventKind, NewEvent, OutputForm};
use super::ids::{LotId, MaterialId, OperationId, WorkOrderId};
use super::master::{BomLine, Consumption, LotStatus, OutputKind, RoutingStep};
use super::plc::PackMlState;
use super::quantity::Quantity;
use super::rejection::Rejection;
use super::state::{ExecStatus, State};
use chrono::{DateTime, Days, NaiveDate, Utc};

/// `{station}` the station id, `{date}` the day as YYMMDD, `{seq}` the station's output counter
/// (six digits), `{wo}` the work order. With `{station}` and `{seq}` ids are unique plant-wide without
/// asking anyone.
pub const DEFAULT_OUTPUT_ID_PATTERN: &str = "{station}-{date}-{seq}";

/// Checks an output id pattern: it must make ids unique without coordination.
pub fn check_output_id_pattern(pattern: &str) -> Result<(), String> {
    for needed in ["{station}", "{seq}"] {
        if !pattern.contains(needed) {
            return Err(format!(
                "output id pattern {pattern:?} lacks {needed}: ids would not be unique across stations and restarts"
            ));
        }
    }
    let stripped = ["{station}", "{date}", "{seq}", "{wo}"]
        .iter()
        .fold(pattern.to_owned(), |text, token| text.replace(token, ""));
    if stripped.contains('{') || stripped.contains('}') {
        return Err(format!(
            "output id pattern {pattern:?} has an unknown placeholder; use {{station}}, {{date}}, {{seq}}, {{wo}}"
        ));
    }
    Ok(())
}

/// The id of the `number`th output of this station.
pub fn output_id(
    pattern: &str,
    state: &State,
    work_order: &WorkOrderId,
    number: u64,
    now: DateTime<Utc>,
) -> LotId {
    LotId::new(
        pattern
            .replace("{station}", state.station.as_str())
            .replace("{date}", &now.format("%y%m%d").to_string())
            .replace("{seq}", &format!("{number:06}"))
            .replace("{wo}", work_order.as_str()),
    )
}

/// What a lot label says, as the classifier decoded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotLabel {
    pub lot: LotId,
    /// GTIN (01) or content GTIN (02).
    pub gtin: Option<String>,
    /// A material named on the label by the plant's own code (e.g. AI 240 on a WIP label).
    pub material: Option<MaterialId>,
    /// Count (30/37) or a measure (310n…), in the material's unit.
    pub quantity: Option<Quantity>,
    /// Use-by or best-before date (17 or 15).
    pub expiry: Option<NaiveDate>,
    /// Production date (11): with the material's shelf life it gives the expiry.
    pub produced: Option<NaiveDate>,
}

/// The operation the active work order runs here, with its bill of materials.
struct Operation<'a> {
    work_order: &'a WorkOrderId,
    step: &'a RoutingStep,
    lines: &'a [BomLine],
}

fn active_operation(state: &State) -> Option<Operation<'_>> {
    let work_order = state.active.as_ref()?;
    let order = state.master.work_orders.get(work_order)?;
    let step = state.master.step_at(&order.product, &state.station)?;
    let lines = state
        .master
        .bom(&order.product, &step.operation)
        .map_or(&[][..], |bom| bom.lines.as_slice());
    Some(Operation {
        work_order,
        step,
        lines,
    })
}

/// A material the active operation needs and has no usable lot for, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub material: MaterialId,
    pub why: String,
}

/// Every material of the active operation without a usable lot loaded at `now`: the permit waits
/// for these. Empty when the product has no routing step here (nothing to verify).
pub fn missing_materials(state: &State, now: DateTime<Utc>) -> Vec<Missing> {
    let Some(operation) = active_operation(state) else {
        return Vec::new();
    };
    let loaded = state
        .progress
        .get(operation.work_order)
        .map(|progress| &progress.loaded);
    operation
        .lines
        .iter()
        .filter_map(|line| {
            let why = match loaded.and_then(|loaded| loaded.get(&line.material)) {
                None => "no lot scanned".to_owned(),
                Some(id) => match state.lot(id) {
                    None => format!("lot {id} is unknown"),
                    // A bin drawn whole at its scan is "used up" by design: only a hold stops it.
                    Some(lot)
                        if matches!(
                            lot.status,
                            LotStatus::OnHold
                                | LotStatus::Quarantined
                                | LotStatus::Scrapped
                                | LotStatus::Returned
                        ) || (lot.status == LotStatus::Consumed
                            && line.consumption == Consumption::PerUnit) =>
                    {
                        format!("lot {id} is {}", lot.status.words())
                    }
                    Some(lot) if lot.expiry.is_some_and(|expiry| expiry < now.date_naive()) => {
                        format!("lot {id} has expired")
                    }
                    Some(lot)
                        if line.consumption == Consumption::PerUnit
                            && state.lot_remaining(&lot) < line.quantity_per_unit =>
                    {
                        format!("lot {id} is used up")
                    }
                    Some(_) => return None,
                },
            };
            Some(Missing {
                material: line.material.clone(),
                why,
            })
        })
        .collect()
}

/// The order material is scanned into: the active one.
fn order_for_material(state: &State) -> Result<(WorkOrderId, &super::state::Progress), Rejection> {
    let work_order = state.active.clone().ok_or(Rejection::NoWorkOrderForLot)?;
    let progress = state
        .progress
        .get(&work_order)
        .ok_or(Rejection::NoWorkOrderForLot)?;
    Ok((work_order, progress))
}

/// A scanned lot label while a work order is selected or running: the poka-yoke checks, then the
/// events that register (if new) and load the lot.
pub fn load_lot(
    state: &State,
    label: LotLabel,
    entry: Entry,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, Rejection> {
    let (work_order, progress) = order_for_material(state)?;
    if progress.status == ExecStatus::Completed {
        return Err(Rejection::AlreadyCompleted(work_order));
    }
    let order = state
        .master
        .work_orders
        .get(&work_order)
        .ok_or_else(|| Rejection::UnknownWorkOrder(work_order.clone()))?;
    let operation = active_operation(state).ok_or_else(|| Rejection::NoOperationHere {
        product: order.product.clone(),
        station: state.station.clone(),
    })?;
    let label_material = label_material(state, &label)?;
    let known = state.lot(&label.lot);
    let material = match (known.as_deref(), &label_material) {
        (Some(lot), Some(named)) if &lot.material != named => {
            return Err(Rejection::LotMaterialMismatch {
                lot: label.lot,
                registered: lot.material.clone(),
                label: named.clone(),
            });
        }
        (Some(lot), _) => lot.material.clone(),
        (None, Some(named)) => named.clone(),
        (None, None) => return Err(Rejection::UnknownLot(label.lot)),
    };
    let Some(line) = operation
        .lines
        .iter()
        .find(|line| line.material == material)
    else {
        return Err(Rejection::WrongMaterial {
            lot: label.lot,
            scanned: describe_material(state, &material),
            expected: expected_materials(state, &operation, &material),
            work_order,
            operation: operation.step.operation.clone(),
        });
    };
    if let Some(lot) = known.as_deref() {
        match lot.status {
            LotStatus::Released => {}
            LotStatus::OnHold
            | LotStatus::Quarantined
            | LotStatus::Scrapped
            | LotStatus::Returned => {
                return Err(Rejection::LotBlocked {
                    lot: label.lot,
                    status: lot.status,
                    reason: lot.status_reason.clone(),
                });
            }
            LotStatus::Consumed => return Err(Rejection::LotUsedUp(label.lot)),
        }
    }
    let today = now.date_naive();
    let shelf_life_expiry = state
        .master
        .materials
        .get(&material)
        .and_then(|m| m.shelf_life_days)
        .zip(label.produced)
        .and_then(|(days, produced)| produced.checked_add_days(Days::new(u64::from(days))));
    let expiry = [
        known.as_ref().and_then(|lot| lot.expiry),
        label.expiry,
        shelf_life_expiry,
    ]
    .into_iter()
    .flatten()
    .min();
    if let Some(expiry) = expiry
        && expiry < today
    {
        return Err(Rejection::LotExpired {
            lot: label.lot,
            expiry,
        });
    }
    let mut events = Vec::new();
    let event = |kind| NewEvent {
        at: now,
        actor: actor.clone(),
        kind,
    };
    match known.as_deref() {
        Some(lot) => {
            if state.lot_remaining(lot) < line.quantity_per_unit.max(Quantity::from_milli(1)) {
                return Err(Rejection::LotUsedUp(label.lot));
            }
        }
        None => {
            let quantity = label.quantity.filter(|q| q.is_positive()).ok_or_else(|| {
                Rejection::NewLotWithoutQuantity {
                    lot: label.lot.clone(),
                }
            })?;
            events.push(event(EventKind::LotRegistered {
                lot: label.lot.clone(),
                material: material.clone(),
                quantity,
                expiry,
                gtin: label.gtin.clone(),
            }));
        }
    }
    if progress.loaded.get(&material) == Some(&label.lot)
        && line.consumption == Consumption::PerUnit
    {
        return Err(Rejection::LotAlreadyLoaded {
            lot: label.lot,
            material,
        });
    }
    let whole_label = match line.consumption {
        Consumption::PerUnit => None,
        Consumption::PerScan => Some(
            label
                .quantity
                .or_else(|| known.as_ref().map(|lot| state.lot_remaining(lot)))
                .filter(|q| q.is_positive())
                .ok_or_else(|| Rejection::NewLotWithoutQuantity {
                    lot: label.lot.clone(),
                })?,
        ),
    };
    events.push(event(EventKind::LotLoaded {
        work_order: work_order.clone(),
        operation: operation.step.operation.clone(),
        material: material.clone(),
        lot: label.lot.clone(),
        entry,
    }));
    if let Some(quantity) = whole_label {
        events.push(event(EventKind::LotConsumed {
            work_order,
            operation: operation.step.operation.clone(),
            material,
            lot: label.lot,
            quantity,
            basis: ConsumptionBasis::Label,
        }));
    }
    Ok(events)
}

/// The material a label names, by GTIN or by the plant's own code; a GTIN nobody knows is refused.
fn label_material(state: &State, label: &LotLabel) -> Result<Option<MaterialId>, Rejection> {
    if let Some(gtin) = &label.gtin {
        return match state.master.material_by_gtin(gtin) {
            Some(material) => Ok(Some(material.id.clone())),
            None => Err(Rejection::UnknownGtin {
                gtin: gtin.clone(),
                lot: label.lot.clone(),
            }),
        };
    }
    Ok(label.material.clone())
}

fn describe_material(state: &State, material: &MaterialId) -> String {
    match state.master.materials.get(material) {
        Some(known) => format!("{material} ({})", known.name),
        None => material.to_string(),
    }
}

/// What the operator should have scanned instead of `scanned`. A material of the same family (the
/// code before the first dash: PST-48 for PST-54) is the likely mix-up; otherwise every material still
/// missing, or the whole bill.
fn expected_materials(state: &State, operation: &Operation<'_>, scanned: &MaterialId) -> String {
    let family = |id: &MaterialId| id.as_str().split('-').next().unwrap_or_default().to_owned();
    let same_family: Vec<&BomLine> = operation
        .lines
        .iter()
        .filter(|line| family(&line.material) == family(scanned))
        .collect();
    let loaded = state
        .progress
        .get(operation.work_order)
        .map(|progress| &progress.loaded);
    let missing: Vec<&BomLine> = operation
        .lines
        .iter()
        .filter(|line| !loaded.is_some_and(|loaded| loaded.contains_key(&line.material)))
        .collect();
    let choice = if !same_family.is_empty() {
        same_family
    } else if !missing.is_empty() {
        missing
    } else {
        operation.lines.iter().collect()
    };
    let names: Vec<String> = choice
        .iter()
        .map(|line| describe_material(state, &line.material))
        .collect();
    match names.as_slice() {
        [] => "no material (this operation has no bill of materials)".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// What units just made mean for material: each loaded lot gives up its BOM rate for every unit (good
/// or rejected: a scrapped caliper used its casting too), and good units become outputs — one serial
/// each, or a lot whenever a tote is full. `state` is the state before the units were applied.
pub fn after_units(
    state: &State,
    work_order: &WorkOrderId,
    produced: u64,
    rejected: u64,
    machine: Option<PackMlState>,
    now: DateTime<Utc>,
) -> Vec<NewEvent> {
    let mut events = Vec::new();
    let Some(order) = state.master.work_orders.get(work_order) else {
        return events;
    };
    let Some(step) = state.master.step_at(&order.product, &state.station) else {
        return events;
    };
    let Some(progress) = state.progress.get(work_order) else {
        return events;
    };
    let event = |kind| NewEvent {
        at: now,
        actor: Actor::Plc,
        kind,
    };
    if let Some(bom) = state.master.bom(&order.product, &step.operation) {
        for line in &bom.lines {
            if line.consumption != Consumption::PerUnit {
                continue;
            }
            let Some(lot) = progress.loaded.get(&line.material) else {
                continue;
            };
            let quantity = line.quantity_per_unit.times(produced);
            if quantity.is_positive() {
                events.push(event(EventKind::LotConsumed {
                    work_order: work_order.clone(),
                    operation: step.operation.clone(),
                    material: line.material.clone(),
                    lot: lot.clone(),
                    quantity,
                    basis: ConsumptionBasis::BomRate,
                }));
            }
        }
    }
    let mut pending = progress.open_output.units + produced.saturating_sub(rejected);
    let mut sizes: Vec<u64> = Vec::new();
    // The first article goes into a lot of its own, so an inspector can take and scan that one part.
    if pending > 0 && super::first_article::next_unit_is_first_article(state, work_order) {
        sizes.push(1);
        pending -= 1;
    }
    sizes.extend(match step.output {
        OutputKind::Serial => vec![1; usize::try_from(pending).unwrap_or(0)],
        OutputKind::Lot { size } if size > 0 => {
            vec![size; usize::try_from(pending / size).unwrap_or(0)]
        }
        OutputKind::Lot { .. } => Vec::new(),
    });
    events.extend(
        outputs(state, work_order, step, &sizes, machine, now)
            .into_iter()
            .map(|kind| NewEvent {
                at: now,
                actor: Actor::Plc,
                kind,
            }),
    );
    events
}

/// The partly filled tote of a work order, closed as a smaller lot when the order completes.
pub fn close_open_output(
    state: &State,
    work_order: &WorkOrderId,
    now: DateTime<Utc>,
) -> Vec<EventKind> {
    let Some(order) = state.master.work_orders.get(work_order) else {
        return Vec::new();
    };
    let Some(step) = state.master.step_at(&order.product, &state.station) else {
        return Vec::new();
    };
    let units = state
        .progress
        .get(work_order)
        .map_or(0, |progress| progress.open_output.units);
    match step.output {
        OutputKind::Lot { .. } if units > 0 => {
            outputs(state, work_order, step, &[units], None, now)
        }
        _ => Vec::new(),
    }
}

fn outputs(
    state: &State,
    work_order: &WorkOrderId,
    step: &RoutingStep,
    sizes: &[u64],
    machine: Option<PackMlState>,
    now: DateTime<Utc>,
) -> Vec<EventKind> {
    let Some(progress) = state.progress.get(work_order) else {
        return Vec::new();
    };
    let product = state
        .master
        .work_orders
        .get(work_order)
        .map(|order| &order.product);
    let next_operation = product
        .and_then(|product| state.master.routings.get(product))
        .and_then(|routing| routing.next_step(&step.operation))
        .map(|next| next.operation.clone());
    let operator = state.session.as_ref().map(|session| session.badge.clone());
    let mut inputs: Vec<LotId> = progress.open_output.inputs.iter().cloned().collect();
    sizes
        .iter()
        .enumerate()
        .map(|(index, &size)| {
            let kind = EventKind::OutputCreated {
                work_order: work_order.clone(),
                operation: step.operation.clone(),
                output: output_id(
                    &state.settings.output_id_pattern,
                    state,
                    work_order,
                    state.outputs_made + 1 + index as u64,
                    now,
                ),
                form: match step.output {
                    OutputKind::Serial => OutputForm::Serial,
                    OutputKind::Lot { .. } => OutputForm::Lot,
                },
                material: step.output_material.clone(),
                quantity: Quantity::units(size),
                inputs: inputs.clone(),
                operator: operator.clone(),
                next_operation: next_operation.clone(),
                machine_state: machine.map(PackMlState::words),
            };
            // After the first output only the lots still loaded feed the next one.
            inputs = progress.loaded.values().cloned().collect();
            inputs.sort();
            kind
        })
        .collect()
}

/// A quantity keyed on the scan line: drawn from the lot loaded last (extra grease, a dropped part).
pub fn consume_keyed(
    state: &State,
    quantity: Quantity,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<Vec<NewEvent>, Rejection> {
    let (work_order, progress) = order_for_material(state)?;
    let operation = active_operation(state).ok_or(Rejection::NothingLoaded)?;
    let material = progress
        .last_loaded
        .clone()
        .ok_or(Rejection::NothingLoaded)?;
    let lot = progress
        .loaded
        .get(&material)
        .cloned()
        .ok_or(Rejection::NothingLoaded)?;
    if !quantity.is_positive() {
        return Err(Rejection::QuantityNotPositive);
    }
    // A keyed draw is material going into the product: the same checks as a scan.
    let record = state
        .lot(&lot)
        .ok_or_else(|| Rejection::UnknownLot(lot.clone()))?;
    match record.status {
        LotStatus::OnHold | LotStatus::Quarantined | LotStatus::Scrapped | LotStatus::Returned => {
            return Err(Rejection::LotBlocked {
                lot,
                status: record.status,
                reason: record.status_reason.clone(),
            });
        }
        LotStatus::Released | LotStatus::Consumed => {}
    }
    let remaining = state.lot_remaining(&record);
    if quantity > remaining {
        return Err(Rejection::MoreThanRemains {
            lot,
            remaining,
            unit: state
                .master
                .materials
                .get(&material)
                .map(|m| m.unit.clone())
                .unwrap_or_default(),
        });
    }
    Ok(vec![NewEvent {
        at: now,
        actor,
        kind: EventKind::LotConsumed {
            work_order,
            operation: operation.step.operation.clone(),
            material,
            lot,
            quantity,
            basis: ConsumptionBasis::Keyed,
        },
    }])
}

/// The supplier lot a `LotRegistered` event makes known: released, as its label described it.
pub fn registered_lot(event: &super::event::Event) -> Option<super::master::Lot> {
    let EventKind::LotRegistered {
        lot,
        material,
        quantity,
        expiry,
        ..
    } = &event.kind
    else {
        return None;
    };
    Some(super::master::Lot {
        id: lot.clone(),
        material: material.clone(),
        quantity: *quantity,
        expiry: *expiry,
        status: LotStatus::Released,
        status_reason: None,
        origin: super::master::LotOrigin::Supplier,
        status_at: None,
        rework: None,
    })
}

/// The lot an `OutputCreated` event makes: released, made at the event's station and time. Station
/// and central record it from the same event, so they agree on what it is.
pub fn produced_lot(event: &super::event::Event) -> Option<super::master::Lot> {
    let EventKind::OutputCreated {
        work_order,
        operation,
        output,
        material,
        quantity,
        ..
    } = &event.kind
    else {
        return None;
    };
    Some(super::master::Lot {
        id: output.clone(),
        material: material.clone(),
        quantity: *quantity,
        expiry: None,
        status: LotStatus::Released,
        status_reason: None,
        origin: super::master::LotOrigin::Produced {
            station: event.station.clone(),
            work_order: work_order.clone(),
            operation: operation.clone(),
            at: event.at,
        },
        status_at: None,
        rework: None,
    })
}

/// The operation of the active work order here, for screens.
pub fn active_operation_id(state: &State) -> Option<OperationId> {
    active_operation(state).map(|operation| operation.step.operation.clone())
}

#[cfg(test)]
#[path = "material_tests.rs"]
mod tests;
