//! Upstream stream entries: the envelope is JSON in the field `event`, the payment in its `data`.
//! The chain's systems do not know loyalty's businesses, so the entry is read as an event of the
//! business the chain runs as (`--restaurant-business`), with the upstream `eventId` when it has
//! one (else an id derived from the stream entry, the same on every delivery).

use chrono::Utc;
use loyalty_delivery::EVENT_FIELD;
use loyalty_store::{EventMetadata, StoredEvent};
use redis::streams::StreamId;
use serde_json::Value;
use uuid::Uuid;

/// The Front of House's payment stream (after the prefix).
pub const FRONT_OF_HOUSE_PAYMENTS: &str = "frontofhouse.payment.processed";
/// Online Ordering's payment stream (after the prefix).
pub const ONLINE_PAYMENTS: &str = "onlineordering.payment.processed";
/// The Front of House's refund stream (after the prefix).
pub const FRONT_OF_HOUSE_REFUNDS: &str = "frontofhouse.payment.refunded";
/// Online Ordering's refund stream (after the prefix).
pub const ONLINE_REFUNDS: &str = "onlineordering.payment.refunded";

/// Every upstream stream the adaptors read.
pub const UPSTREAM_STREAMS: [&str; 4] = [
    FRONT_OF_HOUSE_PAYMENTS,
    ONLINE_PAYMENTS,
    FRONT_OF_HOUSE_REFUNDS,
    ONLINE_REFUNDS,
];

/// Read an upstream entry of `stream` as an event of `business_id`.
pub fn decode(business_id: Uuid, stream: &str, entry: &StreamId) -> Result<StoredEvent, String> {
    let raw: String = entry
        .get(EVENT_FIELD)
        .ok_or_else(|| format!("no `{EVENT_FIELD}` field"))?;
    let envelope: Value = serde_json::from_str(&raw).map_err(|e| format!("the envelope is not JSON: {e}"))?;
    let event_type = UPSTREAM_STREAMS
        .iter()
        .find(|name| stream.ends_with(*name))
        .copied()
        .ok_or_else(|| format!("{stream} is not an upstream stream"))?;
    let event_id = envelope
        .get("eventId")
        .and_then(Value::as_str)
        .and_then(|id| Uuid::parse_str(id).ok())
        .unwrap_or_else(|| Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("{stream}/{}", entry.id).as_bytes()));
    Ok(StoredEvent {
        event_id,
        event_type: event_type.to_owned(),
        version: envelope
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("1.0")
            .to_owned(),
        timestamp: Utc::now(),
        aggregate_id: event_id,
        aggregate_type: "Upstream".to_owned(),
        business_id,
        data: envelope.get("data").cloned().unwrap_or(Value::Null),
        metadata: EventMetadata::default(),
        position: 0,
        sequence: 0,
    })
}
