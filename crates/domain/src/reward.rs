//! The `Reward` aggregate: one entry of a program's rewards catalogue, with its stock. Claiming a
//! reward appends to it with optimistic concurrency, so its stock can never be given out twice.

mod add_reward;
mod claim_reward;
mod command;
mod definition;
mod error;
mod event;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod invariants;
mod state;

pub use command::{AddReward, ClaimReward, RewardCommand};
pub use definition::{RewardDefinition, PER_CUSTOMER_LIMIT_MAX, REWARD_STOCK_MAX};
pub use error::RewardError;
pub use event::{RewardClaimed, RewardCreated, RewardEvent};
pub use state::{Reward, RewardEntry};
