//! Events and commands the program tests are written in.

use rust_decimal::Decimal;

use super::command::CreateProgram;
use super::*;
use crate::values::{BusinessId, ProgramId};

pub const NAME: &str = "Coffee Rewards";

pub fn program_id() -> ProgramId {
    ProgramId(uuid::Uuid::from_u128(1))
}

pub fn business_id() -> BusinessId {
    BusinessId(uuid::Uuid::from_u128(2))
}

pub fn rule() -> RuleConfig {
    RuleConfig::PointsBased(PointsBasedConfig {
        points_per_dollar: Decimal::from(10),
        min_purchase_amount: Decimal::ZERO,
        max_points_per_transaction: None,
        excluded_categories: Vec::new(),
    })
}

pub fn definition() -> ProgramDefinition {
    let mut definition = ProgramDefinition {
        name: NAME.to_owned(),
        ..ProgramDefinition::default()
    };
    definition.set_rule(rule());
    definition
}

pub fn create_command() -> ProgramCommand {
    ProgramCommand::Create(CreateProgram {
        program_id: program_id(),
        business_id: business_id(),
        definition: definition(),
        template_id: None,
    })
}

pub fn created() -> ProgramEvent {
    ProgramEvent::Created(ProgramCreated {
        program_id: program_id(),
        program_status: ProgramStatus::Draft,
        template_id: None,
        created_by: business_id(),
        definition: definition(),
    })
}

pub fn created_without_rule() -> ProgramEvent {
    ProgramEvent::Created(ProgramCreated {
        program_id: program_id(),
        program_status: ProgramStatus::Draft,
        template_id: None,
        created_by: business_id(),
        definition: ProgramDefinition {
            name: NAME.to_owned(),
            ..ProgramDefinition::default()
        },
    })
}

pub fn activated() -> ProgramEvent {
    ProgramEvent::Activated(ProgramActivated {
        program_name: NAME.to_owned(),
        rule_type: RuleType::PointsBased,
        rule_config: rule(),
    })
}

pub fn paused() -> ProgramEvent {
    ProgramEvent::Paused(ProgramPaused {
        program_name: NAME.to_owned(),
        paused_by: business_id(),
        reason: None,
    })
}

pub fn resumed() -> ProgramEvent {
    ProgramEvent::Resumed(ProgramResumed {
        program_name: NAME.to_owned(),
        resumed_by: business_id(),
    })
}

pub fn ended(previous_status: ProgramStatus) -> ProgramEvent {
    ProgramEvent::Ended(ProgramEnded {
        program_name: NAME.to_owned(),
        ended_by: business_id(),
        previous_status,
    })
}

pub fn rule_changed() -> ProgramEvent {
    ProgramEvent::RuleChanged(ProgramRuleChanged {
        program_name: NAME.to_owned(),
        rule_type: RuleType::PointsBased,
        rule_config: rule(),
    })
}
