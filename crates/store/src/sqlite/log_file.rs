//! Durability off the writer's path on SQLite: the write-ahead log's file, which the syncer
//! (see [`crate::syncer`]) syncs while the writer runs its next batch.
//!
//! The writer commits with `synchronous = NORMAL`: SQLite writes the batch's pages to the log
//! and returns without `fsync`. The commit is then in the kernel's page cache, where a crash
//! of the process cannot take it, but a crash of the machine can. The syncer then calls
//! `fdatasync` on the log, on a descriptor of its own: that writes every page the log has
//! received so far to the device, and only then are the batches it covers answered. One
//! `fdatasync` covers every batch committed before it began, so batches share it, and the next
//! batch runs while the device works (with `synchronous = FULL` the writer waited for it,
//! about a third of its time).
//!
//! The rest of SQLite's syncing stays as with `FULL`: in `NORMAL`, SQLite still syncs a new
//! log header before the first frame after the log was restarted (so a crash cannot pair an
//! old header with new frames), and every checkpoint syncs the log before it copies frames
//! into the database file and the file before the log may be restarted.
//!
//! SQLite takes no POSIX lock on the log (a connection's locks are on the database file and the
//! `-shm` file), so this descriptor may be closed without dropping any (unlike the database
//! file's own: see `writeback`).
//!
//! A failed `fdatasync` cannot be retried: Linux may have marked the pages clean, so a second
//! call could succeed without writing them. Once one fails, every later sync fails too, the
//! batches waiting for it are answered "outcome unknown", and the store halts: the writer
//! refuses new commands, reads refuse to show what may not survive a power cut, and the
//! checkpointer copies nothing more into the database, until the server is restarted (SQLite
//! then recovers from what the log holds on the device). Nor does closing the store copy the
//! log, as SQLite's last connection to close otherwise does: readers never do, and the writer
//! and the checkpointer turn it off once halted.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use rusqlite::Connection;

use crate::syncer::MakeDurable;
use crate::StoreError;

/// The log file of the writer's database (see the module).
pub(crate) struct LogFile {
    file: File,
    path: PathBuf,
    /// Before the writer's first unsynced commit: every commit this file sees can be vouched
    /// for.
    opened_at: Instant,
    /// Why a sync failed, once one has.
    failed: OnceLock<String>,
    /// Held through each sync and the check before it: Linux reports a write error once per
    /// open file, so of two calls at once one could return success for pages the other's error
    /// was about; one at a time, the error is recorded before any later sync can succeed.
    syncing: Mutex<()>,
    /// Set by [`Self::fail_next_sync`]: the next sync fails as a device's error would.
    #[cfg(feature = "fault-injection")]
    fail_next: std::sync::atomic::AtomicBool,
}

impl LogFile {
    /// Open the log of the database that `conn`, the writer in WAL mode, has open; make the
    /// log's entry in its directory durable; then switch `conn` to commit without syncing.
    /// From then on a commit of `conn` is durable only once [`Self::sync`] has returned after
    /// it.
    pub fn open_for(conn: &Connection) -> Result<Self, StoreError> {
        let database = conn
            .path()
            .filter(|path| !path.is_empty())
            .ok_or_else(|| StoreError::WriteFailed("the writer's database has no file".to_owned()))?;
        let path = PathBuf::from(format!("{database}-wal"));
        let file = File::open(&path).map_err(|e| {
            StoreError::WriteFailed(format!("could not open the write-ahead log {}: {e}", path.display()))
        })?;
        // The log may have been created by this open: its name must survive a crash too.
        if let Some(directory) = Path::new(database).parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(directory).and_then(|d| d.sync_all()).map_err(|e| {
                StoreError::WriteFailed(format!("could not sync the directory {}: {e}", directory.display()))
            })?;
        }
        let opened_at = Instant::now();
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Self {
            file,
            path,
            opened_at,
            failed: OnceLock::new(),
            syncing: Mutex::new(()),
            #[cfg(feature = "fault-injection")]
            fail_next: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Write every page the log has received so far to the device (see the module).
    pub fn sync(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.syncing.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(why) = self.failed.get() {
            return Err(StoreError::DurabilityUnconfirmed(why.clone()));
        }
        self.sync_device().map_err(|e| {
            let why = format!(
                "syncing the write-ahead log {} failed ({e}); commits since the last good sync may be lost, restart the server",
                self.path.display()
            );
            tracing::error!("{why}");
            StoreError::DurabilityUnconfirmed(self.failed.get_or_init(|| why).clone())
        })
    }

    /// `fdatasync`, or the failure a test asked for (see [`Self::fail_next_sync`]).
    fn sync_device(&self) -> std::io::Result<()> {
        #[cfg(feature = "fault-injection")]
        if self.fail_next.swap(false, std::sync::atomic::Ordering::AcqRel) {
            return Err(std::io::Error::other("a failure injected by a test"));
        }
        self.file.sync_data()
    }

    /// Make the next sync fail as a device's error would, and so halt the store: for tests of
    /// what a halt does, through the same path as a real failure.
    #[cfg(feature = "fault-injection")]
    pub fn fail_next_sync(&self) {
        self.fail_next.store(true, std::sync::atomic::Ordering::Release);
    }

    /// Why the store has halted: a sync failed, so nothing committed since the last good one
    /// can be vouched for, and new commits could not be made durable either (see the module).
    pub fn halted(&self) -> Option<StoreError> {
        self.failure().map(|why| StoreError::Halted(why.to_owned()))
    }

    /// Why a sync of the log failed, once one has.
    pub fn failure(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }

    #[cfg(test)]
    fn of(file: File) -> Self {
        Self {
            file,
            path: PathBuf::from("test"),
            opened_at: Instant::now(),
            failed: OnceLock::new(),
            syncing: Mutex::new(()),
            #[cfg(feature = "fault-injection")]
            fail_next: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl MakeDurable for Arc<LogFile> {
    fn make_durable(&mut self) -> Result<Instant, StoreError> {
        self.sync().map(|()| self.opened_at)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::fs::File;
    use std::io::Write;
    use std::os::fd::OwnedFd;

    use super::LogFile;
    use crate::StoreError;

    /// A pipe cannot be synced (`EINVAL`): a stand-in for a device that failed a sync.
    fn unsyncable() -> File {
        let (reader, _writer) = std::io::pipe().expect("pipe");
        File::from(OwnedFd::from(reader))
    }

    fn synced_file(dir: &tempfile::TempDir) -> File {
        let mut file = File::create(dir.path().join("log")).expect("file");
        file.write_all(b"frames").expect("write");
        file
    }

    #[test]
    fn a_sync_of_a_file_succeeds() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(LogFile::of(synced_file(&dir)).sync().is_ok());
    }

    #[test]
    fn once_a_sync_failed_every_later_sync_fails_even_if_the_device_would_take_it() {
        let failing = LogFile::of(unsyncable());
        let first = failing.sync();
        assert!(matches!(first, Err(StoreError::DurabilityUnconfirmed(_))), "{first:?}");

        // The same log, its device now willing: the pages the failed sync dropped are gone.
        let dir = tempfile::tempdir().expect("temp dir");
        let later = LogFile {
            failed: failing.failed,
            ..LogFile::of(synced_file(&dir))
        };
        let second = later.sync();
        assert!(
            matches!(&second, Err(StoreError::DurabilityUnconfirmed(why)) if why.contains("restart the server")),
            "{second:?}"
        );
    }
}
