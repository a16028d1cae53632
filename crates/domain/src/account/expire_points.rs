//! ExpirePoints: what is left of each lot whose `expiresAt` has passed expires, lot by lot, at
//! most once (an expired lot is gone from the state, so running again finds nothing).

use uuid::Uuid;

use super::{AccountError, AccountEvent, ExpirePoints, LoyaltyAccount, PointsExpired};
use crate::values::{AccountId, TransactionId};

/// The ledger id of a lot's expiry, derived from the account and the lot, so it is the same
/// however often the sweeper decides it.
///
/// Its first half is the account id's (with the version made 8, RFC 9562's version for ids of
/// an application's own layout, which no other id of the system has), its second half the
/// lot's id hashed (as a version 5 id). So expiries sort by account, and a sweep, which matures
/// accounts in key order, inserts them into the ledger's unique index of ids in order instead
/// of each at a random leaf, as when the whole id was hashed from the lot (until 2026-12-07;
/// expiries recorded then keep their ids). A sweep of 1,000,000 lots took 32% less time
/// (BENCHMARKS.md, fourteenth session).
///
/// Unique: version 8 makes it no other kind of transaction's id. Two expiries share one only if
/// their accounts' ids share their first 64 bits (one account; or accounts whose ids were made
/// in the same millisecond by one process, which often share them; or imported ids that do)
/// and their lots' hashes share their last 62 bits, as likely as two random 62-bit numbers
/// being equal.
pub fn expiry_transaction_id(account: AccountId, lot: TransactionId) -> TransactionId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&account.0.as_bytes()[..8]);
    // The version 5 id's variant bits (RFC 9562's) stay with its second half.
    bytes[8..].copy_from_slice(&Uuid::new_v5(&lot.0, b"loyalty.points.expired").as_bytes()[8..]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    TransactionId(Uuid::from_bytes(bytes))
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
            transaction_id: expiry_transaction_id(command.account_id, lot.transaction_id),
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
            account_id: account_id(),
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
        assert_eq!(e.transaction_id, expiry_transaction_id(account_id(), transaction_id(1)));
        assert_eq!(Some(e.expiration_date), Some(now() + Duration::days(30)));

        let mut after = given::<LoyaltyAccount>(history).state().clone();
        after.apply(&events[0]);
        assert_eq!(after.handle(expire(31)), Ok(vec![]), "at most once per lot");
        assert_eq!(after.due_at(), Some(now() + Duration::days(60)));
    }

    #[test]
    fn expiry_ids_sort_by_account_and_are_the_same_however_often_decided() {
        // Two accounts' version 7 ids a millisecond apart, the later one with smaller random bits.
        let first = AccountId(Uuid::from_u128(0x0193_9a2b_0001_7fff_bfff_ffff_ffff_ffff));
        let second = AccountId(Uuid::from_u128(0x0193_9a2b_0002_7000_8000_0000_0000_0000));
        let (lot_a, lot_b) = (transaction_id(1), transaction_id(2));
        let id = expiry_transaction_id(first, lot_a);
        assert_eq!(id.0.get_version_num(), 8);
        assert_eq!(id.0.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(id, expiry_transaction_id(first, lot_a), "derived, not drawn");
        assert_eq!(
            id.0.as_u128() >> 80,
            first.0.as_u128() >> 80,
            "begins with the account id's time"
        );
        assert_ne!(id, expiry_transaction_id(first, lot_b), "one per lot");
        for a in [lot_a, lot_b] {
            for b in [lot_a, lot_b] {
                assert!(
                    expiry_transaction_id(first, a) < expiry_transaction_id(second, b),
                    "in the accounts' order, whatever the lots"
                );
            }
        }
    }

    #[test]
    fn a_lot_spent_entirely_has_nothing_to_expire() {
        given::<LoyaltyAccount>([enrolled(), earned_expiring(1, 50, 50, 30), redeemed(2, 50, 0)])
            .when(expire(40))
            .then([]);
    }
}
