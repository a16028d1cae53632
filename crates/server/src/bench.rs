//! `loyalty bench`: durable commands per second through the real HTTP API, against the
//! physical limit of the storage underneath.
//!
//! By default it starts the service in-process on a fresh temporary database and a free port,
//! so the figure includes HTTP, JSON, idempotency records, group commit and fsync, and the load
//! generator shares the machine with the server, as a till fleet's traffic would not. With
//! `--database-url postgres://...` the in-process server runs on that PostgreSQL database (use
//! a scratch database or schema: the run's business, program and accounts stay in it). With
//! `--url` it drives a server that is already running.
//!
//! Clients send a mix (`--mix accrual=70,purchase=10,redemption=10,read=10`; default all
//! accruals), every write with an `Idempotency-Key`; a write left without an answer (or with a
//! 5xx) is sent again with the same key until answered, as a till would, so the ledger check at
//! the end is exact even across a server restarted mid-run. Before the load, the same kind of database
//! with the same settings takes plain batched inserts of rows of about an event's size for a few
//! seconds (`--probe-secs`); the report gives the service's write rate as a ratio of that rate.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use clap::Args;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::config::{DatabaseUrl, ServeSettings};
use crate::startup::Application;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Concurrent clients, each sending one request at a time.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// How long to send the load, in seconds.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// How many accounts the load is spread over.
    #[arg(long, default_value_t = 1_000)]
    pub accounts: usize,
    /// Drive an already running server at this base URL (e.g. http://127.0.0.1:8080) instead of
    /// starting one on a temporary database. Needs --api-key. Plain HTTP only: the load is sent
    /// as lean as can be, to leave the cores to the server (run it beside the server, not
    /// through a TLS proxy).
    #[arg(long)]
    pub url: Option<String>,
    /// The API key of a business on the server given by --url.
    #[arg(long, env = "LOYALTY_BENCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// The share of each operation: `accrual`, `purchase`, `redemption` (1 point each) and
    /// `read` (GET of the account), as weights.
    #[arg(long, default_value = "accrual=100", value_parser = parse_mix)]
    pub mix: Mix,
    /// How long to measure the storage's plain batched insert rate first (0: skip).
    #[arg(long, default_value_t = 3)]
    pub probe_secs: u64,
    /// Send at this fixed rate (operations per second, spread evenly over the run) instead of
    /// each client sending its next request as soon as the last is answered. Latency then counts
    /// from when each request was due, so a server that falls behind shows it in the
    /// percentiles rather than by the load easing off. `--concurrency` is the most requests in
    /// flight at once.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Accruals each account gets before the load, as its event history: to see what a long
    /// history costs, e.g. `--accounts 1 --history 100000 --mix read=100` against
    /// `--history 10`.
    #[arg(long, default_value_t = 0)]
    pub history: u64,
}

fn parse_rate(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("{raw:?}: the rate is operations per second, a number above 0")),
    }
}

/// The operations a client draws from, by weight.
#[derive(Debug, Clone)]
pub struct Mix(Vec<(Op, u32)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Op {
    Accrual,
    Purchase,
    Redemption,
    Read,
}

fn parse_mix(raw: &str) -> Result<Mix, String> {
    let mut mix = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: write NAME=WEIGHT, e.g. accrual=70"))?;
        let op = match name.trim() {
            "accrual" => Op::Accrual,
            "purchase" => Op::Purchase,
            "redemption" => Op::Redemption,
            "read" => Op::Read,
            other => return Err(format!("{other:?} is not one of accrual, purchase, redemption, read")),
        };
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| format!("{part:?}: the weight must be a whole number"))?;
        mix.push((op, weight));
    }
    if mix.iter().map(|(_, w)| u64::from(*w)).sum::<u64>() == 0 {
        return Err("the mix needs at least one operation with a weight above 0".to_owned());
    }
    Ok(Mix(mix))
}

impl Mix {
    /// The operation for draw `n` (a deterministic walk through the weights).
    fn pick(&self, n: usize) -> Op {
        let total: u64 = self.0.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut at = (n as u64).wrapping_mul(2_654_435_761) % total;
        for (op, weight) in &self.0 {
            if at < u64::from(*weight) {
                return *op;
            }
            at -= u64::from(*weight);
        }
        Op::Accrual
    }
}

/// What a run measured.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchReport {
    pub concurrency: usize,
    /// The fixed rate asked for with `--rate`, in operations per second; null when each client
    /// sent as fast as it was answered.
    pub offered_rate: Option<f64>,
    pub duration_secs: f64,
    pub accounts: usize,
    /// Per operation: how many were acknowledged, refused (a redemption without points) or failed.
    pub operations: BTreeMap<Op, OpCounts>,
    /// Acknowledged writes (accruals, purchases, redemptions) per second: each durable.
    pub writes_per_sec: f64,
    /// Every answered operation per second, reads included.
    pub ops_per_sec: f64,
    pub latency_ms_p50: f64,
    pub latency_ms_p95: f64,
    pub latency_ms_p99: f64,
    pub latency_ms_max: f64,
    /// Accruals each account got before the load (`--history`).
    pub history: u64,
    /// The sum of the accounts' balances after the run.
    pub ledger_points: i64,
    /// What the acknowledged operations add up to (accruals + purchases - redemptions), with
    /// the history's points.
    pub expected_points: i64,
    /// The least and the most the ledger may hold when some writes' outcome is unknown (each
    /// 1 point): `expectedPoints` less the unknown redemptions, plus the unknown accruals and
    /// purchases. Both equal `expectedPoints` when every write was answered.
    pub ledger_points_min: i64,
    pub ledger_points_max: i64,
    /// Why operations failed (the last try's answer or error), and how many each.
    pub failures: BTreeMap<String, u64>,
    /// Plain batched inserts per second into the same kind of database (see `--probe-secs`).
    pub storage_rows_per_sec: Option<f64>,
    /// `writesPerSec / storageRowsPerSec`.
    pub ratio_to_storage: Option<f64>,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpCounts {
    pub ok: u64,
    pub refused: u64,
    /// Neither acknowledged nor refused: rejected (another 4xx), or still unanswered after
    /// every retry (`unknown`).
    pub failed: u64,
    /// Sent more than once: the first try got no answer or a 5xx, so it was sent again with
    /// the same `Idempotency-Key` (see [`RETRY_WAIT_FIRST`]).
    pub retried: u64,
    /// Of the failed, those whose last try got no answer or a 5xx: the server may or may not
    /// have applied them.
    pub unknown: u64,
}

impl OpCounts {
    fn add(&mut self, other: &OpCounts) {
        self.ok += other.ok;
        self.refused += other.refused;
        self.failed += other.failed;
        self.retried += other.retried;
        self.unknown += other.unknown;
    }
}

/// Rows per transaction of the storage probe: about what one group commit carries.
pub const PROBE_BATCH_ROWS: usize = 64;
/// Bytes per probe row: about one stored event.
pub const PROBE_ROW_BYTES: usize = 400;

pub async fn run(args: BenchArgs, database: &DatabaseUrl) -> anyhow::Result<()> {
    if args.concurrency == 0 || args.accounts == 0 || args.duration_secs == 0 {
        bail!("--concurrency, --accounts and --duration-secs must be at least 1");
    }
    let mut _server_dir = None;
    let (base, api_key) = match (&args.url, &args.api_key) {
        (Some(url), Some(_)) if !url.starts_with("http://") => {
            bail!("--url {url:?}: the load generator speaks plain HTTP; give an http:// URL")
        }
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
    // The storage's own limit, measured before the load so neither disturbs the other. With
    // --url the server's database is not known here: no probe.
    let storage = match (&args.url, args.probe_secs) {
        (None, secs) if secs > 0 => {
            eprintln!("measuring plain batched inserts into the same kind of database for {secs}s");
            let backend = match database {
                DatabaseUrl::Postgres(url) => loyalty_store::Backend::Postgres(url.clone()),
                DatabaseUrl::Sqlite(_) => loyalty_store::Backend::Sqlite(std::path::PathBuf::new()),
            };
            let duration = Duration::from_secs(secs);
            let rate = tokio::task::spawn_blocking(move || {
                loyalty_store::probe::insert_rate(&backend, duration, PROBE_BATCH_ROWS, PROBE_ROW_BYTES)
            })
            .await??;
            Some(rate.rows_per_sec())
        }
        _ => None,
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency * 2)
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let api = Api { client, base, api_key };
    eprintln!("setting up a program and {} accounts on {}", args.accounts, api.base);
    let accounts = api.setup(args.accounts).await?;
    let history_points = api.give_history(&accounts, args.history, args.concurrency).await?;
    eprintln!(
        "sending {:?} from {} clients for {}s",
        args.mix.0, args.concurrency, args.duration_secs
    );
    let mut report = api.drive(&args, &accounts).await?;
    report.history = args.history;
    report.expected_points += history_points;
    report.ledger_points_min += history_points;
    report.ledger_points_max += history_points;
    report.storage_rows_per_sec = storage;
    report.ratio_to_storage = storage.map(|rows| report.writes_per_sec / rows.max(1e-9));
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print(&report);
    }
    if !(report.ledger_points_min..=report.ledger_points_max).contains(&report.ledger_points) {
        bail!("the ledger does not match the acknowledged operations");
    }
    Ok(())
}

fn print(report: &BenchReport) {
    for (op, counts) in &report.operations {
        println!(
            "{:<11} {} ok, {} refused, {} failed ({} of unknown outcome), {} retried",
            format!("{op:?}:").to_lowercase(),
            counts.ok,
            counts.refused,
            counts.failed,
            counts.unknown,
            counts.retried
        );
    }
    for (why, count) in &report.failures {
        println!("failed: {count} × {why}");
    }
    println!(
        "{:.0} durable writes/s ({:.0} operations/s) in {:.1}s at {} concurrent clients",
        report.writes_per_sec, report.ops_per_sec, report.duration_secs, report.concurrency
    );
    if report.history > 0 {
        println!(
            "each of the {} accounts had {} accruals of history first",
            report.accounts, report.history
        );
    }
    if let Some(rate) = report.offered_rate {
        println!("offered {rate:.0} operations/s; latency counts from when each request was due");
    }
    println!(
        "latency ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
        report.latency_ms_p50, report.latency_ms_p95, report.latency_ms_p99, report.latency_ms_max
    );
    if let (Some(rows), Some(ratio)) = (report.storage_rows_per_sec, report.ratio_to_storage) {
        println!(
            "storage limit: {rows:.0} plain inserted rows/s ({PROBE_ROW_BYTES}-byte rows, {PROBE_BATCH_ROWS} per commit); \
             the service's writes are {:.1}% of it",
            ratio * 100.0
        );
    }
    let verdict = if report.ledger_points_min == report.ledger_points_max {
        if report.ledger_points == report.expected_points {
            "matches every acknowledged operation".to_owned()
        } else {
            format!(
                "MISMATCH: the acknowledged operations add up to {}",
                report.expected_points
            )
        }
    } else if (report.ledger_points_min..=report.ledger_points_max).contains(&report.ledger_points) {
        format!(
            "within {}..={}, what the acknowledged operations and those of unknown outcome allow",
            report.ledger_points_min, report.ledger_points_max
        )
    } else {
        format!(
            "MISMATCH: the acknowledged operations and those of unknown outcome allow {}..={}",
            report.ledger_points_min, report.ledger_points_max
        )
    };
    println!(
        "ledger check: balances sum to {} points ({verdict})",
        report.ledger_points
    );
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

    /// `count` accruals of 1 point for each account, `concurrency` at a time, with a progress
    /// bar; the points given.
    async fn give_history(&self, accounts: &[String], count: u64, concurrency: usize) -> anyhow::Result<i64> {
        if count == 0 {
            return Ok(0);
        }
        let total = count.saturating_mul(accounts.len() as u64);
        let bar = crate::progress::bar(
            total,
            "{spinner} history [{bar:40}] {pos}/{len} accruals ({per_sec}, eta {eta})",
        );
        let body = json!({"points": 1, "reason": "history"});
        let sends = futures::stream::iter(0..total).map(|n| {
            let path = format!(
                "/v1/accounts/{}/accruals",
                accounts[(n % accounts.len() as u64) as usize]
            );
            let (body, bar) = (&body, &bar);
            async move {
                self.post(&path, body).await?;
                bar.inc(1);
                Ok::<(), anyhow::Error>(())
            }
        });
        let mut sends = sends.buffer_unordered(concurrency.max(1));
        while let Some(sent) = sends.next().await {
            sent?;
        }
        bar.finish();
        i64::try_from(total).context("too much history")
    }

    /// An account's balance, for the ledger check: asked again (as the load's writes are)
    /// while no answer or a 5xx comes, for up to [`REQUEST_TIMEOUT`] in all.
    async fn balance(&self, account: &str) -> anyhow::Result<i64> {
        let mut backoff = Backoff::until(Instant::now() + REQUEST_TIMEOUT);
        loop {
            let asked = async {
                let response = self
                    .client
                    .get(format!("{}/v1/accounts/{account}", self.base))
                    .bearer_auth(&self.api_key)
                    .send()
                    .await
                    .map_err(|e| (true, e.to_string()))?;
                let status = response.status();
                if !status.is_success() {
                    return Err((status.is_server_error(), format!("HTTP {status}")));
                }
                let body: Value = response.json().await.map_err(|e| (true, e.to_string()))?;
                body["pointBalance"]
                    .as_i64()
                    .ok_or_else(|| (false, format!("the answer has no pointBalance: {body}")))
            };
            let (again, why) = match tokio::time::timeout_at(backoff.deadline.into(), asked).await {
                Ok(Ok(balance)) => return Ok(balance),
                Ok(Err(failure)) => failure,
                Err(_) => (false, "no answer before the time for it ran out".to_owned()),
            };
            if !again || !backoff.wait().await {
                bail!("reading account {account} for the ledger check: {why}");
            }
        }
    }

    async fn drive(&self, args: &BenchArgs, accounts: &[String]) -> anyhow::Result<BenchReport> {
        let base = self
            .base
            .parse::<Uri>()
            .with_context(|| format!("{:?} is not a valid URL", self.base))?;
        let prefix = base.path().trim_end_matches('/');
        let endpoints: Vec<Endpoints> = accounts
            .iter()
            .map(|account| Endpoints::of(prefix, account))
            .collect::<anyhow::Result<_>>()?;
        let load = Load::new(&base, &self.api_key).await?;
        let (concurrency, rate, mix) = (args.concurrency, args.rate, args.mix.clone());
        let duration = Duration::from_secs(args.duration_secs);
        // The load runs on a runtime of its own with one thread: the clients' requests and
        // their connections then never wake one another across threads (a futex and a context
        // switch each time), and the clients take at most one of the cores they share with the
        // server. (At a fixed rate a pacer thread also wakes them, once per request.)
        let (runs, elapsed) = tokio::task::spawn_blocking(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("could not start the load generator's runtime")?;
            runtime.block_on(send_load(load, endpoints, concurrency, rate, mix, duration))
        })
        .await??;
        let mut latencies: Vec<u32> = Vec::new();
        let mut operations: BTreeMap<Op, OpCounts> = BTreeMap::new();
        let mut failures: BTreeMap<String, u64> = BTreeMap::new();
        for run in runs {
            latencies.extend(run.latencies_us);
            for (op, c) in run.counts {
                operations.entry(op).or_default().add(&c);
            }
            for (why, count) in run.failures {
                *failures.entry(why).or_default() += count;
            }
        }
        latencies.sort_unstable();
        let pct = |p: f64| -> f64 {
            if latencies.is_empty() {
                return 0.0;
            }
            let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
            f64::from(latencies[index]) / 1000.0
        };
        let mut ledger_points = 0i64;
        for account in accounts {
            ledger_points += self.balance(account).await?;
        }
        let ok = |op: Op| operations.get(&op).map_or(0, |c| c.ok) as i64;
        let unknown = |op: Op| operations.get(&op).map_or(0, |c| c.unknown) as i64;
        let writes = ok(Op::Accrual) + ok(Op::Purchase) + ok(Op::Redemption);
        let expected_points = ok(Op::Accrual) + ok(Op::Purchase) - ok(Op::Redemption);
        let answered: u64 = operations.values().map(|c| c.ok + c.refused).sum();
        Ok(BenchReport {
            concurrency: args.concurrency,
            offered_rate: args.rate,
            duration_secs: elapsed,
            accounts: accounts.len(),
            writes_per_sec: writes as f64 / elapsed,
            ops_per_sec: answered as f64 / elapsed,
            expected_points,
            ledger_points_min: expected_points - unknown(Op::Redemption),
            ledger_points_max: expected_points + unknown(Op::Accrual) + unknown(Op::Purchase),
            failures,
            operations,
            latency_ms_p50: pct(0.50),
            latency_ms_p95: pct(0.95),
            latency_ms_p99: pct(0.99),
            latency_ms_max: pct(1.0),
            ledger_points,
            history: 0,
            storage_rows_per_sec: None,
            ratio_to_storage: None,
        })
    }
}

/// What each client measured.
#[derive(Default)]
struct ClientRun {
    /// Of its acknowledged and refused operations, from when each was due (or first sent).
    latencies_us: Vec<u32>,
    counts: BTreeMap<Op, OpCounts>,
    /// Why its failed operations failed, and how many each.
    failures: BTreeMap<String, u64>,
}

/// Send the load from `concurrency` clients for `duration` (closed loop) or on the schedule
/// of `rate`; what each client measured, and the seconds the run took.
async fn send_load(
    load: Load,
    endpoints: Vec<Endpoints>,
    concurrency: usize,
    rate: Option<f64>,
    mix: Mix,
    duration: Duration,
) -> anyhow::Result<(Vec<ClientRun>, f64)> {
    let (load, accounts) = (Arc::new(load), Arc::new(endpoints));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    // No request is retried past this: a server that stays down (or answers 503, halted,
    // until restarted) ends the run soon after its load, not after every scheduled request
    // has waited its while.
    let retry_until = started + duration + REQUEST_TIMEOUT;
    let schedule = rate.map(|rate| Arc::new(Schedule::new(started, rate, duration)));
    let pacer = match &schedule {
        Some(schedule) => Some(schedule.release_when_due(concurrency)?),
        None => None,
    };
    let mut clients = Vec::with_capacity(concurrency);
    for client in 0..concurrency {
        let (load, accounts, stop, mix) = (Arc::clone(&load), Arc::clone(&accounts), Arc::clone(&stop), mix.clone());
        let schedule = schedule.clone();
        clients.push(tokio::spawn(async move {
            let mut run = ClientRun {
                latencies_us: Vec::with_capacity(65_536),
                ..ClientRun::default()
            };
            let mut connection = None;
            let mut n = client;
            let mut draw = client;
            // At a fixed rate every request of the schedule is sent, however late: the
            // stop only ends closed-loop clients, so a server that fell behind is not let off
            // its latest (and slowest) answers.
            while schedule.is_some() || !stop.load(Ordering::Relaxed) {
                // At a fixed rate, the next request due, and when it is due.
                let due = match &schedule {
                    Some(schedule) => {
                        let Some(due) = schedule.next_released().await else {
                            break;
                        };
                        Some(due)
                    }
                    None => None,
                };
                let account = &accounts[n % accounts.len()];
                n += args_stride();
                let op = mix.pick(draw);
                draw += 1;
                let sent = due.unwrap_or_else(Instant::now);
                let (answer, tries) = load.send(&mut connection, op, account, retry_until).await;
                let entry = run.counts.entry(op).or_default();
                entry.retried += u64::from(tries > 1);
                match answer {
                    Answer::Status(status) if status.is_success() || status == StatusCode::CONFLICT => {
                        if status.is_success() {
                            entry.ok += 1;
                        } else {
                            entry.refused += 1;
                        }
                        let latency = sent.elapsed().as_micros().min(u128::from(u32::MAX));
                        run.latencies_us.push(u32::try_from(latency).unwrap_or(u32::MAX));
                    }
                    answer => {
                        entry.failed += 1;
                        entry.unknown += u64::from(answer.outcome_unknown());
                        *run.failures.entry(answer.to_string()).or_default() += 1;
                    }
                }
            }
            run
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut runs = Vec::with_capacity(concurrency);
    for client in clients {
        runs.push(client.await?);
    }
    // Done by now: every client ended on one of its last permits.
    if let Some(pacer) = pacer {
        pacer
            .join()
            .map_err(|_| anyhow::anyhow!("the load's pacer thread panicked"))?;
    }
    Ok((runs, started.elapsed().as_secs_f64()))
}

/// Requests at a fixed rate: the n-th is due `n / rate` seconds after the start. Clients take
/// the next due request in turn, so however many are in flight the arrivals keep to the rate.
///
/// A thread of its own releases each request when it is due ([`Schedule::release_when_due`]),
/// as precisely as the system's sleep allows (tens of microseconds). Not tokio's timers: they
/// count whole milliseconds and round a deadline up to the next, so each request left up to a
/// millisecond late, and as latency counts from when it was due, that was added to every
/// figure (the p50 at 6,000/s was 2.1 ms for answers the server gave in 0.9 ms).
struct Schedule {
    started: Instant,
    interval_secs: f64,
    count: u64,
    next: AtomicU64,
    /// One permit per request released, and one more per client once all are.
    released: Semaphore,
}

impl Schedule {
    fn new(started: Instant, rate: f64, duration: Duration) -> Schedule {
        Schedule {
            started,
            interval_secs: 1.0 / rate,
            count: (rate * duration.as_secs_f64()).floor() as u64,
            next: AtomicU64::new(0),
            released: Semaphore::new(0),
        }
    }

    fn due(&self, n: u64) -> Instant {
        self.started + Duration::from_secs_f64(n as f64 * self.interval_secs)
    }

    /// Start the thread that releases each request at its due time, then one permit for each
    /// of the `clients`, to end them.
    fn release_when_due(self: &Arc<Self>, clients: usize) -> anyhow::Result<std::thread::JoinHandle<()>> {
        let schedule = Arc::clone(self);
        std::thread::Builder::new()
            .name("loyalty-bench-pacer".to_owned())
            .spawn(move || {
                // Should this thread panic, the clients waiting for a release end instead.
                let _ends_clients = CloseOnPanic(&schedule.released);
                for n in 0..schedule.count {
                    let wait = schedule.due(n).saturating_duration_since(Instant::now());
                    if !wait.is_zero() {
                        std::thread::sleep(wait);
                    }
                    schedule.released.add_permits(1);
                }
                schedule.released.add_permits(clients);
            })
            .context("could not start the load's pacer thread")
    }

    /// Once the next request is released, when it was due; `None` once every request of the
    /// run has been taken.
    async fn next_released(&self) -> Option<Instant> {
        self.released.acquire().await.ok()?.forget();
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n < self.count).then(|| self.due(n))
    }
}

/// Closes the semaphore when dropped by a panicking thread: every waiting `acquire` then fails.
struct CloseOnPanic<'a>(&'a Semaphore);

impl Drop for CloseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.close();
        }
    }
}

/// One account's endpoints (paths, as a request on an open connection names them), parsed
/// once before the load.
struct Endpoints {
    accruals: Uri,
    purchases: Uri,
    redemptions: Uri,
    account: Uri,
}

impl Endpoints {
    /// `prefix`: the path of the server's base URL, without a trailing `/`.
    fn of(prefix: &str, account: &str) -> anyhow::Result<Self> {
        let uri = |path: &str| {
            let path = format!("{prefix}/v1/accounts/{account}{path}");
            path.parse::<Uri>()
                .with_context(|| format!("{path:?} is not a valid path"))
        };
        Ok(Self {
            accruals: uri("/accruals")?,
            purchases: uri("/purchases")?,
            redemptions: uri("/redemptions")?,
            account: uri("")?,
        })
    }
}

/// What sends the load: each simulated client holds one HTTP/1.1 connection of its own
/// (hyper's, kept alive), with one request in flight on it.
///
/// Not reqwest, which the setup and the ledger check use: the load generator runs on the two
/// cores the server needs, and per request reqwest parsed the URL three times (the request,
/// its redirect policy, its response) and went through its redirect and retry layers. With
/// hyper's pooled client instead, a benchmarked accrual cost about 38,000 fewer instructions,
/// all threads counted (`valgrind --tool=callgrind`), about a tenth of the whole process. A
/// connection per client, as `wrk` keeps, also leaves out the pool: its lookup by host, the
/// checkout and return of a connection, and a clone of the URL for each request.
struct Load {
    /// The server's address, resolved once.
    address: SocketAddr,
    host: HeaderValue,
    authorization: HeaderValue,
}

/// How long one try of a request of the load may take before it counts as unanswered (as
/// reqwest's timeout does for the setup's), and how long after its first try a request is
/// retried at most.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The wait before a request whose outcome is unknown is sent a third time (the second try
/// goes at once); each later wait doubles, up to [`RETRY_WAIT_MAX`].
const RETRY_WAIT_FIRST: Duration = Duration::from_millis(20);
const RETRY_WAIT_MAX: Duration = Duration::from_secs(1);

/// The body of every accrual and redemption the load sends (1 point each).
const ONE_POINT: &[u8] = br#"{"points":1,"reason":"bench"}"#;

/// A client's connection, once open.
type Connection = Option<SendRequest<Full<Bytes>>>;

impl Load {
    async fn new(base: &Uri, api_key: &str) -> anyhow::Result<Self> {
        let authority = base.authority().with_context(|| format!("{base} names no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        // An IPv6 literal comes in brackets, which name resolution does not take.
        let name = authority.host().trim_start_matches('[').trim_end_matches(']');
        let candidates: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
            .await
            .with_context(|| format!("could not resolve {name:?}"))?
            .collect();
        // The first address that answers (`localhost` may name `::1` first, and a server
        // listening on IPv4 only), as the setup's client found one.
        let mut address = None;
        for candidate in candidates {
            if TcpStream::connect(candidate).await.is_ok() {
                address = Some(candidate);
                break;
            }
        }
        let address =
            address.with_context(|| format!("no address of {name:?} accepted a connection on port {port}"))?;
        // Host and port only: the authority may also carry user information.
        let host = match authority.port() {
            Some(port) => format!("{}:{port}", authority.host()),
            None => authority.host().to_owned(),
        };
        Ok(Self {
            address,
            host: HeaderValue::from_str(&host).context("the URL's host cannot be sent in a header")?,
            authorization: HeaderValue::from_str(&format!("Bearer {api_key}"))
                .context("the API key cannot be sent in a header")?,
        })
    }

    /// A new connection to the server. Each small request leaves at once, as reqwest sends
    /// them (no Nagle delay).
    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, Answer> {
        let stream = TcpStream::connect(self.address)
            .await
            .map_err(|e| Answer::Unanswered(format!("could not connect ({:?})", e.kind())))?;
        stream
            .set_nodelay(true)
            .map_err(|e| Answer::Unanswered(format!("could not set TCP_NODELAY ({:?})", e.kind())))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Answer::Unanswered(format!("the HTTP handshake failed ({e})")))?;
        // Runs until the server closes the connection or the sender is dropped.
        tokio::spawn(connection);
        Ok(sender)
    }

    /// Send one `op` on `account` over `connection` (opened first if it is not) and read the
    /// whole answer; the last try's answer, and how many tries were made.
    ///
    /// Each write has an `Idempotency-Key` of its own. A try that gets no answer (the
    /// connection failed or closed, or the time ran out) or a 5xx leaves the outcome unknown,
    /// so it is sent again with the same key, as a till would: at once (a keep-alive
    /// connection the server had just closed), then after waits that double from
    /// [`RETRY_WAIT_FIRST`] to [`RETRY_WAIT_MAX`], for up to [`REQUEST_TIMEOUT`] after the
    /// first try (tries included) and none past `retry_until`. A server restarted mid-run then
    /// costs the run time, never a write counted wrongly. After a try without an answer the
    /// next opens a new connection.
    async fn send(
        &self,
        connection: &mut Connection,
        op: Op,
        account: &Endpoints,
        retry_until: Instant,
    ) -> (Answer, u32) {
        // A write's key (a purchase's also its order reference); reads have none.
        let key = (op != Op::Read).then(|| Uuid::new_v4().to_string());
        let mut backoff = Backoff::until((Instant::now() + REQUEST_TIMEOUT).min(retry_until));
        let mut tries = 0;
        loop {
            tries += 1;
            let exchange = self.exchange(connection, op, account, key.as_deref());
            let answer = match tokio::time::timeout_at(backoff.deadline.into(), exchange).await {
                Ok(answer) => answer,
                Err(_) => Answer::Unanswered("no answer before the time for it ran out".to_owned()),
            };
            if matches!(answer, Answer::Unanswered(_)) {
                *connection = None;
            }
            if !answer.outcome_unknown() || !backoff.wait().await {
                return (answer, tries);
            }
        }
    }

    async fn exchange(&self, connection: &mut Connection, op: Op, account: &Endpoints, key: Option<&str>) -> Answer {
        let (method, uri, body) = match (op, key) {
            (Op::Accrual, _) => (Method::POST, &account.accruals, Bytes::from_static(ONE_POINT)),
            (Op::Purchase, key) => {
                let body = format!(r#"{{"amount":"1.00","orderRef":"bench-{}"}}"#, key.unwrap_or_default());
                (Method::POST, &account.purchases, Bytes::from(body))
            }
            (Op::Redemption, _) => (Method::POST, &account.redemptions, Bytes::from_static(ONE_POINT)),
            (Op::Read, _) => (Method::GET, &account.account, Bytes::new()),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(uri.clone())
            .header(header::HOST, self.host.clone())
            .header(header::AUTHORIZATION, self.authorization.clone());
        if let Some(key) = key {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .header("idempotency-key", key);
        }
        let request = match request.body(Full::new(body)) {
            Ok(request) => request,
            Err(e) => return Answer::Unsent(format!("the request could not be built ({e})")),
        };
        if connection.as_ref().is_none_or(|sender| sender.is_closed()) {
            match self.connect().await {
                Ok(sender) => *connection = Some(sender),
                Err(answer) => return answer,
            }
        }
        let Some(sender) = connection.as_mut() else {
            return Answer::Unanswered("no connection".to_owned());
        };
        let response = match sender.ready().await {
            Ok(()) => sender.send_request(request).await,
            Err(e) => Err(e),
        };
        let response = match response {
            Ok(response) => response,
            Err(e) => return Answer::Unanswered(format!("the connection failed before the answer ({e})")),
        };
        let status = response.status();
        match response.into_body().collect().await {
            Ok(_) => Answer::Status(status),
            Err(e) => Answer::Unanswered(format!("the answer broke off ({e})")),
        }
    }
}

/// The waits between the tries of one request (the load's, or the ledger check's read) whose
/// outcome is unknown: the second try goes at once, later ones after waits that double from
/// [`RETRY_WAIT_FIRST`] to [`RETRY_WAIT_MAX`], and none begins at or past `deadline`.
struct Backoff {
    deadline: Instant,
    wait: Duration,
}

impl Backoff {
    fn until(deadline: Instant) -> Self {
        Self {
            deadline,
            wait: Duration::ZERO,
        }
    }

    /// Wait for the next try; `false`, at once, if it would begin at or past the deadline.
    async fn wait(&mut self) -> bool {
        if Instant::now() + self.wait >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.wait).await;
        self.wait = (self.wait * 2).clamp(RETRY_WAIT_FIRST, RETRY_WAIT_MAX);
        true
    }
}

/// What one operation of the load got.
#[derive(Debug)]
enum Answer {
    /// The server answered with this status.
    Status(StatusCode),
    /// No answer came: the server may or may not have applied the request.
    Unanswered(String),
    /// The request could not be sent at all: the server never saw it.
    Unsent(String),
}

impl Answer {
    /// Whether the server may or may not have applied it: no answer, or a 5xx (a 503 when a
    /// commit's durability could not be confirmed, say).
    fn outcome_unknown(&self) -> bool {
        match self {
            Answer::Status(status) => status.is_server_error(),
            Answer::Unanswered(_) => true,
            Answer::Unsent(_) => false,
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Status(status) => write!(f, "HTTP {status}"),
            Answer::Unanswered(why) | Answer::Unsent(why) => f.write_str(why),
        }
    }
}

/// Each client walks the accounts with a prime stride so clients rarely hit one account at once.
fn args_stride() -> usize {
    7_919
}
