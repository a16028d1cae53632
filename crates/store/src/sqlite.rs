//! The embedded SQLite backend: one file, WAL, `synchronous = FULL`, a checkpointer thread and
//! a pool of read connections.

mod checkpointer;
mod connection;
mod held;
mod read_pool;
mod schema;
mod writeback;

pub(crate) use checkpointer::spawn as spawn_checkpointer;
pub use checkpointer::WAL_RESTART_FRAMES;
pub(crate) use connection::{open_reader, open_writer};
pub(crate) use held::{HeldStatements, Hold};
pub(crate) use read_pool::ReadPool;
pub(crate) use schema::{migrate, WEBHOOK_ORDER_MIGRATION};
