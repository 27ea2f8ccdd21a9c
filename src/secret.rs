//! A secret (a station or admin token, later a PIN) that cannot reach a log by accident: its
//! `Debug` and `Display` print `***`, so a struct holding one can derive `Debug` and be logged with
//! `?config` safely. The value is read only where it is used, through [`Secret::expose`].

use serde::Deserialize;
use std::fmt;

#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: for the one place that sends or compares it, never for a log line.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::from("4f0c-very-secret");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{:#?}", Some(&secret)), "Some(\n    ***,\n)");
        assert_eq!(secret.expose(), "4f0c-very-secret");
    }

    #[test]
    fn deserializes_from_a_plain_string() {
        #[derive(Debug, Deserialize)]
        struct Section {
            token: Secret,
        }
        let section: Section = toml::from_str("token = \"abc\"").expect("parses");
        assert_eq!(section.token.expose(), "abc");
        assert!(!format!("{section:?}").contains("abc"));
    }
}
