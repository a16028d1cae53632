//! SuspendAccount: an active account stops earning and redeeming until reactivated.

use super::{AccountError, AccountEvent, AccountStatus, AccountSuspended, LoyaltyAccount, SuspendAccount};

pub(super) fn decide(account: &LoyaltyAccount, command: SuspendAccount) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.enrollment()?;
    if account.status != AccountStatus::Active {
        return Err(AccountError::InvalidTransition {
            from: account.status,
            action: "suspend".to_owned(),
        });
    }
    Ok(vec![AccountEvent::Suspended(AccountSuspended {
        customer_id: enrollment.customer_id.clone(),
        program_id: enrollment.program_id,
        reason: command.reason.into_string(),
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::testing::given;

    #[test]
    fn suspends_an_active_account() {
        given::<LoyaltyAccount>([enrolled()])
            .when(suspend())
            .then([suspended()]);
    }

    #[test]
    fn refuses_to_suspend_twice() {
        given::<LoyaltyAccount>([enrolled(), suspended()])
            .when(suspend())
            .then_err(AccountError::InvalidTransition {
                from: AccountStatus::Suspended,
                action: "suspend".to_owned(),
            });
    }

    #[test]
    fn needs_an_enrolled_account() {
        given::<LoyaltyAccount>([])
            .when(suspend())
            .then_err(AccountError::NotFound);
    }
}
