//! Why an account command was refused.

use serde::{Deserialize, Serialize};

use super::AccountStatus;
use crate::program::ProgramStatus;

/// An account rule said no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AccountError {
    #[error("account not found")]
    NotFound,
    #[error("an account with this id already exists")]
    AlreadyExists,
    #[error("a customer with this email is already enrolled in this program")]
    DuplicateEnrollment,
    #[error("the program is {status}; this needs an ACTIVE program")]
    ProgramNotActive { status: ProgramStatus },
    #[error("this program does not allow self-enrolment")]
    SelfEnrollmentDisabled,
    #[error("this program has reached its maximum number of enrolments")]
    EnrollmentLimitReached,
    #[error("insufficient points: {available} available, {requested} requested")]
    InsufficientPoints { available: u64, requested: u64 },
    #[error("the account is suspended")]
    AccountSuspended,
    #[error("the account is closed")]
    AccountClosed,
    #[error("cannot {action} an account that is {from}")]
    InvalidTransition { from: AccountStatus, action: String },
    #[error("the balance would exceed the largest number of points an account can hold")]
    BalanceOverflow,
    #[error("order {order_ref} was already recorded for this account")]
    DuplicateOrder { order_ref: String },
    #[error("the program has no earning rule")]
    NoRule,
    #[error("no purchase with orderRef {order_ref} was recorded for this account")]
    OrderNotFound { order_ref: String },
    #[error("this account has no issued reward {issued_reward_id}")]
    IssuedRewardNotFound { issued_reward_id: uuid::Uuid },
    #[error("issued reward {issued_reward_id} was already used")]
    IssuedRewardUsed { issued_reward_id: uuid::Uuid },
    #[error("no payment {payment_ref} of this business is known")]
    PaymentNotFound { payment_ref: String },
    #[error("payment {payment_ref} already earned points")]
    AlreadyClaimed { payment_ref: String },
    #[error("payment {payment_ref} cannot be claimed: {reason}")]
    PaymentNotClaimable { payment_ref: String, reason: String },
    #[error("payment {payment_ref} is past its {window_days}-day claim window")]
    ClaimWindowClosed { payment_ref: String, window_days: u32 },
    #[error("order {order_ref} has {refundable} left to refund")]
    RefundExceedsOrder { order_ref: String, refundable: String },
}

impl AccountError {
    /// The stable machine-readable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "ACCOUNT_NOT_FOUND",
            Self::AlreadyExists => "ACCOUNT_EXISTS",
            Self::DuplicateEnrollment => "DUPLICATE_ENROLLMENT",
            Self::ProgramNotActive { .. } => "PROGRAM_NOT_ACTIVE",
            Self::SelfEnrollmentDisabled => "SELF_ENROLLMENT_DISABLED",
            Self::EnrollmentLimitReached => "ENROLLMENT_LIMIT_REACHED",
            Self::InsufficientPoints { .. } => "INSUFFICIENT_POINTS",
            Self::AccountSuspended => "ACCOUNT_SUSPENDED",
            Self::AccountClosed => "ACCOUNT_CLOSED",
            Self::InvalidTransition { .. } => "INVALID_TRANSITION",
            Self::BalanceOverflow => "BALANCE_LIMIT_EXCEEDED",
            Self::DuplicateOrder { .. } => "DUPLICATE_ORDER",
            Self::NoRule => "RULE_REQUIRED",
            Self::OrderNotFound { .. } => "ORDER_NOT_FOUND",
            Self::PaymentNotFound { .. } => "PAYMENT_NOT_FOUND",
            Self::AlreadyClaimed { .. } => "ALREADY_CLAIMED",
            Self::PaymentNotClaimable { .. } => "PAYMENT_NOT_CLAIMABLE",
            Self::ClaimWindowClosed { .. } => "CLAIM_WINDOW_CLOSED",
            Self::IssuedRewardNotFound { .. } => "ISSUED_REWARD_NOT_FOUND",
            Self::IssuedRewardUsed { .. } => "REWARD_ALREADY_USED",
            Self::RefundExceedsOrder { .. } => "REFUND_EXCEEDS_ORDER",
        }
    }
}
