//! Material quantities in thousandths of the material's unit, so 0.005 kg of grease per caliper adds
//! up exactly and an event's hash never depends on floating-point formatting.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Thousandths of a unit of measure (pieces, kg, m, …). Signed: a lot drawn past what it was said to
/// hold shows how far, instead of wrapping or hiding it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Quantity(i64);

impl Quantity {
    pub const ZERO: Quantity = Quantity(0);
    const SCALE: i64 = 1000;

    pub const fn from_milli(milli: i64) -> Quantity {
        Quantity(milli)
    }

    pub const fn milli(self) -> i64 {
        self.0
    }

    /// Whole units (pieces from a label's count AI).
    pub fn units(count: u64) -> Quantity {
        Quantity(
            i64::try_from(count)
                .unwrap_or(i64::MAX / Self::SCALE)
                .saturating_mul(Self::SCALE),
        )
    }

    /// This quantity per unit times a unit count (BOM rate × units made).
    pub fn times(self, count: u64) -> Quantity {
        Quantity(
            self.0
                .saturating_mul(i64::try_from(count).unwrap_or(i64::MAX)),
        )
    }

    pub fn saturating_add(self, other: Quantity) -> Quantity {
        Quantity(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Quantity) -> Quantity {
        Quantity(self.0.saturating_sub(other.0))
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Parses a decimal such as `5`, `0.005` or `12.5` (at most three decimals).
    pub fn parse(text: &str) -> Option<Quantity> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty()
            || fraction.len() > 3
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !fraction.chars().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let fraction: i64 = format!("{fraction:0<3}").parse().ok()?;
        let milli = whole.checked_mul(Self::SCALE)?.checked_add(fraction)?;
        Some(Quantity(if negative { -milli } else { milli }))
    }
}

impl fmt::Display for Quantity {
    /// `400`, `0.005`, `12.5`: no trailing zeros, so people read it as they would write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        let whole = magnitude / Self::SCALE as u64;
        let fraction = magnitude % Self::SCALE as u64;
        if fraction == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{fraction:03}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_as_people_write_it() {
        for (text, milli, shown) in [
            ("400", 400_000, "400"),
            ("0.005", 5, "0.005"),
            ("12.5", 12_500, "12.5"),
            (".25", 250, "0.25"),
            ("-1.5", -1_500, "-1.5"),
        ] {
            let quantity = Quantity::parse(text).expect(text);
            assert_eq!(quantity.milli(), milli, "{text}");
            assert_eq!(quantity.to_string(), shown, "{text}");
        }
        for bad in [
            "",
            ".",
            "1.2345",
            "1,5",
            "abc",
            "1e3",
            "99999999999999999999",
        ] {
            assert_eq!(Quantity::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn rates_multiply_exactly() {
        let grease = Quantity::parse("0.005").expect("rate");
        assert_eq!(grease.times(200).to_string(), "1");
        assert_eq!(Quantity::units(3), Quantity::from_milli(3000));
    }
}
