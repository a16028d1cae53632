//! Events and commands the reward tests are written in.

use super::*;
use crate::program::{ProgramStatus, RewardType};
use crate::values::{AccountId, CustomerId, Points, ProgramId, RewardId, RewardName, TransactionId};

pub const NAME: &str = "Free coffee";
pub const COST: u64 = 100;

pub fn reward_id() -> RewardId {
    RewardId(uuid::Uuid::from_u128(30))
}

pub fn program_id() -> ProgramId {
    ProgramId(uuid::Uuid::from_u128(1))
}

pub fn account_id() -> AccountId {
    AccountId(uuid::Uuid::from_u128(10))
}

pub fn customer_id() -> CustomerId {
    CustomerId::parse("customerId", "cust-222").expect("valid")
}

pub fn transaction_id(n: u128) -> TransactionId {
    TransactionId(uuid::Uuid::from_u128(1000 + n))
}

pub fn add(stock: Option<u64>, per_customer_limit: Option<u32>) -> RewardCommand {
    RewardCommand::Add(AddReward {
        reward_id: reward_id(),
        program_id: program_id(),
        definition: RewardDefinition {
            name: RewardName::parse("name", NAME).expect("valid"),
            reward_type: RewardType::FreeItem,
            points_cost: Points::new(COST),
            stock,
            per_customer_limit,
        },
        program_status: ProgramStatus::Active,
        catalogue_full: false,
    })
}

pub fn created(stock: Option<u64>, per_customer_limit: Option<u32>) -> RewardEvent {
    RewardEvent::Created(RewardCreated {
        reward_id: reward_id(),
        program_id: program_id(),
        name: NAME.to_owned(),
        reward_type: RewardType::FreeItem,
        points_cost: COST,
        stock,
        per_customer_limit,
    })
}

/// A claim by the fixture's member, who claimed it `claims_by_customer` times before.
pub fn claim(txn: u128, claims_by_customer: u64) -> RewardCommand {
    RewardCommand::Claim(ClaimReward {
        account_id: account_id(),
        customer_id: customer_id(),
        program_id: program_id(),
        transaction_id: transaction_id(txn),
        claims_by_customer,
    })
}

pub fn claimed(txn: u128, remaining_stock: Option<u64>) -> RewardEvent {
    RewardEvent::Claimed(RewardClaimed {
        reward_id: reward_id(),
        program_id: program_id(),
        account_id: account_id(),
        customer_id: customer_id(),
        points_cost: COST,
        remaining_stock,
        transaction_id: transaction_id(txn),
    })
}
