//! AddReward: a reward joins the catalogue of a program that has not ended (and whose catalogue is
//! not full), with its full stock.

use super::{AddReward, Reward, RewardCreated, RewardError, RewardEvent};
use crate::program::ProgramStatus;

pub(super) fn decide(reward: &Reward, command: AddReward) -> Result<Vec<RewardEvent>, RewardError> {
    if reward.exists() {
        return Err(RewardError::AlreadyExists);
    }
    if command.program_status == ProgramStatus::Ended {
        return Err(RewardError::ProgramEnded);
    }
    if command.catalogue_full {
        return Err(RewardError::CatalogueFull);
    }
    let definition = command.definition;
    Ok(vec![RewardEvent::Created(RewardCreated {
        reward_id: command.reward_id,
        program_id: command.program_id,
        name: definition.name.into_string(),
        reward_type: definition.reward_type,
        points_cost: definition.points_cost.value(),
        stock: definition.stock,
        per_customer_limit: definition.per_customer_limit,
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::RewardCommand;
    use super::*;
    use crate::testing::given;

    #[test]
    fn adds_a_reward_with_its_stock() {
        given::<Reward>([])
            .when(add(Some(5), Some(2)))
            .then([created(Some(5), Some(2))]);
    }

    #[test]
    fn stock_and_limit_may_be_unlimited() {
        given::<Reward>([]).when(add(None, None)).then([created(None, None)]);
    }

    #[test]
    fn draft_and_paused_programs_take_rewards() {
        for status in [ProgramStatus::Draft, ProgramStatus::Paused] {
            let RewardCommand::Add(mut command) = add(Some(5), None) else {
                unreachable!()
            };
            command.program_status = status;
            given::<Reward>([])
                .when(RewardCommand::Add(command))
                .then([created(Some(5), None)]);
        }
    }

    #[test]
    fn an_ended_program_takes_no_rewards() {
        let RewardCommand::Add(mut command) = add(Some(5), None) else {
            unreachable!()
        };
        command.program_status = ProgramStatus::Ended;
        given::<Reward>([])
            .when(RewardCommand::Add(command))
            .then_err(RewardError::ProgramEnded);
    }

    #[test]
    fn a_full_catalogue_takes_no_more() {
        let RewardCommand::Add(mut command) = add(Some(5), None) else {
            unreachable!()
        };
        command.catalogue_full = true;
        given::<Reward>([])
            .when(RewardCommand::Add(command))
            .then_err(RewardError::CatalogueFull);
    }

    #[test]
    fn refuses_to_add_twice() {
        given::<Reward>([created(Some(5), None)])
            .when(add(Some(5), None))
            .then_err(RewardError::AlreadyExists);
    }
}
