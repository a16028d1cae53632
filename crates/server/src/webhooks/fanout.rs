//! The handler that turns each committed event into one pending delivery per subscription that
//! wants it, in the handler's own transaction. Exactly once without an inbox: a delivery's
//! (subscription, event) is unique, so a redelivered event queues nothing new.

use loyalty_delivery::{EventHandler, Handled};
use loyalty_store::{EventFilter, StoreError, StoredEvent, WriteTx};

/// Queues webhook deliveries.
#[derive(Debug, Default)]
pub struct WebhookFanout;

impl WebhookFanout {
    pub const NAME: &'static str = "webhooks";
}

impl EventHandler for WebhookFanout {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn handles(&self, _event_type: &str) -> bool {
        true
    }

    /// Only the events of businesses with a subscription: the others queue nothing.
    fn filter(&self) -> EventFilter {
        EventFilter::OfWebhookBusinesses
    }

    /// A delivery is unique per (subscription, event): queuing twice queues once.
    fn needs_inbox(&self) -> bool {
        false
    }

    fn handle(&self, tx: &mut WriteTx<'_>, event: &StoredEvent) -> Result<Handled, StoreError> {
        Ok(match tx.webhook_enqueue(event)? {
            0 => Handled::Skipped("no subscription wants it".to_owned()),
            _ => Handled::Done,
        })
    }
}
