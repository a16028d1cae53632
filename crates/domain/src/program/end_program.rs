//! EndProgram: any status but `ENDED` → `ENDED`, for good.

use super::{Program, ProgramEnded, ProgramError, ProgramEvent, ProgramStatus};

pub(super) fn decide(program: &Program) -> Result<Vec<ProgramEvent>, ProgramError> {
    program.require_exists()?;
    if program.status == ProgramStatus::Ended {
        return Err(ProgramError::transition(program.status, "end"));
    }
    Ok(vec![ProgramEvent::Ended(ProgramEnded {
        program_name: program.definition.name.clone(),
        ended_by: program.actor(),
        previous_status: program.status,
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::ProgramCommand;
    use super::*;
    use crate::testing::given;

    #[test]
    fn ends_from_draft_active_or_paused() {
        given::<Program>([created()])
            .when(ProgramCommand::End)
            .then([ended(ProgramStatus::Draft)]);
        given::<Program>([created(), activated()])
            .when(ProgramCommand::End)
            .then([ended(ProgramStatus::Active)]);
        given::<Program>([created(), activated(), paused()])
            .when(ProgramCommand::End)
            .then([ended(ProgramStatus::Paused)]);
    }

    #[test]
    fn an_ended_program_stays_ended() {
        given::<Program>([created(), ended(ProgramStatus::Draft)])
            .when(ProgramCommand::End)
            .then_err(ProgramError::transition(ProgramStatus::Ended, "end"));
    }
}
