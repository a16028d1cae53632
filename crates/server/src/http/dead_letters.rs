//! The business's dead-letter queue: events a handler still failed on after its retries.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use loyalty_store::views::Items;
use loyalty_store::DeadLetter;
use serde_json::{json, Value};

use super::accounts::page_limit;
use super::extract::{path_id, Tenant};
use super::AppState;
use crate::delivery::RetryOutcome;
use crate::error::{ApiError, Problem};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/dead-letters", get(list_dead_letters))
        .route("/v1/dead-letters/{deadLetterId}/retry", post(retry_dead_letter))
        .route("/v1/dead-letters/{deadLetterId}", delete(discard_dead_letter))
}

/// A dead letter of this business, or 404.
async fn own(state: &AppState, tenant: &Tenant, raw: &str) -> Result<DeadLetter, ApiError> {
    let id = path_id("deadLetterId", raw)?;
    match state.store.dead_letter(id).await? {
        Some(letter) if letter.business_id == tenant.0 => Ok(letter),
        _ => Err(ApiError::NotFound("dead letter")),
    }
}

/// This business's dead letters, oldest first.
#[utoipa::path(get, path = "/v1/dead-letters", tag = "delivery", security(("apiKey" = [])),
    params(("limit" = Option<u32>, Query, description = "1 to 500, default 50")),
    responses((status = 200, body = Items<DeadLetter>),
              (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Items<DeadLetter>>, ApiError> {
    let limit = page_limit(query.get("limit"))?;
    Ok(Json(Items {
        items: state.store.dead_letters(Some(tenant.0), limit).await?,
    }))
}

/// Hand a dead letter back to its handler, exactly once through its inbox; removed when handled.
#[utoipa::path(post, path = "/v1/dead-letters/{deadLetterId}/retry", tag = "delivery", security(("apiKey" = [])),
    params(("deadLetterId" = uuid::Uuid, Path)),
    responses((status = 200, description = "`{deadLetterId, outcome: HANDLED, handled}`"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "DEAD_LETTER_RETRY_FAILED: it stays, with the new error")))]
pub async fn retry_dead_letter(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let letter = own(&state, &tenant, &id).await?;
    match state.delivery.retry_dead_letter(&letter).await? {
        RetryOutcome::Handled(handled) => Ok(Json(json!({
            "deadLetterId": letter.dead_letter_id,
            "outcome": "HANDLED",
            "handled": handled.outcome(),
        }))),
        RetryOutcome::Failed(error) => Err(ApiError::RetryFailed(error)),
        RetryOutcome::UnknownHandler(name) => Err(ApiError::RetryFailed(format!(
            "no handler named {name:?} runs in this service"
        ))),
    }
}

/// Remove a dead letter without handling it.
#[utoipa::path(delete, path = "/v1/dead-letters/{deadLetterId}", tag = "delivery", security(("apiKey" = [])),
    params(("deadLetterId" = uuid::Uuid, Path)),
    responses((status = 204, description = "discarded"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn discard_dead_letter(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let letter = own(&state, &tenant, &id).await?;
    state.delivery.discard_dead_letter(letter.dead_letter_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
