//! A small pool of PostgreSQL connections for reads, used from blocking threads.

use std::sync::Mutex;

use super::connect;
use crate::db::PgConn;
use crate::StoreError;

pub(crate) struct ReadPool {
    url: String,
    idle: Mutex<Vec<PgConn>>,
    idle_count_max: usize,
}

impl ReadPool {
    pub fn new(url: String, idle_count_max: usize) -> Self {
        Self {
            url,
            idle: Mutex::new(Vec::new()),
            idle_count_max,
        }
    }

    /// Run `f` on a pooled connection (blocking). A connection that failed is not kept.
    pub fn with<T>(&self, f: impl FnOnce(&PgConn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.idle.lock().map_or(None, |mut idle| idle.pop());
        let conn = match pooled {
            Some(conn) if !conn.closed_while_idle() => conn,
            _ => connect(&self.url)?,
        };
        let result = f(&conn);
        if !conn.is_closed() {
            if let Ok(mut idle) = self.idle.lock() {
                if idle.len() < self.idle_count_max {
                    idle.push(conn);
                    return result;
                }
            }
        }
        drop_off_runtime(vec![conn]);
        result
    }
}

impl Drop for ReadPool {
    fn drop(&mut self) {
        let idle = self.idle.get_mut().map(std::mem::take).unwrap_or_default();
        drop_off_runtime(idle);
    }
}

/// The synchronous client owns a small runtime of its own, which must not be dropped on an
/// async worker thread: connections are closed on a plain thread.
pub(crate) fn drop_off_runtime(conns: Vec<PgConn>) {
    if conns.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("loyalty-pg-close".to_owned())
        .spawn(move || drop(conns));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "could not start a thread to close connections");
    }
}
