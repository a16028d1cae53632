//! The HTTP API under `/v1`, plus health, metrics and the OpenAPI document.

mod accounts;
mod businesses;
mod dead_letters;
mod events;
pub mod extract;
mod health;
mod integrations;
mod locations;
mod metrics;
pub mod openapi;
mod programs;
mod rewards;
mod templates;
mod webhooks;

pub use businesses::BusinessCreated;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use uuid::Uuid;

use crate::error::{problem_response, ApiError};
use crate::service::{Reply, Service};
use loyalty_store::Store;

/// How long one request may take before it is answered 408.
pub const REQUEST_TIMEOUT_MS: u64 = 30_000;

/// What every handler can reach, in one allocation: axum clones the state for every request,
/// several times over (once per layer of routing), and a clone is then one reference count.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

impl AppState {
    pub fn new(parts: AppParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct AppParts {
    pub store: Store,
    pub service: Service,
    /// API key hash → business, filled on first use (keys never change once issued).
    pub keys: Arc<RwLock<HashMap<String, Uuid>>>,
    /// SHA-256 of `LOYALTY_ADMIN_TOKEN`; `None` when unset (business creation over HTTP is off).
    pub admin_token_hash: Option<[u8; 32]>,
    pub metrics: PrometheusHandle,
    /// The bus, its handlers (for dead-letter retries) and delivery health.
    pub delivery: crate::delivery::Delivery,
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(businesses::router())
        .merge(programs::router())
        .merge(rewards::router())
        .merge(templates::router())
        .merge(accounts::router())
        .merge(events::router())
        .merge(dead_letters::router())
        .merge(webhooks::router())
        .merge(integrations::router())
        .merge(locations::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::REQUEST_BODY_BYTES_MAX))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(REQUEST_TIMEOUT_MS),
        ))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(panic_response))
        // Outermost, so that time-outs (408) and panics (500) are counted and timed too.
        .layer(metrics::RecordLayer::default())
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

async fn method_not_allowed() -> Response {
    problem_response(
        StatusCode::METHOD_NOT_ALLOWED,
        serde_json::json!({
            "type": "https://loyalty.example/problems/method-not-allowed",
            "title": "Method not allowed",
            "status": 405,
            "detail": "this path does not accept this method",
            "code": "METHOD_NOT_ALLOWED"
        }),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = if status.is_client_error() || status.is_server_error() {
            "application/problem+json"
        } else {
            "application/json"
        };
        let mut response = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            self.response.body.into_string(),
        )
            .into_response();
        if self.replayed {
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
        }
        response
    }
}
