//! Loyalty accounts: enrolment, lookups, accruals, redemptions, suspension, history and events.

use std::collections::HashSet;

use chrono::DateTime;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_invalid_field, assert_problem, enrollment, error_fields, is_uuid, spawn_app};

#[tokio::test]
async fn enrols_into_an_active_program() {
    let app = spawn_app().await;
    let program_id = app.active_program().await;
    let (status, _, account) = app
        .enroll(&json!({
            "programId": program_id,
            "customerId": "cust-42",
            "displayName": "Ada Lovelace",
            "email": "Ada@Example.com",
            "enrollmentMethod": "SELF"
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    assert!(is_uuid(&account["accountId"]), "{account}");
    assert_eq!(account["programId"], program_id.as_str());
    assert_eq!(account["customerId"], "cust-42");
    assert_eq!(account["displayName"], "Ada Lovelace");
    assert_eq!(account["email"], "Ada@Example.com");
    assert_eq!(account["status"], "ACTIVE");
    assert_eq!(account["pointBalance"], 0);
    assert_eq!(account["lifetimePoints"], 0);
    assert_eq!(account["recentTransactions"], json!([]));

    let id = account["accountId"].as_str().expect("accountId");
    let (status, _, read) = app.get_account(id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, account, "GET answers what POST created");
}

#[tokio::test]
async fn a_chosen_account_id_is_kept() {
    let app = spawn_app().await;
    let program_id = app.active_program().await;
    let chosen = uuid::Uuid::new_v4().to_string();
    let mut body = enrollment(&program_id, "cust-1", "ada@example.com");
    body["accountId"] = json!(chosen);
    let (status, _, account) = app.enroll(&body).await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    assert_eq!(account["accountId"], chosen.as_str());
    assert_eq!(app.get_account(&chosen).await.0, StatusCode::OK);
}

#[tokio::test]
async fn enrolment_needs_an_active_program() {
    let app = spawn_app().await;
    let draft = app.draft_program().await;
    assert_problem(
        &app.enroll(&enrollment(&draft, "c1", "a@example.com")).await,
        StatusCode::CONFLICT,
        "PROGRAM_NOT_ACTIVE",
    );

    let paused = app.active_program().await;
    assert_eq!(app.pause(&paused).await.0, StatusCode::OK);
    assert_problem(
        &app.enroll(&enrollment(&paused, "c1", "a@example.com")).await,
        StatusCode::CONFLICT,
        "PROGRAM_NOT_ACTIVE",
    );

    let ended = app.active_program().await;
    assert_eq!(app.end(&ended).await.0, StatusCode::OK);
    assert_problem(
        &app.enroll(&enrollment(&ended, "c1", "a@example.com")).await,
        StatusCode::CONFLICT,
        "PROGRAM_NOT_ACTIVE",
    );

    assert_problem(
        &app.enroll(&enrollment(&uuid::Uuid::new_v4().to_string(), "c1", "a@example.com"))
            .await,
        StatusCode::NOT_FOUND,
        "PROGRAM_NOT_FOUND",
    );

    // Once resumed, the paused program takes members again.
    assert_eq!(app.resume(&paused).await.0, StatusCode::OK);
    let (status, _, body) = app.enroll(&enrollment(&paused, "c1", "a@example.com")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn an_email_enrols_once_per_program_in_any_letter_case() {
    let app = spawn_app().await;
    let program_id = app.active_program().await;
    app.enroll_customer(&program_id, "c1", "ada@example.com").await;
    for email in [
        "ada@example.com",
        "ADA@EXAMPLE.COM",
        "Ada@Example.Com",
        "  ada@example.com ",
    ] {
        assert_problem(
            &app.enroll(&enrollment(&program_id, "c2", email)).await,
            StatusCode::CONFLICT,
            "DUPLICATE_ENROLLMENT",
        );
    }
    // The same address may join another program.
    let other = app.active_program().await;
    let (status, _, body) = app.enroll(&enrollment(&other, "c1", "ADA@example.com")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn enrolment_fields_are_limited() {
    let app = spawn_app().await;
    let program_id = app.active_program().await;
    let base = enrollment(&program_id, "cust-1", "ada@example.com");
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let long_email = format!("{}@example.com", "a".repeat(243)); // 255 characters
    let cases = [
        (with("displayName", json!("")), "displayName"),
        (with("displayName", json!("   ")), "displayName"),
        (with("displayName", json!("x".repeat(101))), "displayName"),
        (with("email", json!("a@bc")), "email"),
        (with("email", json!(long_email)), "email"),
        (with("email", json!("not-an-email")), "email"),
        (with("customerId", json!("")), "customerId"),
        (with("customerId", json!("c".repeat(101))), "customerId"),
        (with("programId", json!("not-a-uuid")), "programId"),
        (with("enrollmentMethod", json!("FOO")), "enrollmentMethod"),
        (with("accountId", json!("not-a-uuid")), "accountId"),
    ];
    for (body, field) in &cases {
        assert_invalid_field(&app.enroll(body).await, field);
    }

    // Every bad field is named at once; missing ones too.
    let reply = app
        .enroll(&json!({"programId": program_id, "customerId": "", "displayName": "", "email": "x"}))
        .await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "VALIDATION_FAILED");
    let mut fields = error_fields(&reply.2);
    fields.sort();
    assert_eq!(fields, ["customerId", "displayName", "email"], "{}", reply.2);
    let reply = app.enroll(&json!({})).await;
    let mut fields = error_fields(&reply.2);
    fields.sort();
    assert_eq!(
        fields,
        ["customerId", "displayName", "email", "programId"],
        "{}",
        reply.2
    );

    // The limits themselves are accepted.
    let email_254 = format!("{}@example.com", "b".repeat(242));
    assert_eq!(email_254.chars().count(), 254);
    let (status, _, account) = app
        .enroll(&json!({
            "programId": program_id,
            "customerId": "c".repeat(100),
            "displayName": "é".repeat(100),
            "email": email_254,
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let (status, _, account) = app
        .enroll(&json!({"programId": program_id, "customerId": "c", "displayName": "X", "email": "a@b.c"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
}

#[tokio::test]
async fn finds_accounts_by_email_in_any_case_and_by_customer_id() {
    let app = spawn_app().await;
    let program_id = app.active_program().await;
    let ada = app.enroll_customer(&program_id, "cust-ada", "Ada@Example.com").await;
    let _grace = app
        .enroll_customer(&program_id, "cust-grace", "grace@example.com")
        .await;

    for email in ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@Example.com"] {
        let (status, _, found) = app.find_accounts("email", email).await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let items = found["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{email}: {found}");
        assert_eq!(items[0]["accountId"], ada.as_str());
    }

    let (status, _, found) = app.find_accounts("customerId", "cust-ada").await;
    assert_eq!(status, StatusCode::OK, "{found}");
    let items = found["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!(items[0]["accountId"], ada.as_str());

    let (status, _, found) = app.find_accounts("email", "nobody@example.com").await;
    assert_eq!((status, found["items"].clone()), (StatusCode::OK, json!([])));
    let (status, _, found) = app.find_accounts("customerId", "nobody").await;
    assert_eq!((status, found["items"].clone()), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn accrues_and_redeems_points() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;

    let (status, _, earned) = app.accrue(&account, 50).await;
    assert_eq!(status, StatusCode::CREATED, "{earned}");
    assert!(is_uuid(&earned["transactionId"]), "{earned}");
    assert_eq!(earned["type"], "EARN");
    assert_eq!(earned["pointsChanged"], 50);
    assert_eq!(earned["newBalance"], 50);
    assert_eq!(earned["reason"], "purchase");
    assert_eq!(earned["orderRef"], "order-1");
    assert!(DateTime::parse_from_rfc3339(earned["timestamp"].as_str().unwrap_or("")).is_ok());

    let (status, _, earned) = app.accrue(&account, 30).await;
    assert_eq!(status, StatusCode::CREATED, "{earned}");
    assert_eq!(earned["newBalance"], 80);

    let (status, _, redeemed) = app.redeem(&account, 30).await;
    assert_eq!(status, StatusCode::CREATED, "{redeemed}");
    assert!(is_uuid(&redeemed["transactionId"]), "{redeemed}");
    assert_eq!(redeemed["type"], "REDEEM");
    assert_eq!(redeemed["pointsChanged"], -30);
    assert_eq!(redeemed["newBalance"], 50);
    assert_eq!(redeemed["reason"], "free coffee");

    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["pointBalance"], 50);
    assert_eq!(view["lifetimePoints"], 80, "redeeming does not lower lifetime points");
}

#[tokio::test]
async fn cannot_redeem_more_than_the_balance() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    assert_problem(
        &app.redeem(&account, 1).await,
        StatusCode::CONFLICT,
        "INSUFFICIENT_POINTS",
    );
    assert_eq!(app.accrue(&account, 50).await.0, StatusCode::CREATED);
    assert_problem(
        &app.redeem(&account, 51).await,
        StatusCode::CONFLICT,
        "INSUFFICIENT_POINTS",
    );
    assert_eq!(app.balance(&account).await, 50);

    let (status, _, all) = app.redeem(&account, 50).await;
    assert_eq!(status, StatusCode::CREATED, "{all}");
    assert_eq!(all["newBalance"], 0);
    assert_problem(
        &app.redeem(&account, 1).await,
        StatusCode::CONFLICT,
        "INSUFFICIENT_POINTS",
    );
    assert_eq!(app.balance(&account).await, 0);
    assert_eq!(
        app.all_transactions(&account).await.len(),
        2,
        "refusals are not in the ledger"
    );
}

#[tokio::test]
async fn a_suspended_account_neither_earns_nor_redeems() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    assert_eq!(app.accrue(&account, 100).await.0, StatusCode::CREATED);

    let (status, _, view) = app.suspend(&account).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "SUSPENDED");
    assert_eq!(view["accountId"], account.as_str());

    assert_problem(
        &app.accrue(&account, 10).await,
        StatusCode::CONFLICT,
        "ACCOUNT_SUSPENDED",
    );
    assert_problem(
        &app.redeem(&account, 10).await,
        StatusCode::CONFLICT,
        "ACCOUNT_SUSPENDED",
    );
    assert_eq!(app.suspend(&account).await.0, StatusCode::CONFLICT, "already suspended");
    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(
        (view["status"].clone(), view["pointBalance"].clone()),
        (json!("SUSPENDED"), json!(100))
    );

    let (status, _, view) = app.reactivate(&account).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["status"], "ACTIVE");
    assert_eq!(app.reactivate(&account).await.0, StatusCode::CONFLICT, "already active");

    let (status, _, earned) = app.accrue(&account, 10).await;
    assert_eq!(
        (status, earned["newBalance"].clone()),
        (StatusCode::CREATED, json!(110))
    );
    let (status, _, redeemed) = app.redeem(&account, 60).await;
    assert_eq!(
        (status, redeemed["newBalance"].clone()),
        (StatusCode::CREATED, json!(50))
    );

    // Suspension needs a reason of 1 to 500 characters.
    let path = format!("/v1/accounts/{account}/suspend");
    assert_invalid_field(&app.post(&path, &json!({})).await, "reason");
    assert_invalid_field(&app.post(&path, &json!({"reason": "r".repeat(501)})).await, "reason");
}

#[tokio::test]
async fn the_account_shows_the_newest_ten_transactions() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    for points in 1..=12 {
        let (status, _, earned) = app.accrue(&account, points).await;
        assert_eq!(status, StatusCode::CREATED, "{earned}");
    }
    let (status, _, view) = app.get_account(&account).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["pointBalance"], 78);
    assert_eq!(view["lifetimePoints"], 78);
    assert_eq!(view["status"], "ACTIVE");
    let recent = view["recentTransactions"].as_array().expect("recentTransactions");
    let points: Vec<i64> = recent
        .iter()
        .map(|t| t["pointsChanged"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(points, [12, 11, 10, 9, 8, 7, 6, 5, 4, 3], "newest first, at most 10");
    assert_eq!(recent[0]["newBalance"], 78);
    assert_eq!(recent[9]["newBalance"], 6);
}

#[tokio::test]
async fn transactions_page_newest_first_without_duplicates() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let (_, other) = app.account().await;
    let mut created = Vec::new();
    for points in 1..=12 {
        let (status, _, earned) = app.accrue(&account, points).await;
        assert_eq!(status, StatusCode::CREATED, "{earned}");
        created.push(earned["transactionId"].as_str().expect("transactionId").to_owned());
        // Another account's ledger grows in between.
        let (status, _, earned) = app.accrue(&other, 100 + points).await;
        assert_eq!(status, StatusCode::CREATED, "{earned}");
    }

    let mut seen = Vec::new();
    let mut page_sizes = Vec::new();
    let mut query = "limit=5".to_owned();
    loop {
        let (status, _, page) = app.transactions(&account, &query).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let items = page["items"].as_array().expect("items");
        page_sizes.push(items.len());
        seen.extend(items.iter().cloned());
        match &page["nextCursor"] {
            Value::Null => break,
            Value::String(cursor) => query = format!("limit=5&cursor={cursor}"),
            other => panic!("nextCursor must be a string or null, got {other}"),
        }
        assert!(page_sizes.len() < 10, "paging does not end");
    }
    assert_eq!(page_sizes, [5, 5, 2]);
    let points: Vec<i64> = seen.iter().map(|t| t["pointsChanged"].as_i64().unwrap_or(0)).collect();
    assert_eq!(points, (1..=12).rev().collect::<Vec<i64>>(), "newest first");
    let ids: Vec<String> = seen
        .iter()
        .map(|t| t["transactionId"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 12, "no duplicates");
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(ids, newest_first, "the transactions the accruals answered");
    assert!(seen.iter().all(|t| t["type"] == "EARN"));

    // The default page holds all twelve.
    let (_, _, page) = app.transactions(&account, "").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(12));
    assert_eq!(page["nextCursor"], Value::Null);

    // A cursor is a position in this account's own ledger: another account's cursor, or a
    // number that is no ledger row of it, is refused (a page never walks a history to find
    // where such a position falls).
    let (_, _, others) = app.transactions(&other, "limit=5").await;
    let foreign = others["nextCursor"].as_str().expect("a cursor").to_owned();
    for cursor in [foreign.as_str(), "999999999"] {
        let reply = app.transactions(&account, &format!("limit=20&cursor={cursor}")).await;
        assert_invalid_field(&reply, "cursor");
    }
    // An unknown account is still a 404, cursor or not.
    let (status, _, _) = app
        .transactions(&uuid::Uuid::new_v4().to_string(), &format!("cursor={foreign}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn account_events_use_the_seed_envelope_oldest_first() {
    let app = spawn_app().await;
    let (program_id, account) = app.account().await;
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let (status, _, _) = app
        .request(
            Method::POST,
            &format!("/v1/accounts/{account}/accruals"),
            Some(&app.api_key),
            Some(&json!({"points": 50, "reason": "purchase", "orderRef": "order-7"})),
            &[("X-Correlation-Id", &correlation_id)],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app.accrue(&account, 30).await.0, StatusCode::CREATED);
    assert_eq!(app.redeem(&account, 20).await.0, StatusCode::CREATED);
    assert_eq!(app.suspend(&account).await.0, StatusCode::OK);
    assert_eq!(app.reactivate(&account).await.0, StatusCode::OK);

    let (status, _, events) = app.account_events(&account).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let items = events["items"].as_array().expect("items");
    let types: Vec<&str> = items.iter().map(|e| e["eventType"].as_str().unwrap_or("")).collect();
    assert_eq!(
        types,
        [
            "loyalty.customer.enrolled",
            "loyalty.points.earned",
            "loyalty.points.earned",
            "loyalty.points.redeemed",
            "loyalty.account.suspended",
            "loyalty.account.reactivated"
        ],
        "{events}"
    );
    let mut event_ids = HashSet::new();
    let mut previous = None;
    for event in items {
        assert!(is_uuid(&event["eventId"]), "{event}");
        assert!(
            event_ids.insert(event["eventId"].clone()),
            "duplicate eventId in {events}"
        );
        assert!(event["version"].is_string(), "{event}");
        let timestamp = DateTime::parse_from_rfc3339(event["timestamp"].as_str().unwrap_or(""))
            .unwrap_or_else(|e| panic!("timestamp of {event} is not RFC 3339: {e}"));
        assert_eq!(timestamp.offset().local_minus_utc(), 0, "UTC: {event}");
        if let Some(previous) = previous {
            assert!(previous <= timestamp, "oldest first: {events}");
        }
        previous = Some(timestamp);
        assert_eq!(event["aggregateId"], account.as_str(), "{event}");
        assert_eq!(event["businessId"], app.business_id.as_str(), "{event}");
        assert!(event["data"].is_object(), "{event}");
        assert!(is_uuid(&event["metadata"]["correlationId"]), "{event}");
    }

    let enrolled = &items[0]["data"];
    assert_eq!(enrolled["programId"], program_id.as_str(), "{enrolled}");
    assert_eq!(enrolled["customerId"], "cust-1", "{enrolled}");

    let first = &items[1];
    assert_eq!(first["version"], "2.0");
    assert_eq!(first["metadata"]["correlationId"], correlation_id.as_str());
    assert_eq!(first["data"]["pointsEarned"], 50, "{first}");
    assert_eq!(first["data"]["totalPoints"], 50, "{first}");
    assert_eq!(first["data"]["orderRef"], "order-7", "{first}");
    let second = &items[2];
    assert_eq!(second["version"], "2.0");
    assert_eq!(second["data"]["pointsEarned"], 30, "{second}");
    assert_eq!(
        second["data"]["totalPoints"], 80,
        "totalPoints is the new balance: {second}"
    );
    let redeemed = &items[3]["data"];
    assert_eq!(redeemed["pointsRedeemed"], 20, "{redeemed}");
    assert_eq!(redeemed["remainingPoints"], 60, "{redeemed}");
    assert_eq!(items[4]["data"]["reason"], "suspected fraud");

    // The account's events are also in the business's feed, in the same order.
    let (_, _, feed) = app.events("limit=500").await;
    let feed_ids: Vec<&Value> = feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["aggregateId"] == account.as_str())
        .map(|e| &e["eventId"])
        .collect();
    let account_ids: Vec<&Value> = items.iter().map(|e| &e["eventId"]).collect();
    assert_eq!(feed_ids, account_ids);
}

#[tokio::test]
async fn unknown_accounts_are_not_found() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4().to_string();
    assert_problem(&app.get_account(&id).await, StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND");
    assert_problem(&app.accrue(&id, 5).await, StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND");
    assert_problem(&app.redeem(&id, 5).await, StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND");
    assert_problem(&app.suspend(&id).await, StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND");
    assert_problem(&app.reactivate(&id).await, StatusCode::NOT_FOUND, "ACCOUNT_NOT_FOUND");
    assert_problem(
        &app.transactions(&id, "").await,
        StatusCode::NOT_FOUND,
        "ACCOUNT_NOT_FOUND",
    );
    assert_problem(
        &app.account_events(&id).await,
        StatusCode::NOT_FOUND,
        "ACCOUNT_NOT_FOUND",
    );

    // A program id is not an account id.
    let program_id = app.active_program().await;
    assert_problem(
        &app.get_account(&program_id).await,
        StatusCode::NOT_FOUND,
        "ACCOUNT_NOT_FOUND",
    );
    assert_problem(
        &app.account_events(&program_id).await,
        StatusCode::NOT_FOUND,
        "ACCOUNT_NOT_FOUND",
    );
    assert_problem(
        &app.accrue(&program_id, 5).await,
        StatusCode::NOT_FOUND,
        "ACCOUNT_NOT_FOUND",
    );
}

#[tokio::test]
async fn accrual_and_redemption_fields_are_limited() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let cases = [
        (json!({"points": 0, "reason": "r"}), "points"),
        (json!({"points": -5, "reason": "r"}), "points"),
        (json!({"points": 5}), "reason"),
        (json!({"points": 5, "reason": ""}), "reason"),
        (json!({"points": 5, "reason": "r".repeat(201)}), "reason"),
        (json!({"reason": "r"}), "points"),
    ];
    for (body, field) in &cases {
        assert_invalid_field(&app.accrue_body(&account, body).await, field);
        assert_invalid_field(&app.redeem_body(&account, body).await, field);
    }
    assert_invalid_field(
        &app.accrue_body(&account, &json!({"points": 5, "reason": "r", "orderRef": ""}))
            .await,
        "orderRef",
    );
    assert_invalid_field(
        &app.accrue_body(
            &account,
            &json!({"points": 5, "reason": "r", "orderRef": "o".repeat(51)}),
        )
        .await,
        "orderRef",
    );
    // The limits themselves are accepted.
    let (status, _, earned) = app
        .accrue_body(
            &account,
            &json!({"points": 5, "reason": "r".repeat(200), "orderRef": "o".repeat(50)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{earned}");
    assert_eq!(app.balance(&account).await, 5, "refused requests moved nothing");
}

#[tokio::test]
async fn an_ended_program_allows_only_reads_refunds_and_expiry() {
    let app = spawn_app().await;
    let (program, account) = app.account().await;
    let (status, _, receipt) = app
        .post(
            &format!("/v1/accounts/{account}/purchases"),
            &json!({"amount": "10.00", "orderRef": "o-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(app.end(&program).await.0, StatusCode::OK);

    for reply in [
        app.suspend(&account).await,
        app.accrue(&account, 5).await,
        app.redeem(&account, 5).await,
    ] {
        assert_problem(&reply, StatusCode::CONFLICT, "PROGRAM_NOT_ACTIVE");
    }
    assert_eq!(app.get_account(&account).await.0, StatusCode::OK, "reads work");
    let (status, _, _) = app
        .post(&format!("/v1/accounts/{account}/refunds"), &json!({"orderRef": "o-1"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "refunds work");
}
