//! Identifiers. UUIDs wrapped per concept so an account id cannot be passed as a program id.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id (the caller's choice of randomness; the domain never calls this).
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
    };
}

uuid_id!(
    /// A tenant: one business running loyalty programs.
    BusinessId
);
uuid_id!(
    /// A loyalty program of one business.
    ProgramId
);
uuid_id!(
    /// A loyalty account: one customer's membership of one program.
    AccountId
);
uuid_id!(
    /// One point transaction (an entry of an account's ledger).
    TransactionId
);
uuid_id!(
    /// A reward of a program's catalogue.
    RewardId
);

/// The business's own identifier of its customer (RIDDL `LoyaltyCustomerId`).
///
/// The RIDDL model types it as a UUID; real point-of-sale systems also use other ids, so any
/// text of 1 to 100 characters without control characters is accepted, UUIDs included.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerId(String);

impl CustomerId {
    pub const CHARS_MAX: usize = 100;

    pub fn parse(field: &str, raw: &str) -> Result<Self, crate::ValidationErrors> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars == 0 || chars > Self::CHARS_MAX {
            return Err(crate::ValidationErrors::single(
                field,
                format!("must be 1 to {} characters", Self::CHARS_MAX),
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(crate::ValidationErrors::single(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
