//! AccruePoints: an active member of an ACTIVE program earns a natural number of points.

use super::{AccountError, AccountEvent, AccruePoints, LoyaltyAccount, PointsEarned};
use crate::program::ProgramStatus;
use crate::values::OrderRef;

pub(super) fn decide(account: &LoyaltyAccount, command: AccruePoints) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.usable()?;
    if command.program_status != ProgramStatus::Active {
        return Err(AccountError::ProgramNotActive {
            status: command.program_status,
        });
    }
    let total = account
        .balance
        .checked_add(command.points)
        .filter(|total| total.value() <= i64::MAX as u64)
        .ok_or(AccountError::BalanceOverflow)?;
    let order_ref = command.order_ref.map(OrderRef::into_string);
    Ok(vec![AccountEvent::PointsEarned(PointsEarned {
        customer_id: enrollment.customer_id.clone(),
        program_id: enrollment.program_id,
        points_earned: command.points.value(),
        total_points: total.value(),
        transaction_id: command.transaction_id,
        reference_type: command.reference_type,
        reference_id: order_ref.clone(),
        reason: command.reason.into_string(),
        order_ref,
        expires_at: command.expires_at,
    })])
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
        command.program_status = ProgramStatus::Paused;
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
