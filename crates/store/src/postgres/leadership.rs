//! Leadership for background work: the instance holding a session advisory lock runs it.
//! When the holder dies its connection closes, PostgreSQL releases the lock, and a surviving
//! instance takes it at its next try.

use super::{connect, LEADERSHIP_LOCK_SQL};
use crate::db::{params, Db, PgConn};
use crate::StoreError;

/// A held leadership: the lock lives as long as this connection.
pub struct Leadership {
    conn: Option<PgConn>,
}

impl Leadership {
    /// Try once to take the lock `key` (a stable number per kind of work).
    pub(crate) fn try_acquire(url: &str, key: i32) -> Result<Option<Self>, StoreError> {
        let conn = connect(url)?;
        let held: bool = Db::Pg(&conn).query_row(LEADERSHIP_LOCK_SQL, params![key.to_string()], |r| r.get(0))?;
        if held {
            Ok(Some(Self { conn: Some(conn) }))
        } else {
            super::read_pool::drop_off_runtime(vec![conn]);
            Ok(None)
        }
    }

    /// Whether the lock is still ours (the connection still answers).
    pub fn still_held(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|conn| Db::Pg(conn).execute_batch("SELECT 1").is_ok())
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            super::read_pool::drop_off_runtime(vec![conn]);
        }
    }
}
