//! Timestamps are stored as RFC 3339 UTC text with microseconds, so text order is time order.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::StoreError;

pub fn format(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub fn parse(raw: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("bad timestamp {raw:?}: {e}")))
}
