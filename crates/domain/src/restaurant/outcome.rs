//! What became of one upstream payment.

use serde::{Deserialize, Serialize};

/// The answer to every payment an adaptor receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentOutcome {
    /// Points were earned.
    Accrued,
    /// This payment was already received (by this path or the other).
    Duplicate,
    /// Its location does not run the loyalty program (yet): counted, not accrued.
    LocationNotEnabled,
    /// No member was known for it: kept for a late claim.
    NoAccount,
}

impl PaymentOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accrued => "ACCRUED",
            Self::Duplicate => "DUPLICATE",
            Self::LocationNotEnabled => "LOCATION_NOT_ENABLED",
            Self::NoAccount => "NO_ACCOUNT",
        }
    }
}
