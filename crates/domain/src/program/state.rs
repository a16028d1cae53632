//! The `Program` aggregate's state and its fold.

use serde::{Deserialize, Serialize};

use super::{ProgramCommand, ProgramDefinition, ProgramError, ProgramEvent, ProgramStatus};
use crate::values::{BusinessId, ProgramId};
use crate::Aggregate;

/// A loyalty program as its events made it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Program {
    /// `None` until the program is created.
    pub id: Option<ProgramId>,
    pub business_id: Option<BusinessId>,
    pub status: ProgramStatus,
    pub definition: ProgramDefinition,
    pub template_id: Option<String>,
}

impl Program {
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    pub(super) fn require_exists(&self) -> Result<(), ProgramError> {
        if self.exists() {
            Ok(())
        } else {
            Err(ProgramError::NotFound)
        }
    }

    pub(super) fn actor(&self) -> BusinessId {
        self.business_id.unwrap_or(BusinessId(uuid::Uuid::nil()))
    }
}

impl Aggregate for Program {
    type Command = ProgramCommand;
    type Event = ProgramEvent;
    type Error = ProgramError;

    const AGGREGATE_TYPE: &'static str = "LoyaltyProgram";

    fn handle(&self, command: ProgramCommand) -> Result<Vec<ProgramEvent>, ProgramError> {
        match command {
            ProgramCommand::Create(c) => super::create_program::decide(self, c),
            ProgramCommand::CreateFromTemplate(c) => super::create_program_from_template::decide(self, c),
            ProgramCommand::Activate => super::activate_program::decide(self),
            ProgramCommand::Pause { reason } => super::pause_program::decide(self, reason),
            ProgramCommand::Resume => super::resume_program::decide(self),
            ProgramCommand::End => super::end_program::decide(self),
            ProgramCommand::ChangeRule { rule } => super::change_program_rule::decide(self, rule),
        }
    }

    fn apply(&mut self, event: &ProgramEvent) {
        match event {
            ProgramEvent::Created(e) => {
                self.id = Some(e.program_id);
                self.business_id = Some(e.created_by);
                self.status = e.program_status;
                self.definition = e.definition.clone();
                self.template_id = e.template_id.clone();
            }
            ProgramEvent::Activated(_) | ProgramEvent::Resumed(_) => self.status = ProgramStatus::Active,
            ProgramEvent::Paused(_) => self.status = ProgramStatus::Paused,
            ProgramEvent::Ended(_) => self.status = ProgramStatus::Ended,
            ProgramEvent::RuleChanged(e) => self.definition.set_rule(e.rule_config.clone()),
            ProgramEvent::TemplateUsed(_) => {}
        }
    }
}
