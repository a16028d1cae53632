//! What happened to a program. Data fields are the seed's (`programName`, `programStatus`, …).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::templates::Industry;
use super::{ProgramDefinition, ProgramStatus, RuleConfig, RuleType};
use crate::event::{decode_data, require_version, DomainEvent, EventDecodeError};
use crate::values::{BusinessId, ProgramId};

/// `loyalty.program.created`: the program exists, in `DRAFT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramCreated {
    pub program_id: ProgramId,
    pub program_status: ProgramStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    pub created_by: BusinessId,
    #[serde(flatten)]
    pub definition: ProgramDefinition,
}

/// `loyalty.program.activated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramActivated {
    pub program_name: String,
    pub rule_type: RuleType,
    pub rule_config: RuleConfig,
}

/// `loyalty.program.paused`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramPaused {
    pub program_name: String,
    pub paused_by: BusinessId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `loyalty.program.resumed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramResumed {
    pub program_name: String,
    pub resumed_by: BusinessId,
}

/// `loyalty.program.ended`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramEnded {
    pub program_name: String,
    pub ended_by: BusinessId,
    pub previous_status: ProgramStatus,
}

/// `loyalty.program.rule_changed`: a DRAFT or PAUSED program got a new rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramRuleChanged {
    pub program_name: String,
    pub rule_type: RuleType,
    pub rule_config: RuleConfig,
}

/// `loyalty.template.used`: a program was created from a built-in template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateUsed {
    pub program_id: ProgramId,
    pub template_id: uuid::Uuid,
    pub template_name: String,
    pub industry: Industry,
    pub rule_type: RuleType,
    /// True exactly when the overrides changed the template's rule config.
    pub customized: bool,
    /// The JSON merge patch given, or null.
    pub rule_config_overrides: Option<Value>,
}

/// Every event of the `Program` aggregate.
// Programs have few events; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ProgramEvent {
    Created(ProgramCreated),
    Activated(ProgramActivated),
    Paused(ProgramPaused),
    Resumed(ProgramResumed),
    Ended(ProgramEnded),
    RuleChanged(ProgramRuleChanged),
    TemplateUsed(TemplateUsed),
}

impl ProgramEvent {
    pub const CREATED: &'static str = "loyalty.program.created";
    pub const ACTIVATED: &'static str = "loyalty.program.activated";
    pub const PAUSED: &'static str = "loyalty.program.paused";
    pub const RESUMED: &'static str = "loyalty.program.resumed";
    pub const ENDED: &'static str = "loyalty.program.ended";
    pub const RULE_CHANGED: &'static str = "loyalty.program.rule_changed";
    pub const TEMPLATE_USED: &'static str = "loyalty.template.used";

    pub const TYPES: &'static [&'static str] = &[
        Self::CREATED,
        Self::ACTIVATED,
        Self::PAUSED,
        Self::RESUMED,
        Self::ENDED,
        Self::RULE_CHANGED,
        Self::TEMPLATE_USED,
    ];
}

impl DomainEvent for ProgramEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::Created(_) => Self::CREATED,
            Self::Activated(_) => Self::ACTIVATED,
            Self::Paused(_) => Self::PAUSED,
            Self::Resumed(_) => Self::RESUMED,
            Self::Ended(_) => Self::ENDED,
            Self::RuleChanged(_) => Self::RULE_CHANGED,
            Self::TemplateUsed(_) => Self::TEMPLATE_USED,
        }
    }

    fn version(&self) -> &'static str {
        "1.0"
    }

    fn decode<'de, D: serde::Deserializer<'de>>(
        event_type: &str,
        version: &str,
        data: D,
    ) -> Result<Self, EventDecodeError> {
        require_version(event_type, version, &["1.0"])?;
        Ok(match event_type {
            Self::CREATED => Self::Created(decode_data(event_type, data)?),
            Self::ACTIVATED => Self::Activated(decode_data(event_type, data)?),
            Self::PAUSED => Self::Paused(decode_data(event_type, data)?),
            Self::RESUMED => Self::Resumed(decode_data(event_type, data)?),
            Self::ENDED => Self::Ended(decode_data(event_type, data)?),
            Self::RULE_CHANGED => Self::RuleChanged(decode_data(event_type, data)?),
            Self::TEMPLATE_USED => Self::TemplateUsed(decode_data(event_type, data)?),
            other => return Err(EventDecodeError::UnknownType(other.to_owned())),
        })
    }
}
