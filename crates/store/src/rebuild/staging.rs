//! On SQLite a rebuild projects the events into staging copies of the read-model tables, then
//! brings each stored table in line with its copy, writing only the rows that differ.
//!
//! The copies are `TEMP` tables of the same names and columns (see [`stage`]), in the rebuild
//! connection's in-memory temporary database (`temp_store = MEMORY`). SQLite looks an
//! unqualified table name up in `temp` before `main`, so the projections, unchanged, write into
//! the copies: no page of a stored read model is read, spilled or logged while the events are
//! replayed. Then each copy
//! and its stored table are read side by side in key order, each row as its key and a digest
//! of all its values that SQLite takes ([`compare`], [`digests::ROW_DIGEST`]). A healthy store
//! differs in nothing, and the rebuild writes no read-model row, keeps every index and commits
//! only the snapshots that differed. Where a table differs in many rows (it was emptied, or a
//! fixed projection changes every row) it is rewritten whole instead ([`replace_whole`]), its
//! secondary indexes dropped and built again once, sorted.
//!
//! The copies are held in memory until they are compared: a rebuild of 1,000,000 members peaks
//! at about 460 MB of private memory (BENCHMARKS.md).

use std::cmp::Ordering;

use rusqlite::types::{Value, ValueRef};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::mpsc::{Receiver, SyncSender};

use rusqlite::{params_from_iter, Connection};

use super::{digests, RebuildChanges};
use crate::StoreError;

/// A table that differs in more than this share of its rows (1/N) is rewritten whole: row by row
/// each differing row costs an update of every index, while a whole rewrite writes rows in key
/// order and sorts each secondary index once.
const WHOLE_REWRITE_SHARE: u64 = 8;

/// A read-model table with its staging copy.
#[derive(Clone)]
pub(crate) struct Staged {
    table: &'static str,
    /// The primary key's columns, in key order.
    key: Vec<String>,
    /// The same, quoted and separated by commas, for the statements that name them.
    key_list: String,
    /// Every column, quoted and separated by commas, in the table's order.
    column_list: String,
}

impl Staged {
    /// How many rows the table holds in `schema` (`main`, the stored one, or `temp`, the copy).
    fn count(&self, conn: &Connection, schema: &str) -> Result<u64, StoreError> {
        let count: i64 = conn.query_row(&format!("SELECT COUNT(*) FROM {schema}.{}", self.table), [], |r| {
            r.get(0)
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Every row of the table in `schema`, in key order, as its key's columns and then the
    /// digest of all its columns (see [`digests::ROW_DIGEST`], which must be registered on
    /// `conn`).
    fn in_key_order<'c>(&self, conn: &'c Connection, schema: &str) -> Result<rusqlite::Statement<'c>, StoreError> {
        Ok(conn.prepare(&format!(
            "SELECT {key}, {digest}({columns}) FROM {schema}.{table} ORDER BY {key}",
            key = self.key_list,
            digest = digests::ROW_DIGEST,
            columns = self.column_list,
            table = self.table,
        ))?)
    }
}

/// Create an empty staging copy of each of `tables`: the stored table's columns with their
/// declared types (so each value is stored with the same affinity), `NOT NULL`s and defaults,
/// keyed by its primary key alone (no rowid, no second index on the key: cheaper to fill, and
/// read in key order straight from its B-tree). Not its secondary indexes, which no projection
/// reads by, nor its unique constraints: each is one more index to search and fill per row,
/// and the stored table checks them when rows are copied back (see [`update_rows`]). A table
/// whose definition says more than that is copied from its `CREATE` text, made `WITHOUT ROWID`.
pub(crate) fn stage(conn: &Connection, tables: &[&'static str]) -> Result<Vec<Staged>, StoreError> {
    tables
        .iter()
        .map(|&table| {
            let sql: String = conn.query_row(
                "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )?;
            let columns: Vec<Column> = conn
                .prepare("SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1, 'main')")?
                .query_map([table], |r| {
                    Ok(Column {
                        name: r.get(0)?,
                        declared: r.get(1)?,
                        not_null: r.get(2)?,
                        default: r.get(3)?,
                        key_at: r.get(4)?,
                        hidden: r.get::<_, i64>(5)? != 0,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let mut key: Vec<&Column> = columns.iter().filter(|c| c.key_at > 0).collect();
            if key.is_empty() {
                return Err(StoreError::Corrupt(format!("table {table} has no primary key")));
            }
            key.sort_by_key(|c| c.key_at);
            let key: Vec<String> = key.iter().map(|c| c.name.clone()).collect();
            let (without_rowid, strict): (bool, bool) = conn.query_row(
                "SELECT wr, strict FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
                [table],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            // Rows are copied back with `SELECT *`, which a generated column would not take.
            if columns.iter().any(|c| c.hidden) {
                return Err(StoreError::Config(format!(
                    "table {table} has a generated column, which a rebuild cannot copy"
                )));
            }
            // The columns' list says nothing of a collation (which orders the key), a check, a
            // foreign key, a conflict clause or a descending key, and a default it gives may
            // not be an expression (`DEFAULT abc`): such a table is copied from its own
            // definition, constraints and all.
            let listed = columns.iter().map(Column::definition).collect::<Vec<_>>().join(", ");
            let key_list = quoted_list(key.iter().map(String::as_str));
            let strict = if strict { ", STRICT" } else { "" };
            let plain = format!(
                "CREATE TEMP TABLE {} ({listed}, PRIMARY KEY ({key_list})) WITHOUT ROWID{strict}",
                quoted(table)
            );
            if !only_columns_and_keys(&sql) || conn.execute_batch(&plain).is_err() {
                conn.execute_batch(&format!(
                    "CREATE TEMP TABLE {}",
                    copied_definition(table, &sql, without_rowid)?
                ))?;
            }
            let column_list = quoted_list(columns.iter().map(|c| c.name.as_str()));
            Ok(Staged {
                table,
                key,
                key_list,
                column_list,
            })
        })
        .collect()
}

/// Whether a table's `CREATE` text has nothing a copy made from its columns' list would lose
/// but its unique constraints (judged by its words: one inside a string only costs the copy its
/// speed).
fn only_columns_and_keys(sql: &str) -> bool {
    const LOST: [&str; 5] = ["COLLATE", "CHECK", "REFERENCES", "CONFLICT", "DESC"];
    !sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|word| LOST.iter().any(|lost| word.eq_ignore_ascii_case(lost)))
}

/// A stored table's column, as `pragma_table_xinfo` describes it.
struct Column {
    name: String,
    declared: String,
    not_null: bool,
    /// The default's expression, as written.
    default: Option<String>,
    /// Its place in the primary key, from 1; 0 outside it.
    key_at: i64,
    /// A generated column.
    hidden: bool,
}

impl Column {
    fn definition(&self) -> String {
        let mut definition = format!("{} {}", quoted(&self.name), self.declared);
        if self.not_null {
            definition.push_str(" NOT NULL");
        }
        if let Some(default) = &self.default {
            definition.push_str(&format!(" DEFAULT ({default})"));
        }
        definition
    }
}

/// `name` as an SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `names` as SQL identifiers, separated by commas.
fn quoted_list<'n>(names: impl Iterator<Item = &'n str>) -> String {
    names.map(quoted).collect::<Vec<_>>().join(", ")
}

/// The staging copy's definition taken from the stored table's own `sql`, made `WITHOUT ROWID`
/// unless it is already.
fn copied_definition(table: &str, sql: &str, without_rowid: bool) -> Result<String, StoreError> {
    // SQLite keeps the statement as written, its first keywords normalized.
    let Some(definition) = sql.strip_prefix("CREATE TABLE ") else {
        return Err(StoreError::Corrupt(format!(
            "unexpected definition of table {table}: {sql}"
        )));
    };
    // Table options after the closing parenthesis (`STRICT`) are joined by a comma.
    let keyed = match (without_rowid, definition.trim_end().ends_with(')')) {
        (true, _) => "",
        (false, true) => " WITHOUT ROWID",
        (false, false) => ", WITHOUT ROWID",
    };
    Ok(format!("{definition}{keyed}"))
}

/// Bring each stored table in line with its staging copy, then drop the copies; count what was
/// written in `changes`. The stored rows come from `stored`, read by [`read_stored`] on the
/// replayer's connection meanwhile.
pub(crate) fn apply(
    conn: &Connection,
    staged: &[Staged],
    stored: &mut StoredRows<'_>,
    changes: &mut RebuildChanges,
) -> Result<(), StoreError> {
    for table in staged {
        // The copies do not check unique constraints; the stored table does, as rows come in.
        let broken = |error: StoreError| match error.is_unique_violation() {
            true => StoreError::Corrupt(format!(
                "the events project rows of {} that break one of its unique constraints ({error})",
                table.table
            )),
            false => error,
        };
        match compare(conn, table, stored)? {
            Diff::Rows { differing, stale } => {
                let (written, deleted) = update_rows(conn, table, &differing, &stale).map_err(broken)?;
                changes.rows_written += written;
                changes.rows_deleted += deleted;
            }
            Diff::Many { stored, staged } => {
                replace_whole(conn, table).map_err(broken)?;
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

/// What [`read_stored`] sends, table after table in the order of the staged tables.
pub(crate) enum Stored {
    /// A table's rows begin: how many there are.
    Count(u64),
    /// The next of its rows, in key order.
    Rows(Encoded),
    /// The table's rows are all sent.
    End,
}

/// Rows in the form [`encode_row`] gives them, one after another.
pub(crate) struct Encoded {
    bytes: Vec<u8>,
    /// Where each row ends in `bytes`.
    ends: Vec<usize>,
}

/// Read each staged table as it is stored, in key order, and send its rows, encoded, on `out`.
/// Runs on the rebuild's second connection, whose reads see the stored read models as the
/// rebuild found them, which is what they still are: only [`apply`] writes them, each table
/// after its rows were compared. Rows go `batch_rows` to a message. Stops early, without error,
/// when the receiver hangs up; a table whose index the writing side puts in `skipped` is no
/// longer needed (it will be rewritten whole), and its reading stops at the next batch.
pub(crate) fn read_stored(
    conn: &Connection,
    staged: &[Staged],
    batch_rows: usize,
    out: &SyncSender<Result<Stored, StoreError>>,
    skipped: &AtomicUsize,
) -> Result<(), StoreError> {
    let batch_rows = batch_rows.max(1);
    for (index, table) in staged.iter().enumerate() {
        if out.send(Ok(Stored::Count(table.count(conn, "main")?))).is_err() {
            return Ok(());
        }
        let mut stmt = table.in_key_order(conn, "main")?;
        let mut rows = stmt.query([])?;
        let mut batch = Encoded::with_capacity(batch_rows);
        while let Some(row) = rows.next()? {
            encode_row(row, table.key.len(), &mut batch.bytes)?;
            batch.ends.push(batch.bytes.len());
            if batch.ends.len() == batch_rows {
                if skipped.load(AtomicOrdering::Relaxed) == index {
                    break;
                }
                let full = std::mem::replace(&mut batch, Encoded::with_capacity(batch_rows));
                if out.send(Ok(Stored::Rows(full))).is_err() {
                    return Ok(());
                }
            }
        }
        if !batch.ends.is_empty() && out.send(Ok(Stored::Rows(batch))).is_err() {
            return Ok(());
        }
        if out.send(Ok(Stored::End)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

impl Encoded {
    fn with_capacity(rows: usize) -> Self {
        Self {
            // A key of one or two text ids and a digest, each with its tag and length: 70 to
            // 120 bytes.
            bytes: Vec::with_capacity(rows * 128),
            ends: Vec::with_capacity(rows),
        }
    }
}

/// The writing side's end of [`read_stored`]'s messages: the stored rows of one table after
/// another.
pub(crate) struct StoredRows<'a> {
    from: Receiver<Result<Stored, StoreError>>,
    /// Which table's rows are being read: the number of tables begun, less one.
    table: usize,
    /// See [`read_stored`].
    skipped: &'a AtomicUsize,
    batch: Encoded,
    /// The current row's index in `batch`; at its end, the next batch is due.
    at: usize,
    /// The current table's rows are all read.
    ended: bool,
}

impl<'a> StoredRows<'a> {
    pub(crate) fn new(from: Receiver<Result<Stored, StoreError>>, skipped: &'a AtomicUsize) -> Self {
        Self {
            from,
            table: usize::MAX,
            skipped,
            batch: Encoded {
                bytes: Vec::new(),
                ends: Vec::new(),
            },
            at: 0,
            ended: true,
        }
    }

    fn receive(&mut self) -> Result<Stored, StoreError> {
        match self.from.recv() {
            Ok(message) => message,
            // The replayer sends its error before it stops; this is a panic, which the rebuild
            // reports in preference to this error once it has joined the replayer.
            Err(_) => Err(StoreError::WriteFailed(
                "the rebuild's replayer stopped before it read the stored read models".to_owned(),
            )),
        }
    }

    fn out_of_order() -> StoreError {
        StoreError::WriteFailed("the stored read models arrived out of order".to_owned())
    }

    /// Begin the next table: how many rows it has stored.
    fn begin(&mut self) -> Result<u64, StoreError> {
        let Stored::Count(count) = self.receive()? else {
            return Err(Self::out_of_order());
        };
        self.table = self.table.wrapping_add(1);
        self.ended = false;
        self.batch.ends.clear();
        self.at = 0;
        self.fill()?;
        Ok(count)
    }

    /// Make sure the current row is in `batch`, unless the table ended.
    fn fill(&mut self) -> Result<(), StoreError> {
        while !self.ended && self.at >= self.batch.ends.len() {
            match self.receive()? {
                Stored::Rows(batch) => {
                    self.batch = batch;
                    self.at = 0;
                }
                Stored::End => self.ended = true,
                Stored::Count(_) => return Err(Self::out_of_order()),
            }
        }
        Ok(())
    }

    /// The current stored row, encoded; `None` once the table's rows are all read.
    fn current(&self) -> Option<&[u8]> {
        if self.ended {
            return None;
        }
        let start = match self.at {
            0 => 0,
            at => self.batch.ends[at - 1],
        };
        Some(&self.batch.bytes[start..self.batch.ends[self.at]])
    }

    fn advance(&mut self) -> Result<(), StoreError> {
        self.at += 1;
        self.fill()
    }

    /// Skip what is left of the current table, asking the reader to stop reading it.
    fn finish(&mut self) -> Result<(), StoreError> {
        self.skipped.store(self.table, AtomicOrdering::Relaxed);
        while !self.ended {
            self.at = self.batch.ends.len();
            self.fill()?;
        }
        Ok(())
    }
}

/// Append a row read by [`Staged::in_key_order`] to `out`: its key's values, then its
/// digest, each as [`encode_value`] gives it. Two rows are equal, every value of the same type,
/// when their encodings are (but for a chance of one in 2^128).
fn encode_row(row: &rusqlite::Row<'_>, key_len: usize, out: &mut Vec<u8>) -> Result<(), StoreError> {
    for i in 0..=key_len {
        encode_value(row.get_ref(i)?, out);
    }
    Ok(())
}

pub(super) fn encode_value(value: ValueRef<'_>, out: &mut Vec<u8>) {
    match value {
        ValueRef::Null => out.push(0),
        ValueRef::Integer(i) => {
            out.push(1);
            out.extend_from_slice(&i.to_le_bytes());
        }
        ValueRef::Real(r) => {
            out.push(2);
            out.extend_from_slice(&r.to_le_bytes());
        }
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            out.push(if matches!(value, ValueRef::Text(_)) { 3 } else { 4 });
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(bytes);
        }
    }
}

/// The first value of `bytes`, encoded by [`encode_value`], and what follows it.
fn decode_value(bytes: &[u8]) -> Result<(ValueRef<'_>, &[u8]), StoreError> {
    let cut = || StoreError::Corrupt("a stored row's encoding was cut short".to_owned());
    let (&tag, rest) = bytes.split_first().ok_or_else(cut)?;
    if tag == 0 {
        return Ok((ValueRef::Null, rest));
    }
    let (eight, after) = rest.split_at_checked(8).ok_or_else(cut)?;
    let eight: [u8; 8] = eight.try_into().map_err(|_| cut())?;
    Ok(match tag {
        1 => (ValueRef::Integer(i64::from_le_bytes(eight)), after),
        2 => (ValueRef::Real(f64::from_le_bytes(eight)), after),
        _ => {
            let len = usize::try_from(u64::from_le_bytes(eight)).map_err(|_| cut())?;
            let (value, after) = after.split_at_checked(len).ok_or_else(cut)?;
            let value = if tag == 3 {
                ValueRef::Text(value)
            } else {
                ValueRef::Blob(value)
            };
            (value, after)
        }
    })
}

/// The key of an encoded row, as values to bind.
fn key_of(mut encoded: &[u8], key_len: usize) -> Result<Vec<Value>, StoreError> {
    (0..key_len)
        .map(|_| {
            let (value, rest) = decode_value(encoded)?;
            encoded = rest;
            Ok(value.into())
        })
        .collect()
}

/// The order of two encoded rows' keys.
fn key_order(mut a: &[u8], mut b: &[u8], key_len: usize) -> Result<Ordering, StoreError> {
    for _ in 0..key_len {
        let (x, rest_a) = decode_value(a)?;
        let (y, rest_b) = decode_value(b)?;
        let order = sqlite_order(x, y);
        if order != Ordering::Equal {
            return Ok(order);
        }
        (a, b) = (rest_a, rest_b);
    }
    Ok(Ordering::Equal)
}

/// Read the stored table (from `stored`) and its copy side by side in key order; rows are equal
/// when their keys and their digests are, that is when every column holds the same value of the
/// same type (a damaged row, whatever its column types, simply differs), but for a chance of
/// one in 2^128 that a differing row has the same digest (see [`digests`]).
fn compare(conn: &Connection, table: &Staged, stored: &mut StoredRows) -> Result<Diff, StoreError> {
    let stored_count = stored.begin()?;
    let staged_count = table.count(conn, "temp")?;
    // The most differences kept by key; one more and the table is rewritten whole.
    let most = stored_count.max(staged_count) / WHOLE_REWRITE_SHARE;
    let mut stmt = table.in_key_order(conn, "temp")?;
    let key_len = table.key.len();
    let (mut differing, mut stale) = (Vec::new(), Vec::new());
    let mut staged_rows = stmt.query([])?;
    // The current staged row, encoded, while there is one.
    let mut new_row = Vec::with_capacity(1024);
    let mut next_staged = |new_row: &mut Vec<u8>| -> Result<bool, StoreError> {
        new_row.clear();
        match staged_rows.next()? {
            Some(row) => encode_row(row, key_len, new_row).map(|()| true),
            None => Ok(false),
        }
    };
    let mut staged_left = next_staged(&mut new_row)?;
    loop {
        if (differing.len() + stale.len()) as u64 > most {
            stored.finish()?;
            return Ok(Diff::Many {
                stored: stored_count,
                staged: staged_count,
            });
        }
        let order = match (stored.current(), staged_left) {
            (None, false) => break,
            (Some(old), false) => {
                stale.push(key_of(old, key_len)?);
                Ordering::Less
            }
            (None, true) => Ordering::Greater,
            (Some(old), true) => {
                let order = key_order(old, &new_row, key_len)?;
                if order == Ordering::Less {
                    stale.push(key_of(old, key_len)?);
                }
                order
            }
        };
        match order {
            Ordering::Less => stored.advance()?,
            Ordering::Greater => {
                differing.push(key_of(&new_row, key_len)?);
                staged_left = next_staged(&mut new_row)?;
            }
            Ordering::Equal => {
                if stored.current() != Some(new_row.as_slice()) {
                    differing.push(key_of(&new_row, key_len)?);
                }
                stored.advance()?;
                staged_left = next_staged(&mut new_row)?;
            }
        }
    }
    Ok(Diff::Rows { differing, stale })
}

/// Delete the `stale` rows of a stored table and replace the `differing` ones with their staging
/// copies; how many rows were written and deleted (stale ones: a replaced row is written).
fn update_rows(
    conn: &Connection,
    table: &Staged,
    differing: &[Vec<Value>],
    stale: &[Vec<Value>],
) -> Result<(u64, u64), StoreError> {
    // `IS`: a damaged row's key may be NULL (a rowid table's text key can be), and `=` would
    // match nothing. SQLite searches the key's index for `IS` as for `=`.
    let matches = table
        .key
        .iter()
        .enumerate()
        .map(|(i, column)| format!("{} IS ?{}", quoted(column), i + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    let mut delete = conn.prepare(&format!("DELETE FROM main.{} WHERE {matches}", table.table))?;
    let mut deleted = 0;
    for key in stale {
        deleted += delete.execute(params_from_iter(key))? as u64;
    }
    // Every differing row goes before any copy comes in: a copy may meet another differing row
    // on a unique column (two members who swapped emails). One that still meets a stored row
    // breaks the constraint among the copies themselves (the copies do not check it), and the
    // insert fails with SQLite's own error, naming the columns.
    for key in differing {
        delete.execute(params_from_iter(key))?;
    }
    let mut copy = conn.prepare(&format!(
        "INSERT INTO main.{0} SELECT * FROM temp.{0} WHERE {matches}",
        table.table
    ))?;
    let mut written = 0;
    for key in differing {
        written += copy.execute(params_from_iter(key))? as u64;
    }
    Ok((written, deleted))
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
        table.table, table.key_list
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
        // SQLite stores no NaN (it becomes NULL) and holds -0.0 equal to 0.0, as `partial_cmp`
        // does. An integer beside a real is compared as a real: exact for keys, which are text
        // or integers, and at worst an order that makes a few rows differ needlessly.
        (ValueRef::Integer(x), ValueRef::Real(y)) => (x as f64).partial_cmp(&y).unwrap_or(Ordering::Equal),
        (ValueRef::Real(x), ValueRef::Integer(y)) => x.partial_cmp(&(y as f64)).unwrap_or(Ordering::Equal),
        (ValueRef::Real(x), ValueRef::Real(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (ValueRef::Text(x), ValueRef::Text(y)) | (ValueRef::Blob(x), ValueRef::Blob(y)) => x.cmp(y),
        (a, b) => class(&a).cmp(&class(&b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A staging copy has its table's columns, types (so affinities), `NOT NULL`s, defaults and
    /// key, and keeps a `STRICT` table strict, but has no unique constraint; a table whose
    /// columns' list cannot say everything (a collation, a check, a default that is no
    /// expression) is copied from its own definition, constraints and all; a generated column
    /// is refused.
    #[test]
    fn a_staging_copy_keeps_the_columns_and_the_key_and_leaves_unique_constraints_out() {
        let conn = crate::sqlite::open_in_memory();
        conn.execute_batch(
            "CREATE TABLE members (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, visits INTEGER NOT NULL DEFAULT 7,
                 note TEXT, amount DECIMAL(10,2) DEFAULT (1+2), UNIQUE (note, visits));
             CREATE TABLE lines (account TEXT NOT NULL, line INTEGER NOT NULL, text TEXT, PRIMARY KEY (account, line))
                 WITHOUT ROWID;
             CREATE TABLE strict_rows (id INTEGER PRIMARY KEY, n INTEGER, u TEXT UNIQUE) STRICT;
             CREATE TABLE names (id TEXT PRIMARY KEY, name TEXT COLLATE NOCASE UNIQUE);
             CREATE TABLE checked (id TEXT PRIMARY KEY, n INTEGER CHECK (n > 0));
             CREATE TABLE legacy (id TEXT PRIMARY KEY, kind TEXT DEFAULT abc, code TEXT UNIQUE);
             CREATE TABLE generated (id TEXT PRIMARY KEY, n INTEGER, twice INTEGER AS (n * 2));",
        )
        .expect("schema");
        let tables = ["members", "lines", "strict_rows", "names", "checked", "legacy"];
        let staged = stage(&conn, &tables).expect("staged");
        let keys: Vec<Vec<String>> = staged.iter().map(|table| table.key.clone()).collect();
        assert_eq!(
            keys,
            [
                vec!["id"],
                vec!["account", "line"],
                vec!["id"],
                vec!["id"],
                vec!["id"],
                vec!["id"]
            ]
        );
        let refused = |sql: &str| conn.execute_batch(sql).is_err();
        // Two members with one email: the copy takes them, and the defaults and affinities apply.
        conn.execute_batch(
            "INSERT INTO temp.members (id, email) VALUES ('a', 'x@example.com'), ('b', 'x@example.com');
             INSERT INTO temp.members (id, email, visits, note, amount) VALUES ('c', 'y@example.com', '3', 'n', '2.50');",
        )
        .expect("no unique constraint in the copy");
        let rows: Vec<(String, i64, String, String)> = conn
            .prepare("SELECT id, visits, typeof(visits), typeof(amount) FROM temp.members ORDER BY id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        let row =
            |id: &str, visits: i64, amount: &str| (id.to_owned(), visits, "integer".to_owned(), amount.to_owned());
        assert_eq!(
            rows,
            [row("a", 7, "integer"), row("b", 7, "integer"), row("c", 3, "real")]
        );
        assert!(
            refused("INSERT INTO temp.members (id, email) VALUES ('d', NULL)"),
            "NOT NULL is kept"
        );
        // Strict stays strict; its unique constraint goes.
        assert!(
            refused("INSERT INTO temp.strict_rows VALUES (1, 'x', 'u')"),
            "STRICT is kept"
        );
        conn.execute_batch("INSERT INTO temp.strict_rows VALUES (1, 1, 'u'), (2, 2, 'u')")
            .expect("no unique constraint in the strict copy");
        // Copied from their definitions: 'A' and 'a' are one name, the check holds, the legacy
        // default applies, and their unique constraints are kept.
        conn.execute_batch("INSERT INTO temp.names VALUES ('1', 'A')")
            .expect("insert");
        assert!(
            refused("INSERT INTO temp.names VALUES ('2', 'a')"),
            "the collated unique name"
        );
        assert!(refused("INSERT INTO temp.checked VALUES ('1', 0)"), "the check");
        conn.execute_batch("INSERT INTO temp.legacy (id, code) VALUES ('1', 'c')")
            .expect("insert");
        let kind: String = conn
            .query_row("SELECT kind FROM temp.legacy", [], |r| r.get(0))
            .expect("the default");
        assert_eq!(kind, "abc");
        assert!(
            refused("INSERT INTO temp.legacy (id, code) VALUES ('2', 'c')"),
            "the legacy unique code"
        );
        // No copy has a rowid: each is read in key order from its own B-tree.
        for table in tables {
            let without_rowid: bool = conn
                .query_row(
                    "SELECT wr FROM pragma_table_list WHERE schema = 'temp' AND name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .expect("listed");
            assert!(without_rowid, "{table}");
        }
        let error = stage(&conn, &["generated"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("generated column"), "{error}");
    }

    /// Values of every storage class, no two of them equal to SQLite.
    fn values() -> Vec<Value> {
        vec![
            Value::Null,
            Value::Real(-1e300),
            Value::Integer(i64::MIN),
            Value::Integer(-5),
            Value::Integer(0),
            Value::Real(0.5),
            Value::Integer(1),
            Value::Real(1.5),
            Value::Integer(i64::MAX),
            Value::Text(String::new()),
            Value::Text("B".to_owned()),
            Value::Text("a".to_owned()),
            Value::Text("ab".to_owned()),
            Value::Text("é".to_owned()),
            Value::Blob(Vec::new()),
            Value::Blob(vec![0]),
            Value::Blob(vec![0xff]),
        ]
    }

    #[test]
    fn values_order_as_sqlite_orders_them() {
        let conn = crate::sqlite::open_in_memory();
        conn.execute_batch("CREATE TABLE t (v)").expect("a table");
        // Inserted in reverse, so that an order merely kept from insertion would show.
        for value in values().iter().rev() {
            conn.execute("INSERT INTO t VALUES (?1)", [value]).expect("inserted");
        }
        let sqlite: Vec<Value> = conn
            .prepare("SELECT v FROM t ORDER BY v")
            .expect("a query")
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("values");
        let mut ours = values();
        ours.reverse();
        ours.sort_by(|a, b| sqlite_order(a.into(), b.into()));
        assert_eq!(ours, sqlite);
        assert_eq!(ours, values());
        // What SQLite holds equal across classes, or between signed zeros, is equal here too.
        let equal: (bool, bool) = conn
            .query_row("SELECT 1 = 1.0, -0.0 = 0.0", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("compared");
        assert_eq!(equal, (true, true));
        assert_eq!(sqlite_order(ValueRef::Integer(1), ValueRef::Real(1.0)), Ordering::Equal);
        assert_eq!(sqlite_order(ValueRef::Real(-0.0), ValueRef::Real(0.0)), Ordering::Equal);
    }

    #[test]
    fn encodings_are_equal_exactly_when_values_and_types_are_and_decode_back() {
        let encode = |values: &[&Value]| {
            let mut out = Vec::new();
            for value in values {
                encode_value(ValueRef::from(*value), &mut out);
            }
            out
        };
        for a in values() {
            for b in values() {
                // An integer and a real of the same value, or a text and a blob of the same
                // bytes, are different values here.
                assert_eq!(encode(&[&a]) == encode(&[&b]), a == b, "{a:?} against {b:?}");
                let both = encode(&[&a, &b]);
                assert_eq!(key_of(&both, 2).expect("decoded"), vec![a.clone(), b.clone()]);
                assert_eq!(
                    key_order(&both, &encode(&[&b, &a]), 2).expect("compared"),
                    sqlite_order((&a).into(), (&b).into()).then(sqlite_order((&b).into(), (&a).into()))
                );
            }
        }
        assert!(encode(&[&Value::Integer(1)]) != encode(&[&Value::Real(1.0)]));
        assert!(encode(&[&Value::Text("1".to_owned())]) != encode(&[&Value::Blob(b"1".to_vec())]));
        // A cut encoding is an error, not a panic.
        let whole = encode(&[&Value::Text("abc".to_owned())]);
        for end in 0..whole.len() {
            assert!(key_of(&whole[..end], 1).is_err(), "cut at {end}");
        }
    }
}
