//! An email address, unique per program regardless of letter case.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationErrors;

/// RIDDL `customerEmail is String(5, 254)`, with one `@` between a non-empty local part and a
/// domain that has a dot. The address keeps the letter case it was given; [`Email::key`] is the
/// case-folded form that uniqueness is decided on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const CHARS_MIN: usize = 5;
    pub const CHARS_MAX: usize = 254;

    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationErrors> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if !(Self::CHARS_MIN..=Self::CHARS_MAX).contains(&chars) {
            return Err(ValidationErrors::single(
                field,
                format!(
                    "must be {} to {} characters (got {chars})",
                    Self::CHARS_MIN,
                    Self::CHARS_MAX
                ),
            ));
        }
        let valid = match trimmed.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !valid {
            return Err(ValidationErrors::single(
                field,
                "must be an email address like name@example.com",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two addresses are compared in: lower case.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_addresses_and_keeps_case() {
        let email = Email::parse("email", " Ada@Example.com ").expect("valid");
        assert_eq!(email.as_str(), "Ada@Example.com");
        assert_eq!(email.key(), "ada@example.com");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for raw in [
            "",
            "a@b",
            "abcd",
            "a b@example.com",
            "@example.com",
            "a@@example.com",
            "a@example.",
        ] {
            assert!(Email::parse("email", raw).is_err(), "{raw:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse("email", &long).is_err());
    }
}
