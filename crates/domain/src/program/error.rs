//! Why a program command was refused.

use serde::{Deserialize, Serialize};

use super::ProgramStatus;

/// A program rule said no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ProgramError {
    #[error("program not found")]
    NotFound,
    #[error("a program with this id already exists")]
    AlreadyExists,
    #[error("cannot {action} a program that is {from}")]
    InvalidTransition { from: ProgramStatus, action: String },
    #[error("a program needs a rule (ruleType and ruleConfig) before it can be activated")]
    RuleRequired,
    #[error("the rule of an ACTIVE program cannot change; pause it first")]
    RuleLocked,
}

impl ProgramError {
    /// The stable machine-readable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "PROGRAM_NOT_FOUND",
            Self::AlreadyExists => "PROGRAM_EXISTS",
            Self::InvalidTransition { .. } => "INVALID_TRANSITION",
            Self::RuleRequired => "RULE_REQUIRED",
            Self::RuleLocked => "RULE_LOCKED",
        }
    }

    pub(super) fn transition(from: ProgramStatus, action: &str) -> Self {
        Self::InvalidTransition {
            from,
            action: action.to_owned(),
        }
    }
}
