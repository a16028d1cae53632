//! A halt, through HTTP: a sync of SQLite's write-ahead log fails (injected with
//! `Store::fail_next_log_sync`, which takes the same path as a device's error). The command
//! waiting for that sync is answered "outcome unknown"; from then on every request that uses
//! the store, and the liveness and readiness checks, answer 503. After a restart, a client that
//! sends each unanswered command again with the same `Idempotency-Key` has it counted exactly
//! once, whether or not the halted process's commit survived.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_failed_log_sync_halts_the_service_until_a_restart_and_retries_count_once() {
    let mut app = spawn_app().await;
    let (_, account) = app.account().await;
    let path = format!("/v1/accounts/{account}/accruals");
    let body = |points: i64| json!({"points": points, "reason": "purchase"});
    let (status, _, first) = app.post_idempotent(&path, "before", &body(10)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");

    if !app.store().fail_next_log_sync() {
        eprintln!("skipped: only SQLite's store halts (its log's sync failed); this one is PostgreSQL");
        return;
    }
    // The sync that fails is this command's (or, if a background read synced first, the halt
    // came before it ran): either way a 503, and the client cannot know whether it was kept.
    let (status, _, unknown) = app.post_idempotent(&path, "during", &body(20)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{unknown}");
    assert!(
        ["OUTCOME_UNKNOWN", "UNAVAILABLE"].contains(&unknown["code"].as_str().unwrap_or_default()),
        "{unknown}"
    );

    // Halted: nothing is written or read, and both checks fail.
    let (status, _, refused) = app.post_idempotent(&path, "after", &body(30)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{refused}");
    assert_eq!(refused["code"], "UNAVAILABLE", "{refused}");
    let (status, _, read) = app.get_account(&account).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "a read shows nothing: {read}");
    let (status, _, health) = app.request(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    assert_eq!(health["status"], "halted", "{health}");
    let (status, _, ready) = app.request(Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");

    app.restart().await;
    let (status, _, health) = app.request(Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(status, StatusCode::OK, "restarted: {health}");
    // The acknowledged command is kept, and replays as it was answered.
    let (status, headers, replayed) = app.post_idempotent(&path, "before", &body(10)).await;
    assert_eq!(status, StatusCode::CREATED, "{replayed}");
    assert_eq!(replayed, first);
    assert_eq!(
        headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    // The two unanswered ones, sent again, are each counted once.
    for (key, points) in [("during", 20), ("after", 30)] {
        let (status, _, answer) = app.post_idempotent(&path, key, &body(points)).await;
        assert_eq!(status, StatusCode::CREATED, "{key}: {answer}");
        let (status, _, again) = app.post_idempotent(&path, key, &body(points)).await;
        assert_eq!(status, StatusCode::CREATED, "{key} again: {again}");
        assert_eq!(again, answer, "{key}: a second retry replays the answer");
    }
    let mut ledger: Vec<i64> = app
        .all_transactions(&account)
        .await
        .iter()
        .map(|t| t["pointsChanged"].as_i64().unwrap_or_default())
        .collect();
    ledger.sort_unstable();
    assert_eq!(ledger, [10, 20, 30], "each command once");
    assert_eq!(app.balance(&account).await, 60);
    assert_eq!(
        app.account_events_of_type(&account, "loyalty.points.earned")
            .await
            .len(),
        3
    );
}
