//! The group-commit writer: one thread, one connection, many commands per transaction.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use crate::db::{Db, PgConn};
use crate::shared_loads::SharedLoads;
use crate::sqlite::{HeldStatements, LogFile};
use crate::syncer::{Committed, Syncer};
use crate::write_tx::WriteTx;
use crate::{Prefetch, StoreError, CONFLICT_RETRY_COUNT_MAX, WRITER_BATCH_COUNT_MAX};

/// The writer's own connection.
pub(crate) enum WriterConn {
    /// With the log its commits are made durable by, whose failure halts the writer.
    Sqlite(rusqlite::Connection, Arc<LogFile>),
    /// With the URL, to reconnect after the server closed the connection.
    Pg { conn: Box<PgConn>, url: String },
}

/// The connection the writer runs its batches on.
trait BatchConn {
    /// The connection for the next batch.
    fn for_batch(&mut self) -> Db<'_>;

    /// Why no batch may run any more, if so.
    fn halted(&self) -> Option<String> {
        None
    }
}

/// SQLite: the writer's connection, with the statements it holds prepared (see
/// [`HeldStatements`]).
struct SqliteWriter<'c> {
    conn: &'c rusqlite::Connection,
    held: HeldStatements<'c>,
    log: Arc<LogFile>,
}

impl BatchConn for SqliteWriter<'_> {
    fn for_batch(&mut self) -> Db<'_> {
        Db::Sqlite(self.conn, Some(&self.held))
    }

    /// Once a sync of the log failed, no commit could be made durable (see [`LogFile`]).
    fn halted(&self) -> Option<String> {
        self.log.failure().map(str::to_owned)
    }
}

/// PostgreSQL: the writer's connection, with the URL to reconnect after the server closed it.
struct PgWriter {
    conn: Box<PgConn>,
    url: String,
}

impl BatchConn for PgWriter {
    fn for_batch(&mut self) -> Db<'_> {
        if self.conn.closed_while_idle() {
            match crate::postgres::connect(&self.url) {
                Ok(fresh) => {
                    tracing::warn!("writer reconnected to PostgreSQL");
                    *self.conn = fresh;
                }
                Err(e) => tracing::error!(error = %e, "writer could not reconnect to PostgreSQL"),
            }
        }
        Db::Pg(self.conn.as_ref())
    }
}

/// A unit of work for the writer. `run` may be called more than once (after a conflict); its
/// effects are kept only if the batch commits, and only then is the caller told.
pub(crate) trait WriteJob: Send {
    fn run(&mut self, tx: &mut WriteTx<'_>) -> Result<(), StoreError>;
    fn finish(self: Box<Self>, outcome: Result<(), StoreError>);
    /// What the job reads first, for the batch's first round trip (see [`Prefetch`]).
    fn prefetch(&self) -> Option<&Prefetch> {
        None
    }
}

/// A job returning a value of type `T` through a oneshot channel.
pub(crate) struct TypedJob<F, T> {
    pub work: F,
    pub result: Option<T>,
    pub reply: oneshot::Sender<Result<T, StoreError>>,
    pub prefetch: Option<Prefetch>,
}

impl<F, T> WriteJob for TypedJob<F, T>
where
    F: FnMut(&mut WriteTx<'_>) -> Result<T, StoreError> + Send,
    T: Send,
{
    fn run(&mut self, tx: &mut WriteTx<'_>) -> Result<(), StoreError> {
        self.result = Some((self.work)(tx)?);
        Ok(())
    }

    fn finish(self: Box<Self>, outcome: Result<(), StoreError>) {
        let answer = match (outcome, self.result) {
            (Ok(()), Some(value)) => Ok(value),
            (Ok(()), None) => Err(StoreError::Corrupt("job finished without a result".to_owned())),
            (Err(e), _) => Err(e),
        };
        // The caller may have gone (a dropped request); its work is committed all the same.
        let _ = self.reply.send(answer);
    }

    fn prefetch(&self) -> Option<&Prefetch> {
        self.prefetch.as_ref()
    }
}

pub(crate) type JobBox = Box<dyn WriteJob>;

/// Run the writer until every sender is dropped. Batches commit without waiting for the disk
/// and the `syncer` answers their jobs once they are durable (see [`crate::syncer`]).
pub(crate) fn run(conn: WriterConn, jobs: mpsc::Receiver<JobBox>, syncer: Syncer) {
    match conn {
        WriterConn::Sqlite(conn, log) => {
            serve(
                SqliteWriter {
                    conn: &conn,
                    held: HeldStatements::new(&conn),
                    log: Arc::clone(&log),
                },
                jobs,
                syncer,
            );
            if log.failure().is_some() {
                crate::sqlite::no_checkpoint_on_close(&conn);
            }
        }
        WriterConn::Pg { conn, url } => serve(PgWriter { conn, url }, jobs, syncer),
    }
}

/// The writer's loop (see [`run`]).
fn serve(mut conn: impl BatchConn, mut jobs: mpsc::Receiver<JobBox>, syncer: Syncer) {
    let mut batch: Vec<JobBox> = Vec::with_capacity(WRITER_BATCH_COUNT_MAX);
    while let Some(first) = jobs.blocking_recv() {
        batch.push(first);
        while batch.len() < WRITER_BATCH_COUNT_MAX {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Some(why) = conn.halted() {
            for job in batch.drain(..) {
                job.finish(Err(StoreError::Halted(why.clone())));
            }
            continue;
        }
        let db = conn.for_batch();
        let sent_at = Instant::now();
        let answers = commit_batch(db, &mut batch);
        syncer.send(Committed { sent_at, answers });
    }
    syncer.stop();
    tracing::debug!("writer stopped: every handle was dropped");
}

/// Begin the batch's transaction. On PostgreSQL in one round trip, which takes the event-log
/// lock (see [`crate::postgres::EVENT_LOG_LOCK_SQL`]) so positions commit in the order they are
/// taken, and reads what every job named to read first.
fn begin(db: Db<'_>, batch: &[JobBox]) -> Result<(), StoreError> {
    match db {
        Db::Pg(conn) => {
            let hints: Vec<&Prefetch> = batch.iter().filter_map(|job| job.prefetch()).collect();
            conn.begin_batch(&hints)
        }
        Db::Sqlite(..) => db.begin(),
    }
}

/// Run and commit the batch; each job with its outcome, to answer once the commit is durable.
fn commit_batch(db: Db<'_>, batch: &mut Vec<JobBox>) -> Vec<(JobBox, Result<(), StoreError>)> {
    let started = Instant::now();
    let size = batch.len();
    let mut answers = Vec::with_capacity(size);
    // The batch first runs fast: no savepoints (on PostgreSQL its rows also sent together). A
    // command that fails having written nothing leaves nothing to undo. If one fails after
    // writing, or a write fails, the batch runs again strictly, with a savepoint per command
    // (on PostgreSQL, whose writes are sent when it ends), so a failure is that command's
    // alone (see `postgres::conn`).
    for strict in [false, true] {
        db.set_strict(strict);
        match run_batch(db, batch, strict) {
            Ok(outcomes) => {
                answers.extend(batch.drain(..).zip(outcomes));
                break;
            }
            Err(BatchFailure { error, own: true, .. }) => {
                let _ = db.rollback();
                if let Some(job) = batch.pop() {
                    answers.push((job, Err(error.before_commit())));
                }
                batch.clear();
                break;
            }
            Err(BatchFailure {
                error, retry_strict, ..
            }) => {
                let _ = db.rollback();
                if retry_strict && !strict {
                    metrics::counter!("store_batch_strict_retries_total").increment(1);
                    tracing::warn!(%error, "the batch failed in fast mode; running it again with a savepoint per command");
                    continue;
                }
                tracing::error!(%error, "group commit failed");
                answers.extend(batch.drain(..).map(|job| (job, Err(error.for_each_caller()))));
                break;
            }
        }
    }
    db.set_strict(false);
    metrics::histogram!("store_batch_commands").record(size as f64);
    metrics::histogram!("store_batch_seconds").record(started.elapsed().as_secs_f64());
    answers
}

/// Why a batch did not commit, and whether running it strictly could help.
struct BatchFailure {
    error: StoreError,
    retry_strict: bool,
    /// The error is the batch's only job's own outcome, to answer it with.
    own: bool,
}

/// Run every job of the batch in one transaction and commit it; the jobs' outcomes.
fn run_batch(db: Db<'_>, batch: &mut [JobBox], strict: bool) -> Result<Vec<Result<(), StoreError>>, BatchFailure> {
    begin(db, batch).map_err(|error| BatchFailure {
        error,
        retry_strict: false,
        own: false,
    })?;
    let now = chrono::Utc::now();
    let shared = SharedLoads::default();
    let mut outcomes: Vec<Result<(), StoreError>> = Vec::with_capacity(batch.len());
    let single = batch.len() == 1;
    for job in batch.iter_mut() {
        let outcome = match db {
            Db::Sqlite(conn, _) if !strict => match run_unguarded(db, conn, job.as_mut(), now, &shared) {
                Unguarded::Done(outcome) => outcome,
                // A batch of one (an import, say) needs no second run to keep the others'
                // work: rolling back answers its job, unless it is a conflict to retry.
                Unguarded::WroteThenFailed(error) if single && !retryable(&error, 0) => {
                    return Err(BatchFailure {
                        error,
                        retry_strict: false,
                        own: true,
                    })
                }
                Unguarded::WroteThenFailed(error) => {
                    return Err(BatchFailure {
                        error,
                        retry_strict: true,
                        own: false,
                    })
                }
            },
            _ => run_in_savepoint(db, job.as_mut(), now, &shared),
        };
        outcomes.push(outcome);
        if db.batch_poisoned() {
            // The transaction is lost: the rest of the batch waits for the strict run.
            return Err(BatchFailure {
                error: outcomes
                    .pop()
                    .and_then(Result::err)
                    .unwrap_or_else(StoreError::batch_poisoned),
                retry_strict: true,
                own: false,
            });
        }
    }
    let committing = Instant::now();
    let committed = db.commit_unsynced();
    metrics::histogram!("store_commit_seconds").record(committing.elapsed().as_secs_f64());
    committed.map(|()| outcomes).map_err(|error| {
        if error.is_connection_lost() {
            // The COMMIT may have been carried out, its answer lost with the connection: the
            // batch's callers are told the outcome is unknown (a request sent again with the
            // same Idempotency-Key answers as the first time if it was kept), and nothing is
            // run again on this connection.
            let why =
                format!("the connection to the database was lost before the batch's COMMIT was answered ({error})");
            return BatchFailure {
                error: StoreError::DurabilityUnconfirmed(why),
                retry_strict: false,
                own: false,
            };
        }
        BatchFailure {
            retry_strict: db.batch_poisoned(),
            own: false,
            error,
        }
    })
}

/// What a job run without a savepoint came to.
enum Unguarded {
    /// It succeeded, or failed having changed nothing: its outcome stands.
    Done(Result<(), StoreError>),
    /// It failed after changing rows that only rolling the whole transaction back can undo.
    WroteThenFailed(StoreError),
}

/// One job on SQLite without a savepoint (`SAVEPOINT`, `RELEASE` and the statement journal
/// that each savepoint's first change of a page writes cost the writer about 7% more CPU per
/// accrual).
/// Commands decide before they write, so one that fails (a domain error, a conflict) has almost
/// always changed nothing, which SQLite's count of changed rows tells: a failed statement's own
/// changes are undone by SQLite and not counted. A conflict is then retried as in
/// [`run_in_savepoint`].
fn run_unguarded(
    db: Db<'_>,
    conn: &rusqlite::Connection,
    job: &mut dyn WriteJob,
    now: chrono::DateTime<chrono::Utc>,
    shared: &SharedLoads,
) -> Unguarded {
    let mut attempt = 0;
    loop {
        let before = conn.total_changes();
        let mut tx = WriteTx::new(db, now, shared);
        let Err(error) = job.run(&mut tx) else {
            return Unguarded::Done(Ok(()));
        };
        // What the job loaded is still true if it changed nothing, and the whole transaction
        // is run again if it did; forgetting it all the same keeps the rule simple.
        shared.clear();
        // Some failures (an I/O error, a full disk) make SQLite roll the whole transaction
        // back itself: that too needs the batch run again.
        if conn.total_changes() != before || conn.is_autocommit() {
            return Unguarded::WroteThenFailed(error);
        }
        if !retry_after(&error, &mut attempt) {
            return Unguarded::Done(Err(error));
        }
    }
}

/// One job in its own savepoint: on error everything it wrote is undone, nothing else is.
fn run_in_savepoint(
    db: Db<'_>,
    job: &mut dyn WriteJob,
    now: chrono::DateTime<chrono::Utc>,
    shared: &SharedLoads,
) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        db.savepoint()?;
        let mut tx = WriteTx::new(db, now, shared);
        // On PostgreSQL what the command queued is sent with the next command's first
        // statement, or before COMMIT; a failure then fails the whole batch.
        let Err(error) = job.run(&mut tx).and_then(|()| db.release_savepoint()) else {
            return Ok(());
        };
        // What the job loaded after changing it is undone with it.
        shared.clear();
        db.rollback_to_savepoint()?;
        if !retry_after(&error, &mut attempt) {
            return Err(error);
        }
    }
}

/// Whether a job that failed with `error` runs again (see [`retryable`]); if so, the attempt
/// is counted and logged.
fn retry_after(error: &StoreError, attempt: &mut u32) -> bool {
    if !retryable(error, *attempt) {
        return false;
    }
    *attempt += 1;
    metrics::counter!("store_conflict_retries_total").increment(1);
    tracing::debug!(attempt = *attempt, %error, "retrying after a concurrency conflict");
    true
}

/// A conflict (or a deadlock) is retried on fresh state, a few times.
fn retryable(error: &StoreError, attempt: u32) -> bool {
    (matches!(error, StoreError::Conflict { .. }) || error.is_transient()) && attempt < CONFLICT_RETRY_COUNT_MAX
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::sync::{mpsc, oneshot};

    use super::{serve, BatchConn, JobBox, TypedJob};
    use crate::db::Db;
    use crate::syncer::{MakeDurable, Syncer};
    use crate::write_tx::WriteTx;
    use crate::StoreError;

    /// A writer whose log failed to sync.
    struct HaltedConn;

    impl BatchConn for HaltedConn {
        fn for_batch(&mut self) -> Db<'_> {
            panic!("a halted writer runs no batch")
        }

        fn halted(&self) -> Option<String> {
            Some("the log's device failed".to_owned())
        }
    }

    struct AlwaysDurable;

    impl MakeDurable for AlwaysDurable {
        fn make_durable(&mut self) -> Result<Instant, StoreError> {
            Ok(Instant::now())
        }
    }

    #[test]
    fn a_halted_writer_runs_no_command_and_answers_each_halted() {
        let (jobs, receiver) = mpsc::channel::<JobBox>(4);
        let mut answers = Vec::new();
        for _ in 0..3 {
            let (reply, answer) = oneshot::channel();
            let job = TypedJob {
                work: |_: &mut WriteTx<'_>| -> Result<(), StoreError> { panic!("a command ran") },
                result: None,
                reply,
                prefetch: None,
            };
            jobs.blocking_send(Box::new(job)).expect("queued");
            answers.push(answer);
        }
        drop(jobs);
        serve(HaltedConn, receiver, Syncer::start(AlwaysDurable).expect("syncer"));
        for answer in answers {
            let answer = answer.blocking_recv().expect("answered");
            assert!(matches!(answer, Err(StoreError::Halted(_))), "{answer:?}");
        }
    }
}
