//! Typed identifiers. Each is a newtype over the text printed on labels and badges, so a badge can
//! never be passed where a work order is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(text: impl Into<String>) -> Self {
                Self(text.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self(text.to_owned())
            }
        }
    };
}

text_id!(
    /// A workstation, e.g. `L1-S1`.
    StationId
);
text_id!(
    /// A production line, e.g. `L1`.
    LineId
);
text_id!(
    /// The text on an operator's badge, e.g. `EMP-1001`.
    Badge
);
text_id!(
    /// A work order as printed on its traveller, e.g. `WO-24001`.
    WorkOrderId
);
text_id!(
    /// A product (part number), e.g. `BC-200`.
    ProductId
);
text_id!(
    /// A material (component part number), e.g. `CAST-200`.
    MaterialId
);
text_id!(
    /// A lot or a serial: a supplier's lot number as printed on its label (`C24-1107`), or an
    /// output id a station created (`L1-S3-261125-000042`). One namespace, so genealogy is one graph.
    LotId
);
text_id!(
    /// An operation of a routing, e.g. `OP10`.
    OperationId
);
