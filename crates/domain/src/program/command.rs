//! What can be asked of a program.

use super::{ProgramDefinition, RuleConfig};
use crate::values::{BusinessId, ProgramId, Reason};

/// A command to the `Program` aggregate.
// Commands live for one decision; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ProgramCommand {
    Create(CreateProgram),
    Activate,
    Pause { reason: Option<Reason> },
    Resume,
    End,
    ChangeRule { rule: RuleConfig },
}

/// Create a program in `DRAFT`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateProgram {
    pub program_id: ProgramId,
    pub business_id: BusinessId,
    pub definition: ProgramDefinition,
    pub template_id: Option<String>,
}
