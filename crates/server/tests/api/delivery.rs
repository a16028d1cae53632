//! Event delivery through the real Redis of `LOYALTY_TEST_REDIS_URL` (each test skips, saying
//! so, without it; each uses its own stream prefix): events are appended to `events:<type>`
//! streams in commit order, the enrolment saga runs on the Redis bus, commands keep working
//! while Redis is unreachable and delivery catches up when it is back, and dead letters can be
//! listed, retried and discarded over HTTP and from the command line.

use std::sync::Arc;
use std::time::Duration;

use loyalty_delivery::RetryPolicy;
use loyalty_server::delivery::DeliveryOptions;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{eventually, spawn_app_delivering, TestApp};

fn redis_url() -> Option<String> {
    let url = std::env::var("LOYALTY_TEST_REDIS_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("skipped: LOYALTY_TEST_REDIS_URL is not set");
    }
    url
}

fn options(url: &str, prefix: &str) -> DeliveryOptions {
    DeliveryOptions {
        redis_url: Some(url.to_owned()),
        stream_prefix: prefix.to_owned(),
        retry: RetryPolicy {
            retries: 3,
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
        },
        claim_idle: Duration::from_secs(2),
        ..DeliveryOptions::default()
    }
}

fn prefix() -> String {
    format!("test-{}:events:", uuid::Uuid::new_v4().simple())
}

/// A TCP forwarder to Redis that can be cut (dropping every connection) and restored.
struct Switch {
    url: String,
    up: Arc<watch::Sender<bool>>,
}

impl Switch {
    async fn to(redis_url: &str, up: bool) -> Self {
        let target = redis_url
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap_or("127.0.0.1:6379")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (sender, _) = watch::channel(up);
        let sender = Arc::new(sender);
        let state = Arc::clone(&sender);
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let mut down = state.subscribe();
                if !*down.borrow() {
                    continue; // refused: dropped at once
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Self {
            url: format!("redis://127.0.0.1:{port}"),
            up: sender,
        }
    }

    fn set(&self, up: bool) {
        self.up.send_replace(up);
    }
}

async fn relay_caught_up(app: &TestApp) -> bool {
    let head = app.store().head_position().await.expect("head");
    app.store().checkpoint("relay:redis").await.expect("checkpoint") >= head
}

async fn bonus_program(app: &TestApp) -> String {
    let program = app
        .program_from(
            &json!({"name": "Bonus", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 1},
                              "signupBonusPoints": 25}),
        )
        .await;
    assert_eq!(app.activate(&program).await.0, StatusCode::OK);
    program
}

/// `(stream entry id, envelope)` of every entry of one event type's stream.
pub async fn stream(url: &str, prefix: &str, event_type: &str) -> Vec<(String, Value)> {
    let client = redis::Client::open(url).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connection");
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{prefix}{event_type}"))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("xrange");
    entries
        .into_iter()
        .map(|(id, fields)| {
            let (field, json) = fields.into_iter().next().expect("one field");
            assert_eq!(field, "event");
            (id, serde_json::from_str(&json).expect("an envelope"))
        })
        .collect()
}

/// Redis stream ids (`ms-seq`) in their numeric order.
fn stream_order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_go_to_their_streams_in_commit_order_and_the_saga_runs_on_redis() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix();
    let app = spawn_app_delivering(options(&url, &prefix)).await;
    let program = bonus_program(&app).await;
    let account = app.enroll_customer(&program, "c-1", "ada@example.com").await;
    assert_eq!(app.accrue(&account, 10).await.0, StatusCode::CREATED);
    assert_eq!(app.redeem(&account, 5).await.0, StatusCode::CREATED);

    eventually("the bonus arrives through Redis", async || {
        app.balance(&account).await == 30
    })
    .await;
    eventually("the relay has published everything", async || {
        relay_caught_up(&app).await
    })
    .await;

    // Every event of the account once in its type's stream, and in commit order across streams.
    let mut entries = Vec::new();
    for event_type in [
        "loyalty.customer.enrolled",
        "loyalty.points.earned",
        "loyalty.points.redeemed",
    ] {
        entries.extend(stream(&url, &prefix, event_type).await);
    }
    let (_, _, history) = app.account_events(&account).await;
    let history = history["items"].as_array().expect("items").clone();
    assert_eq!(entries.len(), history.len(), "one entry per event: {entries:?}");
    // Stream ids are `ms-n` with `n` counted per stream: entries of different streams added in
    // the same millisecond cannot be ordered by id, so those are ordered by position.
    entries.sort_by_key(|(id, e)| (stream_order(id).0, e["position"].as_i64().unwrap_or(0)));
    let published: Vec<i64> = entries
        .iter()
        .map(|(_, e)| e["sequence"].as_i64().expect("sequence"))
        .collect();
    let mut sorted = published.clone();
    sorted.sort_unstable();
    assert_eq!(
        published,
        sorted,
        "published in commit order per aggregate: {:?}",
        entries
            .iter()
            .map(|(id, e)| (
                id.clone(),
                e["position"].clone(),
                e["sequence"].clone(),
                e["eventType"].clone()
            ))
            .collect::<Vec<_>>()
    );
    let earned: Vec<&Value> = entries
        .iter()
        .map(|(_, e)| e)
        .filter(|e| e["eventType"] == "loyalty.points.earned")
        .collect();
    assert_eq!(earned.len(), 2, "the accrual and the bonus");
    assert!(earned.iter().any(|e| e["data"]["referenceType"] == "SIGNUP_BONUS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_work_while_redis_is_down_and_delivery_catches_up_when_it_is_back() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix();
    let switch = Switch::to(&url, false).await;
    let app = spawn_app_delivering(options(&switch.url, &prefix)).await;
    let program = bonus_program(&app).await;
    let mut accounts = Vec::new();
    for n in 0..3 {
        let account = app
            .enroll_customer(&program, &format!("c-{n}"), &format!("m{n}@example.com"))
            .await;
        assert_eq!(
            app.accrue(&account, 10).await.0,
            StatusCode::CREATED,
            "commands succeed"
        );
        accounts.push(account);
    }
    eventually("readiness reports degraded delivery", async || {
        let (status, _, body) = app.get("/readyz").await;
        status == StatusCode::OK && body["delivery"]["status"] == "degraded"
    })
    .await;
    let (_, _, ready) = app.get("/readyz").await;
    assert!(ready["delivery"]["outboxLag"].as_i64().unwrap_or(0) > 0, "{ready}");
    assert_eq!(app.balance(&accounts[0]).await, 10, "no bonus while the bus is down");

    switch.set(true);
    eventually("the outbox drains", async || relay_caught_up(&app).await).await;
    for account in &accounts {
        eventually("each bonus arrives once", async || app.balance(account).await == 35).await;
    }
    eventually("readiness recovers", async || {
        app.get("/readyz").await.2["delivery"]["status"] == "ok"
    })
    .await;
    assert_eq!(stream(&url, &prefix, "loyalty.customer.enrolled").await.len(), 3);
    let text = app.metrics_text().await;
    assert!(text.contains("events_published_total"), "{text}");
    assert!(text.contains("outbox_lag_events"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_retried_and_discarded() {
    let Some(url) = redis_url() else { return };
    // The bus stays unreachable, so the saga never sees the enrolment: as if it had given up.
    let switch = Switch::to(&url, false).await;
    let app = spawn_app_delivering(options(&switch.url, &prefix())).await;
    let program = bonus_program(&app).await;
    let first = app.enroll_customer(&program, "c-1", "ada@example.com").await;
    let second = app.enroll_customer(&program, "c-2", "bob@example.com").await;
    let mut letters = Vec::new();
    for account in [&first, &second] {
        let (_, _, events) = app.account_events(account).await;
        let enrolled: loyalty_store::StoredEvent =
            serde_json::from_value(events["items"][0].clone()).expect("an envelope");
        let id = app
            .store()
            .write(move |tx| tx.dead_letter_put("enrollment-saga", &enrolled, "the bus was down", "handler_error", 4))
            .await
            .expect("dead letter");
        letters.push(id.to_string());
    }

    let (status, _, listed) = app.get("/v1/dead-letters").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["handler"], "enrollment-saga");
    assert_eq!(items[0]["attempts"], 4);
    assert_eq!(items[0]["event"]["eventType"], "loyalty.customer.enrolled");

    let (_, other_key) = app.create_business("Other").await;
    let (_, _, theirs) = app.get_as(&other_key, "/v1/dead-letters").await;
    assert_eq!(theirs["items"].as_array().map(Vec::len), Some(0), "tenancy");
    let retry_path = format!("/v1/dead-letters/{}/retry", letters[0]);
    let (status, _, _) = app.post_as(&other_key, &retry_path, &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _, retried) = app.post(&retry_path, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["outcome"], "HANDLED");
    assert_eq!(app.balance(&first).await, 25, "the retry awarded the bonus");
    let (status, _, _) = app.post(&retry_path, &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a handled dead letter is gone");

    // The command line sees the other one and discards it.
    let database = app.database_url();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
            .args(args)
            .args(["--database-url", &database])
            .env_remove("LOYALTY_REDIS_URL")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run loyalty")
    };
    let listed = run(&["dlq", "list"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let lines: Vec<Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["deadLetterId"], letters[1].as_str());
    let shown = run(&["dlq", "show", &letters[1]]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("loyalty.customer.enrolled"));
    let discarded = run(&["dlq", "discard", &letters[1]]);
    assert!(
        discarded.status.success(),
        "{}",
        String::from_utf8_lossy(&discarded.stderr)
    );
    let (_, _, listed) = app.get("/v1/dead-letters").await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(app.balance(&second).await, 0, "discarded, not handled");
    let missing = run(&["dlq", "retry", &letters[1]]);
    assert!(!missing.status.success(), "retrying a discarded letter fails clearly");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no dead letter"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_replay_republishes_a_range_and_consumers_ignore_what_they_had() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix();
    let app = spawn_app_delivering(options(&url, &prefix)).await;
    let program = bonus_program(&app).await;
    let account = app.enroll_customer(&program, "c-1", "ada@example.com").await;
    eventually("the bonus arrives", async || app.balance(&account).await == 25).await;
    eventually("the relay has published everything", async || {
        relay_caught_up(&app).await
    })
    .await;
    let enrolled_before = stream(&url, &prefix, "loyalty.customer.enrolled").await.len();
    assert_eq!(enrolled_before, 1);

    let replay = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
            .args(["events", "replay", "--to-bus", "--from", "0"])
            .args(["--database-url", &app.database_url()])
            .args(extra)
            .env_remove("LOYALTY_REDIS_URL")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run loyalty events replay")
    };
    let refused = replay(&[]);
    assert!(
        !refused.status.success(),
        "without a Redis URL there is nothing to replay to"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--redis-url"));

    let done = replay(&["--redis-url", &url, "--redis-stream-prefix", &prefix]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let report: Value = serde_json::from_slice(&done.stdout).expect("one JSON line");
    let head = app.store().head_position().await.expect("head");
    assert_eq!(report["published"], head, "every event after position 0");
    assert_eq!(
        stream(&url, &prefix, "loyalty.customer.enrolled").await.len(),
        2,
        "published again"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.balance(&account).await,
        25,
        "the saga's inbox makes the replay harmless"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_publishing_where_it_stopped() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix();
    let switch = Switch::to(&url, true).await;
    let mut app = spawn_app_delivering(options(&switch.url, &prefix)).await;
    let program = bonus_program(&app).await;
    let first = app.enroll_customer(&program, "c-1", "ada@example.com").await;
    eventually("the first enrolment is published", async || relay_caught_up(&app).await).await;

    // Redis goes away; another enrolment waits in the outbox; the process stops.
    switch.set(false);
    let second = app.enroll_customer(&program, "c-2", "bob@example.com").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!relay_caught_up(&app).await, "the second could not be published");
    app.stop().await;

    // Redis is back and a new process starts: it publishes what was left, and only that.
    switch.set(true);
    app.restart().await;
    eventually("the outbox drains after the restart", async || {
        relay_caught_up(&app).await
    })
    .await;
    for account in [&first, &second] {
        eventually("each bonus arrives", async || app.balance(account).await == 25).await;
    }
    assert_eq!(
        stream(&url, &prefix, "loyalty.customer.enrolled").await.len(),
        2,
        "each enrolment published once: the restart resumed at the checkpoint"
    );
}
