//! What happened to a loyalty account. Data fields are the seed's; `loyalty.points.earned` is
//! the RIDDL `PointsAccrued` (its `totalPoints` is the new balance).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EnrollmentMethod, ReferenceType};
use crate::event::{decode_data, require_version, DomainEvent, EventDecodeError};
use crate::values::{CustomerId, ProgramId, RewardId, TransactionId};

/// `loyalty.customer.enrolled` (RIDDL `CustomerEnrolled`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerEnrolled {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub program_name: String,
    pub enrollment_method: EnrollmentMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_tier_id: Option<String>,
    pub display_name: String,
    pub email: String,
}

/// `loyalty.points.earned` (RIDDL `PointsAccrued`), version 2.0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointsEarned {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub points_earned: u64,
    /// The balance after this accrual.
    pub total_points: u64,
    pub transaction_id: TransactionId,
    pub reference_type: ReferenceType,
    /// The order (for purchases) or other reference this accrual answers to.
    #[serde(default)]
    pub reference_id: Option<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// `loyalty.points.redeemed` (RIDDL `PointsRedeemed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointsRedeemed {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub points_redeemed: u64,
    pub remaining_points: u64,
    #[serde(default)]
    pub reward_id: Option<RewardId>,
    #[serde(default)]
    pub reward_name: Option<String>,
    pub transaction_id: TransactionId,
    pub reason: String,
}

/// `loyalty.account.suspended` (RIDDL `AccountSuspended`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSuspended {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub reason: String,
}

/// `loyalty.account.reactivated` (RIDDL `AccountReactivated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountReactivated {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
}

/// Every event of the `LoyaltyAccount` aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    Enrolled(CustomerEnrolled),
    PointsEarned(PointsEarned),
    PointsRedeemed(PointsRedeemed),
    Suspended(AccountSuspended),
    Reactivated(AccountReactivated),
}

impl AccountEvent {
    pub const ENROLLED: &'static str = "loyalty.customer.enrolled";
    pub const POINTS_EARNED: &'static str = "loyalty.points.earned";
    pub const POINTS_REDEEMED: &'static str = "loyalty.points.redeemed";
    pub const SUSPENDED: &'static str = "loyalty.account.suspended";
    pub const REACTIVATED: &'static str = "loyalty.account.reactivated";

    /// The version of `loyalty.points.earned` written now; 1.0 was the seed's `{points}` shape.
    pub const POINTS_EARNED_VERSION: &'static str = "2.0";

    pub const TYPES: &'static [&'static str] = &[
        Self::ENROLLED,
        Self::POINTS_EARNED,
        Self::POINTS_REDEEMED,
        Self::SUSPENDED,
        Self::REACTIVATED,
    ];
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Enrolled(_) => Self::ENROLLED,
            Self::PointsEarned(_) => Self::POINTS_EARNED,
            Self::PointsRedeemed(_) => Self::POINTS_REDEEMED,
            Self::Suspended(_) => Self::SUSPENDED,
            Self::Reactivated(_) => Self::REACTIVATED,
        }
    }

    fn version(&self) -> &'static str {
        match self {
            Self::PointsEarned(_) => Self::POINTS_EARNED_VERSION,
            _ => "1.0",
        }
    }

    fn data(&self) -> Value {
        let data = match self {
            Self::Enrolled(e) => serde_json::to_value(e),
            Self::PointsEarned(e) => serde_json::to_value(e),
            Self::PointsRedeemed(e) => serde_json::to_value(e),
            Self::Suspended(e) => serde_json::to_value(e),
            Self::Reactivated(e) => serde_json::to_value(e),
        };
        data.unwrap_or(Value::Null)
    }

    fn decode(event_type: &str, version: &str, data: Value) -> Result<Self, EventDecodeError> {
        Ok(match event_type {
            Self::POINTS_EARNED => {
                require_version(event_type, version, &[Self::POINTS_EARNED_VERSION])?;
                Self::PointsEarned(decode_data(event_type, data)?)
            }
            Self::ENROLLED | Self::POINTS_REDEEMED | Self::SUSPENDED | Self::REACTIVATED => {
                require_version(event_type, version, &["1.0"])?;
                match event_type {
                    Self::ENROLLED => Self::Enrolled(decode_data(event_type, data)?),
                    Self::POINTS_REDEEMED => Self::PointsRedeemed(decode_data(event_type, data)?),
                    Self::SUSPENDED => Self::Suspended(decode_data(event_type, data)?),
                    _ => Self::Reactivated(decode_data(event_type, data)?),
                }
            }
            other => return Err(EventDecodeError::UnknownType(other.to_owned())),
        })
    }
}
