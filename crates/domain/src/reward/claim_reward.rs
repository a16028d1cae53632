//! ClaimReward: a member of the reward's program takes one unit, while stock lasts and within the
//! per-customer limit. Stock never goes below zero.

use super::{ClaimReward, Reward, RewardClaimed, RewardError, RewardEvent};

pub(super) fn decide(reward: &Reward, command: ClaimReward) -> Result<Vec<RewardEvent>, RewardError> {
    let entry = reward.entry()?;
    // Another program's reward answers exactly as if it did not exist.
    if entry.program_id != command.program_id {
        return Err(RewardError::NotFound);
    }
    let remaining_stock = match reward.remaining_stock {
        None => None,
        Some(left) => Some(left.checked_sub(1).ok_or(RewardError::OutOfStock)?),
    };
    if let Some(limit) = entry.per_customer_limit {
        if command.claims_by_customer >= u64::from(limit) {
            return Err(RewardError::LimitReached { limit });
        }
    }
    Ok(vec![RewardEvent::Claimed(RewardClaimed {
        reward_id: entry.reward_id,
        program_id: entry.program_id,
        account_id: command.account_id,
        customer_id: command.customer_id,
        points_cost: entry.points_cost.value(),
        remaining_stock,
        transaction_id: command.transaction_id,
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::RewardCommand;
    use super::*;
    use crate::values::ProgramId;

    use crate::testing::given;

    #[test]
    fn takes_one_unit_of_stock() {
        given::<Reward>([created(Some(2), None)])
            .when(claim(1, 0))
            .then([claimed(1, Some(1))]);
    }

    #[test]
    fn the_last_unit_leaves_zero() {
        given::<Reward>([created(Some(2), None), claimed(1, Some(1))])
            .when(claim(2, 0))
            .then([claimed(2, Some(0))]);
    }

    #[test]
    fn refuses_when_out_of_stock() {
        given::<Reward>([created(Some(1), None), claimed(1, Some(0))])
            .when(claim(2, 0))
            .then_err(RewardError::OutOfStock);
    }

    #[test]
    fn unlimited_stock_never_runs_out() {
        given::<Reward>([created(None, None), claimed(1, None), claimed(2, None)])
            .when(claim(3, 0))
            .then([claimed(3, None)]);
    }

    #[test]
    fn refuses_a_customer_at_their_limit() {
        given::<Reward>([created(Some(10), Some(2))])
            .when(claim(3, 2))
            .then_err(RewardError::LimitReached { limit: 2 });
    }

    #[test]
    fn a_customer_below_their_limit_may_claim() {
        given::<Reward>([created(Some(10), Some(2))])
            .when(claim(3, 1))
            .then([claimed(3, Some(9))]);
    }

    #[test]
    fn out_of_stock_is_said_before_the_limit() {
        given::<Reward>([created(Some(1), Some(1)), claimed(1, Some(0))])
            .when(claim(2, 1))
            .then_err(RewardError::OutOfStock);
    }

    #[test]
    fn another_programs_member_does_not_find_it() {
        let RewardCommand::Claim(mut command) = claim(1, 0) else {
            unreachable!()
        };
        command.program_id = ProgramId(uuid::Uuid::from_u128(99));
        given::<Reward>([created(Some(5), None)])
            .when(RewardCommand::Claim(command))
            .then_err(RewardError::NotFound);
    }

    #[test]
    fn needs_a_created_reward() {
        given::<Reward>([]).when(claim(1, 0)).then_err(RewardError::NotFound);
    }
}
