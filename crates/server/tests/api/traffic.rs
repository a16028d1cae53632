//! Concurrent clients sending accruals, purchases and redemptions, each with its own
//! `Idempotency-Key`, retrying every request that got no answer (or a 5xx) with the same key
//! on whichever server is up; then the checks that nothing was lost or counted twice.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use uuid::Uuid;

/// How long a request is retried before the client gives up.
pub const RETRY_DEADLINE: Duration = Duration::from_secs(30);

/// One request a client made, and what (if anything) acknowledged it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub key: String,
    pub account: String,
    pub kind: &'static str,
    /// The ledger entry of the acknowledging answer; `None` for a refusal (4xx).
    pub acknowledged: Option<String>,
    pub answered: bool,
    /// How many attempts it took.
    pub attempts: u32,
    /// What the last unanswered attempt got, for failure messages.
    pub last: String,
}

/// The servers clients may send to; replaced as servers die and come back.
pub type Bases = Arc<RwLock<Vec<String>>>;

pub async fn post(
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

/// `workers` clients each sending `requests` commands to the accounts, spread over the bases.
pub fn start(
    client: &Client,
    bases: &Bases,
    key: &str,
    accounts: &[String],
    workers: usize,
    requests: usize,
) -> (Arc<Mutex<Vec<Sent>>>, Vec<tokio::task::JoinHandle<()>>) {
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let (client, bases, key, accounts, sent) = (
            client.clone(),
            Arc::clone(bases),
            key.to_owned(),
            accounts.to_vec(),
            Arc::clone(&sent),
        );
        tasks.push(tokio::spawn(async move {
            for n in 0..requests {
                let account = accounts[(worker + n) % accounts.len()].clone();
                let idem = Uuid::new_v4().to_string();
                let points = 1 + ((worker * 7 + n * 13) % 40) as i64;
                let (kind, path, body) = match n % 3 {
                    0 => (
                        "accrual",
                        format!("/v1/accounts/{account}/accruals"),
                        json!({"points": points, "reason": "purchase"}),
                    ),
                    1 => (
                        "purchase",
                        format!("/v1/accounts/{account}/purchases"),
                        json!({"amount": format!("{points}.50"), "orderRef": format!("order-{idem}")}),
                    ),
                    _ => (
                        "redemption",
                        format!("/v1/accounts/{account}/redemptions"),
                        json!({"points": points, "reason": "coffee"}),
                    ),
                };
                let mut record = Sent {
                    key: idem.clone(),
                    account,
                    kind,
                    acknowledged: None,
                    answered: false,
                    attempts: 0,
                    last: String::new(),
                };
                let started = Instant::now();
                while started.elapsed() < RETRY_DEADLINE {
                    record.attempts += 1;
                    let base = {
                        let bases = bases.read().expect("bases");
                        bases[(worker + n + record.attempts as usize) % bases.len().max(1)].clone()
                    };
                    match post(&client, &base, &key, &path, &idem, &body).await {
                        Some((status, body)) if status.is_success() => {
                            record.acknowledged = body["transactionId"].as_str().map(str::to_owned);
                            record.answered = true;
                            break;
                        }
                        Some((status, _)) if status.is_client_error() => {
                            record.answered = true;
                            break;
                        }
                        other => {
                            record.last = format!("{other:?}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
                sent.lock().await.push(record);
            }
        }));
    }
    (sent, tasks)
}

/// Every request was answered; every acknowledged one is in its account's ledger exactly once,
/// and nothing else is (a retried request counted at most once); every balance equals its
/// ledger and was never negative. `other_entries` is how many ledger entries each account
/// has from before the traffic.
pub async fn verify(
    client: &Client,
    base: &str,
    key: &str,
    accounts: &[String],
    sent: &[Sent],
    other_entries: usize,
) -> Result<(), String> {
    if let Some(s) = sent.iter().find(|s| !s.answered) {
        return Err(format!("a request was never answered, even on retry: {s:?}"));
    }
    for account in accounts {
        let mut ledger: HashMap<String, usize> = HashMap::new();
        let mut sum = 0;
        let mut cursor: Option<String> = None;
        loop {
            let query = cursor
                .as_ref()
                .map_or("limit=500".to_owned(), |c| format!("limit=500&cursor={c}"));
            let page = get_json(
                client,
                &format!("{base}/v1/accounts/{account}/transactions?{query}"),
                key,
            )
            .await?;
            for item in page["items"].as_array().ok_or("no items")? {
                let id = item["transactionId"].as_str().ok_or("no transaction id")?.to_owned();
                *ledger.entry(id).or_default() += 1;
                sum += item["pointsChanged"].as_i64().ok_or("no pointsChanged")?;
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
        let acknowledged: Vec<&Sent> = sent
            .iter()
            .filter(|s| &s.account == account && s.acknowledged.is_some())
            .collect();
        for s in &acknowledged {
            let id = s.acknowledged.as_deref().unwrap_or_default();
            if !ledger.contains_key(id) {
                return Err(format!("acknowledged {} {} is missing from the ledger", s.kind, s.key));
            }
        }
        // Purchases below the program's minimum earn nothing and write no entry; these
        // programs have none, so every acknowledged command is one entry.
        if ledger.len() != acknowledged.len() + other_entries {
            return Err(format!(
                "{account}: {} ledger entries for {} acknowledged commands (+{other_entries} before)",
                ledger.len(),
                acknowledged.len()
            ));
        }
        let view = get_json(client, &format!("{base}/v1/accounts/{account}"), key).await?;
        let balance = view["pointBalance"].as_i64().ok_or("no balance")?;
        if balance != sum || balance < 0 {
            return Err(format!("{account}: balance {balance}, ledger sums to {sum}"));
        }
    }
    Ok(())
}

/// A business, an active points program and `count` members, created through `base`; answers
/// the API key, the program and the accounts.
pub async fn setup(client: &Client, base: &str, count: usize) -> Result<(String, String, Vec<String>), String> {
    let created: Value = client
        .post(format!("{base}/v1/businesses"))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .json(&json!({"name": "Chain"}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let key = created["apiKey"].as_str().ok_or("no api key")?.to_owned();
    let fresh = || Uuid::new_v4().to_string();
    let (_, program) = post(
        client,
        base,
        &key,
        "/v1/programs",
        &fresh(),
        &crate::helpers::points_program("P"),
    )
    .await
    .ok_or("program")?;
    let program_id = program["programId"].as_str().ok_or("no program id")?.to_owned();
    post(
        client,
        base,
        &key,
        &format!("/v1/programs/{program_id}/activate"),
        &fresh(),
        &json!({}),
    )
    .await
    .ok_or("activate")?;
    let mut accounts = Vec::new();
    for n in 0..count {
        let body = crate::helpers::enrollment(&program_id, &format!("c{n}"), &format!("m{n}@example.com"));
        let (status, account) = post(client, base, &key, "/v1/accounts", &fresh(), &body)
            .await
            .ok_or("enrol")?;
        if status != StatusCode::CREATED {
            return Err(format!("enrolment answered {status}: {account}"));
        }
        accounts.push(account["accountId"].as_str().ok_or("no account id")?.to_owned());
    }
    Ok((key, program_id, accounts))
}

/// One client enrolling `count` members in `program`, each with its own key, retried like the
/// others; answers the accounts whose enrolment was acknowledged.
pub fn enrol(
    client: &Client,
    bases: &Bases,
    key: &str,
    program: &str,
    count: usize,
) -> (Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let members: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let (client, bases, key, program, out) = (
        client.clone(),
        Arc::clone(bases),
        key.to_owned(),
        program.to_owned(),
        Arc::clone(&members),
    );
    let task = tokio::spawn(async move {
        for n in 0..count {
            let idem = Uuid::new_v4().to_string();
            let body = crate::helpers::enrollment(&program, &format!("joiner-{n}"), &format!("joiner{n}@example.com"));
            let started = Instant::now();
            while started.elapsed() < RETRY_DEADLINE {
                let base = bases.read().expect("bases")[0].clone();
                match post(&client, &base, &key, "/v1/accounts", &idem, &body).await {
                    Some((status, body)) if status.is_success() => {
                        if let Some(id) = body["accountId"].as_str() {
                            out.lock().await.push(id.to_owned());
                        }
                        break;
                    }
                    Some((status, _)) if status.is_client_error() => break,
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
    });
    (members, task)
}

pub async fn get_json(client: &Client, url: &str, key: &str) -> Result<Value, String> {
    client
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

/// Every member got the signup bonus exactly once (the handler's effect, after redeliveries).
pub async fn bonus_once(client: &Client, base: &str, key: &str, members: &[String]) -> Result<(), String> {
    if members.is_empty() {
        return Err("no member was enrolled".to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for member in members {
        loop {
            let page = get_json(
                client,
                &format!("{base}/v1/accounts/{member}/transactions?limit=500"),
                key,
            )
            .await?;
            let bonuses = page["items"]
                .as_array()
                .ok_or("no items")?
                .iter()
                .filter(|t| t["reason"] == "Signup bonus")
                .count();
            match bonuses {
                1 => break,
                0 if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                n => return Err(format!("member {member} got the signup bonus {n} times")),
            }
        }
    }
    Ok(())
}

/// Every event the store holds reached its Redis stream (`<prefix><eventType>`) at least once.
pub async fn every_event_in_streams(
    client: &Client,
    base: &str,
    key: &str,
    redis_url: &str,
    prefix: &str,
) -> Result<(), String> {
    let mut stored: HashMap<String, String> = HashMap::new();
    let mut after = 0;
    loop {
        let page = get_json(client, &format!("{base}/v1/events?after={after}&limit=500"), key).await?;
        let items = page["items"].as_array().ok_or("no items")?;
        if items.is_empty() {
            break;
        }
        for event in items {
            let id = event["eventId"].as_str().ok_or("no eventId")?.to_owned();
            stored.insert(id, event["eventType"].as_str().unwrap_or_default().to_owned());
        }
        after = page["lastPosition"].as_i64().ok_or("no lastPosition")?;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut published: std::collections::HashSet<String> = std::collections::HashSet::new();
        let types: std::collections::BTreeSet<&String> = stored.values().collect();
        for event_type in types {
            for (_, envelope) in crate::delivery::stream(redis_url, prefix, event_type).await {
                if let Some(id) = envelope["eventId"].as_str() {
                    published.insert(id.to_owned());
                }
            }
        }
        let missing = stored.keys().filter(|id| !published.contains(*id)).count();
        if missing == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{missing} of {} stored events never reached their stream",
                stored.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
