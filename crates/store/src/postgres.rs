//! The PostgreSQL backend: several service instances on one database. The same SQL as SQLite,
//! its own schema (BIGINT integers, an identity column for event positions), migrations applied
//! under an advisory lock so instances starting together apply each once, and leadership for
//! background work by a session advisory lock.

mod connection;
mod leadership;
mod read_pool;
mod schema;

pub(crate) use connection::connect;
pub use leadership::Leadership;
pub(crate) use read_pool::ReadPool;
pub(crate) use schema::migrate;

/// Advisory lock keys (first argument of the two-key form; the second names the holder).
pub(crate) const LOCK_CLASS: i32 = 0x4c59_4c54; // "LYLT"
/// Held by every writer transaction from BEGIN to COMMIT: event positions are taken and
/// committed in one order across instances, so a reader never sees position 42 before 41.
pub(crate) const LOCK_EVENT_LOG: i32 = 1;
/// Held while migrations run.
pub(crate) const LOCK_MIGRATIONS: i32 = 2;
