//! Several `loyalty serve` processes on one PostgreSQL database, behind what would be a load
//! balancer: concurrent accruals and redemptions of the same accounts through both, one killed
//! with SIGKILL in the middle, its unanswered requests retried on the other with the same
//! `Idempotency-Key`. Every acknowledged command must be in the ledger exactly once, every
//! balance must equal its ledger and never go negative, and the survivor must take over the
//! background work.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::cli::serve_process_at;
use crate::helpers::{enrollment, points_program, ADMIN_TOKEN};

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

/// One request a client made, and what (if anything) acknowledged it.
#[derive(Debug, Clone)]
struct Sent {
    key: String,
    account: String,
    redeem: bool,
    points: i64,
    /// The transaction id of the acknowledging answer; `None` for a refusal (4xx) or none yet.
    acknowledged: Option<String>,
    answered: bool,
    /// What the last attempt got, for the failure message.
    last: String,
}

async fn post(
    client: &Client,
    base: &str,
    key: &str,
    path: &str,
    idem: &str,
    body: &Value,
) -> Option<(StatusCode, Value)> {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .header("Idempotency-Key", idem)
        .json(body)
        .send()
        .await
        .ok()?;
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    Some((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_keep_every_invariant_through_a_sigkill() {
    let Some(schema) = PgSchema::create("two_instances_on_one_postgres_keep_every_invariant_through_a_sigkill") else {
        return;
    };
    let url = schema.url();
    let (mut first, first_addr) = serve_process_at(&url);
    let (mut second, second_addr) = serve_process_at(&url);
    let bases = [format!("http://{first_addr}"), format!("http://{second_addr}")];
    let client = Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");

    let outcome = drive(&client, &bases, &mut first).await;
    let _ = second.kill();
    let _ = second.wait();
    let _ = first.wait();
    outcome.expect("the scenario ran");
}

async fn drive(client: &Client, bases: &[String; 2], first: &mut std::process::Child) -> Result<(), String> {
    // Setup through the first instance, reads of it through the second.
    let created: Value = client
        .post(format!("{}/v1/businesses", bases[0]))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "Chain"}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let key = created["apiKey"].as_str().ok_or("no api key")?.to_owned();
    let (_, program) = post(
        client,
        &bases[0],
        &key,
        "/v1/programs",
        &Uuid::new_v4().to_string(),
        &points_program("P"),
    )
    .await
    .ok_or("program")?;
    let program_id = program["programId"].as_str().ok_or("no program id")?.to_owned();
    post(
        client,
        &bases[1],
        &key,
        &format!("/v1/programs/{program_id}/activate"),
        &Uuid::new_v4().to_string(),
        &json!({}),
    )
    .await
    .ok_or("activate")?;
    let mut accounts = Vec::new();
    for n in 0..3 {
        let (status, account) = post(
            client,
            &bases[n % 2],
            &key,
            "/v1/accounts",
            &Uuid::new_v4().to_string(),
            &enrollment(&program_id, &format!("c{n}"), &format!("m{n}@example.com")),
        )
        .await
        .ok_or("enrol")?;
        if status != StatusCode::CREATED {
            return Err(format!("enrolment answered {status}: {account}"));
        }
        accounts.push(account["accountId"].as_str().ok_or("no account id")?.to_owned());
    }
    // The same email through the other instance is refused by the unique index.
    let (status, _) = post(
        client,
        &bases[1],
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

    let sent: Arc<Mutex<Vec<Sent>>> = Arc::new(Mutex::new(Vec::new()));
    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for worker in 0..8usize {
        let (client, bases, key, accounts, sent, killed) = (
            client.clone(),
            bases.clone(),
            key.clone(),
            accounts.clone(),
            Arc::clone(&sent),
            Arc::clone(&killed),
        );
        clients.push(tokio::spawn(async move {
            for n in 0..40usize {
                let account = accounts[(worker + n) % accounts.len()].clone();
                let redeem = n % 3 == 2;
                let points = 1 + ((worker * 7 + n * 13) % 40) as i64;
                let idem = Uuid::new_v4().to_string();
                let (path, body) = if redeem {
                    (
                        format!("/v1/accounts/{account}/redemptions"),
                        json!({"points": points, "reason": "coffee"}),
                    )
                } else {
                    (
                        format!("/v1/accounts/{account}/accruals"),
                        json!({"points": points, "reason": "purchase"}),
                    )
                };
                let mut record = Sent {
                    key: idem.clone(),
                    account: account.clone(),
                    redeem,
                    points,
                    acknowledged: None,
                    answered: false,
                    last: String::new(),
                };
                // Alternate instances; once the first is dead every retry goes to the second.
                for attempt in 0..10 {
                    let target = if killed.load(std::sync::atomic::Ordering::Acquire) {
                        1
                    } else {
                        (worker + n + attempt) % 2
                    };
                    match post(&client, &bases[target], &key, &path, &idem, &body).await {
                        Some((status, body)) if status.is_success() => {
                            record.acknowledged = body["transactionId"].as_str().map(str::to_owned);
                            record.answered = true;
                            break;
                        }
                        Some((status, _)) if status.is_client_error() => {
                            record.answered = true;
                            break;
                        }
                        // Not answered (the instance died under the request) or a 5xx: retry
                        // with the same key.
                        other => {
                            record.last = format!("{other:?}");
                            tokio::time::sleep(Duration::from_millis(50)).await
                        }
                    }
                }
                sent.lock().await.push(record);
            }
        }));
    }
    // Kill the first instance once a quarter of the requests are done.
    while sent.lock().await.len() < 80 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill().map_err(|e| format!("SIGKILL: {e}"))?;
    killed.store(true, std::sync::atomic::Ordering::Release);
    let done_before_kill = sent.lock().await.len();
    if done_before_kill == 0 || done_before_kill >= 8 * 40 {
        return Err(format!(
            "the kill did not land mid-traffic ({done_before_kill} of 320 done)"
        ));
    }
    for c in clients {
        c.await.map_err(|e| e.to_string())?;
    }
    let sent = sent.lock().await.clone();
    if let Some(s) = sent.iter().find(|s| !s.answered) {
        return Err(format!("a request was never answered, even on retry: {s:?}"));
    }

    // Every acknowledged command is in the ledger exactly once; the balance is the ledger.
    let survivor = &bases[1];
    for account in &accounts {
        let mut ledger: HashMap<String, i64> = HashMap::new();
        let mut sum = 0;
        let mut cursor: Option<String> = None;
        loop {
            let query = cursor
                .as_ref()
                .map_or("limit=500".to_owned(), |c| format!("limit=500&cursor={c}"));
            let page: Value = client
                .get(format!("{survivor}/v1/accounts/{account}/transactions?{query}"))
                .bearer_auth(&key)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            for item in page["items"].as_array().ok_or("no items")? {
                let id = item["transactionId"].as_str().ok_or("no transaction id")?.to_owned();
                *ledger.entry(id).or_default() += 1;
                let change = item["pointsChanged"].as_i64().ok_or("no pointsChanged")?;
                sum += change;
                if item["newBalance"].as_i64().unwrap_or(-1) < 0 {
                    return Err(format!("a negative balance on {account}"));
                }
            }
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        if let Some((id, count)) = ledger.iter().find(|(_, n)| **n != 1) {
            return Err(format!("transaction {id} is in the ledger {count} times"));
        }
        for s in sent.iter().filter(|s| &s.account == account) {
            if let Some(id) = &s.acknowledged {
                if !ledger.contains_key(id) {
                    return Err(format!(
                        "acknowledged {} of {} points ({}) is missing from the ledger",
                        if s.redeem { "redemption" } else { "accrual" },
                        s.points,
                        s.key
                    ));
                }
            }
        }
        let view: Value = client
            .get(format!("{survivor}/v1/accounts/{account}"))
            .bearer_auth(&key)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let balance = view["pointBalance"].as_i64().ok_or("no balance")?;
        if balance != sum || balance < 0 {
            return Err(format!("{account}: balance {balance}, ledger sums to {sum}"));
        }
    }

    // The survivor takes over the background work within seconds.
    for _ in 0..50 {
        let metrics = client
            .get(format!("{survivor}/metrics"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        if metrics.lines().any(|l| l.starts_with("leader ") && l.ends_with(" 1")) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err("the surviving instance never took over the background work".to_owned())
}
