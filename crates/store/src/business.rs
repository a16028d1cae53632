//! Businesses: the tenants. A registry, not an aggregate: its rows carry the hashed API key.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Business {
    pub business_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// API keys are random and high-entropy, so one SHA-256 is enough to store them safely.
pub fn hash_api_key(api_key: &str) -> String {
    hex::encode(Sha256::digest(api_key.as_bytes()))
}
