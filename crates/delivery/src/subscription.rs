//! The in-process consumer: one handler reading the event store (the outbox itself) in commit
//! order from its durable checkpoint. Each wanted event is delivered exactly once (inbox, effects
//! and checkpoint in one transaction), retried with backoff and dead-lettered after the last
//! retry, so the handler sees every aggregate's events in commit order and one poisonous event
//! never holds back the rest.

use std::sync::Arc;
use std::time::Duration;

use loyalty_store::{Store, StoreError};
use tokio::sync::Notify;

use crate::deliver::deliver;
use crate::{EventHandler, RetryPolicy};

/// How a subscription polls and retries.
#[derive(Debug, Clone)]
pub struct SubscriptionSettings {
    /// How long to wait for news when there is nothing new (a publish wakes it sooner).
    pub poll_interval: Duration,
    /// Events read per page.
    pub page_count: u32,
    /// Retries of a failing handler before the event is dead-lettered.
    pub retry: RetryPolicy,
    /// After a page that was not full, how long to let events gather before reading again.
    /// Under load a commit lands every few milliseconds; without this each handler would
    /// read, decode and checkpoint a page per commit, a writer job each. With it a page holds
    /// what a linger's worth of commits wrote, for at most that much more delivery latency.
    pub linger: Duration,
}

/// The default [`SubscriptionSettings::linger`].
pub const SUBSCRIPTION_LINGER_MS: u64 = 20;

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(250),
            page_count: 500,
            retry: RetryPolicy::default(),
            linger: Duration::from_millis(SUBSCRIPTION_LINGER_MS),
        }
    }
}

/// One handler's subscription to the event store.
#[derive(Clone)]
pub struct Subscription {
    store: Store,
    handler: Arc<dyn EventHandler>,
    settings: SubscriptionSettings,
    wake: Arc<Notify>,
}

impl Subscription {
    pub fn new(store: Store, handler: Arc<dyn EventHandler>, settings: SubscriptionSettings) -> Self {
        Self {
            store,
            handler,
            settings,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Wake this subscription when `wake` is notified (new events were committed).
    pub fn woken_by(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    /// The checkpoint's name: `handler:<name>`.
    pub fn checkpoint_name(handler: &str) -> String {
        format!("handler:{handler}")
    }

    /// Where this subscription has read up to.
    pub async fn checkpoint(&self) -> Result<i64, StoreError> {
        self.store.checkpoint(&Self::checkpoint_name(self.handler.name())).await
    }

    /// Handle the next page of events (those the handler's [`EventHandler::filter`] lets
    /// through); returns how many positions of the log it went past: a page's count when the
    /// page was full, fewer when it reached the head of the log, 0 when it was there already.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let name = Self::checkpoint_name(self.handler.name());
        let after = self.store.checkpoint(&name).await?;
        let (events, read_to) = self
            .store
            .events_matching(after, self.handler.filter(), self.settings.page_count)
            .await?;
        let page = self.settings.page_count as usize;
        let went_past = if events.len() >= page {
            page
        } else {
            usize::try_from(read_to - after)
                .unwrap_or(0)
                .min(page.saturating_sub(1).max(1))
        };
        if !self.handler.needs_inbox() && !events.is_empty() && self.handle_page(&name, &events, read_to).await {
            return Ok(went_past);
        }
        let mut checkpointed = after;
        for event in &events {
            if self.handler.handles(&event.event_type) {
                deliver(&self.store, &self.handler, event, Some(&name), self.settings.retry).await?;
                checkpointed = event.position;
            }
        }
        // Events nobody here wants only move the checkpoint: once per page, not once each.
        if read_to > checkpointed {
            self.store.write(move |tx| tx.checkpoint_set(&name, read_to)).await?;
        }
        Ok(went_past)
    }

    /// A handler without an inbox (its effects are idempotent by themselves) takes a whole page
    /// in one writer job: one job per page instead of one per event. Whether it succeeded; if
    /// not, nothing of it was kept and the page goes event by event, with retries and dead
    /// letters.
    async fn handle_page(&self, checkpoint: &str, events: &[loyalty_store::StoredEvent], read_to: i64) -> bool {
        let handler = Arc::clone(&self.handler);
        let (checkpoint, events) = (checkpoint.to_owned(), events.to_vec());
        let result = self
            .store
            .write(move |tx| {
                for event in events.iter().filter(|e| handler.handles(&e.event_type)) {
                    handler.handle(tx, event)?;
                }
                tx.checkpoint_set(&checkpoint, read_to)?;
                Ok(())
            })
            .await;
        if let Err(error) = &result {
            tracing::warn!(handler = self.handler.name(), %error, "a page failed; handling it event by event");
        }
        result.is_ok()
    }

    /// Run until the task is dropped.
    pub async fn run(self) {
        let mut delay = self.settings.retry.initial;
        loop {
            match self.run_once().await {
                Ok(0) => {
                    delay = self.settings.retry.initial;
                    let _ = tokio::time::timeout(self.settings.poll_interval, self.wake.notified()).await;
                }
                Ok(read) => {
                    delay = self.settings.retry.initial;
                    if read < self.settings.page_count as usize {
                        tokio::time::sleep(self.settings.linger).await;
                    }
                }
                Err(error) => {
                    tracing::error!(handler = self.handler.name(), %error, retry_in = ?delay,
                        "subscription failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.settings.retry.max);
                }
            }
        }
    }
}
