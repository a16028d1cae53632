//! Event delivery. The event store is the outbox: a [`Relay`] publishes committed events to an
//! [`EventBus`] (in-process, or Redis Streams) in commit order from a durable checkpoint, and
//! handlers receive them through the bus, each event handled once per handler: the handler's
//! effects and its inbox record `(handler, eventId)` commit in one transaction, so a crash
//! half-way leaves nothing half-done and a redelivered event finds its inbox record. A handler
//! that keeps failing is retried with exponential backoff, then its event goes to the persisted
//! dead-letter queue, from which it can be retried through the same path.

mod bus;
mod deliver;
mod handler;
mod handlers;
mod health;
mod in_process;
mod redis_bus;
mod relay;
mod retry;
mod subscription;

pub use bus::{BusError, BusFuture, EventBus};
pub use deliver::{deliver, deliver_once, reason_class, Delivered};
pub use handler::{EventHandler, Handled};
pub use handlers::Handlers;
pub use health::{DeliveryHealth, HealthState};
pub use in_process::InProcessBus;
pub use redis_bus::{Decoder, RedisBus, RedisSettings, EVENT_FIELD};
pub use relay::{Relay, RelayError, RelaySettings};
pub use retry::RetryPolicy;
pub use subscription::{Subscription, SubscriptionSettings};
