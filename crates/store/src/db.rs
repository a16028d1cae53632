//! One small seam over the two databases the store runs on: embedded SQLite (rusqlite) and
//! PostgreSQL (tokio-postgres, driven synchronously; see `postgres::conn`). The store's SQL is written once, in the dialect both
//! accept, with `?N` placeholders (rewritten to `$N` for PostgreSQL); values cross the seam as a
//! handful of plain types (integers, text, reals, NULL), which is all the schema stores.
//!
//! The surface mirrors rusqlite's (`prepare_cached`, `query_row`, `query_map`, `execute`,
//! `exists`), so a query reads the same whichever database runs it. The store's own SQL, a
//! `'static` text, is prepared with `prepare_held`: on the SQLite connections that run the same
//! statements over and over (the writer's, the rebuild's) it stays prepared (see
//! [`crate::sqlite::HeldStatements`]); elsewhere it comes from the cache as with
//! `prepare_cached`, which is for SQL made at run time.
//!
//! A bound page size is written `LIMIT CAST(?N AS BIGINT)`, never as a bare parameter: SQLite's planner
//! reads a bare LIMIT parameter's value, and marks the statement to be prepared again whenever
//! that parameter is bound, which is on every execution (it was 15% of an account read's CPU).
//! A test below keeps the store's SQL free of bare LIMIT parameters.

pub use crate::postgres::PgConn;
use crate::sqlite::Hold;
use crate::StoreError;
use std::borrow::Cow;

/// A connection of either backend, borrowed for the length of one unit of work.
#[derive(Clone, Copy)]
pub enum Db<'a> {
    /// With the statements the connection holds prepared, if it holds any (the writer's and
    /// the rebuild's; see [`crate::sqlite::HeldStatements`]).
    Sqlite(&'a rusqlite::Connection, Option<&'a dyn Hold>),
    Pg(&'a PgConn),
}

/// `?N` placeholders (SQLite) as `$N` (PostgreSQL); text in single quotes is left alone.
pub fn pg_placeholders(sql: &str) -> String {
    rewrite_placeholders(sql, |digits| Some(format!("${digits}"))).unwrap_or_else(|| sql.to_owned())
}

/// `sql` with each placeholder `?` and the digits after it (`?N`; the digits may be none)
/// replaced by what `replace` makes of the digits; text in single quotes is left alone. `None`
/// when `replace` refuses one.
pub(crate) fn rewrite_placeholders(sql: &str, mut replace: impl FnMut(&str) -> Option<String>) -> Option<String> {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut digits = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                out.push_str(&replace(&digits)?);
            }
            _ => out.push(c),
        }
    }
    Some(out)
}

impl<'a> Db<'a> {
    /// A SQLite connection that holds no statements (see [`Self::prepare_held`]).
    pub fn sqlite(conn: &'a rusqlite::Connection) -> Self {
        Db::Sqlite(conn, None)
    }

    /// A statement of the store's own SQL, ready to run: held prepared by a connection that
    /// holds statements, else as [`Self::prepare_cached`].
    pub fn prepare_held(self, sql: &'static str) -> Result<Stmt<'a>, StoreError> {
        if let Db::Sqlite(_, Some(held)) = self {
            if let Some(slot) = held.slot(sql)? {
                return Ok(Stmt::Sqlite(SqliteStmt::Held { held, slot, sql }));
            }
        }
        self.prepare_cached(sql)
    }

    /// A statement ready to run (cached per connection on both backends).
    pub fn prepare_cached(self, sql: &str) -> Result<Stmt<'a>, StoreError> {
        match self {
            Db::Sqlite(conn, _) => Ok(Stmt::Sqlite(SqliteStmt::Cached(conn.prepare_cached(sql)?))),
            Db::Pg(conn) => Ok(Stmt::Pg {
                conn,
                statement: conn.statement(sql)?,
                sql: sql.to_owned(),
            }),
        }
    }

    pub fn execute(self, sql: &'static str, params: impl Params) -> Result<usize, StoreError> {
        self.prepare_held(sql)?.execute(params)
    }

    pub fn query_row<T>(
        self,
        sql: &'static str,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.prepare_held(sql)?.query_row(params, f)
    }

    /// Open a command's savepoint (on PostgreSQL, queued: see `postgres::conn`).
    pub fn savepoint(self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(conn, _) => Ok(conn.execute_batch("SAVEPOINT job")?),
            Db::Pg(conn) => {
                conn.savepoint();
                Ok(())
            }
        }
    }

    /// Keep what the command did (on PostgreSQL, sending what it queued).
    pub fn release_savepoint(self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(conn, _) => Ok(conn.execute_batch("RELEASE SAVEPOINT job")?),
            Db::Pg(conn) => conn.release(),
        }
    }

    /// Undo what the command did.
    pub fn rollback_to_savepoint(self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(conn, _) => Ok(conn.execute_batch("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job")?),
            Db::Pg(conn) => conn.rollback_to_savepoint(),
        }
    }

    /// Several statements without parameters (savepoints, schema).
    pub fn execute_batch(self, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(conn, _) => Ok(conn.execute_batch(sql)?),
            Db::Pg(conn) => conn.batch_execute(sql),
        }
    }

    /// Begin a write transaction (SQLite: taking the write lock at once).
    pub fn begin(self) -> Result<(), StoreError> {
        self.execute_batch(match self {
            Db::Sqlite(..) => "BEGIN IMMEDIATE",
            Db::Pg(conn) => {
                conn.reset_transaction();
                "BEGIN"
            }
        })
    }

    /// Commit; on PostgreSQL after sending what is still queued (a failure there rolls back).
    pub fn commit(self) -> Result<(), StoreError> {
        if let Db::Pg(conn) = self {
            conn.finish()?;
        }
        self.execute_batch("COMMIT")
    }

    /// Commit without waiting for the disk, for the writer alone, whose syncer answers nobody
    /// before the commit is durable (see [`crate::syncer`]): PostgreSQL's asynchronous commit;
    /// on SQLite a plain `COMMIT`, which the writer's connection makes without `fsync` (see
    /// [`crate::sqlite::LogFile`]).
    pub fn commit_unsynced(self) -> Result<(), StoreError> {
        match self {
            Db::Pg(conn) => conn.commit_unsynced(),
            Db::Sqlite(..) => self.commit(),
        }
    }

    pub fn rollback(self) -> Result<(), StoreError> {
        if let Db::Pg(conn) = self {
            conn.reset_transaction();
        }
        self.execute_batch("ROLLBACK")
    }

    /// Send each command's writes before the next command starts (see `postgres::conn`).
    pub fn set_strict(self, strict: bool) {
        if let Db::Pg(conn) = self {
            conn.set_strict(strict);
        }
    }

    /// Whether the batch's transaction is lost: on PostgreSQL a write of a command already done
    /// failed in it; on SQLite it was rolled back (SQLite does so itself on some errors, such
    /// as an I/O error or a full disk).
    pub fn batch_poisoned(self) -> bool {
        match self {
            Db::Pg(conn) => conn.poisoned(),
            Db::Sqlite(conn, _) => conn.is_autocommit(),
        }
    }

    pub fn is_postgres(self) -> bool {
        matches!(self, Db::Pg(_))
    }
}

/// A prepared statement of either backend.
pub enum Stmt<'a> {
    Sqlite(SqliteStmt<'a>),
    Pg {
        conn: &'a PgConn,
        statement: tokio_postgres::Statement,
        sql: String,
    },
}

/// A SQLite statement: from rusqlite's cache, or held by its connection (see
/// [`crate::sqlite::HeldStatements`]).
pub enum SqliteStmt<'a> {
    Cached(rusqlite::CachedStatement<'a>),
    Held {
        held: &'a dyn Hold,
        slot: usize,
        sql: &'static str,
    },
}

impl SqliteStmt<'_> {
    /// `run` on the statement. A held statement whose holder is busy (this one is run from
    /// inside another held statement's row callback) is taken from rusqlite's cache instead.
    fn run<T>(
        &mut self,
        run: impl FnOnce(&mut rusqlite::Statement<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            SqliteStmt::Cached(statement) => run(statement),
            SqliteStmt::Held { held, slot, sql } => {
                let mut run = Some(run);
                let mut outcome = None;
                held.with(*slot, &mut |statement| outcome = run.take().map(|run| run(statement)));
                match (outcome, run) {
                    (Some(outcome), _) => outcome,
                    (None, Some(run)) => run(&mut *held.conn().prepare_cached(sql)?),
                    (None, None) => Err(StoreError::Corrupt(format!("a held statement did not run: {sql}"))),
                }
            }
        }
    }
}

impl Stmt<'_> {
    /// Run a statement that returns no rows; how many rows it changed.
    pub fn execute(&mut self, params: impl Params) -> Result<usize, StoreError> {
        let values = params.values();
        match self {
            Stmt::Sqlite(stmt) => stmt.run(|stmt| Ok(stmt.execute(rusqlite::params_from_iter(values.iter()))?)),
            Stmt::Pg { conn, statement, .. } => {
                let changed = conn.execute(statement, &values)?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// Run a write whose answer nothing waits for: at once on SQLite, queued for the next
    /// pipeline on PostgreSQL (errors surface by the end of the command).
    pub fn execute_deferred(&mut self, params: impl Params) -> Result<(), StoreError> {
        match self {
            Stmt::Sqlite(_) => self.execute(params).map(|_| ()),
            Stmt::Pg { conn, statement, .. } => {
                conn.defer(statement.clone(), owned(params.values()), None);
                Ok(())
            }
        }
    }

    /// An insert whose row nothing in the transaction writes again before the flush's updates
    /// (events, ledger, idempotency records, new accounts): at once on SQLite; on PostgreSQL a
    /// row of the flush's multi-row insert into that table (see `postgres::bulk`). A
    /// unique-index violation means the error `otherwise` makes, if it makes one (on SQLite
    /// only then, as in [`Self::execute_keyed`]).
    pub fn insert_batched(
        &mut self,
        params: impl Params,
        otherwise: impl FnOnce() -> Option<StoreError>,
    ) -> Result<(), StoreError> {
        match self {
            Stmt::Sqlite(_) => match self.execute(params) {
                Ok(_) => Ok(()),
                Err(e) if e.is_unique_violation() => Err(otherwise().unwrap_or(e)),
                Err(e) => Err(e),
            },
            Stmt::Pg { conn, sql, .. } => {
                conn.defer_row(sql.clone(), owned(params.values()), otherwise());
                Ok(())
            }
        }
    }

    /// An update of the one row keyed by the first parameter (`… WHERE key = ?1`), which must
    /// change exactly that row, else the command fails with the error `otherwise` makes (on
    /// SQLite only then, so that a row found costs no error message): at once on SQLite; on
    /// PostgreSQL a row of the flush's multi-row updates of its table (see `postgres::bulk`).
    pub fn execute_keyed(
        &mut self,
        params: impl Params,
        otherwise: impl FnOnce() -> StoreError,
    ) -> Result<(), StoreError> {
        match self {
            Stmt::Sqlite(_) => match self.execute(params)? {
                1 => Ok(()),
                _ => Err(otherwise()),
            },
            Stmt::Pg { conn, sql, .. } => {
                conn.defer_keyed(sql.clone(), owned(params.values()), otherwise());
                Ok(())
            }
        }
    }

    /// A deferred write that must change exactly `rows` rows, else the command fails with
    /// `otherwise` (an optimistic-concurrency check).
    pub fn execute_expecting(
        &mut self,
        params: impl Params,
        rows: u64,
        otherwise: StoreError,
    ) -> Result<(), StoreError> {
        match self {
            Stmt::Sqlite(_) => {
                if self.execute(params)? as u64 == rows {
                    Ok(())
                } else {
                    Err(otherwise)
                }
            }
            Stmt::Pg { conn, sql, .. } => {
                // The check runs in the database: a wrong count divides by zero, which aborts
                // what follows in the pipeline (the release included) and is reported as
                // `otherwise`.
                let checked = conn.statement(&format!(
                    "WITH changed AS ({sql} RETURNING 1) SELECT 1 / CASE WHEN COUNT(*) = {rows} THEN 1 ELSE 0 END FROM changed"
                ))?;
                conn.defer(checked, owned(params.values()), Some(otherwise));
                Ok(())
            }
        }
    }

    /// The first row, mapped; [`StoreError::NoRow`] when there is none (see [`OptionalRow`]).
    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        f: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let values = params.values();
        match self {
            Stmt::Sqlite(stmt) => stmt.run(|stmt| {
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                match rows.next()? {
                    Some(row) => f(&Row::Sqlite(row)),
                    None => Err(StoreError::NoRow),
                }
            }),
            Stmt::Pg { conn, statement, .. } => {
                let rows = conn.query(statement, &values)?;
                match rows.first() {
                    Some(row) => f(&Row::Pg(row)),
                    None => Err(StoreError::NoRow),
                }
            }
        }
    }

    /// Whether the query returns any row.
    pub fn exists(&mut self, params: impl Params) -> Result<bool, StoreError> {
        self.query_row(params, |_| Ok(()))
            .optional()
            .map(|found| found.is_some())
    }

    /// Each row in turn, without holding the answer in memory (on SQLite; the PostgreSQL client
    /// receives the whole answer first): for a scan of a whole table, such as a fingerprint.
    pub fn for_each_row(
        &mut self,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let values = params.values();
        match self {
            Stmt::Sqlite(stmt) => stmt.run(|stmt| {
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                while let Some(row) = rows.next()? {
                    f(&Row::Sqlite(row))?;
                }
                Ok(())
            })?,
            Stmt::Pg { conn, statement, .. } => {
                for row in conn.query(statement, &values)? {
                    f(&Row::Pg(&row))?;
                }
            }
        }
        Ok(())
    }

    /// Every row, mapped (collect the answer into a `Result<Vec<_>, _>`).
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        mut f: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<std::vec::IntoIter<Result<T, StoreError>>, StoreError> {
        let values = params.values();
        let mut out = Vec::new();
        match self {
            Stmt::Sqlite(stmt) => stmt.run(|stmt| {
                let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
                while let Some(row) = rows.next()? {
                    out.push(f(&Row::Sqlite(row)));
                }
                Ok(())
            })?,
            Stmt::Pg { conn, statement, .. } => {
                for row in conn.query(statement, &values)? {
                    out.push(f(&Row::Pg(&row)));
                }
            }
        }
        Ok(out.into_iter())
    }
}

/// Values that outlive the call (for a deferred write).
fn owned(values: Vec<Value<'_>>) -> Vec<Value<'static>> {
    values
        .into_iter()
        .map(|v| match v {
            Value::Null => Value::Null,
            Value::Int(i) => Value::Int(i),
            Value::Real(f) => Value::Real(f),
            Value::Text(t) => Value::Text(Cow::Owned(t.into_owned())),
        })
        .collect()
}

/// `query_row(..).optional()`: no row is `None`, not an error.
pub trait OptionalRow<T> {
    fn optional(self) -> Result<Option<T>, StoreError>;
}

impl<T> OptionalRow<T> for Result<T, StoreError> {
    fn optional(self) -> Result<Option<T>, StoreError> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(StoreError::NoRow) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
}

/// What can be bound to a placeholder.
pub trait ToParam {
    fn value(&self) -> Value<'_>;
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl ToParam for $t {
            fn value(&self) -> Value<'_> {
                Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
            }
        }
    )*};
}
int_param!(i64, i32, u32, u16, u64, usize);

impl ToParam for bool {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl ToParam for f64 {
    fn value(&self) -> Value<'_> {
        Value::Real(*self)
    }
}

impl ToParam for str {
    fn value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self))
    }
}

impl ToParam for String {
    fn value(&self) -> Value<'_> {
        Value::Text(Cow::Borrowed(self.as_str()))
    }
}

impl<T: ToParam + ?Sized> ToParam for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}

impl<T: ToParam> ToParam for Option<T> {
    fn value(&self) -> Value<'_> {
        match self {
            Some(v) => v.value(),
            None => Value::Null,
        }
    }
}

/// The parameters of one statement.
pub trait Params {
    fn values(&self) -> Vec<Value<'_>>;
}

impl Params for &[&dyn ToParam] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(|p| p.value()).collect()
    }
}

impl<T: ToParam, const N: usize> Params for [T; N] {
    fn values(&self) -> Vec<Value<'_>> {
        self.iter().map(ToParam::value).collect()
    }
}

/// `params![a, b, c]`: a statement's parameters, of mixed types.
macro_rules! params {
    () => { &[] as &[&dyn $crate::db::ToParam] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::db::ToParam),+] as &[&dyn $crate::db::ToParam] };
}
pub(crate) use params;

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Real(f) => ToSqlOutput::Borrowed(ValueRef::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl postgres::types::ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ => i.to_string().as_str().to_sql(ty, out),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Value::Text(s) => s.as_ref().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A row of either backend.
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Pg(&'r postgres::Row),
}

/// A column's value as read, before conversion.
pub enum Column {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

impl Row<'_> {
    /// Column `idx`, converted to `T`.
    pub fn get<T: FromColumn>(&self, idx: usize) -> Result<T, StoreError> {
        let column = self.column(idx)?;
        T::from_column(column).map_err(|expected| StoreError::Corrupt(format!("column {idx}: expected {expected}")))
    }

    pub fn column_count(&self) -> usize {
        match self {
            Row::Sqlite(row) => row.as_ref().column_count(),
            Row::Pg(row) => row.len(),
        }
    }

    /// Text column `idx` (not NULL), borrowed from the row: no allocation.
    pub fn text(&self, idx: usize) -> Result<&str, StoreError> {
        match self {
            Row::Sqlite(row) => match row.get_ref(idx)? {
                // A blob of UTF-8 reads as text, as in `column`.
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => utf8(idx, t),
                _ => Err(StoreError::Corrupt(format!("column {idx}: expected text"))),
            },
            Row::Pg(row) => Ok(row.try_get::<_, &str>(idx)?),
        }
    }

    /// Column `idx` as text, whatever its type (for digests of whole rows).
    pub fn get_as_text(&self, idx: usize) -> Result<Option<String>, StoreError> {
        Ok(match self.column(idx)? {
            Column::Null => None,
            Column::Int(i) => Some(i.to_string()),
            Column::Real(f) => Some(f.to_string()),
            Column::Text(s) => Some(s),
        })
    }

    fn column(&self, idx: usize) -> Result<Column, StoreError> {
        match self {
            Row::Sqlite(row) => {
                use rusqlite::types::ValueRef;
                Ok(match row.get_ref(idx)? {
                    ValueRef::Null => Column::Null,
                    ValueRef::Integer(i) => Column::Int(i),
                    ValueRef::Real(f) => Column::Real(f),
                    ValueRef::Text(t) | ValueRef::Blob(t) => Column::Text(utf8(idx, t)?.to_owned()),
                })
            }
            Row::Pg(row) => {
                use postgres::types::Type;
                let ty = row
                    .columns()
                    .get(idx)
                    .ok_or_else(|| StoreError::Corrupt(format!("no column {idx}")))?
                    .type_()
                    .clone();
                Ok(match ty {
                    Type::INT8 => row.try_get::<_, Option<i64>>(idx)?.map_or(Column::Null, Column::Int),
                    Type::INT4 => row
                        .try_get::<_, Option<i32>>(idx)?
                        .map_or(Column::Null, |i| Column::Int(i.into())),
                    Type::INT2 => row
                        .try_get::<_, Option<i16>>(idx)?
                        .map_or(Column::Null, |i| Column::Int(i.into())),
                    Type::BOOL => row
                        .try_get::<_, Option<bool>>(idx)?
                        .map_or(Column::Null, |b| Column::Int(b.into())),
                    Type::FLOAT8 => row.try_get::<_, Option<f64>>(idx)?.map_or(Column::Null, Column::Real),
                    _ => row
                        .try_get::<_, Option<String>>(idx)?
                        .map_or(Column::Null, Column::Text),
                })
            }
        }
    }
}

/// A SQLite text (or blob) column's bytes as UTF-8.
fn utf8(idx: usize, bytes: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(bytes).map_err(|_| StoreError::Corrupt(format!("column {idx}: not UTF-8")))
}

/// What a column converts into.
pub trait FromColumn: Sized {
    /// The value, or what was expected instead.
    fn from_column(column: Column) -> Result<Self, &'static str>;
}

impl FromColumn for i64 {
    fn from_column(column: Column) -> Result<Self, &'static str> {
        match column {
            Column::Int(i) => Ok(i),
            _ => Err("an integer"),
        }
    }
}

macro_rules! narrow_int_column {
    ($($t:ty),*) => {$(
        impl FromColumn for $t {
                    fn from_column(column: Column) -> Result<Self, &'static str> {
                let wide = i64::from_column(column)?;
                <$t>::try_from(wide).map_err(|_| concat!("an integer that fits ", stringify!($t)))
            }
        }
    )*};
}
narrow_int_column!(i32, u16, u32, u64);

impl FromColumn for bool {
    fn from_column(column: Column) -> Result<Self, &'static str> {
        Ok(i64::from_column(column)? != 0)
    }
}

impl FromColumn for f64 {
    fn from_column(column: Column) -> Result<Self, &'static str> {
        match column {
            Column::Real(f) => Ok(f),
            Column::Int(i) => Ok(i as f64),
            _ => Err("a number"),
        }
    }
}

impl FromColumn for String {
    fn from_column(column: Column) -> Result<Self, &'static str> {
        match column {
            Column::Text(s) => Ok(s),
            _ => Err("text"),
        }
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_column(column: Column) -> Result<Self, &'static str> {
        match column {
            Column::Null => Ok(None),
            other => T::from_column(other).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_become_postgres_ones_outside_quoted_text() {
        assert_eq!(
            super::pg_placeholders("SELECT '?', ?1, ?12 FROM t WHERE x = '?2' AND y = ?3"),
            "SELECT '?', $1, $12 FROM t WHERE x = '?2' AND y = $3"
        );
    }

    /// See the module's note: a bare LIMIT parameter re-prepares its statement on every execution.
    #[test]
    fn no_statement_binds_a_bare_limit_parameter() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut dirs = vec![src];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("read the source folder") {
                let path = entry.expect("a source entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("read a source file");
                    let needle = ["LIMIT", " ?"].concat();
                    if text.contains(&needle) {
                        offenders.push(path.display().to_string());
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "bare LIMIT parameters in {offenders:?}");
    }
}
