//! The restaurant chain's adaptors over HTTP: a dine-in payment accrues once for the member
//! linked to its table order (on the amount without the tip), an online payment for the
//! customer's account in the location's program; every payment gets an outcome, duplicates
//! (also concurrent ones) accrue nothing, and locations are switched on and off at once.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_invalid_field, TestApp};

const FOH: &str = "/v1/integrations/front-of-house/payment-processed";
const ONLINE: &str = "/v1/integrations/online-ordering/payment-processed";

/// A chain: a program earning 10 points a dollar, location `loc-1` enabled, one member.
async fn chain() -> (TestApp, String, String) {
    let app = crate::helpers::spawn_app().await;
    let program = app
        .program_from(
            &json!({"name": "Chain Rewards", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 10}}),
        )
        .await;
    assert_eq!(app.activate(&program).await.0, StatusCode::OK);
    switch(&app, "loc-1", &program, true).await;
    let account = app.enroll_customer(&program, "guest-1", "guest@example.com").await;
    (app, program, account)
}

async fn switch(app: &TestApp, location: &str, program: &str, enabled: bool) {
    let (status, _, body) = app
        .request(
            reqwest::Method::PUT,
            &format!("/v1/locations/{location}"),
            Some(&app.api_key),
            Some(&json!({"programId": program, "loyaltyEnabled": enabled})),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["loyaltyEnabled"], enabled);
}

async fn link(app: &TestApp, table_order: &str, account: &str) {
    let (status, _, body) = app
        .post(
            &format!("/v1/integrations/front-of-house/table-orders/{table_order}/account"),
            &json!({"accountId": account}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn dine_in(table_order: &str, location: &str, amount: &str, tip: &str) -> Value {
    json!({"tableOrderId": table_order, "locationId": location, "processedAt": "2026-11-23T19:30:00Z",
           "orderPayment": {"paymentMethod": "CreditCard", "paymentAmount": amount, "tipAmount": tip,
                            "transactionRef": "pos-1"}})
}

fn online(order: &str, customer: &str, location: &str, amount: &str) -> Value {
    json!({"onlineOrderId": order, "customerId": customer, "locationId": location,
           "onlinePaidAt": "2026-11-23T19:30:00Z",
           "onlinePayment": {"onlinePaymentMethod": "Card", "onlinePaymentAmount": amount,
                             "onlineTransactionRef": "web-1"}})
}

async fn pay(app: &TestApp, path: &str, body: &Value) -> Value {
    let (status, _, receipt) = app.post(path, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{receipt}");
    receipt
}

#[tokio::test]
async fn a_dine_in_payment_accrues_once_for_the_linked_member_without_the_tip() {
    let (app, _, account) = chain().await;
    link(&app, "T-17", &account).await;
    let first = pay(&app, FOH, &dine_in("T-17", "loc-1", "54.50", "4.50")).await;
    assert_eq!(first["outcome"], "ACCRUED", "{first}");
    assert_eq!(
        app.balance(&account).await,
        500,
        "10 points a dollar on 50.00, not on the tip"
    );
    let ledger = app.all_transactions(&account).await;
    assert_eq!(ledger[0]["orderRef"], "T-17");

    let again = pay(&app, FOH, &dine_in("T-17", "loc-1", "54.50", "4.50")).await;
    assert_eq!(again["outcome"], "DUPLICATE");
    assert_eq!(
        again["transactionId"], first["transactionId"],
        "the first accrual is named"
    );
    assert_eq!(app.balance(&account).await, 500);

    let unlinked = pay(&app, FOH, &dine_in("T-18", "loc-1", "20.00", "0")).await;
    assert_eq!(unlinked["outcome"], "NO_ACCOUNT");
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(text.contains("adaptor_payments_total"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_arriving_many_times_at_once_accrues_once() {
    let (app, _, account) = chain().await;
    link(&app, "T-1", &account).await;
    let body = dine_in("T-1", "loc-1", "10.00", "0");
    let replies = join_all((0..12).map(|_| app.post(FOH, &body))).await;
    let outcomes: Vec<&str> = replies.iter().filter_map(|r| r.2["outcome"].as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "ACCRUED").count(), 1, "{outcomes:?}");
    assert_eq!(
        outcomes.iter().filter(|o| **o == "DUPLICATE").count(),
        11,
        "{outcomes:?}"
    );
    assert_eq!(app.balance(&account).await, 100);
}

#[tokio::test]
async fn disabled_locations_count_payments_without_accruing_until_enabled() {
    let (app, program, account) = chain().await;
    link(&app, "T-2", &account).await;
    link(&app, "T-3", &account).await;
    let unknown = pay(&app, FOH, &dine_in("T-2", "loc-9", "10.00", "0")).await;
    assert_eq!(
        unknown["outcome"], "LOCATION_NOT_ENABLED",
        "a location never switched on"
    );
    switch(&app, "loc-9", &program, false).await;
    let off = pay(&app, FOH, &dine_in("T-3", "loc-9", "10.00", "0")).await;
    assert_eq!(off["outcome"], "LOCATION_NOT_ENABLED");
    assert_eq!(app.balance(&account).await, 0);

    switch(&app, "loc-9", &program, true).await;
    link(&app, "T-4", &account).await;
    let on = pay(&app, FOH, &dine_in("T-4", "loc-9", "10.00", "0")).await;
    assert_eq!(on["outcome"], "ACCRUED", "effective at once");
    assert_eq!(app.balance(&account).await, 100);
    let (_, _, listed) = app.get("/v1/locations").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn an_online_payment_accrues_for_the_customers_account_in_the_locations_program() {
    let (app, _, account) = chain().await;
    let receipt = pay(&app, ONLINE, &online("W-1", "guest-1", "loc-1", "19.99")).await;
    assert_eq!(receipt["outcome"], "ACCRUED", "{receipt}");
    assert_eq!(receipt["accountId"], account.as_str());
    assert_eq!(app.balance(&account).await, 199);
    let stranger = pay(&app, ONLINE, &online("W-2", "nobody", "loc-1", "5.00")).await;
    assert_eq!(stranger["outcome"], "NO_ACCOUNT");
    let again = pay(&app, ONLINE, &online("W-1", "guest-1", "loc-1", "19.99")).await;
    assert_eq!(again["outcome"], "DUPLICATE");
}

#[tokio::test]
async fn malformed_payments_are_refused_field_by_field() {
    let (app, _, _) = chain().await;
    let mut bad = dine_in("T-5", "loc-1", "10.00", "0");
    bad["orderPayment"]["paymentMethod"] = json!("Cheque");
    assert_invalid_field(&app.post(FOH, &bad).await, "orderPayment.paymentMethod");
    let mut bad = dine_in("T-5", "loc-1", "10.005", "0");
    bad["orderPayment"]["tipAmount"] = json!("1");
    assert_invalid_field(&app.post(FOH, &bad).await, "orderPayment.paymentAmount");
    let mut bad = online("W-3", "guest-1", "loc-1", "5.00");
    bad.as_object_mut().expect("object").remove("onlineOrderId");
    assert_invalid_field(&app.post(ONLINE, &bad).await, "onlineOrderId");
    assert_invalid_field(
        &app.post(
            "/v1/integrations/front-of-house/table-orders/T-9/account",
            &json!({"accountId": "nope"}),
        )
        .await,
        "accountId",
    );
}
