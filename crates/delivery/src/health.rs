//! How delivery is doing, for `/readyz`: the relay's lag behind the event store and its last
//! error. Delivery trouble degrades readiness without failing commands: events wait in the
//! outbox (the event store) and go out when the bus is back.

use std::sync::{Arc, Mutex};

/// The relay's state as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthState {
    /// `in-process` or `redis`.
    pub bus: &'static str,
    /// Events committed but not yet published.
    pub lag: i64,
    /// The last publish error, until a publish succeeds.
    pub last_error: Option<String>,
}

impl HealthState {
    pub fn degraded(&self) -> bool {
        self.last_error.is_some()
    }
}

/// Shared between the relay (writes) and the health endpoint (reads).
#[derive(Debug, Clone, Default)]
pub struct DeliveryHealth(Arc<Mutex<HealthState>>);

impl DeliveryHealth {
    pub fn snapshot(&self) -> HealthState {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut HealthState)) {
        if let Ok(mut state) = self.0.lock() {
            f(&mut state);
        }
    }
}
