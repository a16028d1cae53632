//! Refunds take back what their order earned: prorated (floor) for partial amounts, never more
//! than the order earned, the balance never below zero (the rest reported as unrecovered), and a
//! tier the order alone reached is lost.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_invalid_field, assert_problem, spawn_app, Reply, TestApp};

async fn ten_per_dollar(app: &TestApp) -> String {
    app.member_of(&json!({"name": "Cafe", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 10}}))
        .await
}

async fn buy(app: &TestApp, account: &str, amount: &str, order_ref: &str) -> i64 {
    app.purchase(account, amount, order_ref).await["pointsChanged"]
        .as_i64()
        .expect("points")
}

async fn refund(app: &TestApp, account: &str, body: Value) -> Reply {
    app.post(&format!("/v1/accounts/{account}/refunds"), &body).await
}

#[tokio::test]
async fn a_full_refund_reverses_what_the_order_earned() {
    let app = spawn_app().await;
    let account = ten_per_dollar(&app).await;
    assert_eq!(buy(&app, &account, "12.50", "o-1").await, 125);
    assert_eq!(buy(&app, &account, "3.00", "o-2").await, 30);

    let (status, _, reversal) = refund(&app, &account, json!({"orderRef": "o-1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{reversal}");
    assert_eq!(reversal["type"], "REVERSAL");
    assert_eq!(reversal["pointsChanged"], -125);
    assert_eq!(reversal["newBalance"], 30);
    assert_eq!(reversal["orderRef"], "o-1");
    assert_eq!(reversal["unrecoveredPoints"], 0);
    assert_eq!(app.balance(&account).await, 30);

    let (_, _, events) = app.account_events(&account).await;
    let reversed = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["eventType"] == "loyalty.points.reversed")
        .cloned()
        .expect("a points.reversed event");
    assert_eq!(reversed["data"]["pointsReversed"], 125);
    assert_eq!(reversed["data"]["refundAmount"], "12.50");
    assert_eq!(reversed["data"]["remainingPoints"], 30);

    let again = refund(&app, &account, json!({"orderRef": "o-1"})).await;
    assert_problem(&again, StatusCode::CONFLICT, "REFUND_EXCEEDS_ORDER");
    assert_eq!(app.balance(&account).await, 30, "a second full refund takes nothing");
}

#[tokio::test]
async fn partial_refunds_are_prorated_and_add_up_to_what_the_order_earned() {
    let app = spawn_app().await;
    let account = ten_per_dollar(&app).await;
    assert_eq!(buy(&app, &account, "10.00", "o-1").await, 100);

    let (status, _, first) = refund(&app, &account, json!({"orderRef": "o-1", "amount": "3.33"})).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["pointsChanged"], -33, "floor(100 × 3.33 / 10.00)");

    let too_much = refund(&app, &account, json!({"orderRef": "o-1", "amount": "6.68"})).await;
    assert_problem(&too_much, StatusCode::CONFLICT, "REFUND_EXCEEDS_ORDER");
    assert!(
        too_much.2["detail"].as_str().unwrap_or_default().contains("6.67"),
        "says what is left: {}",
        too_much.2
    );

    let (status, _, rest) = refund(&app, &account, json!({"orderRef": "o-1", "amount": "6.67"})).await;
    assert_eq!(status, StatusCode::CREATED, "{rest}");
    assert_eq!(rest["pointsChanged"], -67, "cumulative: the rest, not floor(66.7)");
    assert_eq!(app.balance(&account).await, 0);
}

#[tokio::test]
async fn spent_points_are_reported_unrecovered_and_the_balance_stays_at_zero() {
    let app = spawn_app().await;
    let account = ten_per_dollar(&app).await;
    assert_eq!(buy(&app, &account, "10.00", "o-1").await, 100);
    assert_eq!(app.redeem(&account, 80).await.0, StatusCode::CREATED);

    let (status, _, reversal) = refund(&app, &account, json!({"orderRef": "o-1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{reversal}");
    assert_eq!(reversal["pointsChanged"], -20);
    assert_eq!(reversal["newBalance"], 0);
    assert_eq!(reversal["unrecoveredPoints"], 80);
    assert_eq!(app.balance(&account).await, 0);

    let ledger = app.all_transactions(&account).await;
    assert_eq!(ledger[0]["type"], "REVERSAL");
    assert_eq!(ledger[0]["unrecoveredPoints"], 80, "the ledger keeps it too");
}

#[tokio::test]
async fn a_tier_reached_only_through_the_refunded_order_is_lost() {
    let app = spawn_app().await;
    let account = app
        .member_of(
            &json!({"name": "Tiered", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 10},
               "tiers": [
                   {"tierId": "bronze", "name": "Bronze", "level": 1, "minPoints": 0, "maxPoints": 99},
                   {"tierId": "silver", "name": "Silver", "level": 2, "minPoints": 100}]}),
        )
        .await;
    assert_eq!(buy(&app, &account, "5.00", "o-1").await, 50);
    assert_eq!(buy(&app, &account, "6.00", "o-2").await, 60);
    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["tier"]["tierId"], "silver");

    let (status, _, _) = refund(&app, &account, json!({"orderRef": "o-2"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["tier"]["tierId"], "bronze", "{view}");

    let (_, _, events) = app.account_events(&account).await;
    let down = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["eventType"] == "loyalty.tier.downgraded")
        .cloned()
        .expect("a tier.downgraded event");
    assert_eq!(down["data"]["fromTierId"], "silver");
    assert_eq!(down["data"]["toTierId"], "bronze");
    assert_eq!(down["data"]["qualifyingPoints"], 50);
    assert_eq!(down["data"]["reason"], "REFUND");
}

#[tokio::test]
async fn refunds_work_after_the_program_ended_and_on_suspended_accounts() {
    let app = spawn_app().await;
    let account = ten_per_dollar(&app).await;
    assert_eq!(buy(&app, &account, "10.00", "o-1").await, 100);
    let (_, _, view) = app.get_account(&account).await;
    let program = view["programId"].as_str().expect("programId").to_owned();
    assert_eq!(app.suspend(&account).await.0, StatusCode::OK);
    assert_eq!(app.end(&program).await.0, StatusCode::OK);

    let (status, _, reversal) = refund(&app, &account, json!({"orderRef": "o-1", "amount": "5"})).await;
    assert_eq!(status, StatusCode::CREATED, "{reversal}");
    assert_eq!(reversal["pointsChanged"], -50);
}

#[tokio::test]
async fn refunds_of_unknown_orders_and_bad_input_are_refused() {
    let app = spawn_app().await;
    let account = ten_per_dollar(&app).await;
    assert_eq!(buy(&app, &account, "10.00", "o-1").await, 100);

    let unknown = refund(&app, &account, json!({"orderRef": "nope"})).await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "ORDER_NOT_FOUND");
    assert_invalid_field(&refund(&app, &account, json!({})).await, "orderRef");
    assert_invalid_field(
        &refund(&app, &account, json!({"orderRef": "o-1", "amount": "0"})).await,
        "amount",
    );
    assert_invalid_field(
        &refund(&app, &account, json!({"orderRef": "o-1", "amount": 5})).await,
        "amount",
    );
    assert_invalid_field(
        &refund(&app, &account, json!({"orderRef": "o-1", "amount": "1.234"})).await,
        "amount",
    );
    let missing = refund(&app, "00000000-0000-0000-0000-000000000000", json!({"orderRef": "o-1"})).await;
    assert_problem(&missing, StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND");
    assert_eq!(app.balance(&account).await, 100, "nothing was taken");
}

#[tokio::test]
async fn a_retried_refund_with_its_idempotency_key_is_answered_once() {
    let app = spawn_app().await;
    let account = ten_per_dollar(&app).await;
    assert_eq!(buy(&app, &account, "10.00", "o-1").await, 100);
    let path = format!("/v1/accounts/{account}/refunds");
    let body = json!({"orderRef": "o-1", "amount": "2.00"});
    let first = app.post_idempotent(&path, "refund-1", &body).await;
    let second = app.post_idempotent(&path, "refund-1", &body).await;
    assert_eq!(first.0, StatusCode::CREATED);
    assert_eq!(second.0, StatusCode::CREATED);
    assert_eq!(first.2, second.2);
    assert_eq!(
        second.1.get("idempotent-replayed").map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    assert_eq!(app.balance(&account).await, 80, "one refund of 2.00, not two");
}
