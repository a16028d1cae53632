//! `loyalty bench`: durable accruals per second through the real HTTP API.
//!
//! By default it starts the service in-process on a fresh temporary database and a free port,
//! so the figure includes HTTP, JSON, idempotency records, group commit and fsync, and the load
//! generator shares the machine with the server, as a till fleet's traffic would not. With
//! `--database-url postgres://...` the in-process server runs on that PostgreSQL database (use
//! a scratch database or schema: the run's business, program and accounts stay in it). With
//! `--url` it drives a server that is already running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::config::{DatabaseUrl, ServeSettings};
use crate::startup::Application;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Concurrent clients, each sending one request at a time.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// How long to send accruals, in seconds.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// How many accounts the accruals are spread over.
    #[arg(long, default_value_t = 1_000)]
    pub accounts: usize,
    /// Drive an already running server at this base URL (e.g. http://127.0.0.1:8080) instead of
    /// starting one on a temporary database. Needs --api-key.
    #[arg(long)]
    pub url: Option<String>,
    /// The API key of a business on the server given by --url.
    #[arg(long, env = "LOYALTY_BENCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// What a run measured.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchReport {
    pub concurrency: usize,
    pub duration_secs: f64,
    pub accounts: usize,
    pub accruals_ok: u64,
    pub accruals_failed: u64,
    pub accruals_per_sec: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p95: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    /// The sum of the accounts' balances after the run; equals `accrualsOk` when nothing was lost.
    pub ledger_points: u64,
}

pub async fn run(args: BenchArgs, database: &DatabaseUrl) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.accounts == 0 || args.duration_secs == 0 {
        bail!("--concurrency, --accounts and --duration-secs must be at least 1");
    }
    let mut _server_dir = None;
    let (base, api_key) = match (&args.url, &args.api_key) {
        (Some(url), Some(key)) => (url.trim_end_matches('/').to_owned(), key.clone()),
        (Some(_), None) => bail!("--url needs --api-key (or LOYALTY_BENCH_API_KEY)"),
        (None, _) => {
            let dir = tempfile::tempdir().context("could not create a temporary directory")?;
            let settings = ServeSettings {
                delivery: crate::delivery::DeliveryOptions::default(),
                claim_window_days: loyalty_domain::restaurant::CLAIM_WINDOW_DAYS,
                sweep_interval: None,
                listen: "127.0.0.1:0".parse()?,
                database: match database {
                    DatabaseUrl::Postgres(url) => DatabaseUrl::Postgres(url.clone()),
                    DatabaseUrl::Sqlite(_) => DatabaseUrl::Sqlite(dir.path().join("bench.db")),
                },
                admin_token: None,
            };
            let app = Application::build(&settings).await?;
            let addr = app.local_addr()?;
            let created = crate::business::create(
                app.store(),
                crate::business::parse_name(Some("bench")).map_err(|e| anyhow::anyhow!("{e}"))?,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            tokio::spawn(app.run_until(std::future::pending()));
            _server_dir = Some(dir);
            (format!("http://{addr}"), created.api_key)
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .timeout(Duration::from_secs(30))
        .build()?;
    let api = Api { client, base, api_key };
    eprintln!("setting up a program and {} accounts on {}", args.accounts, api.base);
    let accounts = api.setup(args.accounts).await?;
    eprintln!(
        "sending accruals from {} clients for {}s",
        args.concurrency, args.duration_secs
    );
    let report = api.drive(&args, Arc::new(accounts)).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "accruals: {} ok, {} failed in {:.1}s = {:.0} durable accruals/s at {} concurrent clients\n\
             latency ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}\n\
             ledger check: balances sum to {} points ({})",
            report.accruals_ok,
            report.accruals_failed,
            report.duration_secs,
            report.accruals_per_sec,
            report.concurrency,
            report.latency_ms_p50,
            report.latency_ms_p95,
            report.latency_ms_p99,
            report.latency_ms_max,
            report.ledger_points,
            if report.ledger_points == report.accruals_ok {
                "matches every acknowledged accrual"
            } else {
                "MISMATCH"
            }
        );
    }
    if report.ledger_points != report.accruals_ok {
        bail!("the ledger does not match the acknowledged accruals");
    }
    Ok(())
}

struct Api {
    client: reqwest::Client,
    base: String,
    api_key: String,
}

impl Api {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.api_key)
            .json(body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path} answered {status}: {body}");
        }
        Ok(body)
    }

    async fn setup(&self, count: usize) -> anyhow::Result<Vec<String>> {
        let program = self
            .post(
                "/v1/programs",
                &json!({"name": "bench", "ruleType": "POINTS_BASED", "ruleConfig": {"pointsPerDollar": 1}}),
            )
            .await?;
        let program_id = program["programId"].as_str().context("no programId")?.to_owned();
        self.post(&format!("/v1/programs/{program_id}/activate"), &json!({}))
            .await?;
        let run = Uuid::new_v4().simple().to_string();
        let mut accounts = Vec::with_capacity(count);
        for chunk in (0..count).collect::<Vec<_>>().chunks(64) {
            let enrolments = chunk.iter().map(|i| {
                let body = json!({
                    "programId": program_id, "customerId": format!("bench-{run}-{i}"),
                    "displayName": format!("Bench {i}"), "email": format!("bench-{run}-{i}@example.com")
                });
                async move { self.post("/v1/accounts", &body).await }
            });
            for account in futures::future::join_all(enrolments).await {
                accounts.push(account?["accountId"].as_str().context("no accountId")?.to_owned());
            }
        }
        Ok(accounts)
    }

    async fn drive(&self, args: &BenchArgs, accounts: Arc<Vec<String>>) -> anyhow::Result<BenchReport> {
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let mut workers = Vec::with_capacity(args.concurrency);
        for worker in 0..args.concurrency {
            let (client, base, key) = (self.client.clone(), self.base.clone(), self.api_key.clone());
            let (accounts, stop) = (Arc::clone(&accounts), Arc::clone(&stop));
            workers.push(tokio::spawn(async move {
                let mut latencies_us: Vec<u32> = Vec::with_capacity(65_536);
                let mut failed = 0u64;
                let mut n = worker;
                while !stop.load(Ordering::Relaxed) {
                    let account = &accounts[n % accounts.len()];
                    n += args_stride();
                    let sent = Instant::now();
                    let result = client
                        .post(format!("{base}/v1/accounts/{account}/accruals"))
                        .bearer_auth(&key)
                        .header("Idempotency-Key", Uuid::new_v4().to_string())
                        .json(&json!({"points": 1, "reason": "bench"}))
                        .send()
                        .await;
                    match result {
                        Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                            let _ = r.bytes().await;
                            latencies_us.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        }
                        _ => failed += 1,
                    }
                }
                (latencies_us, failed)
            }));
        }
        tokio::time::sleep(Duration::from_secs(args.duration_secs)).await;
        stop.store(true, Ordering::Relaxed);
        let mut latencies: Vec<u32> = Vec::new();
        let mut failed = 0;
        for worker in workers {
            let (l, f) = worker.await?;
            latencies.extend(l);
            failed += f;
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        let pct = |p: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
            f64::from(latencies[index]) / 1000.0
        };
        let mut ledger_points = 0u64;
        for account in accounts.iter() {
            let response = self
                .client
                .get(format!("{}/v1/accounts/{account}", self.base))
                .bearer_auth(&self.api_key)
                .send()
                .await?;
            let body: Value = response.json().await?;
            ledger_points += body["pointBalance"].as_u64().unwrap_or(0);
        }
        Ok(BenchReport {
            concurrency: args.concurrency,
            duration_secs: elapsed,
            accounts: accounts.len(),
            accruals_ok: latencies.len() as u64,
            accruals_failed: failed,
            accruals_per_sec: latencies.len() as f64 / elapsed,
            latency_ms_p50: pct(0.50),
            latency_ms_p95: pct(0.95),
            latency_ms_p99: pct(0.99),
            latency_ms_max: pct(1.0),
            ledger_points,
        })
    }
}

/// Each client walks the accounts with a prime stride so clients rarely hit one account at once.
fn args_stride() -> usize {
    7_919
}
