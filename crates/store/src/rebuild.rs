//! Rebuilding the read models and snapshots from the event store: the proof that the events
//! are the record.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::db::{params, Db};
use loyalty_domain::account::LoyaltyAccount;
use loyalty_domain::program::Program;
use loyalty_domain::reward::Reward;
use loyalty_domain::{Aggregate, LoyaltyEvent};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::projection::project;
use crate::queries::{event_row, event_select};
use crate::{time, StoreError};

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    pub events: u64,
    pub aggregates: u64,
    pub elapsed: Duration,
}

/// The tables a rebuild empties and refills. Snapshots are not among them: each aggregate's
/// fold is compared with its stored snapshot, and only one that differs is written (see
/// [`write_snapshot`]), so a rebuild of a healthy store does not rewrite every aggregate's
/// state, the largest part of its bytes.
const REBUILT_TABLES: &[&str] = &[
    "programs",
    "accounts",
    "transactions",
    "orders",
    "issued_rewards",
    "rewards",
    "reward_claims",
];

enum State {
    Program(Program),
    Account(LoyaltyAccount),
    Reward(Reward),
}

struct Folded {
    business_id: String,
    version: i64,
    state: State,
}

/// How many events a rebuild reads per query.
const REBUILD_PAGE_COUNT: i64 = 10_000;

pub(crate) fn rebuild(db: Db<'_>, progress: &mut (dyn FnMut(u64, u64) + Send)) -> Result<RebuildReport, StoreError> {
    db.begin()?;
    if db.is_postgres() {
        // Writers wait: no event or snapshot changes while the read models are rebuilt.
        db.query_row(crate::postgres::EVENT_LOG_LOCK_SQL, params![], |_| Ok(()))?;
    }
    let started = Instant::now();
    match rebuild_in_transaction(db, started, progress) {
        Ok(report) => {
            db.commit()?;
            tracing::info!(elapsed = ?started.elapsed(), "rebuild committed");
            // The figure covers the whole transaction, commit included.
            Ok(RebuildReport {
                elapsed: started.elapsed(),
                ..report
            })
        }
        Err(e) => {
            let _ = db.rollback();
            Err(e)
        }
    }
}

/// The rebuilt tables' secondary indexes (name, definition), on SQLite: dropped while the
/// tables refill, built once at the end, which sorts each index once instead of inserting into
/// it row by row. Unique indexes stay: they are constraints. DDL is transactional, so a failed
/// rebuild rolls the indexes back with everything else. Not on PostgreSQL: `DROP INDEX` would
/// lock the tables against the API's reads until the rebuild commits, where today they go on
/// reading the old rows.
fn secondary_indexes(db: Db<'_>) -> Result<Vec<(String, String)>, StoreError> {
    if db.is_postgres() {
        return Ok(Vec::new());
    }
    let tables = REBUILT_TABLES
        .iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT name, sql FROM sqlite_master
         WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({tables})
           AND upper(sql) NOT LIKE 'CREATE UNIQUE%'
         ORDER BY name"
    );
    db.prepare_cached(&sql)?
        .query_map(params![], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// Each aggregate's last sequence: when the rebuild reaches it, the aggregate's snapshot is
/// written and its state dropped, so memory holds only aggregates whose history is still being
/// read, not every aggregate of the store.
fn last_sequences(db: Db<'_>) -> Result<HashMap<Uuid, i64>, StoreError> {
    let mut last = HashMap::new();
    let rows = db
        .prepare_cached("SELECT aggregate_id, MAX(sequence) FROM events GROUP BY aggregate_id")?
        .query_map(params![], |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)))?;
    for row in rows {
        let (id, sequence) = row?;
        let id = Uuid::parse_str(&id).map_err(|_| StoreError::Corrupt(format!("event of aggregate {id:?}")))?;
        last.insert(id, sequence);
    }
    Ok(last)
}

/// Everything but the commit; `started` is when the transaction began, for the log lines and
/// the report.
fn rebuild_in_transaction(
    db: Db<'_>,
    started: Instant,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<RebuildReport, StoreError> {
    let total: i64 = db.query_row("SELECT COUNT(*) FROM events", params![], |r| r.get(0))?;
    let indexes = secondary_indexes(db)?;
    for (name, _) in &indexes {
        db.execute(&format!("DROP INDEX {name}"), params![])?;
    }
    for table in REBUILT_TABLES {
        db.execute(&format!("DELETE FROM {table}"), params![])?;
    }
    let mut last = last_sequences(db)?;
    let aggregates = last.len() as u64;
    let mut open: HashMap<Uuid, Folded> = HashMap::new();
    let mut done: u64 = 0;
    let mut after: i64 = 0;
    let page_sql = format!(
        "{} WHERE position > ?1 ORDER BY position LIMIT CAST(?2 AS BIGINT)",
        event_select()
    );
    loop {
        let page = db
            .prepare_cached(&page_sql)?
            .query_map(params![after, REBUILD_PAGE_COUNT], event_row)?
            .collect::<Result<Vec<_>, _>>()?;
        if page.is_empty() {
            break;
        }
        for row in page {
            let stored = row.into_event()?;
            after = stored.position;
            let event = LoyaltyEvent::decode(&stored.event_type, &stored.version, stored.data.clone())?;
            project(db, &stored, &event)?;
            let mut entry = open.remove(&stored.aggregate_id).unwrap_or_else(|| Folded {
                business_id: stored.business_id.to_string(),
                version: 0,
                state: match event {
                    LoyaltyEvent::Program(_) => State::Program(Program::default()),
                    LoyaltyEvent::Account(_) => State::Account(LoyaltyAccount::default()),
                    LoyaltyEvent::Reward(_) => State::Reward(Reward::default()),
                },
            });
            match (&mut entry.state, &event) {
                (State::Program(p), LoyaltyEvent::Program(e)) => p.apply(e),
                (State::Account(a), LoyaltyEvent::Account(e)) => a.apply(e),
                (State::Reward(r), LoyaltyEvent::Reward(e)) => r.apply(e),
                _ => {
                    return Err(StoreError::Corrupt(format!(
                        "aggregate {} mixes events of different aggregate types",
                        stored.aggregate_id
                    )))
                }
            }
            entry.version = stored.sequence;
            if last.get(&stored.aggregate_id) == Some(&stored.sequence) {
                last.remove(&stored.aggregate_id);
                write_snapshot(db, stored.aggregate_id, &entry)?;
            } else {
                open.insert(stored.aggregate_id, entry);
            }
            done += 1;
            if done.is_multiple_of(10_000) {
                progress(done, total as u64);
            }
        }
    }
    if let Some(id) = open.keys().next() {
        return Err(StoreError::Corrupt(format!(
            "aggregate {id}'s events end before its last sequence"
        )));
    }
    let strays = delete_stray_snapshots(db, aggregates)?;
    tracing::info!(
        elapsed = ?started.elapsed(),
        events = done,
        snapshots_deleted = strays,
        "read models refilled"
    );
    for (_, definition) in &indexes {
        db.execute(definition, params![])?;
    }
    tracing::info!(elapsed = ?started.elapsed(), count = indexes.len(), "secondary indexes rebuilt");
    progress(done, total as u64);
    Ok(RebuildReport {
        events: done,
        aggregates,
        elapsed: started.elapsed(),
    })
}

/// Bring `id`'s snapshot in line with its fold: the row is inserted, or replaces what is
/// stored, only where a column differs; a stored row equal to the fold is left as it is. The
/// comparison is the upsert's own, so the database reads each row once and nothing comes back
/// (on PostgreSQL the write joins the transaction's queued writes, no round trip of its own),
/// and a damaged row, whatever its column types, simply differs.
fn write_snapshot(db: Db<'_>, id: Uuid, folded: &Folded) -> Result<(), StoreError> {
    let (kind, state, due_at) = match &folded.state {
        State::Program(p) => (Program::AGGREGATE_TYPE, serde_json::to_string(p)?, p.due_at()),
        State::Account(a) => (LoyaltyAccount::AGGREGATE_TYPE, serde_json::to_string(a)?, a.due_at()),
        State::Reward(r) => (Reward::AGGREGATE_TYPE, serde_json::to_string(r)?, r.due_at()),
    };
    db.prepare_cached(
        "INSERT INTO snapshots (aggregate_id, aggregate_type, business_id, version, state, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (aggregate_id) DO UPDATE SET aggregate_type = excluded.aggregate_type,
             business_id = excluded.business_id, version = excluded.version, state = excluded.state,
             due_at = excluded.due_at
         WHERE snapshots.aggregate_type IS DISTINCT FROM excluded.aggregate_type
            OR snapshots.business_id IS DISTINCT FROM excluded.business_id
            OR snapshots.version IS DISTINCT FROM excluded.version
            OR snapshots.state IS DISTINCT FROM excluded.state
            OR snapshots.due_at IS DISTINCT FROM excluded.due_at",
    )?
    .execute_deferred(params![
        id.to_string(),
        kind,
        folded.business_id,
        folded.version,
        state,
        due_at.map(time::format)
    ])
}

/// Delete snapshots of aggregates that have no events (there should be none; a damaged store
/// may have some). Only searched for when the snapshots outnumber the aggregates. How many.
fn delete_stray_snapshots(db: Db<'_>, aggregates: u64) -> Result<usize, StoreError> {
    let count: i64 = db.query_row("SELECT COUNT(*) FROM snapshots", params![], |r| r.get(0))?;
    if u64::try_from(count).unwrap_or(0) <= aggregates {
        return Ok(0);
    }
    db.execute(
        "DELETE FROM snapshots
         WHERE NOT EXISTS (SELECT 1 FROM events WHERE events.aggregate_id = snapshots.aggregate_id)",
        params![],
    )
}

/// Digests of what a rebuild writes: the read models, and the snapshots apart, since a rebuild
/// also rewrites snapshots whose state is right but stored in an older encoding (the events'
/// fold is the same, its JSON is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// SHA-256 over every row of the rebuilt tables, each in primary-key order.
    pub read_models: String,
    /// SHA-256 over every snapshot row, in aggregate order.
    pub snapshots: String,
}

pub(crate) fn fingerprint(conn: Db<'_>) -> Result<Fingerprint, StoreError> {
    let mut read_models = Sha256::new();
    for (table, key) in [
        ("programs", "program_id"),
        ("accounts", "account_id"),
        ("transactions", "position"),
        ("orders", "account_id, order_ref"),
        ("issued_rewards", "issued_reward_id"),
        ("rewards", "reward_id"),
        ("reward_claims", "transaction_id"),
    ] {
        hash_table(conn, &mut read_models, table, key)?;
    }
    let mut snapshots = Sha256::new();
    hash_table(conn, &mut snapshots, "snapshots", "aggregate_id")?;
    Ok(Fingerprint {
        read_models: hex::encode(read_models.finalize()),
        snapshots: hex::encode(snapshots.finalize()),
    })
}

/// Feed `table`'s name and every row, in `key` order, to `hasher`.
fn hash_table(conn: Db<'_>, hasher: &mut Sha256, table: &str, key: &str) -> Result<(), StoreError> {
    hasher.update(table.as_bytes());
    // Each column as a tag, then its length and text: unambiguous without formatting. Row by
    // row into the hash, so on SQLite a table of a million rows is never held in memory.
    let mut line = Vec::with_capacity(1024);
    conn.prepare_cached(&format!("SELECT * FROM {table} ORDER BY {key}"))?
        .for_each_row(params![], |row| {
            line.clear();
            for i in 0..row.column_count() {
                match row.get_as_text(i)? {
                    None => line.push(0u8),
                    Some(text) => {
                        line.push(1u8);
                        line.extend_from_slice(&(text.len() as u64).to_le_bytes());
                        line.extend_from_slice(text.as_bytes());
                    }
                }
            }
            line.push(b'\n');
            hasher.update(&line);
            Ok(())
        })
}
