//! What a command may do inside the writer's transaction: load aggregates from snapshots,
//! append events (which updates the snapshot and the read models), and keep idempotency records.

use crate::db::{params, Db, OptionalRow};
use chrono::{DateTime, SubsecRound, Utc};
use loyalty_domain::account::OrderFacts;
use loyalty_domain::values::Money;
use loyalty_domain::{Aggregate, DomainEvent, LoyaltyEvent};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use uuid::Uuid;

use crate::decided::{Decided, StagedEvent};
use crate::envelope::EventPlace;
use crate::postgres::SnapshotRow;
use crate::projection::{project, Projected};
use crate::queries;
use crate::shared_loads::SharedLoads;
use crate::views::{AccountView, ProgramView, RewardView, TransactionView};
use crate::{time, Business, EventMetadata, IdempotencyRecord, JsonBody, StoreError, StoredEvent, StoredResponse};

/// An idempotency row as the record it keeps.
fn idempotency_record((request_hash, status, body): (String, u16, String)) -> Result<IdempotencyRecord, StoreError> {
    // Checked, not parsed into a value: a damaged row fails here instead of being sent.
    serde_json::from_str::<serde::de::IgnoredAny>(&body)?;
    Ok(IdempotencyRecord {
        request_hash,
        response: StoredResponse {
            status,
            body: JsonBody::kept(body),
        },
    })
}

/// An aggregate's state as of its latest event, with the version an append must follow.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    pub business_id: Uuid,
    pub aggregate_id: Uuid,
    /// The number of events so far; 0 for an aggregate that does not exist yet.
    pub version: i64,
    pub state: A,
}

impl<A: Aggregate + DeserializeOwned> Loaded<A> {
    /// The aggregate a snapshot row holds, as its owner's; `None` when it is not of type `A`.
    pub(crate) fn of_any_business(
        aggregate_id: Uuid,
        (owner, aggregate_type, version, state): SnapshotRow,
    ) -> Result<Option<Self>, StoreError> {
        if aggregate_type != A::AGGREGATE_TYPE {
            return Ok(None);
        }
        Ok(Some(Self {
            business_id: queries::uuid(&owner)?,
            aggregate_id,
            version,
            state: serde_json::from_str(&state)?,
        }))
    }
}

/// The writer's transaction as seen by one command.
pub struct WriteTx<'c> {
    db: Db<'c>,
    now: DateTime<Utc>,
    /// Each business's webhook subscriptions, read once per job (a page of events fans out
    /// to them; see [`Self::webhook_enqueue`]).
    webhooks: HashMap<Uuid, Vec<crate::Webhook>>,
    /// Aggregates loaded for every command of the transaction (see [`Self::load_shared`]).
    shared: &'c SharedLoads,
    /// The ledger rows this command's appends projected, with their business: the answer of
    /// a command that just wrote one, without reading it back (see [`Self::transaction_view`]).
    ledger: Projected,
}

impl<'c> WriteTx<'c> {
    /// `now` is cut to microseconds, the precision timestamps are stored with, so a time a
    /// decision derives from it (an `expiresAt`) reads back exactly as the aggregate holds it.
    pub(crate) fn new(db: Db<'c>, now: DateTime<Utc>, shared: &'c SharedLoads) -> Self {
        Self {
            db,
            now: now.trunc_subsecs(6),
            webhooks: HashMap::new(),
            shared,
            ledger: Vec::new(),
        }
    }

    /// The time this batch is stamped with.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Load an aggregate of `business_id`. `None` when the id belongs to another business: the
    /// caller answers exactly as if it did not exist. A fresh id loads as the default state.
    pub fn load<A>(&self, business_id: Uuid, aggregate_id: Uuid) -> Result<Option<Loaded<A>>, StoreError>
    where
        A: Aggregate + DeserializeOwned,
    {
        let Some((owner, aggregate_type, version, state)) = self.snapshot_row(aggregate_id)? else {
            return Ok(Some(Loaded {
                business_id,
                aggregate_id,
                version: 0,
                state: A::default(),
            }));
        };
        if owner != business_id.to_string() || aggregate_type != A::AGGREGATE_TYPE {
            return Ok(None);
        }
        Ok(Some(Loaded {
            business_id,
            aggregate_id,
            version,
            state: serde_json::from_str(&state)?,
        }))
    }

    /// Load an aggregate that exists, of whichever business owns it: the sweeper's load, which
    /// finds the accounts it matures by their due time alone, and acts for their owner. Never
    /// for an id a client sent: that goes through [`Self::load`], which checks the business.
    /// `None` when there is none of type `A` by that id.
    pub fn load_any_business<A>(&self, aggregate_id: Uuid) -> Result<Option<Loaded<A>>, StoreError>
    where
        A: Aggregate + DeserializeOwned,
    {
        match self.snapshot_row(aggregate_id)? {
            Some(row) => Loaded::of_any_business(aggregate_id, row),
            None => Ok(None),
        }
    }

    /// An aggregate's snapshot row (the row PostgreSQL's transaction caches, read the same way
    /// from either backend).
    fn snapshot_row(&self, aggregate_id: Uuid) -> Result<Option<SnapshotRow>, StoreError> {
        let id = aggregate_id.to_string();
        if let Db::Pg(conn) = self.db {
            if let Some(row) = conn.cached_snapshot(&id) {
                return Ok(row);
            }
        }
        let row = queries::snapshot_row(self.db, &id)?;
        if let Db::Pg(conn) = self.db {
            conn.cache_snapshot(id, row.clone());
        }
        Ok(row)
    }

    /// [`Self::load`] for an aggregate that many commands of a batch read and few change (a
    /// program): loaded once per writer transaction, and shared by its commands until one
    /// appends to it (see [`crate::shared_loads`]).
    pub fn load_shared<A>(&self, business_id: Uuid, aggregate_id: Uuid) -> Result<Option<Rc<Loaded<A>>>, StoreError>
    where
        A: Aggregate + DeserializeOwned + 'static,
    {
        if let Some(loaded) = self.shared.get::<A>(aggregate_id) {
            if loaded.business_id == business_id {
                return Ok(Some(loaded));
            }
        }
        let Some(loaded) = self.load::<A>(business_id, aggregate_id)? else {
            return Ok(None);
        };
        let loaded = Rc::new(loaded);
        self.shared.put(Rc::clone(&loaded));
        Ok(Some(loaded))
    }

    /// Append `events` after `loaded.version`, update the snapshot and project each event; the
    /// state after them. Fails with [`StoreError::Conflict`] when another writer appended first.
    pub fn append<A>(
        &mut self,
        loaded: &Loaded<A>,
        events: Vec<A::Event>,
        metadata: &EventMetadata,
    ) -> Result<A, StoreError>
    where
        A: Aggregate + Serialize,
        A::Event: DomainEvent + Into<LoyaltyEvent>,
    {
        let (decided, state) = Decided::with_state(loaded, events)?;
        if !self.write_decided(&decided, metadata)? {
            return Err(StoreError::Conflict {
                aggregate_id: loaded.aggregate_id.to_string(),
                expected: loaded.version as u64,
            });
        }
        Ok(state)
    }

    /// Append what was decided outside the writer (see [`Decided`]), if the aggregate is still at
    /// the version it was decided on; `false`, with nothing written, if it has moved on since
    /// (the caller decides again on its state now).
    pub fn append_decided<A: Aggregate>(
        &mut self,
        decided: &Decided<A>,
        metadata: &EventMetadata,
    ) -> Result<bool, StoreError> {
        if let Db::Pg(_) = self.db {
            // PostgreSQL's snapshot writes wait for the flush, whose version check fails the
            // whole batch: the version is checked here first (from the transaction's cache
            // when the job prefetched it).
            let version = self.snapshot_row(decided.aggregate_id)?.map_or(0, |row| row.2);
            if version != decided.version {
                return Ok(false);
            }
        }
        self.write_decided(decided, metadata)
    }

    /// Write the snapshot after `decided` (checking its version), then its events, each
    /// projected; `false`, with nothing written, when the snapshot is not at the version the
    /// events were decided on.
    fn write_decided<A: Aggregate>(
        &mut self,
        decided: &Decided<A>,
        metadata: &EventMetadata,
    ) -> Result<bool, StoreError> {
        self.shared.forget(decided.aggregate_id);
        if !self.save_snapshot(decided)? {
            return Ok(false);
        }
        let metadata_json = serde_json::to_string(metadata)?;
        for (sequence, staged) in (decided.version + 1..).zip(&decided.events) {
            let mut place = EventPlace {
                business_id: decided.business_id,
                aggregate_id: decided.aggregate_id,
                sequence,
                position: 0,
                timestamp: self.now,
            };
            place.position = self.insert_event(&place, A::AGGREGATE_TYPE, staged, &metadata_json)?;
            project(self.db, &place, &staged.event, Some(&mut self.ledger))?;
        }
        Ok(true)
    }

    /// Store `staged` at `place` (its position is given out here); the position.
    fn insert_event(
        &self,
        place: &EventPlace,
        aggregate_type: &str,
        staged: &StagedEvent,
        metadata_json: &str,
    ) -> Result<i64, StoreError> {
        let conflict = || StoreError::Conflict {
            aggregate_id: place.aggregate_id.to_string(),
            expected: (place.sequence - 1) as u64,
        };
        let timestamp = time::format(place.timestamp);
        let (event_id, aggregate_id, business_id) = (
            Uuid::now_v7().to_string(),
            place.aggregate_id.to_string(),
            place.business_id.to_string(),
        );
        // PostgreSQL: this transaction holds the event-log lock, so it gives out the positions
        // itself, and the insert joins the command's pipeline. SQLite: the position is the
        // rowid, and a NULL one is the next; it is read back as the connection's last inserted
        // rowid (the events table has no triggers). Not with `RETURNING position`: SQLite runs
        // a statement with RETURNING as one that may write several rows, in a statement
        // journal of its own, which copied every page the insert changed, and collects the
        // returned rows: 37,000 of the writer's 111,000 instructions per accrual appended
        // (callgrind).
        let given = match self.db {
            Db::Pg(conn) => Some(conn.next_position()?),
            Db::Sqlite(..) => None,
        };
        self.db
            .prepare_held(
                "INSERT INTO events (position, event_id, event_type, version, timestamp, aggregate_type,
                                     aggregate_id, sequence, business_id, data, metadata)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .insert_batched(
                params![
                    given,
                    event_id,
                    staged.event_type,
                    staged.version,
                    timestamp,
                    aggregate_type,
                    aggregate_id,
                    place.sequence,
                    business_id,
                    staged.data,
                    metadata_json,
                ],
                || Some(conflict()),
            )?;
        match (self.db, given) {
            (Db::Sqlite(conn, _), _) => Ok(conn.last_insert_rowid()),
            (Db::Pg(_), Some(position)) => Ok(position),
            (Db::Pg(_), None) => Err(StoreError::Corrupt("an event appended without a position".to_owned())),
        }
    }

    /// Write the snapshot after `decided`, if it is still at the version `decided` follows;
    /// whether it was. PostgreSQL's write waits for the flush, which checks the version then
    /// (failing the batch with a conflict), so there it is always `true`.
    fn save_snapshot<A: Aggregate>(&self, decided: &Decided<A>) -> Result<bool, StoreError> {
        let id = decided.aggregate_id.to_string();
        let version = decided.version + decided.events.len() as i64;
        if let Db::Pg(conn) = self.db {
            let conflict = StoreError::Conflict {
                aggregate_id: id.clone(),
                expected: decided.version as u64,
            };
            // One row of the flush's multi-row snapshot writes (see `postgres::bulk`).
            conn.defer_snapshot(
                id,
                decided.version,
                (
                    decided.business_id.to_string(),
                    A::AGGREGATE_TYPE.to_owned(),
                    version,
                    decided.state_json.clone(),
                ),
                decided.due_at.clone(),
                conflict,
            );
            return Ok(true);
        }
        let changed = if decided.version == 0 {
            self.db
                .prepare_held(
                    "INSERT INTO snapshots (aggregate_id, aggregate_type, business_id, version, state, due_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (aggregate_id) DO NOTHING",
                )?
                .execute(params![
                    id,
                    A::AGGREGATE_TYPE,
                    decided.business_id.to_string(),
                    version,
                    decided.state_json,
                    decided.due_at
                ])?
        } else {
            self.db
                .prepare_held(
                    "UPDATE snapshots SET version = ?3, state = ?4, due_at = ?5 WHERE aggregate_id = ?1 AND version = ?2",
                )?
                .execute(params![id, decided.version, version, decided.state_json, decided.due_at])?
        };
        Ok(changed == 1)
    }

    /// The first answer to `key`, if this business used it before.
    pub fn idempotency_get(&self, business_id: Uuid, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let business = business_id.to_string();
        if let Db::Pg(conn) = self.db {
            if let Some(row) = conn.cached_idempotency(&business, key) {
                return row.map(idempotency_record).transpose();
            }
        }
        let row: Option<(String, u16, String)> = self
            .db
            .prepare_held(
                "SELECT request_hash, status, body FROM idempotency WHERE business_id = ?1 AND idem_key = ?2",
            )?
            .query_row(params![business, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        if let Db::Pg(conn) = self.db {
            conn.cache_idempotency(business, key.to_owned(), row.clone());
        }
        row.map(idempotency_record).transpose()
    }

    /// Keep the answer to `key`, in this transaction.
    pub fn idempotency_put(&self, business_id: Uuid, key: &str, record: &IdempotencyRecord) -> Result<(), StoreError> {
        let body = record.response.body.as_str();
        if let Db::Pg(conn) = self.db {
            // A second command of the batch with this key replays this answer.
            conn.cache_idempotency(
                business_id.to_string(),
                key.to_owned(),
                Some((record.request_hash.clone(), record.response.status, body.to_owned())),
            );
        }
        self.db
            .prepare_held(
                "INSERT INTO idempotency (business_id, idem_key, request_hash, status, body, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .insert_batched(
                params![
                    business_id.to_string(),
                    key,
                    record.request_hash,
                    record.response.status,
                    body,
                    time::format(self.now)
                ],
                || None,
            )?;
        Ok(())
    }

    /// Which of `email_keys` (lower case) an account of `program_id` already has: on
    /// PostgreSQL a round trip per ten thousand keys, not per key.
    pub fn emails_taken(&self, program_id: Uuid, email_keys: &[String]) -> Result<HashSet<String>, StoreError> {
        match self.db {
            Db::Pg(conn) => Ok(conn
                .taken_email_keys(&program_id.to_string(), email_keys)?
                .into_iter()
                .collect()),
            Db::Sqlite(..) => {
                let mut taken = HashSet::new();
                for key in email_keys {
                    if self.email_taken(program_id, key)? {
                        taken.insert(key.clone());
                    }
                }
                Ok(taken)
            }
        }
    }

    /// Read the snapshots of many aggregates ahead of loading them: on PostgreSQL a round trip
    /// per ten thousand aggregates, not one per [`Self::load`]. Nothing to do on SQLite, whose
    /// reads are in-process.
    pub fn prefetch(&self, aggregate_ids: &[Uuid]) -> Result<(), StoreError> {
        if let Db::Pg(conn) = self.db {
            let ids: Vec<String> = aggregate_ids.iter().map(Uuid::to_string).collect();
            conn.prefetch_snapshots(&ids)?;
        }
        Ok(())
    }

    /// Send the writes queued so far (on PostgreSQL; on SQLite each is done at once): a long
    /// job sends them in parts instead of holding them all until it ends.
    pub fn flush(&self) -> Result<(), StoreError> {
        match self.db {
            Db::Pg(conn) => conn.flush(),
            Db::Sqlite(..) => Ok(()),
        }
    }

    /// Whether an account of `program_id` already has this email (compared in lower case).
    pub fn email_taken(&self, program_id: Uuid, email_key: &str) -> Result<bool, StoreError> {
        self.db
            .prepare_held("SELECT 1 FROM accounts WHERE program_id = ?1 AND email_key = ?2")?
            .exists(params![program_id.to_string(), email_key])
    }

    /// Whether this account already recorded a purchase with this order reference.
    pub fn order_seen(&self, account_id: Uuid, order_ref: &str) -> Result<bool, StoreError> {
        self.db
            .prepare_held("SELECT 1 FROM orders WHERE account_id = ?1 AND order_ref = ?2")?
            .exists(params![account_id.to_string(), order_ref])
    }

    /// The purchase `order_ref` of an account, with what refunds took back from it so far.
    pub fn order_facts(&self, account_id: Uuid, order_ref: &str) -> Result<Option<OrderFacts>, StoreError> {
        let row: Option<(String, i64, String, i64)> = self
            .db
            .prepare_held(
                "SELECT amount, points_earned, refunded_amount, points_reversed FROM orders
                 WHERE account_id = ?1 AND order_ref = ?2",
            )?
            .query_row(params![account_id.to_string(), order_ref], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let Some((amount, points_earned, refunded, points_reversed)) = row else {
            return Ok(None);
        };
        let money = |raw: &str| {
            Money::parse("amount", raw)
                .map_err(|_| StoreError::Corrupt(format!("bad amount {raw:?} on order {order_ref}")))
        };
        let count =
            |n: i64| u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative points on order {order_ref}")));
        Ok(Some(OrderFacts {
            amount: money(&amount)?,
            points_earned: count(points_earned)?,
            refunded: money(&refunded)?,
            points_reversed: count(points_reversed)?,
        }))
    }

    /// Whether `handler` already handled `event_id`.
    pub fn inbox_seen(&self, handler: &str, event_id: Uuid) -> Result<bool, StoreError> {
        self.db
            .prepare_held("SELECT 1 FROM inbox WHERE handler = ?1 AND event_id = ?2")?
            .exists(params![handler, event_id.to_string()])
    }

    /// Record that `handler` handled `event_id`, in the transaction of the handler's effects.
    pub fn inbox_record(&self, handler: &str, event_id: Uuid, outcome: &str) -> Result<(), StoreError> {
        self.db
            .prepare_held("INSERT INTO inbox (handler, event_id, outcome, handled_at) VALUES (?1, ?2, ?3, ?4)")?
            .execute_deferred(params![handler, event_id.to_string(), outcome, time::format(self.now)])?;
        Ok(())
    }

    /// Move the checkpoint `name` to `position`.
    pub fn checkpoint_set(&self, name: &str, position: i64) -> Result<(), StoreError> {
        self.db
            .prepare_held(
                "INSERT INTO checkpoints (name, position, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
            )?
            .execute_deferred(params![name, position, time::format(self.now)])?;
        Ok(())
    }

    /// Record that `handler` gave up on `event` after `attempts` attempts; answers the dead
    /// letter's id (the same one when the handler had given up on it before).
    pub fn dead_letter_put(
        &self,
        handler: &str,
        event: &StoredEvent,
        error: &str,
        reason: &str,
        attempts: u32,
    ) -> Result<Uuid, StoreError> {
        crate::dead_letter::put(self.db, self.now, handler, event, error, reason, attempts)
    }

    /// Remove a dead letter; whether it existed.
    pub fn dead_letter_delete(&self, id: Uuid) -> Result<bool, StoreError> {
        crate::dead_letter::delete(self.db, id)
    }

    /// Add a webhook subscription.
    pub fn webhook_insert(&mut self, hook: &crate::Webhook) -> Result<(), StoreError> {
        self.webhooks.clear();
        crate::webhooks::insert(self.db, hook)
    }

    /// Remove a business's subscription and its pending deliveries; whether it existed.
    pub fn webhook_delete(&mut self, business_id: Uuid, webhook_id: Uuid) -> Result<bool, StoreError> {
        self.webhooks.clear();
        crate::webhooks::delete(self.db, business_id, webhook_id)
    }

    /// Queue `event` for the subscriptions of its business that want it; how many.
    pub fn webhook_enqueue(&mut self, event: &StoredEvent) -> Result<usize, StoreError> {
        let hooks = match self.webhooks.entry(event.business_id) {
            std::collections::hash_map::Entry::Occupied(hooks) => hooks.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(crate::webhooks::list(self.db, event.business_id)?)
            }
        };
        crate::webhooks::enqueue(self.db, self.now, event, hooks)
    }

    /// Record a delivery attempt: delivered, or failed with the time of the next attempt
    /// (`None`: that was the last, the delivery is dead).
    pub fn webhook_record_attempt(
        &self,
        delivery_id: Uuid,
        status_code: Option<u16>,
        outcome: Result<(), (String, Option<DateTime<Utc>>)>,
    ) -> Result<(), StoreError> {
        crate::webhooks::record_attempt(self.db, self.now, delivery_id, status_code, outcome)
    }

    /// Queue a delivery to be sent again now.
    pub fn webhook_replay(
        &self,
        webhook_id: Uuid,
        delivery_id: Uuid,
    ) -> Result<Option<crate::WebhookDelivery>, StoreError> {
        crate::webhooks::replay(self.db, self.now, webhook_id, delivery_id)
    }

    /// Switch loyalty on or off at a location, for a program.
    pub fn location_put(
        &self,
        business_id: Uuid,
        location_id: &str,
        program_id: Uuid,
        enabled: bool,
    ) -> Result<crate::Location, StoreError> {
        crate::restaurant::location_put(self.db, self.now, business_id, location_id, program_id, enabled)
    }

    /// A location's switch.
    pub fn location(&self, business_id: Uuid, location_id: &str) -> Result<Option<crate::Location>, StoreError> {
        crate::restaurant::location(self.db, business_id, location_id)
    }

    /// Link a table order to a member's account.
    pub fn table_order_link_put(
        &self,
        business_id: Uuid,
        table_order_id: &str,
        account_id: Uuid,
    ) -> Result<(), StoreError> {
        crate::restaurant::link_put(self.db, self.now, business_id, table_order_id, account_id)
    }

    /// The account a table order was linked to.
    pub fn table_order_account(&self, business_id: Uuid, table_order_id: &str) -> Result<Option<Uuid>, StoreError> {
        crate::restaurant::linked_account(self.db, business_id, table_order_id)
    }

    /// The account of a customer in a program.
    pub fn account_of_customer(&self, program_id: Uuid, customer_id: &str) -> Result<Option<Uuid>, StoreError> {
        crate::restaurant::account_of_customer(self.db, program_id, customer_id)
    }

    /// An upstream payment already received.
    pub fn payment(
        &self,
        business_id: Uuid,
        source: &str,
        payment_ref: &str,
    ) -> Result<Option<crate::PaymentRecord>, StoreError> {
        crate::restaurant::payment(self.db, business_id, source, payment_ref)
    }

    /// Record an upstream payment and its outcome (once: a second one is a unique violation).
    pub fn payment_put(
        &self,
        business_id: Uuid,
        source: &str,
        payment_ref: &str,
        location_id: Option<&str>,
        amount: &str,
        record: &crate::PaymentRecord,
    ) -> Result<(), StoreError> {
        crate::restaurant::payment_put(
            self.db,
            self.now,
            business_id,
            source,
            payment_ref,
            location_id,
            amount,
            record,
        )
    }

    /// A payment that found no member.
    pub fn unclaimed_payment(
        &self,
        business_id: Uuid,
        source: &str,
        payment_ref: &str,
    ) -> Result<Option<crate::UnclaimedPayment>, StoreError> {
        crate::restaurant::unclaimed(self.db, business_id, source, payment_ref)
    }

    /// Mark a payment claimed: it accrued for `account_id` as `transaction_id`.
    pub fn payment_claimed(
        &self,
        business_id: Uuid,
        source: &str,
        payment_ref: &str,
        account_id: Uuid,
        transaction_id: Uuid,
    ) -> Result<(), StoreError> {
        crate::restaurant::claimed(self.db, business_id, source, payment_ref, account_id, transaction_id)
    }

    /// Record a notification sent to a member.
    pub fn record_notification(
        &self,
        business_id: Uuid,
        account_id: Uuid,
        kind: &str,
        body: &serde_json::Value,
        caused_by: Uuid,
    ) -> Result<(), StoreError> {
        self.db
            .prepare_held(
                "INSERT INTO notifications (notification_id, business_id, account_id, kind, body, caused_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute_deferred(params![
                Uuid::now_v7().to_string(),
                business_id.to_string(),
                account_id.to_string(),
                kind,
                serde_json::to_string(body)?,
                caused_by.to_string(),
                time::format(self.now)
            ])?;
        Ok(())
    }

    /// How often this customer has claimed this reward.
    pub fn reward_claims_by_customer(&self, reward_id: Uuid, customer_id: &str) -> Result<u64, StoreError> {
        let count: i64 = self
            .db
            .prepare_held("SELECT COUNT(*) FROM reward_claims WHERE reward_id = ?1 AND customer_id = ?2")?
            .query_row(params![reward_id.to_string(), customer_id], |r| r.get(0))?;
        Ok(count as u64)
    }

    /// How many rewards a program's catalogue holds.
    pub fn reward_count(&self, program_id: Uuid) -> Result<u64, StoreError> {
        let count: i64 = self
            .db
            .prepare_held("SELECT COUNT(*) FROM rewards WHERE program_id = ?1")?
            .query_row([program_id.to_string()], |r| r.get(0))?;
        Ok(count as u64)
    }

    /// How many accounts a program has.
    pub fn account_count(&self, program_id: Uuid) -> Result<u64, StoreError> {
        let count: i64 = self
            .db
            .prepare_held("SELECT COUNT(*) FROM accounts WHERE program_id = ?1")?
            .query_row([program_id.to_string()], |r| r.get(0))?;
        Ok(count as u64)
    }

    /// Register a business with the hash of its API key.
    pub fn insert_business(&self, name: &str, api_key_hash: &str) -> Result<Business, StoreError> {
        let business = Business {
            business_id: Uuid::now_v7(),
            name: name.to_owned(),
            created_at: self.now,
        };
        self.db
            .prepare_held(
                "INSERT INTO businesses (business_id, name, api_key_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                business.business_id.to_string(),
                name,
                api_key_hash,
                time::format(self.now)
            ])?;
        Ok(business)
    }

    pub fn account_view(&self, business_id: Uuid, account_id: Uuid) -> Result<Option<AccountView>, StoreError> {
        queries::account(self.db, business_id, account_id)
    }

    pub fn program_view(&self, business_id: Uuid, program_id: Uuid) -> Result<Option<ProgramView>, StoreError> {
        queries::program(self.db, business_id, program_id)
    }

    pub fn reward_view(&self, business_id: Uuid, reward_id: Uuid) -> Result<Option<RewardView>, StoreError> {
        queries::reward(self.db, business_id, reward_id)
    }

    /// A ledger row as this transaction has it: one this command's appends projected is
    /// answered from what they projected, without reading it back.
    pub fn transaction_view(
        &self,
        business_id: Uuid,
        transaction_id: Uuid,
    ) -> Result<Option<TransactionView>, StoreError> {
        let id = transaction_id.to_string();
        match self.ledger.iter().rfind(|(_, row)| row.transaction_id == id) {
            Some((owner, row)) if *owner == business_id => row.clone().into_view().map(Some),
            Some(_) => Ok(None),
            None => queries::transaction(self.db, business_id, transaction_id),
        }
    }
}
