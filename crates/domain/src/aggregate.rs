//! The one trait every aggregate implements: `handle` decides, `apply` folds.

/// An event-sourced aggregate.
///
/// `handle` holds every rule and may refuse a command; `apply` only folds an already-accepted
/// event into the state and cannot fail. State is therefore always `events.fold(apply)`.
pub trait Aggregate: Default + Clone {
    /// What a caller asks for.
    type Command;
    /// What happened; past tense, never renamed.
    type Event: Clone;
    /// Why a command was refused.
    type Error;

    /// The name stored with each event of this aggregate (`events.aggregate_type`).
    const AGGREGATE_TYPE: &'static str;

    /// The next moment the aggregate changes with time alone (something expires), for the
    /// sweeper that runs those commands; `None` when nothing is scheduled. Only accounts have
    /// one: the sweeper finds due aggregates by this time alone and loads them as accounts, so
    /// another aggregate with a due time would be found, skipped and found again by every sweep.
    fn due_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        None
    }

    /// Decide which events a command produces given the current state.
    fn handle(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Fold one event into the state.
    fn apply(&mut self, event: &Self::Event);

    /// Rebuild a state from its full history.
    fn from_events<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self
    where
        Self::Event: 'a,
    {
        let mut state = Self::default();
        for event in events {
            state.apply(event);
        }
        state
    }
}
