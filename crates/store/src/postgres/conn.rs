//! One PostgreSQL connection, driven synchronously from the writer's (or a reader's) thread,
//! that sends deferred writes in a pipeline.
//!
//! A write whose answer nothing waits for (a projection row, the snapshot update, the event
//! itself, a savepoint) is not sent at once: it is queued, and the queue goes out in one
//! pipeline (tokio-postgres sends every request before reading any answer) together with the
//! next statement whose answer is needed, or at the end of the command. One command of the
//! writer then costs a few round trips instead of one per row. An error, or a row count that is
//! not what the write expected, is reported by the flush that carried it, inside the command
//! that queued it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use crate::db::{pg_placeholders, Value};
use crate::queries::TransactionRow;
use crate::StoreError;

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
}

/// A PostgreSQL connection with its statement cache and its queue of deferred writes.
pub struct PgConn {
    runtime: tokio::runtime::Runtime,
    client: Client,
    statements: RefCell<HashMap<String, Statement>>,
    pending: RefCell<Vec<Deferred>>,
    /// The command's `SAVEPOINT` is still in the queue (nothing of the command was sent).
    savepoint_queued: Cell<bool>,
    /// How many queued items belong to commands already released (their last writes and
    /// `RELEASE` ride along with the next command's first statement).
    carried: Cell<usize>,
    /// A released command's queued write failed: the whole transaction must be rolled back.
    poisoned: Cell<bool>,
    /// Send each command's writes when it ends (see `set_strict`).
    strict: Cell<bool>,
    /// The next event position of this transaction (see `next_position`).
    next_position: Cell<Option<i64>>,
    /// Snapshot rows read or written in this transaction (see `cached_snapshot`).
    snapshots: RefCell<HashMap<String, Option<SnapshotRow>>>,
    /// Ledger rows projected in this transaction, with their business (see
    /// `projected_transaction`).
    transactions: RefCell<HashMap<String, (String, TransactionRow)>>,
}

/// A snapshot row: owner business, aggregate type, version, state (JSON).
pub type SnapshotRow = (String, String, i64, String);

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
        Ok(Self {
            runtime,
            client,
            statements: RefCell::new(HashMap::new()),
            pending: RefCell::new(Vec::new()),
            savepoint_queued: Cell::new(false),
            carried: Cell::new(0),
            poisoned: Cell::new(false),
            strict: Cell::new(false),
            next_position: Cell::new(None),
            snapshots: RefCell::new(HashMap::new()),
            transactions: RefCell::new(HashMap::new()),
        })
    }

    pub fn is_closed(&self) -> bool {
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

    /// Queue a command's savepoint: if the command fails before anything was sent, nothing
    /// of it is sent at all.
    pub fn savepoint(&self) {
        self.pending.borrow_mut().push(Deferred::Simple("SAVEPOINT job"));
        self.savepoint_queued.set(true);
    }

    /// End a command: queue the release of its savepoint. What it queued goes out with the
    /// next command's first statement, or at the end of the batch ([`Self::finish`]); in
    /// strict mode, now.
    pub fn release(&self) -> Result<(), StoreError> {
        let carried = {
            let mut pending = self.pending.borrow_mut();
            pending.push(Deferred::Simple("RELEASE SAVEPOINT job"));
            pending.len()
        };
        if self.strict.get() {
            return self.flush();
        }
        self.carried.set(carried);
        Ok(())
    }

    /// Strict mode: every command's writes are sent when it ends (used to run a batch again
    /// when a carried write failed, so the failure is attributed to its command).
    pub fn set_strict(&self, strict: bool) {
        self.strict.set(strict);
    }

    /// Whether a carried write failed in this transaction (it must roll back).
    pub fn poisoned(&self) -> bool {
        self.poisoned.get()
    }

    /// Undo a command: drop what it queued, and roll back what it sent.
    pub fn rollback_to_savepoint(&self) -> Result<(), StoreError> {
        // What this command read or wrote may be undone: forget every cached row.
        self.snapshots.borrow_mut().clear();
        self.transactions.borrow_mut().clear();
        if self.savepoint_queued.replace(false) {
            // Nothing of the command was sent: drop its part of the queue.
            self.pending.borrow_mut().truncate(self.carried.get());
            return Ok(());
        }
        self.pending.borrow_mut().clear();
        self.batch_execute("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job")
    }

    /// End the batch's commands: send what is still queued. An error means a command that
    /// was already counted as done did not write everything: the transaction must roll back.
    pub fn finish(&self) -> Result<(), StoreError> {
        self.flush()?;
        if self.poisoned.get() {
            return Err(StoreError::WriteFailed(
                "a write of an earlier command in this batch failed".to_owned(),
            ));
        }
        Ok(())
    }

    /// The snapshot row of `aggregate_id` as this transaction last saw or wrote it; `None` when
    /// not seen yet, `Some(None)` when it does not exist. Exact while the transaction holds
    /// the event-log lock: no other writer changes snapshots meanwhile.
    pub fn cached_snapshot(&self, aggregate_id: &str) -> Option<Option<SnapshotRow>> {
        self.snapshots.borrow().get(aggregate_id).cloned()
    }

    /// A ledger row this transaction projected: the answer of a command that just wrote it,
    /// without reading it back.
    pub(crate) fn projected_transaction(&self, transaction_id: &str) -> Option<(String, TransactionRow)> {
        self.transactions.borrow().get(transaction_id).cloned()
    }

    /// Remember a ledger row projected in this transaction.
    pub(crate) fn remember_transaction(&self, transaction_id: String, business_id: String, row: TransactionRow) {
        self.transactions
            .borrow_mut()
            .insert(transaction_id, (business_id, row));
    }

    /// Remember a snapshot row read or written in this transaction.
    pub fn cache_snapshot(&self, aggregate_id: String, row: Option<SnapshotRow>) {
        self.snapshots.borrow_mut().insert(aggregate_id, row);
    }

    /// Send everything queued.
    pub fn flush(&self) -> Result<(), StoreError> {
        if self.pending.borrow().is_empty() {
            return Ok(());
        }
        self.pipelined(std::future::ready(Ok::<(), tokio_postgres::Error>(())))
    }

    /// Forget everything of the last transaction (at BEGIN and ROLLBACK).
    pub fn reset_transaction(&self) {
        self.next_position.set(None);
        self.pending.borrow_mut().clear();
        self.savepoint_queued.set(false);
        self.carried.set(0);
        self.poisoned.set(false);
        self.snapshots.borrow_mut().clear();
        self.transactions.borrow_mut().clear();
    }

    /// The position of the next event appended in this transaction. Every writer transaction
    /// holds the event-log lock from BEGIN to COMMIT, so the positions after the highest one
    /// committed are this transaction's to give out (a rolled-back command leaves a gap).
    pub fn next_position(&self) -> Result<i64, StoreError> {
        let next = match self.next_position.get() {
            Some(next) => next,
            None => {
                let statement = self.statement("SELECT COALESCE(MAX(position), 0) FROM events")?;
                let rows = self.query(&statement, &[])?;
                let head: i64 = rows.first().map_or(Ok(0), |row| row.try_get(0))?;
                head + 1
            }
        };
        self.next_position.set(Some(next + 1));
        Ok(next)
    }

    /// Send the queue and then `last` in one pipeline; the first failure wins.
    fn pipelined<T>(&self, last: impl Future<Output = Result<T, tokio_postgres::Error>>) -> Result<T, StoreError> {
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        let carried = self.carried.replace(0);
        self.savepoint_queued.set(false);
        if pending.is_empty() {
            return Ok(self.runtime.block_on(last)?);
        }
        let client = &self.client;
        let (outcomes, last) = self.runtime.block_on(async {
            let sends: Vec<_> = pending.iter().map(|deferred| send(client, deferred)).collect();
            futures::join!(futures::future::join_all(sends), last)
        });
        for (index, (deferred, outcome)) in pending.into_iter().zip(outcomes).enumerate() {
            if let Err(error) = outcome {
                if index < carried {
                    self.poisoned.set(true);
                    return Err(StoreError::WriteFailed(format!(
                        "a write of an earlier command in this batch failed: {error}"
                    )));
                }
                use tokio_postgres::error::SqlState;
                let check_failed = matches!(
                    error.code(),
                    Some(&SqlState::DIVISION_BY_ZERO) | Some(&SqlState::UNIQUE_VIOLATION)
                );
                return Err(match deferred {
                    Deferred::Execute {
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
    }
}

fn refs<'v>(values: &'v [Value<'_>]) -> Vec<&'v (dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}
