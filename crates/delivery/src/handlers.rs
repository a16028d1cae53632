//! The handlers of this process, by name: what `dlq retry` hands a dead letter back to.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::EventHandler;

/// Handlers by their stable names.
#[derive(Clone, Default)]
pub struct Handlers(BTreeMap<&'static str, Arc<dyn EventHandler>>);

impl Handlers {
    pub fn new(handlers: impl IntoIterator<Item = Arc<dyn EventHandler>>) -> Self {
        Self(handlers.into_iter().map(|h| (h.name(), h)).collect())
    }

    pub fn get(&self, name: &str) -> Option<Arc<dyn EventHandler>> {
        self.0.get(name).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn EventHandler>> {
        self.0.values()
    }
}
