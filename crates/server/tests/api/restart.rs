//! The event store is the record: after a restart every state, ledger and event is still there.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn data_survives_a_restart() {
    let mut app = spawn_app().await;
    let (program, account) = app.account().await;
    for points in [40, 35, 25] {
        assert_eq!(app.accrue(&account, points).await.0, StatusCode::CREATED);
    }
    assert_eq!(app.redeem(&account, 30).await.0, StatusCode::CREATED);
    assert_eq!(app.suspend(&account).await.0, StatusCode::OK);
    assert_eq!(app.reactivate(&account).await.0, StatusCode::OK);
    let idempotent_path = format!("/v1/accounts/{account}/accruals");
    let idempotent_body = json!({"points": 5, "reason": "before restart"});
    let (status, _, first_answer) = app
        .post_idempotent(&idempotent_path, "survives", &idempotent_body)
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (_, _, account_before) = app.get_account(&account).await;
    let (_, _, program_before) = app.get_program(&program).await;
    let transactions_before = app.all_transactions(&account).await;
    let (_, _, events_before) = app.account_events(&account).await;
    let (_, _, feed_before) = app.events("limit=500").await;
    assert_eq!(account_before["pointBalance"], 75);
    let old_address = app.address.clone();

    app.restart().await;
    assert_ne!(app.address, old_address, "a new server");

    let (status, _, account_after) = app.get_account(&account).await;
    assert_eq!(status, StatusCode::OK, "the API key still works: {account_after}");
    assert_eq!(account_after, account_before);
    let (_, _, program_after) = app.get_program(&program).await;
    assert_eq!(program_after, program_before);
    assert_eq!(app.all_transactions(&account).await, transactions_before);
    let (_, _, events_after) = app.account_events(&account).await;
    assert_eq!(events_after, events_before);
    let (_, _, feed_after) = app.events("limit=500").await;
    assert_eq!(feed_after, feed_before);

    // Idempotency records survive too.
    let (status, headers, replay) = app
        .post_idempotent(&idempotent_path, "survives", &idempotent_body)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(replay, first_answer);
    assert_eq!(
        headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );

    // The balance continues.
    let (status, _, earned) = app.accrue(&account, 25).await;
    assert_eq!(status, StatusCode::CREATED, "{earned}");
    assert_eq!(earned["newBalance"], 100);
    let (status, _, redeemed) = app.redeem(&account, 100).await;
    assert_eq!(
        (status, redeemed["newBalance"].clone()),
        (StatusCode::CREATED, json!(0))
    );
    let (_, _, events) = app.account_events(&account).await;
    let items = events["items"].as_array().expect("items");
    assert_eq!(items.len(), 10, "{events}");
    let sequences: Vec<i64> = items.iter().map(|e| e["sequence"].as_i64().unwrap_or(0)).collect();
    assert_eq!(
        sequences,
        (1..=10).collect::<Vec<i64>>(),
        "no gap and no reuse after the restart"
    );

    // Duplicate e-mails are still caught, and the program still takes members.
    let (status, _, dup) = app
        .enroll(&crate::helpers::enrollment(&program, "c2", "ADA@example.com"))
        .await;
    assert_eq!(
        (status, dup["code"].clone()),
        (StatusCode::CONFLICT, json!("DUPLICATE_ENROLLMENT"))
    );
    app.enroll_customer(&program, "c3", "grace@example.com").await;
}

#[tokio::test]
async fn restarts_twice_in_a_row() {
    let mut app = spawn_app().await;
    let (_, account) = app.account().await;
    assert_eq!(app.accrue(&account, 10).await.0, StatusCode::CREATED);
    app.restart().await;
    assert_eq!(app.accrue(&account, 10).await.2["newBalance"], 20);
    app.restart().await;
    assert_eq!(app.accrue(&account, 10).await.2["newBalance"], 30);
    assert_eq!(app.all_transactions(&account).await.len(), 3);
}
