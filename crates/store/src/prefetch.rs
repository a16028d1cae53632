//! What a command will read first, named before it runs.

use uuid::Uuid;

/// The idempotency record and the aggregate a command reads first. On PostgreSQL the writer
/// reads them for every command of a batch in the round trip that begins the batch's
/// transaction (see `postgres::conn`), so a command costs no round trip of its own.
#[derive(Debug, Clone)]
pub struct Prefetch {
    pub business_id: Uuid,
    pub idempotency_key: Option<String>,
    pub aggregate_id: Option<Uuid>,
}
