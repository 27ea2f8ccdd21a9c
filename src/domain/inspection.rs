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
    /// The plan per sampled class for a lot; the sample drawn is the largest of them (the standard
    /// allows one sample for all classes when the largest is used).
    pub fn plans(
        &self,
        lot_size: u32,
        severity: Severity,
    ) -> Result<BTreeMap<DefectClass, SamplingPlan>, aql::AqlError> {
        Ok(BTreeMap::from([
            (
                DefectClass::Major,
                aql::plan(lot_size, self.level, self.major, severity)?,
            ),
            (
                DefectClass::Minor,
                aql::plan(lot_size, self.level, self.minor, severity)?,
            ),
        ]))
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
    #[error("{id} is pass or fail, not a number")]
    NeedsPassFail { id: String },
    #[error("{0} is not in the defect catalog")]
    UnknownDefect(String),
    #[error("{0} is a downtime reason, not a defect")]
    NotADefect(String),
    #[error("a defect needs a quantity of at least 1")]
    ZeroQuantity,
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
        *nonconforming.entry(class).or_default() += found.quantity;
        if class == DefectClass::Critical {
            reasons.push(format!(
                "critical defect {} {} ({})",
                code.code, code.text, found.quantity
            ));
        }
    }
    for result in judged.iter().filter(|result| !result.conforms) {
        *nonconforming.entry(result.class).or_default() += 1;
        if result.class == DefectClass::Critical {
            reasons.push(format!(
                "critical characteristic {} failed",
                result.characteristic
            ));
        }
    }

    let plans = match &plan.aql {
        Some(sampling) => sampling.plans(sample.lot_size, sample.severity)?,
        None => BTreeMap::new(),
    };
    if plans.is_empty() {
        // Without AQL every inspected unit must conform.
        for (class, count) in &nonconforming {
            if *class != DefectClass::Critical && *count > 0 {
                reasons.push(format!(
                    "{count} {} nonconformit{}",
                    class_words(*class),
                    plural_y(*count)
                ));
            }
        }
    } else {
        for (class, sampling_plan) in &plans {
            let count = nonconforming.get(class).copied().unwrap_or(0);
            if count >= sampling_plan.reject {
                reasons.push(format!(
                    "{count} {} nonconforming, the plan rejects at {} (n = {}, AQL {})",
                    class_words(*class),
                    sampling_plan.reject,
                    sampling_plan.sample_size,
                    sampling_plan.aql
                ));
            }
        }
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
        nonconforming,
        plans,
        verdict,
    })
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
            // A characteristic recorded without limits (for SPC only) has no band to judge by.
            let tolerance = match (lower, upper) {
                (Some(lower), Some(upper)) => Some(upper - lower),
                (Some(limit), None) | (None, Some(limit)) => Some((limit - nominal).abs()),
                (None, None) => None,
            }
            .map(|tolerance| tolerance.max(nominal.abs() * 0.01).max(f64::EPSILON));
            let implausible = tolerance.is_some_and(|tolerance| {
                (value - nominal).abs() > PLAUSIBLE_TOLERANCES * tolerance
            });
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
fn in_unit(value: f64, given: &str, wanted: &str) -> Option<f64> {
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
