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
    let text = app.metrics_text().await;
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

async fn claim(app: &TestApp, account: &str, body: Value) -> crate::helpers::Reply {
    app.post(&format!("/v1/accounts/{account}/claims"), &body).await
}

#[tokio::test]
async fn a_member_claims_a_payment_that_found_no_one_once_and_within_the_window() {
    let (app, _, account) = chain().await;
    let unmatched = pay(&app, FOH, &dine_in("T-20", "loc-1", "10.00", "1.00")).await;
    assert_eq!(unmatched["outcome"], "NO_ACCOUNT");
    let (status, _, earned) = claim(&app, &account, json!({"tableOrderId": "T-20"})).await;
    assert_eq!(status, StatusCode::CREATED, "{earned}");
    assert_eq!(earned["pointsChanged"], 90, "on 9.00, without the tip");
    assert_eq!(app.balance(&account).await, 90);
    crate::helpers::assert_problem(
        &claim(&app, &account, json!({"tableOrderId": "T-20"})).await,
        StatusCode::CONFLICT,
        "ALREADY_CLAIMED",
    );
    let again = pay(&app, FOH, &dine_in("T-20", "loc-1", "10.00", "1.00")).await;
    assert_eq!(
        again["outcome"], "DUPLICATE",
        "the claimed payment arriving again accrues nothing"
    );
    assert_eq!(app.balance(&account).await, 90);

    // Online too.
    pay(&app, ONLINE, &online("W-20", "someone-else", "loc-1", "3.00")).await;
    let (status, _, _) = claim(&app, &account, json!({"onlineOrderId": "W-20"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.balance(&account).await, 120);

    // After the window.
    pay(&app, FOH, &dine_in("T-21", "loc-1", "10.00", "0")).await;
    app.execute_sql("UPDATE payments SET received_at = '2020-01-01T00:00:00.000000Z' WHERE payment_ref = 'T-21'");
    crate::helpers::assert_problem(
        &claim(&app, &account, json!({"tableOrderId": "T-21"})).await,
        StatusCode::CONFLICT,
        "CLAIM_WINDOW_CLOSED",
    );
    crate::helpers::assert_problem(
        &claim(&app, &account, json!({"tableOrderId": "T-404"})).await,
        StatusCode::NOT_FOUND,
        "PAYMENT_NOT_FOUND",
    );
    assert_invalid_field(
        &claim(&app, &account, json!({"tableOrderId": "T-20", "onlineOrderId": "W-20"})).await,
        "tableOrderId",
    );
}

#[tokio::test]
async fn another_business_cannot_claim_a_payment() {
    let (app, _, _) = chain().await;
    pay(&app, FOH, &dine_in("T-30", "loc-1", "10.00", "0")).await;
    let (_, key) = app.create_business("Elsewhere").await;
    let (_, _, program) = app
        .post_as(
            &key,
            "/v1/programs",
            &json!({"name": "Theirs", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 1}}),
        )
        .await;
    let program = program["programId"].as_str().expect("programId").to_owned();
    app.post_as(&key, &format!("/v1/programs/{program}/activate"), &json!({}))
        .await;
    let (_, _, member) = app
        .post_as(
            &key,
            "/v1/accounts",
            &json!({"programId": program, "customerId": "x", "displayName": "X", "email": "x@example.com"}),
        )
        .await;
    let member = member["accountId"].as_str().expect("accountId").to_owned();
    let reply = app
        .post_as(
            &key,
            &format!("/v1/accounts/{member}/claims"),
            &json!({"tableOrderId": "T-30"}),
        )
        .await;
    crate::helpers::assert_problem(&reply, StatusCode::NOT_FOUND, "PAYMENT_NOT_FOUND");
}

#[tokio::test]
async fn locations_are_switched_from_the_command_line_at_once() {
    let (app, program, account) = chain().await;
    let run = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
            .arg("locations")
            .args(args)
            .args(["--business", &app.business_id])
            .args(["--database-url", &app.database_url()])
            .env("RUST_LOG", "warn")
            .output()
            .expect("run loyalty locations");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, _, stderr) = run(&["enable", "--location", "loc-new"]);
    assert!(!ok, "an unknown location needs a program");
    assert!(stderr.contains("--program"), "{stderr}");
    let (ok, out, stderr) = run(&["enable", "--location", "loc-new", "--program", &program]);
    assert!(ok, "{stderr}");
    assert!(out.contains("\"loyaltyEnabled\":true"), "{out}");

    link(&app, "T-40", &account).await;
    assert_eq!(
        pay(&app, FOH, &dine_in("T-40", "loc-new", "1.00", "0")).await["outcome"],
        "ACCRUED",
        "the running server sees the switch at once"
    );
    let (ok, _, stderr) = run(&["disable", "--location", "loc-new"]);
    assert!(ok, "{stderr}");
    link(&app, "T-41", &account).await;
    assert_eq!(
        pay(&app, FOH, &dine_in("T-41", "loc-new", "1.00", "0")).await["outcome"],
        "LOCATION_NOT_ENABLED"
    );
    let (ok, out, _) = run(&["list"]);
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "{out}");
}

/// Append an upstream event to a Redis stream: the envelope in field `event`, the payment in `data`.
async fn publish_upstream(url: &str, stream: &str, payment: &Value) {
    let client = redis::Client::open(url).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connection");
    let envelope = json!({"eventId": uuid::Uuid::new_v4(), "eventType": stream, "data": payment});
    let _: String = redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg("event")
        .arg(envelope.to_string())
        .query_async(&mut conn)
        .await
        .expect("xadd");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payment_streams_go_through_the_same_adaptors() {
    let Ok(url) = std::env::var("LOYALTY_TEST_REDIS_URL") else {
        eprintln!("skipped: LOYALTY_TEST_REDIS_URL is not set");
        return;
    };
    let prefix = format!("test-{}:events:", uuid::Uuid::new_v4().simple());
    let (mut app, _, account) = chain().await;
    let business = app.business_id.parse().expect("uuid");
    {
        let delivery = app.delivery_mut();
        delivery.redis_url = Some(url.clone());
        delivery.stream_prefix = prefix.clone();
        delivery.restaurant_business = Some(business);
        delivery.retry.initial = std::time::Duration::from_millis(5);
        delivery.retry.max = std::time::Duration::from_millis(20);
    }
    app.restart().await;
    link(&app, "T-50", &account).await;

    let foh = format!("{prefix}frontofhouse.payment.processed");
    let online_stream = format!("{prefix}onlineordering.payment.processed");
    let payment = dine_in("T-50", "loc-1", "12.00", "2.00");
    publish_upstream(&url, &foh, &payment).await;
    publish_upstream(&url, &foh, &payment).await; // delivered twice upstream
    let mut malformed = dine_in("T-51", "loc-1", "abc", "0");
    malformed["orderPayment"]["paymentMethod"] = json!("Cheque");
    publish_upstream(&url, &foh, &malformed).await;
    publish_upstream(&url, &online_stream, &online("W-50", "guest-1", "loc-1", "5.00")).await;

    crate::helpers::eventually("both payments accrue", async || app.balance(&account).await == 150).await;
    crate::helpers::eventually("the malformed event is dead-lettered", async || {
        !app.store().dead_letters(None, 10).await.expect("dlq").is_empty()
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.balance(&account).await, 150, "the duplicate accrued nothing");
    let dead = app.store().dead_letters(None, 10).await.expect("dlq");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].handler, "restaurant-adaptor");
    assert!(
        dead[0].error.contains("orderPayment.paymentMethod"),
        "{}",
        dead[0].error
    );
    assert!(
        dead[0].error.contains("orderPayment.paymentAmount"),
        "{}",
        dead[0].error
    );

    // The same payment over HTTP now is a duplicate: one translation, whichever way it comes.
    assert_eq!(pay(&app, FOH, &payment).await["outcome"], "DUPLICATE");

    // The point of sale refunds half the table order, and an order loyalty never saw.
    let refunds = format!("{prefix}frontofhouse.payment.refunded");
    publish_upstream(
        &url,
        &refunds,
        &json!({"tableOrderId": "T-50", "refundedAmount": "5.00"}),
    )
    .await;
    publish_upstream(
        &url,
        &refunds,
        &json!({"tableOrderId": "T-999", "refundedAmount": "5.00"}),
    )
    .await;
    crate::helpers::eventually("the refund reverses half the points", async || {
        app.balance(&account).await == 100
    })
    .await;
    let reversed = app.account_events_of_type(&account, "loyalty.points.reversed").await;
    assert_eq!(reversed.len(), 1);
    assert_eq!(reversed[0]["data"]["pointsReversed"], 50);
    assert_eq!(
        app.store().dead_letters(None, 10).await.expect("dlq").len(),
        1,
        "nothing new dead-lettered"
    );
}

#[test]
fn the_restaurant_demo_reconciles() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["demo", "restaurant", "--payments", "200", "--members", "20", "--json"])
        .arg("--database-url")
        .arg(format!("sqlite://{}", dir.path().join("demo.db").display()))
        .env("RUST_LOG", "warn")
        .env_remove("LOYALTY_REDIS_URL")
        .output()
        .expect("run loyalty demo restaurant");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(summary["reconciled"], true, "{summary}");
    let outcomes = summary["outcomes"].as_object().expect("outcomes");
    let seen: u64 = outcomes.values().filter_map(Value::as_u64).sum();
    assert_eq!(seen, summary["paymentsSent"].as_u64().expect("sent"));
    for outcome in ["ACCRUED", "LOCATION_NOT_ENABLED", "NO_ACCOUNT"] {
        assert!(
            outcomes.get(outcome).and_then(Value::as_u64).unwrap_or(0) > 0,
            "{outcome}: {summary}"
        );
    }
    assert_eq!(summary["pointsOnAccounts"], summary["pointsInLedger"]);
}
