//! What can be asked of a catalogue reward, with the facts from outside the aggregate that each
//! decision needs passed in explicitly.

use super::RewardDefinition;
use crate::program::ProgramStatus;
use crate::values::{AccountId, CustomerId, ProgramId, RewardId, TransactionId};

/// A command to the `Reward` aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum RewardCommand {
    Add(AddReward),
    Claim(ClaimReward),
}

/// Put a reward in a program's catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct AddReward {
    pub reward_id: RewardId,
    pub program_id: ProgramId,
    pub definition: RewardDefinition,
    /// The program's status now: an ENDED program takes no new rewards.
    pub program_status: ProgramStatus,
    /// Whether the program's catalogue already holds as many rewards as it may.
    pub catalogue_full: bool,
}

/// A member takes one unit of the reward (the points are spent on the account, in the same
/// transaction).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimReward {
    pub account_id: AccountId,
    pub customer_id: CustomerId,
    /// The program of the claiming account: a reward of another program is not found.
    pub program_id: ProgramId,
    /// The redemption's ledger entry.
    pub transaction_id: TransactionId,
    /// How often this customer already claimed this reward.
    pub claims_by_customer: u64,
}
