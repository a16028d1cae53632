//! The per-location rollout switch: which program a location's payments earn in, and whether
//! loyalty is on there. Effective at once, without a restart.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use loyalty_domain::ValidationErrors;
use loyalty_store::views::Items;
use loyalty_store::Location;
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{Command, Tenant};
use super::AppState;
use crate::error::{ApiError, Problem};
use crate::service::{ok, Context, Reply};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/locations", get(list_locations))
        .route("/v1/locations/{locationId}", put(put_location))
}

/// A location's switch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocationRequest {
    program_id: Option<String>,
    loyalty_enabled: Option<bool>,
}

/// Switch loyalty on or off at a location.
#[utoipa::path(put, path = "/v1/locations/{locationId}", tag = "integrations", request_body = LocationRequest,
    security(("apiKey" = [])),
    params(("locationId" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Location),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json", description = "PROGRAM_NOT_FOUND")))]
pub async fn put_location(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(location_id): Path<String>,
    command: Command<LocationRequest>,
) -> Result<Reply, ApiError> {
    let location_id = location_id.trim().to_owned();
    let mut errors = ValidationErrors::new();
    if location_id.is_empty() || location_id.chars().count() > 50 {
        errors.push("locationId", "must be 1 to 50 characters");
    }
    let program_id = match command.body.program_id.as_deref() {
        None => {
            errors.push("programId", "is required");
            None
        }
        Some(raw) => match uuid::Uuid::parse_str(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push("programId", "must be a UUID");
                None
            }
        },
    };
    if command.body.loyalty_enabled.is_none() {
        errors.push("loyaltyEnabled", "is required");
    }
    let (Some(program_id), Some(enabled)) = (program_id, command.body.loyalty_enabled) else {
        return Err(errors.into());
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let context = Context {
        business_id: tenant.0,
        idempotency: command.idempotency.clone(),
        correlation_id: command.correlation_id,
    };
    state
        .service
        .execute(context, move |tx, ctx| {
            match tx.load::<loyalty_domain::program::Program>(ctx.business_id, program_id)? {
                Some(program) if program.state.exists() => {}
                _ => return Ok(Err(ApiError::NotFound("program"))),
            }
            let location = tx.location_put(ctx.business_id, &location_id, program_id, enabled)?;
            ok(StatusCode::OK, &location)
        })
        .await
}

/// This business's locations.
#[utoipa::path(get, path = "/v1/locations", tag = "integrations", security(("apiKey" = [])),
    responses((status = 200, body = Items<Location>)))]
pub async fn list_locations(State(state): State<AppState>, tenant: Tenant) -> Result<Json<Items<Location>>, ApiError> {
    Ok(Json(Items {
        items: state.store.locations(tenant.0).await?,
    }))
}
