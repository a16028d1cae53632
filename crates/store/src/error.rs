//! What can go wrong in storage. Domain refusals are not errors here: they are answers.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to the aggregate first; the command is retried on fresh state.
    #[error("concurrent modification of aggregate {aggregate_id} (expected version {expected})")]
    Conflict { aggregate_id: String, expected: u64 },
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// Not the error's source: the driver's chain ends in the server's whole report, whose
    /// detail may quote a row's values (see [`postgres_message`]).
    #[error("database error: {}", postgres_message(.0))]
    Postgres(postgres::Error),
    /// A query for one row found none (read through [`crate::db::OptionalRow`]).
    #[error("no row")]
    NoRow,
    #[error("bad database settings: {0}")]
    Config(String),
    /// The database was migrated by a newer build than this one (see
    /// [`StoreError::refuse_newer_schema`]).
    #[error(
        "the database's schema is at version {applied}, newer than this build knows ({newest}): \
         run a build at least as new as the one that migrated it"
    )]
    SchemaTooNew { applied: i64, newest: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the write transaction failed: {0}")]
    WriteFailed(String),
    #[error("the writer has stopped")]
    WriterGone,
    /// The command may have been committed, but its commit could not be confirmed on disk
    /// (PostgreSQL: the connection or the server went away first, or before the `COMMIT` was
    /// answered; SQLite: syncing the log failed): whether it was kept is unknown. Sending the
    /// request again with the same `Idempotency-Key` answers as the first time if it was kept,
    /// and runs it if not.
    #[error("the outcome is unknown: the commit could not be confirmed durable ({0})")]
    DurabilityUnconfirmed(String),
    /// The database could not be reached, or the connection to it was lost before the work
    /// was committed (PostgreSQL ends the transaction of a connection it loses): nothing was
    /// done, and the same request may be sent again.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The store stopped serving: its log could not be made durable (see `sqlite::LogFile`),
    /// so it neither takes commands nor shows data that may not survive a power cut. A restart
    /// recovers from what reached the device.
    #[error("the store has halted: {0}")]
    Halted(String),
    #[error("serialization error: {0}")]
    Serialization(#[from] serde_json::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// A write of some command of the writer's batch failed and took the transaction with it
    /// (the batch then runs again, a savepoint per command, to find whose it was).
    pub(crate) fn batch_poisoned() -> Self {
        Self::WriteFailed("a write of a command in this batch failed".to_owned())
    }

    /// Refuse a SQLite database whose schema is at version `applied`, newer than the `newest`
    /// this build's migrations know: this build would read and write it by an older layout
    /// (after migration 9 it would leave its ledger rows out of every account's chain). Builds
    /// from before this check do not make it (see the README on going back).
    pub(crate) fn refuse_newer_schema(applied: i64, newest: i64) -> Result<(), Self> {
        if applied > newest {
            return Err(Self::SchemaTooNew { applied, newest });
        }
        Ok(())
    }

    /// A unique index said no (used to map constraint violations to domain answers).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Database(rusqlite::Error::SqliteFailure(e, _)) => {
                e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            Self::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }

    /// PostgreSQL gave up on this statement because of another transaction (a deadlock, a
    /// serialization failure): the command is retried on fresh state, like a conflict.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Postgres(e) => matches!(
                e.code(),
                Some(&postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
                    | Some(&postgres::error::SqlState::T_R_SERIALIZATION_FAILURE)
            ),
            _ => false,
        }
    }

    /// A batch's failure as each of its callers is answered: an unknown outcome stays one, any
    /// other failure is the write's.
    pub(crate) fn for_each_caller(&self) -> StoreError {
        match self {
            Self::DurabilityUnconfirmed(why) => Self::DurabilityUnconfirmed(why.clone()),
            Self::Unavailable(why) => Self::Unavailable(why.clone()),
            other if other.is_connection_lost() => Self::lost_before_commit(other),
            other => Self::WriteFailed(other.to_string()),
        }
    }

    /// `self`, or [`StoreError::Unavailable`] if the connection was lost: a batch that failed
    /// before its `COMMIT` was sent did nothing (see [`Self::is_connection_lost`]).
    pub(crate) fn before_commit(self) -> StoreError {
        if self.is_connection_lost() {
            Self::lost_before_commit(&self)
        } else {
            self
        }
    }

    fn lost_before_commit(error: &StoreError) -> StoreError {
        Self::Unavailable(format!(
            "the connection to the database was lost before the batch was committed ({error})"
        ))
    }

    /// Whether this failure of a request to PostgreSQL leaves unknown whether the server did
    /// what was asked: the connection closed or broke before the answer came, or the server
    /// ended the session (a FATAL or PANIC error: the backend was terminated, the server is
    /// shutting down or crashed). An ERROR answers for the request: it was not done.
    pub fn is_connection_lost(&self) -> bool {
        let Self::Postgres(error) = self else {
            return false;
        };
        if error.is_closed() {
            return true;
        }
        match error.as_db_error() {
            Some(db) => matches!(
                db.parsed_severity(),
                Some(postgres::error::Severity::Fatal | postgres::error::Severity::Panic)
            ),
            None => std::error::Error::source(error).is_some_and(|cause| cause.is::<std::io::Error>()),
        }
    }
}

/// What PostgreSQL said and its SQLSTATE code (the driver's own text for an error of the server
/// is only "db error"); not its detail, which may quote a row's values (a member's email) into
/// logs and dead letters. For another failure (a connection lost, say), the driver's text and
/// its cause.
fn postgres_message(error: &postgres::Error) -> String {
    match (error.as_db_error(), std::error::Error::source(error)) {
        (Some(db), _) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        (None, Some(cause)) => format!("{error}: {cause}"),
        (None, None) => error.to_string(),
    }
}

impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> Self {
        Self::Postgres(error)
    }
}

impl From<loyalty_domain::EventDecodeError> for StoreError {
    fn from(error: loyalty_domain::EventDecodeError) -> Self {
        Self::Corrupt(error.to_string())
    }
}
