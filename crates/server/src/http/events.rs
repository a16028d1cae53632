//! The business's event feed in commit order.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use loyalty_store::views::EventFeed;

use super::accounts::page_limit;
use super::extract::Tenant;
use super::AppState;
use crate::error::{ApiError, Problem};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", get(event_feed))
}

/// Events of this business after position `after`, in commit order; poll with `lastPosition`.
#[utoipa::path(get, path = "/v1/events", tag = "events", security(("apiKey" = [])),
    params(("after" = Option<i64>, Query, description = "a lastPosition from before; 0 for the start"),
           ("limit" = Option<u32>, Query, description = "1 to 500, default 50")),
    responses((status = 200, body = EventFeed), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn event_feed(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<EventFeed>, ApiError> {
    let after = match query.get("after").filter(|a| !a.is_empty()) {
        None => 0,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|a| *a >= 0)
            .ok_or_else(|| ApiError::field("after", "must be a whole number ≥ 0 (a lastPosition)"))?,
    };
    let limit = page_limit(query.get("limit"))?;
    Ok(Json(state.store.event_feed(tenant.0, after, limit).await?))
}
