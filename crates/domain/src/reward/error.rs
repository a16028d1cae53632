//! Why a reward command was refused.

use serde::{Deserialize, Serialize};

/// A catalogue rule said no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RewardError {
    #[error("reward not found")]
    NotFound,
    #[error("a reward with this id already exists")]
    AlreadyExists,
    #[error("the program has ENDED; its catalogue takes no new rewards")]
    ProgramEnded,
    #[error("the program's catalogue holds as many rewards as it may")]
    CatalogueFull,
    #[error("the reward is out of stock")]
    OutOfStock,
    #[error("this customer has redeemed this reward {limit} time(s), its per-customer limit")]
    LimitReached { limit: u32 },
}

impl RewardError {
    /// The stable machine-readable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "REWARD_NOT_FOUND",
            Self::AlreadyExists => "REWARD_EXISTS",
            Self::ProgramEnded => "PROGRAM_NOT_ACTIVE",
            Self::CatalogueFull => "CATALOGUE_FULL",
            Self::OutOfStock => "REWARD_OUT_OF_STOCK",
            Self::LimitReached { .. } => "REWARD_LIMIT_REACHED",
        }
    }
}
