//! Statements held prepared for as long as a connection runs the same few statements over and
//! over: the group-commit writer's and the rebuild's writing side's.
//!
//! rusqlite's cache (`prepare_cached`) finds a statement by its SQL text. On every execution
//! it trims and hashes the text, copies it into a new key, moves the statement out of its
//! linked hash map and back, and clears the statement's bindings: about a tenth of the
//! rebuild's writing thread (`valgrind --tool=callgrind`). The store's own SQL is `'static`
//! text, so here a statement is found by the text's address, and stays where it is. Every
//! execution binds all of a statement's parameters again, so nothing is cleared.
//!
//! A statement is lent out only while it runs (see [`Hold::with`]). One prepared or run from
//! inside another's row callback finds the holder busy, and is served by rusqlite's cache
//! instead, as it would be without a holder.

use std::cell::RefCell;

use foldhash::{HashMap, HashMapExt};
use rusqlite::{Connection, PrepFlags, Statement};

use crate::StoreError;

/// The statements one connection holds (see the module's note). Lives no longer than the
/// connection it borrows; reached through [`Hold`], which hides that lifetime from the
/// [`crate::db::Db`] that carries it.
pub(crate) struct HeldStatements<'c> {
    conn: &'c Connection,
    held: RefCell<Held<'c>>,
}

struct Held<'c> {
    /// Each statement's index in `statements`, by its SQL text's address and length (two
    /// `'static` texts at one address with one length are one text).
    slots: HashMap<(usize, usize), usize>,
    statements: Vec<Statement<'c>>,
}

impl<'c> HeldStatements<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Self {
        HeldStatements {
            conn,
            held: RefCell::new(Held {
                slots: HashMap::new(),
                statements: Vec::new(),
            }),
        }
    }
}

/// A connection's held statements, whatever the connection's lifetime.
pub(crate) trait Hold {
    /// The slot of `sql`'s statement, prepared on first use; `None` while a held statement is
    /// running (`sql` is then served by rusqlite's cache).
    fn slot(&self, sql: &'static str) -> Result<Option<usize>, StoreError>;

    /// Run `f` on the statement in `slot`; `false`, and `f` not run, while a held statement is
    /// running.
    fn with(&self, slot: usize, f: &mut dyn FnMut(&mut Statement<'_>)) -> bool;

    /// The connection the statements belong to.
    fn conn(&self) -> &Connection;
}

impl Hold for HeldStatements<'_> {
    fn slot(&self, sql: &'static str) -> Result<Option<usize>, StoreError> {
        let Ok(mut held) = self.held.try_borrow_mut() else {
            return Ok(None);
        };
        let key = (sql.as_ptr() as usize, sql.len());
        if let Some(&slot) = held.slots.get(&key) {
            return Ok(Some(slot));
        }
        let statement = self
            .conn
            .prepare_with_flags(sql, PrepFlags::SQLITE_PREPARE_PERSISTENT)?;
        let slot = held.statements.len();
        held.statements.push(statement);
        held.slots.insert(key, slot);
        Ok(Some(slot))
    }

    fn with(&self, slot: usize, f: &mut dyn FnMut(&mut Statement<'_>)) -> bool {
        let Ok(mut held) = self.held.try_borrow_mut() else {
            return false;
        };
        match held.statements.get_mut(slot) {
            Some(statement) => {
                f(statement);
                true
            }
            None => false,
        }
    }

    fn conn(&self) -> &Connection {
        self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{params, Db};

    fn held_count(held: &HeldStatements<'_>) -> usize {
        held.held.borrow().statements.len()
    }

    /// The first column of every row `sql` returns.
    fn column<T: crate::db::FromColumn>(db: Db<'_>, sql: &'static str) -> Vec<T> {
        db.prepare_held(sql)
            .expect("select")
            .query_map(params![], |row| row.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("values")
    }

    /// A statement is prepared once, however often it runs; one run inside another's row
    /// callback is served by rusqlite's cache, and is held once it runs outside.
    #[test]
    fn a_statement_is_held_once_and_one_run_inside_anothers_rows_comes_from_the_cache() {
        let conn = crate::sqlite::open_in_memory();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
            .expect("schema");
        let held = HeldStatements::new(&conn);
        let db = Db::Sqlite(&conn, Some(&held));
        for k in 0..3_i64 {
            db.execute("INSERT INTO t (k, v) VALUES (?1, ?2)", params![k, format!("v{k}")])
                .expect("insert");
        }
        assert_eq!(held_count(&held), 1, "one insert, prepared once");

        let mut seen = Vec::new();
        db.prepare_held("SELECT k FROM t ORDER BY k")
            .expect("select")
            .for_each_row(params![], |row| {
                let k: i64 = row.get(0)?;
                db.execute("UPDATE t SET v = v || '!' WHERE k = ?1", params![k])?;
                seen.push(k);
                Ok(())
            })
            .expect("rows");
        assert_eq!(seen, [0, 1, 2]);
        assert_eq!(
            held_count(&held),
            2,
            "the update, prepared while the select ran, is not held"
        );

        db.execute("UPDATE t SET v = v || '!' WHERE k = ?1", params![1_i64])
            .expect("update");
        assert_eq!(held_count(&held), 3, "run on its own, the update is held");
        assert_eq!(
            column::<String>(db, "SELECT v FROM t ORDER BY k"),
            ["v0!", "v1!!", "v2!"]
        );
    }

    /// A held statement run inside another's row callback finds the holder busy and runs from
    /// rusqlite's cache; run afterwards on its own, it is the held one again.
    #[test]
    fn a_held_statement_run_inside_anothers_rows_runs_from_the_cache() {
        let conn = crate::sqlite::open_in_memory();
        conn.execute_batch(
            "CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO t VALUES (1, 0), (2, 0)",
        )
        .expect("schema");
        let held = HeldStatements::new(&conn);
        let db = Db::Sqlite(&conn, Some(&held));
        let bump = "UPDATE t SET n = n + 1 WHERE k = ?1";
        let mut update = db.prepare_held(bump).expect("held while nothing runs");
        assert!(matches!(
            update,
            crate::db::Stmt::Sqlite(crate::db::SqliteStmt::Held { .. })
        ));
        db.prepare_held("SELECT k FROM t ORDER BY k")
            .expect("select")
            .for_each_row(params![], |row| {
                let k: i64 = row.get(0)?;
                assert_eq!(update.execute(params![k])?, 1);
                Ok(())
            })
            .expect("rows");
        assert_eq!(update.execute(params![1_i64]).expect("on its own"), 1);
        assert_eq!(held_count(&held), 2, "the update and the select, each once");
        assert_eq!(column::<i64>(db, "SELECT n FROM t ORDER BY k"), [2, 1]);
    }
}
