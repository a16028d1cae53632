//! Digests of the stored snapshots, so that a rebuild on SQLite can tell which of the snapshots
//! it folds are stored exactly so without looking each one up.
//!
//! The replayer reads the snapshots table once, in its own order, while the writing thread finds
//! each aggregate's last sequence, then compares each fold's digest with its aggregate's: about
//! half the instructions of looking each aggregate's snapshot up (BENCHMARKS.md).
//! A digest is XXH3's 128 bits over the row's values, each with its type (see
//! [`encode_value`]): a damaged row, whatever its column types, differs, and the chance that a
//! differing row is taken for the stored one is about one in 2^128.

use std::collections::HashMap;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use uuid::Uuid;
use xxhash_rust::xxh3::xxh3_128;

use super::staging::encode_value;
use crate::StoreError;

/// Each stored snapshot's digest, by aggregate.
pub(super) type SnapshotDigests = HashMap<Uuid, u128>;

/// The digest of a snapshot row: `aggregate_id`, `aggregate_type`, `business_id`, `version`,
/// `state`, `due_at`, in that order. `buffer` is scratch space, reused from row to row.
pub(super) fn of_row(values: [ValueRef<'_>; 6], buffer: &mut Vec<u8>) -> u128 {
    buffer.clear();
    for value in values {
        encode_value(value, buffer);
    }
    xxh3_128(buffer)
}

/// The digest of every stored snapshot whose key is an aggregate id. A key that is not one belongs to no aggregate: the rebuild deletes that row as a
/// stray. Two keys that spell one id differently (a damaged key in capitals, say) keep one of
/// their digests, and since the digest covers the key as spelt, an aggregate whose digest is
/// the damaged row's is written again.
pub(super) fn stored(conn: &Connection) -> Result<SnapshotDigests, StoreError> {
    let mut digests = HashMap::new();
    let mut buffer = Vec::with_capacity(1024);
    let mut stmt =
        conn.prepare("SELECT aggregate_id, aggregate_type, business_id, version, state, due_at FROM snapshots")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id = row.get_ref(0)?;
        let Some(aggregate_id) = id.as_str().ok().and_then(|id| Uuid::parse_str(id).ok()) else {
            continue;
        };
        let values = [
            id,
            row.get_ref(1)?,
            row.get_ref(2)?,
            row.get_ref(3)?,
            row.get_ref(4)?,
            row.get_ref(5)?,
        ];
        digests.insert(aggregate_id, of_row(values, &mut buffer));
    }
    Ok(digests)
}
