//! RecordPurchase: a purchase earns points by the program's rule and the member's tier
//! multiplier, or advances a card whose completion issues the configured reward. Each
//! `orderRef` counts once per account.

use super::accrue_points::{earn, require_earning, Earning};
use super::{
    advance_card, tiering, AccountError, AccountEvent, CardProgressed, LoyaltyAccount, PurchaseRecorded,
    RecordPurchase, ReferenceType, RewardIssued,
};
use crate::program::{purchase_points, RewardType};
use crate::values::{Points, TransactionId};
use crate::Aggregate;

pub(super) fn decide(account: &LoyaltyAccount, command: RecordPurchase) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.usable()?;
    require_earning(&command.program)?;
    let order_ref = command.order_ref.as_str().to_owned();
    if command.order_seen {
        return Err(AccountError::DuplicateOrder { order_ref });
    }
    let rule = command.program.rule.as_ref().ok_or(AccountError::NoRule)?;
    let multiplier = tiering::multiplier(account, &command.program);
    let points = purchase_points(rule, command.amount, &command.categories, multiplier);

    let mut state = account.clone();
    let mut events = Vec::new();
    record(
        &mut state,
        &mut events,
        AccountEvent::PurchaseRecorded(PurchaseRecorded {
            customer_id: enrollment.customer_id.clone(),
            program_id: enrollment.program_id,
            order_ref: order_ref.clone(),
            amount: command.amount,
            location_id: command.location_id.clone(),
            categories: command.categories.clone(),
            points_earned: points,
            transaction_id: command.transaction_id,
        }),
    );
    if points > 0 {
        let earned = earn(
            &state,
            enrollment,
            &command.program,
            Earning {
                transaction_id: command.transaction_id,
                points: Points::new(points),
                reference_type: ReferenceType::Purchase,
                reason: format!("Purchase {order_ref}"),
                order_ref: Some(order_ref.clone()),
                now: command.now,
                pending_days: command.program.pending_days,
            },
        )?;
        record(&mut state, &mut events, earned);
    }
    if let Some(step) = advance_card(&state.card, rule, command.amount, command.now) {
        record(
            &mut state,
            &mut events,
            AccountEvent::CardProgressed(CardProgressed {
                customer_id: enrollment.customer_id.clone(),
                program_id: enrollment.program_id,
                rule_type: rule.rule_type(),
                unit: step.unit.to_owned(),
                progress: step.progress,
                target: step.target,
                completed_cards: step.card.completed,
                card: step.card,
            }),
        );
        if let Some((reward_type, reward_value)) = step.reward {
            record(
                &mut state,
                &mut events,
                AccountEvent::RewardIssued(RewardIssued {
                    customer_id: enrollment.customer_id.clone(),
                    program_id: enrollment.program_id,
                    issued_reward_id: command.issued_reward_id,
                    reward_type,
                    reward_value: reward_value.clone(),
                    rule_type: rule.rule_type(),
                    order_ref: order_ref.clone(),
                }),
            );
            let reward_points = reward_value.parse::<u64>().ok().filter(|p| *p > 0);
            if let (RewardType::Points, Some(reward_points)) = (reward_type, reward_points) {
                let earned = earn(
                    &state,
                    enrollment,
                    &command.program,
                    Earning {
                        transaction_id: TransactionId(command.issued_reward_id),
                        points: Points::new(reward_points),
                        reference_type: ReferenceType::Reward,
                        reason: format!("Card reward for {order_ref}"),
                        order_ref: Some(order_ref.clone()),
                        now: command.now,
                        pending_days: None,
                    },
                )?;
                record(&mut state, &mut events, earned);
            }
        }
    }
    events.extend(tiering::upgrade(
        account,
        enrollment,
        &events,
        &command.program,
        command.now,
    ));
    Ok(events)
}

/// Keep an event and fold it into the running state, so later decisions see it.
fn record(state: &mut LoyaltyAccount, events: &mut Vec<AccountEvent>, event: AccountEvent) {
    state.apply(&event);
    events.push(event);
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::super::fixtures::*;
    use super::super::AccountCommand;
    use super::*;
    use crate::program::{PunchCardConfig, RuleConfig, StampCardConfig};
    use crate::testing::given;

    fn kinds(events: &[AccountEvent]) -> Vec<&'static str> {
        use crate::DomainEvent;
        events.iter().map(DomainEvent::event_type).collect()
    }

    #[test]
    fn earns_by_the_rule() {
        let events = given::<LoyaltyAccount>([enrolled()])
            .when(purchase("o-1", "12.50"))
            .result()
            .expect("recorded");
        assert_eq!(kinds(&events), ["loyalty.purchase.recorded", "loyalty.points.earned"]);
        let AccountEvent::PointsEarned(e) = &events[1] else {
            panic!("not earned")
        };
        assert_eq!((e.points_earned, e.total_points), (125, 125));
        assert_eq!(e.reference_type, ReferenceType::Purchase);
        assert_eq!(e.reference_id.as_deref(), Some("o-1"));
    }

    #[test]
    fn a_repeated_order_is_refused() {
        let AccountCommand::Purchase(mut command) = purchase("o-1", "10") else {
            unreachable!()
        };
        command.order_seen = true;
        given::<LoyaltyAccount>([enrolled()])
            .when(AccountCommand::Purchase(command))
            .then_err(AccountError::DuplicateOrder {
                order_ref: "o-1".to_owned(),
            });
    }

    #[test]
    fn the_tier_multiplier_applies_and_a_threshold_upgrades() {
        let AccountCommand::Purchase(mut command) = purchase("o-2", "10") else {
            unreachable!()
        };
        command.program = rules_with_tiers();
        // Gold (level 3, x2) earns 200 for 10.00 at 10 points per dollar.
        let events = given::<LoyaltyAccount>([enrolled(), earned(1, 500, 500), upgraded(None, "gold", 500)])
            .when(AccountCommand::Purchase(command.clone()))
            .result()
            .expect("recorded");
        let AccountEvent::PointsEarned(e) = &events[1] else {
            panic!("not earned")
        };
        assert_eq!(e.points_earned, 200);
        // Without a tier: 100 points, and reaching 100 qualifying points upgrades to silver.
        let events = given::<LoyaltyAccount>([enrolled()])
            .when(AccountCommand::Purchase(command))
            .result()
            .expect("recorded");
        assert_eq!(
            kinds(&events),
            [
                "loyalty.purchase.recorded",
                "loyalty.points.earned",
                "loyalty.tier.upgraded"
            ]
        );
    }

    #[test]
    fn a_full_punch_card_issues_its_reward_and_starts_the_next() {
        let rule = RuleConfig::PunchCard(PunchCardConfig {
            required_punches: 2,
            reward_type: RewardType::FreeItem,
            reward_value: "Coffee".to_owned(),
        });
        let AccountCommand::Purchase(mut first) = purchase("o-1", "3.50") else {
            unreachable!()
        };
        first.program.rule = Some(rule.clone());
        let given = given::<LoyaltyAccount>([enrolled()]);
        let events = given
            .state()
            .handle(AccountCommand::Purchase(first.clone()))
            .expect("recorded");
        assert_eq!(kinds(&events), ["loyalty.purchase.recorded", "loyalty.card.progressed"]);
        let mut second = first.clone();
        second.order_ref = crate::values::OrderRef::parse("orderRef", "o-2").expect("valid");
        let after_first = LoyaltyAccount::from_events([enrolled()].iter().chain(events.iter()));
        let events = after_first.handle(AccountCommand::Purchase(second)).expect("recorded");
        assert_eq!(
            kinds(&events),
            [
                "loyalty.purchase.recorded",
                "loyalty.card.progressed",
                "loyalty.reward.issued"
            ]
        );
        let AccountEvent::CardProgressed(p) = &events[1] else {
            panic!("not progress")
        };
        assert_eq!(
            (p.progress.as_str(), p.target.as_str(), p.completed_cards),
            ("0", "2", 1)
        );
        let after = LoyaltyAccount::from_events([enrolled()].iter().chain(events.iter()));
        assert_eq!(after.issued_rewards.len(), 1);
    }

    #[test]
    fn a_card_reward_of_points_is_earned() {
        let rule = RuleConfig::StampCard(StampCardConfig {
            required_stamps: 1,
            stamps_per_visit: 1,
            reward_type: RewardType::Points,
            reward_value: "50".to_owned(),
        });
        let AccountCommand::Purchase(mut command) = purchase("o-1", "3.50") else {
            unreachable!()
        };
        command.program.rule = Some(rule);
        let events = given::<LoyaltyAccount>([enrolled()])
            .when(AccountCommand::Purchase(command))
            .result()
            .expect("recorded");
        let earned: Vec<(u64, u64)> = events
            .iter()
            .filter_map(|e| match e {
                AccountEvent::PointsEarned(e) => Some((e.points_earned, e.total_points)),
                _ => None,
            })
            .collect();
        assert_eq!(earned, [(50, 50)]);
    }

    #[test]
    fn under_the_minimum_nothing_is_earned_but_the_order_is_recorded() {
        let AccountCommand::Purchase(mut command) = purchase("o-1", "0.05") else {
            unreachable!()
        };
        command.program.rule = Some(RuleConfig::PointsBased(crate::program::PointsBasedConfig {
            points_per_dollar: Decimal::from(10),
            min_purchase_amount: Decimal::from(1),
            max_points_per_transaction: None,
            excluded_categories: Vec::new(),
        }));
        let events = given::<LoyaltyAccount>([enrolled()])
            .when(AccountCommand::Purchase(command))
            .result()
            .expect("recorded");
        assert_eq!(kinds(&events), ["loyalty.purchase.recorded"]);
    }

    #[test]
    fn refused_for_a_suspended_account_or_a_paused_program() {
        given::<LoyaltyAccount>([enrolled(), suspended()])
            .when(purchase("o-1", "1"))
            .then_err(AccountError::AccountSuspended);
        let AccountCommand::Purchase(mut command) = purchase("o-1", "1") else {
            unreachable!()
        };
        command.program.status = crate::program::ProgramStatus::Paused;
        given::<LoyaltyAccount>([enrolled()])
            .when(AccountCommand::Purchase(command))
            .then_err(AccountError::ProgramNotActive {
                status: crate::program::ProgramStatus::Paused,
            });
    }
}
