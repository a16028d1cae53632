//! Storage of the loyalty platform: the event store (the record), the read models projected
//! from it in the same transaction, idempotency records, and the group-commit writer, on
//! embedded SQLite or on PostgreSQL (the SQL is written once: see `db`).
//!
//! One writer thread owns the write connection. Commands from concurrent requests queue up on a
//! bounded channel; the writer takes every command waiting (up to [`WRITER_BATCH_COUNT_MAX`]),
//! runs them in one transaction, commits once without waiting for the disk, and goes on to the
//! next batch; a syncer thread answers each caller only once that commit is durable. One sync
//! serves the whole batch, and one may serve several batches (see `syncer`: on SQLite an
//! `fdatasync` of the write-ahead log, on PostgreSQL a synchronous commit of its own). A refused
//! or failed command leaves the others untouched (see `writer` for how, and `postgres::conn`
//! for PostgreSQL's multi-row statements).

mod business;
mod db;
mod dead_letter;
mod decided;
mod envelope;
mod error;
mod event_filter;
mod idempotency;
mod postgres;
mod prefetch;
pub mod probe;
/// The SQL every PostgreSQL writer transaction starts with (for tests that stall the log).
pub use postgres::EVENT_LOG_LOCK_SQL;
mod projection;
mod queries;
mod rebuild;
mod restaurant;
mod shared_loads;
mod sqlite;
mod store;
mod syncer;
#[doc(hidden)]
pub mod testing;
mod time;
pub mod views;
mod webhooks;
extern crate postgres as postgres_client;
mod write_tx;
mod writer;

/// Put the store's SQLite page cache in place (see `sqlite/page_cache.rs`). SQLite takes one only
/// before it starts, and configuring it is not safe while another thread uses SQLite: a process
/// (or a test) that opens SQLite databases itself calls this first, before its other threads
/// do. The store calls it before it opens any connection; later calls do nothing.
pub fn prepare_sqlite() {
    sqlite::prepare();
}

pub use business::{hash_api_key, Business};
pub use dead_letter::DeadLetter;
pub use decided::Decided;
pub use envelope::{EventMetadata, StoredEvent};
pub use error::StoreError;
pub use event_filter::EventFilter;
pub use idempotency::{request_hash, IdempotencyRecord, JsonBody, StoredResponse};
/// A parsed PostgreSQL URL (to check one before opening it).
pub use postgres_client::Config as PgConfig;
pub use prefetch::Prefetch;
pub use rebuild::{Fingerprint, RebuildChanges, RebuildReport};
pub use restaurant::{Location, PaymentRecord, UnclaimedPayment};
pub use store::{describe, Backend, Leadership, Store, StoreSettings};
pub use webhooks::{Webhook, WebhookDelivery};
pub use write_tx::{Loaded, WriteTx};

/// The most commands one group commit carries.
pub const WRITER_BATCH_COUNT_MAX: usize = 512;
/// How many commands may wait for the writer before callers are slowed down.
pub const WRITER_QUEUE_COUNT_MAX: usize = 8_192;
/// How often one command is retried after an optimistic-concurrency conflict.
pub const CONFLICT_RETRY_COUNT_MAX: u32 = 5;
/// Page size limits of list queries.
pub const PAGE_LIMIT_DEFAULT: u32 = 50;
pub const PAGE_LIMIT_MAX: u32 = 500;
/// The most rewards one program's catalogue holds (and a list of it answers).
pub const REWARDS_PER_PROGRAM_MAX: u32 = 1_000;
