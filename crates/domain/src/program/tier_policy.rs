//! Which tiers a program has and over which period members qualify for them.

use serde::{Deserialize, Serialize};

use super::{EvaluationPeriod, ProgramDefinition, RuleConfig, Tier};

/// The tiers of a program, lowest first, and the period qualifying points are counted over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierPolicy {
    pub tiers: Vec<Tier>,
    pub period: EvaluationPeriod,
}

impl Default for TierPolicy {
    fn default() -> Self {
        Self {
            tiers: Vec::new(),
            period: EvaluationPeriod::Lifetime,
        }
    }
}

impl TierPolicy {
    /// A `TIER_BASED` rule's tiers and period; otherwise the program's own `tiers`, counted over
    /// the member's lifetime.
    pub fn of(definition: &ProgramDefinition) -> Self {
        match definition.rule() {
            Some(RuleConfig::TierBased(config)) => Self {
                tiers: sorted(config.tiers.clone()),
                period: config.evaluation_period,
            },
            _ => Self {
                tiers: sorted(definition.tiers.clone()),
                period: EvaluationPeriod::Lifetime,
            },
        }
    }

    /// The highest tier whose `minPoints` the qualifying points reach.
    pub fn tier_for(&self, qualifying: u64) -> Option<&Tier> {
        self.tiers.iter().rev().find(|t| t.min_points <= qualifying)
    }

    pub fn tier(&self, tier_id: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.tier_id == tier_id)
    }
}

fn sorted(mut tiers: Vec<Tier>) -> Vec<Tier> {
    tiers.sort_by_key(|t| t.min_points);
    tiers
}
