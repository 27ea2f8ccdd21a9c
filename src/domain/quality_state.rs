//! What this station's own inspections say over time, per inspection plan (product and operation):
//! the series of measured values of each variable characteristic (what its SPC chart is drawn
//! from), the AQL switching stage the plan's lots are inspected at, the latest inspections and the
//! latest SPC alerts. A projection of the log like any other: [`QualityBook::apply`] is the only
//! way it moves, so a replay rebuilds it.

use super::aql::{LotResult, LotVerdict, Severity, Stage, Switching};
use super::event::EventKind;
use super::ids::{LotId, OperationId, ProductId};
use super::inspection::{
    Characteristic, CharacteristicKind, Finding, InspectionPlan, InspectionVerdict, Sampling,
};
use super::master::MasterData;
use super::spc::{self, ImrChart, RuleSet, Signal, SpcError, SpecLimits, XbarRChart};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Inspections kept per characteristic series: enough for a chart that fills a wide screen and for
/// limits that settle, few enough that the projection stays small on disk.
pub const KEPT_POINTS: usize = 60;
/// Inspections and alerts kept per plan, for the screen and to tell a lot's first inspection from
/// a re-inspection after rework (only the first counts for switching).
pub const KEPT_INSPECTIONS: usize = 60;
pub const KEPT_ALERTS: usize = 10;
/// Plotted points a chart needs before a run rule may raise an alert: limits computed from fewer
/// swing so much that a rule firing on them says more about the arithmetic than the process.
pub const MIN_POINTS_FOR_ALERT: usize = 5;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityBook {
    pub plans: Vec<PlanQuality>,
}

// State is compared whole (replay tests), which needs `Eq`. Every number here was a finite reading
// (`inspection::assess` refuses anything else), so equality is an equivalence.
impl Eq for QualityBook {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanQuality {
    pub product: ProductId,
    pub operation: OperationId,
    /// Where the plan's lots stand in the AQL switching rules (ISO 2859-1 clause 9).
    pub switching: Switching,
    pub series: Vec<Series>,
    /// The latest inspections, oldest first.
    pub inspections: Vec<PastInspection>,
    /// The latest SPC alerts, oldest first.
    pub alerts: Vec<AlertRecord>,
}

/// One characteristic's values, one point per inspection, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub characteristic: String,
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub lot: LotId,
    pub at: DateTime<Utc>,
    /// In the characteristic's unit.
    pub values: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastInspection {
    pub lot: LotId,
    pub at: DateTime<Utc>,
    pub verdict: InspectionVerdict,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    pub at: DateTime<Utc>,
    pub characteristic: String,
    pub rule: String,
    pub words: String,
}

impl QualityBook {
    pub fn plan(&self, product: &ProductId, operation: &OperationId) -> Option<&PlanQuality> {
        self.plans
            .iter()
            .find(|plan| plan.product == *product && plan.operation == *operation)
    }

    fn plan_mut(&mut self, product: &ProductId, operation: &OperationId) -> &mut PlanQuality {
        let index = match self
            .plans
            .iter()
            .position(|plan| plan.product == *product && plan.operation == *operation)
        {
            Some(index) => index,
            None => {
                self.plans.push(PlanQuality {
                    product: product.clone(),
                    operation: operation.clone(),
                    switching: Switching::new(),
                    series: Vec::new(),
                    inspections: Vec::new(),
                    alerts: Vec::new(),
                });
                self.plans.len() - 1
            }
        };
        &mut self.plans[index]
    }

    /// The switching stage of a plan's next lot; normal before its first.
    pub fn stage(&self, product: &ProductId, operation: &OperationId) -> Stage {
        self.plan(product, operation)
            .map_or(Stage::Normal, |plan| plan.switching.stage())
    }

    /// How a recorded event changes the book. `master` gives the plan (units, sampling) as the
    /// event was decided against it.
    pub fn apply(&mut self, master: &MasterData, kind: &EventKind, at: DateTime<Utc>) {
        match kind {
            EventKind::InspectionRecorded {
                lot,
                product,
                operation,
                severity,
                lot_size,
                findings,
                defects,
                verdict,
                ..
            } => {
                let plan = master
                    .inspection_plans
                    .get(&(product.clone(), operation.clone()));
                let book = self.plan_mut(product, operation);
                let original = !book
                    .inspections
                    .iter()
                    .any(|past| past.lot == *lot && past.verdict != InspectionVerdict::Incomplete);
                if let Some(plan) = plan {
                    for (characteristic, values) in measured_values(plan, findings) {
                        book.push_point(&characteristic, lot, at, values);
                    }
                    // Switching follows lots on original inspection only: a re-inspection after
                    // rework says how the rework went, not how the process runs.
                    if let Some(sampling) = plan.aql.filter(|_| original)
                        && *verdict != InspectionVerdict::Incomplete
                    {
                        let nonconforming = defects
                            .iter()
                            .map(|found| found.quantity)
                            .chain(findings.iter().filter(|f| !f.conforms).map(|_| 1))
                            .fold(0u32, u32::saturating_add);
                        let accept = sampling
                            .plans(*lot_size, *severity)
                            .ok()
                            .and_then(|plans| plans.values().map(|p| p.accept).min())
                            .unwrap_or(0);
                        book.switching.record(LotResult {
                            verdict: match verdict {
                                InspectionVerdict::Reject => LotVerdict::Reject,
                                _ => LotVerdict::Accept,
                            },
                            nonconforming,
                            accept,
                            // Reduced inspection needs steady production and the authority's
                            // approval, neither of which the station knows: it stays on normal.
                            reduced_permitted: false,
                        });
                    }
                }
                book.inspections.push(PastInspection {
                    lot: lot.clone(),
                    at,
                    verdict: *verdict,
                    severity: *severity,
                });
                trim(&mut book.inspections, KEPT_INSPECTIONS);
            }
            EventKind::QualityAlert {
                product,
                operation,
                characteristic,
                rule,
                words,
                ..
            } => {
                let book = self.plan_mut(product, operation);
                book.alerts.push(AlertRecord {
                    at,
                    characteristic: characteristic.clone(),
                    rule: rule.clone(),
                    words: words.clone(),
                });
                trim(&mut book.alerts, KEPT_ALERTS);
            }
            EventKind::InspectionResumed {
                product, operation, ..
            } => {
                self.plan_mut(product, operation).switching.resume();
            }
            _ => {}
        }
    }
}

impl PlanQuality {
    pub fn series(&self, characteristic: &str) -> Option<&Series> {
        self.series
            .iter()
            .find(|series| series.characteristic.eq_ignore_ascii_case(characteristic))
    }

    fn push_point(
        &mut self,
        characteristic: &str,
        lot: &LotId,
        at: DateTime<Utc>,
        values: Vec<f64>,
    ) {
        let index = match self
            .series
            .iter()
            .position(|series| series.characteristic == characteristic)
        {
            Some(index) => index,
            None => {
                self.series.push(Series {
                    characteristic: characteristic.to_owned(),
                    points: Vec::new(),
                });
                self.series.len() - 1
            }
        };
        let points = &mut self.series[index].points;
        points.push(SeriesPoint {
            lot: lot.clone(),
            at,
            values,
        });
        trim(points, KEPT_POINTS);
    }
}

fn trim<T>(items: &mut Vec<T>, keep: usize) {
    if items.len() > keep {
        items.drain(..items.len() - keep);
    }
}

/// The numbers an inspection found for each variable characteristic of the plan, in the
/// characteristic's unit, in the order they were keyed. Findings are kept as keyed ("54.012 mm",
/// "54012 um"); one that does not read as a number in a convertible unit is left out.
pub fn measured_values(plan: &InspectionPlan, findings: &[Finding]) -> Vec<(String, Vec<f64>)> {
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for finding in findings {
        let Some(characteristic) = plan.characteristic(&finding.characteristic) else {
            continue;
        };
        let CharacteristicKind::Variable { unit, .. } = &characteristic.kind else {
            continue;
        };
        let mut words = finding.value.split_whitespace();
        let Some(value) = words.next().and_then(|number| number.parse::<f64>().ok()) else {
            continue;
        };
        let given = words.next().unwrap_or("");
        let Some(value) = super::inspection::in_unit(value, given, unit).filter(|v| v.is_finite())
        else {
            continue;
        };
        match out.iter_mut().find(|(id, _)| *id == characteristic.id) {
            Some((_, values)) => values.push(value),
            None => out.push((characteristic.id.clone(), vec![value])),
        }
    }
    out
}

/// A characteristic's control chart: X̄-R when its plan measures subgroups, I-MR otherwise.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    XbarR(XbarRChart),
    Imr(ImrChart),
}

impl Chart {
    /// The plotted points (subgroup means, or the values).
    pub fn points(&self) -> &[f64] {
        match self {
            Chart::XbarR(chart) => &chart.means,
            Chart::Imr(chart) => &chart.values,
        }
    }

    pub fn limits(&self) -> &spc::ControlLimits {
        match self {
            Chart::XbarR(chart) => &chart.xbar,
            Chart::Imr(chart) => &chart.individuals,
        }
    }

    pub fn signals(&self, rules: RuleSet) -> Vec<Signal> {
        match self {
            Chart::XbarR(chart) => chart.signals(rules),
            Chart::Imr(chart) => chart.signals(rules),
        }
    }

    pub fn capability(&self, spec: &SpecLimits) -> spc::Capability {
        match self {
            Chart::XbarR(chart) => spc::capability_from_xbar_r(chart, spec),
            Chart::Imr(chart) => spc::capability_from_individuals(chart, spec),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Chart::XbarR(_) => "X̄-R",
            Chart::Imr(_) => "I-MR",
        }
    }
}

/// The subgroup size a characteristic is charted with; none: individuals.
pub fn subgroup_size(characteristic: &Characteristic) -> Option<usize> {
    match &characteristic.kind {
        CharacteristicKind::Variable {
            subgroup: Some(size),
            ..
        } if *size >= 2 => usize::try_from(*size).ok(),
        _ => None,
    }
}

/// The plotted points of a series: with subgroups, each inspection's values cut into whole
/// subgroups (a remainder short of a subgroup is left out); without, every value.
pub fn chart_input(characteristic: &Characteristic, points: &[SeriesPoint]) -> ChartInput {
    match subgroup_size(characteristic) {
        Some(size) => ChartInput::Subgroups(
            points
                .iter()
                .flat_map(|point| point.values.chunks_exact(size).map(<[f64]>::to_vec))
                .collect(),
        ),
        None => ChartInput::Values(
            points
                .iter()
                .flat_map(|point| point.values.iter().copied())
                .collect(),
        ),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChartInput {
    Subgroups(Vec<Vec<f64>>),
    Values(Vec<f64>),
}

impl ChartInput {
    pub fn len(&self) -> usize {
        match self {
            ChartInput::Subgroups(subgroups) => subgroups.len(),
            ChartInput::Values(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn chart(&self) -> Result<Chart, SpcError> {
        match self {
            ChartInput::Subgroups(subgroups) => {
                XbarRChart::from_subgroups(subgroups).map(Chart::XbarR)
            }
            ChartInput::Values(values) => ImrChart::from_values(values).map(Chart::Imr),
        }
    }

    /// The plotted points: subgroup means, or the values.
    pub fn points(&self) -> Vec<f64> {
        match self {
            ChartInput::Subgroups(subgroups) => subgroups
                .iter()
                .map(|subgroup| subgroup.iter().sum::<f64>() / subgroup.len().max(1) as f64)
                .collect(),
            ChartInput::Values(values) => values.clone(),
        }
    }

    fn without(&self, left_out: &[usize]) -> ChartInput {
        let keep = |index: &usize| !left_out.contains(index);
        match self {
            ChartInput::Subgroups(subgroups) => ChartInput::Subgroups(
                subgroups
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| keep(index))
                    .map(|(_, subgroup)| subgroup.clone())
                    .collect(),
            ),
            ChartInput::Values(values) => ChartInput::Values(
                values
                    .iter()
                    .enumerate()
                    .filter(|(index, _)| keep(index))
                    .map(|(_, value)| *value)
                    .collect(),
            ),
        }
    }
}

/// A series judged for statistical control.
#[derive(Debug, Clone, PartialEq)]
pub struct Controlled {
    /// The chart the limits and capability come from.
    pub chart: Chart,
    /// Every plotted point, oldest first.
    pub points: Vec<f64>,
    /// Points left out of the limits for lying beyond them.
    pub left_out: Vec<usize>,
    /// Every rule broken, judged against the chart's limits.
    pub signals: Vec<Signal>,
}

/// The chart of a series with its limits revised once: points beyond the first limits are left
/// out of them (one wild subgroup must not widen the limits that judge the next ones, nor move the
/// centre so that good parts after it look shifted), then every point is judged against them.
pub fn control(input: &ChartInput, rules: RuleSet) -> Result<Controlled, SpcError> {
    let first = input.chart()?;
    let points = input.points();
    let limits = *first.limits();
    let left_out: Vec<usize> = points
        .iter()
        .enumerate()
        .filter(|(_, point)| **point > limits.ucl() || **point < limits.lcl())
        .map(|(index, _)| index)
        .collect();
    let chart = match input.without(&left_out).chart() {
        Ok(revised) if !left_out.is_empty() => revised,
        _ => first,
    };
    let signals = chart.limits().evaluate(&points, rules)?;
    Ok(Controlled {
        chart,
        points,
        left_out,
        signals,
    })
}

/// The chart of a characteristic from its series.
pub fn chart(characteristic: &Characteristic, points: &[SeriesPoint]) -> Result<Chart, SpcError> {
    chart_input(characteristic, points).chart()
}

/// The specification limits of a variable characteristic.
pub fn spec_limits(characteristic: &Characteristic) -> Option<SpecLimits> {
    match &characteristic.kind {
        CharacteristicKind::Variable { lower, upper, .. } => SpecLimits::new(*lower, *upper).ok(),
        CharacteristicKind::Attribute => None,
    }
}

/// A run rule that a new inspection's values make a chart break.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSignal {
    pub characteristic: String,
    pub signal: Signal,
    /// The values of the points that make the pattern, as plotted.
    pub values: Vec<f64>,
}

/// The signals an inspection's findings would raise: for each variable characteristic of the plan,
/// the chart with the new values added, and each rule that fires at one of the new points. A rule
/// firing only on points already charted was alerted when those came in (or before there were
/// enough points to trust the limits), so it is not raised again; one alert per rule and
/// characteristic per inspection.
pub fn new_signals(
    plan: &InspectionPlan,
    history: Option<&PlanQuality>,
    findings: &[Finding],
    rules: RuleSet,
) -> Vec<NewSignal> {
    let mut out = Vec::new();
    for (id, values) in measured_values(plan, findings) {
        let Some(characteristic) = plan.characteristic(&id) else {
            continue;
        };
        let mut points: Vec<SeriesPoint> = history
            .and_then(|history| history.series(&id))
            .map(|series| series.points.clone())
            .unwrap_or_default();
        // The chart as it will be once recorded: the oldest point leaves when the series is full.
        trim(&mut points, KEPT_POINTS - 1);
        let first_new = chart_input(characteristic, &points).len();
        points.push(SeriesPoint {
            lot: LotId::from(""),
            at: DateTime::<Utc>::UNIX_EPOCH,
            values,
        });
        let input = chart_input(characteristic, &points);
        if input.len() < MIN_POINTS_FOR_ALERT || first_new >= input.len() {
            continue;
        }
        let Ok(controlled) = control(&input, rules) else {
            continue;
        };
        let mut seen = Vec::new();
        for signal in controlled.signals {
            if signal.at < first_new || seen.contains(&signal.rule) {
                continue;
            }
            seen.push(signal.rule);
            let values = signal
                .points
                .iter()
                .filter_map(|index| controlled.points.get(*index).copied())
                .collect();
            out.push(NewSignal {
                characteristic: characteristic.id.clone(),
                signal,
                values,
            });
        }
    }
    out
}

/// Whether a plan samples lots by AQL, where the switching stage applies.
pub fn switching_applies(plan: &InspectionPlan) -> bool {
    plan.aql.is_some()
        && plan
            .characteristics
            .iter()
            .any(|characteristic| characteristic.sampling == Sampling::Aql)
}

/// The severity a plan's next lot is inspected at; none when inspection is discontinued.
pub fn severity(book: &QualityBook, plan: &InspectionPlan) -> Option<Severity> {
    if plan.aql.is_none() {
        return Some(Severity::Normal);
    }
    book.stage(&plan.product, &plan.operation).severity()
}

/// What the Inspect screen needs to check entries against and show, for one lot: its plan, the
/// defect catalog, the stage its plan is inspected at, and the plan's history here.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectionContext {
    pub lot: LotId,
    pub product: ProductId,
    pub operation: OperationId,
    pub lot_size: u32,
    /// The lot's hold, in words, if it is held.
    pub hold: Option<String>,
    pub plan: InspectionPlan,
    pub catalog: std::collections::BTreeMap<String, super::master::Code>,
    pub stage: Stage,
    /// None: inspection of the plan is discontinued.
    pub severity: Option<Severity>,
    pub history: Option<PlanQuality>,
    pub rules: RuleSet,
}

impl InspectionContext {
    /// How many inspections of this lot the station has recorded (of those it keeps).
    pub fn recorded(&self) -> usize {
        self.history.as_ref().map_or(0, |history| {
            history
                .inspections
                .iter()
                .filter(|past| past.lot == self.lot)
                .count()
        })
    }
}

/// The context of an inspection of `lot` at this station, or why there can be none, in words.
pub fn context(state: &super::state::State, lot: &LotId) -> Result<InspectionContext, String> {
    use super::master::{LotOrigin, LotStatus};
    let known = state
        .lot(lot)
        .ok_or_else(|| format!("Lot {lot} is not known at this station."))?;
    let LotOrigin::Produced {
        work_order,
        operation,
        ..
    } = &known.origin
    else {
        return Err(format!(
            "Lot {lot} came from a supplier: there is no inspection plan for it here."
        ));
    };
    let product = state
        .master
        .work_orders
        .get(work_order)
        .map(|order| order.product.clone())
        .ok_or_else(|| format!("The work order {work_order} of lot {lot} is not known here."))?;
    let plan = state
        .master
        .inspection_plans
        .get(&(product.clone(), operation.clone()))
        .ok_or_else(|| format!("There is no inspection plan for {product} at {operation}."))?;
    let history = state.quality.plan(&product, operation).cloned();
    let stage = history
        .as_ref()
        .map_or(Stage::Normal, |history| history.switching.stage());
    Ok(InspectionContext {
        lot: lot.clone(),
        product,
        operation: operation.clone(),
        lot_size: u32::try_from(known.quantity.milli().max(0) / 1000)
            .unwrap_or(u32::MAX)
            .max(1),
        hold: (known.status == LotStatus::OnHold).then(|| {
            known
                .status_reason
                .clone()
                .unwrap_or_else(|| "on hold".into())
        }),
        severity: severity(&state.quality, plan),
        stage,
        plan: plan.clone(),
        catalog: state.master.codes.clone(),
        history,
        rules: state.settings.spc_rules,
    })
}

#[cfg(test)]
#[path = "quality_state_tests.rs"]
mod tests;

/// Resumes the discontinued inspection of `product` at `operation` (ISO 2859-1 9.4: after the
/// corrective action is accepted, on tightened), with why. Refused, in words, for a plan that is not
/// discontinued or without a reason.
pub fn resume(
    state: &super::state::State,
    actor: super::event::Actor,
    now: DateTime<Utc>,
    product: ProductId,
    operation: OperationId,
    reason: &str,
) -> Result<super::event::NewEvent, String> {
    if !state
        .master
        .inspection_plans
        .contains_key(&(product.clone(), operation.clone()))
    {
        return Err(format!(
            "there is no inspection plan for {product} at {operation}"
        ));
    }
    let stage = state.quality.stage(&product, &operation);
    if stage != Stage::Discontinued {
        return Err(format!(
            "inspection of {product} at {operation} is not discontinued (it is on {}): nothing to resume",
            stage.words()
        ));
    }
    if reason.trim().is_empty() {
        return Err("say which corrective action was accepted".into());
    }
    Ok(super::event::NewEvent {
        at: now,
        actor,
        kind: EventKind::InspectionResumed {
            product,
            operation,
            reason: reason.trim().to_owned(),
        },
    })
}
