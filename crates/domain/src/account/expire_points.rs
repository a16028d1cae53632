//! ExpirePoints: what is left of each lot whose `expiresAt` has passed expires, lot by lot, at
//! most once (an expired lot is gone from the state, so running again finds nothing).

use uuid::Uuid;

use super::{AccountError, AccountEvent, ExpirePoints, LoyaltyAccount, PointsExpired};
use crate::values::TransactionId;

/// The ledger id of a lot's expiry: derived from the lot, so it is the same however often the
/// sweeper decides it.
pub fn expiry_transaction_id(lot: TransactionId) -> TransactionId {
    TransactionId(Uuid::new_v5(&lot.0, b"loyalty.points.expired"))
}

pub(super) fn decide(account: &LoyaltyAccount, command: ExpirePoints) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.enrollment()?;
    let mut balance = account.balance.value();
    let mut events = Vec::new();
    for lot in account.lots.due(command.as_of) {
        let Some(expiration_date) = lot.expires_at else {
            continue;
        };
        balance = balance.saturating_sub(lot.remaining);
        events.push(AccountEvent::PointsExpired(PointsExpired {
            customer_id: enrollment.customer_id.clone(),
            program_id: enrollment.program_id,
            transaction_id: expiry_transaction_id(lot.transaction_id),
            lot_transaction_id: lot.transaction_id,
            points_expired: lot.remaining,
            remaining_points: balance,
            expiration_date,
        }));
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
    use crate::Aggregate;

    fn earned_expiring(txn: u128, points: u64, total: u64, days: i64) -> AccountEvent {
        let AccountEvent::PointsEarned(e) = earned(txn, points, total) else {
            unreachable!()
        };
        AccountEvent::PointsEarned(PointsEarned {
            expires_at: Some(now() + Duration::days(days)),
            ..e
        })
    }

    fn expire(days: i64) -> AccountCommand {
        AccountCommand::ExpirePoints(ExpirePoints {
            as_of: now() + Duration::days(days),
        })
    }

    #[test]
    fn nothing_expires_early() {
        given::<LoyaltyAccount>([enrolled(), earned_expiring(1, 50, 50, 30)])
            .when(expire(29))
            .then([]);
    }

    #[test]
    fn only_what_is_left_of_a_due_lot_expires_and_only_once() {
        // 50 due on day 30, 70 on day 60; spending 20 takes from the soonest lot first.
        let history = [
            enrolled(),
            earned_expiring(1, 50, 50, 30),
            earned_expiring(2, 70, 120, 60),
            redeemed(3, 20, 100),
        ];
        let events = given::<LoyaltyAccount>(history.clone())
            .when(expire(30))
            .result()
            .expect("expired");
        let [AccountEvent::PointsExpired(e)] = events.as_slice() else {
            panic!("one expiry: {events:?}")
        };
        assert_eq!((e.points_expired, e.remaining_points), (30, 70));
        assert_eq!(e.lot_transaction_id, transaction_id(1));
        assert_eq!(e.transaction_id, expiry_transaction_id(transaction_id(1)));
        assert_eq!(Some(e.expiration_date), Some(now() + Duration::days(30)));

        let mut after = given::<LoyaltyAccount>(history).state().clone();
        after.apply(&events[0]);
        assert_eq!(after.handle(expire(31)), Ok(vec![]), "at most once per lot");
        assert_eq!(after.due_at(), Some(now() + Duration::days(60)));
    }

    #[test]
    fn a_lot_spent_entirely_has_nothing_to_expire() {
        given::<LoyaltyAccount>([enrolled(), earned_expiring(1, 50, 50, 30), redeemed(2, 50, 0)])
            .when(expire(40))
            .then([]);
    }
}
