//! CreateProgram: a new program starts in `DRAFT`.

use super::command::CreateProgram;
use super::{Program, ProgramCreated, ProgramError, ProgramEvent, ProgramStatus};

pub(super) fn decide(program: &Program, command: CreateProgram) -> Result<Vec<ProgramEvent>, ProgramError> {
    if program.exists() {
        return Err(ProgramError::AlreadyExists);
    }
    Ok(vec![ProgramEvent::Created(ProgramCreated {
        program_id: command.program_id,
        program_status: ProgramStatus::Draft,
        template_id: command.template_id,
        created_by: command.business_id,
        definition: command.definition,
    })])
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::testing::given;

    #[test]
    fn creates_a_draft_program() {
        given::<Program>([]).when(create_command()).then([created()]);
    }

    #[test]
    fn refuses_to_create_twice() {
        given::<Program>([created()])
            .when(create_command())
            .then_err(ProgramError::AlreadyExists);
    }
}
