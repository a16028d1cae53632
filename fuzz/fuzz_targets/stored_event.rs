//! Stored events through the upcaster chain and the event decoder: any data of any known type
//! and version is upcast and decoded, or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loyalty_domain::upcast::{upcast, Envelope};
use loyalty_domain::LoyaltyEvent;

fuzz_target!(|input: (u8, bool, &[u8])| {
    let (type_index, old, data) = input;
    let Ok(data) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let types: Vec<&str> = LoyaltyEvent::all_types().collect();
    let event_type = types[usize::from(type_index) % types.len()];
    let version = if old { "1.0" } else { "2.0" };
    let envelope = Envelope {
        event_id: uuid::Uuid::nil(),
        timestamp: chrono::Utc::now(),
    };
    if let Ok((version, data)) = upcast(event_type, version, data, &envelope) {
        let _ = LoyaltyEvent::decode(event_type, &version, data);
    }
});
