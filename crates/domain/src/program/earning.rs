//! How a purchase turns into points under a program's rule: exact decimals, floor, cap.

use rust_decimal::Decimal;

use super::RuleConfig;
use crate::values::Money;

/// Points a purchase earns before any card progress: `POINTS_BASED` and `TIER_BASED` rules.
///
/// - `POINTS_BASED`: floor(amount × pointsPerDollar × multiplier); 0 under `minPurchaseAmount`;
///   0 when any of the purchase's categories is excluded (the amount cannot be split by
///   category, so an excluded item keeps the whole purchase from earning); capped by
///   `maxPointsPerTransaction`.
/// - `TIER_BASED`: one point per whole currency unit, times the member's tier multiplier.
/// - Card rules (`PUNCH_CARD`, `STAMP_CARD`, `VISIT_FREQUENCY`, `AMOUNT_SPENT`) earn no points per
///   purchase: they advance a card instead (see `account::card`).
pub fn purchase_points(rule: &RuleConfig, amount: Money, categories: &[String], multiplier: Decimal) -> u64 {
    let exact = match rule {
        RuleConfig::PointsBased(config) => {
            if amount.decimal() < config.min_purchase_amount {
                return 0;
            }
            let excluded = categories.iter().any(|c| {
                config
                    .excluded_categories
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(c.trim()))
            });
            if excluded {
                return 0;
            }
            amount.decimal() * config.points_per_dollar * multiplier
        }
        RuleConfig::TierBased(_) => amount.decimal() * multiplier,
        RuleConfig::PunchCard(_)
        | RuleConfig::StampCard(_)
        | RuleConfig::VisitFrequency(_)
        | RuleConfig::AmountSpent(_) => return 0,
    };
    let points = to_points(exact);
    match rule {
        RuleConfig::PointsBased(config) => config.max_points_per_transaction.map_or(points, |max| points.min(max)),
        _ => points,
    }
}

/// floor of a non-negative decimal, as whole points (saturating at the points limit).
pub fn to_points(exact: Decimal) -> u64 {
    let floored = exact.floor();
    if floored <= Decimal::ZERO {
        return 0;
    }
    u64::try_from(floored.mantissa() / 10i128.pow(floored.scale()))
        .unwrap_or(u64::MAX)
        .min(crate::values::POINTS_PER_COMMAND_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::{EvaluationPeriod, PointsBasedConfig, TierBasedConfig};

    fn money(raw: &str) -> Money {
        Money::parse("amount", raw).expect("valid")
    }

    fn points_based(per_dollar: Decimal, min: &str, max: Option<u64>) -> RuleConfig {
        RuleConfig::PointsBased(PointsBasedConfig {
            points_per_dollar: per_dollar,
            min_purchase_amount: money(min).decimal(),
            max_points_per_transaction: max,
            excluded_categories: vec!["ALCOHOL".to_owned()],
        })
    }

    #[test]
    fn floors_the_exact_product() {
        let rule = points_based(Decimal::new(15, 1), "0", None);
        assert_eq!(purchase_points(&rule, money("12.50"), &[], Decimal::ONE), 18); // 18.75
        assert_eq!(purchase_points(&rule, money("0.66"), &[], Decimal::ONE), 0); // 0.99
        let rule = points_based(Decimal::from(10), "0", None);
        assert_eq!(purchase_points(&rule, money("19.99"), &[], Decimal::ONE), 199);
        // 199.9
    }

    #[test]
    fn nothing_under_the_minimum_or_for_excluded_categories() {
        let rule = points_based(Decimal::from(10), "5.00", None);
        assert_eq!(purchase_points(&rule, money("4.99"), &[], Decimal::ONE), 0);
        assert_eq!(purchase_points(&rule, money("5.00"), &[], Decimal::ONE), 50);
        assert_eq!(
            purchase_points(&rule, money("20"), &["alcohol".to_owned()], Decimal::ONE),
            0
        );
        assert_eq!(
            purchase_points(&rule, money("20"), &["food".to_owned()], Decimal::ONE),
            200
        );
    }

    #[test]
    fn the_multiplier_applies_before_the_cap() {
        let rule = points_based(Decimal::from(10), "0", Some(250));
        assert_eq!(purchase_points(&rule, money("20"), &[], Decimal::new(15, 1)), 250); // 300 capped
        assert_eq!(purchase_points(&rule, money("10"), &[], Decimal::new(15, 1)), 150);
    }

    #[test]
    fn tier_based_earns_a_point_per_unit_times_the_multiplier() {
        let rule = RuleConfig::TierBased(TierBasedConfig {
            tiers: Vec::new(),
            evaluation_period: EvaluationPeriod::Lifetime,
        });
        assert_eq!(purchase_points(&rule, money("10.99"), &[], Decimal::ONE), 10);
        assert_eq!(purchase_points(&rule, money("10.99"), &[], Decimal::from(2)), 21);
    }
}
