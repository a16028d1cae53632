//! Which events a reader of the log wants, filtered where they are stored: a handler that wants
//! few of them (enrolments, say) then neither reads nor decodes the rest.

/// A subscription's interest in the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFilter {
    /// Every event.
    All,
    /// Events of these types.
    Types(&'static [&'static str]),
    /// Events of businesses that have a webhook subscription (as of the read).
    OfWebhookBusinesses,
}

impl EventFilter {
    /// The `AND ...` condition on `events`, with its parameters numbered from `?{first}`.
    pub(crate) fn condition(self, first: usize) -> String {
        match self {
            EventFilter::All => String::new(),
            EventFilter::Types(types) => {
                let placeholders: Vec<String> = (0..types.len()).map(|i| format!("?{}", first + i)).collect();
                format!(" AND event_type IN ({})", placeholders.join(", "))
            }
            EventFilter::OfWebhookBusinesses => " AND business_id IN (SELECT business_id FROM webhooks)".to_owned(),
        }
    }

    /// The condition's parameters.
    pub(crate) fn parameters(self) -> &'static [&'static str] {
        match self {
            EventFilter::Types(types) => types,
            EventFilter::All | EventFilter::OfWebhookBusinesses => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EventFilter;

    #[test]
    fn each_type_gets_a_numbered_parameter() {
        let filter = EventFilter::Types(&["a", "b"]);
        assert_eq!(filter.condition(3), " AND event_type IN (?3, ?4)");
        assert_eq!(filter.parameters(), &["a", "b"]);
        assert_eq!(EventFilter::All.condition(3), "");
        assert!(EventFilter::OfWebhookBusinesses.parameters().is_empty());
    }
}
