//! The outbox relay. The event store is the outbox: commands commit their events there, and the
//! relay publishes them to the bus after commit, in commit order, tracking its last published
//! position in a durable checkpoint (`relay:<bus>`) that moves only after the bus accepted the
//! events. A crash between commit and publish delays events, never loses them (they may be
//! published twice; consumers are idempotent); a restart resumes at the checkpoint. While the
//! bus is down, commands go on, the lag grows (metric `outbox_lag_events`, `/readyz`), and
//! delivery catches up when it is back.

use std::sync::Arc;
use std::time::Duration;

use loyalty_store::{Store, StoreError};

use crate::bus::{BusError, EventBus};
use crate::DeliveryHealth;

/// How often the `dead_letters` gauge is refreshed.
pub const DEAD_LETTER_GAUGE_INTERVAL: Duration = Duration::from_secs(5);

/// How the relay polls and backs off.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    pub poll_interval: Duration,
    pub page_count: u32,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// After a page that was not full, how long to let events gather before reading again
    /// (see [`crate::SubscriptionSettings::linger`]).
    pub linger: Duration,
}

/// The default [`RelaySettings::linger`].
pub const RELAY_LINGER_MS: u64 = 10;

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(50),
            page_count: 1_000,
            retry_initial: Duration::from_millis(200),
            retry_max: Duration::from_secs(10),
            linger: Duration::from_millis(RELAY_LINGER_MS),
        }
    }
}

/// Why one relay round failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Publishes committed events to a bus.
#[derive(Clone)]
pub struct Relay {
    store: Store,
    bus: Arc<dyn EventBus>,
    settings: RelaySettings,
    health: DeliveryHealth,
}

impl Relay {
    pub fn new(store: Store, bus: Arc<dyn EventBus>, settings: RelaySettings, health: DeliveryHealth) -> Self {
        health.update(|s| s.bus = bus.name());
        Self {
            store,
            bus,
            settings,
            health,
        }
    }

    /// `relay:<bus>`.
    pub fn checkpoint_name(&self) -> String {
        format!("relay:{}", self.bus.name())
    }

    /// Where the relay has published up to.
    pub async fn checkpoint(&self) -> Result<i64, StoreError> {
        self.store.checkpoint(&self.checkpoint_name()).await
    }

    /// Publish the next page; how many events went out (0: caught up).
    pub async fn run_once(&self) -> Result<usize, RelayError> {
        let name = self.checkpoint_name();
        let after = self.store.checkpoint(&name).await?;
        let events = self.store.durable_events_after(after, self.settings.page_count).await?;
        let Some(last) = events.last().map(|e| e.position) else {
            self.record_lag(after).await;
            return Ok(0);
        };
        self.bus.publish_all(&events).await?;
        self.store.write(move |tx| tx.checkpoint_set(&name, last)).await?;
        for event in &events {
            metrics::counter!("events_published_total", "event_type" => event.event_type.clone(),
                "aggregate_type" => event.aggregate_type.clone())
            .increment(1);
        }
        self.health.update(|s| s.last_error = None);
        self.record_lag(last).await;
        Ok(events.len())
    }

    async fn record_lag(&self, published: i64) {
        if let Ok(head) = self.store.head_position().await {
            let lag = (head - published).max(0);
            metrics::gauge!("outbox_lag_events").set(lag as f64);
            self.health.update(|s| s.lag = lag);
        }
    }

    /// Re-publish the events after `from` (a position), up to the newest, without moving the
    /// checkpoint (`loyalty events replay`); how many went out.
    pub async fn replay(&self, from: i64, progress: &mut (dyn FnMut(u64) + Send)) -> Result<u64, RelayError> {
        let mut after = from;
        let mut sent = 0u64;
        loop {
            let events = self.store.durable_events_after(after, self.settings.page_count).await?;
            let Some(last) = events.last().map(|e| e.position) else {
                return Ok(sent);
            };
            self.bus.publish_all(&events).await?;
            sent += events.len() as u64;
            progress(sent);
            after = last;
        }
    }

    /// Run until the task is aborted.
    pub async fn run(self) {
        let mut delay = self.settings.retry_initial;
        let mut gauges_at: Option<std::time::Instant> = None;
        loop {
            if gauges_at.is_none_or(|at| at.elapsed() >= DEAD_LETTER_GAUGE_INTERVAL) {
                gauges_at = Some(std::time::Instant::now());
                if let Ok(count) = self.store.dead_letter_count().await {
                    metrics::gauge!("dead_letters").set(count as f64);
                }
            }
            match self.run_once().await {
                Ok(0) => {
                    delay = self.settings.retry_initial;
                    tokio::time::sleep(self.settings.poll_interval).await;
                }
                Ok(read) => {
                    delay = self.settings.retry_initial;
                    if read < self.settings.page_count as usize {
                        tokio::time::sleep(self.settings.linger).await;
                    }
                }
                Err(error) => {
                    // The lag first: whoever sees the error also sees how far behind it is.
                    let behind = self.checkpoint().await.unwrap_or(0);
                    self.record_lag(behind).await;
                    let message = error.to_string();
                    self.health.update(|s| s.last_error = Some(message));
                    tracing::warn!(bus = self.bus.name(), %error, retry_in = ?delay,
                        "publishing failed; events wait in the outbox");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.settings.retry_max);
                }
            }
        }
    }
}
