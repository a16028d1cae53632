//! A real server on a free port with its own database, and one helper per endpoint.
//!
//! Every helper answers `(status, headers, body)`; the body is the parsed JSON, or the raw text
//! as a JSON string when the answer is not JSON.

use std::path::PathBuf;
use std::time::Duration;

use loyalty_server::config::{DatabaseUrl, ServeSettings};
use loyalty_server::delivery::DeliveryOptions;
use loyalty_server::startup::Application;
use loyalty_store::Store;
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The admin token every test server is started with.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// What one request answered.
pub type Reply = (StatusCode, HeaderMap, Value);

/// A running server, its database directory and the API key of its first business ("Cafe").
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub api_key: String,
    pub business_id: String,
    pub client: Client,
    /// Holds the database directory; it is deleted when the app is dropped.
    #[allow(dead_code)]
    pub dir: TempDir,
    /// Where the server keeps its data: the SQLite file at `db_path`, or (with
    /// `LOYALTY_TEST_API_BACKEND=postgres`) a PostgreSQL schema of this test's own.
    database: DatabaseUrl,
    #[allow(dead_code)]
    pg_schema: Option<crate::instances::PgSchema>,
    admin_token: Option<String>,
    store: Option<Store>,
    delivery: DeliveryOptions,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A server with a fresh database, the admin token set, and one business.
pub async fn spawn_app() -> TestApp {
    spawn_app_delivering(DeliveryOptions::default()).await
}

/// A server on an existing database file (it is migrated if needed), with one new business.
pub async fn spawn_app_on(dir: TempDir, db_path: PathBuf, admin_token: Option<&str>) -> TestApp {
    spawn_app_with(dir, db_path, None, admin_token, DeliveryOptions::default()).await
}

/// A server with fresh database and these delivery options (a Redis bus, fast retries).
///
/// The database is a SQLite file, or a PostgreSQL schema of its own when
/// `LOYALTY_TEST_API_BACKEND=postgres` (with `LOYALTY_TEST_POSTGRES_URL`): the same suite runs
/// on both backends.
pub async fn spawn_app_delivering(delivery: DeliveryOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("loyalty.db");
    let pg_schema = match std::env::var("LOYALTY_TEST_API_BACKEND").as_deref() {
        Ok("postgres") => crate::instances::PgSchema::create("the API suite on PostgreSQL"),
        _ => None,
    };
    spawn_app_with(dir, db_path, pg_schema, Some(ADMIN_TOKEN), delivery).await
}

async fn spawn_app_with(
    dir: TempDir,
    db_path: PathBuf,
    pg_schema: Option<crate::instances::PgSchema>,
    admin_token: Option<&str>,
    delivery: DeliveryOptions,
) -> TestApp {
    // Logs are quiet unless TEST_LOG is set.
    if std::env::var_os("TEST_LOG").is_some() {
        loyalty_server::telemetry::init_logs(false);
    }
    let mut app = TestApp {
        address: String::new(),
        api_key: String::new(),
        business_id: String::new(),
        client: Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client"),
        dir,
        database: match &pg_schema {
            Some(schema) => DatabaseUrl::Postgres(schema.url()),
            None => DatabaseUrl::Sqlite(db_path.clone()),
        },
        pg_schema,
        admin_token: admin_token.map(str::to_owned),
        store: None,
        delivery,
        shutdown: None,
        server: None,
    };
    app.start().await;
    let (business_id, api_key) = app.create_business("Cafe").await;
    app.business_id = business_id;
    app.api_key = api_key;
    app
}

/// A program body with a valid POINTS_BASED rule.
pub fn points_program(name: &str) -> Value {
    json!({
        "name": name,
        "ruleType": "POINTS_BASED",
        "ruleConfig": {"pointsPerDollar": 10, "minPurchaseAmount": "0"}
    })
}

/// An enrolment body.
pub fn enrollment(program_id: &str, customer_id: &str, email: &str) -> Value {
    json!({
        "programId": program_id,
        "customerId": customer_id,
        "displayName": "Ada Lovelace",
        "email": email,
    })
}

impl TestApp {
    async fn start(&mut self) {
        let settings = ServeSettings {
            delivery: self.delivery.clone(),
            claim_window_days: 30,
            sweep_interval: None,
            listen: "127.0.0.1:0".parse().expect("listen address"),
            database: self.database.clone(),
            admin_token: self.admin_token.clone(),
        };
        let app = Application::build(&settings).await.expect("build the application");
        let addr = app.local_addr().expect("local address");
        self.address = format!("http://{addr}");
        self.store = Some(app.store().clone());
        let (tx, rx) = oneshot::channel::<()>();
        self.shutdown = Some(tx);
        self.server = Some(tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        })));
    }

    /// Shut the server down gracefully and wait until it has stopped.
    pub async fn stop(&mut self) {
        self.store = None;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(30), server)
                .await
                .expect("the server stops within 30 s")
                .expect("the server task did not panic")
                .expect("the server stopped cleanly");
        }
    }

    /// Stop the server and start a new one on the same database file (on a new port).
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Restart with another admin token (a rotation).
    pub async fn restart_with_admin_token(&mut self, token: &str) {
        self.admin_token = Some(token.to_owned());
        self.restart().await;
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    /// The delivery options the next (re)start uses.
    pub fn delivery_mut(&mut self) -> &mut DeliveryOptions {
        &mut self.delivery
    }

    /// The running server's store (for what the API does not show: checkpoints, notifications).
    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("the server is running")
    }

    /// The `--database-url` of this app's database, for the CLI.
    pub fn database_url(&self) -> String {
        match &self.database {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }

    /// Run SQL on the app's database behind the service's back (to age a row, to write an event
    /// as an old version did).
    pub fn execute_sql(&self, sql: &str) {
        match &self.database {
            DatabaseUrl::Sqlite(path) => {
                loyalty_store::prepare_sqlite();
                let conn = rusqlite::Connection::open(path).expect("open the database");
                conn.execute_batch(sql).expect("raw SQL");
            }
            DatabaseUrl::Postgres(url) => crate::instances::sql(url, sql),
        }
    }

    /// Register another business directly in the store; answers `(businessId, apiKey)`.
    pub async fn create_business(&self, name: &str) -> (String, String) {
        let store = self.store.as_ref().expect("the server is running");
        let created = loyalty_server::business::create(
            store,
            loyalty_server::business::parse_name(Some(name)).expect("a valid name"),
        )
        .await
        .expect("create a business");
        (created.business_id.to_string(), created.api_key)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Any request: `key` is sent as the bearer token, `body` as JSON, `headers` as given.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.send().await.expect("the request was answered")).await
    }

    /// A POST with a raw body and no JSON encoding by the client.
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        let response = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.api_key)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .expect("the request was answered");
        read(response).await
    }

    pub async fn get_as(&self, key: &str, path: &str) -> Reply {
        self.request(Method::GET, path, Some(key), None, &[]).await
    }

    pub async fn post_as(&self, key: &str, path: &str, body: &Value) -> Reply {
        self.request(Method::POST, path, Some(key), Some(body), &[]).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.get_as(&self.api_key, path).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.post_as(&self.api_key, path, body).await
    }

    /// A POST with an `Idempotency-Key`, as business `key`.
    pub async fn post_idempotent_as(&self, key: &str, path: &str, idempotency_key: &str, body: &Value) -> Reply {
        self.request(
            Method::POST,
            path,
            Some(key),
            Some(body),
            &[("Idempotency-Key", idempotency_key)],
        )
        .await
    }

    pub async fn post_idempotent(&self, path: &str, idempotency_key: &str, body: &Value) -> Reply {
        self.post_idempotent_as(&self.api_key, path, idempotency_key, body)
            .await
    }

    /// `POST /v1/businesses` with this bearer token (`None`: no Authorization header).
    pub async fn create_business_http(&self, token: Option<&str>, body: &Value) -> Reply {
        self.request(Method::POST, "/v1/businesses", token, Some(body), &[])
            .await
    }

    // Programs.

    pub async fn create_program(&self, body: &Value) -> Reply {
        self.post("/v1/programs", body).await
    }

    pub async fn get_program(&self, program_id: &str) -> Reply {
        self.get(&format!("/v1/programs/{program_id}")).await
    }

    pub async fn list_programs(&self) -> Reply {
        self.get("/v1/programs").await
    }

    pub async fn activate(&self, program_id: &str) -> Reply {
        self.post(&format!("/v1/programs/{program_id}/activate"), &json!({}))
            .await
    }

    pub async fn pause(&self, program_id: &str) -> Reply {
        self.post(
            &format!("/v1/programs/{program_id}/pause"),
            &json!({"reason": "renovation"}),
        )
        .await
    }

    pub async fn resume(&self, program_id: &str) -> Reply {
        self.post(&format!("/v1/programs/{program_id}/resume"), &json!({}))
            .await
    }

    pub async fn end(&self, program_id: &str) -> Reply {
        self.post(&format!("/v1/programs/{program_id}/end"), &json!({})).await
    }

    pub async fn change_rule(&self, program_id: &str, body: &Value) -> Reply {
        self.request(
            Method::PUT,
            &format!("/v1/programs/{program_id}/rule"),
            Some(&self.api_key),
            Some(body),
            &[],
        )
        .await
    }

    /// Create a program with this body and answer its id (asserting 201).
    pub async fn program_from(&self, body: &Value) -> String {
        let (status, _, program) = self.create_program(body).await;
        assert_eq!(status, StatusCode::CREATED, "create program: {program}");
        program["programId"].as_str().expect("programId").to_owned()
    }

    /// A DRAFT POINTS_BASED program.
    pub async fn draft_program(&self) -> String {
        self.program_from(&points_program("Coffee Rewards")).await
    }

    /// An ACTIVE POINTS_BASED program.
    pub async fn active_program(&self) -> String {
        let program_id = self.draft_program().await;
        let (status, _, body) = self.activate(&program_id).await;
        assert_eq!(status, StatusCode::OK, "activate: {body}");
        program_id
    }

    // Rewards.

    pub async fn create_reward(&self, program_id: &str, body: &Value) -> Reply {
        self.post(&format!("/v1/programs/{program_id}/rewards"), body).await
    }

    pub async fn list_rewards(&self, program_id: &str) -> Reply {
        self.get(&format!("/v1/programs/{program_id}/rewards")).await
    }

    /// Add a reward to a program and answer its id (asserting 201).
    pub async fn reward_from(&self, program_id: &str, body: &Value) -> String {
        let (status, _, reward) = self.create_reward(program_id, body).await;
        assert_eq!(status, StatusCode::CREATED, "create reward: {reward}");
        reward["rewardId"].as_str().expect("rewardId").to_owned()
    }

    /// One reward of a program's catalogue, as listed (asserting it is there).
    pub async fn listed_reward(&self, program_id: &str, reward_id: &str) -> Value {
        let (status, _, list) = self.list_rewards(program_id).await;
        assert_eq!(status, StatusCode::OK, "list rewards: {list}");
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| r["rewardId"] == reward_id)
            .cloned()
            .unwrap_or_else(|| panic!("reward {reward_id} is not listed in {list}"))
    }

    pub async fn redeem_reward(&self, account_id: &str, reward_id: &str) -> Reply {
        self.redeem_body(account_id, &json!({"rewardId": reward_id})).await
    }

    // Accounts.

    pub async fn enroll(&self, body: &Value) -> Reply {
        self.post("/v1/accounts", body).await
    }

    /// Enrol a customer into a program and answer the account id (asserting 201).
    pub async fn enroll_customer(&self, program_id: &str, customer_id: &str, email: &str) -> String {
        let (status, _, account) = self.enroll(&enrollment(program_id, customer_id, email)).await;
        assert_eq!(status, StatusCode::CREATED, "enrol: {account}");
        account["accountId"].as_str().expect("accountId").to_owned()
    }

    /// An account of an ACTIVE program: `(programId, accountId)`.
    pub async fn account(&self) -> (String, String) {
        let program_id = self.active_program().await;
        let account_id = self.enroll_customer(&program_id, "cust-1", "ada@example.com").await;
        (program_id, account_id)
    }

    pub async fn get_account(&self, account_id: &str) -> Reply {
        self.get(&format!("/v1/accounts/{account_id}")).await
    }

    /// Find accounts by one query parameter (`email` or `customerId`), encoded properly.
    pub async fn find_accounts(&self, name: &str, value: &str) -> Reply {
        let response = self
            .client
            .get(self.url("/v1/accounts"))
            .bearer_auth(&self.api_key)
            .query(&[(name, value)])
            .send()
            .await
            .expect("the request was answered");
        read(response).await
    }

    pub async fn accrue(&self, account_id: &str, points: i64) -> Reply {
        self.accrue_body(
            account_id,
            &json!({"points": points, "reason": "purchase", "orderRef": "order-1"}),
        )
        .await
    }

    pub async fn accrue_body(&self, account_id: &str, body: &Value) -> Reply {
        self.post(&format!("/v1/accounts/{account_id}/accruals"), body).await
    }

    pub async fn redeem(&self, account_id: &str, points: i64) -> Reply {
        self.redeem_body(account_id, &json!({"points": points, "reason": "free coffee"}))
            .await
    }

    pub async fn redeem_body(&self, account_id: &str, body: &Value) -> Reply {
        self.post(&format!("/v1/accounts/{account_id}/redemptions"), body).await
    }

    pub async fn suspend(&self, account_id: &str) -> Reply {
        self.post(
            &format!("/v1/accounts/{account_id}/suspend"),
            &json!({"reason": "suspected fraud"}),
        )
        .await
    }

    pub async fn reactivate(&self, account_id: &str) -> Reply {
        self.post(&format!("/v1/accounts/{account_id}/reactivate"), &json!({}))
            .await
    }

    /// `GET /v1/accounts/{accountId}/transactions` with a raw query string (`"limit=5"`).
    pub async fn transactions(&self, account_id: &str, query: &str) -> Reply {
        self.get(&format!("/v1/accounts/{account_id}/transactions?{query}"))
            .await
    }

    /// Every transaction of an account, newest first, following the cursor.
    pub async fn all_transactions(&self, account_id: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut query = "limit=500".to_owned();
        loop {
            let (status, _, page) = self.transactions(account_id, &query).await;
            assert_eq!(status, StatusCode::OK, "transactions: {page}");
            items.extend(page["items"].as_array().expect("items").iter().cloned());
            match page["nextCursor"].as_str() {
                Some(cursor) => query = format!("limit=500&cursor={cursor}"),
                None => return items,
            }
        }
    }

    pub async fn account_events(&self, account_id: &str) -> Reply {
        self.get(&format!("/v1/accounts/{account_id}/events")).await
    }

    /// The account's events of one type, oldest first.
    pub async fn account_events_of_type(&self, account_id: &str, event_type: &str) -> Vec<Value> {
        let (status, _, events) = self.account_events(account_id).await;
        assert_eq!(status, StatusCode::OK, "account events: {events}");
        events["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|e| e["eventType"] == event_type)
            .cloned()
            .collect()
    }

    /// Create and activate `program`, and enrol one customer in it; answers the account id.
    pub async fn member_of(&self, program: &Value) -> String {
        let program_id = self.program_from(program).await;
        let (status, _, body) = self.activate(&program_id).await;
        assert_eq!(status, StatusCode::OK, "activate: {body}");
        self.enroll_customer(&program_id, "c-1", "ada@example.com").await
    }

    /// A purchase that must be accepted; answers its receipt.
    pub async fn purchase(&self, account_id: &str, amount: &str, order_ref: &str) -> Value {
        let (status, _, receipt) = self
            .post(
                &format!("/v1/accounts/{account_id}/purchases"),
                &json!({"amount": amount, "orderRef": order_ref}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "purchase: {receipt}");
        receipt
    }

    /// Run `loyalty expire --as-of` on this server's database, as another process.
    pub fn expire_as_of(&self, as_of: chrono::DateTime<chrono::Utc>) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_loyalty"))
            .args([
                "expire",
                "--database-url",
                &self.database_url(),
                "--as-of",
                &as_of.to_rfc3339(),
            ])
            .env_remove("LOYALTY_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .output()
            .expect("run loyalty expire")
    }

    /// `GET /v1/events` with a raw query string.
    pub async fn events(&self, query: &str) -> Reply {
        self.get(&format!("/v1/events?{query}")).await
    }

    /// The account's current point balance (asserting 200).
    pub async fn balance(&self, account_id: &str) -> i64 {
        let (status, _, account) = self.get_account(account_id).await;
        assert_eq!(status, StatusCode::OK, "get account: {account}");
        account["pointBalance"].as_i64().expect("pointBalance")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn read(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("the body was read");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

/// The Content-Type of a reply, or "".
pub fn content_type(headers: &HeaderMap) -> &str {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Assert an RFC 9457 problem: this status, `application/problem+json`, this `code`, and the
/// `type`, `title`, `status` and `detail` members.
#[track_caller]
pub fn assert_problem(reply: &Reply, status: StatusCode, code: &str) {
    let (actual, headers, body) = reply;
    assert_eq!(*actual, status, "status of {body}");
    assert!(
        content_type(headers).starts_with("application/problem+json"),
        "content type {:?} of {body}",
        content_type(headers)
    );
    assert_eq!(body["code"], code, "code of {body}");
    assert_eq!(body["status"], status.as_u16(), "status member of {body}");
    for member in ["type", "title", "detail"] {
        assert!(body[member].is_string(), "{member} missing from {body}");
    }
}

/// The `field` of every entry of a problem's `errors`.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Assert a 400 VALIDATION_FAILED problem naming `field` among its errors.
#[track_caller]
pub fn assert_invalid_field(reply: &Reply, field: &str) {
    assert_problem(reply, StatusCode::BAD_REQUEST, "VALIDATION_FAILED");
    let fields = error_fields(&reply.2);
    assert!(
        fields.iter().any(|f| f == field),
        "expected an error for {field}, got {fields:?} in {}",
        reply.2
    );
}

/// Whether a string is a UUID.
pub fn is_uuid(value: &Value) -> bool {
    value.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok())
}

/// Wait up to 15 s for `check`, which is polled every 25 ms.
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}
