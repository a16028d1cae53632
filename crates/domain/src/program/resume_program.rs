//! ResumeProgram: `PAUSED → ACTIVE`.

use super::{Program, ProgramError, ProgramEvent, ProgramResumed, ProgramStatus};

pub(super) fn decide(program: &Program) -> Result<Vec<ProgramEvent>, ProgramError> {
    program.require_exists()?;
    if program.status != ProgramStatus::Paused {
        return Err(ProgramError::transition(program.status, "resume"));
    }
    Ok(vec![ProgramEvent::Resumed(ProgramResumed {
        program_name: program.definition.name.clone(),
        resumed_by: program.actor(),
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::ProgramCommand;
    use super::*;
    use crate::testing::given;

    #[test]
    fn resumes_a_paused_program() {
        given::<Program>([created(), activated(), paused()])
            .when(ProgramCommand::Resume)
            .then([resumed()]);
    }

    #[test]
    fn refuses_unless_paused() {
        given::<Program>([created(), activated()])
            .when(ProgramCommand::Resume)
            .then_err(ProgramError::transition(ProgramStatus::Active, "resume"));
        given::<Program>([created()])
            .when(ProgramCommand::Resume)
            .then_err(ProgramError::transition(ProgramStatus::Draft, "resume"));
    }
}
