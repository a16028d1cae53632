//! Opening connections with the settings every connection of this store uses.

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// How long a connection waits for another process's write lock before giving up.
pub const BUSY_TIMEOUT_MS: u64 = 10_000;

/// How long the brief waits for a lock last, how many of them the writer's handler makes,
/// and how long the later waits last.
const LOCK_POLL_BRIEF_US: u64 = 100;
const LOCK_POLL_BRIEF_COUNT: u64 = 200;
const LOCK_POLL_LONG_MS: u64 = 5;

/// The busy handler of connections that write: wait for a lock in steps of 100 µs for the
/// first 20 ms (the restarter's RESTART and other short holders), then of 5 ms, for
/// [`BUSY_TIMEOUT_MS`] in all. SQLite's own back-off sleeps 1, 2, 5, 10 ms, ..., so a lock held
/// for 3 ms cost the writer 8.
pub fn wait_for_lock(attempts: i32) -> bool {
    poll_for_lock(attempts, LOCK_POLL_BRIEF_COUNT, Duration::from_millis(BUSY_TIMEOUT_MS))
}

/// One step of a busy handler: the first `brief_attempts` waits last 100 µs, later ones 5 ms;
/// `false` (give up) once the waits add up to `cap`.
pub fn poll_for_lock(attempts: i32, brief_attempts: u64, cap: Duration) -> bool {
    let attempts = u64::try_from(attempts).unwrap_or(u64::MAX);
    let brief = attempts.min(brief_attempts);
    let waited_us = brief
        .saturating_mul(LOCK_POLL_BRIEF_US)
        .saturating_add((attempts - brief).saturating_mul(LOCK_POLL_LONG_MS * 1_000));
    if u128::from(waited_us) >= cap.as_micros() {
        return false;
    }
    std::thread::sleep(if attempts < brief_attempts {
        Duration::from_micros(LOCK_POLL_BRIEF_US)
    } else {
        Duration::from_millis(LOCK_POLL_LONG_MS)
    });
    true
}

/// A writing connection: WAL, and `synchronous = FULL` so a commit is on disk when it returns.
/// The store's writer then hands its durability to the syncer, committing without `fsync`
/// (see [`super::LogFile::open_for`]); migrations, the checkpointer and the restarter keep `FULL`. Opened
/// through the VFS that gathers a commit's writes to the log (see `log_vfs`).
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    super::prepare();
    let conn = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        super::log_vfs::name()?,
    )?;
    conn.busy_handler(Some(wait_for_lock))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Checkpoints run on their own thread (see `checkpointer`), never inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// An in-memory database for tests, opened as the store's connections are: after the page
/// cache is in place (SQLite takes one only before it starts).
#[cfg(test)]
pub fn open_in_memory() -> Connection {
    super::prepare();
    Connection::open_in_memory().expect("an in-memory database")
}

/// A reader: sees the last committed state, never writes.
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    super::prepare();
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "query_only", true)?;
    // A reader never copies the log into the database, not even as the last connection to
    // close: the checkpointer does, and once the store has halted nothing may (see
    // `LogFile`).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Once the store has halted, closing `conn` must not copy the log into the database, as
/// SQLite's last connection to close otherwise does (see [`super::LogFile`]).
pub fn no_checkpoint_on_close(conn: &Connection) {
    if let Err(error) = conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true) {
        tracing::error!(%error, "could not keep a halted store's connection from checkpointing on close");
    }
}
