//! `Idempotency-Key`: a repeat with the same body gets the first answer again; the same key with
//! another body gets 422; keys belong to one business.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_invalid_field, assert_problem, spawn_app, ADMIN_TOKEN};

const REPLAYED: &str = "idempotent-replayed";

#[tokio::test]
async fn a_repeat_replays_the_first_answer_and_moves_the_balance_once() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let path = format!("/v1/accounts/{account}/accruals");
    let body = json!({"points": 50, "reason": "purchase", "orderRef": "order-9"});

    let (first_status, first_headers, first) = app.post_idempotent(&path, "key-1", &body).await;
    assert_eq!(first_status, StatusCode::CREATED, "{first}");
    assert!(first_headers.get(REPLAYED).is_none(), "a first answer is not a replay");

    for _ in 0..3 {
        let (status, headers, again) = app.post_idempotent(&path, "key-1", &body).await;
        assert_eq!(status, first_status);
        assert_eq!(again, first, "the same body");
        assert_eq!(
            headers.get(REPLAYED).and_then(|v| v.to_str().ok()),
            Some("true"),
            "{headers:?}"
        );
    }
    assert_eq!(app.balance(&account).await, 50, "the balance moved once");
    assert_eq!(app.all_transactions(&account).await.len(), 1);

    // Another key is another request.
    let (status, headers, other) = app.post_idempotent(&path, "key-2", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    assert!(headers.get(REPLAYED).is_none());
    assert_ne!(other["transactionId"], first["transactionId"]);
    assert_eq!(app.balance(&account).await, 100);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let path = format!("/v1/accounts/{account}/accruals");
    let (status, _, _) = app
        .post_idempotent(&path, "key-1", &json!({"points": 50, "reason": "purchase"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let reply = app
        .post_idempotent(&path, "key-1", &json!({"points": 60, "reason": "purchase"}))
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED");
    // On another endpoint too.
    let reply = app
        .post_idempotent(
            &format!("/v1/accounts/{account}/redemptions"),
            "key-1",
            &json!({"points": 50, "reason": "purchase"}),
        )
        .await;
    assert_problem(&reply, StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(app.balance(&account).await, 50, "refused requests moved nothing");
}

#[tokio::test]
async fn a_refusal_is_replayed_too() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let path = format!("/v1/accounts/{account}/redemptions");
    let body = json!({"points": 10, "reason": "coffee"});
    let first = app.post_idempotent(&path, "redeem-1", &body).await;
    assert_problem(&first, StatusCode::CONFLICT, "INSUFFICIENT_POINTS");

    // Points arrive, but the key already has its answer.
    assert_eq!(app.accrue(&account, 100).await.0, StatusCode::CREATED);
    let again = app.post_idempotent(&path, "redeem-1", &body).await;
    assert_problem(&again, StatusCode::CONFLICT, "INSUFFICIENT_POINTS");
    assert_eq!(again.2, first.2);
    assert_eq!(again.1.get(REPLAYED).and_then(|v| v.to_str().ok()), Some("true"));
    assert_eq!(app.balance(&account).await, 100);
}

#[tokio::test]
async fn enrolment_and_program_creation_are_idempotent() {
    let app = spawn_app().await;
    let body = crate::helpers::points_program("Once");
    let (status, _, first) = app.post_idempotent("/v1/programs", "program-1", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, headers, again) = app.post_idempotent("/v1/programs", "program-1", &body).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first));
    assert!(headers.get(REPLAYED).is_some());
    let (_, _, list) = app.list_programs().await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");

    let program_id = first["programId"].as_str().expect("programId");
    assert_eq!(app.activate(program_id).await.0, StatusCode::OK);
    let enrol = crate::helpers::enrollment(program_id, "c1", "ada@example.com");
    let (status, _, first) = app.post_idempotent("/v1/accounts", "enrol-1", &enrol).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, headers, again) = app.post_idempotent("/v1/accounts", "enrol-1", &enrol).await;
    assert_eq!(status, StatusCode::CREATED, "not DUPLICATE_ENROLLMENT: {again}");
    assert_eq!(again, first);
    assert!(headers.get(REPLAYED).is_some());
    let (_, _, found) = app.find_accounts("email", "ada@example.com").await;
    assert_eq!(found["items"].as_array().map(Vec::len), Some(1), "{found}");
}

#[tokio::test]
async fn keys_belong_to_one_business() {
    let app = spawn_app().await;
    let (_, account_a) = app.account().await;
    let (_, key_b) = app.create_business("Bakery").await;

    // Business B's own program and account.
    let (status, _, program) = app
        .post_as(&key_b, "/v1/programs", &crate::helpers::points_program("B"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    let program_b = program["programId"].as_str().expect("programId");
    let (status, _, _) = app
        .post_as(&key_b, &format!("/v1/programs/{program_b}/activate"), &json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, account) = app
        .post_as(
            &key_b,
            "/v1/accounts",
            &crate::helpers::enrollment(program_b, "b1", "b@example.com"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account}");
    let account_b = account["accountId"].as_str().expect("accountId");

    let (status, _, _) = app
        .post_idempotent(
            &format!("/v1/accounts/{account_a}/accruals"),
            "shared-key",
            &json!({"points": 10, "reason": "purchase"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, headers, earned) = app
        .post_idempotent_as(
            &key_b,
            &format!("/v1/accounts/{account_b}/accruals"),
            "shared-key",
            &json!({"points": 25, "reason": "purchase"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{earned}");
    assert!(headers.get(REPLAYED).is_none());
    assert_eq!(earned["newBalance"], 25);
    let (status, _, view_b) = app.get_as(&key_b, &format!("/v1/accounts/{account_b}")).await;
    assert_eq!((status, view_b["pointBalance"].clone()), (StatusCode::OK, json!(25)));
    assert_eq!(app.balance(&account_a).await, 10);

    // B repeating A's exact request gets no replay of A's answer: A's account is not B's.
    let path_a = format!("/v1/accounts/{account_a}/accruals");
    let request = json!({"points": 5, "reason": "purchase"});
    let (status, _, _) = app.post_idempotent(&path_a, "a-only", &request).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, headers, body) = app.post_idempotent_as(&key_b, &path_a, "a-only", &request).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(headers.get(REPLAYED).is_none());
    assert_eq!(app.balance(&account_a).await, 15);
}

#[tokio::test]
async fn lifecycle_commands_are_idempotent() {
    let app = spawn_app().await;
    let program = app.draft_program().await;
    let path = format!("/v1/programs/{program}/activate");
    let (status, _, first) = app.post_idempotent(&path, "activate-1", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, headers, again) = app.post_idempotent(&path, "activate-1", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "a replay, not INVALID_TRANSITION: {again}");
    assert_eq!(again, first);
    assert!(headers.get(REPLAYED).is_some());
    // Without the key, the repeat is a new command and is refused.
    assert_problem(
        &app.activate(&program).await,
        StatusCode::CONFLICT,
        "INVALID_TRANSITION",
    );
    let (_, _, feed) = app.events("").await;
    assert_eq!(
        feed["items"].as_array().map(Vec::len),
        Some(2),
        "created and activated once: {feed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_repeats_apply_once() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let path = format!("/v1/accounts/{account}/accruals");
    let body = json!({"points": 7, "reason": "purchase"});
    let replies = futures::future::join_all((0..20).map(|_| app.post_idempotent(&path, "burst", &body))).await;
    let fresh: Vec<_> = replies.iter().filter(|r| r.1.get(REPLAYED).is_none()).collect();
    assert_eq!(fresh.len(), 1, "exactly one request ran: {replies:?}");
    for (status, _, reply) in &replies {
        assert_eq!(*status, StatusCode::CREATED, "{reply}");
        assert_eq!(reply, &fresh[0].2);
    }
    assert_eq!(app.balance(&account).await, 7);
    assert_eq!(app.all_transactions(&account).await.len(), 1);
}

#[tokio::test]
async fn an_invalid_key_is_refused() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let path = format!("/v1/accounts/{account}/accruals");
    let body = json!({"points": 5, "reason": "r"});
    assert_invalid_field(
        &app.post_idempotent(&path, &"k".repeat(256), &body).await,
        "Idempotency-Key",
    );
    assert_eq!(app.balance(&account).await, 0);
    let (status, _, _) = app.post_idempotent(&path, &"k".repeat(255), &body).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_repeated_business_creation_creates_one_business_and_answers_the_same_api_key() {
    let app = spawn_app().await;
    let create = |key: &'static str, name: &'static str| {
        let app = &app;
        async move {
            app.request(
                reqwest::Method::POST,
                "/v1/businesses",
                Some(ADMIN_TOKEN),
                Some(&json!({ "name": name })),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let key = "5a0c3f4e-2b51-4d7c-9a57-0f3f1b0f6d21";
    let (status, headers, first) = create(key, "Bakery").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert!(headers.get(REPLAYED).is_none());
    let api_key = first["apiKey"].as_str().expect("apiKey").to_owned();

    let (status, headers, again) = create(key, "Bakery").await;
    assert_eq!(
        (status, &again),
        (StatusCode::CREATED, &first),
        "the first answer, API key included"
    );
    assert_eq!(headers.get(REPLAYED).and_then(|v| v.to_str().ok()), Some("true"));
    let (status, _, programs) = app.get_as(&api_key, "/v1/programs").await;
    assert_eq!(status, StatusCode::OK, "the replayed key works: {programs}");

    assert_problem(
        &create(key, "Butcher").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    );

    let (status, _, other) = create("9d1e7f0a-8c2b-4e57-b1c4-6a2f3e9d0b18", "Bakery").await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    assert_ne!(
        other["businessId"], first["businessId"],
        "another key is another business"
    );
    assert_ne!(other["apiKey"], first["apiKey"]);
}

#[tokio::test]
async fn after_the_admin_token_is_rotated_a_business_creation_is_not_replayed() {
    let mut app = spawn_app().await;
    let key = "0b6f2d1e-7c4a-4f3b-9e2d-5a8c1f0e3b7d";
    let body = json!({"name": "Bakery"});
    let create = async |app: &crate::helpers::TestApp, token: &str| {
        app.request(
            reqwest::Method::POST,
            "/v1/businesses",
            Some(token),
            Some(&body),
            &[("Idempotency-Key", key)],
        )
        .await
    };
    let (status, _, first) = create(&app, ADMIN_TOKEN).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");

    app.restart_with_admin_token("rotated-admin-token").await;
    // The old token is refused outright; the new one cannot unmask the first answer's key.
    assert_problem(
        &create(&app, ADMIN_TOKEN).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    );
    assert_problem(
        &create(&app, "rotated-admin-token").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    );
}
