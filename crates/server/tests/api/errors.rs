//! Bad input: every malformed request is a 4xx problem+json with a `code`, never a 5xx.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_invalid_field, assert_problem, content_type, error_fields, spawn_app, Reply};

/// A 4xx problem+json with a code; never a 5xx.
#[track_caller]
fn assert_client_error(label: &str, reply: &Reply) {
    let (status, headers, body) = reply;
    assert!(status.is_client_error(), "{label}: expected 4xx, got {status}: {body}");
    assert!(
        content_type(headers).starts_with("application/problem+json"),
        "{label}: content type {:?}",
        content_type(headers)
    );
    assert!(
        body["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{label}: no code in {body}"
    );
    assert_eq!(body["status"], status.as_u16(), "{label}: {body}");
}

#[tokio::test]
async fn malformed_json_is_a_400() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let path = format!("/v1/accounts/{account}/accruals");
    for raw in ["{\"points\": ", "{points: 5}", "not json", "{\"points\": 5,}"] {
        let reply = app.post_raw(&path, raw).await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST");
    }
    // Not UTF-8.
    let reply = app.post_raw(&path, vec![b'{', 0xff, 0xfe, b'}']).await;
    assert_client_error("invalid UTF-8", &reply);
    assert_eq!(reply.0, StatusCode::BAD_REQUEST);
    // Valid JSON that is not an object.
    for raw in ["[]", "\"text\"", "42", "null"] {
        let reply = app.post_raw(&path, raw).await;
        assert_client_error(raw, &reply);
        assert_eq!(reply.0, StatusCode::BAD_REQUEST, "{raw}: {}", reply.2);
        let reply = app.post_raw("/v1/programs", raw).await;
        assert_client_error(raw, &reply);
        assert_eq!(reply.0, StatusCode::BAD_REQUEST, "{raw}: {}", reply.2);
    }
    assert_eq!(app.balance(&account).await, 0);
}

#[tokio::test]
async fn json_followed_by_anything_else_is_malformed() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let path = format!("/v1/accounts/{account}/accruals");
    for raw in [
        "{\"points\": 5, \"reason\": \"r\"} trailing",
        "{\"points\": 5, \"reason\": \"r\"}{\"points\": 7, \"reason\": \"r\"}",
    ] {
        let reply = app.post_raw(&path, raw).await;
        assert_problem(&reply, StatusCode::BAD_REQUEST, "MALFORMED_REQUEST");
    }
    assert_eq!(app.balance(&account).await, 0, "nothing was accrued");
}

#[tokio::test]
async fn wrong_types_and_values_name_the_field() {
    let app = spawn_app().await;
    let (program, account) = app.account().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"points": "x", "reason": "r"}), "points"),
        (json!({"points": 1.5, "reason": "r"}), "points"),
        (json!({"points": true, "reason": "r"}), "points"),
        (json!({"points": [5], "reason": "r"}), "points"),
        (json!({"points": -5, "reason": "r"}), "points"),
        (json!({"points": 0, "reason": "r"}), "points"),
        (json!({"points": 1_000_000_001i64, "reason": "r"}), "points"),
        (json!({"points": 5, "reason": 7}), "reason"),
        (json!({"points": 5, "reason": "a\u{0000}b"}), "reason"),
    ];
    for (body, field) in &cases {
        assert_invalid_field(&app.accrue_body(&account, body).await, field);
        assert_invalid_field(&app.redeem_body(&account, body).await, field);
    }
    // Numbers too large for any integer type.
    let path = format!("/v1/accounts/{account}/accruals");
    for raw in [
        "{\"points\": 99999999999999999999999, \"reason\": \"r\"}",
        "{\"points\": 1e400, \"reason\": \"r\"}",
    ] {
        let reply = app.post_raw(&path, raw).await;
        assert_client_error(raw, &reply);
        assert_eq!(reply.0, StatusCode::BAD_REQUEST, "{raw}: {}", reply.2);
    }

    assert_invalid_field(
        &app.enroll(&json!({"programId": program, "customerId": "c", "displayName": "D",
                             "email": "d@example.com", "enrollmentMethod": "FOO"}))
            .await,
        "enrollmentMethod",
    );
    assert_invalid_field(
        &app.enroll(&json!({"programId": 5, "customerId": "c", "displayName": "D", "email": "d@example.com"}))
            .await,
        "programId",
    );
    assert_invalid_field(
        &app.create_program(&json!({"name": "X", "ruleType": "FOO", "ruleConfig": {}}))
            .await,
        "ruleType",
    );
    assert_invalid_field(
        &app.create_program(&json!({"name": 5, "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 1}}))
            .await,
        "name",
    );
    assert_invalid_field(
        &app.create_program(&json!({"name": "X", "ruleType": "POINTS_BASED", "ruleConfig": "10 per dollar"}))
            .await,
        "ruleConfig",
    );
    assert_invalid_field(
        &app.change_rule(&program, &json!({"ruleType": "FOO", "ruleConfig": {}}))
            .await,
        "ruleType",
    );
    assert_eq!(app.balance(&account).await, 0);
}

#[tokio::test]
async fn unknown_fields_are_refused_and_named() {
    let app = spawn_app().await;
    let (program, account) = app.account().await;
    let names_bonus = |reply: &Reply| {
        assert_problem(reply, StatusCode::BAD_REQUEST, "VALIDATION_FAILED");
        assert_eq!(error_fields(&reply.2), ["bonus"], "{}", reply.2);
    };
    names_bonus(
        &app.accrue_body(&account, &json!({"points": 5, "reason": "r", "bonus": 1}))
            .await,
    );
    names_bonus(
        &app.redeem_body(&account, &json!({"points": 5, "reason": "r", "bonus": 1}))
            .await,
    );
    let mut enrol = crate::helpers::enrollment(&program, "c9", "c9@example.com");
    enrol["bonus"] = json!(1);
    names_bonus(&app.enroll(&enrol).await);
    let mut create = crate::helpers::points_program("X");
    create["bonus"] = json!(1);
    assert_invalid_field(&app.create_program(&create).await, "bonus");
    assert_invalid_field(
        &app.create_program(&json!({"name": "X", "ruleType": "POINTS_BASED",
                                     "ruleConfig": {"pointsPerDollar": 1, "bonus": 1}}))
            .await,
        "ruleConfig.bonus",
    );
    assert_eq!(app.balance(&account).await, 0);
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_crashing() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    // 2 × 15,000 brackets twice: under the 64 KiB limit, far over any recursion limit.
    let depth = 15_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    for path in [format!("/v1/accounts/{account}/accruals"), "/v1/programs".to_owned()] {
        let raw = format!("{{\"name\": \"x\", \"points\": {nested}, \"ruleConfig\": {nested}}}");
        assert!(raw.len() < 64 * 1024);
        let reply = app.post_raw(&path, raw).await;
        assert_client_error(&path, &reply);
        assert_eq!(reply.0, StatusCode::BAD_REQUEST, "{}", reply.2);
    }
    // The server is still up.
    assert_eq!(app.balance(&account).await, 0);
}

#[tokio::test]
async fn a_bad_uuid_in_the_path_is_a_400() {
    let app = spawn_app().await;
    let body = json!({"points": 5, "reason": "r"});
    let empty = json!({});
    for (method, path, field) in [
        (Method::GET, "/v1/accounts/not-a-uuid", "accountId"),
        (Method::GET, "/v1/accounts/123/transactions", "accountId"),
        (Method::GET, "/v1/accounts/123/events", "accountId"),
        (Method::POST, "/v1/accounts/not-a-uuid/accruals", "accountId"),
        (Method::POST, "/v1/accounts/not-a-uuid/redemptions", "accountId"),
        (Method::GET, "/v1/programs/not-a-uuid", "programId"),
        (Method::POST, "/v1/programs/not-a-uuid/activate", "programId"),
    ] {
        let body = (method == Method::POST).then_some(if path.ends_with("activate") { &empty } else { &body });
        let reply = app.request(method, path, Some(&app.api_key), body, &[]).await;
        assert_invalid_field(&reply, field);
    }
}

#[tokio::test]
async fn bad_query_parameters_are_a_400() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    for query in ["limit=0", "limit=501", "limit=abc", "limit=-1"] {
        assert_invalid_field(&app.transactions(&account, query).await, "limit");
        assert_invalid_field(&app.events(query).await, "limit");
    }
    for query in ["cursor=abc", "cursor=-3"] {
        assert_invalid_field(&app.transactions(&account, query).await, "cursor");
    }
    for query in ["after=-1", "after=x"] {
        assert_invalid_field(&app.events(query).await, "after");
    }
    // Neither or both lookups.
    let reply = app.get("/v1/accounts").await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "VALIDATION_FAILED");
    let reply = app.get("/v1/accounts?email=a@b.co&customerId=c").await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "VALIDATION_FAILED");
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let big = json!({"points": 5, "reason": "r".repeat(70 * 1024)}).to_string();
    let reply = app
        .post_raw(&format!("/v1/accounts/{account}/accruals"), big.clone())
        .await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");
    let reply = app.post_raw("/v1/programs", big).await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE");

    // Without a Content-Length (chunked), too.
    let status_line = chunked_post(&app, "/v1/programs", 80).await;
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");

    // Just under the limit is read (and refused for its content, not its size).
    let under = json!({"points": 5, "reason": "r".repeat(60 * 1024)}).to_string();
    let reply = app.post_raw(&format!("/v1/accounts/{account}/accruals"), under).await;
    assert_invalid_field(&reply, "reason");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = spawn_app().await;
    for path in ["/v1/nope", "/v2/accounts", "/", "/v1/accounts/x/y/z"] {
        let reply = app.get(path).await;
        assert_problem(&reply, StatusCode::NOT_FOUND, "NOT_FOUND");
    }
    let reply = app
        .request(Method::DELETE, "/v1/programs", Some(&app.api_key), None, &[])
        .await;
    assert_client_error("DELETE /v1/programs", &reply);
    assert_eq!(reply.0, StatusCode::METHOD_NOT_ALLOWED);
    let reply = app
        .request(Method::GET, "/v1/businesses", Some(&app.api_key), None, &[])
        .await;
    assert_client_error("GET /v1/businesses", &reply);
}

#[tokio::test]
async fn an_empty_body_names_the_required_fields() {
    let app = spawn_app().await;
    let (_, account) = app.account().await;
    let reply = app.post_raw(&format!("/v1/accounts/{account}/accruals"), "").await;
    assert_problem(&reply, StatusCode::BAD_REQUEST, "VALIDATION_FAILED");
    let mut fields = error_fields(&reply.2);
    fields.sort();
    assert_eq!(fields, ["points", "reason"], "{}", reply.2);
    // Commands without fields take an empty body.
    let program = app.active_program().await;
    let reply = app.post_raw(&format!("/v1/programs/{program}/pause"), "").await;
    assert_eq!(reply.0, StatusCode::OK, "{}", reply.2);
}

/// POST `kib` KiB of spaces with `Transfer-Encoding: chunked` over a raw connection; answers the
/// status line. The answer is read while the body is still being sent, as the server may answer
/// and close before the whole body arrives.
async fn chunked_post(app: &crate::helpers::TestApp, path: &str, kib: usize) -> String {
    use std::io::{Read, Write};

    let host = app.address.trim_start_matches("http://").to_owned();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.api_key
    );
    tokio::task::spawn_blocking(move || {
        let mut writer = std::net::TcpStream::connect(&host).expect("connect");
        let mut reader = writer.try_clone().expect("clone the stream");
        let read = std::thread::spawn(move || {
            let mut answer = Vec::new();
            let mut buffer = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buffer[..n]);
                if answer.windows(2).any(|w| w == b"\r\n") {
                    break;
                }
            }
            answer
        });
        let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
        if writer.write_all(head.as_bytes()).is_ok() {
            for _ in 0..kib {
                if writer.write_all(chunk.as_bytes()).is_err() {
                    break;
                }
            }
            let _ = writer.write_all(b"0\r\n\r\n");
        }
        let answer = read.join().expect("reader");
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    })
    .await
    .expect("raw request")
}
