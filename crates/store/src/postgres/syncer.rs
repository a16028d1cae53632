//! Durability off the writer's path (PostgreSQL).
//!
//! The writer holds the event-log lock from `BEGIN` to `COMMIT`, so batches run one after
//! another across every instance. A synchronous commit keeps the lock until PostgreSQL has
//! flushed the commit record to disk, and the next batch waits for that flush (about a third of
//! a batch's time here). So the writer commits with `synchronous_commit = off`: the commit is
//! visible at once, the lock is released at once, and the writer goes on to the next batch.
//! No caller is answered yet. The batch's answers go to this thread, which makes the log
//! durable up to the commit and only then answers them.
//!
//! It does so with a [`mark_durable`]: a small synchronous commit of its own on its own
//! connection. PostgreSQL's log is one sequence and a synchronous commit flushes it up to its own
//! commit record, so every commit made before it is then on disk as well (and, with synchronous
//! standbys configured, on them too: the mark honours the session's `synchronous_commit`). One
//! mark answers every batch that arrived while the last one was being flushed, so the flushes
//! of several batches are shared.
//!
//! A crash of PostgreSQL before the flush loses the commit. It also ends every connection,
//! this thread's too: a batch is confirmed only by a mark on a connection that was already open
//! before the batch's `COMMIT` was sent. Otherwise its callers are told the outcome is unknown
//! ([`StoreError::DurabilityUnconfirmed`]), and a request sent again with the same
//! `Idempotency-Key` answers as the first time if the commit survived, and runs if not.
//!
//! What others read is visible before it is durable: a reader may see a batch that a crash of
//! PostgreSQL in the next few milliseconds would take back, together with its callers' answers,
//! which were never given. What leaves the system as the record (the outbox relay's publishing,
//! webhooks and their deliveries, the HTTP event feed, an aggregate's events, dead letters)
//! reads and then marks on the same connection before it lets anything go (see
//! [`mark_durable`] and `Store::read_durable`).
//!
//! All of this assumes the syncer talks to the PostgreSQL server itself: behind a pooler that
//! keeps client connections open across a server restart, a connection could outlive a crash.

use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Instant;

use crate::db::PgConn;
use crate::writer::JobBox;
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

/// At most this many committed batches wait for a flush; then the writer waits too, so a
/// stalled flush (a synchronous standby gone, the disk stuck) stops new commits instead of
/// piling up work that is visible and unanswered.
const SYNCER_QUEUE_BATCHES_MAX: usize = 64;

/// A batch's answers, held until its commit is durable.
pub(crate) struct Committed {
    /// Taken before the batch's `COMMIT` was sent.
    pub sent_at: Instant,
    pub answers: Vec<(JobBox, Result<(), StoreError>)>,
}

/// The syncer thread's end of the writer: where committed batches go.
pub(crate) struct Syncer {
    batches: SyncSender<Committed>,
    thread: std::thread::JoinHandle<()>,
}

impl Syncer {
    /// Connect (before the writer's first commit, so that commit can be confirmed) and start
    /// the thread.
    pub fn start(url: String) -> Result<Self, StoreError> {
        let conn = open(&url)?;
        let connected_at = Instant::now();
        let (batches, receiver) = std::sync::mpsc::sync_channel(SYNCER_QUEUE_BATCHES_MAX);
        let thread = std::thread::Builder::new()
            .name("loyalty-syncer".to_owned())
            .spawn(move || run(url, Some((conn, connected_at)), receiver))?;
        Ok(Self { batches, thread })
    }

    /// Answer `batch` once its commit is durable.
    pub fn send(&self, batch: Committed) {
        if let Err(unsent) = self.batches.send(batch) {
            // The thread is gone (it panicked): nobody can confirm these commits.
            for (job, _) in unsent.0.answers {
                job.finish(Err(StoreError::DurabilityUnconfirmed(
                    "the syncer has stopped".to_owned(),
                )));
            }
        }
    }

    /// Answer what is still queued, then stop.
    pub fn stop(self) {
        drop(self.batches);
        if self.thread.join().is_err() {
            tracing::error!("the syncer thread panicked");
        }
    }
}

fn run(url: String, mut conn: Option<(PgConn, Instant)>, batches: Receiver<Committed>) {
    while let Ok(first) = batches.recv() {
        let mut pending = vec![first];
        pending.extend(batches.try_iter());
        let started = Instant::now();
        let marked = mark(&url, &mut conn);
        metrics::histogram!("store_sync_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("store_sync_batches").record(pending.len() as f64);
        for batch in pending {
            let verdict = verdict(&marked, batch.sent_at);
            for (job, outcome) in batch.answers {
                job.finish(match &verdict {
                    Ok(()) => outcome,
                    Err(why) => Err(StoreError::DurabilityUnconfirmed(why.clone())),
                });
            }
        }
    }
}

/// Whether a mark confirms a batch begun at `sent_at`: only one on a connection opened before
/// it (see the module's comment).
fn verdict(marked: &Result<Instant, StoreError>, sent_at: Instant) -> Result<(), String> {
    match marked {
        Ok(connected_at) if *connected_at < sent_at => Ok(()),
        Ok(_) => Err("the connection that confirms commits was opened again after this one".to_owned()),
        Err(error) => Err(error.to_string()),
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
        Some((c, connected_at)) if !c.is_closed() => (&*c, *connected_at),
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::verdict;
    use crate::StoreError;

    #[test]
    fn only_a_mark_on_a_connection_opened_before_the_batch_confirms_it() {
        let opened = Instant::now();
        let batch_begun = opened + Duration::from_millis(1);
        assert_eq!(verdict(&Ok(opened), batch_begun), Ok(()));
        let reopened = batch_begun + Duration::from_millis(1);
        assert!(
            verdict(&Ok(reopened), batch_begun).is_err(),
            "opened after the batch began"
        );
        assert!(verdict(&Ok(batch_begun), batch_begun).is_err(), "not strictly before");
        let failed = Err(StoreError::WriteFailed("connection closed".to_owned()));
        assert!(verdict(&failed, batch_begun).is_err());
    }
}
