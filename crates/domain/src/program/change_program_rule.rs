//! ChangeProgramRule: a `DRAFT` or `PAUSED` program gets a new rule; an `ACTIVE` one cannot.

use super::{Program, ProgramError, ProgramEvent, ProgramRuleChanged, ProgramStatus, RuleConfig};

pub(super) fn decide(program: &Program, rule: RuleConfig) -> Result<Vec<ProgramEvent>, ProgramError> {
    program.require_exists()?;
    match program.status {
        ProgramStatus::Active => Err(ProgramError::RuleLocked),
        ProgramStatus::Ended => Err(ProgramError::transition(program.status, "change the rule of")),
        ProgramStatus::Draft | ProgramStatus::Paused => Ok(vec![ProgramEvent::RuleChanged(ProgramRuleChanged {
            program_name: program.definition.name.clone(),
            rule_type: rule.rule_type(),
            rule_config: rule,
        })]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::ProgramCommand;
    use super::*;
    use crate::testing::given;

    #[test]
    fn a_draft_gets_a_rule_and_can_then_activate() {
        let given = given::<Program>([created_without_rule(), rule_changed()]);
        assert_eq!(given.state().definition.rule(), Some(&rule()));
        given.when(ProgramCommand::Activate).then([activated()]);
    }

    #[test]
    fn an_active_rule_is_locked() {
        given::<Program>([created(), activated()])
            .when(ProgramCommand::ChangeRule { rule: rule() })
            .then_err(ProgramError::RuleLocked);
    }

    #[test]
    fn a_paused_program_may_change_its_rule() {
        given::<Program>([created(), activated(), paused()])
            .when(ProgramCommand::ChangeRule { rule: rule() })
            .then([rule_changed()]);
    }
}
