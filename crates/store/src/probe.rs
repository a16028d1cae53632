//! The physical limit of the storage underneath: plain batched inserts of rows of a given size
//! into a fresh database (SQLite) or a fresh table (PostgreSQL) with the store's own settings,
//! one commit per batch. `loyalty bench` prints the service's rate as a ratio of it.

use std::time::{Duration, Instant};

use crate::db::{params, Db};
use crate::{Backend, StoreError};

/// What a probe measured.
#[derive(Debug, Clone, Copy)]
pub struct InsertRate {
    pub rows: u64,
    pub seconds: f64,
    pub batch: usize,
    pub row_bytes: usize,
}

impl InsertRate {
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.seconds.max(1e-9)
    }
}

/// Insert rows of `row_bytes` bytes in transactions of `batch` rows for `duration`. On SQLite
/// into a fresh file beside nothing else (WAL, `synchronous = FULL`: each commit durable, as the
/// store's are before it answers); on
/// PostgreSQL into a fresh table of the given database, dropped afterwards. Blocking.
pub fn insert_rate(
    backend: &Backend,
    duration: Duration,
    batch: usize,
    row_bytes: usize,
) -> Result<InsertRate, StoreError> {
    let payload = "x".repeat(row_bytes);
    let batch = batch.max(1);
    match backend {
        Backend::Sqlite(_) => {
            let dir = tempfile_dir()?;
            let conn = crate::sqlite::open_writer(&dir.join("probe.db"))?;
            conn.execute_batch("CREATE TABLE probe (id INTEGER PRIMARY KEY, data TEXT NOT NULL)")?;
            let rate = run(Db::sqlite(&conn), "probe", duration, batch, &payload);
            drop(conn);
            let _ = std::fs::remove_dir_all(&dir);
            rate.map(|(rows, seconds)| InsertRate {
                rows,
                seconds,
                batch,
                row_bytes,
            })
        }
        Backend::Postgres(url) => {
            let conn = crate::postgres::connect(url)?;
            let table = format!("loyalty_probe_{}", uuid::Uuid::new_v4().simple());
            Db::Pg(&conn).execute_batch(&format!(
                "CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, data TEXT NOT NULL)"
            ))?;
            let rate = run(Db::Pg(&conn), &table, duration, batch, &payload);
            let _ = Db::Pg(&conn).execute_batch(&format!("DROP TABLE {table}"));
            rate.map(|(rows, seconds)| InsertRate {
                rows,
                seconds,
                batch,
                row_bytes,
            })
        }
    }
}

fn run(db: Db<'_>, table: &str, duration: Duration, batch: usize, payload: &str) -> Result<(u64, f64), StoreError> {
    let sql = format!("INSERT INTO {table} (data) VALUES (?1)");
    let started = Instant::now();
    let mut rows = 0u64;
    while started.elapsed() < duration {
        db.begin()?;
        let mut insert = db.prepare_cached(&sql)?;
        for _ in 0..batch {
            insert.execute_deferred(params![payload])?;
        }
        drop(insert);
        db.commit()?;
        rows += batch as u64;
    }
    Ok((rows, started.elapsed().as_secs_f64()))
}

fn tempfile_dir() -> Result<std::path::PathBuf, StoreError> {
    let dir = std::env::temp_dir().join(format!("loyalty-probe-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
