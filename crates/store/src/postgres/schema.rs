//! PostgreSQL schema migrations, embedded and applied in order on start (and by `loyalty
//! migrate`). Each runs inside the transaction that records it, under an advisory lock, so two
//! instances starting at once apply it once. The schema is SQLite's (migrations 1 to 6 of that
//! backend, in one step) with PostgreSQL's types: BIGINT integers, and event positions given
//! out by the writer under the event-log lock (no sequence).

use super::MIGRATIONS_LOCK_SQL;
use crate::db::{params, Db, PgConn};
use crate::StoreError;

/// Every migration, in order. Never edit one that has shipped: add another.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "event store, read models, idempotency, inbox, checkpoints, dead letters, webhooks, restaurant",
        r#"
CREATE TABLE businesses (
    business_id  TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    api_key_hash TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL
);

-- The record. position is commit order: every writer transaction holds the event-log advisory
-- lock from BEGIN to COMMIT and gives out the positions after the highest committed one; (aggregate_id, sequence) is unique, so two writers of one aggregate cannot both append the
-- same next event.
CREATE TABLE events (
    position       BIGINT PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    event_type     TEXT NOT NULL,
    version        TEXT NOT NULL,
    timestamp      TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id   TEXT NOT NULL,
    sequence       BIGINT NOT NULL,
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
    version        BIGINT NOT NULL,
    state          TEXT NOT NULL
);

-- Read models: projections of the events, rebuilt by `loyalty projections rebuild`.
CREATE TABLE programs (
    program_id  TEXT PRIMARY KEY,
    business_id TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    definition  TEXT NOT NULL,
    template_id TEXT,
    version     BIGINT NOT NULL,
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
    point_balance   BIGINT NOT NULL,
    lifetime_points BIGINT NOT NULL,
    tier_id         TEXT,
    tier_name       TEXT,
    tier_level      BIGINT,
    progress        TEXT,
    version         BIGINT NOT NULL,
    enrolled_at     TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (program_id, email_key)
);
CREATE INDEX accounts_by_email ON accounts (business_id, email_key);
CREATE INDEX accounts_by_customer ON accounts (business_id, customer_id);

CREATE TABLE transactions (
    position       BIGINT PRIMARY KEY,
    transaction_id TEXT NOT NULL UNIQUE,
    account_id     TEXT NOT NULL,
    business_id    TEXT NOT NULL,
    type           TEXT NOT NULL,
    points_changed BIGINT NOT NULL,
    new_balance    BIGINT NOT NULL,
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
    points_earned  BIGINT NOT NULL,
    transaction_id TEXT NOT NULL,
    location_id    TEXT,
    recorded_at    TEXT NOT NULL,
    PRIMARY KEY (account_id, order_ref)
);

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
    status       BIGINT NOT NULL,
    body         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (business_id, idem_key)
);


-- What refunds took back from each order so far.
ALTER TABLE orders ADD COLUMN refunded_amount TEXT NOT NULL DEFAULT '0.00';
ALTER TABLE orders ADD COLUMN points_reversed BIGINT NOT NULL DEFAULT 0;
-- Points a reversal could not take back because they were already spent.
ALTER TABLE transactions ADD COLUMN unrecovered_points BIGINT;
ALTER TABLE accounts ADD COLUMN pending_points BIGINT NOT NULL DEFAULT 0;
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
);
CREATE TABLE checkpoints (
    name       TEXT PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Notifications sent to members through the notification port (the welcome message).
CREATE TABLE notifications (
    notification_id TEXT PRIMARY KEY,
    business_id     TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    body            TEXT NOT NULL,
    caused_by       TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX notifications_by_account ON notifications (account_id, created_at);


-- Each program's rewards catalogue, with what is left of each limited stock.
CREATE TABLE rewards (
    reward_id          TEXT PRIMARY KEY,
    business_id        TEXT NOT NULL,
    program_id         TEXT NOT NULL,
    name               TEXT NOT NULL,
    reward_type        TEXT NOT NULL,
    points_cost        BIGINT NOT NULL,
    stock              BIGINT,
    remaining_stock    BIGINT,
    per_customer_limit BIGINT,
    claimed_count      BIGINT NOT NULL,
    version            BIGINT NOT NULL,
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
    points_cost    BIGINT NOT NULL,
    claimed_at     TEXT NOT NULL
);
CREATE INDEX reward_claims_by_customer ON reward_claims (reward_id, customer_id);


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
    attempts       BIGINT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (handler, event_id)
);
CREATE INDEX dead_letters_by_business ON dead_letters (business_id, created_at);


-- Operational state, not projections: kept out of the rebuild.
CREATE TABLE webhooks (
    webhook_id  TEXT PRIMARY KEY,
    business_id TEXT NOT NULL,
    url         TEXT NOT NULL,
    event_types TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX webhooks_by_business ON webhooks (business_id, created_at);

CREATE TABLE webhook_deliveries (
    delivery_id      TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL,
    business_id      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    event            TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    last_error       TEXT,
    last_status_code BIGINT,
    next_attempt_at  TEXT,
    delivered_at     TEXT,
    created_at       TEXT NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at);


-- The per-location rollout switch: which program a location's payments earn in, and whether
-- loyalty is on there. Configuration, not a projection: kept out of the rebuild.
CREATE TABLE locations (
    business_id     TEXT NOT NULL,
    location_id     TEXT NOT NULL,
    program_id      TEXT NOT NULL,
    loyalty_enabled BIGINT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (business_id, location_id)
);

-- A guest showed their loyalty code at the table: that table order's payment is theirs.
CREATE TABLE table_order_links (
    business_id    TEXT NOT NULL,
    table_order_id TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    linked_at      TEXT NOT NULL,
    PRIMARY KEY (business_id, table_order_id)
);

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
);
"#,
    ),
    (
        2,
        "webhook deliveries in commit order per aggregate",
        crate::sqlite::WEBHOOK_ORDER_MIGRATION,
    ),
    (
        3,
        "durability marks: the small synchronous commits that make the writer's commits durable",
        r#"
-- One row per slot; each mark adds one (see `postgres::syncer`). Only its being written counts.
CREATE TABLE durability_marks (
    slot  INTEGER PRIMARY KEY,
    marks BIGINT NOT NULL
);
"#,
    ),
    (
        4,
        "text compared bytewise: every TEXT column COLLATE \"C\"",
        TEXT_COLLATE_C_MIGRATION,
    ),
];

/// Every TEXT column of the store's tables compares bytewise. Their keys are ids, codes and ISO
/// times, whose order is the same under any collation; under a database's locale (even
/// `C.UTF-8`, which PostgreSQL 15 does not take for "C") each comparison in a B-tree goes
/// through the C library's `strcoll`, about 6% of the writer backend's CPU per accrual. Every
/// text column changes, so comparisons between columns stay on their indexes, and a TEXT column
/// added later must say `COLLATE "C"` too (a test checks it). Only the store's own tables are
/// touched (a shared schema may hold others), one `ALTER TABLE` per table. The change drops the
/// columns' statistics; they are not gathered again here: an `ANALYZE` of the still-empty
/// tables of a new database told the planner they were empty, and it then read the idempotency
/// table from end to end for every batch (accruals fell from 11,000/s to 1,070/s). Autovacuum
/// gathers them again as the tables change.
///
/// Upgrading: stop every instance of the previous version before starting this one. Their
/// prepared statements return columns whose collation this changes, which PostgreSQL refuses
/// ("cached plan must not change result type") until they reconnect.
const TEXT_COLLATE_C_MIGRATION: &str = r#"
DO $$
DECLARE
    tab RECORD;
BEGIN
    FOR tab IN
        SELECT c.table_name,
               string_agg(format('ALTER COLUMN %I TYPE TEXT COLLATE "C"', c.column_name), ', ') AS alters
        FROM information_schema.columns c
        WHERE c.table_schema = current_schema() AND c.data_type = 'text'
          AND c.collation_name IS DISTINCT FROM 'C'
          AND c.table_name IN ('schema_migrations', 'businesses', 'events', 'snapshots', 'programs',
                               'accounts', 'transactions', 'orders', 'issued_rewards', 'idempotency',
                               'inbox', 'checkpoints', 'notifications', 'rewards', 'reward_claims',
                               'dead_letters', 'webhooks', 'webhook_deliveries', 'locations',
                               'table_order_links', 'payments', 'durability_marks')
        GROUP BY c.table_name
    LOOP
        EXECUTE format('ALTER TABLE %I %s', tab.table_name, tab.alters);
    END LOOP;
END
$$;
"#;

/// Apply every migration not yet applied. Returns how many ran.
pub(crate) fn migrate(conn: &PgConn) -> Result<usize, StoreError> {
    let db = Db::Pg(conn);
    db.begin()?;
    match migrate_in_transaction(db) {
        Ok(count) => {
            db.commit()?;
            Ok(count)
        }
        Err(e) => {
            let _ = db.rollback();
            Err(e)
        }
    }
}

fn migrate_in_transaction(db: Db<'_>) -> Result<usize, StoreError> {
    db.query_row(MIGRATIONS_LOCK_SQL, params![], |_| Ok(()))?;
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version     BIGINT PRIMARY KEY,
            description TEXT NOT NULL,
            applied_at  TEXT NOT NULL
        )",
    )?;
    let applied: i64 = db.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        params![],
        |r| r.get(0),
    )?;
    let mut count = 0;
    for (version, description, sql) in MIGRATIONS {
        if *version <= applied {
            continue;
        }
        db.execute_batch(sql)?;
        db.execute(
            "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)",
            params![*version, *description, crate::time::format(chrono::Utc::now())],
        )?;
        tracing::info!(version, description, "applied migration");
        count += 1;
    }
    Ok(count)
}
