//! Durability off the writer's path, on both backends.
//!
//! The writer commits each batch without waiting for the disk and goes on to the next batch at
//! once. No caller is answered yet: the batch's answers go to this thread, which makes the
//! database's log durable up to the commit and only then answers them. One sync answers every
//! batch that arrived while the last one was being synced, so several batches share it, and the
//! writer's next batch runs while the disk works.
//!
//! How the log is made durable is the backend's ([`MakeDurable`]):
//! - PostgreSQL: a small synchronous commit on a connection of its own (see
//!   [`crate::postgres::syncer`]);
//! - SQLite: `fdatasync` of the write-ahead log file (see [`crate::sqlite::LogFile`]).
//!
//! A batch whose commit cannot be confirmed durable is answered "outcome unknown"
//! ([`StoreError::DurabilityUnconfirmed`]): a request sent again with the same
//! `Idempotency-Key` answers as the first time if the commit survived, and runs if not.
//!
//! What others read is visible before it is durable: a reader may see a batch that a crash of
//! the machine (SQLite) or of PostgreSQL in the next few milliseconds would take back, together
//! with its callers' answers, which were never given. What leaves the system as the record (the
//! outbox relay's publishing, webhooks and their deliveries, the HTTP event feed, an
//! aggregate's events, dead letters) is read and then made durable before anything goes (see
//! `Store::read_durable`).

use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Instant;

use crate::writer::JobBox;
use crate::StoreError;

/// A way to make every commit made so far durable.
pub(crate) trait MakeDurable: Send + 'static {
    /// Make every commit that returned before this call durable. On success, the moment from
    /// which this source can vouch for commits: a batch whose commit was sent before it is not
    /// confirmed (a PostgreSQL connection opened again after a crash cannot confirm what the
    /// crash took back).
    fn make_durable(&mut self) -> Result<Instant, StoreError>;
}

/// At most this many committed batches wait for a sync; then the writer waits too, so a
/// stalled sync (a synchronous standby gone, the disk stuck) stops new commits instead of
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
    /// Start the thread, which makes commits durable with `source`.
    pub fn start(source: impl MakeDurable) -> Result<Self, StoreError> {
        let (batches, receiver) = std::sync::mpsc::sync_channel(SYNCER_QUEUE_BATCHES_MAX);
        let thread = std::thread::Builder::new()
            .name("loyalty-syncer".to_owned())
            .spawn(move || run(source, receiver))?;
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

fn run(mut source: impl MakeDurable, batches: Receiver<Committed>) {
    while let Ok(first) = batches.recv() {
        let mut pending = vec![first];
        pending.extend(batches.try_iter());
        let started = Instant::now();
        let synced = source.make_durable();
        metrics::histogram!("store_sync_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("store_sync_batches").record(pending.len() as f64);
        for batch in pending {
            let verdict = verdict(&synced, batch.sent_at);
            for (job, outcome) in batch.answers {
                job.finish(match &verdict {
                    Ok(()) => outcome,
                    Err(why) => Err(StoreError::DurabilityUnconfirmed(why.clone())),
                });
            }
        }
    }
}

/// Whether a sync confirms a batch begun at `sent_at`: only one by a source that could vouch
/// for commits from before it (see [`MakeDurable::make_durable`]).
fn verdict(synced: &Result<Instant, StoreError>, sent_at: Instant) -> Result<(), String> {
    match synced {
        Ok(since) if *since < sent_at => Ok(()),
        Ok(_) => Err("what confirms commits started again after this one (a connection opened again)".to_owned()),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use super::{verdict, Committed, MakeDurable, Syncer};
    use crate::write_tx::WriteTx;
    use crate::writer::WriteJob;
    use crate::StoreError;

    type Journal = Arc<Mutex<Vec<String>>>;

    /// A source that notes each sync, and fails the ones its script says.
    struct Source {
        journal: Journal,
        started: Instant,
        fails: Vec<bool>,
    }

    impl MakeDurable for Source {
        fn make_durable(&mut self) -> Result<Instant, StoreError> {
            self.journal.lock().expect("journal").push("sync".to_owned());
            match self.fails.pop() {
                Some(true) => Err(StoreError::WriteFailed("the device failed".to_owned())),
                _ => Ok(self.started),
            }
        }
    }

    /// A job that notes how it was answered.
    struct Job(&'static str, Journal);

    impl WriteJob for Job {
        fn run(&mut self, _: &mut WriteTx<'_>) -> Result<(), StoreError> {
            Ok(())
        }

        fn finish(self: Box<Self>, outcome: Result<(), StoreError>) {
            let how = match outcome {
                Ok(()) => "ok",
                Err(StoreError::DurabilityUnconfirmed(_)) => "unconfirmed",
                Err(_) => "other error",
            };
            self.1.lock().expect("journal").push(format!("{} {how}", self.0));
        }
    }

    fn batch(name: &'static str, journal: &Journal) -> Committed {
        Committed {
            sent_at: Instant::now(),
            answers: vec![(Box::new(Job(name, Arc::clone(journal))), Ok(()))],
        }
    }

    #[test]
    fn a_batch_is_answered_after_a_sync_begun_after_it_and_a_failed_sync_answers_unconfirmed() {
        let journal: Journal = Arc::default();
        let source = Source {
            journal: Arc::clone(&journal),
            started: Instant::now(),
            // Popped from the end: the first sync succeeds, the second fails.
            fails: vec![true, false],
        };
        std::thread::sleep(Duration::from_millis(1));
        let syncer = Syncer::start(source).expect("syncer");
        syncer.send(batch("first", &journal));
        // Wait for the first answer, so the second batch needs a sync of its own.
        let deadline = Instant::now() + Duration::from_secs(10);
        while journal.lock().expect("journal").len() < 2 {
            assert!(Instant::now() < deadline, "the first batch was never answered");
            std::thread::sleep(Duration::from_millis(1));
        }
        syncer.send(batch("second", &journal));
        syncer.stop();
        assert_eq!(
            *journal.lock().expect("journal"),
            ["sync", "first ok", "sync", "second unconfirmed"]
        );
    }

    #[test]
    fn only_a_sync_by_a_source_vouching_from_before_the_batch_confirms_it() {
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
