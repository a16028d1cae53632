//! The projector: applies one stored event to the read models. Used by every append (in the
//! same transaction as the event) and by `loyalty projections rebuild`, so both agree.

use crate::db::{params, Db, OptionalRow};
use loyalty_domain::account::AccountEvent;
use loyalty_domain::program::{ProgramDefinition, ProgramEvent, ProgramStatus};
use loyalty_domain::reward::RewardEvent;
use loyalty_domain::values::Money;
use loyalty_domain::LoyaltyEvent;
use uuid::Uuid;

use crate::envelope::EventPlace;
use crate::queries::TransactionRow;
use crate::time;
use crate::StoreError;

/// The ledger rows an append projected, with their business (see [`project`]).
pub(crate) type Projected = Vec<(Uuid, TransactionRow)>;

/// Apply `event` (standing at `place`) to the read models. A ledger row it adds is also pushed
/// onto `ledger`, when given: the writer answers the command from it without reading it back.
pub(crate) fn project(
    conn: Db<'_>,
    place: &EventPlace,
    event: &LoyaltyEvent,
    ledger: Option<&mut Projected>,
) -> Result<(), StoreError> {
    match event {
        LoyaltyEvent::Program(e) => project_program(conn, place, e),
        LoyaltyEvent::Account(e) => project_account(conn, place, e, ledger),
        LoyaltyEvent::Reward(e) => project_reward(conn, place, e),
    }
}

fn project_program(conn: Db<'_>, place: &EventPlace, event: &ProgramEvent) -> Result<(), StoreError> {
    let id = place.aggregate_id.to_string();
    let at = time::format(place.timestamp);
    let set_status = |status: ProgramStatus| -> Result<(), StoreError> {
        conn.prepare_held("UPDATE programs SET status = ?2, version = ?3, updated_at = ?4 WHERE program_id = ?1")?
            .execute_deferred(params![id, status.as_str(), place.sequence, at])?;
        Ok(())
    };
    match event {
        ProgramEvent::Created(e) => {
            conn.prepare_held(
                "INSERT INTO programs (program_id, business_id, name, status, definition, template_id, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            )?
            .execute_deferred(params![
                id,
                place.business_id.to_string(),
                e.definition.name,
                e.program_status.as_str(),
                serde_json::to_string(&e.definition)?,
                e.template_id,
                place.sequence,
                at
            ])?;
        }
        ProgramEvent::Activated(_) | ProgramEvent::Resumed(_) => set_status(ProgramStatus::Active)?,
        ProgramEvent::Paused(_) => set_status(ProgramStatus::Paused)?,
        ProgramEvent::Ended(_) => set_status(ProgramStatus::Ended)?,
        ProgramEvent::TemplateUsed(_) => {
            conn.prepare_held("UPDATE programs SET version = ?2, updated_at = ?3 WHERE program_id = ?1")?
                .execute_deferred(params![id, place.sequence, at])?;
        }
        ProgramEvent::RuleChanged(e) => {
            let definition: Option<String> = conn
                .prepare_held("SELECT definition FROM programs WHERE program_id = ?1")?
                .query_row([&id], |r| r.get(0))
                .optional()?;
            let mut definition: ProgramDefinition = serde_json::from_str(
                &definition.ok_or_else(|| StoreError::Corrupt(format!("no program row for {id}")))?,
            )?;
            definition.set_rule(e.rule_config.clone());
            conn.prepare_held(
                "UPDATE programs SET definition = ?2, version = ?3, updated_at = ?4 WHERE program_id = ?1",
            )?
            .execute_deferred(params![id, serde_json::to_string(&definition)?, place.sequence, at])?;
        }
    }
    Ok(())
}

fn project_account(
    conn: Db<'_>,
    place: &EventPlace,
    event: &AccountEvent,
    ledger: Option<&mut Projected>,
) -> Result<(), StoreError> {
    let id = place.aggregate_id.to_string();
    let at = time::format(place.timestamp);
    match event {
        AccountEvent::Enrolled(e) => {
            conn.prepare_held(
                "INSERT INTO accounts (account_id, business_id, program_id, customer_id, display_name, email, email_key,
                                       status, point_balance, lifetime_points, tier_id, tier_name, tier_level,
                                       version, enrolled_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?
            // On PostgreSQL a row of the flush's multi-row insert (sent before the flush's
            // updates of accounts, so an account's later updates still find it).
            .insert_batched(
                params![
                    id,
                    place.business_id.to_string(),
                    e.program_id.to_string(),
                    e.customer_id.as_str(),
                    e.display_name,
                    e.email,
                    e.email.to_lowercase(),
                    "ACTIVE",
                    0i64,
                    0i64,
                    e.initial_tier_id,
                    e.initial_tier_name,
                    e.initial_tier_level,
                    place.sequence,
                    at,
                    at
                ],
                || None,
            )?;
        }
        AccountEvent::PurchaseRecorded(e) => {
            conn.prepare_held(
                "INSERT INTO orders (account_id, order_ref, business_id, amount, points_earned, transaction_id, location_id, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute_deferred(params![
                id,
                e.order_ref,
                place.business_id.to_string(),
                e.amount.to_string(),
                to_i64(e.points_earned)?,
                e.transaction_id.to_string(),
                e.location_id,
                at
            ])?;
            touch(conn, &id, place.sequence, &at)?;
        }
        AccountEvent::CardProgressed(e) => {
            let progress = serde_json::json!({
                "ruleType": e.rule_type,
                "unit": e.unit,
                "progress": e.progress,
                "target": e.target,
                "completedCards": e.completed_cards,
            });
            conn.prepare_held(
                "UPDATE accounts SET progress = ?2, version = ?3, updated_at = ?4 WHERE account_id = ?1",
            )?
            .execute_keyed(params![id, progress.to_string(), place.sequence, at], || {
                no_account_row(&id)
            })?;
        }
        AccountEvent::RewardIssued(e) => {
            conn.prepare_held(
                "INSERT INTO issued_rewards (issued_reward_id, account_id, business_id, reward_type, reward_value, order_ref, issued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute_deferred(params![
                e.issued_reward_id.to_string(),
                id,
                place.business_id.to_string(),
                serde_json::to_value(e.reward_type)?.as_str().unwrap_or_default(),
                e.reward_value,
                e.order_ref,
                at
            ])?;
            touch(conn, &id, place.sequence, &at)?;
        }
        AccountEvent::TierUpgraded(e) => set_tier(
            conn,
            &id,
            (Some(&e.to_tier_id), Some(&e.tier_name), Some(e.tier_level)),
            place.sequence,
            &at,
        )?,
        AccountEvent::PointsEarned(e) if e.pending_until.is_some() => {
            // Not spendable yet: no ledger entry until the release.
            add_pending(conn, &id, to_i64(e.points_earned)?, place.sequence, &at)?;
        }
        AccountEvent::PointsReleased(e) => {
            let released = to_i64(e.points_released)?;
            let total = to_i64(e.total_points)?;
            add_pending(conn, &id, -released, place.sequence, &at)?;
            post(
                conn,
                place,
                (&id, &at),
                ledger,
                released,
                &Ledger {
                    transaction_id: e.transaction_id.to_string(),
                    kind: "EARN",
                    points_changed: released,
                    new_balance: total,
                    reason: &match &e.order_ref {
                        Some(order_ref) => format!("Purchase {order_ref} (return window closed)"),
                        None => "Pending points released".to_owned(),
                    },
                    order_ref: e.order_ref.as_deref(),
                    reward_id: None,
                    expires_at: e.expires_at.map(time::format),
                    unrecovered_points: None,
                },
            )?;
        }
        AccountEvent::PointsExpired(e) => {
            let remaining = to_i64(e.remaining_points)?;
            post(
                conn,
                place,
                (&id, &at),
                ledger,
                0,
                &Ledger {
                    transaction_id: e.transaction_id.to_string(),
                    kind: "EXPIRE",
                    points_changed: -to_i64(e.points_expired)?,
                    new_balance: remaining,
                    reason: &format!("Points due {} expired", time::format(e.expiration_date)),
                    order_ref: None,
                    reward_id: None,
                    expires_at: Some(time::format(e.expiration_date)),
                    unrecovered_points: None,
                },
            )?;
        }
        AccountEvent::PointsEarned(e) => {
            let earned = to_i64(e.points_earned)?;
            let total = to_i64(e.total_points)?;
            post(
                conn,
                place,
                (&id, &at),
                ledger,
                earned,
                &Ledger {
                    transaction_id: e.transaction_id.to_string(),
                    kind: "EARN",
                    points_changed: earned,
                    new_balance: total,
                    reason: &e.reason,
                    order_ref: e.order_ref.as_deref(),
                    reward_id: None,
                    expires_at: e.expires_at.map(time::format),
                    unrecovered_points: None,
                },
            )?;
        }
        AccountEvent::PointsRedeemed(e) => {
            let remaining = to_i64(e.remaining_points)?;
            post(
                conn,
                place,
                (&id, &at),
                ledger,
                0,
                &Ledger {
                    transaction_id: e.transaction_id.to_string(),
                    kind: "REDEEM",
                    points_changed: -to_i64(e.points_redeemed)?,
                    new_balance: remaining,
                    reason: &e.reason,
                    order_ref: None,
                    reward_id: e.reward_id.map(|r| r.to_string()),
                    expires_at: None,
                    unrecovered_points: None,
                },
            )?;
        }
        AccountEvent::PointsReversed(e) => {
            let remaining = to_i64(e.remaining_points)?;
            post(
                conn,
                place,
                (&id, &at),
                ledger,
                0,
                &Ledger {
                    transaction_id: e.transaction_id.to_string(),
                    kind: "REVERSAL",
                    points_changed: -to_i64(e.points_deducted)?,
                    new_balance: remaining,
                    reason: &e.reason,
                    order_ref: Some(&e.order_ref),
                    reward_id: None,
                    expires_at: None,
                    unrecovered_points: Some(to_i64(e.unrecovered_points)?),
                },
            )?;
            if e.pending_cancelled > 0 {
                add_pending(conn, &id, -to_i64(e.pending_cancelled)?, place.sequence, &at)?;
            }
            conn.prepare_held(
                "UPDATE orders SET refunded_amount = ?3, points_reversed = points_reversed + ?4
                     WHERE account_id = ?1 AND order_ref = ?2",
            )?
            .execute_expecting(
                params![
                    id,
                    e.order_ref,
                    refunded_total(conn, &id, &e.order_ref, e.refund_amount)?,
                    to_i64(e.points_reversed)?
                ],
                1,
                StoreError::Corrupt(format!("no order {} for account {id}", e.order_ref)),
            )?;
        }
        AccountEvent::IssuedRewardUsed(e) => {
            conn.prepare_held(
                "UPDATE issued_rewards SET used_at = ?3 WHERE issued_reward_id = ?1 AND account_id = ?2",
            )?
            .execute_expecting(
                params![e.issued_reward_id.to_string(), id, time::format(e.used_at)],
                1,
                StoreError::Corrupt(format!("no issued reward {} on account {id}", e.issued_reward_id)),
            )?;
            touch(conn, &id, place.sequence, &at)?;
        }
        AccountEvent::TierDowngraded(e) => set_tier(
            conn,
            &id,
            (e.to_tier_id.as_ref(), e.tier_name.as_ref(), e.tier_level),
            place.sequence,
            &at,
        )?,
        AccountEvent::Suspended(_) => set_account_status(conn, &id, "SUSPENDED", place.sequence, &at)?,
        AccountEvent::Reactivated(_) => set_account_status(conn, &id, "ACTIVE", place.sequence, &at)?,
    }
    Ok(())
}

fn project_reward(conn: Db<'_>, place: &EventPlace, event: &RewardEvent) -> Result<(), StoreError> {
    let id = place.aggregate_id.to_string();
    let at = time::format(place.timestamp);
    match event {
        RewardEvent::Created(e) => {
            conn.prepare_held(
                "INSERT INTO rewards (reward_id, business_id, program_id, name, reward_type, points_cost, stock,
                                      remaining_stock, per_customer_limit, claimed_count, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, 0, ?9, ?10, ?10)",
            )?
            .execute_deferred(params![
                id,
                place.business_id.to_string(),
                e.program_id.to_string(),
                e.name,
                serde_json::to_value(e.reward_type)?.as_str().unwrap_or_default(),
                to_i64(e.points_cost)?,
                e.stock.map(to_i64).transpose()?,
                e.per_customer_limit,
                place.sequence,
                at
            ])?;
        }
        RewardEvent::Claimed(e) => {
            conn.prepare_held(
                "UPDATE rewards SET remaining_stock = ?2, claimed_count = claimed_count + 1, version = ?3,
                                        updated_at = ?4
                     WHERE reward_id = ?1",
            )?
            .execute_expecting(
                params![id, e.remaining_stock.map(to_i64).transpose()?, place.sequence, at],
                1,
                StoreError::Corrupt(format!("no reward row for {id}")),
            )?;
            conn.prepare_held(
                "INSERT INTO reward_claims (transaction_id, reward_id, business_id, account_id, customer_id, points_cost,
                                            claimed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute_deferred(params![
                e.transaction_id.to_string(),
                id,
                place.business_id.to_string(),
                e.account_id.to_string(),
                e.customer_id.as_str(),
                to_i64(e.points_cost)?,
                at
            ])?;
        }
    }
    Ok(())
}

/// The order's refunded amount after a refund of `amount`.
fn refunded_total(conn: Db<'_>, account_id: &str, order_ref: &str, amount: Money) -> Result<String, StoreError> {
    let so_far: Option<String> = conn
        .prepare_held("SELECT refunded_amount FROM orders WHERE account_id = ?1 AND order_ref = ?2")?
        .query_row(params![account_id, order_ref], |r| r.get(0))
        .optional()?;
    let so_far = so_far.ok_or_else(|| StoreError::Corrupt(format!("no order {order_ref} for account {account_id}")))?;
    let so_far = Money::parse("refunded_amount", &so_far)
        .map_err(|_| StoreError::Corrupt(format!("bad refunded amount {so_far:?} on order {order_ref}")))?;
    Ok(so_far.plus(amount).to_string())
}

struct Ledger<'a> {
    transaction_id: String,
    kind: &'static str,
    points_changed: i64,
    new_balance: i64,
    reason: &'a str,
    order_ref: Option<&'a str>,
    reward_id: Option<String>,
    expires_at: Option<String>,
    unrecovered_points: Option<i64>,
}

/// Post `entry`, made by the event at `place` (its time `at` as [`time::format`] writes it), to
/// the ledger of the account `id`: its ledger row, then the account's balance (and `earned` more
/// lifetime points). The row is also pushed onto `ledger`, when given: the writer answers the
/// command from it without reading it back (see [`project`]).
///
/// On SQLite the row is chained to the account's newest ledger row, and becomes it (see
/// `queries::transactions`): the insert reads the account's `ledger_head` before the balance's
/// update moves it on, so the two run in that order.
fn post(
    conn: Db<'_>,
    place: &EventPlace,
    (id, at): (&str, &str),
    ledger: Option<&mut Projected>,
    earned: i64,
    entry: &Ledger<'_>,
) -> Result<(), StoreError> {
    let insert = if conn.is_postgres() {
        "INSERT INTO transactions (transaction_id, position, account_id, business_id, type, points_changed, new_balance,
                                   reason, order_ref, reward_id, expires_at, timestamp, unrecovered_points)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    } else {
        "INSERT INTO transactions (transaction_id, position, account_id, business_id, type, points_changed, new_balance,
                                   reason, order_ref, reward_id, expires_at, timestamp, unrecovered_points,
                                   prev_position)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
                 (SELECT ledger_head FROM accounts WHERE account_id = ?3))"
    };
    conn.prepare_held(insert)?.insert_batched(
        params![
            entry.transaction_id,
            place.position,
            id,
            place.business_id.to_string(),
            entry.kind,
            entry.points_changed,
            entry.new_balance,
            entry.reason,
            entry.order_ref,
            entry.reward_id,
            entry.expires_at,
            at,
            entry.unrecovered_points
        ],
        || None,
    )?;
    let update = if conn.is_postgres() {
        "UPDATE accounts SET point_balance = ?2, lifetime_points = lifetime_points + ?3, version = ?4, updated_at = ?5
             WHERE account_id = ?1"
    } else {
        "UPDATE accounts SET point_balance = ?2, lifetime_points = lifetime_points + ?3, version = ?4, updated_at = ?5,
                             ledger_head = ?6
             WHERE account_id = ?1"
    };
    let balance = params![id, entry.new_balance, earned, place.sequence, at, place.position];
    // PostgreSQL's statement takes the first five.
    let balance = if conn.is_postgres() { &balance[..5] } else { balance };
    conn.prepare_held(update)?
        .execute_keyed(balance, || no_account_row(id))?;
    if let Some(ledger) = ledger {
        ledger.push((
            place.business_id,
            TransactionRow {
                transaction_id: entry.transaction_id.clone(),
                kind: entry.kind.to_owned(),
                points_changed: entry.points_changed,
                new_balance: entry.new_balance,
                reason: entry.reason.to_owned(),
                order_ref: entry.order_ref.map(str::to_owned),
                reward_id: entry.reward_id.clone(),
                expires_at: entry.expires_at.clone(),
                timestamp: at.to_owned(),
                unrecovered_points: entry.unrecovered_points,
            },
        ));
    }
    Ok(())
}

/// Change the account's pending points by `delta`.
fn add_pending(conn: Db<'_>, id: &str, delta: i64, version: i64, at: &str) -> Result<(), StoreError> {
    conn.prepare_held(
        "UPDATE accounts SET pending_points = pending_points + ?2, version = ?3, updated_at = ?4 WHERE account_id = ?1",
    )?
    .execute_keyed(params![id, delta, version, at], || no_account_row(id))
}

/// Move the account to a tier (`(None, None, None)`: below every tier).
fn set_tier(
    conn: Db<'_>,
    id: &str,
    (tier_id, name, level): (Option<&String>, Option<&String>, Option<u32>),
    version: i64,
    at: &str,
) -> Result<(), StoreError> {
    conn.prepare_held(
        "UPDATE accounts SET tier_id = ?2, tier_name = ?3, tier_level = ?4, version = ?5, updated_at = ?6
             WHERE account_id = ?1",
    )?
    .execute_keyed(params![id, tier_id, name, level, version, at], || no_account_row(id))
}

fn set_account_status(conn: Db<'_>, id: &str, status: &str, version: i64, at: &str) -> Result<(), StoreError> {
    conn.prepare_held("UPDATE accounts SET status = ?2, version = ?3, updated_at = ?4 WHERE account_id = ?1")?
        .execute_keyed(params![id, status, version, at], || no_account_row(id))
}

/// Record that the account moved to `version` without other column changes.
fn touch(conn: Db<'_>, id: &str, version: i64, at: &str) -> Result<(), StoreError> {
    conn.prepare_held("UPDATE accounts SET version = ?2, updated_at = ?3 WHERE account_id = ?1")?
        .execute_keyed(params![id, version, at], || no_account_row(id))
}

fn no_account_row(id: &str) -> StoreError {
    StoreError::Corrupt(format!("no account row for {id}"))
}

fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Corrupt(format!("points value {value} out of range")))
}
