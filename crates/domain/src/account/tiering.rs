//! Tier moves: after earning, a member whose qualifying points reach a higher tier moves up.

use chrono::{DateTime, Utc};

use super::{AccountEvent, Enrollment, LoyaltyAccount, ProgramRules, TierDowngraded, TierUpgraded};
use crate::Aggregate;

/// The upgrade (if any) that `new_events` earn the member, judged on the state after them.
pub(super) fn upgrade(
    account: &LoyaltyAccount,
    enrollment: &Enrollment,
    new_events: &[AccountEvent],
    rules: &ProgramRules,
    now: DateTime<Utc>,
) -> Option<AccountEvent> {
    if rules.tiers.tiers.is_empty() {
        return None;
    }
    let mut after = account.clone();
    for event in new_events {
        after.apply(event);
    }
    let qualifying = after.qualifying.over(rules.tiers.period, now);
    let target = rules.tiers.tier_for(qualifying)?;
    let current_level = after.tier.as_ref().map_or(0, |t| t.level);
    (target.level > current_level).then(|| {
        AccountEvent::TierUpgraded(TierUpgraded {
            customer_id: enrollment.customer_id.clone(),
            program_id: enrollment.program_id,
            from_tier_id: after.tier.as_ref().map(|t| t.tier_id.clone()),
            to_tier_id: target.tier_id.clone(),
            tier_name: target.name.clone(),
            tier_level: target.level,
            qualifying_points: qualifying,
        })
    })
}

/// The downgrade (if any) of a member whose qualifying points no longer reach their tier: after
/// a refund, or when an evaluation period rolls over. Never an upgrade.
pub(super) fn reevaluate(
    account: &LoyaltyAccount,
    enrollment: &Enrollment,
    rules: &ProgramRules,
    now: DateTime<Utc>,
    reason: &str,
) -> Option<AccountEvent> {
    let current = account.tier.as_ref()?;
    if rules.tiers.tiers.is_empty() {
        return None;
    }
    let qualifying = account.qualifying.over(rules.tiers.period, now);
    let target = rules.tiers.tier_for(qualifying);
    let target_level = target.map_or(0, |t| t.level);
    (target_level < current.level).then(|| {
        AccountEvent::TierDowngraded(TierDowngraded {
            customer_id: enrollment.customer_id.clone(),
            program_id: enrollment.program_id,
            from_tier_id: current.tier_id.clone(),
            to_tier_id: target.map(|t| t.tier_id.clone()),
            tier_name: target.map(|t| t.name.clone()),
            tier_level: target.map(|t| t.level),
            qualifying_points: qualifying,
            reason: reason.to_owned(),
        })
    })
}

/// The earning multiplier of the member's current tier (1 without one).
pub(super) fn multiplier(account: &LoyaltyAccount, rules: &ProgramRules) -> rust_decimal::Decimal {
    account
        .tier
        .as_ref()
        .and_then(|t| rules.tiers.tier(&t.tier_id))
        .map_or(rust_decimal::Decimal::ONE, crate::program::Tier::point_multiplier)
}
