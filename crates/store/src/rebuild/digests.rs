//! Digests of rows, so that a rebuild on SQLite compares 16 bytes a row where it would compare
//! every value: each stored snapshot with its aggregate's fold, and each stored read-model row
//! with its staging copy (see [`super::staging`]).
//!
//! A digest is XXH3's 128 bits over the row's values, each with its type (see
//! [`encode_value`]): a damaged row, whatever its column types, differs, and the chance that a
//! differing row is taken for the stored one is about one in 2^128 (XXH3 is not made to resist
//! rows crafted to collide, which would take writing to the database file anyway).
//!
//! SQLite takes a stored row's digest itself, through the SQL function [`ROW_DIGEST`]
//! ([`register`]): the values go from the row to the function where SQLite holds them, instead
//! of one call into SQLite for each value's type, bytes and length, and only the key and the
//! digest come out. The snapshots are read once, in their own order, by the replayer, while the
//! writing thread finds each aggregate's last sequence; each fold's digest is then compared
//! with its aggregate's (BENCHMARKS.md). On PostgreSQL no digests are taken: every snapshot goes
//! to the upsert that compares, and read models are emptied and refilled.

use std::cell::RefCell;

use foldhash::{HashMap, HashMapExt};
use rusqlite::config::DbConfig;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use uuid::Uuid;
use xxhash_rust::xxh3::xxh3_128;

use super::staging::encode_value;
use crate::StoreError;

/// The SQL function that gives the digest of its arguments, as a 16-byte blob:
/// `loyalty_row_digest(a, b, …)` is [`of_values`] of `a, b, …`. Registered by [`register`] on a
/// rebuild's connections only.
pub(super) const ROW_DIGEST: &str = "loyalty_row_digest";

/// Each stored snapshot's digest, by aggregate.
pub(super) type SnapshotDigests = HashMap<Uuid, u128>;

/// The digest of `values`, in order. `buffer` is scratch space, reused from row to row.
pub(super) fn of_values<'v>(values: impl IntoIterator<Item = ValueRef<'v>>, buffer: &mut Vec<u8>) -> u128 {
    buffer.clear();
    for value in values {
        encode_value(value, buffer);
    }
    xxh3_128(buffer)
}

/// Make [`ROW_DIGEST`] known to `conn`, one of a rebuild's own connections. It may only be
/// called from a statement, not from the schema (a view, a trigger, an index); registering it
/// again replaces it. It takes as many arguments as SQLite allows a function (1,000 in the
/// bundled SQLite; a wider table fails when its query is prepared, with SQLite's error).
///
/// Double-quoted text is also made an identifier only on `conn`: the rows' columns are named
/// in double quotes, and by SQLite's default a double-quoted name that names no column would
/// be taken for a string, digested the same on both sides, and a column left out of the
/// comparison without a word.
pub(super) fn register(conn: &Connection) -> Result<(), StoreError> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DML, false)?;
    let buffer = RefCell::new(Vec::with_capacity(1024));
    conn.create_scalar_function(
        ROW_DIGEST,
        -1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_DIRECTONLY,
        move |ctx| {
            let mut buffer = buffer.borrow_mut();
            let digest = of_values((0..ctx.len()).map(|i| ctx.get_raw(i)), &mut buffer);
            Ok(digest.to_le_bytes())
        },
    )?;
    Ok(())
}

/// A digest as [`ROW_DIGEST`] gives it.
pub(super) fn read(value: ValueRef<'_>) -> Result<u128, StoreError> {
    match value {
        ValueRef::Blob(bytes) => <[u8; 16]>::try_from(bytes).ok().map(u128::from_le_bytes),
        _ => None,
    }
    .ok_or_else(|| StoreError::Corrupt(format!("{ROW_DIGEST} gave {value:?}, not 16 bytes")))
}

/// The digest of every stored snapshot whose key is an aggregate id, taken by SQLite (needs
/// [`register`] on `conn`). A key that is not one belongs to no aggregate: the rebuild deletes
/// that row as a stray. Two keys that spell one id differently (a damaged key in capitals, say)
/// keep one of their digests, and since the digest covers the key as spelt, an aggregate whose
/// digest is the damaged row's is written again.
pub(super) fn stored(conn: &Connection) -> Result<SnapshotDigests, StoreError> {
    let mut digests = HashMap::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT aggregate_id, {ROW_DIGEST}(aggregate_id, aggregate_type, business_id, version, state, due_at)
         FROM snapshots"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id = row.get_ref(0)?;
        let Some(aggregate_id) = id.as_str().ok().and_then(|id| Uuid::parse_str(id).ok()) else {
            continue;
        };
        digests.insert(aggregate_id, read(row.get_ref(1)?)?);
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
        let conn = crate::sqlite::open_in_memory();
        register(&conn).expect("registered");
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
            of_values(values, &mut buffer)
        };
        assert_eq!(digests.get(&right), Some(&fold(right, 3, None)));
        assert!(digests.contains_key(&capitals));
        assert_ne!(digests.get(&capitals), Some(&fold(capitals, 1, None)));
        assert!(digests.contains_key(&typed));
        assert_ne!(digests.get(&typed), Some(&fold(typed, 2, Some("2026-01-01"))));
    }

    /// SQLite's digest of a row is the one taken of the same values here, for values of every
    /// storage class; a value of another class or another order of the same values differs.
    #[test]
    fn the_sql_function_digests_values_as_they_are_digested_here() {
        use rusqlite::types::Value;
        let conn = crate::sqlite::open_in_memory();
        register(&conn).expect("registered");
        let values = [
            Value::Null,
            Value::Integer(-7),
            Value::Real(2.5),
            Value::Text("été".to_owned()),
            Value::Blob(vec![0, 0xff]),
        ];
        let mut buffer = Vec::new();
        for a in &values {
            for b in &values {
                let sql: u128 = conn
                    .query_row(&format!("SELECT {ROW_DIGEST}(?1, ?2)"), [a, b], |r| {
                        read(r.get_ref(0)?).map_err(|e| rusqlite::Error::UserFunctionError(e.into()))
                    })
                    .expect("a digest");
                assert_eq!(sql, of_values([a.into(), b.into()], &mut buffer), "{a:?}, {b:?}");
                if a != b {
                    assert_ne!(sql, of_values([b.into(), a.into()], &mut buffer), "{a:?}, {b:?}");
                }
            }
        }
        let (integer, real, text, blob): (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) = conn
            .query_row(
                &format!(
                    "SELECT {ROW_DIGEST}(1), {ROW_DIGEST}(1.0), {ROW_DIGEST}('1'), {ROW_DIGEST}(CAST('1' AS BLOB))"
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .expect("digests");
        let distinct: std::collections::HashSet<_> = [&integer, &real, &text, &blob].into_iter().collect();
        assert_eq!(distinct.len(), 4);
        // A name that names no column is an error, not a string digested as it is spelt.
        conn.execute_batch("CREATE TABLE t (a)").expect("a table");
        assert!(conn
            .query_row(&format!("SELECT {ROW_DIGEST}(\"b\") FROM t"), [], |r| r
                .get::<_, Vec<u8>>(0))
            .is_err_and(|e| e.to_string().contains("no such column")));
        // Not for the schema: a view that used it would fail wherever the function is unknown.
        conn.execute_batch(&format!("CREATE VIEW v AS SELECT {ROW_DIGEST}(1) AS d"))
            .expect("a view is created");
        assert!(conn
            .query_row("SELECT d FROM v", [], |r| r.get::<_, Vec<u8>>(0))
            .is_err());
    }
}
