//! How domain events are named, versioned and turned into the envelope's `data`.

use serde::de::DeserializeOwned;
use serde::{Deserializer, Serialize};
use serde_json::Value;

/// An event enum whose variants each have a stable type name, a schema version and a JSON body.
/// Its `Serialize` writes the body, the envelope's `data`, straight to JSON text when an event
/// is stored: the variant's payload alone, so each enum derives it `#[serde(untagged)]`
/// ([`crate::testing::reads_back`] checks the text against [`DomainEvent::data`]).
pub trait DomainEvent: Sized + Serialize {
    /// The seed's dotted name, such as `loyalty.points.earned`.
    fn event_type(&self) -> &'static str;
    /// The schema version written with new events.
    fn version(&self) -> &'static str;
    /// The envelope's `data`, as a [`Value`].
    fn data(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
    /// Read an event back from its stored type, version and data (a [`Value`], or the JSON text
    /// itself through `&mut serde_json::Deserializer`). The version must be one this code reads:
    /// older versions go through [`crate::upcast`] first.
    fn decode<'de, D: Deserializer<'de>>(event_type: &str, version: &str, data: D) -> Result<Self, EventDecodeError>;
}

/// A stored event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventDecodeError {
    #[error("unknown event type {0}")]
    UnknownType(String),
    #[error("event {event_type} version {version} is not a version this code reads")]
    UnknownVersion { event_type: String, version: String },
    #[error("event {event_type} has malformed data: {message}")]
    Malformed { event_type: String, message: String },
}

/// Deserialize one event's data, naming the event type on failure.
pub fn decode_data<'de, T: DeserializeOwned, D: Deserializer<'de>>(
    event_type: &str,
    data: D,
) -> Result<T, EventDecodeError> {
    T::deserialize(data).map_err(|e| EventDecodeError::Malformed {
        event_type: event_type.to_owned(),
        message: e.to_string(),
    })
}

/// Refuse a version this code does not know how to read.
pub fn require_version(event_type: &str, version: &str, known: &[&str]) -> Result<(), EventDecodeError> {
    if known.contains(&version) {
        Ok(())
    } else {
        Err(EventDecodeError::UnknownVersion {
            event_type: event_type.to_owned(),
            version: version.to_owned(),
        })
    }
}

/// Any event of the loyalty domain, as read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoyaltyEvent {
    Program(crate::program::ProgramEvent),
    Account(crate::account::AccountEvent),
    Reward(crate::reward::RewardEvent),
}

impl LoyaltyEvent {
    /// Read a stored event of any aggregate, of a version this code reads (older versions go
    /// through [`crate::upcast`] first).
    pub fn decode<'de, D: Deserializer<'de>>(
        event_type: &str,
        version: &str,
        data: D,
    ) -> Result<Self, EventDecodeError> {
        use crate::account::AccountEvent;
        use crate::program::ProgramEvent;
        use crate::reward::RewardEvent;
        if ProgramEvent::TYPES.contains(&event_type) {
            ProgramEvent::decode(event_type, version, data).map(Self::Program)
        } else if AccountEvent::TYPES.contains(&event_type) {
            AccountEvent::decode(event_type, version, data).map(Self::Account)
        } else if RewardEvent::TYPES.contains(&event_type) {
            RewardEvent::decode(event_type, version, data).map(Self::Reward)
        } else {
            Err(EventDecodeError::UnknownType(event_type.to_owned()))
        }
    }

    /// Every event type this code writes.
    pub fn all_types() -> impl Iterator<Item = &'static str> {
        crate::program::ProgramEvent::TYPES
            .iter()
            .chain(crate::account::AccountEvent::TYPES)
            .chain(crate::reward::RewardEvent::TYPES)
            .copied()
    }
}

impl From<crate::program::ProgramEvent> for LoyaltyEvent {
    fn from(event: crate::program::ProgramEvent) -> Self {
        Self::Program(event)
    }
}

impl From<crate::account::AccountEvent> for LoyaltyEvent {
    fn from(event: crate::account::AccountEvent) -> Self {
        Self::Account(event)
    }
}

impl From<crate::reward::RewardEvent> for LoyaltyEvent {
    fn from(event: crate::reward::RewardEvent) -> Self {
        Self::Reward(event)
    }
}
