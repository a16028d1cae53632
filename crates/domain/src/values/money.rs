//! Money as exact decimals: amounts arrive as strings like `"12.50"` and are never floats.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ValidationErrors;

/// A non-negative amount of money with at most [`Money::SCALE_MAX`] decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(Decimal);

impl Money {
    /// Minor units: cents. More places than this are refused, not rounded.
    pub const SCALE_MAX: u32 = 2;
    /// The largest amount one purchase may carry.
    pub const AMOUNT_MAX: u64 = 1_000_000_000;

    pub const ZERO: Money = Money(Decimal::ZERO);

    /// Parse a decimal string such as `"12.50"`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationErrors> {
        let trimmed = raw.trim();
        let shape_ok = !trimmed.is_empty()
            && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.')
            && trimmed.chars().filter(|c| *c == '.').count() <= 1
            && !trimmed.starts_with('.')
            && !trimmed.ends_with('.');
        if !shape_ok {
            return Err(ValidationErrors::single(
                field,
                "must be a non-negative decimal amount such as \"12.50\"",
            ));
        }
        let value =
            Decimal::from_str(trimmed).map_err(|_| ValidationErrors::single(field, "is not a valid decimal amount"))?;
        if value.scale() > Self::SCALE_MAX {
            return Err(ValidationErrors::single(
                field,
                format!("must have at most {} decimal places", Self::SCALE_MAX),
            ));
        }
        if value > Decimal::from(Self::AMOUNT_MAX) {
            return Err(ValidationErrors::single(
                field,
                format!("must be at most {}", Self::AMOUNT_MAX),
            ));
        }
        Ok(Self(value))
    }

    pub fn decimal(self) -> Decimal {
        self.0
    }

    /// `self - other`, or `None` when it would be negative.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        (self.0 >= other.0).then(|| Self(self.0 - other.0))
    }

    /// `self + other` (both have at most two places, so the sum does too).
    pub fn plus(self, other: Money) -> Money {
        Self(self.0 + other.0)
    }

    /// The amount in minor units (cents).
    pub fn minor_units(self) -> i64 {
        let cents = self.0 * Decimal::from(100);
        i64::try_from(cents.trunc().mantissa() / 10i128.pow(cents.trunc().scale())).unwrap_or(i64::MAX)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_amounts() {
        assert_eq!(Money::parse("amount", "12.50").map(Money::minor_units), Ok(1250));
        assert_eq!(Money::parse("amount", "0").map(Money::minor_units), Ok(0));
        assert_eq!(
            Money::parse("amount", "7").map(|m| m.to_string()),
            Ok("7.00".to_owned())
        );
    }

    #[test]
    fn refuses_what_is_not_money() {
        for raw in [
            "",
            "-1",
            "1e3",
            "12.345",
            ".5",
            "5.",
            "1,00",
            "NaN",
            "1.2.3",
            "10000000000",
        ] {
            assert!(Money::parse("amount", raw).is_err(), "{raw:?} should be refused");
        }
    }
}
