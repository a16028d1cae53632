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
//! checkpointer and the restarter copy nothing more into the database, until the server is
//! restarted (SQLite then recovers from what the log holds on the device). Nor does closing the
//! store copy the log, as SQLite's last connection to close otherwise does: readers never do,
//! and the writer, the checkpointer and the restarter turn it off once halted. Those checks
//! come before a checkpoint; one already running is stopped by the guard of the VFS the three
//! open the store through, which then fails every write, truncation and sync of the database
//! file and every sync of the log (see `log_vfs`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::syncer::MakeDurable;
use crate::StoreError;

/// The syncs of a [`LogFile`], numbered from 1 in the order they begin.
#[derive(Debug, Default)]
struct Syncs {
    /// The number of the last sync begun.
    begun: u64,
    /// The number of the last sync ended (they run one at a time, so in order).
    ended: u64,
    /// Whether a sync is running (the one numbered `begun`).
    running: bool,
    /// When the last sync began.
    last_begun_at: Option<Instant>,
}

/// How long a caller of [`LogFile::sync_patiently`] waits for another to begin a sync.
#[derive(Debug, Clone, Copy)]
struct Patience {
    /// Waits only if a sync began this recently.
    busy_within: Duration,
    /// Waits at most this long.
    patience: Duration,
}

impl Patience {
    const NONE: Self = Self {
        busy_within: Duration::ZERO,
        patience: Duration::ZERO,
    };
}

/// The sync a caller of [`LogFile::sync`] is running; dropped, it has ended: before the next
/// can begin, its failure was recorded (by the caller, or here if it panicked), and every
/// caller waiting for it is woken.
struct RunningSync<'a> {
    log: &'a LogFile,
    number: u64,
}

impl Drop for RunningSync<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.log.record_failure("the syncing thread panicked");
        }
        let mut syncs = self.log.syncs.lock().unwrap_or_else(PoisonError::into_inner);
        syncs.ended = self.number;
        syncs.running = false;
        drop(syncs);
        self.log.sync_ended.notify_all();
    }
}

/// The log file of the writer's database (see the module).
pub(crate) struct LogFile {
    file: File,
    path: PathBuf,
    /// Before the writer's first unsynced commit: every commit this file sees can be vouched
    /// for.
    opened_at: Instant,
    /// Why a sync failed, once one has.
    failed: OnceLock<String>,
    /// Which syncs have begun and ended. They run one at a time: Linux reports a write error
    /// once per open file, so of two calls at once one could return success for pages the
    /// other's error was about; one at a time, the error is recorded before any later sync can
    /// begin.
    syncs: Mutex<Syncs>,
    /// Signalled when a sync ends.
    sync_ended: Condvar,
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
            syncs: Mutex::default(),
            sync_ended: Condvar::new(),
            #[cfg(feature = "fault-injection")]
            fail_next: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Write every page the log has received so far to the device (see the module): by a
    /// sync begun after this call, this caller's own or one it shares. The syncer's syncs and
    /// durable reads' (see `Store::read_durable`) share this way: a caller that finds a sync
    /// running waits for it to end, then either a sync begun meanwhile covers it, or it begins
    /// the next one itself, which covers every caller waiting by then. Under load a durable
    /// read (the outbox relay's) thus rides on the syncer's next sync instead of adding one of
    /// its own, which the syncer's would then queue behind.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.sync_numbered(self.next_sync(), Patience::NONE)
    }

    /// [`Self::sync`] for a caller that can wait: if no sync is running but one began within the
    /// last `busy_within` (the log is busy: under load the syncer begins one every millisecond
    /// or two), it first waits up to `patience` for another caller to begin the next, and
    /// shares that. On an idle log it begins its own at once.
    pub fn sync_patiently(&self, busy_within: Duration, patience: Duration) -> Result<(), StoreError> {
        self.sync_numbered(self.next_sync(), Patience { busy_within, patience })
    }

    /// The number of the next sync to begin: every sync from it on covers what the log has
    /// received by now.
    fn next_sync(&self) -> u64 {
        self.syncs.lock().unwrap_or_else(PoisonError::into_inner).begun + 1
    }

    /// Return once the sync numbered `covering`, or a later one, has ended, beginning it if no
    /// other caller has first (see [`Self::sync_patiently`]).
    fn sync_numbered(&self, covering: u64, wait: Patience) -> Result<(), StoreError> {
        let called_at = Instant::now();
        let mut syncs = self.syncs.lock().unwrap_or_else(PoisonError::into_inner);
        // Busy: a sync is running (however long it takes) or began recently.
        let busy = syncs.running
            || syncs
                .last_begun_at
                .is_some_and(|at| called_at.saturating_duration_since(at) < wait.busy_within);
        let patient_from = |at: Instant| {
            if busy {
                // A patience too long to add is as good as for ever.
                at.checked_add(wait.patience)
                    .unwrap_or(at + Duration::from_secs(86_400))
            } else {
                at
            }
        };
        let mut deadline = patient_from(called_at);
        loop {
            if let Some(why) = self.failed.get() {
                return Err(StoreError::DurabilityUnconfirmed(why.clone()));
            }
            if syncs.ended >= covering {
                return Ok(());
            }
            if syncs.running {
                syncs = self.sync_ended.wait(syncs).unwrap_or_else(PoisonError::into_inner);
                // The patience counts from the end of a sync that did not cover this caller,
                // however long it ran (a slow disk), not from the call.
                deadline = deadline.max(patient_from(Instant::now()));
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            // Woken when a sync ends: one begun meanwhile covers this caller.
            syncs = self
                .sync_ended
                .wait_timeout(syncs, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        syncs.begun += 1;
        syncs.running = true;
        syncs.last_begun_at = Some(Instant::now());
        let number = syncs.begun;
        drop(syncs);
        // Ends the sync however this caller leaves, a panic included, so no other caller waits
        // for it for ever. (Made once the lock is released: its drop takes the lock.)
        let running = RunningSync { log: self, number };
        let result = self.sync_device().map_err(|e| self.record_failure(&e.to_string()));
        drop(running);
        result
    }

    /// Record that a sync failed (so that every later one fails; see the module); the error.
    fn record_failure(&self, error: &str) -> StoreError {
        self.halt_because(format!(
            "syncing the write-ahead log {} failed ({error}); commits since the last good sync may be lost, restart the server",
            self.path.display()
        ))
    }

    /// Halt because another connection's sync failed: a checkpoint's sync of the log or of the
    /// database file (see `log_vfs`). Linux reports a failed writeback to each descriptor once,
    /// so a later checkpoint's sync on the same descriptor would succeed without the lost
    /// pages, and the syncer never syncs the database file.
    pub(crate) fn record_failed_sync_of(&self, file: &str, code: std::ffi::c_int) -> StoreError {
        self.halt_because(format!(
            "a sync of {file} failed (SQLite error {code}); commits since the last good sync of the write-ahead log {} may be lost, restart the server",
            self.path.display()
        ))
    }

    fn halt_because(&self, why: String) -> StoreError {
        tracing::error!("{why}");
        StoreError::DurabilityUnconfirmed(self.failed.get_or_init(|| why).clone())
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

    /// Halt as a failed sync would (for tests of what a halt stops elsewhere).
    #[cfg(test)]
    pub(crate) fn halt(&self) {
        self.record_failure("a failure recorded by a test");
    }

    #[cfg(test)]
    pub(crate) fn of(file: File) -> Self {
        Self {
            file,
            path: PathBuf::from("test"),
            opened_at: Instant::now(),
            failed: OnceLock::new(),
            syncs: Mutex::default(),
            sync_ended: Condvar::new(),
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
    use std::time::{Duration, Instant};

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

    /// As another caller of `sync` does: begin sync `number` (the one before it has ended).
    fn begin_elsewhere(log: &LogFile, number: u64) {
        let mut syncs = log.syncs.lock().expect("syncs");
        (syncs.begun, syncs.ended, syncs.running) = (number, number - 1, true);
        syncs.last_begun_at = Some(Instant::now());
    }

    /// As another caller of `sync` does: end sync `number`.
    fn end_elsewhere(log: &LogFile, number: u64) {
        let mut syncs = log.syncs.lock().expect("syncs");
        (syncs.ended, syncs.running) = (number, false);
        drop(syncs);
        log.sync_ended.notify_all();
    }

    fn begun_and_ended(log: &LogFile) -> (u64, u64) {
        let syncs = log.syncs.lock().expect("syncs");
        (syncs.begun, syncs.ended)
    }

    /// Call `sync_numbered(covering)` on a thread; after `meanwhile` (the other callers' moves),
    /// check that it still waits, end sync `ending` elsewhere, and return once it has returned.
    fn call_while(log: &LogFile, covering: u64, meanwhile: impl FnOnce(), ending: u64) {
        std::thread::scope(|scope| {
            let caller = scope.spawn(|| log.sync_numbered(covering, super::Patience::NONE));
            meanwhile();
            std::thread::sleep(Duration::from_millis(50));
            assert!(!caller.is_finished(), "it waits for the running sync to end");
            end_elsewhere(log, ending);
            caller.join().expect("caller").expect("synced");
        });
    }

    #[test]
    fn a_sync_already_running_when_called_does_not_cover_the_call() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = LogFile::of(synced_file(&dir));
        begin_elsewhere(&log, 1);
        let covering = log.next_sync();
        call_while(&log, covering, || {}, 1);
        assert_eq!(begun_and_ended(&log), (2, 2), "then begins one of its own");
    }

    #[test]
    fn a_sync_begun_after_the_call_covers_it_and_it_begins_none_of_its_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = LogFile::of(synced_file(&dir));
        begin_elsewhere(&log, 1);
        let covering = log.next_sync();
        call_while(&log, covering, || begin_elsewhere(&log, 2), 2);
        assert_eq!(begun_and_ended(&log), (2, 2), "shared, not one more");
    }

    #[test]
    fn a_patient_caller_on_a_busy_log_shares_the_next_sync_another_begins() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = LogFile::of(synced_file(&dir));
        log.sync().expect("a first sync: the log is busy");
        let covering = log.next_sync();
        let wait = super::Patience {
            busy_within: Duration::from_secs(60),
            patience: Duration::from_secs(60),
        };
        std::thread::scope(|scope| {
            let caller = scope.spawn(|| log.sync_numbered(covering, wait));
            std::thread::sleep(Duration::from_millis(50));
            assert!(!caller.is_finished(), "it waits for another to begin a sync");
            begin_elsewhere(&log, 2);
            end_elsewhere(&log, 2);
            caller.join().expect("caller").expect("synced");
        });
        assert_eq!(begun_and_ended(&log), (2, 2), "shared, not one more");
    }

    #[test]
    fn a_patient_caller_keeps_its_patience_after_a_running_sync_outlasts_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = LogFile::of(synced_file(&dir));
        begin_elsewhere(&log, 1);
        let covering = log.next_sync();
        let wait = super::Patience {
            busy_within: Duration::from_secs(60),
            patience: Duration::from_millis(300),
        };
        std::thread::scope(|scope| {
            let caller = scope.spawn(|| log.sync_numbered(covering, wait));
            // Sync 1 (a slow disk's) runs longer than the caller's patience.
            std::thread::sleep(Duration::from_millis(400));
            end_elsewhere(&log, 1);
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(begun_and_ended(&log), (1, 1), "it waits for another to begin the next");
            begin_elsewhere(&log, 2);
            end_elsewhere(&log, 2);
            caller.join().expect("caller").expect("synced");
        });
        assert_eq!(begun_and_ended(&log), (2, 2), "shared, not one more");
    }

    #[test]
    fn a_patient_caller_on_a_busy_log_that_no_sync_comes_for_begins_its_own() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = LogFile::of(synced_file(&dir));
        log.sync().expect("a first sync: the log is busy");
        log.sync_patiently(Duration::from_secs(60), Duration::from_millis(50))
            .expect("synced");
        assert_eq!(begun_and_ended(&log), (2, 2));
    }

    #[test]
    fn a_patient_caller_on_an_idle_log_begins_its_own_at_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = LogFile::of(synced_file(&dir));
        let called_at = Instant::now();
        log.sync_patiently(Duration::from_secs(60), Duration::from_secs(60))
            .expect("synced");
        assert!(
            called_at.elapsed() < Duration::from_secs(30),
            "no wait for a sync that is not coming"
        );
        assert_eq!(begun_and_ended(&log), (1, 1));
    }

    #[test]
    fn a_caller_that_panics_mid_sync_ends_it_and_halts_the_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = LogFile::of(synced_file(&dir));
        let covering = log.next_sync();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut syncs = log.syncs.lock().expect("syncs");
            syncs.begun += 1;
            syncs.running = true;
            let _running = super::RunningSync {
                log: &log,
                number: syncs.begun,
            };
            drop(syncs);
            panic!("mid-sync");
        }));
        assert!(panicked.is_err());
        let after = log.sync_numbered(covering, super::Patience::NONE);
        assert!(matches!(after, Err(StoreError::DurabilityUnconfirmed(_))), "{after:?}");
        assert_eq!(begun_and_ended(&log), (1, 1), "ended, so nobody waits for it");
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
