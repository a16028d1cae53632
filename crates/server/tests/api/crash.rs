//! Crash safety under load: `loyalty serve` on a SQLite file is SIGKILLed at random moments
//! while clients send accruals, purchases and redemptions with idempotency keys, and restarted
//! each time; clients retry every unanswered request with the same key. Afterwards every
//! acknowledged command is in the ledger exactly once and nothing else is, every balance equals
//! its ledger and never went negative, and the read models equal a rebuild from the events.
//!
//! CI runs it small (5 kills); `LOYALTY_CRASH_KILLS` and `LOYALTY_CRASH_REQUESTS` (per client)
//! make a long run: `LOYALTY_CRASH_KILLS=100 LOYALTY_CRASH_REQUESTS=2000 cargo test -p
//! loyalty-server --test api crash -- --nocapture`.

use std::process::Command;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rand::Rng;
use reqwest::Client;
use serde_json::json;

use crate::cli::serve_process_with;
use crate::traffic;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commands_survive_repeated_sigkills_exactly_once() {
    crash_run(None).await;
}

/// The same with Redis Streams for delivery, and members enrolling (in a program with a signup
/// bonus) while the kills land: every stored event reaches its stream at least once, and the
/// bonus handler's effect happens exactly once per member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_every_event_reaches_its_stream_and_handlers_act_once() {
    let Some(redis) = std::env::var("LOYALTY_TEST_REDIS_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("skipped: LOYALTY_TEST_REDIS_URL is not set");
        return;
    };
    crash_run(Some(redis)).await;
}

async fn crash_run(redis: Option<String>) {
    let kills = setting("LOYALTY_CRASH_KILLS", 5);
    let requests = setting("LOYALTY_CRASH_REQUESTS", 90);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    let prefix = format!("crash-{}:events:", uuid::Uuid::new_v4().simple());
    let env: Vec<(&str, &str)> = match &redis {
        Some(redis) => vec![
            ("LOYALTY_REDIS_URL", redis.as_str()),
            ("LOYALTY_REDIS_STREAM_PREFIX", prefix.as_str()),
            // Entries a killed process left unacknowledged are taken over quickly.
            ("LOYALTY_REDIS_CLAIM_IDLE_SECS", "2"),
        ],
        None => Vec::new(),
    };
    let (mut child, addr) = serve_process_with(&url, &env);
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let base = format!("http://{addr}");
    let (key, _, accounts) = traffic::setup(&client, &base, 4).await.expect("setup");
    for account in &accounts {
        let (status, body) = traffic::post(
            &client,
            &base,
            &key,
            &format!("/v1/accounts/{account}/accruals"),
            &uuid::Uuid::new_v4().to_string(),
            &json!({"points": 200, "reason": "opening balance"}),
        )
        .await
        .expect("opening balance");
        assert!(status.is_success(), "{body}");
    }
    // A program whose members get a signup bonus from the enrolment handler.
    let (_, bonus) = traffic::post(
        &client,
        &base,
        &key,
        "/v1/programs",
        &uuid::Uuid::new_v4().to_string(),
        &json!({"name": "Bonus", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 1},
                "signupBonusPoints": 25}),
    )
    .await
    .expect("bonus program");
    let bonus = bonus["programId"].as_str().expect("program id").to_owned();
    traffic::post(
        &client,
        &base,
        &key,
        &format!("/v1/programs/{bonus}/activate"),
        "activate-bonus",
        &json!({}),
    )
    .await
    .expect("activate");

    let live: traffic::Bases = Arc::new(RwLock::new(vec![base]));
    let (sent, mut clients) = traffic::start(&client, &live, &key, &accounts, 6, requests);
    let (members, enrolling) = traffic::enrol(&client, &live, &key, &bonus, requests / 3);
    clients.push(enrolling);
    let total = 6 * requests;
    let mut killed_mid_traffic = 0;
    for kill in 0..kills {
        // Spread the kills over the traffic, each at a random moment within its share.
        while sent.lock().await.len() < kill * total / (kills + 1) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let pause = rand::rng().random_range(0..20);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if sent.lock().await.len() < total {
            killed_mid_traffic += 1;
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let (restarted, addr) = serve_process_with(&url, &env);
        child = restarted;
        *live.write().expect("bases") = vec![format!("http://{addr}")];
    }
    for c in clients {
        c.await.expect("client task");
    }
    let base = live.read().expect("bases")[0].clone();
    let sent = sent.lock().await.clone();
    let members = members.lock().await.clone();
    let mut outcome = traffic::verify(&client, &base, &key, &accounts, &sent, 1).await;
    if outcome.is_ok() {
        outcome = traffic::bonus_once(&client, &base, &key, &members).await;
    }
    if outcome.is_ok() {
        if let Some(redis) = &redis {
            outcome = traffic::every_event_in_streams(&client, &base, &key, redis, &prefix).await;
        }
    }

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    outcome.expect("every acknowledged command exactly once, balances equal to ledgers, handlers once");
    assert!(
        killed_mid_traffic >= kills.min(3),
        "only {killed_mid_traffic} of {kills} kills landed while clients were sending"
    );
    assert!(
        sent.iter().any(|s| s.attempts > 1),
        "some requests were cut off and retried"
    );

    let rebuilt = Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["projections", "rebuild", "--database-url", &url])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run loyalty projections rebuild");
    let report = String::from_utf8_lossy(&rebuilt.stdout);
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    assert!(
        report.contains("read models unchanged") && report.contains("snapshots unchanged"),
        "the live read models differ from a rebuild: {report}"
    );
}
