//! Schema migrations, embedded and applied in order on start. Each runs once, inside the
//! transaction that records it, under SQLite's write lock, so two processes starting at once
//! cannot both apply one.

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

/// Every migration, in order. Never edit one that has shipped: add another.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "event store, read models, idempotency, businesses",
        r#"
CREATE TABLE businesses (
    business_id  TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    api_key_hash TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL
);

-- The record. position is commit order (events are never deleted, so a plain rowid never reuses
-- one); (aggregate_id, sequence) is unique, so two writers of one aggregate cannot both append the
-- same next event.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    event_type     TEXT NOT NULL,
    version        TEXT NOT NULL,
    timestamp      TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    sequence       INTEGER NOT NULL,
    business_id    TEXT NOT NULL,
    data           TEXT NOT NULL,
    metadata       TEXT NOT NULL,
    UNIQUE (aggregate_id, sequence)
);
CREATE INDEX events_by_business ON events (business_id, position);

-- Each aggregate's state after its latest event, so commands never replay histories.
CREATE TABLE snapshots (
    aggregate_id   TEXT PRIMARY KEY,
    aggregate_type TEXT NOT NULL,
    business_id    TEXT NOT NULL,
    version        INTEGER NOT NULL,
    state          TEXT NOT NULL
) WITHOUT ROWID;

-- Read models: projections of the events, rebuilt by `loyalty projections rebuild`.
CREATE TABLE programs (
    program_id  TEXT PRIMARY KEY,
    business_id TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    definition  TEXT NOT NULL,
    template_id TEXT,
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX programs_by_business ON programs (business_id, created_at);

CREATE TABLE accounts (
    account_id      TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL,
    program_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    email           TEXT NOT NULL,
    email_key       TEXT NOT NULL,
    status          TEXT NOT NULL,
    point_balance   INTEGER NOT NULL,
    lifetime_points INTEGER NOT NULL,
    tier_id         TEXT,
    tier_name       TEXT,
    tier_level      INTEGER,
    progress        TEXT,
    version         INTEGER NOT NULL,
    enrolled_at     TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (program_id, email_key)
);
CREATE INDEX accounts_by_email ON accounts (business_id, email_key);
CREATE INDEX accounts_by_customer ON accounts (business_id, customer_id);

CREATE TABLE transactions (
    position       INTEGER PRIMARY KEY,
    transaction_id TEXT NOT NULL UNIQUE,
    account_id     TEXT NOT NULL,
    business_id    TEXT NOT NULL,
    type           TEXT NOT NULL,
    points_changed INTEGER NOT NULL,
    new_balance    INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    order_ref      TEXT,
    reward_id      TEXT,
    expires_at     TEXT,
    timestamp      TEXT NOT NULL
);
CREATE INDEX transactions_by_account ON transactions (account_id, position);

-- Purchases by order reference: an order accrues once per account.
CREATE TABLE orders (
    account_id     TEXT NOT NULL,
    order_ref      TEXT NOT NULL,
    business_id    TEXT NOT NULL,
    amount         TEXT NOT NULL,
    points_earned  INTEGER NOT NULL,
    transaction_id TEXT NOT NULL,
    location_id    TEXT,
    recorded_at    TEXT NOT NULL,
    PRIMARY KEY (account_id, order_ref)
) WITHOUT ROWID;

-- Rewards full cards issued to members, each usable once.
CREATE TABLE issued_rewards (
    issued_reward_id TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL,
    business_id      TEXT NOT NULL,
    reward_type      TEXT NOT NULL,
    reward_value     TEXT NOT NULL,
    order_ref        TEXT NOT NULL,
    issued_at        TEXT NOT NULL,
    used_at          TEXT
);
CREATE INDEX issued_rewards_by_account ON issued_rewards (account_id, issued_at);

-- The first answer to each Idempotency-Key, per business, written with the events it answers for.
CREATE TABLE idempotency (
    business_id  TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (business_id, idem_key)
) WITHOUT ROWID;
"#,
    ),
    (
        2,
        "refunds, pending points, when each aggregate next needs attention, event handlers' inbox and checkpoints, notifications",
        r#"
-- What refunds took back from each order so far.
ALTER TABLE orders ADD COLUMN refunded_amount TEXT NOT NULL DEFAULT '0.00';
ALTER TABLE orders ADD COLUMN points_reversed INTEGER NOT NULL DEFAULT 0;
-- Points a reversal could not take back because they were already spent.
ALTER TABLE transactions ADD COLUMN unrecovered_points INTEGER;
ALTER TABLE accounts ADD COLUMN pending_points INTEGER NOT NULL DEFAULT 0;
-- The next moment the aggregate changes without a command (a lot expires, pending points are
-- released): what the sweeper looks for.
ALTER TABLE snapshots ADD COLUMN due_at TEXT;
CREATE INDEX snapshots_due ON snapshots (due_at) WHERE due_at IS NOT NULL;

-- Event handlers: the events each has handled (committed with the handler's own effects, so a
-- redelivered event has no second effect), and how far through the event store each has read.
CREATE TABLE inbox (
    handler    TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    handled_at TEXT NOT NULL,
    PRIMARY KEY (handler, event_id)
) WITHOUT ROWID;
CREATE TABLE checkpoints (
    name       TEXT PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;

-- Notifications sent to members through the notification port (the welcome message).
CREATE TABLE notifications (
    notification_id TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    body            TEXT NOT NULL,
    caused_by       TEXT NOT NULL,
    created_at      TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX notifications_by_account ON notifications (account_id, created_at);
"#,
    ),
    (
        3,
        "rewards catalogue and reward claims",
        r#"
-- Each program's rewards catalogue, with what is left of each limited stock.
CREATE TABLE rewards (
    reward_id          TEXT PRIMARY KEY,
    business_id        TEXT NOT NULL,
    program_id         TEXT NOT NULL,
    name               TEXT NOT NULL,
    reward_type        TEXT NOT NULL,
    points_cost        INTEGER NOT NULL,
    stock              INTEGER,
    remaining_stock    INTEGER,
    per_customer_limit INTEGER,
    claimed_count      INTEGER NOT NULL,
    version            INTEGER NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX rewards_by_program ON rewards (program_id, created_at);

-- Every claim of a reward, by the redemption that paid for it: what per-customer limits count.
CREATE TABLE reward_claims (
    transaction_id TEXT PRIMARY KEY,
    reward_id      TEXT NOT NULL,
    business_id    TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    points_cost    INTEGER NOT NULL,
    claimed_at     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX reward_claims_by_customer ON reward_claims (reward_id, customer_id);
"#,
    ),
    (
        4,
        "dead letters: events a handler could not handle after its retries",
        r#"
-- Operational state, not a projection: kept out of the rebuild.
CREATE TABLE dead_letters (
    dead_letter_id TEXT PRIMARY KEY,
    business_id    TEXT NOT NULL,
    handler        TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    event          TEXT NOT NULL,
    error          TEXT NOT NULL,
    reason         TEXT NOT NULL,
    attempts       INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (handler, event_id)
) WITHOUT ROWID;
CREATE INDEX dead_letters_by_business ON dead_letters (business_id, created_at);
"#,
    ),
    (
        5,
        "webhook subscriptions and their deliveries",
        r#"
-- Operational state, not projections: kept out of the rebuild.
CREATE TABLE webhooks (
    webhook_id  TEXT PRIMARY KEY,
    business_id TEXT NOT NULL,
    url         TEXT NOT NULL,
    event_types TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX webhooks_by_business ON webhooks (business_id, created_at);

CREATE TABLE webhook_deliveries (
    delivery_id      TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL,
    business_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    event            TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    last_error       TEXT,
    last_status_code INTEGER,
    next_attempt_at  TEXT,
    delivered_at     TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (webhook_id, event_id)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at);
"#,
    ),
    (
        6,
        "restaurant integration: locations, table-order links, upstream payments",
        r#"
-- The per-location rollout switch: which program a location's payments earn in, and whether
-- loyalty is on there. Configuration, not a projection: kept out of the rebuild.
CREATE TABLE locations (
    business_id     TEXT NOT NULL,
    location_id     TEXT NOT NULL,
    program_id      TEXT NOT NULL,
    loyalty_enabled INTEGER NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (business_id, location_id)
) WITHOUT ROWID;

-- A guest showed their loyalty code at the table: that table order's payment is theirs.
CREATE TABLE table_order_links (
    business_id    TEXT NOT NULL,
    table_order_id TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    linked_at      TEXT NOT NULL,
    PRIMARY KEY (business_id, table_order_id)
) WITHOUT ROWID;

-- Every upstream payment received, once, with what became of it (the adaptors' dedupe).
CREATE TABLE payments (
    business_id    TEXT NOT NULL,
    source         TEXT NOT NULL,
    payment_ref    TEXT NOT NULL,
    location_id    TEXT,
    amount         TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    account_id     TEXT,
    transaction_id TEXT,
    received_at    TEXT NOT NULL,
    PRIMARY KEY (business_id, source, payment_ref)
) WITHOUT ROWID;
"#,
    ),
    (
        7,
        "webhook deliveries in commit order per aggregate",
        WEBHOOK_ORDER_MIGRATION,
    ),
    (
        8,
        "idempotency records kept in the order they were written, found by a unique index",
        r#"
-- Every write keeps an idempotency record under a key the client chose, in effect at random. In
-- a table clustered by that key (WITHOUT ROWID) each record went to a random leaf, and its
-- whole row (the answer's body with it, about 600 bytes) filled the leaves fast, so that they
-- were split and rebalanced all the time: 2.6 pages written to the log per accrual, a third of
-- the accrual's pages. Now the rows are appended in the order they are written, and only the
-- index's entries (the two keys and the row's number, about 80 bytes) go to random leaves.
-- The key is as unique as before.
CREATE TABLE idempotency_by_arrival (
    business_id  TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
INSERT INTO idempotency_by_arrival (business_id, idem_key, request_hash, status, body, created_at)
    SELECT business_id, idem_key, request_hash, status, body, created_at FROM idempotency ORDER BY created_at;
DROP TABLE idempotency;
ALTER TABLE idempotency_by_arrival RENAME TO idempotency;
CREATE UNIQUE INDEX idempotency_by_key ON idempotency (business_id, idem_key);
"#,
    ),
    (
        9,
        "each account's ledger as a chain of rows, newest on the account's row, instead of an index by account",
        r#"
-- An account's ledger was found through an index by (account_id, position): one entry per
-- ledger row at a random place, 1.4 pages written to the log per accrual. Now each ledger row
-- names the account's row before it, and the account's row names its newest, so a page of the
-- ledger is a walk of as many rows as it shows (queries.rs, `transactions`). Both are written
-- where the row is projected (projection.rs, `post`), on pages a command writes anyway.
ALTER TABLE transactions ADD COLUMN prev_position INTEGER;
ALTER TABLE accounts ADD COLUMN ledger_head INTEGER;
UPDATE transactions SET prev_position = (
    SELECT MAX(t.position) FROM transactions t
     WHERE t.account_id = transactions.account_id AND t.position < transactions.position);
UPDATE accounts SET ledger_head = (
    SELECT MAX(t.position) FROM transactions t WHERE t.account_id = accounts.account_id);
DROP INDEX transactions_by_account;
"#,
    ),
    (
        10,
        "accounts stored in the order of their ids",
        r#"
-- The accounts were stored in the order they were inserted (a rowid table), found through an
-- index of their ids. Where ids do not follow insertion (ids chosen by clients, or members
-- enrolled in any order), work in the order of ids wrote a random page per account: a sweep,
-- which matures accounts in that order, wrote 1,108 pages of the accounts table per commit of
-- 1,962 pages in all. Clustered by id, as the snapshots are, neighbours share pages, and a
-- write by id descends one B-tree instead of two. Same columns, in the same order. A row
-- whose id is NULL (a rowid table's text key could be: damage, never the projection's own
-- work) cannot be kept by id and is left behind; it belonged to no event, and a rebuild
-- would have deleted it.
CREATE TABLE accounts_by_id (
    account_id      TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL,
    program_id      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    email           TEXT NOT NULL,
    email_key       TEXT NOT NULL,
    status          TEXT NOT NULL,
    point_balance   INTEGER NOT NULL,
    lifetime_points INTEGER NOT NULL,
    tier_id         TEXT,
    tier_name       TEXT,
    tier_level      INTEGER,
    progress        TEXT,
    version         INTEGER NOT NULL,
    enrolled_at     TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    pending_points  INTEGER NOT NULL DEFAULT 0,
    ledger_head     INTEGER,
    UNIQUE (program_id, email_key)
) WITHOUT ROWID;
INSERT INTO accounts_by_id
    SELECT account_id, business_id, program_id, customer_id, display_name, email, email_key, status,
           point_balance, lifetime_points, tier_id, tier_name, tier_level, progress, version,
           enrolled_at, updated_at, pending_points, ledger_head
      FROM accounts WHERE account_id IS NOT NULL ORDER BY account_id;
DROP TABLE accounts;
ALTER TABLE accounts_by_id RENAME TO accounts;
CREATE INDEX accounts_by_email ON accounts (business_id, email_key);
CREATE INDEX accounts_by_customer ON accounts (business_id, customer_id);
"#,
    ),
    (
        11,
        "due snapshots indexed by the month they fall due in, then by id",
        DUE_BY_MONTH_MIGRATION,
    ),
];

/// The sweeper's index of due snapshots, by the month each falls due in and then by id, with
/// the due time itself last, so the due query reads the index alone. The sweep matures the due
/// accounts in the order of their ids (the order of the snapshot, account and ledger B-trees,
/// see `SWEEP_WINDOW_COUNT`); in an index by due time alone each account's entry, removed as its
/// lot expires, lay on a page of its own, and those pages were half of what a sweep of
/// 1,000,000 lots scattered over a year wrote into the log. By month, the entries are removed
/// in order within each month: 3% of it. The price: the due query reads every entry of the
/// current month, due yet or not (for a million members earning all year, about 80,000 entries,
/// some 1,600 pages, per sweep), and an accrual that gives an account its first due time (a lot
/// earned now expires a year on) adds its entry at the account's place in that month instead of
/// at the index's end. PostgreSQL keeps its index by due time: an update there adds index
/// entries and leaves the old ones to vacuum, so there is nothing to gain.
const DUE_BY_MONTH_MIGRATION: &str = r#"
DROP INDEX snapshots_due;
CREATE INDEX snapshots_due ON snapshots (substr(due_at, 1, 7), aggregate_id, due_at) WHERE due_at IS NOT NULL;
"#;

/// Each webhook delivery's aggregate and event position, so a delivery waits while an earlier
/// one of the same subscription and aggregate waits for its retry. Shared with PostgreSQL.
pub(crate) const WEBHOOK_ORDER_MIGRATION: &str = r#"
ALTER TABLE webhook_deliveries ADD COLUMN aggregate_id TEXT;
ALTER TABLE webhook_deliveries ADD COLUMN position BIGINT;
UPDATE webhook_deliveries
   SET aggregate_id = (SELECT e.aggregate_id FROM events e WHERE e.event_id = webhook_deliveries.event_id),
       position = (SELECT e.position FROM events e WHERE e.event_id = webhook_deliveries.event_id);
CREATE INDEX webhook_deliveries_pending_in_order ON webhook_deliveries (webhook_id, aggregate_id, position)
    WHERE status = 'PENDING';
"#;

/// Apply every migration not yet applied. Returns how many ran.
pub(crate) fn migrate(conn: &mut Connection) -> Result<usize, StoreError> {
    migrate_through(conn, i64::MAX)
}

/// Apply the migrations not yet applied up to version `last` (a test's older database).
fn migrate_through(conn: &mut Connection, last: i64) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version     INTEGER PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at  TEXT NOT NULL
        )",
    )?;
    let applied: i64 = tx.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| {
        r.get(0)
    })?;
    StoreError::refuse_newer_schema(applied, MIGRATIONS.last().map_or(0, |(version, _, _)| *version))?;
    let mut count = 0;
    for (version, description, sql) in MIGRATIONS {
        if *version <= applied || *version > last {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, description, crate::time::format(chrono::Utc::now())],
        )?;
        tracing::info!(version, description, "applied migration");
        count += 1;
    }
    tx.commit()?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use rusqlite::{params, Connection, OptionalExtension};

    use super::{migrate, migrate_through, MIGRATIONS};

    const INSERT: &str = "INSERT INTO idempotency (business_id, idem_key, request_hash, status, body, created_at)
                          VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    const SELECT: &str = "SELECT request_hash, status, body FROM idempotency WHERE business_id = ?1 AND idem_key = ?2";

    /// A database as the migrations before `version` left it.
    fn migrated_before(version: i64) -> Connection {
        let mut conn = crate::sqlite::open_in_memory();
        migrate_through(&mut conn, version - 1).expect("older migrations");
        conn
    }

    fn answer(conn: &Connection, business: &str, key: &str) -> Option<(String, i64, String)> {
        conn.query_row(SELECT, params![business, key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .expect("read")
    }

    #[test]
    fn the_idempotency_migration_keeps_every_answer_and_each_key_once_per_business() {
        let mut conn = migrated_before(8);
        for (business, key, status) in [("b1", "k1", 201), ("b1", "k2", 422), ("b2", "k1", 200)] {
            conn.execute(
                INSERT,
                params![business, key, format!("hash-{key}"), status, "{\"a\":1}", "t"],
            )
            .expect("old record");
        }

        let from_8_on = MIGRATIONS.iter().filter(|(v, _, _)| *v >= 8).count();
        assert_eq!(migrate(&mut conn).expect("migrate"), from_8_on);

        assert_eq!(
            answer(&conn, "b1", "k2"),
            Some(("hash-k2".to_owned(), 422, "{\"a\":1}".to_owned()))
        );
        assert_eq!(answer(&conn, "b2", "k1").map(|a| a.1), Some(200));
        assert_eq!(answer(&conn, "b2", "k2"), None);
        let again = conn.execute(INSERT, params!["b1", "k1", "other", 201, "{}", "t"]);
        assert!(
            matches!(again, Err(rusqlite::Error::SqliteFailure(e, _)) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE),
            "a key is still kept once per business: {again:?}"
        );
        conn.execute(INSERT, params!["b3", "k1", "h", 201, "{}", "t"])
            .expect("another business's same key");
        // Rows in the order written (a rowid table), the key in its own index.
        let rowids: Vec<i64> = conn
            .prepare("SELECT rowid FROM idempotency ORDER BY rowid")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("rowids");
        assert_eq!(rowids, vec![1, 2, 3, 4]);
        let plan: String = conn
            .query_row(&format!("EXPLAIN QUERY PLAN {SELECT}"), params!["b1", "k1"], |r| {
                r.get(3)
            })
            .expect("plan");
        assert!(plan.contains("idempotency_by_key"), "{plan}");
    }

    #[test]
    fn the_ledger_chain_migration_links_each_accounts_rows_newest_first() {
        let mut conn = migrated_before(9);
        for account in ["a1", "a2", "a3"] {
            conn.execute(
                "INSERT INTO accounts (account_id, business_id, program_id, customer_id, display_name, email, email_key,
                                       status, point_balance, lifetime_points, version, enrolled_at, updated_at)
                 VALUES (?1, 'b', 'p', ?1, 'n', 'e', ?1, 'ACTIVE', 0, 0, 1, 't', 't')",
                [account],
            )
            .expect("account");
        }
        // a1 and a2 interleaved; a3 has no ledger.
        for (position, account) in [(3, "a1"), (5, "a2"), (8, "a1"), (9, "a1"), (12, "a2")] {
            conn.execute(
                "INSERT INTO transactions (position, transaction_id, account_id, business_id, type, points_changed,
                                           new_balance, reason, timestamp)
                 VALUES (?1, ?2, ?3, 'b', 'EARN', 1, 1, 'r', 't')",
                params![position, format!("t{position}"), account],
            )
            .expect("ledger row");
        }

        migrate(&mut conn).expect("migrate");

        let chain: Vec<(i64, Option<i64>)> = conn
            .prepare("SELECT position, prev_position FROM transactions ORDER BY position")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .expect("chain");
        assert_eq!(
            chain,
            vec![(3, None), (5, None), (8, Some(3)), (9, Some(8)), (12, Some(5))]
        );
        let heads: Vec<(String, Option<i64>)> = conn
            .prepare("SELECT account_id, ledger_head FROM accounts ORDER BY account_id")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .expect("heads");
        assert_eq!(
            heads,
            vec![
                ("a1".to_owned(), Some(9)),
                ("a2".to_owned(), Some(12)),
                ("a3".to_owned(), None)
            ]
        );
        let index: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE name = 'transactions_by_account'",
                [],
                |r| r.get(0),
            )
            .optional()
            .expect("schema");
        assert_eq!(index, None, "the index by account is gone");
    }

    /// Every column of every account, in the table's column order.
    fn accounts(conn: &Connection) -> Vec<Vec<rusqlite::types::Value>> {
        let mut stmt = conn
            .prepare("SELECT * FROM accounts ORDER BY account_id")
            .expect("select");
        let columns = stmt.column_count();
        stmt.query_map([], |r| (0..columns).map(|i| r.get(i)).collect())
            .and_then(|rows| rows.collect())
            .expect("accounts")
    }

    /// The accounts table's columns: name, declared type, default and place in the key.
    fn columns(conn: &Connection) -> Vec<(String, String, Option<String>, i64)> {
        conn.prepare("SELECT name, type, dflt_value, pk FROM pragma_table_info('accounts') ORDER BY cid")
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                    .collect()
            })
            .expect("columns")
    }

    #[test]
    fn the_accounts_migration_keeps_every_row_and_rule_and_stores_them_by_id() {
        let mut conn = migrated_before(10);
        // Inserted out of the ids' order, with every nullable column set on one of them.
        for (account, email, ledger_head) in [("a3", "x@e", None), ("a1", "y@e", Some(7)), ("a2", "z@e", None)] {
            conn.execute(
                "INSERT INTO accounts (account_id, business_id, program_id, customer_id, display_name, email, email_key,
                                       status, point_balance, lifetime_points, tier_id, tier_name, tier_level, progress,
                                       version, enrolled_at, updated_at, pending_points, ledger_head)
                 VALUES (?1, 'b', 'p', ?1, 'n', ?2, ?2, 'ACTIVE', 5, 9, ?3, ?4, ?5, ?6, 3, 't0', 't1', 2, ?7)",
                params![
                    account,
                    email,
                    ledger_head.map(|_| "gold"),
                    ledger_head.map(|_| "Gold"),
                    ledger_head.map(|_| 2),
                    ledger_head.map(|_| r#"{"progress":1}"#),
                    ledger_head
                ],
            )
            .expect("account");
        }
        let before = accounts(&conn);
        let columns_before = columns(&conn);
        // Damage a rowid table allowed: a row whose id is NULL.
        conn.execute(
            "INSERT INTO accounts (account_id, business_id, program_id, customer_id, display_name, email, email_key,
                                   status, point_balance, lifetime_points, version, enrolled_at, updated_at)
             VALUES (NULL, 'b', 'p', 'c', 'n', 'k@e', 'k@e', 'ACTIVE', 0, 0, 1, 't', 't')",
            [],
        )
        .expect("a keyless row");

        migrate(&mut conn).expect("migrate");

        assert_eq!(
            accounts(&conn),
            before,
            "every column of every row kept, the keyless one left behind"
        );
        assert_eq!(columns(&conn), columns_before, "the same columns, types and defaults");
        let sql: String = conn
            .query_row("SELECT sql FROM sqlite_master WHERE name = 'accounts'", [], |r| {
                r.get(0)
            })
            .expect("schema");
        assert!(sql.ends_with("WITHOUT ROWID"), "{sql}");
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'accounts' AND sql IS NOT NULL ORDER BY name")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("indexes");
        assert_eq!(indexes, vec!["accounts_by_customer", "accounts_by_email"]);
        // One email per program, as before.
        let twice = conn.execute(
            "INSERT INTO accounts (account_id, business_id, program_id, customer_id, display_name, email, email_key,
                                   status, point_balance, lifetime_points, version, enrolled_at, updated_at)
             VALUES ('a4', 'b', 'p', 'a4', 'n', 'x@e', 'x@e', 'ACTIVE', 0, 0, 1, 't', 't')",
            [],
        );
        assert_eq!(
            crate::sqlite::log_vfs::tests::extended_code(&twice),
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE),
            "a second account with one email in one program: {twice:?}"
        );
        // A write by id finds the row by the table's own key.
        let plan: String = conn
            .query_row(
                "EXPLAIN QUERY PLAN UPDATE accounts SET point_balance = 1 WHERE account_id = 'a1'",
                [],
                |r| r.get(3),
            )
            .expect("plan");
        assert!(plan.contains("PRIMARY KEY"), "{plan}");
    }

    #[test]
    fn the_due_index_migration_keeps_every_due_snapshot_and_the_due_query_reads_it_alone() {
        let mut conn = migrated_before(11);
        for (id, due) in [
            ("a1", Some("2026-02-09T00:00:00.000000Z")),
            ("a2", Some("2026-03-22T00:00:00.000000Z")),
            ("a3", Some("2026-03-31T00:00:00.000000Z")),
            ("a4", None),
        ] {
            conn.execute(
                "INSERT INTO snapshots (aggregate_id, aggregate_type, business_id, version, state, due_at)
                 VALUES (?1, 'LoyaltyAccount', 'b', 1, '{}', ?2)",
                params![id, due],
            )
            .expect("snapshot");
        }
        assert_eq!(migrate(&mut conn).expect("migrated"), 1);
        let due = |as_of: &str| -> Vec<String> {
            let mut stmt = conn.prepare(crate::queries::DUE_ACCOUNTS_SQLITE).expect("prepared");
            let rows = stmt.query_map(params![as_of, 100], |r| r.get(0)).expect("query");
            rows.collect::<Result<_, _>>().expect("rows")
        };
        assert_eq!(due("2026-03-22T03:00:00.000000Z"), ["a1", "a2"]);
        assert_eq!(due("2026-04-01T00:00:00.000000Z"), ["a1", "a2", "a3"]);
        let mut explain = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", crate::queries::DUE_ACCOUNTS_SQLITE))
            .expect("explained");
        let plan: Vec<String> = explain
            .query_map(params!["2026-04-01T00:00:00.000000Z", 100], |r| r.get(3))
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("plan rows");
        // By the month (an expression), from the index alone, in its order (no sort).
        assert_eq!(plan.len(), 1, "{plan:?}");
        assert!(plan[0].contains("COVERING INDEX snapshots_due (<expr>"), "{plan:?}");
    }

    #[test]
    fn a_database_migrated_by_a_newer_build_is_refused() {
        let mut conn = crate::sqlite::open_in_memory();
        migrate(&mut conn).expect("migrate");
        let newest = MIGRATIONS.last().map_or(0, |m| m.0);
        conn.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, 'from the future', 't')",
            [newest + 1],
        )
        .expect("a newer build's migration");
        let refused = migrate(&mut conn).expect_err("refused");
        assert!(refused.to_string().contains("newer than this build knows"), "{refused}");
    }
}
