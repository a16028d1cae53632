//! The Redis Streams bus. Publishing appends each event to the stream `<prefix><eventType>`
//! (prefix `events:` by default) with the envelope as JSON in the field `event`. Each handler
//! consumes the streams of the types it wants as a consumer group named after it (XREADGROUP),
//! acknowledges an entry only after it was handled or dead-lettered (XACK), and reclaims entries
//! another consumer left pending for longer than `claim_idle` (XAUTOCLAIM), so a consumer that
//! dies mid-handling delays an event, never loses it; the handler's inbox makes the second
//! delivery a no-op when the first had committed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use loyalty_store::{Store, StoredEvent};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply};
use redis::AsyncCommands;
use tokio::task::JoinHandle;

use crate::bus::{BusError, BusFuture, EventBus};
use crate::deliver::deliver;
use crate::{EventHandler, RetryPolicy};

/// The stream entry field that holds the envelope.
pub const EVENT_FIELD: &str = "event";

/// Where and how to use Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: String,
    /// Streams are named `<prefix><eventType>`; `events:` in production, unique per test.
    pub stream_prefix: String,
    /// This process's consumer name within each group.
    pub consumer: String,
    /// The event types there are (the streams a handler may want).
    pub event_types: Vec<String>,
    /// How long XREADGROUP waits for new entries.
    pub block: Duration,
    /// How long an entry may sit unacknowledged with another consumer before it is reclaimed.
    pub claim_idle: Duration,
    /// How often pending entries are looked at.
    pub claim_interval: Duration,
    pub retry: RetryPolicy,
}

impl RedisSettings {
    pub fn new(url: impl Into<String>, event_types: Vec<String>) -> Self {
        Self {
            url: url.into(),
            stream_prefix: "events:".to_owned(),
            consumer: format!("loyalty-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            event_types,
            block: Duration::from_millis(1_000),
            claim_idle: Duration::from_secs(30),
            claim_interval: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }

    pub fn stream(&self, event_type: &str) -> String {
        format!("{}{event_type}", self.stream_prefix)
    }
}

/// Events through Redis Streams.
#[derive(Clone)]
pub struct RedisBus {
    client: redis::Client,
    publisher: ConnectionManager,
    settings: Arc<RedisSettings>,
    store: Store,
}

impl RedisBus {
    /// Connects lazily: a Redis that is down at start only delays delivery.
    pub fn new(settings: RedisSettings, store: Store) -> Result<Self, BusError> {
        let client = redis::Client::open(settings.url.as_str())?;
        let publisher = ConnectionManager::new_lazy_with_config(client.clone(), connection_config(None))?;
        Ok(Self {
            client,
            publisher,
            settings: Arc::new(settings),
            store,
        })
    }
}

fn connection_config(response_timeout: Option<Duration>) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(response_timeout.or(Some(Duration::from_secs(5))))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(2))
}

impl EventBus for RedisBus {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn publish_all<'a>(&'a self, events: &'a [StoredEvent]) -> BusFuture<'a, ()> {
        Box::pin(async move {
            if events.is_empty() {
                return Ok(());
            }
            let mut pipe = redis::pipe();
            for event in events {
                let json = serde_json::to_string(event).map_err(|source| BusError::Encode {
                    event_id: event.event_id,
                    source,
                })?;
                pipe.xadd(self.settings.stream(&event.event_type), "*", &[(EVENT_FIELD, json)])
                    .ignore();
            }
            let mut conn = self.publisher.clone();
            pipe.query_async::<()>(&mut conn).await?;
            Ok(())
        })
    }

    fn subscribe(&self, handler: Arc<dyn EventHandler>) -> JoinHandle<()> {
        let consumer = Consumer {
            client: self.client.clone(),
            settings: Arc::clone(&self.settings),
            store: self.store.clone(),
            handler,
            streams: None,
            decode: Arc::new(parse),
        };
        tokio::spawn(consumer.run())
    }
}

/// One handler's consumer group member.
struct Consumer {
    client: redis::Client,
    settings: Arc<RedisSettings>,
    store: Store,
    handler: Arc<dyn EventHandler>,
    /// The streams to read; the handler's event types' streams when `None`.
    streams: Option<Vec<String>>,
    decode: Decoder,
}

/// Turns a stream entry (of the stream named first) into the event a handler receives.
pub type Decoder = Arc<dyn Fn(&str, &StreamId) -> Result<StoredEvent, String> + Send + Sync>;

impl RedisBus {
    /// Consume streams other systems publish (not this service's own events), each entry turned
    /// into an event by `decode`, with the same groups, acknowledgements, reclaiming, retries and
    /// dead letters as the bus's own subscriptions.
    pub fn subscribe_streams(
        &self,
        handler: Arc<dyn EventHandler>,
        streams: Vec<String>,
        decode: Decoder,
    ) -> JoinHandle<()> {
        let consumer = Consumer {
            client: self.client.clone(),
            settings: Arc::clone(&self.settings),
            store: self.store.clone(),
            handler,
            streams: Some(streams),
            decode,
        };
        tokio::spawn(consumer.run())
    }

    /// A stream's full name: `<prefix><name>`.
    pub fn stream_name(&self, name: &str) -> String {
        self.settings.stream(name)
    }
}

impl Consumer {
    fn streams(&self) -> Vec<String> {
        if let Some(streams) = &self.streams {
            return streams.clone();
        }
        self.settings
            .event_types
            .iter()
            .filter(|t| self.handler.handles(t))
            .map(|t| self.settings.stream(t))
            .collect()
    }

    async fn run(self) {
        let streams = self.streams();
        if streams.is_empty() {
            return;
        }
        // XREADGROUP blocks for `block`: the reply may take that long.
        let config = connection_config(Some(self.settings.block + Duration::from_secs(5)));
        let mut delay = self.settings.retry.initial;
        loop {
            let conn = match ConnectionManager::new_with_config(self.client.clone(), config.clone()).await {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::warn!(handler = self.handler.name(), %error, retry_in = ?delay, "redis unreachable");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.settings.retry.max);
                    continue;
                }
            };
            delay = self.settings.retry.initial;
            if let Err(error) = self.consume(conn, &streams).await {
                tracing::warn!(handler = self.handler.name(), %error, "redis consumer failed; reconnecting");
                tokio::time::sleep(delay).await;
            }
        }
    }

    async fn consume(&self, mut conn: ConnectionManager, streams: &[String]) -> Result<(), BusError> {
        let group = self.handler.name();
        for stream in streams {
            // From the start of the stream: entries published before the group existed count too.
            let created: Result<(), redis::RedisError> = conn.xgroup_create_mkstream(stream, group, "0").await;
            if let Err(error) = created {
                if error.code() != Some("BUSYGROUP") {
                    return Err(error.into());
                }
            }
        }
        let ids = vec![">"; streams.len()];
        let read = StreamReadOptions::default()
            .group(group, &self.settings.consumer)
            .count(100)
            .block(self.settings.block.as_millis() as usize);
        let mut last_claim: Option<Instant> = None;
        loop {
            if last_claim.is_none_or(|at| at.elapsed() >= self.settings.claim_interval) {
                last_claim = Some(Instant::now());
                for stream in streams {
                    self.reclaim(&mut conn, stream).await?;
                }
            }
            let reply: Option<StreamReadReply> = conn.xread_options(streams, &ids, &read).await?;
            for key in reply.map(|r| r.keys).unwrap_or_default() {
                for entry in key.ids {
                    self.process(&mut conn, &key.key, entry).await?;
                }
            }
        }
    }

    /// Take over entries another consumer left unacknowledged for too long.
    async fn reclaim(&self, conn: &mut ConnectionManager, stream: &str) -> Result<(), BusError> {
        let mut start = "0-0".to_owned();
        loop {
            let reply: StreamAutoClaimReply = conn
                .xautoclaim_options(
                    stream,
                    self.handler.name(),
                    &self.settings.consumer,
                    self.settings.claim_idle.as_millis() as u64,
                    &start,
                    StreamAutoClaimOptions::default().count(100),
                )
                .await?;
            for entry in reply.claimed {
                metrics::counter!("events_reclaimed_total", "handler" => self.handler.name()).increment(1);
                self.process(conn, stream, entry).await?;
            }
            if reply.next_stream_id == "0-0" {
                return Ok(());
            }
            start = reply.next_stream_id;
        }
    }

    /// Handle one entry (or dead-letter it), then acknowledge it. A store failure leaves it
    /// pending, to be reclaimed.
    async fn process(&self, conn: &mut ConnectionManager, stream: &str, entry: StreamId) -> Result<(), BusError> {
        let group = self.handler.name();
        match (self.decode)(stream, &entry) {
            Err(why) => {
                metrics::counter!("events_failed_total", "event_type" => "unknown", "handler" => group,
                    "reason" => "malformed")
                .increment(1);
                tracing::error!(handler = group, stream, entry = %entry.id, %why, "malformed stream entry dropped");
            }
            Ok(event) => {
                if let Err(error) = deliver(&self.store, &self.handler, &event, None, self.settings.retry).await {
                    tracing::error!(handler = group, event_id = %event.event_id, %error,
                        "could not handle or dead-letter; left pending");
                    return Ok(());
                }
            }
        }
        let _: i64 = conn.xack(stream, group, &[&entry.id]).await?;
        Ok(())
    }
}

fn parse(_stream: &str, entry: &StreamId) -> Result<StoredEvent, String> {
    let raw: String = entry
        .get(EVENT_FIELD)
        .ok_or_else(|| format!("no `{EVENT_FIELD}` field"))?;
    serde_json::from_str(&raw).map_err(|e| format!("not an event envelope: {e}"))
}
