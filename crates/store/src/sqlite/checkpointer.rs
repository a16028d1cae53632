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
//! time). So once the log holds [`WAL_RESTART_FRAMES`] frames, the checkpointer asks the
//! writer for a RESTART checkpoint ([`restart_log`]), which the writer runs between two
//! batches: it copies what is left, waits for the log's readers to finish (at most
//! [`RESTART_WAIT_MS`]; new readers read the database file meanwhile), and the writer's next
//! commit starts the log from the top. Run by the checkpointer itself, it lost the race for
//! the write lock to the busy writer almost every time.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::connection::open_writer;
use crate::StoreError;

/// How often the WAL is copied into the database.
pub const CHECKPOINT_INTERVAL_MS: u64 = 100;
/// How many frames (pages) the log may hold before it is restarted: 64 MiB of 4 KiB pages.
pub const WAL_RESTART_FRAMES: i64 = 16_384;
/// How long a RESTART checkpoint may wait for readers, holding off the writer.
pub const RESTART_WAIT_MS: u64 = 50;

/// Start the checkpointer; it stops (after a last checkpoint) once `stop` is set.
pub fn spawn(
    path: PathBuf,
    restart_frames: i64,
    restart_wanted: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Result<(), StoreError> {
    let conn = open_writer(&path)?;
    std::thread::Builder::new()
        .name("loyalty-checkpointer".to_owned())
        .spawn(move || loop {
            let stopping = stop.load(Ordering::Acquire);
            let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            });
            match result {
                Ok((log_frames, copied_frames)) => {
                    metrics::gauge!("store_wal_frames").set(log_frames as f64);
                    metrics::gauge!("store_wal_frames_behind").set((log_frames - copied_frames) as f64);
                    // Asked when this checkpoint copied everything, so the restart has only
                    // the readers to wait for; past twice the limit, whatever is left.
                    let caught_up = copied_frames == log_frames;
                    if (log_frames >= restart_frames && caught_up) || log_frames >= 2 * restart_frames {
                        restart_wanted.store(true, Ordering::Release);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
            }
            if stopping {
                break;
            }
            std::thread::sleep(Duration::from_millis(CHECKPOINT_INTERVAL_MS));
        })?;
    Ok(())
}

/// A RESTART checkpoint on the writer's connection, waiting at most [`RESTART_WAIT_MS`] for
/// the log's readers.
pub fn restart_log(conn: &rusqlite::Connection) {
    let short = conn.busy_timeout(Duration::from_millis(RESTART_WAIT_MS));
    let result = short.and_then(|()| conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| row.get::<_, i64>(0)));
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
    if let Err(e) = conn.busy_timeout(Duration::from_millis(super::connection::BUSY_TIMEOUT_MS)) {
        tracing::warn!(error = %e, "could not restore the checkpointer's busy timeout");
    }
}
