//! A decision taken outside the writer: events a command decided on an aggregate's state as a
//! read connection saw it, made ready to append (each event's data and the new snapshot already
//! written as JSON), so that the writer's share is the writes alone, and a check that the
//! aggregate has not moved on since (see [`crate::WriteTx::append_decided`]). The sweeper
//! decides this way: the writer is the one thread every command waits for, and loading,
//! deciding and serializing are work any other thread can do.
//!
//! The check is of the version alone: it rests on a version naming one state. The one writer
//! that keeps a version and changes a snapshot is `loyalty projections rebuild`, repairing one
//! that drifted from its events; a decision taken on the drifted state just before is appended
//! as the writer itself would have decided it just before the repair.

use std::marker::PhantomData;

use loyalty_domain::{Aggregate, DomainEvent, LoyaltyEvent};
use serde::Serialize;
use uuid::Uuid;

use crate::write_tx::Loaded;
use crate::{time, StoreError};

/// `events` decided on `loaded`, with what appending them writes.
#[derive(Debug)]
pub struct Decided<A: Aggregate> {
    pub(crate) business_id: Uuid,
    pub(crate) aggregate_id: Uuid,
    /// The version the decision was taken at: the append's expected version.
    pub(crate) version: i64,
    pub(crate) events: Vec<StagedEvent>,
    /// The state after the events, as its snapshot stores it.
    pub(crate) state_json: String,
    /// When the state after the events is next due, as stored.
    pub(crate) due_at: Option<String>,
    aggregate: PhantomData<fn() -> A>,
}

/// An event as its append stores it.
#[derive(Debug)]
pub(crate) struct StagedEvent {
    pub(crate) event: LoyaltyEvent,
    pub(crate) event_type: &'static str,
    pub(crate) version: &'static str,
    /// Its data as JSON.
    pub(crate) data: String,
}

impl<A> Decided<A>
where
    A: Aggregate + Serialize,
    A::Event: DomainEvent + Into<LoyaltyEvent>,
{
    /// Apply `events` to a copy of `loaded`'s state and write out what appending them stores.
    pub fn new(loaded: &Loaded<A>, events: Vec<A::Event>) -> Result<Self, StoreError> {
        Self::with_state(loaded, events).map(|(decided, _)| decided)
    }

    /// [`Self::new`], and the state after the events.
    pub(crate) fn with_state(loaded: &Loaded<A>, events: Vec<A::Event>) -> Result<(Self, A), StoreError> {
        let mut state = loaded.state.clone();
        let mut written = Vec::with_capacity(events.len());
        for event in events {
            state.apply(&event);
            written.push(StagedEvent {
                event_type: event.event_type(),
                version: event.version(),
                data: serde_json::to_string(&event)?,
                event: event.into(),
            });
        }
        let decided = Self {
            business_id: loaded.business_id,
            aggregate_id: loaded.aggregate_id,
            version: loaded.version,
            events: written,
            state_json: serde_json::to_string(&state)?,
            due_at: state.due_at().map(time::format),
            aggregate: PhantomData,
        };
        Ok((decided, state))
    }

    /// The aggregate the events are for.
    pub fn aggregate_id(&self) -> Uuid {
        self.aggregate_id
    }
}
