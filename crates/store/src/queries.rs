//! Read queries over the projections, shared by the read pool and the writer's transaction.

use crate::db::{params, Db, OptionalRow, Row, ToParam};
use chrono::{DateTime, Utc};
use loyalty_domain::account::Lots;
use loyalty_domain::program::ProgramDefinition;
use loyalty_domain::{EventDecodeError, LoyaltyEvent};
use uuid::Uuid;

use crate::postgres::SnapshotRow;
use crate::views::{
    AccountView, EventFeed, IssuedRewardView, ProgramView, RewardView, TierView, TransactionPage,
    TransactionPageAnswer, TransactionView,
};
use crate::{time, Business, EventFilter, StoreError, StoredEvent};

/// How many transactions an account view carries.
pub const RECENT_TRANSACTIONS_COUNT: u32 = 10;

/// A stored id; a malformed one is a damaged row.
pub(crate) fn uuid(raw: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(raw).map_err(|e| StoreError::Corrupt(format!("bad uuid {raw:?}: {e}")))
}

const TRANSACTION_COLUMNS: &str =
    "transaction_id, type, points_changed, new_balance, reason, order_ref, reward_id, expires_at, timestamp, position,
     unrecovered_points";
/// The same columns of the ledger row `t` (see `transactions`).
const WALKED_COLUMNS: &str = "t.transaction_id, t.type, t.points_changed, t.new_balance, t.reason, t.order_ref, \
                              t.reward_id, t.expires_at, t.timestamp, t.position, t.unrecovered_points";

fn transaction_row(row: &Row<'_>) -> Result<(TransactionRow, i64), StoreError> {
    Ok((
        TransactionRow {
            transaction_id: row.get(0)?,
            kind: row.get(1)?,
            points_changed: row.get(2)?,
            new_balance: row.get(3)?,
            reason: row.get(4)?,
            order_ref: row.get(5)?,
            reward_id: row.get(6)?,
            expires_at: row.get(7)?,
            timestamp: row.get(8)?,
            unrecovered_points: row.get(10)?,
        },
        row.get(9)?,
    ))
}

/// A ledger row as stored (and as the writer projects it).
#[derive(Debug, Clone)]
pub(crate) struct TransactionRow {
    pub transaction_id: String,
    pub kind: String,
    pub points_changed: i64,
    pub new_balance: i64,
    pub reason: String,
    pub order_ref: Option<String>,
    pub reward_id: Option<String>,
    pub expires_at: Option<String>,
    pub timestamp: String,
    pub unrecovered_points: Option<i64>,
}

impl TransactionRow {
    pub(crate) fn into_view(self) -> Result<TransactionView, StoreError> {
        Ok(TransactionView {
            transaction_id: uuid(&self.transaction_id)?,
            transaction_type: self.kind,
            points_changed: self.points_changed,
            new_balance: self.new_balance,
            reason: self.reason,
            order_ref: self.order_ref,
            reward_id: self.reward_id.as_deref().map(uuid).transpose()?,
            expires_at: self.expires_at.as_deref().map(time::parse).transpose()?,
            timestamp: time::parse(&self.timestamp)?,
            unrecovered_points: self.unrecovered_points,
        })
    }
}

/// Transactions of an account, newest first, older than `before` when given: the position of
/// one of the account's own ledger rows (a page's `nextCursor`). `None` when `before` is not
/// one.
///
/// On SQLite an account's ledger rows form a chain, newest first: the account's row names its
/// newest (`ledger_head`), and each ledger row the account's row before it (`prev_position`;
/// see the schema's migration 9). A page walks it from the newest row or from the cursor's row,
/// finding each row by position, and stops after `limit` rows, so it costs the rows it shows
/// however long the history. The walk only ever steps to a lower position of the same account,
/// so a damaged chain can neither hold it nor lead it into another account's rows; a missing
/// or damaged link ends it early (the rows older than it are not shown) until a rebuild mends
/// the chain. PostgreSQL keeps an index by account instead: its writes go out in deferred
/// batches (`postgres::bulk`), so a projection there cannot read the account's newest row to
/// chain the next one to.
fn transactions(
    conn: Db<'_>,
    account_id: &str,
    before: Option<i64>,
    limit: u32,
) -> Result<Option<Vec<(TransactionView, i64)>>, StoreError> {
    if conn.is_postgres() {
        if let Some(before) = before {
            let ours = conn
                .prepare_held("SELECT 1 FROM transactions WHERE position = ?1 AND account_id = ?2")?
                .exists(params![before, account_id])?;
            if !ours {
                return Ok(None);
            }
        }
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE account_id = ?1 AND position < ?2 ORDER BY position DESC LIMIT CAST(?3 AS BIGINT)"
        ))?;
        let rows = stmt.query_map(params![account_id, before.unwrap_or(i64::MAX), limit], transaction_row)?;
        return rows
            .map(|r| {
                let (row, position) = r?;
                Ok((row.into_view()?, position))
            })
            .collect::<Result<_, _>>()
            .map(Some);
    }
    // Where the walk starts: after the cursor's row, or (none given) at the account's newest.
    let start: Option<i64> = match before {
        None => None,
        Some(before) => {
            let prev = conn
                .prepare_held("SELECT prev_position FROM transactions WHERE position = ?1 AND account_id = ?2")?
                .query_row(params![before, account_id], |r| r.get::<Option<i64>>(0))
                .optional()?;
            match prev {
                None => return Ok(None),
                Some(Some(prev)) if prev < before => Some(prev),
                // The account's oldest row, or a damaged link (see above).
                Some(_) => return Ok(Some(Vec::new())),
            }
        }
    };
    // `walk` carries each row it visits, with its place in the page, so each row is found by
    // position once; the rows come out in the order visited, sorted again here all the same.
    let mut stmt = conn.prepare_cached(&format!(
        "WITH RECURSIVE walk AS (
             SELECT 1 AS n, {TRANSACTION_COLUMNS}, prev_position FROM transactions
              WHERE position = COALESCE(?1, (SELECT ledger_head FROM accounts WHERE account_id = ?3))
                AND account_id = ?3
             UNION ALL
             SELECT walk.n + 1, {WALKED_COLUMNS}, t.prev_position
               FROM walk CROSS JOIN transactions AS t ON t.position = walk.prev_position
              WHERE t.position < walk.position AND t.account_id = ?3 AND walk.n < ?2
         )
         SELECT {TRANSACTION_COLUMNS} FROM walk"
    ))?;
    let mut rows = stmt
        .query_map(params![start, limit, account_id], transaction_row)?
        .map(|r| {
            let (row, position) = r?;
            Ok((row.into_view()?, position))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    rows.sort_unstable_by_key(|&(_, position)| std::cmp::Reverse(position));
    Ok(Some(rows))
}

const ACCOUNT_COLUMNS: &str = "account_id, program_id, customer_id, display_name, email, status, point_balance, \
                               lifetime_points, enrolled_at, updated_at, version, tier_id, tier_name, tier_level, progress, \
                               pending_points";

/// How far ahead `expiringSoon` looks.
pub const EXPIRING_SOON_DAYS: i64 = 30;

/// Points expiring within [`EXPIRING_SOON_DAYS`] of `now`, and the next expiry, from the
/// account's snapshot (only accounts with something scheduled have lots worth reading).
fn expiring(conn: Db<'_>, account_id: &str, now: DateTime<Utc>) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    #[derive(serde::Deserialize)]
    struct LotsOnly {
        #[serde(default)]
        lots: Lots,
    }
    let state: Option<String> = conn
        .prepare_held("SELECT state FROM snapshots WHERE aggregate_id = ?1 AND due_at IS NOT NULL")?
        .query_row([account_id], |r| r.get(0))
        .optional()?;
    let Some(state) = state else {
        return Ok((0, None));
    };
    let lots: LotsOnly = serde_json::from_str(&state)?;
    let (soon, next) = lots.lots.expiring(now + chrono::Duration::days(EXPIRING_SOON_DAYS));
    Ok((i64::try_from(soon).unwrap_or(i64::MAX), next))
}

fn account_from_row(conn: Db<'_>, row: AccountRow) -> Result<AccountView, StoreError> {
    // Without a cursor there is always a list.
    let recent = transactions(conn, &row.account_id, None, RECENT_TRANSACTIONS_COUNT)?
        .unwrap_or_default()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let tier = match (row.tier_id, row.tier_name, row.tier_level) {
        (Some(tier_id), Some(name), Some(level)) => Some(TierView { tier_id, name, level }),
        _ => None,
    };
    let progress = row.progress.as_deref().map(serde_json::from_str).transpose()?;
    let issued_rewards = issued_rewards(conn, &row.account_id)?;
    let (expiring_soon, expiring_at) = expiring(conn, &row.account_id, Utc::now())?;
    Ok(AccountView {
        account_id: uuid(&row.account_id)?,
        program_id: uuid(&row.program_id)?,
        customer_id: row.customer_id,
        display_name: row.display_name,
        email: row.email,
        status: row.status,
        point_balance: row.point_balance,
        lifetime_points: row.lifetime_points,
        pending_points: row.pending_points,
        expiring_soon,
        expiring_at,
        tier,
        progress,
        issued_rewards,
        recent_transactions: recent,
        enrolled_at: time::parse(&row.enrolled_at)?,
        updated_at: time::parse(&row.updated_at)?,
        version: row.version,
    })
}

struct AccountRow {
    account_id: String,
    program_id: String,
    customer_id: String,
    display_name: String,
    email: String,
    status: String,
    point_balance: i64,
    lifetime_points: i64,
    enrolled_at: String,
    updated_at: String,
    version: i64,
    tier_id: Option<String>,
    tier_name: Option<String>,
    tier_level: Option<u32>,
    progress: Option<String>,
    pending_points: i64,
}

/// A member's unused issued rewards, oldest first.
fn issued_rewards(conn: Db<'_>, account_id: &str) -> Result<Vec<IssuedRewardView>, StoreError> {
    let mut stmt = conn.prepare_held(
        "SELECT issued_reward_id, reward_type, reward_value, order_ref, issued_at FROM issued_rewards
         WHERE account_id = ?1 AND used_at IS NULL ORDER BY issued_at, issued_reward_id LIMIT 100",
    )?;
    let rows: Vec<(String, String, String, String, String)> = stmt
        .query_map([account_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, reward_type, reward_value, order_ref, issued_at)| {
            Ok(IssuedRewardView {
                issued_reward_id: uuid(&id)?,
                reward_type,
                reward_value,
                order_ref,
                issued_at: time::parse(&issued_at)?,
            })
        })
        .collect()
}

fn account_row(row: &Row<'_>) -> Result<AccountRow, StoreError> {
    Ok(AccountRow {
        account_id: row.get(0)?,
        program_id: row.get(1)?,
        customer_id: row.get(2)?,
        display_name: row.get(3)?,
        email: row.get(4)?,
        status: row.get(5)?,
        point_balance: row.get(6)?,
        lifetime_points: row.get(7)?,
        enrolled_at: row.get(8)?,
        updated_at: row.get(9)?,
        version: row.get(10)?,
        tier_id: row.get(11)?,
        tier_name: row.get(12)?,
        tier_level: row.get(13)?,
        progress: row.get(14)?,
        pending_points: row.get(15)?,
    })
}

/// One account of a business.
pub fn account(conn: Db<'_>, business_id: Uuid, account_id: Uuid) -> Result<Option<AccountView>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE account_id = ?1 AND business_id = ?2"
        ))?
        .query_row(params![account_id.to_string(), business_id.to_string()], account_row)
        .optional()?;
    row.map(|row| account_from_row(conn, row)).transpose()
}

/// The accounts of a business with this email (any letter case), across its programs.
pub fn accounts_by_email(conn: Db<'_>, business_id: Uuid, email: &str) -> Result<Vec<AccountView>, StoreError> {
    accounts_where(conn, "email_key", business_id, &email.trim().to_lowercase())
}

/// The accounts of a business for this customer id, across its programs.
pub fn accounts_by_customer(
    conn: Db<'_>,
    business_id: Uuid,
    customer_id: &str,
) -> Result<Vec<AccountView>, StoreError> {
    accounts_where(conn, "customer_id", business_id, customer_id.trim())
}

fn accounts_where(conn: Db<'_>, column: &str, business_id: Uuid, value: &str) -> Result<Vec<AccountView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE business_id = ?1 AND {column} = ?2 ORDER BY enrolled_at LIMIT CAST(?3 AS BIGINT)"
    ))?;
    let rows: Vec<AccountRow> = stmt
        .query_map(
            params![business_id.to_string(), value, crate::PAGE_LIMIT_MAX],
            account_row,
        )?
        .collect::<Result<_, _>>()?;
    rows.into_iter().map(|row| account_from_row(conn, row)).collect()
}

/// Whether the account exists for this business (cheap, for 404s).
pub fn account_exists(conn: Db<'_>, business_id: Uuid, account_id: Uuid) -> Result<bool, StoreError> {
    conn.prepare_held("SELECT 1 FROM accounts WHERE account_id = ?1 AND business_id = ?2")?
        .exists(params![account_id.to_string(), business_id.to_string()])
}

/// A page of an account's transactions, newest first, older than `cursor` (a previous page's
/// `nextCursor`) when given.
pub fn transaction_page(
    conn: Db<'_>,
    business_id: Uuid,
    account_id: Uuid,
    cursor: Option<i64>,
    limit: u32,
) -> Result<TransactionPageAnswer, StoreError> {
    if !account_exists(conn, business_id, account_id)? {
        return Ok(TransactionPageAnswer::NoAccount);
    }
    let Some(mut rows) = transactions(conn, &account_id.to_string(), cursor, limit + 1)? else {
        return Ok(TransactionPageAnswer::ForeignCursor);
    };
    let next_cursor = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|(_, position)| position.to_string())
    } else {
        None
    };
    Ok(TransactionPageAnswer::Page(TransactionPage {
        items: rows.into_iter().map(|(t, _)| t).collect(),
        next_cursor,
    }))
}

/// One transaction of a business.
pub fn transaction(
    conn: Db<'_>,
    business_id: Uuid,
    transaction_id: Uuid,
) -> Result<Option<TransactionView>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {TRANSACTION_COLUMNS} FROM transactions WHERE transaction_id = ?1 AND business_id = ?2"
        ))?
        .query_row(
            params![transaction_id.to_string(), business_id.to_string()],
            transaction_row,
        )
        .optional()?;
    row.map(|(row, _)| row.into_view()).transpose()
}

const PROGRAM_COLUMNS: &str = "program_id, status, definition, template_id, created_at, updated_at, version";

struct ProgramRow {
    program_id: String,
    status: String,
    definition: String,
    template_id: Option<String>,
    created_at: String,
    updated_at: String,
    version: i64,
}

fn program_row(row: &Row<'_>) -> Result<ProgramRow, StoreError> {
    Ok(ProgramRow {
        program_id: row.get(0)?,
        status: row.get(1)?,
        definition: row.get(2)?,
        template_id: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
        version: row.get(6)?,
    })
}

fn program_view(row: ProgramRow) -> Result<ProgramView, StoreError> {
    let ProgramRow {
        program_id,
        status,
        definition,
        template_id,
        created_at,
        updated_at,
        version,
    } = row;
    let definition: ProgramDefinition = serde_json::from_str(&definition)?;
    Ok(ProgramView {
        program_id: uuid(&program_id)?,
        name: definition.name,
        description: definition.description,
        status,
        rule_type: definition.rule_type.map(|t| t.as_str().to_owned()),
        rule_config: definition.rule_config.map(|c| c.to_json()),
        tiers: serde_json::to_value(&definition.tiers)?,
        point_expiry_days: definition.point_expiry_days,
        pending_days: definition.pending_days,
        signup_bonus_points: definition.signup_bonus_points,
        enrollment_settings: serde_json::to_value(&definition.enrollment_settings)?,
        location_ids: definition.location_ids,
        start_date: definition.start_date,
        end_date: definition.end_date,
        template_id,
        created_at: time::parse(&created_at)?,
        updated_at: time::parse(&updated_at)?,
        version,
    })
}

/// One program of a business.
pub fn program(conn: Db<'_>, business_id: Uuid, program_id: Uuid) -> Result<Option<ProgramView>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {PROGRAM_COLUMNS} FROM programs WHERE program_id = ?1 AND business_id = ?2"
        ))?
        .query_row(params![program_id.to_string(), business_id.to_string()], program_row)
        .optional()?;
    row.map(program_view).transpose()
}

/// Every program of a business, oldest first.
pub fn programs(conn: Db<'_>, business_id: Uuid) -> Result<Vec<ProgramView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {PROGRAM_COLUMNS} FROM programs WHERE business_id = ?1 ORDER BY created_at, program_id"
    ))?;
    let rows: Vec<_> = stmt
        .query_map([business_id.to_string()], program_row)?
        .collect::<Result<_, _>>()?;
    rows.into_iter().map(program_view).collect()
}

const REWARD_COLUMNS: &str = "reward_id, program_id, name, reward_type, points_cost, stock, remaining_stock, \
                              per_customer_limit, claimed_count, created_at, updated_at, version";

struct RewardRow {
    reward_id: String,
    program_id: String,
    name: String,
    reward_type: String,
    points_cost: i64,
    stock: Option<i64>,
    remaining_stock: Option<i64>,
    per_customer_limit: Option<i64>,
    claimed_count: i64,
    created_at: String,
    updated_at: String,
    version: i64,
}

fn reward_row(row: &Row<'_>) -> Result<RewardRow, StoreError> {
    Ok(RewardRow {
        reward_id: row.get(0)?,
        program_id: row.get(1)?,
        name: row.get(2)?,
        reward_type: row.get(3)?,
        points_cost: row.get(4)?,
        stock: row.get(5)?,
        remaining_stock: row.get(6)?,
        per_customer_limit: row.get(7)?,
        claimed_count: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        version: row.get(11)?,
    })
}

impl RewardRow {
    fn into_view(self) -> Result<RewardView, StoreError> {
        Ok(RewardView {
            reward_id: uuid(&self.reward_id)?,
            program_id: uuid(&self.program_id)?,
            name: self.name,
            reward_type: self.reward_type,
            points_cost: self.points_cost,
            stock: self.stock,
            remaining_stock: self.remaining_stock,
            per_customer_limit: self.per_customer_limit,
            claimed_count: self.claimed_count,
            created_at: time::parse(&self.created_at)?,
            updated_at: time::parse(&self.updated_at)?,
            version: self.version,
        })
    }
}

/// One reward of a business.
pub fn reward(conn: Db<'_>, business_id: Uuid, reward_id: Uuid) -> Result<Option<RewardView>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {REWARD_COLUMNS} FROM rewards WHERE reward_id = ?1 AND business_id = ?2"
        ))?
        .query_row(params![reward_id.to_string(), business_id.to_string()], reward_row)
        .optional()?;
    row.map(RewardRow::into_view).transpose()
}

/// The catalogue of a program, oldest first. `None` when the program is not the business's.
pub fn rewards(conn: Db<'_>, business_id: Uuid, program_id: Uuid) -> Result<Option<Vec<RewardView>>, StoreError> {
    let program_exists = conn
        .prepare_held("SELECT 1 FROM programs WHERE program_id = ?1 AND business_id = ?2")?
        .exists(params![program_id.to_string(), business_id.to_string()])?;
    if !program_exists {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {REWARD_COLUMNS} FROM rewards WHERE program_id = ?1 AND business_id = ?2
         ORDER BY created_at, reward_id LIMIT CAST(?3 AS BIGINT)"
    ))?;
    let rows: Vec<RewardRow> = stmt
        .query_map(
            params![
                program_id.to_string(),
                business_id.to_string(),
                crate::REWARDS_PER_PROGRAM_MAX
            ],
            reward_row,
        )?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(RewardRow::into_view)
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

const EVENT_COLUMNS: &str =
    "position, event_id, event_type, version, timestamp, aggregate_type, aggregate_id, sequence, business_id, data, metadata";

/// The text columns of [`EVENT_COLUMNS`], in the order [`EventRow`] keeps them.
const EVENT_TEXT_COLUMNS: [usize; 9] = [1, 2, 3, 4, 5, 6, 8, 9, 10];

/// A stored event row, as read: its text columns copied into one buffer, one allocation per
/// row (a rebuild reads a million rows on the thread that also writes the read models).
pub fn event_row(row: &Row<'_>) -> Result<EventRow, StoreError> {
    let mut texts = [""; 9];
    for (text, &column) in texts.iter_mut().zip(&EVENT_TEXT_COLUMNS) {
        *text = row.text(column)?;
    }
    let mut buffer = String::with_capacity(texts.iter().map(|t| t.len()).sum());
    let mut ends = [0usize; 9];
    for (end, text) in ends.iter_mut().zip(texts) {
        buffer.push_str(text);
        *end = buffer.len();
    }
    Ok(EventRow {
        position: row.get(0)?,
        sequence: row.get(7)?,
        buffer,
        ends,
    })
}

/// A stored event row, as read (see [`event_row`]).
pub struct EventRow {
    position: i64,
    sequence: i64,
    /// The text columns, one after another: `event_id`, `event_type`, `version`, `timestamp`,
    /// `aggregate_type`, `aggregate_id`, `business_id`, `data`, `metadata`.
    buffer: String,
    /// Where each of them ends in `buffer`.
    ends: [usize; 9],
}

/// The index of each text column in [`EventRow::ends`].
const EVENT_ID: usize = 0;
const EVENT_TYPE: usize = 1;
const VERSION: usize = 2;
const TIMESTAMP: usize = 3;
const AGGREGATE_TYPE: usize = 4;
const AGGREGATE_ID: usize = 5;
const BUSINESS_ID: usize = 6;
const DATA: usize = 7;
const METADATA: usize = 8;

impl EventRow {
    /// Its position in the global log.
    pub fn position(&self) -> i64 {
        self.position
    }

    /// Text column `field` (one of the indexes above).
    fn text(&self, field: usize) -> &str {
        let start = field.checked_sub(1).map_or(0, |before| self.ends[before]);
        &self.buffer[start..self.ends[field]]
    }

    /// The stored event, upcast to the current version of its type: everything that reads
    /// events (aggregates on rebuild, projections, consumers, the HTTP feed) sees current shapes.
    pub fn into_event(self) -> Result<StoredEvent, StoreError> {
        let event_id = uuid(self.text(EVENT_ID))?;
        let timestamp = time::parse(self.text(TIMESTAMP))?;
        let (version, data) = loyalty_domain::upcast::upcast(
            self.text(EVENT_TYPE),
            self.text(VERSION),
            serde_json::from_str(self.text(DATA))?,
            &loyalty_domain::upcast::Envelope { event_id, timestamp },
        )?;
        self.stored(event_id, timestamp, version, data)
    }

    /// The stored event without its data, and its domain event: for the rebuild, which makes
    /// the read models from the domain event alone. An event that no upcaster reads is decoded
    /// straight from its JSON text, without the [`serde_json::Value`] in between; an older one is
    /// upcast first, as in [`EventRow::into_event`]. Text a `Value` reads differently (a key
    /// given twice: the text's decoder refuses it, a `Value` keeps the last) is read through a
    /// `Value` too, so the rebuild accepts what every other reader of the event accepts.
    pub fn into_decoded(self) -> Result<(StoredEvent, LoyaltyEvent), StoreError> {
        let (event_type, version) = (self.text(EVENT_TYPE), self.text(VERSION));
        if !loyalty_domain::upcast::is_current(event_type, version) {
            return self.into_decoded_through_value();
        }
        let event = match decode_text(event_type, version, self.text(DATA)) {
            Ok(event) => event,
            // The text's own error names the event type, where a `Value`'s parse would not.
            Err(refused) => return self.into_decoded_through_value().map_err(|_| refused.into()),
        };
        let event_id = uuid(self.text(EVENT_ID))?;
        let timestamp = time::parse(self.text(TIMESTAMP))?;
        let version = version.to_owned();
        Ok((
            self.stored(event_id, timestamp, version, serde_json::Value::Null)?,
            event,
        ))
    }

    fn into_decoded_through_value(self) -> Result<(StoredEvent, LoyaltyEvent), StoreError> {
        let mut stored = self.into_event()?;
        let data = std::mem::take(&mut stored.data);
        let event = LoyaltyEvent::decode(&stored.event_type, &stored.version, data)?;
        Ok((stored, event))
    }

    fn stored(
        &self,
        event_id: Uuid,
        timestamp: DateTime<Utc>,
        version: String,
        data: serde_json::Value,
    ) -> Result<StoredEvent, StoreError> {
        Ok(StoredEvent {
            event_id,
            event_type: self.text(EVENT_TYPE).to_owned(),
            version,
            timestamp,
            aggregate_id: uuid(self.text(AGGREGATE_ID))?,
            aggregate_type: self.text(AGGREGATE_TYPE).to_owned(),
            business_id: uuid(self.text(BUSINESS_ID))?,
            data,
            metadata: serde_json::from_str(self.text(METADATA))?,
            position: self.position,
            sequence: self.sequence,
        })
    }
}

/// A domain event from its JSON text; nothing but white space may follow the data, as
/// `serde_json::from_str` requires.
fn decode_text(event_type: &str, version: &str, data: &str) -> Result<LoyaltyEvent, EventDecodeError> {
    let mut json = serde_json::Deserializer::from_str(data);
    let event = LoyaltyEvent::decode(event_type, version, &mut json)?;
    json.end().map_err(|e| EventDecodeError::Malformed {
        event_type: event_type.to_owned(),
        message: e.to_string(),
    })?;
    Ok(event)
}

/// `SELECT` of every event column, for callers that stream events.
pub fn event_select() -> String {
    format!("SELECT {EVENT_COLUMNS} FROM events")
}

/// An aggregate's events, oldest first. `None` when it is not the business's.
pub fn aggregate_events(
    conn: Db<'_>,
    business_id: Uuid,
    aggregate_id: Uuid,
    limit: u32,
) -> Result<Option<Vec<StoredEvent>>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE aggregate_id = ?1 AND business_id = ?2 ORDER BY sequence LIMIT CAST(?3 AS BIGINT)"
    ))?;
    let events: Vec<StoredEvent> = stmt
        .query_map(
            params![aggregate_id.to_string(), business_id.to_string(), limit],
            event_row,
        )?
        .map(|r| r.and_then(EventRow::into_event))
        .collect::<Result<_, _>>()?;
    Ok(if events.is_empty() { None } else { Some(events) })
}

/// The business's feed after `after`, in commit order.
pub fn event_feed(conn: Db<'_>, business_id: Uuid, after: i64, limit: u32) -> Result<EventFeed, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE business_id = ?1 AND position > ?2 ORDER BY position LIMIT CAST(?3 AS BIGINT)"
    ))?;
    let items: Vec<StoredEvent> = stmt
        .query_map(params![business_id.to_string(), after, limit], event_row)?
        .map(|r| r.and_then(EventRow::into_event))
        .collect::<Result<_, _>>()?;
    let last_position = items.last().map_or(after, |e| e.position);
    Ok(EventFeed { items, last_position })
}

/// The business an API key hash belongs to.
pub fn business_by_key_hash(conn: Db<'_>, key_hash: &str) -> Result<Option<Business>, StoreError> {
    let row: Option<(String, String, String)> = conn
        .prepare_held("SELECT business_id, name, created_at FROM businesses WHERE api_key_hash = ?1")?
        .query_row([key_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    row.map(|(id, name, created_at)| {
        Ok(Business {
            business_id: uuid(&id)?,
            name,
            created_at: time::parse(&created_at)?,
        })
    })
    .transpose()
}

/// [`due_accounts`] on SQLite, whose index orders the due by month (see `DUE_BY_MONTH_MIGRATION`).
pub(crate) const DUE_ACCOUNTS_SQLITE: &str = "SELECT aggregate_id FROM snapshots
  WHERE due_at IS NOT NULL AND substr(due_at, 1, 7) <= substr(?1, 1, 7) AND due_at <= ?1
  ORDER BY substr(due_at, 1, 7) LIMIT CAST(?2 AS BIGINT)";

/// Accounts with something due by `as_of` (a lot to expire, pending points to release), soonest
/// first: on SQLite by the month they fall due in (see `DUE_BY_MONTH_MIGRATION`), on PostgreSQL by
/// the time. Only accounts have a due time (see `Aggregate::due_at`). On SQLite read from the
/// `snapshots_due` index alone, whose entries hold the aggregate id (the key of a table `WITHOUT
/// ROWID`): no lookup into the snapshots themselves, which had read a random page of that table
/// per account (on a million due accounts, the sweep's reads took a sixth of its CPU time). On
/// PostgreSQL the index points into the table, and each row is read there.
pub fn due_accounts(conn: Db<'_>, as_of: DateTime<Utc>, limit: u32) -> Result<Vec<Uuid>, StoreError> {
    let sql = match conn {
        Db::Sqlite(..) => DUE_ACCOUNTS_SQLITE,
        Db::Pg(_) => {
            "SELECT aggregate_id FROM snapshots WHERE due_at IS NOT NULL AND due_at <= ?1
              ORDER BY due_at LIMIT CAST(?2 AS BIGINT)"
        }
    };
    let mut stmt = conn.prepare_held(sql)?;
    // Parsed row by row: a sweep may ask for a million.
    let mut due = Vec::new();
    stmt.for_each_row(params![time::format(as_of), limit], |r| {
        let account: String = r.get(0)?;
        due.push(uuid(&account)?);
        Ok(())
    })?;
    Ok(due)
}

/// An aggregate's snapshot row by its id, as stored now.
pub(crate) fn snapshot_row(conn: Db<'_>, aggregate_id: &str) -> Result<Option<SnapshotRow>, StoreError> {
    conn.prepare_held("SELECT business_id, aggregate_type, version, state FROM snapshots WHERE aggregate_id = ?1")?
        .query_row([aggregate_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
}

/// The snapshot rows of those of `aggregate_ids` that exist, each with its id: on PostgreSQL
/// a round trip per ten thousand ids.
pub fn snapshot_rows(conn: Db<'_>, aggregate_ids: &[Uuid]) -> Result<Vec<(Uuid, SnapshotRow)>, StoreError> {
    if let Db::Pg(pg) = conn {
        let ids: Vec<String> = aggregate_ids.iter().map(Uuid::to_string).collect();
        return pg
            .snapshot_rows(&ids)?
            .into_iter()
            .map(|(id, row)| Ok((uuid(&id)?, row)))
            .collect();
    }
    let mut found = Vec::with_capacity(aggregate_ids.len());
    for &id in aggregate_ids {
        found.extend(snapshot_row(conn, &id.to_string())?.map(|row| (id, row)));
    }
    Ok(found)
}

/// Programs that can move members between tiers (not drafts, not ended), with their
/// definitions: `(business_id, program_id, definition)`.
pub fn tiered_programs(conn: Db<'_>) -> Result<Vec<(Uuid, Uuid, ProgramDefinition)>, StoreError> {
    let mut stmt = conn.prepare_held(
        "SELECT business_id, program_id, definition FROM programs WHERE status IN ('ACTIVE', 'PAUSED')",
    )?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map(params![], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    rows.iter()
        .map(|(b, p, d)| Ok((uuid(b)?, uuid(p)?, serde_json::from_str(d)?)))
        .collect()
}

/// Members of a program whose tier is above `level`.
pub fn accounts_above_tier(conn: Db<'_>, program_id: Uuid, level: u32) -> Result<Vec<Uuid>, StoreError> {
    let mut stmt = conn.prepare_held("SELECT account_id FROM accounts WHERE program_id = ?1 AND tier_level > ?2")?;
    let rows: Vec<String> = stmt
        .query_map(params![program_id.to_string(), level], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    rows.iter().map(|a| uuid(a)).collect()
}

/// Every business's events after `after`, in commit order: what event handlers read.
pub fn events_after(conn: Db<'_>, after: i64, limit: u32) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE position > ?1 ORDER BY position LIMIT CAST(?2 AS BIGINT)"
    ))?;
    let items = stmt
        .query_map(params![after, limit], event_row)?
        .map(|r| r.and_then(EventRow::into_event))
        .collect::<Result<_, _>>()?;
    Ok(items)
}

/// The events after `after` that `filter` wants, in commit order, at most `limit`; and the
/// position up to which the log was read: the last event's when the page is full, otherwise the
/// head of the log as it stood before the read. Positions commit in order (one writer on
/// SQLite, the event-log lock on PostgreSQL), so every position up to that head had committed,
/// and a reader may move its checkpoint there past the events it does not want.
pub fn events_matching(
    conn: Db<'_>,
    after: i64,
    filter: EventFilter,
    limit: u32,
) -> Result<(Vec<StoredEvent>, i64), StoreError> {
    let head = head_position(conn)?;
    if head <= after {
        return Ok((Vec::new(), after));
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE position > ?1 AND position <= ?2{} \
         ORDER BY position LIMIT CAST(?3 AS BIGINT)",
        filter.condition(4)
    ))?;
    let mut values: Vec<&dyn ToParam> = vec![&after, &head, &limit];
    values.extend(filter.parameters().iter().map(|t| t as &dyn ToParam));
    let items: Vec<StoredEvent> = stmt
        .query_map(values.as_slice(), event_row)?
        .map(|r| r.and_then(EventRow::into_event))
        .collect::<Result<_, _>>()?;
    let read_to = match items.last() {
        Some(last) if items.len() >= limit as usize => last.position,
        _ => head,
    };
    Ok((items, read_to))
}

/// Where the checkpoint `name` is (0 before its first event).
pub fn checkpoint(conn: Db<'_>, name: &str) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_held("SELECT position FROM checkpoints WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

/// The last event's position (0 when there is none).
pub fn head_position(conn: Db<'_>) -> Result<i64, StoreError> {
    conn.query_row("SELECT COALESCE(MAX(position), 0) FROM events", params![], |r| r.get(0))
}

/// The notifications sent to an account, oldest first: `(kind, body)`.
pub fn notifications(conn: Db<'_>, account_id: Uuid) -> Result<Vec<(String, serde_json::Value)>, StoreError> {
    let mut stmt = conn.prepare_held(
        "SELECT kind, body FROM notifications WHERE account_id = ?1 ORDER BY created_at, notification_id",
    )?;
    let rows: Vec<(String, String)> = stmt
        .query_map([account_id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(kind, body)| Ok((kind, serde_json::from_str(&body)?)))
        .collect()
}

/// A business's points: the sum of its accounts' balances, and the sum of its ledger.
pub fn point_totals(conn: Db<'_>, business_id: Uuid) -> Result<(i64, i64), StoreError> {
    let balances: i64 = conn.query_row(
        "SELECT CAST(COALESCE(SUM(point_balance), 0) AS BIGINT) FROM accounts WHERE business_id = ?1",
        [business_id.to_string()],
        |r| r.get(0),
    )?;
    let ledger: i64 = conn.query_row(
        "SELECT CAST(COALESCE(SUM(points_changed), 0) AS BIGINT) FROM transactions WHERE business_id = ?1",
        [business_id.to_string()],
        |r| r.get(0),
    )?;
    Ok((balances, ledger))
}
