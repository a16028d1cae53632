//! RefundOrder: a refunded purchase gives back the points it earned, prorated for a partial
//! refund (floor), never more than it earned across all its refunds. The balance never goes
//! below zero: points already spent are recorded as unrecovered. A tier the member reached
//! only through the order is re-evaluated.

use super::{tiering, AccountError, AccountEvent, LoyaltyAccount, PointsReversed, RefundOrder};
use crate::program::to_points;
use rust_decimal::Decimal;

use crate::values::Money;
use crate::Aggregate;

pub(super) fn decide(account: &LoyaltyAccount, command: RefundOrder) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.enrollment()?;
    let order = &command.order;
    let order_ref = command.order_ref.as_str().to_owned();
    let refundable = order.amount.checked_sub(order.refunded).unwrap_or(Money::ZERO);
    let refund = command.amount.unwrap_or(refundable);
    if refund == Money::ZERO || refund > refundable {
        return Err(AccountError::RefundExceedsOrder {
            order_ref,
            refundable: refundable.to_string(),
        });
    }
    let refunded_total = order.refunded.plus(refund);
    // floor(earned × refunded so far / amount): cumulative, so partial refunds never add up to
    // more than the order earned.
    let reversed_total = if order.amount == Money::ZERO {
        0
    } else {
        to_points(Decimal::from(order.points_earned) * refunded_total.decimal() / order.amount.decimal())
            .min(order.points_earned)
    };
    let to_reverse = reversed_total.saturating_sub(order.points_reversed);
    // Points still pending are simply cancelled; the rest comes off the balance, down to zero.
    let cancelled = to_reverse.min(account.pending.of_order(&order_ref));
    let deducted = (to_reverse - cancelled).min(account.balance.value());
    let reversal = AccountEvent::PointsReversed(PointsReversed {
        customer_id: enrollment.customer_id.clone(),
        program_id: enrollment.program_id,
        order_ref: order_ref.clone(),
        transaction_id: command.transaction_id,
        refund_amount: refund,
        points_reversed: to_reverse,
        points_deducted: deducted,
        unrecovered_points: to_reverse - cancelled - deducted,
        pending_cancelled: cancelled,
        remaining_points: account.balance.value() - deducted,
        reason: format!("Refund of order {order_ref}"),
        reversed_at: command.now,
    });
    let mut events = vec![reversal];
    let mut after = account.clone();
    after.apply(&events[0]);
    events.extend(tiering::reevaluate(
        &after,
        enrollment,
        &command.program,
        command.now,
        "REFUND",
    ));
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::AccountCommand;
    use super::*;
    use crate::testing::given;

    fn reversed(events: &[AccountEvent]) -> (u64, u64, u64, u64) {
        match &events[0] {
            AccountEvent::PointsReversed(e) => (
                e.points_reversed,
                e.points_deducted,
                e.unrecovered_points,
                e.remaining_points,
            ),
            other => panic!("not a reversal: {other:?}"),
        }
    }

    #[test]
    fn a_full_refund_reverses_everything_the_order_earned() {
        let events = given::<LoyaltyAccount>([enrolled(), earned(1, 125, 125)])
            .when(refund("o-1", "12.50", 125, None, 0, "0"))
            .result()
            .expect("refunded");
        assert_eq!(reversed(&events), (125, 125, 0, 0));
    }

    #[test]
    fn partial_refunds_are_prorated_and_never_exceed_the_order() {
        // 100 points for 10.00: refunding 3.33 reverses floor(33.3) = 33 ...
        let events = given::<LoyaltyAccount>([enrolled(), earned(1, 100, 100)])
            .when(refund("o-1", "10.00", 100, Some("3.33"), 0, "0"))
            .result()
            .expect("refunded");
        assert_eq!(reversed(&events), (33, 33, 0, 67));
        // ... and the rest reverses the remaining 67, not floor(66.7) = 66: cumulative.
        let events = given::<LoyaltyAccount>([enrolled(), earned(1, 100, 100)])
            .when(refund("o-1", "10.00", 100, Some("6.67"), 33, "3.33"))
            .result()
            .expect("refunded");
        assert_eq!(reversed(&events).0, 67);
    }

    #[test]
    fn refunding_more_than_is_left_is_refused() {
        given::<LoyaltyAccount>([enrolled(), earned(1, 100, 100)])
            .when(refund("o-1", "10.00", 100, Some("10.01"), 0, "0"))
            .then_err(AccountError::RefundExceedsOrder {
                order_ref: "o-1".to_owned(),
                refundable: "10.00".to_owned(),
            });
        given::<LoyaltyAccount>([enrolled(), earned(1, 100, 100)])
            .when(refund("o-1", "10.00", 100, None, 100, "10.00"))
            .then_err(AccountError::RefundExceedsOrder {
                order_ref: "o-1".to_owned(),
                refundable: "0.00".to_owned(),
            });
    }

    #[test]
    fn spent_points_are_recorded_as_unrecovered_and_the_balance_stays_at_zero() {
        let events = given::<LoyaltyAccount>([enrolled(), earned(1, 100, 100), redeemed(2, 80, 20)])
            .when(refund("o-1", "10.00", 100, None, 0, "0"))
            .result()
            .expect("refunded");
        assert_eq!(reversed(&events), (100, 20, 80, 0));
    }

    #[test]
    fn points_still_pending_are_simply_cancelled() {
        let AccountEvent::PointsEarned(pending) = earned(1, 100, 30) else {
            unreachable!()
        };
        let pending = AccountEvent::PointsEarned(super::super::PointsEarned {
            pending_until: Some(now() + chrono::Duration::days(7)),
            order_ref: Some("o-1".to_owned()),
            ..pending
        });
        let events = given::<LoyaltyAccount>([enrolled(), earned(2, 30, 30), pending])
            .when(refund("o-1", "10.00", 100, Some("4.00"), 0, "0"))
            .result()
            .expect("refunded");
        let AccountEvent::PointsReversed(e) = &events[0] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (
                e.points_reversed,
                e.pending_cancelled,
                e.points_deducted,
                e.remaining_points
            ),
            (40, 40, 0, 30),
            "the balance is untouched"
        );
    }

    #[test]
    fn a_tier_reached_only_through_the_order_is_lost() {
        let AccountCommand::Refund(mut command) = refund("o-1", "10.00", 100, None, 0, "0") else {
            unreachable!()
        };
        command.program = rules_with_tiers();
        let events = given::<LoyaltyAccount>([enrolled(), earned(1, 150, 150), upgraded(None, "silver", 150)])
            .when(AccountCommand::Refund(command))
            .result()
            .expect("refunded");
        let AccountEvent::TierDowngraded(down) = &events[1] else {
            panic!("no downgrade: {events:?}")
        };
        assert_eq!(
            (down.from_tier_id.as_str(), down.to_tier_id.as_deref()),
            ("silver", Some("bronze"))
        );
        assert_eq!(down.qualifying_points, 50);
    }
}
