//! What can go wrong in storage. Domain refusals are not errors here: they are answers.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended to the aggregate first; the command is retried on fresh state.
    #[error("concurrent modification of aggregate {aggregate_id} (expected version {expected})")]
    Conflict { aggregate_id: String, expected: u64 },
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the write transaction failed: {0}")]
    WriteFailed(String),
    #[error("the writer has stopped")]
    WriterGone,
    #[error("serialization error: {0}")]
    Serialization(#[from] serde_json::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// A unique index said no (used to map constraint violations to domain answers).
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Self::Database(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    }
}

impl From<loyalty_domain::EventDecodeError> for StoreError {
    fn from(error: loyalty_domain::EventDecodeError) -> Self {
        Self::Corrupt(error.to_string())
    }
}
