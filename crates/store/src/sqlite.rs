//! The embedded SQLite backend: one file, WAL, a group-commit writer thread and a pool of
//! read connections.

mod checkpointer;
mod connection;
mod queries;
pub(crate) mod queries_for_rebuild {
    pub use super::queries::{event_row, event_select};
}
mod read_pool;
mod store;
mod write_tx;
mod writer;

pub use store::{SqliteStore, StoreSettings};
pub use write_tx::{Loaded, WriteTx};
