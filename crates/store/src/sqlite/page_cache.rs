//! SQLite's own page cache, but without a scan of the whole cache at the end of most write
//! transactions.
//!
//! When SQLite rebalances a B-tree it sorts the new pages by number, swapping two of them
//! through a temporary number: the page after the one holding the lock byte at 1 GiB
//! (`balance_nonroot`, page 262,145 with 4 KiB pages). The page cache then believes it
//! holds a page that far out. At the end of the transaction SQLite drops every cached page
//! past the end of the database, and on a database smaller than 1 GiB the cache sees a range
//! of 200,000 page numbers to drop, wider than its hash table, and so walks the whole table:
//! every page it holds (4,096 in the writer's 16 MiB), for nothing, since the temporary page
//! got its real number back at once. That walk (`pcache1TruncateUnsafe`) was about 7% of the
//! writer thread's samples in the accrual bench (BENCHMARKS.md, eighteenth session).
//!
//! This wrapper passes every call on to SQLite's cache (`pcache1`) and keeps, per cache, the
//! highest page number it has created or moved a page to, not counting moves to the temporary
//! number, and how many pages hold the temporary number now. A truncation past that highest
//! number, with no page at the temporary number, has nothing to drop: it is answered here.
//! Any other truncation is SQLite's, as before.
//!
//! SQLite takes a page cache only before it starts, so [`install`] runs at process start
//! (`loyalty_store::prepare_sqlite`) and again, doing nothing, before the store opens any
//! connection. If something in the process started SQLite first, the cache stays SQLite's own:
//! slower, no less correct.

use std::ffi::{c_int, c_uint, c_void};
use std::sync::OnceLock;

use rusqlite::ffi;

/// SQLite's lock byte, at 1 GiB (`PENDING_BYTE`); the page after the one holding it is the
/// temporary number of a rebalance.
const PENDING_BYTE: u64 = 0x4000_0000;

/// SQLite's own page cache methods, which every call is passed on to.
static INNER: OnceLock<Methods> = OnceLock::new();

/// SQLite's methods: functions, and an argument SQLite passes back to them on any thread.
struct Methods(ffi::sqlite3_pcache_methods2);

// SAFETY: the argument is SQLite's (null for its own cache), used only by its own functions,
// which SQLite calls from any thread.
unsafe impl Send for Methods {}
unsafe impl Sync for Methods {}

/// Install the wrapper as SQLite's page cache, if SQLite has not started yet. Whether it is in
/// place.
pub fn install() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let mut inner = std::mem::MaybeUninit::<ffi::sqlite3_pcache_methods2>::zeroed();
        // SAFETY: GETPCACHE2 writes the current methods (SQLite's default until one is set)
        // into the struct; PCACHE2 copies ours, and is refused with SQLITE_MISUSE once SQLite
        // has started.
        unsafe {
            if ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETPCACHE2, inner.as_mut_ptr()) != ffi::SQLITE_OK {
                tracing::debug!("could not read SQLite's page cache; keeping it as it is");
                return false;
            }
            let inner = inner.assume_init();
            if inner.xFetch.is_none() || INNER.set(Methods(inner)).is_err() {
                return false;
            }
            let methods = ffi::sqlite3_pcache_methods2 {
                iVersion: 1,
                pArg: std::ptr::null_mut(),
                xInit: Some(init),
                xShutdown: Some(shutdown),
                xCreate: Some(create),
                xCachesize: Some(cache_size),
                xPagecount: Some(page_count),
                xFetch: Some(fetch),
                xUnpin: Some(unpin),
                xRekey: Some(rekey),
                xTruncate: Some(truncate),
                xDestroy: Some(destroy),
                xShrink: Some(shrink),
            };
            let rc = ffi::sqlite3_config(
                ffi::SQLITE_CONFIG_PCACHE2,
                &methods as *const ffi::sqlite3_pcache_methods2,
            );
            if rc != ffi::SQLITE_OK {
                tracing::debug!(
                    code = rc,
                    "SQLite had started before the store: its page cache stays as it is"
                );
                return false;
            }
        }
        true
    })
}

/// One cache: SQLite's, and what this wrapper knows of its page numbers.
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    /// The temporary number of a rebalance, for this cache's page size.
    temporary: c_uint,
    /// The highest number a page was created at or moved to (other than `temporary`) since
    /// the last truncation that reached it.
    highest: c_uint,
    /// How many pages hold the temporary number now.
    at_temporary: u32,
}

/// SQLite's method `$method`, set before the wrapper is installed (so before SQLite can call
/// any of these functions); `$missing` is the answer without it (none for a function that
/// answers nothing).
macro_rules! inner {
    ($method:ident) => {
        match INNER.get().and_then(|methods| methods.0.$method) {
            Some(f) => f,
            None => return,
        }
    };
    ($method:ident, $missing:expr) => {
        match INNER.get().and_then(|methods| methods.0.$method) {
            Some(f) => f,
            None => return $missing,
        }
    };
}

/// # Safety
/// `cache` was made by [`create`] and not yet destroyed.
unsafe fn cache<'a>(cache: *mut ffi::sqlite3_pcache) -> &'a mut Cache {
    &mut *cache.cast::<Cache>()
}

/// The argument SQLite's methods were configured with.
fn inner_arg() -> *mut c_void {
    INNER.get().map_or(std::ptr::null_mut(), |methods| methods.0.pArg)
}

unsafe extern "C" fn init(_arg: *mut c_void) -> c_int {
    inner!(xInit, ffi::SQLITE_OK)(inner_arg())
}

unsafe extern "C" fn shutdown(_arg: *mut c_void) {
    inner!(xShutdown)(inner_arg());
}

unsafe extern "C" fn create(page_size: c_int, extra: c_int, purgeable: c_int) -> *mut ffi::sqlite3_pcache {
    let made = inner!(xCreate, std::ptr::null_mut())(page_size, extra, purgeable);
    if made.is_null() {
        return made;
    }
    let temporary = u64::try_from(page_size)
        .ok()
        .filter(|&size| size > 0)
        .and_then(|size| c_uint::try_from(PENDING_BYTE / size + 1).ok())
        .unwrap_or(c_uint::MAX);
    Box::into_raw(Box::new(Cache {
        inner: made,
        temporary,
        highest: 0,
        at_temporary: 0,
    }))
    .cast()
}

unsafe extern "C" fn cache_size(c: *mut ffi::sqlite3_pcache, pages: c_int) {
    inner!(xCachesize)(cache(c).inner, pages);
}

unsafe extern "C" fn page_count(c: *mut ffi::sqlite3_pcache) -> c_int {
    inner!(xPagecount, 0)(cache(c).inner)
}

unsafe extern "C" fn fetch(c: *mut ffi::sqlite3_pcache, key: c_uint, create: c_int) -> *mut ffi::sqlite3_pcache_page {
    let cache = cache(c);
    let page = inner!(xFetch, std::ptr::null_mut())(cache.inner, key, create);
    if !page.is_null() && key > cache.highest {
        cache.highest = key;
    }
    page
}

unsafe extern "C" fn unpin(c: *mut ffi::sqlite3_pcache, page: *mut ffi::sqlite3_pcache_page, discard: c_int) {
    inner!(xUnpin)(cache(c).inner, page, discard);
}

unsafe extern "C" fn rekey(c: *mut ffi::sqlite3_pcache, page: *mut ffi::sqlite3_pcache_page, old: c_uint, new: c_uint) {
    let cache = cache(c);
    inner!(xRekey)(cache.inner, page, old, new);
    if old == cache.temporary {
        cache.at_temporary = cache.at_temporary.saturating_sub(1);
    }
    if new == cache.temporary {
        cache.at_temporary += 1;
        #[cfg(test)]
        MOVED_TO_TEMPORARY.with(|n| n.set(n.get() + 1));
    } else if new > cache.highest {
        cache.highest = new;
    }
}

// For the tests, per thread (SQLite calls a connection's cache on the thread using the
// connection): how many truncations were answered here, and how many pages were moved to the
// temporary number.
#[cfg(test)]
thread_local! {
    static ANSWERED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static MOVED_TO_TEMPORARY: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

unsafe extern "C" fn truncate(c: *mut ffi::sqlite3_pcache, limit: c_uint) {
    let cache = cache(c);
    if cache.at_temporary == 0 && cache.highest < limit {
        // No page at `limit` or past it: nothing to drop.
        #[cfg(test)]
        ANSWERED.with(|n| n.set(n.get() + 1));
        return;
    }
    inner!(xTruncate)(cache.inner, limit);
    cache.highest = cache.highest.min(limit.saturating_sub(1));
    if limit <= cache.temporary {
        cache.at_temporary = 0;
    }
}

unsafe extern "C" fn destroy(c: *mut ffi::sqlite3_pcache) {
    let cache = Box::from_raw(c.cast::<Cache>());
    inner!(xDestroy)(cache.inner);
}

unsafe extern "C" fn shrink(c: *mut ffi::sqlite3_pcache) {
    inner!(xShrink)(cache(c).inner);
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rusqlite::{params, Connection};

    use super::{ANSWERED, MOVED_TO_TEMPORARY};
    use crate::sqlite::{open_reader, open_writer};

    fn writer(path: &Path) -> Connection {
        assert!(
            super::install(),
            "the page cache is SQLite's until this module's is installed"
        );
        let conn = open_writer(path).expect("open the writer");
        conn.execute_batch(
            "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);
             CREATE INDEX t_by_v ON t (v);",
        )
        .expect("create the table");
        conn
    }

    /// Every row's value, as `conn` reads it, and whether the file is intact.
    fn contents(conn: &Connection) -> (Vec<(i64, String)>, String) {
        let rows = conn
            .prepare("SELECT k, v FROM t ORDER BY k")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .expect("read");
        let check = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("check");
        (rows, check)
    }

    fn insert(conn: &Connection, keys: impl Iterator<Item = i64>, tag: &str) {
        for k in keys {
            conn.execute(
                "INSERT INTO t (k, v) VALUES (?1, ?2)",
                params![k, format!("{tag}{:x}{}", k * 7919 % 10007, "x".repeat(150))],
            )
            .expect("insert");
        }
    }

    /// How many pages `conn`'s cache of the main database holds.
    fn cached_pages(conn: &Connection) -> i64 {
        let (mut used, mut highest) = (0, 0);
        // SAFETY: the handle is `conn`'s, open for the call.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_db_status(
                conn.handle(),
                rusqlite::ffi::SQLITE_DBSTATUS_CACHE_USED,
                &mut used,
                &mut highest,
                0,
            )
        };
        assert_eq!(rc, rusqlite::ffi::SQLITE_OK);
        // Each cached page costs its 4 KiB and SQLite's headers, a few hundred bytes.
        i64::from(used) / 4_096
    }

    /// The same rows read by the writer's own connection (its cache) and by a fresh one (the
    /// file), and an intact file.
    fn assert_cache_matches_file(conn: &Connection, path: &Path) {
        let (cached, check) = contents(conn);
        assert_eq!(check, "ok");
        let (stored, _) = contents(&open_reader(path).expect("open a reader"));
        assert_eq!(cached, stored, "the writer's cache holds what the file holds");
    }

    #[test]
    fn rebalancing_b_trees_needs_no_walk_of_the_cache_and_leaves_it_right() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.db");
        let conn = writer(&path);
        // Keys in a scattered order into the index: leaves split and are rebalanced, with
        // their pages swapped through the temporary number. Each transaction that swapped
        // one has its truncation answered here.
        let mut swapping = 0;
        for batch in 0..20_i64 {
            let (moved, answered) = (MOVED_TO_TEMPORARY.with(|n| n.get()), ANSWERED.with(|n| n.get()));
            let tx = conn.unchecked_transaction().expect("begin");
            insert(&tx, (0..200).map(|i| (i * 7_919 + batch * 104_729) % 1_000_003), "a");
            tx.commit().expect("commit");
            if MOVED_TO_TEMPORARY.with(|n| n.get()) > moved {
                swapping += 1;
                assert!(
                    ANSWERED.with(|n| n.get()) > answered,
                    "transaction {batch}'s truncation was answered here"
                );
            }
        }
        assert!(
            swapping > 0,
            "some transactions swapped pages through the temporary number"
        );
        assert_cache_matches_file(&conn, &path);
    }

    #[test]
    fn a_growth_rolled_back_leaves_nothing_in_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.db");
        let conn = writer(&path);
        insert(&conn, 0..100, "a");
        // The database grows inside a transaction that is rolled back: its new pages must
        // leave the cache, or the next growth would find their old contents there.
        let tx = conn.unchecked_transaction().expect("begin");
        insert(&tx, 1_000..3_000, "rolled back");
        tx.rollback().expect("rollback");
        let tx = conn.unchecked_transaction().expect("begin");
        insert(&tx, 5_000..7_000, "b");
        tx.commit().expect("commit");
        assert_cache_matches_file(&conn, &path);
        let (rows, _) = contents(&conn);
        assert_eq!(rows.len(), 2_100);
        assert!(rows.iter().all(|(_, v)| !v.starts_with("rolled back")));
    }

    #[test]
    fn pages_past_the_end_after_the_database_shrinks_are_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.db");
        let conn = writer(&path);
        insert(&conn, 0..3_000, "a");
        conn.execute("DELETE FROM t WHERE k >= 100", []).expect("delete");
        conn.execute_batch("VACUUM").expect("vacuum");
        // The cache keeps no page past the new end (before the VACUUM it held about 150).
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("page count");
        let cached = cached_pages(&conn);
        assert!(cached < 2 * pages, "{cached} pages cached for a database of {pages}");
        insert(&conn, 10_000..12_000, "b");
        assert_cache_matches_file(&conn, &path);
        let (rows, _) = contents(&conn);
        assert_eq!(rows.len(), 2_100);
    }
}
