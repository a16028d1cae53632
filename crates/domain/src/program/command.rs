//! What can be asked of a program.

use super::templates::Industry;
use super::{ProgramDefinition, RuleConfig, RuleType};
use crate::values::{BusinessId, ProgramId, Reason};

/// A command to the `Program` aggregate.
// Commands live for one decision; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ProgramCommand {
    Create(CreateProgram),
    CreateFromTemplate(CreateFromTemplate),
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

/// Which template a program is created from, and how it was customised.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateUse {
    pub template_id: uuid::Uuid,
    pub template_name: String,
    pub industry: Industry,
    pub rule_type: RuleType,
    /// Whether the overrides changed the template's rule config.
    pub customized: bool,
    pub overrides: Option<serde_json::Value>,
}

/// Create a program from a built-in template (its definition already merged with the
/// overrides), optionally activating it at once.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateFromTemplate {
    pub create: CreateProgram,
    pub template: TemplateUse,
    pub activate: bool,
}
