//! WAL checkpoints on a thread of their own, so the writer's commits never wait for one.
//!
//! The writer's connection has automatic checkpoints off. This thread copies committed WAL
//! frames into the database every [`CHECKPOINT_INTERVAL_MS`] with a PASSIVE checkpoint, which
//! never blocks the writer; once the log is fully copied, SQLite starts it again from the top.
//!
//! Under steady load that restart may never come: the log starts again only when no reader
//! still reads from it, and with reads arriving all the time one always does. The log then
//! grows without end (a gigabyte in eight seconds of the accrual bench), and every commit
//! appends to new file blocks that the file system must first zero (a fifth of the writer's
//! time). So once the log holds [`WAL_RESTART_FRAMES`] frames and a PASSIVE checkpoint has
//! just copied all of it, this thread has a RESTART checkpoint tried ([`restart_log`]) that
//! gives up at once if the writer is mid-batch, a reader still reads the log, or this thread's
//! checkpoint holds the checkpoint lock, and asks again at the next tick; the writer's next
//! commit then starts the log from the top. Since the RESTART holds the writer off while it
//! copies what is left and syncs the database file, two more PASSIVE checkpoints, each with a
//! sync of the database file, run just before it ([`settle`]) and leave it little to copy or
//! sync; both run on a thread of their own at the process's priority ([`Restarter`]), while
//! this thread's copying runs at a lower one.
//! Only if the log reaches twice the limit does the RESTART wait, for at most
//! [`RESTART_WAIT_MS`], holding the writer off meanwhile. (Run by the writer between batches,
//! the RESTART stalled it for each attempt's copy and `fsync`: 2 to 36 ms.)
//!
//! After each checkpoint the pages it copied are sent on to the device at once
//! ([`DatabaseWriteback`]). SQLite syncs the database file only when a checkpoint has copied
//! the whole log, which under load happens every half second or so; left alone, the pages of
//! all the checkpoints in between reached the device together in that sync (26–32 ms), and the
//! log's syncs at commit (then the writer's, now the syncer's) queued behind them: the p99
//! latency of accruals at a fixed 3,000/s was 17.3–28.7 ms with the sync left alone and 6.7–9.5 ms with the pages sent on every 100 ms
//! (nine runs of each, BENCHMARKS.md, 2026-12-06). SQLite's sync still comes, and still decides
//! durability; this only leaves it less to do.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::connection::open_writer;
use super::writeback::DatabaseWriteback;
use super::LogFile;
use crate::StoreError;

/// How often the WAL is copied into the database.
pub const CHECKPOINT_INTERVAL_MS: u64 = 100;
/// How many frames (pages) the log may hold before it is restarted: 256 MiB of 4 KiB pages.
///
/// Each RESTART holds the writer off for a few milliseconds (the copy of the last commits and
/// the database file's sync, see [`settle`]), and at a fixed 6,000 accruals/s the log reached
/// 64 MiB about twice a second. With 256 MiB, at that rate, the p99 went from 26–70 ms to
/// 5.8–8.2 ms and the accruals answered in over 5 ms from 2.4–4.0% to 0.6–1.1% (three
/// alternating pairs, BENCHMARKS.md, nineteenth session). The cost: a RESTART never shrinks the
/// log's file, and one is tried only once a PASSIVE checkpoint has copied the whole log, so
/// under load the file grows past the limit, to about twice it (550 MB after a closed-loop
/// run at 12,000 accruals/s), and keeps that much disk until the store closes; recovery after
/// a crash reads it (the store opened at once after a SIGKILL with a log of that size).
pub const WAL_RESTART_FRAMES: i64 = 65_536;
/// How long a RESTART checkpoint may wait for readers, holding off the writer.
pub const RESTART_WAIT_MS: u64 = 50;

/// Start the checkpointer; it stops once `stop` is set (and its thread unparked), after a last
/// checkpoint that truncates the log if nothing is in its way. Once `log` has halted (a sync of
/// it failed, see [`LogFile`]) it copies nothing more into the database: what the log holds
/// since then may never have reached the device, and a restart recovers from what did.
pub fn spawn(
    path: PathBuf,
    restart_frames: i64,
    stop: Arc<AtomicBool>,
    log: Arc<LogFile>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let conn = open_writer(&path)?;
    super::guard_with(&conn, &log)?;
    let writeback = DatabaseWriteback::open(&path)?;
    let restarter_conn = open_writer(&path)?;
    super::guard_with(&restarter_conn, &log)?;
    let restarter = Restarter::spawn(restarter_conn, Arc::clone(&log))?;
    let thread = std::thread::Builder::new()
        .name("loyalty-checkpointer".to_owned())
        .spawn(move || {
            // Its copying yields the cores to the threads requests wait on; the RESTART, which
            // holds the writer off, runs on the restarter's thread, at the process's priority.
            super::background_priority::lower_this_thread();
            checkpoint_until_stopped(&conn, &writeback, restart_frames, &stop, &log, &restarter);
            restarter.stop();
            // The store may have halted while the restarter finished.
            if log.failure().is_some() {
                super::no_checkpoint_on_close(&conn);
            } else if stop.load(Ordering::Acquire) {
                truncate_log(&conn);
            }
        })?;
    Ok(thread)
}

/// The checkpointer's loop: a PASSIVE checkpoint every [`CHECKPOINT_INTERVAL_MS`] (and a
/// RESTART asked of `restarter` when the log is long), until `stop` is set or the store halts.
fn checkpoint_until_stopped(
    conn: &rusqlite::Connection,
    writeback: &DatabaseWriteback,
    restart_frames: i64,
    stop: &AtomicBool,
    log: &LogFile,
    restarter: &Restarter,
) {
    // Warned about once: a failure loses nothing (see `DatabaseWriteback`).
    let mut writeback_failed = false;
    loop {
        if log.failure().is_some() {
            tracing::warn!("checkpoints stopped: the store has halted");
            super::no_checkpoint_on_close(conn);
            break;
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        match passive_checkpoint(conn) {
            // The restarter held the checkpoint lock: nothing was copied, nothing is known.
            Ok(Checkpointed {
                busy: true, log_frames, ..
            }) if log_frames < 0 => {}
            Ok(Checkpointed {
                log_frames,
                copied_frames,
                ..
            }) => {
                if let Err(e) = writeback.start() {
                    if !writeback_failed {
                        tracing::warn!(error = %e, "could not start the database file's writeback");
                    }
                    writeback_failed = true;
                }
                metrics::gauge!("store_wal_frames").set(log_frames as f64);
                metrics::gauge!("store_wal_frames_behind").set((log_frames - copied_frames) as f64);
                // Tried when this checkpoint copied everything, so the RESTART has next
                // to nothing to copy; past twice the limit, patiently, whatever is left.
                let patient = log_frames >= 2 * restart_frames;
                if log_frames >= restart_frames && (copied_frames == log_frames || patient) {
                    restarter.ask(patient);
                }
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
        }
        std::thread::park_timeout(Duration::from_millis(CHECKPOINT_INTERVAL_MS));
    }
}

/// What a PASSIVE checkpoint reports (`PRAGMA wal_checkpoint`'s row).
struct Checkpointed {
    /// It could not run to the end: another connection held the checkpoint lock.
    busy: bool,
    /// The log's frames as they were when it began (-1 if it did not run).
    log_frames: i64,
    /// How many of them are now copied into the database (-1 if it did not run).
    copied_frames: i64,
}

/// A PASSIVE checkpoint on `conn`: it copies what it can without waiting for anyone.
fn passive_checkpoint(conn: &rusqlite::Connection) -> rusqlite::Result<Checkpointed> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(Checkpointed {
            busy: row.get::<_, i64>(0)? != 0,
            log_frames: row.get(1)?,
            copied_frames: row.get(2)?,
        })
    })
}

/// The last checkpoint: copy the whole log into the database and truncate it, giving up at
/// once if another process is writing or reading the log (its own checkpointer carries on).
fn truncate_log(conn: &rusqlite::Connection) {
    let result = conn
        .busy_timeout(Duration::ZERO)
        .and_then(|()| conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get::<_, i64>(0)));
    match result {
        Ok(0) => {}
        Ok(_) => tracing::debug!("the last checkpoint left the log: another process is using it"),
        Err(e) => tracing::debug!(error = %e, "the last checkpoint left the log"),
    }
}

/// The thread that restarts the log when the checkpointer asks, on a connection of its own.
///
/// Apart from the checkpointer because the RESTART holds the writer's lock while it copies and
/// syncs: at the checkpointer's lower priority it could be preempted meanwhile, with every
/// commit waiting, and on a saturated machine fall behind. Here it runs at the process's
/// priority. SQLite's checkpoint lock keeps the two threads' checkpoints from overlapping.
struct Restarter {
    asks: std::sync::mpsc::SyncSender<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl Restarter {
    fn spawn(conn: rusqlite::Connection, log: Arc<LogFile>) -> Result<Self, StoreError> {
        // One request waits at most: a RESTART asked while one is pending would find the log
        // already restarted.
        let (asks, asked) = std::sync::mpsc::sync_channel::<bool>(1);
        let thread = std::thread::Builder::new()
            .name("loyalty-restarter".to_owned())
            .spawn(move || {
                while let Ok(patient) = asked.recv() {
                    // Not once the store has halted: the log's pages since then may never have
                    // reached the device.
                    if log.failure().is_none() && settle(&conn) && log.failure().is_none() {
                        restart_log(&conn, patient);
                    }
                }
                if log.failure().is_some() {
                    super::no_checkpoint_on_close(&conn);
                }
            })?;
        Ok(Self { asks, thread })
    }

    /// Ask for a RESTART (patient: past twice the limit); none is added if one is pending.
    fn ask(&self, patient: bool) {
        if let Err(std::sync::mpsc::TrySendError::Disconnected(_)) = self.asks.try_send(patient) {
            tracing::error!("the log's restarter thread has ended: the log is no longer restarted");
        }
    }

    /// Stop the thread once the RESTART it may be running is done.
    fn stop(self) {
        drop(self.asks);
        if self.thread.join().is_err() {
            tracing::error!("the log's restarter thread panicked");
        }
    }
}

/// Just before a RESTART, [`SETTLE_PASSES`] more PASSIVE checkpoints, each followed by a sync
/// of the database file (unless the pass copied nothing more): they copy, and make durable in
/// the database file, what was committed since the last one, without holding up the writer.
///
/// The RESTART holds the writer's lock while it copies what is left and syncs the database
/// file, so every commit waits for it. Without a settle it was left the commits of the whole
/// time the database's writeback took to start (`sync_file_range` blocked 7–38 ms on a busy
/// device, `strace`); with one PASSIVE checkpoint before it, at a fixed 6,000 accruals/s, the
/// p99 went from 20.7–48.1 ms to 7.1–31.5 ms (BENCHMARKS.md, nineteenth session). But SQLite
/// syncs the database file only after a checkpoint that copied the whole log, which under load
/// never happens (the writer commits meanwhile), so the RESTART's sync still wrote out
/// everything the settle had copied: 6.5–17.8 ms per RESTART on average per run at 8,000/s
/// and in the closed loop, 26 of 45 over 10 ms. With the syncs here, the second pass takes
/// what was committed while the first was synced, and the RESTART is left only what was
/// committed during the second: 5.6–7.6 ms, 5 of 41 over 10 ms (`store_wal_restart_seconds`,
/// five alternating pairs, BENCHMARKS.md, twenty-first session). The sync goes through the
/// store's VFS, so a failure halts the store as a checkpoint's would.
///
/// Whether it ran: after a failure (an I/O error, say a failed sync), or when the
/// checkpointer's own checkpoint held the lock, no RESTART follows; the checkpointer asks
/// again at a later tick, and the restarter checks first whether the store has halted.
fn settle(conn: &rusqlite::Connection) -> bool {
    let mut copied_before = None;
    for _ in 0..SETTLE_PASSES {
        let copied = match passive_checkpoint(conn) {
            Ok(Checkpointed {
                busy: false,
                copied_frames,
                ..
            }) => copied_frames,
            Ok(_) => return false,
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint before a restart failed; no restart this time");
                return false;
            }
        };
        // A pass that copied nothing more has nothing more to sync. One that reports the whole
        // log copied may still need it: the report is of the log as it was when the pass began,
        // and SQLite syncs only if no commit came meanwhile.
        let nothing_more = copied_before == Some(copied);
        copied_before = Some(copied);
        if nothing_more {
            continue;
        }
        if let Err(e) = super::sync_database_file(conn) {
            tracing::warn!(error = %e, "the database file was not synced before a restart; no restart this time");
            return false;
        }
    }
    true
}

/// How many PASSIVE checkpoints, each followed by a sync of the database file (if it copied
/// more), run before a RESTART (see [`settle`]).
const SETTLE_PASSES: usize = 2;

/// A RESTART checkpoint, after which the writer's next commit starts the log from the top.
///
/// Impatient, it gives up at once when anything is in its way (the writer mid-batch, a reader
/// still in the log). Patient, it waits at most [`RESTART_WAIT_MS`], polling every 100 µs
/// ([`poll_briefly`]): reads take well under a millisecond, and SQLite's default back-off (1,
/// 2, 5, 10 ms, ...) would hold the writer up for longer than the readers do.
fn restart_log(conn: &rusqlite::Connection, patient: bool) {
    let waiting = if patient {
        conn.busy_handler(Some(poll_briefly))
    } else {
        conn.busy_timeout(Duration::ZERO)
    };
    let started = std::time::Instant::now();
    let result =
        waiting.and_then(|()| conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| row.get::<_, i64>(0)));
    let outcome = match result {
        Ok(0) => "restarted",
        Ok(_) => "busy",
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::DatabaseBusy => "busy",
        Err(e) => {
            tracing::warn!(error = %e, "WAL restart failed; retrying");
            "failed"
        }
    };
    metrics::counter!("store_wal_restarts_total", "outcome" => outcome).increment(1);
    // How long the attempt took; a "restarted" one held the writer off meanwhile.
    metrics::histogram!("store_wal_restart_seconds", "outcome" => outcome).record(started.elapsed().as_secs_f64());
    // The connection's own busy handler again.
    if let Err(e) = conn.busy_handler(Some(super::connection::wait_for_lock)) {
        tracing::warn!(error = %e, "could not restore the restarter's busy handler");
    }
}

/// SQLite's busy handler for [`restart_log`]: every wait brief, until [`RESTART_WAIT_MS`] have
/// passed.
fn poll_briefly(attempts: i32) -> bool {
    super::connection::poll_for_lock(attempts, u64::MAX, Duration::from_millis(RESTART_WAIT_MS))
}

#[cfg(test)]
mod tests {
    use super::{passive_checkpoint, settle};
    use crate::sqlite::log_vfs::tests::{insert, writer};
    use crate::sqlite::{database_syncs, open_reader, open_writer};

    /// A checkpoint reports the log's length as it was when it began, so under load it reports
    /// "all copied" while the writer has committed more, and then SQLite has not synced the
    /// database file: the settle cannot take that report for a sync. Here a writer commits all
    /// the while the settle runs.
    #[test]
    fn the_settle_syncs_what_it_copied_while_the_writer_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        let first = writer(&path);
        insert(&first, 0..100);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let committing = {
            let (path, stop) = (path.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let conn = writer(&path);
                let mut next = 1_000;
                while !stop.load(std::sync::atomic::Ordering::Acquire) {
                    insert(&conn, next..next + 20);
                    next += 20;
                }
            })
        };
        let restarter = open_writer(&path).expect("the restarter");
        // A settle that meets the writer restarting the log gives up (busy), as in the store,
        // where the next tick asks again; those are not counted.
        let (mut ran, mut unsynced) = (0, 0);
        for _ in 0..20 {
            let before = database_syncs();
            if !settle(&restarter) {
                continue;
            }
            ran += 1;
            if database_syncs() == before {
                unsynced += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Release);
        committing.join().expect("the writer");
        assert!(ran > 0, "no settle ran");
        assert_eq!(unsynced, 0, "settles (of {ran}) that left what they copied unsynced");
    }

    /// SQLite syncs the database file only after a checkpoint that copied the whole log, and
    /// under load the settle's never does (the writer commits meanwhile), so the RESTART after
    /// it used to sync, holding the writer off, everything the settle had copied. The settle
    /// now syncs the database file itself after each of its checkpoints that copied more. Here
    /// a reader keeps the log's latest commit from being copied, as the writer's commits do
    /// under load.
    #[test]
    fn the_settle_before_a_restart_syncs_what_it_copied_even_when_it_could_not_copy_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        let writer = writer(&path);
        insert(&writer, 0..100);
        let reader = open_reader(&path).expect("a reader");
        reader.execute_batch("BEGIN").expect("begin");
        let seen: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("read");
        assert_eq!(seen, 100);
        insert(&writer, 100..200);

        let restarter = open_writer(&path).expect("the restarter");
        let before = database_syncs();
        assert!(settle(&restarter), "the settle ran");
        // The first pass copied what the reader allows and synced it; the second had nothing
        // more to copy, nor to sync.
        assert_eq!(database_syncs() - before, 1, "the database file synced after the copy");
        let checkpointed = passive_checkpoint(&restarter).expect("a checkpoint");
        assert!(
            checkpointed.copied_frames < checkpointed.log_frames,
            "the reader kept the latest commit in the log ({} of {})",
            checkpointed.copied_frames,
            checkpointed.log_frames
        );
        reader.execute_batch("COMMIT").expect("end the read");
    }
}
