//! AccruePoints: an active member of an ACTIVE program earns a natural number of points, as a
//! lot that expires after the program's `pointExpiryDays`; crossing a tier threshold upgrades.

use chrono::{DateTime, Duration, Utc};

use super::{
    tiering, AccountError, AccountEvent, AccruePoints, Enrollment, LoyaltyAccount, PointsEarned, ProgramRules,
    ReferenceType,
};
use crate::program::ProgramStatus;
use crate::values::{OrderRef, Points, TransactionId};

pub(super) fn decide(account: &LoyaltyAccount, command: AccruePoints) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.usable()?;
    require_earning(&command.program)?;
    let order_ref = command.order_ref.map(OrderRef::into_string);
    let earned = earn(
        account,
        enrollment,
        &command.program,
        Earning {
            transaction_id: command.transaction_id,
            points: command.points,
            reference_type: command.reference_type,
            reason: command.reason.into_string(),
            order_ref,
            now: command.now,
            pending_days: None,
        },
    )?;
    let mut events = vec![earned];
    events.extend(tiering::upgrade(
        account,
        enrollment,
        &events,
        &command.program,
        command.now,
    ));
    Ok(events)
}

/// Earning needs an ACTIVE program.
pub(super) fn require_earning(rules: &ProgramRules) -> Result<(), AccountError> {
    if rules.status == ProgramStatus::Active {
        Ok(())
    } else {
        Err(AccountError::ProgramNotActive { status: rules.status })
    }
}

/// One accrual of points, however it was earned.
pub(super) struct Earning {
    pub transaction_id: TransactionId,
    pub points: Points,
    pub reference_type: ReferenceType,
    pub reason: String,
    pub order_ref: Option<String>,
    pub now: DateTime<Utc>,
    /// Days the points stay pending (purchases in a program with a return window).
    pub pending_days: Option<u32>,
}

/// The `loyalty.points.earned` event of an accrual onto `account`'s balance.
pub(super) fn earn(
    account: &LoyaltyAccount,
    enrollment: &Enrollment,
    rules: &ProgramRules,
    earning: Earning,
) -> Result<AccountEvent, AccountError> {
    let pending_until = earning
        .pending_days
        .filter(|days| *days > 0)
        .map(|days| earning.now + Duration::days(i64::from(days)));
    let total = account
        .balance
        .checked_add(earning.points)
        .filter(|total| total.value() <= i64::MAX as u64)
        .ok_or(AccountError::BalanceOverflow)?;
    // Pending points are not spendable: the balance stays until they are released.
    let total = if pending_until.is_some() {
        account.balance
    } else {
        total
    };
    let available_from = pending_until.unwrap_or(earning.now);
    Ok(AccountEvent::PointsEarned(PointsEarned {
        customer_id: enrollment.customer_id.clone(),
        program_id: enrollment.program_id,
        points_earned: earning.points.value(),
        total_points: total.value(),
        transaction_id: earning.transaction_id,
        reference_type: earning.reference_type,
        reference_id: earning.order_ref.clone(),
        reason: earning.reason,
        order_ref: earning.order_ref,
        expires_at: rules
            .point_expiry_days
            .map(|days| available_from + Duration::days(i64::from(days))),
        earned_at: Some(earning.now),
        pending_until,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::AccountCommand;
    use super::*;
    use crate::testing::given;

    #[test]
    fn earns_onto_the_balance() {
        given::<LoyaltyAccount>([enrolled(), earned(1, 50, 50)])
            .when(accrue(2, 30))
            .then([earned(2, 30, 80)]);
    }

    #[test]
    fn keeps_the_order_reference() {
        let AccountCommand::Accrue(mut command) = accrue(1, 10) else {
            unreachable!()
        };
        command.order_ref = OrderRef::parse("orderRef", "order-444").ok();
        let events = given::<LoyaltyAccount>([enrolled()])
            .when(AccountCommand::Accrue(command))
            .result()
            .expect("earned");
        let AccountEvent::PointsEarned(e) = &events[0] else {
            panic!("not earned")
        };
        assert_eq!(e.order_ref.as_deref(), Some("order-444"));
        assert_eq!(e.reference_id.as_deref(), Some("order-444"));
    }

    #[test]
    fn a_lot_expires_after_the_programs_expiry_days() {
        let AccountCommand::Accrue(mut command) = accrue(1, 10) else {
            unreachable!()
        };
        command.program.point_expiry_days = Some(30);
        let events = given::<LoyaltyAccount>([enrolled()])
            .when(AccountCommand::Accrue(command))
            .result()
            .expect("earned");
        let AccountEvent::PointsEarned(e) = &events[0] else {
            panic!("not earned")
        };
        assert_eq!(e.expires_at, Some(now() + Duration::days(30)));
    }

    #[test]
    fn crossing_a_threshold_upgrades_the_tier() {
        let AccountCommand::Accrue(mut command) = accrue(2, 60) else {
            unreachable!()
        };
        command.program = rules_with_tiers();
        given::<LoyaltyAccount>([enrolled(), earned(1, 50, 50)])
            .when(AccountCommand::Accrue(command))
            .then([earned(2, 60, 110), upgraded(None, "silver", 110)]);
    }

    #[test]
    fn spending_does_not_demote_and_no_second_upgrade() {
        let AccountCommand::Accrue(mut command) = accrue(3, 5) else {
            unreachable!()
        };
        command.program = rules_with_tiers();
        given::<LoyaltyAccount>([
            enrolled(),
            earned(1, 150, 150),
            upgraded(None, "silver", 150),
            redeemed(2, 140, 10),
        ])
        .when(AccountCommand::Accrue(command))
        .then([earned(3, 5, 15)]);
    }

    #[test]
    fn a_suspended_account_does_not_earn() {
        given::<LoyaltyAccount>([enrolled(), suspended()])
            .when(accrue(1, 10))
            .then_err(AccountError::AccountSuspended);
    }

    #[test]
    fn needs_an_enrolled_account() {
        given::<LoyaltyAccount>([])
            .when(accrue(1, 10))
            .then_err(AccountError::NotFound);
    }

    #[test]
    fn a_program_that_is_not_active_does_not_earn() {
        let AccountCommand::Accrue(mut command) = accrue(1, 10) else {
            unreachable!()
        };
        command.program.status = ProgramStatus::Paused;
        given::<LoyaltyAccount>([enrolled()])
            .when(AccountCommand::Accrue(command))
            .then_err(AccountError::ProgramNotActive {
                status: ProgramStatus::Paused,
            });
    }

    #[test]
    fn refuses_to_overflow_the_balance() {
        given::<LoyaltyAccount>([enrolled(), earned(1, 1, i64::MAX as u64)])
            .when(accrue(2, 1))
            .then_err(AccountError::BalanceOverflow);
    }
}
