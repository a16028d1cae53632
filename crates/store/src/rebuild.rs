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

/// The tables a rebuild empties and refills.
const REBUILT_TABLES: &[&str] = &[
    "programs",
    "accounts",
    "transactions",
    "orders",
    "issued_rewards",
    "rewards",
    "reward_claims",
    "snapshots",
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
    match rebuild_in_transaction(db, progress) {
        Ok(report) => {
            db.commit()?;
            Ok(report)
        }
        Err(e) => {
            let _ = db.rollback();
            Err(e)
        }
    }
}

fn rebuild_in_transaction(
    db: Db<'_>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<RebuildReport, StoreError> {
    let started = Instant::now();
    let total: i64 = db.query_row("SELECT COUNT(*) FROM events", params![], |r| r.get(0))?;
    for table in REBUILT_TABLES {
        db.execute(&format!("DELETE FROM {table}"), params![])?;
    }
    let mut folded: HashMap<String, Folded> = HashMap::new();
    let mut done: u64 = 0;
    let mut after: i64 = 0;
    let page_sql = format!("{} WHERE position > ?1 ORDER BY position LIMIT ?2", event_select());
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
            let entry = folded.entry(stored.aggregate_id.to_string()).or_insert_with(|| Folded {
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
            done += 1;
            if done.is_multiple_of(10_000) {
                progress(done, total as u64);
            }
        }
    }
    let mut insert = db.prepare_cached(
        "INSERT INTO snapshots (aggregate_id, aggregate_type, business_id, version, state, due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (id, f) in &folded {
        let (kind, state, due_at) = match &f.state {
            State::Program(p) => (Program::AGGREGATE_TYPE, serde_json::to_string(p)?, p.due_at()),
            State::Account(a) => (LoyaltyAccount::AGGREGATE_TYPE, serde_json::to_string(a)?, a.due_at()),
            State::Reward(r) => (Reward::AGGREGATE_TYPE, serde_json::to_string(r)?, r.due_at()),
        };
        insert.execute(params![
            id,
            kind,
            f.business_id,
            f.version,
            state,
            due_at.map(time::format)
        ])?;
    }
    progress(done, total as u64);
    Ok(RebuildReport {
        events: done,
        aggregates: folded.len() as u64,
        elapsed: started.elapsed(),
    })
}

/// SHA-256 over every row of the rebuilt tables in primary-key order.
pub(crate) fn fingerprint(conn: Db<'_>) -> Result<String, StoreError> {
    let mut hasher = Sha256::new();
    for (table, key) in [
        ("programs", "program_id"),
        ("accounts", "account_id"),
        ("transactions", "position"),
        ("orders", "account_id, order_ref"),
        ("issued_rewards", "issued_reward_id"),
        ("rewards", "reward_id"),
        ("reward_claims", "transaction_id"),
        ("snapshots", "aggregate_id"),
    ] {
        let rows = conn
            .prepare_cached(&format!("SELECT * FROM {table} ORDER BY {key}"))?
            .query_map(params![], |row| {
                let mut line = String::from(table);
                for i in 0..row.column_count() {
                    line.push_str(&format!("|{:?}", row.get_as_text(i)?));
                }
                line.push('\n');
                Ok(line)
            })?;
        for line in rows {
            hasher.update(line?.as_bytes());
        }
    }
    Ok(hex::encode(hasher.finalize()))
}
