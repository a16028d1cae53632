//! A subscription: one handler reading the event store in commit order from its durable
//! checkpoint. Each event is handled in its own writer job (group-committed with other work):
//! inbox check, the handler's effects, inbox record and checkpoint, all or nothing. A failing
//! event is retried with exponential backoff and holds back the events after it, so the handler
//! sees every aggregate's events in commit order.

use std::sync::Arc;
use std::time::Duration;

use loyalty_store::{SqliteStore, StoreError, StoredEvent};

use crate::{EventHandler, Handled};

/// How a subscription polls and retries.
#[derive(Debug, Clone)]
pub struct SubscriptionSettings {
    /// How long to wait when there is nothing new.
    pub poll_interval: Duration,
    /// Events read per page.
    pub page_count: u32,
    /// The first retry delay after a failure; doubled per attempt up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(100),
            page_count: 500,
            retry_initial: Duration::from_millis(100),
            retry_max: Duration::from_secs(30),
        }
    }
}

/// One handler's subscription to the event store.
#[derive(Clone)]
pub struct Subscription {
    store: SqliteStore,
    handler: Arc<dyn EventHandler>,
    settings: SubscriptionSettings,
}

impl Subscription {
    pub fn new(store: SqliteStore, handler: Arc<dyn EventHandler>, settings: SubscriptionSettings) -> Self {
        Self {
            store,
            handler,
            settings,
        }
    }

    fn checkpoint_name(&self) -> String {
        format!("handler:{}", self.handler.name())
    }

    /// Where this subscription has read up to.
    pub async fn checkpoint(&self) -> Result<i64, StoreError> {
        self.store.checkpoint(&self.checkpoint_name()).await
    }

    /// Handle the next page of events; returns how many events it went past (0: caught up).
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let after = self.checkpoint().await?;
        let events = self.store.events_after(after, self.settings.page_count).await?;
        let mut checkpointed = after;
        for event in &events {
            if self.handler.handles(&event.event_type) {
                self.deliver(event.clone()).await?;
                checkpointed = event.position;
            }
        }
        // Events nobody here wants only move the checkpoint: once per page, not once each.
        if let Some(last) = events.last().filter(|e| e.position > checkpointed) {
            let (name, position) = (self.checkpoint_name(), last.position);
            self.store.write(move |tx| tx.checkpoint_set(&name, position)).await?;
        }
        Ok(events.len())
    }

    /// Handle one event exactly once, moving the checkpoint past it.
    async fn deliver(&self, event: StoredEvent) -> Result<(), StoreError> {
        let handler = Arc::clone(&self.handler);
        let checkpoint = self.checkpoint_name();
        let name = handler.name();
        let outcome = self
            .store
            .write(move |tx| {
                let outcome = if tx.inbox_seen(name, event.event_id)? {
                    Handled::Skipped("already handled".to_owned())
                } else {
                    let handled = handler.handle(tx, &event)?;
                    tx.inbox_record(name, event.event_id, &handled.outcome())?;
                    handled
                };
                tx.checkpoint_set(&checkpoint, event.position)?;
                Ok(outcome)
            })
            .await?;
        metrics::counter!("delivery_events_handled_total", "handler" => name, "outcome" => kind(&outcome)).increment(1);
        if let Handled::Refused(why) = &outcome {
            tracing::warn!(handler = name, reason = %why, "a handler's command was refused");
        }
        Ok(())
    }

    /// Run until the task is dropped: handle new events as they are committed, retrying
    /// failures with exponential backoff.
    pub async fn run(self) {
        let mut delay = self.settings.retry_initial;
        loop {
            match self.run_once().await {
                Ok(0) => {
                    delay = self.settings.retry_initial;
                    tokio::time::sleep(self.settings.poll_interval).await;
                }
                Ok(_) => delay = self.settings.retry_initial,
                Err(error) => {
                    metrics::counter!("delivery_handler_failures_total", "handler" => self.handler.name()).increment(1);
                    tracing::error!(handler = self.handler.name(), %error, retry_in = ?delay, "handler failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.settings.retry_max);
                }
            }
        }
    }
}

fn kind(outcome: &Handled) -> &'static str {
    match outcome {
        Handled::Done => "done",
        Handled::Skipped(_) => "skipped",
        Handled::Refused(_) => "refused",
    }
}
