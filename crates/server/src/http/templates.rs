//! Built-in program templates: list them, and create a program from one.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use loyalty_domain::program::templates::{self, Industry, Template};
use loyalty_domain::program::{ProgramDefinition, TemplateUse};
use loyalty_domain::ValidationErrors;
use loyalty_store::views::ProgramView;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::extract::{Command, Tenant};
use super::AppState;
use crate::error::{ApiError, Problem};
use crate::service::{Context, Reply};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/templates", get(list_templates))
        .route("/v1/programs/from-template", post(create_from_template))
}

/// The built-in templates.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    /// `{templateId, name, industry, ruleType, ruleConfig, description}` each, with the
    /// template's `pointExpiryDays` and `signupBonusPoints` when it sets them.
    #[schema(value_type = Vec<Object>)]
    items: Vec<&'static Template>,
}

/// Every built-in template, or those of one industry.
#[utoipa::path(get, path = "/v1/templates", tag = "templates", security(("apiKey" = [])),
    params(("industry" = Option<String>, Query, description = "COFFEE, RETAIL, RESTAURANT, ... (the contract's 13)")),
    responses((status = 200, body = TemplateList),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn list_templates(
    _tenant: Tenant,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<TemplateList>, ApiError> {
    let items = match query.get("industry") {
        None => templates::all().iter().collect(),
        Some(raw) => {
            let industry: Industry = raw.parse().map_err(|()| {
                ValidationErrors::single("industry", format!("must be one of {}", Industry::NAMES.join(", ")))
            })?;
            templates::for_industry(industry).collect()
        }
    };
    Ok(Json(TemplateList { items }))
}

/// A program from a template.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FromTemplateRequest {
    /// A `templateId` from `GET /v1/templates`.
    template_id: Option<String>,
    /// The program's name; the template's name when absent.
    name: Option<String>,
    /// A JSON merge patch (RFC 7396) over the template's `ruleConfig`.
    #[schema(value_type = Option<Object>)]
    rule_config_overrides: Option<Value>,
    /// Activate the program at once (default false: it starts in DRAFT).
    activate: Option<bool>,
}

/// Create a program from a built-in template, merging `ruleConfigOverrides` over its rule.
#[utoipa::path(post, path = "/v1/programs/from-template", tag = "templates", request_body = FromTemplateRequest,
    security(("apiKey" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer to a repeated request")),
    responses((status = 201, body = ProgramView),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json", description = "TEMPLATE_NOT_FOUND"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_from_template(
    State(state): State<AppState>,
    tenant: Tenant,
    command: Command<FromTemplateRequest>,
) -> Result<Reply, ApiError> {
    let body = &command.body;
    let raw_id = body
        .template_id
        .as_deref()
        .ok_or_else(|| ValidationErrors::single("templateId", "is required"))?;
    let template_id = uuid::Uuid::parse_str(raw_id.trim())
        .map_err(|_| ValidationErrors::single("templateId", "must be a UUID from GET /v1/templates"))?;
    let template = templates::find(template_id).ok_or(ApiError::NotFound("template"))?;
    let overrides = match &body.rule_config_overrides {
        None | Some(Value::Null) => None,
        Some(overrides @ Value::Object(_)) => Some(overrides.clone()),
        Some(_) => {
            return Err(ValidationErrors::single(
                "ruleConfigOverrides",
                "must be an object (a JSON merge patch over the template's ruleConfig)",
            )
            .into())
        }
    };
    // Field errors name the override the client sent (`ruleConfigOverrides.pointsPerDollar`).
    let no_overrides = json!({});
    let (rule, customized) = template.rule_config_with_overrides(overrides.as_ref().unwrap_or(&no_overrides))?;
    let mut definition = json!({
        "name": body.name.clone().unwrap_or_else(|| template.name.to_owned()),
        "ruleType": template.rule_type,
        "ruleConfig": rule,
    });
    if let Some(days) = template.point_expiry_days {
        definition["pointExpiryDays"] = json!(days);
    }
    if let Some(points) = template.signup_bonus_points {
        definition["signupBonusPoints"] = json!(points);
    }
    let definition = ProgramDefinition::parse(&definition)?;
    let template_use = TemplateUse {
        template_id: template.template_id,
        template_name: template.name.to_owned(),
        industry: template.industry,
        rule_type: template.rule_type,
        customized,
        overrides,
    };
    let context = Context {
        business_id: tenant.0,
        idempotency: command.idempotency.clone(),
        correlation_id: command.correlation_id,
    };
    state
        .service
        .create_program_from_template(context, definition, template_use, body.activate.unwrap_or(false))
        .await
}
