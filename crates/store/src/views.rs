//! Read models as clients see them. Every view is read from a projection, never by replaying
//! events.

use chrono::{DateTime, Utc};
use loyalty_domain::values::timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::StoredEvent;

/// One ledger entry (RIDDL `PointTransaction`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    pub transaction_id: Uuid,
    /// `EARN | REDEEM | EXPIRE | REVERSAL | ADJUSTMENT`.
    #[serde(rename = "type")]
    #[schema(example = "EARN")]
    pub transaction_type: String,
    /// Signed: positive for earning, negative for spending.
    pub points_changed: i64,
    pub new_balance: i64,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward_id: Option<Uuid>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "timestamp::write_opt"
    )]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "timestamp::write")]
    pub timestamp: DateTime<Utc>,
    /// On a `REVERSAL`: points the refund should have taken back but could not, because they
    /// were already spent (the balance never goes below zero).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrecovered_points: Option<i64>,
}

/// The member's current tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TierView {
    pub tier_id: String,
    pub name: String,
    pub level: u32,
}

/// A reward a full card issued to the member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedRewardView {
    pub issued_reward_id: Uuid,
    #[schema(example = "FREE_ITEM")]
    pub reward_type: String,
    pub reward_value: String,
    pub order_ref: String,
    pub issued_at: DateTime<Utc>,
}

/// A loyalty account with its balance and newest transactions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub account_id: Uuid,
    pub program_id: Uuid,
    pub customer_id: String,
    pub display_name: String,
    pub email: String,
    /// `ACTIVE | SUSPENDED | CLOSED`.
    #[schema(example = "ACTIVE")]
    pub status: String,
    pub point_balance: i64,
    pub lifetime_points: i64,
    pub pending_points: i64,
    /// Points that expire within the next 30 days.
    pub expiring_soon: i64,
    pub expiring_at: Option<DateTime<Utc>>,
    pub tier: Option<TierView>,
    /// Card progress (`PUNCH_CARD`, `STAMP_CARD`, `VISIT_FREQUENCY`, `AMOUNT_SPENT` programs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub progress: Option<Value>,
    /// Rewards issued by full cards, not used yet.
    pub issued_rewards: Vec<IssuedRewardView>,
    /// The newest 10 transactions, newest first.
    pub recent_transactions: Vec<TransactionView>,
    pub enrolled_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The number of events in the account's history.
    pub version: i64,
}

/// A loyalty program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgramView {
    pub program_id: Uuid,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `DRAFT | ACTIVE | PAUSED | ENDED`.
    #[schema(example = "DRAFT")]
    pub status: String,
    #[schema(example = "POINTS_BASED")]
    pub rule_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub rule_config: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    pub tiers: Value,
    pub point_expiry_days: Option<u32>,
    pub pending_days: Option<u32>,
    pub signup_bonus_points: Option<u64>,
    #[schema(value_type = Object)]
    pub enrollment_settings: Value,
    pub location_ids: Vec<String>,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// A reward of a program's catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RewardView {
    pub reward_id: Uuid,
    pub program_id: Uuid,
    pub name: String,
    /// `FREE_ITEM | DISCOUNT_PERCENTAGE | DISCOUNT_AMOUNT | POINTS | TIER_UPGRADE`.
    #[schema(example = "FREE_ITEM")]
    pub reward_type: String,
    /// Exactly what one redemption spends.
    pub points_cost: i64,
    /// The stock it started with; `null`: unlimited.
    pub stock: Option<i64>,
    /// What is left of the stock; `null`: unlimited.
    pub remaining_stock: Option<i64>,
    /// How often one customer may redeem it; `null`: no limit.
    pub per_customer_limit: Option<i64>,
    /// Units redeemed so far.
    pub claimed_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The number of events in the reward's history.
    pub version: i64,
}

/// A page of items, newest first, with the cursor of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionPage {
    pub items: Vec<TransactionView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// What a request for a page of an account's transactions found.
#[derive(Debug, Clone, PartialEq)]
pub enum TransactionPageAnswer {
    Page(TransactionPage),
    /// The account is not the business's.
    NoAccount,
    /// The cursor is not the position of one of the account's transactions, so not a
    /// `nextCursor` of its pages.
    ForeignCursor,
}

/// A list of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

/// A slice of the business's event feed in commit order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventFeed {
    pub items: Vec<StoredEvent>,
    /// The position of the last item (or the `after` given when there is none): pass it as `after`.
    pub last_position: i64,
}
