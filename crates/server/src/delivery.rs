//! Event delivery in the service: which bus (in-process by default, Redis Streams with
//! `--redis-url`), the outbox relay that feeds it, the handlers that consume it (the enrolment
//! saga), and retrying or discarding dead letters through the same idempotent path.

use std::sync::Arc;
use std::time::Duration;

use loyalty_delivery::{
    deliver_once, BusError, Decoder, DeliveryHealth, EventBus, EventHandler, Handled, Handlers, InProcessBus, RedisBus,
    RedisSettings, Relay, RelaySettings, RetryPolicy, SubscriptionSettings,
};
use loyalty_domain::LoyaltyEvent;
use loyalty_store::{DeadLetter, Store, StoreError};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::notifications::RecordingNotifier;
use crate::restaurant::{self, RestaurantAdaptor, UPSTREAM_STREAMS};
use crate::sagas::EnrollmentSaga;
use crate::webhooks::{WebhookFanout, WebhookOptions, WebhookSender};

/// How events are delivered.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Redis Streams when set (`--redis-url` / `LOYALTY_REDIS_URL`); the in-process bus otherwise.
    pub redis_url: Option<String>,
    /// Streams are `<prefix><eventType>`: `events:` (the contract's names) unless a test isolates itself.
    pub stream_prefix: String,
    /// Retries of a failing handler before its event is dead-lettered.
    pub retry: RetryPolicy,
    /// How long a Redis entry may stay unacknowledged with a consumer before another reclaims it.
    pub claim_idle: Duration,
    /// How webhook deliveries are attempted.
    pub webhooks: WebhookOptions,
    /// The business the restaurant chain's payment streams belong to; with a Redis URL, its
    /// `frontofhouse.payment.processed` and `onlineordering.payment.processed` streams are
    /// consumed when set.
    pub restaurant_business: Option<Uuid>,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            redis_url: None,
            stream_prefix: "events:".to_owned(),
            retry: RetryPolicy::default(),
            claim_idle: Duration::from_secs(30),
            webhooks: WebhookOptions::default(),
            restaurant_business: None,
        }
    }
}

/// The bus, its relay and the handlers of this process.
#[derive(Clone)]
pub struct Delivery {
    store: Store,
    pub bus: Arc<dyn EventBus>,
    pub handlers: Handlers,
    pub health: DeliveryHealth,
    relay: Relay,
    sender: WebhookSender,
    /// The Redis bus and the business whose upstream payment streams it consumes.
    upstream: Option<(Arc<RedisBus>, Uuid)>,
    /// Whether handlers consume a broker's consumer groups (safe on every instance) rather
    /// than follow the event store from a checkpoint (one instance at a time).
    handlers_on_broker: bool,
}

/// The handlers every process runs (and can retry dead letters for).
pub fn handlers() -> Handlers {
    let saga: Arc<dyn EventHandler> = Arc::new(EnrollmentSaga::new(Arc::new(RecordingNotifier)));
    let webhooks: Arc<dyn EventHandler> = Arc::new(WebhookFanout);
    let restaurant: Arc<dyn EventHandler> = Arc::new(RestaurantAdaptor);
    Handlers::new([saga, webhooks, restaurant])
}

/// Why delivery could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("the webhook HTTP client: {0}")]
    Http(reqwest::Error),
}

/// What a dead-letter retry did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryOutcome {
    /// Handled now (or found already handled), and removed from the queue.
    Handled(Handled),
    /// Failed again; it stays, with the new error.
    Failed(String),
    /// No handler of that name runs here.
    UnknownHandler(String),
}

impl Delivery {
    pub fn build(store: Store, options: &DeliveryOptions) -> Result<Self, DeliveryError> {
        let mut upstream = None;
        let bus: Arc<dyn EventBus> = match &options.redis_url {
            Some(url) => {
                let mut settings = RedisSettings::new(url.clone(), types());
                settings.stream_prefix = options.stream_prefix.clone();
                settings.retry = options.retry;
                settings.claim_idle = options.claim_idle;
                settings.claim_interval = options.claim_idle.min(Duration::from_secs(5));
                let redis = Arc::new(RedisBus::new(settings, store.clone())?);
                upstream = options.restaurant_business.map(|b| (Arc::clone(&redis), b));
                redis
            }
            None => Arc::new(InProcessBus::new(
                store.clone(),
                SubscriptionSettings {
                    retry: options.retry,
                    ..SubscriptionSettings::default()
                },
            )),
        };
        let health = DeliveryHealth::default();
        let relay = Relay::new(
            store.clone(),
            Arc::clone(&bus),
            RelaySettings::default(),
            health.clone(),
        );
        let sender = WebhookSender::new(store.clone(), options.webhooks.clone()).map_err(DeliveryError::Http)?;
        Ok(Self {
            handlers_on_broker: options.redis_url.is_some(),
            upstream,
            sender,
            store,
            bus,
            handlers: handlers(),
            health,
            relay,
        })
    }

    /// Start everything: what every instance runs and what the leader runs (one process, or
    /// tests); abort the handles to stop them.
    pub fn start(&self) -> Vec<JoinHandle<()>> {
        let mut tasks = self.start_on_every_instance();
        tasks.extend(self.start_on_leader());
        tasks
    }

    /// What exactly one instance runs at a time: the outbox relay, webhook sending, and
    /// handlers that follow the event store from a checkpoint (the in-process bus).
    pub fn start_on_leader(&self) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![
            tokio::spawn(self.relay.clone().run()),
            tokio::spawn(self.sender.clone().run()),
        ];
        if !self.handlers_on_broker {
            tasks.extend(self.handlers.iter().map(|h| self.bus.subscribe(Arc::clone(h))));
        }
        tasks
    }

    /// What every instance runs: consumers in the broker's consumer groups, which share the
    /// work between instances (each entry goes to one consumer; the inbox makes a redelivery
    /// harmless).
    pub fn start_on_every_instance(&self) -> Vec<JoinHandle<()>> {
        let mut tasks = Vec::new();
        if self.handlers_on_broker {
            tasks.extend(self.handlers.iter().map(|h| self.bus.subscribe(Arc::clone(h))));
        }
        if let Some((redis, business)) = &self.upstream {
            let business = *business;
            let streams = UPSTREAM_STREAMS.iter().map(|s| redis.stream_name(s)).collect();
            let decode: Decoder = Arc::new(move |stream, entry| restaurant::decode(business, stream, entry));
            tasks.push(redis.subscribe_streams(Arc::new(RestaurantAdaptor), streams, decode));
        }
        tasks
    }

    /// The store events are delivered from.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The relay, for `loyalty events replay`.
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// Hand a dead letter back to its handler, through the inbox: removed when handled.
    pub async fn retry_dead_letter(&self, letter: &DeadLetter) -> Result<RetryOutcome, StoreError> {
        let Some(handler) = self.handlers.get(&letter.handler) else {
            return Ok(RetryOutcome::UnknownHandler(letter.handler.clone()));
        };
        match deliver_once(&self.store, &handler, &letter.event, None).await {
            Ok(handled) => {
                let id = letter.dead_letter_id;
                self.store.write(move |tx| tx.dead_letter_delete(id)).await?;
                Ok(RetryOutcome::Handled(handled))
            }
            Err(error) => {
                let (name, event, message) = (handler.name(), letter.event.clone(), error.to_string());
                let reason = loyalty_delivery::reason_class(&error);
                self.store
                    .write(move |tx| tx.dead_letter_put(name, &event, &message, reason, 1))
                    .await?;
                Ok(RetryOutcome::Failed(error.to_string()))
            }
        }
    }

    /// Remove a dead letter without handling it; whether it existed.
    pub async fn discard_dead_letter(&self, id: Uuid) -> Result<bool, StoreError> {
        self.store.write(move |tx| tx.dead_letter_delete(id)).await
    }
}

fn types() -> Vec<String> {
    LoyaltyEvent::all_types().map(str::to_owned).collect()
}
