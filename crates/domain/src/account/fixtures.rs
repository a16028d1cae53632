//! Events and commands the account tests are written in.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;

use super::*;
use crate::program::{
    BenefitType, EvaluationPeriod, PointsBasedConfig, ProgramStatus, RuleConfig, Tier, TierBenefit, TierPolicy,
};
use crate::values::{
    AccountId, CustomerId, DisplayName, Email, Points, ProgramId, Reason, SuspensionReason, TransactionId,
};

pub fn account_id() -> AccountId {
    AccountId(uuid::Uuid::from_u128(10))
}

pub fn program_id() -> ProgramId {
    ProgramId(uuid::Uuid::from_u128(1))
}

pub fn customer_id() -> CustomerId {
    CustomerId::parse("customerId", "cust-222").expect("valid")
}

pub fn transaction_id(n: u128) -> TransactionId {
    TransactionId(uuid::Uuid::from_u128(1000 + n))
}

pub fn program_facts() -> ProgramFacts {
    ProgramFacts {
        program_id: program_id(),
        name: "Coffee Rewards".to_owned(),
        status: ProgramStatus::Active,
        self_enroll_enabled: true,
        enrollment_full: false,
        initial_tier: None,
    }
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().expect("date")
}

pub fn rules() -> ProgramRules {
    ProgramRules {
        status: ProgramStatus::Active,
        rule: Some(RuleConfig::PointsBased(PointsBasedConfig {
            points_per_dollar: Decimal::from(10),
            min_purchase_amount: Decimal::ZERO,
            max_points_per_transaction: None,
            excluded_categories: Vec::new(),
        })),
        tiers: TierPolicy::default(),
        point_expiry_days: None,
        pending_days: None,
    }
}

fn tier(id: &str, level: u32, min: u64, max: Option<u64>, multiplier: Option<&str>) -> Tier {
    Tier {
        tier_id: id.to_owned(),
        name: id.to_owned(),
        level,
        min_points: min,
        max_points: max,
        benefits: multiplier
            .map(|m| TierBenefit {
                benefit_type: BenefitType::PointMultiplier,
                value: Some(m.to_owned()),
            })
            .into_iter()
            .collect(),
    }
}

/// bronze 0..=99, silver 100..=499, gold 500+ earning double.
pub fn rules_with_tiers() -> ProgramRules {
    ProgramRules {
        tiers: TierPolicy {
            tiers: vec![
                tier("bronze", 1, 0, Some(99), None),
                tier("silver", 2, 100, Some(499), None),
                tier("gold", 3, 500, None, Some("2")),
            ],
            period: EvaluationPeriod::Lifetime,
        },
        ..rules()
    }
}

pub fn upgraded(from: Option<&str>, to: &str, qualifying: u64) -> AccountEvent {
    let level = match to {
        "bronze" => 1,
        "silver" => 2,
        _ => 3,
    };
    AccountEvent::TierUpgraded(TierUpgraded {
        customer_id: customer_id(),
        program_id: program_id(),
        from_tier_id: from.map(str::to_owned),
        to_tier_id: to.to_owned(),
        tier_name: to.to_owned(),
        tier_level: level,
        qualifying_points: qualifying,
    })
}

pub fn purchase(order_ref: &str, amount: &str) -> AccountCommand {
    AccountCommand::Purchase(RecordPurchase {
        transaction_id: TransactionId(uuid::Uuid::from_u128(5000)),
        order_ref: crate::values::OrderRef::parse("orderRef", order_ref).expect("valid"),
        amount: crate::values::Money::parse("amount", amount).expect("valid"),
        location_id: None,
        categories: Vec::new(),
        program: rules(),
        now: now(),
        issued_reward_id: uuid::Uuid::from_u128(6000),
        order_seen: false,
    })
}

pub fn enroll() -> AccountCommand {
    AccountCommand::Enroll(EnrollCustomer {
        account_id: account_id(),
        customer_id: customer_id(),
        display_name: DisplayName::parse("displayName", "Ada").expect("valid"),
        email: Email::parse("email", "ada@example.com").expect("valid"),
        method: EnrollmentMethod::Manual,
        program: program_facts(),
        email_taken: false,
    })
}

pub fn enrolled() -> AccountEvent {
    AccountEvent::Enrolled(CustomerEnrolled {
        customer_id: customer_id(),
        program_id: program_id(),
        program_name: "Coffee Rewards".to_owned(),
        enrollment_method: EnrollmentMethod::Manual,
        initial_tier_id: None,
        initial_tier_name: None,
        initial_tier_level: None,
        display_name: "Ada".to_owned(),
        email: "ada@example.com".to_owned(),
    })
}

pub fn accrue(txn: u128, points: u64) -> AccountCommand {
    AccountCommand::Accrue(AccruePoints {
        transaction_id: transaction_id(txn),
        points: Points::new(points),
        reason: Reason::parse("reason", "purchase").expect("valid"),
        order_ref: None,
        reference_type: ReferenceType::Manual,
        program: rules(),
        now: now(),
    })
}

pub fn earned(txn: u128, points: u64, total: u64) -> AccountEvent {
    AccountEvent::PointsEarned(PointsEarned {
        customer_id: customer_id(),
        program_id: program_id(),
        points_earned: points,
        total_points: total,
        transaction_id: transaction_id(txn),
        reference_type: ReferenceType::Manual,
        reference_id: None,
        reason: "purchase".to_owned(),
        order_ref: None,
        expires_at: None,
        earned_at: Some(now()),
        pending_until: None,
    })
}

pub fn redeem(txn: u128, points: u64) -> AccountCommand {
    AccountCommand::Redeem(RedeemPoints {
        transaction_id: transaction_id(txn),
        points: Points::new(points),
        reason: Reason::parse("reason", "coffee").expect("valid"),
        reward: None,
        program_status: ProgramStatus::Active,
    })
}

pub fn redeemed(txn: u128, points: u64, remaining: u64) -> AccountEvent {
    AccountEvent::PointsRedeemed(PointsRedeemed {
        customer_id: customer_id(),
        program_id: program_id(),
        points_redeemed: points,
        remaining_points: remaining,
        reward_id: None,
        reward_name: None,
        transaction_id: transaction_id(txn),
        reason: "coffee".to_owned(),
    })
}

pub fn suspend() -> AccountCommand {
    AccountCommand::Suspend(SuspendAccount {
        reason: SuspensionReason::parse("reason", "fraud check").expect("valid"),
        program_status: ProgramStatus::Active,
    })
}

pub fn reactivate() -> AccountCommand {
    AccountCommand::Reactivate(ReactivateAccount {
        program_status: ProgramStatus::Active,
    })
}

pub fn suspended() -> AccountEvent {
    AccountEvent::Suspended(AccountSuspended {
        customer_id: customer_id(),
        program_id: program_id(),
        reason: "fraud check".to_owned(),
    })
}

pub fn reactivated() -> AccountEvent {
    AccountEvent::Reactivated(AccountReactivated {
        customer_id: customer_id(),
        program_id: program_id(),
    })
}

/// A refund of `amount` (all that is left when `None`) of an order of `order_amount` that earned
/// `points_earned`, after earlier refunds of `refunded_so_far` reversing `points_reversed_so_far`.
pub fn refund(
    order_ref: &str,
    order_amount: &str,
    points_earned: u64,
    amount: Option<&str>,
    points_reversed_so_far: u64,
    refunded_so_far: &str,
) -> AccountCommand {
    let money = |raw: &str| crate::values::Money::parse("amount", raw).expect("valid");
    AccountCommand::Refund(RefundOrder {
        transaction_id: TransactionId(uuid::Uuid::from_u128(7000)),
        order_ref: crate::values::OrderRef::parse("orderRef", order_ref).expect("valid"),
        amount: amount.map(money),
        order: OrderFacts {
            amount: money(order_amount),
            points_earned,
            refunded: money(refunded_so_far),
            points_reversed: points_reversed_so_far,
        },
        program: rules(),
        now: now(),
    })
}
