//! Programs: create, list, read, and move through `DRAFT → ACTIVE ↔ PAUSED → ENDED`.

use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use loyalty_domain::program::{ProgramDefinition, RuleConfig, RuleType};
use loyalty_domain::values::{ProgramId, Reason};
use loyalty_domain::ValidationErrors;
use loyalty_store::views::{Items, ProgramView};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::extract::{path_id, Command, Tenant};
use super::AppState;
use crate::error::{ApiError, Problem};
use crate::service::{Context, ProgramAction, Reply};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/programs", post(create_program).get(list_programs))
        .route("/v1/programs/{programId}", get(get_program))
        .route("/v1/programs/{programId}/activate", post(activate_program))
        .route("/v1/programs/{programId}/pause", post(pause_program))
        .route("/v1/programs/{programId}/resume", post(resume_program))
        .route("/v1/programs/{programId}/end", post(end_program))
        .route("/v1/programs/{programId}/rule", put(change_rule))
}

/// The body of `POST /v1/programs` (documented shape; validated field by field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CreateProgramRequest {
    /// 1 to 100 characters.
    name: String,
    description: Option<String>,
    /// `POINTS_BASED | PUNCH_CARD | STAMP_CARD | VISIT_FREQUENCY | AMOUNT_SPENT | TIER_BASED`.
    /// Optional at creation; required to activate.
    rule_type: Option<String>,
    /// The config of `ruleType`, checked field by field.
    #[schema(value_type = Option<Object>)]
    rule_config: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    tiers: Option<Value>,
    /// 1 to 3650.
    point_expiry_days: Option<u32>,
    /// 0 to 365.
    pending_days: Option<u32>,
    signup_bonus_points: Option<u64>,
    #[schema(value_type = Option<Object>)]
    enrollment_settings: Option<Value>,
    location_ids: Option<Vec<String>>,
    start_date: Option<String>,
    end_date: Option<String>,
}

/// The body of `PUT /v1/programs/{programId}/rule`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeRuleRequest {
    rule_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    rule_config: Option<Value>,
}

/// The optional body of `POST /v1/programs/{programId}/pause`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PauseRequest {
    /// 1 to 200 characters.
    reason: Option<String>,
}

/// An empty body (`{}` or nothing).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyRequest {}

fn context(tenant: Tenant, command: &Command<impl Sized>) -> Context {
    Context {
        business_id: tenant.0,
        idempotency: command.idempotency.clone(),
        correlation_id: command.correlation_id,
    }
}

/// Create a program in `DRAFT`.
#[utoipa::path(post, path = "/v1/programs", tag = "programs", request_body = CreateProgramRequest,
    security(("apiKey" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated request")),
    responses((status = 201, body = ProgramView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_program(
    State(state): State<AppState>,
    tenant: Tenant,
    command: Command<Value>,
) -> Result<Reply, ApiError> {
    let definition = ProgramDefinition::parse(&command.body)?;
    state
        .service
        .create_program(context(tenant, &command), definition, None)
        .await
}

/// Every program of the business.
#[utoipa::path(get, path = "/v1/programs", tag = "programs", security(("apiKey" = [])),
    responses((status = 200, body = Items<ProgramView>), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list_programs(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<Json<Items<ProgramView>>, ApiError> {
    Ok(Json(Items {
        items: state.store.programs(tenant.0).await?,
    }))
}

/// One program.
#[utoipa::path(get, path = "/v1/programs/{programId}", tag = "programs", security(("apiKey" = [])),
    params(("programId" = uuid::Uuid, Path)),
    responses((status = 200, body = ProgramView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_program(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<Json<ProgramView>, ApiError> {
    let id = path_id("programId", &id)?;
    state
        .store
        .program(tenant.0, id)
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("program"))
}

async fn act(
    state: AppState,
    tenant: Tenant,
    id: &str,
    command: Command<impl Sized>,
    action: ProgramAction,
) -> Result<Reply, ApiError> {
    let id = ProgramId(path_id("programId", id)?);
    state
        .service
        .program_action(context(tenant, &command), id, action)
        .await
}

/// `DRAFT → ACTIVE`; needs a rule.
#[utoipa::path(post, path = "/v1/programs/{programId}/activate", tag = "programs", security(("apiKey" = [])),
    params(("programId" = uuid::Uuid, Path)),
    responses((status = 200, body = ProgramView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn activate_program(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<EmptyRequest>,
) -> Result<Reply, ApiError> {
    act(state, tenant, &id, command, ProgramAction::Activate).await
}

/// `ACTIVE → PAUSED`: no enrolments and no earning; redemptions still work.
#[utoipa::path(post, path = "/v1/programs/{programId}/pause", tag = "programs", security(("apiKey" = [])),
    params(("programId" = uuid::Uuid, Path)), request_body = PauseRequest,
    responses((status = 200, body = ProgramView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn pause_program(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<PauseRequest>,
) -> Result<Reply, ApiError> {
    let reason = command
        .body
        .reason
        .as_deref()
        .map(|r| Reason::parse("reason", r))
        .transpose()?;
    act(state, tenant, &id, command, ProgramAction::Pause { reason }).await
}

/// `PAUSED → ACTIVE`.
#[utoipa::path(post, path = "/v1/programs/{programId}/resume", tag = "programs", security(("apiKey" = [])),
    params(("programId" = uuid::Uuid, Path)),
    responses((status = 200, body = ProgramView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn resume_program(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<EmptyRequest>,
) -> Result<Reply, ApiError> {
    act(state, tenant, &id, command, ProgramAction::Resume).await
}

/// Any status but `ENDED` → `ENDED`.
#[utoipa::path(post, path = "/v1/programs/{programId}/end", tag = "programs", security(("apiKey" = [])),
    params(("programId" = uuid::Uuid, Path)),
    responses((status = 200, body = ProgramView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn end_program(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<EmptyRequest>,
) -> Result<Reply, ApiError> {
    act(state, tenant, &id, command, ProgramAction::End).await
}

/// Set the rule of a `DRAFT` or `PAUSED` program (an `ACTIVE` program's rule is locked).
#[utoipa::path(put, path = "/v1/programs/{programId}/rule", tag = "programs", security(("apiKey" = [])),
    params(("programId" = uuid::Uuid, Path)), request_body = ChangeRuleRequest,
    responses((status = 200, body = ProgramView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn change_rule(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    command: Command<ChangeRuleRequest>,
) -> Result<Reply, ApiError> {
    let mut errors = ValidationErrors::new();
    let rule_type = match command.body.rule_type.as_deref() {
        None => {
            errors.push("ruleType", "is required");
            None
        }
        Some(raw) => raw
            .parse::<RuleType>()
            .map_err(|()| errors.push("ruleType", format!("must be one of {}", RuleType::NAMES.join(", "))))
            .ok(),
    };
    let rule = match (rule_type, &command.body.rule_config) {
        (Some(rule_type), Some(config)) => errors.collect(RuleConfig::parse(rule_type, "ruleConfig", config)),
        (_, None) => {
            errors.push("ruleConfig", "is required");
            None
        }
        _ => None,
    };
    let rule = errors
        .finish(|| rule)?
        .ok_or_else(|| ApiError::field("ruleConfig", "is required"))?;
    act(state, tenant, &id, command, ProgramAction::ChangeRule { rule }).await
}
