//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up, and can go on serving without a restart. Once its store has halted (a
/// sync of the database's files failed: it serves nothing until restarted) it answers 503, so
/// that a supervisor's liveness check restarts it.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive"), (status = 503, description = "Halted: restart the process")))]
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.halted() {
        None => (StatusCode::OK, Json(json!({"status": "ok"}))),
        // The reason (with the file's path) is in the log, where the halt was reported.
        Some(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "halted",
                "detail": "a sync of the database's files failed; restart the process",
            })),
        ),
    }
}

/// The process can serve: its database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready"), (status = 503, description = "Database unavailable")))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let delivery = state.delivery.health.snapshot();
    let delivery_json = json!({
        "bus": delivery.bus,
        "status": if delivery.degraded() { "degraded" } else { "ok" },
        "outboxLag": delivery.lag,
        "lastError": delivery.last_error,
    });
    match state.store.ping().await {
        // Delivery trouble degrades readiness but does not fail it: commands still succeed and
        // their events wait in the outbox.
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": if delivery.degraded() { "degraded" } else { "ready" },
                "database": "ok",
                "delivery": delivery_json,
            })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "unreachable"})),
            )
        }
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
