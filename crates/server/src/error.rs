//! The one place where every failure becomes an HTTP answer: RFC 9457 problem+json with a stable
//! `code` and, for bad input, each bad field named. Internal causes are logged, never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use loyalty_domain::account::AccountError;
use loyalty_domain::program::ProgramError;
use loyalty_domain::reward::RewardError;
use loyalty_domain::{FieldError, ValidationErrors};
use loyalty_store::{JsonBody, StoreError, StoredResponse};
use serde::Serialize;
use utoipa::ToSchema;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Validation(ValidationErrors),
    #[error("{0}")]
    MalformedJson(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Program(#[from] ProgramError),
    #[error(transparent)]
    Reward(#[from] RewardError),
    #[error("the handler failed again: {0}")]
    RetryFailed(String),
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("the service is shutting down or overloaded, or its database cannot be reached; nothing was done: retry")]
    Unavailable,
    /// The store halted (see `StoreError::Halted`); logged once, where it happened.
    #[error("the service has halted: its storage could not confirm a write reached the disk; it serves nothing until an operator restarts it")]
    Halted,
    /// The command may have been committed, but that could not be confirmed (see
    /// `StoreError::DurabilityUnconfirmed`).
    #[error("the outcome is unknown: the command may have been kept; send it again with the same Idempotency-Key, which answers as the first time if it was kept and runs it if not")]
    OutcomeUnknown,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// RFC 9457 problem details, as sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, such as `INSUFFICIENT_POINTS`.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<FieldError>>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Account(
                AccountError::NotFound
                | AccountError::OrderNotFound { .. }
                | AccountError::IssuedRewardNotFound { .. }
                | AccountError::PaymentNotFound { .. },
            )
            | Self::Program(ProgramError::NotFound)
            | Self::Reward(RewardError::NotFound) => StatusCode::NOT_FOUND,
            Self::Account(_) | Self::Program(_) | Self::Reward(_) | Self::RetryFailed(_) => StatusCode::CONFLICT,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable | Self::Halted | Self::OutcomeUnknown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "VALIDATION_FAILED",
            Self::MalformedJson(_) => "MALFORMED_REQUEST",
            Self::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::NotFound(what) => match *what {
                "account" => "ACCOUNT_NOT_FOUND",
                "program" => "PROGRAM_NOT_FOUND",
                "reward" => "REWARD_NOT_FOUND",
                "template" => "TEMPLATE_NOT_FOUND",
                "dead letter" => "DEAD_LETTER_NOT_FOUND",
                "webhook" => "WEBHOOK_NOT_FOUND",
                "delivery" => "DELIVERY_NOT_FOUND",
                _ => "NOT_FOUND",
            },
            Self::Account(e) => e.code(),
            Self::Program(e) => e.code(),
            Self::Reward(e) => e.code(),
            Self::RetryFailed(_) => "DEAD_LETTER_RETRY_FAILED",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::Unavailable | Self::Halted => "UNAVAILABLE",
            Self::OutcomeUnknown => "OUTCOME_UNKNOWN",
            Self::Internal(_) => "INTERNAL_ERROR",
        }
    }

    fn title(&self) -> &'static str {
        match self.status() {
            StatusCode::BAD_REQUEST => "Invalid request",
            StatusCode::PAYLOAD_TOO_LARGE => "Request body too large",
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Refused by a business rule",
            StatusCode::UNPROCESSABLE_ENTITY => "Idempotency key reused",
            StatusCode::SERVICE_UNAVAILABLE => "Service unavailable",
            _ => "Internal error",
        }
    }

    pub fn problem(&self) -> Problem {
        let code = self.code();
        Problem {
            problem_type: format!(
                "https://loyalty.example/problems/{}",
                code.to_lowercase().replace('_', "-")
            ),
            title: self.title().to_owned(),
            status: self.status().as_u16(),
            detail: self.to_string(),
            code: code.to_owned(),
            errors: match self {
                Self::Validation(errors) => Some(errors.0.clone()),
                _ => None,
            },
        }
    }

    /// The answer as kept in an idempotency record.
    pub fn to_stored(&self) -> StoredResponse {
        StoredResponse {
            status: self.status().as_u16(),
            body: JsonBody::of(&self.problem()).unwrap_or_default(),
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(ValidationErrors::single(field, message))
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::WriterGone => Self::Unavailable,
            // A batch lost before its commit (the store says so), or a read whose connection
            // was lost: nothing was done.
            other if matches!(other, StoreError::Unavailable(_)) || other.is_connection_lost() => {
                tracing::warn!(error = %other, "the database is unavailable");
                Self::Unavailable
            }
            StoreError::Halted(_) => Self::Halted,
            StoreError::DurabilityUnconfirmed(why) => {
                tracing::error!(%why, "a commit could not be confirmed durable");
                Self::OutcomeUnknown
            }
            other => Self::Internal(other.into()),
        }
    }
}

/// A problem+json response with this status and body.
pub fn problem_response(status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(error = ?cause, "request failed");
        }
        problem_response(self.status(), self.problem())
    }
}
