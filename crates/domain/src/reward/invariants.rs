//! Property tests: for any sequence of claims by any customers, the stock never goes below zero,
//! no more units are given than the stock, no customer gets more than the limit, and every event
//! round-trips through JSON.

use std::collections::HashMap;

use proptest::prelude::*;

use super::fixtures::*;
use super::*;
use crate::Aggregate;

proptest! {
    #[test]
    fn stock_never_goes_negative(
        stock in proptest::option::of(0u64..=20),
        limit in proptest::option::of(1u32..=5),
        customers in proptest::collection::vec(0u8..6, 0..100),
    ) {
        let mut history = vec![created(stock, limit)];
        let mut reward = Reward::from_events(history.iter());
        let mut claims_by: HashMap<u8, u64> = HashMap::new();
        for (n, customer) in customers.into_iter().enumerate() {
            let RewardCommand::Claim(mut command) = claim(n as u128, 0) else { unreachable!() };
            command.claims_by_customer = claims_by.get(&customer).copied().unwrap_or(0);
            if let Ok(events) = reward.handle(RewardCommand::Claim(command)) {
                for event in events {
                    reward.apply(&event);
                    history.push(event);
                }
                *claims_by.entry(customer).or_default() += 1;
            }
            match (stock, reward.remaining_stock) {
                (Some(stock), Some(left)) => {
                    prop_assert!(left <= stock);
                    prop_assert_eq!(left + reward.claimed_count, stock, "every unit is left or claimed");
                }
                (None, None) => {}
                other => prop_assert!(false, "stock and remaining stock disagree: {other:?}"),
            }
            if let Some(limit) = limit {
                prop_assert!(claims_by.values().all(|c| *c <= u64::from(limit)));
            }
            prop_assert_eq!(&Reward::from_events(history.iter()), &reward);
        }
        for event in &history {
            prop_assert!(crate::testing::reads_back(event), "{event:?}");
        }
    }
}
