//! Webhooks against a local receiver: each matching event is delivered once with a signature
//! that verifies with the subscription's secret; failures are retried with backoff, the last
//! failure leaves the delivery dead, and a replay after the receiver is fixed delivers it. An
//! aggregate's events reach a receiver in commit order, retries included.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use axum::Router;
use loyalty_server::delivery::DeliveryOptions;
use loyalty_server::webhooks::{sign, WebhookOptions};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_invalid_field, eventually, spawn_app_delivering, TestApp};

/// What the receiver got: `(headers, body)` per request.
#[derive(Clone, Default)]
struct Receiver {
    requests: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    /// Answer 500 to this many requests first.
    failures: Arc<AtomicU32>,
}

impl Receiver {
    async fn start(failures: u32) -> (Self, String) {
        let receiver = Self {
            failures: Arc::new(AtomicU32::new(failures)),
            ..Self::default()
        };
        let app = Router::new().route("/hook", post(receive)).with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn bodies(&self) -> Vec<Value> {
        self.requests
            .lock()
            .map(|r| {
                r.iter()
                    .map(|(_, b)| serde_json::from_slice(b).expect("json"))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn count(&self) -> usize {
        self.requests.lock().map(|r| r.len()).unwrap_or(0)
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> AxumStatus {
    if let Ok(mut requests) = receiver.requests.lock() {
        requests.push((headers, body));
    }
    let failing = receiver
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        AxumStatus::INTERNAL_SERVER_ERROR
    } else {
        AxumStatus::NO_CONTENT
    }
}

async fn app() -> TestApp {
    spawn_app_delivering(DeliveryOptions {
        webhooks: WebhookOptions {
            first_retry: Duration::from_millis(50),
            retry_max: Duration::from_millis(200),
            attempts: 4,
            timeout: Duration::from_secs(5),
            poll_interval: Duration::from_millis(20),
        },
        ..DeliveryOptions::default()
    })
    .await
}

async fn subscribe(app: &TestApp, url: &str, types: Value) -> Value {
    let (status, _, hook) = app
        .post("/v1/webhooks", &json!({"url": url, "eventTypes": types}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    hook
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_events_are_delivered_once_and_signed() {
    let app = app().await;
    let (receiver, url) = Receiver::start(0).await;
    let hook = subscribe(&app, &url, json!(["loyalty.points.earned"])).await;
    let secret = hook["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));

    let (_, account) = app.account().await;
    assert_eq!(app.accrue(&account, 10).await.0, StatusCode::CREATED);
    assert_eq!(app.accrue(&account, 20).await.0, StatusCode::CREATED);
    eventually("both accruals arrive", async || receiver.count() == 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 2, "once each, and nothing of other types");

    let requests = receiver.requests.lock().expect("lock").clone();
    for (headers, body) in &requests {
        let header = headers["x-loyalty-signature"].to_str().expect("ascii");
        let timestamp: i64 = header
            .split(',')
            .find_map(|p| p.strip_prefix("t="))
            .and_then(|t| t.parse().ok())
            .expect("a timestamp");
        assert_eq!(header, sign(&secret, timestamp, body), "the signature verifies");
        assert_eq!(headers["x-loyalty-event-type"], "loyalty.points.earned");
    }
    let bodies = receiver.bodies();
    assert_eq!(bodies[0]["eventType"], "loyalty.points.earned");
    assert_eq!(bodies[0]["data"]["pointsEarned"], 10);
    assert_eq!(bodies[1]["data"]["pointsEarned"], 20);

    let path = format!(
        "/v1/webhooks/{}/deliveries?status=DELIVERED",
        hook["webhookId"].as_str().expect("id")
    );
    let (_, _, delivered) = app.get(&path).await;
    assert_eq!(delivered["items"].as_array().map(Vec::len), Some(2), "{delivered}");
    // Every event handed to the fan-out again (a lost checkpoint): nothing is sent twice.
    app.store()
        .write(|tx| tx.checkpoint_set("handler:webhooks", 0))
        .await
        .expect("reset the checkpoint");
    eventually("the fan-out reads everything again", async || {
        let head = app.store().head_position().await.expect("head");
        app.store().checkpoint("handler:webhooks").await.expect("checkpoint") >= head
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.count(), 2, "redelivered events queue no second delivery");

    let (_, _, listed) = app.get("/v1/webhooks").await;
    assert_eq!(listed["items"][0]["url"], url.as_str());
    assert!(listed["items"][0].get("secret").is_none(), "secrets are shown once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_then_dead_and_a_replay_delivers() {
    let app = app().await;
    // Fails twice, then accepts: delivered on the third attempt.
    let (flaky, flaky_url) = Receiver::start(2).await;
    let flaky_hook = subscribe(&app, &flaky_url, json!(["loyalty.customer.enrolled"])).await;
    // Fails until it is fixed: dead after 4 attempts.
    let (down, down_url) = Receiver::start(u32::MAX).await;
    let down_hook = subscribe(&app, &down_url, json!(["*"])).await;

    let program = app.active_program().await;
    app.enroll_customer(&program, "c-1", "ada@example.com").await;

    let deliveries = async |hook: &Value, status: &str| -> Vec<Value> {
        let path = format!(
            "/v1/webhooks/{}/deliveries?status={status}",
            hook["webhookId"].as_str().expect("id")
        );
        app.get(&path).await.2["items"].as_array().cloned().unwrap_or_default()
    };
    eventually("the flaky receiver gets it", async || {
        deliveries(&flaky_hook, "DELIVERED").await.len() == 1
    })
    .await;
    let delivered = deliveries(&flaky_hook, "DELIVERED").await;
    assert_eq!(delivered[0]["attempts"], 3);
    assert_eq!(flaky.count(), 3);

    eventually("the dead receiver's deliveries die", async || {
        !deliveries(&down_hook, "DEAD").await.is_empty() && deliveries(&down_hook, "PENDING").await.is_empty()
    })
    .await;
    let dead = deliveries(&down_hook, "DEAD").await;
    let enrolled = dead
        .iter()
        .find(|d| d["eventType"] == "loyalty.customer.enrolled")
        .cloned()
        .expect("the enrolment died");
    assert_eq!(enrolled["attempts"], 4);
    assert_eq!(enrolled["lastStatusCode"], 500);

    // The receiver is fixed: a replay delivers it. Counted from before the replay is asked
    // for: it may be delivered before the answer to that request is read.
    down.failures.store(0, Ordering::SeqCst);
    let before = down.count();
    let replay = format!(
        "/v1/webhooks/{}/deliveries/{}/replay",
        down_hook["webhookId"].as_str().expect("id"),
        enrolled["deliveryId"].as_str().expect("id")
    );
    let (status, _, queued) = app.post(&replay, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{queued}");
    assert_eq!(queued["status"], "PENDING");
    eventually("the replay is delivered", async || {
        deliveries(&down_hook, "DELIVERED")
            .await
            .iter()
            .any(|d| d["deliveryId"] == enrolled["deliveryId"])
    })
    .await;
    assert_eq!(down.count(), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accounts_events_arrive_in_commit_order_across_retries() {
    let app = app().await;
    // Fails its first two requests: the first event is retried while the later ones wait.
    let (receiver, url) = Receiver::start(2).await;
    subscribe(&app, &url, json!(["loyalty.points.earned"])).await;
    let (_, account) = app.account().await;
    for points in [10, 20, 30] {
        assert_eq!(app.accrue(&account, points).await.0, StatusCode::CREATED);
    }
    eventually("all three are delivered", async || receiver.count() == 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received: Vec<i64> = receiver
        .bodies()
        .iter()
        .map(|b| b["data"]["pointsEarned"].as_i64().expect("points"))
        .collect();
    assert_eq!(
        received,
        [10, 10, 10, 20, 30],
        "the first event twice refused, then delivered, and only then the later ones"
    );
}

#[tokio::test]
async fn subscriptions_are_validated_and_private() {
    let app = app().await;
    assert_invalid_field(
        &app.post("/v1/webhooks", &json!({"url": "ftp://x", "eventTypes": ["*"]}))
            .await,
        "url",
    );
    assert_invalid_field(
        &app.post(
            "/v1/webhooks",
            &json!({"url": "http://127.0.0.1:9/x", "eventTypes": []}),
        )
        .await,
        "eventTypes",
    );
    assert_invalid_field(
        &app.post(
            "/v1/webhooks",
            &json!({"url": "http://127.0.0.1:9/x", "eventTypes": ["nope"]}),
        )
        .await,
        "eventTypes[0]",
    );
    let hook = subscribe(&app, "http://127.0.0.1:9/x", json!(["*"])).await;
    let id = hook["webhookId"].as_str().expect("id").to_owned();
    let (_, other) = app.create_business("Other").await;
    let (_, _, theirs) = app.get_as(&other, "/v1/webhooks").await;
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(0));
    let (status, _, _) = app
        .request(
            reqwest::Method::DELETE,
            &format!("/v1/webhooks/{id}"),
            Some(&other),
            None,
            &[],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another business's webhook does not exist for it"
    );
    let (status, _, _) = app
        .request(
            reqwest::Method::DELETE,
            &format!("/v1/webhooks/{id}"),
            Some(&app.api_key),
            None,
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, _, listed) = app.get("/v1/webhooks").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(0));
}
