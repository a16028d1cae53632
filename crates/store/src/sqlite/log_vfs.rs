//! The log's writes gathered: a SQLite VFS, `loyalty-log`, that wraps the platform's own and
//! hands a commit's frames to the kernel in writes of 64 KiB (about 16 frames of 4 KiB pages)
//! instead of two writes per frame.
//!
//! SQLite writes each frame of the write-ahead log as two `pwrite` calls, its 24-byte header
//! and then its page: 7.4 calls per accrual. On this machine a call costs 3–4 µs almost
//! whatever its size (the file system's work per write): 150 frames written that way took
//! 1.1 ms, in one call 0.08–0.12 ms. Gathered, the writer makes 0.3 calls per accrual, and its
//! time in the kernel halves (BENCHMARKS.md, eighteenth session).
//!
//! What is gathered is held only while no one could need it in the file:
//! - Each write that continues the last is appended; a write elsewhere first sends what is
//!   gathered.
//! - A commit ends with its commit frame, whose header alone carries the database's size.
//!   Once that frame's page is gathered, everything is sent at once, before SQLite publishes
//!   the commit to other connections (it does that through the shared-memory index, after the
//!   write returns). So nothing another connection can see is missing from the file.
//! - A send that fails is an I/O error, and so is every later write, read and sync of the log
//!   until the connection lets go of the log's write lock: a transaction whose spilled pages
//!   did not reach the file cannot commit, even where SQLite would take the error for one
//!   statement's (a failed read, a full disk).
//! - When the connection lets go of the write lock, whatever is still gathered belongs to a
//!   transaction that rolled back (pages it spilled), and is dropped: written later, it could
//!   land on frames another connection has since committed.
//! - Every other use of the log (a read, a sync, its size, a truncation, a file control,
//!   closing it) first sends what is gathered, so SQLite never finds the file without it.
//! - When SQLite rewrites the checksums of frames a transaction wrote twice, it reads each
//!   frame back and rewrites its header alone, the commit frame's last. A commit frame's header
//!   written just after a read therefore goes straight to the file, and so does any write that
//!   is neither a frame's header nor a page (the log's own header, a frame split at a sync
//!   point), each with the write after it.
//! - A last guard: SQLite calls the database file's shared-memory barrier between the two
//!   copies of a new index header, which is what publishes a commit. If anything is still
//!   gathered then, it is sent there; and should that write fail, the process aborts rather
//!   than let another connection read a commit whose frames the file lacks (the log then lacks
//!   only a commit that no one was told of, as after any crash).
//!
//! A halt's guard: a connection handed the store's [`LogFile`] (see [`guard_with`]) writes
//! nothing more into its database file once a sync of the log has failed: no write,
//! truncation or sync of the database file, and no sync of the log, the first step of every
//! checkpoint (`synchronous` above `OFF`). So no checkpoint already running or yet to start,
//! nor the one SQLite makes when its last connection closes, can copy pages into the database
//! that may never have reached the device (see [`LogFile`]); a restart recovers from what did.
//! And a guarded connection whose sync of either file fails halts the store itself: Linux
//! reports a failed writeback to each descriptor once, so this connection's next sync of the
//! same file would succeed without the lost pages, and the syncer never syncs the database
//! file (nor, before Linux 4.13, would it hear of the log's failure on its own descriptor).
//! A halt recorded here does not wait for a sync of the syncer's already running.
//!
//! Not for exclusive locking mode (`PRAGMA locking_mode=EXCLUSIVE`, which the store never
//! sets): SQLite then takes no shared-memory locks, so the end of a write transaction would not
//! be seen.
//!
//! Durability is unchanged: a commit's frames are in the file before the commit returns, so
//! the syncer's `fdatasync` (see [`super::LogFile`]) covers every commit made before it began.
//! Only connections that write open the store through this VFS (see
//! [`super::open_writer`]); readers use SQLite's default, and both share its locks.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::{Arc, OnceLock};

use rusqlite::{ffi, Connection};

use super::LogFile;
use crate::StoreError;

/// The VFS's name, as connections that write open the store with.
const NAME: &CStr = c"loyalty-log";

/// The size of a frame's header in SQLite's log format.
const FRAME_HEADER_BYTES: usize = 24;

/// The most bytes one write passes to the platform's VFS: SQLite's Unix VFS writes at most
/// 128 KiB - 1 per call (`seekAndWriteFd` masks the length with `0x1ffff`), so what is
/// gathered is sent in pieces of 64 KiB, about 16 frames of 4 KiB pages each.
const WRITE_MAX_BYTES: usize = 1 << 16;

/// Gathered bytes are sent once there are this many, commit or not: a transaction larger
/// than the page cache spills pages into the log before its commit.
const GATHER_MAX_BYTES: usize = 1 << 20;

/// The file control by which [`guard_with`] hands a database file the store's log: a code of
/// this VFS's own (SQLite passes codes it does not know to the file), far above SQLite's.
const FCNTL_GUARD_WITH: c_int = 0x4c59_0001;

/// From now on, once `log` has halted, `conn` writes nothing more into its database file (see
/// the module's comment). `conn` was opened through this VFS (see [`super::open_writer`]).
pub fn guard_with(conn: &Connection, log: &Arc<LogFile>) -> Result<(), StoreError> {
    let handed = Arc::into_raw(Arc::clone(log));
    // SAFETY: the file control takes the reference `handed` counts only when it answers
    // `SQLITE_OK`; otherwise it is taken back here.
    let rc = unsafe { main_file_control(conn, FCNTL_GUARD_WITH, handed.cast_mut().cast()) };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        // SAFETY: `handed` came from `Arc::into_raw` above and was not taken.
        drop(unsafe { Arc::from_raw(handed) });
        Err(StoreError::Config(format!(
            "the connection's database was not opened through the {NAME:?} VFS (SQLite error {rc})"
        )))
    }
}

/// Sync `conn`'s database file now, as a checkpoint that copied the whole log does, through
/// this VFS: once the store has halted it is refused, and a failure of a guarded connection
/// halts the store (see [`sync`]). `conn` was opened through this VFS and has read its
/// database at least once, so that the file is open.
pub fn sync_database_file(conn: &Connection) -> Result<(), StoreError> {
    let mut file: *mut ffi::sqlite3_file = ptr::null_mut();
    // SAFETY: SQLite writes the main database's file into `file` (its methods are null until
    // the file is opened).
    let rc = unsafe { main_file_control(conn, ffi::SQLITE_FCNTL_FILE_POINTER, ptr::addr_of_mut!(file).cast()) };
    // SAFETY: a non-null `file` is `conn`'s main database file, alive while `conn` is.
    let ours = rc == ffi::SQLITE_OK && !file.is_null() && unsafe { ptr::eq((*file).pMethods, &METHODS) };
    if !ours {
        return Err(StoreError::Config(format!(
            "the connection's database file is not open through the {NAME:?} VFS (SQLite error {rc})"
        )));
    }
    // SAFETY: `file` is the open database file of `conn`, which only this thread uses, and its
    // methods are this VFS's; a sync changes no state that another connection's calls read.
    let rc = unsafe { sync(file, ffi::SQLITE_SYNC_NORMAL) };
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(StoreError::Io(std::io::Error::other(format!(
            "the database file was not synced (SQLite error {rc})"
        ))))
    }
}

/// A file control `op` on `conn`'s main database file; SQLite's result code.
///
/// # Safety
/// `arg` is what `op` expects.
unsafe fn main_file_control(conn: &Connection, op: c_int, arg: *mut c_void) -> c_int {
    // SAFETY: the handle is `conn`'s, live for the call.
    ffi::sqlite3_file_control(conn.handle(), c"main".as_ptr(), op, arg)
}

/// The VFS, registered with SQLite on first use; its name.
pub fn name() -> Result<&'static CStr, StoreError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    match REGISTERED.get_or_init(register) {
        Ok(()) => Ok(NAME),
        Err(e) => Err(StoreError::Config(e.clone())),
    }
}

/// A file opened through this VFS. SQLite allocates `szOsFile` bytes for it: this struct,
/// then (at [`REAL_OFFSET`]) the platform VFS's own file, to which every call is passed on.
#[repr(C)]
struct File {
    /// What SQLite sees: its `pMethods` are this module's.
    base: ffi::sqlite3_file,
    /// The platform's file, in the same allocation.
    real: *mut ffi::sqlite3_file,
    role: Role,
}

enum Role {
    /// A main database file, the log its connection has open, if any (for the barrier), and
    /// the store's log, if handed one (see [`guard_with`]).
    Database {
        log: *mut File,
        guard: Option<Arc<LogFile>>,
    },
    /// A write-ahead log, the database file of its connection (if it was opened through this
    /// VFS), and what is gathered for it.
    Log { database: *mut File, gathered: Gathered },
}

/// Writes to the log not yet sent to the file: contiguous bytes from `start`.
#[derive(Default)]
struct Gathered {
    start: i64,
    bytes: Vec<u8>,
    /// The last write was a commit frame's header: its page comes next, then everything goes.
    commit_pending: bool,
    /// The log's last call was a read (see the module's comment on checksums).
    after_read: bool,
    /// A send failed in this write transaction: SQLite may not have heard (a failed read is
    /// not fatal to a transaction, a failed spill of pages is), so every later write, read and
    /// sync fails too, and the transaction cannot commit. Cleared with the write lock.
    failed: bool,
}

impl Gathered {
    /// The write transaction ended (its connection let go of the log's write lock): what is
    /// still gathered is pages a rolled-back transaction spilled (a commit is sent before it is
    /// published), which no one needs, and which must not be written later over another
    /// connection's commit.
    fn end_of_transaction(&mut self) {
        self.bytes.clear();
        self.commit_pending = false;
        self.after_read = false;
        self.failed = false;
    }
}

// For the tests, per thread (SQLite calls a connection's VFS on the thread using the
// connection, and tests run in parallel): how often a write went straight to the file (it must
// when SQLite rewrites checksums), how often the barrier found something still gathered (never,
// if the rules above hold), how often a transaction ended with something gathered (dropped),
// and switches that make sends and syncs fail and halt the store in the middle of a checkpoint.
#[cfg(test)]
thread_local! {
    static WRITTEN_THROUGH: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static SENT_AT_BARRIER: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static DROPPED_AT_END: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static FAIL_SENDS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static FAIL_SYNCS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static HALT_AFTER_DATABASE_WRITE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static DATABASE_SYNCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many syncs of a database file this thread's connections made that succeeded.
#[cfg(test)]
pub(crate) fn database_syncs() -> u64 {
    DATABASE_SYNCS.with(std::cell::Cell::get)
}

/// Where the platform's file starts in a [`File`]'s allocation: past the wrapper, at a
/// multiple of 16 bytes. (SQLite's allocations are 8-byte aligned, enough for both.)
const REAL_OFFSET: usize = std::mem::size_of::<File>().div_ceil(16) * 16;
const _: () = assert!(std::mem::align_of::<File>() <= 8);

fn register() -> Result<(), String> {
    // SAFETY: `sqlite3_vfs_find` initializes SQLite and returns a VFS that lives as long as the
    // process (SQLite never frees a registered VFS). The new VFS is leaked, so it lives as long.
    unsafe {
        let real = ffi::sqlite3_vfs_find(ptr::null());
        if real.is_null() {
            return Err("SQLite has no default VFS".to_owned());
        }
        let real_size = usize::try_from((*real).szOsFile).map_err(|e| e.to_string())?;
        // Everything but opening files (and the calls that pass the VFS on) is the platform's.
        let mut vfs = *real;
        vfs.szOsFile = c_int::try_from(REAL_OFFSET + real_size).map_err(|e| e.to_string())?;
        vfs.pNext = ptr::null_mut();
        vfs.zName = NAME.as_ptr();
        vfs.pAppData = real.cast();
        vfs.xOpen = Some(open);
        vfs.xDelete = Some(delete);
        vfs.xAccess = Some(access);
        vfs.xFullPathname = Some(full_pathname);
        let rc = ffi::sqlite3_vfs_register(Box::leak(Box::new(vfs)), 0);
        if rc != ffi::SQLITE_OK {
            return Err(format!("could not register the {NAME:?} VFS (SQLite error {rc})"));
        }
    }
    Ok(())
}

/// The platform's VFS, which this one wraps.
///
/// # Safety
/// `vfs` is this module's VFS.
unsafe fn platform(vfs: *mut ffi::sqlite3_vfs) -> *mut ffi::sqlite3_vfs {
    (*vfs).pAppData.cast()
}

unsafe extern "C" fn open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let real_vfs = platform(vfs);
    let Some(real_open) = (*real_vfs).xOpen else {
        return ffi::SQLITE_CANTOPEN;
    };
    let is_log = flags & ffi::SQLITE_OPEN_WAL != 0;
    if !is_log && flags & ffi::SQLITE_OPEN_MAIN_DB == 0 {
        // Any other file (a temporary table, a statement journal): the platform's, unwrapped.
        return real_open(real_vfs, name, file, flags, out_flags);
    }
    let wrapper = file.cast::<File>();
    let real = file.cast::<u8>().add(REAL_OFFSET).cast::<ffi::sqlite3_file>();
    // Until it is open, SQLite must not close it.
    (*wrapper).base.pMethods = ptr::null();
    (*real).pMethods = ptr::null();
    let rc = real_open(real_vfs, name, real, flags, out_flags);
    if rc != ffi::SQLITE_OK {
        // SQLite closes only what it sees open; a platform that left its file open is closed here.
        if let Some(close) = (*real).pMethods.as_ref().and_then(|methods| methods.xClose) {
            close(real);
        }
        return rc;
    }
    let role = if is_log {
        // The connection's database file; linked only if it is one of ours.
        let mut database = ffi::sqlite3_database_file_object(name).cast::<File>();
        if database.is_null() || !ptr::eq((*database).base.pMethods, &METHODS) {
            database = ptr::null_mut();
        }
        if let Some(Role::Database { log, .. }) = database.as_mut().map(|d| &mut d.role) {
            *log = wrapper;
        }
        Role::Log {
            database,
            gathered: Gathered::default(),
        }
    } else {
        Role::Database {
            log: ptr::null_mut(),
            guard: None,
        }
    };
    ptr::addr_of_mut!((*wrapper).real).write(real);
    ptr::addr_of_mut!((*wrapper).role).write(role);
    (*wrapper).base.pMethods = &METHODS;
    ffi::SQLITE_OK
}

unsafe extern "C" fn delete(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, sync_dir: c_int) -> c_int {
    let real = platform(vfs);
    match (*real).xDelete {
        Some(f) => f(real, name, sync_dir),
        None => ffi::SQLITE_IOERR_DELETE,
    }
}

unsafe extern "C" fn access(vfs: *mut ffi::sqlite3_vfs, name: *const c_char, flags: c_int, out: *mut c_int) -> c_int {
    let real = platform(vfs);
    match (*real).xAccess {
        Some(f) => f(real, name, flags, out),
        None => ffi::SQLITE_IOERR_ACCESS,
    }
}

unsafe extern "C" fn full_pathname(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n: c_int,
    out: *mut c_char,
) -> c_int {
    let real = platform(vfs);
    match (*real).xFullPathname {
        Some(f) => f(real, name, n, out),
        None => ffi::SQLITE_CANTOPEN,
    }
}

/// The platform's file of `file` and its methods.
///
/// # Safety
/// `file` was opened by [`open`] as a [`File`].
unsafe fn real(file: *mut ffi::sqlite3_file) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    let real = (*file.cast::<File>()).real;
    (real, &*(*real).pMethods)
}

/// Call the platform's method `$method` of `$file` with `$args`, or answer `$missing` if the
/// platform has none.
macro_rules! pass_on {
    ($file:expr, $method:ident, $missing:expr $(, $arg:expr)*) => {{
        let (real, methods) = real($file);
        match methods.$method {
            Some(f) => f(real $(, $arg)*),
            None => $missing,
        }
    }};
}

/// What is gathered for `file` if it is a log (`None` for a database file).
///
/// # Safety
/// `file` was opened by [`open`] as a [`File`], and no other reference to its role is live.
unsafe fn gathered<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a mut Gathered> {
    match &mut (*file.cast::<File>()).role {
        Role::Log { gathered, .. } => Some(gathered),
        Role::Database { .. } => None,
    }
}

/// What is gathered for the log of `file`'s connection, if `file` is a database file whose
/// connection has its log open.
///
/// # Safety
/// As for [`gathered`], for `file` and its linked log.
unsafe fn gathered_for_log_of<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a mut Gathered> {
    match (*file.cast::<File>()).role {
        Role::Database { log, .. } if !log.is_null() => gathered(log.cast()),
        _ => None,
    }
}

/// The store's log guarding `file`'s connection (see [`guard_with`]), if any: `file` is its
/// database file or the log of one.
///
/// # Safety
/// `file` was opened by [`open`] as a [`File`].
unsafe fn guard<'a>(file: *mut ffi::sqlite3_file) -> Option<&'a LogFile> {
    let database = match &(*file.cast::<File>()).role {
        Role::Database { .. } => file.cast::<File>(),
        Role::Log { database, .. } => *database,
    };
    match database.as_ref().map(|d| &d.role) {
        Some(Role::Database { guard: Some(log), .. }) => Some(log),
        _ => None,
    }
}

/// Whether `file`'s connection is guarded by a store's log that has halted.
///
/// # Safety
/// As for [`guard`].
unsafe fn halted(file: *mut ffi::sqlite3_file) -> bool {
    guard(file).is_some_and(|log| log.failure().is_some())
}

/// Write what is gathered for `file` to the file, if anything; SQLite's result code.
///
/// # Safety
/// As for [`gathered`].
unsafe fn send(file: *mut ffi::sqlite3_file) -> c_int {
    let Some(gathered) = gathered(file) else {
        return ffi::SQLITE_OK;
    };
    if gathered.failed {
        return ffi::SQLITE_IOERR_WRITE;
    }
    if gathered.bytes.is_empty() {
        return ffi::SQLITE_OK;
    }
    let mut rc = ffi::SQLITE_OK;
    let mut offset = gathered.start;
    for chunk in gathered.bytes.chunks(WRITE_MAX_BYTES) {
        // At most WRITE_MAX_BYTES, far below c_int's range.
        let amount = c_int::try_from(chunk.len()).unwrap_or(c_int::MAX);
        rc = pass_on!(
            file,
            xWrite,
            ffi::SQLITE_IOERR_WRITE,
            chunk.as_ptr().cast(),
            amount,
            offset
        );
        #[cfg(test)]
        if FAIL_SENDS.with(std::cell::Cell::get) {
            rc = ffi::SQLITE_FULL;
        }
        if rc != ffi::SQLITE_OK {
            break;
        }
        offset += i64::from(amount);
    }
    gathered.bytes.clear();
    if rc != ffi::SQLITE_OK {
        // Reported as an I/O error, never as a full disk (which SQLite may take as the
        // failure of one statement only): the transaction must not commit.
        gathered.failed = true;
        return ffi::SQLITE_IOERR_WRITE;
    }
    rc
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    let sent = send(file);
    let wrapper = file.cast::<File>();
    match &mut (*wrapper).role {
        Role::Log { database, .. } => {
            if let Some(Role::Database { log, .. }) = database.as_mut().map(|d| &mut d.role) {
                if ptr::eq(*log, wrapper) {
                    *log = ptr::null_mut();
                }
            }
        }
        Role::Database { log, .. } => {
            if let Some(Role::Log { database, .. }) = log.as_mut().map(|l| &mut l.role) {
                *database = ptr::null_mut();
            }
        }
    }
    let closed = pass_on!(file, xClose, ffi::SQLITE_OK);
    ptr::drop_in_place(ptr::addr_of_mut!((*wrapper).role));
    (*wrapper).base.pMethods = ptr::null();
    if sent != ffi::SQLITE_OK {
        sent
    } else {
        closed
    }
}

unsafe extern "C" fn read(file: *mut ffi::sqlite3_file, buf: *mut c_void, amount: c_int, offset: i64) -> c_int {
    let rc = send(file);
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    if let Some(gathered) = gathered(file) {
        gathered.after_read = true;
    }
    pass_on!(file, xRead, ffi::SQLITE_IOERR_READ, buf, amount, offset)
}

unsafe extern "C" fn write(file: *mut ffi::sqlite3_file, buf: *const c_void, amount: c_int, offset: i64) -> c_int {
    let Some(gathered) = gathered(file) else {
        // A database file: once halted, nothing more is copied into it.
        if halted(file) {
            return ffi::SQLITE_IOERR_WRITE;
        }
        let rc = pass_on!(file, xWrite, ffi::SQLITE_IOERR_WRITE, buf, amount, offset);
        #[cfg(test)]
        if HALT_AFTER_DATABASE_WRITE.with(|halt| halt.replace(false)) {
            if let Some(log) = guard(file) {
                log.halt();
            }
        }
        return rc;
    };
    let Ok(length) = usize::try_from(amount) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    if gathered.failed {
        return ffi::SQLITE_IOERR_WRITE;
    }
    let data = std::slice::from_raw_parts(buf.cast::<u8>(), length);
    let commit_header = length == FRAME_HEADER_BYTES && data[4..8] != [0; 4];
    let frame_part = length == FRAME_HEADER_BYTES || (length.is_power_of_two() && (512..=65_536).contains(&length));
    let after_read = std::mem::take(&mut gathered.after_read);
    if (commit_header && after_read) || !frame_part {
        // A rewritten checksum (perhaps the last write before the commit is published), or a
        // write that is not a frame's header or page (the log's own header; a frame split at
        // a sync point): straight to the file, and the write after it too (a commit frame's
        // header can also follow a read in a commit of one frame; its page comes next).
        #[cfg(test)]
        WRITTEN_THROUGH.with(|n| n.set(n.get() + 1));
        let rc = send(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        if let Some(gathered) = self::gathered(file) {
            gathered.commit_pending = true;
        }
        return pass_on!(file, xWrite, ffi::SQLITE_IOERR_WRITE, buf, amount, offset);
    }
    let end = gathered.start + gathered.bytes.len() as i64;
    if !gathered.bytes.is_empty() && offset != end {
        let rc = send(file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
    }
    let Some(gathered) = self::gathered(file) else {
        return ffi::SQLITE_IOERR_WRITE;
    };
    if gathered.bytes.is_empty() {
        gathered.start = offset;
    }
    gathered.bytes.extend_from_slice(data);
    if commit_header {
        gathered.commit_pending = true;
        return ffi::SQLITE_OK;
    }
    if std::mem::take(&mut gathered.commit_pending) || gathered.bytes.len() >= GATHER_MAX_BYTES {
        return send(file);
    }
    ffi::SQLITE_OK
}

/// A call that must find the file as SQLite believes it is: what is gathered goes first.
macro_rules! after_sending {
    ($file:expr, $method:ident, $missing:expr $(, $arg:expr)*) => {{
        let rc = send($file);
        if rc != ffi::SQLITE_OK {
            return rc;
        }
        pass_on!($file, $method, $missing $(, $arg)*)
    }};
}

unsafe extern "C" fn truncate(file: *mut ffi::sqlite3_file, size: i64) -> c_int {
    if gathered(file).is_none() && halted(file) {
        return ffi::SQLITE_IOERR_TRUNCATE;
    }
    after_sending!(file, xTruncate, ffi::SQLITE_IOERR_TRUNCATE, size)
}

/// Once halted, neither the log (a checkpoint's first step) nor the database file is synced;
/// and a guarded connection's failed sync halts the store (see
/// [`LogFile::record_failed_sync_of`]).
unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    if halted(file) {
        return ffi::SQLITE_IOERR_FSYNC;
    }
    #[allow(unused_mut)]
    let mut rc = after_sending!(file, xSync, ffi::SQLITE_IOERR_FSYNC, flags);
    #[cfg(test)]
    if FAIL_SYNCS.with(std::cell::Cell::get) {
        rc = ffi::SQLITE_IOERR_FSYNC;
    }
    #[cfg(test)]
    if rc == ffi::SQLITE_OK && matches!((*file.cast::<File>()).role, Role::Database { .. }) {
        DATABASE_SYNCS.with(|syncs| syncs.set(syncs.get() + 1));
    }
    if rc != ffi::SQLITE_OK {
        if let Some(log) = guard(file) {
            let what = match (*file.cast::<File>()).role {
                Role::Database { .. } => "the database file",
                Role::Log { .. } => "the write-ahead log",
            };
            log.record_failed_sync_of(what, rc);
        }
    }
    rc
}

unsafe extern "C" fn file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    after_sending!(file, xFileSize, ffi::SQLITE_IOERR_FSTAT, size)
}

unsafe extern "C" fn file_control(file: *mut ffi::sqlite3_file, op: c_int, arg: *mut c_void) -> c_int {
    if op == FCNTL_GUARD_WITH {
        return match &mut (*file.cast::<File>()).role {
            Role::Database { guard, .. } if !arg.is_null() => {
                // The reference `guard_with` counted for it, taken here (and dropped with the
                // file's role, or with the guard it replaces).
                *guard = Some(Arc::from_raw(arg.cast_const().cast::<LogFile>()));
                ffi::SQLITE_OK
            }
            _ => ffi::SQLITE_NOTFOUND,
        };
    }
    after_sending!(file, xFileControl, ffi::SQLITE_NOTFOUND, op, arg)
}

unsafe extern "C" fn lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    pass_on!(file, xLock, ffi::SQLITE_IOERR_LOCK, level)
}

unsafe extern "C" fn unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    pass_on!(file, xUnlock, ffi::SQLITE_IOERR_UNLOCK, level)
}

unsafe extern "C" fn check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    pass_on!(file, xCheckReservedLock, ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, out)
}

unsafe extern "C" fn sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    pass_on!(file, xSectorSize, 4096)
}

unsafe extern "C" fn device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    pass_on!(file, xDeviceCharacteristics, 0)
}

unsafe extern "C" fn shm_map(
    file: *mut ffi::sqlite3_file,
    region: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    pass_on!(file, xShmMap, ffi::SQLITE_IOERR_SHMMAP, region, size, extend, out)
}

/// The lock SQLite's log takes to write (`WAL_WRITE_LOCK`), first of the shared-memory locks.
const LOG_WRITE_LOCK: c_int = 0;

/// A database file's shared-memory locks; when its connection lets go of the log's write
/// lock, the write transaction has ended (see [`Gathered::end_of_transaction`]).
unsafe extern "C" fn shm_lock(file: *mut ffi::sqlite3_file, offset: c_int, n: c_int, flags: c_int) -> c_int {
    let releases_write_lock = offset == LOG_WRITE_LOCK && flags == (ffi::SQLITE_SHM_UNLOCK | ffi::SQLITE_SHM_EXCLUSIVE);
    if releases_write_lock {
        if let Some(gathered) = gathered_for_log_of(file) {
            #[cfg(test)]
            if !gathered.bytes.is_empty() {
                DROPPED_AT_END.with(|n| n.set(n.get() + 1));
            }
            gathered.end_of_transaction();
        }
    }
    pass_on!(file, xShmLock, ffi::SQLITE_IOERR_SHMLOCK, offset, n, flags)
}

/// The last guard (see the module's comment): a database file's barrier sends what its log
/// has gathered, or aborts the process if it cannot.
unsafe extern "C" fn shm_barrier(file: *mut ffi::sqlite3_file) {
    pass_on!(file, xShmBarrier, ());
    let Role::Database { log, .. } = (*file.cast::<File>()).role else {
        return;
    };
    let pending = gathered_for_log_of(file).is_some_and(|gathered| !gathered.bytes.is_empty());
    if pending {
        #[cfg(test)]
        SENT_AT_BARRIER.with(|n| n.set(n.get() + 1));
        let rc = send(log.cast());
        if rc != ffi::SQLITE_OK {
            tracing::error!(
                code = rc,
                "could not write the log's frames before SQLite published them: aborting, so that no one reads a commit the log lacks"
            );
            std::process::abort();
        }
    }
}

unsafe extern "C" fn shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    pass_on!(file, xShmUnmap, ffi::SQLITE_OK, delete)
}

unsafe extern "C" fn fetch(file: *mut ffi::sqlite3_file, offset: i64, amount: c_int, out: *mut *mut c_void) -> c_int {
    // Without the platform's mapping, SQLite reads instead.
    pass_on!(
        file,
        xFetch,
        {
            *out = ptr::null_mut();
            ffi::SQLITE_OK
        },
        offset,
        amount,
        out
    )
}

unsafe extern "C" fn unfetch(file: *mut ffi::sqlite3_file, offset: i64, page: *mut c_void) -> c_int {
    pass_on!(file, xUnfetch, ffi::SQLITE_OK, offset, page)
}

/// The methods of both kinds of file this VFS wraps; each function finds out from the file's
/// role which it has: a log's writes are gathered, a database file's barrier is the last guard,
/// and everything else is the platform's.
static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(close),
    xRead: Some(read),
    xWrite: Some(write),
    xTruncate: Some(truncate),
    xSync: Some(sync),
    xFileSize: Some(file_size),
    xLock: Some(lock),
    xUnlock: Some(unlock),
    xCheckReservedLock: Some(check_reserved_lock),
    xFileControl: Some(file_control),
    xSectorSize: Some(sector_size),
    xDeviceCharacteristics: Some(device_characteristics),
    xShmMap: Some(shm_map),
    xShmLock: Some(shm_lock),
    xShmBarrier: Some(shm_barrier),
    xShmUnmap: Some(shm_unmap),
    xFetch: Some(fetch),
    xUnfetch: Some(unfetch),
};

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;
    use std::path::Path;
    use std::thread::LocalKey;

    use rusqlite::{ffi, params, Connection};

    use super::{DROPPED_AT_END, FAIL_SENDS, FAIL_SYNCS, HALT_AFTER_DATABASE_WRITE, SENT_AT_BARRIER, WRITTEN_THROUGH};
    use crate::sqlite::{open_reader, open_writer, LogFile};

    /// A counter of this thread's (the connections' callbacks run on the thread using them).
    fn count(counter: &'static LocalKey<Cell<u64>>) -> u64 {
        counter.with(Cell::get)
    }

    /// A connection that writes as the store's writer does, with a table `t` to fill.
    pub(crate) fn writer(path: &Path) -> Connection {
        let conn = open_writer(path).expect("open the writer");
        // As the store's writer commits: without a sync of the log, which would send what is
        // gathered whatever this VFS did at the commit (see `LogFile`).
        conn.pragma_update(None, "synchronous", "NORMAL").expect("synchronous");
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS t_by_v ON t (v);",
        )
        .expect("create the table");
        conn
    }

    /// What a crash right now would leave: the database file and its log as they are in the
    /// file system (not what this process holds), opened afresh so that SQLite recovers from
    /// the log. Its rows' count and sum of keys, and whether it is intact.
    fn after_a_crash(dir: &Path) -> (i64, i64, String) {
        let copy = tempfile::tempdir().expect("tempdir");
        for name in ["l.db", "l.db-wal"] {
            std::fs::copy(dir.join(name), copy.path().join(name)).expect("copy the file");
        }
        let conn = Connection::open(copy.path().join("l.db")).expect("open the copy");
        let (rows, sum) = conn
            .query_row("SELECT COUNT(*), COALESCE(SUM(k), 0) FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("count");
        let check = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        (rows, sum, check)
    }

    /// Rows `keys` of `t`, in one transaction.
    pub(crate) fn insert(conn: &Connection, keys: std::ops::Range<i64>) {
        let tx = conn.unchecked_transaction().expect("begin");
        for k in keys {
            tx.execute("INSERT INTO t (k, v) VALUES (?1, ?2)", params![k, format!("{k:0>200}")])
                .expect("insert");
        }
        tx.commit().expect("commit");
    }

    #[test]
    fn every_commit_is_in_the_log_file_before_it_returns_and_other_connections_see_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.db");
        let conn = writer(&path);
        let reader = open_reader(&path).expect("open a reader");
        let barrier_sends = count(&SENT_AT_BARRIER);
        let mut expected = 0;
        for (i, size) in [1, 2, 50, 1, 500, 3].into_iter().enumerate() {
            let start = i64::try_from(i).expect("small") * 1_000;
            insert(&conn, start..start + size);
            expected += size;
            let seen: i64 = reader
                .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                .expect("read");
            assert_eq!(seen, expected, "a reader sees commit {i}");
            let (rows, _, check) = after_a_crash(dir.path());
            assert_eq!(rows, expected, "commit {i} survives a crash");
            assert_eq!(check, "ok");
        }
        assert_eq!(
            count(&SENT_AT_BARRIER),
            barrier_sends,
            "nothing was left for the barrier"
        );
    }

    #[test]
    fn a_transaction_larger_than_the_page_cache_is_whole_after_a_crash() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.db");
        let conn = writer(&path);
        // A page cache of 20 pages: the transaction spills pages into the log before its
        // commit, and more than the gathering's limit of bytes.
        conn.pragma_update(None, "cache_size", 20).expect("cache size");
        let barrier_sends = count(&SENT_AT_BARRIER);
        insert(&conn, 0..10_000);
        assert_eq!(
            count(&SENT_AT_BARRIER),
            barrier_sends,
            "nothing was left for the barrier"
        );
        let (rows, sum, check) = after_a_crash(dir.path());
        assert_eq!((rows, sum, check.as_str()), (10_000, (0..10_000).sum(), "ok"));
    }

    #[test]
    fn rewritten_checksums_reach_the_file_before_the_commit_is_seen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.db");
        let conn = writer(&path);
        insert(&conn, 0..10);
        conn.pragma_update(None, "cache_size", 10).expect("cache size");
        let through = count(&WRITTEN_THROUGH);
        let barrier_sends = count(&SENT_AT_BARRIER);
        // One transaction that spills pages to the log, then changes them again: SQLite writes
        // the changed pages over their frames and rewrites the checksums of every frame after
        // them, the commit frame's header last.
        let tx = conn.unchecked_transaction().expect("begin");
        for k in 10..3_000_i64 {
            tx.execute("INSERT INTO t (k, v) VALUES (?1, ?2)", params![k, format!("{k:0>200}")])
                .expect("insert");
        }
        tx.execute("UPDATE t SET v = 'x' || v WHERE k < 3000", [])
            .expect("update");
        tx.execute("DELETE FROM t WHERE k % 2 = 1", []).expect("delete");
        tx.execute("INSERT INTO t (k, v) VALUES (1000001, 'last')", [])
            .expect("insert the last");
        tx.commit().expect("commit");
        let expected_sum: i64 = (0..3_000_i64).filter(|k| k % 2 == 0).sum::<i64>() + 1_000_001;
        let (rows, sum, check) = after_a_crash(dir.path());
        assert_eq!((rows, sum, check.as_str()), (1_501, expected_sum, "ok"));
        assert!(
            count(&WRITTEN_THROUGH) > through,
            "the commit rewrote checksums (the case this test is for)"
        );
        assert_eq!(
            count(&SENT_AT_BARRIER),
            barrier_sends,
            "nothing was left for the barrier"
        );
        let reader = open_reader(&path).expect("open a reader");
        let last: String = reader
            .query_row("SELECT v FROM t WHERE k = 1000001", [], |r| r.get(0))
            .expect("read");
        assert_eq!(last, "last");
    }

    /// Spill pages of a transaction into the log: a row of 400 KB (in the table and its index)
    /// through a page cache of 10 pages, its overflow pages written one after another.
    fn spill(tx: &Connection, key: i64) {
        tx.execute(
            "INSERT INTO t (k, v) VALUES (?1, ?2)",
            params![key, "x".repeat(400_000)],
        )
        .expect("insert");
    }

    #[test]
    fn pages_a_rolled_back_transaction_spilled_are_dropped_not_written_over_a_later_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.db");
        let first = writer(&path);
        insert(&first, 0..10);
        first.pragma_update(None, "cache_size", 10).expect("cache size");
        // An empty log: the rollback then reloads the database's first page from the database
        // file, not the log, so nothing reads the log (which would send what is gathered).
        first
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0))
            .expect("checkpoint");
        let dropped = count(&DROPPED_AT_END);
        let tx = first.unchecked_transaction().expect("begin");
        spill(&tx, 100);
        tx.rollback().expect("rollback");
        assert!(
            count(&DROPPED_AT_END) > dropped,
            "the rolled-back transaction left pages gathered (the case this test is for)"
        );
        // Another connection commits where the spilled pages would have gone in the log.
        let second = writer(&path);
        insert(&second, 10_000..10_050);
        // The first connection uses the log again: nothing of the rolled-back transaction
        // may be written now.
        insert(&first, 20_000..20_001);
        let reader = open_reader(&path).expect("open a reader");
        let seen: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("read");
        assert_eq!(seen, 61);
        let (rows, _, check) = after_a_crash(dir.path());
        assert_eq!((rows, check.as_str()), (61, "ok"));
    }

    #[test]
    fn a_transaction_whose_spilled_pages_could_not_be_written_cannot_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.db");
        let conn = writer(&path);
        insert(&conn, 0..10);
        conn.pragma_update(None, "cache_size", 10).expect("cache size");
        let tx = conn.unchecked_transaction().expect("begin");
        spill(&tx, 100);
        // The next send fails, whichever use of the log makes it; SQLite hears of it as the
        // failure of some statement, or of the commit.
        FAIL_SENDS.with(|fail| fail.set(true));
        // Statements of many rows each, inside the transaction, so that each has a statement
        // journal and a full disk would roll back only the statement.
        let mut failed = false;
        for start in (1_000..4_000_i64).step_by(300) {
            let result = tx.execute(
                "WITH RECURSIVE c(k) AS (SELECT ?1 UNION ALL SELECT k + 1 FROM c WHERE k < ?1 + 299)
                 INSERT INTO t (k, v) SELECT k, printf('%0200d', k) FROM c",
                params![start],
            );
            if result.is_err() {
                failed = true;
                break;
            }
        }
        FAIL_SENDS.with(|fail| fail.set(false));
        let committed = tx.commit();
        assert!(failed || committed.is_err(), "the failed send was reported");
        assert!(committed.is_err(), "the transaction did not commit");
        // Nothing of it is seen or survives, and the next transaction commits.
        insert(&conn, 5_000..5_001);
        let reader = open_reader(&path).expect("open a reader");
        let seen: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("read");
        assert_eq!(seen, 11);
        let (rows, _, check) = after_a_crash(dir.path());
        assert_eq!((rows, check.as_str()), (11, "ok"));
    }

    /// A writer and a checkpointer (with `synchronous` set) of a new database in `dir`, its
    /// table already copied into the database file, both then guarded by a store's log (a
    /// test's: one that never syncs).
    fn guarded(dir: &Path, synchronous: &str) -> (Connection, Connection, std::sync::Arc<LogFile>) {
        let path = dir.join("l.db");
        let conn = writer(&path);
        let checkpointer = open_writer(&path).expect("open the checkpointer");
        checkpointer
            .pragma_update(None, "synchronous", synchronous)
            .expect("synchronous");
        checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .expect("the table into the database file");
        let unsynced = std::fs::File::open(dir.join("l.db-wal")).expect("open the log");
        let log = std::sync::Arc::new(LogFile::of(unsynced));
        super::guard_with(&conn, &log).expect("guard the writer");
        super::guard_with(&checkpointer, &log).expect("guard the checkpointer");
        (conn, checkpointer, log)
    }

    /// The extended result code of a failed call.
    pub(crate) fn extended_code<T>(result: &rusqlite::Result<T>) -> Option<i32> {
        match result {
            Err(rusqlite::Error::SqliteFailure(error, _)) => Some(error.extended_code),
            _ => None,
        }
    }

    /// A guarded connection whose sync fails halts the store itself: the syncer's next sync
    /// might not hear of the failure (Linux reports it once per open file), nor might this
    /// connection's next sync, which would then let a checkpoint copy pages the device lacks.
    #[test]
    fn a_guarded_connections_failed_sync_halts_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (conn, checkpointer, log) = guarded(dir.path(), "FULL");
        let checkpoint = || checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(2));
        insert(&conn, 0..10);
        FAIL_SYNCS.with(|fail| fail.set(true));
        let failed = checkpoint();
        FAIL_SYNCS.with(|fail| fail.set(false));
        assert_eq!(extended_code(&failed), Some(ffi::SQLITE_IOERR_FSYNC), "{failed:?}");
        let why = log.failure().expect("the failed sync halted the store");
        assert!(why.contains("a sync of the write-ahead log failed"), "{why}");
        // The next checkpoint's sync would succeed; the halt refuses it.
        let again = checkpoint();
        assert_eq!(extended_code(&again), Some(ffi::SQLITE_IOERR_FSYNC), "{again:?}");
        assert_eq!(in_database_file(dir.path()), 0, "nothing was copied");
    }

    /// The restarter's own sync of the database file goes through the guard as a
    /// checkpoint's does: it syncs; a failure halts the store; once halted it is refused.
    #[test]
    fn a_sync_of_the_database_file_asked_directly_is_guarded_as_a_checkpoints() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (conn, checkpointer, log) = guarded(dir.path(), "FULL");
        insert(&conn, 0..10);
        let before = super::database_syncs();
        super::sync_database_file(&checkpointer).expect("a sync");
        assert_eq!(super::database_syncs(), before + 1, "the database file was synced");

        FAIL_SYNCS.with(|fail| fail.set(true));
        let failed = super::sync_database_file(&checkpointer);
        FAIL_SYNCS.with(|fail| fail.set(false));
        assert!(failed.is_err());
        let why = log.failure().expect("the failed sync halted the store");
        assert!(why.contains("a sync of the database file failed"), "{why}");
        assert!(super::sync_database_file(&checkpointer).is_err(), "refused once halted");
        assert_eq!(super::database_syncs(), before + 1);
    }

    /// A halt in the middle of a checkpoint: the copy stops at the next page, the checkpoint
    /// fails and its progress is not recorded (so the log is never restarted over what the
    /// database file lacks), and the database file with the log still recovers every commit.
    #[test]
    fn a_halt_in_the_middle_of_a_checkpoint_stops_its_copy() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (conn, checkpointer, log) = guarded(dir.path(), "FULL");
        let checkpoint = || {
            checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })
        };
        // Enough rows for many pages to copy.
        insert(&conn, 0..2_000);
        HALT_AFTER_DATABASE_WRITE.with(|halt| halt.set(true));
        let stopped = checkpoint();
        let halt_pending = HALT_AFTER_DATABASE_WRITE.with(|halt| halt.replace(false));
        assert!(!halt_pending, "the checkpoint wrote into the database file");
        assert!(log.failure().is_some());
        // The write after the halt was refused (or, had the copy ended first, the database
        // file's sync, before the checkpoint's progress is recorded).
        let refused = extended_code(&stopped);
        assert!(
            refused == Some(ffi::SQLITE_IOERR_WRITE) || refused == Some(ffi::SQLITE_IOERR_FSYNC),
            "{stopped:?}"
        );
        // Progress not recorded: the log's index (in the `-shm` file, after the two 48-byte
        // copies of its header) counts no frame as copied into the database file.
        let index = std::fs::read(dir.path().join("l.db-shm")).expect("the log's index");
        let backfilled = index
            .get(96..100)
            .and_then(|bytes| bytes.try_into().ok())
            .map(u32::from_ne_bytes);
        assert_eq!(backfilled, Some(0), "the checkpoint's progress was recorded");
        drop(checkpointer);
        drop(conn);
        let (rows, _, check) = after_a_crash(dir.path());
        assert_eq!((rows, check.as_str()), (2_000, "ok"));
    }

    /// What the database file alone holds (no log): its rows' count.
    fn in_database_file(dir: &Path) -> i64 {
        let copy = tempfile::tempdir().expect("tempdir");
        std::fs::copy(dir.join("l.db"), copy.path().join("l.db")).expect("copy the file");
        let conn = Connection::open(copy.path().join("l.db")).expect("open the copy");
        conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    /// Once the store's log has halted, a guarded connection copies nothing more into the
    /// database file: not by a checkpoint that syncs the log first (`FULL`, as the
    /// checkpointer's), nor by one that does not (`OFF`, which only the guard on the database
    /// file's writes stops), nor by closing the last connection. Before the halt the same
    /// checkpoint copies.
    #[test]
    fn once_the_log_has_halted_nothing_is_copied_into_the_database() {
        for synchronous in ["FULL", "OFF"] {
            let dir = tempfile::tempdir().expect("tempdir");
            let (conn, checkpointer, log) = guarded(dir.path(), synchronous);
            let checkpoint = || {
                checkpointer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                })
            };
            insert(&conn, 0..10);
            let (_, frames, copied) = checkpoint().expect("a checkpoint before the halt");
            assert_eq!(copied, frames, "{synchronous}: copied before the halt");
            assert_eq!(in_database_file(dir.path()), 10, "{synchronous}");

            insert(&conn, 10..20);
            log.halt();
            // With FULL the checkpoint's sync of the log is refused first; with OFF (no syncs)
            // its first write into the database file.
            let refused = if synchronous == "FULL" {
                ffi::SQLITE_IOERR_FSYNC
            } else {
                ffi::SQLITE_IOERR_WRITE
            };
            let halted = checkpoint();
            assert_eq!(extended_code(&halted), Some(refused), "{synchronous}: {halted:?}");
            assert_eq!(
                in_database_file(dir.path()),
                10,
                "{synchronous}: nothing copied once halted"
            );
            // Closing, the last connection checkpoints (nothing turned that off here).
            drop(checkpointer);
            drop(conn);
            assert_eq!(in_database_file(dir.path()), 10, "{synchronous}: nor by closing");
            // What the log holds is still there for a restart to recover.
            let (rows, _, check) = after_a_crash(dir.path());
            assert_eq!((rows, check.as_str()), (20, "ok"), "{synchronous}");
        }
    }
}
