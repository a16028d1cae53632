//! Background work that must run on exactly one instance at a time: the outbox relay, webhook
//! sending, checkpoint-following handlers and the expiry/pending/tier sweeps.
//!
//! Every instance tries to take the store's leadership (a PostgreSQL session advisory lock; on
//! SQLite one process owns the file and always leads). The holder runs the work and checks
//! every [`LEADERSHIP_CHECK_INTERVAL`] that its lock's connection still answers. When the
//! holder dies, PostgreSQL drops its connection and the lock with it, and a surviving instance
//! takes over at its next try, within [`LEADERSHIP_RETRY_INTERVAL`].

use std::time::Duration;

use loyalty_store::Store;
use tokio::task::JoinHandle;

use crate::delivery::Delivery;

/// The advisory lock key of background work.
pub const LEADERSHIP_KEY: i32 = 100;
/// How often an instance that does not lead tries again.
pub const LEADERSHIP_RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// How often the leader checks that it still holds the lock.
pub const LEADERSHIP_CHECK_INTERVAL: Duration = Duration::from_secs(2);

/// Tasks aborted together when dropped (when the leadership is lost or the server stops).
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Take the leadership when it is free and run the background work while it is held; forever.
pub async fn lead_background_work(store: Store, delivery: Delivery, sweep_interval: Option<Duration>) {
    loop {
        let leadership = match store.try_lead(LEADERSHIP_KEY).await {
            Ok(Some(leadership)) => leadership,
            Ok(None) => {
                tokio::time::sleep(LEADERSHIP_RETRY_INTERVAL).await;
                continue;
            }
            Err(error) => {
                tracing::warn!(%error, "could not try for leadership; retrying");
                tokio::time::sleep(LEADERSHIP_RETRY_INTERVAL).await;
                continue;
            }
        };
        tracing::info!("this instance leads background work (relay, webhooks, sweeps)");
        metrics::gauge!("leader").set(1.0);
        let mut tasks = delivery.start_on_leader();
        if let Some(every) = sweep_interval {
            tasks.push(tokio::spawn(crate::sweeper::run_periodically(store.clone(), every)));
        }
        let tasks = Tasks(tasks);
        let mut leadership = leadership;
        loop {
            tokio::time::sleep(LEADERSHIP_CHECK_INTERVAL).await;
            // The check blocks on the lock's connection: it runs on a blocking thread, which
            // hands the leadership back.
            let checked = tokio::task::spawn_blocking(move || {
                let held = leadership.still_held();
                (leadership, held)
            })
            .await;
            match checked {
                Ok((kept, true)) => leadership = kept,
                _ => break,
            }
        }
        tracing::warn!("lost leadership of background work; stopping it and trying again");
        metrics::gauge!("leader").set(0.0);
        drop(tasks);
    }
}
