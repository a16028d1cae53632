//! Text with a length limit in characters, as the RIDDL `String(min, max)` types.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ValidationErrors;

/// Text of `MIN..=MAX` characters (after trimming), with no control characters but newlines/tabs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BoundedText<const MIN: usize, const MAX: usize>(String);

impl<const MIN: usize, const MAX: usize> BoundedText<MIN, MAX> {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationErrors> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars < MIN || chars > MAX {
            return Err(ValidationErrors::single(
                field,
                format!("must be {MIN} to {MAX} characters (got {chars})"),
            ));
        }
        if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(ValidationErrors::single(field, "must not contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MIN: usize, const MAX: usize> fmt::Display for BoundedText<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RIDDL `customerDisplayName is String(1, 100)`.
pub type DisplayName = BoundedText<1, 100>;
/// RIDDL `accrualReason` / `redemptionReason is String(1, 200)`.
pub type Reason = BoundedText<1, 200>;
/// RIDDL `accrualOrderRef is optional String(1, 50)`.
pub type OrderRef = BoundedText<1, 50>;
/// RIDDL `suspensionReason is String(1, 500)`.
pub type SuspensionReason = BoundedText<1, 500>;
/// A catalogue reward's `name`: 1 to 100 characters.
pub type RewardName = BoundedText<1, 100>;
