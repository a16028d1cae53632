//! The in-process bus: the event store is the log. Publishing wakes the subscribers; each
//! subscriber is a [`Subscription`] reading the store from its own durable checkpoint.

use std::sync::Arc;

use loyalty_store::{Store, StoredEvent};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::bus::{BusFuture, EventBus};
use crate::{EventHandler, Subscription, SubscriptionSettings};

/// Handlers in this process, fed from the event store.
#[derive(Clone)]
pub struct InProcessBus {
    store: Store,
    settings: SubscriptionSettings,
    wake: Arc<Notify>,
}

impl InProcessBus {
    pub fn new(store: Store, settings: SubscriptionSettings) -> Self {
        Self {
            store,
            settings,
            wake: Arc::new(Notify::new()),
        }
    }
}

impl EventBus for InProcessBus {
    fn name(&self) -> &'static str {
        "in-process"
    }

    fn publish_all<'a>(&'a self, events: &'a [StoredEvent]) -> BusFuture<'a, ()> {
        Box::pin(async move {
            if !events.is_empty() {
                self.wake.notify_waiters();
            }
            Ok(())
        })
    }

    fn subscribe(&self, handler: Arc<dyn EventHandler>) -> JoinHandle<()> {
        let subscription =
            Subscription::new(self.store.clone(), handler, self.settings.clone()).woken_by(Arc::clone(&self.wake));
        tokio::spawn(subscription.run())
    }
}
