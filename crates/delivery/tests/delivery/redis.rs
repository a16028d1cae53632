//! The Redis Streams bus against the real Redis of `LOYALTY_TEST_REDIS_URL` (skipped, saying
//! so, without it). Each test uses its own stream prefix. Publishing goes through the relay;
//! handlers consume in consumer groups: a consumer killed mid-handling is reclaimed and the
//! effect happens once, a handler failing twice then succeeding handles once, one failing
//! always ends in the dead-letter queue.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loyalty_delivery::{
    deliver_once, DeliveryHealth, EventBus, EventHandler, Handled, RedisBus, RedisSettings, Relay, RelaySettings,
    RetryPolicy,
};
use loyalty_store::{Store, StoreError, StoredEvent, WriteTx};
use uuid::Uuid;

use crate::fixtures::{eventually, record_seen, seen, store_with_programs};

fn redis_url() -> Option<String> {
    let url = std::env::var("LOYALTY_TEST_REDIS_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("skipped: LOYALTY_TEST_REDIS_URL is not set");
    }
    url
}

/// Records a notification per activation; can fail, or hang (a consumer that dies mid-way).
struct Recorder {
    failures: AtomicU32,
    hang: AtomicBool,
    /// Always fails on this aggregate's events.
    poison: Option<Uuid>,
}

impl Recorder {
    fn new(failures: u32, hang: bool) -> Arc<Self> {
        Arc::new(Self {
            failures: AtomicU32::new(failures),
            hang: AtomicBool::new(hang),
            poison: None,
        })
    }
}

impl EventHandler for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == "loyalty.program.activated"
    }

    fn handle(&self, tx: &mut WriteTx<'_>, event: &StoredEvent) -> Result<Handled, StoreError> {
        while self.hang.load(Ordering::SeqCst) {
            // Blocks the writer thread like a handler stuck forever; the test kills its consumer.
            std::thread::sleep(Duration::from_millis(5));
        }
        record_seen(tx, event)?;
        if self.poison == Some(event.aggregate_id) {
            return Err(StoreError::Corrupt("poisonous event".to_owned()));
        }
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err(StoreError::Corrupt("the handler failed".to_owned()));
        }
        Ok(Handled::Done)
    }
}

fn bus(url: &str, prefix: &str, store: &Store, claim_idle: Duration) -> Arc<RedisBus> {
    let mut settings = RedisSettings::new(
        url,
        vec![
            "loyalty.program.created".to_owned(),
            "loyalty.program.activated".to_owned(),
        ],
    );
    settings.stream_prefix = prefix.to_owned();
    settings.block = Duration::from_millis(100);
    settings.claim_idle = claim_idle;
    settings.claim_interval = Duration::from_millis(50);
    settings.retry = RetryPolicy {
        retries: 3,
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
    };
    Arc::new(RedisBus::new(settings, store.clone()).expect("bus"))
}

async fn publish_everything(store: &Store, bus: Arc<RedisBus>) {
    let relay = Relay::new(store.clone(), bus, RelaySettings::default(), DeliveryHealth::default());
    while relay.run_once().await.expect("relay") > 0 {}
    assert_eq!(
        relay.checkpoint().await.expect("checkpoint"),
        store.head_position().await.expect("head")
    );
}

fn prefix() -> String {
    format!("test-{}:events:", Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_events_are_consumed_once_per_handler() {
    let Some(url) = redis_url() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, programs) = store_with_programs(&dir, 3).await;
    let prefix = prefix();
    let bus = bus(&url, &prefix, &store, Duration::from_secs(30));
    publish_everything(&store, Arc::clone(&bus)).await;
    // Publishing again (a relay that crashed before its checkpoint) changes nothing downstream.
    bus.publish_all(&store.events_after(0, 100).await.expect("events"))
        .await
        .expect("republish");
    let consumer = bus.subscribe(Recorder::new(0, false));
    eventually("every activation is handled", async || {
        seen(&store, &programs).await == [1, 1, 1]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    consumer.abort();
    assert_eq!(seen(&store, &programs).await, [1, 1, 1], "the duplicates had no effect");

    let client = redis::Client::open(url.as_str()).expect("client");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connection");
    let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(format!("{prefix}loyalty.program.activated"))
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .expect("xrange");
    assert_eq!(entries.len(), 6, "three events, published twice");
    let envelope: serde_json::Value = serde_json::from_str(&entries[0].1[0].1).expect("json");
    assert_eq!(entries[0].1[0].0, "event");
    assert_eq!(envelope["eventType"], "loyalty.program.activated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_mid_handling_is_reclaimed_and_the_effect_happens_once() {
    let Some(url) = redis_url() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, programs) = store_with_programs(&dir, 1).await;
    let prefix = prefix();
    let first = bus(&url, &prefix, &store, Duration::from_millis(300));
    publish_everything(&store, Arc::clone(&first)).await;

    let stuck = Recorder::new(0, true);
    let consumer = first.subscribe(stuck.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    consumer.abort(); // the consumer dies holding the entry, unacknowledged
    stuck.hang.store(false, Ordering::SeqCst);
    assert_eq!(seen(&store, &programs).await, [0]);

    let second = bus(&url, &prefix, &store, Duration::from_millis(300));
    let consumer = second.subscribe(Recorder::new(0, false));
    eventually("the entry is reclaimed and handled", async || {
        seen(&store, &programs).await == [1]
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    consumer.abort();
    assert_eq!(seen(&store, &programs).await, [1], "exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_then_dead_lettered_and_a_retry_after_the_fix_handles_once() {
    let Some(url) = redis_url() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, programs) = store_with_programs(&dir, 2).await;
    let prefix = prefix();
    let bus = bus(&url, &prefix, &store, Duration::from_secs(30));
    publish_everything(&store, Arc::clone(&bus)).await;

    // Twice failing, then fine: handled once, no dead letter. Then one that always fails.
    let flaky = Arc::new(Recorder {
        failures: AtomicU32::new(2),
        hang: AtomicBool::new(false),
        poison: Some(programs[1]),
    });
    let consumer = bus.subscribe(flaky);
    eventually("the second event is dead-lettered", async || {
        !store.dead_letters(None, 10).await.expect("dlq").is_empty()
    })
    .await;
    consumer.abort();
    let dead = store.dead_letters(None, 10).await.expect("dlq");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 4, "the first attempt and 3 retries");
    assert_eq!(seen(&store, &programs).await, [1, 0]);

    let fixed: Arc<dyn EventHandler> = Recorder::new(0, false);
    assert_eq!(
        deliver_once(&store, &fixed, &dead[0].event, None).await.expect("retry"),
        Handled::Done
    );
    assert_eq!(seen(&store, &programs).await, [1, 1]);
}
