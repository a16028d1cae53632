//! Property tests: for any sequence of commands (earning, spending, purchases with a return
//! window and expiring lots, refunds, time passing), the balance is the sum of the ledger and never
//! negative, the lots hold exactly the balance, points are conserved (earned = available +
//! pending + spent + expired + reversed), and every event and snapshot round-trips through JSON.

use std::collections::HashMap;

use chrono::Duration;
use proptest::prelude::*;

use super::fixtures::*;
use super::*;
use crate::values::{Money, OrderRef};
use crate::Aggregate;

#[derive(Debug, Clone)]
enum Op {
    Accrue(u64),
    Redeem(u64),
    Suspend,
    Reactivate,
    Purchase(u32),
    /// Refund the n-th order (modulo how many there are), all that is left or this many cents.
    Refund(usize, Option<u32>),
    /// Let days pass, then run the sweeper's commands.
    Advance(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1u64..=1_000).prop_map(Op::Accrue),
        4 => (1u64..=1_500).prop_map(Op::Redeem),
        1 => Just(Op::Suspend),
        1 => Just(Op::Reactivate),
        4 => (1u32..=50_000).prop_map(Op::Purchase),
        2 => (any::<usize>(), proptest::option::of(1u32..=20_000)).prop_map(|(n, c)| Op::Refund(n, c)),
        2 => (1u32..=40).prop_map(Op::Advance),
    ]
}

fn money(cents: u32) -> Money {
    Money::parse("amount", &format!("{}.{:02}", cents / 100, cents % 100)).expect("valid")
}

/// Earning rules with tiers, a 7-day return window and 30-day expiry.
fn program() -> ProgramRules {
    ProgramRules {
        point_expiry_days: Some(30),
        pending_days: Some(7),
        ..rules_with_tiers()
    }
}

proptest! {
    #[test]
    fn points_are_conserved_and_the_balance_is_the_ledger(ops in proptest::collection::vec(op(), 0..150)) {
        let mut history = vec![enrolled()];
        let mut account = LoyaltyAccount::from_events(history.iter());
        let mut clock = now();
        let mut orders: Vec<String> = Vec::new();
        let mut facts: HashMap<String, OrderFacts> = HashMap::new();
        for (n, op) in ops.into_iter().enumerate() {
            let swept = matches!(op, Op::Advance(_));
            let commands = match op {
                Op::Accrue(p) => {
                    let AccountCommand::Accrue(mut c) = accrue(n as u128, p) else { unreachable!() };
                    c.program = program();
                    c.now = clock;
                    vec![AccountCommand::Accrue(c)]
                }
                Op::Redeem(p) => vec![redeem(n as u128, p)],
                Op::Suspend => vec![suspend()],
                Op::Reactivate => vec![reactivate()],
                Op::Purchase(cents) => {
                    let AccountCommand::Purchase(mut c) = purchase(&format!("o-{n}"), &money(cents).to_string()) else { unreachable!() };
                    c.program = program();
                    c.now = clock;
                    c.transaction_id = transaction_id(n as u128);
                    c.issued_reward_id = uuid::Uuid::from_u128(1_000_000 + n as u128);
                    vec![AccountCommand::Purchase(c)]
                }
                Op::Refund(pick, cents) if !orders.is_empty() => {
                    let order_ref = orders[pick % orders.len()].clone();
                    vec![AccountCommand::Refund(RefundOrder {
                        transaction_id: transaction_id(n as u128),
                        order_ref: OrderRef::parse("orderRef", &order_ref).expect("valid"),
                        amount: cents.map(money),
                        order: facts[&order_ref].clone(),
                        program: program(),
                        now: clock,
                    })]
                }
                Op::Refund(..) => vec![],
                Op::Advance(days) => {
                    clock += Duration::days(i64::from(days));
                    vec![
                        AccountCommand::ReleasePending(ReleasePending { as_of: clock, program: program() }),
                        AccountCommand::ExpirePoints(ExpirePoints {
                            as_of: clock,
                            account_id: account_id(),
                        }),
                    ]
                }
            };
            for command in commands {
                let Ok(events) = account.handle(command) else { continue };
                for event in events {
                    match &event {
                        AccountEvent::PurchaseRecorded(p) => {
                            orders.push(p.order_ref.clone());
                            facts.insert(p.order_ref.clone(), OrderFacts {
                                amount: p.amount,
                                points_earned: p.points_earned,
                                refunded: Money::ZERO,
                                points_reversed: 0,
                            });
                        }
                        AccountEvent::PointsReversed(r) => {
                            let f = facts.get_mut(&r.order_ref).expect("refunded order exists");
                            f.refunded = f.refunded.plus(r.refund_amount);
                            f.points_reversed += r.points_reversed;
                            prop_assert!(f.points_reversed <= f.points_earned, "never reverses more than earned");
                            prop_assert!(f.refunded <= f.amount, "never refunds more than paid");
                        }
                        _ => {}
                    }
                    account.apply(&event);
                    history.push(event);
                }
            }
            let mut ledger: i128 = 0;
            let mut earned: u128 = 0;
            let mut qualifying: i128 = 0;
            for event in &history {
                match event {
                    AccountEvent::PointsEarned(e) => {
                        earned += u128::from(e.points_earned);
                        if e.pending_until.is_none() {
                            ledger += i128::from(e.points_earned);
                            qualifying += i128::from(e.points_earned);
                        }
                    }
                    AccountEvent::PointsReleased(e) => {
                        ledger += i128::from(e.points_released);
                        qualifying += i128::from(e.points_released);
                    }
                    AccountEvent::PointsRedeemed(e) => ledger -= i128::from(e.points_redeemed),
                    AccountEvent::PointsExpired(e) => ledger -= i128::from(e.points_expired),
                    AccountEvent::PointsReversed(e) => {
                        ledger -= i128::from(e.points_deducted);
                        qualifying -= i128::from(e.points_reversed - e.pending_cancelled);
                    }
                    _ => {}
                }
            }
            prop_assert!(ledger >= 0, "ledger went negative: {ledger}");
            prop_assert!(qualifying >= 0, "qualifying points went negative: {qualifying}");
            prop_assert_eq!(i128::from(account.qualifying.lifetime), qualifying, "pending points never qualify");
            prop_assert_eq!(i128::from(account.balance.value()), ledger);
            prop_assert_eq!(account.lots.total(), account.balance.value(), "the lots hold exactly the balance");
            let accounted = u128::from(account.balance.value())
                + u128::from(account.pending.total())
                + u128::from(account.redeemed_points.value())
                + u128::from(account.expired_points)
                + u128::from(account.reversed_points);
            prop_assert_eq!(earned, accounted, "earned = available + pending + spent + expired + reversed");
            if swept {
                prop_assert!(account.lots.due(clock).next().is_none(), "the sweep expired every due lot");
                prop_assert!(account.pending.due(clock).next().is_none(), "the sweep released every due lot");
            }
            prop_assert_eq!(&LoyaltyAccount::from_events(history.iter()), &account);
            // The snapshot, with its default fields left out, reads back as the same state.
            let snapshot = serde_json::to_string(&account).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let read_back = serde_json::from_str::<LoyaltyAccount>(&snapshot).ok();
            prop_assert_eq!(read_back.as_ref(), Some(&account));
        }
        for event in &history {
            prop_assert!(crate::testing::reads_back(event), "{event:?}");
        }
    }
}
