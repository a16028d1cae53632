//! `SqliteStore`: the handle the service holds. Cheap to clone.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use loyalty_domain::program::ProgramDefinition;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::connection::open_writer;
use super::queries;
use super::read_pool::ReadPool;
use super::write_tx::WriteTx;
use super::writer::{self, JobBox, TypedJob};
use crate::views::{AccountView, EventFeed, ProgramView, RewardView, TransactionPage};
use crate::{schema, Business, DeadLetter, RebuildReport, StoreError, StoredEvent, WRITER_QUEUE_COUNT_MAX};

/// Where the database lives and how many idle readers to keep.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    pub path: PathBuf,
    pub read_connections_idle_max: usize,
}

impl StoreSettings {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            read_connections_idle_max: 16,
        }
    }
}

/// The SQLite event store with its read models.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Tells the checkpointer to stop once the last handle is dropped.
    stop_checkpointer: Arc<AtomicBool>,
    jobs: mpsc::Sender<JobBox>,
    readers: ReadPool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_checkpointer.store(true, Ordering::Release);
    }
}

impl SqliteStore {
    /// Open (creating if needed) and migrate the database, and start the writer thread.
    pub fn open(settings: &StoreSettings) -> Result<Self, StoreError> {
        if let Some(parent) = settings.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut conn = open_writer(&settings.path)?;
        schema::migrate(&mut conn)?;
        let (jobs, receiver) = mpsc::channel(WRITER_QUEUE_COUNT_MAX);
        std::thread::Builder::new()
            .name("loyalty-writer".to_owned())
            .spawn(move || writer::run(conn, receiver))?;
        let stop_checkpointer = Arc::new(AtomicBool::new(false));
        super::checkpointer::spawn(settings.path.clone(), Arc::clone(&stop_checkpointer))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: settings.path.clone(),
                stop_checkpointer,
                jobs,
                readers: ReadPool::new(settings.path.clone(), settings.read_connections_idle_max),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Apply the embedded migrations (also done by `open`); returns how many ran.
    pub fn migrate(path: &Path) -> Result<usize, StoreError> {
        let mut conn = open_writer(path)?;
        schema::migrate(&mut conn)
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
        let (reply, answer) = oneshot::channel();
        let job: JobBox = Box::new(TypedJob {
            work,
            result: None,
            reply,
        });
        self.inner.jobs.send(job).await.map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Run a read on a pooled connection on a blocking thread.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.readers.with(f))
            .await
            .map_err(|e| StoreError::WriteFailed(format!("read task failed: {e}")))?
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
    ) -> Result<Option<TransactionPage>, StoreError> {
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
        self.read(move |c| queries::aggregate_events(c, business_id, aggregate_id, limit))
            .await
    }

    pub async fn event_feed(&self, business_id: Uuid, after: i64, limit: u32) -> Result<EventFeed, StoreError> {
        self.read(move |c| queries::event_feed(c, business_id, after, limit))
            .await
    }

    pub async fn business_by_key_hash(&self, key_hash: String) -> Result<Option<Business>, StoreError> {
        self.read(move |c| queries::business_by_key_hash(c, &key_hash)).await
    }

    /// Register a business; `api_key_hash` is the hash of a key shown once to its owner.
    pub async fn create_business(&self, name: String, api_key_hash: String) -> Result<Business, StoreError> {
        self.write(move |tx| tx.insert_business(&name, &api_key_hash)).await
    }

    /// Whether the database answers (for `/readyz`).
    /// Accounts with a lot to expire or pending points to release by `as_of`, soonest first.
    pub async fn due_accounts(&self, as_of: DateTime<Utc>, limit: u32) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        self.read(move |conn| queries::due_accounts(conn, as_of, limit)).await
    }

    /// Programs whose members can move between tiers: `(business_id, program_id, definition)`.
    pub async fn tiered_programs(&self) -> Result<Vec<(Uuid, Uuid, ProgramDefinition)>, StoreError> {
        self.read(queries::tiered_programs).await
    }

    /// Members of `program_id` above tier `level`.
    pub async fn accounts_above_tier(&self, program_id: Uuid, level: u32) -> Result<Vec<Uuid>, StoreError> {
        self.read(move |conn| queries::accounts_above_tier(conn, program_id, level))
            .await
    }

    /// Every business's events after `after`, in commit order (for event handlers).
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(move |conn| queries::events_after(conn, after, limit)).await
    }

    /// Where checkpoint `name` stands.
    pub async fn checkpoint(&self, name: &str) -> Result<i64, StoreError> {
        let name = name.to_owned();
        self.read(move |conn| queries::checkpoint(conn, &name)).await
    }

    /// The position of the newest event.
    pub async fn head_position(&self) -> Result<i64, StoreError> {
        self.read(queries::head_position).await
    }

    /// Notifications sent to an account: `(kind, body)`, oldest first.
    pub async fn notifications(&self, account_id: Uuid) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
        self.read(move |conn| queries::notifications(conn, account_id)).await
    }

    /// Dead letters, oldest first, of one business or (`None`) of all.
    pub async fn dead_letters(&self, business_id: Option<Uuid>, limit: u32) -> Result<Vec<DeadLetter>, StoreError> {
        self.read(move |conn| crate::dead_letter::list(conn, business_id, limit))
            .await
    }

    /// One dead letter.
    pub async fn dead_letter(&self, id: Uuid) -> Result<Option<DeadLetter>, StoreError> {
        self.read(move |conn| crate::dead_letter::get(conn, id)).await
    }

    /// How many dead letters there are.
    pub async fn dead_letter_count(&self) -> Result<i64, StoreError> {
        self.read(crate::dead_letter::count).await
    }

    /// A business's webhook subscriptions.
    pub async fn webhooks(&self, business_id: Uuid) -> Result<Vec<crate::Webhook>, StoreError> {
        self.read(move |conn| crate::webhooks::list(conn, business_id)).await
    }

    /// One subscription of a business.
    pub async fn webhook(&self, business_id: Uuid, webhook_id: Uuid) -> Result<Option<crate::Webhook>, StoreError> {
        self.read(move |conn| crate::webhooks::get(conn, business_id, webhook_id))
            .await
    }

    /// A subscription's deliveries, newest first.
    pub async fn webhook_deliveries(
        &self,
        webhook_id: Uuid,
        status: Option<String>,
        limit: u32,
    ) -> Result<Vec<crate::WebhookDelivery>, StoreError> {
        self.read(move |conn| crate::webhooks::deliveries(conn, webhook_id, status.as_deref(), limit))
            .await
    }

    /// Deliveries due by `now`, with their subscriptions.
    pub async fn webhook_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(crate::WebhookDelivery, crate::Webhook)>, StoreError> {
        self.read(move |conn| crate::webhooks::due(conn, now, limit)).await
    }

    /// A business's locations.
    pub async fn locations(&self, business_id: Uuid) -> Result<Vec<crate::Location>, StoreError> {
        self.read(move |conn| crate::restaurant::locations(conn, business_id))
            .await
    }

    /// A business's points: `(sum of balances, sum of the ledger)`; equal unless something is wrong.
    pub async fn point_totals(&self, business_id: Uuid) -> Result<(i64, i64), StoreError> {
        self.read(move |conn| queries::point_totals(conn, business_id)).await
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?)).await
    }

    /// Rebuild every read model and snapshot from the event store, in one transaction on a
    /// connection of its own. `progress(done, total)` is called as events are replayed.
    pub fn rebuild_projections(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<RebuildReport, StoreError> {
        let mut conn = open_writer(&self.inner.path)?;
        crate::rebuild::rebuild(&mut conn, progress)
    }

    /// A digest of every read model and snapshot row, to compare live projections with a rebuild.
    pub fn read_model_fingerprint(&self) -> Result<String, StoreError> {
        self.inner.readers.with(crate::rebuild::fingerprint)
    }
}
