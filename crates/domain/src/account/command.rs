//! The five RIDDL commands of a loyalty account, with the facts from outside the aggregate that
//! each decision needs (the program's status, whether an email is taken) passed in explicitly.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::program::{Program, ProgramStatus, RuleConfig, TierPolicy};
use crate::values::{
    AccountId, CustomerId, DisplayName, Email, Money, OrderRef, Points, ProgramId, Reason, RewardId, SuspensionReason,
    TransactionId,
};

/// A command to the `LoyaltyAccount` aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountCommand {
    Enroll(EnrollCustomer),
    Accrue(AccruePoints),
    Redeem(RedeemPoints),
    Purchase(RecordPurchase),
    Refund(RefundOrder),
    ReleasePending(ReleasePending),
    ExpirePoints(ExpirePoints),
    ReviewTier(ReviewTier),
    UseIssuedReward(UseIssuedReward),
    Suspend(SuspendAccount),
    Reactivate(ReactivateAccount),
}

/// How a customer joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnrollmentMethod {
    #[default]
    Manual,
    Auto,
    #[serde(rename = "SELF")]
    SelfService,
}

impl EnrollmentMethod {
    pub const NAMES: &'static [&'static str] = &["MANUAL", "AUTO", "SELF"];
}

impl FromStr for EnrollmentMethod {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "MANUAL" => Self::Manual,
            "AUTO" => Self::Auto,
            "SELF" => Self::SelfService,
            _ => return Err(()),
        })
    }
}

/// What an account decision needs to know about its program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramFacts {
    pub program_id: ProgramId,
    pub name: String,
    pub status: ProgramStatus,
    pub self_enroll_enabled: bool,
    /// `Some(true)` when `maxEnrollments` is set and reached.
    pub enrollment_full: bool,
    /// The tier a new member starts in: the lowest, when it starts at 0 points.
    pub initial_tier: Option<crate::program::Tier>,
}

/// What an earning decision needs to know about its program.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramRules {
    pub status: ProgramStatus,
    pub rule: Option<RuleConfig>,
    pub tiers: TierPolicy,
    pub point_expiry_days: Option<u32>,
    /// Purchase points stay pending (not spendable, not qualifying) this many days.
    pub pending_days: Option<u32>,
}

impl ProgramRules {
    pub fn of(program: &Program) -> Self {
        Self {
            status: program.status,
            rule: program.definition.rule().cloned(),
            tiers: TierPolicy::of(&program.definition),
            point_expiry_days: program.definition.point_expiry_days,
            pending_days: program.definition.pending_days,
        }
    }
}

/// RIDDL `EnrollCustomer`.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrollCustomer {
    pub account_id: AccountId,
    pub customer_id: CustomerId,
    pub display_name: DisplayName,
    pub email: Email,
    pub method: EnrollmentMethod,
    pub program: ProgramFacts,
    /// Whether another account of this program already has this email (any letter case).
    pub email_taken: bool,
}

/// Why points were earned (the seed's `referenceType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReferenceType {
    /// Granted by hand through the accruals endpoint.
    #[default]
    Manual,
    /// Earned by a purchase.
    Purchase,
    /// A program's signup bonus.
    SignupBonus,
    /// A full card whose reward is points.
    Reward,
}

/// RIDDL `AccruePoints`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccruePoints {
    pub transaction_id: TransactionId,
    pub points: Points,
    pub reason: Reason,
    pub order_ref: Option<OrderRef>,
    pub reference_type: ReferenceType,
    pub program: ProgramRules,
    pub now: DateTime<Utc>,
}

/// A purchase: points by the program's rule and the member's tier, or progress on a card.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPurchase {
    pub transaction_id: TransactionId,
    pub order_ref: OrderRef,
    pub amount: Money,
    pub location_id: Option<String>,
    pub categories: Vec<String>,
    pub program: ProgramRules,
    pub now: DateTime<Utc>,
    /// The id a reward issued by a full card gets.
    pub issued_reward_id: uuid::Uuid,
    /// Whether this account already has a purchase with this `orderRef`.
    pub order_seen: bool,
}

/// A catalogue reward a redemption is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewardRef {
    pub reward_id: RewardId,
    pub name: String,
}

/// RIDDL `RedeemPoints`.
#[derive(Debug, Clone, PartialEq)]
pub struct RedeemPoints {
    pub transaction_id: TransactionId,
    pub points: Points,
    pub reason: Reason,
    pub reward: Option<RewardRef>,
    pub program_status: ProgramStatus,
}

/// RIDDL `SuspendAccount`.
#[derive(Debug, Clone, PartialEq)]
pub struct SuspendAccount {
    pub reason: SuspensionReason,
    pub program_status: ProgramStatus,
}

/// RIDDL `ReactivateAccount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactivateAccount {
    pub program_status: ProgramStatus,
}

/// What the store knows of an order a refund is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    /// The purchase amount.
    pub amount: Money,
    /// Points the purchase earned.
    pub points_earned: u64,
    /// Amount refunded by earlier refunds.
    pub refunded: Money,
    /// Points reversed by earlier refunds.
    pub points_reversed: u64,
}

/// A refund of (part of) an order: gives back the points it earned.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundOrder {
    pub transaction_id: TransactionId,
    pub order_ref: OrderRef,
    /// `None` refunds whatever is left of the order.
    pub amount: Option<Money>,
    pub order: OrderFacts,
    pub program: ProgramRules,
    pub now: DateTime<Utc>,
}

/// Make the pending points whose return window closed by `as_of` available.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasePending {
    pub as_of: DateTime<Utc>,
    pub program: ProgramRules,
}

/// Expire what is left of every lot due by `as_of`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpirePoints {
    pub as_of: DateTime<Utc>,
    /// The account's own id, from which its expiries' ledger ids begin (see
    /// [`super::expire_points::expiry_transaction_id`]).
    pub account_id: AccountId,
}

/// Re-evaluate the member's tier at `as_of` (an evaluation period rolled over).
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewTier {
    pub as_of: DateTime<Utc>,
    pub program: ProgramRules,
}

/// The member uses a reward a full card issued them (once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseIssuedReward {
    pub issued_reward_id: uuid::Uuid,
    pub program_status: ProgramStatus,
    pub now: DateTime<Utc>,
}
