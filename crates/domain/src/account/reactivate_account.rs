//! ReactivateAccount: a suspended account becomes active again.

use super::{AccountError, AccountEvent, AccountReactivated, AccountStatus, LoyaltyAccount, ReactivateAccount};

pub(super) fn decide(account: &LoyaltyAccount, command: ReactivateAccount) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.enrollment()?;
    super::program_open::require_open(command.program_status)?;
    if account.status != AccountStatus::Suspended {
        return Err(AccountError::InvalidTransition {
            from: account.status,
            action: "reactivate".to_owned(),
        });
    }
    Ok(vec![AccountEvent::Reactivated(AccountReactivated {
        customer_id: enrollment.customer_id.clone(),
        program_id: enrollment.program_id,
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::AccountCommand;
    use super::*;
    use crate::testing::given;

    #[test]
    fn reactivates_a_suspended_account_which_then_earns() {
        given::<LoyaltyAccount>([enrolled(), suspended()])
            .when(reactivate())
            .then([reactivated()]);
        given::<LoyaltyAccount>([enrolled(), suspended(), reactivated()])
            .when(accrue(1, 5))
            .then([earned(1, 5, 5)]);
    }

    #[test]
    fn refuses_an_active_account() {
        given::<LoyaltyAccount>([enrolled()])
            .when(reactivate())
            .then_err(AccountError::InvalidTransition {
                from: AccountStatus::Active,
                action: "reactivate".to_owned(),
            });
    }

    #[test]
    fn an_ended_program_allows_no_reactivation() {
        given::<LoyaltyAccount>([enrolled(), suspended()])
            .when(AccountCommand::Reactivate(ReactivateAccount {
                program_status: crate::program::ProgramStatus::Ended,
            }))
            .then_err(AccountError::ProgramNotActive {
                status: crate::program::ProgramStatus::Ended,
            });
    }

    #[test]
    fn needs_an_enrolled_account() {
        given::<LoyaltyAccount>([])
            .when(reactivate())
            .then_err(AccountError::NotFound);
    }
}
