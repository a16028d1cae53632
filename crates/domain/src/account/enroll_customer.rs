//! EnrollCustomer: a customer joins an ACTIVE program, once per email (any letter case).

use super::{AccountError, AccountEvent, CustomerEnrolled, EnrollCustomer, EnrollmentMethod, LoyaltyAccount};
use crate::program::ProgramStatus;

pub(super) fn decide(account: &LoyaltyAccount, command: EnrollCustomer) -> Result<Vec<AccountEvent>, AccountError> {
    if account.enrollment.is_some() {
        return Err(AccountError::AlreadyExists);
    }
    let program = &command.program;
    if program.status != ProgramStatus::Active {
        return Err(AccountError::ProgramNotActive { status: program.status });
    }
    if command.method == EnrollmentMethod::SelfService && !program.self_enroll_enabled {
        return Err(AccountError::SelfEnrollmentDisabled);
    }
    if command.email_taken {
        return Err(AccountError::DuplicateEnrollment);
    }
    if program.enrollment_full {
        return Err(AccountError::EnrollmentLimitReached);
    }
    Ok(vec![AccountEvent::Enrolled(CustomerEnrolled {
        customer_id: command.customer_id,
        program_id: program.program_id,
        program_name: program.name.clone(),
        enrollment_method: command.method,
        initial_tier_id: program.initial_tier.as_ref().map(|t| t.tier_id.clone()),
        initial_tier_name: program.initial_tier.as_ref().map(|t| t.name.clone()),
        initial_tier_level: program.initial_tier.as_ref().map(|t| t.level),
        display_name: command.display_name.into_string(),
        email: command.email.as_str().to_owned(),
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::AccountCommand;
    use super::*;
    use crate::testing::given;

    #[test]
    fn enrols_into_an_active_program() {
        given::<LoyaltyAccount>([]).when(enroll()).then([enrolled()]);
    }

    #[test]
    fn refuses_a_second_enrolment_of_the_same_account() {
        given::<LoyaltyAccount>([enrolled()])
            .when(enroll())
            .then_err(AccountError::AlreadyExists);
    }

    #[test]
    fn refuses_an_email_already_enrolled() {
        let AccountCommand::Enroll(mut command) = enroll() else {
            unreachable!()
        };
        command.email_taken = true;
        given::<LoyaltyAccount>([])
            .when(AccountCommand::Enroll(command))
            .then_err(AccountError::DuplicateEnrollment);
    }

    #[test]
    fn refuses_a_program_that_is_not_active() {
        for status in [ProgramStatus::Draft, ProgramStatus::Paused, ProgramStatus::Ended] {
            let AccountCommand::Enroll(mut command) = enroll() else {
                unreachable!()
            };
            command.program.status = status;
            given::<LoyaltyAccount>([])
                .when(AccountCommand::Enroll(command))
                .then_err(AccountError::ProgramNotActive { status });
        }
    }

    #[test]
    fn honours_enrollment_settings() {
        let AccountCommand::Enroll(mut command) = enroll() else {
            unreachable!()
        };
        command.method = EnrollmentMethod::SelfService;
        command.program.self_enroll_enabled = false;
        given::<LoyaltyAccount>([])
            .when(AccountCommand::Enroll(command))
            .then_err(AccountError::SelfEnrollmentDisabled);

        let AccountCommand::Enroll(mut command) = enroll() else {
            unreachable!()
        };
        command.program.enrollment_full = true;
        given::<LoyaltyAccount>([])
            .when(AccountCommand::Enroll(command))
            .then_err(AccountError::EnrollmentLimitReached);
    }
}
