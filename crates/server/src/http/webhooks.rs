//! Webhook subscriptions: a business's URLs that receive its events, signed, with retries.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::Utc;
use loyalty_domain::{LoyaltyEvent, ValidationErrors};
use loyalty_store::views::Items;
use loyalty_store::{Webhook, WebhookDelivery};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::accounts::page_limit;
use super::extract::{path_id, Command, Tenant};
use super::AppState;
use crate::error::{ApiError, Problem};
use crate::service::{ok, Context, Reply};

/// The longest URL accepted.
pub const WEBHOOK_URL_LENGTH_MAX: usize = 2_048;
/// The most event types one subscription names.
pub const WEBHOOK_EVENT_TYPES_COUNT_MAX: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", post(create_webhook).get(list_webhooks))
        .route("/v1/webhooks/{webhookId}", delete(delete_webhook))
        .route("/v1/webhooks/{webhookId}/deliveries", get(list_deliveries))
        .route(
            "/v1/webhooks/{webhookId}/deliveries/{deliveryId}/replay",
            post(replay_delivery),
        )
}

/// A subscription to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// `http://` or `https://`, at most 2,048 characters.
    url: Option<String>,
    /// Event types (`loyalty.points.earned`, ...) or `*` for all.
    event_types: Option<Vec<String>>,
}

fn validate(body: &CreateWebhookRequest) -> Result<(String, Vec<String>), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let url = match body.url.as_deref().map(str::trim) {
        None => {
            errors.push("url", "is required");
            None
        }
        Some(raw) => match reqwest::Url::parse(raw) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host_str().is_some()
                    && raw.len() <= WEBHOOK_URL_LENGTH_MAX =>
            {
                Some(raw.to_owned())
            }
            _ => {
                errors.push(
                    "url",
                    "must be an http:// or https:// URL with a host, at most 2048 characters",
                );
                None
            }
        },
    };
    let known: Vec<&str> = LoyaltyEvent::all_types().collect();
    let types = match &body.event_types {
        None => {
            errors.push("eventTypes", "is required");
            Vec::new()
        }
        Some(types) if types.is_empty() || types.len() > WEBHOOK_EVENT_TYPES_COUNT_MAX => {
            errors.push(
                "eventTypes",
                format!("must name 1 to {WEBHOOK_EVENT_TYPES_COUNT_MAX} event types"),
            );
            Vec::new()
        }
        Some(types) => {
            for (i, t) in types.iter().enumerate() {
                if t != "*" && !known.contains(&t.as_str()) {
                    errors.push(format!("eventTypes[{i}]"), "is not an event type (or `*` for all)");
                }
            }
            types.clone()
        }
    };
    match url {
        Some(url) if errors.is_empty() => Ok((url, types)),
        _ => Err(errors),
    }
}

/// Subscribe a URL to event types; the answer's `secret` signs every delivery and is shown only here.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", request_body = CreateWebhookRequest,
    security(("apiKey" = [])),
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, description = "`{webhookId, url, eventTypes, secret, createdAt}`"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_webhook(
    State(state): State<AppState>,
    tenant: Tenant,
    command: Command<CreateWebhookRequest>,
) -> Result<Reply, ApiError> {
    let (url, event_types) = validate(&command.body)?;
    let context = Context {
        business_id: tenant.0,
        idempotency: command.idempotency.clone(),
        correlation_id: command.correlation_id,
    };
    let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()));
    state
        .service
        .execute(context, move |tx, ctx| {
            let hook = Webhook {
                webhook_id: uuid::Uuid::now_v7(),
                business_id: ctx.business_id,
                url: url.clone(),
                event_types: event_types.clone(),
                secret: secret.clone(),
                created_at: Utc::now(),
            };
            tx.webhook_insert(&hook)?;
            ok(
                StatusCode::CREATED,
                &json!({"webhookId": hook.webhook_id, "url": hook.url, "eventTypes": hook.event_types,
                        "secret": hook.secret, "createdAt": hook.created_at}),
            )
        })
        .await
}

/// This business's subscriptions (without their secrets).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("apiKey" = [])),
    responses((status = 200, body = Items<Webhook>)))]
pub async fn list_webhooks(State(state): State<AppState>, tenant: Tenant) -> Result<Json<Items<Webhook>>, ApiError> {
    Ok(Json(Items {
        items: state.store.webhooks(tenant.0).await?,
    }))
}

async fn own(state: &AppState, tenant: &Tenant, raw: &str) -> Result<Webhook, ApiError> {
    let id = path_id("webhookId", raw)?;
    state
        .store
        .webhook(tenant.0, id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

/// Unsubscribe; pending deliveries are dropped.
#[utoipa::path(delete, path = "/v1/webhooks/{webhookId}", tag = "webhooks", security(("apiKey" = [])),
    params(("webhookId" = uuid::Uuid, Path)),
    responses((status = 204, description = "deleted"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hook = own(&state, &tenant, &id).await?;
    let (business, webhook) = (tenant.0, hook.webhook_id);
    state
        .store
        .write(move |tx| tx.webhook_delete(business, webhook))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A subscription's deliveries, newest first (`status`: PENDING, DELIVERED or DEAD).
#[utoipa::path(get, path = "/v1/webhooks/{webhookId}/deliveries", tag = "webhooks", security(("apiKey" = [])),
    params(("webhookId" = uuid::Uuid, Path), ("status" = Option<String>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = Items<WebhookDelivery>),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Items<WebhookDelivery>>, ApiError> {
    let hook = own(&state, &tenant, &id).await?;
    let status = match query.get("status").map(String::as_str) {
        None => None,
        Some(s @ ("PENDING" | "DELIVERED" | "DEAD")) => Some(s.to_owned()),
        Some(_) => return Err(ApiError::field("status", "must be PENDING, DELIVERED or DEAD")),
    };
    let limit = page_limit(query.get("limit"))?;
    Ok(Json(Items {
        items: state.store.webhook_deliveries(hook.webhook_id, status, limit).await?,
    }))
}

/// Send a delivery again now (a dead one after the receiver is fixed, or any to replay it).
#[utoipa::path(post, path = "/v1/webhooks/{webhookId}/deliveries/{deliveryId}/replay", tag = "webhooks",
    security(("apiKey" = [])),
    params(("webhookId" = uuid::Uuid, Path), ("deliveryId" = uuid::Uuid, Path)),
    responses((status = 200, body = WebhookDelivery),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn replay_delivery(
    State(state): State<AppState>,
    tenant: Tenant,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<Json<WebhookDelivery>, ApiError> {
    let hook = own(&state, &tenant, &id).await?;
    let delivery_id = path_id("deliveryId", &delivery)?;
    let webhook = hook.webhook_id;
    state
        .store
        .write(move |tx| tx.webhook_replay(webhook, delivery_id))
        .await?
        .map(Json)
        .ok_or(ApiError::NotFound("delivery"))
}
