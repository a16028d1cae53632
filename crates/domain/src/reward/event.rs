//! What happened to a catalogue reward.

use serde::{Deserialize, Serialize};

use crate::event::{decode_data, require_version, DomainEvent, EventDecodeError};
use crate::program::RewardType;
use crate::values::{AccountId, CustomerId, ProgramId, RewardId, TransactionId};

/// `loyalty.reward.created`: a reward joined a program's catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardCreated {
    pub reward_id: RewardId,
    pub program_id: ProgramId,
    pub name: String,
    pub reward_type: RewardType,
    pub points_cost: u64,
    /// `null`: unlimited.
    pub stock: Option<u64>,
    /// `null`: no limit.
    pub per_customer_limit: Option<u32>,
}

/// `loyalty.reward.claimed`: a member redeemed one unit of the reward (the account's
/// `loyalty.points.redeemed` with the same `transactionId` spent its points).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardClaimed {
    pub reward_id: RewardId,
    pub program_id: ProgramId,
    pub account_id: AccountId,
    pub customer_id: CustomerId,
    pub points_cost: u64,
    /// The stock after this claim; `null` when the stock is unlimited.
    pub remaining_stock: Option<u64>,
    pub transaction_id: TransactionId,
}

/// Every event of the `Reward` aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RewardEvent {
    Created(RewardCreated),
    Claimed(RewardClaimed),
}

impl RewardEvent {
    pub const CREATED: &'static str = "loyalty.reward.created";
    pub const CLAIMED: &'static str = "loyalty.reward.claimed";

    pub const TYPES: &'static [&'static str] = &[Self::CREATED, Self::CLAIMED];
}

impl DomainEvent for RewardEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Created(_) => Self::CREATED,
            Self::Claimed(_) => Self::CLAIMED,
        }
    }

    fn version(&self) -> &'static str {
        "1.0"
    }

    fn decode<'de, D: serde::Deserializer<'de>>(
        event_type: &str,
        version: &str,
        data: D,
    ) -> Result<Self, EventDecodeError> {
        require_version(event_type, version, &["1.0"])?;
        Ok(match event_type {
            Self::CREATED => Self::Created(decode_data(event_type, data)?),
            Self::CLAIMED => Self::Claimed(decode_data(event_type, data)?),
            other => return Err(EventDecodeError::UnknownType(other.to_owned())),
        })
    }
}
