//! The two backends the conformance suite runs on, each test on a database of its own: a fresh
//! SQLite file, or a fresh PostgreSQL schema (`LOYALTY_TEST_POSTGRES_URL`).

use loyalty_store::StoreSettings;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub enum Kind {
    Sqlite,
    /// The base URL (from `LOYALTY_TEST_POSTGRES_URL`).
    Postgres(String),
}

/// The PostgreSQL base URL, or `None` (with a note on stderr) when the variable is unset.
pub fn postgres(test: &str) -> Option<Kind> {
    match std::env::var("LOYALTY_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(Kind::Postgres(url)),
        _ => {
            eprintln!("skipped {test}: LOYALTY_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A database of one test's own.
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { url: String, schema: String },
}

impl TestDb {
    pub fn new(kind: Kind) -> Self {
        match kind {
            Kind::Sqlite => TestDb::Sqlite(tempfile::tempdir().expect("tempdir")),
            Kind::Postgres(base) => {
                let schema = format!("store_{}", Uuid::new_v4().simple());
                with_client(&base, |client| {
                    client
                        .batch_execute(&format!("CREATE SCHEMA {schema}"))
                        .expect("create a test schema");
                });
                let url = schema_url(&base, &schema);
                TestDb::Postgres { url, schema }
            }
        }
    }

    pub fn settings(&self) -> StoreSettings {
        match self {
            TestDb::Sqlite(dir) => StoreSettings::new(dir.path().join("test.db")),
            TestDb::Postgres { url, .. } => StoreSettings::postgres(url.clone()),
        }
    }

    /// Run SQL behind the store's back (to make read models drift, to write old rows).
    pub fn execute(&self, sql: &str) {
        match self {
            TestDb::Sqlite(dir) => {
                loyalty_store::prepare_sqlite();
                let conn = rusqlite::Connection::open(dir.path().join("test.db")).expect("open");
                conn.execute_batch(sql).expect("raw SQL");
            }
            TestDb::Postgres { url, .. } => with_client(url, |client| {
                client.batch_execute(sql).expect("raw SQL");
            }),
        }
    }
}

impl TestDb {
    /// Every index of the database, sorted by name.
    pub fn index_names(&self) -> Vec<String> {
        let mut names = match self {
            TestDb::Sqlite(_) => self.texts("SELECT name FROM sqlite_master WHERE type = 'index'"),
            TestDb::Postgres { schema, .. } => self.texts(&format!(
                "SELECT indexname::text FROM pg_indexes WHERE schemaname = '{schema}'"
            )),
        };
        names.sort();
        names
    }

    /// The first column of every row of `sql`, as text, behind the store's back.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        match self {
            TestDb::Sqlite(dir) => {
                loyalty_store::prepare_sqlite();
                let conn = rusqlite::Connection::open(dir.path().join("test.db")).expect("open");
                let mut stmt = conn.prepare(sql).expect("prepare");
                let rows = stmt.query_map([], |r| r.get(0)).expect("query");
                rows.collect::<Result<_, _>>().expect("rows")
            }
            TestDb::Postgres { url, .. } => with_client(url, |client| {
                client
                    .query(sql, &[])
                    .expect("rows")
                    .iter()
                    .map(|row| row.get(0))
                    .collect()
            }),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { url, schema } = self {
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            with_client(url, |client| {
                if let Err(e) = client.batch_execute(&sql) {
                    eprintln!("could not drop test schema {schema}: {e}");
                }
            });
        }
    }
}

/// `base` with the schema as the search path (libpq's `options`).
pub fn schema_url(base: &str, schema: &str) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

/// A plain client on a thread of its own (the synchronous client must not run on the test's
/// async runtime).
pub fn with_client<T: Send>(url: &str, f: impl FnOnce(&mut postgres::Client) -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect to PostgreSQL");
                f(&mut client)
            })
            .join()
            .expect("the PostgreSQL thread panicked")
    })
}

/// Each named test, once per backend: `sqlite::NAME` always, `postgres::NAME` when
/// `LOYALTY_TEST_POSTGRES_URL` is set (and a printed skip otherwise).
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::backend::Kind::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(kind) = super::backend::postgres(stringify!($name)) else { return };
                    super::$name(kind).await
                }
            )*
        }
    };
}
