//! Inspection plans from the ERP or the quality engineers' files (`takt central import
//! inspection-plans FILE`): one row per characteristic, grouped into one plan per product and
//! operation. The plan's own settings (its AQL sampling and whether it gates on a first article)
//! may be given on any of its rows, but two rows may not disagree. A plan is replaced as a whole.

use super::import::{Catalog, Fields, ImportError, Place, Row, Unique, parse_flag};
use crate::domain::aql::{Aql, InspectionLevel};
use crate::domain::inspection::{
    AqlSampling, Characteristic, CharacteristicKind, InspectionPlan, Sampling,
};
use crate::domain::spc::{MAX_SUBGROUP, MIN_SUBGROUP};
use crate::domain::{DefectClass, OperationId, ProductId};
use crate::protocol::MasterRecord;
use std::collections::BTreeMap;

/// A plan's settings as one row gave them (each `None` where the row left it empty).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct PlanSettings {
    aql: Option<AqlSampling>,
    first_article: Option<bool>,
}

pub(super) fn inspection_plans(
    rows: &[Row],
    catalog: &Catalog,
    errors: &mut Vec<ImportError>,
) -> Vec<MasterRecord> {
    let mut characteristics_seen = Unique::new("characteristic");
    let mut order: Vec<(ProductId, OperationId)> = Vec::new();
    let mut plans: BTreeMap<(ProductId, OperationId), (InspectionPlan, PlanSettings)> =
        BTreeMap::new();
    // Where each plan first samples by AQL: its AQL settings may come on any of its rows.
    let mut first_aql_row: BTreeMap<(ProductId, OperationId), Place> = BTreeMap::new();
    for row in rows {
        let mut f = Fields::new(row, errors);
        let product = f.product("product", catalog);
        let operation = f.operation_of("operation", product, catalog);
        let id = f.id("characteristic");
        let name = f.text("name");
        let class = f.text("class").and_then(|text| {
            let class = match text.to_ascii_lowercase().as_str() {
                "critical" => Some(DefectClass::Critical),
                "major" => Some(DefectClass::Major),
                "minor" => Some(DefectClass::Minor),
                _ => None,
            };
            if class.is_none() {
                f.error(format!("class {text:?} is not critical, major or minor"));
            }
            class
        });
        let kind = characteristic_kind(&mut f);
        let sampling = f.text("sampling").and_then(|text| {
            let sampling = parse_sampling(text);
            if sampling.is_none() {
                f.error(format!(
                    "sampling {text:?} is not every_unit, every_nth:N (N from 1), first_piece or aql"
                ));
            }
            sampling
        });
        let settings = plan_settings(&mut f);
        if let (Some(product), Some(operation), Some(id)) = (product, operation, id) {
            characteristics_seen.check(
                (
                    product.to_owned(),
                    operation.to_owned(),
                    id.to_ascii_uppercase(),
                ),
                &mut f,
            );
        }
        let plc_value = f.get("plc_value").map(str::to_owned);
        let (
            Some(product),
            Some(operation),
            Some(id),
            Some(name),
            Some(class),
            Some(kind),
            Some(sampling),
            Some(settings),
            false,
        ) = (
            product, operation, id, name, class, kind, sampling, settings, f.failed,
        )
        else {
            continue;
        };
        let key = (ProductId::from(product), OperationId::from(operation));
        let (plan, agreed) = plans.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            (
                InspectionPlan {
                    product: key.0.clone(),
                    operation: key.1.clone(),
                    characteristics: Vec::new(),
                    aql: None,
                    first_article_gates: false,
                },
                PlanSettings::default(),
            )
        });
        if let Some(conflict) = agree(agreed, settings) {
            f.error(format!(
                "{conflict} differs from an earlier row of the plan for {product} at {operation}"
            ));
            continue;
        }
        if sampling == Sampling::Aql {
            first_aql_row.entry(key).or_insert(row.place);
        }
        plan.characteristics.push(Characteristic {
            id: id.to_owned(),
            name: name.to_owned(),
            kind,
            sampling,
            class,
            plc_value,
        });
    }
    let mut records = Vec::new();
    for key in order {
        let Some((mut plan, settings)) = plans.remove(&key) else {
            continue;
        };
        if let (Some(place), None) = (first_aql_row.get(&key), settings.aql) {
            errors.push(ImportError::new(
                *place,
                format!(
                    "sampling aql needs the plan's aql_level, aql_major and aql_minor (on any row \
                     of {} at {})",
                    key.0, key.1
                ),
            ));
            continue;
        }
        plan.aql = settings.aql;
        plan.first_article_gates = settings.first_article.unwrap_or(false);
        records.push(MasterRecord::InspectionPlan(plan));
    }
    records
}

/// Takes a row's settings into the plan's; the name of the first that disagrees, if any.
fn agree(agreed: &mut PlanSettings, row: PlanSettings) -> Option<&'static str> {
    match (agreed.aql, row.aql) {
        (Some(before), Some(now)) if before != now => return Some("the AQL sampling"),
        (None, Some(now)) => agreed.aql = Some(now),
        _ => {}
    }
    match (agreed.first_article, row.first_article) {
        (Some(before), Some(now)) if before != now => return Some("first_article"),
        (None, Some(now)) => agreed.first_article = Some(now),
        _ => {}
    }
    None
}

fn parse_sampling(text: &str) -> Option<Sampling> {
    let text = text.trim().to_ascii_lowercase();
    match text.as_str() {
        "every_unit" => Some(Sampling::EveryUnit),
        "first_piece" => Some(Sampling::FirstPiece),
        "aql" => Some(Sampling::Aql),
        _ => text
            .strip_prefix("every_nth:")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .filter(|n| *n >= 1)
            .map(|n| Sampling::EveryNth { n }),
    }
}

/// A finite number in an optional column (`Some(None)` when empty, `None` after an error).
fn decimal(f: &mut Fields<'_>, column: &str) -> Option<Option<f64>> {
    let Some(text) = f.get(column) else {
        return Some(None);
    };
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Some(Some(value)),
        _ => {
            f.error(format!(
                "{column} {text:?} is not a number ('.' as the point)"
            ));
            None
        }
    }
}

/// Attribute (pass/fail, no specification) or variable (nominal, limits around it, unit).
fn characteristic_kind(f: &mut Fields<'_>) -> Option<CharacteristicKind> {
    let kind = f.text("kind")?.to_ascii_lowercase();
    let nominal = decimal(f, "nominal")?;
    let lower = decimal(f, "lower")?;
    let upper = decimal(f, "upper")?;
    let unit = f.get("unit").map(str::to_owned);
    let gauge = f.get("gauge").map(str::to_owned);
    let subgroup = f.number::<u32>("subgroup", 1)?;
    match kind.as_str() {
        "attribute" => {
            let given: Vec<&str> = [
                ("nominal", nominal.is_some()),
                ("lower", lower.is_some()),
                ("upper", upper.is_some()),
                ("unit", unit.is_some()),
                ("subgroup", subgroup.is_some()),
            ]
            .into_iter()
            .filter_map(|(column, given)| given.then_some(column))
            .collect();
            if !given.is_empty() {
                f.error(format!(
                    "an attribute is pass or fail: leave {} empty",
                    given.join(", ")
                ));
                return None;
            }
            Some(CharacteristicKind::Attribute)
        }
        "variable" => {
            let (Some(nominal), Some(unit)) = (nominal, unit) else {
                f.error("a variable needs its nominal and unit");
                return None;
            };
            if lower.is_none() && upper.is_none() {
                f.error("a variable needs a lower or an upper limit (or both)");
                return None;
            }
            if lower.is_some_and(|lower| lower > nominal) || upper.is_some_and(|u| u < nominal) {
                f.error(format!(
                    "the limits must lie around the nominal {nominal} (lower ≤ nominal ≤ upper)"
                ));
                return None;
            }
            if let Some(size) = subgroup
                && !(MIN_SUBGROUP..=MAX_SUBGROUP).contains(&(size as usize))
            {
                f.error(format!(
                    "subgroup {size}: an X̄-R subgroup has {MIN_SUBGROUP} to {MAX_SUBGROUP} values \
                     (leave it empty for individuals)"
                ));
                return None;
            }
            Some(CharacteristicKind::Variable {
                nominal,
                lower,
                upper,
                unit,
                gauge,
                subgroup,
            })
        }
        other => {
            f.error(format!("kind {other:?} is neither attribute nor variable"));
            None
        }
    }
}

/// The plan settings a row gives; `None` after an error.
fn plan_settings(f: &mut Fields<'_>) -> Option<PlanSettings> {
    let level = f.get("aql_level");
    let major = f.get("aql_major");
    let minor = f.get("aql_minor");
    let aql = match (level, major, minor) {
        (None, None, None) => None,
        (Some(level), Some(major), Some(minor)) => {
            let level = level.parse::<InspectionLevel>();
            let major = major.parse::<Aql>();
            let minor = minor.parse::<Aql>();
            match (level, major, minor) {
                (Ok(level), Ok(major), Ok(minor)) => Some(AqlSampling {
                    level,
                    major,
                    minor,
                }),
                (level, major, minor) => {
                    for error in [level.err(), major.err(), minor.err()]
                        .into_iter()
                        .flatten()
                    {
                        f.error(error.to_string());
                    }
                    return None;
                }
            }
        }
        _ => {
            f.error("give aql_level, aql_major and aql_minor together (e.g. II, 2.5, 4.0)");
            return None;
        }
    };
    let first_article = match f.get("first_article") {
        None => None,
        Some(text) => match parse_flag(text) {
            Some(flag) => Some(flag),
            None => {
                f.error(format!("first_article {text:?} is not true or false"));
                return None;
            }
        },
    };
    Some(PlanSettings { aql, first_article })
}
