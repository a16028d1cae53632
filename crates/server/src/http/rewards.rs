//! A program's rewards catalogue: add a reward, list them. Redeeming one is
//! `POST /v1/accounts/{accountId}/redemptions {rewardId}`.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use loyalty_domain::reward::RewardDefinition;
use loyalty_domain::values::ProgramId;
use loyalty_store::views::{Items, RewardView};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::extract::{path_id, Command, Tenant};
use super::AppState;
use crate::error::{ApiError, Problem};
use crate::service::{Context, Reply};

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/programs/{programId}/rewards",
        post(create_reward).get(list_rewards),
    )
}

/// The body of `POST /v1/programs/{programId}/rewards` (documented shape; validated field by field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CreateRewardRequest {
    /// 1 to 100 characters.
    name: String,
    /// `FREE_ITEM | DISCOUNT_PERCENTAGE | DISCOUNT_AMOUNT | POINTS | TIER_UPGRADE`.
    reward_type: String,
    /// What one redemption spends: a natural number > 0.
    points_cost: u64,
    /// Units available, 1 or more; unlimited when absent.
    stock: Option<u64>,
    /// How often one customer may redeem it, 1 or more; no limit when absent.
    per_customer_limit: Option<u32>,
}

fn context(tenant: Tenant, command: &Command<impl Sized>) -> Context {
    Context {
        business_id: tenant.0,
        idempotency: command.idempotency.clone(),
        correlation_id: command.correlation_id,
    }
}

/// Add a reward to a program's catalogue (any program but an ENDED one).
#[utoipa::path(post, path = "/v1/programs/{programId}/rewards", tag = "rewards", request_body = CreateRewardRequest,
    security(("apiKey" = [])),
    params(("programId" = uuid::Uuid, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated request")),
    responses((status = 201, body = RewardView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json", description = "PROGRAM_NOT_ACTIVE (ENDED), CATALOGUE_FULL"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_reward(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<Value>,
) -> Result<Reply, ApiError> {
    let program_id = ProgramId(path_id("programId", &id)?);
    let definition = RewardDefinition::parse(&command.body)?;
    state
        .service
        .create_reward(context(tenant, &command), program_id, definition)
        .await
}

/// A program's rewards catalogue, oldest first, with what is left of each stock.
#[utoipa::path(get, path = "/v1/programs/{programId}/rewards", tag = "rewards", security(("apiKey" = [])),
    params(("programId" = uuid::Uuid, Path)),
    responses((status = 200, body = Items<RewardView>), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_rewards(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<Items<RewardView>>, ApiError> {
    let program_id = path_id("programId", &id)?;
    let items = state
        .store
        .rewards(tenant.0, program_id)
        .await?
        .ok_or(ApiError::NotFound("program"))?;
    Ok(Json(Items { items }))
}
