//! What happened to a loyalty account. Data fields are the seed's; `loyalty.points.earned` is
//! the RIDDL `PointsAccrued` (its `totalPoints` is the new balance).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CardProgress, EnrollmentMethod, ReferenceType};
use crate::event::{decode_data, require_version, DomainEvent, EventDecodeError};
use crate::program::{RewardType, RuleType};
use crate::values::{timestamp, Money};
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_tier_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_tier_level: Option<u32>,
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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "timestamp::write_opt"
    )]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the points were earned (what tier periods count by); absent in events written
    /// before it was added, which then count for the lifetime period only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "timestamp::write_opt"
    )]
    pub earned_at: Option<DateTime<Utc>>,
    /// Set when the points are pending until the program's return window closes: they are then
    /// not in `totalPoints` (which stays the spendable balance) until `loyalty.points.released`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "timestamp::write_opt"
    )]
    pub pending_until: Option<DateTime<Utc>>,
}

/// `loyalty.points.released`: pending points became available when their return window closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointsReleased {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    /// The accrual (its `loyalty.points.earned` transactionId) whose points are released.
    pub transaction_id: TransactionId,
    pub points_released: u64,
    /// The balance after the release.
    pub total_points: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "timestamp::write_opt"
    )]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "timestamp::write")]
    pub released_at: DateTime<Utc>,
}

/// `loyalty.points.expired`: what was left of one lot expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointsExpired {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    /// The ledger entry of this expiry.
    pub transaction_id: TransactionId,
    /// The accrual whose lot expired.
    pub lot_transaction_id: TransactionId,
    pub points_expired: u64,
    pub remaining_points: u64,
    /// When the lot was due.
    #[serde(serialize_with = "timestamp::write")]
    pub expiration_date: DateTime<Utc>,
}

/// `loyalty.purchase.recorded`: a purchase was counted for the member (with or without points).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseRecorded {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub order_ref: String,
    pub amount: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    /// Points the purchase earned (0 for card rules and purchases that do not qualify).
    pub points_earned: u64,
    pub transaction_id: TransactionId,
}

/// `loyalty.card.progressed`: a purchase moved the member's card forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardProgressed {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub rule_type: RuleType,
    /// `PUNCHES | STAMPS | VISITS | AMOUNT`.
    pub unit: String,
    pub progress: String,
    pub target: String,
    pub completed_cards: u32,
    /// The card after this purchase.
    pub card: CardProgress,
}

/// `loyalty.reward.issued`: a full card gave the member a reward they can use once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewardIssued {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub issued_reward_id: uuid::Uuid,
    pub reward_type: RewardType,
    pub reward_value: String,
    pub rule_type: RuleType,
    pub order_ref: String,
}

/// `loyalty.reward.used`: the member used a reward a full card issued them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedRewardUsed {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub issued_reward_id: uuid::Uuid,
    pub reward_type: RewardType,
    pub reward_value: String,
    #[serde(serialize_with = "timestamp::write")]
    pub used_at: DateTime<Utc>,
}

/// `loyalty.tier.upgraded`: qualifying points crossed a higher tier's threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierUpgraded {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    #[serde(default)]
    pub from_tier_id: Option<String>,
    pub to_tier_id: String,
    pub tier_name: String,
    pub tier_level: u32,
    pub qualifying_points: u64,
}

/// `loyalty.points.reversed`: a refund took back the points its order earned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PointsReversed {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub order_ref: String,
    pub transaction_id: TransactionId,
    pub refund_amount: Money,
    /// Points the refund takes back (prorated, floor).
    pub points_reversed: u64,
    /// The part of them taken from the balance.
    pub points_deducted: u64,
    /// The part already spent, which the balance (never negative) could not give back.
    pub unrecovered_points: u64,
    /// The part that was still pending, simply cancelled.
    #[serde(default)]
    pub pending_cancelled: u64,
    pub remaining_points: u64,
    pub reason: String,
    #[serde(serialize_with = "timestamp::write")]
    pub reversed_at: DateTime<Utc>,
}

/// `loyalty.tier.downgraded`: qualifying points fell below the member's tier (a refund, or a
/// new evaluation period).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierDowngraded {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub from_tier_id: String,
    /// `None` when the member falls below every tier.
    #[serde(default)]
    pub to_tier_id: Option<String>,
    #[serde(default)]
    pub tier_name: Option<String>,
    #[serde(default)]
    pub tier_level: Option<u32>,
    pub qualifying_points: u64,
    /// `REFUND | PERIOD_ROLLOVER`.
    pub reason: String,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AccountEvent {
    Enrolled(CustomerEnrolled),
    PointsEarned(PointsEarned),
    PointsRedeemed(PointsRedeemed),
    Suspended(AccountSuspended),
    Reactivated(AccountReactivated),
    PurchaseRecorded(PurchaseRecorded),
    CardProgressed(CardProgressed),
    RewardIssued(RewardIssued),
    TierUpgraded(TierUpgraded),
    PointsReversed(PointsReversed),
    TierDowngraded(TierDowngraded),
    PointsReleased(PointsReleased),
    PointsExpired(PointsExpired),
    IssuedRewardUsed(IssuedRewardUsed),
}

impl AccountEvent {
    pub const ENROLLED: &'static str = "loyalty.customer.enrolled";
    pub const POINTS_EARNED: &'static str = "loyalty.points.earned";
    pub const POINTS_REDEEMED: &'static str = "loyalty.points.redeemed";
    pub const SUSPENDED: &'static str = "loyalty.account.suspended";
    pub const REACTIVATED: &'static str = "loyalty.account.reactivated";
    pub const PURCHASE_RECORDED: &'static str = "loyalty.purchase.recorded";
    pub const CARD_PROGRESSED: &'static str = "loyalty.card.progressed";
    pub const REWARD_ISSUED: &'static str = "loyalty.reward.issued";
    pub const TIER_UPGRADED: &'static str = "loyalty.tier.upgraded";
    pub const POINTS_REVERSED: &'static str = "loyalty.points.reversed";
    pub const TIER_DOWNGRADED: &'static str = "loyalty.tier.downgraded";
    pub const POINTS_RELEASED: &'static str = "loyalty.points.released";
    pub const POINTS_EXPIRED: &'static str = "loyalty.points.expired";
    pub const REWARD_USED: &'static str = "loyalty.reward.used";

    /// The version of `loyalty.points.earned` written now; 1.0 was the seed's `{points}` shape.
    pub const POINTS_EARNED_VERSION: &'static str = "2.0";

    pub const TYPES: &'static [&'static str] = &[
        Self::ENROLLED,
        Self::POINTS_EARNED,
        Self::POINTS_REDEEMED,
        Self::SUSPENDED,
        Self::REACTIVATED,
        Self::PURCHASE_RECORDED,
        Self::CARD_PROGRESSED,
        Self::REWARD_ISSUED,
        Self::TIER_UPGRADED,
        Self::POINTS_REVERSED,
        Self::TIER_DOWNGRADED,
        Self::POINTS_RELEASED,
        Self::POINTS_EXPIRED,
        Self::REWARD_USED,
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
            Self::PurchaseRecorded(_) => Self::PURCHASE_RECORDED,
            Self::CardProgressed(_) => Self::CARD_PROGRESSED,
            Self::RewardIssued(_) => Self::REWARD_ISSUED,
            Self::TierUpgraded(_) => Self::TIER_UPGRADED,
            Self::PointsReversed(_) => Self::POINTS_REVERSED,
            Self::TierDowngraded(_) => Self::TIER_DOWNGRADED,
            Self::PointsReleased(_) => Self::POINTS_RELEASED,
            Self::PointsExpired(_) => Self::POINTS_EXPIRED,
            Self::IssuedRewardUsed(_) => Self::REWARD_USED,
        }
    }

    fn version(&self) -> &'static str {
        match self {
            Self::PointsEarned(_) => Self::POINTS_EARNED_VERSION,
            _ => "1.0",
        }
    }

    fn decode<'de, D: serde::Deserializer<'de>>(
        event_type: &str,
        version: &str,
        data: D,
    ) -> Result<Self, EventDecodeError> {
        Ok(match event_type {
            Self::POINTS_EARNED => {
                require_version(event_type, version, &[Self::POINTS_EARNED_VERSION])?;
                Self::PointsEarned(decode_data(event_type, data)?)
            }
            other => {
                require_version(event_type, version, &["1.0"])?;
                match other {
                    Self::ENROLLED => Self::Enrolled(decode_data(event_type, data)?),
                    Self::POINTS_REDEEMED => Self::PointsRedeemed(decode_data(event_type, data)?),
                    Self::SUSPENDED => Self::Suspended(decode_data(event_type, data)?),
                    Self::REACTIVATED => Self::Reactivated(decode_data(event_type, data)?),
                    Self::PURCHASE_RECORDED => Self::PurchaseRecorded(decode_data(event_type, data)?),
                    Self::CARD_PROGRESSED => Self::CardProgressed(decode_data(event_type, data)?),
                    Self::REWARD_ISSUED => Self::RewardIssued(decode_data(event_type, data)?),
                    Self::TIER_UPGRADED => Self::TierUpgraded(decode_data(event_type, data)?),
                    Self::POINTS_REVERSED => Self::PointsReversed(decode_data(event_type, data)?),
                    Self::TIER_DOWNGRADED => Self::TierDowngraded(decode_data(event_type, data)?),
                    Self::POINTS_RELEASED => Self::PointsReleased(decode_data(event_type, data)?),
                    Self::POINTS_EXPIRED => Self::PointsExpired(decode_data(event_type, data)?),
                    Self::REWARD_USED => Self::IssuedRewardUsed(decode_data(event_type, data)?),
                    unknown => return Err(EventDecodeError::UnknownType(unknown.to_owned())),
                }
            }
        })
    }
}
