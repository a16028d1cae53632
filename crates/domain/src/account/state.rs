//! The `LoyaltyAccount` aggregate's state and its fold.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::{
    AccountCommand, AccountError, AccountEvent, AccountStatus, CardProgress, Lots, Pending, PendingLot, Qualifying,
};
use crate::program::RewardType;
use crate::values::{timestamp, CustomerId, Points, ProgramId};

/// The member's current tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierRef {
    pub tier_id: String,
    pub name: String,
    pub level: u32,
}

/// A reward a full card issued, usable once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedReward {
    pub issued_reward_id: uuid::Uuid,
    pub reward_type: RewardType,
    pub reward_value: String,
    /// When the member used it; a reward is used once.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "timestamp::write_opt",
        deserialize_with = "timestamp::read_opt"
    )]
    pub used_at: Option<DateTime<Utc>>,
}
use crate::Aggregate;

/// Who the account belongs to; fixed at enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Enrollment {
    pub customer_id: CustomerId,
    pub program_id: ProgramId,
    pub display_name: String,
    pub email: String,
}

/// A loyalty account as its events made it.
///
/// Stored as the account's snapshot (JSON). A field at its default value (zero, empty, no tier)
/// is left out and reads back as that default, so a new member's snapshot holds little more
/// than the enrolment. Snapshots written before, with every field, read the same. `status`,
/// `balance`, `lifetimePoints` and `redeemedPoints` are always written: builds before
/// 2026-12-06 require them, and a rolling upgrade (or a rollback) runs old and new builds on
/// one database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyAccount {
    /// `None` until the customer is enrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment: Option<Enrollment>,
    pub status: AccountStatus,
    /// Spendable points: always the sum of the ledger, never negative.
    #[serde(default)]
    pub balance: Points,
    /// Every point ever earned.
    #[serde(default)]
    pub lifetime_points: Points,
    /// Every point ever redeemed.
    #[serde(default)]
    pub redeemed_points: Points,
    /// Points taken back by refunds: deducted from the balance or cancelled while pending.
    #[serde(default, skip_serializing_if = "is_default")]
    pub reversed_points: u64,
    /// Points refunds could not take back because they were already spent.
    #[serde(default, skip_serializing_if = "is_default")]
    pub unrecovered_points: u64,
    /// Every point that expired.
    #[serde(default, skip_serializing_if = "is_default")]
    pub expired_points: u64,
    /// Purchase points inside the return window: not spendable, not qualifying yet.
    #[serde(default, skip_serializing_if = "is_default")]
    pub pending: Pending,
    /// The balance by accrual, soonest-expiring first; always sums to `balance`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub lots: Lots,
    /// Points earned, by day, for tier evaluation periods.
    #[serde(default, skip_serializing_if = "is_default")]
    pub qualifying: Qualifying,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<TierRef>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub card: CardProgress,
    /// Rewards issued by full cards and not used yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issued_rewards: Vec<IssuedReward>,
}

/// Whether a snapshot field is at its default value, and so left out of the stored JSON.
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl LoyaltyAccount {
    pub(super) fn enrollment(&self) -> Result<&Enrollment, AccountError> {
        self.enrollment.as_ref().ok_or(AccountError::NotFound)
    }

    /// The next moment this account changes without a command: pending points are released or
    /// a lot expires.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        let expiry = self.lots.iter().filter_map(|l| l.expires_at).min();
        match (self.pending.next_release(), expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The enrolment of an account that may earn or redeem now.
    pub(super) fn usable(&self) -> Result<&Enrollment, AccountError> {
        let enrollment = self.enrollment()?;
        match self.status {
            AccountStatus::Active => Ok(enrollment),
            AccountStatus::Suspended => Err(AccountError::AccountSuspended),
            AccountStatus::Closed => Err(AccountError::AccountClosed),
        }
    }
}

impl Aggregate for LoyaltyAccount {
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;

    const AGGREGATE_TYPE: &'static str = "LoyaltyAccount";

    fn due_at(&self) -> Option<DateTime<Utc>> {
        LoyaltyAccount::due_at(self)
    }

    fn handle(&self, command: AccountCommand) -> Result<Vec<AccountEvent>, AccountError> {
        match command {
            AccountCommand::Enroll(c) => super::enroll_customer::decide(self, c),
            AccountCommand::Accrue(c) => super::accrue_points::decide(self, c),
            AccountCommand::Redeem(c) => super::redeem_points::decide(self, c),
            AccountCommand::Purchase(c) => super::record_purchase::decide(self, c),
            AccountCommand::Refund(c) => super::refund_order::decide(self, c),
            AccountCommand::ReleasePending(c) => super::release_pending::decide(self, c),
            AccountCommand::ExpirePoints(c) => super::expire_points::decide(self, c),
            AccountCommand::ReviewTier(c) => super::review_tier::decide(self, c),
            AccountCommand::UseIssuedReward(c) => super::use_issued_reward::decide(self, c),
            AccountCommand::Suspend(c) => super::suspend_account::decide(self, c),
            AccountCommand::Reactivate(c) => super::reactivate_account::decide(self, c),
        }
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Enrolled(e) => {
                self.enrollment = Some(Enrollment {
                    customer_id: e.customer_id.clone(),
                    program_id: e.program_id,
                    display_name: e.display_name.clone(),
                    email: e.email.clone(),
                });
                self.status = AccountStatus::Active;
                self.tier = e.initial_tier_id.as_ref().map(|id| TierRef {
                    tier_id: id.clone(),
                    name: e.initial_tier_name.clone().unwrap_or_else(|| id.clone()),
                    level: e.initial_tier_level.unwrap_or(1),
                });
            }
            AccountEvent::PointsEarned(e) if e.pending_until.is_some() => {
                self.balance = Points::new(e.total_points);
                self.pending.add(PendingLot {
                    transaction_id: e.transaction_id,
                    points: e.points_earned,
                    release_at: e.pending_until.unwrap_or_default(),
                    expires_at: e.expires_at,
                    order_ref: e.order_ref.clone(),
                });
            }
            AccountEvent::PointsReleased(e) => {
                self.pending.release(e.transaction_id);
                self.balance = Points::new(e.total_points);
                self.lifetime_points = self
                    .lifetime_points
                    .checked_add(Points::new(e.points_released))
                    .unwrap_or(self.lifetime_points);
                self.lots.add(e.transaction_id, e.points_released, e.expires_at);
                self.qualifying.add(e.released_at, e.points_released as i64);
            }
            AccountEvent::PointsExpired(e) => {
                self.lots.expire(e.lot_transaction_id);
                self.balance = Points::new(e.remaining_points);
                self.expired_points += e.points_expired;
            }
            AccountEvent::PointsEarned(e) => {
                let earned = Points::new(e.points_earned);
                self.balance = Points::new(e.total_points);
                self.lifetime_points = self.lifetime_points.checked_add(earned).unwrap_or(self.lifetime_points);
                self.lots.add(e.transaction_id, e.points_earned, e.expires_at);
                match e.earned_at {
                    Some(at) => self.qualifying.add(at, e.points_earned as i64),
                    None => self.qualifying.lifetime += e.points_earned as i64,
                }
            }
            AccountEvent::PointsRedeemed(e) => {
                let redeemed = Points::new(e.points_redeemed);
                self.balance = Points::new(e.remaining_points);
                self.redeemed_points = self
                    .redeemed_points
                    .checked_add(redeemed)
                    .unwrap_or(self.redeemed_points);
                self.lots.take(e.points_redeemed);
            }
            AccountEvent::Suspended(_) => self.status = AccountStatus::Suspended,
            AccountEvent::Reactivated(_) => self.status = AccountStatus::Active,
            AccountEvent::PurchaseRecorded(_) => {}
            AccountEvent::CardProgressed(e) => self.card = e.card.clone(),
            AccountEvent::RewardIssued(e) => self.issued_rewards.push(IssuedReward {
                issued_reward_id: e.issued_reward_id,
                reward_type: e.reward_type,
                reward_value: e.reward_value.clone(),
                used_at: None,
            }),
            AccountEvent::IssuedRewardUsed(e) => {
                if let Some(reward) = self
                    .issued_rewards
                    .iter_mut()
                    .find(|r| r.issued_reward_id == e.issued_reward_id)
                {
                    reward.used_at = Some(e.used_at);
                }
            }
            AccountEvent::TierUpgraded(e) => {
                self.tier = Some(TierRef {
                    tier_id: e.to_tier_id.clone(),
                    name: e.tier_name.clone(),
                    level: e.tier_level,
                })
            }
            AccountEvent::PointsReversed(e) => {
                self.balance = Points::new(e.remaining_points);
                self.reversed_points += e.points_deducted + e.pending_cancelled;
                self.unrecovered_points += e.unrecovered_points;
                self.pending.cancel(&e.order_ref, e.pending_cancelled);
                self.lots.take(e.points_deducted);
                // Pending points never qualified, so only the rest stops qualifying.
                let qualified = e.points_reversed.saturating_sub(e.pending_cancelled);
                self.qualifying.add(e.reversed_at, -(qualified as i64));
            }
            AccountEvent::TierDowngraded(e) => {
                self.tier = e.to_tier_id.as_ref().map(|id| TierRef {
                    tier_id: id.clone(),
                    name: e.tier_name.clone().unwrap_or_else(|| id.clone()),
                    level: e.tier_level.unwrap_or(0),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    /// A new member: every field at its default but the enrolment and the status.
    fn new_member() -> LoyaltyAccount {
        LoyaltyAccount::from_events([enrolled()].iter())
    }

    /// Left out are the fields at their defaults, except those that builds before 2026-12-06
    /// require (they fail to load a snapshot without them): both builds share a database
    /// during a rolling upgrade.
    #[test]
    fn a_snapshot_leaves_out_the_fields_at_their_defaults_that_older_builds_can_do_without() {
        let snapshot = serde_json::to_value(new_member()).expect("serialize");
        let fields: Vec<&str> = snapshot
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            ["enrollment", "status", "balance", "lifetimePoints", "redeemedPoints"]
        );
    }

    #[test]
    fn a_snapshot_written_with_every_field_reads_the_same() {
        let account = LoyaltyAccount::from_events([enrolled(), earned(1, 50, 50)].iter());
        let mut full = serde_json::to_value(&account).expect("serialize");
        // As snapshots were written before defaults were left out.
        let defaults = serde_json::json!({
            "redeemedPoints": 0, "reversedPoints": 0, "unrecoveredPoints": 0, "expiredPoints": 0,
            "pending": [], "qualifying": {"lifetime": 0, "days": []}, "tier": null,
            "card": {"count": 0, "visits": [], "spends": [], "completed": 0}, "issuedRewards": []
        });
        for (field, value) in defaults.as_object().expect("an object") {
            full.as_object_mut()
                .expect("an object")
                .entry(field.clone())
                .or_insert_with(|| value.clone());
        }
        assert_eq!(
            serde_json::from_value::<LoyaltyAccount>(full).expect("deserialize"),
            account
        );
    }
}
