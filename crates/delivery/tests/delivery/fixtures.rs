//! What the delivery tests share: a real SQLite store with programs created and activated (two
//! events each), and a wait for a condition.

use std::time::Duration;

use loyalty_domain::program::Program;
use loyalty_domain::testing::{decide_all, open_program_commands};
use loyalty_store::{EventMetadata, Store, StoreError, StoreSettings, StoredEvent, WriteTx};
use serde_json::json;
use uuid::Uuid;

/// A store with `n` programs, each created and activated.
pub async fn store_with_programs(dir: &tempfile::TempDir, n: usize) -> (Store, Vec<Uuid>) {
    let store = Store::open(&StoreSettings::new(dir.path().join("test.db"))).expect("open");
    let business = store
        .create_business("Cafe".to_owned(), format!("hash-{}", Uuid::new_v4()))
        .await
        .expect("business")
        .business_id;
    let mut programs = Vec::new();
    for _ in 0..n {
        let program = Uuid::now_v7();
        programs.push(program);
        store
            .write(move |tx| {
                let loaded = tx.load::<Program>(business, program)?.expect("fresh");
                let open = open_program_commands(program, business, "Coffee", None);
                let events = decide_all(&loaded.state, open).expect("created and activated");
                tx.append(&loaded, events, &EventMetadata::default())?;
                Ok(())
            })
            .await
            .expect("program");
    }
    (store, programs)
}

/// What the test handlers record for an event: a notification to its aggregate.
pub fn record_seen(tx: &mut WriteTx<'_>, event: &StoredEvent) -> Result<(), StoreError> {
    tx.record_notification(
        event.business_id,
        event.aggregate_id,
        "SEEN",
        &json!({}),
        event.event_id,
    )
}

/// How many notifications each program got (what the test handlers record).
pub async fn seen(store: &Store, programs: &[Uuid]) -> Vec<usize> {
    let mut counts = Vec::new();
    for program in programs {
        counts.push(store.notifications(*program).await.expect("notifications").len());
    }
    counts
}

/// Wait up to 10 s for `check`.
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}
