//! ZPL II for a label 4 inches wide and 2 high: words for people on top, the GS1-128 barcode and its
//! bracketed interpretation under it. One `^XA … ^XZ` document per label, so a file of labels can be
//! sent to a printer as it is.
//!
//! The barcode is `^BC` in automatic mode (`A`: the printer picks Code 128 subsets) with the field
//! data opened by `>;>8` (start in subset C, then FNC1: this is GS1-128) and `>8` (FNC1) wherever
//! the element string has a GS, as the ZPL II Programming Guide's GS1 examples do. A `>` in the data
//! is written `><`. Text fields go through `^FH` so `^`, `~` and `_` in names cannot end a field or
//! start a command; `^CI28` makes text UTF-8.

use super::{ElementString, LabelData, LabelError};
use crate::domain::OutputForm;
use crate::scan::gs1::GS;

/// The printer's resolution; 203 dpi (8 dots/mm) is the common thermal printer, 300 the fine one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub dpi: u32,
}

impl Default for Layout {
    fn default() -> Self {
        Layout { dpi: 203 }
    }
}

impl Layout {
    /// `dots` at 203 dpi, in this printer's dots.
    fn scale(self, dots: u32) -> u32 {
        dots * self.dpi / 203
    }

    pub fn width_dots(self) -> u32 {
        4 * self.dpi
    }

    pub fn height_dots(self) -> u32 {
        2 * self.dpi
    }
}

/// The label as ZPL, or why it cannot be printed.
pub fn render(data: &LabelData, layout: Layout) -> Result<String, LabelError> {
    let code = data.element_string()?;
    let margin = layout.scale(30);
    let usable = layout.width_dots().saturating_sub(2 * margin);
    let modules = code128_modules(&code.raw);
    // The widest bar module that fits: wider modules scan more reliably off a thermal print.
    let Some(module) = (1..=3).rev().find(|m| modules * m <= usable) else {
        return Err(LabelError::TooWide {
            output: data.output.clone(),
            modules,
            dots: usable,
        });
    };
    Ok(document(data, &code, layout, module))
}

fn document(data: &LabelData, code: &ElementString, layout: Layout, module: u32) -> String {
    let s = |dots| layout.scale(dots);
    let margin = s(30);
    let mut zpl = String::new();
    let mut line = |text: &str| {
        zpl.push_str(text);
        zpl.push('\n');
    };
    line("^XA");
    line("^CI28");
    line(&format!("^PW{}", layout.width_dots()));
    line(&format!("^LL{}", layout.height_dots()));
    line("^LH0,0");
    let text = |y: u32, height: u32, words: &str| {
        format!(
            "^FO{margin},{}^A0N,{h},{h}^FH^FD{}^FS",
            s(y),
            escape(words),
            h = s(height)
        )
    };
    let title = if data.material_name.is_empty() {
        data.material.to_string()
    } else {
        format!("{}  {}", data.material, data.material_name)
    };
    line(&text(20, 40, &title));
    line(&text(
        68,
        34,
        &format!("{} {}", data.form_word(), data.output),
    ));
    let origin = format!("{}  {}  {}", data.work_order, data.operation, data.station);
    let where_from = match data.form {
        OutputForm::Lot => format!("QTY {} {}   {origin}", data.quantity, data.unit),
        OutputForm::Serial => origin,
    };
    line(&text(110, 26, &where_from));
    line(&text(
        142,
        26,
        &data.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    ));
    line(&format!("^BY{module},3,{}", s(150)));
    line(&format!(
        "^FO{margin},{}^BCN,{},N,N,N,A^FD{}^FS",
        s(180),
        s(150),
        barcode_field(&code.raw)
    ));
    line(&text(345, 26, &code.hri));
    line("^XZ");
    zpl
}

/// The `^BC` field data of a GS1-128 symbol for an element string.
pub fn barcode_field(raw: &str) -> String {
    let mut field = String::from(">;>8");
    for c in raw.chars() {
        match c {
            GS => field.push_str(">8"),
            '>' => field.push_str("><"),
            c => field.push(c),
        }
    }
    field
}

/// Text for a `^FH` field: the characters ZPL would act on are written as `_` and their hex code;
/// control characters become spaces.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '_' | '^' | '~' | '\\' => out.push_str(&format!("_{:02X}", u32::from(c))),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Modules of a Code 128 symbol for `raw` as a printer in automatic mode packs it (runs of four or
/// more digits in subset C, two digits a symbol; the rest in subset B), quiet zones included: enough
/// to tell whether it fits the label, not a byte-exact encoder.
pub fn code128_modules(raw: &str) -> u32 {
    let chars: Vec<char> = raw.chars().collect();
    // Start C and the leading FNC1.
    let mut symbols: u32 = 2;
    let mut subset_c = true;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == GS {
            symbols += 1;
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run >= 4 || (subset_c && run >= 2) {
            if !subset_c {
                symbols += 1;
                subset_c = true;
            }
            let pairs = run / 2;
            symbols += u32::try_from(pairs).unwrap_or(u32::MAX / 2);
            i += pairs * 2;
        } else {
            if subset_c {
                symbols += 1;
                subset_c = false;
            }
            symbols += 1;
            i += 1;
        }
    }
    // Check symbol; the stop pattern is 13 modules; quiet zones 10 on each side.
    (symbols + 1) * 11 + 13 + 20
}
