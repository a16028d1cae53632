//! `POST /v1/businesses`: register a tenant (admin token required).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{bearer, Command};
use super::AppState;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/businesses", post(create_business))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBusinessRequest {
    /// 1 to 100 characters.
    pub name: Option<String>,
}

/// A new business and its API key. The key is shown only here; only its hash is stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusinessCreated {
    pub business_id: Uuid,
    pub name: String,
    pub api_key: String,
}

/// Register a business (a tenant) and issue its API key. With an `Idempotency-Key`, a repeat of
/// the same request (with the same admin token) answers the first answer again, API key included.
#[utoipa::path(post, path = "/v1/businesses", tag = "businesses", request_body = CreateBusinessRequest,
    security(("adminToken" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer (API key included) to a repeated request; use a random key")),
    responses((status = 201, body = BusinessCreated), (status = 400, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 401, body = crate::error::Problem, content_type = "application/problem+json"),
              (status = 422, body = crate::error::Problem, content_type = "application/problem+json", description = "IDEMPOTENCY_KEY_REUSED: the same key with another body")))]
pub async fn create_business(
    State(state): State<AppState>,
    headers: HeaderMap,
    command: Command<CreateBusinessRequest>,
) -> Result<Response, ApiError> {
    let expected = state.admin_token_hash.ok_or(ApiError::Unauthorized(
        "creating businesses over HTTP needs LOYALTY_ADMIN_TOKEN set on the server; or run `loyalty business create`",
    ))?;
    let given = bearer(&headers).ok_or(ApiError::Unauthorized(
        "the admin token is required: Authorization: Bearer <token>",
    ))?;
    let admin_token = given;
    let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
    if given != expected {
        return Err(ApiError::Unauthorized("the admin token is not valid"));
    }
    let name = crate::business::parse_name(command.body.name.as_deref())?;
    let Some(idempotency) = command.idempotency else {
        let created = crate::business::create(&state.store, name).await?;
        return Ok((StatusCode::CREATED, Json(created)).into_response());
    };
    let creation =
        crate::business::create_once(&state.service, name, idempotency, admin_token, command.correlation_id).await?;
    let mut response = (StatusCode::CREATED, Json(creation.created)).into_response();
    if creation.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}
