//! A small pool of read connections, used from blocking threads.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::Connection;

use super::connection::open_reader;
use crate::StoreError;

/// Idle read connections kept for reuse.
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    idle_count_max: usize,
}

impl ReadPool {
    pub fn new(path: PathBuf, idle_count_max: usize) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            idle_count_max,
        }
    }

    /// Run `f` on a read connection (blocking).
    pub fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.idle.lock().map_or(None, |mut idle| idle.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => open_reader(&self.path)?,
        };
        let result = f(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < self.idle_count_max {
                idle.push(conn);
            }
        }
        result
    }
}
