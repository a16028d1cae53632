//! SuspendAccount: an active account stops earning and redeeming until reactivated.

use super::{AccountError, AccountEvent, AccountStatus, AccountSuspended, LoyaltyAccount, SuspendAccount};

pub(super) fn decide(account: &LoyaltyAccount, command: SuspendAccount) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.enrollment()?;
    super::program_open::require_open(command.program_status)?;
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
    use super::super::AccountCommand;
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

    #[test]
    fn an_ended_program_allows_no_suspension() {
        let AccountCommand::Suspend(command) = suspend() else {
            unreachable!()
        };
        given::<LoyaltyAccount>([enrolled()])
            .when(AccountCommand::Suspend(SuspendAccount {
                program_status: crate::program::ProgramStatus::Ended,
                ..command
            }))
            .then_err(AccountError::ProgramNotActive {
                status: crate::program::ProgramStatus::Ended,
            });
    }
}
