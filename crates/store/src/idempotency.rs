//! Idempotency records: the first answer to a key, stored in the transaction it answers for.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The response a command produced, kept so a repeat can be answered identically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: JsonBody,
}

/// A response body as JSON text: serialized once, when the answer is made, then kept in the
/// idempotency record and sent as it is, the first time and on every replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBody(String);

impl JsonBody {
    /// The body `value` serializes to.
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Self)
    }

    /// Text an earlier [`Self::of`] made (an idempotency record's), taken as it is.
    pub(crate) fn kept(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The body parsed back, for what inspects an answer rather than sending it on.
    pub fn value(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

/// `null`.
impl Default for JsonBody {
    fn default() -> Self {
        Self("null".to_owned())
    }
}

/// An `Idempotency-Key` seen before, with the fingerprint of its request and the first answer.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    pub request_hash: String,
    pub response: StoredResponse,
}

/// The fingerprint of a request: method, path and body bytes.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0]);
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}
