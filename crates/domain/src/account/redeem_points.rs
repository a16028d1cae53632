//! RedeemPoints: an active member spends points they have; the balance never goes below zero.

use super::{AccountError, AccountEvent, LoyaltyAccount, PointsRedeemed, RedeemPoints};
use crate::program::ProgramStatus;

pub(super) fn decide(account: &LoyaltyAccount, command: RedeemPoints) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.usable()?;
    if !matches!(command.program_status, ProgramStatus::Active | ProgramStatus::Paused) {
        return Err(AccountError::ProgramNotActive {
            status: command.program_status,
        });
    }
    let remaining = account
        .balance
        .checked_sub(command.points)
        .ok_or(AccountError::InsufficientPoints {
            available: account.balance.value(),
            requested: command.points.value(),
        })?;
    Ok(vec![AccountEvent::PointsRedeemed(PointsRedeemed {
        customer_id: enrollment.customer_id.clone(),
        program_id: enrollment.program_id,
        points_redeemed: command.points.value(),
        remaining_points: remaining.value(),
        reward_id: command.reward.as_ref().map(|r| r.reward_id),
        reward_name: command.reward.map(|r| r.name),
        transaction_id: command.transaction_id,
        reason: command.reason.into_string(),
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{AccountCommand, RewardRef};
    use super::*;
    use crate::testing::given;

    #[test]
    fn spends_from_the_balance() {
        given::<LoyaltyAccount>([enrolled(), earned(1, 100, 100)])
            .when(redeem(2, 30))
            .then([redeemed(2, 30, 70)]);
    }

    #[test]
    fn a_redemption_for_a_reward_names_it() {
        let AccountCommand::Redeem(mut command) = redeem(2, 30) else {
            unreachable!()
        };
        let reward_id = crate::values::RewardId(uuid::Uuid::from_u128(30));
        command.reward = Some(RewardRef {
            reward_id,
            name: "Free coffee".to_owned(),
        });
        let AccountEvent::PointsRedeemed(mut expected) = redeemed(2, 30, 70) else {
            unreachable!()
        };
        expected.reward_id = Some(reward_id);
        expected.reward_name = Some("Free coffee".to_owned());
        given::<LoyaltyAccount>([enrolled(), earned(1, 100, 100)])
            .when(AccountCommand::Redeem(command))
            .then([AccountEvent::PointsRedeemed(expected)]);
    }

    #[test]
    fn may_spend_everything() {
        given::<LoyaltyAccount>([enrolled(), earned(1, 100, 100)])
            .when(redeem(2, 100))
            .then([redeemed(2, 100, 0)]);
    }

    #[test]
    fn refuses_more_than_the_balance() {
        given::<LoyaltyAccount>([enrolled(), earned(1, 50, 50)])
            .when(redeem(2, 80))
            .then_err(AccountError::InsufficientPoints {
                available: 50,
                requested: 80,
            });
    }

    #[test]
    fn a_suspended_account_does_not_redeem() {
        given::<LoyaltyAccount>([enrolled(), earned(1, 50, 50), suspended()])
            .when(redeem(2, 10))
            .then_err(AccountError::AccountSuspended);
    }

    #[test]
    fn a_paused_program_still_redeems_an_ended_one_does_not() {
        let AccountCommand::Redeem(mut command) = redeem(2, 10) else {
            unreachable!()
        };
        command.program_status = ProgramStatus::Paused;
        given::<LoyaltyAccount>([enrolled(), earned(1, 50, 50)])
            .when(AccountCommand::Redeem(command.clone()))
            .then([redeemed(2, 10, 40)]);
        command.program_status = ProgramStatus::Ended;
        given::<LoyaltyAccount>([enrolled(), earned(1, 50, 50)])
            .when(AccountCommand::Redeem(command))
            .then_err(AccountError::ProgramNotActive {
                status: ProgramStatus::Ended,
            });
    }

    #[test]
    fn needs_an_enrolled_account() {
        given::<LoyaltyAccount>([])
            .when(redeem(1, 10))
            .then_err(AccountError::NotFound);
    }
}
