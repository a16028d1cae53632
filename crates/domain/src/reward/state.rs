//! The `Reward` aggregate's state and its fold.

use serde::{Deserialize, Serialize};

use super::{RewardCommand, RewardError, RewardEvent};
use crate::program::RewardType;
use crate::values::{Points, ProgramId, RewardId};
use crate::Aggregate;

/// What the catalogue entry is; fixed when it is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardEntry {
    pub reward_id: RewardId,
    pub program_id: ProgramId,
    pub name: String,
    pub reward_type: RewardType,
    pub points_cost: Points,
    /// `None`: unlimited.
    pub stock: Option<u64>,
    /// `None`: no limit.
    pub per_customer_limit: Option<u32>,
}

/// A catalogue reward as its events made it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reward {
    /// `None` until the reward is created.
    pub entry: Option<RewardEntry>,
    /// What is left of a limited stock; `None` when unlimited. Never more than the stock.
    pub remaining_stock: Option<u64>,
    /// Units claimed so far.
    pub claimed_count: u64,
}

impl Reward {
    pub fn exists(&self) -> bool {
        self.entry.is_some()
    }

    pub(super) fn entry(&self) -> Result<&RewardEntry, RewardError> {
        self.entry.as_ref().ok_or(RewardError::NotFound)
    }
}

impl Aggregate for Reward {
    type Command = RewardCommand;
    type Event = RewardEvent;
    type Error = RewardError;

    const AGGREGATE_TYPE: &'static str = "LoyaltyReward";

    fn handle(&self, command: RewardCommand) -> Result<Vec<RewardEvent>, RewardError> {
        match command {
            RewardCommand::Add(c) => super::add_reward::decide(self, c),
            RewardCommand::Claim(c) => super::claim_reward::decide(self, c),
        }
    }

    fn apply(&mut self, event: &RewardEvent) {
        match event {
            RewardEvent::Created(e) => {
                self.entry = Some(RewardEntry {
                    reward_id: e.reward_id,
                    program_id: e.program_id,
                    name: e.name.clone(),
                    reward_type: e.reward_type,
                    points_cost: Points::new(e.points_cost),
                    stock: e.stock,
                    per_customer_limit: e.per_customer_limit,
                });
                self.remaining_stock = e.stock;
                self.claimed_count = 0;
            }
            RewardEvent::Claimed(e) => {
                self.remaining_stock = e.remaining_stock;
                self.claimed_count = self.claimed_count.saturating_add(1);
            }
        }
    }
}
