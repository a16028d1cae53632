//! WAL checkpoints on a thread of their own, so the writer's commits never wait for one.
//!
//! The writer's connection has automatic checkpoints off. This thread copies committed WAL
//! frames into the database every [`CHECKPOINT_INTERVAL_MS`] with a PASSIVE checkpoint, which
//! never blocks the writer; once the log is fully copied, SQLite starts it again from the top.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::connection::open_writer;
use crate::StoreError;

/// How often the WAL is copied into the database.
pub const CHECKPOINT_INTERVAL_MS: u64 = 100;

/// Start the checkpointer; it stops (after a last checkpoint) once `stop` is set.
pub fn spawn(path: PathBuf, stop: Arc<AtomicBool>) -> Result<(), StoreError> {
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
