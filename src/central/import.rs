//! ERP import: master data from flat CSV or JSON files (`takt central import KIND FILE`,
//! `POST /api/v1/import/{kind}`), validated row by row and written all-or-nothing.
//!
//! Every kind has documented columns ([`ImportKind::columns`]); a CSV file names them in its
//! header line, a JSON file is an array of objects with the same keys (numbers may be JSON
//! numbers, lists JSON arrays). Rows are checked for their own sake (ids, numbers, dates) and
//! against what central already holds (a work order's product, a BOM's routing and materials, a
//! routing's stations), and every problem is reported with its line (CSV) or index (JSON). One bad
//! row and nothing is written. Writing goes through the versioned master records, so re-importing
//! the same file changes nothing and sends nothing to the stations. No SQL here: [`super::Db`]
//! loads the [`Catalog`] and writes the records in one transaction.

use crate::domain::{
    Badge, Bom, BomLine, Code, CodeKind, Consumption, DefectClass, LineId, Material, MaterialId,
    OperationId, Operator, OutputKind, Product, ProductId, Quantity, Routing, RoutingStep,
    StationId, WorkOrder, WorkOrderId, WorkOrderStatus,
};
use crate::protocol::MasterRecord;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

/// The roles an operator's badge may carry (the station checks them by these names).
pub const ROLES: &[&str] = &["operator", "inspector", "line_lead", "maintenance", "admin"];

/// Work-order priority when the file gives none (1 is most urgent).
pub const DEFAULT_PRIORITY: u8 = 5;

/// What a file holds: one kind of master record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ImportKind {
    Products,
    Materials,
    WorkOrders,
    Routings,
    Boms,
    Operators,
    Codes,
    InspectionPlans,
}

/// One documented column: its name and whether every row must fill it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub required: bool,
}

const fn req(name: &'static str) -> Column {
    Column {
        name,
        required: true,
    }
}

const fn opt(name: &'static str) -> Column {
    Column {
        name,
        required: false,
    }
}

impl ImportKind {
    pub const ALL: [ImportKind; 8] = [
        ImportKind::Products,
        ImportKind::Materials,
        ImportKind::WorkOrders,
        ImportKind::Routings,
        ImportKind::Boms,
        ImportKind::Operators,
        ImportKind::Codes,
        ImportKind::InspectionPlans,
    ];

    /// As it is written on the command line and in the URL: `work-orders`.
    pub fn name(self) -> &'static str {
        match self {
            ImportKind::Products => "products",
            ImportKind::Materials => "materials",
            ImportKind::WorkOrders => "work-orders",
            ImportKind::Routings => "routings",
            ImportKind::Boms => "boms",
            ImportKind::Operators => "operators",
            ImportKind::Codes => "codes",
            ImportKind::InspectionPlans => "inspection-plans",
        }
    }

    pub fn parse(text: &str) -> Option<ImportKind> {
        ImportKind::ALL
            .into_iter()
            .find(|kind| kind.name() == text.trim())
    }

    /// The documented columns, in the order an example file lists them.
    pub fn columns(self) -> &'static [Column] {
        match self {
            ImportKind::Products => const { &[req("id"), req("name"), opt("gtin")] },
            ImportKind::Materials => {
                const {
                    &[
                        req("id"),
                        req("name"),
                        req("unit"),
                        opt("gtin"),
                        opt("other_gtins"),
                        opt("shelf_life_days"),
                    ]
                }
            }
            ImportKind::WorkOrders => {
                const {
                    &[
                        req("id"),
                        req("product"),
                        req("quantity"),
                        req("due"),
                        req("stations"),
                        opt("status"),
                        opt("priority"),
                        opt("numeric_id"),
                        opt("line"),
                    ]
                }
            }
            ImportKind::Routings => {
                const {
                    &[
                        req("product"),
                        req("step"),
                        req("operation"),
                        req("name"),
                        req("stations"),
                        req("output_material"),
                        req("output"),
                        opt("ideal_cycle_ms"),
                    ]
                }
            }
            ImportKind::Boms => {
                const {
                    &[
                        req("product"),
                        req("operation"),
                        req("material"),
                        req("quantity_per_unit"),
                        opt("tolerance_pct"),
                        opt("consumption"),
                    ]
                }
            }
            ImportKind::Operators => {
                const { &[req("badge"), req("name"), req("roles"), opt("active")] }
            }
            ImportKind::Codes => {
                const {
                    &[
                        req("code"),
                        req("text"),
                        req("kind"),
                        req("class_or_planned"),
                    ]
                }
            }
            ImportKind::InspectionPlans => {
                const {
                    &[
                        req("product"),
                        req("operation"),
                        req("characteristic"),
                        req("name"),
                        req("kind"),
                        req("class"),
                        req("sampling"),
                        opt("nominal"),
                        opt("lower"),
                        opt("upper"),
                        opt("unit"),
                        opt("gauge"),
                        opt("subgroup"),
                        opt("plc_value"),
                        opt("aql_level"),
                        opt("aql_major"),
                        opt("aql_minor"),
                        opt("first_article"),
                    ]
                }
            }
        }
    }
}

impl fmt::Display for ImportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// From the file's extension (`.csv`, `.json`).
    pub fn from_path(path: &Path) -> Option<Format> {
        Format::parse(path.extension()?.to_str()?)
    }
}

/// Where a row is: its line in a CSV file (the header is line 1), or its index in a JSON array
/// (from 0). Neither for a problem of the whole file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
}

impl Place {
    fn line(line: u64) -> Place {
        Place {
            line: Some(line),
            index: None,
        }
    }

    fn index(index: u64) -> Place {
        Place {
            line: None,
            index: Some(index),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.index) {
            (Some(line), _) => write!(f, "line {line}"),
            (None, Some(index)) => write!(f, "index {index}"),
            (None, None) => f.write_str("the file"),
        }
    }
}

/// One problem of an import, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportError {
    #[serde(flatten)]
    pub place: Place,
    pub message: String,
}

impl ImportError {
    pub(super) fn new(place: Place, message: impl Into<String>) -> ImportError {
        ImportError {
            place,
            message: message.into(),
        }
    }

    /// `work-orders.csv line 7: due "2026-13-01" is not a date (YYYY-MM-DD)`.
    pub fn describe(&self, source: &str) -> String {
        match (self.place.line, self.place.index) {
            (None, None) => format!("{source}: {}", self.message),
            _ => format!("{source} {}: {}", self.place, self.message),
        }
    }
}

/// What an import did: records written (new or changed) and records that were already so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    pub imported: u64,
    pub unchanged: u64,
}

/// What central already holds that imported rows may refer to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub products: BTreeSet<ProductId>,
    pub materials: BTreeSet<MaterialId>,
    pub routings: BTreeMap<ProductId, Routing>,
    /// Work orders by the numeric id the PLC is given.
    pub work_order_numbers: BTreeMap<u32, WorkOrderId>,
    /// Registered stations and the line each is on.
    pub stations: BTreeMap<StationId, Option<String>>,
}

/// One row as read: its place and its non-empty fields by column name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub place: Place,
    pub fields: BTreeMap<String, String>,
}

/// The rows that could be read, and the problems of rows that could not.
type Read = (Vec<Row>, Vec<ImportError>);

/// Reads `bytes` as `format` into rows and the problems of unreadable rows; `Err` when the file
/// as a whole cannot be read (not CSV or JSON, a wrong header).
pub fn read_rows(kind: ImportKind, format: Format, bytes: &[u8]) -> Result<Read, Vec<ImportError>> {
    match format {
        Format::Csv => read_csv(kind, bytes),
        Format::Json => read_json(kind, bytes),
    }
}

fn column_errors<'a>(
    kind: ImportKind,
    names: impl IntoIterator<Item = &'a str>,
    place: Place,
) -> Vec<ImportError> {
    let columns = kind.columns();
    let documented = || {
        columns
            .iter()
            .map(|column| column.name)
            .collect::<Vec<_>>()
            .join(",")
    };
    let names: Vec<&str> = names.into_iter().collect();
    let mut errors = Vec::new();
    let mut seen = BTreeSet::new();
    for name in &names {
        if !columns.iter().any(|column| column.name == *name) {
            errors.push(ImportError::new(
                place,
                format!("unknown column {name:?}: {kind} takes {}", documented()),
            ));
        } else if !seen.insert(*name) {
            errors.push(ImportError::new(place, format!("column {name:?} twice")));
        }
    }
    for column in columns.iter().filter(|column| column.required) {
        if !names.contains(&column.name) {
            errors.push(ImportError::new(
                place,
                format!(
                    "missing column {:?} ({kind} takes {})",
                    column.name,
                    documented()
                ),
            ));
        }
    }
    errors
}

fn read_csv(kind: ImportKind, bytes: &[u8]) -> Result<Read, Vec<ImportError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = match reader.headers() {
        Ok(headers) => headers
            .iter()
            .map(|name| {
                name.trim_start_matches('\u{feff}')
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect(),
        Err(error) => return Err(vec![csv_error(&error, Place::line(1))]),
    };
    if headers.iter().all(String::is_empty) {
        return Err(vec![ImportError::new(
            Place::line(1),
            "no header line: the first line names the columns",
        )]);
    }
    let errors = column_errors(kind, headers.iter().map(String::as_str), Place::line(1));
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                let place = error
                    .position()
                    .map_or(Place::default(), |position| Place::line(position.line()));
                errors.push(csv_error(&error, place));
                continue;
            }
        };
        let place = Place::line(record.position().map_or(0, csv::Position::line));
        if record.iter().all(str::is_empty) {
            continue;
        }
        if record.len() != headers.len() {
            errors.push(ImportError::new(
                place,
                format!(
                    "{} fields where the header names {} columns",
                    record.len(),
                    headers.len()
                ),
            ));
            continue;
        }
        let fields = headers
            .iter()
            .zip(record.iter())
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.clone(), value.to_owned()))
            .collect();
        rows.push(Row { place, fields });
    }
    Ok((rows, errors))
}

fn csv_error(error: &csv::Error, place: Place) -> ImportError {
    let message = match error.kind() {
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text (save the export as UTF-8)".to_owned(),
        _ => format!("not readable as CSV: {error}"),
    };
    ImportError::new(place, message)
}

fn read_json(kind: ImportKind, bytes: &[u8]) -> Result<Read, Vec<ImportError>> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
        vec![ImportError::new(
            Place::line(u64::try_from(error.line()).unwrap_or(0)),
            format!("not valid JSON: {error}"),
        )]
    })?;
    let serde_json::Value::Array(items) = value else {
        return Err(vec![ImportError::new(
            Place::default(),
            "expected a JSON array of objects, one per row",
        )]);
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let place = Place::index(u64::try_from(index).unwrap_or(u64::MAX));
        let serde_json::Value::Object(object) = item else {
            errors.push(ImportError::new(place, "not a JSON object"));
            continue;
        };
        let shape = column_errors(kind, object.keys().map(String::as_str), place);
        if !shape.is_empty() {
            errors.extend(shape);
            continue;
        }
        let mut fields = BTreeMap::new();
        let mut readable = true;
        for (key, value) in object {
            match json_text(&value) {
                Ok(text) if text.is_empty() => {}
                Ok(text) => {
                    fields.insert(key, text);
                }
                Err(what) => {
                    errors.push(ImportError::new(place, format!("{key}: {what}")));
                    readable = false;
                }
            }
        }
        if readable {
            rows.push(Row { place, fields });
        }
    }
    Ok((rows, errors))
}

/// A JSON value as the text a CSV cell would hold: lists joined with `;`.
fn json_text(value: &serde_json::Value) -> Result<String, String> {
    use serde_json::Value;
    match value {
        Value::Null => Ok(String::new()),
        Value::String(text) => Ok(text.trim().to_owned()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Array(items) => {
            let parts = items
                .iter()
                .map(|item| match item {
                    Value::String(_) | Value::Number(_) => json_text(item),
                    _ => Err("a list holds only strings or numbers".to_owned()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if parts.iter().any(|part| part.contains(';')) {
                return Err("a list item must not contain ';'".to_owned());
            }
            Ok(parts.join(";"))
        }
        Value::Object(_) => Err("expected text, a number or a list, not an object".to_owned()),
    }
}

/// The fields of one row, read with the errors they produce collected.
pub(super) struct Fields<'a> {
    pub(super) row: &'a Row,
    errors: &'a mut Vec<ImportError>,
    pub(super) failed: bool,
}

impl<'a> Fields<'a> {
    pub(super) fn new(row: &'a Row, errors: &'a mut Vec<ImportError>) -> Self {
        Fields {
            row,
            errors,
            failed: false,
        }
    }

    pub(super) fn error(&mut self, message: impl Into<String>) {
        self.failed = true;
        self.errors
            .push(ImportError::new(self.row.place, message.into()));
    }

    pub(super) fn get(&self, column: &str) -> Option<&'a str> {
        self.row.fields.get(column).map(String::as_str)
    }

    /// A required field.
    pub(super) fn text(&mut self, column: &str) -> Option<&'a str> {
        let value = self.get(column);
        if value.is_none() {
            self.error(format!("{column} is empty"));
        }
        value
    }

    /// A required identifier: not empty, no whitespace.
    pub(super) fn id(&mut self, column: &str) -> Option<&'a str> {
        let value = self.text(column)?;
        self.check_id(column, value).then_some(value)
    }

    /// A required identifier that must name a product central knows; the id either way.
    pub(super) fn product(&mut self, column: &str, catalog: &Catalog) -> Option<&'a str> {
        let product = self.id(column)?;
        if !catalog.products.contains(&ProductId::from(product)) {
            self.error(format!(
                "{column} {product:?} is not known at central (import products first)"
            ));
        }
        Some(product)
    }

    /// A required identifier that must name a material central knows; the id either way.
    fn material(&mut self, column: &str, catalog: &Catalog) -> Option<&'a str> {
        let material = self.id(column)?;
        if !catalog.materials.contains(&MaterialId::from(material)) {
            self.error(format!(
                "{column} {material:?} is not known at central (import materials first)"
            ));
        }
        Some(material)
    }

    /// A required operation that must be a step of `product`'s routing at central (checked when
    /// the product is known); the id either way.
    pub(super) fn operation_of(
        &mut self,
        column: &str,
        product: Option<&str>,
        catalog: &Catalog,
    ) -> Option<&'a str> {
        let operation = self.id(column)?;
        let Some(product) = product.filter(|p| catalog.products.contains(&ProductId::from(*p)))
        else {
            return Some(operation);
        };
        match catalog.routings.get(&ProductId::from(product)) {
            None => self.error(format!(
                "product {product:?} has no routing at central (import routings first)"
            )),
            Some(routing)
                if !routing
                    .steps
                    .iter()
                    .any(|step| step.operation.as_str() == operation) =>
            {
                let known: Vec<&str> = routing
                    .steps
                    .iter()
                    .map(|step| step.operation.as_str())
                    .collect();
                self.error(format!(
                    "{column} {operation:?} is not in the routing of {product} ({})",
                    known.join(", ")
                ));
            }
            Some(_) => {}
        }
        Some(operation)
    }

    fn check_id(&mut self, column: &str, value: &str) -> bool {
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.error(format!("{column} {value:?} must not contain spaces"));
            false
        } else {
            true
        }
    }

    /// A `;`-separated list of identifiers; `required` wants at least one.
    fn list(&mut self, column: &str, required: bool) -> Option<Vec<&'a str>> {
        let Some(value) = self.get(column) else {
            if required {
                self.error(format!("{column} is empty (list them separated by ';')"));
                return None;
            }
            return Some(Vec::new());
        };
        let items: Vec<&str> = value
            .split(';')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .collect();
        let mut ok = true;
        let mut seen = BTreeSet::new();
        for item in &items {
            ok &= self.check_id(column, item);
            if !seen.insert(*item) {
                self.error(format!("{column} names {item:?} twice"));
                ok = false;
            }
        }
        if items.is_empty() && required {
            self.error(format!("{column} is empty (list them separated by ';')"));
            ok = false;
        }
        ok.then_some(items)
    }

    /// An optional whole number at least `min`.
    pub(super) fn number<T>(&mut self, column: &str, min: T) -> Option<Option<T>>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(value) = self.get(column) else {
            return Some(None);
        };
        match value.parse::<T>() {
            Ok(number) if number >= min => Some(Some(number)),
            _ => {
                self.error(format!(
                    "{column} {value:?} is not a whole number from {min} up"
                ));
                None
            }
        }
    }

    fn required_number<T>(&mut self, column: &str, min: T) -> Option<T>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        match self.number(column, min)? {
            Some(number) => Some(number),
            None => {
                self.error(format!("{column} is empty"));
                None
            }
        }
    }

    fn gtin(&mut self, column: &str, value: &str) -> bool {
        match check_gtin(value) {
            Ok(()) => true,
            Err(why) => {
                self.error(format!("{column} {value:?} {why}"));
                false
            }
        }
    }
}

/// A GTIN-8, -12, -13 or -14 with a correct check digit.
pub fn check_gtin(gtin: &str) -> Result<(), String> {
    if !gtin.chars().all(|c| c.is_ascii_digit()) || ![8, 12, 13, 14].contains(&gtin.len()) {
        return Err("is not a GTIN (8, 12, 13 or 14 digits)".to_owned());
    }
    let (data, check) = gtin.split_at(gtin.len() - 1);
    let expected = crate::scan::gs1::check_digit(data);
    if check != expected.to_string() {
        return Err(format!("has check digit {check}, expected {expected}"));
    }
    Ok(())
}

/// Remembers the first place of each key, to refuse a second.
pub(super) struct Unique<K: Ord> {
    what: &'static str,
    seen: BTreeMap<K, Place>,
}

impl<K: Ord + fmt::Debug> Unique<K> {
    pub(super) fn new(what: &'static str) -> Self {
        Unique {
            what,
            seen: BTreeMap::new(),
        }
    }

    /// False (and an error) when `key` was seen before.
    pub(super) fn check(&mut self, key: K, fields: &mut Fields<'_>) -> bool {
        if let Some(first) = self.seen.get(&key) {
            let message = format!("duplicate {} {:?} (first on {first})", self.what, key);
            fields.error(message);
            false
        } else {
            self.seen.insert(key, fields.row.place);
            true
        }
    }
}

/// Checks every row of `kind` against itself, the file and `catalog`, and builds the records; or
/// every problem found.
pub fn validate(
    kind: ImportKind,
    rows: &[Row],
    catalog: &Catalog,
) -> Result<Vec<MasterRecord>, Vec<ImportError>> {
    let mut errors = Vec::new();
    let records = match kind {
        ImportKind::Products => products(rows, &mut errors),
        ImportKind::Materials => materials(rows, &mut errors),
        ImportKind::WorkOrders => work_orders(rows, catalog, &mut errors),
        ImportKind::Routings => routings(rows, catalog, &mut errors),
        ImportKind::Boms => boms(rows, catalog, &mut errors),
        ImportKind::Operators => operators(rows, &mut errors),
        ImportKind::Codes => codes(rows, &mut errors),
        ImportKind::InspectionPlans => {
            super::import_plans::inspection_plans(rows, catalog, &mut errors)
        }
    };
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(errors)
    }
}

fn products(rows: &[Row], errors: &mut Vec<ImportError>) -> Vec<MasterRecord> {
    let mut ids = Unique::new("id");
    let mut records = Vec::new();
    for row in rows {
        let mut f = Fields::new(row, errors);
        let id = f.id("id");
        let name = f.text("name");
        let gtin = f.get("gtin");
        if let Some(gtin) = gtin {
            f.gtin("gtin", gtin);
        }
        if let Some(id) = id {
            ids.check(id.to_owned(), &mut f);
        }
        if let (Some(id), Some(name), false) = (id, name, f.failed) {
            records.push(MasterRecord::Product(Product {
                id: ProductId::from(id),
                name: name.to_owned(),
                gtin: gtin.map(str::to_owned),
            }));
        }
    }
    records
}

fn materials(rows: &[Row], errors: &mut Vec<ImportError>) -> Vec<MasterRecord> {
    let mut ids = Unique::new("id");
    let mut gtins = Unique::new("GTIN");
    let mut records = Vec::new();
    for row in rows {
        let mut f = Fields::new(row, errors);
        let id = f.id("id");
        let name = f.text("name");
        let unit = f.id("unit");
        let gtin = f.get("gtin");
        let other_gtins = f.list("other_gtins", false).unwrap_or_default();
        let shelf_life_days = f.number::<u32>("shelf_life_days", 1).flatten();
        for gtin in gtin.iter().chain(other_gtins.iter()) {
            if f.gtin("gtin", gtin) {
                gtins.check((*gtin).to_owned(), &mut f);
            }
        }
        if let Some(id) = id {
            ids.check(id.to_owned(), &mut f);
        }
        if let (Some(id), Some(name), Some(unit), false) = (id, name, unit, f.failed) {
            records.push(MasterRecord::Material(Material {
                id: MaterialId::from(id),
                name: name.to_owned(),
                gtin: gtin.map(str::to_owned),
                unit: unit.to_owned(),
                shelf_life_days,
                other_gtins: other_gtins.iter().map(|g| (*g).to_owned()).collect(),
            }));
        }
    }
    records
}

/// The number in a work order's id (`WO-24001` → 24001), for the PLC when the file gives none.
fn number_in(id: &str) -> Option<u32> {
    let digits: String = id
        .chars()
        .rev()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    digits.parse().ok().filter(|number| *number > 0)
}

fn stations_known(
    f: &mut Fields<'_>,
    stations: &[&str],
    catalog: &Catalog,
) -> Option<Vec<StationId>> {
    let mut ok = true;
    for station in stations {
        if !catalog.stations.contains_key(&StationId::from(*station)) {
            f.error(format!(
                "station {station:?} is not registered at central (takt central station add)"
            ));
            ok = false;
        }
    }
    ok.then(|| stations.iter().map(|s| StationId::from(*s)).collect())
}

fn work_orders(
    rows: &[Row],
    catalog: &Catalog,
    errors: &mut Vec<ImportError>,
) -> Vec<MasterRecord> {
    let mut ids = Unique::new("id");
    let mut numbers = Unique::new("numeric_id");
    let mut records = Vec::new();
    for row in rows {
        let mut f = Fields::new(row, errors);
        let id = f.id("id");
        let product = f.product("product", catalog);
        let quantity = f.required_number::<u64>("quantity", 1);
        let due = f.text("due").and_then(|due| {
            let date = NaiveDate::parse_from_str(due, "%Y-%m-%d").ok();
            if date.is_none() {
                f.error(format!("due {due:?} is not a date (YYYY-MM-DD)"));
            }
            date
        });
        let status = match f.get("status") {
            None => Some(WorkOrderStatus::Released),
            Some(text) => {
                let status = WorkOrderStatus::parse(&text.to_ascii_lowercase());
                if status.is_none() {
                    f.error(format!(
                        "status {text:?} is not one of planned, released, on_hold, cancelled, closed"
                    ));
                }
                status
            }
        };
        let priority = f
            .number::<u8>("priority", 1)
            .map(|p| p.unwrap_or(DEFAULT_PRIORITY));
        let stations = f
            .list("stations", true)
            .and_then(|stations| stations_known(&mut f, &stations, catalog));
        let numeric_id = match f.number::<u32>("numeric_id", 1) {
            Some(Some(number)) => Some(number),
            Some(None) => {
                let number = id.and_then(number_in);
                if number.is_none()
                    && let Some(id) = id
                {
                    f.error(format!(
                        "numeric_id is empty and id {id:?} holds no number to take (the PLC is given a number)"
                    ));
                }
                number
            }
            None => None,
        };
        // A repeated id says all there is; its (derived) number would repeat too.
        let new_id = id.is_some_and(|id| ids.check(id.to_owned(), &mut f));
        if let (Some(number), Some(id), true) = (numeric_id, id, new_id)
            && numbers.check(number, &mut f)
            && let Some(other) = catalog.work_order_numbers.get(&number)
            && other.as_str() != id
        {
            f.error(format!(
                "numeric_id {number} is work order {other}'s at central"
            ));
        }
        let line = stations.as_ref().and_then(|stations| {
            let lines: BTreeSet<&str> = stations
                .iter()
                .filter_map(|s| catalog.stations.get(s).and_then(Option::as_deref))
                .collect();
            match f.get("line") {
                Some(line) => {
                    if !f.check_id("line", line) {
                        return None;
                    }
                    if let Some(other) = lines.iter().find(|other| **other != line) {
                        f.error(format!(
                            "line {line:?}, but a station of the order is on line {other}"
                        ));
                        return None;
                    }
                    Some(line.to_owned())
                }
                None => match lines.len() {
                    1 => lines.first().map(|line| (*line).to_owned()),
                    0 => {
                        f.error("line is empty and central knows no line for its stations");
                        None
                    }
                    _ => {
                        f.error("line is empty and its stations are on different lines");
                        None
                    }
                },
            }
        });
        if let (
            Some(id),
            Some(product),
            Some(quantity),
            Some(due),
            Some(status),
            Some(priority),
            Some(stations),
            Some(numeric_id),
            Some(line),
            false,
        ) = (
            id, product, quantity, due, status, priority, stations, numeric_id, line, f.failed,
        ) {
            records.push(MasterRecord::WorkOrder(WorkOrder {
                id: WorkOrderId::from(id),
                numeric_id,
                product: ProductId::from(product),
                quantity,
                due,
                priority,
                status,
                status_reason: None,
                line: LineId::new(line),
                stations,
            }));
        }
    }
    records
}

/// `lot:20` or `serial`.
fn parse_output(text: &str) -> Option<OutputKind> {
    let text = text.trim().to_ascii_lowercase();
    if text == "serial" {
        return Some(OutputKind::Serial);
    }
    let size: u64 = text.strip_prefix("lot:")?.trim().parse().ok()?;
    (size > 0).then_some(OutputKind::Lot { size })
}

fn routings(rows: &[Row], catalog: &Catalog, errors: &mut Vec<ImportError>) -> Vec<MasterRecord> {
    let mut steps_seen = Unique::new("step");
    let mut operations_seen = Unique::new("operation");
    // Product → (step number, step), in the order products first appear.
    let mut order: Vec<ProductId> = Vec::new();
    let mut steps: HashMap<ProductId, Vec<(u32, RoutingStep)>> = HashMap::new();
    for row in rows {
        let mut f = Fields::new(row, errors);
        let product = f.product("product", catalog);
        let step = f.required_number::<u32>("step", 1);
        let operation = f.id("operation");
        let name = f.text("name");
        let stations = f
            .list("stations", true)
            .and_then(|stations| stations_known(&mut f, &stations, catalog));
        let output_material = f.material("output_material", catalog);
        let output = f.text("output").and_then(|text| {
            let output = parse_output(text);
            if output.is_none() {
                f.error(format!(
                    "output {text:?} is neither lot:N (N units a tote) nor serial"
                ));
            }
            output
        });
        let ideal_cycle_ms = f.number::<u64>("ideal_cycle_ms", 1);
        if let (Some(product), Some(step)) = (product, step) {
            steps_seen.check((product.to_owned(), step), &mut f);
        }
        if let (Some(product), Some(operation)) = (product, operation) {
            operations_seen.check((product.to_owned(), operation.to_owned()), &mut f);
        }
        if let (
            Some(product),
            Some(step),
            Some(operation),
            Some(name),
            Some(stations),
            Some(output_material),
            Some(output),
            Some(ideal_cycle_ms),
            false,
        ) = (
            product,
            step,
            operation,
            name,
            stations,
            output_material,
            output,
            ideal_cycle_ms,
            f.failed,
        ) {
            let product = ProductId::from(product);
            if !steps.contains_key(&product) {
                order.push(product.clone());
            }
            steps.entry(product).or_default().push((
                step,
                RoutingStep {
                    operation: OperationId::from(operation),
                    name: name.to_owned(),
                    stations,
                    output_material: MaterialId::from(output_material),
                    output,
                    ideal_cycle_ms,
                },
            ));
        }
    }
    order
        .into_iter()
        .map(|product| {
            let mut product_steps = steps.remove(&product).unwrap_or_default();
            product_steps.sort_by_key(|(number, _)| *number);
            MasterRecord::Routing(Routing {
                product,
                steps: product_steps.into_iter().map(|(_, step)| step).collect(),
            })
        })
        .collect()
}

fn boms(rows: &[Row], catalog: &Catalog, errors: &mut Vec<ImportError>) -> Vec<MasterRecord> {
    let mut lines_seen = Unique::new("BOM line");
    let mut order: Vec<(ProductId, OperationId)> = Vec::new();
    let mut lines: HashMap<(ProductId, OperationId), Vec<BomLine>> = HashMap::new();
    for row in rows {
        let mut f = Fields::new(row, errors);
        let product = f.product("product", catalog);
        let operation = f.operation_of("operation", product, catalog);
        let material = f.material("material", catalog);
        let quantity = f.text("quantity_per_unit").and_then(|text| {
            let quantity = Quantity::parse(text).filter(|q| q.is_positive());
            if quantity.is_none() {
                f.error(format!(
                    "quantity_per_unit {text:?} is not a number above 0 (at most 3 decimals, '.' as the point)"
                ));
            }
            quantity
        });
        let tolerance_pct = f.number::<u16>("tolerance_pct", 0);
        let consumption = match f.get("consumption").map(str::to_ascii_lowercase) {
            None => Some(Consumption::PerUnit),
            Some(text) if text == "per_unit" => Some(Consumption::PerUnit),
            Some(text) if text == "per_scan" => Some(Consumption::PerScan),
            Some(text) => {
                f.error(format!(
                    "consumption {text:?} is neither per_unit nor per_scan"
                ));
                None
            }
        };
        if let (Some(product), Some(operation), Some(material)) = (product, operation, material) {
            lines_seen.check(
                (
                    product.to_owned(),
                    operation.to_owned(),
                    material.to_owned(),
                ),
                &mut f,
            );
        }
        if let (
            Some(product),
            Some(operation),
            Some(material),
            Some(quantity_per_unit),
            Some(tolerance_pct),
            Some(consumption),
            false,
        ) = (
            product,
            operation,
            material,
            quantity,
            tolerance_pct,
            consumption,
            f.failed,
        ) {
            let key = (ProductId::from(product), OperationId::from(operation));
            if !lines.contains_key(&key) {
                order.push(key.clone());
            }
            lines.entry(key).or_default().push(BomLine {
                material: MaterialId::from(material),
                quantity_per_unit,
                tolerance_pct: tolerance_pct.unwrap_or(0),
                consumption,
            });
        }
    }
    order
        .into_iter()
        .map(|(product, operation)| {
            let lines = lines
                .remove(&(product.clone(), operation.clone()))
                .unwrap_or_default();
            MasterRecord::Bom(Bom {
                product,
                operation,
                lines,
            })
        })
        .collect()
}

pub(super) fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "y" => Some(true),
        "false" | "no" | "0" | "n" => Some(false),
        _ => None,
    }
}

fn operators(rows: &[Row], errors: &mut Vec<ImportError>) -> Vec<MasterRecord> {
    let mut badges = Unique::new("badge");
    let mut records = Vec::new();
    for row in rows {
        let mut f = Fields::new(row, errors);
        let badge = f.id("badge");
        let name = f.text("name");
        let roles = f.list("roles", true);
        for role in roles.iter().flatten() {
            if crate::domain::permission::Role::parse(role).is_none() {
                f.error(format!("role {role:?} is not one of {}", ROLES.join(", ")));
            }
        }
        let valid_until = f
            .get("valid_until")
            .filter(|t| !t.trim().is_empty())
            .map(|text| {
                let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
                if date.is_none() {
                    f.error(format!("valid_until {text:?} is not a date (YYYY-MM-DD)"));
                }
                date
            });
        // A verifier made elsewhere (another Takt central, an identity system exporting Argon2id);
        // never a PIN. Empty keeps the one central has.
        let pin_verifier = f
            .get("pin_verifier")
            .filter(|t| !t.trim().is_empty())
            .map(
                |text| match crate::credential::check_verifier(text.trim()) {
                    Ok(()) => Some(text.trim().to_owned()),
                    Err(e) => {
                        f.error(format!("pin_verifier: {e}"));
                        None
                    }
                },
            );
        let active = match f.get("active") {
            None => Some(true),
            Some(text) => {
                let flag = parse_flag(text);
                if flag.is_none() {
                    f.error(format!("active {text:?} is neither true nor false"));
                }
                flag
            }
        };
        if let Some(badge) = badge {
            badges.check(badge.to_owned(), &mut f);
        }
        if let (Some(badge), Some(name), Some(roles), Some(active), false) =
            (badge, name, roles, active, f.failed)
        {
            records.push(MasterRecord::Operator(Operator {
                badge: Badge::from(badge),
                name: name.to_owned(),
                roles: roles.into_iter().map(str::to_owned).collect(),
                active,
                valid_until: valid_until.flatten(),
                revoked_at: None,
                pin_verifier: pin_verifier.flatten(),
            }));
        }
    }
    records
}

fn codes(rows: &[Row], errors: &mut Vec<ImportError>) -> Vec<MasterRecord> {
    let mut seen = Unique::new("code");
    let mut records = Vec::new();
    for row in rows {
        let mut f = Fields::new(row, errors);
        let code = f.id("code");
        let text = f.text("text");
        let detail = f.text("class_or_planned").map(str::to_ascii_lowercase);
        let kind = match (f.text("kind").map(str::to_ascii_lowercase), detail) {
            (Some(kind), Some(detail)) if kind == "defect" => {
                let class = match detail.as_str() {
                    "critical" => Some(DefectClass::Critical),
                    "major" => Some(DefectClass::Major),
                    "minor" => Some(DefectClass::Minor),
                    _ => None,
                };
                if class.is_none() {
                    f.error(format!(
                        "class_or_planned {detail:?}: a defect's class is critical, major or minor"
                    ));
                }
                class.map(|class| CodeKind::Defect { class })
            }
            (Some(kind), Some(detail)) if kind == "downtime" => {
                let planned = match detail.as_str() {
                    "planned" => Some(true),
                    "unplanned" => Some(false),
                    other => parse_flag(other),
                };
                if planned.is_none() {
                    f.error(format!(
                        "class_or_planned {detail:?}: a downtime reason is planned or unplanned"
                    ));
                }
                planned.map(|planned| CodeKind::Downtime { planned })
            }
            (Some(kind), _) => {
                f.error(format!("kind {kind:?} is neither defect nor downtime"));
                None
            }
            (None, _) => None,
        };
        if let Some(code) = code {
            seen.check(code.to_owned(), &mut f);
        }
        if let (Some(code), Some(text), Some(kind), false) = (code, text, kind, f.failed) {
            records.push(MasterRecord::Code(Code {
                code: code.to_owned(),
                text: text.to_owned(),
                kind,
            }));
        }
    }
    records
}

/// Reads and checks a whole import against `catalog`: the records to write, or every problem.
pub fn prepare(
    kind: ImportKind,
    format: Format,
    bytes: &[u8],
    catalog: &Catalog,
) -> Result<Vec<MasterRecord>, Vec<ImportError>> {
    let (rows, mut errors) = read_rows(kind, format, bytes)?;
    match validate(kind, &rows, catalog) {
        Ok(records) if errors.is_empty() => Ok(records),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            // In file order; a row's own problems stay in the order they were found.
            errors.sort_by_key(|error| (error.place.line, error.place.index));
            Err(errors)
        }
    }
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
