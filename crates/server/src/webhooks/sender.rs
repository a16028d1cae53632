//! The sender: POSTs due deliveries (the event envelope as JSON) with the signature headers. A
//! 2xx answer delivers; anything else (or no answer in time) is retried with exponential backoff
//! until the last attempt, then the delivery is dead: kept with its last error, replayable.
//! A subscription gets each aggregate's events in commit order: while one waits for a retry, the
//! aggregate's later events wait behind it.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use loyalty_store::{Store, StoreError, Webhook, WebhookDelivery};
use uuid::Uuid;

use super::signature::{sign, SIGNATURE_HEADER};

/// How many receivers are sent to at once.
pub const WEBHOOK_SENDS_IN_FLIGHT_COUNT: usize = 16;

/// How deliveries are attempted.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// The wait before the first retry; doubled for each next one, up to `retry_max`.
    pub first_retry: Duration,
    pub retry_max: Duration,
    /// Attempts in all before a delivery is dead.
    pub attempts: u32,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// How often due deliveries are looked for.
    pub poll_interval: Duration,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        Self {
            first_retry: Duration::from_secs(1),
            retry_max: Duration::from_secs(15 * 60),
            attempts: 8,
            timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(250),
        }
    }
}

/// Sends webhook deliveries.
#[derive(Clone)]
pub struct WebhookSender {
    store: Store,
    client: reqwest::Client,
    options: WebhookOptions,
}

impl WebhookSender {
    pub fn new(store: Store, options: WebhookOptions) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(options.timeout).build()?;
        Ok(Self { store, client, options })
    }

    /// Send what is due now; how many attempts were made.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let due = self.store.webhook_due(Utc::now(), 100).await?;
        let count = due.len();
        // Receivers answer at their own pace: one slow receiver must not hold up the others.
        // Each receiver gets its deliveries one at a time, in commit order.
        let mut by_webhook: Vec<(Webhook, Vec<WebhookDelivery>)> = Vec::new();
        for (delivery, hook) in due {
            match by_webhook.iter_mut().find(|(h, _)| h.webhook_id == hook.webhook_id) {
                Some((_, deliveries)) => deliveries.push(delivery),
                None => by_webhook.push((hook, vec![delivery])),
            }
        }
        let mut attempts = futures::stream::iter(by_webhook)
            .map(|(hook, deliveries)| async move {
                // Each aggregate's events in commit order: after a failure, that aggregate's
                // later deliveries wait for the retry (the store holds them back from then on).
                let mut held: HashSet<Uuid> = HashSet::new();
                for delivery in &deliveries {
                    let aggregate = delivery.event.as_ref().map(|e| e.aggregate_id);
                    if aggregate.is_some_and(|a| held.contains(&a)) {
                        continue;
                    }
                    let delivered = self.attempt(delivery, &hook).await?;
                    if let (false, Some(aggregate)) = (delivered, aggregate) {
                        held.insert(aggregate);
                    }
                }
                Ok::<(), StoreError>(())
            })
            .buffer_unordered(WEBHOOK_SENDS_IN_FLIGHT_COUNT);
        while let Some(result) = attempts.next().await {
            result?;
        }
        Ok(count)
    }

    /// One attempt; whether it delivered.
    async fn attempt(&self, delivery: &WebhookDelivery, hook: &Webhook) -> Result<bool, StoreError> {
        let body = match &delivery.event {
            Some(event) => serde_json::to_vec(event)?,
            None => {
                return Err(StoreError::Corrupt(format!(
                    "delivery {} has no event",
                    delivery.delivery_id
                )))
            }
        };
        let timestamp = Utc::now().timestamp();
        let sent = self
            .client
            .post(&hook.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sign(&hook.secret, timestamp, &body))
            .header("X-Loyalty-Event-Id", delivery.event_id.to_string())
            .header("X-Loyalty-Event-Type", delivery.event_type.as_str())
            .header("X-Loyalty-Delivery-Id", delivery.delivery_id.to_string())
            .body(body)
            .send()
            .await;
        let (status_code, failure) = match sent {
            Ok(response) if response.status().is_success() => (Some(response.status().as_u16()), None),
            Ok(response) => (
                Some(response.status().as_u16()),
                Some(format!("the receiver answered {}", response.status())),
            ),
            Err(error) => (None, Some(format!("could not deliver: {error}"))),
        };
        let attempt = delivery.attempts + 1;
        let outcome = match failure {
            None => {
                metrics::counter!("webhook_deliveries_total", "outcome" => "delivered").increment(1);
                Ok(())
            }
            Some(error) if attempt < self.options.attempts => {
                metrics::counter!("webhook_deliveries_total", "outcome" => "retried").increment(1);
                let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
                let wait = self
                    .options
                    .first_retry
                    .saturating_mul(factor)
                    .min(self.options.retry_max);
                let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                Err((error, Some(retry_at)))
            }
            Some(error) => {
                metrics::counter!("webhook_deliveries_total", "outcome" => "dead").increment(1);
                tracing::warn!(webhook_id = %hook.webhook_id, delivery_id = %delivery.delivery_id, %error,
                    "webhook delivery is dead after its last attempt");
                Err((error, None))
            }
        };
        let id = delivery.delivery_id;
        let delivered = outcome.is_ok();
        self.store
            .write(move |tx| tx.webhook_record_attempt(id, status_code, outcome.clone()))
            .await?;
        Ok(delivered)
    }

    /// Run until the task is aborted.
    pub async fn run(self) {
        loop {
            match self.run_once().await {
                Ok(0) => tokio::time::sleep(self.options.poll_interval).await,
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "webhook sender failed; retrying");
                    tokio::time::sleep(self.options.poll_interval).await;
                }
            }
        }
    }
}
