//! Event delivery. Handlers react to events after they are committed, each event handled once
//! per handler: the handler's effects, its inbox record `(handler, eventId)` and its checkpoint
//! commit in one transaction of the writer, so a crash half-way leaves nothing half-done and a
//! redelivered event (a reset checkpoint, a retried read) finds its inbox record and does nothing.

mod handler;
mod subscription;

pub use handler::{EventHandler, Handled};
pub use subscription::{Subscription, SubscriptionSettings};
