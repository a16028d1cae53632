//! One PostgreSQL connection, driven synchronously from the writer's (or a reader's) thread,
//! that sends deferred writes in a pipeline.
//!
//! A write whose answer nothing waits for (a projection row, the snapshot update, the event
//! itself, a savepoint) is not sent at once: it is queued, and the queue goes out in one
//! pipeline (tokio-postgres sends every request before reading any answer) together with the
//! next statement whose answer is needed, or at the end of the command. One command of the
//! writer then costs a few round trips instead of one per row. An error, or a row count that is
//! not what the write expected, is reported by the flush that carried it.
//!
//! The writer runs a batch in one of two modes:
//! - **fast** (the first attempt): no savepoints; each command's idempotency record and
//!   aggregate were read for the whole batch when it began (`begin_batch`); the rows of events,
//!   ledger entries, idempotency records and snapshots go out as one multi-row statement per
//!   table (`bulk`). A command that fails before anything of it was sent is simply dropped from
//!   the queue. Any failure after that (a database error, a check that fails, a command that
//!   fails after some of its writes went out) poisons the transaction, and the writer runs the
//!   batch again:
//! - **strict**: a savepoint per command, whose writes are sent when it ends, so a failure is
//!   that command's alone and the others commit.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::bulk::{self, BulkRow, Column};
use crate::db::{pg_placeholders, Value};
use crate::{Prefetch, StoreError};

/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT_SECS: u64 = 10;

/// A write queued for the next pipeline.
enum Deferred {
    /// A statement of the simple protocol (savepoints).
    Simple(&'static str),
    /// A prepared statement; with the answer when its check fails (a row-count check divides
    /// by zero, see `Stmt::execute_expecting`; an insert violates a unique index).
    Execute {
        statement: Statement,
        values: Vec<Value<'static>>,
        otherwise: Option<StoreError>,
    },
    /// A multi-row statement (see `bulk`), with one array per parameter.
    Columns {
        statement: Statement,
        columns: Vec<Column>,
        otherwise: Option<StoreError>,
    },
}

/// A PostgreSQL connection with its statement cache and its queue of deferred writes.
pub struct PgConn {
    runtime: tokio::runtime::Runtime,
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
    pending: RefCell<Vec<Deferred>>,
    /// Rows for the next flush's multi-row statements.
    bulk: RefCell<Vec<BulkRow>>,
    /// Where the current command's items start in `pending` and `bulk`.
    command_start: Cell<(usize, usize)>,
    /// Something the current command queued was sent.
    command_sent: Cell<bool>,
    /// In fast mode, something failed: the whole transaction must be rolled back.
    poisoned: Cell<bool>,
    /// A savepoint per command, whose writes are sent when it ends (see `set_strict`).
    strict: Cell<bool>,
    /// The next event position of this transaction (see `next_position`).
    next_position: Cell<Option<i64>>,
    /// Snapshot rows read or written in this transaction (see `cached_snapshot`).
    snapshots: RefCell<HashMap<String, Option<SnapshotRow>>>,
    /// Idempotency records read or written in this transaction, by (business, key); `None`
    /// when the key is known to be unused (see `cached_idempotency`).
    idempotency: RefCell<HashMap<(String, String), Option<IdempotencyRow>>>,
}

/// A snapshot row: owner business, aggregate type, version, state (JSON).
pub type SnapshotRow = (String, String, i64, String);
/// An idempotency row: request hash, status, body (JSON).
pub type IdempotencyRow = (String, u16, String);

const HEAD_SQL: &str = "SELECT COALESCE(MAX(position), 0) FROM events";
// The batch's reads look each key up in the primary key (a lateral subquery with LIMIT is not
// flattened into a join): a plan that scans the table and hashes the keys costs as much as
// the whole batch once the table is large, and `= ANY(array)` chose one on small tables.
const IDEMPOTENCY_PREFETCH_SQL: &str = "SELECT k.business_id, k.idem_key, i.request_hash, i.status, i.body
     FROM unnest(?1::text[], ?2::text[]) AS k(business_id, idem_key)
     CROSS JOIN LATERAL (SELECT request_hash, status, body FROM idempotency
                         WHERE business_id = k.business_id AND idem_key = k.idem_key LIMIT 1) AS i";
const SNAPSHOTS_PREFETCH_SQL: &str = "SELECT k.aggregate_id, s.business_id, s.aggregate_type, s.version, s.state
     FROM unnest(?1::text[]) AS k(aggregate_id)
     CROSS JOIN LATERAL (SELECT business_id, aggregate_type, version, state FROM snapshots
                         WHERE aggregate_id = k.aggregate_id LIMIT 1) AS s";

/// A row of `SNAPSHOTS_PREFETCH_SQL`: the aggregate's id and its snapshot row.
fn prefetched_snapshot(row: &tokio_postgres::Row) -> Result<(String, SnapshotRow), StoreError> {
    Ok((
        row.try_get(0)?,
        (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?, row.try_get(4)?),
    ))
}

/// Names a connection `loyalty <schema>` (see [`PgConn::connect`]).
const CONNECTION_NAME_SQL: &str =
    "SELECT set_config('application_name', 'loyalty ' || COALESCE(current_schema(), ''), false)";

/// How many keys one prefetch query looks up (see `prefetch_snapshots`).
const PREFETCH_CHUNK_COUNT: usize = 10_000;

impl PgConn {
    /// Connect; `url` is a libpq-style URL (a schema with `options=-c search_path=NAME`).
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Config(format!("not a PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(CONNECT_TIMEOUT_SECS));
        }
        config.application_name("loyalty");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let (client, connection) = runtime.block_on(config.connect(tokio_postgres::NoTls))?;
        // Driven whenever this connection blocks on a request (a current-thread runtime).
        runtime.spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "PostgreSQL connection closed");
            }
        });
        // Named with its schema in `pg_stat_activity` (`loyalty <schema>`), so that an operator
        // can tell the instances of several databases or schemas apart on one server.
        runtime.block_on(client.batch_execute(CONNECTION_NAME_SQL))?;
        Ok(Self {
            runtime,
            client,
            statements: RefCell::new(HashMap::new()),
            pending: RefCell::new(Vec::new()),
            bulk: RefCell::new(Vec::new()),
            command_start: Cell::new((0, 0)),
            command_sent: Cell::new(false),
            poisoned: Cell::new(false),
            strict: Cell::new(false),
            next_position: Cell::new(None),
            snapshots: RefCell::new(HashMap::new()),
            idempotency: RefCell::new(HashMap::new()),
        })
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Whether the server has closed this idle connection (a restart, a terminated
    /// backend), checked before it is used again. Its connection task runs only while this
    /// runtime is driven, so what the server sent meanwhile (a FATAL message, the end of the
    /// stream) is read first: a turn of the runtime, no round trip. Otherwise the next request
    /// would fail on it instead of on a fresh connection.
    pub fn closed_while_idle(&self) -> bool {
        self.runtime.block_on(async {
            // Two turns: the first lets the driver see the socket ready and wake the
            // connection task, the second lets that task run.
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        });
        self.client.is_closed()
    }

    /// The statement for `sql` (written with `?N`), prepared once per connection.
    pub fn statement(&self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.runtime.block_on(self.client.prepare(&pg_placeholders(sql)))?;
        self.statements.borrow_mut().insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Rows of `statement`, after everything queued.
    pub fn query(&self, statement: &Statement, values: &[Value<'_>]) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let refs = refs(values);
        self.pipelined(self.client.query(statement, &refs))
    }

    /// Rows of `sql`, whose parameters are the array `keys` and then `more`, after everything
    /// queued.
    fn query_array(&self, sql: &str, keys: &[String], more: &[&str]) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let statement = self.statement(sql)?;
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&keys];
        params.extend(more.iter().map(|value| value as &(dyn ToSql + Sync)));
        self.pipelined(self.client.query(&statement, &params))
    }

    /// Read the snapshots of many aggregates into the transaction's cache (see
    /// `cached_snapshot`), a chunk of them per round trip, instead of one round trip per
    /// aggregate as each is loaded. Those already seen in this transaction are not read again.
    pub fn prefetch_snapshots(&self, aggregate_ids: &[String]) -> Result<(), StoreError> {
        let unseen: Vec<String> = {
            let cache = self.snapshots.borrow();
            aggregate_ids
                .iter()
                .filter(|id| !cache.contains_key(*id))
                .cloned()
                .collect()
        };
        for chunk in unseen.chunks(PREFETCH_CHUNK_COUNT) {
            let rows = self.query_array(SNAPSHOTS_PREFETCH_SQL, chunk, &[])?;
            self.cache_prefetched_snapshots(chunk.iter().cloned(), rows)?;
        }
        Ok(())
    }

    /// Cache the answer of `SNAPSHOTS_PREFETCH_SQL` for the aggregates it was asked about:
    /// each one it returned with its row, the others as not existing.
    fn cache_prefetched_snapshots(
        &self,
        asked: impl IntoIterator<Item = String>,
        rows: Vec<tokio_postgres::Row>,
    ) -> Result<(), StoreError> {
        let mut cache = self.snapshots.borrow_mut();
        for aggregate in asked {
            cache.insert(aggregate, None);
        }
        for row in rows {
            let (aggregate, snapshot) = prefetched_snapshot(&row)?;
            cache.insert(aggregate, Some(snapshot));
        }
        Ok(())
    }

    /// The snapshot rows of those of `aggregate_ids` that exist, each with its id, a chunk of
    /// ids per round trip: read as they are now, not through the transaction's cache (for a
    /// read connection).
    pub fn snapshot_rows(&self, aggregate_ids: &[String]) -> Result<Vec<(String, SnapshotRow)>, StoreError> {
        let mut found = Vec::with_capacity(aggregate_ids.len());
        for chunk in aggregate_ids.chunks(PREFETCH_CHUNK_COUNT) {
            for row in self.query_array(SNAPSHOTS_PREFETCH_SQL, chunk, &[])? {
                found.push(prefetched_snapshot(&row)?);
            }
        }
        Ok(found)
    }

    /// Which of `email_keys` an account of `program_id` has, a chunk of keys per round trip.
    pub fn taken_email_keys(&self, program_id: &str, email_keys: &[String]) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT k.email_key FROM unnest(?1::text[]) AS k(email_key)
             WHERE EXISTS (SELECT 1 FROM accounts WHERE program_id = ?2::text AND email_key = k.email_key)";
        let mut taken = Vec::new();
        for chunk in email_keys.chunks(PREFETCH_CHUNK_COUNT) {
            for row in self.query_array(SQL, chunk, &[program_id])? {
                taken.push(row.try_get(0)?);
            }
        }
        Ok(taken)
    }

    /// Rows changed by `statement`, after everything queued.
    pub fn execute(&self, statement: &Statement, values: &[Value<'_>]) -> Result<u64, StoreError> {
        let refs = refs(values);
        self.pipelined(self.client.execute(statement, &refs))
    }

    /// Statements of the simple protocol, after everything queued.
    pub fn batch_execute(&self, sql: &str) -> Result<(), StoreError> {
        self.pipelined(self.client.batch_execute(sql))
    }

    /// Queue a write; `otherwise` is the answer if its row-count check divides by zero.
    pub fn defer(&self, statement: Statement, values: Vec<Value<'static>>, otherwise: Option<StoreError>) {
        self.pending.borrow_mut().push(Deferred::Execute {
            statement,
            values,
            otherwise,
        });
    }

    /// Queue a row for the flush's multi-row insert into its table (see `bulk`): `sql` is the
    /// one-row insert.
    pub(crate) fn defer_row(&self, sql: String, values: Vec<Value<'static>>, otherwise: Option<StoreError>) {
        self.bulk.borrow_mut().push(BulkRow::Insert { sql, values, otherwise });
    }

    /// Queue an update of one row, keyed by its first value, for the flush's multi-row updates
    /// (see `bulk`); it must change exactly that row, else the answer is `otherwise`.
    pub(crate) fn defer_keyed(&self, sql: String, values: Vec<Value<'static>>, otherwise: StoreError) {
        self.bulk.borrow_mut().push(BulkRow::Keyed { sql, values, otherwise });
    }

    /// Queue a snapshot write (version `row.2` over `expected`; 0 creates it), and remember the
    /// row for the commands after this one. A failed write fails the command, whose rollback
    /// forgets the cache.
    pub(crate) fn defer_snapshot(
        &self,
        aggregate_id: String,
        expected: i64,
        row: SnapshotRow,
        due_at: Option<String>,
        otherwise: StoreError,
    ) {
        self.cache_snapshot(aggregate_id.clone(), Some(row.clone()));
        self.bulk.borrow_mut().push(BulkRow::Snapshot {
            aggregate_id,
            expected,
            row,
            due_at,
            otherwise,
        });
    }

    /// Begin a command. In strict mode, queue its savepoint: if the command fails before
    /// anything was sent, nothing of it is sent at all.
    pub fn savepoint(&self) {
        self.command_start
            .set((self.pending.borrow().len(), self.bulk.borrow().len()));
        self.command_sent.set(false);
        if self.strict.get() {
            self.pending.borrow_mut().push(Deferred::Simple("SAVEPOINT job"));
        }
    }

    /// End a command. In fast mode what it queued goes out with the next flush (a later
    /// command's first query, or the commit); in strict mode, now, with the release of its
    /// savepoint.
    pub fn release(&self) -> Result<(), StoreError> {
        if !self.strict.get() {
            return Ok(());
        }
        // The command's rows, inside its savepoint.
        self.materialize()?;
        self.pending
            .borrow_mut()
            .push(Deferred::Simple("RELEASE SAVEPOINT job"));
        self.flush()
    }

    /// Fast mode or strict mode (see the module's comment).
    pub fn set_strict(&self, strict: bool) {
        self.strict.set(strict);
    }

    /// Whether this transaction failed in fast mode (it must roll back).
    pub fn poisoned(&self) -> bool {
        self.poisoned.get()
    }

    /// Undo a command: drop what it queued; roll back what it sent (strict mode), or, in fast
    /// mode where there is no savepoint to go back to, poison the transaction.
    pub fn rollback_to_savepoint(&self) -> Result<(), StoreError> {
        // What this command read or wrote may be undone: forget every cached row.
        self.snapshots.borrow_mut().clear();
        self.idempotency.borrow_mut().clear();
        if !self.command_sent.get() {
            let (pending, bulk) = self.command_start.get();
            self.pending.borrow_mut().truncate(pending);
            self.bulk.borrow_mut().truncate(bulk);
            return Ok(());
        }
        self.pending.borrow_mut().clear();
        self.bulk.borrow_mut().clear();
        if self.strict.get() {
            return self.batch_execute("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job");
        }
        self.poisoned.set(true);
        Err(StoreError::WriteFailed(
            "a command failed after some of its writes were sent".to_owned(),
        ))
    }

    /// End the batch's commands: send what is still queued. An error means a command that
    /// was already counted as done did not write everything: the transaction must roll back.
    pub fn finish(&self) -> Result<(), StoreError> {
        // Sent with the queue, `SELECT 1` fails if the transaction is aborted (a statement
        // failed that nothing else reported, a prepare say), where `COMMIT` would roll back
        // without an error and callers would be told their work was kept.
        self.pipelined(self.client.batch_execute("SELECT 1"))?;
        if self.poisoned.get() {
            return Err(StoreError::batch_poisoned());
        }
        Ok(())
    }

    /// End the batch's commands and commit without waiting for the disk (for the writer, whose
    /// syncer answers nobody before the commit is durable; see `postgres::syncer`), in one
    /// round trip: what is still queued, the `SELECT 1` check of [`Self::finish`], and the
    /// asynchronous `COMMIT`. When anything before the `COMMIT` fails, PostgreSQL has aborted
    /// the transaction and the `SET LOCAL` before the `COMMIT` fails too, so the `COMMIT` is not
    /// run; the error is returned and the writer's `ROLLBACK` ends the transaction.
    pub fn commit_unsynced(&self) -> Result<(), StoreError> {
        if self.poisoned.get() {
            return Err(StoreError::batch_poisoned());
        }
        let client = &self.client;
        self.pipelined(async {
            let (checked, committed) = futures::join!(
                client.batch_execute("SELECT 1"),
                client.batch_execute("SET LOCAL synchronous_commit TO OFF; COMMIT"),
            );
            checked.and(committed)
        })
    }

    /// Begin a writer transaction in one round trip: `BEGIN`, the event-log lock, the head of
    /// the log (see `next_position`), and for every command of the batch its idempotency
    /// record and the snapshot it loads first (kept in the caches).
    pub fn begin_batch(&self, hints: &[&Prefetch]) -> Result<(), StoreError> {
        self.reset_transaction();
        let lock = self.statement(super::EVENT_LOG_LOCK_SQL)?;
        let head = self.statement(HEAD_SQL)?;
        let idempotency = self.statement(IDEMPOTENCY_PREFETCH_SQL)?;
        let snapshots = self.statement(SNAPSHOTS_PREFETCH_SQL)?;
        let (mut businesses, mut keys, mut aggregates) = (Vec::new(), Vec::new(), Vec::new());
        for hint in hints {
            if let Some(key) = &hint.idempotency_key {
                businesses.push(hint.business_id.to_string());
                keys.push(key.clone());
            }
            if let Some(aggregate) = hint.aggregate_id {
                aggregates.push(aggregate.to_string());
            }
        }
        let client = &self.client;
        let idempotency_params: [&(dyn ToSql + Sync); 2] = [&businesses, &keys];
        let snapshots_params: [&(dyn ToSql + Sync); 1] = [&aggregates];
        let (begun, locked, head, records, rows) = self.runtime.block_on(async {
            futures::join!(
                client.batch_execute("BEGIN"),
                client.query(&lock, &[]),
                client.query(&head, &[]),
                client.query(&idempotency, &idempotency_params),
                client.query(&snapshots, &snapshots_params),
            )
        });
        begun?;
        let read = || -> Result<(), StoreError> {
            locked?;
            let head: i64 = head?.first().map_or(Ok(0), |row| row.try_get(0))?;
            self.next_position.set(Some(head + 1));
            let mut cache = self.idempotency.borrow_mut();
            for (business, key) in businesses.into_iter().zip(keys) {
                cache.insert((business, key), None);
            }
            for row in records? {
                let status: i64 = row.try_get(3)?;
                let status = u16::try_from(status)
                    .map_err(|_| StoreError::Corrupt(format!("idempotency record with status {status}")))?;
                cache.insert(
                    (row.try_get(0)?, row.try_get(1)?),
                    Some((row.try_get(2)?, status, row.try_get(4)?)),
                );
            }
            self.cache_prefetched_snapshots(aggregates, rows?)
        };
        read().inspect_err(|_| {
            self.reset_transaction();
            let _ = self.batch_execute("ROLLBACK");
        })
    }

    /// The idempotency record of (`business_id`, `key`) as this transaction read or wrote it;
    /// `None` when not read yet, `Some(None)` when the key is unused.
    pub fn cached_idempotency(&self, business_id: &str, key: &str) -> Option<Option<IdempotencyRow>> {
        self.idempotency
            .borrow()
            .get(&(business_id.to_owned(), key.to_owned()))
            .cloned()
    }

    /// Remember an idempotency record read or written in this transaction.
    pub fn cache_idempotency(&self, business_id: String, key: String, row: Option<IdempotencyRow>) {
        self.idempotency.borrow_mut().insert((business_id, key), row);
    }

    /// The snapshot row of `aggregate_id` as this transaction last saw or wrote it; `None` when
    /// not seen yet, `Some(None)` when it does not exist. Exact while the transaction holds
    /// the event-log lock: no other writer changes snapshots meanwhile.
    pub fn cached_snapshot(&self, aggregate_id: &str) -> Option<Option<SnapshotRow>> {
        self.snapshots.borrow().get(aggregate_id).cloned()
    }

    /// Remember a snapshot row read or written in this transaction.
    pub fn cache_snapshot(&self, aggregate_id: String, row: Option<SnapshotRow>) {
        self.snapshots.borrow_mut().insert(aggregate_id, row);
    }

    /// Send everything queued.
    pub fn flush(&self) -> Result<(), StoreError> {
        if self.pending.borrow().is_empty() && self.bulk.borrow().is_empty() {
            return Ok(());
        }
        self.pipelined(std::future::ready(Ok::<(), tokio_postgres::Error>(())))
    }

    /// Forget everything of the last transaction (at BEGIN and ROLLBACK).
    pub fn reset_transaction(&self) {
        self.next_position.set(None);
        self.pending.borrow_mut().clear();
        self.bulk.borrow_mut().clear();
        self.command_start.set((0, 0));
        self.command_sent.set(false);
        self.poisoned.set(false);
        self.snapshots.borrow_mut().clear();
        self.idempotency.borrow_mut().clear();
    }

    /// The position of the next event appended in this transaction. Every writer transaction
    /// holds the event-log lock from BEGIN to COMMIT, so the positions after the highest one
    /// committed are this transaction's to give out (a rolled-back command leaves a gap).
    pub fn next_position(&self) -> Result<i64, StoreError> {
        let next = match self.next_position.get() {
            Some(next) => next,
            None => {
                let statement = self.statement(HEAD_SQL)?;
                let rows = self.query(&statement, &[])?;
                let head: i64 = rows.first().map_or(Ok(0), |row| row.try_get(0))?;
                head + 1
            }
        };
        self.next_position.set(Some(next + 1));
        Ok(next)
    }

    /// Move the queued rows into the queue as multi-row statements, one per table.
    fn materialize(&self) -> Result<(), StoreError> {
        let rows = std::mem::take(&mut *self.bulk.borrow_mut());
        if rows.is_empty() {
            return Ok(());
        }
        let bulk::Statements {
            inserts,
            rounds,
            snapshots,
        } = bulk::statements(rows)?;
        let mut queued = Vec::new();
        for bulk::InsertRows { sql, rows, otherwise } in inserts {
            let statement = self.statement(&sql)?;
            match bulk::insert_from_arrays(&sql, statement.params()) {
                Some(multi_sql) if rows.len() > 1 => queued.push(Deferred::Columns {
                    columns: bulk::columns(&rows, statement.params())?,
                    statement: self.statement(&multi_sql)?,
                    otherwise,
                }),
                _ => {
                    let mut otherwise = otherwise;
                    for values in rows {
                        queued.push(Deferred::Execute {
                            statement: statement.clone(),
                            values,
                            otherwise: otherwise.take(),
                        });
                    }
                }
            }
        }
        for bulk::KeyedRows { sql, rows, otherwise } in rounds.into_iter().flatten() {
            let types = self.statement(&sql)?.params().to_vec();
            let multi_sql = bulk::update_from_arrays(&sql, &types)
                .ok_or_else(|| StoreError::Corrupt(format!("not a keyed update: {sql}")))?;
            let mut columns = bulk::columns(&rows, &types)?;
            columns.push(Box::new(rows.len() as i64));
            queued.push(Deferred::Columns {
                statement: self.statement(&multi_sql)?,
                columns,
                otherwise: Some(otherwise),
            });
        }
        for multi in snapshots {
            queued.push(Deferred::Columns {
                statement: self.statement(&multi.sql)?,
                columns: multi.columns,
                otherwise: multi.otherwise,
            });
        }
        self.pending.borrow_mut().extend(queued);
        Ok(())
    }

    /// Send the queue and then `last` in one pipeline; the first failure wins. In fast mode a
    /// failure poisons the transaction (there is no savepoint to go back to).
    fn pipelined<T>(&self, last: impl Future<Output = Result<T, tokio_postgres::Error>>) -> Result<T, StoreError> {
        let sent = self.send_all(last);
        if sent.is_err() && !self.strict.get() {
            self.poisoned.set(true);
        }
        sent
    }

    fn send_all<T>(&self, last: impl Future<Output = Result<T, tokio_postgres::Error>>) -> Result<T, StoreError> {
        let (pending_start, bulk_start) = self.command_start.get();
        let command_has_items = self.pending.borrow().len() > pending_start || self.bulk.borrow().len() > bulk_start;
        // Nothing is sent when this fails: the command's queue (its savepoint, in strict mode)
        // stays as it was, so its rollback drops it instead of rolling back to a savepoint the
        // server never saw.
        self.materialize()?;
        self.command_start.set((0, 0));
        if command_has_items {
            self.command_sent.set(true);
        }
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        if pending.is_empty() {
            return Ok(self.runtime.block_on(last)?);
        }
        let client = &self.client;
        let (outcomes, last) = self.runtime.block_on(async {
            let sends: Vec<_> = pending.iter().map(|deferred| send(client, deferred)).collect();
            futures::join!(futures::future::join_all(sends), last)
        });
        for (deferred, outcome) in pending.into_iter().zip(outcomes) {
            if let Err(error) = outcome {
                use tokio_postgres::error::SqlState;
                let check_failed = matches!(
                    error.code(),
                    Some(&SqlState::DIVISION_BY_ZERO) | Some(&SqlState::UNIQUE_VIOLATION)
                );
                return Err(match deferred {
                    Deferred::Execute {
                        otherwise: Some(otherwise),
                        ..
                    }
                    | Deferred::Columns {
                        otherwise: Some(otherwise),
                        ..
                    } if check_failed => otherwise,
                    _ => error.into(),
                });
            }
        }
        Ok(last?)
    }
}

async fn send(client: &Client, deferred: &Deferred) -> Result<(), tokio_postgres::Error> {
    match deferred {
        Deferred::Simple(sql) => client.batch_execute(sql).await,
        Deferred::Execute { statement, values, .. } => client.execute(statement, &refs(values)).await.map(|_| ()),
        Deferred::Columns { statement, columns, .. } => {
            let columns: Vec<&(dyn ToSql + Sync)> = columns.iter().map(|c| &**c as &(dyn ToSql + Sync)).collect();
            client.execute(statement, &columns).await.map(|_| ())
        }
    }
}

fn refs<'v>(values: &'v [Value<'_>]) -> Vec<&'v (dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}
