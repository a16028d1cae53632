//! Points: whole, non-negative numbers. No subtraction that could go below zero.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationErrors;

/// The most points one accrual, redemption or adjustment may move.
pub const POINTS_PER_COMMAND_MAX: u64 = 1_000_000_000;

/// A non-negative number of points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Points(u64);

impl Points {
    pub const ZERO: Points = Points(0);

    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    pub const fn value(self) -> u64 {
        self.0
    }

    /// A command's points: a natural number > 0 and at most [`POINTS_PER_COMMAND_MAX`].
    pub fn parse_positive(field: &str, raw: i64) -> Result<Self, ValidationErrors> {
        if raw <= 0 {
            return Err(ValidationErrors::single(field, "must be a whole number greater than 0"));
        }
        let value = raw as u64;
        if value > POINTS_PER_COMMAND_MAX {
            return Err(ValidationErrors::single(
                field,
                format!("must be at most {POINTS_PER_COMMAND_MAX}"),
            ));
        }
        Ok(Self(value))
    }

    pub fn checked_add(self, other: Points) -> Option<Points> {
        self.0.checked_add(other.0).map(Points)
    }

    pub fn checked_sub(self, other: Points) -> Option<Points> {
        self.0.checked_sub(other.0).map(Points)
    }

    pub fn saturating_sub(self, other: Points) -> Points {
        Points(self.0.saturating_sub(other.0))
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
