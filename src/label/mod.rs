//! Output labels: when a station makes an output (a WIP lot in a tote, or a finished serial), a label
//! says what it is in a GS1-128 barcode the next station's classifier reads back, and in words for
//! people. Building the label is pure ([`LabelData`], [`zpl::render`]); printing is a task of its own
//! ([`printer::spawn_printer`]) so a printer that is slow or down never holds up the station.
//!
//! Element strings:
//! - a finished serial with a GTIN: `(01) GTIN (21) SERIAL (11) production date`;
//! - a serial without a GTIN: `(240) MATERIAL (21) SERIAL (11) date`;
//! - a lot: `(240) MATERIAL (10) LOT (30) QUANTITY (11) date`, or `(01) GTIN` instead of `(240)` when
//!   the material has a GTIN. AI 240 carries the plant's own material code, which the classifier
//!   reads. Labels without (01)/(02) break GS1's association rules for 10/30/240: they are for use
//!   inside the plant only.
//!
//! Dates are the UTC day of the output event, the same day its id carries.

pub mod printer;
pub mod zpl;

pub use printer::{
    LabelJob, NotPrinted, NotQueued, PrinterHandle, PrinterSettings, PrinterState, PrinterStatus,
    Sink, spawn_printer,
};

use crate::domain::{
    Event, EventKind, LotId, MasterData, MaterialId, OperationId, OutputForm, Quantity, StationId,
    WorkOrderId,
};
use crate::scan::gs1::{self, Gs1Error};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    #[error("event {seq} is a {kind} event, not an output: there is nothing to label")]
    NotAnOutput { seq: u64, kind: &'static str },
    #[error(
        "the label of {output} cannot be encoded: {error}. Change the output id pattern or the material code so they fit GS1 (letters, digits, - . / and at most 20 characters for a lot or serial)."
    )]
    Encoding { output: LotId, error: Gs1Error },
    #[error(
        "the barcode of {output} needs {modules} modules, more than the label's {dots} dots: use a 300 dpi printer or shorter output ids"
    )]
    TooWide {
        output: LotId,
        modules: u32,
        dots: u32,
    },
    #[error(
        "the label of {output} cannot state its quantity {quantity} {unit}: GS1 counts (30) are whole, and only kg has a measure here"
    )]
    Quantity {
        output: LotId,
        quantity: Quantity,
        unit: String,
    },
}

/// Everything a label shows about one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelData {
    /// The lot or serial id.
    pub output: LotId,
    pub form: OutputForm,
    pub material: MaterialId,
    /// The material's name, empty when master data does not know it.
    pub material_name: String,
    pub quantity: Quantity,
    /// The material's unit (`pc`, `kg`, …).
    pub unit: String,
    pub work_order: WorkOrderId,
    pub operation: OperationId,
    pub station: StationId,
    pub created_at: DateTime<Utc>,
    /// The GTIN of the material, or of the product when the output is the finished product.
    pub gtin: Option<String>,
}

/// A label's barcode data, as scanners will send it and as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementString {
    /// AIs and values in label order.
    pub elements: Vec<(String, String)>,
    /// The element string with GS (0x1D) where a separator is needed, without AIM identifier.
    pub raw: String,
    /// The bracketed human-readable form, `(240)BC-200-M(10)…`.
    pub hri: String,
}

impl LabelData {
    /// The label of an `OutputCreated` event; master data gives names, units and GTINs.
    pub fn from_output(event: &Event, master: &MasterData) -> Result<LabelData, LabelError> {
        let EventKind::OutputCreated {
            work_order,
            operation,
            output,
            form,
            material,
            quantity,
            ..
        } = &event.kind
        else {
            return Err(LabelError::NotAnOutput {
                seq: event.seq,
                kind: event.kind.name(),
            });
        };
        let known = master.materials.get(material);
        // The last operation's output is the product itself: its GTIN may live on the product only.
        let product_gtin = || {
            let product = master.work_orders.get(work_order).map(|o| &o.product)?;
            if product.as_str() != material.as_str() {
                return None;
            }
            master.products.get(product).and_then(|p| p.gtin.clone())
        };
        Ok(LabelData {
            output: output.clone(),
            form: *form,
            material: material.clone(),
            material_name: known.map(|m| m.name.clone()).unwrap_or_default(),
            quantity: *quantity,
            unit: known.map_or_else(|| "pc".to_owned(), |m| m.unit.clone()),
            work_order: work_order.clone(),
            operation: operation.clone(),
            station: event.station.clone(),
            created_at: event.at,
            gtin: known.and_then(|m| m.gtin.clone()).or_else(product_gtin),
        })
    }

    /// The AIs this label carries, in label order.
    pub fn elements(&self) -> Result<Vec<(String, String)>, LabelError> {
        let key = match &self.gtin {
            Some(gtin) => ("01".to_owned(), gtin.clone()),
            None => ("240".to_owned(), self.material.to_string()),
        };
        let date = (
            "11".to_owned(),
            self.created_at.format("%y%m%d").to_string(),
        );
        Ok(match self.form {
            OutputForm::Serial => vec![key, ("21".into(), self.output.to_string()), date],
            OutputForm::Lot => vec![
                key,
                ("10".into(), self.output.to_string()),
                self.quantity_element()?,
                date,
            ],
        })
    }

    /// A whole count is (30); a fraction of a kilogram is a net weight (3103, three decimals).
    fn quantity_element(&self) -> Result<(String, String), LabelError> {
        let milli = self.quantity.milli();
        let refuse = || LabelError::Quantity {
            output: self.output.clone(),
            quantity: self.quantity,
            unit: self.unit.clone(),
        };
        if milli >= 0 && milli % 1000 == 0 {
            return Ok(("30".into(), (milli / 1000).to_string()));
        }
        if self.unit == "kg" && (0..=999_999).contains(&milli) {
            return Ok(("3103".into(), format!("{milli:06}")));
        }
        Err(refuse())
    }

    /// The element string, checked by reading it back as a scanner would.
    pub fn element_string(&self) -> Result<ElementString, LabelError> {
        let elements = self.elements()?;
        let pairs: Vec<(&str, &str)> = elements
            .iter()
            .map(|(ai, value)| (ai.as_str(), value.as_str()))
            .collect();
        let raw = gs1::encode(&pairs, self.created_at.date_naive()).map_err(|error| {
            LabelError::Encoding {
                output: self.output.clone(),
                error,
            }
        })?;
        Ok(ElementString {
            hri: gs1::bracketed(&pairs),
            raw,
            elements,
        })
    }

    /// "lot" or "serial", as the label says it.
    pub fn form_word(&self) -> &'static str {
        match self.form {
            OutputForm::Lot => "LOT",
            OutputForm::Serial => "SERIAL",
        }
    }
}

#[cfg(test)]
mod tests;
