//! UseIssuedReward: a reward a full card issued is used once, by an active member.

use super::{AccountError, AccountEvent, IssuedRewardUsed, LoyaltyAccount, UseIssuedReward};

pub(super) fn decide(account: &LoyaltyAccount, command: UseIssuedReward) -> Result<Vec<AccountEvent>, AccountError> {
    let enrollment = account.usable()?;
    super::program_open::require_open(command.program_status)?;
    let issued_reward_id = command.issued_reward_id;
    let reward = account
        .issued_rewards
        .iter()
        .find(|r| r.issued_reward_id == issued_reward_id)
        .ok_or(AccountError::IssuedRewardNotFound { issued_reward_id })?;
    if reward.used_at.is_some() {
        return Err(AccountError::IssuedRewardUsed { issued_reward_id });
    }
    Ok(vec![AccountEvent::IssuedRewardUsed(IssuedRewardUsed {
        customer_id: enrollment.customer_id.clone(),
        program_id: enrollment.program_id,
        issued_reward_id,
        reward_type: reward.reward_type,
        reward_value: reward.reward_value.clone(),
        used_at: command.now,
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::{AccountCommand, RewardIssued};
    use super::*;
    use crate::program::{RewardType, RuleType};
    use crate::testing::given;

    fn issued() -> AccountEvent {
        AccountEvent::RewardIssued(RewardIssued {
            customer_id: customer_id(),
            program_id: program_id(),
            issued_reward_id: uuid::Uuid::from_u128(6000),
            reward_type: RewardType::FreeItem,
            reward_value: "Coffee".to_owned(),
            rule_type: RuleType::PunchCard,
            order_ref: "o-1".to_owned(),
        })
    }

    fn use_it(n: u128) -> AccountCommand {
        AccountCommand::UseIssuedReward(UseIssuedReward {
            issued_reward_id: uuid::Uuid::from_u128(n),
            program_status: crate::program::ProgramStatus::Active,
            now: now(),
        })
    }

    fn used() -> AccountEvent {
        AccountEvent::IssuedRewardUsed(IssuedRewardUsed {
            customer_id: customer_id(),
            program_id: program_id(),
            issued_reward_id: uuid::Uuid::from_u128(6000),
            reward_type: RewardType::FreeItem,
            reward_value: "Coffee".to_owned(),
            used_at: now(),
        })
    }

    #[test]
    fn an_issued_reward_is_used_once() {
        given::<LoyaltyAccount>([enrolled(), issued()])
            .when(use_it(6000))
            .then([used()]);
        given::<LoyaltyAccount>([enrolled(), issued(), used()])
            .when(use_it(6000))
            .then_err(AccountError::IssuedRewardUsed {
                issued_reward_id: uuid::Uuid::from_u128(6000),
            });
    }

    #[test]
    fn only_rewards_of_this_account_and_only_while_active() {
        given::<LoyaltyAccount>([enrolled(), issued()])
            .when(use_it(1))
            .then_err(AccountError::IssuedRewardNotFound {
                issued_reward_id: uuid::Uuid::from_u128(1),
            });
        given::<LoyaltyAccount>([enrolled(), issued(), suspended()])
            .when(use_it(6000))
            .then_err(AccountError::AccountSuspended);
    }
}
