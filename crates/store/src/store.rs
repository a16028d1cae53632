//! `Store`: the handle the service holds, over SQLite or PostgreSQL. Cheap to clone.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use loyalty_domain::program::ProgramDefinition;
use loyalty_domain::Aggregate;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::db::{params, Db};
use crate::queries;
use crate::sqlite::LogFile;
use crate::syncer::Syncer;
use crate::views::{AccountView, EventFeed, ProgramView, RewardView, TransactionPageAnswer};
use crate::write_tx::{Loaded, WriteTx};
use crate::writer::{self, JobBox, TypedJob, WriterConn};
use crate::{Business, DeadLetter, Prefetch, RebuildReport, StoreError, StoredEvent, WRITER_QUEUE_COUNT_MAX};

/// The page cache of a SQLite rebuild's connection: 64 MiB (SQLite's negative `cache_size` is
/// KiB), four times the writer's. The writer's 16 MiB measured about the same once (143,183 and
/// 138,021 events/s, one run each), where an earlier build had spilled pages into the WAL and
/// read them back with it; 512 MiB paid for its first touch of that much fresh memory (a kernel
/// page fault and a zeroed page each, a second or so) and wrote most of its pages at commit
/// instead of while refilling. Rebuilds of 1,000,002 events: 143,235-153,147 events/s
/// with 64 MiB against 129,507-139,327 with 512 MiB on a history of accruals, about the same on
/// an import (114,480-139,672 against 114,870-121,474), and half the peak memory (360-390 MB
/// against 790-820 MB); BENCHMARKS.md, 2026-12-06 (seventh session).
const REBUILD_CACHE_KIB_NEGATIVE: i64 = -64 * 1024;

/// How much of the database file a SQLite rebuild's two connections read through a memory map
/// (SQLite's default build caps it at 2 GiB; the rest is read as usual): the events, the stored
/// snapshots and the stored read models it compares are read where the kernel keeps them
/// instead of being copied into each connection's page cache. 174,319-186,433 events/s against
/// 159,651-169,836 without, on an import of 1,000,002 events (BENCHMARKS.md, 2026-12-06, ninth
/// session). The mapped pages are the kernel's file cache, shared, but count in the process's
/// resident set. Only for the rebuild: a read error under a map is a signal, not an error
/// return, which a one-off command can afford and the server would rather not.
const REBUILD_MMAP_BYTES: i64 = 1 << 31;

/// Which database, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://user@host:port/db`; a schema with
    /// `?options=-c%20search_path%3DNAME`).
    Postgres(String),
}

/// Where the database lives, and how many read connections to keep (and use at once).
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub backend: Backend,
    pub read_connections_idle_max: usize,
    /// SQLite: once the write-ahead log holds this many frames (pages), the checkpointer
    /// restarts it from the top (see `sqlite::checkpointer`), so its file stops growing.
    pub wal_restart_frames: i64,
    /// How many events a rebuild reads per query (and hands its second thread at a time); on
    /// SQLite also how many stored read-model rows go to the comparison at a time.
    pub rebuild_page_count: i64,
}

impl StoreSettings {
    /// An embedded SQLite database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            backend: Backend::Sqlite(path.into()),
            read_connections_idle_max: 16,
            wal_restart_frames: crate::sqlite::WAL_RESTART_FRAMES,
            rebuild_page_count: crate::rebuild::REBUILD_PAGE_COUNT,
        }
    }

    /// A PostgreSQL database.
    pub fn postgres(url: impl Into<String>) -> Self {
        Self {
            backend: Backend::Postgres(url.into()),
            read_connections_idle_max: 16,
            wal_restart_frames: crate::sqlite::WAL_RESTART_FRAMES,
            rebuild_page_count: crate::rebuild::REBUILD_PAGE_COUNT,
        }
    }
}

/// The event store with its read models.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    rebuild_page_count: i64,
    /// Tells the checkpointer to stop once the last handle is dropped.
    stop_checkpointer: Arc<AtomicBool>,
    /// SQLite's checkpointer thread (see [`Store::close`]).
    checkpointer: Option<std::thread::JoinHandle<()>>,
    /// `None` once the store is closing: the writer finishes its last batch and stops.
    jobs: Option<mpsc::Sender<JobBox>>,
    writer: Option<std::thread::JoinHandle<()>>,
    readers: Readers,
    /// At most this many reads at once: each holds a connection (PostgreSQL's are limited).
    read_permits: tokio::sync::Semaphore,
}

/// How long a durable read on SQLite waits for another caller (under load, the syncer) to begin
/// the sync it can share, before it begins its own (see `sqlite::LogFile::sync_patiently`).
/// Under load the syncer begins one every millisecond or two; the outbox relay, which makes
/// most durable reads, lingers ten milliseconds between reads anyway.
const DURABLE_READ_SYNC_PATIENCE: std::time::Duration = std::time::Duration::from_millis(2);
/// A durable read waits only if a sync began this recently; on an idle log it syncs at once.
const DURABLE_READ_BUSY_WITHIN: std::time::Duration = std::time::Duration::from_millis(10);

enum Readers {
    /// With the write-ahead log, to make what a read saw durable (see [`Readers::with_durable`]).
    Sqlite {
        pool: crate::sqlite::ReadPool,
        log: Arc<LogFile>,
    },
    Pg(crate::postgres::ReadPool),
}

impl Readers {
    fn with<T>(&self, f: impl FnOnce(Db<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match self {
            Readers::Sqlite { pool, log } => match log.halted() {
                Some(halted) => Err(halted),
                None => pool.with(|conn| f(Db::sqlite(conn))),
            },
            Readers::Pg(pool) => pool.with(|conn| f(Db::Pg(conn))),
        }
    }

    /// A read, after which every commit it could see is durable, unless its answer holds
    /// nothing (see [`Store::read_durable`]).
    fn with_durable<T>(
        &self,
        f: impl FnOnce(Db<'_>) -> Result<T, StoreError>,
        holds_nothing: fn(&T) -> bool,
    ) -> Result<T, StoreError> {
        match self {
            Readers::Sqlite { log, .. } => {
                let value = self.with(f)?;
                // What the read saw was written to the log before it became visible, so a
                // sync begun now covers it: under load the syncer's next one.
                if !holds_nothing(&value) {
                    log.sync_patiently(DURABLE_READ_BUSY_WITHIN, DURABLE_READ_SYNC_PATIENCE)?;
                }
                Ok(value)
            }
            Readers::Pg(pool) => pool.with(|conn| {
                let value = f(Db::Pg(conn))?;
                if !holds_nothing(&value) {
                    crate::postgres::syncer::mark_durable(conn)?;
                }
                Ok(value)
            }),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_checkpointer.store(true, Ordering::Release);
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.thread().unpark();
        }
    }
}

impl Store {
    /// Open (creating if needed) and migrate the database, and start the writer thread.
    pub fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        let stop_checkpointer = Arc::new(AtomicBool::new(false));
        let (conn, readers, checkpointer, syncer) = match &settings.backend {
            Backend::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                let mut conn = crate::sqlite::open_writer(path)?;
                crate::sqlite::migrate(&mut conn)?;
                let log = Arc::new(crate::sqlite::LogFile::open_for(&conn)?);
                crate::sqlite::guard_with(&conn, &log)?;
                let syncer = Syncer::start(Arc::clone(&log))?;
                let checkpointer = crate::sqlite::spawn_checkpointer(
                    path.clone(),
                    settings.wal_restart_frames,
                    Arc::clone(&stop_checkpointer),
                    Arc::clone(&log),
                )?;
                let pool = crate::sqlite::ReadPool::new(path.clone(), settings.read_connections_idle_max);
                (
                    WriterConn::Sqlite(conn, Arc::clone(&log)),
                    Readers::Sqlite { pool, log },
                    Some(checkpointer),
                    syncer,
                )
            }
            Backend::Postgres(url) => {
                // Connections own a runtime, which must not be dropped on an async thread: a
                // failure drops them inside this thread.
                let (conn, syncer) = off_runtime(|| {
                    let conn = crate::postgres::connect(url)?;
                    crate::postgres::migrate(&conn)?;
                    let syncer = crate::postgres::syncer::start(url.clone())?;
                    Ok((conn, syncer))
                })?;
                let readers = crate::postgres::ReadPool::new(url.clone(), settings.read_connections_idle_max);
                (
                    WriterConn::Pg {
                        conn: Box::new(conn),
                        url: url.clone(),
                    },
                    Readers::Pg(readers),
                    None,
                    syncer,
                )
            }
        };
        let (jobs, receiver) = mpsc::channel(WRITER_QUEUE_COUNT_MAX);
        let writer = std::thread::Builder::new()
            .name("loyalty-writer".to_owned())
            .spawn(move || writer::run(conn, receiver, syncer))?;
        Ok(Self {
            inner: Arc::new(Inner {
                backend: settings.backend.clone(),
                rebuild_page_count: settings.rebuild_page_count.max(1),
                stop_checkpointer,
                checkpointer,
                jobs: Some(jobs),
                writer: Some(writer),
                readers,
                read_permits: tokio::sync::Semaphore::new(settings.read_connections_idle_max.max(1)),
            }),
        })
    }

    /// Close the store, when this is its last handle: the writer finishes its last batch and
    /// stops, then (SQLite) the checkpointer copies the write-ahead log into the database and
    /// truncates it, unless another process is using the file, so the next open has nothing
    /// to replay (after a million-member import the log held 1.6 GB). Blocks; for commands
    /// that end the process. With other handles still open it only drops this one.
    pub fn close(self) {
        let Ok(mut inner) = Arc::try_unwrap(self.inner) else {
            return;
        };
        inner.jobs = None;
        if let Some(writer) = inner.writer.take() {
            if writer.join().is_err() {
                tracing::error!("the writer thread panicked");
            }
        }
        inner.stop_checkpointer.store(true, Ordering::Release);
        if let Some(checkpointer) = inner.checkpointer.take() {
            checkpointer.thread().unpark();
            if checkpointer.join().is_err() {
                tracing::error!("the checkpointer thread panicked");
            }
        }
    }

    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// The SQLite file, when the store is one.
    pub fn path(&self) -> Option<&Path> {
        match &self.inner.backend {
            Backend::Sqlite(path) => Some(path),
            Backend::Postgres(_) => None,
        }
    }

    /// Where the data lives, for logs (a PostgreSQL URL without its password).
    pub fn describe(&self) -> String {
        describe(&self.inner.backend)
    }

    /// Apply the embedded migrations (also done by `open`); returns how many ran.
    pub fn migrate(backend: &Backend) -> Result<usize, StoreError> {
        match backend {
            Backend::Sqlite(path) => {
                let mut conn = crate::sqlite::open_writer(path)?;
                crate::sqlite::migrate(&mut conn)
            }
            Backend::Postgres(url) => {
                off_runtime(|| crate::postgres::connect(url).and_then(|c| crate::postgres::migrate(&c)))
            }
        }
    }

    /// Try once to become the instance that runs background work `key` (one number per kind
    /// of work). On SQLite, one process owns the file's background work: always granted.
    pub async fn try_lead(&self, key: i32) -> Result<Option<Leadership>, StoreError> {
        match &self.inner.backend {
            Backend::Sqlite(_) => Ok(Some(Leadership(None))),
            Backend::Postgres(url) => {
                let url = url.clone();
                tokio::task::spawn_blocking(move || crate::postgres::Leadership::try_acquire(&url, key))
                    .await
                    .map_err(|e| StoreError::WriteFailed(format!("leadership task failed: {e}")))?
                    .map(|held| held.map(|l| Leadership(Some(l))))
            }
        }
    }

    /// Run `work` in the writer's next group commit; answered once that commit is durable.
    ///
    /// `work` may run more than once: it is retried on fresh state after a concurrency
    /// conflict, so it must decide only from what it reads through the transaction.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnMut(&mut WriteTx<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.write_prefetching(None, work).await
    }

    /// [`Self::write`], naming what `work` reads first: on PostgreSQL it is read for the whole
    /// batch in the round trip that begins the transaction (see [`Prefetch`]).
    pub async fn write_prefetching<T, F>(&self, prefetch: Option<Prefetch>, work: F) -> Result<T, StoreError>
    where
        F: FnMut(&mut WriteTx<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: JobBox = Box::new(TypedJob {
            work,
            result: None,
            reply,
            prefetch,
        });
        let jobs = self.inner.jobs.as_ref().ok_or(StoreError::WriterGone)?;
        jobs.send(job).await.map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Run a read on a pooled connection on a blocking thread.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Db<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.on_readers(move |readers| readers.with(f)).await
    }

    /// Blocking work on the read connections, off the async threads, with a read permit.
    async fn on_readers<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Readers) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .inner
            .read_permits
            .acquire()
            .await
            .map_err(|_| StoreError::WriteFailed("the read pool is closed".to_owned()))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner.readers))
            .await
            .map_err(|e| StoreError::WriteFailed(format!("read task failed: {e}")))?
    }

    /// A read whose answer leaves the system as the record (published to the bus, sent to a
    /// webhook, served as events). A commit is visible before it is durable (see
    /// [`crate::syncer`]), so every commit this read could see is made durable before it
    /// answers: on PostgreSQL by a mark on the same connection, on SQLite by syncing the log.
    /// An answer that holds nothing (`holds_nothing`) needs no sync: an idle relay's polls do
    /// not each flush the log.
    async fn read_durable<T, F>(&self, f: F, holds_nothing: fn(&T) -> bool) -> Result<T, StoreError>
    where
        F: FnOnce(Db<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.on_readers(move |readers| readers.with_durable(f, holds_nothing))
            .await
    }

    pub async fn account(&self, business_id: Uuid, account_id: Uuid) -> Result<Option<AccountView>, StoreError> {
        self.read(move |c| queries::account(c, business_id, account_id)).await
    }

    pub async fn accounts_by_email(&self, business_id: Uuid, email: String) -> Result<Vec<AccountView>, StoreError> {
        self.read(move |c| queries::accounts_by_email(c, business_id, &email))
            .await
    }

    pub async fn accounts_by_customer(
        &self,
        business_id: Uuid,
        customer_id: String,
    ) -> Result<Vec<AccountView>, StoreError> {
        self.read(move |c| queries::accounts_by_customer(c, business_id, &customer_id))
            .await
    }

    pub async fn transaction_page(
        &self,
        business_id: Uuid,
        account_id: Uuid,
        cursor: Option<i64>,
        limit: u32,
    ) -> Result<TransactionPageAnswer, StoreError> {
        self.read(move |c| queries::transaction_page(c, business_id, account_id, cursor, limit))
            .await
    }

    pub async fn program(&self, business_id: Uuid, program_id: Uuid) -> Result<Option<ProgramView>, StoreError> {
        self.read(move |c| queries::program(c, business_id, program_id)).await
    }

    pub async fn programs(&self, business_id: Uuid) -> Result<Vec<ProgramView>, StoreError> {
        self.read(move |c| queries::programs(c, business_id)).await
    }

    /// A program's rewards catalogue; `None` when the program is not the business's.
    pub async fn rewards(&self, business_id: Uuid, program_id: Uuid) -> Result<Option<Vec<RewardView>>, StoreError> {
        self.read(move |c| queries::rewards(c, business_id, program_id)).await
    }

    pub async fn aggregate_events(
        &self,
        business_id: Uuid,
        aggregate_id: Uuid,
        limit: u32,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError> {
        self.read_durable(
            move |c| queries::aggregate_events(c, business_id, aggregate_id, limit),
            |events| events.as_ref().is_none_or(Vec::is_empty),
        )
        .await
    }

    pub async fn event_feed(&self, business_id: Uuid, after: i64, limit: u32) -> Result<EventFeed, StoreError> {
        self.read_durable(
            move |c| queries::event_feed(c, business_id, after, limit),
            |feed| feed.items.is_empty(),
        )
        .await
    }

    pub async fn business_by_key_hash(&self, key_hash: String) -> Result<Option<Business>, StoreError> {
        self.read(move |c| queries::business_by_key_hash(c, &key_hash)).await
    }

    /// Register a business; `api_key_hash` is the hash of a key shown once to its owner.
    pub async fn create_business(&self, name: String, api_key_hash: String) -> Result<Business, StoreError> {
        self.write(move |tx| tx.insert_business(&name, &api_key_hash)).await
    }

    /// Accounts with a lot to expire or pending points to release by `as_of`, soonest first (on
    /// SQLite by the month they fall due in; see `queries::due_accounts`).
    pub async fn due_accounts(&self, as_of: DateTime<Utc>, limit: u32) -> Result<Vec<Uuid>, StoreError> {
        self.read(move |db| queries::due_accounts(db, as_of, limit)).await
    }

    /// The aggregates of type `A` among `aggregate_ids`, as their snapshots hold them now, each
    /// as its owner's: the sweeper's read, to decide outside the writer (see [`crate::Decided`]).
    /// Never for ids a client sent, which must be loaded as their business's.
    pub async fn load_any_business<A>(&self, aggregate_ids: Vec<Uuid>) -> Result<Vec<Loaded<A>>, StoreError>
    where
        A: Aggregate + DeserializeOwned + Send + 'static,
    {
        self.read(move |db| {
            queries::snapshot_rows(db, &aggregate_ids)?
                .into_iter()
                .filter_map(|(id, row)| Loaded::of_any_business(id, row).transpose())
                .collect()
        })
        .await
    }

    /// Programs whose members can move between tiers: `(business_id, program_id, definition)`.
    pub async fn tiered_programs(&self) -> Result<Vec<(Uuid, Uuid, ProgramDefinition)>, StoreError> {
        self.read(queries::tiered_programs).await
    }

    /// Members of `program_id` above tier `level`.
    pub async fn accounts_above_tier(&self, program_id: Uuid, level: u32) -> Result<Vec<Uuid>, StoreError> {
        self.read(move |db| queries::accounts_above_tier(db, program_id, level))
            .await
    }

    /// Every business's events after `after`, in commit order (for event handlers, whose
    /// effects commit after the events they handle).
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(move |db| queries::events_after(db, after, limit)).await
    }

    /// The events after `after` that `filter` wants, and how far the log was read (see
    /// [`queries::events_matching`]): for event handlers that want few of them.
    pub async fn events_matching(
        &self,
        after: i64,
        filter: crate::EventFilter,
        limit: u32,
    ) -> Result<(Vec<StoredEvent>, i64), StoreError> {
        self.read(move |db| queries::events_matching(db, after, filter, limit))
            .await
    }

    /// [`Self::events_after`], durable: for what publishes them (the outbox relay).
    pub async fn durable_events_after(&self, after: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        self.read_durable(move |db| queries::events_after(db, after, limit), Vec::is_empty)
            .await
    }

    /// Where checkpoint `name` stands.
    pub async fn checkpoint(&self, name: &str) -> Result<i64, StoreError> {
        let name = name.to_owned();
        self.read(move |db| queries::checkpoint(db, &name)).await
    }

    /// The position of the newest event.
    pub async fn head_position(&self) -> Result<i64, StoreError> {
        self.read(queries::head_position).await
    }

    /// Notifications sent to an account: `(kind, body)`, oldest first.
    pub async fn notifications(&self, account_id: Uuid) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        self.read(move |db| queries::notifications(db, account_id)).await
    }

    /// Dead letters, oldest first, of one business or (`None`) of all.
    pub async fn dead_letters(&self, business_id: Option<Uuid>, limit: u32) -> Result<Vec<DeadLetter>, StoreError> {
        self.read_durable(
            move |db| crate::dead_letter::list(db, business_id, limit),
            Vec::is_empty,
        )
        .await
    }

    /// One dead letter.
    pub async fn dead_letter(&self, id: Uuid) -> Result<Option<DeadLetter>, StoreError> {
        self.read_durable(move |db| crate::dead_letter::get(db, id), Option::is_none)
            .await
    }

    /// How many dead letters there are.
    pub async fn dead_letter_count(&self) -> Result<i64, StoreError> {
        self.read(crate::dead_letter::count).await
    }

    /// A business's webhook subscriptions.
    pub async fn webhooks(&self, business_id: Uuid) -> Result<Vec<crate::Webhook>, StoreError> {
        self.read(move |db| crate::webhooks::list(db, business_id)).await
    }

    /// One subscription of a business.
    pub async fn webhook(&self, business_id: Uuid, webhook_id: Uuid) -> Result<Option<crate::Webhook>, StoreError> {
        self.read(move |db| crate::webhooks::get(db, business_id, webhook_id))
            .await
    }

    /// A subscription's deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        webhook_id: Uuid,
        status: Option<String>,
        limit: u32,
    ) -> Result<Vec<crate::WebhookDelivery>, StoreError> {
        self.read_durable(
            move |db| crate::webhooks::deliveries(db, webhook_id, status.as_deref(), limit),
            Vec::is_empty,
        )
        .await
    }

    /// Deliveries due by `now`, with their subscriptions.
    pub async fn webhook_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(crate::WebhookDelivery, crate::Webhook)>, StoreError> {
        self.read_durable(move |db| crate::webhooks::due(db, now, limit), Vec::is_empty)
            .await
    }

    /// A business's locations.
    pub async fn locations(&self, business_id: Uuid) -> Result<Vec<crate::Location>, StoreError> {
        self.read(move |db| crate::restaurant::locations(db, business_id)).await
    }

    /// A business's points: `(sum of balances, sum of the ledger)`; equal unless something is wrong.
    pub async fn point_totals(&self, business_id: Uuid) -> Result<(i64, i64), StoreError> {
        self.read(move |db| queries::point_totals(db, business_id)).await
    }

    /// Why the store has halted, once it has: a sync of SQLite's write-ahead log failed, so it
    /// serves nothing until the process is restarted (see `sqlite::LogFile`). PostgreSQL's
    /// store does not halt: its server recovers, and the writer reconnects.
    pub fn halted(&self) -> Option<String> {
        match &self.inner.readers {
            Readers::Sqlite { log, .. } => log.failure().map(str::to_owned),
            Readers::Pg(_) => None,
        }
    }

    /// Make the next sync of SQLite's write-ahead log fail as a device's error would, so that
    /// the store halts; `false` (and nothing done) on PostgreSQL. For tests only.
    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    pub fn fail_next_log_sync(&self) -> bool {
        match &self.inner.readers {
            Readers::Sqlite { log, .. } => {
                log.fail_next_sync();
                true
            }
            Readers::Pg(_) => false,
        }
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|db| db.query_row("SELECT 1", params![], |_| Ok(()))).await
    }

    /// Rebuild every read model and snapshot from the event store, in one transaction on a
    /// connection of its own. `progress(done, total)` is called as events are replayed.
    pub fn rebuild_projections(
        &self,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<RebuildReport, StoreError> {
        match &self.inner.backend {
            Backend::Sqlite(path) => {
                let conn = crate::sqlite::open_writer(path)?;
                // One transaction writes the snapshots that differ and, where a read model
                // differs in many rows, the whole table: a larger page cache than the writer's
                // (see the constant, measured when every read model was rewritten).
                conn.pragma_update(None, "cache_size", REBUILD_CACHE_KIB_NEGATIVE)?;
                conn.pragma_update(None, "mmap_size", REBUILD_MMAP_BYTES)?;
                let reader = crate::sqlite::open_reader(path)?;
                reader.pragma_update(None, "mmap_size", REBUILD_MMAP_BYTES)?;
                let reader = crate::rebuild::Reader::Sqlite(reader);
                // The projections' statements, run once or more per event, are held prepared.
                let held = crate::sqlite::HeldStatements::new(&conn);
                let db = Db::Sqlite(&conn, Some(&held));
                crate::rebuild::rebuild(db, reader, self.inner.rebuild_page_count, progress)
            }
            Backend::Postgres(url) => off_runtime(|| {
                let conn = crate::postgres::connect(url)?;
                let reader = crate::rebuild::Reader::Pg(Box::new(crate::postgres::connect(url)?));
                crate::rebuild::rebuild(Db::Pg(&conn), reader, self.inner.rebuild_page_count, progress)
            }),
        }
    }

    /// Digests of every read model row and every snapshot row, to compare live projections
    /// with a rebuild.
    pub fn read_model_fingerprint(&self) -> Result<crate::Fingerprint, StoreError> {
        off_runtime(|| self.inner.readers.with(crate::rebuild::fingerprint))
    }
}

/// Run blocking database work on a plain thread of its own: PostgreSQL's synchronous client
/// must not block (nor be dropped) on an async runtime's thread, and these entry points are
/// called from async code.
fn off_runtime<T: Send>(work: impl FnOnce() -> Result<T, StoreError> + Send) -> Result<T, StoreError> {
    std::thread::scope(|scope| {
        scope
            .spawn(work)
            .join()
            .unwrap_or_else(|_| Err(StoreError::WriteFailed("a database thread panicked".to_owned())))
    })
}

/// Background work this instance leads (see [`Store::try_lead`]); given up when dropped.
pub struct Leadership(Option<crate::postgres::Leadership>);

impl Leadership {
    /// Whether the leadership still holds (its connection still answers). Blocking: call
    /// from a blocking thread.
    pub fn still_held(&self) -> bool {
        self.0.as_ref().is_none_or(crate::postgres::Leadership::still_held)
    }
}

/// Where the data lives, for logs and messages (a PostgreSQL URL without its password).
pub fn describe(backend: &Backend) -> String {
    match backend {
        Backend::Sqlite(path) => path.display().to_string(),
        Backend::Postgres(url) => match url.parse::<postgres::Config>() {
            Ok(config) => {
                let host = config
                    .get_hosts()
                    .first()
                    .map(|h| match h {
                        postgres::config::Host::Tcp(name) => name.clone(),
                        postgres::config::Host::Unix(path) => path.display().to_string(),
                    })
                    .unwrap_or_default();
                format!(
                    "postgres://{}@{host}/{}",
                    config.get_user().unwrap_or(""),
                    config.get_dbname().unwrap_or("")
                )
            }
            Err(_) => "postgres (unparsable URL)".to_owned(),
        },
    }
}
