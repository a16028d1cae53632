//! PauseProgram: `ACTIVE → PAUSED`.

use super::{Program, ProgramError, ProgramEvent, ProgramPaused, ProgramStatus};
use crate::values::Reason;

pub(super) fn decide(program: &Program, reason: Option<Reason>) -> Result<Vec<ProgramEvent>, ProgramError> {
    program.require_exists()?;
    if program.status != ProgramStatus::Active {
        return Err(ProgramError::transition(program.status, "pause"));
    }
    Ok(vec![ProgramEvent::Paused(ProgramPaused {
        program_name: program.definition.name.clone(),
        paused_by: program.actor(),
        reason: reason.map(Reason::into_string),
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::ProgramCommand;
    use super::*;
    use crate::testing::given;

    #[test]
    fn pauses_an_active_program() {
        given::<Program>([created(), activated()])
            .when(ProgramCommand::Pause { reason: None })
            .then([paused()]);
    }

    #[test]
    fn keeps_the_reason() {
        let reason = Reason::parse("reason", "Inventory count").ok();
        let events = given::<Program>([created(), activated()])
            .when(ProgramCommand::Pause { reason })
            .result()
            .expect("paused");
        let ProgramEvent::Paused(e) = &events[0] else {
            panic!("not paused")
        };
        assert_eq!(e.reason.as_deref(), Some("Inventory count"));
    }

    #[test]
    fn refuses_unless_active() {
        given::<Program>([created()])
            .when(ProgramCommand::Pause { reason: None })
            .then_err(ProgramError::transition(ProgramStatus::Draft, "pause"));
        given::<Program>([created(), activated(), paused()])
            .when(ProgramCommand::Pause { reason: None })
            .then_err(ProgramError::transition(ProgramStatus::Paused, "pause"));
    }
}
