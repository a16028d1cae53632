//! The `Program` aggregate: a business's loyalty program and its lifecycle
//! `DRAFT → ACTIVE ↔ PAUSED`, any but `ENDED` → `ENDED`.

mod activate_program;
mod change_program_rule;
mod command;
mod create_program;
mod create_program_from_template;
mod definition;
mod earning;
mod end_program;
mod error;
mod event;
#[cfg(test)]
mod fixtures;
mod pause_program;
mod resume_program;
mod reward_type;
mod rule;
mod state;
mod status;
pub mod templates;
mod tier;
mod tier_policy;

pub use command::{CreateFromTemplate, CreateProgram, ProgramCommand, TemplateUse};
pub use definition::{EnrollmentSettings, ProgramDefinition};
pub use earning::{purchase_points, to_points};
pub use error::ProgramError;
pub use event::{
    ProgramActivated, ProgramCreated, ProgramEnded, ProgramEvent, ProgramPaused, ProgramResumed, ProgramRuleChanged,
    TemplateUsed,
};
pub use reward_type::RewardType;
pub use rule::{
    AmountSpentConfig, EvaluationPeriod, PointsBasedConfig, PunchCardConfig, RuleConfig, RuleType, StampCardConfig,
    TierBasedConfig, VisitFrequencyConfig,
};
pub use state::Program;
pub use status::ProgramStatus;
pub use tier::{BenefitType, Tier, TierBenefit};
pub use tier_policy::TierPolicy;
