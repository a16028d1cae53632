//! `RewardType`: what a member gets.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a reward gives the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RewardType {
    FreeItem,
    DiscountPercentage,
    DiscountAmount,
    Points,
    TierUpgrade,
}

impl RewardType {
    pub const NAMES: &'static [&'static str] = &[
        "FREE_ITEM",
        "DISCOUNT_PERCENTAGE",
        "DISCOUNT_AMOUNT",
        "POINTS",
        "TIER_UPGRADE",
    ];
}

impl FromStr for RewardType {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "FREE_ITEM" => Self::FreeItem,
            "DISCOUNT_PERCENTAGE" => Self::DiscountPercentage,
            "DISCOUNT_AMOUNT" => Self::DiscountAmount,
            "POINTS" => Self::Points,
            "TIER_UPGRADE" => Self::TierUpgrade,
            _ => return Err(()),
        })
    }
}
