//! The restaurant integration's state: locations (the rollout switch), table-order links and the
//! upstream payments already received. Configuration and dedupe records, not projections of
//! events, so the rebuild leaves them alone.

use crate::db::{params, Db, OptionalRow};
use crate::queries::uuid;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{time, StoreError};

/// One location's switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub location_id: String,
    pub program_id: Uuid,
    pub loyalty_enabled: bool,
    pub updated_at: DateTime<Utc>,
}

/// An upstream payment as first received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub outcome: String,
    pub account_id: Option<Uuid>,
    pub transaction_id: Option<Uuid>,
}

pub(crate) fn location_put(
    conn: Db<'_>,
    now: DateTime<Utc>,
    business_id: Uuid,
    location_id: &str,
    program_id: Uuid,
    enabled: bool,
) -> Result<Location, StoreError> {
    conn.prepare_held(
        "INSERT INTO locations (business_id, location_id, program_id, loyalty_enabled, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (business_id, location_id) DO UPDATE SET program_id = excluded.program_id,
             loyalty_enabled = excluded.loyalty_enabled, updated_at = excluded.updated_at",
    )?
    .execute(params![
        business_id.to_string(),
        location_id,
        program_id.to_string(),
        enabled,
        time::format(now)
    ])?;
    Ok(Location {
        location_id: location_id.to_owned(),
        program_id,
        loyalty_enabled: enabled,
        updated_at: now,
    })
}

pub(crate) fn location(conn: Db<'_>, business_id: Uuid, location_id: &str) -> Result<Option<Location>, StoreError> {
    let row: Option<(String, bool, String)> = conn
        .prepare_held(
            "SELECT program_id, loyalty_enabled, updated_at FROM locations WHERE business_id = ?1 AND location_id = ?2",
        )?
        .query_row(params![business_id.to_string(), location_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    row.map(|(program, enabled, updated)| {
        Ok(Location {
            location_id: location_id.to_owned(),
            program_id: uuid(&program)?,
            loyalty_enabled: enabled,
            updated_at: time::parse(&updated)?,
        })
    })
    .transpose()
}

pub(crate) fn locations(conn: Db<'_>, business_id: Uuid) -> Result<Vec<Location>, StoreError> {
    let mut stmt = conn.prepare_held(
        "SELECT location_id, program_id, loyalty_enabled, updated_at FROM locations WHERE business_id = ?1
         ORDER BY location_id",
    )?;
    let rows: Vec<(String, String, bool, String)> = stmt
        .query_map([business_id.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(location_id, program, enabled, updated)| {
            Ok(Location {
                location_id,
                program_id: uuid(&program)?,
                loyalty_enabled: enabled,
                updated_at: time::parse(&updated)?,
            })
        })
        .collect()
}

pub(crate) fn link_put(
    conn: Db<'_>,
    now: DateTime<Utc>,
    business_id: Uuid,
    table_order_id: &str,
    account_id: Uuid,
) -> Result<(), StoreError> {
    conn.prepare_held(
        "INSERT INTO table_order_links (business_id, table_order_id, account_id, linked_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (business_id, table_order_id) DO UPDATE SET account_id = excluded.account_id,
             linked_at = excluded.linked_at",
    )?
    .execute(params![
        business_id.to_string(),
        table_order_id,
        account_id.to_string(),
        time::format(now)
    ])?;
    Ok(())
}

pub(crate) fn linked_account(
    conn: Db<'_>,
    business_id: Uuid,
    table_order_id: &str,
) -> Result<Option<Uuid>, StoreError> {
    let found: Option<String> = conn
        .prepare_held("SELECT account_id FROM table_order_links WHERE business_id = ?1 AND table_order_id = ?2")?
        .query_row(params![business_id.to_string(), table_order_id], |r| r.get(0))
        .optional()?;
    found.as_deref().map(uuid).transpose()
}

pub(crate) fn account_of_customer(
    conn: Db<'_>,
    program_id: Uuid,
    customer_id: &str,
) -> Result<Option<Uuid>, StoreError> {
    let found: Option<String> = conn
        .prepare_held("SELECT account_id FROM accounts WHERE program_id = ?1 AND customer_id = ?2 LIMIT 1")?
        .query_row(params![program_id.to_string(), customer_id], |r| r.get(0))
        .optional()?;
    found.as_deref().map(uuid).transpose()
}

pub(crate) fn payment(
    conn: Db<'_>,
    business_id: Uuid,
    source: &str,
    payment_ref: &str,
) -> Result<Option<PaymentRecord>, StoreError> {
    let row: Option<(String, Option<String>, Option<String>)> = conn
        .prepare_held(
            "SELECT outcome, account_id, transaction_id FROM payments
             WHERE business_id = ?1 AND source = ?2 AND payment_ref = ?3",
        )?
        .query_row(params![business_id.to_string(), source, payment_ref], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    row.map(|(outcome, account, transaction)| {
        Ok(PaymentRecord {
            outcome,
            account_id: account.as_deref().map(uuid).transpose()?,
            transaction_id: transaction.as_deref().map(uuid).transpose()?,
        })
    })
    .transpose()
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn payment_put(
    conn: Db<'_>,
    now: DateTime<Utc>,
    business_id: Uuid,
    source: &str,
    payment_ref: &str,
    location_id: Option<&str>,
    amount: &str,
    record: &PaymentRecord,
) -> Result<(), StoreError> {
    conn.prepare_held(
        "INSERT INTO payments (business_id, source, payment_ref, location_id, amount, outcome, account_id,
                               transaction_id, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        business_id.to_string(),
        source,
        payment_ref,
        location_id,
        amount,
        record.outcome,
        record.account_id.map(|a| a.to_string()),
        record.transaction_id.map(|t| t.to_string()),
        time::format(now)
    ])?;
    Ok(())
}

/// A payment that found no member, waiting for a late claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnclaimedPayment {
    pub location_id: Option<String>,
    /// The amount that earns (tip excluded), as a decimal string.
    pub amount: String,
    pub received_at: DateTime<Utc>,
}

/// A payment that found no member, for a late claim.
pub(crate) fn unclaimed(
    conn: Db<'_>,
    business_id: Uuid,
    source: &str,
    payment_ref: &str,
) -> Result<Option<UnclaimedPayment>, StoreError> {
    let row: Option<(Option<String>, String, String)> = conn
        .prepare_held(
            "SELECT location_id, amount, received_at FROM payments
             WHERE business_id = ?1 AND source = ?2 AND payment_ref = ?3 AND outcome = 'NO_ACCOUNT'",
        )?
        .query_row(params![business_id.to_string(), source, payment_ref], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    row.map(|(location_id, amount, at)| {
        Ok(UnclaimedPayment {
            location_id,
            amount,
            received_at: time::parse(&at)?,
        })
    })
    .transpose()
}

/// Mark a payment claimed by a member: it accrued for them.
pub(crate) fn claimed(
    conn: Db<'_>,
    business_id: Uuid,
    source: &str,
    payment_ref: &str,
    account_id: Uuid,
    transaction_id: Uuid,
) -> Result<(), StoreError> {
    conn.prepare_held(
        "UPDATE payments SET outcome = 'CLAIMED', account_id = ?4, transaction_id = ?5
         WHERE business_id = ?1 AND source = ?2 AND payment_ref = ?3",
    )?
    .execute(params![
        business_id.to_string(),
        source,
        payment_ref,
        account_id.to_string(),
        transaction_id.to_string()
    ])?;
    Ok(())
}
