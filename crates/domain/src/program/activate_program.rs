//! ActivateProgram: `DRAFT → ACTIVE`, only with a rule.

use super::{Program, ProgramActivated, ProgramError, ProgramEvent, ProgramStatus};

pub(super) fn decide(program: &Program) -> Result<Vec<ProgramEvent>, ProgramError> {
    program.require_exists()?;
    if program.status != ProgramStatus::Draft {
        return Err(ProgramError::transition(program.status, "activate"));
    }
    let rule = program.definition.rule().ok_or(ProgramError::RuleRequired)?;
    Ok(vec![ProgramEvent::Activated(ProgramActivated {
        program_name: program.definition.name.clone(),
        rule_type: rule.rule_type(),
        rule_config: rule.clone(),
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::ProgramCommand;
    use super::*;
    use crate::testing::given;

    #[test]
    fn activates_a_draft_with_a_rule() {
        given::<Program>([created()])
            .when(ProgramCommand::Activate)
            .then([activated()]);
    }

    #[test]
    fn needs_a_rule() {
        given::<Program>([created_without_rule()])
            .when(ProgramCommand::Activate)
            .then_err(ProgramError::RuleRequired);
    }

    #[test]
    fn refuses_unless_draft() {
        for (history, from) in [
            (vec![created(), activated()], ProgramStatus::Active),
            (vec![created(), activated(), paused()], ProgramStatus::Paused),
            (vec![created(), ended(ProgramStatus::Draft)], ProgramStatus::Ended),
        ] {
            given::<Program>(history)
                .when(ProgramCommand::Activate)
                .then_err(ProgramError::transition(from, "activate"));
        }
    }

    #[test]
    fn refuses_an_unknown_program() {
        given::<Program>([])
            .when(ProgramCommand::Activate)
            .then_err(ProgramError::NotFound);
    }
}
