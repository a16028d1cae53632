//! On SQLite a rebuild projects the events into staging copies of the read-model tables, then
//! brings each stored table in line with its copy, writing only the rows that differ.
//!
//! The copies are `TEMP` tables of the same names and definitions, in the rebuild connection's
//! in-memory temporary database (`temp_store = MEMORY`). SQLite looks an unqualified table name
//! up in `temp` before `main`, so the projections, unchanged, write into the copies: no page of
//! a stored read model is read, spilled or logged while the events are replayed. Then each copy
//! and its stored table are read side by side in key order ([`compare`]). A healthy store
//! differs in nothing, and the rebuild writes no read-model row, keeps every index and commits
//! only the snapshots that differed. Where a table differs in many rows (it was emptied, or a
//! fixed projection changes every row) it is rewritten whole instead ([`replace_whole`]), its
//! secondary indexes dropped and built again once, sorted.
//!
//! The copies are held in memory until they are compared: a rebuild of 1,000,000 members peaks
//! at about 650 MB where refilling the stored tables took about 350 MB (BENCHMARKS.md).

use std::cmp::Ordering;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{params_from_iter, Connection};

use super::RebuildChanges;
use crate::StoreError;

/// A table that differs in more than this share of its rows (1/N) is rewritten whole: row by row
/// each differing row costs an update of every index, while a whole rewrite writes rows in key
/// order and sorts each secondary index once.
const WHOLE_REWRITE_SHARE: u64 = 8;

/// A read-model table with its staging copy.
pub(crate) struct Staged {
    table: &'static str,
    /// The primary key's columns, in key order.
    key: Vec<String>,
}

/// Create an empty staging copy of each of `tables`, with the stored table's definition (its
/// columns, primary key and unique constraints; not its secondary indexes, which no projection
/// reads by).
pub(crate) fn stage(conn: &Connection, tables: &[&'static str]) -> Result<Vec<Staged>, StoreError> {
    tables
        .iter()
        .map(|&table| {
            let sql: String = conn.query_row(
                "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )?;
            // SQLite keeps the statement as written, its first keywords normalized.
            let Some(definition) = sql.strip_prefix("CREATE TABLE ") else {
                return Err(StoreError::Corrupt(format!(
                    "unexpected definition of table {table}: {sql}"
                )));
            };
            // Keyed by its primary key alone (no rowid, no second index on the key): cheaper to
            // fill, and read in key order straight from its B-tree.
            let keyed = if definition.to_ascii_uppercase().ends_with("WITHOUT ROWID") {
                ""
            } else {
                " WITHOUT ROWID"
            };
            conn.execute_batch(&format!("CREATE TEMP TABLE {definition}{keyed}"))?;
            let mut key: Vec<(i64, String)> = conn
                .prepare(&format!(
                    "SELECT pk, name FROM pragma_table_info('{table}', 'main') WHERE pk > 0"
                ))?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            if key.is_empty() {
                return Err(StoreError::Corrupt(format!("table {table} has no primary key")));
            }
            key.sort();
            Ok(Staged {
                table,
                key: key.into_iter().map(|(_, name)| name).collect(),
            })
        })
        .collect()
}

/// Bring each stored table in line with its staging copy, then drop the copies; count what was
/// written in `changes`.
pub(crate) fn apply(conn: &Connection, staged: &[Staged], changes: &mut RebuildChanges) -> Result<(), StoreError> {
    for table in staged {
        match compare(conn, table)? {
            Diff::Rows { differing, stale } => {
                update_rows(conn, table, &differing, &stale)?;
                changes.rows_written += differing.len() as u64;
                changes.rows_deleted += stale.len() as u64;
            }
            Diff::Many { stored, staged } => {
                replace_whole(conn, table)?;
                changes.tables_rewritten += 1;
                changes.rows_written += staged;
                changes.rows_deleted += stored;
            }
        }
        conn.execute_batch(&format!("DROP TABLE temp.{}", table.table))?;
    }
    Ok(())
}

/// How a stored table differs from its staging copy.
enum Diff {
    /// In a few rows, by their keys: staged rows not stored exactly so, and stored rows no staged
    /// row has.
    Rows {
        differing: Vec<Vec<Value>>,
        stale: Vec<Vec<Value>>,
    },
    /// In more than one row in [`WHOLE_REWRITE_SHARE`]; how many rows each holds.
    Many { stored: u64, staged: u64 },
}

/// Read the stored table and its copy side by side in key order; rows are equal when every
/// column holds the same value of the same type (a damaged row, whatever its column types,
/// simply differs).
fn compare(conn: &Connection, table: &Staged) -> Result<Diff, StoreError> {
    let count = |schema: &str| -> Result<u64, StoreError> {
        let n: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {schema}.{}", table.table), [], |r| {
            r.get(0)
        })?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let (stored_count, staged_count) = (count("main")?, count("temp")?);
    // The most differences kept by key; one more and the table is rewritten whole.
    let most = stored_count.max(staged_count) / WHOLE_REWRITE_SHARE;
    let order = table.key.join(", ");
    let mut stored_stmt = conn.prepare(&format!("SELECT * FROM main.{} ORDER BY {order}", table.table))?;
    let mut staged_stmt = conn.prepare(&format!("SELECT * FROM temp.{} ORDER BY {order}", table.table))?;
    let columns = stored_stmt.column_count();
    if staged_stmt.column_count() != columns {
        return Err(StoreError::Corrupt(format!(
            "table {} changed while rebuilt",
            table.table
        )));
    }
    let key_at: Vec<usize> = table
        .key
        .iter()
        .map(|name| stored_stmt.column_index(name))
        .collect::<Result<_, _>>()?;
    let key_of = |row: &rusqlite::Row<'_>| -> Result<Vec<Value>, StoreError> {
        key_at.iter().map(|&i| Ok(row.get_ref(i)?.into())).collect()
    };
    let (mut differing, mut stale) = (Vec::new(), Vec::new());
    let mut stored_rows = stored_stmt.query([])?;
    let mut staged_rows = staged_stmt.query([])?;
    let mut stored = stored_rows.next()?;
    let mut staged = staged_rows.next()?;
    loop {
        if (differing.len() + stale.len()) as u64 > most {
            return Ok(Diff::Many {
                stored: stored_count,
                staged: staged_count,
            });
        }
        match (stored, staged) {
            (None, None) => break,
            (Some(old), None) => {
                stale.push(key_of(old)?);
                stored = stored_rows.next()?;
            }
            (None, Some(new)) => {
                differing.push(key_of(new)?);
                staged = staged_rows.next()?;
            }
            (Some(old), Some(new)) => {
                let mut order = Ordering::Equal;
                for &i in &key_at {
                    order = sqlite_order(old.get_ref(i)?, new.get_ref(i)?);
                    if order != Ordering::Equal {
                        break;
                    }
                }
                match order {
                    Ordering::Less => {
                        stale.push(key_of(old)?);
                        stored = stored_rows.next()?;
                    }
                    Ordering::Greater => {
                        differing.push(key_of(new)?);
                        staged = staged_rows.next()?;
                    }
                    Ordering::Equal => {
                        if !same_row(old, new, columns)? {
                            differing.push(key_of(new)?);
                        }
                        stored = stored_rows.next()?;
                        staged = staged_rows.next()?;
                    }
                }
            }
        }
    }
    Ok(Diff::Rows { differing, stale })
}

/// Whether two rows hold the same values of the same types in each of their `columns`.
fn same_row(old: &rusqlite::Row<'_>, new: &rusqlite::Row<'_>, columns: usize) -> Result<bool, StoreError> {
    for i in 0..columns {
        if old.get_ref(i)? != new.get_ref(i)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Delete the `stale` rows of a stored table and copy the `differing` ones from its staging copy.
fn update_rows(
    conn: &Connection,
    table: &Staged,
    differing: &[Vec<Value>],
    stale: &[Vec<Value>],
) -> Result<(), StoreError> {
    let matches = table
        .key
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{column} = ?{}", i + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut delete = conn.prepare(&format!("DELETE FROM main.{} WHERE {matches}", table.table))?;
    for key in stale {
        delete.execute(params_from_iter(key))?;
    }
    // A copied row may still meet a stored row on a unique column (two members who swapped
    // emails): `REPLACE` deletes that row, which differs from its copy too and is copied in turn
    // (a stored row equal to its copy cannot conflict with another copy, as the copies obey the
    // same constraints).
    let mut copy = conn.prepare(&format!(
        "INSERT OR REPLACE INTO main.{0} SELECT * FROM temp.{0} WHERE {matches}",
        table.table
    ))?;
    for key in differing {
        copy.execute(params_from_iter(key))?;
    }
    Ok(())
}

/// Rewrite a stored table whole from its copy: its secondary indexes dropped, its rows deleted
/// and copied in key order, its indexes built again.
fn replace_whole(conn: &Connection, table: &Staged) -> Result<(), StoreError> {
    let indexes: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM main.sqlite_master
             WHERE type = 'index' AND tbl_name = ?1 AND sql IS NOT NULL AND upper(sql) NOT LIKE 'CREATE UNIQUE%'
             ORDER BY name",
        )?
        .query_map([table.table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (name, _) in &indexes {
        conn.execute_batch(&format!("DROP INDEX main.{name}"))?;
    }
    conn.execute_batch(&format!(
        "DELETE FROM main.{0}; INSERT INTO main.{0} SELECT * FROM temp.{0} ORDER BY {1};",
        table.table,
        table.key.join(", ")
    ))?;
    for (name, definition) in &indexes {
        // Named in `main`: unqualified, the table's name would be the staging copy's.
        let Some(rest) = definition.strip_prefix("CREATE INDEX ") else {
            return Err(StoreError::Corrupt(format!(
                "unexpected definition of index {name}: {definition}"
            )));
        };
        conn.execute_batch(&format!("CREATE INDEX main.{rest}"))?;
    }
    Ok(())
}

/// SQLite's order of two values of a column with the default (binary) collation: NULL, then
/// numbers by value, then text, then blobs, each by its bytes.
fn sqlite_order(a: ValueRef<'_>, b: ValueRef<'_>) -> Ordering {
    fn class(v: &ValueRef<'_>) -> u8 {
        match v {
            ValueRef::Null => 0,
            ValueRef::Integer(_) | ValueRef::Real(_) => 1,
            ValueRef::Text(_) => 2,
            ValueRef::Blob(_) => 3,
        }
    }
    match (a, b) {
        (ValueRef::Integer(x), ValueRef::Integer(y)) => x.cmp(&y),
        (ValueRef::Integer(x), ValueRef::Real(y)) => (x as f64).total_cmp(&y),
        (ValueRef::Real(x), ValueRef::Integer(y)) => x.total_cmp(&(y as f64)),
        (ValueRef::Real(x), ValueRef::Real(y)) => x.total_cmp(&y),
        (ValueRef::Text(x), ValueRef::Text(y)) | (ValueRef::Blob(x), ValueRef::Blob(y)) => x.cmp(y),
        (a, b) => class(&a).cmp(&class(&b)),
    }
}
