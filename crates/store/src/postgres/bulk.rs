//! Multi-row statements: the rows a batch of commands writes to the append-only tables (events,
//! ledger, idempotency records) and to the snapshots go out as one statement per table, not
//! one per row. A row-by-row INSERT costs PostgreSQL a parse-free but otherwise full statement
//! (bind, plan lookup, executor start and end, a message round of its own); `unnest` over one
//! array per column does the same work once for the whole batch.
//!
//! Only rows that no other write of the flush depends on are sent this way: new rows of the
//! append-only tables and of accounts (enrolments), and the snapshots. Sending them together,
//! after the other writes of a flush, changes no outcome: commands read most of their own
//! writes from the connection's caches, and a read of the database (an email check reads
//! accounts) sends the queue first.
//!
//! The accounts read model's updates (each by account id, each expected to change that one
//! row) go after the inserts, in rounds: the n-th update of every account in round n, so each
//! account's updates keep their order and no statement updates a row twice. Consecutive
//! updates of one account by the same statement go as one row (`merge_rules`: the later value
//! of each `column = ?K`, the sum of each `column = column + ?K`), so a rebuild, which updates
//! an account once per event of its history, sends each account about once per flush.

use std::collections::HashMap;

use tokio_postgres::types::{ToSql, Type};

use super::SnapshotRow;
use crate::db::{rewrite_placeholders, Value};
use crate::StoreError;

/// A row waiting for the next multi-row statement of its table.
pub(super) enum BulkRow {
    /// A row `sql` (an `INSERT INTO t (…) VALUES (?1, …, ?N)`) would insert.
    Insert {
        sql: String,
        values: Vec<Value<'static>>,
        /// The answer when the insert violates a unique index.
        otherwise: Option<StoreError>,
    },
    /// An update `sql` (`UPDATE t SET … WHERE key = ?1 …`) of one row, keyed by its first
    /// value; it must change exactly that row, else the answer is `otherwise`.
    Keyed {
        sql: String,
        values: Vec<Value<'static>>,
        otherwise: StoreError,
    },
    /// An aggregate's snapshot, written at `row.2` over the version `expected` (0: new).
    Snapshot {
        aggregate_id: String,
        expected: i64,
        row: SnapshotRow,
        due_at: Option<String>,
        otherwise: StoreError,
    },
}

/// One column of a multi-row statement, as the array bound to its parameter.
pub(super) type Column = Box<dyn ToSql + Sync + Send>;

/// A multi-row statement to prepare (written with `?N`) and its columns.
pub(super) struct MultiRow {
    pub sql: String,
    pub columns: Vec<Column>,
    /// The answer when its check fails (a unique index, or a row count that is not the number
    /// of rows).
    pub otherwise: Option<StoreError>,
}

/// The multi-row form of `INSERT INTO t (…) VALUES (?1, …, ?N)`: the same insert from one array
/// per column. `None` when the statement is not of that form, or a column has a type this does
/// not bind.
pub(super) fn insert_from_arrays(sql: &str, types: &[Type]) -> Option<String> {
    let at = sql.rfind("VALUES")?;
    let (head, tail) = (&sql[..at], &sql[at + "VALUES".len()..]);
    let placeholders: Vec<String> = (1..=types.len()).map(|n| format!("?{n}")).collect();
    let expected = format!("({})", placeholders.join(","));
    let tail: String = tail.chars().filter(|c| !c.is_whitespace()).collect();
    if tail != expected {
        return None;
    }
    let arrays: Option<Vec<String>> = types
        .iter()
        .zip(&placeholders)
        .map(|(ty, placeholder)| array_type(ty).map(|name| format!("{placeholder}::{name}")))
        .collect();
    Some(format!("{head}SELECT * FROM unnest({})", arrays?.join(", ")))
}

/// The multi-row form of a keyed update `UPDATE t SET … WHERE … ?1 …` whose parameters are
/// ?1 … ?N: the same update joined to one array per parameter (`v.pK` for `?K`), checking that
/// it changed one row per array element (the count is parameter N+1). `None` when the statement
/// is not of that form.
pub(super) fn update_from_arrays(sql: &str, types: &[Type]) -> Option<String> {
    let sql = sql.trim();
    if !sql.starts_with("UPDATE ") {
        return None;
    }
    let at = sql.rfind("WHERE")?;
    let n = types.len();
    let set = placeholders_as_columns(sql[..at].trim_end(), n)?;
    let filter = placeholders_as_columns(&sql[at..], n)?;
    let arrays: Option<Vec<String>> = types
        .iter()
        .enumerate()
        .map(|(k, ty)| array_type(ty).map(|name| format!("?{}::{name}", k + 1)))
        .collect();
    let arrays = arrays?;
    let names: Vec<String> = (1..=n).map(|k| format!("p{k}")).collect();
    // `key = ANY(keys)` beside the join lets the planner find the rows through the key's index.
    // Without it, it joins a small table by reading all of it: a sequential scan per flush.
    let lookup = match (key_column(&sql[at..]), arrays.first()) {
        (Some(key), Some(keys)) => format!(" AND {key} = ANY({keys})"),
        _ => String::new(),
    };
    Some(format!(
        "WITH changed AS ({set} FROM unnest({}) AS v({}) {filter}{lookup} RETURNING 1)
         SELECT 1 / CASE WHEN COUNT(*) = ?{}::int8 THEN 1 ELSE 0 END FROM changed",
        arrays.join(", "),
        names.join(", "),
        n + 1
    ))
}

/// The column of a filter `WHERE column = ?1`; `None` for a filter of any other form.
fn key_column(filter: &str) -> Option<&str> {
    let (column, value) = filter.trim().strip_prefix("WHERE")?.split_once('=')?;
    let column = column.trim();
    let is_name = !column.is_empty() && column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (is_name && value.trim() == "?1").then_some(column)
}

/// How one parameter of a keyed update combines with the same parameter of the next update of
/// the same row by the same statement, when the two are sent as one.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Merge {
    /// The key (`WHERE key = ?1`): the same in both.
    Key,
    /// `column = ?K`: the later value.
    Last,
    /// `column = column + ?K`: the sum.
    Sum,
}

/// How the parameters of a keyed update `UPDATE t SET a = ?2, b = b + ?3 WHERE key = ?1`
/// combine (see [`Merge`]); `None` when the statement is of another form, whose updates are
/// then sent one by one. The row's states between the merged updates are skipped, so so is
/// any check they alone would fail (a sum overflowing on the way, say); none of the read
/// model's updates has such a check.
fn merge_rules(sql: &str) -> Option<Vec<Merge>> {
    let sql = sql.trim();
    let at = sql.rfind("WHERE")?;
    let key = key_column(&sql[at..])?;
    let (_, assignments) = sql[..at].split_once(" SET ")?;
    // Functions, subqueries and literals: not a form whose values this knows how to combine.
    if assignments.contains(['(', '\'']) {
        return None;
    }
    let mut rules = vec![Merge::Key];
    for assignment in assignments.split(',') {
        let (column, value) = assignment.split_once('=')?;
        let column = column.trim();
        let value = value.trim();
        // An update that moves the row to another key is not one row's later state.
        if column == key {
            return None;
        }
        let (rule, placeholder) = match value.split_once('+') {
            Some((same, placeholder)) if same.trim() == column => (Merge::Sum, placeholder.trim()),
            Some(_) => return None,
            None => (Merge::Last, value),
        };
        // Each parameter once, in order: ?2, ?3, …
        if placeholder != format!("?{}", rules.len() + 1) {
            return None;
        }
        rules.push(rule);
    }
    Some(rules)
}

/// `later` folded into `earlier` by `rules`; `false` (and `earlier` unchanged) when a sum meets
/// a value that is not an integer, or would overflow.
fn merge_into(earlier: &mut [Value<'static>], later: &[Value<'static>], rules: &[Merge]) -> bool {
    if earlier.len() != rules.len() || later.len() != rules.len() {
        return false;
    }
    let mut merged = Vec::with_capacity(rules.len());
    for ((rule, before), after) in rules.iter().zip(earlier.iter()).zip(later) {
        merged.push(match rule {
            Merge::Key | Merge::Last => after.clone(),
            Merge::Sum => match (before, after) {
                (Value::Int(a), Value::Int(b)) => match a.checked_add(*b) {
                    Some(sum) => Value::Int(sum),
                    None => return false,
                },
                _ => return false,
            },
        });
    }
    for (slot, value) in earlier.iter_mut().zip(merged) {
        *slot = value;
    }
    true
}

/// `?K` (1 ≤ K ≤ `n`) as `v.pK`; text in single quotes is left alone. `None` for any other
/// placeholder.
fn placeholders_as_columns(sql: &str, n: usize) -> Option<String> {
    rewrite_placeholders(sql, |digits| {
        let k: usize = digits.parse().ok()?;
        (1..=n).contains(&k).then(|| format!("v.p{k}"))
    })
}

fn array_type(ty: &Type) -> Option<&'static str> {
    match *ty {
        Type::INT8 => Some("int8[]"),
        Type::TEXT => Some("text[]"),
        Type::FLOAT8 => Some("float8[]"),
        _ => None,
    }
}

/// The rows' values, column by column, as arrays of the statement's parameter types.
pub(super) fn columns(rows: &[Vec<Value<'static>>], types: &[Type]) -> Result<Vec<Column>, StoreError> {
    let mismatch = |column: usize| StoreError::Corrupt(format!("a batched row does not fit column {}", column + 1));
    let mut columns: Vec<Column> = Vec::with_capacity(types.len());
    for (index, ty) in types.iter().enumerate() {
        let cells = rows.iter().map(|row| row.get(index).ok_or_else(|| mismatch(index)));
        let column: Column = match *ty {
            Type::INT8 => Box::new(
                cells
                    .map(|cell| match cell? {
                        Value::Int(i) => Ok(Some(*i)),
                        Value::Null => Ok(None),
                        _ => Err(mismatch(index)),
                    })
                    .collect::<Result<Vec<Option<i64>>, _>>()?,
            ),
            Type::FLOAT8 => Box::new(
                cells
                    .map(|cell| match cell? {
                        Value::Real(f) => Ok(Some(*f)),
                        Value::Int(i) => Ok(Some(*i as f64)),
                        Value::Null => Ok(None),
                        _ => Err(mismatch(index)),
                    })
                    .collect::<Result<Vec<Option<f64>>, _>>()?,
            ),
            Type::TEXT => Box::new(
                cells
                    .map(|cell| match cell? {
                        Value::Text(t) => Ok(Some(t.to_string())),
                        Value::Null => Ok(None),
                        _ => Err(mismatch(index)),
                    })
                    .collect::<Result<Vec<Option<String>>, _>>()?,
            ),
            _ => return Err(mismatch(index)),
        };
        columns.push(column);
    }
    Ok(columns)
}

/// New snapshots, all or none: a row that exists already (another writer created the
/// aggregate) fails the count check.
const SNAPSHOTS_INSERT_SQL: &str = "WITH changed AS (
    INSERT INTO snapshots (aggregate_id, aggregate_type, business_id, version, state, due_at)
    SELECT * FROM unnest(?1::text[], ?2::text[], ?3::text[], ?4::int8[], ?5::text[], ?6::text[])
    ON CONFLICT (aggregate_id) DO NOTHING RETURNING 1)
  SELECT 1 / CASE WHEN COUNT(*) = ?7::int8 THEN 1 ELSE 0 END FROM changed";

/// Snapshots moved on from the version each write expected; a row at another version (another
/// writer appended) fails the count check.
const SNAPSHOTS_UPDATE_SQL: &str = "WITH changed AS (
    UPDATE snapshots AS s SET version = v.version, state = v.state, due_at = v.due_at
    FROM unnest(?1::text[], ?2::int8[], ?3::int8[], ?4::text[], ?5::text[]) AS v(aggregate_id, expected, version, state, due_at)
    WHERE s.aggregate_id = v.aggregate_id AND s.version = v.expected RETURNING 1)
  SELECT 1 / CASE WHEN COUNT(*) = ?6::int8 THEN 1 ELSE 0 END FROM changed";

/// A snapshot's writes in one flush, folded into one: from the version the first expected to
/// the last one's state.
struct Folded {
    aggregate_id: String,
    expected: i64,
    row: SnapshotRow,
    due_at: Option<String>,
    otherwise: StoreError,
}

/// The rows of one insert statement.
pub(super) struct InsertRows {
    pub sql: String,
    pub rows: Vec<Vec<Value<'static>>>,
    /// The first row's answer to a unique-index violation.
    pub otherwise: Option<StoreError>,
}

/// What a flush sends of its queued rows.
pub(super) struct Statements {
    /// The rows of each insert statement, in the order of each one's first row.
    pub inserts: Vec<InsertRows>,
    /// The keyed updates, round by round; in a round, the rows of each update statement.
    pub rounds: Vec<Vec<KeyedRows>>,
    /// The snapshot writes as multi-row statements.
    pub snapshots: Vec<MultiRow>,
}

/// The rows of one keyed update statement in one round.
pub(super) struct KeyedRows {
    pub sql: String,
    pub rows: Vec<Vec<Value<'static>>>,
    /// The first row's answer when the update did not change one row per row.
    pub otherwise: StoreError,
}

/// The keyed updates of one row in a flush so far.
#[derive(Default)]
struct KeyUpdates {
    /// How many rounds they take.
    count: usize,
    /// Where the last one is: round, statement in the round, row of the statement.
    last: Option<(usize, usize, usize)>,
}

/// Group the queued rows into the statements that send them.
pub(super) fn statements(rows: Vec<BulkRow>) -> Result<Statements, StoreError> {
    let mut inserts: Vec<InsertRows> = Vec::new();
    let mut insert_index: HashMap<String, usize> = HashMap::new();
    let mut rounds: Vec<Vec<KeyedRows>> = Vec::new();
    let mut updates_of: HashMap<String, KeyUpdates> = HashMap::new();
    let mut merge_rules_of: HashMap<String, Option<Vec<Merge>>> = HashMap::new();
    let mut snapshots: Vec<Folded> = Vec::new();
    let mut snapshot_index: HashMap<String, usize> = HashMap::new();
    for row in rows {
        match row {
            BulkRow::Insert { sql, values, otherwise } => match insert_index.get(&sql) {
                Some(&at) => inserts[at].rows.push(values),
                None => {
                    insert_index.insert(sql.clone(), inserts.len());
                    inserts.push(InsertRows {
                        sql,
                        rows: vec![values],
                        otherwise,
                    });
                }
            },
            BulkRow::Keyed { sql, values, otherwise } => {
                let key = match values.first() {
                    Some(Value::Text(key)) => key.to_string(),
                    _ => return Err(StoreError::Corrupt(format!("a keyed update without a text key: {sql}"))),
                };
                let updates = updates_of.entry(key).or_default();
                // The same statement again, right after the last update of this row: the two
                // go as one (a rebuild updates an account once per event of its history).
                if let Some((round, group, row)) = updates.last {
                    let last = &mut rounds[round][group];
                    if last.sql == sql {
                        if !merge_rules_of.contains_key(&sql) {
                            merge_rules_of.insert(sql.clone(), merge_rules(&sql));
                        }
                        if let Some(Some(rules)) = merge_rules_of.get(&sql) {
                            if merge_into(&mut last.rows[row], &values, rules) {
                                continue;
                            }
                        }
                    }
                }
                let round = updates.count;
                updates.count += 1;
                if rounds.len() <= round {
                    rounds.push(Vec::new());
                }
                let group = match rounds[round].iter().position(|group| group.sql == sql) {
                    Some(group) => group,
                    None => {
                        rounds[round].push(KeyedRows {
                            sql,
                            rows: Vec::new(),
                            otherwise,
                        });
                        rounds[round].len() - 1
                    }
                };
                rounds[round][group].rows.push(values);
                updates.last = Some((round, group, rounds[round][group].rows.len() - 1));
            }
            BulkRow::Snapshot {
                aggregate_id,
                expected,
                row,
                due_at,
                otherwise,
            } => match snapshot_index.get(&aggregate_id) {
                Some(&at) => {
                    let folded = &mut snapshots[at];
                    if folded.row.2 != expected {
                        // Written over a state that is not the last one: a stale append (the
                        // connection's cache hands each command the last state).
                        return Err(otherwise);
                    }
                    folded.row = row;
                    folded.due_at = due_at;
                }
                None => {
                    snapshot_index.insert(aggregate_id.clone(), snapshots.len());
                    snapshots.push(Folded {
                        aggregate_id,
                        expected,
                        row,
                        due_at,
                        otherwise,
                    });
                }
            },
        }
    }
    let (created, moved): (Vec<Folded>, Vec<Folded>) = snapshots.into_iter().partition(|s| s.expected == 0);
    let mut multi = Vec::new();
    if !created.is_empty() {
        multi.push(MultiRow {
            sql: SNAPSHOTS_INSERT_SQL.to_owned(),
            columns: vec![
                text(created.iter().map(|s| s.aggregate_id.clone())),
                text(created.iter().map(|s| s.row.1.clone())),
                text(created.iter().map(|s| s.row.0.clone())),
                Box::new(created.iter().map(|s| s.row.2).collect::<Vec<i64>>()),
                text(created.iter().map(|s| s.row.3.clone())),
                Box::new(
                    created
                        .iter()
                        .map(|s| s.due_at.clone())
                        .collect::<Vec<Option<String>>>(),
                ),
                Box::new(created.len() as i64),
            ],
            otherwise: created.into_iter().next().map(|s| s.otherwise),
        });
    }
    if !moved.is_empty() {
        multi.push(MultiRow {
            sql: SNAPSHOTS_UPDATE_SQL.to_owned(),
            columns: vec![
                text(moved.iter().map(|s| s.aggregate_id.clone())),
                Box::new(moved.iter().map(|s| s.expected).collect::<Vec<i64>>()),
                Box::new(moved.iter().map(|s| s.row.2).collect::<Vec<i64>>()),
                text(moved.iter().map(|s| s.row.3.clone())),
                Box::new(moved.iter().map(|s| s.due_at.clone()).collect::<Vec<Option<String>>>()),
                Box::new(moved.len() as i64),
            ],
            otherwise: moved.into_iter().next().map(|s| s.otherwise),
        });
    }
    Ok(Statements {
        inserts,
        rounds,
        snapshots: multi,
    })
}

fn text(values: impl Iterator<Item = String>) -> Column {
    Box::new(values.collect::<Vec<String>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_insert_of_one_row_becomes_an_insert_from_one_array_per_column() {
        let sql = "INSERT INTO idempotency (business_id, idem_key, status)\n                 VALUES (?1, ?2,\n ?3)";
        assert_eq!(
            insert_from_arrays(sql, &[Type::TEXT, Type::TEXT, Type::INT8]).as_deref(),
            Some(
                "INSERT INTO idempotency (business_id, idem_key, status)\n                 SELECT * FROM unnest(?1::text[], ?2::text[], ?3::int8[])"
            )
        );
    }

    #[test]
    fn statements_of_another_form_are_not_rewritten() {
        let types = [Type::TEXT, Type::TEXT];
        assert_eq!(insert_from_arrays("INSERT INTO t (a, b) VALUES (?2, ?1)", &types), None);
        assert_eq!(
            insert_from_arrays("INSERT INTO t (a, b) VALUES (?1, 'x')", &types),
            None
        );
        assert_eq!(
            insert_from_arrays("INSERT INTO t (a, b) VALUES (?1, ?2) ON CONFLICT DO NOTHING", &types),
            None
        );
        assert_eq!(
            insert_from_arrays("INSERT INTO t (a, b) VALUES (?1, ?2)", &[Type::TEXT, Type::BOOL]),
            None
        );
    }

    #[test]
    fn a_keyed_update_becomes_an_update_from_one_array_per_parameter_with_a_row_count_check() {
        let sql = "UPDATE accounts SET point_balance = ?2, lifetime_points = lifetime_points + ?3, note = '?9'
             WHERE account_id = ?1";
        assert_eq!(
            update_from_arrays(sql, &[Type::TEXT, Type::INT8, Type::INT8]).as_deref(),
            Some(
                "WITH changed AS (UPDATE accounts SET point_balance = v.p2, lifetime_points = lifetime_points + v.p3, note = '?9' \
                 FROM unnest(?1::text[], ?2::int8[], ?3::int8[]) AS v(p1, p2, p3) WHERE account_id = v.p1 \
                 AND account_id = ANY(?1::text[]) RETURNING 1)
         SELECT 1 / CASE WHEN COUNT(*) = ?4::int8 THEN 1 ELSE 0 END FROM changed"
            )
        );
        assert_eq!(
            update_from_arrays("UPDATE t SET a = ?2 WHERE k = ?1", &[Type::TEXT]),
            None
        );
        assert_eq!(update_from_arrays("DELETE FROM t WHERE k = ?1", &[Type::TEXT]), None);
    }

    fn keyed(key: &str, sql: &str) -> BulkRow {
        BulkRow::Keyed {
            sql: sql.to_owned(),
            values: vec![Value::Text(key.to_owned().into()), Value::Int(1)],
            otherwise: StoreError::NoRow,
        }
    }

    #[test]
    fn the_nth_update_of_every_key_goes_in_round_n_so_each_keys_updates_keep_their_order() {
        let rows = vec![
            keyed("a", "balance"),
            keyed("b", "balance"),
            keyed("a", "tier"),
            keyed("a", "balance"),
            keyed("c", "tier"),
        ];
        let Statements { rounds, .. } = statements(rows).unwrap();
        let shape: Vec<Vec<(&str, Vec<String>)>> = rounds
            .iter()
            .map(|round| {
                round
                    .iter()
                    .map(|group| {
                        let keys = group.rows.iter().map(|row| format!("{:?}", row[0])).collect();
                        (group.sql.as_str(), keys)
                    })
                    .collect()
            })
            .collect();
        let text = |k: &str| format!("{:?}", Value::Text(k.to_owned().into()));
        assert_eq!(
            shape,
            vec![
                vec![("balance", vec![text("a"), text("b")]), ("tier", vec![text("c")])],
                vec![("tier", vec![text("a")])],
                vec![("balance", vec![text("a")])],
            ]
        );
    }

    #[test]
    fn only_a_filter_on_the_key_alone_gets_the_index_lookup() {
        assert_eq!(key_column("WHERE account_id = ?1"), Some("account_id"));
        assert_eq!(key_column(" WHERE k=?1 "), Some("k"));
        assert_eq!(key_column("WHERE k = ?1 AND version = ?2"), None);
        assert_eq!(key_column("WHERE k = ?2"), None);
        assert_eq!(key_column("WHERE lower(k) = ?1"), None);
        let sql = update_from_arrays(
            "UPDATE t SET a = ?2 WHERE k = ?1 AND b = ?3",
            &[Type::TEXT, Type::INT8, Type::INT8],
        );
        assert!(sql.is_some_and(|sql| !sql.contains("ANY")));
    }

    const BALANCE: &str = "UPDATE accounts SET point_balance = ?2, lifetime_points = lifetime_points + ?3, version = ?4
             WHERE account_id = ?1";
    const TIER: &str = "UPDATE accounts SET tier_id = ?2, version = ?3 WHERE account_id = ?1";

    fn update(key: &str, sql: &str, values: Vec<Value<'static>>) -> BulkRow {
        let mut row = vec![Value::Text(key.to_owned().into())];
        row.extend(values);
        BulkRow::Keyed {
            sql: sql.to_owned(),
            values: row,
            otherwise: StoreError::NoRow,
        }
    }

    /// Each round as (statement, rows as text).
    fn shape(rounds: &[Vec<KeyedRows>]) -> Vec<Vec<(&str, Vec<String>)>> {
        rounds
            .iter()
            .map(|round| {
                round
                    .iter()
                    .map(|group| {
                        (
                            group.sql.as_str(),
                            group.rows.iter().map(|row| format!("{row:?}")).collect(),
                        )
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_parameters_of_a_keyed_update_combine_by_the_form_of_their_assignment() {
        assert_eq!(
            merge_rules(BALANCE),
            Some(vec![Merge::Key, Merge::Last, Merge::Sum, Merge::Last])
        );
        assert_eq!(merge_rules(TIER), Some(vec![Merge::Key, Merge::Last, Merge::Last]));
        // Other forms are sent row by row.
        for sql in [
            "UPDATE t SET a = a - ?2 WHERE k = ?1",
            "UPDATE t SET a = b + ?2 WHERE k = ?1",
            "UPDATE t SET a = ?3, b = ?2 WHERE k = ?1",
            "UPDATE t SET a = coalesce(a, ?2) WHERE k = ?1",
            "UPDATE t SET a = 'x', b = ?2 WHERE k = ?1",
            "UPDATE t SET a = ?2 WHERE k = ?1 AND v = ?3",
            "UPDATE t SET k = ?2 WHERE k = ?1",
        ] {
            assert_eq!(merge_rules(sql), None, "{sql}");
        }
    }

    #[test]
    fn consecutive_updates_of_a_row_by_one_statement_go_as_one_with_the_last_values_and_the_summed_deltas() {
        let (int, text) = (Value::Int, |t: &str| Value::Text(t.to_owned().into()));
        let rows = vec![
            update("a", BALANCE, vec![int(10), int(10), int(2)]),
            update("b", BALANCE, vec![int(5), int(5), int(2)]),
            update("a", BALANCE, vec![int(25), int(15), int(3)]),
            update("a", BALANCE, vec![int(20), int(-5), int(4)]),
            // Another statement in between: the next balance update cannot join the ones
            // before it, whose order against the tier change matters.
            update("a", TIER, vec![text("gold"), int(5)]),
            update("a", BALANCE, vec![int(21), int(1), int(6)]),
            // A sum of a value that is not an integer is not combined.
            update("b", BALANCE, vec![int(6), Value::Null, int(3)]),
        ];
        let Statements { rounds, .. } = statements(rows).unwrap();
        let row = |key: &str, values: Vec<Value<'static>>| {
            let mut row = vec![text(key)];
            row.extend(values);
            format!("{row:?}")
        };
        assert_eq!(
            shape(&rounds),
            vec![
                vec![(
                    BALANCE,
                    vec![
                        row("a", vec![int(20), int(20), int(4)]),
                        row("b", vec![int(5), int(5), int(2)])
                    ]
                )],
                vec![
                    (TIER, vec![row("a", vec![text("gold"), int(5)])]),
                    (BALANCE, vec![row("b", vec![int(6), Value::Null, int(3)])])
                ],
                vec![(BALANCE, vec![row("a", vec![int(21), int(1), int(6)])])],
            ]
        );
    }

    #[test]
    fn a_value_of_the_wrong_kind_for_its_column_is_refused() {
        let rows = vec![vec![Value::Text("a".into()), Value::Int(1)]];
        assert!(columns(&rows, &[Type::TEXT, Type::INT8]).is_ok());
        assert!(columns(&rows, &[Type::INT8, Type::INT8]).is_err());
        assert!(columns(&rows, &[Type::TEXT, Type::INT8, Type::TEXT]).is_err());
    }

    fn snapshot(id: &str, expected: i64, version: i64) -> BulkRow {
        BulkRow::Snapshot {
            aggregate_id: id.to_owned(),
            expected,
            row: (
                "b".to_owned(),
                "account".to_owned(),
                version,
                format!("state {version}"),
            ),
            due_at: None,
            otherwise: StoreError::NoRow,
        }
    }

    #[test]
    fn the_writes_of_one_snapshot_fold_into_one_from_the_first_version_to_the_last_state() {
        let Statements {
            inserts,
            rounds,
            snapshots: multi,
        } = statements(vec![
            snapshot("a", 0, 1),
            snapshot("b", 4, 5),
            snapshot("a", 1, 2),
            snapshot("b", 5, 7),
        ])
        .unwrap();
        assert!(inserts.is_empty() && rounds.is_empty());
        let sqls: Vec<&str> = multi.iter().map(|m| m.sql.as_str()).collect();
        assert_eq!(sqls, [SNAPSHOTS_INSERT_SQL, SNAPSHOTS_UPDATE_SQL]);
        // One row each: the count checks are 1.
        assert_eq!(format!("{:?}", multi[0].columns[6]), "1");
        assert_eq!(format!("{:?}", multi[0].columns[3]), "[2]");
        assert_eq!(format!("{:?}", multi[1].columns[1]), "[4]");
        assert_eq!(format!("{:?}", multi[1].columns[2]), "[7]");
        assert_eq!(format!("{:?}", multi[1].columns[3]), "[\"state 7\"]");
    }

    #[test]
    fn a_snapshot_written_over_a_version_it_did_not_follow_is_its_writes_answer() {
        let answer = statements(vec![snapshot("a", 3, 4), snapshot("a", 3, 4)]).err();
        assert!(matches!(answer, Some(StoreError::NoRow)), "{answer:?}");
    }
}
