//! The `loyalty` command line, run as a real process, and business creation over HTTP.

use std::path::Path;
use std::process::{Command, Output};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_invalid_field, assert_problem, is_uuid, spawn_app, spawn_app_on, ADMIN_TOKEN};

/// Run `loyalty` with these arguments, without settings from the environment.
fn loyalty(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(args)
        .env_remove("LOYALTY_DATABASE_URL")
        .env_remove("LOYALTY_LISTEN")
        .env_remove("LOYALTY_ADMIN_TOKEN")
        .env_remove("LOYALTY_REDIS_URL")
        .env_remove("LOYALTY_LOG_FORMAT")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the loyalty binary")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn database_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

#[test]
fn help_names_the_settings() {
    let help = loyalty(&["--help"]);
    assert!(help.status.success(), "{}", stderr(&help));
    let text = stdout(&help);
    assert!(text.contains("LOYALTY_DATABASE_URL"), "{text}");
    assert!(text.contains("--database-url"), "{text}");
    for command in ["serve", "business", "migrate", "projections"] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }

    let help = loyalty(&["serve", "--help"]);
    assert!(help.status.success(), "{}", stderr(&help));
    let text = stdout(&help);
    assert!(text.contains("--listen"), "{text}");
    assert!(text.contains("LOYALTY_LISTEN"), "{text}");
    assert!(text.contains("LOYALTY_DATABASE_URL"), "{text}");

    let unknown = loyalty(&["frobnicate"]);
    assert!(!unknown.status.success());
}

#[tokio::test]
async fn business_create_prints_one_line_of_json_with_a_working_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("x.db");
    let output = loyalty(&[
        "--database-url",
        &database_url(&db),
        "business",
        "create",
        "--name",
        "Cafe",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "one line: {text:?}");
    let created: Value = serde_json::from_str(text.trim()).expect("JSON");
    assert!(is_uuid(&created["businessId"]), "{created}");
    assert_eq!(created["name"], "Cafe");
    let api_key = created["apiKey"].as_str().expect("apiKey").to_owned();
    assert!(!api_key.is_empty());
    assert_eq!(created.as_object().map(|o| o.len()), Some(3), "{created}");

    // The key works against a server on that database.
    let app = spawn_app_on(dir, db, Some(ADMIN_TOKEN)).await;
    let (status, _, programs) = app.get_as(&api_key, "/v1/programs").await;
    assert_eq!((status, programs["items"].clone()), (StatusCode::OK, json!([])));
    let (status, _, program) = app
        .post_as(&api_key, "/v1/programs", &crate::helpers::points_program("CLI"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    // And it is that business's own key.
    let (_, _, others) = app.get("/v1/programs").await;
    assert_eq!(others["items"], json!([]));
}

#[test]
fn business_create_refuses_a_bad_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("x.db");
    let output = loyalty(&["--database-url", &database_url(&db), "business", "create", "--name", ""]);
    assert!(!output.status.success(), "{}", stdout(&output));
    assert!(stdout(&output).is_empty(), "no key is printed");
    assert!(stderr(&output).contains("name"), "{}", stderr(&output));
}

#[test]
fn migrate_creates_and_keeps_the_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("fresh.db");
    let url = database_url(&db);
    let output = loyalty(&["--database-url", &url, "migrate"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(db.exists(), "the database file was created");
    let again = loyalty(&["--database-url", &url, "migrate"]);
    assert!(
        again.status.success(),
        "migrating twice is harmless: {}",
        stderr(&again)
    );
    // A migrated database serves.
    let created = loyalty(&["--database-url", &url, "business", "create", "--name", "After migrate"]);
    assert!(created.status.success(), "{}", stderr(&created));
}

#[test]
fn a_bad_database_url_is_an_error_not_a_panic() {
    let output = loyalty(&["--database-url", "postgres://localhost/x", "migrate"]);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(!text.contains("panicked"), "{text}");
    assert!(text.contains("error"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projections_rebuild_leaves_the_read_models_unchanged() {
    let mut app = spawn_app().await;
    let (_, account) = app.account().await;
    for points in [10, 20, 30] {
        assert_eq!(app.accrue(&account, points).await.0, StatusCode::CREATED);
    }
    assert_eq!(app.redeem(&account, 15).await.0, StatusCode::CREATED);
    assert_eq!(app.suspend(&account).await.0, StatusCode::OK);
    let (_, _, before) = app.get_account(&account).await;
    let ledger_before = app.all_transactions(&account).await;
    app.stop().await;

    let url = app.database_url();
    let output = tokio::task::spawn_blocking(move || loyalty(&["--database-url", &url, "projections", "rebuild"]))
        .await
        .expect("CLI task");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("read models unchanged"), "{text}");
    assert!(text.contains("snapshots unchanged"), "{text}");

    app.restart().await;
    let (_, _, after) = app.get_account(&account).await;
    assert_eq!(after, before);
    assert_eq!(app.all_transactions(&account).await, ledger_before);
    assert_eq!(app.balance(&account).await, 45);
}

#[tokio::test]
async fn businesses_are_created_over_http_with_the_admin_token() {
    let app = spawn_app().await;
    let (status, _, created) = app
        .create_business_http(Some(ADMIN_TOKEN), &json!({"name": "Bakery"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(is_uuid(&created["businessId"]), "{created}");
    assert_ne!(created["businessId"], app.business_id.as_str());
    assert_eq!(created["name"], "Bakery");
    let key = created["apiKey"].as_str().expect("apiKey").to_owned();
    assert_ne!(key, app.api_key);

    let (status, _, programs) = app.get_as(&key, "/v1/programs").await;
    assert_eq!((status, programs["items"].clone()), (StatusCode::OK, json!([])));
    let (status, _, program) = app
        .post_as(&key, "/v1/programs", &crate::helpers::points_program("Bread"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{program}");
    let (_, _, events) = app.get_as(&key, "/v1/events").await;
    assert_eq!(events["items"][0]["businessId"], created["businessId"]);

    for token in [None, Some("wrong-token"), Some(app.api_key.as_str()), Some("")] {
        let reply = app.create_business_http(token, &json!({"name": "Intruder"})).await;
        assert_problem(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
    assert_invalid_field(
        &app.create_business_http(Some(ADMIN_TOKEN), &json!({"name": ""})).await,
        "name",
    );
    assert_invalid_field(
        &app.create_business_http(Some(ADMIN_TOKEN), &json!({"name": "n".repeat(101)}))
            .await,
        "name",
    );
    assert_invalid_field(&app.create_business_http(Some(ADMIN_TOKEN), &json!({})).await, "name");
}

#[tokio::test]
async fn without_an_admin_token_http_business_creation_is_off() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("loyalty.db");
    let app = spawn_app_on(dir, db, None).await;
    for token in [None, Some(ADMIN_TOKEN), Some("")] {
        let reply = app.create_business_http(token, &json!({"name": "Bakery"})).await;
        assert_problem(&reply, StatusCode::UNAUTHORIZED, "UNAUTHORIZED");
    }
}

/// Start `loyalty serve` as a process configured by the environment; answers the child and the
/// address it logged that it listens on.
fn serve_process(db: &Path) -> (std::process::Child, String) {
    serve_process_at(&database_url(db))
}

/// `loyalty serve` on the database at `url`; answers the child and its address.
pub fn serve_process_at(url: &str) -> (std::process::Child, String) {
    serve_process_with(url, &[])
}

/// `loyalty serve` on the database at `url` with more settings (`("LOYALTY_REDIS_URL", ..)`).
pub fn serve_process_with(url: &str, env: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::io::BufRead;

    let mut child = Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["--log-format", "json", "serve"])
        .env("LOYALTY_DATABASE_URL", url)
        .env("LOYALTY_LISTEN", "127.0.0.1:0")
        .env("LOYALTY_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("LOYALTY_REDIS_URL")
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start loyalty serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let addr = serde_json::from_str::<Value>(&line)
                .ok()
                .and_then(|log| log["fields"]["addr"].as_str().map(str::to_owned));
            if let Some(addr) = addr {
                let _ = tx.send(addr);
            }
        }
    });
    match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(addr) => (child, addr),
        Err(e) => {
            let _ = child.kill();
            panic!("loyalty serve did not log its address: {e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_its_settings_from_the_environment_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("served.db");
    let (mut child, addr) = serve_process(&db);
    let client = reqwest::Client::new();

    let health = client.get(format!("http://{addr}/healthz")).send().await;
    let created = client
        .post(format!("http://{addr}/v1/businesses"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "Served"}))
        .send()
        .await;
    // Stop the process before asserting, so a failure leaves nothing running.
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(term.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("wait task")
        .expect("wait for loyalty serve");

    assert_eq!(health.expect("healthz answered").status(), StatusCode::OK);
    let created = created.expect("businesses answered");
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "the admin token came from LOYALTY_ADMIN_TOKEN"
    );
    assert!(exit.success(), "a graceful stop exits 0: {exit:?}");
    assert!(db.exists(), "the data went where LOYALTY_DATABASE_URL said");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_killed_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("killed.db");
    let (mut child, addr) = serve_process(&db);
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let writes = async {
        let created: Value = client
            .post(format!("{base}/v1/businesses"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&json!({"name": "Killed"}))
            .send()
            .await?
            .json()
            .await?;
        let key = created["apiKey"].as_str().unwrap_or_default().to_owned();
        let program: Value = client
            .post(format!("{base}/v1/programs"))
            .bearer_auth(&key)
            .json(&crate::helpers::points_program("P"))
            .send()
            .await?
            .json()
            .await?;
        let program_id = program["programId"].as_str().unwrap_or_default().to_owned();
        client
            .post(format!("{base}/v1/programs/{program_id}/activate"))
            .bearer_auth(&key)
            .send()
            .await?;
        let account: Value = client
            .post(format!("{base}/v1/accounts"))
            .bearer_auth(&key)
            .json(&crate::helpers::enrollment(&program_id, "c1", "k@example.com"))
            .send()
            .await?
            .json()
            .await?;
        let account_id = account["accountId"].as_str().unwrap_or_default().to_owned();
        let mut acknowledged = 0;
        for _ in 0..20 {
            let response = client
                .post(format!("{base}/v1/accounts/{account_id}/accruals"))
                .bearer_auth(&key)
                .json(&json!({"points": 5, "reason": "purchase"}))
                .send()
                .await?;
            if response.status() == StatusCode::CREATED {
                acknowledged += 5;
            }
        }
        Ok::<_, reqwest::Error>((key, account_id, acknowledged))
    }
    .await;
    // SIGKILL: no graceful shutdown, no final checkpoint.
    child.kill().expect("kill loyalty serve");
    let _ = child.wait();
    let (key, account_id, acknowledged) = writes.expect("the writes were answered");
    assert_eq!(acknowledged, 100);

    let app = spawn_app_on(dir, db, Some(ADMIN_TOKEN)).await;
    let (status, _, account) = app.get_as(&key, &format!("/v1/accounts/{account_id}")).await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(
        account["pointBalance"], acknowledged,
        "every acknowledged accrual is durable"
    );
    let (_, _, events) = app.get_as(&key, &format!("/v1/accounts/{account_id}/events")).await;
    assert_eq!(events["items"].as_array().map(Vec::len), Some(21));
}

/// `--url` drives a server that is already running, named as a user would (`localhost`; where
/// that resolves to `::1` first and the server listens on 127.0.0.1 only, the load takes the
/// first address that accepts a connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_drives_a_running_server_named_by_host() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, addr) = serve_process(&dir.path().join("served.db"));
    let created = reqwest::Client::new()
        .post(format!("http://{addr}/v1/businesses"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "Driven"}))
        .send()
        .await;
    let port = addr.rsplit(':').next().expect("a port").to_owned();
    let output = match created {
        Ok(created) => {
            let body: Value = created.json().await.unwrap_or(Value::Null);
            let key = body["apiKey"].as_str().unwrap_or_default().to_owned();
            let url = format!("http://localhost:{port}");
            tokio::task::spawn_blocking(move || {
                loyalty(&[
                    "bench",
                    "--url",
                    &url,
                    "--api-key",
                    &key,
                    "--duration-secs",
                    "1",
                    "--accounts",
                    "3",
                    "--concurrency",
                    "4",
                    "--probe-secs",
                    "0",
                    "--json",
                ])
            })
            .await
            .ok()
        }
        Err(_) => None,
    };
    let _ = child.kill();
    let _ = child.wait();
    let output = output.expect("the business was created and the bench ran");
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("one JSON object");
    let accrued = report["operations"]["accrual"]["ok"].as_u64().unwrap_or(0);
    assert!(accrued > 0, "{report}");
    assert_eq!(report["operations"]["accrual"]["failed"], 0, "{report}");
    assert_eq!(report["ledgerPoints"].as_u64(), Some(accrued), "{report}");
}

/// A child process killed (SIGKILL) and reaped when dropped, so a failed assertion leaves none
/// running.
struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("the child is still held")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A free port below the range the system takes ports for outgoing connections from, so that
/// none of them takes it while its server is down.
fn port_outside_the_ephemeral_range() -> u16 {
    let lowest_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let start = 10_000 + u16::try_from(std::process::id() % 10_000).unwrap_or(0);
    (start..lowest_ephemeral)
        .chain(1_024..start.min(lowest_ephemeral))
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port below the ephemeral range")
}

/// A server killed mid-run and started again on the same address: every write whose answer
/// the kill cut off, and every one sent while the server was down, is sent again with its
/// `Idempotency-Key` until answered, so none fails and the ledger holds each acknowledged write
/// exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_retries_what_a_killed_server_left_unanswered_and_the_ledger_still_matches() {
    use std::io::{BufRead, Read};

    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(&dir.path().join("killed.db"));
    let listen = format!("127.0.0.1:{}", port_outside_the_ephemeral_range());
    let (server, addr) = serve_process_with(&url, &[("LOYALTY_LISTEN", &listen)]);
    let server = KillOnDrop(Some(server));
    assert_eq!(addr, listen);
    let created: Value = reqwest::Client::new()
        .post(format!("http://{addr}/v1/businesses"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "Killed"}))
        .send()
        .await
        .expect("create a business")
        .json()
        .await
        .expect("the business as JSON");
    let key = created["apiKey"].as_str().expect("an API key").to_owned();
    let bench = Command::new(env!("CARGO_BIN_EXE_loyalty"))
        .args(["bench", "--url", &format!("http://{addr}"), "--api-key", &key])
        .args(["--duration-secs", "3", "--accounts", "3", "--concurrency", "4"])
        .args([
            "--mix",
            "accrual=2,purchase=1,redemption=1",
            "--probe-secs",
            "0",
            "--json",
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start loyalty bench");
    let mut bench = KillOnDrop(Some(bench));
    let mut progress = std::io::BufReader::new(bench.child().stderr.take().expect("the bench's stderr"));
    let mut said = String::new();
    let loaded = tokio::task::spawn_blocking(move || {
        // The load has begun once the bench says what it sends.
        let mut line = String::new();
        while progress.read_line(&mut line).is_ok_and(|n| n > 0) {
            said.push_str(&line);
            if line.starts_with("sending") {
                return (true, said, progress);
            }
            line.clear();
        }
        (false, said, progress)
    })
    .await
    .expect("read the bench's progress");
    let (began, mut said, mut progress) = loaded;
    if began {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    }
    drop(server);
    let (restarted, again) = serve_process_with(&url, &[("LOYALTY_LISTEN", &listen)]);
    let server = KillOnDrop(Some(restarted));
    assert_eq!(again, listen);
    let output = tokio::task::spawn_blocking(move || {
        let _ = progress.read_to_string(&mut said);
        (bench.0.take().map(std::process::Child::wait_with_output), said)
    })
    .await
    .expect("wait for the bench");
    drop(server);
    let (output, said) = output;
    let output = output.expect("the bench was running");
    let output = output.expect("the bench's output");
    assert!(began, "the bench never began its load: {said}");
    assert!(output.status.success(), "{said}");
    let report: Value = serde_json::from_str(&stdout(&output)).expect("one JSON object");
    let operations = &report["operations"];
    let count = |field: &str| -> u64 {
        ["accrual", "purchase", "redemption"]
            .iter()
            .map(|op| operations[op][field].as_u64().unwrap_or(0))
            .sum()
    };
    assert!(count("ok") > 0, "{report}");
    assert!(count("retried") > 0, "the kill cut off no request: {report}");
    assert_eq!(count("failed"), 0, "{report}");
    assert_eq!(report["failures"], json!({}), "{report}");
    assert_eq!(report["ledgerPoints"], report["expectedPoints"], "{report}");
    assert_eq!(report["ledgerPointsMin"], report["ledgerPointsMax"], "{report}");
}

#[test]
fn bench_at_a_fixed_rate_sends_no_more_than_the_rate_after_the_history() {
    let output = loyalty(&[
        "bench",
        "--duration-secs",
        "2",
        "--accounts",
        "3",
        "--concurrency",
        "4",
        "--rate",
        "25",
        "--history",
        "4",
        "--probe-secs",
        "0",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("one JSON object");
    assert_eq!(report["offeredRate"].as_f64(), Some(25.0), "{report}");
    let sent = report["operations"]["accrual"]["ok"].as_u64().unwrap_or(0);
    // 50 requests are due over the 2 s, one every 40 ms; the clients could send hundreds.
    assert!((40..=50).contains(&sent), "{sent} accruals at 25/s for 2 s: {report}");
    assert_eq!(report["ledgerPoints"], report["expectedPoints"], "{report}");
    assert_eq!(report["history"], 4, "{report}");
    assert_eq!(
        report["ledgerPoints"].as_u64(),
        Some(sent + 3 * 4),
        "each of the 3 accounts got 4 points of history first: {report}"
    );

    for rate in ["0", "inf", "fast"] {
        let bad = loyalty(&["bench", "--rate", rate]);
        assert!(!bad.status.success(), "--rate {rate}");
        assert!(stderr(&bad).contains("operations per second"), "{}", stderr(&bad));
    }
}

#[test]
fn bench_drives_a_mix_and_reports_against_the_storage_limit() {
    let output = loyalty(&[
        "bench",
        "--duration-secs",
        "1",
        "--accounts",
        "5",
        "--concurrency",
        "2",
        "--mix",
        "accrual=2,purchase=1,redemption=1,read=1",
        "--probe-secs",
        "1",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).expect("one JSON object");
    for op in ["accrual", "purchase", "redemption", "read"] {
        assert!(
            report["operations"][op]["ok"].as_u64().unwrap_or(0) > 0,
            "{op}: {report}"
        );
        assert_eq!(report["operations"][op]["failed"], 0, "{op}: {report}");
    }
    assert_eq!(report["ledgerPoints"], report["expectedPoints"], "{report}");
    assert!(report["storageRowsPerSec"].as_f64().unwrap_or(0.0) > 0.0, "{report}");
    assert!(report["ratioToStorage"].as_f64().unwrap_or(0.0) > 0.0, "{report}");

    assert!(report["offeredRate"].is_null(), "{report}");

    let tls = loyalty(&["bench", "--url", "https://127.0.0.1:9", "--api-key", "lk_x"]);
    assert!(!tls.status.success());
    assert!(stderr(&tls).contains("plain HTTP"), "{}", stderr(&tls));
    let bad = loyalty(&["bench", "--mix", "teleport=5"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("accrual, purchase, redemption, read"),
        "{}",
        stderr(&bad)
    );
}
