//! Durability off the writer's path on PostgreSQL: how the syncer (see [`crate::syncer`])
//! makes the log durable there.
//!
//! The writer holds the event-log lock from `BEGIN` to `COMMIT`, so batches run one after
//! another across every instance. A synchronous commit keeps the lock until PostgreSQL has
//! flushed the commit record to disk, and the next batch waits for that flush (about a third of
//! a batch's time here). So the writer commits with `synchronous_commit = off`: the commit is
//! visible at once, the lock is released at once, and the writer goes on to the next batch.
//!
//! The syncer makes the log durable with a [`mark_durable`]: a small synchronous commit of its
//! own on its own connection. PostgreSQL's log is one sequence and a synchronous commit flushes
//! it up to its own commit record, so every commit made before it is then on disk as well (and,
//! with synchronous standbys configured, on them too: the mark honours the session's
//! `synchronous_commit`).
//!
//! A crash of PostgreSQL before the flush loses the commit. It also ends every connection,
//! the syncer's too: a batch is confirmed only by a mark on a connection that was already open
//! before the batch's `COMMIT` was sent. Otherwise its callers are told the outcome is unknown.
//! A read whose answer leaves the system marks on its own connection after reading (see
//! `Store::read_durable`).
//!
//! All of this assumes the syncer talks to the PostgreSQL server itself: behind a pooler that
//! keeps client connections open across a server restart, a connection could outlive a crash.

use std::time::Instant;

use crate::db::PgConn;
use crate::syncer::{MakeDurable, Syncer};
use crate::StoreError;

/// A synchronous commit that writes to the log, so PostgreSQL flushes the log up to it (a
/// transaction that writes nothing, or only takes a transaction id, commits without a flush).
/// One row per slot of 64, by backend: two connections rarely wait for each other's row.
const MARK_DURABLE_SQL: &str = "INSERT INTO durability_marks (slot, marks) VALUES (pg_backend_pid() % 64, 1)
     ON CONFLICT (slot) DO UPDATE SET marks = durability_marks.marks + 1";

/// Make every commit that was visible to `conn` before this call durable (see the module's
/// comment): a synchronous commit on `conn`, outside any transaction.
pub(crate) fn mark_durable(conn: &PgConn) -> Result<(), StoreError> {
    conn.batch_execute(MARK_DURABLE_SQL)
}

/// The syncer's source on PostgreSQL: marks on a connection of its own, with the moment it
/// was opened.
struct PgDurability {
    url: String,
    conn: Option<(PgConn, Instant)>,
}

/// Connect (before the writer's first commit, so that commit can be confirmed) and start the
/// syncer.
pub(crate) fn start(url: String) -> Result<Syncer, StoreError> {
    let conn = open(&url)?;
    let connected_at = Instant::now();
    Syncer::start(PgDurability {
        url,
        conn: Some((conn, connected_at)),
    })
}

impl MakeDurable for PgDurability {
    fn make_durable(&mut self) -> Result<Instant, StoreError> {
        mark(&self.url, &mut self.conn)
    }
}

/// The syncer's connection, named `loyalty-syncer <schema>` in `pg_stat_activity`.
fn open(url: &str) -> Result<PgConn, StoreError> {
    let conn = super::connect(url)?;
    conn.batch_execute(SYNCER_NAME_SQL)?;
    Ok(conn)
}

const SYNCER_NAME_SQL: &str =
    "SELECT set_config('application_name', 'loyalty-syncer ' || COALESCE(current_schema(), ''), false)";

/// One mark; when its connection was opened. A lost connection is opened again, and its marks
/// confirm only commits sent after that.
fn mark(url: &str, conn: &mut Option<(PgConn, Instant)>) -> Result<Instant, StoreError> {
    let (c, connected_at) = match conn {
        Some((c, connected_at)) if !c.closed_while_idle() => (&*c, *connected_at),
        _ => {
            *conn = None;
            let fresh = open(url)?;
            tracing::warn!("the syncer reconnected to PostgreSQL");
            let (c, connected_at) = conn.insert((fresh, Instant::now()));
            (&*c, *connected_at)
        }
    };
    if let Err(error) = mark_durable(c) {
        tracing::error!(%error, "could not confirm commits durable");
        // Open the next connection before these batches are answered, so a batch committed
        // after their answers can be confirmed.
        *conn = open(url).ok().map(|fresh| (fresh, Instant::now()));
        return Err(error);
    }
    Ok(connected_at)
}
