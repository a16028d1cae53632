//! ReleasePending: when a purchase's return window closes, its pending points become available
//! (and start qualifying for tiers), each lot exactly once; a release may upgrade the tier.

use super::{tiering, AccountError, AccountEvent, LoyaltyAccount, PointsReleased, ReleasePending};

pub(super) fn decide(account: &LoyaltyAccount, command: ReleasePending) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.enrollment()?;
    let mut balance = account.balance.value();
    let mut events: Vec<AccountEvent> = Vec::new();
    for lot in account.pending.due(command.as_of) {
        balance = balance.checked_add(lot.points).ok_or(AccountError::BalanceOverflow)?;
        events.push(AccountEvent::PointsReleased(PointsReleased {
            customer_id: enrollment.customer_id.clone(),
            program_id: enrollment.program_id,
            transaction_id: lot.transaction_id,
            points_released: lot.points,
            total_points: balance,
            order_ref: lot.order_ref.clone(),
            expires_at: lot.expires_at,
            released_at: lot.release_at,
        }));
    }
    if !events.is_empty() {
        events.extend(tiering::upgrade(
            account,
            enrollment,
            &events,
            &command.program,
            command.as_of,
        ));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::super::fixtures::*;
    use super::super::{AccountCommand, PointsEarned};
    use super::*;
    use crate::testing::given;

    fn pending(txn: u128, points: u64, days: i64) -> AccountEvent {
        let AccountEvent::PointsEarned(e) = earned(txn, points, 0) else {
            unreachable!()
        };
        AccountEvent::PointsEarned(PointsEarned {
            pending_until: Some(now() + Duration::days(days)),
            order_ref: Some(format!("o-{txn}")),
            ..e
        })
    }

    fn release(days: i64) -> AccountCommand {
        AccountCommand::ReleasePending(ReleasePending {
            as_of: now() + Duration::days(days),
            program: rules_with_tiers(),
        })
    }

    #[test]
    fn pending_points_are_not_spendable_until_released() {
        given::<LoyaltyAccount>([enrolled(), pending(1, 40, 14)])
            .when(redeem(2, 1))
            .then_err(AccountError::InsufficientPoints {
                available: 0,
                requested: 1,
            });
    }

    #[test]
    fn nothing_is_released_before_the_window_closes() {
        given::<LoyaltyAccount>([enrolled(), pending(1, 40, 14)])
            .when(release(13))
            .then([]);
    }

    #[test]
    fn a_closed_window_releases_the_lot_once_and_may_upgrade() {
        let events = given::<LoyaltyAccount>([enrolled(), pending(1, 40, 14), pending(2, 80, 20)])
            .when(release(30))
            .result()
            .expect("released");
        let released: Vec<(u64, u64)> = events
            .iter()
            .filter_map(|e| match e {
                AccountEvent::PointsReleased(r) => Some((r.points_released, r.total_points)),
                _ => None,
            })
            .collect();
        assert_eq!(released, [(40, 40), (80, 120)]);
        assert!(
            matches!(events.last(), Some(AccountEvent::TierUpgraded(t)) if t.to_tier_id == "silver"),
            "120 qualifying points reach silver once released: {events:?}"
        );
        let mut after = given::<LoyaltyAccount>([enrolled(), pending(1, 40, 14), pending(2, 80, 20)])
            .state()
            .clone();
        for event in &events {
            crate::Aggregate::apply(&mut after, event);
        }
        assert_eq!(after.balance.value(), 120);
        assert_eq!(after.pending.total(), 0);
        assert_eq!(
            crate::Aggregate::handle(&after, release(31)),
            Ok(vec![]),
            "released once"
        );
    }
}
