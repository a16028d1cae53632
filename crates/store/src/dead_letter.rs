//! Dead letters: events a handler still failed on after its retries, kept with the handler, the
//! error and the attempt count until an operator retries or discards them. Operational state,
//! not a projection of events, so the rebuild leaves them alone.

use crate::db::{params, Db, OptionalRow, Row};
use crate::queries::uuid;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{time, StoreError, StoredEvent};

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub dead_letter_id: Uuid,
    pub business_id: Uuid,
    /// The handler that failed.
    pub handler: String,
    pub event_id: Uuid,
    pub event_type: String,
    /// The event as the handler received it.
    pub event: StoredEvent,
    /// The last error.
    pub error: String,
    /// A class of the error (`handler_error`, `malformed`, ...), for metrics and filtering.
    pub reason: String,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "dead_letter_id, business_id, handler, event_id, event_type, event, error, reason, attempts, \
                       created_at, updated_at";

fn row(row: &Row<'_>) -> Result<[String; 11], StoreError> {
    Ok([
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get::<i64>(8)?.to_string(),
        row.get(9)?,
        row.get(10)?,
    ])
}

fn parse(
    [id, business, handler, event_id, event_type, event, error, reason, attempts, created, updated]: [String; 11],
) -> Result<DeadLetter, StoreError> {
    Ok(DeadLetter {
        dead_letter_id: uuid(&id)?,
        business_id: uuid(&business)?,
        handler,
        event_id: uuid(&event_id)?,
        event_type,
        event: serde_json::from_str(&event)?,
        error,
        reason,
        attempts: attempts.parse().unwrap_or(0),
        created_at: time::parse(&created)?,
        updated_at: time::parse(&updated)?,
    })
}

/// Record that `handler` gave up on `event` (or, if it had already, how it failed again).
pub(crate) fn put(
    conn: Db<'_>,
    now: DateTime<Utc>,
    handler: &str,
    event: &StoredEvent,
    error: &str,
    reason: &str,
    attempts: u32,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let at = time::format(now);
    conn.prepare_cached(&format!(
        "INSERT INTO dead_letters ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)
         ON CONFLICT (handler, event_id) DO UPDATE SET error = excluded.error, reason = excluded.reason,
             attempts = dead_letters.attempts + excluded.attempts, updated_at = excluded.updated_at"
    ))?
    .execute(params![
        id.to_string(),
        event.business_id.to_string(),
        handler,
        event.event_id.to_string(),
        event.event_type,
        serde_json::to_string(event)?,
        error,
        reason,
        attempts,
        at
    ])?;
    let stored: String = conn
        .prepare_held("SELECT dead_letter_id FROM dead_letters WHERE handler = ?1 AND event_id = ?2")?
        .query_row(params![handler, event.event_id.to_string()], |r| r.get(0))?;
    Uuid::parse_str(&stored).map_err(|e| StoreError::Corrupt(format!("bad dead letter id: {e}")))
}

/// Remove a dead letter (handled after all, or discarded); whether it existed.
pub(crate) fn delete(conn: Db<'_>, id: Uuid) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_held("DELETE FROM dead_letters WHERE dead_letter_id = ?1")?
        .execute([id.to_string()])?
        == 1)
}

/// Dead letters, oldest first, of one business or of all.
pub(crate) fn list(conn: Db<'_>, business_id: Option<Uuid>, limit: u32) -> Result<Vec<DeadLetter>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM dead_letters WHERE CAST(?1 AS TEXT) IS NULL OR business_id = ?1 ORDER BY created_at, dead_letter_id LIMIT CAST(?2 AS BIGINT)"
    ))?;
    let rows: Vec<[String; 11]> = stmt
        .query_map(params![business_id.map(|b| b.to_string()), limit], row)?
        .collect::<Result<_, _>>()?;
    rows.into_iter().map(parse).collect()
}

/// One dead letter.
pub(crate) fn get(conn: Db<'_>, id: Uuid) -> Result<Option<DeadLetter>, StoreError> {
    let found = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM dead_letters WHERE dead_letter_id = ?1"))?
        .query_row([id.to_string()], row)
        .optional()?;
    found.map(parse).transpose()
}

/// How many dead letters there are.
pub(crate) fn count(conn: Db<'_>) -> Result<i64, StoreError> {
    conn.query_row("SELECT COUNT(*) FROM dead_letters", params![], |r| r.get(0))
}
