//! Subscriptions on a real SQLite store: each event is handled once per handler, also when the
//! handler fails half-way (its effects roll back with the failure and the retry does them once)
//! and when events are delivered again (a reset checkpoint finds the inbox records).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loyalty_delivery::{deliver_once, EventHandler, Handled, RetryPolicy, Subscription, SubscriptionSettings};
use loyalty_store::{EventFilter, Store, StoreError, StoredEvent, WriteTx};

use crate::fixtures::{record_seen, seen, store_with_programs};

/// Records a notification per program event; fails after writing it while `failures` lasts.
struct Recorder {
    failures: AtomicU32,
}

impl EventHandler for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn handles(&self, event_type: &str) -> bool {
        event_type == "loyalty.program.activated"
    }

    fn handle(&self, tx: &mut WriteTx<'_>, event: &StoredEvent) -> Result<Handled, StoreError> {
        record_seen(tx, event)?;
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err(StoreError::Corrupt("the handler crashed half-way".to_owned()));
        }
        Ok(Handled::Done)
    }
}

/// Would record every event it is handed, but subscribes to activations only.
struct ActivationsOnly;

impl EventHandler for ActivationsOnly {
    fn name(&self) -> &'static str {
        "activations-only"
    }

    fn handles(&self, _event_type: &str) -> bool {
        true
    }

    fn filter(&self) -> EventFilter {
        EventFilter::Types(&["loyalty.program.activated"])
    }

    fn handle(&self, tx: &mut WriteTx<'_>, event: &StoredEvent) -> Result<Handled, StoreError> {
        record_seen(tx, event)?;
        Ok(Handled::Done)
    }
}

fn recorder(failures: u32) -> Arc<dyn EventHandler> {
    Arc::new(Recorder {
        failures: AtomicU32::new(failures),
    })
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        retries: 3,
        initial: Duration::from_millis(5),
        max: Duration::from_millis(20),
    }
}

fn subscription_of(store: &Store, handler: Arc<dyn EventHandler>) -> Subscription {
    Subscription::new(
        store.clone(),
        handler,
        SubscriptionSettings {
            poll_interval: Duration::from_millis(10),
            page_count: 2,
            retry: fast_retries(),
            linger: Duration::from_millis(1),
        },
    )
}

fn subscription(store: &Store, failures: u32) -> Subscription {
    subscription_of(store, recorder(failures))
}

#[tokio::test]
async fn every_event_is_handled_once_in_pages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, programs) = store_with_programs(&dir, 3).await;
    let subscription = subscription(&store, 0);
    while subscription.run_once().await.expect("runs") > 0 {}
    assert_eq!(seen(&store, &programs).await, [1, 1, 1]);
    assert_eq!(
        subscription.checkpoint().await.expect("checkpoint"),
        store.head_position().await.expect("head")
    );
}

#[tokio::test]
async fn the_store_hands_a_subscription_only_what_its_filter_lets_through_and_its_checkpoint_reaches_the_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, programs) = store_with_programs(&dir, 3).await;
    let head = store.head_position().await.expect("head");
    assert!(head > 3, "each program has more events than its activation");
    let subscription = subscription_of(&store, Arc::new(ActivationsOnly));
    while subscription.run_once().await.expect("runs") > 0 {}
    assert_eq!(
        seen(&store, &programs).await,
        [1, 1, 1],
        "one activation each, none of the other events"
    );
    assert_eq!(subscription.checkpoint().await.expect("checkpoint"), head);
}

#[tokio::test]
async fn a_handler_that_fails_half_way_leaves_no_effect_and_is_retried_until_done() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, programs) = store_with_programs(&dir, 2).await;
    // Fails twice (after writing its effect each time), then succeeds: retries 1 and 2 fail.
    let subscription = subscription(&store, 2);
    while subscription.run_once().await.expect("runs") > 0 {}
    assert_eq!(
        seen(&store, &programs).await,
        [1, 1],
        "each event's effect exactly once"
    );
    assert!(store.dead_letters(None, 10).await.expect("dlq").is_empty());
    assert_eq!(
        subscription.checkpoint().await.expect("checkpoint"),
        store.head_position().await.expect("head")
    );
}

#[tokio::test]
async fn a_handler_that_always_fails_dead_letters_the_event_and_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, programs) = store_with_programs(&dir, 2).await;
    let handler = recorder(u32::MAX);
    let subscription = subscription_of(&store, Arc::clone(&handler));
    while subscription.run_once().await.expect("runs") > 0 {}
    assert_eq!(seen(&store, &programs).await, [0, 0], "no effect survived a failure");
    let dead = store.dead_letters(None, 10).await.expect("dlq");
    assert_eq!(dead.len(), 2, "both events, after 4 attempts each");
    assert!(dead.iter().all(|d| d.attempts == 4 && d.handler == "recorder"));
    assert_eq!(
        subscription.checkpoint().await.expect("checkpoint"),
        store.head_position().await.expect("head"),
        "the subscription went on past them"
    );

    // After a fix, a retry goes through the same idempotent path, once.
    let fixed = recorder(0);
    for letter in &dead {
        let handled = deliver_once(&store, &fixed, &letter.event, None)
            .await
            .expect("retried");
        assert_eq!(handled, Handled::Done);
        let again = deliver_once(&store, &fixed, &letter.event, None)
            .await
            .expect("retried");
        assert!(matches!(again, Handled::Skipped(_)), "the inbox has it");
    }
    assert_eq!(seen(&store, &programs).await, [1, 1]);
}

#[tokio::test]
async fn redelivered_events_have_no_second_effect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, programs) = store_with_programs(&dir, 2).await;
    let subscription = subscription(&store, 0);
    while subscription.run_once().await.expect("runs") > 0 {}
    // Deliver everything again, as after a lost checkpoint.
    store
        .write(|tx| tx.checkpoint_set("handler:recorder", 0))
        .await
        .expect("reset");
    while subscription.run_once().await.expect("runs") > 0 {}
    assert_eq!(seen(&store, &programs).await, [1, 1]);
}
