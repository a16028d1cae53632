//! Tenancy: another business's resources answer 404 exactly as if they did not exist, and every
//! `/v1` resource needs a valid API key.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_problem, points_program, spawn_app, TestApp};

/// Answer `path` as business `key` and as the same business for an id that never existed; the
/// two must be the same 404.
async fn assert_hidden(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<&Value>,
    code: &str,
    real_id: &str,
) {
    let reply = app.request(method.clone(), path, Some(key), body, &[]).await;
    assert_problem(&reply, StatusCode::NOT_FOUND, code);
    let missing = path.replace(real_id, &uuid::Uuid::new_v4().to_string());
    let (status, _, missing_body) = app.request(method, &missing, Some(key), body, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        reply.2, missing_body,
        "{path}: another business's resource must answer like one that does not exist"
    );
}

#[tokio::test]
async fn another_business_sees_nothing() {
    let app = spawn_app().await;
    let (program_a, account_a) = app.account().await;
    assert_eq!(app.accrue(&account_a, 100).await.0, StatusCode::CREATED);
    let (_, key_b) = app.create_business("Bakery").await;

    let accrual = json!({"points": 10, "reason": "purchase"});
    let cases: Vec<(Method, String, Option<Value>, &str, &str)> = vec![
        (
            Method::GET,
            format!("/v1/accounts/{account_a}"),
            None,
            "ACCOUNT_NOT_FOUND",
            &account_a,
        ),
        (
            Method::GET,
            format!("/v1/accounts/{account_a}/transactions"),
            None,
            "ACCOUNT_NOT_FOUND",
            &account_a,
        ),
        (
            Method::GET,
            format!("/v1/accounts/{account_a}/events"),
            None,
            "ACCOUNT_NOT_FOUND",
            &account_a,
        ),
        (
            Method::POST,
            format!("/v1/accounts/{account_a}/accruals"),
            Some(accrual.clone()),
            "ACCOUNT_NOT_FOUND",
            &account_a,
        ),
        (
            Method::POST,
            format!("/v1/accounts/{account_a}/redemptions"),
            Some(accrual.clone()),
            "ACCOUNT_NOT_FOUND",
            &account_a,
        ),
        (
            Method::POST,
            format!("/v1/accounts/{account_a}/suspend"),
            Some(json!({"reason": "fraud"})),
            "ACCOUNT_NOT_FOUND",
            &account_a,
        ),
        (
            Method::POST,
            format!("/v1/accounts/{account_a}/reactivate"),
            Some(json!({})),
            "ACCOUNT_NOT_FOUND",
            &account_a,
        ),
        (
            Method::GET,
            format!("/v1/programs/{program_a}"),
            None,
            "PROGRAM_NOT_FOUND",
            &program_a,
        ),
        (
            Method::POST,
            format!("/v1/programs/{program_a}/pause"),
            Some(json!({})),
            "PROGRAM_NOT_FOUND",
            &program_a,
        ),
        (
            Method::POST,
            format!("/v1/programs/{program_a}/end"),
            Some(json!({})),
            "PROGRAM_NOT_FOUND",
            &program_a,
        ),
        (
            Method::PUT,
            format!("/v1/programs/{program_a}/rule"),
            Some(json!({"ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 1}})),
            "PROGRAM_NOT_FOUND",
            &program_a,
        ),
    ];
    for (method, path, body, code, id) in &cases {
        assert_hidden(&app, &key_b, method.clone(), path, body.as_ref(), code, id).await;
    }

    // Enrolling into A's program is enrolling into a program that does not exist.
    let (status, _, body) = app
        .post_as(
            &key_b,
            "/v1/accounts",
            &crate::helpers::enrollment(&program_a, "b1", "b@example.com"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "PROGRAM_NOT_FOUND");

    // Lists and lookups show only B's own things.
    let (status, _, programs) = app.get_as(&key_b, "/v1/programs").await;
    assert_eq!((status, programs["items"].clone()), (StatusCode::OK, json!([])));
    let (status, _, found) = app.get_as(&key_b, "/v1/accounts?email=ada@example.com").await;
    assert_eq!((status, found["items"].clone()), (StatusCode::OK, json!([])));
    let (status, _, found) = app.get_as(&key_b, "/v1/accounts?customerId=cust-1").await;
    assert_eq!((status, found["items"].clone()), (StatusCode::OK, json!([])));
    let (status, _, feed) = app.get_as(&key_b, "/v1/events").await;
    assert_eq!((status, feed["items"].clone()), (StatusCode::OK, json!([])));

    // Nothing B tried changed A's data.
    let (_, _, view) = app.get_account(&account_a).await;
    assert_eq!(view["pointBalance"], 100);
    assert_eq!(view["status"], "ACTIVE");
    let (_, _, program) = app.get_program(&program_a).await;
    assert_eq!(program["status"], "ACTIVE");
}

#[tokio::test]
async fn businesses_may_use_the_same_emails_and_customer_ids() {
    let app = spawn_app().await;
    let (_, account_a) = app.account().await;
    let (_, key_b) = app.create_business("Bakery").await;
    let (_, _, program) = app.post_as(&key_b, "/v1/programs", &points_program("B")).await;
    let program_b = program["programId"].as_str().expect("programId");
    app.post_as(&key_b, &format!("/v1/programs/{program_b}/activate"), &json!({}))
        .await;
    let (status, _, account_b) = app
        .post_as(
            &key_b,
            "/v1/accounts",
            &crate::helpers::enrollment(program_b, "cust-1", "ada@example.com"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{account_b}");
    let (_, _, found) = app.find_accounts("email", "ada@example.com").await;
    let items = found["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{found}");
    assert_eq!(items[0]["accountId"], account_a.as_str());
}

#[tokio::test]
async fn the_api_needs_a_valid_key() {
    let app = spawn_app().await;
    let (program, account) = app.account().await;
    let paths = [
        (Method::GET, "/v1/programs".to_owned(), None),
        (Method::POST, "/v1/programs".to_owned(), Some(points_program("x"))),
        (Method::GET, format!("/v1/programs/{program}"), None),
        (Method::POST, format!("/v1/programs/{program}/end"), Some(json!({}))),
        (Method::GET, format!("/v1/accounts/{account}"), None),
        (Method::GET, "/v1/accounts?email=ada@example.com".to_owned(), None),
        (
            Method::POST,
            format!("/v1/accounts/{account}/accruals"),
            Some(json!({"points": 5, "reason": "r"})),
        ),
        (Method::GET, format!("/v1/accounts/{account}/transactions"), None),
        (Method::GET, format!("/v1/accounts/{account}/events"), None),
        (Method::GET, "/v1/events".to_owned(), None),
    ];
    for (method, path, body) in &paths {
        for (label, headers) in [
            ("no key", vec![]),
            ("an unknown key", vec![("Authorization", "Bearer lk_not_a_real_key")]),
            ("an empty bearer", vec![("Authorization", "Bearer ")]),
            ("another scheme", vec![("Authorization", "Basic dXNlcjpwYXNz")]),
            ("the admin token", vec![("Authorization", "Bearer test-admin-token")]),
        ] {
            let reply = app.request(method.clone(), path, None, body.as_ref(), &headers).await;
            assert_eq!(
                reply.0,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {label}: {}",
                reply.2
            );
            assert_problem(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
        }
    }
    // Nothing was written.
    let (_, _, view) = app.get_account(&account).await;
    assert_eq!(view["pointBalance"], 0);
    let (_, _, programme) = app.get_program(&program).await;
    assert_eq!(programme["status"], "ACTIVE");
}
