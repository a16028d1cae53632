//! The PostgreSQL backend: several service instances on one database. The same SQL as SQLite,
//! its own schema (BIGINT integers; event positions given out by the writer under the event-log
//! lock), migrations applied under an advisory lock so instances starting together apply each
//! once, a pipelining connection (`conn`), a syncer that makes the writer's commits durable
//! before anyone is answered so the writer need not wait for the disk (`syncer`), and leadership
//! for background work by a session advisory lock.

mod bulk;
mod conn;
mod leadership;
mod read_pool;
mod schema;
pub(crate) mod syncer;

pub use conn::{PgConn, SnapshotRow};

/// Connect to PostgreSQL (see [`PgConn::connect`]).
pub(crate) fn connect(url: &str) -> Result<PgConn, crate::StoreError> {
    PgConn::connect(url)
}
pub use leadership::Leadership;
pub(crate) use read_pool::ReadPool;
pub(crate) use schema::migrate;

// Advisory locks are per database, not per schema: each key is a hash of the schema's name and
// the lock's name, so deployments (and tests) in different schemas of one database never wait
// for each other.

/// Taken by every writer transaction and held from BEGIN to COMMIT: event positions are taken
/// and committed in one order across instances, so a reader never sees position 42 before 41.
pub const EVENT_LOG_LOCK_SQL: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended(COALESCE(current_schema(), '') || ':loyalty:event-log', 0))::TEXT";
/// Held while migrations run.
pub(crate) const MIGRATIONS_LOCK_SQL: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended(COALESCE(current_schema(), '') || ':loyalty:migrations', 0))::TEXT";
/// Leadership of background work `?1` (a session lock).
pub(crate) const LEADERSHIP_LOCK_SQL: &str =
    "SELECT pg_try_advisory_lock(hashtextextended(COALESCE(current_schema(), '') || ':loyalty:lead:' || ?1, 0))";
