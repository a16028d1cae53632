//! Support for tests of what a store does when its PostgreSQL connection is lost: the steps
//! the store's own tests and the server's share (two test binaries of two crates). Nothing of
//! the store calls it.

use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::postgres::EVENT_LOG_LOCK_SQL;

/// The event-log lock (see [`EVENT_LOG_LOCK_SQL`]) held by a transaction of another session,
/// so that the store's writer waits for it in its batch's `BEGIN`; released when dropped.
pub struct EventLogLockHeld {
    release: Option<Sender<()>>,
    holder: Option<JoinHandle<()>>,
}

impl EventLogLockHeld {
    /// Take the lock in a session of its own on the database at `url`; once this returns, it is
    /// held.
    pub fn take(url: &str) -> Result<Self, String> {
        let (locked, is_locked) = channel::<Result<(), String>>();
        let (release, released) = channel::<()>();
        let url = url.to_owned();
        let holder = std::thread::spawn(move || {
            let taken = postgres::Client::connect(&url, postgres::NoTls).and_then(|mut client| {
                let mut tx = client.transaction()?;
                tx.query_one(EVENT_LOG_LOCK_SQL, &[])?;
                let _ = locked.send(Ok(()));
                let _ = released.recv();
                Ok(())
            });
            if let Err(error) = taken {
                let _ = locked.send(Err(format!("could not take the event-log lock: {error}")));
            }
        });
        let held = Self {
            release: Some(release),
            holder: Some(holder),
        };
        is_locked
            .recv()
            .map_err(|_| "the lock holder ended without a word".to_owned())??;
        Ok(held)
    }
}

impl Drop for EventLogLockHeld {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(holder) = self.holder.take() {
            let _ = holder.join();
        }
    }
}

/// End (`pg_terminate_backend`) the sessions of the store in `schema` (application name
/// `loyalty <schema>`) that wait for the event-log lock, looking every 10 ms for up to 5 s
/// until one does; what each termination answered (`["true"]` when the writer's session was
/// found waiting and ended).
pub async fn end_sessions_waiting_for_event_log(url: &str, schema: &str) -> Result<Vec<String>, String> {
    let query = format!(
        "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity
          WHERE application_name = 'loyalty {schema}' AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
    );
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
        for _ in 0..500 {
            let terminated: Vec<String> = client
                .query(query.as_str(), &[])
                .map_err(|e| e.to_string())?
                .iter()
                .map(|row| row.get::<_, String>(0))
                .collect();
            if !terminated.is_empty() {
                return Ok(terminated);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Vec::new())
    })
    .await
    .map_err(|e| e.to_string())?
}
