//! Property tests: for any sequence of commands, the balance is the sum of the ledger and never
//! negative, lifetime points are the sum of accruals, and every event round-trips through JSON.

use proptest::prelude::*;

use super::fixtures::*;
use super::*;
use crate::{Aggregate, DomainEvent};

#[derive(Debug, Clone)]
enum Op {
    Accrue(u64),
    Redeem(u64),
    Suspend,
    Reactivate,
    Purchase(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u64..=1_000).prop_map(Op::Accrue),
        4 => (1u64..=1_500).prop_map(Op::Redeem),
        1 => Just(Op::Suspend),
        1 => Just(Op::Reactivate),
        3 => (1u32..=50_000).prop_map(Op::Purchase),
    ]
}

proptest! {
    #[test]
    fn balance_is_the_sum_of_the_ledger(ops in proptest::collection::vec(op(), 0..200)) {
        let mut history = vec![enrolled()];
        let mut account = LoyaltyAccount::from_events(history.iter());
        for (n, op) in ops.into_iter().enumerate() {
            let command = match op {
                Op::Accrue(p) => accrue(n as u128, p),
                Op::Redeem(p) => redeem(n as u128, p),
                Op::Suspend => suspend(),
                Op::Reactivate => AccountCommand::Reactivate,
                Op::Purchase(cents) => {
                    let AccountCommand::Purchase(mut c) = purchase(&format!("o-{n}"), &format!("{}.{:02}", cents / 100, cents % 100)) else { unreachable!() };
                    c.program = rules_with_tiers();
                    AccountCommand::Purchase(c)
                }
            };
            if let Ok(events) = account.handle(command) {
                for event in events {
                    account.apply(&event);
                    history.push(event);
                }
            }
            let mut ledger: i128 = 0;
            let mut accrued: u128 = 0;
            for event in &history {
                match event {
                    AccountEvent::PointsEarned(e) => { ledger += i128::from(e.points_earned); accrued += u128::from(e.points_earned); }
                    AccountEvent::PointsRedeemed(e) => ledger -= i128::from(e.points_redeemed),
                    _ => {}
                }
            }
            prop_assert!(ledger >= 0, "ledger went negative: {ledger}");
            prop_assert_eq!(i128::from(account.balance.value()), ledger);
            prop_assert_eq!(u128::from(account.lifetime_points.value()), accrued);
            prop_assert_eq!(account.balance.value() + account.redeemed_points.value(), account.lifetime_points.value());
            prop_assert_eq!(account.lots.total(), account.balance.value(), "the lots hold exactly the balance");
            prop_assert_eq!(&LoyaltyAccount::from_events(history.iter()), &account);
        }
        for event in &history {
            let decoded = AccountEvent::decode(event.event_type(), event.version(), event.data());
            prop_assert_eq!(decoded.as_ref(), Ok(event));
        }
    }
}
