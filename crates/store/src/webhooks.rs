//! Webhook subscriptions and their deliveries: which URL wants which event types, and each
//! event's delivery to each subscription (pending, delivered, or dead after its last attempt).
//! Operational state, not projections of events, so the rebuild leaves them alone.

use crate::db::{params, Db, OptionalRow, Row};
use crate::queries::uuid;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{time, StoreError, StoredEvent};

/// A subscription (its secret is shown once, when created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub webhook_id: Uuid,
    #[serde(skip)]
    pub business_id: Uuid,
    pub url: String,
    /// Event types, or `*` for all.
    pub event_types: Vec<String>,
    #[serde(skip)]
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.iter().any(|t| t == "*" || t == event_type)
    }
}

/// One event's delivery to one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub delivery_id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// `PENDING | DELIVERED | DEAD`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_status_code: Option<u16>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The envelope sent.
    #[serde(skip)]
    pub event: Option<StoredEvent>,
}

const WEBHOOK_COLUMNS: &str = "webhook_id, business_id, url, event_types, secret, created_at";

fn webhook_row(row: &Row<'_>) -> Result<[String; 6], StoreError> {
    Ok([
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
    ])
}

fn webhook([id, business, url, types, secret, created]: [String; 6]) -> Result<Webhook, StoreError> {
    Ok(Webhook {
        webhook_id: uuid(&id)?,
        business_id: uuid(&business)?,
        url,
        event_types: serde_json::from_str(&types)?,
        secret,
        created_at: time::parse(&created)?,
    })
}

pub(crate) fn insert(conn: Db<'_>, hook: &Webhook) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))?
    .execute(params![
        hook.webhook_id.to_string(),
        hook.business_id.to_string(),
        hook.url,
        serde_json::to_string(&hook.event_types)?,
        hook.secret,
        time::format(hook.created_at)
    ])?;
    Ok(())
}

pub(crate) fn list(conn: Db<'_>, business_id: Uuid) -> Result<Vec<Webhook>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE business_id = ?1 ORDER BY created_at, webhook_id"
    ))?;
    let rows: Vec<[String; 6]> = stmt
        .query_map([business_id.to_string()], webhook_row)?
        .collect::<Result<_, _>>()?;
    rows.into_iter().map(webhook).collect()
}

pub(crate) fn get(conn: Db<'_>, business_id: Uuid, webhook_id: Uuid) -> Result<Option<Webhook>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = ?1 AND business_id = ?2"
        ))?
        .query_row(params![webhook_id.to_string(), business_id.to_string()], webhook_row)
        .optional()?;
    row.map(webhook).transpose()
}

/// Remove a subscription and its undelivered deliveries; whether it existed.
pub(crate) fn delete(conn: Db<'_>, business_id: Uuid, webhook_id: Uuid) -> Result<bool, StoreError> {
    let removed = conn
        .prepare_held("DELETE FROM webhooks WHERE webhook_id = ?1 AND business_id = ?2")?
        .execute(params![webhook_id.to_string(), business_id.to_string()])?;
    conn.prepare_held("DELETE FROM webhook_deliveries WHERE webhook_id = ?1 AND status = 'PENDING'")?
        .execute([webhook_id.to_string()])?;
    Ok(removed == 1)
}

/// Queue `event` for every subscription of its business that wants it (once per subscription).
pub(crate) fn enqueue(
    conn: Db<'_>,
    now: DateTime<Utc>,
    event: &StoredEvent,
    subscriptions: &[Webhook],
) -> Result<usize, StoreError> {
    let hooks: Vec<&Webhook> = subscriptions.iter().filter(|h| h.wants(&event.event_type)).collect();
    if hooks.is_empty() {
        return Ok(0);
    }
    let json = serde_json::to_string(event)?;
    let mut queued = 0;
    for hook in hooks {
        queued += conn
            .prepare_held(
                "INSERT INTO webhook_deliveries (delivery_id, webhook_id, business_id, event_id, event_type, event, status,
                                                 attempts, next_attempt_at, created_at, aggregate_id, position)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'PENDING', 0, ?7, ?7, ?8, ?9)
                 ON CONFLICT (webhook_id, event_id) DO NOTHING",
            )?
            .execute(params![
                Uuid::now_v7().to_string(),
                hook.webhook_id.to_string(),
                event.business_id.to_string(),
                event.event_id.to_string(),
                event.event_type,
                json,
                time::format(now),
                event.aggregate_id.to_string(),
                event.position
            ])?;
    }
    Ok(queued)
}

const DELIVERY_COLUMNS: &str = "delivery_id, webhook_id, event_id, event_type, status, attempts, last_error, \
                                last_status_code, next_attempt_at, delivered_at, created_at, event";

fn delivery(row: &Row<'_>) -> Result<DeliveryRow, StoreError> {
    Ok(DeliveryRow {
        id: row.get(0)?,
        webhook: row.get(1)?,
        event_id: row.get(2)?,
        event_type: row.get(3)?,
        status: row.get(4)?,
        attempts: row.get(5)?,
        last_error: row.get(6)?,
        last_status_code: row.get(7)?,
        next_attempt_at: row.get(8)?,
        delivered_at: row.get(9)?,
        created_at: row.get(10)?,
        event: row.get(11)?,
    })
}

struct DeliveryRow {
    id: String,
    webhook: String,
    event_id: String,
    event_type: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    last_status_code: Option<i64>,
    next_attempt_at: Option<String>,
    delivered_at: Option<String>,
    created_at: String,
    event: String,
}

impl DeliveryRow {
    fn parse(self, with_event: bool) -> Result<WebhookDelivery, StoreError> {
        let at = |raw: Option<String>| raw.as_deref().map(time::parse).transpose();
        Ok(WebhookDelivery {
            delivery_id: uuid(&self.id)?,
            webhook_id: uuid(&self.webhook)?,
            event_id: uuid(&self.event_id)?,
            event_type: self.event_type,
            status: self.status,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            last_error: self.last_error,
            last_status_code: self.last_status_code.and_then(|c| u16::try_from(c).ok()),
            next_attempt_at: at(self.next_attempt_at)?,
            delivered_at: at(self.delivered_at)?,
            created_at: time::parse(&self.created_at)?,
            event: if with_event {
                Some(serde_json::from_str(&self.event)?)
            } else {
                None
            },
        })
    }
}

/// Pending deliveries due by `now`, with their events and subscriptions, in commit order. A
/// subscription gets each aggregate's events in the order they were committed: a delivery is
/// not due while an earlier one of the same subscription and aggregate waits for a retry (once
/// that one is delivered, or dead after its last attempt, the next goes).
pub(crate) fn due(conn: Db<'_>, now: DateTime<Utc>, limit: u32) -> Result<Vec<(WebhookDelivery, Webhook)>, StoreError> {
    // The select list can only mean `d`'s columns: `e` is the subquery's alone.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d
         WHERE d.status = 'PENDING' AND d.next_attempt_at <= ?1
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                           WHERE e.status = 'PENDING' AND e.webhook_id = d.webhook_id
                             AND e.aggregate_id = d.aggregate_id AND e.position < d.position
                             AND e.next_attempt_at > ?1)
         ORDER BY d.position, d.next_attempt_at LIMIT CAST(?2 AS BIGINT)"
    ))?;
    let rows: Vec<DeliveryRow> = stmt
        .query_map(params![time::format(now), limit], delivery)?
        .collect::<Result<_, _>>()?;
    let mut due = Vec::with_capacity(rows.len());
    for row in rows {
        let delivery = row.parse(true)?;
        let hook = conn
            .prepare_cached(&format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = ?1"))?
            .query_row([delivery.webhook_id.to_string()], webhook_row)
            .optional()?;
        if let Some(hook) = hook {
            due.push((delivery, webhook(hook)?));
        }
    }
    Ok(due)
}

/// Record one attempt's outcome: delivered; or failed, to be tried again at `retry_at` (`None`:
/// it was the last attempt, the delivery is dead).
pub(crate) fn record_attempt(
    conn: Db<'_>,
    now: DateTime<Utc>,
    delivery_id: Uuid,
    status_code: Option<u16>,
    outcome: Result<(), (String, Option<DateTime<Utc>>)>,
) -> Result<(), StoreError> {
    match outcome {
        Ok(()) => {
            conn.prepare_held(
                "UPDATE webhook_deliveries SET status = 'DELIVERED', attempts = attempts + 1, last_status_code = ?2,
                        last_error = NULL, next_attempt_at = NULL, delivered_at = ?3 WHERE delivery_id = ?1",
            )?
            .execute(params![delivery_id.to_string(), status_code, time::format(now)])?;
        }
        Err((error, retry_at)) => {
            conn.prepare_held(
                "UPDATE webhook_deliveries SET status = ?4, attempts = attempts + 1, last_status_code = ?2,
                        last_error = ?3, next_attempt_at = ?5 WHERE delivery_id = ?1",
            )?
            .execute(params![
                delivery_id.to_string(),
                status_code,
                error,
                if retry_at.is_some() { "PENDING" } else { "DEAD" },
                retry_at.map(time::format)
            ])?;
            if let Some(retry_at) = retry_at {
                hold_back_later(conn, delivery_id, retry_at)?;
            }
        }
    }
    Ok(())
}

/// The later deliveries of `delivery_id`'s subscription and aggregate wait for its retry: not
/// due before `retry_at`, so polls neither scan them nor let them fill a page.
fn hold_back_later(conn: Db<'_>, delivery_id: Uuid, retry_at: DateTime<Utc>) -> Result<(), StoreError> {
    conn.prepare_held(
        "UPDATE webhook_deliveries SET next_attempt_at = ?2
         WHERE status = 'PENDING' AND next_attempt_at < ?2
           AND webhook_id = (SELECT webhook_id FROM webhook_deliveries WHERE delivery_id = ?1)
           AND aggregate_id = (SELECT aggregate_id FROM webhook_deliveries WHERE delivery_id = ?1)
           AND position > (SELECT position FROM webhook_deliveries WHERE delivery_id = ?1)",
    )?
    .execute(params![delivery_id.to_string(), time::format(retry_at)])?;
    Ok(())
}

/// A subscription's deliveries, newest first, optionally of one status.
pub(crate) fn deliveries(
    conn: Db<'_>,
    webhook_id: Uuid,
    status: Option<&str>,
    limit: u32,
) -> Result<Vec<WebhookDelivery>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR status = ?2)
         ORDER BY created_at DESC, delivery_id DESC LIMIT CAST(?3 AS BIGINT)"
    ))?;
    let rows: Vec<DeliveryRow> = stmt
        .query_map(params![webhook_id.to_string(), status, limit], delivery)?
        .collect::<Result<_, _>>()?;
    rows.into_iter().map(|r| r.parse(false)).collect()
}

/// Queue a delivery to be sent again now (after a dead end, or to replay one delivered);
/// `None` when the subscription has no such delivery.
pub(crate) fn replay(
    conn: Db<'_>,
    now: DateTime<Utc>,
    webhook_id: Uuid,
    delivery_id: Uuid,
) -> Result<Option<WebhookDelivery>, StoreError> {
    let rows = conn
        .prepare_held(
            "UPDATE webhook_deliveries SET status = 'PENDING', attempts = 0, next_attempt_at = ?3
             WHERE delivery_id = ?1 AND webhook_id = ?2",
        )?
        .execute(params![
            delivery_id.to_string(),
            webhook_id.to_string(),
            time::format(now)
        ])?;
    if rows == 0 {
        return Ok(None);
    }
    let row = conn
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE delivery_id = ?1"
        ))?
        .query_row([delivery_id.to_string()], delivery)?;
    row.parse(false).map(Some)
}
