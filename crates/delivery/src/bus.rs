//! The seed's `EventBus`: publish, publish all, subscribe. Two implementations: in-process (the
//! default: subscribers read the event store itself, woken when the relay publishes) and Redis
//! Streams (each event appended to `events:<eventType>`, consumed by consumer groups).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use loyalty_store::StoredEvent;
use tokio::task::JoinHandle;

use crate::EventHandler;

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("could not encode event {event_id}: {source}")]
    Encode {
        event_id: uuid::Uuid,
        source: serde_json::Error,
    },
}

/// A boxed future, so the bus can be chosen at run time.
pub type BusFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, BusError>> + Send + 'a>>;

/// Where committed events go, and how handlers receive them.
pub trait EventBus: Send + Sync + 'static {
    /// `in-process` or `redis`: names the relay's checkpoint.
    fn name(&self) -> &'static str;

    /// Publish events in the order given (commit order).
    fn publish_all<'a>(&'a self, events: &'a [StoredEvent]) -> BusFuture<'a, ()>;

    /// Publish one event.
    fn publish<'a>(&'a self, event: &'a StoredEvent) -> BusFuture<'a, ()> {
        self.publish_all(std::slice::from_ref(event))
    }

    /// Deliver the events `handler` wants to it, exactly once each, until the task is aborted.
    fn subscribe(&self, handler: Arc<dyn EventHandler>) -> JoinHandle<()>;
}
