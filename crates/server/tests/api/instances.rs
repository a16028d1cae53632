//! Several `loyalty serve` processes on one PostgreSQL database, behind what would be a load
//! balancer: concurrent accruals, purchases and redemptions of the same accounts through both,
//! each instance SIGKILLed in turn (5 kills) and restarted, unanswered requests retried on the
//! other with the same `Idempotency-Key`. Every acknowledged command must be in the ledger
//! exactly once, every balance must equal its ledger and never go negative, and exactly one
//! instance must lead the background work at the end.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::cli::serve_process_at;
use crate::helpers::enrollment;
use crate::traffic;

/// A fresh schema on the test PostgreSQL, dropped at the end; `None` (and a printed skip) when
/// `LOYALTY_TEST_POSTGRES_URL` is not set.
pub struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    pub fn create(test: &str) -> Option<Self> {
        let base = match std::env::var("LOYALTY_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                eprintln!("skipped {test}: LOYALTY_TEST_POSTGRES_URL is not set");
                return None;
            }
        };
        let name = format!("api_{}", Uuid::new_v4().simple());
        sql(&base, &format!("CREATE SCHEMA {name}"));
        Some(Self { base, name })
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the schema (libpq's `options` sets the search path).
    pub fn url(&self) -> String {
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{separator}options=-c%20search_path%3D{}", self.base, self.name)
    }
}

impl Drop for PgSchema {
    /// Best effort: a server of the test may still hold locks in the schema.
    fn drop(&mut self) {
        if let Err(e) = try_sql(&self.base, &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)) {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

/// Run SQL on a connection of its own (on a plain thread: the synchronous client must not run
/// on the test's runtime).
pub fn sql(url: &str, statement: &str) {
    try_sql(url, statement).expect("run SQL");
}

fn try_sql(url: &str, statement: &str) -> Result<(), String> {
    let (url, statement) = (url.to_owned(), statement.to_owned());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
        client.batch_execute(&statement).map_err(|e| e.to_string())
    })
    .join()
    .map_err(|_| "the SQL thread panicked".to_owned())?
}

/// The writer's connection to PostgreSQL is lost before its batch's `COMMIT` was sent (its
/// `BEGIN` waits for the event-log lock, which another session holds, and an operator ends its
/// session): nothing was done, so the accrual is answered 503 `UNAVAILABLE` ("retry"), not 500,
/// and sent again with the same `Idempotency-Key` it is carried out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_connection_is_lost_before_its_commit_is_a_503_and_its_retry_counts_once() {
    let Some(schema) =
        PgSchema::create("a_write_whose_connection_is_lost_before_its_commit_is_a_503_and_its_retry_counts_once")
    else {
        return;
    };
    let url = schema.url();
    let (mut child, addr) = serve_process_at(&url);
    let outcome = lost_before_commit(&url, schema.name(), &format!("http://{addr}")).await;
    let _ = child.kill();
    let _ = child.wait();
    outcome.expect("the scenario ran");
}

async fn lost_before_commit(url: &str, schema: &str, base: &str) -> Result<(), String> {
    let client = Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| e.to_string())?;
    let (key, _, accounts) = traffic::setup(&client, base, 1).await?;
    let path = format!("/v1/accounts/{}/accruals", accounts[0]);
    let body = json!({"points": 7, "reason": "lost before commit"});
    let idem = Uuid::new_v4().to_string();

    let held = loyalty_store::testing::EventLogLockHeld::take(url)?;
    let request = {
        let (client, base, key, path, idem, body) = (
            client.clone(),
            base.to_owned(),
            key.clone(),
            path.clone(),
            idem.clone(),
            body.clone(),
        );
        tokio::spawn(async move { traffic::post(&client, &base, &key, &path, &idem, &body).await })
    };
    // The batch found waiting may be another's: the server's event handlers write too, in
    // answer to the setup's events. While the lock is held nothing commits, so the writer's
    // session is ended again, each time it waits, until this request is answered.
    let mut request = request;
    let mut ended = 0;
    let answered = loop {
        let terminated = loyalty_store::testing::end_sessions_waiting_for_event_log(url, schema).await?;
        if terminated.is_empty() || terminated.iter().any(|t| t != "true") {
            return Err(format!(
                "the writer's session was not found waiting for the lock: {terminated:?}"
            ));
        }
        ended += terminated.len();
        match tokio::time::timeout(Duration::from_secs(2), &mut request).await {
            Ok(answered) => break answered,
            Err(_) if ended < 20 => continue,
            Err(_) => return Err(format!("no answer after the writer's session was ended {ended} times")),
        }
    };
    drop(held);

    let (status, problem) = answered.map_err(|e| e.to_string())?.ok_or("no answer")?;
    if status != StatusCode::SERVICE_UNAVAILABLE || problem["code"] != "UNAVAILABLE" {
        return Err(format!("a write lost before its commit answered {status} {problem}"));
    }
    let (status, _) = traffic::post(&client, base, &key, &path, &idem, &body)
        .await
        .ok_or("retry")?;
    if status != StatusCode::CREATED {
        return Err(format!("the retry answered {status}"));
    }
    let account = traffic::get_json(&client, &format!("{base}/v1/accounts/{}", accounts[0]), &key).await?;
    if account["pointBalance"] != 7 {
        return Err(format!("the accrual counted other than once: {account}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_keep_every_invariant_through_sigkills() {
    let Some(schema) = PgSchema::create("two_instances_on_one_postgres_keep_every_invariant_through_sigkills") else {
        return;
    };
    let url = schema.url();
    let mut instances = [serve_process_at(&url), serve_process_at(&url)];
    let client = Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    let outcome = drive(&client, &url, &mut instances).await;
    for (child, _) in &mut instances {
        let _ = child.kill();
        let _ = child.wait();
    }
    outcome.expect("the scenario ran");
}

/// How many times one of the two instances is killed (and restarted).
const KILLS: usize = 5;

async fn drive(client: &Client, url: &str, instances: &mut [(std::process::Child, String); 2]) -> Result<(), String> {
    let base = |i: &(std::process::Child, String)| format!("http://{}", i.1);
    let (key, program_id, accounts) = traffic::setup(client, &base(&instances[0]), 3).await?;
    // The same email through the other instance is refused by the unique index.
    let (status, _) = traffic::post(
        client,
        &base(&instances[1]),
        &key,
        "/v1/accounts",
        &Uuid::new_v4().to_string(),
        &enrollment(&program_id, "c-dup", "m0@example.com"),
    )
    .await
    .ok_or("duplicate enrolment")?;
    if status != StatusCode::CONFLICT {
        return Err(format!("a duplicate email across instances answered {status}"));
    }
    // An Idempotency-Key replayed on the other instance gets the first answer.
    let idem = Uuid::new_v4().to_string();
    let path = format!("/v1/accounts/{}/accruals", accounts[0]);
    let body = json!({"points": 5, "reason": "welcome"});
    let first_answer = traffic::post(client, &base(&instances[0]), &key, &path, &idem, &body)
        .await
        .ok_or("accrual")?;
    let replayed = traffic::post(client, &base(&instances[1]), &key, &path, &idem, &body)
        .await
        .ok_or("replay")?;
    if first_answer != replayed || first_answer.0 != StatusCode::CREATED {
        return Err(format!("a replayed key answered {replayed:?} after {first_answer:?}"));
    }

    let live: traffic::Bases = Arc::new(RwLock::new(instances.iter().map(base).collect()));
    let requests = 60;
    let (sent, clients) = traffic::start(client, &live, &key, &accounts, 8, requests);
    // Kill each instance in turn, at moments spread over the traffic, and restart it; clients
    // send to the other one meanwhile.
    for kill in 0..KILLS {
        while sent.lock().await.len() < (kill + 1) * 8 * requests / (KILLS + 2) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let victim = kill % 2;
        instances[victim].0.kill().map_err(|e| format!("SIGKILL: {e}"))?;
        let _ = instances[victim].0.wait();
        *live.write().map_err(|_| "bases")? = vec![base(&instances[1 - victim])];
        instances[victim] = serve_process_at(url);
        *live.write().map_err(|_| "bases")? = instances.iter().map(base).collect();
    }
    if sent.lock().await.len() >= 8 * requests {
        return Err("the kills did not land mid-traffic".to_owned());
    }
    for c in clients {
        c.await.map_err(|e| e.to_string())?;
    }
    let sent = sent.lock().await.clone();
    let retried = sent.iter().filter(|s| s.attempts > 1).count();
    eprintln!("{} requests, {retried} retried after a kill", sent.len());
    if retried == 0 {
        return Err("no request was cut off by a kill".to_owned());
    }
    let survivor = base(&instances[1]);
    for account in &accounts {
        let before = usize::from(account == &accounts[0]);
        traffic::verify(client, &survivor, &key, std::slice::from_ref(account), &sent, before).await?;
    }

    // The read models equal a rebuild from the events (the rebuild holds the event-log lock,
    // so the running instances wait for it).
    let rebuilt = std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["projections", "rebuild", "--database-url", url])
        .env("RUST_LOG", "warn")
        .output()
        .map_err(|e| e.to_string())?;
    let report = String::from_utf8_lossy(&rebuilt.stdout);
    let unchanged = report.contains("read models unchanged") && report.contains("snapshots unchanged");
    if !rebuilt.status.success() || !unchanged {
        return Err(format!(
            "rebuild: {report} {}",
            String::from_utf8_lossy(&rebuilt.stderr)
        ));
    }

    // Exactly one instance leads the background work (the first leader was killed).
    for _ in 0..50 {
        let mut leaders = 0;
        for instance in instances.iter() {
            let metrics = client
                .get(format!("{}/metrics", base(instance)))
                .send()
                .await
                .map_err(|e| e.to_string())?
                .text()
                .await
                .map_err(|e| e.to_string())?;
            leaders += usize::from(metrics.lines().any(|l| l.starts_with("leader ") && l.ends_with(" 1")));
        }
        if leaders == 1 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err("no single instance took over the background work".to_owned())
}
