//! Handing one event to one handler, exactly once: the inbox check, the handler's effects and
//! the inbox record commit together in one writer transaction (with the subscription's
//! checkpoint, when there is one). A failure rolls all of it back and is retried with backoff;
//! after the last retry the event goes to the dead-letter queue, so one poisonous event never
//! stops the events behind it.

use std::sync::Arc;
use std::time::Instant;

use loyalty_store::{Store, StoreError, StoredEvent};
use uuid::Uuid;

use crate::{EventHandler, Handled, RetryPolicy};

/// What became of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Handled(Handled),
    /// The handler kept failing; the event is in the dead-letter queue under this id.
    DeadLettered(Uuid),
}

/// One attempt: handle `event` unless the handler's inbox has it; move `checkpoint` past it.
pub async fn deliver_once(
    store: &Store,
    handler: &Arc<dyn EventHandler>,
    event: &StoredEvent,
    checkpoint: Option<&str>,
) -> Result<Handled, StoreError> {
    let handler = Arc::clone(handler);
    let event = event.clone();
    let checkpoint = checkpoint.map(str::to_owned);
    let name = handler.name();
    let event_type = event.event_type.clone();
    let started = Instant::now();
    let outcome = store
        .write(move |tx| {
            let outcome = if !handler.needs_inbox() {
                handler.handle(tx, &event)?
            } else if tx.inbox_seen(name, event.event_id)? {
                Handled::Skipped("already handled".to_owned())
            } else {
                let handled = handler.handle(tx, &event)?;
                tx.inbox_record(name, event.event_id, &handled.outcome())?;
                handled
            };
            if let Some(checkpoint) = &checkpoint {
                tx.checkpoint_set(checkpoint, event.position)?;
            }
            Ok(outcome)
        })
        .await;
    metrics::histogram!("event_processing_seconds", "event_type" => event_type.clone(), "handler" => name)
        .record(started.elapsed().as_secs_f64());
    match &outcome {
        Ok(handled) => {
            metrics::counter!("events_handled_total", "handler" => name, "outcome" => handled.kind()).increment(1);
            if let Handled::Refused(why) = handled {
                tracing::warn!(handler = name, reason = %why, "a handler's command was refused");
            }
        }
        Err(error) => {
            metrics::counter!("events_failed_total", "event_type" => event_type, "handler" => name,
                "reason" => reason_class(error))
            .increment(1);
        }
    }
    outcome
}

/// A bounded class of a failure, for metric labels (never the raw message).
pub fn reason_class(error: &StoreError) -> &'static str {
    match error {
        StoreError::Conflict { .. } => "conflict",
        StoreError::Corrupt(_) => "handler_error",
        _ => "store_error",
    }
}

/// Deliver with retries; after the last one, dead-letter the event (and move `checkpoint` past
/// it in the same transaction). `Err` only when even the dead letter could not be written.
pub async fn deliver(
    store: &Store,
    handler: &Arc<dyn EventHandler>,
    event: &StoredEvent,
    checkpoint: Option<&str>,
    policy: RetryPolicy,
) -> Result<Delivered, StoreError> {
    let mut last_error = None;
    for attempt in 1..=policy.attempts() {
        match deliver_once(store, handler, event, checkpoint).await {
            Ok(handled) => return Ok(Delivered::Handled(handled)),
            Err(error) => {
                tracing::warn!(handler = handler.name(), event_id = %event.event_id, attempt, %error,
                    "handler failed");
                last_error = Some(error);
                if attempt < policy.attempts() {
                    tokio::time::sleep(policy.delay(attempt)).await;
                }
            }
        }
    }
    let error = last_error.map_or_else(|| "no attempt was made".to_owned(), |e| e.to_string());
    let reason = "handler_error";
    let (name, stored, checkpoint) = (handler.name(), event.clone(), checkpoint.map(str::to_owned));
    let attempts = policy.attempts();
    let id = store
        .write(move |tx| {
            let id = tx.dead_letter_put(name, &stored, &error, reason, attempts)?;
            if let Some(checkpoint) = &checkpoint {
                tx.checkpoint_set(checkpoint, stored.position)?;
            }
            Ok(id)
        })
        .await?;
    metrics::counter!("dead_letters_total", "handler" => name).increment(1);
    tracing::error!(handler = name, event_id = %event.event_id, dead_letter_id = %id, "event dead-lettered");
    Ok(Delivered::DeadLettered(id))
}
