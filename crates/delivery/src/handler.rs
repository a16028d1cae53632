//! What reacts to events.

use loyalty_store::{EventFilter, StoreError, StoredEvent, WriteTx};

/// What a handler did with one event; kept in its inbox record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The handler's effects were written.
    Done,
    /// Nothing to do for this event (say, a program without a signup bonus).
    Skipped(String),
    /// A domain rule refused the handler's command; final, not retried.
    Refused(String),
}

impl Handled {
    pub fn outcome(&self) -> String {
        match self {
            Self::Done => "DONE".to_owned(),
            Self::Skipped(why) => format!("SKIPPED: {why}"),
            Self::Refused(why) => format!("REFUSED: {why}"),
        }
    }

    /// A bounded label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Skipped(_) => "skipped",
            Self::Refused(_) => "refused",
        }
    }
}

/// Reacts to committed events, writing its effects through the writer's transaction.
pub trait EventHandler: Send + Sync + 'static {
    /// A stable name: the key of the handler's inbox records and checkpoint.
    fn name(&self) -> &'static str;

    /// Whether this handler wants events of this type (others only move its checkpoint).
    fn handles(&self, event_type: &str) -> bool;

    /// Which events a subscription that follows the store reads for this handler: the store
    /// leaves out the others, so they are not read and decoded only to be passed over. It
    /// must not leave out an event the handler would act on (one it [`Self::handles`] and
    /// whose handling would have an effect).
    fn filter(&self) -> EventFilter {
        EventFilter::All
    }

    /// Whether deliveries go through the inbox. A handler whose effects are idempotent by
    /// themselves (a unique key on what it writes) may say no and save a row per event.
    fn needs_inbox(&self) -> bool {
        true
    }

    /// React to `event` inside the writer transaction `tx`. An `Err` rolls back the handler's
    /// effects and the event is retried.
    fn handle(&self, tx: &mut WriteTx<'_>, event: &StoredEvent) -> Result<Handled, StoreError>;
}
