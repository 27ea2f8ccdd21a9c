//! Inspection plans and what an inspection's findings decide.
//!
//! A plan belongs to a product and an operation and lists characteristics: attributes (pass/fail) and
//! variables (a measured value against its specification, in a unit, with a gauge). Each has a
//! sampling rule. Findings are checked before anything is decided: a value for a characteristic the
//! plan does not have, a number in the wrong unit or far outside anything the gauge could read, an
//! unknown defect code: each is refused in words and nothing counts. The verdict then follows from the
//! plan alone: a critical defect always rejects; with AQL sampling each defect class is judged by its
//! own plan (ISO 2859-1 keeps a plan per class); otherwise any nonconformity rejects.

use super::aql::{self, Aql, InspectionLevel, SamplingPlan, Severity};
use super::ids::{OperationId, ProductId};
use super::master::{Code, CodeKind, DefectClass};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many times the tolerance a keyed value may stray from nominal before it is taken for a typing
/// slip (a decimal point in the wrong place) rather than a bad part.
const PLAUSIBLE_TOLERANCES: f64 = 10.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectionPlan {
    pub product: ProductId,
    pub operation: OperationId,
    pub characteristics: Vec<Characteristic>,
    /// Attribute sampling of a lot by defect class; none: every inspected unit must conform.
    #[serde(default)]
    pub aql: Option<AqlSampling>,
    /// Production of a work order (and the PLC's permit) waits until its first article passes.
    #[serde(default)]
    pub first_article_gates: bool,
}

// Master data is compared whole (versions, sync tests), which needs `Eq`. A plan's numbers are spec
// limits read from master data, never NaN (import refuses them), so equality is an equivalence.
impl Eq for InspectionPlan {}

impl InspectionPlan {
    pub fn characteristic(&self, id: &str) -> Option<&Characteristic> {
        self.characteristics
            .iter()
            .find(|candidate| candidate.id.eq_ignore_ascii_case(id.trim()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Characteristic {
    /// Short id an inspector keys or scans (e.g. `BORE`).
    pub id: String,
    pub name: String,
    pub kind: CharacteristicKind,
    pub sampling: Sampling,
    /// The class of a nonconformity of this characteristic.
    pub class: DefectClass,
    /// The PLC process value that measures it, where the register map names one.
    #[serde(default)]
    pub plc_value: Option<String>,
}

impl Characteristic {
    /// Whether the `unit`-th unit of a work order (1-based) is measured for this characteristic: a
    /// subgroup of k measured every N units takes the first k of each N.
    pub fn due(&self, unit: u64) -> bool {
        match (self.sampling, &self.kind) {
            (
                Sampling::EveryNth { n },
                CharacteristicKind::Variable {
                    subgroup: Some(size),
                    ..
                },
            ) if n > 0 && unit > 0 => (unit - 1) % u64::from(n) < u64::from(*size),
            (sampling, _) => sampling.due(unit),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CharacteristicKind {
    Attribute,
    Variable {
        nominal: f64,
        lower: Option<f64>,
        upper: Option<f64>,
        unit: String,
        #[serde(default)]
        gauge: Option<String>,
        /// Subgroup size for an X̄-R chart; none: individuals (I-MR).
        #[serde(default)]
        subgroup: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Sampling {
    EveryUnit,
    EveryNth {
        n: u32,
    },
    FirstPiece,
    /// The lot's AQL sample (the plan's [`AqlSampling`]).
    Aql,
}

impl Sampling {
    /// Whether the `unit`-th unit of a work order (1-based) is to be inspected. AQL samples are drawn
    /// from the finished lot, not unit by unit.
    pub fn due(self, unit: u64) -> bool {
        match self {
            Sampling::EveryUnit => true,
            Sampling::EveryNth { n } => n > 0 && unit.is_multiple_of(u64::from(n)),
            Sampling::FirstPiece => unit == 1,
            Sampling::Aql => false,
        }
    }
}

/// Lot sampling by attributes: a level and an AQL per class. Critical defects are never accepted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AqlSampling {
    pub level: InspectionLevel,
    pub major: Aql,
    pub minor: Aql,
}

impl AqlSampling {
    /// The plan per sampled class for a lot. Classes with different AQLs can lead to different
    /// samples; then one sample is drawn at the letter of the largest and each class is judged by its
    /// plan at that letter (ISO 2859-1 10.1), so counts and acceptance numbers refer to the same units.
    pub fn plans(
        &self,
        lot_size: u32,
        severity: Severity,
    ) -> Result<BTreeMap<DefectClass, SamplingPlan>, aql::AqlError> {
        let classes = [
            (DefectClass::Major, self.major),
            (DefectClass::Minor, self.minor),
        ];
        let table_letter = aql::code_letter(lot_size, self.level)?;
        let mut letter = table_letter;
        let mut plans = BTreeMap::new();
        // Each pass can only move to a larger sample, so this settles within the table's height.
        for _ in 0..20 {
            plans = classes
                .iter()
                .map(|(class, aql)| {
                    let mut plan =
                        aql::plan_from_letter(lot_size, self.level, *aql, severity, letter);
                    plan.table_letter = table_letter;
                    (*class, plan)
                })
                .collect();
            let largest = plans
                .values()
                .max_by_key(|plan| plan.sample_size)
                .map_or(letter, |plan| plan.code_letter);
            if plans.values().all(|plan| plan.code_letter == largest) || largest == letter {
                break;
            }
            letter = largest;
        }
        Ok(plans)
    }
}

/// One finding for a characteristic of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub characteristic: String,
    pub value: MeasuredValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MeasuredValue {
    Pass,
    Fail,
    Number { value: f64, unit: String },
}

/// A defect code scanned from the catalog, with how many and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefectFound {
    pub code: String,
    pub quantity: u32,
    #[serde(default)]
    pub location: Option<String>,
}

/// A finding as the log keeps it: the value as keyed or read (`54.012 mm`, `pass`), so the record
/// shows the exact figure, and whether it conformed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub characteristic: String,
    pub value: String,
    pub conforms: bool,
}

/// The verdict as the log keeps it; the reasons travel beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InspectionVerdict {
    Accept,
    Reject,
    Incomplete,
}

impl InspectionVerdict {
    pub fn words(self) -> &'static str {
        match self {
            InspectionVerdict::Accept => "accepted",
            InspectionVerdict::Reject => "rejected",
            InspectionVerdict::Incomplete => "incomplete",
        }
    }
}

/// Reads a finding as an inspector keys it: `pass`/`ok`, `fail`/`ng`, or a number with an optional
/// unit (`54.012`, `54.012 mm`, `54012um`). A number without a unit is in the characteristic's unit.
pub fn parse_value(
    plan: &InspectionPlan,
    characteristic: &str,
    text: &str,
) -> Result<MeasuredValue, InspectionRefusal> {
    let text = text.trim();
    match text.to_ascii_lowercase().as_str() {
        "pass" | "ok" | "p" => return Ok(MeasuredValue::Pass),
        "fail" | "ng" | "f" => return Ok(MeasuredValue::Fail),
        _ => {}
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| InspectionRefusal::NotAValue {
            id: characteristic.trim().to_owned(),
            text: text.to_owned(),
        })?;
    let unit = match unit.trim() {
        "" => match plan.characteristic(characteristic).map(|c| &c.kind) {
            Some(CharacteristicKind::Variable { unit, .. }) => unit.clone(),
            _ => String::new(),
        },
        given => given.to_owned(),
    };
    Ok(MeasuredValue::Number { value, unit })
}

impl Assessment {
    /// The findings and verdict as the log keeps them.
    pub fn recorded(&self) -> (Vec<Finding>, InspectionVerdict, Vec<String>) {
        let findings = self
            .judged
            .iter()
            .map(|judged| Finding {
                characteristic: judged.characteristic.clone(),
                value: value_words(&judged.value),
                conforms: judged.conforms,
            })
            .collect();
        let (verdict, reasons) = match &self.verdict {
            Verdict::Accept => (InspectionVerdict::Accept, Vec::new()),
            Verdict::Reject { reasons } => (InspectionVerdict::Reject, reasons.clone()),
            Verdict::Incomplete { inspected, needed } => (
                InspectionVerdict::Incomplete,
                vec![format!("{inspected} of {needed} units inspected")],
            ),
        };
        (findings, verdict, reasons)
    }
}

/// What is inspected: a lot (by AQL sample) or single units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Units in the lot; 1 for a serial.
    pub lot_size: u32,
    /// Units inspected so far.
    pub inspected: u32,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InspectionRefusal {
    #[error("{0} is not a characteristic of this inspection plan")]
    NotInPlan(String),
    #[error("{id} is measured in {expected}, not {given}")]
    WrongUnit {
        id: String,
        expected: String,
        given: String,
    },
    #[error(
        "{id} = {value} {unit} cannot be a reading (nominal {nominal} {unit}); check the number"
    )]
    Implausible {
        id: String,
        value: f64,
        nominal: f64,
        unit: String,
    },
    #[error("{id} is measured: key its value, not pass or fail")]
    NeedsValue { id: String },
    #[error("{id}: {text:?} is not a value; key a number (with its unit) or pass / fail")]
    NotAValue { id: String, text: String },
    #[error("{id} is pass or fail, not a number")]
    NeedsPassFail { id: String },
    #[error("{0} is not in the defect catalog")]
    UnknownDefect(String),
    #[error("{0} is a downtime reason, not a defect")]
    NotADefect(String),
    #[error("a defect needs a quantity of at least 1")]
    ZeroQuantity,
    #[error("a quantity of {0} makes more defects than can be counted; check the quantities")]
    TooMany(u32),
    #[error("an inspection needs a lot of at least 1 unit")]
    EmptyLot,
    #[error("the sample has {inspected} units but the lot only {lot_size}")]
    SampleLargerThanLot { inspected: u32, lot_size: u32 },
    #[error("the sampling plan cannot be set: {0}")]
    Sampling(#[from] aql::AqlError),
}

/// A characteristic's finding, judged against its specification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judged {
    pub characteristic: String,
    pub value: MeasuredValue,
    pub conforms: bool,
    pub class: DefectClass,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Accept,
    /// Enough is known to reject: the reasons in words.
    Reject {
        reasons: Vec<String>,
    },
    /// Nothing rejects yet, but the sample is not complete.
    Incomplete {
        inspected: u32,
        needed: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub judged: Vec<Judged>,
    /// What each class's plan decides for the lot (feeds the plan's switching rules).
    pub lot_verdicts: BTreeMap<DefectClass, aql::LotVerdict>,
    /// Nonconformities found per class: defects scanned plus characteristics out of specification.
    pub nonconforming: BTreeMap<DefectClass, u32>,
    /// The sampling plan per class where the plan samples by AQL.
    pub plans: BTreeMap<DefectClass, SamplingPlan>,
    pub verdict: Verdict,
}

/// Checks the findings against the plan and the catalog, then decides.
pub fn assess(
    plan: &InspectionPlan,
    catalog: &BTreeMap<String, Code>,
    sample: Sample,
    measurements: &[Measurement],
    defects: &[DefectFound],
) -> Result<Assessment, InspectionRefusal> {
    if sample.lot_size == 0 {
        return Err(InspectionRefusal::EmptyLot);
    }
    if sample.inspected > sample.lot_size {
        return Err(InspectionRefusal::SampleLargerThanLot {
            inspected: sample.inspected,
            lot_size: sample.lot_size,
        });
    }
    let judged = measurements
        .iter()
        .map(|measurement| judge(plan, measurement))
        .collect::<Result<Vec<_>, _>>()?;
    let mut nonconforming: BTreeMap<DefectClass, u32> = BTreeMap::new();
    let mut add = |class: DefectClass, quantity: u32| {
        let count = nonconforming.entry(class).or_default();
        *count = count
            .checked_add(quantity)
            .ok_or(InspectionRefusal::TooMany(quantity))?;
        Ok::<(), InspectionRefusal>(())
    };
    let mut reasons = Vec::new();
    for found in defects {
        let code = catalog
            .get(&found.code)
            .ok_or_else(|| InspectionRefusal::UnknownDefect(found.code.clone()))?;
        let CodeKind::Defect { class } = code.kind else {
            return Err(InspectionRefusal::NotADefect(found.code.clone()));
        };
        if found.quantity == 0 {
            return Err(InspectionRefusal::ZeroQuantity);
        }
        add(class, found.quantity)?;
        if class == DefectClass::Critical {
            reasons.push(format!(
                "critical defect {} {} ({})",
                code.code, code.text, found.quantity
            ));
        }
    }
    let by_aql = plan.aql.is_some();
    for result in judged.iter().filter(|result| !result.conforms) {
        let sampled_by_aql = by_aql
            && plan
                .characteristic(&result.characteristic)
                .is_some_and(|characteristic| characteristic.sampling == Sampling::Aql);
        if sampled_by_aql && result.class != DefectClass::Critical {
            add(result.class, 1)?;
        } else {
            // Checked unit by unit (or critical): one nonconforming finding rejects.
            reasons.push(format!(
                "{} {} {} out of specification",
                class_words(result.class),
                result.characteristic,
                value_words(&result.value)
            ));
        }
    }

    let plans = match &plan.aql {
        Some(sampling) => sampling.plans(sample.lot_size, sample.severity)?,
        None => BTreeMap::new(),
    };
    if plans.is_empty() {
        for (class, count) in &nonconforming {
            if *class != DefectClass::Critical && *count > 0 {
                reasons.push(format!(
                    "{count} {} nonconformit{}",
                    class_words(*class),
                    plural_y(*count)
                ));
            }
        }
    }
    let mut lot_verdicts = BTreeMap::new();
    for (class, sampling_plan) in &plans {
        let count = nonconforming.get(class).copied().unwrap_or(0);
        let lot_verdict = sampling_plan.verdict(count);
        if lot_verdict == aql::LotVerdict::Reject {
            reasons.push(format!(
                "{count} {} nonconforming, the plan rejects at {} (n = {}, AQL {})",
                class_words(*class),
                sampling_plan.reject,
                sampling_plan.sample_size,
                sampling_plan.aql
            ));
        }
        lot_verdicts.insert(*class, lot_verdict);
    }
    let needed = plans
        .values()
        .map(|sampling_plan| sampling_plan.sample_size)
        .max()
        .unwrap_or(1)
        .min(sample.lot_size);
    let verdict = if !reasons.is_empty() {
        Verdict::Reject { reasons }
    } else if sample.inspected < needed {
        Verdict::Incomplete {
            inspected: sample.inspected,
            needed,
        }
    } else {
        Verdict::Accept
    };
    Ok(Assessment {
        judged,
        lot_verdicts,
        nonconforming,
        plans,
        verdict,
    })
}

fn value_words(value: &MeasuredValue) -> String {
    match value {
        MeasuredValue::Pass => "pass".into(),
        MeasuredValue::Fail => "fail".into(),
        MeasuredValue::Number { value, unit } => format!("{value} {unit}"),
    }
}

/// Records an inspection of `lot` at this station: the plan is the one of the lot's product and the
/// operation that made it. A reject holds the lot at once, in the same append, so no station can
/// consume, move or complete it.
pub fn record(
    state: &super::state::State,
    actor: super::event::Actor,
    now: chrono::DateTime<chrono::Utc>,
    lot: super::ids::LotId,
    inspected: u32,
    findings: &[(String, String)],
    defects: Vec<DefectFound>,
) -> Result<Vec<super::event::NewEvent>, super::rejection::Rejection> {
    use super::event::{EventKind, NewEvent};
    use super::master::{LotOrigin, LotStatus};
    use super::rejection::Rejection;
    let known = state
        .lot(&lot)
        .ok_or_else(|| Rejection::UnknownLot(lot.clone()))?;
    let no_plan = |why: String| Rejection::NoInspectionPlan {
        lot: lot.clone(),
        why,
    };
    let LotOrigin::Produced {
        work_order,
        operation,
        ..
    } = &known.origin
    else {
        return Err(no_plan("it came from a supplier".into()));
    };
    let product = state
        .master
        .work_orders
        .get(work_order)
        .map(|order| order.product.clone())
        .ok_or_else(|| no_plan(format!("its work order {work_order} is not known here")))?;
    let plan = state
        .master
        .inspection_plans
        .get(&(product.clone(), operation.clone()))
        .ok_or_else(|| no_plan(format!("none for {product} at {operation}")))?;
    let refused = |refusal: InspectionRefusal| Rejection::InspectionRefused(refusal.to_string());
    let measurements = findings
        .iter()
        .map(|(characteristic, text)| {
            Ok(Measurement {
                characteristic: characteristic.clone(),
                value: parse_value(plan, characteristic, text)?,
            })
        })
        .collect::<Result<Vec<_>, InspectionRefusal>>()
        .map_err(refused)?;
    let lot_size = u32::try_from(known.quantity.milli().max(0) / 1000)
        .unwrap_or(u32::MAX)
        .max(1);
    // The plan's lots are inspected at the stage its history of lots here has reached (ISO 2859-1
    // switching rules). Discontinued: no lot is accepted by sampling until quality resumes it.
    let Some(severity) = super::quality_state::severity(&state.quality, plan) else {
        return Err(Rejection::InspectionRefused(
            "inspection discontinued after 5 lots on tightened: an inspector resumes it on the Inspect screen (Shift+F5, signed) once the corrective action is accepted".into(),
        ));
    };
    let sample = Sample {
        lot_size,
        inspected,
        severity,
    };
    let assessment =
        assess(plan, &state.master.codes, sample, &measurements, &defects).map_err(refused)?;
    let (findings, verdict, reasons) = assessment.recorded();
    let event = |kind| NewEvent {
        at: now,
        actor: actor.clone(),
        kind,
    };
    let signals = super::quality_state::new_signals(
        plan,
        state.quality.plan(&product, operation),
        &findings,
        state.settings.spc_rules,
    );
    let mut events = vec![event(EventKind::InspectionRecorded {
        lot: lot.clone(),
        product: product.clone(),
        operation: operation.clone(),
        severity,
        lot_size,
        inspected,
        findings,
        defects,
        verdict,
        reasons: reasons.clone(),
    })];
    if verdict == InspectionVerdict::Reject && known.status != LotStatus::OnHold {
        events.push(event(EventKind::LotHeld {
            lot,
            reason: format!("failed inspection: {}", reasons.join("; ")),
        }));
    }
    // A chart out of control is a fact about the process, recorded with the inspection that showed
    // it, and a call for quality at the line (unless a call is already open: it is answered first).
    for found in &signals {
        events.push(event(EventKind::QualityAlert {
            product: product.clone(),
            operation: operation.clone(),
            characteristic: found.characteristic.clone(),
            rule: found.signal.rule.code().to_owned(),
            words: found.signal.rule.describe().to_owned(),
            points: found
                .values
                .iter()
                .map(|value| format!("{value:.4}"))
                .collect(),
        }));
    }
    if !signals.is_empty() && state.andon.is_none() {
        events.push(event(EventKind::AndonCalled {
            call: super::andon::AndonKind::Quality,
        }));
    }
    Ok(events)
}

fn judge(plan: &InspectionPlan, measurement: &Measurement) -> Result<Judged, InspectionRefusal> {
    let id = measurement.characteristic.trim();
    let characteristic = plan
        .characteristic(id)
        .ok_or_else(|| InspectionRefusal::NotInPlan(id.to_owned()))?;
    let conforms = match (&characteristic.kind, &measurement.value) {
        (CharacteristicKind::Attribute, MeasuredValue::Pass) => true,
        (CharacteristicKind::Attribute, MeasuredValue::Fail) => false,
        (CharacteristicKind::Attribute, MeasuredValue::Number { .. }) => {
            return Err(InspectionRefusal::NeedsPassFail {
                id: characteristic.id.clone(),
            });
        }
        (CharacteristicKind::Variable { .. }, MeasuredValue::Pass | MeasuredValue::Fail) => {
            return Err(InspectionRefusal::NeedsValue {
                id: characteristic.id.clone(),
            });
        }
        (
            CharacteristicKind::Variable {
                nominal,
                lower,
                upper,
                unit,
                ..
            },
            MeasuredValue::Number { value, unit: given },
        ) => {
            let value =
                in_unit(*value, given, unit).ok_or_else(|| InspectionRefusal::WrongUnit {
                    id: characteristic.id.clone(),
                    expected: unit.clone(),
                    given: given.clone(),
                })?;
            // A keyed slip (540 for 54.0) shows against a two-sided tolerance. A one-sided limit
            // (leak rate at most 0.50) has no such band: a gross failure is a real reading.
            let implausible = match (lower, upper) {
                (Some(lower), Some(upper)) => {
                    let tolerance = (upper - lower).max(nominal.abs() * 0.01).max(f64::EPSILON);
                    (value - nominal).abs() > PLAUSIBLE_TOLERANCES * tolerance
                }
                _ => false,
            };
            if !value.is_finite() || implausible {
                return Err(InspectionRefusal::Implausible {
                    id: characteristic.id.clone(),
                    value,
                    nominal: *nominal,
                    unit: unit.clone(),
                });
            }
            lower.is_none_or(|lower| value >= lower) && upper.is_none_or(|upper| value <= upper)
        }
    };
    Ok(Judged {
        characteristic: characteristic.id.clone(),
        value: measurement.value.clone(),
        conforms,
        class: characteristic.class,
    })
}

/// `value` in `given` units expressed in `wanted` units, for the units a shop floor keys; none when
/// they do not convert.
pub(crate) fn in_unit(value: f64, given: &str, wanted: &str) -> Option<f64> {
    let given = given.trim();
    if given.is_empty() || given.eq_ignore_ascii_case(wanted) {
        return Some(value);
    }
    let to_metres = |unit: &str| match unit.to_ascii_lowercase().as_str() {
        "m" => Some(1.0),
        "mm" => Some(1e-3),
        "um" | "µm" | "μm" => Some(1e-6),
        "in" => Some(0.0254),
        _ => None,
    };
    Some(value * to_metres(given)? / to_metres(wanted)?)
}

fn class_words(class: DefectClass) -> &'static str {
    match class {
        DefectClass::Critical => "critical",
        DefectClass::Major => "major",
        DefectClass::Minor => "minor",
    }
}

fn plural_y(count: u32) -> &'static str {
    if count == 1 { "y" } else { "ies" }
}

#[cfg(test)]
#[path = "inspection_tests.rs"]
mod tests;
