//! Cards: `PUNCH_CARD`, `STAMP_CARD`, `VISIT_FREQUENCY` and `AMOUNT_SPENT` rules advance a card
//! with every purchase; a full card issues the configured reward and the next card starts.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::program::{RewardType, RuleConfig};
use crate::values::Money;

/// Where a member's current card stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardProgress {
    /// Punches or stamps on the current card.
    #[serde(default)]
    pub count: u32,
    /// Visits inside the rule's window (`VISIT_FREQUENCY`).
    #[serde(default)]
    pub visits: Vec<DateTime<Utc>>,
    /// Spends inside the rule's window (`AMOUNT_SPENT`).
    #[serde(default)]
    pub spends: Vec<(DateTime<Utc>, Decimal)>,
    /// Cards completed so far.
    #[serde(default)]
    pub completed: u32,
}

/// What one purchase did to the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardStep {
    pub card: CardProgress,
    /// `PUNCHES | STAMPS | VISITS | AMOUNT`.
    pub unit: &'static str,
    /// Progress on the current card after this purchase (0 after a completed card).
    pub progress: String,
    pub target: String,
    /// The reward a full card issued.
    pub reward: Option<(RewardType, String)>,
}

/// Advance the card for a purchase of `amount` at `at`; `None` for rules without cards.
pub fn advance(card: &CardProgress, rule: &RuleConfig, amount: Money, at: DateTime<Utc>) -> Option<CardStep> {
    let mut next = card.clone();
    let (unit, progress, target, reward) = match rule {
        RuleConfig::PunchCard(c) => {
            next.count += 1;
            let full = next.count >= c.required_punches;
            if full {
                next.count = 0;
            }
            (
                "PUNCHES",
                next.count.to_string(),
                c.required_punches.to_string(),
                full.then(|| (c.reward_type, c.reward_value.clone())),
            )
        }
        RuleConfig::StampCard(c) => {
            next.count += c.stamps_per_visit;
            let full = next.count >= c.required_stamps;
            if full {
                next.count -= c.required_stamps;
            }
            (
                "STAMPS",
                next.count.to_string(),
                c.required_stamps.to_string(),
                full.then(|| (c.reward_type, c.reward_value.clone())),
            )
        }
        RuleConfig::VisitFrequency(c) => {
            let from = at - Duration::days(i64::from(c.period_days));
            next.visits.retain(|v| *v > from);
            next.visits.push(at);
            let full = next.visits.len() >= c.required_visits as usize;
            if full {
                next.visits.clear();
            }
            (
                "VISITS",
                next.visits.len().to_string(),
                c.required_visits.to_string(),
                full.then(|| (c.reward_type, c.reward_value.clone())),
            )
        }
        RuleConfig::AmountSpent(c) => {
            let from = at - Duration::days(i64::from(c.period_days));
            next.spends.retain(|(when, _)| *when > from);
            next.spends.push((at, amount.decimal()));
            let spent: Decimal = next.spends.iter().map(|(_, a)| *a).sum();
            let full = spent >= c.target_amount;
            if full {
                next.spends.clear();
            }
            let shown: Decimal = next.spends.iter().map(|(_, a)| *a).sum();
            (
                "AMOUNT",
                format!("{shown:.2}"),
                format!("{:.2}", c.target_amount),
                full.then(|| (c.reward_type, c.reward_value.clone())),
            )
        }
        RuleConfig::PointsBased(_) | RuleConfig::TierBased(_) => return None,
    };
    if reward.is_some() {
        next.completed += 1;
    }
    Some(CardStep {
        card: next,
        unit,
        progress,
        target,
        reward,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::program::{AmountSpentConfig, PunchCardConfig, StampCardConfig, VisitFrequencyConfig};

    fn at(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).single().expect("date") + Duration::days(day)
    }

    fn money(raw: &str) -> Money {
        Money::parse("amount", raw).expect("valid")
    }

    fn run(rule: &RuleConfig, purchases: &[(i64, &str)]) -> Vec<CardStep> {
        let mut card = CardProgress::default();
        purchases
            .iter()
            .map(|(day, amount)| {
                let step = advance(&card, rule, money(amount), at(*day)).expect("card rule");
                card = step.card.clone();
                step
            })
            .collect()
    }

    #[test]
    fn a_punch_card_rewards_every_nth_purchase() {
        let rule = RuleConfig::PunchCard(PunchCardConfig {
            required_punches: 3,
            reward_type: RewardType::FreeItem,
            reward_value: "Coffee".to_owned(),
        });
        let steps = run(&rule, &[(0, "1"), (0, "1"), (0, "1"), (1, "1")]);
        let rewards: Vec<bool> = steps.iter().map(|s| s.reward.is_some()).collect();
        assert_eq!(rewards, [false, false, true, false]);
        assert_eq!(steps[3].progress, "1");
        assert_eq!(steps[3].card.completed, 1);
    }

    #[test]
    fn stamps_carry_over_to_the_next_card() {
        let rule = RuleConfig::StampCard(StampCardConfig {
            required_stamps: 5,
            stamps_per_visit: 2,
            reward_type: RewardType::Points,
            reward_value: "100".to_owned(),
        });
        let steps = run(&rule, &[(0, "1"), (0, "1"), (0, "1")]);
        assert!(steps[2].reward.is_some());
        assert_eq!(steps[2].progress, "1");
    }

    #[test]
    fn visits_count_only_inside_the_window() {
        let rule = RuleConfig::VisitFrequency(VisitFrequencyConfig {
            required_visits: 3,
            period_days: 7,
            reward_type: RewardType::DiscountPercentage,
            reward_value: "10".to_owned(),
        });
        let steps = run(&rule, &[(0, "1"), (1, "1"), (10, "1"), (11, "1"), (12, "1")]);
        let rewards: Vec<bool> = steps.iter().map(|s| s.reward.is_some()).collect();
        assert_eq!(rewards, [false, false, false, false, true]);
    }

    #[test]
    fn spending_inside_the_window_reaches_the_target() {
        let rule = RuleConfig::AmountSpent(AmountSpentConfig {
            target_amount: Decimal::from(100),
            period_days: 30,
            reward_type: RewardType::DiscountAmount,
            reward_value: "5.00".to_owned(),
        });
        let steps = run(&rule, &[(0, "60.00"), (40, "30.00"), (41, "69.99"), (42, "0.01")]);
        let rewards: Vec<bool> = steps.iter().map(|s| s.reward.is_some()).collect();
        assert_eq!(rewards, [false, false, false, true]);
        assert_eq!(steps[2].progress, "99.99");
        assert_eq!(steps[2].target, "100.00");
    }
}
