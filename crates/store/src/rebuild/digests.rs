//! Digests of the stored snapshots, so that a rebuild on SQLite can tell which of the snapshots
//! it folds are stored exactly so without looking each one up.
//!
//! The replayer reads the snapshots table once, in its own order, while the writing thread finds
//! each aggregate's last sequence, then compares each fold's digest with its aggregate's: about
//! 4,500 instructions an aggregate, where looking each one's snapshot up took about 7,200
//! (BENCHMARKS.md).
//! A digest is XXH3's 128 bits over the row's values, each with its type (see
//! [`encode_value`]): a damaged row, whatever its column types, differs, and the chance that a
//! differing row is taken for the stored one is about one in 2^128 (XXH3 is not made to resist
//! rows crafted to collide, which would take writing to the database file anyway). On
//! PostgreSQL no digests are taken: every snapshot goes to the upsert that compares.

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

/// The digest of every stored snapshot whose key is an aggregate id. A key that is not one
/// belongs to no aggregate: the rebuild deletes that row as a stray. Two keys that spell one id
/// differently (a damaged key in capitals, say) keep one of their digests, and since the digest
/// covers the key as spelt, an aggregate whose digest is the damaged row's is written again.
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

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::types::ValueRef::{Integer, Null, Text};

    /// A stored row is found by its aggregate, with the digest of the same values; a key spelt
    /// otherwise (in capitals) is found too but never matches the fold, whose key is spelt
    /// right; a key that is no aggregate id is left out; a value of another type differs.
    #[test]
    fn stored_rows_are_digested_by_aggregate_and_a_misspelt_key_never_matches() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE snapshots (aggregate_id TEXT PRIMARY KEY, aggregate_type TEXT NOT NULL,
                 business_id TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL, due_at TEXT)
                 WITHOUT ROWID",
        )
        .expect("schema");
        // Letters in every part, so that in capitals it is spelt otherwise.
        let capitals = Uuid::parse_str("0f0e0d0c-abcd-4ef0-8abc-def012345678").expect("an id");
        let (right, typed) = (Uuid::new_v4(), Uuid::new_v4());
        conn.execute_batch(&format!(
            "INSERT INTO snapshots VALUES
                 ('{right}', 'LoyaltyAccount', 'b', 3, '{{}}', NULL),
                 ('{}', 'LoyaltyAccount', 'b', 1, '{{}}', NULL),
                 ('{typed}', 'LoyaltyAccount', 'b', CAST('2' AS BLOB), '{{}}', '2026-01-01'),
                 ('not an id', 'LoyaltyAccount', 'b', 1, '{{}}', NULL)",
            capitals.to_string().to_uppercase()
        ))
        .expect("rows");
        let digests = stored(&conn).expect("digests");
        assert_eq!(digests.len(), 3, "the key that is no aggregate id is left out");
        let mut buffer = Vec::new();
        let mut fold = |id: Uuid, version: i64, due_at: Option<&str>| {
            let id = id.to_string();
            let due_at = due_at.map_or(Null, |d| Text(d.as_bytes()));
            let values = [
                Text(id.as_bytes()),
                Text(b"LoyaltyAccount"),
                Text(b"b"),
                Integer(version),
                Text(b"{}"),
                due_at,
            ];
            of_row(values, &mut buffer)
        };
        assert_eq!(digests.get(&right), Some(&fold(right, 3, None)));
        assert!(digests.contains_key(&capitals));
        assert_ne!(digests.get(&capitals), Some(&fold(capitals, 1, None)));
        assert!(digests.contains_key(&typed));
        assert_ne!(digests.get(&typed), Some(&fold(typed, 2, Some("2026-01-01"))));
    }
}
