//! The embedded SQLite backend: one file, WAL, commits made durable by the syncer's `fdatasync`
//! of the log (see `log_file`), a checkpointer thread and a pool of read connections.

mod background_priority;
mod checkpointer;
mod connection;
mod held;
mod log_file;
mod log_vfs;
mod page_cache;
mod read_pool;
mod schema;
mod writeback;

pub(crate) use checkpointer::spawn as spawn_checkpointer;
pub use checkpointer::WAL_RESTART_FRAMES;
#[cfg(test)]
pub(crate) use connection::open_in_memory;
pub(crate) use connection::{no_checkpoint_on_close, open_reader, open_writer};
pub(crate) use held::{HeldStatements, Hold};
pub(crate) use log_file::LogFile;
#[cfg(test)]
pub(crate) use log_vfs::database_syncs;
pub(crate) use log_vfs::{guard_with, sync_database_file};
pub(crate) use read_pool::ReadPool;
pub(crate) use schema::{migrate, WEBHOOK_ORDER_MIGRATION};

/// Everything SQLite must be given before it starts (see [`crate::prepare_sqlite`]).
pub(crate) fn prepare() {
    page_cache::install();
}
