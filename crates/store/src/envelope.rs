//! The seed's event envelope, as stored and as served.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// Who caused an event: the request (`correlationId`) and, for reactions, the event before it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
}

/// One stored event: `{eventId, eventType, version, timestamp, aggregateId, businessId, data,
/// metadata}` plus its global `position` and its `sequence` within the aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub version: String,
    pub timestamp: DateTime<Utc>,
    pub aggregate_id: Uuid,
    pub aggregate_type: String,
    pub business_id: Uuid,
    #[schema(value_type = Object)]
    pub data: Value,
    pub metadata: EventMetadata,
    /// Position in the global log: commit order.
    pub position: i64,
    /// 1-based number of this event within its aggregate.
    pub sequence: i64,
}

/// Where an event stands: all the projector needs of its envelope besides the event itself
/// (an append has it before the event has an envelope; a rebuild takes it from the stored one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventPlace {
    pub business_id: Uuid,
    pub aggregate_id: Uuid,
    pub sequence: i64,
    pub position: i64,
    pub timestamp: DateTime<Utc>,
}

impl From<&StoredEvent> for EventPlace {
    fn from(stored: &StoredEvent) -> Self {
        Self {
            business_id: stored.business_id,
            aggregate_id: stored.aggregate_id,
            sequence: stored.sequence,
            position: stored.position,
            timestamp: stored.timestamp,
        }
    }
}
