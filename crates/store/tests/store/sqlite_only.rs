//! What only the embedded SQLite backend has to prove: its write-ahead log does not grow
//! without end under steady load, and a write is answered only once its commit is on the
//! device.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use loyalty_store::views::TransactionPageAnswer;
use loyalty_store::RebuildChanges;

use super::backend::{Kind, TestDb};
use super::{account_command, accrue_command, enrolled, fixture_with};

/// The log's limit in this test, in frames (4 KiB pages).
const RESTART_FRAMES: i64 = 64;
/// Enough commits that an unbounded log would pass the bound several times over.
const COMMITS: usize = 1_200;

/// Reads never stop, so SQLite never finds a moment to start the log again by itself (without
/// the restart, 1,200 commits here grew the log's file to 78 MB). The checkpointer restarts
/// the log within a tick or two (100 ms each) of its reaching the limit, so the file stays at
/// the limit plus what a few ticks' commits write, however many commits there are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_write_ahead_log_stays_bounded_under_steady_reads() {
    let f = fixture_with(Kind::Sqlite, |settings| settings.wal_restart_frames = RESTART_FRAMES).await;
    let TestDb::Sqlite(dir) = &f.db else {
        unreachable!("a SQLite fixture")
    };
    let wal = dir.path().join("test.db-wal");
    let mut accounts = Vec::new();
    for n in 0..8 {
        accounts.push(enrolled(&f, &format!("member{n}@example.com")).await);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|n| {
            let (store, business, account, stop) = (f.store.clone(), f.business, accounts[n], Arc::clone(&stop));
            tokio::spawn(async move {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    store.account(business, account).await.expect("read").expect("found");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let mut largest = 0u64;
    for round in 0..COMMITS {
        account_command(&f, accounts[round % accounts.len()], accrue_command(1))
            .await
            .expect("accrued");
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.await.expect("reader") > 0, "every reader read");
    }
    let bound = 16 * 1024 * 1024;
    assert!(
        largest < bound,
        "the log's file reached {largest} bytes (limit {RESTART_FRAMES} frames, bound {bound})"
    );
}

/// Closing the last handle leaves no log behind: what was committed is in the database file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_store_copies_the_log_into_the_database_and_empties_it() {
    let f = fixture_with(Kind::Sqlite, |_| {}).await;
    let TestDb::Sqlite(dir) = &f.db else {
        unreachable!("a SQLite fixture")
    };
    let wal = dir.path().join("test.db-wal");
    let account = enrolled(&f, "ada@example.com").await;
    for _ in 0..50 {
        account_command(&f, account, accrue_command(1)).await.expect("accrued");
    }
    assert!(std::fs::metadata(&wal).expect("a log while open").len() > 0);
    let (store, business) = (f.store.clone(), f.business);
    drop(f.store);
    tokio::task::spawn_blocking(move || store.close())
        .await
        .expect("closed");
    let left = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(left, 0, "the log was emptied");
    // Everything committed is there when the file is opened again.
    let reopened = loyalty_store::Store::open(&f.db.settings()).expect("reopen");
    let view = reopened.account(business, account).await.expect("read").expect("found");
    assert_eq!(view.point_balance, 50);
}

/// A SQLite store with two members whose accruals alternate: the first earns 1, 2, … `count`
/// points, the second 101, 102, … (their ledger rows interleaved in the event log).
async fn two_interleaved_ledgers(count: u64) -> (super::Fixture, uuid::Uuid, uuid::Uuid) {
    let f = fixture_with(Kind::Sqlite, |_| {}).await;
    let (first, second) = (
        enrolled(&f, "ada@example.com").await,
        enrolled(&f, "bob@example.com").await,
    );
    for points in 1..=count {
        account_command(&f, first, accrue_command(points))
            .await
            .expect("accrued");
        account_command(&f, second, accrue_command(100 + points))
            .await
            .expect("accrued");
    }
    (f, first, second)
}

/// A store made before the ledger chain (migration 9: each account's ledger rows linked newest
/// first instead of found through an index by account) lists every account's transactions as
/// before once migrated, and a rebuild finds its read models as the events make them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_before_the_ledger_chain_lists_and_rebuilds_the_same_once_migrated() {
    let (f, first, second) = two_interleaved_ledgers(6).await;
    let pages = |store: loyalty_store::Store, business| async move {
        let mut all = Vec::new();
        for account in [first, second] {
            let mut cursor = None;
            loop {
                let answer = store
                    .transaction_page(business, account, cursor, 4)
                    .await
                    .expect("read");
                let TransactionPageAnswer::Page(page) = answer else {
                    panic!("a page: {answer:?}");
                };
                all.extend(page.items.iter().map(|t| t.points_changed));
                match page.next_cursor {
                    Some(next) => cursor = Some(next.parse::<i64>().expect("a position")),
                    None => break,
                }
            }
        }
        all
    };
    let before = pages(f.store.clone(), f.business).await;
    let expected: Vec<i64> = (1..=6).rev().chain((101..=106).rev()).collect();
    assert_eq!(before, expected);

    // The schema as version 8 left it: the index by account, no chain (the accounts stay
    // stored by id; migration 10, run again, copies them as they are).
    let (store, business) = (f.store.clone(), f.business);
    drop(f.store);
    tokio::task::spawn_blocking(move || store.close())
        .await
        .expect("closed");
    f.db.execute(
        "CREATE INDEX transactions_by_account ON transactions (account_id, position);
         ALTER TABLE transactions DROP COLUMN prev_position;
         ALTER TABLE accounts DROP COLUMN ledger_head;
         DELETE FROM schema_migrations WHERE version >= 9;",
    );

    let reopened = loyalty_store::Store::open(&f.db.settings()).expect("reopen, migrating");
    assert_eq!(
        f.db.texts("SELECT CAST(MAX(version) AS TEXT) FROM schema_migrations"),
        ["11"]
    );
    assert_eq!(pages(reopened.clone(), business).await, expected);
    let report = reopened.rebuild_projections(&mut |_, _| {}).expect("rebuild");
    assert_eq!(report.changes, Some(RebuildChanges::default()), "{report:?}");
}

/// A page walks only its own account's chain and only to older rows: a damaged link (one that
/// points into another account's ledger, or to a newer row) ends the page there instead of
/// showing another account's rows or repeating rows, and a cursor on the oldest row gives an
/// empty page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_ledger_chain_never_leads_a_page_out_of_its_account_or_back_in_time() {
    let (f, first, _) = two_interleaved_ledgers(4).await;
    let page = |cursor: Option<i64>| {
        let store = f.store.clone();
        let business = f.business;
        async move {
            match store.transaction_page(business, first, cursor, 50).await.expect("read") {
                TransactionPageAnswer::Page(page) => page.items.iter().map(|t| t.points_changed).collect::<Vec<_>>(),
                other => panic!("a page: {other:?}"),
            }
        }
    };
    assert_eq!(page(None).await, [4, 3, 2, 1]);
    let positions = |points: i64| {
        f.db.texts(&format!(
            "SELECT CAST(position AS TEXT) FROM transactions WHERE points_changed = {points}"
        ))[0]
            .parse::<i64>()
            .expect("a position")
    };
    // The oldest row's cursor: nothing older.
    assert_eq!(page(Some(positions(1))).await, Vec::<i64>::new());

    // The row of 3 points now links into the other account's ledger.
    f.db.execute(&format!(
        "UPDATE transactions SET prev_position = {} WHERE points_changed = 3",
        positions(102)
    ));
    assert_eq!(page(None).await, [4, 3], "the page ends at the damaged link");
    // The row of 2 points now links to a newer row of its own account.
    f.db.execute(&format!(
        "UPDATE transactions SET prev_position = {} WHERE points_changed = 2",
        positions(4)
    ));
    assert_eq!(
        page(Some(positions(2))).await,
        Vec::<i64>::new(),
        "never back to newer rows"
    );

    // A rebuild mends the chain.
    f.store.rebuild_projections(&mut |_, _| {}).expect("rebuild");
    assert_eq!(page(None).await, [4, 3, 2, 1]);
}

/// The bundled SQLite is built with the options of `.cargo/config.toml` (`LIBSQLITE3_FLAGS`):
/// SQLite's own syncs use `fdatasync()`, allocations take no global mutex, and each
/// connection has a page cache of its own rather than one shared by every connection of the
/// process behind one mutex (libsqlite3-sys turns `SQLITE_ENABLE_MEMORY_MANAGEMENT` on; the
/// setting turns it off). SQLite lists the second among its compile options, and would list the
/// third if it were on; all come from the same setting, so a build that lost the setting fails
/// here.
#[test]
fn the_bundled_sqlite_is_built_with_the_workspace_compile_options() {
    loyalty_store::prepare_sqlite();
    let conn = rusqlite::Connection::open_in_memory().expect("an in-memory database");
    let options: Vec<String> = conn
        .prepare("PRAGMA compile_options")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("compile options");
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "LIBSQLITE3_FLAGS from .cargo/config.toml did not reach the SQLite build: {options:?}"
    );
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "connections share one page cache: {options:?}"
    );
}

/// The writer commits without `fsync` and the syncer syncs the log before it answers (see
/// `sqlite::log_file`): so once a write is answered, the kernel holds no page of the log that
/// is not yet on the device. The kernel's own count of the file's dirty pages and pages under
/// writeback (`cachestat`, Linux 6.5) tells. Nothing else writes the log here, so a page left
/// dirty is one the write's commit left.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_write_leaves_no_page_of_the_log_unwritten() {
    let f = fixture_with(Kind::Sqlite, |_| {}).await;
    let Some(wal) = log_if_cachestat_sees_syncs(&f, "an_answered_write_leaves_no_page_of_the_log_unwritten") else {
        return;
    };
    let account = enrolled(&f, "ada@example.com").await;
    for n in 0..20 {
        account_command(&f, account, accrue_command(1)).await.expect("accrued");
        let (dirty, writeback) = unwritten_pages(&wal).expect("cachestat of the log");
        assert_eq!(
            (dirty, writeback),
            (0, 0),
            "answer {n}: pages of the log still dirty or under writeback"
        );
    }
}

/// A read whose answer leaves the system (here the relay's read of events) syncs the log
/// first, so what it hands on survives a power cut even if it saw a commit not yet synced:
/// here one made behind the store's back without `fsync`.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_leaves_the_system_syncs_what_it_could_see() {
    let f = fixture_with(Kind::Sqlite, |_| {}).await;
    let Some(wal) = log_if_cachestat_sees_syncs(&f, "a_read_that_leaves_the_system_syncs_what_it_could_see") else {
        return;
    };
    enrolled(&f, "ada@example.com").await;
    // The checkpointer syncs the log whenever it has frames to copy, which would make this
    // test pass without the read's sync (or fail its first check). So copy everything now,
    // then hold a snapshot: no checkpoint can copy what is committed after it.
    loyalty_store::prepare_sqlite();
    let holder = rusqlite::Connection::open(wal.with_file_name("test.db")).expect("open");
    holder
        .execute_batch("PRAGMA wal_checkpoint(PASSIVE); BEGIN; SELECT count(*) FROM sqlite_master;")
        .expect("a snapshot held");
    f.db.execute("PRAGMA synchronous = OFF; CREATE TABLE unsynced (x); INSERT INTO unsynced VALUES (1);");
    let (dirty, _) = unwritten_pages(&wal).expect("cachestat of the log");
    assert!(
        dirty > 0,
        "the commit behind the store's back left pages of the log dirty"
    );

    let events = f.store.durable_events_after(0, 10).await.expect("events");
    assert!(!events.is_empty(), "the enrolment's events");
    assert_eq!(
        unwritten_pages(&wal).expect("cachestat of the log"),
        (0, 0),
        "the read synced the log before it answered"
    );
    drop(holder);
}

/// The fixture's log, if `cachestat` can tell here whether its pages reached the device;
/// otherwise the test `name` says it skipped.
#[cfg(target_os = "linux")]
fn log_if_cachestat_sees_syncs(f: &super::Fixture, name: &str) -> Option<std::path::PathBuf> {
    let TestDb::Sqlite(dir) = &f.db else {
        unreachable!("a SQLite fixture")
    };
    match cachestat_sees_syncs(dir.path()) {
        Ok(()) => Some(dir.path().join("test.db-wal")),
        Err(why) => {
            eprintln!("skipped {name}: {why}");
            None
        }
    }
}

/// Whether `cachestat` here counts a file's dirty pages and sees `fdatasync` clean them (not
/// on an older kernel, nor on tmpfs, whose pages stay dirty).
#[cfg(target_os = "linux")]
fn cachestat_sees_syncs(dir: &std::path::Path) -> Result<(), String> {
    use std::io::Write;
    let path = dir.join("probe");
    let mut file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    file.write_all(&[1u8; 8192]).map_err(|e| e.to_string())?;
    let before = unwritten_pages(&path).map_err(|e| format!("cachestat: {e}"))?;
    file.sync_data().map_err(|e| e.to_string())?;
    let after = unwritten_pages(&path).map_err(|e| format!("cachestat: {e}"))?;
    match (before, after) {
        ((dirty, _), (0, 0)) if dirty > 0 => Ok(()),
        _ => Err(format!(
            "cachestat counted (dirty, writeback) {before:?} before a sync and {after:?} after"
        )),
    }
}

/// The file's pages the kernel holds dirty, and under writeback.
#[cfg(target_os = "linux")]
fn unwritten_pages(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::fd::AsRawFd;
    /// `cachestat(2)`'s number, the same on every architecture (Linux 6.5).
    const SYS_CACHESTAT: libc::c_long = 451;
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct CacheStat {
        cache: u64,
        dirty: u64,
        writeback: u64,
        evicted: u64,
        recently_evicted: u64,
    }
    let file = std::fs::File::open(path)?;
    let range = Range { off: 0, len: 0 };
    let mut stat = CacheStat::default();
    // SAFETY: the descriptor is open for the call, and both structs are laid out as the
    // kernel's `cachestat_range` and `cachestat`.
    let result = unsafe { libc::syscall(SYS_CACHESTAT, file.as_raw_fd(), &range, &mut stat, 0) };
    if result != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((stat.dirty, stat.writeback))
}

/// The name and nice value in a `/proc/…/stat` line: "pid (comm) state ... nice ...", the nice
/// value the 17th field after the name.
#[cfg(target_os = "linux")]
fn name_and_nice(stat: &str) -> Option<(&str, i64)> {
    let (head, rest) = stat.rsplit_once(')')?;
    let (_, name) = head.split_once('(')?;
    Some((name, rest.split_whitespace().nth(16)?.parse().ok()?))
}

/// The nice values of this process's threads named `name` (as Linux shortens it, to 15 bytes).
#[cfg(target_os = "linux")]
fn nice_of_threads(name: &str) -> Vec<i64> {
    let mut nices = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("this process's threads") {
        let stat = std::fs::read_to_string(task.expect("a thread").path().join("stat")).unwrap_or_default();
        if let Some((thread, nice)) = name_and_nice(&stat) {
            if thread == name {
                nices.push(nice);
            }
        }
    }
    nices
}

/// The checkpointer's copying runs at a lower priority than the process's; the RESTART, which
/// holds the writer off, runs on the restarter's thread at the process's own.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpointer_yields_the_cores_but_the_restarter_does_not() {
    let _f = fixture_with(Kind::Sqlite, |_| {}).await;
    let process: i64 = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| name_and_nice(&stat).map(|(_, nice)| nice))
        .expect("the process's nice value");
    let lowered = (process + 10).min(19);
    // Other tests' stores start meanwhile, and a checkpointer lowers itself only once its thread
    // runs: a few looks, until every one found is lowered.
    let mut checkpointers = nice_of_threads("loyalty-checkpo");
    let mut restarters = nice_of_threads("loyalty-restart");
    for _ in 0..50 {
        if !restarters.is_empty() && checkpointers.iter().all(|&nice| nice == lowered) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        checkpointers = nice_of_threads("loyalty-checkpo");
        restarters = nice_of_threads("loyalty-restart");
    }
    assert!(
        !checkpointers.is_empty() && !restarters.is_empty(),
        "the store's threads run"
    );
    assert!(
        checkpointers.iter().all(|&nice| nice == lowered),
        "every checkpointer at the process's nice value + 10: {checkpointers:?} (process {process})"
    );
    assert!(
        restarters.iter().all(|&nice| nice == process),
        "every restarter at the process's own: {restarters:?} (process {process})"
    );
}
