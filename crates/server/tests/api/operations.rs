//! Health, readiness, metrics and the OpenAPI document.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{content_type, spawn_app};

#[tokio::test]
async fn health_and_readiness_answer_without_a_key() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let (status, _, body) = app.request(Method::GET, path, None, None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(body.is_object(), "{path}: {body}");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    assert_eq!(app.accrue(&account, 5).await.0, StatusCode::CREATED);

    let (status, headers, body) = app.request(Method::GET, "/metrics", None, None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type(&headers).starts_with("text/plain"), "{headers:?}");
    let Value::String(text) = body else {
        panic!("metrics are text, got {body}")
    };
    let accruals = text
        .lines()
        .find(|line| {
            line.starts_with("http_requests_total{")
                && line.contains("route=\"/v1/accounts/{accountId}/accruals\"")
                && line.contains("status=\"201\"")
        })
        .unwrap_or_else(|| panic!("no accrual counter in:\n{text}"));
    let count: f64 = accruals
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(count >= 1.0, "{accruals}");
    assert!(!text.contains(&account), "raw paths are never labels");
    assert!(text.contains("http_request_duration_seconds"), "latency histogram");
}

#[tokio::test]
async fn openapi_documents_the_api() {
    let app = spawn_app().await;
    let (status, headers, doc) = app.request(Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type(&headers).starts_with("application/json"), "{headers:?}");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "openapi version: {}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/v1/accounts/{accountId}/redemptions",
        "/v1/accounts/{accountId}/accruals",
        "/v1/accounts",
        "/v1/programs",
        "/v1/programs/{programId}/activate",
        "/v1/events",
        "/v1/businesses",
    ] {
        assert!(paths.contains_key(path), "{path} missing from {:?}", paths.keys());
    }
    assert!(paths["/v1/accounts/{accountId}/redemptions"]["post"].is_object());
}
