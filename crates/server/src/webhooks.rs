//! Webhooks: a business subscribes a URL to event types; each matching event is queued once per
//! subscription by a handler on the event bus ([`WebhookFanout`]), and a sender POSTs queued
//! deliveries with an HMAC-SHA256 signature, retrying with exponential backoff until the last
//! attempt, after which the delivery is dead (and can be replayed).

mod fanout;
mod sender;
mod signature;

pub use fanout::WebhookFanout;
pub use sender::{WebhookOptions, WebhookSender};
pub use signature::{sign, SIGNATURE_HEADER};
